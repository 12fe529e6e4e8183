/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tgctl's command line: options, then the command's words and arguments, sent as they are.
 *   tgctl [--instance NAME | --socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS...]
 * Options end at the first word that is not one (or at "--"), so an argument that starts with
 * "--" reaches the command untouched after "--".
 */
#ifndef TG_TGCTL_ARGS_H
#define TG_TGCTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cp_ctl_proto.h"

#define TGCTL_TIMEOUT_MS 5000

struct tgctl_args {
	char socket[CP_CTL_PATH_MAX];
	bool json;
	bool help;
	uint64_t timeout_ms;
	char *const *words; /* the command's words and arguments: argv's tail */
	int n_words;
};

/* 0 (out filled; out->help: print the usage), or -EINVAL with the reason in err. */
int tgctl_args_parse(int argc, char *const *argv, struct tgctl_args *out, char *err, size_t errlen);
void tgctl_usage(FILE *out);

#endif
