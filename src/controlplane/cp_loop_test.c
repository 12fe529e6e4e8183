/* SPDX-License-Identifier: BSD-3-Clause */
/* The event loop: timers fire in deadline order under random start/stop, fds, pollers, stop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "cp_loop.h"
#include "tg_time.h"

#define N_TIMERS 500

struct fired {
	uint64_t last_deadline;
	unsigned count;
	bool out_of_order;
};

static void on_timer(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct fired *f = arg;

	if (t->deadline_ns < f->last_deadline)
		f->out_of_order = true;
	f->last_deadline = t->deadline_ns;
	f->count++;
}

static void stop_timer(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	cp_loop_stop(l);
}

static void test_timers_in_order_with_random_stops(void **state)
{
	struct cp_loop *l = cp_loop_new();
	static struct cp_timer t[N_TIMERS];
	struct cp_timer end;
	struct fired f = {0};
	unsigned armed = 0;

	srand(42);
	for (int i = 0; i < N_TIMERS; i++) {
		cp_timer_init(&t[i], on_timer, &f);
		assert_int_equal(
			cp_timer_start(l, &t[i], (uint64_t)(rand() % 50) * TG_NS_PER_MS), 0);
	}
	/* stop a third, re-arm some others: the heap must stay a heap */
	for (int i = 0; i < N_TIMERS; i += 3)
		cp_timer_stop(l, &t[i]);
	for (int i = 1; i < N_TIMERS; i += 7)
		cp_timer_start(l, &t[i], (uint64_t)(rand() % 50) * TG_NS_PER_MS);
	for (int i = 0; i < N_TIMERS; i++)
		armed += cp_timer_armed(&t[i]);
	cp_timer_init(&end, stop_timer, NULL);
	cp_timer_start(l, &end, 80 * TG_NS_PER_MS);
	assert_int_equal(cp_loop_run(l), 0);
	assert_int_equal(f.count, armed);
	assert_false(f.out_of_order);
	for (int i = 0; i < N_TIMERS; i++)
		assert_false(cp_timer_armed(&t[i]));
	cp_loop_free(l);
}

static void on_readable(struct cp_loop *l, int fd, uint32_t events, void *arg)
{
	char buf[8];

	*(int *)arg += (int)read(fd, buf, sizeof(buf));
	cp_loop_stop(l);
}

static void test_fd_wakes_loop(void **state)
{
	struct cp_loop *l = cp_loop_new();
	int fds[2], got = 0;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(cp_loop_add_fd(l, fds[0], EPOLLIN, on_readable, &got), 0);
	assert_int_equal(write(fds[1], "abc", 3), 3);
	assert_int_equal(cp_loop_run(l), 0);
	assert_int_equal(got, 3);
	assert_int_equal(cp_loop_del_fd(l, fds[0]), 0);
	assert_int_equal(cp_loop_del_fd(l, fds[0]), -ENOENT);
	assert_int_equal(cp_loop_add_fd(l, -1, EPOLLIN, on_readable, &got), -EBADF);
	close(fds[0]);
	close(fds[1]);
	cp_loop_free(l);
}

struct poll_ctx {
	unsigned calls;
};

static uint64_t short_poller(struct cp_loop *l, void *arg)
{
	struct poll_ctx *p = arg;

	if (++p->calls == 50)
		cp_loop_stop(l);
	return 100 * TG_NS_PER_US; /* asks to be called again soon, with nothing else to do */
}

static void test_poller_bounds_sleep(void **state)
{
	struct cp_loop *l = cp_loop_new();
	struct poll_ctx p = {0};
	uint64_t t0 = tg_now_ns();

	assert_int_equal(cp_loop_add_poller(l, short_poller, &p), 0);
	assert_int_equal(cp_loop_run(l), 0);
	assert_int_equal(p.calls, 50);
	/* 50 sleeps of 100 us, not 50 of the loop's idle maximum */
	assert_true(tg_now_ns() - t0 < 2 * TG_NS_PER_S);
	cp_loop_free(l);
}

static void stop_now(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	(*(unsigned *)arg)++;
	cp_loop_stop(l);
}

/* run_for returns after its time, or earlier on a stop, and leaves no timer behind */
static void test_run_for(void **state)
{
	struct cp_loop *l = cp_loop_new();
	struct cp_timer early;
	unsigned fired = 0;
	uint64_t t0;

	(void)state;
	assert_non_null(l);
	t0 = tg_now_ns();
	assert_int_equal(cp_loop_run_for(l, 20 * TG_NS_PER_MS), 0);
	assert_true(tg_now_ns() - t0 >= 20 * TG_NS_PER_MS);

	cp_timer_init(&early, stop_now, &fired);
	cp_timer_start(l, &early, 5 * TG_NS_PER_MS);
	t0 = tg_now_ns();
	assert_int_equal(cp_loop_run_for(l, 10 * TG_NS_PER_S), 0);
	assert_int_equal(fired, 1);
	assert_true(tg_now_ns() - t0 < 5 * TG_NS_PER_S);
	/* the 10 s timer went with the call: the next run_for ends on its own time */
	t0 = tg_now_ns();
	assert_int_equal(cp_loop_run_for(l, 10 * TG_NS_PER_MS), 0);
	assert_true(tg_now_ns() - t0 < 5 * TG_NS_PER_S);
	cp_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_in_order_with_random_stops),
		cmocka_unit_test(test_fd_wakes_loop),
		cmocka_unit_test(test_poller_bounds_sleep),
		cmocka_unit_test(test_run_for),
	};

	return cmocka_run_group_tests_name("cp_loop", tests, NULL, NULL);
}
