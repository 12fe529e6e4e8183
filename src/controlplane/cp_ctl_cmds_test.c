/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's own commands through the real wiring: the app started from a command line
 * (config file and overrides) as tollgate-cp starts it, its control socket, and a client on it.
 * show config (all, a section, a key, none), set (a live key and its apply hook; bad values,
 * boot-only, reload-only and unknown keys refused with their messages), reload (a new routing
 * table handed to the session layer, live keys set, boot-only differences listed, the command
 * line's overrides still winning; a file that no longer loads or builds changes nothing; no file
 * at all), and show stats without a dataplane.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "cp_app.h"
#include "cp_ctl_cmds.h"
#include "tg_cli.h"
#include "tg_log.h"
#include "tg_time.h"

struct fx {
	struct cp_app app;
	struct tg_general_config gc;
	struct cp_route_config rc;
	struct tg_cfg *cfg;
	struct tg_cli cli;
	char dir[64], conf[96], sock[96], sock_set[128], inst[32];
	char *argv[16];
	struct cp_route_table *routes; /* what the session layer would hold */
	unsigned routes_set;
	int fd;
	size_t len;
	char buf[1 << 16];
};

static void write_conf(struct fx *f, const char *text)
{
	FILE *out = fopen(f->conf, "w");

	assert_non_null(out);
	fputs(text, out);
	fclose(out);
}

static void take_routes(void *arg, struct cp_route_table *routes)
{
	struct fx *f = arg;

	cp_route_table_free(f->routes);
	f->routes = routes;
	f->routes_set++;
}

static void stats_json(void *arg, json_t *out)
{
	json_object_set_new(out, "calls", json_pack("{s:i}", "active", 7));
}

static const char first_conf[] = "[controlplane]\n"
				 "status_interval = 0\n"
				 "[routing]\n"
				 "rules = 1800*@* => 10.1.1.1:5060\n";

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int argc = 0;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/cp_ctl_cmds.XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->conf, sizeof(f->conf), "%s/t.conf", f->dir);
	snprintf(f->sock, sizeof(f->sock), "%s/{instance}.ctl", f->dir);
	snprintf(f->sock_set, sizeof(f->sock_set), "controlplane.control_socket=%s", f->sock);
	snprintf(f->inst, sizeof(f->inst), "cmds%d", (int)getpid());
	write_conf(f, first_conf);

	f->cfg = tg_cfg_new();
	assert_non_null(f->cfg);
	assert_int_equal(tg_general_config_register(f->cfg, &f->gc), 0);
	assert_int_equal(cp_config_register(f->cfg, &f->app.cfg), 0);
	assert_int_equal(cp_route_config_register(f->cfg, &f->rc), 0);
	f->argv[argc++] = "t";
	f->argv[argc++] = "--config";
	f->argv[argc++] = f->conf;
	f->argv[argc++] = "--instance";
	f->argv[argc++] = f->inst;
	f->argv[argc++] = "--set";
	f->argv[argc++] = "sip.listen=127.0.0.1:0";
	f->argv[argc++] = "--set";
	f->argv[argc++] = f->sock_set;
	f->argv[argc++] = "--set";
	f->argv[argc++] = "controlplane.ping_interval=0";
	f->cli.prog = "t";
	f->cli.summary = "test";
	assert_int_equal(tg_cli_parse(&f->cli, f->cfg, &f->gc, argc, f->argv), TG_CLI_RUN);
	tg_log_apply_spec("warn");

	f->app.sig_fd = -1;
	f->app.instance = f->gc.instance;
	f->app.registry = f->cfg;
	f->app.cli = &f->cli;
	assert_int_equal(cp_app_start(&f->app), 0);
	assert_non_null(f->app.ctl);
	assert_int_equal(cp_ctl_cmds_register(f->app.ctl, &f->app), 0);
	f->app.set_routes = take_routes;
	f->app.stats_json = stats_json;
	f->app.hook_arg = f;

	/* the socket's path came from the template and the instance */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.ctl", f->dir, f->inst);
	f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_int_equal(connect(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char path[128];

	close(f->fd);
	cp_app_finish(&f->app);
	cp_route_table_free(f->routes);
	tg_cfg_free(f->cfg);
	tg_log_apply_spec("info");
	unlink(f->conf);
	snprintf(path, sizeof(path), "%s/%s.ctl", f->dir, f->inst);
	assert_int_equal(access(path, F_OK), -1); /* removed at the end */
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- a client ------------------------------------------------------------------------------ */

/* Sends one request (words as given, JSON-quoted here) and returns the parsed answer. */
static json_t *ask(struct fx *f, const char *request)
{
	uint64_t t0 = tg_now_ns();
	size_t n = strlen(request);
	char *nl;
	json_t *a;

	assert_int_equal(send(f->fd, request, n, MSG_NOSIGNAL), (ssize_t)n);
	assert_int_equal(send(f->fd, "\n", 1, MSG_NOSIGNAL), 1);
	while (!(nl = memchr(f->buf, '\n', f->len))) {
		ssize_t r;

		assert_true(tg_now_ns() - t0 < 2 * TG_NS_PER_S);
		assert_int_equal(cp_loop_run_for(f->app.loop, 5 * TG_NS_PER_MS), 0);
		r = recv(f->fd, f->buf + f->len, sizeof(f->buf) - f->len, MSG_DONTWAIT);
		if (r > 0)
			f->len += (size_t)r;
	}
	*nl = '\0';
	a = json_loads(f->buf, 0, NULL);
	assert_non_null(a);
	f->len -= (size_t)(nl + 1 - f->buf);
	memmove(f->buf, nl + 1, f->len);
	return a;
}

static json_t *ask_ok(struct fx *f, const char *request)
{
	json_t *a = ask(f, request), *r;

	if (!json_is_true(json_object_get(a, "ok")))
		fail_msg("%s: %s", request, json_string_value(json_object_get(a, "error")));
	r = json_incref(json_object_get(a, "result"));
	json_decref(a);
	return r;
}

static void ask_fails(struct fx *f, const char *request, const char *code, const char *needle)
{
	json_t *a = ask(f, request);
	const char *msg = json_string_value(json_object_get(a, "error"));

	assert_true(json_is_false(json_object_get(a, "ok")));
	assert_string_equal(json_string_value(json_object_get(a, "code")), code);
	if (!msg || !strstr(msg, needle))
		fail_msg("%s: error '%s' lacks '%s'", request, msg, needle);
	json_decref(a);
}

static const char *field(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool has(const json_t *array, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(array, i, v) if (strcmp(json_string_value(v), s) == 0) return true;
	return false;
}

/* ---- the commands -------------------------------------------------------------------------- */

static void test_show_config(void **state)
{
	struct fx *f = *state;
	json_t *r = ask_ok(f, "[\"show\", \"config\"]");

	assert_int_equal(json_array_size(r), tg_cfg_count(f->cfg));
	json_decref(r);
	r = ask_ok(f, "[\"show\", \"config\", \"routing\"]");
	assert_int_equal(json_array_size(r), 2);
	assert_string_equal(field(json_array_get(r, 0), "key"), "routing.rules");
	assert_string_equal(field(json_array_get(r, 0), "value"), "1800*@* => 10.1.1.1:5060");
	assert_string_equal(field(json_array_get(r, 0), "changes"), "reload");
	json_decref(r);
	r = ask_ok(f, "[\"show\", \"config\", \"controlplane.ping_interval\"]");
	assert_int_equal(json_array_size(r), 1);
	assert_string_equal(field(json_array_get(r, 0), "value"), "0ms");
	assert_string_equal(field(json_array_get(r, 0), "changes"), "live");
	json_decref(r);
	ask_fails(f, "[\"show\", \"config\", \"rout\"]", "ENOENT",
		"show config: no key or section 'rout'");
}

static void test_set(void **state)
{
	struct fx *f = *state;
	json_t *r = ask_ok(f, "[\"set\", \"controlplane.status_interval\", \"7s\"]");

	assert_string_equal(field(r, "key"), "controlplane.status_interval");
	assert_string_equal(field(r, "value"), "7s");
	assert_string_equal(field(r, "was"), "0ms");
	assert_int_equal(f->app.cfg.status_interval_ms, 7000);
	json_decref(r);

	/* a key whose change acts at once */
	json_decref(ask_ok(f, "[\"set\", \"general.log\", \"warn,cp=debug\"]"));
	assert_true(tg_log_enabled(CP, TG_LOG_DEBUG));
	assert_false(tg_log_enabled(SIP, TG_LOG_INFO));

	ask_fails(f, "[\"set\", \"controlplane.status_interval\", \"soon\"]", "EINVAL",
		"controlplane.status_interval = 'soon': expected a duration");
	ask_fails(f, "[\"set\", \"sip.listen\", \"127.0.0.1:5070\"]", "EPERM",
		"sip.listen is boot-only: change it in the config file and restart");
	ask_fails(f, "[\"set\", \"routing.default\", \"10.0.0.1:5060\"]", "EPERM",
		"routing.default is not live: change it in the config file and reload");
	ask_fails(f, "[\"set\", \"nope.key\", \"1\"]", "ENOENT", "unknown key 'nope.key'");
	ask_fails(f, "[\"set\", \"general.log\"]", "EINVAL", "usage: set KEY VALUE");
	assert_int_equal(f->app.cfg.status_interval_ms, 7000);
}

static void test_reload(void **state)
{
	struct fx *f = *state;
	json_t *r;

	write_conf(f, "[controlplane]\n"
		      "status_interval = 3s\n"
		      "ping_interval = 2s\n" /* the command line says 0: it wins */
		      "[sip]\n"
		      "user_agent = other\n"
		      "[routing]\n"
		      "rules = 1800*@* => 10.1.1.1:5060, *@example.com => [fdec::1]:5060/tcp\n"
		      "default = 10.9.9.9:5060\n");
	r = ask_ok(f, "[\"reload\"]");
	assert_string_equal(field(r, "file"), f->conf);
	assert_true(json_is_true(json_object_get(r, "routing_replaced")));
	assert_true(has(json_object_get(r, "applied"), "routing.rules"));
	assert_true(has(json_object_get(r, "applied"), "routing.default"));
	assert_true(has(json_object_get(r, "applied"), "controlplane.status_interval"));
	assert_false(has(json_object_get(r, "applied"), "controlplane.ping_interval"));
	assert_int_equal(json_array_size(json_object_get(r, "not_applied_need_restart")), 1);
	assert_true(has(json_object_get(r, "not_applied_need_restart"), "sip.user_agent"));
	json_decref(r);
	assert_int_equal(f->routes_set, 1);
	assert_int_equal(cp_route_count(f->routes), 2);
	assert_int_equal(f->app.cfg.status_interval_ms, 3000);
	assert_int_equal(f->app.cfg.ping_interval_ms, 0);
	assert_string_equal(f->rc.def, "10.9.9.9:5060");
	assert_string_equal(f->app.cfg.sip_user_agent, "tollgate");

	/* the same file again: nothing to do */
	r = ask_ok(f, "[\"reload\"]");
	assert_true(json_is_false(json_object_get(r, "routing_replaced")));
	assert_int_equal(json_array_size(json_object_get(r, "applied")), 0);
	json_decref(r);
	assert_int_equal(f->routes_set, 1);

	/* a file that does not load changes nothing, not even the keys it got right */
	write_conf(f, "[controlplane]\nstatus_interval = 9s\n[routing]\nrules = x\n");
	ask_fails(f, "[\"reload\"]", "EINVAL", "rule 1: missing '=>' in 'x' (nothing changed)");
	write_conf(f, "[controlplane]\nstatus_interval = 9s\nbogus = 1\n");
	ask_fails(f, "[\"reload\"]", "EINVAL", "unknown key 'bogus' (nothing changed)");
	unlink(f->conf);
	ask_fails(f, "[\"reload\"]", "ENOENT", "cannot open");
	assert_int_equal(f->routes_set, 1);
	assert_int_equal(f->app.cfg.status_interval_ms, 3000);
	assert_int_equal(cp_route_count(f->routes), 2);

	f->cli.config_file = NULL;
	ask_fails(f, "[\"reload\"]", "ENOENT", "started without --config");
}

static void test_show_stats(void **state)
{
	struct fx *f = *state;
	json_t *r = ask_ok(f, "[\"show\", \"stats\"]");

	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(r, "calls"), "active")), 7);
	assert_true(json_is_integer(json_object_get(json_object_get(r, "sip"), "rx_msgs")));
	assert_true(json_is_integer(json_object_get(json_object_get(r, "sip"), "tcp_open")));
	assert_true(json_is_false(json_object_get(json_object_get(r, "channel"), "up")));
	assert_true(json_is_integer(json_object_get(json_object_get(r, "channel"), "requests")));
	assert_non_null(strstr(field(json_object_get(r, "dataplane"), "error"),
		"no dataplane stats for instance 'cmds"));
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_show_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_stats, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
