/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * "ADDR:PORT" / "[ADDR6]:PORT": what parses (and formats back the same), what does not and the
 * reason given, the port bounds with and without TG_SOCKADDR_PORT_REQUIRED, equality and hash.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "tg_sockaddr.h"

static int parse(const char *s, unsigned flags, struct sockaddr_storage *ss, const char **why)
{
	socklen_t len;
	int rc = tg_sockaddr_parse(s, strlen(s), flags, ss, &len, why);

	if (rc == 0)
		assert_int_equal(len, ss->ss_family == AF_INET ? sizeof(struct sockaddr_in)
							       : sizeof(struct sockaddr_in6));
	return rc;
}

static void test_good(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"127.0.0.1:5060", "127.0.0.1:5060"},
		{"0.0.0.0:0", "0.0.0.0:0"},
		{"10.1.2.3:65535", "10.1.2.3:65535"},
		{"[::1]:5060", "[::1]:5060"},
		{"[FDEC:0::1]:80", "[fdec::1]:80"},
		{"[::ffff:10.0.0.1]:5061", "[::ffff:10.0.0.1]:5061"},
		{"1.2.3.4:00080", "1.2.3.4:80"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		char buf[TG_SOCKADDR_STRLEN];

		if (parse(cases[i].in, 0, &ss, NULL) != 0)
			fail_msg("'%s' refused", cases[i].in);
		assert_string_equal(
			tg_sockaddr_fmt((struct sockaddr *)&ss, buf, sizeof(buf)), cases[i].out);
	}
}

static void test_bad(void **state)
{
	static const struct {
		const char *in, *why;
	} cases[] = {
		{"", "expected ADDR:PORT or [ADDR6]:PORT"},
		{"127.0.0.1", "expected ADDR:PORT or [ADDR6]:PORT"},
		{"fdec::1:5060", "an IPv6 address needs brackets: [ADDR6]:PORT"},
		{"[fdec::1]", "expected [ADDR6]:PORT"},
		{"[fdec::1]5060", "expected [ADDR6]:PORT"},
		{"[fdec::1:5060", "expected [ADDR6]:PORT"},
		{"[10.0.0.1]:5060", "not an IPv6 address"},
		{"1.2.3:5060", "not an IPv4 address (names are not resolved)"},
		{"host.example:5060", "not an IPv4 address (names are not resolved)"},
		{":5060", "not an IPv4 address (names are not resolved)"},
		{"1.2.3.4:", "the port must be 0-65535"},
		{"1.2.3.4:65536", "the port must be 0-65535"},
		{"1.2.3.4:123456", "the port must be 0-65535"},
		{"1.2.3.4:50x", "the port must be 0-65535"},
		{"1.2.3.4:-1", "the port must be 0-65535"},
		{"1.2.3.4: 5", "the port must be 0-65535"},
		{" 1.2.3.4:5", "not an IPv4 address (names are not resolved)"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		const char *why = NULL;

		if (parse(cases[i].in, 0, &ss, &why) != -EINVAL)
			fail_msg("'%s' accepted", cases[i].in);
		assert_non_null(why);
		assert_string_equal(why, cases[i].why);
		assert_int_equal(ss.ss_family, 0);
	}
}

static void test_port_required(void **state)
{
	struct sockaddr_storage ss;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse("10.0.0.1:0", 0, &ss, NULL), 0);
	assert_int_equal(parse("10.0.0.1:0", TG_SOCKADDR_PORT_REQUIRED, &ss, &why), -EINVAL);
	assert_string_equal(why, "the port must be 1-65535");
	assert_int_equal(parse("[::1]:1", TG_SOCKADDR_PORT_REQUIRED, &ss, NULL), 0);
	assert_int_equal(tg_sockaddr_port((struct sockaddr *)&ss), 1);
}

/* The length bounds the text: what follows is not read. */
static void test_length(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[TG_SOCKADDR_STRLEN];

	(void)state;
	assert_int_equal(tg_sockaddr_parse("10.0.0.1:5060/tcp", 13, 0, &ss, &len, NULL), 0);
	assert_string_equal(
		tg_sockaddr_fmt((struct sockaddr *)&ss, buf, sizeof(buf)), "10.0.0.1:5060");
}

static void test_equal_hash(void **state)
{
	struct sockaddr_storage a, b, c, d;
	char ip[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(parse("10.0.0.1:5060", 0, &a, NULL), 0);
	assert_int_equal(parse("10.0.0.1:5060", 0, &b, NULL), 0);
	assert_int_equal(parse("10.0.0.1:5061", 0, &c, NULL), 0);
	assert_int_equal(parse("[::ffff:10.0.0.1]:5060", 0, &d, NULL), 0);
	assert_true(tg_sockaddr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_int_equal(
		tg_sockaddr_hash((struct sockaddr *)&a), tg_sockaddr_hash((struct sockaddr *)&b));
	assert_false(tg_sockaddr_equal((struct sockaddr *)&a, (struct sockaddr *)&c));
	assert_false(tg_sockaddr_equal((struct sockaddr *)&a, (struct sockaddr *)&d));
	assert_int_not_equal(
		tg_sockaddr_hash((struct sockaddr *)&a), tg_sockaddr_hash((struct sockaddr *)&c));
	tg_sockaddr_set_port((struct sockaddr *)&c, 5060);
	assert_true(tg_sockaddr_equal((struct sockaddr *)&a, (struct sockaddr *)&c));
	assert_string_equal(
		tg_sockaddr_ip((struct sockaddr *)&d, ip, sizeof(ip)), "::ffff:10.0.0.1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_port_required),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_equal_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
