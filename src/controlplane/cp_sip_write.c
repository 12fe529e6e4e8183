/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libosip2's message text written straight into one buffer (see cp_sip_write.h). Each part is
 * written the way libosip2's own *_to_str function for it prints it; what is written past the
 * buffer's end is only counted, so a too small buffer still yields the length needed and the
 * same verdict on what libosip2 would refuse.
 */
#include "cp_sip_write.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_VERSION "SIP/2.0" /* libosip2's osip_protocol_version */
#define MULTIPART_BOUNDARY_MAX 70 /* libosip2 refuses a longer boundary */
#define CRLF "\r\n"

/* The output: n counts every byte produced; only those that fit in buf[0..cap) are stored. */
struct out {
	char *buf;
	size_t cap;
	size_t n;
};

static inline void put(struct out *o, const char *s, size_t len)
{
	if (len && o->n + len <= o->cap)
		memcpy(o->buf + o->n, s, len);
	o->n += len;
}

static inline void put_ch(struct out *o, char c)
{
	if (o->n < o->cap)
		o->buf[o->n] = c;
	o->n++;
}

/* Header parts are short: one pass copying up to the NUL beats strlen() then memcpy(). */
static inline void put_str(struct out *o, const char *s)
{
	if (o->n < o->cap) {
		char *d = o->buf + o->n, *end = o->buf + o->cap;

		while (*s && d < end)
			*d++ = *s++;
		o->n = (size_t)(d - o->buf);
	}
	if (*s)
		o->n += strlen(s); /* past the end: only counted */
}

#define put_lit(o, s) put(o, s, sizeof(s) - 1)

/* A list as libosip2 walks it: nb_elt elements at most, and a NULL element ends the walk. */
struct list_it {
	const __node_t *node;
	int pos, n;
};

static inline struct list_it list_it(const osip_list_t *l)
{
	return (struct list_it){l->node, 0, l->nb_elt};
}

static inline const void *list_next(struct list_it *it)
{
	const void *e;

	if (!it->node || it->pos >= it->n)
		return NULL;
	e = it->node->element;
	it->node = it->node->next;
	it->pos++;
	return e;
}

/* ---- URIs ---------------------------------------------------------------------------------- */

/*
 * What libosip2 leaves unescaped in each URI part besides letters and digits (RFC 3261 25.1):
 * user, password, uri-parameter and header. Everything else, '%' included, becomes %XX.
 */
enum { ESC_USER = 1, ESC_PASSWORD = 2, ESC_PARAM = 4, ESC_HEADER = 8 };
#define ESC_ALL (ESC_USER | ESC_PASSWORD | ESC_PARAM | ESC_HEADER)

static const uint8_t esc_ok[256] = {
	['0' ... '9'] = ESC_ALL,
	['a' ... 'z'] = ESC_ALL,
	['A' ... 'Z'] = ESC_ALL,
	['-'] = ESC_ALL,
	['_'] = ESC_ALL,
	['.'] = ESC_ALL,
	['!'] = ESC_ALL,
	['~'] = ESC_ALL,
	['*'] = ESC_ALL,
	['\''] = ESC_ALL,
	['('] = ESC_ALL,
	[')'] = ESC_ALL,
	['+'] = ESC_ALL,
	['$'] = ESC_ALL,
	['&'] = ESC_USER | ESC_PASSWORD | ESC_PARAM,
	['='] = ESC_USER | ESC_PASSWORD,
	[','] = ESC_USER | ESC_PASSWORD,
	[';'] = ESC_USER,
	['?'] = ESC_USER | ESC_HEADER,
	['/'] = ESC_USER | ESC_PARAM | ESC_HEADER,
	['['] = ESC_PARAM | ESC_HEADER,
	[']'] = ESC_PARAM | ESC_HEADER,
	[':'] = ESC_PARAM | ESC_HEADER,
};

static void put_escaped(struct out *o, const char *s, uint8_t part)
{
	static const char hex[] = "0123456789ABCDEF";

	for (;;) {
		const char *run = s;
		unsigned char c;
		char e[3];

		while (esc_ok[(unsigned char)*s] & part)
			s++;
		put(o, run, (size_t)(s - run));
		if (!*s)
			return;
		c = (unsigned char)*s++;
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		put(o, e, 3);
	}
}

/* An IPv6 literal is bracketed (libosip2 keeps it without its brackets). */
static void put_host(struct out *o, const char *host)
{
	if (strchr(host, ':')) {
		put_ch(o, '[');
		put_str(o, host);
		put_ch(o, ']');
	} else {
		put_str(o, host);
	}
}

/* osip_uri_to_str() */
static int put_uri(struct out *o, const osip_uri_t *u)
{
	struct list_it it;
	const osip_uri_param_t *p;
	const osip_uri_header_t *h;

	if (!u || (!u->host && !u->string) || (!u->scheme && u->string))
		return -EINVAL;
	put_str(o, u->scheme ? u->scheme : "sip");
	put_ch(o, ':');
	if (u->string) { /* an absolute URI libosip2 keeps as text */
		put_str(o, u->string);
		return 0;
	}
	if (u->username) {
		put_escaped(o, u->username, ESC_USER);
		if (u->password) {
			put_ch(o, ':');
			put_escaped(o, u->password, ESC_PASSWORD);
		}
		put_ch(o, '@');
	}
	put_host(o, u->host);
	if (u->port) {
		put_ch(o, ':');
		put_str(o, u->port);
	}
	it = list_it(&u->url_params);
	while ((p = list_next(&it))) {
		if (!p->gname)
			return -EINVAL;
		/* eXosip's internal markers, which libosip2 never prints */
		if (!strcasecmp(p->gname, "x-obr") || !strcasecmp(p->gname, "x-obp"))
			continue;
		put_ch(o, ';');
		put_escaped(o, p->gname, ESC_PARAM);
		if (p->gvalue) {
			put_ch(o, '=');
			put_escaped(o, p->gvalue, ESC_PARAM);
		}
	}
	it = list_it(&u->url_headers);
	while ((h = list_next(&it))) {
		if (!h->gname || !h->gvalue)
			return -EINVAL;
		put_ch(o, it.pos == 1 ? '?' : '&');
		put_escaped(o, h->gname, ESC_HEADER);
		put_ch(o, '=');
		put_escaped(o, h->gvalue, ESC_HEADER);
	}
	return 0;
}

/* ---- header values ------------------------------------------------------------------------- */

/* ";name" or ";name=value" each (Via, name-addr headers, Call-Info, Accept-Encoding) */
static int put_params(struct out *o, const osip_list_t *l)
{
	struct list_it it = list_it(l);
	const osip_generic_param_t *p;

	while ((p = list_next(&it))) {
		if (!p->gname)
			return -EINVAL;
		put_ch(o, ';');
		put_str(o, p->gname);
		if (p->gvalue) {
			put_ch(o, '=');
			put_str(o, p->gvalue);
		}
	}
	return 0;
}

/* "; name=value" each, a value being mandatory (Content-Type, Accept) */
static int put_media_params(struct out *o, const osip_list_t *l)
{
	struct list_it it = list_it(l);
	const osip_generic_param_t *p;

	while ((p = list_next(&it))) {
		if (!p->gname || !p->gvalue)
			return -EINVAL;
		put_lit(o, "; ");
		put_str(o, p->gname);
		put_ch(o, '=');
		put_str(o, p->gvalue);
	}
	return 0;
}

/* osip_via_to_str() */
static int put_via(struct out *o, const void *v)
{
	const osip_via_t *via = v;
	int rc;

	if (!via->host || !via->version || !via->protocol)
		return -EINVAL;
	put_lit(o, "SIP/");
	put_str(o, via->version);
	put_ch(o, '/');
	put_str(o, via->protocol);
	put_ch(o, ' ');
	put_host(o, via->host);
	if (via->port) {
		put_ch(o, ':');
		put_str(o, via->port);
	}
	rc = put_params(o, &via->via_params);
	if (rc)
		return rc;
	if (via->comment) {
		put_lit(o, " (");
		put_str(o, via->comment);
		put_ch(o, ')');
	}
	return 0;
}

/* osip_from_to_str(): From, To, Route, Record-Route; always in brackets */
static int put_name_addr(struct out *o, const void *v)
{
	const osip_from_t *f = v;
	int rc;

	if (!f->url)
		return -EINVAL;
	if (f->displayname) {
		put_str(o, f->displayname);
		put_ch(o, ' ');
	}
	put_ch(o, '<');
	rc = put_uri(o, f->url);
	if (rc)
		return rc;
	put_ch(o, '>');
	return put_params(o, &f->gen_params);
}

/* osip_contact_to_str(): "*" is kept as a display name */
static int put_contact(struct out *o, const void *v)
{
	const osip_contact_t *c = v;

	if (c->displayname && c->displayname[0] == '*') {
		put_ch(o, '*');
		return 0;
	}
	return put_name_addr(o, c);
}

static int put_call_id(struct out *o, const void *v)
{
	const osip_call_id_t *id = v;

	if (!id->number)
		return -EINVAL;
	put_str(o, id->number);
	if (id->host) {
		put_ch(o, '@');
		put_str(o, id->host);
	}
	return 0;
}

static int put_cseq(struct out *o, const void *v)
{
	const osip_cseq_t *cs = v;

	if (!cs->number || !cs->method)
		return -EINVAL;
	put_str(o, cs->number);
	put_ch(o, ' ');
	put_str(o, cs->method);
	return 0;
}

/* osip_content_length_to_str(): Mime-Version, Allow, Content-Encoding (a plain value) */
static int put_value(struct out *o, const void *v)
{
	const osip_content_length_t *cl = v;

	if (!cl->value)
		return -EINVAL;
	put_str(o, cl->value);
	return 0;
}

static int put_content_type(struct out *o, const void *v)
{
	const osip_content_type_t *ct = v;

	if (!ct->type || !ct->subtype)
		return -EINVAL;
	put_str(o, ct->type);
	put_ch(o, '/');
	put_str(o, ct->subtype);
	return put_media_params(o, &ct->gen_params);
}

/* osip_accept_to_str(): an empty Accept is one space; a missing half prints as glibc's
 * "(null)", which is what libosip2's sprintf gives */
static int put_accept(struct out *o, const void *v)
{
	const osip_accept_t *a = v;

	if ((!a->type || !*a->type) && (!a->subtype || !*a->subtype)) {
		put_ch(o, ' ');
		return 0;
	}
	put_str(o, a->type ? a->type : "(null)");
	put_ch(o, '/');
	put_str(o, a->subtype ? a->subtype : "(null)");
	return put_media_params(o, &a->gen_params);
}

/* osip_call_info_to_str(): Call-Info, Alert-Info, Error-Info */
static int put_call_info(struct out *o, const void *v)
{
	const osip_call_info_t *ci = v;

	if (!ci->element)
		return -EINVAL;
	put_str(o, ci->element);
	return put_params(o, &ci->gen_params);
}

/* osip_accept_encoding_to_str(): Accept-Encoding, Accept-Language */
static int put_accept_encoding(struct out *o, const void *v)
{
	const osip_accept_encoding_t *ae = v;

	if (!ae->element)
		return -EINVAL;
	put_str(o, ae->element);
	return put_params(o, &ae->gen_params);
}

struct auth_field {
	const char *name; /* what precedes the value, separator excluded */
	uint8_t len;
	uint8_t off; /* offsetof the char * in its struct */
};

#define AUTH_FIELD(type, text, field)                                                              \
	{                                                                                          \
		text, sizeof(text) - 1, offsetof(type, field)                                      \
	}

static inline const char *field_of(const void *s, const struct auth_field *f)
{
	return *(char *const *)((const char *)s + f->off);
}

/* osip_authorization_to_str(): Authorization, Proxy-Authorization */
static int put_authorization(struct out *o, const void *v)
{
#define F(text, field) AUTH_FIELD(osip_authorization_t, text, field)
	static const struct auth_field fields[] = {F(" username=", username), F(" realm=", realm),
		F(" nonce=", nonce), F(" uri=", uri), F(" response=", response),
		F(" digest=", digest), F(" algorithm=", algorithm), F(" cnonce=", cnonce),
		F(" opaque=", opaque), F(" qop=", message_qop), F(" nc=", nonce_count),
		F(" version=", version), F(" targetname=", targetname),
		F(" gssapi-data=", gssapi_data), F(" crand=", crand), F(" cnum=", cnum)};
#undef F
	const osip_authorization_t *a = v;
	bool first = true;

	if (!a->auth_type)
		return -EINVAL;
	put_str(o, a->auth_type);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *val = field_of(a, &fields[i]);

		if (!val)
			continue;
		if (!first)
			put_ch(o, ',');
		first = false;
		put(o, fields[i].name, fields[i].len);
		put_str(o, val);
	}
	return 0;
}

/* osip_www_authenticate_to_str(): WWW-Authenticate, Proxy-Authenticate. Without a realm the
 * comma that would follow it turns into a space. */
static int put_www_authenticate(struct out *o, const void *v)
{
#define F(text, field) AUTH_FIELD(osip_www_authenticate_t, text, field)
	static const struct auth_field fields[] = {F("domain=", domain), F("nonce=", nonce),
		F("opaque=", opaque), F("stale=", stale), F("algorithm=", algorithm),
		F("qop=", qop_options), F("version=", version), F("targetname=", targetname),
		F("gssapi-data=", gssapi_data)};
#undef F
	const osip_www_authenticate_t *w = v;
	bool first = true;

	if (!w->auth_type)
		return -EINVAL;
	put_str(o, w->auth_type);
	if (w->realm) {
		put_lit(o, " realm=");
		put_str(o, w->realm);
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *val = field_of(w, &fields[i]);

		if (!val)
			continue;
		if (first && !w->realm)
			put_lit(o, "  ");
		else
			put_lit(o, ", ");
		first = false;
		put(o, fields[i].name, fields[i].len);
		put_str(o, val);
	}
	return 0;
}

/* osip_authentication_info_to_str(): Authentication-Info, Proxy-Authentication-Info */
static int put_authentication_info(struct out *o, const void *v)
{
#define F(text, field) AUTH_FIELD(osip_authentication_info_t, text, field)
	static const struct auth_field fields[] = {F("qop=", qop_options),
		F("nextnonce=", nextnonce), F("rspauth=", rspauth), F("cnonce=", cnonce),
		F("nc=", nonce_count), F("snum=", snum), F("srand=", srand),
		F("targetname=", targetname), F("realm=", realm), F("opaque=", opaque)};
#undef F
	const osip_authentication_info_t *ai = v;
	bool first = true;

	if (ai->auth_type) {
		put_str(o, ai->auth_type);
		put_ch(o, ' ');
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *val = field_of(ai, &fields[i]);

		if (!val)
			continue;
		if (!first)
			put_lit(o, ", ");
		first = false;
		put(o, fields[i].name, fields[i].len);
		put_str(o, val);
	}
	/* nothing at all: libosip2 refuses it */
	return !ai->auth_type && first ? -EINVAL : 0;
}

/* osip_header_to_str(): "Name: value", the name's first letter upper-cased */
static int put_other_header(struct out *o, const osip_header_t *h)
{
	const char *name = h->hname;

	if (!name)
		return -EINVAL;
	if (*name >= 'a' && *name <= 'z') {
		put_ch(o, (char)(*name - 'a' + 'A'));
		name++;
	}
	put_str(o, name);
	put_lit(o, ": ");
	if (h->hvalue)
		put_str(o, h->hvalue);
	put_lit(o, CRLF);
	return 0;
}

/* ---- the message ------------------------------------------------------------------------- */

typedef int (*value_fn)(struct out *o, const void *v);

/*
 * The typed headers in the order libosip2 prints them. A single header (a pointer in the
 * message) that cannot be printed leaves "Name: " in the text and nothing else, not even the
 * line end: libosip2 drops that error and goes on. A list header that cannot be printed makes
 * the whole message fail.
 */
static const struct typed_header {
	char name[28];
	uint8_t len;
	bool single;
	uint16_t off;
	value_fn fn;
} typed_headers[] = {
#define LIST(text, field, fn)                                                                      \
	{                                                                                          \
		text, sizeof(text) - 1, false, offsetof(osip_message_t, field), fn                 \
	}
#define ONE(text, field, fn)                                                                       \
	{                                                                                          \
		text, sizeof(text) - 1, true, offsetof(osip_message_t, field), fn                  \
	}
	LIST("Via: ", vias, put_via),
	LIST("Record-Route: ", record_routes, put_name_addr),
	LIST("Route: ", routes, put_name_addr),
	ONE("From: ", from, put_name_addr),
	ONE("To: ", to, put_name_addr),
	ONE("Call-ID: ", call_id, put_call_id),
	ONE("CSeq: ", cseq, put_cseq),
	LIST("Contact: ", contacts, put_contact),
	LIST("Authorization: ", authorizations, put_authorization),
	LIST("WWW-Authenticate: ", www_authenticates, put_www_authenticate),
	LIST("Proxy-Authenticate: ", proxy_authenticates, put_www_authenticate),
	LIST("Proxy-Authorization: ", proxy_authorizations, put_authorization),
	LIST("Call-Info: ", call_infos, put_call_info),
	ONE("Content-Type: ", content_type, put_content_type),
	ONE("Mime-Version: ", mime_version, put_value),
	LIST("Allow: ", allows, put_value),
	LIST("Content-Encoding: ", content_encodings, put_value),
	LIST("Alert-Info: ", alert_infos, put_call_info),
	LIST("Error-Info: ", error_infos, put_call_info),
	LIST("Accept: ", accepts, put_accept),
	LIST("Accept-Encoding: ", accept_encodings, put_accept_encoding),
	LIST("Accept-Language: ", accept_languages, put_accept_encoding),
	LIST("Authentication-Info: ", authentication_infos, put_authentication_info),
	LIST("Proxy-Authentication-Info: ", proxy_authentication_infos, put_authentication_info),
#undef LIST
#undef ONE
};

static int put_start_line(struct out *o, const osip_message_t *m)
{
	const char *version = m->sip_version ? m->sip_version : DEFAULT_VERSION;
	char code[3];
	int rc;

	if (m->sip_method) {
		if (!m->req_uri)
			return -EINVAL;
		put_str(o, m->sip_method);
		put_ch(o, ' ');
		rc = put_uri(o, m->req_uri);
		if (rc)
			return rc;
		put_ch(o, ' ');
		put_str(o, version);
	} else {
		if (m->status_code < 100 || m->status_code > 699 || !m->reason_phrase)
			return -EINVAL;
		code[0] = (char)('0' + m->status_code / 100);
		code[1] = (char)('0' + m->status_code / 10 % 10);
		code[2] = (char)('0' + m->status_code % 10);
		put_str(o, version);
		put_ch(o, ' ');
		put(o, code, 3);
		put_ch(o, ' ');
		put_str(o, m->reason_phrase);
	}
	put_lit(o, CRLF);
	return 0;
}

static int put_headers(struct out *o, const osip_message_t *m)
{
	const char *base = (const char *)m;
	struct list_it it;
	const osip_header_t *h;
	int rc;

	for (size_t i = 0; i < sizeof(typed_headers) / sizeof(typed_headers[0]); i++) {
		const struct typed_header *t = &typed_headers[i];
		const void *v;

		if (t->single) {
			size_t mark;

			v = *(const void *const *)(base + t->off);
			if (!v)
				continue;
			put(o, t->name, t->len);
			mark = o->n;
			if (t->fn(o, v) == 0)
				put_lit(o, CRLF);
			else
				o->n = mark;
			continue;
		}
		it = list_it((const osip_list_t *)(base + t->off));
		while ((v = list_next(&it))) {
			put(o, t->name, t->len);
			rc = t->fn(o, v);
			if (rc)
				return rc;
			put_lit(o, CRLF);
		}
	}
	it = list_it(&m->headers);
	while ((h = list_next(&it))) {
		rc = put_other_header(o, h);
		if (rc)
			return rc;
	}
	return 0;
}

/* osip_body_to_str(): a MIME part's own headers (if any), then its bytes */
static int put_body(struct out *o, const osip_body_t *b)
{
	struct list_it it;
	const osip_header_t *h;
	int rc;

	if (!b->body || !b->headers || b->length == 0)
		return -EINVAL;
	if (b->content_type) {
		put_lit(o, "content-type: ");
		rc = put_content_type(o, b->content_type);
		if (rc)
			return rc;
		put_lit(o, CRLF);
	}
	it = list_it(b->headers);
	while ((h = list_next(&it))) {
		rc = put_other_header(o, h);
		if (rc)
			return rc;
	}
	if (b->headers->nb_elt > 0 || b->content_type)
		put_lit(o, CRLF);
	put(o, b->body, b->length);
	return 0;
}

/* The multipart boundary of a "multipart/..." message, unquoted: 1 found, 0 none, -EINVAL
 * for one libosip2 refuses. */
static int boundary_of(const osip_message_t *m, const char **b, size_t *len)
{
	const osip_content_type_t *ct = m->content_type;
	const osip_generic_param_t *p;
	struct list_it it;
	const char *v;
	size_t n;

	if (!ct || !ct->type || strcasecmp(ct->type, "multipart"))
		return 0;
	it = list_it(&ct->gen_params);
	while ((p = list_next(&it))) {
		if (!p->gname)
			return -EINVAL;
		if (strlen(p->gname) == 8 && !strncasecmp(p->gname, "boundary", 8))
			break;
	}
	if (!p || !p->gvalue)
		return 0;
	v = p->gvalue;
	n = strlen(v);
	if (n > MULTIPART_BOUNDARY_MAX || (n == 1 && v[0] == '"') ||
		(n == 2 && v[0] == '"' && v[1] == '"'))
		return -EINVAL;
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	*b = v;
	*len = n;
	return 1;
}

/* Content-Length's five columns, right-aligned as libosip2 patches them in (a longer number
 * runs back into "Content-Length: " as it does there). */
static void patch_content_length(struct out *o, size_t at, size_t body_len)
{
	char digits[24];
	size_t nd = 0;

	if (body_len > 99999) {
		int w = snprintf(digits, sizeof(digits), "%i", (int)body_len);

		nd = w > 0 ? (size_t)w : 0;
	} else {
		char rev[5];

		do {
			rev[nd++] = (char)('0' + body_len % 10);
			body_len /= 10;
		} while (body_len);
		for (size_t i = 0; i < nd; i++)
			digits[i] = rev[nd - 1 - i];
	}
	if (at + 5 <= o->cap && nd <= at + 5)
		memcpy(o->buf + at + 5 - nd, digits, nd);
}

static int put_message(struct out *o, const osip_message_t *m)
{
	const osip_body_t *b;
	struct list_it it;
	const char *bnd = NULL;
	size_t bnd_len = 0, cl_at, bodies_at;
	int rc;

	rc = put_start_line(o, m);
	if (rc)
		return rc;
	rc = put_headers(o, m);
	if (rc)
		return rc;
	put_lit(o, "Content-Length: ");
	if (m->bodies.nb_elt <= 0) {
		put_lit(o, "0" CRLF CRLF);
		return 0;
	}
	cl_at = o->n;
	put_lit(o, "     " CRLF CRLF);
	bodies_at = o->n;
	rc = boundary_of(m, &bnd, &bnd_len);
	if (rc < 0)
		return rc;
	it = list_it(&m->bodies);
	while ((b = list_next(&it))) {
		if (bnd) {
			put_lit(o, CRLF "--");
			put(o, bnd, bnd_len);
			put_lit(o, CRLF);
		}
		rc = put_body(o, b);
		if (rc)
			return rc;
	}
	if (bnd) {
		put_lit(o, CRLF "--");
		put(o, bnd, bnd_len);
		put_lit(o, "--" CRLF);
	}
	patch_content_length(o, cl_at, o->n - bodies_at);
	return 0;
}

int cp_sip_write(const osip_message_t *m, char *buf, size_t cap, size_t *len)
{
	struct out o = {buf, buf ? cap : 0, 0};
	int rc;

	*len = 0;
	if (!m)
		return -EINVAL;
	if (m->message_property == 1) {
		/* libosip2's own cached text of its last serialization (see the header) */
		if (!m->message)
			return -EINVAL;
		put(&o, m->message, m->message_length);
	} else {
		rc = put_message(&o, m);
		if (rc)
			return rc;
	}
	*len = o.n;
	return o.n > o.cap ? -ENOSPC : 0;
}
