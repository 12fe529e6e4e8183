/* SPDX-License-Identifier: BSD-3-Clause */
/* SIP message checks and stateless responses (see cp_sip_msg.h). */
#include "cp_sip_msg.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>

#include "tg_shm.h"

long cp_sip_body_offset(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] == '\n' && buf[i + 1] == '\n')
			return (long)(i + 2);
		if (i + 3 < len && buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' &&
			buf[i + 3] == '\n')
			return (long)(i + 4);
	}
	return -1;
}

/* Call-ID words: visible ASCII only (RFC 3261 §25.1 "word"), so it can be echoed safely */
static bool visible(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static bool token_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-.!%*_+`'~", *s))
			return false;
	return true;
}

/* A From/To address we can echo back: a scheme, and a host unless it is a tel: URI */
static bool url_ok(const osip_uri_t *u)
{
	if (!u || !u->scheme || !token_ok(u->scheme))
		return false;
	if (strcasecmp(u->scheme, "tel") == 0)
		return u->string || u->username;
	return u->host && *u->host && visible(u->host) && (!u->username || visible(u->username));
}

static int bad(char *reason, size_t len, int code, const char *fmt, const char *what)
{
	tg_errf(reason, len, fmt, what);
	return code;
}

int cp_sip_check(const osip_message_t *m, size_t body_len, char *reason, size_t len)
{
	const osip_via_t *via = osip_list_get(&m->vias, 0);
	const osip_cseq_t *cseq = m->cseq;
	char *end;
	long n;

	if (!m->sip_version || strcasecmp(m->sip_version, "SIP/2.0") != 0)
		return bad(reason, len, 505, "Version Not Supported %s",
			m->sip_version ? m->sip_version : "");
	if (MSG_IS_REQUEST(m)) {
		if (!token_ok(m->sip_method))
			return bad(reason, len, 400, "Bad Request-Line method%s", "");
		if (!m->req_uri || !m->req_uri->scheme)
			return bad(reason, len, 400, "Bad Request-URI%s", "");
		if (strcasecmp(m->req_uri->scheme, "sip") != 0 &&
			strcasecmp(m->req_uri->scheme, "sips") != 0 &&
			strcasecmp(m->req_uri->scheme, "tel") != 0)
			return bad(
				reason, len, 416, "Unsupported URI Scheme %s", m->req_uri->scheme);
		if (!m->req_uri->host || !*m->req_uri->host)
			return bad(reason, len, 400, "Bad Request-URI: no host%s", "");
	} else if (m->status_code < 100 || m->status_code > 699) {
		return bad(reason, len, 400, "Bad status code%s", "");
	}
	if (!via || !via->protocol || !token_ok(via->protocol) || !via->version ||
		!token_ok(via->version) || !via->host || !*via->host || !visible(via->host) ||
		(via->port && !visible(via->port)))
		return bad(reason, len, 400, "Missing or malformed Via header%s", "");
	if (!m->from || !url_ok(m->from->url))
		return bad(reason, len, 400, "Missing or malformed From header%s", "");
	if (!m->to || !url_ok(m->to->url))
		return bad(reason, len, 400, "Missing or malformed To header%s", "");
	if (!m->call_id || !m->call_id->number || !*m->call_id->number)
		return bad(reason, len, 400, "Missing Call-ID header%s", "");
	if (!visible(m->call_id->number) || (m->call_id->host && !visible(m->call_id->host)))
		return bad(reason, len, 400, "Malformed Call-ID header%s", "");
	if (!cseq || !cseq->number || !cseq->method)
		return bad(reason, len, 400, "Missing or malformed CSeq header%s", "");
	n = strtol(cseq->number, &end, 10);
	if (*end || end == cseq->number || n < 0 || n > 0x7fffffffL)
		return bad(reason, len, 400, "Bad CSeq number %s", cseq->number);
	if (!token_ok(cseq->method))
		return bad(reason, len, 400, "Bad CSeq method%s", "");
	/* CSeq names the request's method, except that ACK and CANCEL carry their own */
	if (MSG_IS_REQUEST(m) && strcasecmp(cseq->method, m->sip_method) != 0)
		return bad(reason, len, 400, "CSeq method does not match the request (%s)",
			cseq->method);
	if (m->content_length && m->content_length->value) {
		n = strtol(m->content_length->value, &end, 10);
		if (*end || end == m->content_length->value || n < 0)
			return bad(reason, len, 400, "Bad Content-Length %s",
				m->content_length->value);
		if ((size_t)n != body_len)
			return bad(reason, len, 400, "Content-Length %s does not match the body",
				m->content_length->value);
	}
	if (MSG_IS_REQUEST(m) && osip_list_size(&m->headers) > 0) {
		osip_header_t *mf = NULL;

		if (osip_message_header_get_byname(m, "max-forwards", 0, &mf) >= 0 && mf &&
			mf->hvalue) {
			n = strtol(mf->hvalue, &end, 10);
			if (*end || end == mf->hvalue || n < 0 || n > 255)
				return bad(reason, len, 400, "Bad Max-Forwards %s", mf->hvalue);
		}
	}
	return 0;
}

int cp_sip_response(const osip_message_t *req, int code, const char *reason, const char *to_tag,
	char **out, size_t *out_len)
{
	osip_message_t *r;
	int rc = -ENOMEM;

	if (osip_message_init(&r) != 0)
		return -ENOMEM;
	osip_message_set_version(r, osip_strdup("SIP/2.0"));
	osip_message_set_status_code(r, code);
	osip_message_set_reason_phrase(r, osip_strdup(reason));
	/* a request missing From, To, Call-ID or CSeq is still told why: only Via is needed to
	 * find the way back */
	if (osip_list_size(&req->vias) < 1 ||
		osip_list_clone(&req->vias, &r->vias, (int (*)(void *, void **))osip_via_clone) <
			0 ||
		(req->from && osip_from_clone(req->from, &r->from) != 0) ||
		(req->to && osip_to_clone(req->to, &r->to) != 0) ||
		(req->call_id && osip_call_id_clone(req->call_id, &r->call_id) != 0) ||
		(req->cseq && osip_cseq_clone(req->cseq, &r->cseq) != 0))
		goto out;
	if (to_tag && r->to) {
		osip_generic_param_t *tag = NULL;

		if (osip_to_get_tag(r->to, &tag) != 0)
			osip_to_set_tag(r->to, osip_strdup(to_tag));
	}
	osip_message_set_content_length(r, "0");
	rc = osip_message_to_str(r, out, out_len) == 0 ? 0 : -EINVAL;
	if (rc == 0) {
		/* libosip2 parses leniently and may print back what it cannot read again: only
		 * an answer that parses is sent; otherwise the caller answers from the raw text */
		osip_message_t *back;
		char why[64];

		if (osip_message_init(&back) != 0) {
			rc = -ENOMEM;
		} else {
			if (osip_message_parse(back, *out, *out_len) != 0 ||
				(req->from && req->to && req->call_id && req->cseq &&
					cp_sip_check(back, 0, why, sizeof(why)) != 0))
				rc = -EINVAL;
			osip_message_free(back);
		}
		if (rc < 0) {
			osip_free(*out);
			*out = NULL;
		}
	}
out:
	osip_message_free(r);
	return rc;
}

/* Is the line (up to '\n') the header 'name' or its compact form 'c'? Returns the value. */
static const char *header_value(const char *line, const char *end, const char *name, char c)
{
	size_t n = strlen(name);
	const char *p;

	if ((size_t)(end - line) > n && strncasecmp(line, name, n) == 0)
		p = line + n;
	else if (end - line > 1 && tolower((unsigned char)line[0]) == c)
		p = line + 1;
	else
		return NULL;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p < end && *p == ':' ? p : NULL;
}

int cp_sip_raw_400(
	const char *buf, size_t len, const char *reason, char *out, size_t out_cap, size_t *out_len)
{
	static const struct {
		const char *name;
		char compact;
		const char *canonical;
	} keep[] = {{"via", 'v', "Via"}, {"from", 'f', "From"}, {"to", 't', "To"},
		{"call-id", 'i', "Call-ID"}, {"cseq", 0, "CSeq"}};
	unsigned seen = 0;
	size_t o = 0;
	long hdr_end = cp_sip_body_offset(buf, len);
	const char *p = buf, *end = buf + (hdr_end < 0 ? (long)len : hdr_end);
	const char *eol = memchr(buf, '\n', len);
	int w;

	/* a request line ends in SIP/2.0; a response starts with it and is never answered */
	if (!eol || len < 8 || strncasecmp(buf, "SIP/", 4) == 0 || eol - buf < 12 ||
		strncasecmp(eol - (eol[-1] == '\r' ? 8 : 7), "SIP/2.0", 7) != 0)
		return -EINVAL;
	w = snprintf(out, out_cap, "SIP/2.0 400 %s\r\n", reason);
	if (w < 0 || (size_t)w >= out_cap)
		return -ENOSPC;
	o = (size_t)w;
	for (p = eol + 1; p < end;) {
		const char *le = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = le ? le : end;
		size_t l = (size_t)(line_end - p);

		if (l && p[l - 1] == '\r')
			l--;
		for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
			const char *v = header_value(p, p + l, keep[k].name, keep[k].compact);

			if (!v)
				continue;
			w = snprintf(out + o, out_cap - o, "%s%.*s\r\n", keep[k].canonical,
				(int)(p + l - v), v);
			if (w < 0 || (size_t)w >= out_cap - o)
				return -ENOSPC;
			o += (size_t)w;
			seen |= 1u << k;
			break;
		}
		p = le ? le + 1 : end;
	}
	/* Via is what the answer needs to find its way back; the rest is copied if present */
	if (!(seen & 1u))
		return -EINVAL;
	w = snprintf(out + o, out_cap - o, "Content-Length: 0\r\n\r\n");
	if (w < 0 || (size_t)w >= out_cap - o)
		return -ENOSPC;
	*out_len = o + (size_t)w;
	return 0;
}
