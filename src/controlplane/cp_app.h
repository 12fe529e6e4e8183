/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control-plane process: its loop, the dataplane client, the liveness pinger, the SIP
 * transport, the status line and the operator's control socket. The session coordinator
 * (src/b2bua) hangs off the same loop through the hooks below; the executable wires the two
 * together and registers the control socket's commands.
 */
#ifndef TG_CP_APP_H
#define TG_CP_APP_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cp_config.h"
#include "cp_ctl.h"
#include "cp_dp.h"
#include "cp_dpstats.h"
#include "cp_loop.h"
#include "cp_route.h"
#include "cp_sip_server.h"
#include "cp_sip_transport.h"
#include "tg_cli.h"

#define CP_MAX_LCORES 64

struct cp_ping_stats {
	uint64_t ok;
	uint64_t failed;
	uint64_t last_rtt_ns;
	uint64_t max_rtt_ns;
	uint64_t sum_rtt_ns;
};

struct cp_app {
	struct cp_config cfg;
	const char *instance;
	uint64_t duration_ns; /* 0: run until a signal */
	/* Set before cp_app_start(): the live configuration (show config, set) and the command
	 * line it came from (reload re-reads its file and overrides). */
	struct tg_cfg *registry;
	const struct tg_cli *cli;
	struct cp_ctl *ctl; /* the control socket; NULL when controlplane.control_socket is "" */
	uint64_t stats_ns;  /* show stats: when it last read the dataplane's packet counters */
	uint64_t stats_rx, stats_tx;
	struct cp_loop *loop;
	struct cp_dp *dp;
	struct cp_dpstats *stats;
	struct cp_sip_transport *sip;
	struct cp_sip_server sip_server;
	struct cp_timer ping_timer;
	struct cp_timer status_timer;
	struct cp_timer duration_timer;
	struct cp_timer drain_timer;
	uint64_t drain_deadline_ns; /* 0: not draining */
	int sig_fd;
	struct cp_ping_stats ping[CP_MAX_LCORES];
	uint64_t ping_seq;
	uint64_t restarts_seen;
	/* The session layer's hooks, set between cp_app_start() and cp_app_run(): SIP requests
	 * and responses (NULL: cp_sip_server answers them), dataplane events and restarts, and
	 * a line of its own in the status. */
	cp_sip_rx_fn sip_rx;
	void (*dp_event)(void *arg, const struct tg_msg *ev);
	void (*dp_restarted)(void *arg);
	void (*status)(void *arg);
	/* Graceful stop: begins (once) ending what the session layer has in progress and
	 * returns how much is left; the loop stops when that reaches 0 or the grace is over. */
	unsigned (*drain)(void *arg);
	/* `show stats`: the session layer's part (calls, transactions) added to out */
	void (*stats_json)(void *arg, json_t *out);
	/* `reload` built a new routing table from the config file: the session layer takes it
	 * (its calls keep their targets) and frees the one it had. */
	void (*set_routes)(void *arg, struct cp_route_table *routes);
	void *hook_arg;
};

int cp_app_start(struct cp_app *app);
int cp_app_run(struct cp_app *app);
/* Logs the summary line; returns the process exit status (3: the dataplane was never reached) */
int cp_app_finish(struct cp_app *app);

#endif
