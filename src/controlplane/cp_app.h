/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control-plane process: its loop, the dataplane client, the liveness pinger and the status
 * line. Later the SIP stack and the session coordinator hang off the same loop.
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
	int sig_fd;
	struct cp_ping_stats ping[CP_MAX_LCORES];
	uint64_t ping_seq;
	uint64_t restarts_seen;
};

int cp_app_start(struct cp_app *app);
int cp_app_run(struct cp_app *app);
/* Logs the summary line; returns the process exit status (3: the dataplane was never reached) */
int cp_app_finish(struct cp_app *app);

#endif
