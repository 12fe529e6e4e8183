/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing of new calls: which target an incoming INVITE is sent to, from the [routing] section
 * of the config file. Only configured routes are reachable, so the appliance is never an open
 * relay: a request that matches no rule and finds no default gets NULL here, and the caller
 * answers 404.
 *
 *   [routing]
 *   rules   = <rule>, <rule>, ...     ; first match wins, in order
 *   default = <target>                ; when no rule matches; "" = none (404)
 *
 *   rule    := [from <CIDR>] <user>@<domain> => <target>
 *   user    := '*' (any, also none) | literal (case-sensitive) | prefix ending in '*' ("1800*")
 *   domain  := '*' | exact name or IP (case-insensitive) | "*.example.com" (a.example.com,
 *              b.a.example.com; not example.com itself)
 *   CIDR    := IPv4 or IPv6 prefix (10.0.0.0/8, fdec::/16) or a plain address (/32, /128),
 *              matched against the request's source address
 *   target  := ADDR:PORT | [ADDR6]:PORT, optionally followed by /udp (default) or /tcp
 *
 * Targets are IP literals only: resolving names would block the control plane's loop.
 *
 * A table is built once from the config (cp_route_table_new), is immutable afterwards and holds
 * no pointer into the config struct. Lookup is a linear scan of at most CP_ROUTE_MAX_RULES
 * rules, no allocation. Nothing here keeps global state; a table may be read from any thread.
 */
#ifndef TG_CP_ROUTE_H
#define TG_CP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "tg_config.h"

#define CP_ROUTE_MAX_RULES 256
#define CP_ROUTE_MAX_RULE_LEN 512 /* characters in one rule, whitespace included */
#define CP_ROUTE_ERR_LEN 160	  /* enough for every message this module writes */

/* Where a call goes. text is canonical: "10.0.0.1:5060/udp", "[fdec::1]:5080/tcp". */
struct cp_route_target {
	struct sockaddr_storage addr; /* AF_INET or AF_INET6, port in network order */
	socklen_t len;		      /* sizeof(struct sockaddr_in or sockaddr_in6) */
	bool tcp;		      /* false: UDP */
	char text[80];
	int rule; /* index of the rule that matched (0-based), -1 for the default */
};

/* The [routing] keys, registered by cp_route_config_register(). */
struct cp_route_config {
	char rules[16384]; /* routing.rules */
	char def[96];	   /* routing.default */
};

/*
 * Registers routing.rules and routing.default on cfg, writing into rc. Neither is live: the
 * control plane's `reload` re-reads them from the config file (TG_CFG_RELOAD). Each key's
 * validator runs the parser, so a bad rule fails the config load with a message naming the
 * rule and the problem ("rule 2: bad target '1.2.3:5060'"). Returns tg_cfg_register()'s codes.
 */
int cp_route_config_register(struct tg_cfg *cfg, struct cp_route_config *rc);
/* The routing keys' values in a registry that has them (a reload's detached copy) into rc.
 * 0, -ENOENT (not registered there) or -ENOSPC. */
int cp_route_config_get(const struct tg_cfg *cfg, struct cp_route_config *rc);

struct cp_route_table;

/*
 * Builds the table from rc. NULL on a bad config (errno EINVAL, the reason in err, e.g.
 * "rule 3: bad CIDR '10.0.0.0/33'" or "default: bad target 'x'") or out of memory (ENOMEM).
 * err may be NULL when errlen is 0.
 */
struct cp_route_table *cp_route_table_new(
	const struct cp_route_config *rc, char *err, size_t errlen);
/* NULL is a no-op. */
void cp_route_table_free(struct cp_route_table *t);

/*
 * The target for a request, or NULL (no rule matches and there is no default: answer 404).
 * user:  the Request-URI's user part; NULL or "" matches only '*' users.
 * host:  the Request-URI's host, with or without brackets around an IPv6 address; NULL
 *        matches only '*' domains.
 * src:   the request's source address (AF_INET or AF_INET6; an IPv4-mapped IPv6 address
 *        counts as IPv4); NULL matches only rules without "from".
 * The pointer stays valid until the table is freed.
 */
const struct cp_route_target *cp_route_lookup(const struct cp_route_table *t, const char *user,
	const char *host, const struct sockaddr *src);

/* Number of rules (the default not counted). */
unsigned cp_route_count(const struct cp_route_table *t);

/*
 * Parses one target ("ADDR:PORT[/udp|/tcp]", surrounding whitespace allowed) into *out, with
 * out->rule = -1. Returns 0 or -EINVAL. The same parser serves routing.default and the right
 * side of every rule.
 */
int cp_route_parse_target(const char *s, struct cp_route_target *out);

#endif
