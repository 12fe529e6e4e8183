/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Socket addresses as the appliance writes them: "ADDR:PORT" for IPv4 and "[ADDR6]:PORT" for
 * IPv6, the one grammar of sip.listen, routing targets and the tools' command lines. Names are
 * never resolved (that would block the control plane's loop), so only IP literals parse. Also
 * the comparison and hash of an address, for tables keyed by a peer (SIP connections).
 * No state; any thread.
 */
#ifndef TG_SOCKADDR_H
#define TG_SOCKADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "[" + an IPv6 address + "]:" + 5 digits + NUL */
#define TG_SOCKADDR_STRLEN (INET6_ADDRSTRLEN + 8)

/* tg_sockaddr_parse() flags */
#define TG_SOCKADDR_PORT_REQUIRED 1u /* port 0 ("any") is refused */

/*
 * Parses exactly len characters of s ("10.0.0.1:5060", "[fdec::1]:5060"; no whitespace) into
 * *ss and *sslen (sizeof(struct sockaddr_in or sockaddr_in6)), port in network order. An IPv6
 * address needs its brackets; the port is 1 to 5 decimal digits, 0-65535 (1-65535 with
 * TG_SOCKADDR_PORT_REQUIRED). 0 or -EINVAL; then *why, when why is not NULL, gets a static
 * phrase for an operator ("an IPv6 address needs brackets: [ADDR6]:PORT"). *ss is zeroed first.
 */
int tg_sockaddr_parse(const char *s, size_t len, unsigned flags, struct sockaddr_storage *ss,
	socklen_t *sslen, const char **why);

/* sa as "ADDR:PORT" or "[ADDR6]:PORT" into buf (TG_SOCKADDR_STRLEN is enough); "?" for another
 * family. Returns buf. */
const char *tg_sockaddr_fmt(const struct sockaddr *sa, char *buf, size_t len);
/* The address alone, without brackets ("fdec::1"), into buf (INET6_ADDRSTRLEN); returns buf. */
const char *tg_sockaddr_ip(const struct sockaddr *sa, char *buf, size_t len);
/* The port in host order; 0 for a family without one. */
uint16_t tg_sockaddr_port(const struct sockaddr *sa);
/* Sets the port (host order) of an AF_INET or AF_INET6 address. */
void tg_sockaddr_set_port(struct sockaddr *sa, uint16_t port);

/* Same family, address and port (and IPv6 scope); false for other families. */
bool tg_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b);
/* A hash of what tg_sockaddr_equal() compares, for tg_hmap. */
uint64_t tg_sockaddr_hash(const struct sockaddr *sa);

#endif
