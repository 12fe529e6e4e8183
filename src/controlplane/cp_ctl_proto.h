/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket's protocol: what both of its ends share (the server in cp_ctl.c, tgctl in
 * tools/tgctl). A Unix stream socket; one request per line, a JSON array of strings, the
 * command's words and then its arguments (["call", "hangup", "17"]); one answer per line, a JSON
 * object:
 *   {"ok": true, "result": <any JSON>}
 *   {"ok": false, "error": "no call 17", "code": "ENOENT"}
 * Answers come in the order of the requests. Blank lines are not requests. A request line
 * longer than CP_CTL_LINE_MAX gets an error answer and the connection is closed.
 *
 * Streams: a command may answer {"ok": true, "stream": true} instead, and then send one JSON
 * object per line for as long as the stream lasts:
 *   {...}                        a line of the stream (events: one event, see b2b_events_ctl.h)
 *   {"dropped": N}               N lines were lost since the last such line (the client read
 *                                too slowly, or the server's own queue overflowed)
 *   {"end": true, "reason": ".."} the server ended the stream ("reason" optional); the
 *                                connection takes requests again
 * The client stops a stream by closing the connection or by sending anything at all (which is
 * not read as a request: the server closes the connection).
 *
 * Plain functions, no state: the fuzzer drives the parser directly.
 */
#ifndef TG_CP_CTL_PROTO_H
#define TG_CP_CTL_PROTO_H

#include <stddef.h>

#define CP_CTL_MAX_ARGS 8
#define CP_CTL_MAX_CMD_WORDS 4 /* "call transfer": a command's own words, at most */
#define CP_CTL_MAX_WORDS (CP_CTL_MAX_CMD_WORDS + CP_CTL_MAX_ARGS)
#define CP_CTL_LINE_MAX 8192	      /* bytes of a request line, its newline included */
#define CP_CTL_WORD_MAX 1024	      /* bytes of one word or argument (UTF-8) */
#define CP_CTL_ANSWER_MAX (64u << 20) /* bytes of an answer line; a larger one becomes an error */

/* Where the control socket is by default; "{instance}" stands for general.instance. */
#define CP_CTL_SOCKET_DEFAULT "/run/tollgate/{instance}.ctl"
#define CP_CTL_PATH_MAX 108 /* sizeof(sockaddr_un.sun_path), its NUL included */

/* A request's words; w[i] point into buf. */
struct cp_ctl_words {
	unsigned n;
	const char *w[CP_CTL_MAX_WORDS];
	char buf[CP_CTL_LINE_MAX];
};

/*
 * Parses one request line (without its newline; need not be NUL-terminated) into out. It must
 * be a JSON array of 1..CP_CTL_MAX_WORDS strings, each at most CP_CTL_WORD_MAX bytes and
 * without control characters (C0, DEL, C1), the line shorter than CP_CTL_LINE_MAX. Returns 0,
 * or -EINVAL (-EMSGSIZE for a line too long) with the reason in err, starting "request: " and
 * counting elements from 1 ("request: element 2 is a number, not a string").
 */
int cp_ctl_parse(const char *line, size_t len, struct cp_ctl_words *out, char *err, size_t errlen);

/*
 * The socket's path from a template (controlplane.control_socket, CP_CTL_SOCKET_DEFAULT): every
 * "{instance}" replaced by instance. 0, -EINVAL (not an instance name: [A-Za-z0-9_-]{1,31}) or
 * -ENAMETOOLONG (the path does not fit a Unix socket address).
 */
int cp_ctl_socket_path(const char *tmpl, const char *instance, char *buf, size_t len);

#endif
