/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tg-pktgen: a DPDK RTP traffic generator for the benchmarks. Thin: options, signals, bring-up,
 * the run, the report, teardown. Exit status: 0 after a report, 1 when bring-up failed, 2 for a
 * bad command line.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "pg_app.h"
#include "pg_args.h"
#include "tg_log.h"

static struct pg_args args; /* explicit endpoint lists make it large: not on the stack */
static struct pg_app app;

static void on_signal(int sig)
{
	(void)sig;
	pg_app_request_stop(&app);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	char err[256];
	int rc;

	tg_log_set_ident("tg-pktgen");
	switch (pg_args_parse(&args, argc, argv, err, sizeof(err))) {
	case PG_ARGS_RUN:
		break;
	case PG_ARGS_EXIT:
		pg_args_usage(stdout, "tg-pktgen");
		return 0;
	case PG_ARGS_ERROR:
		fprintf(stderr, "tg-pktgen: %s\n", err);
		return 2;
	}
	/* before the EAL: a signal during bring-up must still end in a clean teardown */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = pg_app_start(&app, &args, argv[0]);
	if (rc == 0) {
		pg_app_run(&app);
		pg_app_report(&app, stdout);
	}
	pg_app_stop(&app);
	if (rc < 0) {
		fprintf(stderr, "tg-pktgen: start-up failed: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
