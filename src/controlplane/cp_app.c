/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control-plane process wiring. The pinger sends PING to every dataplane lcore's command ring so
 * the operator sees each lcore answer (and how fast); the status line joins that with the
 * dataplane's own counters read from the stats segment.
 */
#include "cp_app.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "tg_log.h"
#include "tg_time.h"

static void on_ping_reply(struct cp_dp *dp, const struct tg_msg *r, int status, void *arg)
{
	struct cp_app *app = arg;
	unsigned ring;

	if (!r) {
		/* the ring is unknown without a reply: count the failure on ring 0 */
		app->ping[0].failed++;
		return;
	}
	ring = r->u.ping.seq % CP_MAX_LCORES;
	if (status < 0) {
		app->ping[ring].failed++;
		return;
	}
	uint64_t rtt = tg_now_ns() - r->u.ping.cp_send_ns;
	struct cp_ping_stats *ps = &app->ping[ring];

	ps->ok++;
	ps->last_rtt_ns = rtt;
	ps->sum_rtt_ns += rtt;
	if (rtt > ps->max_rtt_ns)
		ps->max_rtt_ns = rtt;
}

static void send_pings(struct cp_app *app)
{
	unsigned n = cp_dp_info(app->dp)->n_lcores;

	for (unsigned ring = 0; ring < n && ring < CP_MAX_LCORES; ring++) {
		struct tg_msg m = {.type = TG_MSG_PING};
		int rc;

		/* seq carries the ring so the reply is booked to the right lcore */
		m.u.ping.seq = (uint32_t)ring;
		m.u.ping.cp_send_ns = tg_now_ns();
		rc = cp_dp_request(app->dp, ring, &m, on_ping_reply, app);
		if (rc < 0)
			app->ping[ring].failed++;
	}
	app->ping_seq++;
}

/* The live intervals: 0 (never) is looked at again this often, in case `set` changes it. */
#define RECHECK_NS TG_NS_PER_S

static uint64_t interval_ns(uint64_t ms)
{
	return ms ? ms * TG_NS_PER_MS : RECHECK_NS;
}

static void ping_timer(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct cp_app *app = arg;

	if (app->cfg.ping_interval_ms && cp_dp_is_up(app->dp))
		send_pings(app);
	cp_timer_start(l, t, interval_ns(app->cfg.ping_interval_ms));
}

static void log_status(struct cp_app *app)
{
	const struct cp_dp_counters *c = cp_dp_counters(app->dp);
	const struct cp_dp_info *di = cp_dp_info(app->dp);
	uint64_t rx = 0, drops = 0, sleeps = 0, ipackets = 0;
	char pings[512];
	size_t off = 0;

	if (!cp_dp_is_up(app->dp)) {
		TG_LOG(CP, INFO, "status: dataplane down, waiting (restarts seen %" PRIu64 ")",
			c->restarts);
		return;
	}
	for (unsigned i = 0; i < di->n_lcores && i < CP_MAX_LCORES && off < sizeof(pings); i++) {
		const struct cp_ping_stats *ps = &app->ping[i];
		int w = snprintf(pings + off, sizeof(pings) - off,
			"%slcore#%u %" PRIu64 " ok/%" PRIu64 " failed rtt %.1f/%.1f us",
			i ? ", " : "", i, ps->ok, ps->failed, ps->last_rtt_ns / 1e3,
			ps->max_rtt_ns / 1e3);

		off += w > 0 ? (size_t)w : 0;
	}
	cp_dpstats_lcore_sum(app->stats, "rx_pkts", &rx);
	cp_dpstats_lcore_sum(app->stats, "drop_no_flow", &drops);
	cp_dpstats_lcore_sum(app->stats, "sleeps", &sleeps);
	cp_dpstats_port_sum(app->stats, "ipackets", &ipackets);
	TG_LOG(CP, INFO,
		"status: dataplane %08x up | pings: %s | dp: port rx %" PRIu64 ", lcore rx %" PRIu64
		", drop_no_flow %" PRIu64 ", idle sleeps %" PRIu64 " | channel: %" PRIu64
		" requests, %" PRIu64 " replies, %" PRIu64 " timeouts, backlog peak %" PRIu64,
		di->dp_gen, pings, ipackets, rx, drops, sleeps, c->requests, c->replies,
		c->timeouts, c->backlog_peak);
}

static void status_timer(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct cp_app *app = arg;

	if (app->cfg.status_interval_ms) {
		log_status(app);
		if (app->status)
			app->status(app->hook_arg);
	}
	cp_timer_start(l, t, interval_ns(app->cfg.status_interval_ms));
}

#define DRAIN_CHECK_NS (50 * TG_NS_PER_MS)

static void drain_check(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct cp_app *app = arg;
	unsigned left = app->drain(app->hook_arg);

	if (left == 0) {
		TG_LOG(CP, NOTICE, "every call ended: stopping");
		cp_loop_stop(l);
	} else if (cp_loop_now(l) >= app->drain_deadline_ns) {
		TG_LOG(CP, WARN, "shutdown grace over with %u call(s) still ending: stopping",
			left);
		cp_loop_stop(l);
	} else {
		cp_timer_start(l, t, DRAIN_CHECK_NS);
	}
}

/* The first stop request drains the calls (controlplane.shutdown_grace); a second one, or no
 * session layer, stops the loop at once. */
static void request_stop(struct cp_app *app, const char *why)
{
	unsigned left;

	if (app->drain_deadline_ns || !app->drain || !app->cfg.shutdown_grace_ms) {
		TG_LOG(CP, NOTICE, "%s: stopping", why);
		cp_loop_stop(app->loop);
		return;
	}
	left = app->drain(app->hook_arg);
	if (!left) {
		TG_LOG(CP, NOTICE, "%s: stopping", why);
		cp_loop_stop(app->loop);
		return;
	}
	TG_LOG(CP, NOTICE, "%s: ending %u call(s), at most %" PRIu64 " ms", why, left,
		app->cfg.shutdown_grace_ms);
	app->drain_deadline_ns = cp_loop_now(app->loop) + app->cfg.shutdown_grace_ms * TG_NS_PER_MS;
	cp_timer_start(app->loop, &app->drain_timer, DRAIN_CHECK_NS);
}

static void duration_timer(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	request_stop(arg, "run time over");
}

static void on_signal_fd(struct cp_loop *l, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;
	char why[32] = "signal";

	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		snprintf(why, sizeof(why), "signal %u", si.ssi_signo);
	request_stop(arg, why);
}

static void on_dp_state(struct cp_dp *dp, enum cp_dp_state st, void *arg)
{
	struct cp_app *app = arg;

	switch (st) {
	case CP_DP_UP:
		send_pings(app);
		break;
	case CP_DP_RESTARTED:
		/* the dataplane lost everything it had: re-send our state. Today that state is the
		 * HELLO the client already re-sent; media flows join it with the relay. */
		app->restarts_seen++;
		TG_LOG(CP, NOTICE, "dataplane restart #%" PRIu64 ": state re-sent",
			app->restarts_seen);
		if (app->dp_restarted)
			app->dp_restarted(app->hook_arg);
		send_pings(app);
		break;
	case CP_DP_DOWN:
		TG_LOG(CP, WARN, "dataplane down");
		break;
	}
}

static void on_dp_event(struct cp_dp *dp, const struct tg_msg *ev, void *arg)
{
	struct cp_app *app = arg;

	if (app->dp_event)
		app->dp_event(app->hook_arg, ev);
	else
		TG_LOG(CP, INFO, "dataplane event %s (generation %08x)", tg_msg_type_name(ev->type),
			ev->dp_gen);
}

/* SIP goes to the session layer once it is hooked in, to the stateless server until then */
static void on_sip(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg)
{
	struct cp_app *app = arg;

	if (app->sip_rx)
		app->sip_rx(t, msg, from, app->hook_arg);
	else
		cp_sip_server_rx(t, msg, from, &app->sip_server);
}

int cp_app_start(struct cp_app *app)
{
	struct cp_dp_params p = {
		.instance = app->instance,
		.dp_timeout_ns = app->cfg.dp_timeout_ms * TG_NS_PER_MS,
		.request_timeout_ns = app->cfg.request_timeout_ms * TG_NS_PER_MS,
		.check_interval_ns = app->cfg.check_interval_ms * TG_NS_PER_MS,
		.backlog_max = app->cfg.backlog_max,
	};
	sigset_t mask;

	app->loop = cp_loop_new();
	if (!app->loop)
		return -ENOMEM;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	app->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (app->sig_fd < 0 || cp_loop_add_fd(app->loop, app->sig_fd, EPOLLIN, on_signal_fd, app))
		return -errno;
	parser_init();
	/* libosip2 traces each parse failure to stdout; our own log line says what matters */
	osip_trace_initialize(TRACE_LEVEL0, NULL);
	for (int lvl = 0; lvl < END_TRACE_LEVEL; lvl++)
		osip_trace_disable_level((osip_trace_level_t)lvl);
	app->sip_server.user_agent = app->cfg.sip_user_agent;
	app->sip = cp_sip_transport_new(app->loop, app->cfg.sip_listen, on_sip, app);
	if (!app->sip)
		return -errno;
	app->sip_server.transport = app->sip;
	app->stats = cp_dpstats_new(app->instance);
	app->dp = cp_dp_new(app->loop, &p, on_dp_state, on_dp_event, app);
	if (!app->stats || !app->dp)
		return -ENOMEM;
	if (app->cfg.control_socket[0]) {
		char path[CP_CTL_PATH_MAX];
		int rc = cp_ctl_socket_path(
			app->cfg.control_socket, app->instance, path, sizeof(path));

		if (rc < 0)
			return rc;
		app->ctl = cp_ctl_new(app->loop, path);
		if (!app->ctl)
			return -errno;
	}
	cp_timer_init(&app->ping_timer, ping_timer, app);
	cp_timer_init(&app->status_timer, status_timer, app);
	cp_timer_init(&app->duration_timer, duration_timer, app);
	cp_timer_init(&app->drain_timer, drain_check, app);
	cp_timer_start(app->loop, &app->ping_timer, interval_ns(app->cfg.ping_interval_ms));
	cp_timer_start(app->loop, &app->status_timer, interval_ns(app->cfg.status_interval_ms));
	if (app->duration_ns)
		cp_timer_start(app->loop, &app->duration_timer, app->duration_ns);
	TG_LOG(CP, NOTICE, "control plane '%s' started (generation %08x)", app->instance,
		cp_dp_cp_generation(app->dp));
	return 0;
}

int cp_app_run(struct cp_app *app)
{
	return cp_loop_run(app->loop);
}

int cp_app_finish(struct cp_app *app)
{
	uint64_t ok = 0, failed = 0;
	const struct cp_dp_counters *c;
	bool reached;

	if (!app->dp) {
		cp_ctl_free(app->ctl);
		app->ctl = NULL;
		return 1;
	}
	log_status(app);
	for (unsigned i = 0; i < CP_MAX_LCORES; i++) {
		ok += app->ping[i].ok;
		failed += app->ping[i].failed;
	}
	c = cp_dp_counters(app->dp);
	reached = c->replies > 0;
	TG_LOG(CP, NOTICE,
		"summary: dataplane_reached=%d pings_ok=%" PRIu64 " pings_failed=%" PRIu64
		" dp_restarts=%" PRIu64 " requests=%" PRIu64 " replies=%" PRIu64
		" timeouts=%" PRIu64 " stray_replies=%" PRIu64,
		reached, ok, failed, c->restarts, c->requests, c->replies, c->timeouts,
		c->stray_replies);
	if (app->sip) {
		const struct cp_sip_counters *sc = cp_sip_transport_counters(app->sip);
		const struct cp_sip_server_counters *ss = &app->sip_server.c;

		TG_LOG(CP, NOTICE,
			"sip: rx=%" PRIu64 " bad_requests=%" PRIu64 " bad_responses=%" PRIu64
			" unanswerable=%" PRIu64 " options=%" PRIu64 " not_implemented=%" PRIu64
			" tx=%" PRIu64,
			sc->rx_msgs, sc->rx_bad_requests, sc->rx_bad_responses, sc->rx_unanswerable,
			ss->options, ss->not_implemented, sc->tx_msgs);
		cp_sip_transport_free(app->sip);
	}
	cp_dp_free(app->dp);
	cp_dpstats_free(app->stats);
	/* after whatever may still answer a request (the session layer; the dataplane client,
	 * which fails what is in flight), before the loop */
	cp_ctl_free(app->ctl);
	app->ctl = NULL;
	if (app->sig_fd >= 0)
		close(app->sig_fd);
	cp_loop_free(app->loop);
	return reached ? 0 : 3;
}
