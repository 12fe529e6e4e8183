/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tgctl without a control plane: its options (and every way to get them wrong), the request
 * line, the human rendering (table alignment and numbers, nested objects, arrays inside
 * objects, escaped control characters) and the round trip against a stand-in server forked
 * here: an answer, a silent server (timeout), a server that hangs up, a malformed answer, and
 * no socket at all (the message names the path and the errno). `events`: its options taken
 * out of the words, the human form of its lines, and the stream against the stand-in: --count
 * and --for end it (exit 0), the end line too, a refusal exits 1, a server that closes exits 3
 * after printing what came, SIGTERM exits 0.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tgctl_args.h"
#include "tgctl_client.h"
#include "tgctl_events.h"
#include "tgctl_render.h"
#include "tg_time.h"

/* ---- options ------------------------------------------------------------------------------- */

/* argv outlives the call: the parsed words point into it, as into main()'s */
static int parse(struct tgctl_args *a, char *err, size_t errlen, ...)
{
	static char *argv[16];
	int argc = 1;
	va_list ap;

	argv[0] = "tgctl";
	va_start(ap, errlen);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	err[0] = '\0';
	return tgctl_args_parse(argc, argv, a, err, errlen);
}

static void test_args(void **state)
{
	struct tgctl_args a;
	char err[256];

	assert_int_equal(parse(&a, err, sizeof(err), "show", "stats", NULL), 0);
	assert_string_equal(a.socket, "/run/tollgate/default.ctl");
	assert_false(a.json);
	assert_int_equal(a.timeout_ms, 5000);
	assert_int_equal(a.n_words, 2);
	assert_string_equal(a.words[0], "show");

	assert_int_equal(parse(&a, err, sizeof(err), "--instance", "edge1", "--json", "--timeout",
				 "0.25", "set", "--x", NULL),
		0);
	assert_string_equal(a.socket, "/run/tollgate/edge1.ctl");
	assert_true(a.json);
	assert_int_equal(a.timeout_ms, 250);
	assert_int_equal(a.n_words, 2);
	assert_string_equal(a.words[1], "--x"); /* options end at the command */

	assert_int_equal(
		parse(&a, err, sizeof(err), "--socket=/tmp/x.ctl", "--", "--help", NULL), 0);
	assert_string_equal(a.socket, "/tmp/x.ctl");
	assert_false(a.help);
	assert_string_equal(a.words[0], "--help");

	assert_int_equal(parse(&a, err, sizeof(err), "--help", NULL), 0);
	assert_true(a.help);

	assert_int_equal(parse(&a, err, sizeof(err), NULL), -EINVAL);
	assert_string_equal(err, "no command given");
	assert_int_equal(parse(&a, err, sizeof(err), "--json", NULL), -EINVAL);
	assert_string_equal(err, "no command given");
	assert_int_equal(parse(&a, err, sizeof(err), "--frob", "help", NULL), -EINVAL);
	assert_string_equal(err, "unknown option '--frob'");
	assert_int_equal(parse(&a, err, sizeof(err), "--socket", NULL), -EINVAL);
	assert_string_equal(err, "--socket needs an argument");
	assert_int_equal(
		parse(&a, err, sizeof(err), "--instance", "a", "--socket", "/x", "help", NULL),
		-EINVAL);
	assert_non_null(strstr(err, "give one"));
	assert_int_equal(
		parse(&a, err, sizeof(err), "--instance", "../etc", "help", NULL), -EINVAL);
	assert_non_null(strstr(err, "--instance '../etc': not an instance name"));
	assert_int_equal(parse(&a, err, sizeof(err), "--timeout", "0", "help", NULL), -EINVAL);
	assert_non_null(strstr(err, "--timeout '0'"));
	assert_int_equal(parse(&a, err, sizeof(err), "--timeout", "soon", "help", NULL), -EINVAL);
	assert_int_equal(parse(&a, err, sizeof(err), "--socket", "", "help", NULL), -EINVAL);
}

/* ---- the request line ---------------------------------------------------------------------- */

static void test_request(void **state)
{
	char *words[] = {"set", "sip.user_agent", "a \"b\"\\"}, *bad[] = {"x", "\xff"}, *big[1];
	char err[256], *line;

	assert_int_equal(tgctl_request(words, 3, &line, err, sizeof(err)), 0);
	assert_string_equal(line, "[\"set\",\"sip.user_agent\",\"a \\\"b\\\"\\\\\"]");
	free(line);
	assert_int_equal(tgctl_request(bad, 2, &line, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "argument 2 is not UTF-8 text");
	big[0] = malloc(CP_CTL_LINE_MAX);
	memset(big[0], 'x', CP_CTL_LINE_MAX - 1);
	big[0][CP_CTL_LINE_MAX - 1] = '\0';
	assert_int_equal(tgctl_request(big, 1, &line, err, sizeof(err)), -EMSGSIZE);
	assert_null(line);
	free(big[0]);
}

/* ---- rendering ----------------------------------------------------------------------------- */

static void expect_render(const char *json, const char *want)
{
	json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(v);
	assert_non_null(out);
	tgctl_render(v, out);
	fclose(out);
	if (strcmp(buf, want) != 0)
		fail_msg("rendering %s:\n%s\nexpected:\n%s", json, buf, want);
	free(buf);
	json_decref(v);
}

static void test_render_table(void **state)
{
	/* keys of the first object first; numbers right-aligned; missing cells empty; no spaces
	 * at the end of a line */
	expect_render("[{\"key\": \"b2bua.max_calls\", \"value\": \"100000\", \"n\": 3},"
		      " {\"key\": \"sip.listen\", \"value\": \"127.0.0.1:5060\", \"n\": 12345,"
		      "  \"extra\": true},"
		      " {\"key\": \"x\", \"n\": 1.5}]",
		"KEY              VALUE               N  EXTRA\n"
		"b2bua.max_calls  100000              3\n"
		"sip.listen       127.0.0.1:5060  12345  true\n"
		"x                                  1.5\n");
	/* widths count characters, not bytes; nested values as compact JSON */
	expect_render("[{\"name\": \"\xc3\xa9t\xc3\xa9\", \"v\": [1, 2]},"
		      " {\"name\": \"ab\", \"v\": {\"a\": null}}]",
		"NAME  V\n"
		"\xc3\xa9t\xc3\xa9   [1,2]\n"
		"ab    {\"a\":null}\n");
	expect_render("[]", "(none)\n");
	expect_render("[\"a\", 2, null]", "a\n2\n-\n");
}

static void test_render_object(void **state)
{
	expect_render("{\"calls\": {\"active\": 3, \"cps\": 12.25, \"in_memory\": 4},"
		      " \"file\": \"/etc/tollgate.conf\","
		      " \"applied\": [\"b2bua.max_calls\", \"general.log\"],"
		      " \"none\": [],"
		      " \"lcores\": [{\"lcore\": \"worker 1\", \"rx_pkts\": 10},"
		      "              {\"lcore\": \"main\", \"rx_pkts\": 0}],"
		      " \"up\": false, \"rate\": 0.0}",
		"calls:\n"
		"  active:    3\n"
		"  cps:       12.25\n"
		"  in_memory: 4\n"
		"file:    /etc/tollgate.conf\n"
		"applied: b2bua.max_calls, general.log\n"
		"none:    (none)\n"
		"lcores:\n"
		"  LCORE     RX_PKTS\n"
		"  worker 1       10\n"
		"  main            0\n"
		"up:      false\n"
		"rate:    0\n");
	/* control characters cannot reach the terminal */
	expect_render("{\"a\": \"x\\ny\\u001b[2J\\u0085\"}", "a: x\\ny\\x1b[2J\\u0085\n");
	expect_render("\"plain\"", "plain\n");
	expect_render("42", "42\n");
	expect_render("null", "");
	expect_render("{}", "");
}

/* ---- the round trip ------------------------------------------------------------------------ */

struct stand_in {
	char dir[128];
	char path[200];
	pid_t pid;
};

enum behaviour { ANSWER, SILENT, HANG_UP, GARBAGE, STREAM };

/* The request the stand-in expects; STREAM: answer, then keep the connection until killed */
static const char *expected = "[\"help\"]\n";

/* A server in a child process: accepts one connection, reads the request line, and acts. */
static void stand_in_start(struct stand_in *s, enum behaviour b, const char *answer)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(s->dir, sizeof(s->dir), "%s/tgctl_test.XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/s.ctl", s->dir);
	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		char buf[CP_CTL_LINE_MAX];
		size_t len = 0;
		int c = accept(fd, NULL, NULL);

		while (c >= 0 && !memchr(buf, '\n', len) && len < sizeof(buf)) {
			ssize_t n = read(c, buf + len, sizeof(buf) - len);

			if (n <= 0)
				_exit(1);
			len += (size_t)n;
		}
		/* the request as sent, then the behaviour */
		if (len < 2 || strncmp(buf, expected, len) != 0)
			_exit(2);
		if (b == ANSWER || b == GARBAGE || b == STREAM)
			(void)!write(c, answer, strlen(answer));
		if (b == SILENT || b == STREAM)
			pause();
		_exit(0);
	}
	close(fd);
}

static void stand_in_stop(struct stand_in *s)
{
	int status;

	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	unlink(s->path);
	rmdir(s->dir);
}

static const char help_line[] = "[\"help\"]";

static void test_call_answer(void **state)
{
	struct stand_in s;
	json_t *a;
	char err[256];

	stand_in_start(
		&s, ANSWER, "{\"ok\":true,\"result\":[{\"command\":\"help\"}]}\n{\"ignored\":1}\n");
	assert_int_equal(tgctl_call(s.path, help_line, 2000, &a, err, sizeof(err)), 0);
	assert_true(json_is_true(json_object_get(a, "ok")));
	assert_int_equal(json_array_size(json_object_get(a, "result")), 1);
	json_decref(a);
	stand_in_stop(&s);

	stand_in_start(&s, ANSWER, "{\"ok\":false,\"error\":\"no\",\"code\":\"EINVAL\"}\n");
	assert_int_equal(tgctl_call(s.path, help_line, 2000, &a, err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(a, "error")), "no");
	json_decref(a);
	stand_in_stop(&s);
}

static void test_call_failures(void **state)
{
	struct stand_in s;
	json_t *a;
	char err[256];

	stand_in_start(&s, SILENT, NULL);
	assert_int_equal(tgctl_call(s.path, help_line, 200, &a, err, sizeof(err)), -ETIMEDOUT);
	assert_null(a);
	assert_non_null(strstr(err, "no answer from "));
	assert_non_null(strstr(err, "within 0.2 s"));
	stand_in_stop(&s);

	stand_in_start(&s, HANG_UP, NULL);
	assert_int_equal(tgctl_call(s.path, help_line, 2000, &a, err, sizeof(err)), -ECONNRESET);
	assert_non_null(strstr(err, "closed the connection without an answer"));
	stand_in_stop(&s);

	stand_in_start(&s, GARBAGE, "{\"ok\": \"maybe\"}\n");
	assert_int_equal(tgctl_call(s.path, help_line, 2000, &a, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "answered something that is not an answer"));
	stand_in_stop(&s);

	/* nothing there: the path and the errno by name */
	assert_int_equal(
		tgctl_call("/nonexistent/tg.ctl", help_line, 200, &a, err, sizeof(err)), -ENOENT);
	assert_string_equal(
		err, "cannot connect to /nonexistent/tg.ctl: No such file or directory (ENOENT)");
}

/* ---- events ------------------------------------------------------------------------------- */

static void test_events_args(void **state)
{
	struct tgctl_args a;
	char err[256];

	assert_int_equal(parse(&a, err, sizeof(err), "events", "--json", "--count", "3", "--call",
				 "5", "--for=2.5", "--kinds", "state", NULL),
		0);
	assert_true(a.events);
	assert_true(a.json);
	assert_int_equal(a.count, 3);
	assert_int_equal(a.for_ms, 2500);
	assert_int_equal(a.n_words, 5);
	assert_string_equal(a.words[0], "events");
	assert_string_equal(a.words[1], "--call");
	assert_string_equal(a.words[2], "5");
	assert_string_equal(a.words[3], "--kinds");
	assert_string_equal(a.words[4], "state");
	/* before the command too; a value of --call is a value, whatever it looks like */
	assert_int_equal(
		parse(&a, err, sizeof(err), "--count", "2", "events", "--call", "--json", NULL), 0);
	assert_int_equal(a.count, 2);
	assert_false(a.json);
	assert_int_equal(a.n_words, 3);
	assert_string_equal(a.words[2], "--json");
	/* other commands keep their words as they are */
	assert_int_equal(parse(&a, err, sizeof(err), "show", "--json", NULL), 0);
	assert_false(a.events);
	assert_false(a.json);
	assert_int_equal(a.n_words, 2);

	assert_int_equal(parse(&a, err, sizeof(err), "events", "--count", NULL), -EINVAL);
	assert_string_equal(err, "--count needs an argument");
	assert_int_equal(parse(&a, err, sizeof(err), "events", "--count", "0", NULL), -EINVAL);
	assert_non_null(strstr(err, "--count '0': expected a number of events"));
	assert_int_equal(parse(&a, err, sizeof(err), "events", "--count", "-1", NULL), -EINVAL);
	assert_int_equal(parse(&a, err, sizeof(err), "events", "--for", "0", NULL), -EINVAL);
	assert_non_null(strstr(err, "--for '0': expected seconds"));
	assert_int_equal(parse(&a, err, sizeof(err), "--for", "1", "show", "stats", NULL), -EINVAL);
	assert_string_equal(err, "--count and --for are for 'events' only");
}

static void test_render_event(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	const char *lines[] = {
		"{\"time\": \"2025-11-25T23:04:48.422Z\", \"call\": 17, \"kind\": \"state\","
		" \"from\": \"dialing\", \"to\": \"ringing\", \"event\": \"provisional\"}",
		"{\"time\": \"2025-11-25T23:04:48.500Z\", \"call\": 17, \"kind\": "
		"\"media-quality\", \"stream\": 0, \"leg\": \"caller\", \"mos\": 4.41,"
		" \"rtt_ms\": null, \"x\": \"a\\nb\"}",
		"{\"time\": \"2025-11-25T23:04:49.000Z\", \"call\": 17, \"kind\": \"established\"}",
		"{\"dropped\": 4}",
		"{\"end\": true, \"reason\": \"call 17 ended\"}",
		"{\"end\": true}",
	};

	assert_non_null(out);
	for (unsigned i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		json_t *j = json_loads(lines[i], 0, NULL);

		assert_non_null(j);
		tgctl_render_event(j, out);
		json_decref(j);
	}
	fclose(out);
	assert_string_equal(buf,
		"2025-11-25T23:04:48.422Z  call 17  state  from=dialing to=ringing "
		"event=provisional\n"
		"2025-11-25T23:04:48.500Z  call 17  media-quality  stream=0 leg=caller mos=4.41 "
		"rtt_ms=- x=a\\nb\n"
		"2025-11-25T23:04:49.000Z  call 17  established\n"
		"-- 4 events lost (this client or the appliance's queue fell behind)\n"
		"-- end of the stream: call 17 ended\n"
		"-- end of the stream\n");
	free(buf);
}

#define HEAD "{\"ok\":true,\"stream\":true}\n"
#define EV(n) "{\"time\":\"2025-11-25T23:04:48.422Z\",\"call\":" #n ",\"kind\":\"established\"}\n"

/* tgctl events against the stand-in; its output and messages into *out, *errs */
static int run_events(
	struct stand_in *s, enum behaviour b, const char *answer, char **out, char **errs, ...)
{
	static char *argv[16];
	struct tgctl_args a;
	char err[256], *line;
	size_t olen = 0, elen = 0;
	FILE *o = open_memstream(out, &olen), *e = open_memstream(errs, &elen);
	int argc = 1, rc;
	va_list ap;

	expected = "[\"events\"]\n";
	stand_in_start(s, b, answer);
	argv[0] = "tgctl";
	argv[argc++] = "--socket";
	argv[argc++] = s->path;
	va_start(ap, errs);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	assert_int_equal(tgctl_args_parse(argc, argv, &a, err, sizeof(err)), 0);
	assert_int_equal(tgctl_request(a.words, a.n_words, &line, err, sizeof(err)), 0);
	rc = tgctl_events(&a, line, o, e);
	free(line);
	fclose(o);
	fclose(e);
	stand_in_stop(s);
	expected = "[\"help\"]\n";
	return rc;
}

static void test_events_stream(void **state)
{
	struct stand_in s;
	char *out, *errs;
	uint64_t t0;

	/* --count: three events came, two printed, exit 0; the note is not an event */
	assert_int_equal(run_events(&s, STREAM, HEAD EV(1) "{\"dropped\":4}\n" EV(2) EV(3), &out,
				 &errs, "events", "--json", "--count", "2", NULL),
		0);
	assert_string_equal(out, EV(1) "{\"dropped\":4}\n" EV(2));
	assert_string_equal(errs, "");
	free(out);
	free(errs);

	/* --for: the stream stays open and quiet; exit 0 when the time is up */
	t0 = tg_now_ns();
	assert_int_equal(
		run_events(&s, STREAM, HEAD EV(1), &out, &errs, "events", "--for", "0.3", NULL), 0);
	assert_true(tg_now_ns() - t0 >= 300 * TG_NS_PER_MS);
	assert_true(tg_now_ns() - t0 < 3000 * TG_NS_PER_MS);
	assert_string_equal(out, "2025-11-25T23:04:48.422Z  call 1  established\n");
	free(out);
	free(errs);

	/* the end line: printed, exit 0 */
	assert_int_equal(run_events(&s, STREAM,
				 HEAD EV(1) "{\"end\":true,\"reason\":\"call 1 ended\"}\n" EV(2),
				 &out, &errs, "events", NULL),
		0);
	assert_string_equal(out, "2025-11-25T23:04:48.422Z  call 1  established\n"
				 "-- end of the stream: call 1 ended\n");
	free(out);
	free(errs);

	/* the control plane goes: what came is printed, exit 3 */
	assert_int_equal(
		run_events(&s, ANSWER, HEAD EV(1) EV(2), &out, &errs, "events", "--json", NULL), 3);
	assert_string_equal(out, EV(1) EV(2));
	assert_non_null(strstr(errs, "tgctl: the stream stopped: "));
	assert_non_null(strstr(errs, "closed the connection"));
	free(out);
	free(errs);

	/* refused: the message, exit 1 */
	assert_int_equal(run_events(&s, ANSWER,
				 "{\"ok\":false,\"error\":\"events: --kinds 'x': unknown kind "
				 "'x'\",\"code\":\"EINVAL\"}\n",
				 &out, &errs, "events", NULL),
		1);
	assert_string_equal(errs, "tgctl: events: --kinds 'x': unknown kind 'x'\n");
	free(out);
	free(errs);
}

/* SIGTERM while it waits (or before: it is blocked until the wait): exit 0, nothing lost */
static void test_events_signal(void **state)
{
	struct stand_in s;
	sigset_t term, old;
	char *out, *errs;
	pid_t killer;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	killer = fork();
	assert_true(killer >= 0);
	if (killer == 0) {
		usleep(200 * 1000);
		kill(getppid(), SIGTERM);
		_exit(0);
	}
	assert_int_equal(run_events(&s, STREAM, HEAD EV(1), &out, &errs, "events", "--json",
				 "--for", "20", NULL),
		0);
	waitpid(killer, NULL, 0);
	assert_string_equal(out, EV(1));
	free(out);
	free(errs);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_render_table),
		cmocka_unit_test(test_render_object),
		cmocka_unit_test(test_call_answer),
		cmocka_unit_test(test_call_failures),
		cmocka_unit_test(test_events_args),
		cmocka_unit_test(test_render_event),
		cmocka_unit_test(test_events_stream),
		cmocka_unit_test(test_events_signal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
