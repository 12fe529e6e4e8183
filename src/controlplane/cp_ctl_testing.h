/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * For the unit tests that talk to a control socket (cp_ctl) served on a real loop: a client
 * that is a plain non-blocking Unix socket the test drives by hand, sending requests and
 * reading the answers line by line while the loop runs. Waits are bounded by conditions (see
 * cp_loop_testing.h), not fixed sleeps. Include after <cmocka.h>.
 */
#ifndef TG_CP_CTL_TESTING_H
#define TG_CP_CTL_TESTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "cp_loop.h"
#include "cp_loop_testing.h"

struct cp_test_client {
	int fd; /* -1 once the test closed it itself */
	size_t len;
	char buf[1 << 16]; /* what came and was not heard yet */
};

/* A client connected to the control socket at path; the test frees it with cp_test_hang_up */
static inline struct cp_test_client *cp_test_dial(const char *path)
{
	struct cp_test_client *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	assert_non_null(c);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(c->fd >= 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return c;
}

static inline void cp_test_hang_up(struct cp_test_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static inline void cp_test_say(struct cp_test_client *c, const char *s)
{
	size_t len = strlen(s);

	assert_int_equal(send(c->fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads what is there; true when a whole line or EOF is buffered (*eof set) */
static inline bool cp_test_poll_line(struct cp_test_client *c, bool *eof)
{
	ssize_t n;

	if (memchr(c->buf, '\n', c->len))
		return true;
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);
	if (n > 0)
		c->len += (size_t)n;
	if (n == 0)
		*eof = true;
	return *eof || memchr(c->buf, '\n', c->len);
}

/* The next line, parsed (the loop l running meanwhile, at most 2 s); NULL at EOF, which must
 * come on a line's boundary */
static inline json_t *cp_test_hear(struct cp_loop *l, struct cp_test_client *c)
{
	bool eof = false;
	char *nl;
	json_t *j;
	json_error_t jerr;

	CP_TEST_RUN_UNTIL(l, cp_test_poll_line(c, &eof), 2000);
	nl = memchr(c->buf, '\n', c->len);
	if (!nl) {
		assert_true(eof);
		assert_int_equal(c->len, 0);
		return NULL;
	}
	*nl = '\0';
	j = json_loads(c->buf, 0, &jerr);
	if (!j)
		fail_msg("line is not JSON (%s): %s", jerr.text, c->buf);
	c->len -= (size_t)(nl + 1 - c->buf);
	memmove(c->buf, nl + 1, c->len);
	return j;
}

/* Nothing arrives (no line, no EOF) for ms, the loop l running meanwhile */
static inline void cp_test_silent(struct cp_loop *l, struct cp_test_client *c, unsigned ms)
{
	bool eof = false;
	uint64_t t0 = cp_test_now_ms();

	while (cp_test_now_ms() - t0 < ms) {
		cp_test_run_ms(l, 5);
		assert_false(cp_test_poll_line(c, &eof));
	}
}

#endif
