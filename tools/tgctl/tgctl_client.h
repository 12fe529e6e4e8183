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

/*
 * A stream (cp_ctl_proto.h): the connection kept after the answer {"ok": true, "stream": true},
 * its lines read as they come. The caller waits for the descriptor (tgctl_stream_fd) and takes
 * lines; nothing here blocks but tgctl_open's first answer, bounded by timeout_ms.
 */
struct tgctl_stream;

/*
 * Like tgctl_call, and on a stream's answer also *stream (else NULL): then *answer is the
 * stream's first line, and the lines that follow come from tgctl_stream_take().
 */
int tgctl_open(const char *path, const char *line, uint64_t timeout_ms, json_t **answer,
	struct tgctl_stream **stream, char *err, size_t errlen);
int tgctl_stream_fd(const struct tgctl_stream *s);
/* Reads what the socket has (never waits): 0, -ECONNRESET (the control plane closed it) or
 * -errno, with the reason in err. */
int tgctl_stream_fill(struct tgctl_stream *s, char *err, size_t errlen);
/* The next whole line already read: 1 with *line (a JSON object), 0 when none is, -EPROTO (not
 * a JSON object, or a line over TGCTL_STREAM_LINE_MAX) with the reason in err. */
#define TGCTL_STREAM_LINE_MAX (1u << 20)
int tgctl_stream_take(struct tgctl_stream *s, json_t **line, char *err, size_t errlen);
void tgctl_stream_close(struct tgctl_stream *s);

#endif
