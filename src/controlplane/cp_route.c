/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing rules: the [routing] config keys, their parser, and the lookup of a new INVITE's
 * target. The parser is the keys' validator too, so a config that loads always builds a table,
 * and every error names the rule (numbered from 1, as an operator counts) and the token.
 */
#include "cp_route.h"

#include "tg_shm.h" /* tg_errf */
#include "tg_sockaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum match_kind {
	MATCH_ANY,    /* '*' */
	MATCH_EXACT,  /* user: case-sensitive; domain: case-insensitive name */
	MATCH_PREFIX, /* user "1800*" */
	MATCH_SUFFIX, /* domain "*.example.com": stored as ".example.com" */
	MATCH_IP,     /* domain that is an IP literal: compared as binary */
};

struct ip_prefix {
	int family; /* AF_INET, AF_INET6 */
	uint8_t a[16];
	unsigned len; /* prefix length in bits */
};

struct rule {
	enum match_kind user_kind;
	enum match_kind dom_kind;
	const char *user; /* into the table's text copy, NUL-terminated there; '*' removed */
	size_t user_len;
	const char *dom; /* ditto; brackets and the '*' of a suffix removed */
	size_t dom_len;
	struct ip_prefix dom_ip; /* MATCH_IP */
	bool from;
	struct ip_prefix src; /* when from */
	struct cp_route_target target;
};

struct cp_route_table {
	char *text; /* the rules value, cut into NUL-terminated pieces */
	unsigned n;
	bool has_def;
	struct cp_route_target def;
	struct rule rule[];
};

#define WS " \t"

/* A token for a message: at most 60 characters, "..." when cut. */
static const char *quote(char *buf, size_t size, const char *s, size_t len)
{
	if (len > 60)
		snprintf(buf, size, "%.57s...", s);
	else
		snprintf(buf, size, "%.*s", (int)len, s);
	return buf;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims [*s, *s + *len) in place. */
static void trim(const char **s, size_t *len)
{
	while (*len && is_ws(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_ws((*s)[*len - 1]))
		(*len)--;
}

static bool find_ws(const char *s, size_t len, size_t *at)
{
	for (size_t i = 0; i < len; i++) {
		if (is_ws(s[i])) {
			*at = i;
			return true;
		}
	}
	return false;
}

/* An IP literal of exactly len characters: 0 or -EINVAL. */
static int parse_ip(const char *s, size_t len, int family, uint8_t *a)
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(family, buf, a) == 1 ? 0 : -EINVAL;
}

static bool bad_unicast(int family, const uint8_t *a)
{
	static const uint8_t zero[16];

	if (family == AF_INET)
		return memcmp(a, zero, 4) == 0 || (a[0] >= 224 && a[0] <= 239) ||
		       memcmp(a, "\xff\xff\xff\xff", 4) == 0;
	return memcmp(a, zero, 16) == 0 || a[0] == 0xff;
}

/* Target text of len characters into *out; NULL or the reason it is bad. */
static const char *target_parse(const char *s, size_t len, struct cp_route_target *out)
{
	const char *slash, *why = NULL;
	const struct sockaddr *sa = (const struct sockaddr *)&out->addr;
	char text[TG_SOCKADDR_STRLEN];
	const uint8_t *a;

	memset(out, 0, sizeof(*out));
	out->rule = -1;
	trim(&s, &len);
	if (len == 0)
		return "empty";
	if (len > 80)
		return "too long";
	slash = memchr(s, '/', len);
	if (slash) {
		size_t rest = len - (size_t)(slash - s);

		if (rest == 4 && strncasecmp(slash, "/udp", 4) == 0)
			out->tcp = false;
		else if (rest == 4 && strncasecmp(slash, "/tcp", 4) == 0)
			out->tcp = true;
		else
			return "the transport must be /udp or /tcp";
		len = (size_t)(slash - s);
	}
	if (tg_sockaddr_parse(s, len, TG_SOCKADDR_PORT_REQUIRED, &out->addr, &out->len, &why) < 0)
		return why;
	a = sa->sa_family == AF_INET
		    ? (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
		    : ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	if (bad_unicast(sa->sa_family, a))
		return "an unspecified, multicast or broadcast address";
	snprintf(out->text, sizeof(out->text), "%s/%s", tg_sockaddr_fmt(sa, text, sizeof(text)),
		out->tcp ? "tcp" : "udp");
	return NULL;
}

int cp_route_parse_target(const char *s, struct cp_route_target *out)
{
	return target_parse(s, strlen(s), out) ? -EINVAL : 0;
}

/* "10.0.0.0/8", "fdec::/16", "10.1.2.3"; NULL or the reason it is bad. */
static const char *cidr_parse(const char *s, size_t len, struct ip_prefix *p)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	unsigned max, bits = 0;

	memset(p, 0, sizeof(*p));
	if (parse_ip(s, alen, AF_INET, p->a) == 0)
		p->family = AF_INET;
	else if (parse_ip(s, alen, AF_INET6, p->a) == 0)
		p->family = AF_INET6;
	else
		return "not an IPv4 or IPv6 address";
	max = p->family == AF_INET ? 32 : 128;
	if (!slash) {
		p->len = max;
		return NULL;
	}
	{
		const char *d = slash + 1, *end = s + len;

		if (d == end || end - d > 3)
			return "the prefix length must be a number of bits";
		for (; d < end; d++) {
			if (*d < '0' || *d > '9')
				return "the prefix length must be a number of bits";
			bits = bits * 10 + (unsigned)(*d - '0');
		}
	}
	if (bits > max)
		return p->family == AF_INET ? "the prefix length must be 0-32"
					    : "the prefix length must be 0-128";
	p->len = bits;
	for (unsigned i = bits; i < max; i++)
		if (p->a[i / 8] & (0x80 >> (i % 8)))
			return "address bits set past the prefix length";
	return NULL;
}

static bool prefix_match(const struct ip_prefix *p, int family, const uint8_t *a)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (family != p->family)
		return false;
	if (memcmp(p->a, a, full) != 0)
		return false;
	return rest == 0 || ((p->a[full] ^ a[full]) & (uint8_t)(0xff00 >> rest)) == 0;
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* A host name: labels of [A-Za-z0-9_-] separated by single dots, at most 253 characters. */
static bool hostname_ok(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (host_char(s[i])) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

/* Characters a user part may hold here: printable ASCII but '@' (and '*' only at the end). */
static bool user_char(char c)
{
	return c > ' ' && c < 0x7f && c != '@' && c != '*';
}

/* "user@domain" at s (NUL-terminated, writable) into r; NULL or the reason. */
static const char *pattern_parse(char *s, size_t len, struct rule *r)
{
	char *at = memchr(s, '@', len);
	char *dom;
	size_t ulen, dlen;

	if (!at)
		return "expected user@domain";
	ulen = (size_t)(at - s);
	dom = at + 1;
	dlen = len - ulen - 1;
	*at = '\0';

	if (ulen == 0)
		return "empty user (use '*' for any)";
	if (ulen == 1 && s[0] == '*') {
		r->user_kind = MATCH_ANY;
	} else {
		r->user_kind = s[ulen - 1] == '*' ? MATCH_PREFIX : MATCH_EXACT;
		if (r->user_kind == MATCH_PREFIX)
			s[--ulen] = '\0';
		for (size_t i = 0; i < ulen; i++)
			if (!user_char(s[i]))
				return "bad user ('*' only alone or at the end)";
	}
	r->user = s;
	r->user_len = ulen;

	if (dlen == 1 && dom[0] == '*') {
		r->dom_kind = MATCH_ANY;
	} else if (dlen > 2 && dom[0] == '*' && dom[1] == '.') {
		r->dom_kind = MATCH_SUFFIX;
		dom++; /* keep the dot: the match is on whole labels */
		dlen--;
		if (!hostname_ok(dom + 1, dlen - 1))
			return "bad domain";
	} else if (dlen > 2 && dom[0] == '[' && dom[dlen - 1] == ']') {
		r->dom_kind = MATCH_IP;
		r->dom_ip.family = AF_INET6;
		r->dom_ip.len = 128;
		if (parse_ip(dom + 1, dlen - 2, AF_INET6, r->dom_ip.a))
			return "bad domain";
	} else if (parse_ip(dom, dlen, AF_INET, r->dom_ip.a) == 0) {
		r->dom_kind = MATCH_IP;
		r->dom_ip.family = AF_INET;
		r->dom_ip.len = 32;
	} else if (parse_ip(dom, dlen, AF_INET6, r->dom_ip.a) == 0) {
		r->dom_kind = MATCH_IP;
		r->dom_ip.family = AF_INET6;
		r->dom_ip.len = 128;
	} else {
		r->dom_kind = MATCH_EXACT;
		if (!hostname_ok(dom, dlen))
			return "bad domain";
	}
	r->dom = dom;
	r->dom_len = dlen;
	return NULL;
}

/*
 * One rule, s[0..len) of the writable text (len <= CP_ROUTE_MAX_RULE_LEN). Pieces are cut with
 * NULs, so the byte at s[len] (a comma or the end) may be overwritten. 0 or -EINVAL + err.
 */
static int rule_parse(char *s, size_t len, unsigned no, struct rule *r, char *err, size_t errlen)
{
	const char *cs = s, *why;
	char *arrow, *lhs, *rhs, *tok;
	size_t lhs_len, rhs_len, tok_len, at;
	char q[64], q2[64];

	memset(r, 0, sizeof(*r));
	trim(&cs, &len);
	s = (char *)cs;
	if (len == 0) {
		tg_errf(err, errlen, "rule %u: empty (two commas in a row, or one at an end)", no);
		return -EINVAL;
	}
	s[len] = '\0';
	arrow = strstr(s, "=>");
	if (!arrow) {
		tg_errf(err, errlen, "rule %u: missing '=>' in '%s'", no,
			quote(q, sizeof(q), s, len));
		return -EINVAL;
	}
	if (strstr(arrow + 2, "=>")) {
		tg_errf(err, errlen, "rule %u: more than one '=>'", no);
		return -EINVAL;
	}

	/* right side: exactly one target */
	rhs = arrow + 2;
	rhs_len = len - (size_t)(rhs - s);
	cs = rhs;
	trim(&cs, &rhs_len);
	rhs = (char *)cs;
	if (rhs_len == 0) {
		tg_errf(err, errlen, "rule %u: missing target after '=>'", no);
		return -EINVAL;
	}
	if (find_ws(rhs, rhs_len, &at)) {
		const char *g = rhs + at;
		size_t glen = rhs_len - at;

		trim(&g, &glen);
		tg_errf(err, errlen, "rule %u: trailing garbage '%s' after the target", no,
			quote(q, sizeof(q), g, glen));
		return -EINVAL;
	}
	why = target_parse(rhs, rhs_len, &r->target);
	if (why) {
		tg_errf(err, errlen, "rule %u: bad target '%s': %s", no,
			quote(q, sizeof(q), rhs, rhs_len), why);
		return -EINVAL;
	}

	/* left side: [from CIDR] pattern */
	lhs = s;
	lhs_len = (size_t)(arrow - s);
	cs = lhs;
	trim(&cs, &lhs_len);
	lhs = (char *)cs;
	if (lhs_len == 0) {
		tg_errf(err, errlen, "rule %u: missing user@domain before '=>'", no);
		return -EINVAL;
	}
	tok = lhs;
	tok_len = find_ws(lhs, lhs_len, &at) ? at : lhs_len;
	if (tok_len == 4 && strncasecmp(tok, "from", 4) == 0) {
		const char *c = tok + 4;
		size_t clen = lhs_len - 4;

		trim(&c, &clen);
		tok_len = find_ws(c, clen, &at) ? at : clen;
		if (tok_len == 0 || tok_len == clen) {
			tg_errf(err, errlen, "rule %u: 'from' needs a CIDR and then user@domain",
				no);
			return -EINVAL;
		}
		why = cidr_parse(c, tok_len, &r->src);
		if (why) {
			tg_errf(err, errlen, "rule %u: bad CIDR '%s': %s", no,
				quote(q, sizeof(q), c, tok_len), why);
			return -EINVAL;
		}
		r->from = true;
		lhs_len -= (size_t)(c + tok_len - lhs);
		cs = c + tok_len;
		trim(&cs, &lhs_len);
		lhs = (char *)cs;
		tok_len = find_ws(lhs, lhs_len, &at) ? at : lhs_len;
		tok = lhs;
	}
	if (tok_len < lhs_len) {
		const char *g = tok + tok_len;
		size_t glen = lhs_len - tok_len;

		trim(&g, &glen);
		tg_errf(err, errlen, "rule %u: trailing garbage '%s' after '%s'", no,
			quote(q, sizeof(q), g, glen), quote(q2, sizeof(q2), tok, tok_len));
		return -EINVAL;
	}
	tok[tok_len] = '\0';
	quote(q, sizeof(q), tok, tok_len); /* before pattern_parse cuts it */
	why = pattern_parse(tok, tok_len, r);
	if (why) {
		tg_errf(err, errlen, "rule %u: bad pattern '%s': %s", no, q, why);
		return -EINVAL;
	}
	return 0;
}

static unsigned count_rules(const char *s)
{
	unsigned n = 1;

	for (; *s; s++)
		n += *s == ',';
	return n;
}

static bool blank(const char *s)
{
	return s[strspn(s, WS)] == '\0';
}

/* The whole table from the two values; NULL + err (EINVAL) or NULL (ENOMEM). */
static struct cp_route_table *build(const char *rules, const char *def, char *err, size_t errlen)
{
	struct cp_route_table *t;
	unsigned n = blank(rules) ? 0 : count_rules(rules);
	const char *why;
	char q[64];
	char *p;

	if (n > CP_ROUTE_MAX_RULES) {
		tg_errf(err, errlen, "%u rules: at most %u", n, CP_ROUTE_MAX_RULES);
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t) + n * sizeof(t->rule[0]));
	if (!t || !(t->text = strdup(rules))) {
		free(t);
		tg_errf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	p = t->text;
	for (unsigned i = 0; i < n; i++) {
		size_t len = strcspn(p, ",");
		char *next = p + len + (p[len] == ',');

		if (len > CP_ROUTE_MAX_RULE_LEN) {
			tg_errf(err, errlen, "rule %u: longer than %u characters", i + 1,
				CP_ROUTE_MAX_RULE_LEN);
			goto bad;
		}
		if (rule_parse(p, len, i + 1, &t->rule[i], err, errlen))
			goto bad;
		t->rule[i].target.rule = (int)i;
		p = next;
	}
	t->n = n;
	if (!blank(def)) {
		why = target_parse(def, strlen(def), &t->def);
		if (why) {
			tg_errf(err, errlen, "default: bad target '%s': %s",
				quote(q, sizeof(q), def, strlen(def)), why);
			goto bad;
		}
		t->has_def = true;
	}
	return t;
bad:
	cp_route_table_free(t);
	errno = EINVAL;
	return NULL;
}

struct cp_route_table *cp_route_table_new(
	const struct cp_route_config *rc, char *err, size_t errlen)
{
	if (memchr(rc->rules, '\0', sizeof(rc->rules)) == NULL ||
		memchr(rc->def, '\0', sizeof(rc->def)) == NULL) {
		tg_errf(err, errlen, "routing config is not NUL-terminated");
		errno = EINVAL;
		return NULL;
	}
	return build(rc->rules, rc->def, err, errlen);
}

void cp_route_table_free(struct cp_route_table *t)
{
	if (!t)
		return;
	free(t->text);
	free(t);
}

unsigned cp_route_count(const struct cp_route_table *t)
{
	return t ? t->n : 0;
}

/* The request's host, normalised once per lookup. */
struct host {
	const char *s; /* brackets and one trailing dot removed */
	size_t len;
	int family; /* 0 unless the host is an IP literal */
	uint8_t a[16];
};

static void host_init(struct host *h, const char *s)
{
	memset(h, 0, sizeof(*h));
	if (!s)
		return;
	h->s = s;
	h->len = strlen(s);
	if (h->len >= 2 && s[0] == '[' && s[h->len - 1] == ']') {
		h->s++;
		h->len -= 2;
		if (parse_ip(h->s, h->len, AF_INET6, h->a) == 0)
			h->family = AF_INET6;
		return;
	}
	if (h->len > 1 && s[h->len - 1] == '.')
		h->len--;
	if (parse_ip(h->s, h->len, AF_INET, h->a) == 0)
		h->family = AF_INET;
	else if (parse_ip(h->s, h->len, AF_INET6, h->a) == 0)
		h->family = AF_INET6;
}

static bool user_match(const struct rule *r, const char *user, size_t ulen)
{
	switch (r->user_kind) {
	case MATCH_ANY:
		return true;
	case MATCH_EXACT:
		return ulen == r->user_len && memcmp(user, r->user, ulen) == 0;
	case MATCH_PREFIX:
		return ulen >= r->user_len && memcmp(user, r->user, r->user_len) == 0;
	default:
		return false;
	}
}

static bool domain_match(const struct rule *r, const struct host *h)
{
	switch (r->dom_kind) {
	case MATCH_ANY:
		return true;
	case MATCH_EXACT:
		return h->s && h->len == r->dom_len && strncasecmp(h->s, r->dom, h->len) == 0;
	case MATCH_SUFFIX:
		return h->s && h->len > r->dom_len &&
		       strncasecmp(h->s + h->len - r->dom_len, r->dom, r->dom_len) == 0;
	case MATCH_IP:
		return h->family == r->dom_ip.family &&
		       memcmp(h->a, r->dom_ip.a, h->family == AF_INET ? 4 : 16) == 0;
	default:
		return false;
	}
}

const struct cp_route_target *cp_route_lookup(const struct cp_route_table *t, const char *user,
	const char *host, const struct sockaddr *src)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	size_t ulen = user ? strlen(user) : 0;
	int sfamily = 0;
	uint8_t sa[16];
	struct host h;

	if (!t)
		return NULL;
	if (!user)
		user = "";
	if (src && src->sa_family == AF_INET) {
		sfamily = AF_INET;
		memcpy(sa, &((const struct sockaddr_in *)(const void *)src)->sin_addr, 4);
	} else if (src && src->sa_family == AF_INET6) {
		const uint8_t *a6 =
			((const struct sockaddr_in6 *)(const void *)src)->sin6_addr.s6_addr;

		sfamily = AF_INET6;
		memcpy(sa, a6, 16);
		if (memcmp(a6, v4mapped, 12) == 0) {
			sfamily = AF_INET;
			memcpy(sa, a6 + 12, 4);
		}
	}
	host_init(&h, host);
	for (unsigned i = 0; i < t->n; i++) {
		const struct rule *r = &t->rule[i];

		if (r->from && !prefix_match(&r->src, sfamily, sa))
			continue;
		if (user_match(r, user, ulen) && domain_match(r, &h))
			return &r->target;
	}
	return t->has_def ? &t->def : NULL;
}

/* The keys' validators: the same parser as cp_route_table_new(). */
static int validate_rules(const void *value, char *err, size_t errlen)
{
	struct cp_route_table *t = build(value, "", err, errlen);

	if (!t)
		return -errno;
	cp_route_table_free(t);
	return 0;
}

static int validate_default(const void *value, char *err, size_t errlen)
{
	struct cp_route_target tg;
	const char *s = value, *why;
	char q[64];

	if (blank(s))
		return 0;
	why = target_parse(s, strlen(s), &tg);
	if (why) {
		tg_errf(err, errlen, "bad target '%s': %s", quote(q, sizeof(q), s, strlen(s)), why);
		return -EINVAL;
	}
	return 0;
}

#define RC(member) TG_CFG_AT(struct cp_route_config, member)

static const struct tg_cfg_key route_keys[] = {
	{"routing", "rules", TG_CFG_STRING, RC(rules), .def = "", .validate = validate_rules,
		.flags = TG_CFG_REPEAT | TG_CFG_RELOAD,
		.help = "Where new calls go: rules separated by commas, tried in order, the first "
			"match wins. A rule is '[from CIDR] USER@DOMAIN => TARGET'. USER is '*' "
			"(any, also none), a literal (case-sensitive) or a prefix ending in '*' "
			"(1800*). DOMAIN, matched against the Request-URI host, is '*', a name or "
			"IP "
			"(case-insensitive) or '*.example.com' (any name below example.com, not "
			"example.com itself). 'from 10.0.0.0/8' (IPv4 or IPv6 prefix, or one "
			"address) also requires the request's source address to match. TARGET is "
			"ADDR:PORT or [ADDR6]:PORT with an optional /udp (default) or /tcp; only "
			"IP "
			"literals, since resolving names would block the control plane. At most "
			"256 "
			"rules of 512 characters. Example: 'from 10.0.0.0/8 1800*@* => "
			"10.1.1.1:5060, *@*.example.com => [fdec::1]:5060/tcp'. In a file the key "
			"may be given on several lines, each adding its rules after the ones "
			"before."},
	{"routing", "default", TG_CFG_STRING, RC(def), .def = "", .validate = validate_default,
		.flags = TG_CFG_RELOAD,
		.help = "The target (ADDR:PORT or [ADDR6]:PORT, optional /udp or /tcp) of a call "
			"that matches no rule. Empty: such a call is answered 404, so that only "
			"configured routes are reachable (never an open relay)."},
};

int cp_route_config_register(struct tg_cfg *cfg, struct cp_route_config *rc)
{
	return tg_cfg_register(cfg, route_keys, sizeof(route_keys) / sizeof(route_keys[0]), rc);
}

int cp_route_config_get(const struct tg_cfg *cfg, struct cp_route_config *rc)
{
	int rc1 = tg_cfg_get(cfg, "routing.rules", rc->rules, sizeof(rc->rules));

	return rc1 < 0 ? rc1 : tg_cfg_get(cfg, "routing.default", rc->def, sizeof(rc->def));
}
