/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The operator's control socket: a Unix stream socket on the control plane's loop that tgctl
 * (tools/tgctl) talks to, in the protocol of cp_ctl_proto.h: one request per line, a JSON array
 * of strings (["call", "hangup", "17"]); one answer per line, a JSON object:
 *   {"ok": true, "result": <any JSON>}
 *   {"ok": false, "error": "no call 17", "code": "ENOENT"}
 * Requests on one connection are answered in order; a command may answer later (it needs the
 * dataplane, say), and the connection's next request waits for it.
 *
 * Every command is one row of a table (struct cp_ctl_cmd): its words, its arguments, its help
 * and its handler. The rows are registered by the module that owns the state (the coordinator
 * registers the call commands); `help` and docs/CLI.md come from the same rows.
 *
 * A handler may answer with a stream instead (`events`): cp_ctl_stream_begin() sends
 *   {"ok": true, "stream": true}
 * and then each cp_ctl_stream_send() one JSON line, until the handler ends it
 * (cp_ctl_stream_end(): a last line {"end": true, "reason": "..."}, and the connection takes
 * requests again) or the client closes the connection or sends anything at all (the stream's
 * close callback runs, then the connection is closed).
 *
 * Bounds: CP_CTL_MAX_CONNS connections (one more gets an error line and is closed), a request
 * line of CP_CTL_LINE_MAX, one request in progress per connection, and no new request read
 * while CP_CTL_OUT_LOW bytes of answers wait for a client that does not read. A client that
 * closes its socket has its unread requests dropped; the one in progress, if any, is answered
 * into the void. A stream never queues more than CP_CTL_STREAM_MAX bytes for its client (and
 * its socket's kernel buffer is shrunk to CP_CTL_STREAM_SNDBUF): a line that does not fit is
 * dropped and counted, and the client is told how many with a line {"dropped": N} before the
 * next line that fits (or as soon as it has read enough).
 *
 * One thread: everything here runs on the loop's thread, handlers included.
 */
#ifndef TG_CP_CTL_H
#define TG_CP_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cp_ctl_proto.h"
#include "cp_loop.h"

#define CP_CTL_MAX_CONNS 64
#define CP_CTL_OUT_LOW (64u << 10)
#define CP_CTL_STREAM_MAX (64u << 10)	 /* bytes a stream queues for a client at most */
#define CP_CTL_STREAM_SNDBUF (16u << 10) /* a stream's socket buffer (the kernel doubles it) */

struct cp_ctl;
struct cp_ctl_req;

/*
 * A command's handler. args[0..nargs) are the words after the command's own (validated against
 * the row's min_args/max_args before the call); they stay valid until the request is answered.
 * Answer with cp_ctl_ok() or cp_ctl_fail(), now or later (keep req); exactly once.
 */
typedef void (*cp_ctl_fn)(
	void *arg, struct cp_ctl_req *req, const char *const *args, unsigned nargs);

struct cp_ctl_cmd {
	const char
		*words; /* "show calls": 1..CP_CTL_MAX_CMD_WORDS of [a-z0-9_-], one space apart */
	const char *usage;	     /* the arguments, for help: "ID", "KEY VALUE", "" */
	unsigned min_args, max_args; /* max_args <= CP_CTL_MAX_ARGS */
	const char *help;	     /* one or two sentences; docs/CLI.md prints it */
	cp_ctl_fn fn;
	void *arg;
};

/*
 * path: the socket's file. Its directory is created (0750) if missing; a stale socket file (no
 * process listening) is replaced; the socket is made 0660. A socket some process listens on is
 * taken over once that process has gone (looked at every second): a standby control plane of
 * the same instance waits for it as it waits for the channel. NULL: no socket, only the table
 * (for --ctl-docs; l may be NULL then). The built-in row `help` is registered. NULL with errno
 * and a logged reason on error (EEXIST: something that is not a socket is there;
 * ENAMETOOLONG; what mkdir, bind or listen said).
 */
struct cp_ctl *cp_ctl_new(struct cp_loop *l, const char *path);
/* False while another process holds the path (see cp_ctl_new). */
bool cp_ctl_listening(const struct cp_ctl *c);
/*
 * Closes the socket (its file removed if it is still ours) and every connection; requests not
 * answered yet are dropped, so whoever holds one must be gone first (the session layer is freed
 * before the app that owns this). Streams still open get their on_close first.
 */
void cp_ctl_free(struct cp_ctl *c);

/* Adds rows, copied (their strings must outlive c: literals). -EEXIST when a row's words are
 * taken, -EINVAL for a row that breaks the rules above (logged); all rows or none. */
int cp_ctl_register(struct cp_ctl *c, const struct cp_ctl_cmd *cmds, unsigned n);

/* Answers: takes result (a new reference; NULL = JSON null). After either, req is gone. A
 * request whose connection closed meanwhile is answered into the void. */
void cp_ctl_ok(struct cp_ctl_req *req, json_t *result);
/* code: an errno value, sent by name ("EINVAL"); the message says what was wrong with what */
void cp_ctl_fail(struct cp_ctl_req *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Streams. A handler that answers with a stream of lines rather than one answer calls
 * cp_ctl_stream_begin() instead of cp_ctl_ok()/cp_ctl_fail() (at once or later). From then on
 * req is a stream, alive until either
 *  - the handler calls cp_ctl_stream_end(req, reason), or
 *  - its client goes (closes the connection, or sends anything: that is how a client says
 *    stop) or cp_ctl_free() runs: on_close(arg, req) is called once, from the loop (never from
 *    inside a cp_ctl_stream_*() call), and req is freed after it returns. on_close must not
 *    call cp_ctl_stream_*() on req.
 * Never both: after cp_ctl_stream_end() no on_close comes.
 *
 * A stream connection reads nothing but the client's stop, and its queued output is bounded:
 * a line that would take the queue past CP_CTL_STREAM_MAX is dropped and counted (with the
 * counts added by cp_ctl_stream_lost()); the next line sent is preceded by {"dropped": N}, the
 * number lost since the last such line, which also goes out by itself once the client has read
 * its queue down.
 *
 * on_room (optional, may be NULL) is for a handler that prefers to keep lines in a queue of its
 * own rather than lose them here: once cp_ctl_stream_full() has said true (or a line was
 * dropped), on_room(arg, req) is called when the client has read the queue below half of
 * CP_CTL_STREAM_MAX again. Same rules as on_close (called from the loop, not from inside a call
 * of ours); it may send.
 */
typedef void (*cp_ctl_stream_fn)(void *arg, struct cp_ctl_req *req);
void cp_ctl_stream_begin(
	struct cp_ctl_req *req, cp_ctl_stream_fn on_close, cp_ctl_stream_fn on_room, void *arg);
/*
 * One line: line (a new reference, taken in every case) is sent as compact JSON. 0: queued;
 * -ENOBUFS: dropped and counted (the client reads too slowly); -ENOMEM: dropped and counted;
 * -ENOTCONN: the client has gone (on_close is on its way).
 */
int cp_ctl_stream_send(struct cp_ctl_req *req, json_t *line);
/* True while half of CP_CTL_STREAM_MAX or more waits for the client (or it has gone): a
 * handler with a queue of its own may stop sending until on_room. */
bool cp_ctl_stream_full(struct cp_ctl_req *req);
/* Adds n lines the handler lost itself to the count {"dropped": N} reports (at once when the
 * client keeps up, else before the next line that fits). */
void cp_ctl_stream_lost(struct cp_ctl_req *req, uint64_t n);
/* Ends the stream: a last line {"end": true} (with "reason" when not NULL), and the connection
 * takes its next request. req is gone after it. */
void cp_ctl_stream_end(struct cp_ctl_req *req, const char *reason);
/* Streams open now (tests, status). */
unsigned cp_ctl_streams(const struct cp_ctl *c);

/* A JSON string of s that never fails on bytes that are not UTF-8 (jansson refuses them; a
 * config value or a SIP header may hold any): they become U+FFFD. NULL only without memory. */
json_t *cp_ctl_json_str(const char *s);

/* A struct of uint64_t counters as a JSON object, one row per field (tables of these keep a
 * handler from writing each counter out by hand). NULL without memory. */
struct cp_ctl_counter {
	const char *name;
	size_t offset;
};
#define CP_CTL_COUNTER(type, field)                                                                \
	{                                                                                          \
#field, offsetof(type, field)                                                      \
	}
json_t *cp_ctl_counters_json(const void *base, const struct cp_ctl_counter *rows, unsigned n);

/* The registered rows, in registration order (help, docs); valid until the next register. */
unsigned cp_ctl_count(const struct cp_ctl *c);
const struct cp_ctl_cmd *cp_ctl_at(const struct cp_ctl *c, unsigned i);
/* Open connections, for tests and status. */
unsigned cp_ctl_conns(const struct cp_ctl *c);

/* docs/CLI.md from the rows (tollgate-cp --ctl-docs) */
void cp_ctl_write_docs(const struct cp_ctl *c, FILE *out);

#endif
