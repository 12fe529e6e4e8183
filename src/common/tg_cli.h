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

struct tg_cli {
	const char *prog;
	const char *summary; /* one line for --help */
	const struct tg_cli_opt *opts;
	unsigned n_opts;
	void *ctx;
	bool allow_rest;  /* arguments after "--" are the caller's (EAL) */
	int rest_argc;	  /* out */
	char **rest_argv; /* out */
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

#endif
