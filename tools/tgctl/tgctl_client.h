/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tgctl's side of the control socket (cp_ctl_proto.h): the request line built from the words,
 * one round trip bounded by a deadline, and the answer checked for its shape.
 */
#ifndef TG_TGCTL_CLIENT_H
#define TG_TGCTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * The request line for words[0..n) (malloc'd into *line, without its newline). -EINVAL (a word
 * that is not UTF-8) or -EMSGSIZE (longer than the socket takes), with the reason in err.
 */
int tgctl_request(char *const *words, int n, char **line, char *err, size_t errlen);

/*
 * Connects to the socket at path, sends line and waits for the answer line, all within
 * timeout_ms. 0 with *answer (an object with "ok" true and "result", or "ok" false, "error"
 * and "code"), or -errno with the reason in err, naming the path: connect()'s error, -ETIMEDOUT,
 * -ECONNRESET (closed without an answer), -EPROTO (the answer is not one), -ENOMEM.
 */
int tgctl_call(const char *path, const char *line, uint64_t timeout_ms, json_t **answer, char *err,
	size_t errlen);

#endif
