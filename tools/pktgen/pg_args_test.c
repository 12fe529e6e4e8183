/* SPDX-License-Identifier: BSD-3-Clause */
/* tg-pktgen's command line: defaults, derived values, every kind of bad option and its message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "pg_args.h"
#include "tg_log.h"

static struct pg_args args; /* large (endpoint lists): not on the stack */
static char err[256];

static enum pg_args_result do_parse(const char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	err[0] = '\0';
	return pg_args_parse(&args, argc, (char **)argv, err, sizeof(err));
}

#define PARSE(...) do_parse((const char *[]){"tg-pktgen", __VA_ARGS__, NULL})

/* a bad command line: refused, with a message containing 'want' */
#define EXPECT_ERR(want, ...)                                                                      \
	do {                                                                                       \
		assert_int_equal(PARSE(__VA_ARGS__), PG_ARGS_ERROR);                               \
		if (!strstr(err, want))                                                            \
			fail_msg("message '%s' lacks '%s'", err, want);                            \
	} while (0)

static void test_defaults(void **state)
{
	char buf[64];

	assert_int_equal(PARSE("--dst", "10.0.0.1:4000"), PG_ARGS_RUN);
	assert_int_equal(args.n_streams, 1);
	assert_int_equal(args.pps, 50); /* one G.711 stream at 20 ms */
	assert_int_equal(args.duration_ms, 10000);
	assert_int_equal(args.count, 0);
	assert_int_equal(args.payload_size, 172);
	assert_int_equal(args.pt, 0);
	assert_int_equal(args.ptime_ms, 20);
	assert_int_equal(args.grace_ms, 200);
	assert_string_equal(args.lcores, "0");
	assert_int_equal(strncmp(args.file_prefix, "pg", 2), 0);
	assert_int_equal(args.huge, PG_HUGE_AUTO);
	assert_false(args.rx_only || args.tx_only);
	for (int i = 0; i < 6; i++)
		assert_int_equal(args.dst_mac[i], 0xff);
	assert_false(pg_args_given(&args, PG_O_SRC_MAC));
	assert_int_equal(args.n_src, 1);
	assert_string_equal(pg_endpoint_str(&args.src[0], buf, sizeof(buf)), "198.18.0.1:10000");
	assert_string_equal(pg_endpoint_str(&args.dst[0], buf, sizeof(buf)), "10.0.0.1:4000");
	assert_int_equal(args.eal_argc, 0);
}

static void test_streams_from_base(void **state)
{
	struct pg_endpoint e;
	char buf[64];

	assert_int_equal(PARSE("--dst", "10.0.0.1:4000", "--src=192.0.2.7:20000", "--streams", "4"),
		PG_ARGS_RUN);
	assert_int_equal(args.n_streams, 4);
	assert_int_equal(args.pps, 200);
	for (unsigned i = 0; i < 4; i++) {
		pg_args_stream_endpoint(args.dst, args.n_dst, i, &e);
		assert_int_equal(e.port, 4000 + 2 * i);
		pg_args_stream_endpoint(args.src, args.n_src, i, &e);
		assert_int_equal(e.port, 20000 + 2 * i);
	}
	pg_args_stream_endpoint(args.dst, args.n_dst, 3, &e);
	assert_string_equal(pg_endpoint_str(&e, buf, sizeof(buf)), "10.0.0.1:4006");
}

static void test_explicit_lists(void **state)
{
	struct pg_endpoint e;
	char buf[64];

	assert_int_equal(PARSE("--dst", "10.0.0.1:4000,10.0.0.2:5000", "--dst", "10.0.0.3:7001"),
		PG_ARGS_RUN);
	assert_int_equal(args.n_streams, 3);
	pg_args_stream_endpoint(args.dst, args.n_dst, 2, &e);
	assert_string_equal(pg_endpoint_str(&e, buf, sizeof(buf)), "10.0.0.3:7001");
	pg_args_stream_endpoint(args.dst, args.n_dst, 1, &e);
	assert_string_equal(pg_endpoint_str(&e, buf, sizeof(buf)), "10.0.0.2:5000");
	assert_int_equal(
		PARSE("--dst", "10.0.0.1:4000,10.0.0.2:5000", "--src", "1.1.1.1:9,1.1.1.2:9"),
		PG_ARGS_RUN);
	pg_args_stream_endpoint(args.src, args.n_src, 1, &e);
	assert_string_equal(pg_endpoint_str(&e, buf, sizeof(buf)), "1.1.1.2:9");
	EXPECT_ERR("--streams 4 but --dst lists 2 endpoints", "--dst",
		"10.0.0.1:4000,10.0.0.2:5000", "--streams", "4");
	EXPECT_ERR("--src lists 2 endpoints for 3 streams", "--dst", "10.0.0.1:4000", "--streams",
		"3", "--src", "1.1.1.1:9,1.1.1.2:9");
	EXPECT_ERR("empty endpoint", "--dst", "10.0.0.1:4000,");
	EXPECT_ERR("empty endpoint", "--dst", "10.0.0.1:4000,,10.0.0.2:4000");
	EXPECT_ERR("empty endpoint", "--dst", ",10.0.0.1:4000");
	EXPECT_ERR("empty endpoint", "--dst=");
}

static void test_long_lists(void **state)
{
	size_t len = (PG_MAX_ENDPOINTS + 1) * 48;
	char *list = malloc(len), *p = list;

	for (unsigned i = 0; i < PG_MAX_ENDPOINTS; i++)
		p += sprintf(p, "%s[2001:db8:ffff:ffff:ffff:ffff:ffff:%x]:%u", i ? "," : "", i,
			1000 + i);
	assert_int_equal(PARSE("--dst", list), PG_ARGS_RUN);
	assert_int_equal(args.n_streams, PG_MAX_ENDPOINTS);
	assert_int_equal(args.dst[PG_MAX_ENDPOINTS - 1].port, 1000 + PG_MAX_ENDPOINTS - 1);
	sprintf(p, ",[2001:db8::1]:9");
	EXPECT_ERR("more than 1024 endpoints", "--dst", list);
	free(list);
}

static void test_ipv6(void **state)
{
	char buf[64];

	assert_int_equal(
		PARSE("--dst", "[2001:db8::5]:6000", "--payload-size", "1452"), PG_ARGS_RUN);
	assert_int_equal(args.dst[0].family, AF_INET6);
	assert_string_equal(pg_endpoint_str(&args.dst[0], buf, sizeof(buf)), "[2001:db8::5]:6000");
	assert_string_equal(pg_endpoint_str(&args.src[0], buf, sizeof(buf)), "[2001:db8::1]:10000");
	EXPECT_ERR(
		"at most 1452 with IPv6", "--dst", "[2001:db8::5]:6000", "--payload-size", "1472");
	EXPECT_ERR("mix IPv4 and IPv6", "--dst", "[2001:db8::5]:6000", "--src", "10.0.0.1:4000");
	EXPECT_ERR("mix IPv4 and IPv6", "--dst", "[2001:db8::5]:6000,10.0.0.1:4000");
	EXPECT_ERR("--dst '2001:db8::5:6000'", "--dst", "2001:db8::5:6000");
	EXPECT_ERR("--dst '[2001:db8::5]6000'", "--dst", "[2001:db8::5]6000");
	EXPECT_ERR("--dst '[10.0.0.1]:6000'", "--dst", "[10.0.0.1]:6000");
}

static void test_bad_endpoints(void **state)
{
	EXPECT_ERR("--dst '10.0.0:4000': expected IP:PORT", "--dst", "10.0.0:4000");
	EXPECT_ERR("--dst '10.0.0.1:0'", "--dst", "10.0.0.1:0");
	EXPECT_ERR("--dst '10.0.0.1:65536'", "--dst", "10.0.0.1:65536");
	EXPECT_ERR("--dst '10.0.0.1:+5'", "--dst", "10.0.0.1:+5");
	EXPECT_ERR("--dst '10.0.0.1'", "--dst", "10.0.0.1");
	EXPECT_ERR("--dst ':4000'", "--dst", ":4000");
	EXPECT_ERR("--dst 'host.example:4000'", "--dst", "host.example:4000");
	EXPECT_ERR("--src '10.0.0.256:1'", "--dst", "10.0.0.1:4000", "--src", "10.0.0.256:1");
	EXPECT_ERR("run past port 65535", "--dst", "10.0.0.1:65530", "--streams", "4");
	EXPECT_ERR("run past port 65535", "--dst", "10.0.0.1:4000", "--src", "10.0.0.2:65534",
		"--streams", "2");
	assert_int_equal(PARSE("--dst", "10.0.0.1:65529", "--streams", "4"), PG_ARGS_RUN);
}

static void test_option_syntax(void **state)
{
	EXPECT_ERR("unknown option '--frobnicate' (see --help)", "--dst", "10.0.0.1:4000",
		"--frobnicate");
	EXPECT_ERR("unknown option '--dstx=1'", "--dstx=1");
	EXPECT_ERR("--pps needs an argument (N)", "--dst", "10.0.0.1:4000", "--pps");
	EXPECT_ERR("--rx-only takes no argument", "--rx-only=1");
	EXPECT_ERR("unexpected argument 'stray'", "--dst", "10.0.0.1:4000", "stray");
	EXPECT_ERR("--dst is required", "--pps", "10");
	EXPECT_ERR("exclude each other", "--dst", "10.0.0.1:4000", "--rx-only", "--tx-only");
	assert_int_equal(PARSE("--help"), PG_ARGS_EXIT);
	assert_int_equal(PARSE("--dst", "10.0.0.1:4000", "-h"), PG_ARGS_EXIT);
	/* the value of an option may look like an option */
	assert_int_equal(PARSE("--file-prefix", "--x", "--dst", "10.0.0.1:4000"), PG_ARGS_RUN);
	assert_string_equal(args.file_prefix, "--x");
}

static void test_numbers(void **state)
{
	assert_int_equal(
		PARSE("--dst", "10.0.0.1:4000", "--pps", "1M", "--count", "2k"), PG_ARGS_RUN);
	assert_int_equal(args.pps, 1000000);
	assert_int_equal(args.count, 2000);
	assert_int_equal(PARSE("--dst", "10.0.0.1:4000", "--pps=0"), PG_ARGS_RUN);
	assert_int_equal(args.pps, 0);
	assert_true(pg_args_given(&args, PG_O_PPS));
	EXPECT_ERR("--streams '0': must be between 1 and 65536", "--dst", "10.0.0.1:4000",
		"--streams", "0");
	EXPECT_ERR("--streams '65537': must be between 1 and 65536", "--dst", "10.0.0.1:4000",
		"--streams", "65537");
	EXPECT_ERR("--streams '2k': not a non-negative whole number", "--dst", "10.0.0.1:4000",
		"--streams", "2k");
	EXPECT_ERR("--pps '-5'", "--dst", "10.0.0.1:4000", "--pps", "-5");
	EXPECT_ERR("--pps '1x'", "--dst", "10.0.0.1:4000", "--pps", "1x");
	EXPECT_ERR("--pps ' 5'", "--dst", "10.0.0.1:4000", "--pps", " 5");
	EXPECT_ERR("--pps '0x10'", "--dst", "10.0.0.1:4000", "--pps", "0x10");
	EXPECT_ERR("--pps '200M': must be between 0 and 100000000", "--dst", "10.0.0.1:4000",
		"--pps", "200M");
	EXPECT_ERR("--count '99999999999999999999999'", "--dst", "10.0.0.1:4000", "--count",
		"99999999999999999999999");
	EXPECT_ERR("--count '0'", "--dst", "10.0.0.1:4000", "--count", "0");
	EXPECT_ERR("--payload-size '35': must be between 36 and 1472", "--dst", "10.0.0.1:4000",
		"--payload-size", "35");
	EXPECT_ERR("--pt '128'", "--dst", "10.0.0.1:4000", "--pt", "128");
	EXPECT_ERR("--ptime '0'", "--dst", "10.0.0.1:4000", "--ptime", "0");
	EXPECT_ERR("--streams ''", "--dst", "10.0.0.1:4000", "--streams", "");
}

static void test_time_bounds(void **state)
{
	assert_int_equal(PARSE("--dst", "10.0.0.1:4000", "--duration", "2.5"), PG_ARGS_RUN);
	assert_int_equal(args.duration_ms, 2500);
	assert_int_equal(PARSE("--dst", "10.0.0.1:4000", "--duration", "200ms", "--grace", "1s"),
		PG_ARGS_RUN);
	assert_int_equal(args.duration_ms, 200);
	assert_int_equal(args.grace_ms, 1000);
	/* a count alone still gets a time bound: what it needs at the rate, plus slack */
	assert_int_equal(PARSE("--dst", "10.0.0.1:4000", "--count", "100000", "--pps", "50000"),
		PG_ARGS_RUN);
	assert_int_equal(args.duration_ms, 2000 + 10000);
	assert_int_equal(
		PARSE("--dst", "10.0.0.1:4000", "--count", "100000", "--pps", "0"), PG_ARGS_RUN);
	assert_int_equal(args.duration_ms, 20000);
	assert_int_equal(
		PARSE("--dst", "10.0.0.1:4000", "--count", "7", "--duration", "1"), PG_ARGS_RUN);
	assert_int_equal(args.duration_ms, 1000);
	assert_int_equal(args.count, 7);
	EXPECT_ERR("--duration 'soon': not a number of seconds", "--dst", "10.0.0.1:4000",
		"--duration", "soon");
	EXPECT_ERR("--duration '0': must be between 0.001 and 86400 seconds", "--dst",
		"10.0.0.1:4000", "--duration", "0");
	EXPECT_ERR("--duration 'inf'", "--dst", "10.0.0.1:4000", "--duration", "inf");
	EXPECT_ERR("--duration 'nan'", "--dst", "10.0.0.1:4000", "--duration", "nan");
	EXPECT_ERR("--duration '-1'", "--dst", "10.0.0.1:4000", "--duration", "-1");
	EXPECT_ERR("--duration '2h'", "--dst", "10.0.0.1:4000", "--duration", "2h");
	EXPECT_ERR("--duration '100000'", "--dst", "10.0.0.1:4000", "--duration", "100000");
}

static void test_modes_macs_eal(void **state)
{
	static const uint8_t mac[6] = {0x02, 0, 0, 0, 0xab, 0x01};

	assert_int_equal(PARSE("--rx-only", "--streams", "8", "--count", "10"), PG_ARGS_RUN);
	assert_true(args.rx_only);
	assert_int_equal(args.n_streams, 8);
	assert_int_equal(args.duration_ms, 20000);
	assert_int_equal(PARSE("--tx-only", "--dst", "10.0.0.1:4000", "--dst-mac",
				 "02:00:00:00:AB:01", "--src-mac", "02:00:00:00:ab:01", "--huge",
				 "off", "--", "--vdev", "net_ring0", "-d", "x"),
		PG_ARGS_RUN);
	assert_true(args.tx_only);
	assert_memory_equal(args.dst_mac, mac, 6);
	assert_memory_equal(args.src_mac, mac, 6);
	assert_true(pg_args_given(&args, PG_O_SRC_MAC));
	assert_int_equal(args.huge, PG_HUGE_OFF);
	assert_int_equal(args.eal_argc, 4);
	assert_string_equal(args.eal_argv[0], "--vdev");
	assert_string_equal(args.eal_argv[3], "x");
	EXPECT_ERR("--dst-mac '02:00:00:00:ab': expected a MAC", "--dst", "10.0.0.1:4000",
		"--dst-mac", "02:00:00:00:ab");
	EXPECT_ERR("--src-mac '02:00:00:00:ab:01:'", "--dst", "10.0.0.1:4000", "--src-mac",
		"02:00:00:00:ab:01:");
	EXPECT_ERR("--src-mac '0g:00:00:00:ab:01'", "--dst", "10.0.0.1:4000", "--src-mac",
		"0g:00:00:00:ab:01");
	EXPECT_ERR("--huge 'maybe': expected auto, on or off", "--dst", "10.0.0.1:4000", "--huge",
		"maybe");
	EXPECT_ERR("--file-prefix 'a/b'", "--dst", "10.0.0.1:4000", "--file-prefix", "a/b");
	EXPECT_ERR("--lcores '': must not be empty", "--dst", "10.0.0.1:4000", "--lcores", "");
	EXPECT_ERR("--log 'loud': not a log spec", "--dst", "10.0.0.1:4000", "--log", "loud");
	assert_int_equal(PARSE("--dst", "10.0.0.1:4000", "--log", "warn"), PG_ARGS_RUN);
	assert_string_equal(args.log, "warn");
	tg_log_apply_spec("info");
}

static void test_usage_lists_every_option(void **state)
{
	static const char *const names[] = {"--dst ", "--src ", "--dst-mac", "--src-mac",
		"--streams", "--pps", "--duration", "--count", "--ptime", "--pt ", "--payload-size",
		"--rx-only", "--tx-only", "--grace", "--port", "--lcores", "--file-prefix",
		"--huge", "--memory", "--mbufs", "--rx-desc", "--tx-desc", "--link-wait", "--log",
		"--help"};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	pg_args_usage(f, "tg-pktgen");
	fclose(f);
	assert_non_null(strstr(text, "usage: tg-pktgen [options] [-- EAL options]"));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strstr(text, names[i]))
			fail_msg("--help lacks %s", names[i]);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_streams_from_base),
		cmocka_unit_test(test_explicit_lists),
		cmocka_unit_test(test_long_lists),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_bad_endpoints),
		cmocka_unit_test(test_option_syntax),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_time_bounds),
		cmocka_unit_test(test_modes_macs_eal),
		cmocka_unit_test(test_usage_lists_every_option),
	};

	return cmocka_run_group_tests_name("pg_args", tests, NULL, NULL);
}
