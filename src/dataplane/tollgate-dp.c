/* SPDX-License-Identifier: BSD-3-Clause */
/* tollgate-dp: the dataplane process. Thin: config, bring-up, the main lcore's loop, teardown. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "b2b_cdr.h"
#include "b2b_config.h"
#include "cp_config.h"
#include "cp_route.h"
#include "dp_app.h"
#include "tg_cli.h"
#include "tg_log.h"

static struct dp_app app;

static void on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&app.stop, true, __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
	struct tg_general_config gc;
	/* registered so the shared config file validates; not used here */
	static struct cp_config cpc;
	static struct cp_route_config routec;
	static struct b2b_config bc;
	static struct b2b_cdr_config cdrc;
	struct tg_cli cli = {
		.prog = "tollgate-dp",
		.summary = "tollgate's DPDK dataplane: relays, measures and anchors media; creates "
			   "the control/data channel and the stats segment.",
		.allow_rest = true,
	};
	struct sigaction sa = {.sa_handler = on_signal};
	struct tg_cfg *cfg = tg_cfg_new();
	enum tg_cli_result r;
	int rc;

	tg_log_set_ident("tollgate-dp");
	if (!cfg || tg_general_config_register(cfg, &gc) < 0 ||
		dp_config_register(cfg, &app.cfg) < 0 || cp_config_register(cfg, &cpc) < 0 ||
		cp_route_config_register(cfg, &routec) < 0 || b2b_config_register(cfg, &bc) < 0 ||
		b2b_cdr_config_register(cfg, &cdrc) < 0) {
		fprintf(stderr, "tollgate-dp: config tables rejected\n");
		return 1;
	}
	r = tg_cli_parse(&cli, cfg, &gc, argc, argv);
	if (r != TG_CLI_RUN) {
		tg_cfg_free(cfg);
		return r == TG_CLI_EXIT ? 0 : 2;
	}
	app.instance = gc.instance;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = dp_app_start(&app, argv[0], cli.rest_argc, cli.rest_argv);
	if (rc == 0)
		dp_main_loop(&app);
	dp_app_stop(&app);
	tg_cfg_free(cfg);
	if (rc < 0) {
		fprintf(stderr, "tollgate-dp: start-up failed: %s\n", strerror(-rc));
		return 1;
	}
	TG_LOG(DP, NOTICE, "dataplane stopped");
	return 0;
}
