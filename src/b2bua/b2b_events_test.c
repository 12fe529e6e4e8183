/* SPDX-License-Identifier: BSD-3-Clause */
/* The event bus: filters, bounded queues that drop and count, the eventfd, a reader thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>

#include "b2b_events.h"

static struct b2b_ev ev(uint64_t call, enum b2b_ev_kind kind, int64_t t)
{
	struct b2b_ev e;

	memset(&e, 0, sizeof(e));
	e.call = call;
	e.kind = (uint16_t)kind;
	e.time_ms = t;
	return e;
}

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

static void test_filters(void **state)
{
	struct b2b_events *bus = b2b_events_new();
	struct b2b_ev_filter all = {0}, one = {.call = 7},
			     dtmf = {.kinds = B2B_EVK_BIT(B2B_EVK_DTMF)};
	struct b2b_ev_sub *s_all, *s_one, *s_dtmf;
	struct b2b_events_counters c;
	struct b2b_ev got;
	struct b2b_ev e;

	(void)state;
	assert_false(b2b_events_wanted(bus, B2B_EVK_STATE, 7));
	s_all = b2b_events_subscribe(bus, &all, 16);
	s_one = b2b_events_subscribe(bus, &one, 16);
	s_dtmf = b2b_events_subscribe(bus, &dtmf, 16);
	assert_non_null(s_all);
	assert_non_null(s_one);
	assert_non_null(s_dtmf);
	assert_true(b2b_events_wanted(bus, B2B_EVK_STATE, 3));
	assert_false(readable(b2b_ev_sub_fd(s_one)));

	e = ev(3, B2B_EVK_STATE, 1);
	b2b_events_publish(bus, &e);
	e = ev(7, B2B_EVK_DTMF, 2);
	e.u.dtmf.digit = '#';
	b2b_events_publish(bus, &e);

	/* every call, every kind: both, in order */
	assert_true(readable(b2b_ev_sub_fd(s_all)));
	assert_true(b2b_ev_sub_next(s_all, &got));
	assert_int_equal(got.call, 3);
	assert_true(b2b_ev_sub_next(s_all, &got));
	assert_int_equal(got.call, 7);
	assert_int_equal(got.u.dtmf.digit, '#');
	assert_false(b2b_ev_sub_next(s_all, &got));
	assert_false(readable(b2b_ev_sub_fd(s_all))); /* drained: the wakeups are cleared */
	/* call 7 only */
	assert_true(b2b_ev_sub_next(s_one, &got));
	assert_int_equal(got.kind, B2B_EVK_DTMF);
	assert_false(b2b_ev_sub_next(s_one, &got));
	/* DTMF only */
	assert_true(b2b_ev_sub_next(s_dtmf, &got));
	assert_int_equal(got.call, 7);
	assert_false(b2b_ev_sub_next(s_dtmf, &got));

	b2b_events_counters(bus, &c);
	assert_int_equal(c.published, 2);
	assert_int_equal(c.delivered, 4);
	assert_int_equal(c.dropped, 0);
	assert_int_equal(c.subscribers, 3);
	b2b_events_unsubscribe(s_dtmf);
	b2b_events_unsubscribe(s_all);
	assert_false(b2b_events_wanted(bus, B2B_EVK_DTMF, 8)); /* s_one wants call 7 only */
	assert_true(b2b_events_wanted(bus, B2B_EVK_DTMF, 7));
	b2b_events_free(bus); /* frees the one left */
}

/* A subscriber that does not read loses what does not fit, counted; the others get all. */
static void test_slow_subscriber_drops(void **state)
{
	struct b2b_events *bus = b2b_events_new();
	struct b2b_ev_filter all = {0};
	struct b2b_ev_sub *slow = b2b_events_subscribe(bus, &all, 4);
	struct b2b_ev_sub *fast = b2b_events_subscribe(bus, &all, 64);
	struct b2b_events_counters c;
	struct b2b_ev got;
	unsigned n = 0;

	(void)state;
	for (int i = 0; i < 20; i++) {
		struct b2b_ev e = ev(1, B2B_EVK_STATE, i);

		b2b_events_publish(bus, &e);
	}
	while (b2b_ev_sub_next(slow, &got)) {
		assert_int_equal(got.time_ms, n); /* the first ones, in order */
		n++;
	}
	assert_true(n >= 4 && n < 20);
	assert_int_equal(b2b_ev_sub_dropped(slow), 20 - n);
	for (unsigned i = 0; i < 20; i++) {
		assert_true(b2b_ev_sub_next(fast, &got));
		assert_int_equal(got.time_ms, i);
	}
	assert_int_equal(b2b_ev_sub_dropped(fast), 0);
	b2b_events_counters(bus, &c);
	assert_int_equal(c.dropped, 20 - n);
	b2b_events_free(bus);
}

struct reader {
	struct b2b_ev_sub *s;
	unsigned want;
	unsigned got;
	bool in_order;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	int64_t last = -1;
	struct b2b_ev e;

	r->in_order = true;
	while (r->got < r->want) {
		struct pollfd p = {.fd = b2b_ev_sub_fd(r->s), .events = POLLIN};

		if (poll(&p, 1, 2000) <= 0)
			break; /* nothing for 2 s: the publisher is done (drops) */
		while (b2b_ev_sub_next(r->s, &e)) {
			if (e.time_ms <= last)
				r->in_order = false;
			last = e.time_ms;
			r->got++;
		}
	}
	return NULL;
}

/* A reader on another thread: everything published is read or counted as dropped, in order. */
static void test_reader_thread(void **state)
{
	struct b2b_events *bus = b2b_events_new();
	struct b2b_ev_filter all = {0};
	struct reader r = {.s = b2b_events_subscribe(bus, &all, 256), .want = 200000};
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, read_all, &r), 0);
	for (unsigned i = 0; i < r.want; i++) {
		struct b2b_ev e = ev(1, B2B_EVK_STATE, i);

		b2b_events_publish(bus, &e);
	}
	/* what was dropped will never come: the reader waits for the rest only */
	r.want -= (unsigned)b2b_ev_sub_dropped(r.s);
	pthread_join(t, NULL);
	assert_int_equal(r.got, r.want);
	assert_true(r.in_order);
	b2b_events_free(bus);
}

static void test_kinds_parse(void **state)
{
	uint32_t m;

	(void)state;
	assert_int_equal(b2b_ev_kinds_parse("state,dtmf", &m), 0);
	assert_int_equal(m, B2B_EVK_BIT(B2B_EVK_STATE) | B2B_EVK_BIT(B2B_EVK_DTMF));
	assert_int_equal(b2b_ev_kinds_parse("ENDED", &m), 0);
	assert_int_equal(m, B2B_EVK_BIT(B2B_EVK_ENDED));
	assert_int_equal(b2b_ev_kinds_parse("state,bogus", &m), -EINVAL);
	assert_int_equal(b2b_ev_kinds_parse("", &m), -EINVAL);
	assert_int_equal(b2b_ev_kinds_parse(",", &m), -EINVAL);
	assert_string_equal(b2b_ev_kind_name(B2B_EVK_MEDIA_QUALITY), "media-quality");
	assert_string_equal(b2b_ev_kind_name(B2B_EVK__COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_slow_subscriber_drops),
		cmocka_unit_test(test_reader_thread),
		cmocka_unit_test(test_kinds_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
