/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket's server (see cp_ctl.h). Each connection reads into a line buffer and
 * takes one request at a time: parse, find the row, check the argument count, call the
 * handler; the answers queue in order. Reading stops while a request is in progress or answers
 * pile up unread, so a client can hold at most one line buffer and about one answer of ours.
 * A connection that goes is taken out of the table at once and freed on the next loop
 * iteration: it may die inside a handler's answer while its input is being walked.
 *
 * A stream (cp_ctl_stream_begin) keeps its request in progress on the connection, so nothing
 * else is taken; the connection reads only to hear the client stop (any byte, or EOF), and its
 * lines go through stream_put(), which refuses what would take the queue past
 * CP_CTL_STREAM_MAX and counts it. A stream whose client goes is marked closing and its owner
 * told from reap(), never from inside one of the owner's own calls.
 */
#include "cp_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tg_log.h"
#include "tg_time.h"

#define READS_PER_WAKE 8 /* recv() calls per wake-up: one busy client cannot starve the loop */
#define ROW_WORDS_LEN 64 /* a row's words, spaces included */
#define MSG_MAX 1024	 /* an error message */
#define CP_CTL_RETRY_NS TG_NS_PER_S

struct row {
	struct cp_ctl_cmd cmd;
	unsigned nwords;
	unsigned char off[CP_CTL_MAX_CMD_WORDS]; /* word i is buf + off[i] */
	char buf[ROW_WORDS_LEN];
};

enum conn_state {
	CONN_OPEN,
	CONN_CLOSING, /* its queued answers go out, then it closes; reads nothing more */
	CONN_DEAD,    /* out of the table, socket closed; freed by reap() */
};

struct conn {
	struct cp_ctl *ctl;
	int fd;
	unsigned slot;
	enum conn_state state;
	bool eof;     /* the client shut down its side: answer what came, then close */
	bool walking; /* inside take_requests(): an answer needs no resume */
	uint32_t events;
	struct cp_ctl_req *pending; /* the request in progress */
	struct cp_timer resume;	    /* takes the next request after a later answer */
	char *out;		    /* answers the kernel has not taken: out[out_off, out_len) */
	size_t out_off, out_len, out_cap;
	struct conn *next_dead;
	size_t in_len;
	char in[CP_CTL_LINE_MAX];
};

struct cp_ctl_req {
	struct cp_ctl *ctl;
	struct conn *conn;		/* NULL: the connection has gone */
	struct cp_ctl_req *prev, *next; /* in ctl->reqs: every request not answered yet */
	/* a stream (cp_ctl_stream_begin) */
	bool stream;
	bool closing;	/* its client went: on_close is due (reap) */
	bool want_room; /* on_room is due once the client has read the queue below half */
	cp_ctl_stream_fn on_close, on_room;
	void *stream_arg;
	uint64_t lost; /* lines dropped since the last {"dropped": N} */
	struct cp_ctl_words words;
};

struct cp_ctl {
	struct cp_loop *loop;
	int fd; /* listener; -1: a table only */
	/* held open so that, out of descriptors, a pending connection can still be accepted and
	 * closed: left in the backlog it would wake the loop again and again */
	int spare_fd;
	char path[CP_CTL_PATH_MAX];
	dev_t dev; /* the socket file we made: removed at the end only if it is still ours */
	ino_t ino;
	struct cp_timer retry; /* while another process listens on path */
	int listen_err;	       /* the last reason it could not listen, logged once */
	struct conn *conns[CP_CTL_MAX_CONNS];
	unsigned n_conns;
	struct conn *dead; /* gone, to be freed */
	struct cp_timer reap;
	struct row *rows;
	unsigned n_rows, cap_rows;
	struct cp_ctl_req *reqs;
	unsigned n_streams;
};

static void cmd_help(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned nargs);

static const struct cp_ctl_cmd help_row[] = {
	{"help", "[COMMAND...]", 0, CP_CTL_MAX_CMD_WORDS,
		"Lists the commands (those that start with the words given, if any), each with "
		"its arguments and what it does.",
		cmd_help, NULL},
};

static const char *word(const struct row *r, unsigned i)
{
	return r->buf + r->off[i];
}

static const char *errno_name(int code, char *buf, size_t len)
{
	const char *s;

	if (code < 0)
		code = -code;
	s = strerrorname_np(code);
	if (s)
		return s;
	snprintf(buf, len, "E%d", code);
	return buf;
}

/* ---- JSON strings ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		(cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

json_t *cp_ctl_json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, o = 0;
	json_t *j;
	char *buf;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j)
		return j;
	/* not UTF-8: each bad byte becomes U+FFFD (3 bytes) */
	n = strlen(s);
	buf = malloc(3 * n + 1);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(p + i, n - i);

		if (len) {
			memcpy(buf + o, p + i, len);
			o += len;
			i += len;
		} else {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn_nocheck(buf, o);
	free(buf);
	return j;
}

json_t *cp_ctl_counters_json(const void *base, const struct cp_ctl_counter *rows, unsigned n)
{
	json_t *o = json_object();

	for (unsigned i = 0; i < n && o; i++) {
		uint64_t v;

		memcpy(&v, (const char *)base + rows[i].offset, sizeof(v));
		if (json_object_set_new(o, rows[i].name, json_integer((json_int_t)v)) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

/* An error answer's text (malloc'd), or NULL without memory. */
static char *error_text(int code, const char *msg)
{
	char name[16];
	json_t *o = json_pack("{s:b, s:o, s:s}", "ok", 0, "error", cp_ctl_json_str(msg), "code",
		errno_name(code, name, sizeof(name)));
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

/* ---- connections ---------------------------------------------------------------------------- */

static size_t out_queued(const struct conn *k)
{
	return k->out_len - k->out_off;
}

static bool streaming(const struct conn *k)
{
	return k->pending && k->pending->stream;
}

static bool wants_input(const struct conn *k)
{
	if (k->state != CONN_OPEN || k->eof)
		return false;
	if (streaming(k))
		return true; /* only to hear the client stop */
	return !k->pending && k->in_len < sizeof(k->in) && out_queued(k) < CP_CTL_OUT_LOW;
}

static void set_events(struct conn *k)
{
	uint32_t ev = (wants_input(k) ? EPOLLIN : 0) | (out_queued(k) ? EPOLLOUT : 0);

	/* with neither, epoll still reports a hang-up */
	if (k->state != CONN_DEAD && ev != k->events &&
		cp_loop_mod_fd(k->ctl->loop, k->fd, ev) == 0)
		k->events = ev;
}

static void conn_kill(struct conn *k)
{
	struct cp_ctl *c = k->ctl;

	if (k->state == CONN_DEAD)
		return;
	k->state = CONN_DEAD;
	if (k->pending) {
		/* a stream's owner is told from reap(): we may be inside one of its calls */
		k->pending->closing = k->pending->stream;
		k->pending->conn = NULL;
		k->pending = NULL;
	}
	cp_timer_stop(c->loop, &k->resume);
	cp_loop_del_fd(c->loop, k->fd);
	close(k->fd);
	k->fd = -1;
	c->conns[k->slot] = NULL;
	c->n_conns--;
	k->next_dead = c->dead;
	c->dead = k;
	cp_timer_start(c->loop, &c->reap, 0);
}

static void req_free(struct cp_ctl_req *r);

/* A stream whose client has gone, or NULL */
static struct cp_ctl_req *closing_stream(const struct cp_ctl *c)
{
	for (struct cp_ctl_req *r = c->reqs; r; r = r->next)
		if (r->closing)
			return r;
	return NULL;
}

static void reap(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct cp_ctl *c = arg;
	struct cp_ctl_req *r;
	struct conn *k;

	/* one at a time, from the head: an owner's on_close may end its other streams */
	while ((r = closing_stream(c))) {
		r->closing = false;
		if (r->on_close)
			r->on_close(r->stream_arg, r);
		req_free(r);
	}
	while ((k = c->dead)) {
		c->dead = k->next_dead;
		free(k->out);
		free(k);
	}
}

/* Writes what the kernel takes; false when the connection is gone (died of it, or closed once
 * its last answer went). */
static bool conn_flush(struct conn *k)
{
	while (out_queued(k)) {
		ssize_t n = send(
			k->fd, k->out + k->out_off, out_queued(k), MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			k->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		conn_kill(k); /* the client went */
		return false;
	}
	if (!out_queued(k)) {
		k->out_off = k->out_len = 0;
		if (k->out_cap > CP_CTL_OUT_LOW) {
			free(k->out);
			k->out = NULL;
			k->out_cap = 0;
		}
		if (k->state == CONN_CLOSING) {
			conn_kill(k);
			return false;
		}
	}
	set_events(k);
	return true;
}

/* One line onto the queue (text without its newline); false when it killed the connection
 * (no memory). */
static bool conn_queue(struct conn *k, const char *text, size_t len)
{
	size_t queued = out_queued(k);

	if (k->out_off && k->out_len + len + 1 > k->out_cap) {
		memmove(k->out, k->out + k->out_off, queued);
		k->out_off = 0;
		k->out_len = queued;
	}
	if (k->out_len + len + 1 > k->out_cap) {
		size_t cap = k->out_cap ? k->out_cap : 4096;
		char *p;

		while (cap < k->out_len + len + 1)
			cap *= 2;
		p = realloc(k->out, cap);
		if (!p) {
			TG_LOG(CP, ERR,
				"control connection closed: no memory for a %zu-byte answer", len);
			conn_kill(k);
			return false;
		}
		k->out = p;
		k->out_cap = cap;
	}
	memcpy(k->out + k->out_len, text, len);
	k->out[k->out_len + len] = '\n';
	k->out_len += len + 1;
	return true;
}

/* One answer line onto the queue (text without its newline) and out as far as it goes. */
static void conn_send(struct conn *k, const char *text, size_t len)
{
	if (conn_queue(k, text, len))
		conn_flush(k);
}

static void __attribute__((format(printf, 3, 4)))
conn_error(struct conn *k, int code, const char *fmt, ...)
{
	char msg[MSG_MAX], *text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	text = error_text(code, msg);
	if (text)
		conn_send(k, text, strlen(text));
	else
		conn_kill(k);
	free(text);
}

/* ---- requests ------------------------------------------------------------------------------- */

static void req_free(struct cp_ctl_req *r)
{
	struct cp_ctl *c = r->ctl;

	if (r->stream)
		c->n_streams--;
	if (r->prev)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	free(r);
}

static void answer(struct cp_ctl_req *r, json_t *obj)
{
	static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\",\"code\":\"ENOMEM\"}";
	struct conn *k = r->conn;
	char *text;
	size_t len;

	if (r->stream) {
		TG_LOG(CP, ERR,
			"control: a stream answered like a request (a handler's bug): ended");
		json_decref(obj);
		cp_ctl_stream_end(r, NULL);
		return;
	}
	text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	len = text ? strlen(text) : 0;
	json_decref(obj);
	if (k && k->state != CONN_DEAD) {
		k->pending = NULL;
		if (text && len > CP_CTL_ANSWER_MAX) {
			free(text);
			conn_error(k, EMSGSIZE,
				"the answer has %zu bytes, more than the %u allowed", len,
				CP_CTL_ANSWER_MAX);
			text = NULL;
		} else if (text) {
			conn_send(k, text, len);
		} else {
			conn_send(k, oom, sizeof(oom) - 1);
		}
		/* answered later than its request: take the next one from the loop */
		if (k->state != CONN_DEAD && !k->walking)
			cp_timer_start(k->ctl->loop, &k->resume, 0);
	}
	free(text);
	req_free(r);
}

void cp_ctl_ok(struct cp_ctl_req *req, json_t *result)
{
	json_t *o = json_object();

	if (!result)
		result = json_null();
	if (o && (json_object_set_new(o, "ok", json_true()) < 0 ||
			 json_object_set_new(o, "result", result) < 0)) {
		json_decref(o);
		o = NULL;
	} else if (!o) {
		json_decref(result);
	}
	answer(req, o);
}

void cp_ctl_fail(struct cp_ctl_req *req, int code, const char *fmt, ...)
{
	char msg[MSG_MAX], name[16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	TG_LOG(CP, DEBUG, "control: refused (%s): %s", errno_name(code, name, sizeof(name)), msg);
	answer(req, json_pack("{s:b, s:o, s:s}", "ok", 0, "error", cp_ctl_json_str(msg), "code",
			    errno_name(code, name, sizeof(name))));
}

/* The row's words begin with w[0..k) */
static bool row_starts(const struct row *r, const char *const *w, unsigned k)
{
	if (r->nwords < k)
		return false;
	for (unsigned i = 0; i < k; i++)
		if (strcmp(word(r, i), w[i]) != 0)
			return false;
	return true;
}

/* The longest row whose words lead the request's, or NULL */
static const struct row *lookup(const struct cp_ctl *c, const struct cp_ctl_words *w)
{
	const struct row *best = NULL;

	for (unsigned i = 0; i < c->n_rows; i++) {
		const struct row *r = &c->rows[i];

		if (r->nwords <= w->n && row_starts(r, w->w, r->nwords) &&
			(!best || r->nwords > best->nwords))
			best = r;
	}
	return best;
}

/* snprintf at buf + *off, *off kept inside buf (a long text is cut, never overrun) */
static void __attribute__((format(printf, 4, 5)))
append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	*off = n < 0 ? *off : *off + (size_t)n >= len ? len - 1 : *off + (size_t)n;
}

/* "unknown command 'show foo' (show: calls, config; try: help)": the words that do follow the
 * longest known beginning, when there is one */
static void unknown(struct cp_ctl *c, struct cp_ctl_req *r)
{
	const struct cp_ctl_words *w = &r->words;
	unsigned shown = w->n < CP_CTL_MAX_CMD_WORDS ? w->n : CP_CTL_MAX_CMD_WORDS;
	char cmd[CP_CTL_MAX_CMD_WORDS * 34] = "", next[256] = "";
	size_t co = 0, no = 0;
	bool listed = false;

	for (unsigned i = 0; i < shown; i++)
		append(cmd, sizeof(cmd), &co, "%s%.32s", i ? " " : "", w->w[i]);
	for (unsigned k = shown; k > 0 && !listed; k--) {
		for (unsigned i = 0; i < c->n_rows; i++) {
			const struct row *row = &c->rows[i];
			bool seen = false;

			if (row->nwords <= k || !row_starts(row, w->w, k))
				continue;
			/* each following word once */
			for (unsigned e = 0; e < i && !seen; e++)
				seen = c->rows[e].nwords > k && row_starts(&c->rows[e], w->w, k) &&
				       strcmp(word(&c->rows[e], k), word(row, k)) == 0;
			if (seen)
				continue;
			/* the first k words matched a row's: short, no spaces */
			for (unsigned j = 0; j < k && !listed; j++)
				append(next, sizeof(next), &no, "%s%s", j ? " " : "", w->w[j]);
			append(next, sizeof(next), &no, "%s%s", listed ? ", " : ": ", word(row, k));
			listed = true;
		}
	}
	cp_ctl_fail(
		r, ENOENT, "unknown command '%s' (%s%stry: help)", cmd, next, listed ? "; " : "");
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* One request line: answered now, or in progress (k->pending) until its handler answers. */
static void take(struct conn *k, const char *line, size_t len)
{
	struct cp_ctl *c = k->ctl;
	const struct row *row;
	struct cp_ctl_req *r;
	char err[256];
	unsigned nargs;
	int rc;

	if (blank(line, len))
		return;
	r = calloc(1, sizeof(*r));
	if (!r) {
		conn_error(k, ENOMEM, "out of memory");
		return;
	}
	r->ctl = c;
	r->conn = k;
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
	k->pending = r;
	rc = cp_ctl_parse(line, len, &r->words, err, sizeof(err));
	if (rc < 0) {
		cp_ctl_fail(r, -rc, "%s", err);
		return;
	}
	row = lookup(c, &r->words);
	if (!row) {
		unknown(c, r);
		return;
	}
	nargs = r->words.n - row->nwords;
	if (nargs < row->cmd.min_args || nargs > row->cmd.max_args) {
		cp_ctl_fail(r, EINVAL, "%s: %u argument%s given; usage: %s%s%s", row->cmd.words,
			nargs, nargs == 1 ? "" : "s", row->cmd.words, row->cmd.usage[0] ? " " : "",
			row->cmd.usage);
		return;
	}
	TG_LOG(CP, DEBUG, "control: %s (%u argument%s)", row->cmd.words, nargs,
		nargs == 1 ? "" : "s");
	row->cmd.fn(row->cmd.arg, r, r->words.w + row->nwords, nargs);
}

/* Takes the requests buffered on k, in order, as long as none is in progress and the client
 * reads its answers. */
static void take_requests(struct conn *k)
{
	k->walking = true;
	while (k->state == CONN_OPEN && !k->pending && out_queued(k) < CP_CTL_OUT_LOW) {
		char *nl = memchr(k->in, '\n', k->in_len);
		size_t len, used;

		if (nl) {
			len = (size_t)(nl - k->in);
			used = len + 1;
		} else if (k->in_len == sizeof(k->in)) {
			conn_error(k, EMSGSIZE,
				"request: longer than %u bytes: closing the connection",
				CP_CTL_LINE_MAX - 1);
			k->in_len = 0;
			if (k->state == CONN_OPEN) {
				k->state = CONN_CLOSING;
				conn_flush(k);
			}
			break;
		} else if (k->eof && k->in_len) {
			len = used = k->in_len; /* the last line had no newline */
		} else {
			break;
		}
		take(k, k->in, len);
		memmove(k->in, k->in + used, k->in_len - used);
		k->in_len -= used;
	}
	k->walking = false;
	if (k->state == CONN_OPEN && streaming(k) && (k->in_len || k->eof)) {
		/* a client stops a stream by sending anything, or by closing */
		conn_kill(k);
		return;
	}
	if (k->state == CONN_OPEN && k->eof && !k->pending && !k->in_len) {
		k->state = CONN_CLOSING;
		conn_flush(k);
		return;
	}
	set_events(k);
}

static void resume(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	take_requests(arg);
}

static void conn_read(struct conn *k)
{
	for (int i = 0; i < READS_PER_WAKE && wants_input(k); i++) {
		ssize_t n = recv(k->fd, k->in + k->in_len, sizeof(k->in) - k->in_len, MSG_DONTWAIT);

		if (n > 0) {
			k->in_len += (size_t)n;
			take_requests(k);
			continue;
		}
		if (n == 0) {
			k->eof = true;
			take_requests(k);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			conn_kill(k);
		return;
	}
}

/* ---- streams ------------------------------------------------------------------------------- */

/* {"dropped": N} for lost lines into buf; its length, 0 when none were lost */
static size_t note_text(uint64_t lost, char *buf, size_t len)
{
	return lost ? (size_t)snprintf(buf, len, "{\"dropped\":%" PRIu64 "}", lost) : 0;
}

/*
 * Queues the note for lost lines (if any) and then text (NULL: the note alone), when both fit
 * under CP_CTL_STREAM_MAX; out at once if nothing was waiting (else EPOLLOUT is armed already).
 * 0, -ENOBUFS (dropped and counted) or -ENOTCONN.
 */
static int stream_put(struct cp_ctl_req *r, const char *text, size_t len)
{
	struct conn *k = r->conn;
	char note[48];
	size_t nlen = note_text(r->lost, note, sizeof(note));
	size_t need = (nlen ? nlen + 1 : 0) + (text ? len + 1 : 0);
	bool idle;

	if (!k)
		return -ENOTCONN;
	if (!need)
		return 0;
	if (out_queued(k) + need > CP_CTL_STREAM_MAX) {
		if (text)
			r->lost++;
		r->want_room = true;
		return -ENOBUFS;
	}
	idle = !out_queued(k);
	if (nlen) {
		if (!conn_queue(k, note, nlen))
			return -ENOTCONN;
		r->lost = 0;
	}
	if (text && !conn_queue(k, text, len))
		return -ENOTCONN;
	if (idle)
		conn_flush(k);
	return r->conn ? 0 : -ENOTCONN;
}

/* The client read some of a stream's queue: the note for lost lines, then the owner's on_room */
static void stream_drained(struct conn *k)
{
	struct cp_ctl_req *r = k->pending;

	if (out_queued(k) >= CP_CTL_STREAM_MAX / 2)
		return;
	if (r->lost)
		stream_put(r, NULL, 0);
	if (r->conn && r->want_room && out_queued(k) < CP_CTL_STREAM_MAX / 2) {
		r->want_room = false;
		if (r->on_room)
			r->on_room(r->stream_arg, r);
	}
}

void cp_ctl_stream_begin(
	struct cp_ctl_req *req, cp_ctl_stream_fn on_close, cp_ctl_stream_fn on_room, void *arg)
{
	static const char head[] = "{\"ok\":true,\"stream\":true}";
	struct cp_ctl *c = req->ctl;
	struct conn *k = req->conn;
	int sndbuf = CP_CTL_STREAM_SNDBUF;

	req->stream = true;
	req->on_close = on_close;
	req->on_room = on_room;
	req->stream_arg = arg;
	c->n_streams++;
	if (!k) {
		/* the client went while the handler worked: told from the loop, like any close */
		req->closing = true;
		cp_timer_start(c->loop, &c->reap, 0);
		return;
	}
	/* the kernel's buffer is part of what a slow client holds up: keep it small too */
	if (setsockopt(k->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
		TG_LOG(CP, DEBUG, "control stream: SO_SNDBUF: %s", strerror(errno));
	conn_send(k, head, sizeof(head) - 1);
	if (k->state == CONN_DEAD)
		return;
	/* inside take_requests() the input is looked at when the handler returns */
	if (!k->walking && (k->in_len || k->eof))
		conn_kill(k);
	else
		set_events(k);
}

int cp_ctl_stream_send(struct cp_ctl_req *req, json_t *line)
{
	char *text;
	int rc;

	if (!req->conn) {
		json_decref(line);
		return -ENOTCONN;
	}
	/* reals as people write them (4.41, not 4.4100000000000001) */
	text = line ? json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
	json_decref(line);
	if (!text) {
		req->lost++;
		return -ENOMEM;
	}
	rc = stream_put(req, text, strlen(text));
	free(text);
	return rc;
}

bool cp_ctl_stream_full(struct cp_ctl_req *req)
{
	if (!req->conn)
		return true;
	if (out_queued(req->conn) < CP_CTL_STREAM_MAX / 2)
		return false;
	req->want_room = true;
	return true;
}

void cp_ctl_stream_lost(struct cp_ctl_req *req, uint64_t n)
{
	req->lost += n;
	/* told now if it fits: the next line may be long in coming */
	if (n && req->conn && out_queued(req->conn) < CP_CTL_STREAM_MAX / 2)
		stream_put(req, NULL, 0);
}

void cp_ctl_stream_end(struct cp_ctl_req *req, const char *reason)
{
	static const char plain[] = "{\"end\":true}";
	struct conn *k = req->conn;

	if (k) {
		json_t *o = json_pack("{s:b}", "end", 1);
		char note[48], *text;
		size_t nlen = note_text(req->lost, note, sizeof(note));

		if (o && reason)
			json_object_set_new(o, "reason", cp_ctl_json_str(reason));
		text = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		k->pending = NULL;
		/* the last lines go whatever the queue holds: they are short, and the last */
		if ((!nlen || conn_queue(k, note, nlen)) &&
			conn_queue(k, text ? text : plain, text ? strlen(text) : sizeof(plain) - 1))
			conn_flush(k);
		free(text);
		/* the connection takes requests again */
		if (k->state != CONN_DEAD && !k->walking)
			cp_timer_start(k->ctl->loop, &k->resume, 0);
	}
	req_free(req); /* a closing one's on_close is not called: its owner ended it */
}

unsigned cp_ctl_streams(const struct cp_ctl *c)
{
	return c->n_streams;
}

/*
 * Every event of a connection. The loop dispatches by file descriptor, and an event read in the
 * same batch as a close may reach the connection that got the number next: a hang-up is checked
 * with poll() before it closes anything, and reads and writes say for themselves.
 */
static void on_conn_event(struct cp_loop *l, int fd, uint32_t events, void *arg)
{
	struct conn *k = arg;

	if (k->state == CONN_DEAD)
		return;
	if (events & (EPOLLHUP | EPOLLERR)) {
		struct pollfd p = {.fd = fd};

		/* the client is gone: nobody reads what it asked any more */
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))) {
			conn_kill(k);
			return;
		}
	}
	if (out_queued(k) && !conn_flush(k))
		return;
	if (streaming(k))
		stream_drained(k);
	if (k->state == CONN_DEAD)
		return;
	if (wants_input(k))
		conn_read(k);
	else
		take_requests(k); /* answers drained below the mark may release a request */
}

/* The connection past CP_CTL_MAX_CONNS: told why, and closed. */
static void refuse(int fd)
{
	char msg[96], *text;

	snprintf(msg, sizeof(msg), "too many control connections (at most %d): try again later",
		CP_CTL_MAX_CONNS);
	text = error_text(EBUSY, msg);
	if (text) {
		size_t len = strlen(text);

		text[len] = '\n'; /* json_dumps() leaves room: its NUL */
		send(fd, text, len + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	free(text);
	close(fd);
}

static void conn_new(struct cp_ctl *c, int fd)
{
	struct conn *k = calloc(1, sizeof(*k));
	unsigned s;

	if (!k) {
		close(fd);
		return;
	}
	for (s = 0; c->conns[s]; s++)
		;
	k->ctl = c;
	k->fd = fd;
	k->slot = s;
	k->events = EPOLLIN;
	cp_timer_init(&k->resume, resume, k);
	if (cp_loop_add_fd(c->loop, fd, EPOLLIN, on_conn_event, k) < 0) {
		free(k);
		close(fd);
		return;
	}
	c->conns[s] = k;
	c->n_conns++;
}

static void on_accept(struct cp_loop *l, int fd, uint32_t events, void *arg)
{
	struct cp_ctl *c = arg;

	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0 && (errno == EMFILE || errno == ENFILE) && c->spare_fd >= 0) {
			close(c->spare_fd);
			cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd >= 0)
				close(cfd);
			c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (cfd < 0)
				return;
			TG_LOG(CP, WARN, "control connection refused: out of file descriptors");
			continue;
		}
		if (cfd < 0)
			return;
		if (c->n_conns == CP_CTL_MAX_CONNS) {
			TG_LOG(CP, WARN, "control connection refused: %d open already",
				CP_CTL_MAX_CONNS);
			refuse(cfd);
			continue;
		}
		conn_new(c, cfd);
	}
}

/* ---- the socket ----------------------------------------------------------------------------- */

/* mkdir -p of path's directory, each new one 0750 */
static int make_dirs(const char *path)
{
	char dir[CP_CTL_PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		char save = *p;

		if (save != '/' && save != '\0')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			return -errno;
		*p = save;
		if (!save)
			return 0;
	}
}

/* A socket file nobody listens on is removed; a live one, or anything else, is left alone. */
static int remove_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, rc;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN)
		rc = -EADDRINUSE; /* (EAGAIN: its backlog is full, but someone listens) */
	else
		rc = errno == ECONNREFUSED ? 0 : -errno;
	close(fd);
	if (rc == 0 && unlink(sa->sun_path) < 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}

/* Binds and listens on c->path; 0, or -errno with what failed in *what. */
static int listen_on(struct cp_ctl *c, const char **what)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd = -1, rc;

	*what = "longer than a Unix socket address takes";
	if (strlen(c->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	*what = "cannot create its directory";
	rc = make_dirs(c->path);
	if (rc == 0) {
		*what = "cannot replace what is there";
		rc = remove_stale(&sa);
	}
	if (rc == 0) {
		*what = "cannot listen";
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ||
			chmod(c->path, 0660) < 0 || stat(c->path, &st) < 0 || listen(fd, 16) < 0)
			rc = -errno;
	}
	if (rc == 0)
		rc = cp_loop_add_fd(c->loop, fd, EPOLLIN, on_accept, c);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	c->fd = fd;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	TG_LOG(CP, INFO, "control socket on %s", c->path);
	return 0;
}

static const char *reason(int rc)
{
	return rc == -EADDRINUSE ? "a process listens on it"
	       : rc == -EEXIST	 ? "it is not a socket"
				 : strerror(-rc);
}

/* A standby: the socket is taken over once the process listening on it has gone */
static void retry_listen(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct cp_ctl *c = arg;
	const char *what;
	int rc = listen_on(c, &what);

	if (rc == 0)
		return;
	if (rc != c->listen_err)
		TG_LOG(CP, ERR, "control socket %s: %s: %s (trying again every second)", c->path,
			what, reason(rc));
	c->listen_err = rc;
	cp_timer_start(l, t, CP_CTL_RETRY_NS);
}

struct cp_ctl *cp_ctl_new(struct cp_loop *l, const char *path)
{
	struct cp_ctl *c = calloc(1, sizeof(*c));
	const char *what;
	int rc;

	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->loop = l;
	c->fd = -1;
	c->spare_fd = -1;
	cp_timer_init(&c->reap, reap, c);
	cp_timer_init(&c->retry, retry_listen, c);
	rc = cp_ctl_register(c, help_row, 1);
	if (rc == 0 && path) {
		snprintf(c->path, sizeof(c->path), "%s", path);
		c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		rc = listen_on(c, &what);
		if (rc == -EADDRINUSE) {
			TG_LOG(CP, WARN,
				"control socket %s: another process listens on it: taking it over "
				"when it goes",
				path);
			c->listen_err = rc;
			rc = cp_timer_start(l, &c->retry, CP_CTL_RETRY_NS);
		} else if (rc < 0) {
			TG_LOG(CP, ERR, "control socket %s: %s: %s", path, what, reason(rc));
		}
	}
	if (rc < 0) {
		cp_ctl_free(c);
		errno = -rc;
		return NULL;
	}
	return c;
}

bool cp_ctl_listening(const struct cp_ctl *c)
{
	return c->fd >= 0;
}

void cp_ctl_free(struct cp_ctl *c)
{
	struct stat st;

	if (!c)
		return;
	for (unsigned i = 0; i < CP_CTL_MAX_CONNS; i++)
		if (c->conns[i])
			conn_kill(c->conns[i]);
	if (c->loop) {
		cp_timer_stop(c->loop, &c->reap);
		cp_timer_stop(c->loop, &c->retry);
	}
	reap(c->loop, &c->reap, c);
	while (c->reqs)
		req_free(c->reqs);
	if (c->fd >= 0) {
		cp_loop_del_fd(c->loop, c->fd);
		close(c->fd);
		if (c->ino && stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
			unlink(c->path);
	}
	if (c->spare_fd >= 0)
		close(c->spare_fd);
	free(c->rows);
	free(c);
}

/* ---- the table ------------------------------------------------------------------------------ */

/* Splits cmd->words into r; NULL, or what is wrong with the row. */
static const char *row_init(struct row *r, const struct cp_ctl_cmd *cmd)
{
	size_t len;

	if (!cmd->words || !cmd->usage || !cmd->help || !cmd->help[0] || !cmd->fn)
		return "words, usage, help and handler are required";
	if (cmd->min_args > cmd->max_args || cmd->max_args > CP_CTL_MAX_ARGS)
		return "needs min_args <= max_args <= CP_CTL_MAX_ARGS";
	len = strlen(cmd->words);
	if (!len || len >= sizeof(r->buf))
		return "words: 1 to 63 characters";
	memset(r, 0, sizeof(*r));
	r->cmd = *cmd;
	memcpy(r->buf, cmd->words, len + 1);
	for (size_t i = 0; i <= len; i++) {
		char ch = r->buf[i];

		if (ch == ' ' || ch == '\0') {
			if (i == 0 || r->buf[i - 1] == '\0')
				return "words: one space between words, none around them";
			r->buf[i] = '\0';
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
			    ch == '_'))
			return "words: [a-z0-9_-] only";
		if (i == 0 || r->buf[i - 1] == '\0') {
			if (r->nwords == CP_CTL_MAX_CMD_WORDS)
				return "words: at most CP_CTL_MAX_CMD_WORDS";
			r->off[r->nwords++] = (unsigned char)i;
		}
	}
	return NULL;
}

static bool same_words(const struct row *a, const struct row *b)
{
	if (a->nwords != b->nwords)
		return false;
	for (unsigned i = 0; i < a->nwords; i++)
		if (strcmp(word(a, i), word(b, i)) != 0)
			return false;
	return true;
}

int cp_ctl_register(struct cp_ctl *c, const struct cp_ctl_cmd *cmds, unsigned n)
{
	unsigned total = c->n_rows + n;

	if (total > c->cap_rows) {
		unsigned cap = c->cap_rows ? c->cap_rows : 16;
		struct row *p;

		while (cap < total)
			cap *= 2;
		p = realloc(c->rows, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		c->rows = p;
		c->cap_rows = cap;
	}
	for (unsigned i = 0; i < n; i++) {
		struct row *r = &c->rows[c->n_rows + i];
		const char *why = row_init(r, &cmds[i]);

		if (why) {
			TG_LOG(CP, ERR, "control command '%s': %s",
				cmds[i].words ? cmds[i].words : "(null)", why);
			return -EINVAL;
		}
		for (unsigned j = 0; j < c->n_rows + i; j++) {
			if (same_words(&c->rows[j], r)) {
				TG_LOG(CP, ERR, "control command '%s' registered twice",
					cmds[i].words);
				return -EEXIST;
			}
		}
	}
	c->n_rows = total;
	return 0;
}

unsigned cp_ctl_count(const struct cp_ctl *c)
{
	return c->n_rows;
}

const struct cp_ctl_cmd *cp_ctl_at(const struct cp_ctl *c, unsigned i)
{
	return i < c->n_rows ? &c->rows[i].cmd : NULL;
}

unsigned cp_ctl_conns(const struct cp_ctl *c)
{
	return c->n_conns;
}

static void cmd_help(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned nargs)
{
	struct cp_ctl *c = req->ctl;
	json_t *rows = json_array();

	for (unsigned i = 0; i < c->n_rows && rows; i++) {
		const struct row *r = &c->rows[i];

		if (row_starts(r, args, nargs))
			json_array_append_new(
				rows, json_pack("{s:s, s:s, s:s}", "command", r->cmd.words, "usage",
					      r->cmd.usage, "help", r->cmd.help));
	}
	if (rows && nargs && !json_array_size(rows)) {
		char what[CP_CTL_MAX_CMD_WORDS * 34] = "";
		size_t o = 0;

		for (unsigned j = 0; j < nargs; j++)
			append(what, sizeof(what), &o, "%s%.32s", j ? " " : "", args[j]);
		json_decref(rows);
		cp_ctl_fail(req, ENOENT, "help: no command starts with '%s'", what);
		return;
	}
	cp_ctl_ok(req, rows);
}

/* ---- docs/CLI.md ---------------------------------------------------------------------------- */

/* Markdown table cell text: '|' would end the cell */
static void md_cell(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else
			fputc(*s == '\n' ? ' ' : *s, out);
	}
}

void cp_ctl_write_docs(const struct cp_ctl *c, FILE *out)
{
	fputs("# Operator commands (tgctl)\n\n"
	      "Generated from the command table in the source (`tollgate-cp --ctl-docs`): each "
	      "command is one row, registered by the module that owns what it shows or changes.\n\n"
	      "```\n"
	      "tgctl [--instance NAME | --socket PATH] [--json] [--timeout SECONDS] COMMAND "
	      "[ARGS...]\n"
	      "tgctl [...] events [--call ID] [--kinds KIND,...] [--json] [--count N] [--for "
	      "SECONDS]\n"
	      "```\n\n"
	      "`tgctl` sends one command to the control plane's socket "
	      "(`controlplane.control_socket`, by default `/run/tollgate/<instance>.ctl`) and "
	      "prints the answer: a list of objects as a table, an object as `key: value` lines; "
	      "`--json` prints the result as JSON instead. Exit status: 0 done, 1 the control "
	      "plane refused the command (the message says why), 2 a bad command line, 3 no "
	      "answer (cannot connect, or no answer within `--timeout`, 5 s by default).\n\n"
	      "`tgctl events` keeps the connection and prints each event as it comes, one line "
	      "each (time, call, kind, fields; `--json`: the JSON lines as they are), until "
	      "`--count` events or `--for` seconds have passed, or Ctrl-C (exit 0 in each "
	      "case).\n\n"
	      "## Commands\n\n"
	      "| Command | Arguments | Description |\n"
	      "|---------|-----------|-------------|\n",
		out);
	for (unsigned i = 0; i < c->n_rows; i++) {
		const struct cp_ctl_cmd *cmd = &c->rows[i].cmd;

		fprintf(out, "| `%s` | ", cmd->words);
		if (cmd->usage[0]) {
			fputc('`', out);
			md_cell(out, cmd->usage);
			fputc('`', out);
		}
		fputs(" | ", out);
		md_cell(out, cmd->help);
		fputs(" |\n", out);
	}
	fprintf(out,
		"\n## Protocol\n\n"
		"A Unix stream socket (mode 0660). Each request is one line, a JSON array of "
		"strings: the command's words, then its arguments (`[\"set\", \"b2bua.max_calls\", "
		"\"500\"]`). Each gets one answer line, a JSON object: `{\"ok\": true, \"result\": "
		"...}` or `{\"ok\": false, \"error\": \"...\", \"code\": \"EINVAL\"}` (the errno "
		"name: EINVAL for bad arguments, ENOENT for an unknown command or object, EPERM "
		"for a key that is not live). Answers come in the order of the requests; a command "
		"that waits for something (the dataplane) holds back the connection's next "
		"request. Limits: a request line of at most %d bytes (a longer one is answered "
		"with an error and the connection closed), %d strings of at most %d bytes without "
		"control characters, %d connections.\n\n"
		"A command may answer with a stream (`events`): `{\"ok\": true, \"stream\": "
		"true}`, then one JSON object per line as things happen, until the client closes "
		"the connection or sends anything (that stops the stream and closes the "
		"connection), or the control plane ends it with `{\"end\": true, \"reason\": "
		"\"...\"}` (the connection then takes requests again). A stream holds at most %u "
		"KiB for a client that does not read; lines beyond are dropped, and the client is "
		"told how many with a line `{\"dropped\": N}` before the next one it gets.\n",
		CP_CTL_LINE_MAX - 1, CP_CTL_MAX_WORDS, CP_CTL_WORD_MAX, CP_CTL_MAX_CONNS,
		CP_CTL_STREAM_MAX >> 10);
}
