/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `tgctl events` (see tgctl_events.h). SIGINT and SIGTERM are blocked except inside ppoll(), so
 * a signal either stops the wait or is seen before the next one: never lost between a check and
 * a wait.
 */
#include "tgctl_events.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tg_time.h"
#include "tgctl_client.h"
#include "tgctl_render.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* One line printed and flushed; false when our reader has gone (EPIPE) */
static bool print_line(const struct tgctl_args *a, const json_t *line, FILE *out)
{
	if (a->json) {
		json_dumpf(line, out, JSON_COMPACT | JSON_REAL_PRECISION(12));
		fputc('\n', out);
	} else {
		tgctl_render_event(line, out);
	}
	return fflush(out) == 0 && !ferror(out);
}

/* ms to wait until deadline (0: none: -1) */
static int wait_ms(uint64_t deadline)
{
	uint64_t now = tg_now_ns();

	if (!deadline)
		return -1;
	return now >= deadline ? 0 : (int)((deadline - now + TG_NS_PER_MS - 1) / TG_NS_PER_MS);
}

static int follow(const struct tgctl_args *a, struct tgctl_stream *s, const sigset_t *waitmask,
	FILE *out, FILE *errout)
{
	uint64_t deadline = a->for_ms ? tg_now_ns() + a->for_ms * TG_NS_PER_MS : 0, seen = 0;
	char err[512];

	for (;;) {
		json_t *line;
		int rc;

		while ((rc = tgctl_stream_take(s, &line, err, sizeof(err))) == 1) {
			bool end = json_is_true(json_object_get(line, "end"));
			bool event = json_object_get(line, "kind") != NULL;
			bool ok = print_line(a, line, out);

			json_decref(line);
			if (!ok)
				return 0; /* whoever read us has gone: nothing more to say */
			if (end)
				return 0;
			if (event && a->count && ++seen >= a->count)
				return 0;
		}
		if (rc < 0) {
			fprintf(errout, "tgctl: %s\n", err);
			return TGCTL_EXIT_NO_ANSWER;
		}
		if (stop_signal)
			return 0;
		{
			struct pollfd p = {.fd = tgctl_stream_fd(s), .events = POLLIN};
			int ms = wait_ms(deadline);
			struct timespec ts = {
				.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
			int n;

			if (ms == 0)
				return 0; /* --for is over */
			n = ppoll(&p, 1, ms < 0 ? NULL : &ts, waitmask);
			if (n < 0 && errno == EINTR)
				continue; /* a signal: seen above */
			if (n < 0) {
				fprintf(errout, "tgctl: poll: %s\n", strerror(errno));
				return TGCTL_EXIT_NO_ANSWER;
			}
			if (n == 0)
				continue; /* the deadline: seen above */
		}
		rc = tgctl_stream_fill(s, err, sizeof(err));
		if (rc < 0) {
			/* what came before the close is still printed */
			while (tgctl_stream_take(s, &line, err, sizeof(err)) == 1) {
				print_line(a, line, out);
				json_decref(line);
			}
			fprintf(errout, "tgctl: the stream stopped: %s\n", err);
			return TGCTL_EXIT_NO_ANSWER;
		}
	}
}

int tgctl_events(const struct tgctl_args *a, const char *line, FILE *out, FILE *errout)
{
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term, old_pipe,
			 ign = {.sa_handler = SIG_IGN};
	struct tgctl_stream *s = NULL;
	sigset_t block, oldmask;
	json_t *answer = NULL;
	char err[512];
	int rc;

	stop_signal = 0;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGPIPE, &ign, &old_pipe); /* a write to a reader that went says EPIPE */

	rc = tgctl_open(a->socket, line, a->timeout_ms, &answer, &s, err, sizeof(err));
	if (rc < 0) {
		fprintf(errout, "tgctl: %s\n", err);
		rc = TGCTL_EXIT_NO_ANSWER;
	} else if (s) {
		sigset_t waitmask = oldmask;

		/* inside the wait only, the two signals are let through */
		sigdelset(&waitmask, SIGINT);
		sigdelset(&waitmask, SIGTERM);
		rc = follow(a, s, &waitmask, out, errout);
	} else if (json_is_true(json_object_get(answer, "ok"))) {
		/* an answer, not a stream (an older control plane?): shown as any answer */
		if (a->json)
			json_dumpf(json_object_get(answer, "result"), out,
				JSON_INDENT(2) | JSON_ENCODE_ANY);
		else
			tgctl_render(json_object_get(answer, "result"), out);
		rc = 0;
	} else {
		if (a->json) {
			json_object_del(answer, "ok");
			json_dumpf(answer, out, JSON_INDENT(2));
			fputc('\n', out);
		}
		fprintf(errout, "tgctl: %s\n", json_string_value(json_object_get(answer, "error")));
		rc = TGCTL_EXIT_REFUSED;
	}
	fflush(out);
	json_decref(answer);
	tgctl_stream_close(s);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return rc;
}
