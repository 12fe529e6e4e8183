/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the config registry: each value type and its bounds, defaults, the INI loader's
 * error messages and all-or-nothing commit, hostile input, live vs boot-only set, and that the
 * generated docs and example file carry every key (the example loads back to the defaults).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg_config.h"

struct core_conf {
	bool flag;
	int64_t skew;
	uint32_t port;
	char name[16];
	char secret[16];
};

struct dp_conf {
	int idle;
	uint64_t timeout;
	char bind[INET6_ADDRSTRLEN];
	char peer[INET6_ADDRSTRLEN];
	int64_t anyint;
	uint32_t even;
};

static const char *const idle_modes[] = {"busy", "adaptive", NULL};

static int must_be_even(const void *value, char *err, size_t errlen)
{
	uint32_t v;

	memcpy(&v, value, sizeof(v));
	if (v % 2) {
		snprintf(err, errlen, "must be even");
		return -EINVAL;
	}
	return 0;
}

static const struct tg_cfg_key core_keys[] = {
	{.section = "core",
		.name = "flag",
		.type = TG_CFG_BOOL,
		TG_CFG_AT(struct core_conf, flag),
		.def = "off",
		.flags = TG_CFG_LIVE,
		.help = "A live switch | with a pipe."},
	{.section = "core",
		.name = "skew",
		.type = TG_CFG_INT,
		TG_CFG_AT(struct core_conf, skew),
		.def = "0",
		.min = -100,
		.max = 100,
		.help = "Signed skew."},
	{.section = "core",
		.name = "port",
		.type = TG_CFG_UINT,
		TG_CFG_AT(struct core_conf, port),
		.def = "5060",
		.min = 1,
		.max = 65535,
		.help = "SIP listening port."},
	{.section = "core",
		.name = "name",
		.type = TG_CFG_STRING,
		TG_CFG_AT(struct core_conf, name),
		.def = "tollgate",
		.flags = TG_CFG_LIVE,
		.help = "Name shown in Server headers."},
	{.section = "core",
		.name = "secret",
		.type = TG_CFG_STRING,
		TG_CFG_AT(struct core_conf, secret),
		.flags = TG_CFG_LIVE | TG_CFG_SECRET,
		.help = "A shared secret, hidden from show config."},
};

static const struct tg_cfg_key dp_keys[] = {
	{.section = "dataplane",
		.name = "idle",
		.type = TG_CFG_ENUM,
		TG_CFG_AT(struct dp_conf, idle),
		.def = "busy",
		.choices = idle_modes,
		.flags = TG_CFG_LIVE,
		.help = "How worker lcores wait for packets."},
	{.section = "dataplane",
		.name = "timeout",
		.type = TG_CFG_DURATION,
		TG_CFG_AT(struct dp_conf, timeout),
		.def = "5s",
		.min = 10,
		.max = 3600000,
		.help = "Flow idle timeout."},
	{.section = "dataplane",
		.name = "bind",
		.type = TG_CFG_ADDR,
		TG_CFG_AT(struct dp_conf, bind),
		.def = "0.0.0.0",
		.help = "Address to bind."},
	{.section = "dataplane",
		.name = "peer",
		.type = TG_CFG_ADDR,
		TG_CFG_AT(struct dp_conf, peer),
		.flags = TG_CFG_LIVE,
		.help = "Optional peer address; empty for none."},
	{.section = "dataplane",
		.name = "anyint",
		.type = TG_CFG_INT,
		TG_CFG_AT(struct dp_conf, anyint),
		.def = "-1",
		.help = "Full-range integer."},
	{.section = "dataplane",
		.name = "even",
		.type = TG_CFG_UINT,
		TG_CFG_AT(struct dp_conf, even),
		.def = "2",
		.validate = must_be_even,
		.help = "An even number."},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct fix {
	struct tg_cfg *cfg;
	struct core_conf core;
	struct dp_conf dp;
	char err[512];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->cfg = tg_cfg_new();
	assert_non_null(f->cfg);
	assert_int_equal(tg_cfg_register(f->cfg, core_keys, N(core_keys), &f->core), 0);
	assert_int_equal(tg_cfg_register(f->cfg, dp_keys, N(dp_keys), &f->dp), 0);
	assert_int_equal(tg_cfg_apply_defaults(f->cfg, f->err, sizeof(f->err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	tg_cfg_free(f->cfg);
	free(f);
	return 0;
}

/* set with a fresh error buffer; returns rc */
static int set(struct fix *f, const char *key, const char *value, bool running)
{
	return tg_cfg_set(f->cfg, key, value, running, f->err, sizeof(f->err));
}

static int load(struct fix *f, const char *text)
{
	return tg_cfg_load_string(f->cfg, text, "t.conf", f->err, sizeof(f->err));
}

static void assert_err_has(struct fix *f, const char *needle)
{
	if (!strstr(f->err, needle))
		fail_msg("error '%s' lacks '%s'", f->err, needle);
}

static char *capture(void (*fn)(const struct tg_cfg *, FILE *), const struct tg_cfg *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	fn(cfg, out);
	fclose(out);
	return buf;
}

static char *write_tmp(const char *data, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	int fd;

	assert_true(asprintf(&path, "%s/tg_config_test.XXXXXX", dir ? dir : "/tmp") > 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_defaults(void **state)
{
	struct fix *f = *state;

	assert_false(f->core.flag);
	assert_int_equal(f->core.skew, 0);
	assert_int_equal(f->core.port, 5060);
	assert_string_equal(f->core.name, "tollgate");
	assert_string_equal(f->core.secret, "");
	assert_int_equal(f->dp.idle, 0);
	assert_int_equal(f->dp.timeout, 5000);
	assert_string_equal(f->dp.bind, "0.0.0.0");
	assert_string_equal(f->dp.peer, "");
	assert_int_equal(f->dp.anyint, -1);
	assert_int_equal(f->dp.even, 2);
	assert_int_equal(tg_cfg_count(f->cfg), N(core_keys) + N(dp_keys));
	assert_ptr_equal(tg_cfg_key_at(f->cfg, 0), &core_keys[0]);
	assert_null(tg_cfg_key_at(f->cfg, 100));

	/* defaults come back after changes */
	assert_int_equal(set(f, "core.port", "6000", false), 0);
	assert_int_equal(tg_cfg_apply_defaults(f->cfg, f->err, sizeof(f->err)), 0);
	assert_int_equal(f->core.port, 5060);
}

static void test_bool(void **state)
{
	static const char *const yes[] = {"true", "yes", "on", "1", "TRUE", "On"};
	static const char *const no[] = {"false", "no", "off", "0", "False", "OFF"};
	struct fix *f = *state;

	for (size_t i = 0; i < N(yes); i++) {
		f->core.flag = false;
		assert_int_equal(set(f, "core.flag", yes[i], true), 0);
		assert_true(f->core.flag);
		assert_int_equal(set(f, "core.flag", no[i], true), 0);
		assert_false(f->core.flag);
	}
	assert_int_equal(set(f, "core.flag", "maybe", true), -EINVAL);
	assert_err_has(f, "core.flag = 'maybe': expected true|false");
	assert_int_equal(set(f, "core.flag", "", true), -EINVAL);
	assert_int_equal(set(f, "core.flag", "2", true), -EINVAL);
}

static void test_int(void **state)
{
	struct fix *f = *state;

	assert_int_equal(set(f, "core.skew", "-100", false), 0);
	assert_int_equal(f->core.skew, -100);
	assert_int_equal(set(f, "core.skew", "+7", false), 0);
	assert_int_equal(f->core.skew, 7);
	assert_int_equal(set(f, "core.skew", "0x10", false), 0);
	assert_int_equal(f->core.skew, 16);
	assert_int_equal(set(f, "core.skew", "-0X1f", false), 0);
	assert_int_equal(f->core.skew, -31);
	assert_int_equal(set(f, "core.skew", "010", false), 0); /* decimal, not octal */
	assert_int_equal(f->core.skew, 10);

	assert_int_equal(set(f, "core.skew", "101", false), -EINVAL);
	assert_err_has(f, "out of range: expected -100..100");
	assert_int_equal(set(f, "core.skew", "-101", false), -EINVAL);
	assert_int_equal(f->core.skew, 10);

	static const char *const bad[] = {"", "12x", " 5", "5 ", "0x", "0x0x5", "--5", "+-5", "1e3",
		"5.0", "99999999999999999999", "0x1ffffffffffffffff"};
	for (size_t i = 0; i < N(bad); i++) {
		assert_int_equal(set(f, "core.skew", bad[i], false), -EINVAL);
		assert_int_equal(f->core.skew, 10);
	}
	assert_int_equal(set(f, "core.skew", "12x", false), -EINVAL);
	assert_err_has(f, "expected an integer in -100..100");

	/* a key with no bounds takes the whole int64 range, and no more */
	assert_int_equal(set(f, "dataplane.anyint", "-9223372036854775808", false), 0);
	assert_true(f->dp.anyint == INT64_MIN);
	assert_int_equal(set(f, "dataplane.anyint", "9223372036854775807", false), 0);
	assert_true(f->dp.anyint == INT64_MAX);
	assert_int_equal(set(f, "dataplane.anyint", "0x7fffffffffffffff", false), 0);
	assert_int_equal(set(f, "dataplane.anyint", "9223372036854775808", false), -EINVAL);
	assert_int_equal(set(f, "dataplane.anyint", "-9223372036854775809", false), -EINVAL);
	assert_true(f->dp.anyint == INT64_MAX);
}

static void test_uint(void **state)
{
	struct fix *f = *state;

	assert_int_equal(set(f, "core.port", "65535", false), 0);
	assert_int_equal(f->core.port, 65535);
	assert_int_equal(set(f, "core.port", "0x13c4", false), 0);
	assert_int_equal(f->core.port, 5060);
	assert_int_equal(set(f, "core.port", "0", false), -EINVAL);
	assert_err_has(f, "core.port = '0': out of range: expected 1..65535");
	assert_int_equal(set(f, "core.port", "65536", false), -EINVAL);
	assert_int_equal(set(f, "core.port", "-1", false), -EINVAL);
	assert_int_equal(set(f, "core.port", "+1", false), -EINVAL);
	assert_int_equal(set(f, "core.port", "4294967297", false), -EINVAL);
	assert_int_equal(set(f, "core.port", "80a", false), -EINVAL);
	assert_err_has(f, "expected an unsigned integer in 1..65535");
	assert_int_equal(f->core.port, 5060);

	/* the row's validate hook runs on the parsed value and its reason reaches the caller */
	assert_int_equal(set(f, "dataplane.even", "4", false), 0);
	assert_int_equal(set(f, "dataplane.even", "5", false), -EINVAL);
	assert_err_has(f, "dataplane.even = '5': must be even");
	assert_int_equal(f->dp.even, 4);
}

static void test_string(void **state)
{
	struct fix *f = *state;

	assert_int_equal(set(f, "core.name", "fifteen-chars-x", true), 0); /* 15 + NUL fits */
	assert_string_equal(f->core.name, "fifteen-chars-x");
	assert_int_equal(set(f, "core.name", "sixteen-chars-xx", true), -EINVAL);
	assert_err_has(f, "too long: 16 characters, at most 15");
	assert_string_equal(f->core.name, "fifteen-chars-x"); /* not truncated, unchanged */
	/* ';' glued to a word is no comment */
	assert_int_equal(set(f, "core.name", "a b#c;d", true), 0);
	assert_string_equal(f->core.name, "a b#c;d");
	assert_int_equal(set(f, "core.name", "", true), 0);
	assert_string_equal(f->core.name, "");

	/* what could not be written back to a config file, or would escape to a terminal */
	static const char *const bad[] = {" lead", "trail ", "a ;b", ";x", "esc\x1b[0m", "nl\nx"};
	for (size_t i = 0; i < N(bad); i++)
		assert_int_equal(set(f, "core.name", bad[i], true), -EINVAL);
	assert_string_equal(f->core.name, "");
}

static void test_enum(void **state)
{
	struct fix *f = *state;
	char buf[32];

	assert_int_equal(set(f, "dataplane.idle", "adaptive", true), 0);
	assert_int_equal(f->dp.idle, 1);
	assert_int_equal(set(f, "dataplane.idle", "BUSY", true), 0);
	assert_int_equal(f->dp.idle, 0);
	assert_int_equal(tg_cfg_get(f->cfg, "dataplane.idle", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "busy");
	assert_int_equal(set(f, "dataplane.idle", "fast", true), -EINVAL);
	assert_string_equal(f->err, "dataplane.idle = 'fast': expected one of busy|adaptive");
	assert_int_equal(set(f, "dataplane.idle", "1", true), -EINVAL); /* names, not indexes */
	assert_int_equal(f->dp.idle, 0);
}

static void test_duration(void **state)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} good[] = {{"250ms", 250}, {"5s", 5000}, {"2m", 120000}, {"1h", 3600000}, {"100", 100},
		{"10", 10}, {"0s", 0}};
	struct fix *f = *state;
	char buf[32];

	for (size_t i = 0; i < N(good) - 1; i++) {
		assert_int_equal(set(f, "dataplane.timeout", good[i].text, false), 0);
		assert_int_equal(f->dp.timeout, good[i].ms);
	}
	assert_int_equal(set(f, "dataplane.timeout", "90s", false), 0);
	assert_int_equal(tg_cfg_get(f->cfg, "dataplane.timeout", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "90s");
	assert_int_equal(set(f, "dataplane.timeout", "120s", false), 0);
	assert_int_equal(tg_cfg_get(f->cfg, "dataplane.timeout", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2m");

	assert_int_equal(set(f, "dataplane.timeout", "9ms", false), -EINVAL);
	assert_err_has(f, "out of range: expected 10ms..1h");
	assert_int_equal(set(f, "dataplane.timeout", "61m", false), -EINVAL);
	assert_int_equal(set(f, "dataplane.timeout", "0s", false), -EINVAL);

	static const char *const bad[] = {"", "5 s", "1.5s", "-1s", "5S", "5sec", "s", "0x10",
		"99999999999999999999h", "9999999999999999h", "5s5"};
	for (size_t i = 0; i < N(bad); i++)
		assert_int_equal(set(f, "dataplane.timeout", bad[i], false), -EINVAL);
	assert_int_equal(set(f, "dataplane.timeout", "5 s", false), -EINVAL);
	assert_err_has(f, "expected a duration in 10ms..1h");
	assert_int_equal(f->dp.timeout, 120000);
}

static void test_addr(void **state)
{
	static const char *const good[] = {
		"192.0.2.1", "0.0.0.0", "::1", "2001:db8::1", "::ffff:192.0.2.1", "fe80::1:2:3:4"};
	static const char *const bad[] = {"1.2.3", "256.1.1.1", "1.2.3.4.5", "example.com", "[::1]",
		"2001:db8::1%eth0", "01.2.3.4", "::1 ", "", "1.2.3.4:5060"};
	struct fix *f = *state;

	for (size_t i = 0; i < N(good); i++) {
		assert_int_equal(set(f, "dataplane.bind", good[i], false), 0);
		assert_string_equal(f->dp.bind, good[i]);
	}
	for (size_t i = 0; i < N(bad); i++) {
		assert_int_equal(set(f, "dataplane.bind", bad[i], false), -EINVAL);
		assert_string_equal(f->dp.bind, "fe80::1:2:3:4");
	}
	assert_int_equal(set(f, "dataplane.bind", "1.2.3", false), -EINVAL);
	assert_err_has(f, "expected an IPv4 or IPv6 address");

	/* the optional one (empty default) takes "" as "not set" */
	assert_int_equal(set(f, "dataplane.peer", "2001:db8::2", true), 0);
	assert_string_equal(f->dp.peer, "2001:db8::2");
	assert_int_equal(set(f, "dataplane.peer", "", true), 0);
	assert_string_equal(f->dp.peer, "");
	assert_int_equal(set(f, "dataplane.peer", "nope", true), -EINVAL);
}

static void test_set_live_boot(void **state)
{
	struct fix *f = *state;

	/* boot-only key: refused while running, accepted at boot */
	assert_int_equal(set(f, "core.port", "5080", true), -EPERM);
	assert_string_equal(
		f->err, "core.port is boot-only: change it in the config file and restart");
	assert_int_equal(f->core.port, 5060);
	assert_int_equal(set(f, "core.port", "5080", false), 0);
	assert_int_equal(f->core.port, 5080);

	/* live key: accepted either way */
	assert_int_equal(set(f, "dataplane.idle", "adaptive", true), 0);
	assert_int_equal(f->dp.idle, 1);

	assert_int_equal(set(f, "core.nope", "1", true), -ENOENT);
	assert_err_has(f, "unknown key 'core.nope'");
	assert_int_equal(set(f, "nope.flag", "1", true), -ENOENT);
	assert_int_equal(set(f, "coreflag", "1", true), -ENOENT);
	assert_int_equal(set(f, "core.", "1", true), -ENOENT);
	assert_int_equal(set(f, ".flag", "1", true), -ENOENT);
	assert_int_equal(set(f, "core.flag.x", "1", true), -ENOENT);
	assert_int_equal(set(f, NULL, "1", true), -ENOENT);
	assert_int_equal(set(f, "core.flag", NULL, true), -EINVAL);
	/* a NULL or zero-length error buffer is allowed */
	assert_int_equal(tg_cfg_set(f->cfg, "core.flag", "bad", true, NULL, 0), -EINVAL);
}

static void test_get(void **state)
{
	struct fix *f = *state;
	char buf[64], small[4];

	assert_int_equal(tg_cfg_get(f->cfg, "core.flag", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "false");
	assert_int_equal(tg_cfg_get(f->cfg, "core.port", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "5060");
	assert_int_equal(tg_cfg_get(f->cfg, "dataplane.anyint", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "-1");
	assert_int_equal(tg_cfg_get(f->cfg, "dataplane.bind", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0.0.0.0");
	assert_int_equal(set(f, "core.secret", "hunter2", true), 0);
	assert_int_equal(tg_cfg_get(f->cfg, "core.secret", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "hunter2");
	assert_int_equal(tg_cfg_get(f->cfg, "core.name", small, sizeof(small)), -ENOSPC);
	assert_string_equal(small, "tol");
	assert_int_equal(tg_cfg_get(f->cfg, "core.name", buf, 0), -ENOSPC);
	assert_int_equal(tg_cfg_get(f->cfg, "core.none", buf, sizeof(buf)), -ENOENT);
}

static const char good_file[] = "\xef\xbb\xbf# tollgate test config\r\n"
				"; semicolon comment\n"
				"\n"
				"[core]\n"
				"flag = yes\n"
				"  port = 5080 ; inline comment\n"
				"\tname=edge-1\n"
				"skew: -3\n"
				"[dataplane]\n"
				"idle = adaptive\r\n"
				"timeout = 250ms\n"
				"bind = 2001:db8::1\n"
				"[core]\n"
				"secret = s3cr#t\n"
				"   \n";

static void test_load_string(void **state)
{
	struct fix *f = *state;

	assert_int_equal(load(f, good_file), 0);
	assert_string_equal(f->err, "");
	assert_true(f->core.flag);
	assert_int_equal(f->core.port, 5080);
	assert_string_equal(f->core.name, "edge-1");
	assert_int_equal(f->core.skew, -3);
	assert_string_equal(f->core.secret, "s3cr#t");
	assert_int_equal(f->dp.idle, 1);
	assert_int_equal(f->dp.timeout, 250);
	assert_string_equal(f->dp.bind, "2001:db8::1");
	/* keys absent from the file keep their value */
	assert_string_equal(f->dp.peer, "");
	assert_int_equal(f->dp.even, 2);

	assert_int_equal(load(f, ""), 0);
	assert_int_equal(load(f, "\n\n# only comments\n"), 0);
	assert_int_equal(f->core.port, 5080);
}

static void test_load_file(void **state)
{
	struct fix *f = *state;
	char *path = write_tmp(good_file, sizeof(good_file) - 1);

	assert_int_equal(tg_cfg_load_file(f->cfg, path, f->err, sizeof(f->err)), 0);
	assert_int_equal(f->core.port, 5080);
	unlink(path);
	free(path);

	path = write_tmp("[core]\nport = 1\nport = 2\n", 25);
	assert_int_equal(tg_cfg_load_file(f->cfg, path, f->err, sizeof(f->err)), -EINVAL);
	assert_err_has(f, path); /* the path names the place */
	assert_err_has(f, ":3: [core] port: duplicate key (first set on line 2)");
	assert_int_equal(f->core.port, 5080);
	unlink(path);
	free(path);

	assert_int_equal(
		tg_cfg_load_file(f->cfg, "/nonexistent/tollgate.conf", f->err, sizeof(f->err)),
		-ENOENT);
	assert_string_equal(
		f->err, "cannot open /nonexistent/tollgate.conf: No such file or directory");
	assert_int_equal(tg_cfg_load_file(f->cfg, "/", f->err, sizeof(f->err)), -EISDIR);
	assert_int_equal(tg_cfg_load_file(f->cfg, "/dev/null", f->err, sizeof(f->err)), 0);
}

static void test_load_errors(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{"[core]\nflag = on\n[dataplane]\nidle = fast\n",
			"t.conf:4: [dataplane] idle = 'fast': expected one of busy|adaptive"},
		{"[core]\n\n[dataplan]\nidle = busy\n", "t.conf:3: unknown section [dataplan]"},
		{"[core]\n[nosuch]\n[dataplane]\n", "t.conf:2: unknown section [nosuch]"},
		{"[core]\nflags = on\n", "t.conf:2: [core] unknown key 'flags'"},
		{"flag = on\n", "t.conf:1: key 'flag' outside any [section]"},
		{"[core]\nflag = on\nport = 5\nflag = off\n",
			"t.conf:4: [core] flag: duplicate key (first set on line 2)"},
		{"[core]\nFlag = on\n", "t.conf:2: [core] unknown key 'Flag'"}, /* case matters */
		{"[core]\nflag = on\nthis line has no equals\nport = 0\n",
			"t.conf:3: cannot parse 'this line has no equals': expected key = value"},
		{"[core\nflag = on\n", "t.conf:1: cannot parse '[core': expected [section]"},
		{"[core]\n= on\n", "t.conf:2: [core] missing key name before '='"},
		{"[core]\nport = 70000\n",
			"t.conf:2: [core] port = '70000': out of range: expected "
			"1..65535"},
		{"[core]\nname = 0123456789abcdefXYZ\n",
			"t.conf:2: [core] name = '0123456789abcdefXYZ': too long: 19 characters, "
			"at "
			"most 15"},
		{"[dataplane]\ntimeout = 5 s\n",
			"t.conf:2: [dataplane] timeout = '5 s': expected a duration in 10ms..1h, "
			"like 250ms, 5s, 2m or 1h (a bare number is ms)"},
		{"[dataplane]\nbind = 10.0.0.256\n", "t.conf:2: [dataplane] bind = '10.0.0.256': "
						     "expected an IPv4 or IPv6 address"},
		/* indentation is stripped, so an indented line is never a continuation value */
		{"[core]\nname = a\n  b\n", "t.conf:3: cannot parse 'b': expected key = value"},
		{"[core]\nflag = on\x01\n", "t.conf:2: control character 0x01 in line"},
		{"[core]\nname = a\rb\n", "t.conf:2: control character 0x0d in line"},
		/* the first error wins, whoever found it */
		{"[core]\nbroken\nport = 0\n",
			"t.conf:2: cannot parse 'broken': expected key = value"},
		{"[core]\nport = 0\nbroken\n",
			"t.conf:2: [core] port = '0': out of range: expected "
			"1..65535"},
	};
	struct fix *f = *state;

	for (size_t i = 0; i < N(cases); i++) {
		struct core_conf core = f->core;
		struct dp_conf dp = f->dp;

		assert_int_equal(load(f, cases[i].text), -EINVAL);
		if (strcmp(f->err, cases[i].msg) != 0)
			fail_msg("case %zu: got '%s'\n want '%s'", i, f->err, cases[i].msg);
		assert_memory_equal(&core, &f->core, sizeof(core));
		assert_memory_equal(&dp, &f->dp, sizeof(dp));
	}

	/* long values are cut in the message */
	char text[300];
	snprintf(text, sizeof(text), "[core]\nname = %0150d\n", 0);
	assert_int_equal(load(f, text), -EINVAL);
	assert_err_has(f, "...': too long: 150 characters");
	assert_true(strlen(f->err) < 200);
}

/* A file with one bad line anywhere leaves every value as it was. */
static void test_all_or_nothing(void **state)
{
	static const char *const lines[] = {"[core]", "flag = on", "skew = 42", "port = 6060",
		"name = changed", "[dataplane]", "idle = adaptive", "timeout = 1m", "bind = ::1",
		"peer = 192.0.2.9", "anyint = 12", "even = 8"};
	struct fix *f = *state;
	struct core_conf core = f->core;
	struct dp_conf dp = f->dp;
	char text[1024];

	/* every position of a bad line, including after the last good one */
	for (size_t bad = 1; bad <= N(lines); bad++) {
		size_t off = 0;

		for (size_t i = 0; i < N(lines); i++) {
			if (i == bad)
				off += (size_t)snprintf(
					text + off, sizeof(text) - off, "even = 7\n");
			off += (size_t)snprintf(text + off, sizeof(text) - off, "%s\n", lines[i]);
		}
		if (bad == N(lines))
			off += (size_t)snprintf(
				text + off, sizeof(text) - off, "[core]\nport = 0\n");
		assert_int_equal(load(f, text), -EINVAL);
		assert_memory_equal(&core, &f->core, sizeof(core));
		assert_memory_equal(&dp, &f->dp, sizeof(dp));
	}

	/* and the same file without the bad line applies completely */
	size_t off = 0;
	for (size_t i = 0; i < N(lines); i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s\n", lines[i]);
	assert_int_equal(load(f, text), 0);
	assert_true(f->core.flag);
	assert_int_equal(f->core.skew, 42);
	assert_int_equal(f->core.port, 6060);
	assert_string_equal(f->core.name, "changed");
	assert_int_equal(f->dp.idle, 1);
	assert_int_equal(f->dp.timeout, 60000);
	assert_string_equal(f->dp.bind, "::1");
	assert_string_equal(f->dp.peer, "192.0.2.9");
	assert_int_equal(f->dp.anyint, 12);
	assert_int_equal(f->dp.even, 8);
}

static void test_hostile(void **state)
{
	struct fix *f = *state;
	struct core_conf core = f->core;
	struct dp_conf dp = f->dp;
	size_t big = 100000 * 16 + 64;
	char *text = malloc(big);
	size_t off;

	assert_non_null(text);

	/* a very long line: refused, not split into lines of its own */
	memset(text, 'a', 10000);
	memcpy(text, "[core]\nname = ", 14);
	memcpy(text + 5000, " port = 1", 9);
	text[10000] = '\0';
	assert_int_equal(load(f, text), -EINVAL);
	assert_err_has(f, "t.conf:2: line longer than");
	/* a long comment may not smuggle a key in either */
	text[7] = '#';
	assert_int_equal(load(f, text), -EINVAL);
	assert_err_has(f, "t.conf:2: line longer than");

	/* a long section name: unknown, whatever inih's 50-byte section buffer keeps of it */
	off = (size_t)snprintf(text, big, "[core%0100d]\nflag = on\n", 0);
	assert_int_equal(load(f, text), -EINVAL);
	assert_err_has(f, "t.conf:1: unknown section [core000");

	/* NUL bytes can only come through the buffer API */
	static const char nul[] = "[core]\nflag = on\n\0port = 1\n";
	assert_int_equal(
		tg_cfg_load_buf(f->cfg, nul, sizeof(nul) - 1, "buf", f->err, sizeof(f->err)),
		-EINVAL);
	assert_string_equal(f->err, "buf:3: NUL byte in line");
	assert_int_equal(tg_cfg_load_buf(f->cfg, NULL, 0, "buf", f->err, sizeof(f->err)), 0);
	assert_int_equal(tg_cfg_load_string(f->cfg, NULL, NULL, f->err, sizeof(f->err)), -EINVAL);

	/* 100k keys: the same one over and over stops at the first repeat */
	off = (size_t)snprintf(text, big, "[core]\n");
	for (int i = 0; i < 100000; i++)
		off += (size_t)snprintf(text + off, big - off, "flag = on\n");
	assert_int_equal(load(f, text), -EINVAL);
	assert_string_equal(f->err, "t.conf:3: [core] flag: duplicate key (first set on line 2)");

	/* 100k unknown keys, then 100k headers and comments around one good key */
	off = (size_t)snprintf(text, big, "[core]\n");
	for (int i = 0; i < 100000; i++)
		off += (size_t)snprintf(text + off, big - off, "k%d = 1\n", i);
	assert_int_equal(load(f, text), -EINVAL);
	assert_string_equal(f->err, "t.conf:2: [core] unknown key 'k0'");
	off = 0;
	for (int i = 0; i < 100000; i++)
		off += (size_t)snprintf(text + off, big - off, i % 2 ? "[core]\n" : "# c\n");
	snprintf(text + off, big - off, "skew = 99\n");
	assert_int_equal(load(f, text), 0);
	assert_int_equal(f->core.skew, 99);
	f->core.skew = core.skew;

	/* random bytes, with and without a valid head: refused or applied, never half-applied */
	srand(42);
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(rand() % 400), head = 0;
		int rc;

		if (round % 2)
			head = (size_t)snprintf(text, big, "[core]\nport = 6000\n");
		for (size_t i = head; i < head + len; i++)
			text[i] = (char)(round % 3 ? rand() % 256 : 32 + rand() % 96);
		rc = tg_cfg_load_buf(f->cfg, text, head + len, "rnd", f->err, sizeof(f->err));
		assert_true(rc == 0 || rc == -EINVAL);
		if (rc) {
			assert_true(f->err[0] != '\0');
			assert_memory_equal(&core, &f->core, sizeof(core));
			assert_memory_equal(&dp, &f->dp, sizeof(dp));
		} else {
			/* whatever was accepted is valid: put it back for the next round */
			assert_int_equal(tg_cfg_apply_defaults(f->cfg, f->err, sizeof(f->err)), 0);
			core = f->core;
			dp = f->dp;
		}
	}
	free(text);
}

static void test_register_errors(void **state)
{
	struct fix *f = *state;
	struct core_conf other;
	size_t n = tg_cfg_count(f->cfg);
	struct tg_cfg_key bad[2];

	/* already registered */
	assert_int_equal(tg_cfg_register(f->cfg, core_keys, 1, &other), -EEXIST);
	/* twice in one table */
	bad[0] = (struct tg_cfg_key){.section = "x",
		.name = "a",
		.type = TG_CFG_BOOL,
		TG_CFG_AT(struct core_conf, flag),
		.def = "on",
		.help = "h"};
	bad[1] = bad[0];
	assert_int_equal(tg_cfg_register(f->cfg, bad, 2, &other), -EEXIST);
	assert_int_equal(tg_cfg_count(f->cfg), n);

	struct tg_cfg_key rows[] = {
		/* default out of its own bounds */
		{.section = "x",
			.name = "a",
			.type = TG_CFG_UINT,
			TG_CFG_AT(struct core_conf, port),
			.def = "0",
			.min = 1,
			.max = 2,
			.help = "h"},
		/* field size does not match the type */
		{.section = "x",
			.name = "a",
			.type = TG_CFG_INT,
			TG_CFG_AT(struct core_conf, port),
			.def = "0",
			.help = "h"},
		/* a dot would make "section.name" ambiguous */
		{.section = "x.y",
			.name = "a",
			.type = TG_CFG_BOOL,
			TG_CFG_AT(struct core_conf, flag),
			.def = "on",
			.help = "h"},
		{.section = "x",
			.name = "a",
			.type = TG_CFG_BOOL,
			TG_CFG_AT(struct core_conf, flag),
			.def = "on"},
		{.section = "x",
			.name = "a",
			.type = TG_CFG_BOOL,
			TG_CFG_AT(struct core_conf, flag),
			.help = "h"},
		{.section = "x",
			.name = "a",
			.type = TG_CFG_ENUM,
			.offset = 0,
			.size = sizeof(int),
			.def = "busy",
			.help = "h"},
		{.section = "x",
			.name = "a",
			.type = TG_CFG_STRING,
			TG_CFG_AT(struct core_conf, name),
			.def = "far too long a default",
			.help = "h"},
		{.section = "x",
			.name = "a",
			.type = TG_CFG_ADDR,
			TG_CFG_AT(struct core_conf, name),
			.def = "localhost",
			.help = "h"},
		{.section = "x",
			.name = "a",
			.type = TG_CFG_UINT,
			TG_CFG_AT(struct core_conf, port),
			.def = "1",
			.min = 5,
			.max = 1,
			.help = "h"},
		{.section = "x",
			.name = "a",
			.type = TG_CFG_DURATION,
			TG_CFG_AT(struct dp_conf, timeout),
			.def = "1s",
			.min = -1,
			.max = 5,
			.help = "h"},
		{.section = "x",
			.name = "a",
			.type = (enum tg_cfg_type)99,
			.def = "1",
			.help = "h"},
		{.section = "x",
			.name = "a",
			.type = TG_CFG_BOOL,
			TG_CFG_AT(struct core_conf, flag),
			.def = "on",
			.flags = 0x80,
			.help = "h"},
		{.section = "x",
			.name = "a",
			.type = TG_CFG_UINT,
			TG_CFG_AT(struct dp_conf, even),
			.def = "3",
			.validate = must_be_even,
			.help = "h"},
	};
	/* a buffer size that would wrap the registry's size arithmetic */
	bad[0] = (struct tg_cfg_key){
		.section = "x", .name = "a", .type = TG_CFG_STRING, .size = SIZE_MAX, .help = "h"};
	assert_int_equal(tg_cfg_register(f->cfg, bad, 1, &other), -EINVAL);

	for (size_t i = 0; i < N(rows); i++) {
		bad[0] = rows[i];
		bad[1] = (struct tg_cfg_key){.section = "x",
			.name = "b",
			.type = TG_CFG_BOOL,
			TG_CFG_AT(struct core_conf, flag),
			.def = "on",
			.help = "h"};
		if (tg_cfg_register(f->cfg, bad, 2, &other) != -EINVAL)
			fail_msg("row %zu accepted", i);
		assert_int_equal(tg_cfg_count(f->cfg), n);
	}
	assert_int_equal(tg_cfg_register(f->cfg, core_keys, 1, NULL), -EINVAL);
	assert_int_equal(tg_cfg_register(f->cfg, bad, 0, &other), 0);
	assert_int_equal(tg_cfg_count(f->cfg), n);
	/* and the registry still works */
	assert_int_equal(set(f, "core.port", "5061", false), 0);
	assert_int_equal(f->core.port, 5061);
}

/* A copy detached from the modules' structs: its own values, the same rules */
static void test_detached(void **state)
{
	struct fix *f = *state;
	struct tg_cfg *d;
	char buf[64];

	assert_int_equal(set(f, "core.port", "6000", false), 0);
	d = tg_cfg_detached(f->cfg);
	assert_non_null(d);
	assert_int_equal(tg_cfg_count(d), tg_cfg_count(f->cfg));
	/* at the defaults, not at the running values */
	assert_int_equal(tg_cfg_get(d, "core.port", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "5060");
	assert_int_equal(tg_cfg_load_string(d, "[core]\nport = 7000\nname = other\n", "t.conf",
				 f->err, sizeof(f->err)),
		0);
	assert_int_equal(tg_cfg_get(d, "core.port", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "7000");
	assert_int_equal(tg_cfg_get(d, "core.name", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "other");
	/* the modules' structs are untouched */
	assert_int_equal(f->core.port, 6000);
	assert_string_equal(f->core.name, "tollgate");
	/* validators run there too, and all-or-nothing holds */
	assert_int_equal(tg_cfg_load_string(d, "[dataplane]\neven = 4\n[core]\nport = 0\n",
				 "t.conf", f->err, sizeof(f->err)),
		-EINVAL);
	assert_int_equal(
		tg_cfg_set(d, "dataplane.even", "3", false, f->err, sizeof(f->err)), -EINVAL);
	assert_int_equal(tg_cfg_get(d, "dataplane.even", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2");
	assert_ptr_equal(tg_cfg_find(d, "core.port"), &core_keys[2]);
	assert_null(tg_cfg_find(d, "core.nope"));
	tg_cfg_free(d);
}

static char applied[64];
static unsigned n_applied;

static void record_apply(const void *value)
{
	snprintf(applied, sizeof(applied), "%s", (const char *)value);
	n_applied++;
}

struct extra_conf {
	char level[16];
	char routes[32];
};

static const struct tg_cfg_key extra_keys[] = {
	{.section = "extra",
		.name = "level",
		.type = TG_CFG_STRING,
		TG_CFG_AT(struct extra_conf, level),
		.def = "info",
		.flags = TG_CFG_LIVE,
		.apply = record_apply,
		.help = "Acted on at once."},
	{.section = "extra",
		.name = "routes",
		.type = TG_CFG_STRING,
		TG_CFG_AT(struct extra_conf, routes),
		.flags = TG_CFG_RELOAD,
		.help = "Re-read by reload."},
};

/* apply runs on a running set only; a reload key is refused by set with its own message */
static void test_apply_and_reload(void **state)
{
	struct fix *f = *state;
	struct extra_conf ec;
	struct tg_cfg_key bad = extra_keys[0];
	char *docs;

	assert_int_equal(tg_cfg_register(f->cfg, extra_keys, N(extra_keys), &ec), 0);
	assert_int_equal(tg_cfg_apply_defaults(f->cfg, f->err, sizeof(f->err)), 0);
	n_applied = 0;
	assert_int_equal(set(f, "extra.level", "debug", false), 0);
	assert_int_equal(n_applied, 0);
	assert_int_equal(set(f, "extra.level", "warn", true), 0);
	assert_int_equal(n_applied, 1);
	assert_string_equal(applied, "warn");
	assert_int_equal(set(f, "extra.level", "a-very-long-level-name", true), -EINVAL);
	assert_int_equal(n_applied, 1);

	assert_int_equal(set(f, "extra.routes", "x", true), -EPERM);
	assert_string_equal(f->err, "extra.routes is not live: change it in the config file and "
				    "reload (tgctl reload)");
	assert_int_equal(set(f, "extra.routes", "x", false), 0);
	assert_string_equal(ec.routes, "x");

	assert_string_equal(tg_cfg_changes(&extra_keys[0]), "live");
	assert_string_equal(tg_cfg_changes(&extra_keys[1]), "reload");
	assert_string_equal(tg_cfg_changes(&core_keys[1]), "boot");
	docs = capture(tg_cfg_write_docs, f->cfg);
	assert_non_null(strstr(docs, "| `routes` | string | (empty) | up to 31 characters | "
				     "reload | Re-read by reload. |\n"));
	free(docs);

	/* apply needs a live key; live and reload exclude each other */
	bad.name = "other";
	bad.flags = 0;
	assert_int_equal(tg_cfg_register(f->cfg, &bad, 1, &ec), -EINVAL);
	bad.flags = TG_CFG_LIVE | TG_CFG_RELOAD;
	bad.apply = NULL;
	assert_int_equal(tg_cfg_register(f->cfg, &bad, 1, &ec), -EINVAL);
}

static void test_show(void **state)
{
	struct fix *f = *state;
	char *out;

	assert_int_equal(set(f, "core.secret", "hunter2", true), 0);
	assert_int_equal(set(f, "core.name", "", true), 0);
	out = capture(tg_cfg_show, f->cfg);
	assert_string_equal(out, "core.flag = false\n"
				 "core.skew = 0\n"
				 "core.port = 5060\n"
				 "core.name = \n"
				 "core.secret = <hidden>\n"
				 "dataplane.idle = busy\n"
				 "dataplane.timeout = 5s\n"
				 "dataplane.bind = 0.0.0.0\n"
				 "dataplane.peer = \n"
				 "dataplane.anyint = -1\n"
				 "dataplane.even = 2\n");
	free(out);
}

static void test_docs(void **state)
{
	struct fix *f = *state;
	char *out = capture(tg_cfg_write_docs, f->cfg);

	assert_non_null(strstr(out, "## [core]\n"));
	assert_non_null(strstr(out, "## [dataplane]\n"));
	assert_non_null(strstr(out, "| `flag` | bool | `false` | true, false | live | "
				    "A live switch \\| with a pipe. |\n"));
	assert_non_null(strstr(out, "| `port` | uint | `5060` | 1..65535 | boot | "
				    "SIP listening port. |\n"));
	assert_non_null(strstr(out, "| `idle` | enum | `busy` | busy, adaptive | live |"));
	assert_non_null(strstr(out, "| `timeout` | duration | `5s` | 10ms..1h | boot |"));
	assert_non_null(strstr(out, "| `peer` | address | (empty) | IPv4 or IPv6 address, or "
				    "empty | live |"));
	for (size_t i = 0; i < tg_cfg_count(f->cfg); i++) {
		char needle[64];

		snprintf(needle, sizeof(needle), "| `%s` |", tg_cfg_key_at(f->cfg, i)->name);
		assert_non_null(strstr(out, needle));
	}
	free(out);
}

static void test_example_roundtrip(void **state)
{
	struct fix *f = *state;
	struct core_conf core = f->core;
	struct dp_conf dp = f->dp;
	char *out = capture(tg_cfg_write_example, f->cfg);
	char *path;

	assert_non_null(strstr(out, "\n[core]\n"));
	assert_non_null(
		strstr(out, "# SIP listening port.\n# uint: 1..65535; boot-only\nport = 5060\n"));
	assert_non_null(strstr(out, "\n[dataplane]\n"));
	assert_non_null(strstr(out, "\nidle = busy\n"));
	assert_non_null(strstr(out, "\npeer = \n"));

	/* move every key off its default, then load the example: all defaults again */
	assert_int_equal(load(f, "[core]\nflag = on\nskew = 5\nport = 1\nname = x\nsecret = y\n"
				 "[dataplane]\nidle = adaptive\ntimeout = 1h\nbind = ::\n"
				 "peer = ::2\nanyint = 0\neven = 0\n"),
		0);
	path = write_tmp(out, strlen(out));
	assert_int_equal(tg_cfg_load_file(f->cfg, path, f->err, sizeof(f->err)), 0);
	assert_memory_equal(&core, &f->core, sizeof(core));
	assert_memory_equal(&dp, &f->dp, sizeof(dp));
	unlink(path);
	free(path);
	free(out);
}

/* Long help text wraps into comment lines that still load. */
static void test_example_wrap(void **state)
{
	static char help[400];
	static struct tg_cfg_key row = {.section = "wrap",
		.name = "w",
		.type = TG_CFG_BOOL,
		TG_CFG_AT(struct core_conf, flag),
		.def = "true",
		.help = help};
	struct core_conf c = {0};
	struct tg_cfg *cfg = tg_cfg_new();
	char err[256], *out, *line;

	for (size_t i = 0; i + 1 < sizeof(help); i++)
		help[i] = i % 7 == 6 ? ' ' : 'x';
	help[150] = '\n';
	assert_int_equal(tg_cfg_register(cfg, &row, 1, &c), 0);
	out = capture(tg_cfg_write_example, cfg);
	for (line = out; *line;) {
		size_t n = strcspn(line, "\n");

		assert_true(n <= 100);
		line += n + (line[n] == '\n');
	}
	assert_int_equal(tg_cfg_load_string(cfg, out, "example", err, sizeof(err)), 0);
	assert_true(c.flag);
	free(out);
	tg_cfg_free(cfg);
	tg_cfg_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_int, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_string, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_live_boot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_string, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_and_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_roundtrip, setup, teardown),
		cmocka_unit_test(test_example_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
