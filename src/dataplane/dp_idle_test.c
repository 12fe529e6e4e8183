/* SPDX-License-Identifier: BSD-3-Clause */
/* The adaptive idle policy: spin first, then sleeps that double to the ceiling, reset on work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dp_idle.h"

static void test_busy_never_sleeps(void **state)
{
	struct dp_idle id = {.mode = DP_IDLE_BUSY, .max_sleep_us = 100};

	for (int i = 0; i < 100000; i++)
		assert_int_equal(dp_idle_next_sleep(&id, 0), 0);
}

static void test_adaptive_spins_then_backs_off(void **state)
{
	struct dp_idle id = {.mode = DP_IDLE_ADAPTIVE, .max_sleep_us = 100};
	uint32_t expect[] = {1, 2, 4, 8, 16, 32, 64, 100, 100, 100};

	for (int i = 1; i < DP_IDLE_SPIN_POLLS; i++)
		assert_int_equal(dp_idle_next_sleep(&id, 0), 0);
	for (unsigned i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		assert_int_equal(dp_idle_next_sleep(&id, 0), expect[i]);
	/* one packet resets everything: the next quiet spell spins again first */
	assert_int_equal(dp_idle_next_sleep(&id, 3), 0);
	assert_int_equal(id.empty_polls, 0);
	for (int i = 1; i < DP_IDLE_SPIN_POLLS; i++)
		assert_int_equal(dp_idle_next_sleep(&id, 0), 0);
	assert_int_equal(dp_idle_next_sleep(&id, 0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_busy_never_sleeps),
		cmocka_unit_test(test_adaptive_spins_then_backs_off),
	};

	return cmocka_run_group_tests_name("dp_idle", tests, NULL, NULL);
}
