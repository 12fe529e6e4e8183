/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the routing rules: the input's first line is routing.default, the rest
 * is routing.rules (each cut to its config buffer). Every input is parsed; an accepted table is
 * looked up with users, hosts and sources taken from fixed lists and from the input itself.
 * Beyond "no crash, no undefined behaviour, no leak" it aborts when a promise breaks: a refusal
 * is EINVAL with a message naming a rule or the default; the validators of the config keys agree
 * with the table constructor; a table holds at most 256 rules; a lookup returns NULL, a rule's
 * target or the default, never something else, and NULL only when there is no default; every
 * returned target's canonical text parses back to the same address, port and transport.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "cp_route.h"
#include "tg_log.h"

static struct cp_route_config rc, cfgrc;
static struct tg_cfg *cfg;

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool blank(const char *s)
{
	return s[strspn(s, " \t")] == '\0';
}

static void check_target(const struct cp_route_target *t, unsigned n)
{
	struct cp_route_target again;

	check(t->rule >= -1 && t->rule < (int)n);
	check(memchr(t->text, '\0', sizeof(t->text)) != NULL);
	check(t->addr.ss_family == AF_INET || t->addr.ss_family == AF_INET6);
	check(t->len == (t->addr.ss_family == AF_INET ? sizeof(struct sockaddr_in)
						      : sizeof(struct sockaddr_in6)));
	check(cp_route_parse_target(t->text, &again) == 0);
	check(again.len == t->len && again.tcp == t->tcp);
	check(memcmp(&again.addr, &t->addr, t->len) == 0);
	check(strcmp(again.text, t->text) == 0);
}

static const struct sockaddr *mkaddr(struct sockaddr_storage *ss, const char *ip)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &s4->sin_addr);
	}
	return (const struct sockaddr *)ss;
}

/* a token of the input (between separators), as a user or host to look up */
static void token(const uint8_t *data, size_t size, size_t from, char *out, size_t outlen)
{
	size_t i = from, n = 0;

	while (i < size && strchr(" \t,@=>\n", data[i]))
		i++;
	while (i < size && n + 1 < outlen && data[i] && !strchr(" \t,@=>\n", data[i]))
		out[n++] = (char)data[i++];
	out[n] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const users[] = {NULL, "", "1800", "18005551212", "alice", "+4930"};
	static const char *const hosts[] = {NULL, "", "example.com", "a.example.com", "10.0.0.1",
		"[fdec::1]", "fdec::1", "EXAMPLE.COM."};
	static const char *const srcs[] = {
		"10.0.0.1", "172.16.0.1", "0.0.0.0", "fdec::1", "::ffff:10.1.2.3", "2001:db8::1"};
	const uint8_t *nl = memchr(data, '\n', size);
	size_t dlen = nl ? (size_t)(nl - data) : 0, rlen = nl ? size - dlen - 1 : size;
	const uint8_t *rules = nl ? nl + 1 : data;
	struct cp_route_table *t;
	struct sockaddr_storage ss;
	char err[CP_ROUTE_ERR_LEN], msg[512];
	char tu[64], th[64];
	int rc_cfg;

	if (!cfg) {
		tg_log_set_ident("fuzz_route");
		tg_log_set_level("all", "err");
		cfg = tg_cfg_new();
		check(cfg && cp_route_config_register(cfg, &cfgrc) == 0);
	}

	memset(&rc, 0, sizeof(rc));
	memcpy(rc.def, data, dlen < sizeof(rc.def) ? dlen : sizeof(rc.def) - 1);
	memcpy(rc.rules, rules, rlen < sizeof(rc.rules) ? rlen : sizeof(rc.rules) - 1);

	err[0] = '\0';
	errno = 0;
	t = cp_route_table_new(&rc, err, sizeof(err));

	/* the config keys' validators say the same (NULs in the input end the strings early) */
	rc_cfg = tg_cfg_set(cfg, "routing.rules", rc.rules, false, msg, sizeof(msg));
	if (rc_cfg == 0)
		rc_cfg = tg_cfg_set(cfg, "routing.default", rc.def, false, msg, sizeof(msg));
	/* the config engine refuses control bytes and surrounding whitespace on its own */
	if (rc_cfg == 0)
		check(t != NULL);

	if (!t) {
		check(errno == EINVAL);
		check(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		check(strncmp(err, "rule ", 5) == 0 || strncmp(err, "default: ", 9) == 0 ||
			strstr(err, " rules: at most ") != NULL);
		return 0;
	}
	check(cp_route_count(t) <= CP_ROUTE_MAX_RULES);

	for (size_t u = 0; u < sizeof(users) / sizeof(users[0]); u++)
		for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++)
			for (size_t s = 0; s <= sizeof(srcs) / sizeof(srcs[0]); s++) {
				const struct sockaddr *src = s < sizeof(srcs) / sizeof(srcs[0])
								     ? mkaddr(&ss, srcs[s])
								     : NULL;
				const struct cp_route_target *tg =
					cp_route_lookup(t, users[u], hosts[h], src);

				if (tg)
					check_target(tg, cp_route_count(t));
				else
					check(blank(rc.def));
			}

	/* users and hosts from the input's own tokens hit literal rules */
	for (size_t off = 0; off < rlen && off < 4096; off += 1 + off / 4) {
		const struct cp_route_target *tg;

		token(rules, rlen, off, tu, sizeof(tu));
		token(rules, rlen, off + strlen(tu) + 1, th, sizeof(th));
		tg = cp_route_lookup(t, tu, th, mkaddr(&ss, th[0] ? th : "10.0.0.1"));
		if (tg)
			check_target(tg, cp_route_count(t));
		else
			check(blank(rc.def));
	}
	cp_route_table_free(t);
	return 0;
}
