/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * For the unit tests of code that runs on the control plane's loop: run the loop a while, or
 * until a condition holds (bounded: the test fails when it never does). Waits end on
 * conditions, not fixed sleeps, so a loaded machine slows a test down without failing it.
 * Include after <cmocka.h>.
 */
#ifndef TG_CP_LOOP_TESTING_H
#define TG_CP_LOOP_TESTING_H

#include <stdbool.h>
#include <stdint.h>

#include "cp_loop.h"
#include "tg_time.h"

static inline void cp_test_run_ms(struct cp_loop *l, unsigned ms)
{
	assert_int_equal(cp_loop_run_for(l, (uint64_t)ms * TG_NS_PER_MS), 0);
}

static inline uint64_t cp_test_now_ms(void)
{
	return tg_now_ns() / TG_NS_PER_MS;
}

/* Runs the loop in 5 ms steps until cond holds (evaluated once per step), at most max_ms; fails
 * the test if it never does */
#define CP_TEST_RUN_UNTIL(l, cond, max_ms)                                                         \
	do {                                                                                       \
		uint64_t t0_ = cp_test_now_ms();                                                   \
		bool ok_;                                                                          \
                                                                                                   \
		while (!(ok_ = (cond)) && cp_test_now_ms() - t0_ < (max_ms))                       \
			cp_test_run_ms(l, 5);                                                      \
		if (!ok_)                                                                          \
			fail_msg("not within %u ms: %s", (unsigned)(max_ms), #cond);               \
	} while (0)

#endif
