/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control-plane process: its loop, the dataplane client, the liveness pinger, the SIP
 * transport and the status line. The session coordinator (src/b2bua) hangs off the same loop
 * through the hooks below; the executable wires the two together.
 */
#ifndef TG_CP_APP_H
#define TG_CP_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "cp_config.h"
#include "cp_dp.h"
#include "cp_dpstats.h"
#include "cp_loop.h"
#include "cp_sip_server.h"
#include "cp_sip_transport.h"

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
	void *hook_arg;
};

int cp_app_start(struct cp_app *app);
int cp_app_run(struct cp_app *app);
/* Logs the summary line; returns the process exit status (3: the dataplane was never reached) */
int cp_app_finish(struct cp_app *app);

#endif
