/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tgctl's command line: options, then the command's words and arguments, sent as they are.
 *   tgctl [--instance NAME | --socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS...]
 *   tgctl [...] events [--call ID] [--kinds KIND,...] [--json] [--count N] [--for SECONDS]
 * Options end at the first word that is not one (or at "--"), so an argument that starts with
 * "--" reaches the command untouched after "--". For `events`, tgctl's own --json, --count and
 * --for may also follow the command (they are taken out; --call and --kinds go to the control
 * plane with their values).
 */
#ifndef TG_TGCTL_ARGS_H
#define TG_TGCTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cp_ctl_proto.h"

#define TGCTL_TIMEOUT_MS 5000
#define TGCTL_COUNT_MAX 1000000000u
#define TGCTL_FOR_MAX_S (7 * 86400)

struct tgctl_args {
	char socket[CP_CTL_PATH_MAX];
	bool json;
	bool help;
	uint64_t timeout_ms;
	uint64_t count;	    /* events: exit after this many (0: no limit) */
	uint64_t for_ms;    /* events: exit after this long (0: no limit) */
	bool events;	    /* the command is `events`: a stream */
	char *const *words; /* the command's words and arguments: argv's tail, or ev_words */
	int n_words;
	char *ev_words[CP_CTL_MAX_WORDS + 1]; /* events: the words without tgctl's options */
};

/* 0 (out filled; out->help: print the usage), or -EINVAL with the reason in err. */
int tgctl_args_parse(int argc, char *const *argv, struct tgctl_args *out, char *err, size_t errlen);
void tgctl_usage(FILE *out);

#endif
