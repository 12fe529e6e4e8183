/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's config keys through the real registry: the media address lists
 * (dataplane.media_address and media_address6), their parser, and the messages an operator
 * gets for a bad entry, an address of the wrong family, a duplicate or too many. No EAL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dp_config.h"

static struct tg_cfg *cfg;
static struct dp_config dc;
static char err[512];

static int setup(void **state)
{
	memset(&dc, 0, sizeof(dc));
	cfg = tg_cfg_new();
	assert_non_null(cfg);
	assert_int_equal(dp_config_register(cfg, &dc), 0);
	assert_int_equal(tg_cfg_apply_defaults(cfg, err, sizeof(err)), 0);
	return 0;
}

static int teardown(void **state)
{
	tg_cfg_free(cfg);
	cfg = NULL;
	return 0;
}

/* The list has exactly the addresses in want[], in order. */
static void assert_list(const char *text, uint8_t family, const char *const *want, int n)
{
	struct tg_addr a[DP_MEDIA_ADDRS_MAX];
	uint8_t bin[16];

	assert_int_equal(dp_media_addrs_parse(text, family, a, err, sizeof(err)), n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(
			inet_pton(family == TG_AF_INET ? AF_INET : AF_INET6, want[i], bin), 1);
		assert_int_equal(a[i].family, family);
		assert_int_equal(a[i].port, 0);
		assert_memory_equal(a[i].a, bin, family == TG_AF_INET ? 4 : 16);
	}
}

/* Setting key to value is refused with a message containing each of the words. */
static void assert_refused(const char *key, const char *value, const char *const *words)
{
	char before[DP_MEDIA_ADDRS_LEN];

	assert_int_equal(tg_cfg_get(cfg, key, before, sizeof(before)), 0);
	assert_int_equal(tg_cfg_set(cfg, key, value, false, err, sizeof(err)), -EINVAL);
	for (; *words; words++)
		if (!strstr(err, *words))
			fail_msg("'%s' = '%s': '%s' not in \"%s\"", key, value, *words, err);
	/* the field keeps what it had */
	assert_string_equal(
		strcmp(key, "dataplane.media_address") == 0 ? dc.media_address : dc.media_address6,
		before);
}

static void test_lists(void **state)
{
	const char *const v4[] = {"198.18.0.1", "198.18.0.2", "198.18.0.3"};
	const char *const v6[] = {"fdec:7011::1", "fdec:7011::2"};

	/* empty by default: endpoints must name their address */
	assert_string_equal(dc.media_address, "");
	assert_list(dc.media_address, TG_AF_INET, NULL, 0);
	assert_list("198.18.0.1", TG_AF_INET, v4, 1);
	/* spaces and tabs around the commas */
	assert_int_equal(tg_cfg_set(cfg, "dataplane.media_address",
				 "198.18.0.1, 198.18.0.2 ,\t198.18.0.3", false, err, sizeof(err)),
		0);
	assert_list(dc.media_address, TG_AF_INET, v4, 3);
	assert_int_equal(tg_cfg_set(cfg, "dataplane.media_address6", "fdec:7011::1,fdec:7011::2",
				 false, err, sizeof(err)),
		0);
	assert_list(dc.media_address6, TG_AF_INET6, v6, 2);
	/* and back to none */
	assert_int_equal(
		tg_cfg_set(cfg, "dataplane.media_address", "", false, err, sizeof(err)), 0);
	assert_list(dc.media_address, TG_AF_INET, NULL, 0);
}

/* A file may give a list on several lines (a config line is at most ~200 characters). */
static void test_list_over_lines(void **state)
{
	const char *const v4[] = {"198.18.0.1", "198.18.0.2", "198.18.0.3"};

	assert_int_equal(tg_cfg_load_string(cfg,
				 "[dataplane]\n"
				 "media_address = 198.18.0.1, 198.18.0.2\n"
				 "media_address = 198.18.0.3\n",
				 "t.conf", err, sizeof(err)),
		0);
	assert_list(dc.media_address, TG_AF_INET, v4, 3);
	/* an entry repeated on another line is still a duplicate */
	assert_int_equal(tg_cfg_load_string(cfg,
				 "[dataplane]\n"
				 "media_address = 198.18.0.4\n"
				 "media_address = 198.18.0.4\n",
				 "t.conf", err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "t.conf:3"));
	assert_non_null(strstr(err, "media_address"));
	assert_non_null(strstr(err, "'198.18.0.4' (address 2) is listed twice"));
	assert_list(dc.media_address, TG_AF_INET, v4, 3);
}

static void test_bad_entries(void **state)
{
	const char *key4 = "dataplane.media_address", *key6 = "dataplane.media_address6";

	assert_int_equal(tg_cfg_set(cfg, key4, "198.18.0.1", false, err, sizeof(err)), 0);
	assert_refused(key4, "198.18.0.1,198.18.0.x",
		(const char *[]){key4, "'198.18.0.x' (address 2) is not an IPv4 address", NULL});
	assert_refused(
		key4, "198.18.0.1,,198.18.0.2", (const char *[]){key4, "address 2 is empty", NULL});
	assert_refused(key4, "198.18.0.1,", (const char *[]){key4, "address 2 is empty", NULL});
	assert_refused(key4, "198.18.0.1 198.18.0.2",
		(const char *[]){key4, "'198.18.0.1 198.18.0.2' (address 1) is not an IPv4", NULL});
	assert_refused(key4, "198.18.0.1,media.example.com",
		(const char *[]){key4, "'media.example.com' (address 2)", NULL});
	assert_refused(key4, "198.18.0.1,198.018.0.2,198.18.0.1",
		(const char *[]){key4, "'198.018.0.2' (address 2)", NULL});
	assert_refused(key4, "198.18.0.2,198.18.0.1,198.18.0.2",
		(const char *[]){key4, "'198.18.0.2' (address 3) is listed twice", NULL});
	/* an over-long entry is quoted shortened */
	assert_refused(key4,
		"198.18.0.1,198.18.0.22222222222222222222222222222222222222222222222222",
		(const char *[]){
			key4, "'198.18.0.2222222222222222222222222222222...' (address 2)", NULL});
	assert_refused(key6, "fdec::1,fdec::g",
		(const char *[]){key6, "'fdec::g' (address 2) is not an IPv6 address", NULL});
	assert_refused(key6, "fdec::1,fdec:0::1",
		(const char *[]){key6, "'fdec:0::1' (address 2) is listed twice", NULL});
	assert_string_equal(dc.media_address, "198.18.0.1");
}

/* IPv4 lists take IPv4 only and IPv6 lists IPv6 only, and the message says where it goes. */
static void test_wrong_family(void **state)
{
	const char *key4 = "dataplane.media_address", *key6 = "dataplane.media_address6";

	assert_refused(key4, "fdec:7011::1",
		(const char *[]){key4, "'fdec:7011::1' (address 1) is an IPv6 address",
			"dataplane.media_address6", NULL});
	assert_refused(key4, "198.18.0.1, ::ffff:198.18.0.2",
		(const char *[]){key4, "'::ffff:198.18.0.2' (address 2) is an IPv6 address", NULL});
	assert_refused(key6, "fdec:7011::1,198.18.0.1",
		(const char *[]){key6, "'198.18.0.1' (address 2) is an IPv4 address",
			"go in dataplane.media_address", NULL});
	/* the same in a file: the file, the line, the key and the entry */
	assert_int_equal(tg_cfg_load_string(cfg, "[dataplane]\nmedia_address6 = 198.18.0.1\n",
				 "t.conf", err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "t.conf:2"));
	assert_non_null(strstr(err, "media_address6"));
	assert_non_null(strstr(err, "'198.18.0.1' (address 1) is an IPv4 address"));
}

/* Sixteen addresses, even the longest IPv6 ones, fit; a seventeenth is refused. */
static void test_too_many(void **state)
{
	char list[1024];
	size_t len = 0;

	for (int i = 0; i < DP_MEDIA_ADDRS_MAX; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len,
			"%sffff:ffff:ffff:ffff:ffff:ff%02x:255.255.255.255", i ? ", " : "", i);
	assert_int_equal(
		tg_cfg_set(cfg, "dataplane.media_address6", list, false, err, sizeof(err)), 0);
	assert_int_equal(dp_media_addrs_parse(dc.media_address6, TG_AF_INET6,
				 (struct tg_addr[DP_MEDIA_ADDRS_MAX]){0}, err, sizeof(err)),
		DP_MEDIA_ADDRS_MAX);
	len = 0;
	for (int i = 1; i <= DP_MEDIA_ADDRS_MAX + 1; i++)
		len += (size_t)snprintf(
			list + len, sizeof(list) - len, "%s198.18.0.%d", i > 1 ? "," : "", i);
	assert_refused("dataplane.media_address", list,
		(const char *[]){"dataplane.media_address", "more than 16 addresses", NULL});
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_over_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_family, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
