/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Media-quality rounds against stand-in calls and a stand-in EP_STATS that the test answers by
 * hand: nothing asked while nobody subscribes (or the interval is 0), only answered calls and
 * active streams, only the calls a subscriber wants, never more than B2B_QUALITY_IN_FLIGHT
 * requests at once, never two rounds at once (the tick in between is skipped and counted),
 * one event per stream and leg with the statistics' values, failures counted and published as
 * nothing, and the module freed with requests in flight (their late replies touch nothing: the
 * ASan build checks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "b2b_quality.h"
#include "cp_loop_testing.h"

#define MAX_CALLS 64
#define MAX_ASKED 512

struct fx {
	struct cp_loop *loop;
	struct b2b_events *bus;
	struct b2b_config cfg;
	struct b2b_quality *q;
	struct b2b_call_view calls[MAX_CALLS];
	unsigned n_calls;
	/* requests not answered yet */
	uint64_t asked_key[MAX_ASKED];
	void *asked_ctx[MAX_ASKED];
	unsigned n_asked, max_pending, total_asked;
	int refuse; /* the stand-in's return */
};

static void calls_each(void *arg, bool (*fn)(void *ctx, const struct b2b_call_view *v), void *ctx)
{
	struct fx *f = arg;

	for (unsigned i = 0; i < f->n_calls; i++)
		if (!fn(ctx, &f->calls[i]))
			return;
}

static int stats(void *arg, uint64_t key, void *ctx)
{
	struct fx *f = arg;

	if (f->refuse)
		return f->refuse;
	assert_true(f->n_asked < MAX_ASKED);
	f->asked_key[f->n_asked] = key;
	f->asked_ctx[f->n_asked++] = ctx;
	f->total_asked++;
	if (f->n_asked > f->max_pending)
		f->max_pending = f->n_asked;
	return 0;
}

/* Answers the oldest request: statistics derived from its key, or a failure */
static uint64_t answer_one(struct fx *f, bool ok)
{
	struct tg_msg_ep_stats st = {0};
	uint64_t key = f->asked_key[0];
	void *ctx = f->asked_ctx[0];

	assert_true(f->n_asked > 0);
	f->n_asked--;
	memmove(f->asked_key, f->asked_key + 1, f->n_asked * sizeof(f->asked_key[0]));
	memmove(f->asked_ctx, f->asked_ctx + 1, f->n_asked * sizeof(f->asked_ctx[0]));
	st.key = key;
	st.rx_pkts = key * 10;
	st.lost = 3;
	st.jitter_us = 1500;
	st.rtt_us = 40000;
	st.mos_x100 = 420;
	b2b_quality_stats_done(ctx, ok ? &st : NULL);
	return key;
}

/* A call: answered (or not) with n streams; keys id*100 + stream*2 (+1 for B) */
static void add_call(struct fx *f, uint64_t id, enum b2b_state st, bool answered, unsigned n)
{
	struct b2b_call_view *v = &f->calls[f->n_calls++];

	memset(v, 0, sizeof(*v));
	v->id = id;
	v->state = st;
	v->answer_ms = answered ? 1000 : 0;
	v->nmedia = n;
	for (unsigned i = 0; i < n; i++) {
		v->media[i].key_a = id * 100 + i * 2;
		v->media[i].key_b = id * 100 + i * 2 + 1;
		v->media[i].active = true;
	}
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct b2b_quality_params p = {0};

	assert_non_null(f);
	f->loop = cp_loop_new();
	f->bus = b2b_events_new();
	f->cfg.quality_interval_ms = 50;
	p.loop = f->loop;
	p.cfg = &f->cfg;
	p.bus = f->bus;
	p.calls_each = calls_each;
	p.stats = stats;
	p.arg = f;
	f->q = b2b_quality_new(&p);
	assert_non_null(f->q);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	b2b_quality_free(f->q);
	/* late replies after the module went: nothing happens, the round is freed by the last */
	while (f->n_asked)
		answer_one(f, true);
	b2b_events_free(f->bus);
	cp_loop_free(f->loop);
	free(f);
	return 0;
}

static void test_nobody_listens(void **state)
{
	struct fx *f = *state;
	struct b2b_ev_filter dtmf = {.kinds = B2B_EVK_BIT(B2B_EVK_DTMF)};

	add_call(f, 1, B2B_ST_CONNECTED, true, 1);
	cp_test_run_ms(f->loop, 200);
	assert_int_equal(f->total_asked, 0);
	/* a subscriber of other kinds: still nothing */
	assert_non_null(b2b_events_subscribe(f->bus, &dtmf, 16));
	cp_test_run_ms(f->loop, 200);
	assert_int_equal(f->total_asked, 0);
	assert_int_equal(b2b_quality_counters(f->q)->requests, 0);
}

static void test_round(void **state)
{
	struct fx *f = *state;
	struct b2b_ev_filter mq = {.kinds = B2B_EVK_BIT(B2B_EVK_MEDIA_QUALITY)};
	struct b2b_ev_sub *s = b2b_events_subscribe(f->bus, &mq, 1024);
	const struct b2b_quality_counters *c = b2b_quality_counters(f->q);
	unsigned want = 0, events = 0;
	struct b2b_ev e;

	assert_non_null(s);
	/* 20 answered calls of two streams (80 endpoints, more than the bound), one call whose
	 * second stream is not active, and calls that are not answered or are ending */
	for (unsigned i = 1; i <= 20; i++)
		add_call(f, i, i % 2 ? B2B_ST_CONNECTED : B2B_ST_ON_HOLD, true, 2);
	add_call(f, 21, B2B_ST_CONNECTED, true, 2);
	f->calls[20].media[1].active = false;
	add_call(f, 22, B2B_ST_RINGING, false, 1);
	add_call(f, 23, B2B_ST_TERMINATING, true, 1);
	want = 20 * 4 + 2;

	CP_TEST_RUN_UNTIL(f->loop, f->n_asked > 0, 2000);
	assert_int_equal(f->n_asked, B2B_QUALITY_IN_FLIGHT);
	/* the next ticks come while the round runs: not a second round */
	cp_test_run_ms(f->loop, 150);
	assert_int_equal(f->total_asked, B2B_QUALITY_IN_FLIGHT);
	assert_true(c->skipped >= 1);
	/* each reply lets one more go, never past the bound */
	while (f->n_asked) {
		answer_one(f, true);
		assert_true(f->n_asked <= B2B_QUALITY_IN_FLIGHT);
	}
	assert_int_equal(f->total_asked, want);
	assert_int_equal(f->max_pending, B2B_QUALITY_IN_FLIGHT);
	assert_int_equal(c->rounds, 1);
	assert_int_equal(c->events, want);

	/* one event per stream and leg, with the values of its endpoint */
	while (b2b_ev_sub_next(s, &e)) {
		uint64_t key = e.call * 100 + e.u.quality.stream * 2 + (e.u.quality.leg == 'b');

		assert_int_equal(e.kind, B2B_EVK_MEDIA_QUALITY);
		assert_true(e.call >= 1 && e.call <= 21);
		assert_true(e.u.quality.leg == 'a' || e.u.quality.leg == 'b');
		assert_int_equal(e.u.quality.packets, key * 10);
		assert_int_equal(e.u.quality.mos_x100, 420);
		assert_int_equal(e.u.quality.jitter_us, 1500);
		assert_int_equal(e.u.quality.rtt_us, 40000);
		assert_int_equal(e.u.quality.lost, 3);
		assert_true(e.time_ms > 0);
		events++;
	}
	assert_int_equal(events, want);

	/* the next round: failures publish nothing and are counted */
	CP_TEST_RUN_UNTIL(f->loop, f->n_asked > 0, 2000);
	for (unsigned i = 0; f->n_asked; i++)
		answer_one(f, i % 2 == 0);
	assert_int_equal(c->rounds, 2);
	assert_int_equal(c->failed, want / 2);
	assert_int_equal(c->events, want + want / 2);
	/* refused at once: counted, the round ends by itself */
	f->refuse = -ENOBUFS;
	CP_TEST_RUN_UNTIL(f->loop, c->rounds == 3, 2000);
	assert_int_equal(c->failed, want / 2 + want);
	assert_int_equal(f->n_asked, 0);
	f->refuse = 0;
	b2b_events_unsubscribe(s);
}

/* A subscriber of one call: only that call's endpoints are asked for */
static void test_one_call(void **state)
{
	struct fx *f = *state;
	struct b2b_ev_filter one = {.kinds = B2B_EVK_BIT(B2B_EVK_MEDIA_QUALITY), .call = 3};

	for (unsigned i = 1; i <= 5; i++)
		add_call(f, i, B2B_ST_CONNECTED, true, 1);
	assert_non_null(b2b_events_subscribe(f->bus, &one, 16));
	CP_TEST_RUN_UNTIL(f->loop, f->n_asked == 2, 2000);
	assert_int_equal(answer_one(f, true), 300);
	assert_int_equal(answer_one(f, true), 301);
	assert_int_equal(b2b_quality_counters(f->q)->rounds, 1);
}

/* quality_interval = 0: nothing; set again: rounds again (within a second) */
static void test_off(void **state)
{
	struct fx *f = *state;
	struct b2b_ev_filter mq = {.kinds = B2B_EVK_BIT(B2B_EVK_MEDIA_QUALITY)};

	add_call(f, 1, B2B_ST_CONNECTED, true, 1);
	f->cfg.quality_interval_ms = 0;
	cp_test_run_ms(f->loop, 60); /* the tick already armed */
	while (f->n_asked)
		answer_one(f, true);
	assert_non_null(b2b_events_subscribe(f->bus, &mq, 16));
	f->total_asked = 0;
	cp_test_run_ms(f->loop, 300);
	assert_int_equal(f->total_asked, 0);
	f->cfg.quality_interval_ms = 50;
	CP_TEST_RUN_UNTIL(f->loop, f->n_asked == 2, 2000);
}

/* Freed with a round in flight (teardown answers the rest after): the late replies publish
 * nothing and free the round */
static void test_free_in_flight(void **state)
{
	struct fx *f = *state;
	struct b2b_ev_filter mq = {.kinds = B2B_EVK_BIT(B2B_EVK_MEDIA_QUALITY)};
	struct b2b_ev_sub *s = b2b_events_subscribe(f->bus, &mq, 16);
	struct b2b_ev e;

	for (unsigned i = 1; i <= 30; i++)
		add_call(f, i, B2B_ST_CONNECTED, true, 1);
	CP_TEST_RUN_UNTIL(f->loop, f->n_asked == B2B_QUALITY_IN_FLIGHT, 2000);
	answer_one(f, true);
	assert_int_equal(f->n_asked, B2B_QUALITY_IN_FLIGHT); /* the next one went */
	b2b_quality_free(f->q);
	f->q = NULL;
	answer_one(f, true);
	assert_int_equal(f->n_asked, B2B_QUALITY_IN_FLIGHT - 1); /* nothing new asked */
	assert_true(b2b_ev_sub_next(s, &e));			 /* the one answered before */
	assert_false(b2b_ev_sub_next(s, &e));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nobody_listens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_in_flight, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
