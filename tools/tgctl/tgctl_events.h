/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `tgctl events`: the request sent, the stream's lines printed as they come (human, or the JSON
 * lines as they are with --json) and flushed one by one, until --count events, --for seconds,
 * SIGINT/SIGTERM (exit 0 each), the stream's end line (exit 0), the control plane closing the
 * connection (exit 3), or a reader of our output that went (SIGPIPE: exit 0, quietly).
 */
#ifndef TG_TGCTL_EVENTS_H
#define TG_TGCTL_EVENTS_H

#include <stdio.h>

#include "tgctl_args.h"

enum { TGCTL_EXIT_REFUSED = 1, TGCTL_EXIT_USAGE = 2, TGCTL_EXIT_NO_ANSWER = 3 };

/* line: the request (tgctl_request). Returns the exit status; messages go to errout. Signal
 * dispositions and the signal mask are restored before it returns. */
int tgctl_events(const struct tgctl_args *a, const char *line, FILE *out, FILE *errout);

#endif
