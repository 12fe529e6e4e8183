/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing rules: every pattern kind, source prefixes, rule order, the default, targets, every
 * malformed form (each error must name the rule and the token), and the config keys' validators
 * through a real registry.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "cp_route.h"

static struct cp_route_config rc;
static char err[CP_ROUTE_ERR_LEN];

static struct cp_route_table *mk(const char *rules, const char *def)
{
	struct cp_route_table *t;

	memset(&rc, 0, sizeof(rc));
	assert_true(strlen(rules) < sizeof(rc.rules) && strlen(def) < sizeof(rc.def));
	strcpy(rc.rules, rules);
	strcpy(rc.def, def);
	err[0] = '\0';
	t = cp_route_table_new(&rc, err, sizeof(err));
	if (!t)
		fail_msg("'%s' / '%s' refused: %s", rules, def, err);
	return t;
}

/* rules refused, and the message contains want */
static void bad(const char *rules, const char *def, const char *want)
{
	struct cp_route_table *t;

	memset(&rc, 0, sizeof(rc));
	strcpy(rc.rules, rules);
	strcpy(rc.def, def);
	err[0] = '\0';
	errno = 0;
	t = cp_route_table_new(&rc, err, sizeof(err));
	if (t) {
		cp_route_table_free(t);
		fail_msg("'%s' / '%s' accepted, expected '%s'", rules, def, want);
	}
	assert_int_equal(errno, EINVAL);
	if (!strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", rules, err, want);
}

static struct sockaddr_storage src_ss;

static const struct sockaddr *addr(const char *text)
{
	memset(&src_ss, 0, sizeof(src_ss));
	if (!text)
		return NULL;
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&src_ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(5060);
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&src_ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(5060);
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return (const struct sockaddr *)&src_ss;
}

/* the matched target's text, or "-" for none */
static const char *go(
	const struct cp_route_table *t, const char *user, const char *host, const char *src)
{
	const struct cp_route_target *tg = cp_route_lookup(t, user, host, addr(src));

	return tg ? tg->text : "-";
}

static int rule_of(
	const struct cp_route_table *t, const char *user, const char *host, const char *src)
{
	const struct cp_route_target *tg = cp_route_lookup(t, user, host, addr(src));

	return tg ? tg->rule : -2;
}

static void test_users(void **state)
{
	struct cp_route_table *t = mk("1800*@* => 10.0.0.1:5060, alice@* => 10.0.0.2:5060, "
				      "*@* => 10.0.0.3:5060",
		"");

	(void)state;
	assert_int_equal(cp_route_count(t), 3);
	assert_string_equal(go(t, "18005551212", "x.org", NULL), "10.0.0.1:5060/udp");
	assert_string_equal(go(t, "1800", "x.org", NULL), "10.0.0.1:5060/udp"); /* '*' = empty */
	assert_string_equal(go(t, "180", "x.org", NULL), "10.0.0.3:5060/udp");
	assert_string_equal(go(t, "21800", "x.org", NULL), "10.0.0.3:5060/udp");
	assert_string_equal(go(t, "alice", "x.org", NULL), "10.0.0.2:5060/udp");
	assert_string_equal(go(t, "alice2", "x.org", NULL), "10.0.0.3:5060/udp");
	assert_string_equal(go(t, "alic", "x.org", NULL), "10.0.0.3:5060/udp");
	/* users are case-sensitive (RFC 3261 19.1.4) */
	assert_string_equal(go(t, "Alice", "x.org", NULL), "10.0.0.3:5060/udp");
	/* no user part: only '*' users */
	assert_string_equal(go(t, NULL, "x.org", NULL), "10.0.0.3:5060/udp");
	assert_string_equal(go(t, "", "x.org", NULL), "10.0.0.3:5060/udp");
	assert_int_equal(rule_of(t, "", "x.org", NULL), 2);
	cp_route_table_free(t);

	t = mk("1800*@* => 10.0.0.1:5060, alice@* => 10.0.0.2:5060", "");
	assert_string_equal(go(t, NULL, "x.org", NULL), "-");
	assert_string_equal(go(t, "", "x.org", NULL), "-");
	assert_string_equal(go(t, "bob", "x.org", NULL), "-");
	/* SIP user characters, a '+' number prefix */
	cp_route_table_free(t);
	t = mk("+4930*@* => 10.0.0.1:5060, a.b-c_d!~'()&=+$;?/%41@* => 10.0.0.2:5060", "");
	assert_string_equal(go(t, "+49301234", "h", NULL), "10.0.0.1:5060/udp");
	assert_string_equal(go(t, "4930", "h", NULL), "-");
	assert_string_equal(go(t, "a.b-c_d!~'()&=+$;?/%41", "h", NULL), "10.0.0.2:5060/udp");
	cp_route_table_free(t);
}

static void test_domains(void **state)
{
	struct cp_route_table *t = mk("*@Example.COM => 10.0.0.1:5060, "
				      "*@*.example.com => 10.0.0.2:5060, "
				      "*@10.9.8.7 => 10.0.0.3:5060, "
				      "*@[2001:DB8::7] => 10.0.0.4:5060, "
				      "*@fdec:0:0::9 => 10.0.0.5:5060, "
				      "*@* => 10.0.0.6:5060",
		"");

	(void)state;
	assert_string_equal(go(t, "u", "example.com", NULL), "10.0.0.1:5060/udp");
	assert_string_equal(go(t, "u", "EXAMPLE.com", NULL), "10.0.0.1:5060/udp");
	assert_string_equal(go(t, "u", "example.com.", NULL), "10.0.0.1:5060/udp");
	assert_string_equal(go(t, "u", "a.example.com", NULL), "10.0.0.2:5060/udp");
	assert_string_equal(go(t, "u", "b.A.Example.Com", NULL), "10.0.0.2:5060/udp");
	/* label boundary: not a suffix match on characters */
	assert_string_equal(go(t, "u", "badexample.com", NULL), "10.0.0.6:5060/udp");
	assert_string_equal(go(t, "u", "example.com.evil.net", NULL), "10.0.0.6:5060/udp");
	assert_string_equal(go(t, "u", "example.co", NULL), "10.0.0.6:5060/udp");
	/* IP literals compare as addresses, with or without brackets */
	assert_string_equal(go(t, "u", "10.9.8.7", NULL), "10.0.0.3:5060/udp");
	assert_string_equal(go(t, "u", "10.9.8.70", NULL), "10.0.0.6:5060/udp");
	assert_string_equal(go(t, "u", "[2001:db8::7]", NULL), "10.0.0.4:5060/udp");
	assert_string_equal(go(t, "u", "2001:db8:0::7", NULL), "10.0.0.4:5060/udp");
	assert_string_equal(go(t, "u", "[fdec::9]", NULL), "10.0.0.5:5060/udp");
	assert_string_equal(go(t, "u", NULL, NULL), "10.0.0.6:5060/udp");
	assert_string_equal(go(t, "u", "", NULL), "10.0.0.6:5060/udp");
	cp_route_table_free(t);

	/* without a catch-all: nothing else is reachable */
	t = mk("*@*.example.com => 10.0.0.2:5060", "");
	assert_string_equal(go(t, "u", "example.com", NULL), "-");
	assert_string_equal(go(t, "u", ".example.com", NULL), "-");
	assert_string_equal(go(t, "u", "x.example.com", NULL), "10.0.0.2:5060/udp");
	assert_string_equal(go(t, "u", NULL, NULL), "-");
	cp_route_table_free(t);
}

static void test_source_v4(void **state)
{
	struct cp_route_table *t = mk("from 10.0.0.0/8 *@* => 192.168.1.1:5060, "
				      "from 172.16.0.0/12 *@* => 192.168.1.2:5060, "
				      "from 198.51.100.64/27 *@* => 192.168.1.3:5060, "
				      "from 203.0.113.5 *@* => 192.168.1.4:5060, "
				      "from 0.0.0.0/0 1800*@* => 192.168.1.5:5060",
		"");

	(void)state;
	assert_string_equal(go(t, "u", "h", "10.255.1.2"), "192.168.1.1:5060/udp");
	assert_string_equal(go(t, "u", "h", "11.0.0.1"), "-");
	/* /12: 172.16.0.0 - 172.31.255.255 */
	assert_string_equal(go(t, "u", "h", "172.16.0.1"), "192.168.1.2:5060/udp");
	assert_string_equal(go(t, "u", "h", "172.31.255.255"), "192.168.1.2:5060/udp");
	assert_string_equal(go(t, "u", "h", "172.32.0.0"), "-");
	assert_string_equal(go(t, "u", "h", "172.15.255.255"), "-");
	/* /27: .64 - .95 */
	assert_string_equal(go(t, "u", "h", "198.51.100.64"), "192.168.1.3:5060/udp");
	assert_string_equal(go(t, "u", "h", "198.51.100.95"), "192.168.1.3:5060/udp");
	assert_string_equal(go(t, "u", "h", "198.51.100.96"), "-");
	assert_string_equal(go(t, "u", "h", "198.51.100.63"), "-");
	/* plain address = /32 */
	assert_string_equal(go(t, "u", "h", "203.0.113.5"), "192.168.1.4:5060/udp");
	assert_string_equal(go(t, "u", "h", "203.0.113.4"), "-");
	/* /0 matches every IPv4 source, but not IPv6 and not "no source" */
	assert_string_equal(go(t, "1800", "h", "1.2.3.4"), "192.168.1.5:5060/udp");
	assert_string_equal(go(t, "1800", "h", "2001:db8::1"), "-");
	assert_string_equal(go(t, "1800", "h", NULL), "-");
	/* an IPv4-mapped IPv6 source (dual-stack socket) counts as IPv4 */
	assert_string_equal(go(t, "u", "h", "::ffff:10.1.2.3"), "192.168.1.1:5060/udp");
	assert_string_equal(go(t, "u", "h", "::ffff:172.32.0.1"), "-");
	cp_route_table_free(t);
}

static void test_source_v6(void **state)
{
	struct cp_route_table *t = mk("from fdec::/16 *@* => [fd00::1]:5060, "
				      "from 2001:db8:abcd:12::/63 *@* => [fd00::2]:5060, "
				      "from 2001:db8::1:0/121 *@* => [fd00::3]:5060, "
				      "from 2001:db8::99 *@* => [fd00::4]:5060, "
				      "from ::/0 *@* => [fd00::5]:5060",
		"");

	(void)state;
	assert_string_equal(go(t, "u", "h", "fdec:1::1"), "[fd00::1]:5060/udp");
	assert_string_equal(go(t, "u", "h", "fded::1"), "[fd00::5]:5060/udp");
	/* /63: ...:12:: and ...:13:: */
	assert_string_equal(go(t, "u", "h", "2001:db8:abcd:12::1"), "[fd00::2]:5060/udp");
	assert_string_equal(go(t, "u", "h", "2001:db8:abcd:13:ffff::"), "[fd00::2]:5060/udp");
	assert_string_equal(go(t, "u", "h", "2001:db8:abcd:14::1"), "[fd00::5]:5060/udp");
	assert_string_equal(go(t, "u", "h", "2001:db8:abcd:11::1"), "[fd00::5]:5060/udp");
	/* /121: the last 7 bits are free: ::1:0 - ::1:7f */
	assert_string_equal(go(t, "u", "h", "2001:db8::1:7f"), "[fd00::3]:5060/udp");
	assert_string_equal(go(t, "u", "h", "2001:db8::1:80"), "[fd00::5]:5060/udp");
	assert_string_equal(go(t, "u", "h", "2001:db8::99"), "[fd00::4]:5060/udp");
	assert_string_equal(go(t, "u", "h", "2001:db8::98"), "[fd00::5]:5060/udp");
	/* an IPv4 source matches no IPv6 prefix, not even ::/0 */
	assert_string_equal(go(t, "u", "h", "10.0.0.1"), "-");
	assert_string_equal(go(t, "u", "h", NULL), "-");
	cp_route_table_free(t);
}

static void test_first_match_and_default(void **state)
{
	struct cp_route_table *t = mk("*@* => 10.0.0.1:5060, 1800*@* => 10.0.0.2:5060", "");

	(void)state;
	/* the broad rule first shadows the narrow one */
	assert_string_equal(go(t, "1800", "h", NULL), "10.0.0.1:5060/udp");
	assert_int_equal(rule_of(t, "1800", "h", NULL), 0);
	cp_route_table_free(t);

	t = mk("1800*@* => 10.0.0.2:5060, from 10.0.0.0/8 *@* => 10.0.0.3:5060, "
	       "*@* => 10.0.0.1:5060",
		"");
	assert_int_equal(rule_of(t, "1800", "h", "10.0.0.9"), 0);
	assert_int_equal(rule_of(t, "1900", "h", "10.0.0.9"), 1);
	assert_int_equal(rule_of(t, "1900", "h", "11.0.0.9"), 2);
	cp_route_table_free(t);

	/* default when nothing matches; rule -1 */
	t = mk("1800*@* => 10.0.0.2:5060", "10.0.0.99:5070/tcp");
	assert_string_equal(go(t, "1800", "h", NULL), "10.0.0.2:5060/udp");
	assert_string_equal(go(t, "1900", "h", NULL), "10.0.0.99:5070/tcp");
	assert_int_equal(rule_of(t, "1900", "h", NULL), -1);
	assert_int_equal(cp_route_count(t), 1);
	cp_route_table_free(t);

	/* a default alone */
	t = mk("", "[::1]:5080");
	assert_int_equal(cp_route_count(t), 0);
	assert_string_equal(go(t, NULL, NULL, NULL), "[::1]:5080/udp");
	cp_route_table_free(t);

	/* nothing configured: nothing reachable */
	t = mk("", "");
	assert_int_equal(cp_route_count(t), 0);
	assert_null(cp_route_lookup(t, "u", "h", addr("10.0.0.1")));
	assert_null(cp_route_lookup(t, NULL, NULL, NULL));
	cp_route_table_free(t);

	assert_null(cp_route_lookup(NULL, "u", "h", NULL));
	assert_int_equal(cp_route_count(NULL), 0);
	cp_route_table_free(NULL);
}

static void test_targets(void **state)
{
	struct cp_route_target tg;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&tg.addr;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&tg.addr;
	struct cp_route_table *t;
	char ip[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(cp_route_parse_target("127.0.0.1:5060", &tg), 0);
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 5060);
	assert_int_equal(tg.len, sizeof(struct sockaddr_in));
	assert_false(tg.tcp);
	assert_int_equal(tg.rule, -1);
	assert_string_equal(tg.text, "127.0.0.1:5060/udp");

	assert_int_equal(cp_route_parse_target(" [2001:DB8:0::1]:65535/TCP ", &tg), 0);
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(s6->sin6_port), 65535);
	assert_int_equal(tg.len, sizeof(struct sockaddr_in6));
	assert_true(tg.tcp);
	inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
	assert_string_equal(ip, "2001:db8::1");
	assert_string_equal(tg.text, "[2001:db8::1]:65535/tcp");

	assert_int_equal(cp_route_parse_target("10.0.0.1:1/udp", &tg), 0);
	assert_string_equal(tg.text, "10.0.0.1:1/udp");
	/* longest text fits */
	assert_int_equal(cp_route_parse_target(
				 "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.254]:65535/tcp", &tg),
		-EINVAL); /* multicast (ff00::/8) */
	assert_int_equal(cp_route_parse_target(
				 "[fe80:ffff:ffff:ffff:ffff:ffff:255.255.255.254]:65535/tcp", &tg),
		0);
	assert_string_equal(tg.text, "[fe80:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535/tcp");

	static const char *const bad_targets[] = {"", "10.0.0.1", "10.0.0.1:", "10.0.0.1:0",
		"10.0.0.1:65536", "10.0.0.1:99999", "10.0.0.1:-1", "10.0.0.1:+5", "10.0.0.1:50 60",
		"1.2.3:5060", "1.2.3.4.5:5060", "256.0.0.1:5060", "host.example.com:5060",
		"::1:5060", "[::1]", "[::1]5060", "[::1:5060", "[10.0.0.1]:5060", "[fdec::g]:5060",
		"10.0.0.1:5060/sctp", "10.0.0.1:5060/", "10.0.0.1:5060/udp/tcp",
		"10.0.0.1:5060/udpx", "0.0.0.0:5060", "[::]:5060", "224.0.0.1:5060",
		"255.255.255.255:5060", "[ff02::1]:5060", "10.0.0.1:5060x", "10.0.0.1:05060x"};
	for (size_t i = 0; i < sizeof(bad_targets) / sizeof(bad_targets[0]); i++)
		if (cp_route_parse_target(bad_targets[i], &tg) != -EINVAL)
			fail_msg("target '%s' accepted", bad_targets[i]);

	/* rules carry IPv6 and TCP targets, whitespace anywhere between tokens */
	t = mk("  from\tfdec::/16   a@b.c=>[fdec::5]:5062/tcp  ,x@*   =>  10.1.1.1:5060/udp", "");
	assert_string_equal(go(t, "a", "b.c", "fdec::1"), "[fdec::5]:5062/tcp");
	assert_string_equal(go(t, "x", "q", NULL), "10.1.1.1:5060/udp");
	assert_true(cp_route_lookup(t, "a", "b.c", addr("fdec::1"))->tcp);
	assert_int_equal(cp_route_lookup(t, "a", "b.c", addr("fdec::1"))->addr.ss_family, AF_INET6);
	cp_route_table_free(t);
	/* 'from' is a keyword in any case */
	t = mk("FROM 10.0.0.0/8 *@* => 10.1.1.1:5060", "");
	assert_string_equal(go(t, "x", "q", "10.2.3.4"), "10.1.1.1:5060/udp");
	cp_route_table_free(t);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *rules, *def, *want;
	} cases[] = {
		/* empty rules between, before and after commas */
		{"*@* => 10.0.0.1:5060,, *@* => 10.0.0.2:5060", "", "rule 2: empty"},
		{"*@* => 10.0.0.1:5060, ,*@* => 10.0.0.2:5060", "", "rule 2: empty"},
		{",*@* => 10.0.0.1:5060", "", "rule 1: empty"},
		{"*@* => 10.0.0.1:5060,", "", "rule 2: empty"},
		{",", "", "rule 1: empty"},
		/* arrows */
		{"*@* 10.0.0.1:5060", "", "rule 1: missing '=>' in '*@* 10.0.0.1:5060'"},
		{"*@* -> 10.0.0.1:5060", "", "rule 1: missing '=>'"},
		{"*@* => 10.0.0.1:5060, *@* = > 10.0.0.2:5060", "", "rule 2: missing '=>'"},
		{"*@* => 10.0.0.1:5060 => 10.0.0.2:5060", "", "rule 1: more than one '=>'"},
		{"*@* =>", "", "rule 1: missing target after '=>'"},
		{"=> 10.0.0.1:5060", "", "rule 1: missing user@domain before '=>'"},
		/* targets */
		{"a@b => 10.0.0.1:5060, *@* => 1.2.3:5060", "", "rule 2: bad target '1.2.3:5060'"},
		{"*@* => 10.0.0.1:0", "", "rule 1: bad target '10.0.0.1:0'"},
		{"*@* => 10.0.0.1:65536", "", "rule 1: bad target '10.0.0.1:65536'"},
		{"*@* => 300.0.0.1:5060", "", "rule 1: bad target '300.0.0.1:5060'"},
		{"*@* => proxy.example.com:5060", "", "names are not resolved"},
		{"*@* => fdec::1:5060", "",
			"rule 1: bad target 'fdec::1:5060': an IPv6 address "
			"needs brackets"},
		{"*@* => 10.0.0.1:5060/sctp", "", "rule 1: bad target '10.0.0.1:5060/sctp'"},
		{"*@* => 10.0.0.1:5060 udp", "", "rule 1: trailing garbage 'udp' after the target"},
		{"*@* => 10.0.0.1:5060x", "", "rule 1: bad target '10.0.0.1:5060x'"},
		/* CIDRs */
		{"from 10.0.0.0/33 *@* => 10.0.0.1:5060", "", "rule 1: bad CIDR '10.0.0.0/33'"},
		{"from fdec::/129 *@* => 10.0.0.1:5060", "", "rule 1: bad CIDR 'fdec::/129'"},
		{"from 10.0.0/8 *@* => 10.0.0.1:5060", "", "rule 1: bad CIDR '10.0.0/8'"},
		{"from 10.0.0.0/ *@* => 10.0.0.1:5060", "", "rule 1: bad CIDR '10.0.0.0/'"},
		{"from 10.0.0.0/x *@* => 10.0.0.1:5060", "", "rule 1: bad CIDR '10.0.0.0/x'"},
		{"from 10.0.0.0/-1 *@* => 10.0.0.1:5060", "", "rule 1: bad CIDR"},
		{"from 10.0.0.0/0008 *@* => 10.0.0.1:5060", "", "rule 1: bad CIDR"},
		{"from 10.0.0.1/8 *@* => 10.0.0.1:5060", "", "bits set past the prefix length"},
		{"from fdec::1/16 *@* => 10.0.0.1:5060", "", "rule 1: bad CIDR 'fdec::1/16'"},
		{"from example.com *@* => 10.0.0.1:5060", "", "rule 1: bad CIDR 'example.com'"},
		{"from *@* => 10.0.0.1:5060", "", "rule 1: 'from' needs a CIDR"},
		{"from 10.0.0.0/8 => 10.0.0.1:5060", "", "rule 1: 'from' needs a CIDR"},
		{"from => 10.0.0.1:5060", "", "rule 1: 'from' needs a CIDR"},
		/* patterns and trailing garbage on the left */
		{"*@* x => 10.0.0.1:5060", "", "rule 1: trailing garbage 'x' after '*@*'"},
		{"from 10.0.0.0/8 *@* x y => 10.0.0.1:5060", "", "rule 1: trailing garbage 'x y'"},
		{"alice => 10.0.0.1:5060", "", "rule 1: bad pattern 'alice': expected user@domain"},
		{"@example.com => 10.0.0.1:5060", "", "rule 1: bad pattern '@example.com'"},
		{"a*b@* => 10.0.0.1:5060", "", "rule 1: bad pattern 'a*b@*': bad user"},
		{"**@* => 10.0.0.1:5060", "", "rule 1: bad pattern '**@*'"},
		{"*1800@* => 10.0.0.1:5060", "", "rule 1: bad pattern '*1800@*'"},
		{"a@ => 10.0.0.1:5060", "", "rule 1: bad pattern 'a@': bad domain"},
		{"a@b@c => 10.0.0.1:5060", "", "rule 1: bad pattern 'a@b@c'"},
		{"a@*example.com => 10.0.0.1:5060", "", "rule 1: bad pattern"},
		{"a@*. => 10.0.0.1:5060", "", "rule 1: bad pattern"},
		{"a@ex*.com => 10.0.0.1:5060", "", "rule 1: bad pattern"},
		{"a@a..b => 10.0.0.1:5060", "", "rule 1: bad pattern"},
		{"a@.a.b => 10.0.0.1:5060", "", "rule 1: bad pattern"},
		{"a@[::1 => 10.0.0.1:5060", "", "rule 1: bad pattern"},
		{"a@[10.0.0.1] => 10.0.0.1:5060", "", "rule 1: bad pattern"},
		{"a@ex_a\xc3\xa9.com => 10.0.0.1:5060", "", "rule 1: bad pattern"},
		{"\xc3\xa9@x => 10.0.0.1:5060", "", "rule 1: bad pattern"},
		/* the default */
		{"", "10.0.0.1", "default: bad target '10.0.0.1'"},
		{"", "10.0.0.1:5060 x", "default: bad target"},
		{"", "example.com:5060", "default: bad target 'example.com:5060'"},
		{"*@* => 10.0.0.1:5060", "[::1]:0/tcp", "default: bad target '[::1]:0/tcp'"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad(cases[i].rules, cases[i].def, cases[i].want);
}

static void test_limits(void **state)
{
	static char big[16384];
	struct cp_route_table *t;
	size_t n = 0;
	char *p;

	(void)state;
	/* 256 rules are fine, 257 are not */
	for (unsigned i = 0; i < CP_ROUTE_MAX_RULES; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%su%u@* => 10.0.%u.%u:5060",
			i ? "," : "", i, i / 200, i % 200 + 1);
	assert_true(n < sizeof(rc.rules));
	t = mk(big, "");
	assert_int_equal(cp_route_count(t), 256);
	assert_int_equal(rule_of(t, "u255", "h", NULL), 255);
	assert_string_equal(go(t, "u255", "h", NULL), "10.0.1.56:5060/udp");
	assert_int_equal(rule_of(t, "u25", "h", NULL), 25);
	assert_int_equal(rule_of(t, "u256", "h", NULL), -2);
	cp_route_table_free(t);
	snprintf(big + n, sizeof(big) - n, ",*@* => 10.0.0.1:5060");
	bad(big, "", "257 rules: at most 256");
	/* 257 empty rules: the count is checked first */
	memset(big, ',', 256);
	big[256] = '\0';
	bad(big, "", "257 rules: at most 256");

	/* one rule of 512 characters is fine (padded with spaces), 513 are not */
	memset(big, ' ', 512);
	memcpy(big, "*@* => 10.0.0.1:5060", 20);
	big[512] = '\0';
	t = mk(big, "");
	assert_int_equal(cp_route_count(t), 1);
	cp_route_table_free(t);
	strcpy(big, "*@* => 10.0.0.1:5060,");
	p = big + strlen(big);
	memset(p, ' ', 513);
	memcpy(p, "*@* => 10.0.0.2:5060", 20);
	p[513] = '\0';
	bad(big, "", "rule 2: longer than 512 characters");

	/* a long token is cut in the message */
	p = big;
	p += sprintf(p, "*@* => ");
	memset(p, '1', 300);
	strcpy(p + 300, ":5060");
	bad(big, "", "rule 1: bad target '1111");
	assert_non_null(strstr(err, "...'"));
	assert_true(strlen(err) < sizeof(err) - 1);

	/* a long domain: 253 characters is the most */
	p = big;
	p += sprintf(p, "*@");
	for (int i = 0; i < 4; i++) {
		memset(p, 'a', 63);
		p += 63;
		*p++ = '.';
	}
	p[-1] = '\0'; /* 4 * 64 - 1 = 255 characters */
	strcat(big, " => 10.0.0.1:5060");
	bad(big, "", "bad domain");
	/* a label of 64 */
	strcpy(big, "*@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com => "
		    "10.0.0.1:5060");
	bad(big, "", "bad domain");

	/* an unterminated config struct */
	memset(&rc, 'x', sizeof(rc));
	assert_null(cp_route_table_new(&rc, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	/* err may be NULL */
	memset(&rc, 0, sizeof(rc));
	strcpy(rc.rules, "x");
	assert_null(cp_route_table_new(&rc, NULL, 0));
}

static void test_config_keys(void **state)
{
	static struct cp_route_config cfgrc;
	struct tg_cfg *cfg = tg_cfg_new();
	struct cp_route_table *t;
	char msg[512];

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(cp_route_config_register(cfg, &cfgrc), 0);
	assert_int_equal(cp_route_config_register(cfg, &cfgrc), -EEXIST);
	assert_int_equal(tg_cfg_apply_defaults(cfg, msg, sizeof(msg)), 0);
	assert_string_equal(cfgrc.rules, "");
	assert_string_equal(cfgrc.def, "");

	assert_int_equal(tg_cfg_load_string(cfg,
				 "[routing]\n"
				 "rules = from 10.0.0.0/8 1800*@* => 10.1.1.1:5060, "
				 "*@*.example.com => [fdec::1]:5060/tcp\n"
				 "default = 127.0.0.1:5070\n",
				 "test", msg, sizeof(msg)),
		0);
	t = cp_route_table_new(&cfgrc, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(cp_route_count(t), 2);
	assert_string_equal(go(t, "1800", "h", "10.0.0.1"), "10.1.1.1:5060/udp");
	assert_string_equal(go(t, "1800", "a.example.com", "11.0.0.1"), "[fdec::1]:5060/tcp");
	assert_string_equal(go(t, "1800", "h", "11.0.0.1"), "127.0.0.1:5070/udp");
	cp_route_table_free(t);

	/* a bad rule fails the load, names the rule, and changes nothing */
	assert_int_equal(tg_cfg_load_string(cfg,
				 "[routing]\nrules = a@b => 10.0.0.1:5060, *@* => 1.2.3:5060\n",
				 "test", msg, sizeof(msg)),
		-EINVAL);
	assert_non_null(strstr(msg, "rule 2: bad target '1.2.3:5060'"));
	assert_non_null(strstr(msg, "test:2"));
	assert_non_null(strstr(cfgrc.rules, "1800*@*"));

	assert_int_equal(
		tg_cfg_set(cfg, "routing.default", "10.0.0.1:0", false, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "bad target '10.0.0.1:0'"));
	assert_string_equal(cfgrc.def, "127.0.0.1:5070");
	assert_int_equal(tg_cfg_set(cfg, "routing.rules", "x", false, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "rule 1: missing '=>'"));
	/* boot-only */
	assert_int_equal(
		tg_cfg_set(cfg, "routing.rules", "*@* => 10.0.0.1:5060", true, msg, sizeof(msg)),
		-EPERM);
	assert_int_equal(
		tg_cfg_set(cfg, "routing.rules", "*@* => 10.0.0.1:5060", false, msg, sizeof(msg)),
		0);
	assert_int_equal(tg_cfg_set(cfg, "routing.default", "", false, msg, sizeof(msg)), 0);
	t = cp_route_table_new(&cfgrc, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(cp_route_count(t), 1);
	cp_route_table_free(t);
	/* rules on several lines (a config line is at most ~200 characters): each adds its own */
	assert_int_equal(tg_cfg_load_string(cfg,
				 "[routing]\n"
				 "rules = 1*@* => 10.0.0.1:5060\n"
				 "rules = 2*@* => 10.0.0.2:5060, 3*@* => 10.0.0.3:5060\n"
				 "rules = *@* => [fdec::4]:5060/tcp\n",
				 "test", msg, sizeof(msg)),
		0);
	t = cp_route_table_new(&cfgrc, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(cp_route_count(t), 4);
	assert_string_equal(go(t, "2000", "h", "11.0.0.1"), "10.0.0.2:5060/udp");
	assert_string_equal(go(t, "9", "h", "11.0.0.1"), "[fdec::4]:5060/tcp");
	cp_route_table_free(t);
	/* a bad continuation names its line */
	assert_int_equal(
		tg_cfg_load_string(cfg, "[routing]\nrules = 1*@* => 10.0.0.1:5060\nrules = x\n",
			"test", msg, sizeof(msg)),
		-EINVAL);
	assert_non_null(strstr(msg, "test:3"));
	assert_non_null(strstr(msg, "rule 2: missing '=>'"));
	/* the other keys stay single */
	assert_int_equal(tg_cfg_load_string(cfg,
				 "[routing]\ndefault = 10.0.0.1:5060\ndefault = 10.0.0.2:5060\n",
				 "test", msg, sizeof(msg)),
		-EINVAL);
	assert_non_null(strstr(msg, "duplicate key"));
	tg_cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_source_v4),
		cmocka_unit_test(test_source_v6),
		cmocka_unit_test(test_first_match_and_default),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_config_keys),
	};

	return cmocka_run_group_tests_name("cp_route", tests, NULL, NULL);
}
