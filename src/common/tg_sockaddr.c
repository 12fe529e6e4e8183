/* SPDX-License-Identifier: BSD-3-Clause */
/* "ADDR:PORT" / "[ADDR6]:PORT" text and socket addresses (see tg_sockaddr.h). */
#include "tg_sockaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tg_hmap.h" /* tg_hash_bytes */

int tg_sockaddr_parse(const char *s, size_t len, unsigned flags, struct sockaddr_storage *ss,
	socklen_t *sslen, const char **why)
{
	const char *end = s + len, *host, *colon, *reason;
	char ip[INET6_ADDRSTRLEN];
	unsigned long port = 0;
	size_t host_len;
	int family;

	memset(ss, 0, sizeof(*ss));
	*sslen = 0;
	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close || close + 1 == end || close[1] != ':') {
			reason = "expected [ADDR6]:PORT";
			goto bad;
		}
		host = s + 1;
		host_len = (size_t)(close - host);
		colon = close + 1;
		family = AF_INET6;
	} else {
		colon = memchr(s, ':', len);
		if (!colon) {
			reason = "expected ADDR:PORT or [ADDR6]:PORT";
			goto bad;
		}
		if (memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
			reason = "an IPv6 address needs brackets: [ADDR6]:PORT";
			goto bad;
		}
		host = s;
		host_len = (size_t)(colon - s);
		family = AF_INET;
	}
	reason = family == AF_INET ? "not an IPv4 address (names are not resolved)"
				   : "not an IPv6 address";
	if (host_len == 0 || host_len >= sizeof(ip))
		goto bad;
	memcpy(ip, host, host_len);
	ip[host_len] = '\0';
	if (family == AF_INET
			? inet_pton(AF_INET, ip, &((struct sockaddr_in *)ss)->sin_addr) != 1
			: inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)ss)->sin6_addr) != 1)
		goto bad;
	reason = flags & TG_SOCKADDR_PORT_REQUIRED ? "the port must be 1-65535"
						   : "the port must be 0-65535";
	if (colon + 1 == end || end - (colon + 1) > 5)
		goto bad;
	for (const char *p = colon + 1; p < end; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port > 65535 || (port == 0 && (flags & TG_SOCKADDR_PORT_REQUIRED)))
		goto bad;
	ss->ss_family = (sa_family_t)family;
	tg_sockaddr_set_port((struct sockaddr *)ss, (uint16_t)port);
	*sslen = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	return 0;
bad:
	memset(ss, 0, sizeof(*ss));
	if (why)
		*why = reason;
	return -EINVAL;
}

const char *tg_sockaddr_ip(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	if (!a || !inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *tg_sockaddr_fmt(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		snprintf(buf, len, "?");
		return buf;
	}
	tg_sockaddr_ip(sa, ip, sizeof(ip));
	snprintf(buf, len, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
		tg_sockaddr_port(sa));
	return buf;
}

uint16_t tg_sockaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	return 0;
}

void tg_sockaddr_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons(port);
	else if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)(void *)sa)->sin_port = htons(port);
}

bool tg_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

uint64_t tg_sockaddr_hash(const struct sockaddr *sa)
{
	uint64_t h = tg_hash_bytes(TG_HASH_SEED, &sa->sa_family, sizeof(sa->sa_family));

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)sa;

		h = tg_hash_bytes(h, &x->sin_port, sizeof(x->sin_port));
		return tg_hash_bytes(h, &x->sin_addr, sizeof(x->sin_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)sa;

		h = tg_hash_bytes(h, &x->sin6_port, sizeof(x->sin6_port));
		h = tg_hash_bytes(h, &x->sin6_scope_id, sizeof(x->sin6_scope_id));
		return tg_hash_bytes(h, &x->sin6_addr, sizeof(x->sin6_addr));
	}
	return h;
}
