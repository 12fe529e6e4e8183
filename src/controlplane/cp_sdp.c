/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SDP for the media-anchoring B2BUA: a strict line parser, the rewrite toward the other leg,
 * offer/answer matching and hold/resume re-offers. See cp_sdp.h for the contract.
 *
 * Parsing works on the struct's own copy of the body, one line at a time: each line is checked
 * for length and bytes (no NUL, no stray CR, no control byte) before its type is looked at, and
 * each field the appliance acts upon (addresses, ports, payload types, clock rates, session id
 * and version) is converted with an explicit bound. Attributes are kept only when this file
 * knows what they carry: an unknown attribute may hold an address, and topology hiding is worth
 * more than passing through an extension nobody asked for.
 *
 * Writing goes through a bounded buffer that only records overflow (-ENOSPC at the end). The o=
 * line is written last: its version depends on a hash of everything else.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cp_sdp.h"

/* ---------------------------------------------------------------- small helpers */

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_alnum(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static char lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

static bool str_eq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

static bool str_ieq(const char *p, size_t n, const char *lit)
{
	if (strlen(lit) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != lower(lit[i]))
			return false;
	return true;
}

/* token characters: letters, digits and 'extra' */
static bool all_of(const char *p, size_t n, const char *extra)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(p[i]) && !strchr(extra, p[i]))
			return false;
	return true;
}

/* Decimal, digits only, at most 20 of them, no overflow. */
static bool num_u64(const char *p, size_t n, uint64_t *v)
{
	uint64_t r = 0;

	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(p[i] - '0');

		if (!is_digit(p[i]) || r > (UINT64_MAX - d) / 10)
			return false;
		r = r * 10 + d;
	}
	*v = r;
	return true;
}

static bool num_max(const char *p, size_t n, uint64_t max, uint64_t *v)
{
	return num_u64(p, n, v) && *v <= max;
}

/* A cursor over one line's value: words are separated by runs of spaces. */
struct lx {
	const char *p;
	const char *end;
};

static void lx_skip(struct lx *x)
{
	while (x->p < x->end && *x->p == ' ')
		x->p++;
}

static bool lx_word(struct lx *x, const char **w, size_t *n)
{
	lx_skip(x);
	*w = x->p;
	while (x->p < x->end && *x->p != ' ')
		x->p++;
	*n = (size_t)(x->p - *w);
	return *n > 0;
}

static bool lx_done(struct lx *x)
{
	lx_skip(x);
	return x->p == x->end;
}

/* A value quoted into a reason: at most 40 bytes, non-printable ones as '?'. */
struct quoted {
	char b[48];
};

static const char *quote(struct quoted *q, const char *p, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j < 40; i++) {
		unsigned char ch = (unsigned char)p[i];

		q->b[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (n > 40) {
		memcpy(q->b + j, "...", 3);
		j += 3;
	}
	q->b[j] = '\0';
	return q->b;
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static bool addr_is_zero(const struct tg_addr *a)
{
	size_t n = a->family == TG_AF_INET ? 4 : 16;

	for (size_t i = 0; i < n; i++)
		if (a->a[i])
			return false;
	return a->family != TG_AF_NONE;
}

static bool addr_same_ip(const struct tg_addr *x, const struct tg_addr *y)
{
	return x->family == y->family && memcmp(x->a, y->a, x->family == TG_AF_INET ? 4 : 16) == 0;
}

static const char *addr_text(const struct tg_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family == TG_AF_INET6 ? AF_INET6 : AF_INET, a->a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* ---------------------------------------------------------------- tables */

const char *cp_sdp_dir_name(enum cp_sdp_dir d)
{
	switch (d) {
	case CP_SDP_SENDONLY:
		return "sendonly";
	case CP_SDP_RECVONLY:
		return "recvonly";
	case CP_SDP_INACTIVE:
		return "inactive";
	default:
		return "sendrecv";
	}
}

static enum cp_sdp_dir dir_of(const char *p, size_t n)
{
	for (enum cp_sdp_dir d = CP_SDP_SENDRECV; d <= CP_SDP_INACTIVE; d++)
		if (str_eq(p, n, cp_sdp_dir_name(d)))
			return d;
	return CP_SDP_DIR_NONE;
}

static const struct {
	const char *name;
	enum cp_sdp_proto id;
} protos[] = {
	{"RTP/AVP", CP_SDP_RTP_AVP},
	{"RTP/AVPF", CP_SDP_RTP_AVPF},
	{"RTP/SAVP", CP_SDP_RTP_SAVP},
	{"RTP/SAVPF", CP_SDP_RTP_SAVPF},
	{"UDP/TLS/RTP/SAVP", CP_SDP_UDP_TLS_RTP_SAVP},
	{"UDP/TLS/RTP/SAVPF", CP_SDP_UDP_TLS_RTP_SAVPF},
	{"udptl", CP_SDP_UDPTL},
	{"UDP", CP_SDP_UDP},
};

bool cp_sdp_proto_is_rtp(enum cp_sdp_proto p)
{
	return p >= CP_SDP_RTP_AVP && p <= CP_SDP_UDP_TLS_RTP_SAVPF;
}

bool cp_sdp_proto_relayable(enum cp_sdp_proto p)
{
	return p != CP_SDP_PROTO_OTHER;
}

/* RFC 3551 static payload types */
static const struct {
	uint8_t pt;
	uint8_t channels;
	uint32_t rate;
	const char *name;
} static_pts[] = {
	{0, 0, 8000, "PCMU"},
	{3, 0, 8000, "GSM"},
	{4, 0, 8000, "G723"},
	{5, 0, 8000, "DVI4"},
	{6, 0, 16000, "DVI4"},
	{7, 0, 8000, "LPC"},
	{8, 0, 8000, "PCMA"},
	{9, 0, 8000, "G722"},
	{10, 2, 44100, "L16"},
	{11, 0, 44100, "L16"},
	{12, 0, 8000, "QCELP"},
	{13, 0, 8000, "CN"},
	{14, 0, 90000, "MPA"},
	{15, 0, 8000, "G728"},
	{16, 0, 11025, "DVI4"},
	{17, 0, 22050, "DVI4"},
	{18, 0, 8000, "G729"},
	{25, 0, 90000, "CelB"},
	{26, 0, 90000, "JPEG"},
	{28, 0, 90000, "nv"},
	{31, 0, 90000, "H261"},
	{32, 0, 90000, "MPV"},
	{33, 0, 90000, "MP2T"},
	{34, 0, 90000, "H263"},
};

static uint8_t name_flags(const char *name)
{
	if (strcasecmp(name, "telephone-event") == 0)
		return CP_SDP_CF_DTMF;
	if (strcasecmp(name, "CN") == 0)
		return CP_SDP_CF_CN;
	return 0;
}

static void codec_init(struct cp_sdp_codec *k, uint8_t pt)
{
	memset(k, 0, sizeof(*k));
	k->pt = pt;
	for (size_t i = 0; i < sizeof(static_pts) / sizeof(static_pts[0]); i++) {
		if (static_pts[i].pt != pt)
			continue;
		snprintf(k->name, sizeof(k->name), "%s", static_pts[i].name);
		k->clock_rate = static_pts[i].rate;
		k->channels = static_pts[i].channels;
		k->flags = name_flags(k->name);
	}
}

/* A codec that carries media by itself (telephone-event and comfort noise do not). */
static bool codec_usable(const struct cp_sdp_codec *k)
{
	return !(k->flags & (CP_SDP_CF_DTMF | CP_SDP_CF_CN));
}

static bool codec_same(const struct cp_sdp_codec *x, const struct cp_sdp_codec *y)
{
	if (x->name[0] == '\0' || y->name[0] == '\0')
		return x->name[0] == y->name[0] && x->pt == y->pt;
	return strcasecmp(x->name, y->name) == 0 &&
	       (x->clock_rate == y->clock_rate || !x->clock_rate || !y->clock_rate);
}

static bool media_has_codec(const struct cp_sdp_media *m, const struct cp_sdp_codec *k)
{
	for (unsigned i = 0; i < m->ncodecs; i++)
		if (codec_same(&m->codecs[i], k))
			return true;
	return false;
}

/*
 * Attributes passed through to the other leg: none of them carries an address. PT = the
 * value starts with a payload type (or '*'), kept only with that codec.
 */
#define KA_SESSION 0x1
#define KA_MEDIA 0x2
#define KA_PT 0x4
static const struct {
	const char *name;
	unsigned flags;
} kept_attrs[] = {
	{"fingerprint", KA_SESSION | KA_MEDIA},
	{"setup", KA_SESSION | KA_MEDIA},
	{"rtcp-fb", KA_MEDIA | KA_PT},
	{"imageattr", KA_MEDIA | KA_PT},
	{"connection", KA_MEDIA},
	{"crypto", KA_MEDIA},
	{"mid", KA_MEDIA},
	{"label", KA_MEDIA},
	{"content", KA_MEDIA},
	{"framerate", KA_MEDIA},
	{"extmap", KA_MEDIA},
	{"silenceSupp", KA_MEDIA},
	{"rtcp-rsize", KA_MEDIA},
	{"maxprate", KA_MEDIA},
	{"quality", KA_MEDIA},
	{"orient", KA_MEDIA},
};

/* 0 = dropped, else KA_* flags */
static unsigned attr_kept(const char *name, size_t n, bool media)
{
	/* T.38 parameters (T38FaxVersion, T38MaxBitRate, ...) */
	if (media && n > 3 && strncasecmp(name, "T38", 3) == 0)
		return KA_MEDIA;
	for (size_t i = 0; i < sizeof(kept_attrs) / sizeof(kept_attrs[0]); i++)
		if (str_eq(name, n, kept_attrs[i].name) &&
			(kept_attrs[i].flags & (media ? KA_MEDIA : KA_SESSION)))
			return kept_attrs[i].flags;
	return 0;
}

static bool attr_is_ice(const char *name, size_t n)
{
	return (n > 4 && memcmp(name, "ice-", 4) == 0) || str_eq(name, n, "candidate") ||
	       str_eq(name, n, "remote-candidates") || str_eq(name, n, "end-of-candidates");
}

/* ---------------------------------------------------------------- parser */

struct pc {
	struct cp_sdp *s;
	char *why;
	size_t whylen;
	unsigned line;	/* 1-based; 0 = not about one line */
	char type;	/* the line's type letter once validated, else 0 */
	const char *an; /* a= lines: the attribute's name, for reasons */
	size_t anlen;
	const char *v; /* the line's value, after "x=" */
	size_t vlen;
	unsigned nth; /* non-blank lines so far */
	bool seen_t;
	struct cp_sdp_media *m; /* current media section, NULL at session level */
	unsigned mline[CP_SDP_MAX_MEDIA];
};

__attribute__((format(printf, 2, 3))) static int fail(struct pc *c, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!c->why || c->whylen == 0)
		return -EINVAL;
	if (c->line && c->type == 'a' && c->an) {
		struct quoted q;

		n = snprintf(c->why, c->whylen, "line %u: a=%s: ", c->line,
			quote(&q, c->an, c->anlen < 20 ? c->anlen : 20));
	} else if (c->line && c->type) {
		n = snprintf(c->why, c->whylen, "line %u: %c=: ", c->line, c->type);
	} else if (c->line) {
		n = snprintf(c->why, c->whylen, "line %u: ", c->line);
	}
	if (n < 0 || (size_t)n >= c->whylen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(c->why + n, c->whylen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static struct cp_sdp_span span_of(const struct cp_sdp *s, const char *p, size_t n)
{
	return (struct cp_sdp_span){.off = (uint16_t)(p - s->text), .len = (uint16_t)n};
}

/* "IN IP4 <addr>" / "IN IP6 <addr>": 0, -1 bad, -2 multicast */
static int read_conn_addr(struct lx *x, struct tg_addr *a)
{
	const char *w;
	size_t n;
	char buf[64];

	memset(a, 0, sizeof(*a));
	if (!lx_word(x, &w, &n) || !str_eq(w, n, "IN") || !lx_word(x, &w, &n))
		return -1;
	if (str_eq(w, n, "IP4"))
		a->family = TG_AF_INET;
	else if (str_eq(w, n, "IP6"))
		a->family = TG_AF_INET6;
	else
		return -1;
	if (!lx_word(x, &w, &n) || n >= sizeof(buf))
		return -1;
	memcpy(buf, w, n);
	buf[n] = '\0';
	if (memchr(buf, '/', n))
		return -2; /* multicast TTL / count suffix */
	if (inet_pton(a->family == TG_AF_INET ? AF_INET : AF_INET6, buf, a->a) != 1)
		return -1;
	if ((a->family == TG_AF_INET && (a->a[0] & 0xf0) == 0xe0) ||
		(a->family == TG_AF_INET6 && a->a[0] == 0xff))
		return -2;
	return 0;
}

static int parse_o(struct pc *c)
{
	struct cp_sdp *s = c->s;
	struct lx x = {c->v, c->v + c->vlen};
	struct quoted q;
	const char *w;
	size_t n;

	if (!lx_word(&x, &w, &n))
		return fail(c, "missing username");
	s->user = span_of(s, w, n);
	if (!lx_word(&x, &w, &n) || !num_u64(w, n, &s->sess_id))
		return fail(c, "bad session id '%s'", quote(&q, w, n));
	if (!lx_word(&x, &w, &n) || !num_u64(w, n, &s->sess_version))
		return fail(c, "bad session version '%s'", quote(&q, w, n));
	if (!lx_word(&x, &w, &n) || !str_eq(w, n, "IN"))
		return fail(c, "bad network type '%s'", quote(&q, w, n));
	if (!lx_word(&x, &w, &n))
		return fail(c, "missing address type");
	if (str_eq(w, n, "IP4"))
		s->origin_family = TG_AF_INET;
	else if (str_eq(w, n, "IP6"))
		s->origin_family = TG_AF_INET6;
	else
		return fail(c, "bad address type '%s'", quote(&q, w, n));
	if (!lx_word(&x, &w, &n) || n > 255)
		return fail(c, "bad address '%s'", quote(&q, w, n));
	s->origin_addr = span_of(s, w, n);
	if (!lx_done(&x))
		return fail(c, "unexpected '%s'", quote(&q, x.p, (size_t)(x.end - x.p)));
	return 0;
}

static int parse_c(struct pc *c)
{
	struct cp_sdp *s = c->s;
	struct lx x = {c->v, c->v + c->vlen};
	struct tg_addr a;
	struct quoted q;
	int rc;

	if (c->m ? c->m->c_media : s->conn.family != TG_AF_NONE)
		return fail(c, "second c= in this section");
	rc = read_conn_addr(&x, &a);
	if (rc == -2)
		return fail(c, "multicast not supported '%s'", quote(&q, c->v, c->vlen));
	if (rc || !lx_done(&x))
		return fail(c, "bad address '%s'", quote(&q, c->v, c->vlen));
	if (c->m) {
		c->m->addr = a;
		c->m->c_media = true;
	} else {
		s->conn = a;
	}
	return 0;
}

static int parse_b(struct pc *c)
{
	const char *colon = memchr(c->v, ':', c->vlen);
	uint8_t *nbw = c->m ? &c->m->nbw : &c->s->nbw;
	struct cp_sdp_span *bw = c->m ? c->m->bw : c->s->bw;
	struct quoted q;
	uint64_t v;

	if (!colon || !all_of(c->v, (size_t)(colon - c->v), "-_.") ||
		!num_max(colon + 1, (size_t)(c->v + c->vlen - colon - 1), UINT32_MAX, &v))
		return fail(c, "bad bandwidth '%s'", quote(&q, c->v, c->vlen));
	if (*nbw == CP_SDP_MAX_BW)
		return fail(c, "more than %d b= lines in this section", CP_SDP_MAX_BW);
	bw[(*nbw)++] = span_of(c->s, c->v, c->vlen);
	return 0;
}

static int parse_t(struct pc *c)
{
	struct lx x = {c->v, c->v + c->vlen};
	struct quoted q;
	const char *w;
	size_t n;
	uint64_t v;

	if (!lx_word(&x, &w, &n) || !num_u64(w, n, &v) || !lx_word(&x, &w, &n) ||
		!num_u64(w, n, &v) || !lx_done(&x))
		return fail(c, "bad time '%s'", quote(&q, c->v, c->vlen));
	c->seen_t = true;
	return 0;
}

static int parse_m(struct pc *c)
{
	struct cp_sdp *s = c->s;
	struct lx x = {c->v, c->v + c->vlen};
	struct cp_sdp_media *m;
	struct quoted q;
	const char *w;
	size_t n;
	uint64_t v;

	if (!c->seen_t)
		return fail(c, "m= before any t=");
	if (s->nmedia == CP_SDP_MAX_MEDIA)
		return fail(c, "more than %d media sections", CP_SDP_MAX_MEDIA);
	c->mline[s->nmedia] = c->line;
	m = c->m = &s->media[s->nmedia++];
	memset(m, 0, sizeof(*m));

	if (!lx_word(&x, &w, &n) || n > 32 || !all_of(w, n, "-_"))
		return fail(c, "bad media type '%s'", quote(&q, w, n));
	m->type = span_of(s, w, n);
	if (!lx_word(&x, &w, &n))
		return fail(c, "missing port");
	if (memchr(w, '/', n))
		return fail(c, "port count not supported '%s'", quote(&q, w, n));
	if (!num_max(w, n, 65535, &v))
		return fail(c, "bad port '%s'", quote(&q, w, n));
	m->port = (uint16_t)v;
	if (!lx_word(&x, &w, &n) || n > 32 || !all_of(w, n, "/_.-"))
		return fail(c, "bad protocol '%s'", quote(&q, w, n));
	m->proto = span_of(s, w, n);
	m->proto_id = CP_SDP_PROTO_OTHER;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (str_ieq(w, n, protos[i].name))
			m->proto_id = protos[i].id;
	lx_skip(&x);
	if (x.p == x.end)
		return fail(c, "no format");
	m->fmts = span_of(s, x.p, (size_t)(x.end - x.p));
	if (!cp_sdp_proto_is_rtp(m->proto_id))
		return 0;
	while (lx_word(&x, &w, &n)) {
		if (!num_max(w, n, 127, &v))
			return fail(c, "bad payload type '%s'", quote(&q, w, n));
		for (unsigned i = 0; i < m->ncodecs; i++)
			if (m->codecs[i].pt == v)
				return fail(c, "payload type %u listed twice", (unsigned)v);
		if (m->ncodecs == CP_SDP_MAX_PT)
			return fail(c, "more than %d payload types", CP_SDP_MAX_PT);
		codec_init(&m->codecs[m->ncodecs++], (uint8_t)v);
	}
	return 0;
}

static struct cp_sdp_codec *find_pt(struct cp_sdp_media *m, uint64_t pt)
{
	for (unsigned i = 0; i < m->ncodecs; i++)
		if (m->codecs[i].pt == pt)
			return &m->codecs[i];
	return NULL;
}

/* a=rtpmap:<pt> <name>/<rate>[/<channels>] */
static int parse_rtpmap(struct pc *c, const char *val, size_t vl)
{
	struct lx x = {val, val + vl};
	struct cp_sdp_codec *k;
	struct quoted q;
	const char *w, *slash, *end;
	size_t n;
	uint64_t pt, rate, ch = 0;

	if (!lx_word(&x, &w, &n) || !num_max(w, n, 127, &pt))
		return fail(c, "bad payload type '%s'", quote(&q, w, n));
	if (!lx_word(&x, &w, &n) || !lx_done(&x))
		return fail(c, "bad encoding '%s'", quote(&q, val, vl));
	end = w + n;
	slash = memchr(w, '/', n);
	if (!slash || slash == w || (size_t)(slash - w) >= CP_SDP_NAME_LEN ||
		!all_of(w, (size_t)(slash - w), "-_."))
		return fail(c, "bad encoding name '%s'", quote(&q, w, n));
	{
		const char *r = slash + 1;
		const char *s2 = memchr(r, '/', (size_t)(end - r));
		const char *rend = s2 ? s2 : end;

		if (!num_max(r, (size_t)(rend - r), UINT32_MAX, &rate) || rate == 0)
			return fail(c, "bad clock rate '%s'", quote(&q, w, n));
		if (s2 && (!num_max(s2 + 1, (size_t)(end - s2 - 1), 255, &ch) || ch == 0))
			return fail(c, "bad channel count '%s'", quote(&q, w, n));
	}
	k = find_pt(c->m, pt);
	if (!k)
		return 0; /* not on the m= line: nothing to describe */
	if (k->flags & CP_SDP_CF_RTPMAP)
		return fail(c, "second a=rtpmap for payload type %u", (unsigned)pt);
	memcpy(k->name, w, (size_t)(slash - w));
	k->name[slash - w] = '\0';
	k->clock_rate = (uint32_t)rate;
	k->channels = (uint8_t)ch;
	k->flags = (uint8_t)((k->flags & CP_SDP_CF_FMTP) | CP_SDP_CF_RTPMAP | name_flags(k->name));
	return 0;
}

/* a=fmtp:<pt> <parameters> */
static int parse_fmtp(struct pc *c, const char *val, size_t vl)
{
	struct lx x = {val, val + vl};
	struct cp_sdp_codec *k;
	struct quoted q;
	const char *w;
	size_t n;
	uint64_t pt;

	if (!lx_word(&x, &w, &n) || !num_max(w, n, 127, &pt))
		return fail(c, "bad payload type '%s'", quote(&q, w, n));
	k = find_pt(c->m, pt);
	lx_skip(&x);
	if (!k || x.p == x.end)
		return 0;
	if (k->flags & CP_SDP_CF_FMTP)
		return fail(c, "second a=fmtp for payload type %u", (unsigned)pt);
	k->flags |= CP_SDP_CF_FMTP;
	k->fmtp = span_of(c->s, x.p, (size_t)(x.end - x.p));
	return 0;
}

/* a=ptime / a=maxptime: milliseconds, "20" or "20.0" */
static int parse_ms(struct pc *c, const char *val, size_t vl, uint16_t *out)
{
	const char *dot = memchr(val, '.', vl);
	size_t n = dot ? (size_t)(dot - val) : vl;
	struct quoted q;
	uint64_t v, frac;

	if (*out)
		return fail(c, "second one in this section");
	if (!num_max(val, n, 10000, &v) || v == 0 || (dot && !num_u64(dot + 1, vl - n - 1, &frac)))
		return fail(c, "bad value '%s'", quote(&q, val, vl));
	*out = (uint16_t)v;
	return 0;
}

/* a=rtcp:<port> [IN IP4 <addr>] */
static int parse_rtcp(struct pc *c, const char *val, size_t vl)
{
	struct lx x = {val, val + vl};
	struct cp_sdp_media *m = c->m;
	struct quoted q;
	const char *w;
	size_t n;
	uint64_t port;

	if (m->rtcp_port)
		return fail(c, "second one in this section");
	if (!lx_word(&x, &w, &n) || !num_max(w, n, 65535, &port) || port == 0)
		return fail(c, "bad port '%s'", quote(&q, val, vl));
	if (!lx_done(&x)) {
		int rc = read_conn_addr(&x, &m->rtcp_addr);

		if (rc || !lx_done(&x))
			return fail(c, "bad address '%s'", quote(&q, val, vl));
		m->rtcp_addr.port = (uint16_t)port;
	}
	m->rtcp_port = (uint16_t)port;
	return 0;
}

static int parse_a(struct pc *c)
{
	struct cp_sdp *s = c->s;
	struct cp_sdp_media *m = c->m;
	const char *colon = memchr(c->v, ':', c->vlen);
	size_t nl = colon ? (size_t)(colon - c->v) : c->vlen;
	const char *val = colon ? colon + 1 : c->v + c->vlen;
	size_t vl = colon ? c->vlen - nl - 1 : 0;
	enum cp_sdp_dir d;
	struct quoted q;
	unsigned keep;

	if (!all_of(c->v, nl, "-_."))
		return fail(c, "bad attribute name '%s'", quote(&q, c->v, c->vlen));
	c->an = c->v;
	c->anlen = nl;
	d = dir_of(c->v, nl);
	if (d != CP_SDP_DIR_NONE) {
		enum cp_sdp_dir *slot = m ? &m->dir_attr : &s->dir;

		if (*slot != CP_SDP_DIR_NONE)
			return fail(c, "second direction attribute in this section");
		*slot = d;
		return 0;
	}
	if (attr_is_ice(c->v, nl)) {
		if (m)
			m->ice = true;
		else
			s->ice = true;
		return 0;
	}
	if (m && cp_sdp_proto_is_rtp(m->proto_id)) {
		if (str_eq(c->v, nl, "rtpmap"))
			return parse_rtpmap(c, val, vl);
		if (str_eq(c->v, nl, "fmtp"))
			return parse_fmtp(c, val, vl);
	}
	if (m) {
		if (str_eq(c->v, nl, "ptime"))
			return parse_ms(c, val, vl, &m->ptime);
		if (str_eq(c->v, nl, "maxptime"))
			return parse_ms(c, val, vl, &m->maxptime);
		if (str_eq(c->v, nl, "rtcp"))
			return parse_rtcp(c, val, vl);
		if (str_eq(c->v, nl, "rtcp-mux")) {
			m->rtcp_mux = true;
			return 0;
		}
	}
	keep = attr_kept(c->v, nl, m != NULL);
	if (!keep)
		return 0; /* dropped: unknown attributes may carry addresses */
	if ((m ? m->nattrs : s->nattrs) == CP_SDP_MAX_ATTRS)
		return fail(c, "more than %d attributes in this section", CP_SDP_MAX_ATTRS);
	if (m)
		m->attrs[m->nattrs++] = span_of(s, c->v, c->vlen);
	else
		s->attrs[s->nattrs++] = span_of(s, c->v, c->vlen);
	return 0;
}

static int parse_line(struct pc *c, const char *ln, size_t n)
{
	struct quoted q;

	c->nth++;
	if (n < 2 || ln[1] != '=' || ln[0] < 'a' || ln[0] > 'z')
		return fail(c, "not a '<letter>=' line: '%s'", quote(&q, ln, n));
	c->type = ln[0];
	c->v = ln + 2;
	c->vlen = n - 2;
	if (c->nth == 1 && c->type != 'v')
		return fail(c, "the body must start with v=0");
	if (c->nth == 2 && c->type != 'o')
		return fail(c, "o= must follow v=");
	if (c->nth == 3 && c->type != 's')
		return fail(c, "s= must follow o=");
	if (c->m && !strchr("icbkam", c->type))
		return fail(c, "not allowed in a media section");
	switch (c->type) {
	case 'v':
		if (c->nth != 1)
			return fail(c, "second v=");
		if (!str_eq(c->v, c->vlen, "0"))
			return fail(c, "unsupported version '%s'", quote(&q, c->v, c->vlen));
		return 0;
	case 'o':
		return c->nth == 2 ? parse_o(c) : fail(c, "second o=");
	case 's':
		if (c->nth != 3)
			return fail(c, "second s=");
		c->s->name = span_of(c->s, c->v, c->vlen);
		return 0;
	case 'i':
	case 'u':
	case 'e':
	case 'p':
	case 'k':
	case 'z':
		return 0; /* free text or obsolete: never passed on */
	case 'r':
		return c->seen_t ? 0 : fail(c, "r= before any t=");
	case 't':
		return parse_t(c);
	case 'c':
		return parse_c(c);
	case 'b':
		return parse_b(c);
	case 'a':
		return parse_a(c);
	case 'm':
		return parse_m(c);
	default:
		return fail(c, "unknown line type");
	}
}

static int finish(struct pc *c)
{
	struct cp_sdp *s = c->s;

	c->line = 0;
	c->type = 0;
	if (c->nth < 3)
		return fail(c, "truncated body: v=, o= and s= are required");
	if (!c->seen_t)
		return fail(c, "no t= line");
	for (unsigned i = 0; i < s->nmedia; i++) {
		struct cp_sdp_media *m = &s->media[i];

		if (!m->c_media)
			m->addr = s->conn;
		if (m->addr.family == TG_AF_NONE && m->port) {
			c->line = c->mline[i];
			c->type = 'm';
			return fail(c, "no c= for this stream");
		}
		m->addr.port = m->port;
		m->zero_addr = addr_is_zero(&m->addr);
		m->dir = m->dir_attr != CP_SDP_DIR_NONE ? m->dir_attr
			 : s->dir != CP_SDP_DIR_NONE	? s->dir
							: CP_SDP_SENDRECV;
		/* RFC 2543 hold: c=0.0.0.0 means "send nothing to me", unless ICE is in use, where
		 * it means "see the candidates" (RFC 8839): the relay latches onto that remote */
		if (m->zero_addr && !m->ice && !s->ice)
			m->dir = m->dir == CP_SDP_SENDRECV   ? CP_SDP_SENDONLY
				 : m->dir == CP_SDP_RECVONLY ? CP_SDP_INACTIVE
							     : m->dir;
	}
	return 0;
}

int cp_sdp_parse(struct cp_sdp *s, const char *body, size_t len, char *why, size_t whylen)
{
	struct pc c = {.s = s, .why = why, .whylen = whylen};
	bool blank = false;
	size_t pos = 0;

	if (why && whylen)
		why[0] = '\0';
	if (!s)
		return -EINVAL;
	memset(s, 0, offsetof(struct cp_sdp, text));
	if (!body || len == 0)
		return fail(&c, "empty body");
	if (len > CP_SDP_MAX_BODY)
		return fail(&c, "body of %zu bytes, more than %d", len, CP_SDP_MAX_BODY);
	memcpy(s->text, body, len);
	s->text[len] = '\0';
	s->len = (uint16_t)len;

	while (pos < len) {
		const char *ln = s->text + pos;
		const char *nl = memchr(ln, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - ln) : len - pos;
		int rc;

		pos += n + (nl ? 1 : 0);
		if (n && ln[n - 1] == '\r')
			n--;
		c.line++;
		c.type = 0;
		c.an = NULL;
		if (c.line > CP_SDP_MAX_LINES)
			return fail(&c, "more than %d lines", CP_SDP_MAX_LINES);
		if (n > CP_SDP_MAX_LINE)
			return fail(&c, "longer than %d bytes", CP_SDP_MAX_LINE);
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)ln[i];

			if (ch == '\0')
				return fail(&c, "NUL byte");
			if (ch == '\r')
				return fail(&c, "CR not followed by LF");
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return fail(&c, "control byte 0x%02x", ch);
		}
		while (n && (ln[n - 1] == ' ' || ln[n - 1] == '\t'))
			n--;
		if (n == 0) {
			blank = true;
			continue;
		}
		if (blank)
			return fail(&c, "text after a blank line");
		rc = parse_line(&c, ln, n);
		if (rc)
			return rc;
	}
	return finish(&c);
}

/* ---------------------------------------------------------------- directions */

#define W_SEND 1u /* the SDP's author sends */
#define W_RECV 2u /* the SDP's author receives */

static unsigned wbits(enum cp_sdp_dir d)
{
	switch (d) {
	case CP_SDP_SENDONLY:
		return W_SEND;
	case CP_SDP_RECVONLY:
		return W_RECV;
	case CP_SDP_INACTIVE:
		return 0;
	default:
		return W_SEND | W_RECV;
	}
}

static enum cp_sdp_dir of_wbits(unsigned b)
{
	static const enum cp_sdp_dir d[4] = {
		CP_SDP_INACTIVE, CP_SDP_SENDONLY, CP_SDP_RECVONLY, CP_SDP_SENDRECV};

	return d[b & 3];
}

/* the other side's view */
static unsigned wswap(unsigned b)
{
	return ((b & W_SEND) ? W_RECV : 0) | ((b & W_RECV) ? W_SEND : 0);
}

uint8_t cp_sdp_dir_bits(enum cp_sdp_dir remote)
{
	unsigned b = wbits(remote);

	return (uint8_t)(((b & W_SEND) ? TG_DIR_RECV : 0) | ((b & W_RECV) ? TG_DIR_SEND : 0));
}

enum cp_sdp_dir cp_sdp_dir_answer(enum cp_sdp_dir offer, enum cp_sdp_dir want)
{
	return of_wbits(wbits(want) & wswap(wbits(offer)));
}

uint8_t cp_sdp_dir_negotiated(
	enum cp_sdp_dir offer, enum cp_sdp_dir answer, enum cp_sdp_role remote_role)
{
	enum cp_sdp_dir a = cp_sdp_dir_answer(offer, answer);

	if (remote_role == CP_SDP_ANSWER)
		return cp_sdp_dir_bits(a);
	/* the offerer does what the answer leaves it: the mirror of the answer */
	return cp_sdp_dir_bits(of_wbits(wswap(wbits(a))));
}

/* ---------------------------------------------------------------- offer/answer */

static void set_why(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

int cp_sdp_match(const struct cp_sdp *offer, const struct cp_sdp *answer, struct cp_sdp_pair *pairs,
	char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = '\0';
	if (!offer || !answer || !pairs) {
		set_why(why, whylen, "missing offer or answer");
		return -EINVAL;
	}
	if (offer->nmedia != answer->nmedia) {
		set_why(why, whylen, "the answer has %u m= lines, the offer %u", answer->nmedia,
			offer->nmedia);
		return -EINVAL;
	}
	for (unsigned i = 0; i < offer->nmedia; i++) {
		const struct cp_sdp_media *om = &offer->media[i];
		const struct cp_sdp_media *am = &answer->media[i];
		struct cp_sdp_pair *p = &pairs[i];
		unsigned usable = 0;

		memset(p, 0, sizeof(*p));
		if (om->type.len != am->type.len ||
			strncasecmp(cp_sdp_ptr(offer, om->type), cp_sdp_ptr(answer, am->type),
				om->type.len) != 0) {
			set_why(why, whylen,
				"stream %u: the answer's media type is not the offer's", i);
			return -EINVAL;
		}
		if (om->port == 0 && am->port != 0) {
			set_why(why, whylen,
				"stream %u: the answer accepts a stream the offer rejected", i);
			return -EINVAL;
		}
		if (om->port == 0 || am->port == 0) {
			p->reject = CP_SDP_REJ_PEER;
			p->dir = CP_SDP_INACTIVE;
			continue;
		}
		p->dir = cp_sdp_dir_answer(om->dir, am->dir);
		p->dir_offerer = cp_sdp_dir_negotiated(om->dir, am->dir, CP_SDP_OFFER);
		p->dir_answerer = cp_sdp_dir_negotiated(om->dir, am->dir, CP_SDP_ANSWER);
		p->rtcp_mux = om->rtcp_mux && am->rtcp_mux;
		if (!cp_sdp_proto_is_rtp(om->proto_id) || !cp_sdp_proto_is_rtp(am->proto_id))
			continue;
		for (unsigned k = 0; k < am->ncodecs; k++) {
			if (!media_has_codec(om, &am->codecs[k]))
				continue;
			p->ncommon++;
			usable += codec_usable(&am->codecs[k]);
		}
		if (!usable)
			p->reject = CP_SDP_REJ_CODECS;
	}
	return offer->nmedia;
}

static bool codec_wanted(const struct cp_sdp_rewrite *rw, const struct cp_sdp_codec *k)
{
	if (k->flags & CP_SDP_CF_DTMF)
		return true;
	if (!rw->codecs)
		return true;
	for (unsigned i = 0; i < rw->ncodecs; i++)
		if (rw->codecs[i] && k->name[0] && strcasecmp(rw->codecs[i], k->name) == 0)
			return true;
	return false;
}

/* One stream's decision; *keep gets the kept codecs' indexes as bits. */
static void plan_stream(const struct cp_sdp *in, unsigned i, const struct cp_sdp_rewrite *rw,
	struct cp_sdp_stream *st, uint32_t *keep)
{
	const struct cp_sdp_media *m = &in->media[i];
	const struct cp_sdp_media *om = rw->role == CP_SDP_ANSWER ? &rw->offer->media[i] : NULL;
	bool mux;

	memset(st, 0, sizeof(*st));
	*keep = 0;
	if (m->port == 0 || (om && om->port == 0)) {
		st->reject = CP_SDP_REJ_PEER;
		return;
	}
	if (!cp_sdp_proto_relayable(m->proto_id)) {
		st->reject = CP_SDP_REJ_PROTO;
		return;
	}
	if (cp_sdp_proto_is_rtp(m->proto_id)) {
		bool usable = false;

		for (unsigned k = 0; k < m->ncodecs; k++) {
			const struct cp_sdp_codec *c = &m->codecs[k];

			/* an answer keeps only what the offer had: the offerer knows nothing else
			 */
			if (!codec_wanted(rw, c) || (om && !media_has_codec(om, c)))
				continue;
			*keep |= 1u << k;
			st->codecs[st->ncodecs++] = *c;
			if (codec_usable(c) && !usable) {
				usable = true;
				st->clock_rate = c->clock_rate;
			}
		}
		if (!usable) {
			st->reject = CP_SDP_REJ_CODECS;
			st->ncodecs = 0;
			*keep = 0;
			return;
		}
	}
	mux = m->rtcp_mux && (!om || om->rtcp_mux);
	st->flags = mux ? TG_EPF_RTCP_MUX : 0;
	st->dir = om ? cp_sdp_dir_negotiated(om->dir, m->dir, CP_SDP_ANSWER)
		     : cp_sdp_dir_bits(m->dir);
	st->ptime = m->ptime;
	st->remote = m->addr;
	/* an offered mux is not agreed yet: give the fallback until the answer says so */
	if (mux && om) {
		st->remote_rtcp = m->addr;
	} else if (m->rtcp_port) {
		st->remote_rtcp = m->rtcp_addr.family ? m->rtcp_addr : m->addr;
		st->remote_rtcp.port = m->rtcp_port;
	} else if (m->port < 65535) {
		st->remote_rtcp = m->addr;
		st->remote_rtcp.port = (uint16_t)(m->port + 1);
	}
}

static int plan_all(const struct cp_sdp *in, const struct cp_sdp_rewrite *rw,
	struct cp_sdp_out *out, uint32_t *keep)
{
	struct cp_sdp_pair pairs[CP_SDP_MAX_MEDIA];

	out->why[0] = '\0';
	out->nstreams = 0;
	out->nactive = 0;
	if (!in || !rw) {
		set_why(out->why, sizeof(out->why), "missing SDP or parameters");
		return -EINVAL;
	}
	if (rw->role == CP_SDP_ANSWER) {
		int rc;

		if (!rw->offer) {
			set_why(out->why, sizeof(out->why), "an answer needs its offer");
			return -EINVAL;
		}
		rc = cp_sdp_match(rw->offer, in, pairs, out->why, sizeof(out->why));
		if (rc < 0)
			return rc;
	}
	for (unsigned i = 0; i < in->nmedia; i++) {
		plan_stream(in, i, rw, &out->streams[i], &keep[i]);
		out->nactive += out->streams[i].reject == CP_SDP_REJ_NONE;
	}
	out->nstreams = in->nmedia;
	return 0;
}

int cp_sdp_plan(const struct cp_sdp *in, const struct cp_sdp_rewrite *rw, struct cp_sdp_out *out)
{
	uint32_t keep[CP_SDP_MAX_MEDIA];

	if (!out)
		return -EINVAL;
	return plan_all(in, rw, out, keep);
}

/* ---------------------------------------------------------------- writer */

struct wb {
	char *b;
	size_t size;
	size_t len;
	bool full;
};

static void put(struct wb *w, const char *p, size_t n)
{
	if (w->full || n >= w->size - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->b + w->len, p, n);
	w->len += n;
}

__attribute__((format(printf, 2, 3))) static void putf(struct wb *w, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		w->full = true;
		return;
	}
	put(w, tmp, (size_t)n);
}

static void put_line(
	struct wb *w, const char *prefix, const struct cp_sdp *s, struct cp_sdp_span sp)
{
	put(w, prefix, strlen(prefix));
	put(w, cp_sdp_ptr(s, sp), sp.len);
	put(w, "\r\n", 2);
}

static void put_conn(struct wb *w, const struct tg_addr *a)
{
	char buf[INET6_ADDRSTRLEN];

	putf(w, "c=IN %s %s\r\n", a->family == TG_AF_INET6 ? "IP6" : "IP4",
		addr_text(a, buf, sizeof(buf)));
}

/* What to write for one m= section. */
struct rmedia {
	bool reject;
	uint16_t port;
	const struct tg_addr *addr; /* c=, NULL = the session's */
	uint16_t rtcp_port;	    /* 0 = no a=rtcp */
	bool mux;
	enum cp_sdp_dir dir; /* NONE = no attribute */
	uint32_t keep;	     /* codec indexes */
};

struct rsess {
	const char *user;
	size_t user_len;
	const char *name;
	size_t name_len;
	const char *oaddr;
	size_t oaddr_len;
	uint8_t ofamily;
	const struct tg_addr *conn; /* session c=, NULL = none */
	enum cp_sdp_dir dir;
	struct rmedia m[CP_SDP_MAX_MEDIA];
};

/* an attribute tied to a payload type whose codec was dropped */
static bool attr_of_dropped_pt(
	const struct cp_sdp *s, const struct cp_sdp_media *m, struct cp_sdp_span a, uint32_t keep)
{
	const char *p = cp_sdp_ptr(s, a);
	const char *colon = memchr(p, ':', a.len);
	struct lx x;
	const char *w;
	size_t n;
	uint64_t pt;

	if (!colon || !(attr_kept(p, (size_t)(colon - p), true) & KA_PT))
		return false;
	x = (struct lx){colon + 1, p + a.len};
	if (!lx_word(&x, &w, &n) || !num_max(w, n, 127, &pt))
		return false; /* '*' or not a payload type */
	for (unsigned k = 0; k < m->ncodecs; k++)
		if (m->codecs[k].pt == pt)
			return !(keep & (1u << k));
	return true;
}

static void put_media(struct wb *w, const struct cp_sdp *in, const struct cp_sdp_media *m,
	const struct rmedia *r, const struct tg_addr *sess_conn)
{
	bool rtp = cp_sdp_proto_is_rtp(m->proto_id);

	put(w, "m=", 2);
	put(w, cp_sdp_ptr(in, m->type), m->type.len);
	putf(w, " %u ", r->port);
	put(w, cp_sdp_ptr(in, m->proto), m->proto.len);
	if (rtp) {
		for (unsigned k = 0; k < m->ncodecs; k++)
			if (r->reject || (r->keep & (1u << k)))
				putf(w, " %u", m->codecs[k].pt);
	} else {
		put(w, " ", 1);
		put(w, cp_sdp_ptr(in, m->fmts), m->fmts.len);
	}
	put(w, "\r\n", 2);
	if (r->reject)
		return;
	if (r->addr && (!sess_conn || !addr_same_ip(r->addr, sess_conn)))
		put_conn(w, r->addr);
	for (unsigned i = 0; i < m->nbw; i++)
		put_line(w, "b=", in, m->bw[i]);
	for (unsigned k = 0; rtp && k < m->ncodecs; k++) {
		const struct cp_sdp_codec *c = &m->codecs[k];

		if (!(r->keep & (1u << k)))
			continue;
		if (c->flags & CP_SDP_CF_RTPMAP) {
			putf(w, "a=rtpmap:%u %s/%" PRIu32, c->pt, c->name, c->clock_rate);
			if (c->channels)
				putf(w, "/%u", c->channels);
			put(w, "\r\n", 2);
		}
		if (c->fmtp.len) {
			putf(w, "a=fmtp:%u ", c->pt);
			put_line(w, "", in, c->fmtp);
		}
	}
	for (unsigned i = 0; i < m->nattrs; i++)
		if (!rtp || !attr_of_dropped_pt(in, m, m->attrs[i], r->keep))
			put_line(w, "a=", in, m->attrs[i]);
	if (m->ptime)
		putf(w, "a=ptime:%u\r\n", m->ptime);
	if (m->maxptime)
		putf(w, "a=maxptime:%u\r\n", m->maxptime);
	if (r->rtcp_port)
		putf(w, "a=rtcp:%u\r\n", r->rtcp_port);
	if (r->mux)
		put(w, "a=rtcp-mux\r\n", 12);
	if (r->dir != CP_SDP_DIR_NONE)
		putf(w, "a=%s\r\n", cp_sdp_dir_name(r->dir));
}

static int render(const struct cp_sdp *in, const struct rsess *r, struct cp_sdp_origin *o,
	struct cp_sdp_out *out)
{
	struct wb w = {.b = out->buf, .size = out->size};
	char ol[CP_SDP_MAX_LINE + 64];
	uint64_t h, version;
	size_t opos;
	int n;

	out->len = 0;
	if (!out->buf || out->size == 0) {
		set_why(out->why, sizeof(out->why), "no output buffer");
		return -ENOSPC;
	}
	out->buf[0] = '\0';
	put(&w, "v=0\r\n", 5);
	opos = w.len;
	put(&w, "s=", 2);
	put(&w, r->name_len ? r->name : "-", r->name_len ? r->name_len : 1);
	put(&w, "\r\n", 2);
	if (r->conn)
		put_conn(&w, r->conn);
	for (unsigned i = 0; i < in->nbw; i++)
		put_line(&w, "b=", in, in->bw[i]);
	put(&w, "t=0 0\r\n", 7);
	for (unsigned i = 0; i < in->nattrs; i++)
		put_line(&w, "a=", in, in->attrs[i]);
	if (r->dir != CP_SDP_DIR_NONE)
		putf(&w, "a=%s\r\n", cp_sdp_dir_name(r->dir));
	for (unsigned i = 0; i < in->nmedia; i++)
		put_media(&w, in, &in->media[i], &r->m[i], r->conn);
	if (w.full) {
		set_why(out->why, sizeof(out->why), "SDP does not fit in %zu bytes", out->size);
		return -ENOSPC;
	}

	/* the version moves only when the rest of the body does */
	h = fnv1a(w.b + opos, w.len - opos);
	version = o->sent && h != o->hash ? o->version + 1 : o->version;
	n = snprintf(ol, sizeof(ol), "o=%.*s %" PRIu64 " %" PRIu64 " IN %s %.*s\r\n",
		(int)r->user_len, r->user, o->sess_id, version,
		r->ofamily == TG_AF_INET6 ? "IP6" : "IP4", (int)r->oaddr_len, r->oaddr);
	if (n < 0 || (size_t)n >= sizeof(ol) || (size_t)n >= w.size - w.len) {
		set_why(out->why, sizeof(out->why), "SDP does not fit in %zu bytes", out->size);
		return -ENOSPC;
	}
	memmove(w.b + opos + n, w.b + opos, w.len - opos);
	memcpy(w.b + opos, ol, (size_t)n);
	w.len += (size_t)n;
	w.b[w.len] = '\0';
	o->version = version;
	o->hash = h;
	o->sent = true;
	out->len = w.len;
	out->version = version;
	return 0;
}

/* ---------------------------------------------------------------- rewrite, hold, resume */

void cp_sdp_origin_init(struct cp_sdp_origin *o, uint64_t sess_id, uint64_t version)
{
	memset(o, 0, sizeof(*o));
	o->sess_id = sess_id;
	o->version = version;
}

static bool text_ok(const char *p, size_t n, bool token)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch < 0x20 || ch == 0x7f || (token && ch == ' '))
			return false;
	}
	return true;
}

int cp_sdp_rewrite(const struct cp_sdp *in, const struct cp_sdp_rewrite *rw,
	struct cp_sdp_origin *origin, struct cp_sdp_out *out)
{
	uint32_t keep[CP_SDP_MAX_MEDIA];
	char oaddr[INET6_ADDRSTRLEN];
	struct rsess r;
	int rc;

	if (!out)
		return -EINVAL;
	rc = plan_all(in, rw, out, keep);
	if (rc)
		return rc;
	memset(&r, 0, sizeof(r));
	r.user = rw->user ? rw->user : "-";
	r.user_len = strlen(r.user);
	r.name = rw->session_name ? rw->session_name : "-";
	r.name_len = strlen(r.name);
	if (!origin || (rw->local.family != TG_AF_INET && rw->local.family != TG_AF_INET6) ||
		r.user_len == 0 || r.user_len > 64 || !text_ok(r.user, r.user_len, true) ||
		r.name_len > 128 || !text_ok(r.name, r.name_len, false)) {
		set_why(out->why, sizeof(out->why),
			"bad parameters: origin, local address, user or session name");
		return -EINVAL;
	}
	r.oaddr = addr_text(&rw->local, oaddr, sizeof(oaddr));
	r.oaddr_len = strlen(oaddr);
	r.ofamily = rw->local.family;
	r.conn = &rw->local;
	r.dir = in->dir;

	out->nactive = 0;
	for (unsigned i = 0; i < in->nmedia; i++) {
		const struct cp_sdp_media *m = &in->media[i];
		const struct cp_sdp_endpoint *ep = rw->ep && i < rw->nep ? &rw->ep[i] : NULL;
		struct cp_sdp_stream *st = &out->streams[i];
		struct rmedia *rm = &r.m[i];
		enum cp_sdp_dir d, implied = in->dir != CP_SDP_DIR_NONE ? in->dir : CP_SDP_SENDRECV;
		unsigned rtcp;

		if (!st->reject &&
			(!ep || ep->rtp.port == 0 ||
				(ep->rtp.family != TG_AF_INET && ep->rtp.family != TG_AF_INET6))) {
			memset(st, 0, sizeof(*st));
			st->reject = CP_SDP_REJ_NO_EP;
		}
		if (st->reject) {
			rm->reject = true;
			continue;
		}
		out->nactive++;
		rm->port = ep->rtp.port;
		rm->addr = &ep->rtp;
		rm->keep = keep[i];
		rm->mux =
			rw->role == CP_SDP_OFFER ? m->rtcp_mux : (st->flags & TG_EPF_RTCP_MUX) != 0;
		rtcp = ep->rtcp_port ? ep->rtcp_port : ep->rtp.port + 1u;
		/* with rtcp-mux agreed in an answer, a=rtcp has nothing left to say */
		if (!(rw->role == CP_SDP_ANSWER && rm->mux) && rtcp <= 65535 &&
			(m->rtcp_port || rtcp != ep->rtp.port + 1u))
			rm->rtcp_port = (uint16_t)rtcp;
		d = rw->role == CP_SDP_OFFER ? m->dir
					     : cp_sdp_dir_answer(rw->offer->media[i].dir, m->dir);
		rm->dir = (m->dir_attr != CP_SDP_DIR_NONE || d != implied) ? d : CP_SDP_DIR_NONE;
	}
	return render(in, &r, origin, out);
}

static int reoffer(
	const struct cp_sdp *local, struct cp_sdp_origin *o, struct cp_sdp_out *out, bool hold)
{
	struct rsess r;

	if (!out)
		return -EINVAL;
	out->why[0] = '\0';
	out->nstreams = 0;
	out->nactive = 0;
	if (!local || !o) {
		set_why(out->why, sizeof(out->why), "missing SDP or origin");
		return -EINVAL;
	}
	memset(&r, 0, sizeof(r));
	r.user = cp_sdp_ptr(local, local->user);
	r.user_len = local->user.len;
	r.name = cp_sdp_ptr(local, local->name);
	r.name_len = local->name.len;
	r.oaddr = cp_sdp_ptr(local, local->origin_addr);
	r.oaddr_len = local->origin_addr.len;
	r.ofamily = local->origin_family;
	r.conn = local->conn.family != TG_AF_NONE ? &local->conn : NULL;
	r.dir = CP_SDP_DIR_NONE; /* every stream says its own */
	for (unsigned i = 0; i < local->nmedia; i++) {
		const struct cp_sdp_media *m = &local->media[i];
		struct rmedia *rm = &r.m[i];

		rm->reject = m->port == 0;
		rm->port = m->port;
		if (rm->reject)
			continue;
		out->nactive++;
		rm->addr = m->c_media ? &m->addr : NULL;
		rm->keep = m->ncodecs >= 32 ? UINT32_MAX : (1u << m->ncodecs) - 1;
		rm->rtcp_port = m->rtcp_port;
		rm->mux = m->rtcp_mux;
		/* RFC 3264 8.4: stop receiving, keep sending if we did */
		if (hold)
			rm->dir = (wbits(m->dir) & W_SEND) ? CP_SDP_SENDONLY : CP_SDP_INACTIVE;
		else
			rm->dir = CP_SDP_SENDRECV;
	}
	return render(local, &r, o, out);
}

int cp_sdp_hold_offer(
	const struct cp_sdp *local, struct cp_sdp_origin *origin, struct cp_sdp_out *out)
{
	return reoffer(local, origin, out, true);
}

int cp_sdp_resume_offer(
	const struct cp_sdp *local, struct cp_sdp_origin *origin, struct cp_sdp_out *out)
{
	return reoffer(local, origin, out, false);
}
