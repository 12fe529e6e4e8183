/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tg-pktgen's process: EAL and port bring-up through dpk_env, the send/receive loops on one
 * lcore (or sending on the main lcore and receiving on a worker), the receive drain after
 * sending ends, and the report.
 */
#ifndef TG_PG_APP_H
#define TG_PG_APP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dpk_env.h"
#include "pg_args.h"
#include "pg_gen.h"
#include "pg_rx.h"

struct pg_app {
	/* main lcore, fixed before the loops start */
	const struct pg_args *args;
	char **eal_argv; /* what dpk_env appends: our memory-mode option, then the user's */
	char runtime_dir[PATH_MAX];
	bool eal_up;
	bool port_up;
	bool hugepages;
	uint16_t port;
	struct dpk_port_info info;
	struct rte_mempool *mp;
	uint64_t hz;
	unsigned rx_lcore; /* a worker that receives while main sends; RTE_MAX_LCORE: main does both
			    */
	bool rx_launched;
	bool do_tx;
	bool do_rx;
	uint64_t grace_tsc;	  /* drain: stop after this long with nothing of ours arriving */
	uint64_t drain_cap_tsc;	  /* drain: stop this long after sending ended, whatever arrives */
	uint64_t rx_duration_tsc; /* rx-only: the time bound */
	uint64_t rx_start_tsc;
	struct pg_gen gen; /* TX lcore */
	struct pg_rx rx;   /* RX lcore */
	/* shared between lcores and the signal handler */
	bool stop;	     /* a signal asked to stop: every loop ends, no drain */
	uint64_t tx_end_tsc; /* stored (release) by TX once it has finished; 0 until then */
};

/* EAL, mbuf pool, port, templates, RX state; waits for the link. 0 or -errno (logged). */
int pg_app_start(struct pg_app *app, const struct pg_args *a, const char *prog);
/* Sends and receives until the run's bounds, the drain, or a stop request. */
void pg_app_run(struct pg_app *app);
/* The table and the machine-readable line. */
void pg_app_report(const struct pg_app *app, FILE *out);
/* Releases whatever pg_app_start got, also after it failed half-way. */
void pg_app_stop(struct pg_app *app);
/* Async-signal-safe. */
void pg_app_request_stop(struct pg_app *app);

#endif
