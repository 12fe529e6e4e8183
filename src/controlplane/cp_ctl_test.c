/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket against real Unix sockets in a temporary directory: the server runs on a
 * real loop, the clients are plain sockets this file drives by hand. The request parser on its
 * own (every kind of bad line and its message), answers and errors over the socket (unknown
 * command with the words that would fit, wrong argument count with the usage), a handler that
 * answers later, pipelined requests answered in order even behind a late one, a client that
 * closes while its request is in progress, a line over the limit (error, then closed), the
 * connection limit, a client that shuts down its side, help, registration rules, the docs, and
 * the socket file: directory and modes, a stale file replaced, a live one taken over only when
 * its server goes, a plain file refused. Streams: lines in order and a handler's end (the
 * connection goes on), a client that does not read (lines dropped beyond the bound, then the
 * {"dropped": N} line says exactly how many, the owner's on_room once read), lines the owner
 * lost itself, a client that stops the stream by sending or by closing (on_close once,
 * everything freed: the ASan build checks leaks), a stream begun after its client went, and
 * the server freed under an open stream. Waits are bounded by conditions, not fixed sleeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "cp_ctl.h"
#include "cp_ctl_testing.h"
#include "cp_loop.h"
#include "cp_loop_testing.h"
#include "tg_time.h"

#define MAX_HELD 8

struct fx {
	struct cp_loop *loop;
	struct cp_ctl *ctl;
	char dir[64];
	char path[CP_CTL_PATH_MAX];
	struct cp_ctl_req *held[MAX_HELD]; /* requests of "later", not answered yet */
	char held_tag[MAX_HELD][16];
	unsigned n_held;
	struct cp_ctl_req *stream; /* the stream of "watch", until it ends or closes */
	unsigned closed, rooms;	   /* its on_close and on_room calls */
};

/* ---- commands ------------------------------------------------------------------------------ */

static void cmd_echo(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned nargs)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < nargs; i++)
		json_array_append_new(a, json_string(args[i]));
	cp_ctl_ok(req, a);
}

static void cmd_later(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned nargs)
{
	struct fx *f = arg;

	assert_true(f->n_held < MAX_HELD);
	snprintf(f->held_tag[f->n_held], sizeof(f->held_tag[0]), "%s", args[0]);
	f->held[f->n_held++] = req;
}

static void cmd_pair(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned nargs)
{
	cp_ctl_ok(req, json_pack("{s:s, s:s}", "a", args[0], "b", args[1]));
}

static void cmd_nothing(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned nargs)
{
	cp_ctl_fail(req, EPERM, "nothing to see | here");
}

static void register_rows(struct fx *f)
{
	const struct cp_ctl_cmd rows[] = {
		{"echo", "[WORD...]", 0, CP_CTL_MAX_ARGS, "Answers its arguments.", cmd_echo, f},
		{"later", "TAG", 1, 1, "Answers when the test says so.", cmd_later, f},
		{"pair", "A B", 2, 2, "Answers {a, b}.", cmd_pair, f},
		{"show things", "", 0, 0, "Refuses | always.", cmd_nothing, f},
		{"show stuff", "", 0, 0, "Refuses, too.", cmd_nothing, f},
		{"show stuff deep", "", 0, 0, "The longest match wins.", cmd_echo, f},
	};

	assert_int_equal(cp_ctl_register(f->ctl, rows, sizeof(rows) / sizeof(rows[0])), 0);
}

/* ---- fixture ------------------------------------------------------------------------------- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/cp_ctl_test.XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	/* a directory that does not exist yet: the server makes it */
	snprintf(f->path, sizeof(f->path), "%s/run/t.ctl", f->dir);
	f->loop = cp_loop_new();
	assert_non_null(f->loop);
	f->ctl = cp_ctl_new(f->loop, f->path);
	assert_non_null(f->ctl);
	register_rows(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char sub[96];

	cp_ctl_free(f->ctl);
	cp_loop_free(f->loop);
	/* the socket file went with the server */
	assert_int_equal(access(f->path, F_OK), -1);
	snprintf(sub, sizeof(sub), "%s/run", f->dir);
	rmdir(sub);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void expect_ok(json_t *a, const char *result_json)
{
	json_t *want = json_loads(result_json, JSON_DECODE_ANY, NULL);

	assert_non_null(a);
	assert_non_null(want);
	assert_true(json_is_true(json_object_get(a, "ok")));
	if (!json_equal(json_object_get(a, "result"), want)) {
		char *got = json_dumps(a, JSON_COMPACT);

		fail_msg("answer %s, expected result %s", got, result_json);
	}
	json_decref(want);
	json_decref(a);
}

static void expect_error(json_t *a, const char *code, const char *needle)
{
	const char *msg;

	assert_non_null(a);
	assert_true(json_is_false(json_object_get(a, "ok")));
	assert_string_equal(json_string_value(json_object_get(a, "code")), code);
	msg = json_string_value(json_object_get(a, "error"));
	assert_non_null(msg);
	if (!strstr(msg, needle))
		fail_msg("error '%s' lacks '%s'", msg, needle);
	json_decref(a);
}

/* ---- the parser alone ---------------------------------------------------------------------- */

static int parse(const char *line, struct cp_ctl_words *w, char *err, size_t errlen)
{
	return cp_ctl_parse(line, strlen(line), w, err, errlen);
}

static void expect_parse_error(const char *line, int rc, const char *msg)
{
	struct cp_ctl_words w;
	char err[256] = "";

	assert_int_equal(parse(line, &w, err, sizeof(err)), rc);
	if (strcmp(err, msg) != 0 &&
		!(msg[strlen(msg) - 1] == '*' && strncmp(err, msg, strlen(msg) - 1) == 0))
		fail_msg("'%s': error '%s', expected '%s'", line, err, msg);
	assert_int_equal(w.n, 0);
}

static void test_parse(void **state)
{
	struct cp_ctl_words w;
	char err[256], line[CP_CTL_LINE_MAX + 16], word[CP_CTL_WORD_MAX + 2];

	assert_int_equal(parse(" [\"call\", \"hangup\", \"17\", \"\\u00e9t\\u00e9\", \"\"] \r", &w,
				 err, sizeof(err)),
		0);
	assert_int_equal(w.n, 5);
	assert_string_equal(w.w[0], "call");
	assert_string_equal(w.w[2], "17");
	assert_string_equal(w.w[3], "\xc3\xa9t\xc3\xa9");
	assert_string_equal(w.w[4], "");

	expect_parse_error("show stats", -EINVAL, "request: not JSON: *");
	expect_parse_error("[\"a\"] x", -EINVAL, "request: not JSON: *");
	expect_parse_error("[\"a\"", -EINVAL, "request: not JSON: *");
	expect_parse_error("{\"a\": 1}", -EINVAL, "request: an object, not an array of strings");
	expect_parse_error("\"help\"", -EINVAL, "request: a string, not an array of strings");
	expect_parse_error(
		"[]", -EINVAL, "request: an empty array (expected [\"command\", \"arg\", ...])");
	expect_parse_error("[\"set\", 5]", -EINVAL, "request: element 2 is a number, not a string");
	expect_parse_error(
		"[\"set\", \"a\", null]", -EINVAL, "request: element 3 is null, not a string");
	expect_parse_error("[[\"x\"]]", -EINVAL, "request: element 1 is an array, not a string");
	expect_parse_error(
		"[\"a\\nb\"]", -EINVAL, "request: element 1 has a control character (0x0a)");
	expect_parse_error("[\"ok\", \"\\u0085\"]", -EINVAL,
		"request: element 2 has a control character (0x85)");
	expect_parse_error(
		"[\"a\\u007f\"]", -EINVAL, "request: element 1 has a control character (0x7f)");
	expect_parse_error("[\"a\\u0000b\"]", -EINVAL, "request: not JSON: *");
	expect_parse_error("[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\","
			   "\"12\",\"13\"]",
		-EINVAL, "request: 13 elements, at most 12");

	/* bounds: a word of CP_CTL_WORD_MAX passes, one more byte does not */
	memset(word, 'x', sizeof(word));
	word[CP_CTL_WORD_MAX] = '\0';
	snprintf(line, sizeof(line), "[\"%s\"]", word);
	assert_int_equal(parse(line, &w, err, sizeof(err)), 0);
	assert_int_equal(strlen(w.w[0]), CP_CTL_WORD_MAX);
	word[CP_CTL_WORD_MAX] = 'x';
	word[CP_CTL_WORD_MAX + 1] = '\0';
	snprintf(line, sizeof(line), "[\"%s\"]", word);
	expect_parse_error(line, -EINVAL, "request: element 1 is longer than 1024 bytes");

	memset(line, ' ', sizeof(line));
	memcpy(line, "[\"a\"]", 5);
	assert_int_equal(cp_ctl_parse(line, CP_CTL_LINE_MAX - 1, &w, err, sizeof(err)), 0);
	assert_int_equal(cp_ctl_parse(line, CP_CTL_LINE_MAX, &w, err, sizeof(err)), -EMSGSIZE);
	assert_string_equal(err, "request: longer than 8191 bytes");
}

static void test_socket_path(void **state)
{
	char buf[CP_CTL_PATH_MAX], tmpl[200];

	assert_int_equal(cp_ctl_socket_path(CP_CTL_SOCKET_DEFAULT, "edge-1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/tollgate/edge-1.ctl");
	assert_int_equal(cp_ctl_socket_path("/x/{instance}/{instance}", "a", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/x/a/a");
	assert_int_equal(cp_ctl_socket_path("/x/{inst}", "a", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/x/{inst}");
	assert_int_equal(cp_ctl_socket_path("/x/{instance}", "../etc", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(cp_ctl_socket_path("/x/{instance}", "", buf, sizeof(buf)), -EINVAL);
	memset(tmpl, 'a', sizeof(tmpl));
	tmpl[0] = '/';
	tmpl[CP_CTL_PATH_MAX - 1] = '\0';
	assert_int_equal(cp_ctl_socket_path(tmpl, "a", buf, sizeof(buf)), 0);
	tmpl[CP_CTL_PATH_MAX - 1] = 'a';
	tmpl[CP_CTL_PATH_MAX] = '\0';
	assert_int_equal(cp_ctl_socket_path(tmpl, "a", buf, sizeof(buf)), -ENAMETOOLONG);
}

/* ---- over the socket ----------------------------------------------------------------------- */

static void test_answers_and_errors(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path);

	cp_test_say(c, "[\"echo\", \"a\", \"b c\"]\n");
	expect_ok(cp_test_hear(f->loop, c), "[\"a\", \"b c\"]");
	cp_test_say(c, "[\"pair\", \"1\", \"2\"]\n");
	expect_ok(cp_test_hear(f->loop, c), "{\"a\": \"1\", \"b\": \"2\"}");
	/* the longest row wins: "show stuff deep" over "show stuff" */
	cp_test_say(c, "[\"show\", \"stuff\", \"deep\"]\n");
	expect_ok(cp_test_hear(f->loop, c), "[]");

	/* a bad request is answered and the connection goes on */
	cp_test_say(c, "not json\n");
	expect_error(cp_test_hear(f->loop, c), "EINVAL", "request: not JSON: ");
	cp_test_say(c, "[\"echo\", 7]\n");
	expect_error(
		cp_test_hear(f->loop, c), "EINVAL", "request: element 2 is a number, not a string");
	cp_test_say(c, "[]\n");
	expect_error(cp_test_hear(f->loop, c), "EINVAL", "request: an empty array");
	cp_test_say(c, "[\"echo\", \"\\u0007\"]\n");
	expect_error(cp_test_hear(f->loop, c), "EINVAL",
		"request: element 2 has a control character (0x07)");

	/* blank lines are no requests */
	cp_test_say(c, "\n  \r\n[\"echo\"]\n");
	expect_ok(cp_test_hear(f->loop, c), "[]");

	cp_test_say(c, "[\"foo\", \"bar\"]\n");
	expect_error(cp_test_hear(f->loop, c), "ENOENT", "unknown command 'foo bar' (try: help)");
	cp_test_say(c, "[\"show\", \"nonsense\", \"x\"]\n");
	expect_error(cp_test_hear(f->loop, c), "ENOENT",
		"unknown command 'show nonsense x' (show: things, stuff; try: help)");
	cp_test_say(c, "[\"show\", \"stuff\", \"shallow\"]\n");
	expect_error(cp_test_hear(f->loop, c), "EINVAL",
		"show stuff: 1 argument given; usage: show stuff");
	cp_test_say(c, "[\"pair\", \"x\"]\n");
	expect_error(cp_test_hear(f->loop, c), "EINVAL", "pair: 1 argument given; usage: pair A B");
	cp_test_say(c, "[\"pair\", \"x\", \"y\", \"z\"]\n");
	expect_error(cp_test_hear(f->loop, c), "EINVAL", "usage: pair A B");
	cp_test_say(c, "[\"show\", \"things\"]\n");
	expect_error(cp_test_hear(f->loop, c), "EPERM", "nothing to see | here");
	cp_test_hang_up(c);
}

static void test_async_answer(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path);

	cp_test_say(c, "[\"later\", \"1\"]\n");
	CP_TEST_RUN_UNTIL(f->loop, f->n_held == 1, 2000);
	cp_test_silent(f->loop, c, 50);
	cp_ctl_ok(f->held[0], json_string("done"));
	expect_ok(cp_test_hear(f->loop, c), "\"done\"");
	/* the connection goes on */
	cp_test_say(c, "[\"echo\", \"after\"]\n");
	expect_ok(cp_test_hear(f->loop, c), "[\"after\"]");
	cp_test_hang_up(c);
}

/* Three requests in one write; the first answers late: the others wait for it, in order. */
static void test_pipelined_in_order(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path);

	cp_test_say(c,
		"[\"later\", \"1\"]\n[\"echo\", \"2\"]\n[\"later\", \"3\"]\n[\"echo\", \"4\"]\n");
	CP_TEST_RUN_UNTIL(f->loop, f->n_held == 1, 2000);
	cp_test_silent(f->loop, c, 50);
	assert_int_equal(f->n_held, 1); /* the third is not taken before the first is answered */
	cp_ctl_fail(f->held[0], ETIMEDOUT, "first");
	expect_error(cp_test_hear(f->loop, c), "ETIMEDOUT", "first");
	expect_ok(cp_test_hear(f->loop, c), "[\"2\"]");
	CP_TEST_RUN_UNTIL(f->loop, f->n_held == 2, 2000);
	assert_string_equal(f->held_tag[1], "3");
	cp_test_silent(f->loop, c, 20);
	cp_ctl_ok(f->held[1], NULL);
	expect_ok(cp_test_hear(f->loop, c), "null");
	expect_ok(cp_test_hear(f->loop, c), "[\"4\"]");
	cp_test_hang_up(c);
}

/* The client goes while its request is in progress: the late answer goes nowhere, harmlessly,
 * and the request held behind it is never taken. */
static void test_client_closes_pending(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path), *d;

	cp_test_say(c, "[\"later\", \"1\"]\n[\"later\", \"2\"]\n");
	CP_TEST_RUN_UNTIL(f->loop, f->n_held == 1, 2000);
	cp_test_hang_up(c);
	CP_TEST_RUN_UNTIL(f->loop, cp_ctl_conns(f->ctl) == 0, 2000);
	cp_ctl_ok(f->held[0], json_string("into the void"));
	cp_test_run_ms(f->loop, 20);
	assert_int_equal(f->n_held, 1);

	/* and a request still waiting when the server goes is freed with it (teardown) */
	d = cp_test_dial(f->path);
	cp_test_say(d, "[\"later\", \"3\"]\n");
	CP_TEST_RUN_UNTIL(f->loop, f->n_held == 2, 2000);
	cp_test_hang_up(d);
}

static void test_line_too_long(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path);
	char *big = malloc(CP_CTL_LINE_MAX + 100);

	assert_non_null(big);
	memset(big, ' ', CP_CTL_LINE_MAX + 99);
	big[CP_CTL_LINE_MAX + 99] = '\0';
	memcpy(big, "[\"echo\", \"", 10);
	cp_test_say(c, big);
	expect_error(cp_test_hear(f->loop, c), "EMSGSIZE", "request: longer than 8191 bytes");
	assert_null(cp_test_hear(f->loop, c)); /* then closed */
	cp_test_hang_up(c);
	free(big);

	/* a line of exactly the limit, newline included, is fine */
	c = cp_test_dial(f->path);
	big = malloc(CP_CTL_LINE_MAX + 1);
	assert_non_null(big);
	memset(big, ' ', CP_CTL_LINE_MAX);
	memcpy(big, "[\"echo\"]", 8);
	big[CP_CTL_LINE_MAX - 1] = '\n';
	big[CP_CTL_LINE_MAX] = '\0';
	cp_test_say(c, big);
	expect_ok(cp_test_hear(f->loop, c), "[]");
	cp_test_hang_up(c);
	free(big);
}

/* A client that shuts down its side gets its answers, the last line even without a newline,
 * then the server closes. */
static void test_half_close(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path);

	cp_test_say(c, "[\"echo\", \"1\"]\n[\"echo\", \"2\"]");
	shutdown(c->fd, SHUT_WR);
	expect_ok(cp_test_hear(f->loop, c), "[\"1\"]");
	expect_ok(cp_test_hear(f->loop, c), "[\"2\"]");
	assert_null(cp_test_hear(f->loop, c));
	cp_test_hang_up(c);
	CP_TEST_RUN_UNTIL(f->loop, cp_ctl_conns(f->ctl) == 0, 2000);
}

static void test_connection_limit(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c[CP_CTL_MAX_CONNS], *extra;

	/* one at a time: the listen backlog is shorter than the limit */
	for (unsigned i = 0; i < CP_CTL_MAX_CONNS; i++) {
		c[i] = cp_test_dial(f->path);
		CP_TEST_RUN_UNTIL(f->loop, cp_ctl_conns(f->ctl) == i + 1, 2000);
	}
	extra = cp_test_dial(f->path);
	expect_error(
		cp_test_hear(f->loop, extra), "EBUSY", "too many control connections (at most 64)");
	assert_null(cp_test_hear(f->loop, extra));
	cp_test_hang_up(extra);
	/* the others still work, and a place freed is taken again */
	cp_test_say(c[17], "[\"echo\", \"x\"]\n");
	expect_ok(cp_test_hear(f->loop, c[17]), "[\"x\"]");
	cp_test_hang_up(c[0]);
	CP_TEST_RUN_UNTIL(f->loop, cp_ctl_conns(f->ctl) == CP_CTL_MAX_CONNS - 1, 2000);
	c[0] = cp_test_dial(f->path);
	cp_test_say(c[0], "[\"echo\", \"y\"]\n");
	expect_ok(cp_test_hear(f->loop, c[0]), "[\"y\"]");
	for (unsigned i = 0; i < CP_CTL_MAX_CONNS; i++)
		cp_test_hang_up(c[i]);
}

static void test_help(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path);
	json_t *a, *rows;

	cp_test_say(c, "[\"help\"]\n");
	a = cp_test_hear(f->loop, c);
	rows = json_object_get(a, "result");
	assert_int_equal(json_array_size(rows), 7);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(rows, 0), "command")), "help");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(rows, 3), "command")), "pair");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(rows, 3), "usage")), "A B");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 3), "help")),
		"Answers {a, b}.");
	json_decref(a);

	cp_test_say(c, "[\"help\", \"show\"]\n");
	expect_ok(cp_test_hear(f->loop, c),
		"[{\"command\": \"show things\", \"usage\": \"\", \"help\": \"Refuses | always.\"},"
		" {\"command\": \"show stuff\", \"usage\": \"\", \"help\": \"Refuses, too.\"},"
		" {\"command\": \"show stuff deep\", \"usage\": \"\","
		" \"help\": \"The longest match wins.\"}]");
	cp_test_say(c, "[\"help\", \"show\", \"nope\"]\n");
	expect_error(
		cp_test_hear(f->loop, c), "ENOENT", "help: no command starts with 'show nope'");
	cp_test_hang_up(c);
}

static void test_register_rules(void **state)
{
	struct fx *f = *state;
	const struct cp_ctl_cmd dup[] = {{"pair", "", 0, 0, "Again.", cmd_echo, f}};
	const struct cp_ctl_cmd twice[] = {
		{"new one", "", 0, 0, "A.", cmd_echo, f},
		{"new one", "", 0, 0, "B.", cmd_echo, f},
	};
	const struct cp_ctl_cmd bad[][1] = {
		{{"Show", "", 0, 0, "Upper case.", cmd_echo, f}},
		{{"a  b", "", 0, 0, "Two spaces.", cmd_echo, f}},
		{{" a", "", 0, 0, "Leading space.", cmd_echo, f}},
		{{"", "", 0, 0, "Empty.", cmd_echo, f}},
		{{"a b c d e", "", 0, 0, "Five words.", cmd_echo, f}},
		{{"x", "", 0, 9, "Too many arguments.", cmd_echo, f}},
		{{"x", "", 2, 1, "min > max.", cmd_echo, f}},
		{{"x", "", 0, 0, "", cmd_echo, f}},
		{{"x", "", 0, 0, "No handler.", NULL, f}},
		{{"x", NULL, 0, 0, "No usage.", cmd_echo, f}},
	};
	unsigned n = cp_ctl_count(f->ctl);

	assert_int_equal(cp_ctl_register(f->ctl, dup, 1), -EEXIST);
	assert_int_equal(cp_ctl_register(f->ctl, twice, 2), -EEXIST);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cp_ctl_register(f->ctl, bad[i], 1), -EINVAL);
	assert_int_equal(cp_ctl_count(f->ctl), n);
	assert_string_equal(cp_ctl_at(f->ctl, 0)->words, "help");
	assert_null(cp_ctl_at(f->ctl, n));
}

static void test_docs(void **state)
{
	struct fx *f = *state;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	cp_ctl_write_docs(f->ctl, out);
	fclose(out);
	assert_non_null(strstr(buf, "# Operator commands (tgctl)\n"));
	assert_non_null(strstr(buf, "| `help` | `[COMMAND...]` | Lists the commands"));
	assert_non_null(strstr(buf, "| `pair` | `A B` | Answers {a, b}. |\n"));
	assert_non_null(strstr(buf, "| `show things` |  | Refuses \\| always. |\n"));
	assert_non_null(strstr(buf, "a request line of at most 8191 bytes"));
	free(buf);
}

static void test_json_str(void **state)
{
	json_t *j = cp_ctl_json_str("a\xff"
				    "b\xc3\xa9\xe2\x82");

	assert_non_null(j);
	assert_string_equal(json_string_value(j), "a\xef\xbf\xbd"
						  "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd");
	json_decref(j);
	j = cp_ctl_json_str(NULL);
	assert_true(json_is_null(j));
	json_decref(j);
}

/* The socket file: made in a new directory 0750, itself 0660; a stale one replaced; a live
 * one waited for; a file that is no socket left alone. */
static void test_socket_file(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[96], stale[96], plain[96];
	struct cp_ctl *other;
	struct cp_test_client *c;
	struct stat st;
	int fd;

	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	snprintf(dir, sizeof(dir), "%s/run", f->dir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0750);

	/* another server on the same path waits while this one listens, and takes over when it
	 * goes */
	other = cp_ctl_new(f->loop, f->path);
	assert_non_null(other);
	assert_true(cp_ctl_listening(f->ctl));
	assert_false(cp_ctl_listening(other));
	cp_test_run_ms(f->loop, 1200);
	assert_false(cp_ctl_listening(other));
	cp_ctl_free(f->ctl);
	f->ctl = other;
	register_rows(f);
	CP_TEST_RUN_UNTIL(f->loop, cp_ctl_listening(other), 2000);
	c = cp_test_dial(f->path);
	cp_test_say(c, "[\"echo\", \"standby\"]\n");
	expect_ok(cp_test_hear(f->loop, c), "[\"standby\"]");
	cp_test_hang_up(c);

	/* a socket file nobody listens on is replaced */
	snprintf(stale, sizeof(stale), "%s/stale.ctl", f->dir);
	memcpy(sa.sun_path, stale, strlen(stale) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(stat(stale, &st), 0);
	other = cp_ctl_new(f->loop, stale);
	assert_non_null(other);
	memcpy(f->path, stale, strlen(stale) + 1); /* cp_test_dial() the new one */
	c = cp_test_dial(f->path);
	cp_test_say(c, "[\"help\", \"help\"]\n");
	CP_TEST_RUN_UNTIL(f->loop, recv(c->fd, c->buf, 1, MSG_PEEK | MSG_DONTWAIT) == 1, 2000);
	cp_test_hang_up(c);
	cp_ctl_free(other);
	assert_int_equal(access(stale, F_OK), -1);
	snprintf(f->path, sizeof(f->path), "%s/run/t.ctl", f->dir);

	/* a plain file is not ours to remove */
	snprintf(plain, sizeof(plain), "%s/plain", f->dir);
	fd = open(plain, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	errno = 0;
	assert_null(cp_ctl_new(f->loop, plain));
	assert_int_equal(errno, EEXIST);
	assert_int_equal(access(plain, F_OK), 0);
	unlink(plain);
}

static void test_table_only(void **state)
{
	struct cp_ctl *c = cp_ctl_new(NULL, NULL);

	assert_non_null(c);
	assert_int_equal(cp_ctl_count(c), 1);
	assert_int_equal(cp_ctl_conns(c), 0);
	cp_ctl_free(c);
}

/* ---- streams ------------------------------------------------------------------------------ */

static void on_stream_close(void *arg, struct cp_ctl_req *req)
{
	struct fx *f = arg;

	assert_ptr_equal(req, f->stream);
	f->stream = NULL;
	f->closed++;
}

static void on_stream_room(void *arg, struct cp_ctl_req *req)
{
	struct fx *f = arg;

	assert_ptr_equal(req, f->stream);
	f->rooms++;
}

/* watch: a stream at once; watch-later: held in f->held, begun by the test */
static void cmd_watch(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned nargs)
{
	struct fx *f = arg;

	assert_null(f->stream);
	f->stream = req;
	cp_ctl_stream_begin(req, on_stream_close, on_stream_room, f);
}

static void register_stream_rows(struct fx *f)
{
	const struct cp_ctl_cmd rows[] = {
		{"watch", "", 0, 0, "A stream.", cmd_watch, f},
		{"watch-later", "TAG", 1, 1, "Held; the test begins its stream.", cmd_later, f},
	};

	assert_int_equal(cp_ctl_register(f->ctl, rows, 2), 0);
}

/* A line of the stream: {"seq": n, "pad": "..."} of about 100 bytes */
static int send_seq(struct fx *f, unsigned n)
{
	static const char pad[] =
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

	return cp_ctl_stream_send(f->stream, json_pack("{s:i, s:s}", "seq", (int)n, "pad", pad));
}

static void expect_stream_head(json_t *a)
{
	assert_non_null(a);
	assert_true(json_is_true(json_object_get(a, "ok")));
	assert_true(json_is_true(json_object_get(a, "stream")));
	assert_null(json_object_get(a, "result"));
	json_decref(a);
}

/* The next line is {"seq": n}; frees it */
static void expect_seq(json_t *a, unsigned n)
{
	assert_non_null(a);
	if (json_integer_value(json_object_get(a, "seq")) != (json_int_t)n) {
		char *got = json_dumps(a, JSON_COMPACT);

		fail_msg("line %s, expected seq %u", got, n);
	}
	json_decref(a);
}

static void test_stream_lines(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path);
	json_t *a;

	register_stream_rows(f);
	cp_test_say(c, "[\"watch\"]\n");
	expect_stream_head(cp_test_hear(f->loop, c));
	assert_non_null(f->stream);
	assert_int_equal(cp_ctl_streams(f->ctl), 1);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(send_seq(f, i), 0);
	for (unsigned i = 0; i < 3; i++)
		expect_seq(cp_test_hear(f->loop, c), i);
	/* lines the owner lost itself are told before the next line */
	cp_ctl_stream_lost(f->stream, 5);
	assert_int_equal(send_seq(f, 8), 0);
	a = cp_test_hear(f->loop, c);
	assert_int_equal(json_integer_value(json_object_get(a, "dropped")), 5);
	json_decref(a);
	expect_seq(cp_test_hear(f->loop, c), 8);
	assert_false(cp_ctl_stream_full(f->stream));
	cp_test_silent(f->loop, c, 20);

	/* the handler ends it: the last line, and the connection takes requests again */
	cp_ctl_stream_end(f->stream, "no more");
	f->stream = NULL;
	a = cp_test_hear(f->loop, c);
	assert_true(json_is_true(json_object_get(a, "end")));
	assert_string_equal(json_string_value(json_object_get(a, "reason")), "no more");
	json_decref(a);
	assert_int_equal(cp_ctl_streams(f->ctl), 0);
	cp_test_say(c, "[\"echo\", \"after\"]\n");
	expect_ok(cp_test_hear(f->loop, c), "[\"after\"]");

	/* a stream begun later, after the handler worked on it */
	cp_test_say(c, "[\"watch-later\", \"x\"]\n");
	CP_TEST_RUN_UNTIL(f->loop, f->n_held == 1, 2000);
	f->stream = f->held[0];
	cp_ctl_stream_begin(f->stream, on_stream_close, on_stream_room, f);
	expect_stream_head(cp_test_hear(f->loop, c));
	assert_int_equal(send_seq(f, 1), 0);
	expect_seq(cp_test_hear(f->loop, c), 1);
	cp_ctl_stream_end(f->stream, NULL);
	f->stream = NULL;
	a = cp_test_hear(f->loop, c);
	assert_true(json_is_true(json_object_get(a, "end")));
	assert_null(json_object_get(a, "reason"));
	json_decref(a);
	cp_test_say(c, "[\"echo\"]\n");
	expect_ok(cp_test_hear(f->loop, c), "[]");
	assert_int_equal(f->closed, 0); /* ended by the owner: no on_close */
	cp_test_hang_up(c);
}

/*
 * A client that reads nothing: the first lines fill the kernel's buffer and the stream's queue,
 * the rest are dropped and counted (the queue never grows past its bound). When the client
 * reads, it gets every queued line in order, then {"dropped": N} with exactly the lines it
 * missed, and the owner its on_room; the next line comes through.
 */
static void test_stream_backed_up(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path);
	unsigned total = 5000, queued = 0, dropped = 0, next = 0;
	json_t *a;

	register_stream_rows(f);
	cp_test_say(c, "[\"watch\"]\n");
	expect_stream_head(cp_test_hear(f->loop, c));
	for (unsigned i = 0; i < total; i++) {
		int rc = send_seq(f, i);

		assert_true(rc == 0 || rc == -ENOBUFS);
		if (rc == 0) {
			assert_int_equal(dropped, 0); /* nothing is read meanwhile: no gap closes */
			queued++;
		} else {
			dropped++;
		}
	}
	/* bounded: the kernel's (small) buffer and CP_CTL_STREAM_MAX, ~100 bytes a line */
	print_message("%u lines queued, %u dropped\n", queued, dropped);
	assert_true(dropped > 0);
	assert_true(queued * 100 < CP_CTL_STREAM_MAX + 4 * CP_CTL_STREAM_SNDBUF);
	assert_true(cp_ctl_stream_full(f->stream));
	cp_test_run_ms(f->loop, 20);
	assert_int_equal(f->rooms, 0);

	/* now it reads: the lines in order, then how many it missed */
	while (next < queued) {
		expect_seq(cp_test_hear(f->loop, c), next);
		next++;
	}
	a = cp_test_hear(f->loop, c);
	if (json_integer_value(json_object_get(a, "dropped")) != (json_int_t)dropped) {
		char *got = json_dumps(a, JSON_COMPACT);

		fail_msg("after %u lines: %s, expected {\"dropped\": %u}", queued, got, dropped);
	}
	json_decref(a);
	CP_TEST_RUN_UNTIL(f->loop, f->rooms == 1, 2000);
	assert_false(cp_ctl_stream_full(f->stream));
	assert_int_equal(send_seq(f, total), 0);
	expect_seq(cp_test_hear(f->loop, c), total);
	cp_test_silent(f->loop, c, 20);
	assert_int_equal(f->closed, 0);
	cp_test_hang_up(c);
	CP_TEST_RUN_UNTIL(f->loop, f->closed == 1, 2000);
	assert_null(f->stream);
	assert_int_equal(cp_ctl_streams(f->ctl), 0);
}

/* A client stops a stream by sending anything, or by closing with lines still queued: the
 * owner hears it once, from the loop, and everything is freed. */
static void test_stream_client_stops(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path);

	register_stream_rows(f);
	cp_test_say(c, "[\"watch\"]\n");
	expect_stream_head(cp_test_hear(f->loop, c));
	assert_int_equal(send_seq(f, 0), 0);
	expect_seq(cp_test_hear(f->loop, c), 0);
	cp_test_say(c, "stop\n");
	CP_TEST_RUN_UNTIL(f->loop, f->closed == 1, 2000);
	assert_null(cp_test_hear(f->loop, c)); /* then closed */
	cp_test_hang_up(c);
	CP_TEST_RUN_UNTIL(f->loop, cp_ctl_conns(f->ctl) == 0, 2000);
	assert_int_equal(cp_ctl_streams(f->ctl), 0);

	/* closed mid-stream with lines queued and dropped: told once, the sends meanwhile are
	 * refused, not queued */
	c = cp_test_dial(f->path);
	cp_test_say(c, "[\"watch\"]\n");
	expect_stream_head(cp_test_hear(f->loop, c));
	for (unsigned i = 0; i < 3000; i++)
		send_seq(f, i);
	cp_test_hang_up(c);
	CP_TEST_RUN_UNTIL(f->loop, f->closed == 2, 2000);
	assert_int_equal(cp_ctl_streams(f->ctl), 0);
	assert_int_equal(cp_ctl_conns(f->ctl), 0);

	/* a request pipelined behind the stream's is a stop too */
	c = cp_test_dial(f->path);
	cp_test_say(c, "[\"watch\"]\n[\"echo\"]\n");
	CP_TEST_RUN_UNTIL(f->loop, f->closed == 3, 2000);
	expect_stream_head(cp_test_hear(f->loop, c));
	assert_null(cp_test_hear(f->loop, c));
	cp_test_hang_up(c);

	/* the owner sends before it hears of the close: refused */
	c = cp_test_dial(f->path);
	cp_test_say(c, "[\"watch\"]\n");
	expect_stream_head(cp_test_hear(f->loop, c));
	shutdown(c->fd, SHUT_WR);
	CP_TEST_RUN_UNTIL(f->loop, cp_ctl_conns(f->ctl) == 0 || f->closed == 4, 2000);
	if (f->stream)
		assert_int_equal(send_seq(f, 1), -ENOTCONN);
	CP_TEST_RUN_UNTIL(f->loop, f->closed == 4, 2000);
	cp_test_hang_up(c);
	assert_int_equal(cp_ctl_streams(f->ctl), 0);
}

/* A stream begun after its client went is closed from the loop; one still open when the server
 * goes is closed by cp_ctl_free(). */
static void test_stream_gone(void **state)
{
	struct fx *f = *state;
	struct cp_test_client *c = cp_test_dial(f->path);

	register_stream_rows(f);
	cp_test_say(c, "[\"watch-later\", \"x\"]\n");
	CP_TEST_RUN_UNTIL(f->loop, f->n_held == 1, 2000);
	cp_test_hang_up(c);
	CP_TEST_RUN_UNTIL(f->loop, cp_ctl_conns(f->ctl) == 0, 2000);
	f->stream = f->held[0];
	cp_ctl_stream_begin(f->stream, on_stream_close, on_stream_room, f);
	assert_int_equal(f->closed, 0); /* not from inside the call */
	assert_int_equal(send_seq(f, 0), -ENOTCONN);
	CP_TEST_RUN_UNTIL(f->loop, f->closed == 1, 2000);
	assert_int_equal(cp_ctl_streams(f->ctl), 0);

	c = cp_test_dial(f->path);
	cp_test_say(c, "[\"watch\"]\n");
	expect_stream_head(cp_test_hear(f->loop, c));
	assert_int_equal(send_seq(f, 0), 0);
	cp_ctl_free(f->ctl);
	f->ctl = NULL;
	assert_int_equal(f->closed, 2);
	assert_null(f->stream);
	cp_test_hang_up(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_table_only),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test_setup_teardown(test_answers_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_closes_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_backed_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_client_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_gone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
