/* SPDX-License-Identifier: BSD-3-Clause */
/* One request and its answer over the control socket (see tgctl_client.h). */
#include "tgctl_client.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cp_ctl_proto.h"
#include "tg_shm.h"
#include "tg_time.h"

int tgctl_request(char *const *words, int n, char **line, char *err, size_t errlen)
{
	json_t *a = json_array();
	char *text;

	*line = NULL;
	for (int i = 0; i < n && a; i++) {
		json_t *s = json_string(words[i]);

		if (!s) {
			json_decref(a);
			tg_errf(err, errlen, "argument %d is not UTF-8 text", i + 1);
			return -EINVAL;
		}
		json_array_append_new(a, s);
	}
	text = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	if (!text) {
		tg_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (strlen(text) >= CP_CTL_LINE_MAX) {
		tg_errf(err, errlen, "the command is %zu bytes as a request, at most %d",
			strlen(text), CP_CTL_LINE_MAX - 1);
		free(text);
		return -EMSGSIZE;
	}
	*line = text;
	return 0;
}

static int fail_errno(int e, const char *path, char *err, size_t errlen)
{
	const char *name = strerrorname_np(e);

	tg_errf(err, errlen, "cannot connect to %s: %s (%s)", path, strerror(e), name ? name : "?");
	return -e;
}

/* ms left until deadline (ns), at least 0 */
static int left_ms(uint64_t deadline)
{
	uint64_t now = tg_now_ns();

	return now >= deadline ? 0 : (int)((deadline - now + TG_NS_PER_MS - 1) / TG_NS_PER_MS);
}

/* Waits for events on fd until the deadline: true when they came. */
static bool wait_for(int fd, short events, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int n;

	do
		n = poll(&p, 1, left_ms(deadline));
	while (n < 0 && errno == EINTR);
	return n > 0;
}

static int connect_by(int fd, const char *path, uint64_t deadline, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sa.sun_path))
		return fail_errno(ENAMETOOLONG, path, err, errlen);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* a Unix socket connects at once or says EAGAIN: its backlog is full, so try again */
	while (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return fail_errno(errno, path, err, errlen);
		if (!left_ms(deadline))
			return fail_errno(ETIMEDOUT, path, err, errlen);
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	return 0;
}

static int send_line(
	int fd, const char *line, uint64_t deadline, const char *path, char *err, size_t errlen)
{
	size_t len = strlen(line), off = 0;
	char *buf = malloc(len + 1);

	if (!buf) {
		tg_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(buf, line, len);
	buf[len++] = '\n';
	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			off += (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_for(fd, POLLOUT, deadline))
				break;
		} else {
			int e = n < 0 ? errno : EPIPE;

			free(buf);
			tg_errf(err, errlen, "sending to %s: %s", path, strerror(e));
			return -e;
		}
	}
	free(buf);
	if (off < len) {
		tg_errf(err, errlen, "%s took no request within the timeout", path);
		return -ETIMEDOUT;
	}
	return 0;
}

/* The answer line (malloc'd, NUL-terminated, without its newline). */
static int recv_line(int fd, uint64_t deadline, uint64_t timeout_ms, const char *path, char **out,
	char *err, size_t errlen)
{
	size_t len = 0, cap = 64 << 10;
	char *buf = malloc(cap), *nl = NULL;

	while (buf && !nl) {
		ssize_t n;

		if (len + 1 == cap) {
			char *p = cap > CP_CTL_ANSWER_MAX ? NULL : realloc(buf, cap * 2);

			if (!p) {
				free(buf);
				tg_errf(err, errlen, "%s: the answer is too large", path);
				return -EPROTO;
			}
			buf = p;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
		if (n > 0) {
			nl = memchr(buf + len, '\n', (size_t)n);
			len += (size_t)n;
			continue;
		}
		if (n == 0) {
			free(buf);
			tg_errf(err, errlen, "%s closed the connection without an answer", path);
			return -ECONNRESET;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			int e = errno;

			free(buf);
			tg_errf(err, errlen, "reading from %s: %s", path, strerror(e));
			return -e;
		}
		if (!wait_for(fd, POLLIN, deadline)) {
			free(buf);
			tg_errf(err, errlen, "no answer from %s within %.1f s", path,
				(double)timeout_ms / 1000);
			return -ETIMEDOUT;
		}
	}
	if (!buf) {
		tg_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*nl = '\0';
	*out = buf;
	return 0;
}

/* An answer is {"ok": true, "result": ...} or {"ok": false, "error": "...", "code": "..."} */
static bool answer_ok(const json_t *a)
{
	const json_t *ok = json_object_get(a, "ok");

	if (!json_is_object(a) || !json_is_boolean(ok))
		return false;
	if (json_is_true(ok))
		return json_object_get(a, "result") != NULL;
	return json_is_string(json_object_get(a, "error")) &&
	       json_is_string(json_object_get(a, "code"));
}

int tgctl_call(const char *path, const char *line, uint64_t timeout_ms, json_t **answer, char *err,
	size_t errlen)
{
	uint64_t deadline = tg_now_ns() + timeout_ms * TG_NS_PER_MS;
	json_error_t jerr;
	char *text = NULL;
	int fd, rc;

	*answer = NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fail_errno(errno, path, err, errlen);
	rc = connect_by(fd, path, deadline, err, errlen);
	if (rc == 0)
		rc = send_line(fd, line, deadline, path, err, errlen);
	if (rc == 0)
		rc = recv_line(fd, deadline, timeout_ms, path, &text, err, errlen);
	close(fd);
	if (rc < 0)
		return rc;
	*answer = json_loads(text, 0, &jerr);
	if (!*answer || !answer_ok(*answer)) {
		tg_errf(err, errlen, "%s answered something that is not an answer: %.80s", path,
			text);
		json_decref(*answer);
		*answer = NULL;
		rc = -EPROTO;
	}
	free(text);
	return rc;
}

/* ---- streams ------------------------------------------------------------------------------- */

struct tgctl_stream {
	int fd;
	const char *path;
	size_t len, cap;
	char *buf;
};

int tgctl_stream_fd(const struct tgctl_stream *s)
{
	return s->fd;
}

int tgctl_stream_fill(struct tgctl_stream *s, char *err, size_t errlen)
{
	for (;;) {
		ssize_t n;

		if (s->len == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64 << 10;
			char *p = cap > 2 * TGCTL_STREAM_LINE_MAX ? NULL : realloc(s->buf, cap);

			if (!p) {
				tg_errf(err, errlen, "%s: a line longer than %u bytes", s->path,
					TGCTL_STREAM_LINE_MAX);
				return -EPROTO;
			}
			s->buf = p;
			s->cap = cap;
		}
		n = recv(s->fd, s->buf + s->len, s->cap - s->len, MSG_DONTWAIT);
		if (n > 0) {
			s->len += (size_t)n;
			if (memchr(s->buf + s->len - (size_t)n, '\n', (size_t)n))
				return 0;
			continue;
		}
		if (n == 0) {
			tg_errf(err, errlen, "%s closed the connection", s->path);
			return -ECONNRESET;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		tg_errf(err, errlen, "reading from %s: %s", s->path, strerror(errno));
		return -errno;
	}
}

int tgctl_stream_take(struct tgctl_stream *s, json_t **line, char *err, size_t errlen)
{
	char *nl = s->len ? memchr(s->buf, '\n', s->len) : NULL;
	json_error_t jerr;
	size_t used;

	*line = NULL;
	if (!nl) {
		if (s->len > TGCTL_STREAM_LINE_MAX) {
			tg_errf(err, errlen, "%s: a line longer than %u bytes", s->path,
				TGCTL_STREAM_LINE_MAX);
			return -EPROTO;
		}
		return 0;
	}
	used = (size_t)(nl - s->buf) + 1;
	*line = json_loadb(s->buf, used - 1, 0, &jerr);
	if (!*line || !json_is_object(*line)) {
		tg_errf(err, errlen, "%s sent something that is not a JSON object: %.80s", s->path,
			s->buf);
		json_decref(*line);
		*line = NULL;
		return -EPROTO;
	}
	s->len -= used;
	memmove(s->buf, s->buf + used, s->len);
	return 1;
}

void tgctl_stream_close(struct tgctl_stream *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s);
}

int tgctl_open(const char *path, const char *line, uint64_t timeout_ms, json_t **answer,
	struct tgctl_stream **stream, char *err, size_t errlen)
{
	uint64_t deadline = tg_now_ns() + timeout_ms * TG_NS_PER_MS;
	struct tgctl_stream *s = calloc(1, sizeof(*s));
	int rc;

	*answer = NULL;
	*stream = NULL;
	if (!s) {
		tg_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->path = path;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0) {
		rc = fail_errno(errno, path, err, errlen);
		goto fail;
	}
	rc = connect_by(s->fd, path, deadline, err, errlen);
	if (rc == 0)
		rc = send_line(s->fd, line, deadline, path, err, errlen);
	while (rc == 0 && (rc = tgctl_stream_take(s, answer, err, errlen)) == 0) {
		if (!wait_for(s->fd, POLLIN, deadline)) {
			tg_errf(err, errlen, "no answer from %s within %.1f s", path,
				(double)timeout_ms / 1000);
			rc = -ETIMEDOUT;
			break;
		}
		rc = tgctl_stream_fill(s, err, errlen);
		if (rc == -ECONNRESET)
			tg_errf(err, errlen, "%s closed the connection without an answer", path);
	}
	if (rc < 0)
		goto fail;
	if (!answer_ok(*answer) && !json_is_true(json_object_get(*answer, "stream"))) {
		char *text = json_dumps(*answer, JSON_COMPACT);

		tg_errf(err, errlen, "%s answered something that is not an answer: %.80s", path,
			text ? text : "?");
		free(text);
		rc = -EPROTO;
		goto fail;
	}
	if (json_is_true(json_object_get(*answer, "ok")) &&
		json_is_true(json_object_get(*answer, "stream")))
		*stream = s;
	else
		tgctl_stream_close(s);
	return 0;
fail:
	json_decref(*answer);
	*answer = NULL;
	tgctl_stream_close(s);
	return rc;
}
