/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's command path on a real channel: HELLO and PING answers, unknown commands
 * refused and counted, and replies held (with no new command read) while the event ring is full.
 * No EAL is needed: the command path touches only the channel and the lcore's stats block.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dp.h"
#include "tg_log.h"
#include "tg_stats_counters.h"

static struct dp_app app;
static struct tg_chan *cp;
static const char *const names[TG_DPC__COUNT] = {[0 ... TG_DPC__COUNT - 1] = "c"};

static int setup(void **state)
{
	static char instance[32];
	struct tg_stats_kind_params k[TG_STATS__KINDS] = {
		[TG_STATS_LCORE] = {2, TG_DPC__COUNT, names}};
	struct tg_chan_params p = {.instance = instance, .n_cmd_rings = 2, .ring_size = 64};
	char err[128];

	snprintf(instance, sizeof(instance), "dpcmd%d", (int)getpid());
	memset(&app, 0, sizeof(app));
	app.instance = instance;
	app.n_lcores = 2;
	app.n_ports = 1;
	app.chan = tg_chan_create(&p);
	app.stats = tg_stats_create(instance, k);
	assert_non_null(app.chan);
	assert_non_null(app.stats);
	for (unsigned i = 0; i < 2; i++) {
		app.lcores[i].app = &app;
		app.lcores[i].lcore_id = 10 + i;
		app.lcores[i].cmd_ring = i;
		app.lcores[i].stats = tg_stats_block(app.stats, TG_STATS_LCORE, i);
	}
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), 0);
	return 0;
}

static int teardown(void **state)
{
	tg_chan_detach(cp);
	tg_chan_destroy(app.chan);
	tg_stats_destroy(app.stats);
	return 0;
}

static void test_hello_and_ping(void **state)
{
	struct tg_msg m[2] = {{.type = TG_MSG_HELLO, .req_id = 7, .cp_gen = 99},
		{.type = TG_MSG_PING, .req_id = 8, .cp_gen = 99}};
	struct tg_msg r[4];

	assert_int_equal(tg_chan_cmd_send(cp, 1, m, 2), 2);
	assert_int_equal(dp_cmd_poll(&app.lcores[1]), 2);
	assert_int_equal(tg_chan_evt_recv(cp, r, 4), 2);
	assert_true(r[0].flags & TG_MSGF_REPLY);
	assert_int_equal(r[0].req_id, 7);
	assert_int_equal(r[0].cp_gen, 99);
	assert_int_equal(r[0].dp_gen, tg_chan_generation(app.chan));
	assert_int_equal(r[0].status, 0);
	assert_int_equal(r[0].u.hello.n_lcores, 2);
	assert_int_equal(r[0].u.hello.n_ports, 1);
	assert_int_equal(r[0].u.hello.dp_pid, (uint32_t)getpid());
	assert_int_equal(r[1].req_id, 8);
	assert_int_equal(r[1].u.ping.lcore_id, 11); /* the lcore that owns ring 1 answered */
	assert_true(r[1].u.ping.dp_recv_ns > 0);
	assert_int_equal(app.lcores[1].stats->v[TG_DPC_cmds], 2);
	/* nothing on ring 0: lcore 0 has no work */
	assert_int_equal(dp_cmd_poll(&app.lcores[0]), 0);
}

static void test_unknown_and_reply_flagged_refused(void **state)
{
	struct tg_msg m[3] = {{.type = 250, .req_id = 1}, {.type = 0, .req_id = 2},
		{.type = TG_MSG_PING, .flags = TG_MSGF_REPLY, .req_id = 3}};
	struct tg_msg r[3];

	assert_int_equal(tg_chan_cmd_send(cp, 0, m, 3), 3);
	assert_int_equal(dp_cmd_poll(&app.lcores[0]), 3);
	assert_int_equal(tg_chan_evt_recv(cp, r, 3), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i].req_id, (uint64_t)i + 1);
		assert_int_equal(r[i].status, -ENOTSUP);
	}
	assert_int_equal(tg_chan_counters(cp)->cmd_bad, 3);
}

static void test_full_event_ring_holds_replies(void **state)
{
	struct tg_msg fill[64] = {{0}}, m[8], r[64];
	unsigned filled = tg_chan_evt_send(app.chan, fill, 64);
	struct dp_lcore *lc = &app.lcores[0];

	assert_int_equal(filled, 63);
	for (int i = 0; i < 8; i++)
		m[i] = (struct tg_msg){.type = TG_MSG_PING, .req_id = 100 + (uint64_t)i};
	assert_int_equal(tg_chan_cmd_send(cp, 0, m, 4), 4);
	/* the four are read and answered, but the answers wait in the lcore */
	assert_int_equal(dp_cmd_poll(lc), 4);
	assert_int_equal(lc->n_reply, 4);
	assert_true(lc->stats->v[TG_DPC_evt_full] > 0);
	/* while they wait, no new command is read: the pressure stays on the command ring */
	assert_int_equal(tg_chan_cmd_send(cp, 0, m + 4, 4), 4);
	assert_int_equal(dp_cmd_poll(lc), 0);
	assert_int_equal(tg_chan_cmd_free(cp, 0), 63 - 4);
	/* the control plane drains: held replies go first, then the waiting commands are served */
	assert_int_equal(tg_chan_evt_recv(cp, r, 64), 63);
	assert_int_equal(dp_cmd_poll(lc), 4);
	assert_int_equal(lc->n_reply, 0);
	assert_int_equal(dp_cmd_poll(lc), 0);
	assert_int_equal(tg_chan_evt_recv(cp, r, 64), 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(r[i].req_id, 100 + (uint64_t)i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello_and_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_unknown_and_reply_flagged_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_full_event_ring_holds_replies, setup, teardown),
	};

	tg_log_set_level("all", "err");
	return cmocka_run_group_tests_name("dp_cmd", tests, NULL, NULL);
}
