/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `events` command: every kind's JSON line, the arguments and their messages, and streams
 * over a real control socket on a real loop with a real bus (no coordinator: events are
 * published by the test): the filter, --call ending with its call's "ended", a client that
 * does not read (the bus drops and counts, the loop never waits, and the client learns
 * exactly how many it lost), a client that goes mid-stream (its subscription gone: the ASan
 * build checks that nothing leaks), and the stop before the bus goes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b2b_events_ctl.h"
#include "cp_ctl_testing.h"
#include "cp_loop_testing.h"

#define T0 1764111888422LL /* 2025-11-25T23:04:48.422Z */

static struct b2b_ev ev(uint64_t call, enum b2b_ev_kind kind)
{
	struct b2b_ev e;

	memset(&e, 0, sizeof(e));
	e.call = call;
	e.kind = (uint16_t)kind;
	e.time_ms = T0;
	return e;
}

static void expect_json(const struct b2b_ev *e, const char *want_text)
{
	json_t *got = b2b_ev_json(e), *want = json_loads(want_text, 0, NULL);

	assert_non_null(got);
	assert_non_null(want);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT);

		fail_msg("%s\nexpected %s", g, want_text);
	}
	json_decref(got);
	json_decref(want);
}

static void test_json(void **state)
{
	struct b2b_ev e;

	(void)state;
	e = ev(17, B2B_EVK_STATE);
	e.u.state.from = B2B_ST_DIALING;
	e.u.state.to = B2B_ST_RINGING;
	e.u.state.event = B2B_EV_PROVISIONAL;
	expect_json(&e,
		"{\"time\": \"2025-11-25T23:04:48.422Z\", \"call\": 17, \"kind\": \"state\","
		" \"from\": \"dialing\", \"to\": \"ringing\", \"event\": \"provisional\"}");

	/* URIs as they came, cut where the event cut them; bytes that are not UTF-8 replaced */
	e = ev(17, B2B_EVK_INCOMING);
	memset(e.u.call.from, 'x', sizeof(e.u.call.from)); /* no NUL at all */
	snprintf(e.u.call.to, sizeof(e.u.call.to), "sip:\xff@b");
	{
		json_t *j = b2b_ev_json(&e);

		assert_int_equal(strlen(json_string_value(json_object_get(j, "from"))), 96);
		assert_string_equal(
			json_string_value(json_object_get(j, "to")), "sip:\xef\xbf\xbd@b");
		json_decref(j);
	}

	e = ev(17, B2B_EVK_ESTABLISHED);
	expect_json(&e, "{\"time\": \"2025-11-25T23:04:48.422Z\", \"call\": 17,"
			" \"kind\": \"established\"}");

	e = ev(17, B2B_EVK_ENDED);
	e.u.ended.reason = B2B_CDR_OPERATOR;
	e.u.ended.sip_code = 200;
	e.u.ended.duration_ms = 4321;
	expect_json(&e,
		"{\"time\": \"2025-11-25T23:04:48.422Z\", \"call\": 17, \"kind\": \"ended\","
		" \"reason\": \"operator\", \"sip_code\": 200, \"duration_ms\": 4321}");

	e = ev(17, B2B_EVK_DTMF);
	e.u.dtmf.digit = '#';
	e.u.dtmf.leg = 'b';
	e.u.dtmf.method = 1;
	e.u.dtmf.outgoing = 1;
	e.u.dtmf.duration_ms = 100;
	expect_json(&e, "{\"time\": \"2025-11-25T23:04:48.422Z\", \"call\": 17, \"kind\": \"dtmf\","
			" \"digit\": \"#\", \"leg\": \"callee\", \"method\": \"info\","
			" \"direction\": \"sent\", \"duration_ms\": 100}");
	e.u.dtmf.leg = 'a';
	e.u.dtmf.method = 0;
	e.u.dtmf.outgoing = 0;
	e.u.dtmf.duration_ms = 0;
	expect_json(&e, "{\"time\": \"2025-11-25T23:04:48.422Z\", \"call\": 17, \"kind\": \"dtmf\","
			" \"digit\": \"#\", \"leg\": \"caller\", \"method\": \"rtp\","
			" \"direction\": \"received\", \"duration_ms\": null}");

	e = ev(17, B2B_EVK_MEDIA_QUALITY);
	e.u.quality.stream = 1;
	e.u.quality.leg = 'a';
	e.u.quality.mos_x100 = 441;
	e.u.quality.jitter_us = 1250;
	e.u.quality.rtt_us = 0;
	e.u.quality.lost = -2;
	e.u.quality.packets = 5000000000ULL;
	expect_json(&e, "{\"time\": \"2025-11-25T23:04:48.422Z\", \"call\": 17,"
			" \"kind\": \"media-quality\", \"stream\": 1, \"leg\": \"caller\","
			" \"mos\": 4.41, \"jitter_ms\": 1.25, \"rtt_ms\": null, \"lost\": -2,"
			" \"packets\": 5000000000}");
	e.u.quality.mos_x100 = 0;
	e.u.quality.rtt_us = 20500;
	{
		json_t *j = b2b_ev_json(&e);

		assert_true(json_is_null(json_object_get(j, "mos")));
		assert_true(json_real_value(json_object_get(j, "rtt_ms")) == 20.5);
		json_decref(j);
	}

	e = ev(17, B2B_EVK_TRANSFER);
	e.u.transfer.state = 3;
	e.u.transfer.sip_code = 486;
	snprintf(e.u.transfer.target, sizeof(e.u.transfer.target), "sip:c@d");
	expect_json(&e,
		"{\"time\": \"2025-11-25T23:04:48.422Z\", \"call\": 17, \"kind\": \"transfer\","
		" \"state\": \"failed\", \"sip_code\": 486, \"target\": \"sip:c@d\"}");

	e = ev(0, B2B_EVK_BRIDGE);
	e.time_ms = 0;
	e.u.bridge.bridge = 3;
	e.u.bridge.what = 2;
	expect_json(&e, "{\"time\": null, \"call\": null, \"kind\": \"bridge\", \"bridge\": 3,"
			" \"what\": \"destroyed\"}");
}

/* ---- arguments -------------------------------------------------------------------------------
 */

static int args(struct b2b_ev_filter *f, char *err, size_t errlen, ...)
{
	const char *a[16];
	unsigned n = 0;
	va_list ap;

	va_start(ap, errlen);
	while ((a[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	err[0] = '\0';
	return b2b_events_ctl_args(a, n, f, err, errlen);
}

static void test_args(void **state)
{
	struct b2b_ev_filter f;
	char err[512];

	(void)state;
	assert_int_equal(args(&f, err, sizeof(err), NULL), 0);
	assert_int_equal(f.kinds, 0);
	assert_int_equal(f.call, 0);
	assert_int_equal(
		args(&f, err, sizeof(err), "--call", "17", "--kinds", "state,dtmf", NULL), 0);
	assert_int_equal(f.call, 17);
	assert_int_equal(f.kinds, B2B_EVK_BIT(B2B_EVK_STATE) | B2B_EVK_BIT(B2B_EVK_DTMF));
	assert_int_equal(args(&f, err, sizeof(err), "--kinds=media-quality", "--call=3", NULL), 0);
	assert_int_equal(f.kinds, B2B_EVK_BIT(B2B_EVK_MEDIA_QUALITY));
	assert_int_equal(f.call, 3);

	assert_int_equal(args(&f, err, sizeof(err), "--kinds", "state,nope", NULL), -EINVAL);
	assert_string_equal(err, "--kinds 'state,nope': unknown kind 'nope' (kinds: state, "
				 "incoming, established, ended, dtmf, media-quality, transfer, "
				 "bridge)");
	assert_int_equal(args(&f, err, sizeof(err), "--kinds", "state,,dtmf", NULL), -EINVAL);
	assert_non_null(strstr(err, "an empty kind"));
	assert_int_equal(args(&f, err, sizeof(err), "--call", "x1", NULL), -EINVAL);
	assert_string_equal(err, "--call 'x1': not a call number");
	assert_int_equal(args(&f, err, sizeof(err), "--call", "0", NULL), -EINVAL);
	assert_int_equal(args(&f, err, sizeof(err), "--call", "-1", NULL), -EINVAL);
	assert_int_equal(
		args(&f, err, sizeof(err), "--call", "99999999999999999999", NULL), -EINVAL);
	assert_int_equal(args(&f, err, sizeof(err), "--call", NULL), -EINVAL);
	assert_string_equal(err, "--call needs a value");
	assert_int_equal(args(&f, err, sizeof(err), "--call", "1", "--call", "2", NULL), -EINVAL);
	assert_string_equal(err, "--call: given twice");
	assert_int_equal(args(&f, err, sizeof(err), "--json", NULL), -EINVAL);
	assert_string_equal(
		err, "unknown argument '--json' (expected --call ID, --kinds KIND,...)");
}

/* ---- over a control socket ---------------------------------------------------------------- */

struct fx {
	struct cp_loop *loop;
	struct cp_ctl *ctl;
	struct b2b_events *bus;
	struct b2b_events_ctl *ec;
	char dir[64];
	char path[CP_CTL_PATH_MAX];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/b2b_events_ctl.XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.ctl", f->dir);
	f->loop = cp_loop_new();
	f->bus = b2b_events_new();
	assert_non_null(f->loop);
	assert_non_null(f->bus);
	f->ctl = cp_ctl_new(f->loop, f->path);
	assert_non_null(f->ctl);
	f->ec = b2b_events_ctl_new(f->ctl, f->loop, f->bus, NULL);
	assert_non_null(f->ec);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	/* the app's order: the streams end before the bus goes, the socket after */
	b2b_events_ctl_stop(f->ec);
	b2b_events_free(f->bus);
	cp_ctl_free(f->ctl);
	b2b_events_ctl_free(f->ec);
	cp_loop_free(f->loop);
	rmdir(f->dir);
	free(f);
	return 0;
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_int_t num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void subscribe(struct fx *f, struct cp_test_client *c, const char *request)
{
	json_t *a;

	cp_test_say(c, request);
	a = cp_test_hear(f->loop, c);
	assert_non_null(a);
	if (!json_is_true(json_object_get(a, "stream")))
		fail_msg("%s: %s", request, json_dumps(a, JSON_COMPACT));
	json_decref(a);
}

static void publish(struct fx *f, struct b2b_ev e)
{
	b2b_events_publish(f->bus, &e);
}

static void test_stream(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path), *d = cp_test_dial(f->path);
	struct b2b_events_counters bc;
	struct b2b_ev e;
	json_t *a;

	subscribe(f, c, "[\"events\", \"--kinds\", \"state,dtmf\"]\n");
	subscribe(f, d, "[\"events\", \"--call\", \"7\", \"--kinds\", \"dtmf\"]\n");
	assert_int_equal(b2b_events_ctl_streams(f->ec), 2);
	b2b_events_counters(f->bus, &bc);
	assert_int_equal(bc.subscribers, 2);

	e = ev(5, B2B_EVK_STATE);
	e.u.state.from = B2B_ST_INITIALIZING;
	e.u.state.to = B2B_ST_DIALING;
	e.u.state.event = B2B_EV_OUTGOING_INVITE_SENT;
	publish(f, e);
	publish(f, ev(5, B2B_EVK_INCOMING)); /* not asked for */
	e = ev(7, B2B_EVK_DTMF);
	e.u.dtmf.digit = '5';
	e.u.dtmf.leg = 'b';
	publish(f, e);

	a = cp_test_hear(f->loop, c);
	assert_string_equal(str(a, "kind"), "state");
	assert_int_equal(num(a, "call"), 5);
	assert_string_equal(str(a, "to"), "dialing");
	assert_string_equal(str(a, "time"), "2025-11-25T23:04:48.422Z");
	json_decref(a);
	a = cp_test_hear(f->loop, c);
	assert_string_equal(str(a, "kind"), "dtmf");
	assert_string_equal(str(a, "digit"), "5");
	json_decref(a);
	a = cp_test_hear(f->loop, d);
	assert_string_equal(str(a, "kind"), "dtmf");
	assert_int_equal(num(a, "call"), 7);
	json_decref(a);
	cp_test_silent(f->loop, d, 20);

	/* --call: the call's end ends the stream (its "ended" line only when asked for), and
	 * the connection goes on */
	publish(f, ev(5, B2B_EVK_ENDED));
	publish(f, ev(7, B2B_EVK_ENDED));
	a = cp_test_hear(f->loop, d);
	assert_true(json_is_true(json_object_get(a, "end")));
	assert_string_equal(str(a, "reason"), "call 7 ended");
	json_decref(a);
	CP_TEST_RUN_UNTIL(f->loop, b2b_events_ctl_streams(f->ec) == 1, 2000);
	subscribe(f, d, "[\"events\", \"--call\", \"9\"]\n");
	publish(f, ev(9, B2B_EVK_ESTABLISHED));
	publish(f, ev(9, B2B_EVK_ENDED));
	a = cp_test_hear(f->loop, d);
	assert_string_equal(str(a, "kind"), "established");
	json_decref(a);
	a = cp_test_hear(f->loop, d);
	assert_string_equal(str(a, "kind"), "ended");
	json_decref(a);
	a = cp_test_hear(f->loop, d);
	assert_true(json_is_true(json_object_get(a, "end")));
	json_decref(a);
	cp_test_say(d, "[\"events\", \"--kinds\", \"nope\"]\n");
	a = cp_test_hear(f->loop, d);
	assert_true(json_is_false(json_object_get(a, "ok")));
	assert_string_equal(str(a, "code"), "EINVAL");
	assert_non_null(strstr(str(a, "error"), "events: --kinds 'nope': unknown kind 'nope'"));
	json_decref(a);
	cp_test_hang_up(d);
	cp_test_silent(f->loop, c, 20); /* c never asked for ended */

	/* a client that goes: its subscription goes with it */
	cp_test_hang_up(c);
	CP_TEST_RUN_UNTIL(f->loop, b2b_events_ctl_streams(f->ec) == 0, 2000);
	b2b_events_counters(f->bus, &bc);
	assert_int_equal(bc.subscribers, 0);
	assert_int_equal(cp_ctl_streams(f->ctl), 0);
}

/*
 * A client that reads nothing while thousands of events come: the stream's output fills up to
 * its bound, then the stream leaves the events in its queue, which fills and drops (the bus
 * counts). Nothing waits. When the client reads, it gets events in order and {"dropped": N}
 * lines, and what it got plus what it was told it lost is all that was published.
 */
static void test_slow_client(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path);
	struct b2b_events_counters bc;
	unsigned total = 20000, got = 0, lost = 0;
	uint64_t last = 0;

	subscribe(f, c, "[\"events\", \"--kinds\", \"established\"]\n");
	for (unsigned i = 1; i <= total; i++) {
		publish(f, ev(i, B2B_EVK_ESTABLISHED));
		if (i % 100 == 0)
			cp_test_run_ms(f->loop, 1); /* the loop turns; the client does not read */
	}
	b2b_events_counters(f->bus, &bc);
	assert_true(bc.dropped > 0);
	assert_int_equal(bc.delivered + bc.dropped, total);
	assert_true(bc.delivered < total / 4);
	while (got + lost < total) {
		json_t *a = cp_test_hear(f->loop, c);

		assert_non_null(a);
		if (json_object_get(a, "dropped")) {
			lost += (unsigned)num(a, "dropped");
		} else {
			assert_string_equal(str(a, "kind"), "established");
			assert_true((uint64_t)num(a, "call") > last); /* in order */
			last = (uint64_t)num(a, "call");
			got++;
		}
		json_decref(a);
	}
	print_message("%u events read, %u reported lost\n", got, lost);
	assert_int_equal(got + lost, total);
	assert_int_equal(lost, bc.dropped);
	/* and it keeps up again */
	publish(f, ev(total + 1, B2B_EVK_ESTABLISHED));
	{
		json_t *a = cp_test_hear(f->loop, c);

		assert_int_equal(num(a, "call"), total + 1);
		json_decref(a);
	}
	/* going with a full queue frees it all */
	for (unsigned i = 0; i < 2000; i++)
		publish(f, ev(1, B2B_EVK_ESTABLISHED));
	cp_test_run_ms(f->loop, 5);
	cp_test_hang_up(c);
	CP_TEST_RUN_UNTIL(f->loop, b2b_events_ctl_streams(f->ec) == 0, 2000);
}

/* The control plane stops: every stream is told and ended before the bus goes; no new one */
static void test_stop(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path);
	struct b2b_events_counters bc;
	json_t *a;

	subscribe(f, c, "[\"events\"]\n");
	b2b_events_ctl_stop(f->ec);
	a = cp_test_hear(f->loop, c);
	assert_true(json_is_true(json_object_get(a, "end")));
	assert_string_equal(str(a, "reason"), "the control plane is stopping");
	json_decref(a);
	b2b_events_counters(f->bus, &bc);
	assert_int_equal(bc.subscribers, 0);
	cp_test_say(c, "[\"events\"]\n");
	a = cp_test_hear(f->loop, c);
	assert_string_equal(str(a, "code"), "ESHUTDOWN");
	json_decref(a);
	cp_test_hang_up(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_args),
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
