/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tollgate-cp: the control-plane process. Thin: options, config, the app's loop, the session
 * coordinator (src/b2bua) hooked onto it with its routing table and call-record writer, and the
 * control socket's commands.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2b_call.h"
#include "b2b_ctl.h"
#include "b2b_cdr.h"
#include "b2b_events_ctl.h"
#include "b2b_quality.h"
#include "cp_app.h"
#include "cp_ctl_cmds.h"
#include "cp_route.h"
#include "cp_sip_txn.h"
#include "dp_config.h"
#include "tg_cli.h"
#include "tg_log.h"
#include "tg_time.h"

struct opts {
	struct cp_app *app;
	bool dump_stats;
	bool ctl_docs;
};

/* The session layer and what it needs beside the app */
struct session {
	struct b2b_config cfg;
	struct cp_route_config route_cfg;
	struct b2b_cdr_config cdr_cfg;
	struct cp_route_table *routes;
	struct b2b_cdr *cdr;
	struct b2b *b2b;
	struct b2b_ctl *ctl;	       /* the call commands; freed after the control socket */
	struct b2b_events_ctl *ev_ctl; /* `events`: stopped before the bus goes, freed after ctl */
	struct b2b_quality *quality;   /* media-quality events */
	struct cp_timer cdr_timer;
	uint64_t last_offered; /* for the call rate of the status line and show stats */
	uint64_t last_rate_ns;
};

static void hook_dp_event(void *arg, const struct tg_msg *ev)
{
	b2b_dp_event(((struct session *)arg)->b2b, ev);
}

static void hook_dp_restarted(void *arg)
{
	b2b_dp_restarted(((struct session *)arg)->b2b);
}

static unsigned hook_drain(void *arg)
{
	return b2b_drain(((struct session *)arg)->b2b);
}

/* Calls per second since the last status line or show stats (0 the first time) */
static double call_rate(struct session *s)
{
	const struct b2b_counters *c = b2b_counters(s->b2b);
	uint64_t now = tg_now_ns();
	double cps = s->last_rate_ns ? (double)(c->calls_offered - s->last_offered) * 1e9 /
					       (double)(now - s->last_rate_ns)
				     : 0;

	s->last_offered = c->calls_offered;
	s->last_rate_ns = now;
	return cps;
}

static void hook_status(void *arg)
{
	struct session *s = arg;
	const struct b2b_counters *c = b2b_counters(s->b2b);
	const struct cp_txn_counters *t = b2b_txn_counters(s->b2b);
	double cps = call_rate(s);

	TG_LOG(B2B, INFO,
		"calls: active %u, in memory %u, %.1f cps | offered %" PRIu64 ", answered %" PRIu64
		", ended %" PRIu64 ", no route %" PRIu64 ", limit %" PRIu64
		", media refused %" PRIu64 " | transactions: %" PRIu64 " server, %" PRIu64
		" client, %" PRIu64 " retransmissions absorbed, %" PRIu64
		" timeouts, %zu live, %zu completed",
		b2b_active_calls(s->b2b), b2b_calls_in_memory(s->b2b), cps, c->calls_offered,
		c->calls_answered, c->calls_ended, c->rejected_no_route, c->rejected_limit,
		c->rejected_media, t->server_created, t->client_created,
		t->retransmissions_absorbed, t->timeouts, b2b_txn_live(s->b2b),
		b2b_txn_completed(s->b2b));
}

#define CALLS(f) CP_CTL_COUNTER(struct b2b_counters, f)
static const struct cp_ctl_counter call_counters[] = {
	{"offered", offsetof(struct b2b_counters, calls_offered)},
	{"answered", offsetof(struct b2b_counters, calls_answered)},
	{"ended", offsetof(struct b2b_counters, calls_ended)},
	CALLS(rejected_limit),
	CALLS(rejected_source_limit),
	CALLS(rejected_no_route),
	CALLS(rejected_sdp),
	CALLS(rejected_media),
	CALLS(cancelled),
	CALLS(redirects_followed),
	CALLS(redirects_relayed),
	CALLS(udp_to_tcp),
	CALLS(no_answer),
	CALLS(media_timeouts),
	CALLS(max_duration),
	CALLS(reinvites),
	CALLS(info_relayed),
	CALLS(dtmf_sent),
	CALLS(dtmf_received),
	CALLS(transfers),
	CALLS(transfers_failed),
	CALLS(no_dialog),
	CALLS(invite_retransmissions),
	CALLS(merged_requests),
	CALLS(answered_locally),
	CALLS(deferred),
	CALLS(rejected_by_decision),
	CALLS(originated),
	CALLS(bridges),
	CALLS(options),
	CALLS(cdr_errors),
};

#define TXNS(f) CP_CTL_COUNTER(struct cp_txn_counters, f)
static const struct cp_ctl_counter txn_counters[] = {
	TXNS(server_created),
	TXNS(client_created),
	TXNS(retransmissions_absorbed),
	TXNS(stray_responses),
	TXNS(stray_acks),
	TXNS(timeouts),
	TXNS(send_errors),
	TXNS(freed),
	TXNS(retired),
};

#define N(a) (unsigned)(sizeof(a) / sizeof((a)[0]))

/* show stats: what the status line says, as numbers */
static void hook_stats_json(void *arg, json_t *out)
{
	struct session *s = arg;
	json_t *calls = json_pack("{s:i, s:i, s:i, s:i, s:f}", "active",
		(int)b2b_active_calls(s->b2b), "in_memory", (int)b2b_calls_in_memory(s->b2b),
		"dialogs", (int)b2b_dialog_count(s->b2b), "sources", (int)b2b_source_count(s->b2b),
		"cps", call_rate(s));
	json_t *txns = json_pack("{s:I, s:I}", "live", (json_int_t)b2b_txn_live(s->b2b),
		"completed", (json_int_t)b2b_txn_completed(s->b2b));
	json_t *c = cp_ctl_counters_json(b2b_counters(s->b2b), call_counters, N(call_counters));
	json_t *t = cp_ctl_counters_json(b2b_txn_counters(s->b2b), txn_counters, N(txn_counters));

	struct b2b_events_counters ec;

	json_object_update(calls, c);
	json_object_update(txns, t);
	json_decref(c);
	json_decref(t);
	json_object_set_new(out, "calls", calls);
	json_object_set_new(out, "transactions", txns);
	/* the event bus: subscribers (tgctl events among them) and what their queues dropped */
	b2b_events_counters(b2b_events_of(s->b2b), &ec);
	json_object_set_new(out, "events",
		json_pack("{s:I, s:I, s:I, s:i}", "published", (json_int_t)ec.published,
			"delivered", (json_int_t)ec.delivered, "dropped", (json_int_t)ec.dropped,
			"subscribers", (int)ec.subscribers));
}

/* reload: the calls in progress keep their targets by value; new ones take the new table */
static void hook_set_routes(void *arg, struct cp_route_table *routes)
{
	struct session *s = arg;

	b2b_set_routes(s->b2b, routes);
	cp_route_table_free(s->routes);
	s->routes = routes;
}

static void b2b_sip_rx_hook(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg)
{
	b2b_sip_rx(t, msg, from, ((struct session *)arg)->b2b);
}

/* Batch-mode records get their sync, and a failing file its retries, from here. */
static void cdr_tick(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct session *s = arg;
	uint64_t due;

	b2b_cdr_tick(s->cdr);
	due = b2b_cdr_tick_due_ms(s->cdr);
	cp_timer_start(l, t,
		(due == UINT64_MAX || due > 1000 ? 1000
			: due			 ? due
						 : 1) *
			TG_NS_PER_MS);
}

static int session_start(struct session *s, struct cp_app *app)
{
	char err[256];
	struct b2b_params p = {
		.loop = app->loop,
		.transport = app->sip,
		.dp = app->dp,
		.cfg = &s->cfg,
		.user_agent = app->cfg.sip_user_agent,
	};

	s->routes = cp_route_table_new(&s->route_cfg, err, sizeof(err));
	if (!s->routes) {
		fprintf(stderr, "tollgate-cp: routing: %s\n", err);
		return -EINVAL;
	}
	s->cdr = b2b_cdr_open(&s->cdr_cfg, NULL, err, sizeof(err));
	if (!s->cdr) {
		fprintf(stderr, "tollgate-cp: cdr: %s\n", err);
		return -EIO;
	}
	p.routes = s->routes;
	p.cdr = s->cdr;
	s->b2b = b2b_new(&p);
	if (!s->b2b)
		return -ENOMEM;
	s->quality = b2b_quality_new(&(struct b2b_quality_params){
		.loop = app->loop, .cfg = &s->cfg, .b = s->b2b, .dp = app->dp});
	if (!s->quality)
		return -ENOMEM;
	app->sip_rx = b2b_sip_rx_hook;
	app->dp_event = hook_dp_event;
	app->dp_restarted = hook_dp_restarted;
	app->status = hook_status;
	app->drain = hook_drain;
	app->stats_json = hook_stats_json;
	app->set_routes = hook_set_routes;
	app->hook_arg = s;
	cp_timer_init(&s->cdr_timer, cdr_tick, s);
	cp_timer_start(app->loop, &s->cdr_timer, TG_NS_PER_S);
	TG_LOG(B2B, NOTICE, "sessions: %u routing rules, records to %s", cp_route_count(s->routes),
		s->cdr_cfg.path);
	return 0;
}

/* Records of the calls still up are written (reason "shutdown") and synced before exit. */
static void session_stop(struct session *s, struct cp_app *app)
{
	/* what reads the bus goes before it */
	b2b_events_ctl_stop(s->ev_ctl);
	b2b_quality_free(s->quality);
	s->quality = NULL;
	if (s->b2b) {
		hook_status(s);
		app->sip_rx = NULL;
		b2b_free(s->b2b);
		s->b2b = NULL;
	}
	if (app->loop)
		cp_timer_stop(app->loop, &s->cdr_timer);
	if (s->cdr && b2b_cdr_close(s->cdr) < 0)
		TG_LOG(B2B, ERR, "call records: final sync failed");
	s->cdr = NULL;
	cp_route_table_free(s->routes);
	s->routes = NULL;
}

/* Every operator command: the control plane's and the session layer's. Used for the socket and
 * for --ctl-docs (where nothing runs, so s->b2b may be NULL). */
/* For --ctl-docs too: then there is no session (b2b, dp NULL) and no handler ever runs. */
static int register_commands(struct cp_ctl *c, struct cp_app *app, struct session *s)
{
	int rc = cp_ctl_cmds_register(c, app);

	if (rc < 0)
		return rc;
	s->ctl = b2b_ctl_new(c, s->b2b, app->dp);
	if (!s->ctl)
		return -errno;
	s->ev_ctl = b2b_events_ctl_new(c, app->loop, s->b2b ? b2b_events_of(s->b2b) : NULL, s->b2b);
	return s->ev_ctl ? 0 : -errno;
}

static int write_ctl_docs(struct cp_app *app, struct session *s)
{
	struct cp_ctl *c = cp_ctl_new(NULL, NULL);
	int rc = c ? register_commands(c, app, s) : -ENOMEM;

	if (rc == 0)
		cp_ctl_write_docs(c, stdout);
	cp_ctl_free(c);
	b2b_ctl_free(s->ctl);
	b2b_events_ctl_free(s->ev_ctl);
	return rc;
}

static int opt_duration(void *ctx, const char *arg, char *err, size_t errlen)
{
	struct opts *o = ctx;
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno || *end || end == arg || s <= 0 || s > 365 * 86400.0) {
		snprintf(err, errlen, "'%s' is not a number of seconds", arg);
		return -EINVAL;
	}
	o->app->duration_ns = (uint64_t)(s * 1e9);
	return 0;
}

static int opt_dump_stats(void *ctx, const char *arg, char *err, size_t errlen)
{
	((struct opts *)ctx)->dump_stats = true;
	return 0;
}

static int opt_ctl_docs(void *ctx, const char *arg, char *err, size_t errlen)
{
	((struct opts *)ctx)->ctl_docs = true;
	return 0;
}

static const struct tg_cli_opt cp_opts[] = {
	{"--duration", true, "SECONDS", "stop after this long (default: run until a signal)",
		opt_duration},
	{"--dump-stats", false, NULL, "print the dataplane's stats segment and exit",
		opt_dump_stats},
	{"--ctl-docs", false, NULL, "print the operator commands' reference (Markdown) and exit",
		opt_ctl_docs},
};

int main(int argc, char **argv)
{
	static struct cp_app app = {.sig_fd = -1};
	static struct session sess;
	struct opts o = {.app = &app};
	struct tg_general_config gc;
	struct dp_config dpc; /* registered so the shared config file validates; not used here */
	struct tg_cli cli = {
		.prog = "tollgate-cp",
		.summary = "tollgate's control plane: SIP, sessions, and the dataplane's client.",
		.opts = cp_opts,
		.n_opts = sizeof(cp_opts) / sizeof(cp_opts[0]),
		.ctx = &o,
	};
	struct tg_cfg *cfg = tg_cfg_new();
	enum tg_cli_result r;
	int rc;

	tg_log_set_ident("tollgate-cp");
	if (!cfg || tg_general_config_register(cfg, &gc) < 0 || dp_config_register(cfg, &dpc) < 0 ||
		cp_config_register(cfg, &app.cfg) < 0 ||
		cp_route_config_register(cfg, &sess.route_cfg) < 0 ||
		b2b_config_register(cfg, &sess.cfg) < 0 ||
		b2b_cdr_config_register(cfg, &sess.cdr_cfg) < 0) {
		fprintf(stderr, "tollgate-cp: config tables rejected\n");
		return 1;
	}
	r = tg_cli_parse(&cli, cfg, &gc, argc, argv);
	if (r != TG_CLI_RUN) {
		tg_cfg_free(cfg);
		return r == TG_CLI_EXIT ? 0 : 2;
	}
	app.instance = gc.instance;
	app.registry = cfg;
	app.cli = &cli;
	if (o.ctl_docs) {
		rc = write_ctl_docs(&app, &sess);
		tg_cfg_free(cfg);
		return rc < 0 ? 1 : 0;
	}
	if (o.dump_stats) {
		struct cp_dpstats *s = cp_dpstats_new(gc.instance);

		rc = s ? cp_dpstats_dump(s, stdout, stderr) : -ENOMEM;
		cp_dpstats_free(s);
		tg_cfg_free(cfg);
		return rc < 0 ? 1 : 0;
	}
	rc = cp_app_start(&app);
	if (rc == 0)
		rc = session_start(&sess, &app);
	if (rc == 0 && app.ctl)
		rc = register_commands(app.ctl, &app, &sess);
	if (rc < 0) {
		fprintf(stderr, "tollgate-cp: start-up failed: %s\n", strerror(-rc));
		session_stop(&sess, &app);
		cp_app_finish(&app);
		b2b_ctl_free(sess.ctl);
		b2b_events_ctl_free(sess.ev_ctl);
		tg_cfg_free(cfg);
		return 1;
	}
	cp_app_run(&app);
	session_stop(&sess, &app);
	rc = cp_app_finish(&app);
	b2b_ctl_free(sess.ctl);
	b2b_events_ctl_free(sess.ev_ctl);
	tg_cfg_free(cfg);
	return rc;
}
