/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command-line handling shared by tollgate's daemons and tools: the [general] config keys
 * (instance name, log levels), --config / --set / --instance / --log, and the config dumps
 * (--show-config, --config-docs, --config-example) that come free with the key tables.
 */
#ifndef TG_CLI_H
#define TG_CLI_H

#include <stdbool.h>

#include "tg_config.h"
#include "tg_shm.h"

struct tg_general_config {
	char instance[TG_INSTANCE_MAX];
	char log[128];
};

int tg_general_config_register(struct tg_cfg *cfg, struct tg_general_config *gc);

/*
 * A program's own option: called with the option's argument (NULL when has_arg is false).
 * Returns 0 or -EINVAL with a message in err.
 */
struct tg_cli_opt {
	const char *name; /* "--duration" */
	bool has_arg;
	const char *arg_name;
	const char *help;
	int (*fn)(void *ctx, const char *arg, char *err, size_t errlen);
};

#define TG_CLI_MAX_SETS 64

struct tg_cli {
	const char *prog;
	const char *summary; /* one line for --help */
	const struct tg_cli_opt *opts;
	unsigned n_opts;
	void *ctx;
	bool allow_rest;  /* arguments after "--" are the caller's (EAL) */
	int rest_argc;	  /* out */
	char **rest_argv; /* out */
	/* out: the configuration the command line gave, kept for tg_cli_load() (a reload): the
	 * file (NULL: none) and the overrides in order, each the option ("--set", "--instance",
	 * "--log") and its argument. They point into argv. */
	const char *config_file;
	unsigned n_sets;
	const char *set_opt[TG_CLI_MAX_SETS];
	const char *set_arg[TG_CLI_MAX_SETS];
};

enum tg_cli_result {
	TG_CLI_RUN = 0,	  /* go on: config loaded */
	TG_CLI_EXIT = 1,  /* a dump or --help was printed: exit 0 */
	TG_CLI_ERROR = 2, /* the message was printed to stderr: exit 2 */
};

/*
 * Applies defaults, then --config FILE, then every --set in order, then the log levels; runs
 * program options as they come. The whole configuration is valid when this returns TG_CLI_RUN.
 */
enum tg_cli_result tg_cli_parse(struct tg_cli *cli, struct tg_cfg *cfg,
	struct tg_general_config *gc, int argc, char **argv);

/*
 * Loads what the command line gave into cfg: the file, then the overrides in order. The boot
 * path of tg_cli_parse(), and a reload's (into a tg_cfg_detached() copy, whose defaults are
 * already applied). 0, or -errno with the message in err ("--set x=1: unknown key 'x'").
 */
int tg_cli_load(const struct tg_cli *cli, struct tg_cfg *cfg, char *err, size_t errlen);

#endif
