/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane client against a second process that owns the channel and answers like the
 * dataplane's command path: HELLO, PING per ring, a pause to fill the rings, a request it never
 * answers, a crash and a clean restart; the endpoint helpers (EP_UPDATE with a telephone-event
 * PT, EP_DTMF) and DTMF events delivered to the owner. The real tollgate-dp is driven by
 * tests/integration.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cp_dp.h"
#include "tg_chan.h"
#include "tg_log.h"
#include "tg_time.h"

#define IGNORED_SEQ 0xdeadu

static char instance[32];

/* EP_DTMF as the dataplane would take it on ring 0 (the digits come back in play_ms for the
 * test to see), then one DTMF event per digit, as if the remote had sent them back. */
static void dtmf_answer(struct tg_chan *ch, struct tg_msg *r, unsigned ring)
{
	const struct tg_msg_ep_dtmf q = r->u.ep_dtmf;

	r->status = ring != 0 ? -EINVAL : q.key == 404 ? -ENOENT : 0;
	r->u.ep_dtmf.play_ms = q.n_digits * 150u + q.duration_ms + q.gap_ms + q.volume + q.pt;
	for (unsigned i = 0; r->status == 0 && i < q.n_digits; i++) {
		struct tg_msg ev = {.type = TG_MSG_DTMF, .dp_gen = tg_chan_generation(ch)};

		ev.u.dtmf.key = q.key;
		ev.u.dtmf.digit = q.digits[i];
		ev.u.dtmf.event = (uint8_t)tg_dtmf_event(q.digits[i]);
		ev.u.dtmf.duration_ms = 100;
		ev.u.dtmf.end = 1;
		while (tg_chan_evt_send(ch, &ev, 1) != 1)
			usleep(100);
	}
}

/* The other process: answers on every ring for at most 'life_ms', after 'pause_ms' of deafness. */
static void responder(unsigned pause_ms, unsigned life_ms)
{
	struct tg_chan_params p = {.instance = instance, .n_cmd_rings = 2, .ring_size = 64};
	struct tg_chan *ch;
	uint64_t start = tg_now_ns(), end = start + life_ms * TG_NS_PER_MS;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	ch = tg_chan_create(&p);
	if (!ch)
		_exit(1);
	while (tg_now_ns() < end) {
		uint64_t now = tg_now_ns();

		tg_chan_dp_heartbeat(ch, now);
		if (now - start < pause_ms * TG_NS_PER_MS) {
			usleep(1000);
			continue;
		}
		for (unsigned r = 0; r < 2; r++) {
			struct tg_msg m[16];
			unsigned n = tg_chan_cmd_recv(ch, r, m, 16), k = 0;

			for (unsigned i = 0; i < n; i++) {
				if (m[i].type == TG_MSG_PING && m[i].u.ping.seq == IGNORED_SEQ)
					continue;
				m[k] = m[i];
				m[k].flags |= TG_MSGF_REPLY;
				m[k].dp_gen = tg_chan_generation(ch);
				if (m[k].type == TG_MSG_HELLO) {
					m[k].u.hello.n_lcores = 2;
					m[k].u.hello.n_ports = 1;
					m[k].u.hello.dp_pid = (uint32_t)getpid();
				} else if (m[k].type == TG_MSG_EP_DTMF) {
					dtmf_answer(ch, &m[k], r);
				} else if (m[k].type == TG_MSG_EP_UPDATE) {
					/* echoed: the test reads te_pt back */
				} else {
					m[k].u.ping.lcore_id = r;
				}
				k++;
			}
			for (unsigned sent = 0; sent < k;)
				sent += tg_chan_evt_send(ch, m + sent, k - sent);
		}
		usleep(200);
	}
	tg_chan_destroy(ch);
	_exit(0);
}

static pid_t start_responder(unsigned pause_ms, unsigned life_ms)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		responder(pause_ms, life_ms);
	return pid;
}

struct ctx {
	struct cp_loop *loop;
	struct cp_dp *dp;
	enum cp_dp_state states[8];
	unsigned n_states;
	unsigned replies, ok, wrong_ring, timeouts, resets;
	uint32_t last_seq;
	bool in_order;
	bool (*until)(struct ctx *);
	uint64_t deadline;
	struct cp_timer tick;
};

static void on_state(struct cp_dp *dp, enum cp_dp_state st, void *arg)
{
	struct ctx *c = arg;

	if (c->n_states < 8)
		c->states[c->n_states++] = st;
}

static void on_reply(struct cp_dp *dp, const struct tg_msg *r, int status, void *arg)
{
	struct ctx *c = arg;

	c->replies++;
	if (status == -ETIMEDOUT)
		c->timeouts++;
	else if (status == -ECONNRESET)
		c->resets++;
	if (!r || status < 0)
		return;
	c->ok++;
	if (r->u.ping.lcore_id != r->u.ping.seq % 2)
		c->wrong_ring++;
	if (r->u.ping.seq < c->last_seq)
		c->in_order = false;
	c->last_seq = r->u.ping.seq;
}

static void tick(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct ctx *c = arg;

	if (c->until(c) || cp_loop_now(l) > c->deadline)
		cp_loop_stop(l);
	else
		cp_timer_start(l, t, TG_NS_PER_MS);
}

static bool run_until(struct ctx *c, bool (*cond)(struct ctx *), unsigned max_ms)
{
	c->until = cond;
	c->deadline = tg_now_ns() + max_ms * TG_NS_PER_MS;
	cp_timer_start(c->loop, &c->tick, 0);
	cp_loop_run(c->loop);
	return cond(c);
}

static bool is_up(struct ctx *c)
{
	return cp_dp_is_up(c->dp);
}

static bool is_down(struct ctx *c)
{
	return !cp_dp_is_up(c->dp);
}

static unsigned want_replies;
static bool have_replies(struct ctx *c)
{
	return c->replies >= want_replies;
}

static void ctx_init(struct ctx *c, unsigned backlog_max)
{
	struct cp_dp_params p = {
		.instance = instance,
		.dp_timeout_ns = 300 * TG_NS_PER_MS,
		.request_timeout_ns = 400 * TG_NS_PER_MS,
		.check_interval_ns = 20 * TG_NS_PER_MS,
		.backlog_max = backlog_max,
	};

	memset(c, 0, sizeof(*c));
	c->in_order = true;
	c->loop = cp_loop_new();
	c->dp = cp_dp_new(c->loop, &p, on_state, NULL, c);
	assert_non_null(c->dp);
	cp_timer_init(&c->tick, tick, c);
}

static void ctx_fini(struct ctx *c)
{
	cp_timer_stop(c->loop, &c->tick);
	cp_dp_free(c->dp);
	cp_loop_free(c->loop);
}

static int reap(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	return st;
}

static int setup(void **state)
{
	static int n;

	snprintf(instance, sizeof(instance), "cpdp%d-%d", (int)getpid(), n++);
	return 0;
}

/* responders stopped with SIGTERM/SIGKILL leave their segment, as a crashed dataplane would */
static int teardown(void **state)
{
	char name[64];

	if (tg_chan_shm_name(instance, name, sizeof(name)) == 0)
		shm_unlink(name);
	return 0;
}

static int send_pings(struct ctx *c, unsigned n, unsigned ring_mod)
{
	int rc = 0;

	for (unsigned i = 0; i < n && rc == 0; i++) {
		struct tg_msg m = {.type = TG_MSG_PING};

		m.u.ping.seq = i;
		rc = cp_dp_request(c->dp, ring_mod ? i % ring_mod : 0, &m, on_reply, c);
	}
	return rc;
}

static void test_up_and_replies_matched(void **state)
{
	struct ctx c;
	pid_t pid;

	ctx_init(&c, 1000);
	struct tg_msg m = {.type = TG_MSG_PING};
	assert_int_equal(cp_dp_request(c.dp, 0, &m, on_reply, &c), -ENOTCONN);
	pid = start_responder(0, 10000);
	assert_true(run_until(&c, is_up, 3000));
	assert_int_equal(c.states[0], CP_DP_UP);
	assert_int_equal(cp_dp_info(c.dp)->n_lcores, 2);
	assert_int_equal(cp_dp_info(c.dp)->dp_pid, (uint32_t)pid);
	assert_int_equal(cp_dp_request(c.dp, 2, &m, on_reply, &c), -EINVAL);

	want_replies = 2000;
	for (unsigned k = 0; k < 2000; k += 100) {
		assert_int_equal(send_pings(&c, 100, 2), 0);
		run_until(&c, have_replies, 0); /* one loop pass */
	}
	assert_true(run_until(&c, have_replies, 3000));
	assert_int_equal(c.ok, 2000);
	assert_int_equal(c.wrong_ring, 0);
	assert_int_equal(cp_dp_in_flight(c.dp), 0);
	assert_int_equal(cp_dp_counters(c.dp)->stray_replies, 0);
	ctx_fini(&c);
	reap(pid);
}

static void test_backpressure_keeps_every_command(void **state)
{
	struct ctx c;
	pid_t pid;

	ctx_init(&c, 1000);
	pid = start_responder(0, 10000);
	assert_true(run_until(&c, is_up, 3000));
	/* a dataplane that stops reading for a moment: the 64-slot ring takes 63, the rest waits
	 * in the backlog and goes out, in order, when the ring drains */
	kill(pid, SIGSTOP);
	assert_int_equal(send_pings(&c, 500, 0), 0);
	assert_int_equal(cp_dp_counters(c.dp)->backlogged, 500 - 63);
	assert_int_equal(cp_dp_counters(c.dp)->refused, 0);
	kill(pid, SIGCONT);
	want_replies = 500;
	assert_true(run_until(&c, have_replies, 5000));
	assert_int_equal(c.ok, 500);
	assert_true(c.in_order);
	ctx_fini(&c);
	reap(pid);
}

static void test_backlog_limit_refuses(void **state)
{
	struct ctx c;
	pid_t pid;
	int rc;

	ctx_init(&c, 10);
	pid = start_responder(0, 10000);
	assert_true(run_until(&c, is_up, 3000));
	kill(pid, SIGSTOP);
	/* 63 fit the ring, 10 the backlog, the next one is refused to its caller */
	rc = send_pings(&c, 200, 0);
	assert_int_equal(rc, -ENOBUFS);
	assert_int_equal(cp_dp_counters(c.dp)->refused, 1);
	assert_int_equal(cp_dp_in_flight(c.dp), 63 + 10);
	kill(pid, SIGCONT);
	want_replies = 73;
	assert_true(run_until(&c, have_replies, 3000));
	assert_int_equal(c.ok, 73);
	ctx_fini(&c);
	reap(pid);
}

static void test_unanswered_request_times_out(void **state)
{
	struct ctx c;
	struct tg_msg m = {.type = TG_MSG_PING};
	pid_t pid;

	ctx_init(&c, 1000);
	pid = start_responder(0, 10000);
	assert_true(run_until(&c, is_up, 3000));
	m.u.ping.seq = IGNORED_SEQ;
	assert_int_equal(cp_dp_request(c.dp, 0, &m, on_reply, &c), 0);
	assert_int_equal(send_pings(&c, 10, 2), 0);
	want_replies = 11;
	assert_true(run_until(&c, have_replies, 3000));
	assert_int_equal(c.timeouts, 1);
	assert_int_equal(c.ok, 10);
	assert_int_equal(cp_dp_counters(c.dp)->timeouts, 1);
	assert_true(cp_dp_is_up(c.dp));
	ctx_fini(&c);
	reap(pid);
}

static void test_crash_then_restart(void **state)
{
	struct ctx c;
	struct tg_msg m = {.type = TG_MSG_PING};
	uint32_t gen1;
	pid_t pid;

	ctx_init(&c, 1000);
	pid = start_responder(0, 10000);
	assert_true(run_until(&c, is_up, 3000));
	gen1 = cp_dp_info(c.dp)->dp_gen;
	/* a request in flight when the dataplane dies fails with a reset, not silence */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	m.u.ping.seq = IGNORED_SEQ;
	assert_int_equal(cp_dp_request(c.dp, 0, &m, on_reply, &c), 0);
	assert_true(run_until(&c, is_down, 3000));
	assert_int_equal(c.resets + c.timeouts, 1);
	assert_int_equal(c.states[1], CP_DP_DOWN);
	pid = start_responder(0, 10000);
	assert_true(run_until(&c, is_up, 3000));
	assert_int_equal(c.states[2], CP_DP_RESTARTED);
	assert_int_not_equal(cp_dp_info(c.dp)->dp_gen, gen1);
	assert_int_equal(cp_dp_counters(c.dp)->restarts, 1);
	want_replies = c.replies + 4;
	assert_int_equal(send_pings(&c, 4, 2), 0);
	assert_true(run_until(&c, have_replies, 3000));
	ctx_fini(&c);
	reap(pid);
}

/* ---- endpoint helpers and DTMF events ---- */

struct dtmf_ctx {
	struct ctx c;
	unsigned dtmf_events, other_events;
	char digits[TG_DTMF_DIGITS_MAX + 1];
	int status;
	uint32_t play_ms;
	uint8_t te_pt;
};

static void on_dtmf_event(struct cp_dp *dp, const struct tg_msg *ev, void *arg)
{
	struct dtmf_ctx *d = arg;
	const struct tg_msg_dtmf *m = cp_dp_event_dtmf(ev);

	if (!m) {
		d->other_events++;
		return;
	}
	assert_int_equal(m->key, 42);
	assert_int_equal(m->event, tg_dtmf_event(m->digit));
	if (d->dtmf_events < TG_DTMF_DIGITS_MAX)
		d->digits[d->dtmf_events] = m->digit;
	d->dtmf_events++;
}

static void on_ep_reply(struct cp_dp *dp, const struct tg_msg *r, int status, void *arg)
{
	struct dtmf_ctx *d = arg;

	d->c.replies++;
	d->status = status;
	if (r && r->type == TG_MSG_EP_DTMF)
		d->play_ms = r->u.ep_dtmf.play_ms;
	if (r && r->type == TG_MSG_EP_UPDATE)
		d->te_pt = r->u.ep.te_pt;
}

static unsigned want_dtmf;
static bool have_dtmf(struct ctx *c)
{
	return ((struct dtmf_ctx *)c)->dtmf_events >= want_dtmf && c->replies >= want_replies;
}

static void test_ep_helpers_and_dtmf_events(void **state)
{
	struct cp_dp_params p = {
		.instance = instance,
		.dp_timeout_ns = 300 * TG_NS_PER_MS,
		.request_timeout_ns = 400 * TG_NS_PER_MS,
		.check_interval_ns = 20 * TG_NS_PER_MS,
		.backlog_max = 100,
	};
	struct cp_dp_ep_update u = {.key = 42,
		.dir = TG_DIR_RECV | TG_DIR_SEND,
		.pt_in = 0xff,
		.pt_out = 0xff,
		.te_pt = 101,
		.clock_rate = 8000};
	struct cp_dp_dtmf d = {.key = 42,
		.digits = "1#9*",
		.pt = 101,
		.duration_ms = 120,
		.gap_ms = 60,
		.volume = 12};
	struct tg_msg m;
	struct dtmf_ctx x;
	pid_t pid;

	memset(&x, 0, sizeof(x));
	x.c.in_order = true;
	x.c.loop = cp_loop_new();
	x.c.dp = cp_dp_new(x.c.loop, &p, on_state, on_dtmf_event, &x);
	assert_non_null(x.c.dp);
	cp_timer_init(&x.c.tick, tick, &x.c);
	/* what the helpers build */
	cp_dp_ep_update_msg(&m, &u);
	assert_int_equal(m.type, TG_MSG_EP_UPDATE);
	assert_int_equal(m.u.ep.key, 42);
	assert_int_equal(m.u.ep.te_pt, 101);
	assert_int_equal(m.u.ep.pt_in, 0xff);
	assert_int_equal(m.u.ep.clock_rate, 8000);
	assert_int_equal(cp_dp_ep_dtmf_msg(&m, &d), 0);
	assert_int_equal(m.type, TG_MSG_EP_DTMF);
	assert_int_equal(m.u.ep_dtmf.n_digits, 4);
	assert_memory_equal(m.u.ep_dtmf.digits, "1#9*", 4);
	assert_int_equal(m.u.ep_dtmf.duration_ms, 120);
	assert_int_equal(m.u.ep_dtmf.gap_ms, 60);
	assert_int_equal(m.u.ep_dtmf.volume, 12);
	assert_int_equal(m.u.ep_dtmf.pt, 101);
	/* refused here, before the channel: the dataplane would refuse them too */
	{
		struct cp_dp_dtmf bad = d;
		const char *digits[] = {
			"", "12X", "1 2", "012345678901234567890123456789012", NULL};

		for (int i = 0; i < 5; i++) {
			bad.digits = digits[i];
			assert_int_equal(cp_dp_ep_dtmf(x.c.dp, &bad, on_ep_reply, &x), -EINVAL);
		}
		bad = d;
		bad.pt = 0;
		assert_int_equal(cp_dp_ep_dtmf_msg(&m, &bad), -EINVAL);
		bad.pt = 128;
		assert_int_equal(cp_dp_ep_dtmf_msg(&m, &bad), -EINVAL);
		bad = d;
		bad.volume = 64;
		assert_int_equal(cp_dp_ep_dtmf_msg(&m, &bad), -EINVAL);
		bad = d;
		bad.duration_ms = 70000;
		assert_int_equal(cp_dp_ep_dtmf_msg(&m, &bad), -EINVAL);
		bad = d;
		bad.digits = "0123456789*#ABCDabcd0123456789*#";
		assert_int_equal(cp_dp_ep_dtmf_msg(&m, &bad), 0);
	}
	/* the dataplane is not there yet */
	assert_int_equal(cp_dp_ep_dtmf(x.c.dp, &d, on_ep_reply, &x), -ENOTCONN);
	pid = start_responder(0, 10000);
	assert_true(run_until(&x.c, is_up, 3000));

	assert_int_equal(cp_dp_ep_update(x.c.dp, &u, on_ep_reply, &x), 0);
	assert_int_equal(cp_dp_ep_dtmf(x.c.dp, &d, on_ep_reply, &x), 0);
	want_replies = 2;
	want_dtmf = 4;
	assert_true(run_until(&x.c, have_dtmf, 3000));
	assert_int_equal(x.te_pt, 101);
	assert_int_equal(x.status, 0);
	assert_int_equal(x.play_ms, 4 * 150 + 120 + 60 + 12 + 101); /* the fields arrived */
	assert_string_equal(x.digits, "1#9*");
	assert_int_equal(x.other_events, 0);
	/* a refusal reaches the callback */
	d.key = 404;
	assert_int_equal(cp_dp_ep_dtmf(x.c.dp, &d, on_ep_reply, &x), 0);
	want_replies = 3;
	assert_true(run_until(&x.c, have_dtmf, 3000));
	assert_int_equal(x.status, -ENOENT);
	assert_int_equal(x.dtmf_events, 4);
	ctx_fini(&x.c);
	reap(pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_up_and_replies_matched, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_backpressure_keeps_every_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog_limit_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unanswered_request_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_then_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ep_helpers_and_dtmf_events, setup, teardown),
	};

	tg_log_set_level("all", "err");
	return cmocka_run_group_tests_name("cp_dp", tests, NULL, NULL);
}
