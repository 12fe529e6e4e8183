/* SPDX-License-Identifier: BSD-3-Clause */
/* tollgate-cp: the control-plane process. Thin: options, config, the app's loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_app.h"
#include "dp_config.h"
#include "tg_cli.h"
#include "tg_log.h"
#include "tg_time.h"

struct opts {
	struct cp_app *app;
	bool dump_stats;
};

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
		cp_config_register(cfg, &app.cfg) < 0) {
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
	if (rc < 0) {
		fprintf(stderr, "tollgate-cp: start-up failed: %s\n", strerror(-rc));
		cp_app_finish(&app);
		tg_cfg_free(cfg);
		return 1;
	}
	cp_app_run(&app);
	rc = cp_app_finish(&app);
	tg_cfg_free(cfg);
	return rc;
}
