/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tollgate-cp: the control-plane process. Thin: options, config, the app's loop, and the session
 * coordinator (src/b2bua) hooked onto it with its routing table and call-record writer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2b_call.h"
#include "b2b_cdr.h"
#include "cp_app.h"
#include "cp_route.h"
#include "cp_sip_txn.h"
#include "dp_config.h"
#include "tg_cli.h"
#include "tg_log.h"
#include "tg_time.h"

struct opts {
	struct cp_app *app;
	bool dump_stats;
};

/* The session layer and what it needs beside the app */
struct session {
	struct b2b_config cfg;
	struct cp_route_config route_cfg;
	struct b2b_cdr_config cdr_cfg;
	struct cp_route_table *routes;
	struct b2b_cdr *cdr;
	struct b2b *b2b;
	struct cp_timer cdr_timer;
	uint64_t last_offered; /* for the call rate in the status line */
	uint64_t last_status_ns;
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

static void hook_status(void *arg)
{
	struct session *s = arg;
	const struct b2b_counters *c = b2b_counters(s->b2b);
	const struct cp_txn_counters *t = b2b_txn_counters(s->b2b);
	uint64_t now = tg_now_ns();
	double cps = s->last_status_ns ? (double)(c->calls_offered - s->last_offered) * 1e9 /
						 (double)(now - s->last_status_ns)
				       : 0;

	s->last_offered = c->calls_offered;
	s->last_status_ns = now;
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
	app->sip_rx = b2b_sip_rx_hook;
	app->dp_event = hook_dp_event;
	app->dp_restarted = hook_dp_restarted;
	app->status = hook_status;
	app->drain = hook_drain;
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

static const struct tg_cli_opt cp_opts[] = {
	{"--duration", true, "SECONDS", "stop after this long (default: run until a signal)",
		opt_duration},
	{"--dump-stats", false, NULL, "print the dataplane's stats segment and exit",
		opt_dump_stats},
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
	if (rc < 0) {
		fprintf(stderr, "tollgate-cp: start-up failed: %s\n", strerror(-rc));
		session_stop(&sess, &app);
		cp_app_finish(&app);
		tg_cfg_free(cfg);
		return 1;
	}
	cp_app_run(&app);
	session_stop(&sess, &app);
	rc = cp_app_finish(&app);
	tg_cfg_free(cfg);
	return rc;
}
