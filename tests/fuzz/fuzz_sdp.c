/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the SDP module: every input is parsed, and every accepted one is
 * rewritten as an offer (with or without a codec filter, IPv4 or IPv6 endpoints, chosen by the
 * input's first and last bytes), rewritten as an answer to itself, matched, and turned into hold
 * and resume re-offers. Beyond "no crash, no undefined behaviour" it aborts when a promise
 * breaks: the parser returns 0 or -EINVAL with a reason and keeps its counts and spans in
 * bounds; a rewrite succeeds, is CRLF-only and parses again with the same streams; the output
 * carries only the appliance's addresses and ports (topology hiding, checked on the parsed
 * output, not by substring, so addresses quoted inside kept attributes cannot fool it) and no
 * ICE; an unchanged SDP keeps its o= version.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp_sdp.h"

static struct cp_sdp in, again, held;
static char out1[65536], out2[65536];

static const char *const filter[] = {"PCMU", "PCMA", "G722", "opus", "H264"};

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool span_ok(const struct cp_sdp *s, struct cp_sdp_span sp)
{
	return (size_t)sp.off + sp.len <= s->len;
}

static void check_parsed(const struct cp_sdp *s)
{
	check(s->nmedia <= CP_SDP_MAX_MEDIA && s->nattrs <= CP_SDP_MAX_ATTRS &&
		s->nbw <= CP_SDP_MAX_BW && s->len <= CP_SDP_MAX_BODY);
	check(span_ok(s, s->user) && span_ok(s, s->origin_addr) && span_ok(s, s->name));
	for (unsigned i = 0; i < s->nattrs; i++)
		check(span_ok(s, s->attrs[i]));
	for (unsigned i = 0; i < s->nmedia; i++) {
		const struct cp_sdp_media *m = &s->media[i];

		check(m->ncodecs <= CP_SDP_MAX_PT && m->nattrs <= CP_SDP_MAX_ATTRS &&
			m->nbw <= CP_SDP_MAX_BW);
		check(span_ok(s, m->type) && span_ok(s, m->proto) && span_ok(s, m->fmts));
		check(m->port == 0 || m->addr.family != TG_AF_NONE);
		check(m->dir >= CP_SDP_SENDRECV && m->dir <= CP_SDP_INACTIVE);
		for (unsigned k = 0; k < m->ncodecs; k++) {
			check(m->codecs[k].pt <= 127 && span_ok(s, m->codecs[k].fmtp));
			check(memchr(m->codecs[k].name, '\0', CP_SDP_NAME_LEN) != NULL);
		}
		for (unsigned k = 0; k < m->nattrs; k++)
			check(span_ok(s, m->attrs[k]));
	}
}

/* CRLF lines only; returns the number of lines */
static unsigned check_text(const struct cp_sdp_out *out)
{
	unsigned lines = 0;

	check(out->len > 0 && strlen(out->buf) == out->len);
	check(out->buf[out->len - 1] == '\n');
	for (size_t i = 0; i < out->len; i++) {
		if (out->buf[i] == '\n') {
			check(i > 0 && out->buf[i - 1] == '\r');
			lines++;
		} else if (out->buf[i] == '\r') {
			check(out->buf[i + 1] == '\n');
		}
	}
	return lines;
}

static bool reparsable(const struct cp_sdp_out *out, unsigned lines)
{
	return lines <= CP_SDP_MAX_LINES && out->len <= CP_SDP_MAX_BODY;
}

static bool same_ip(const struct tg_addr *x, const struct tg_addr *y)
{
	return x->family == y->family && memcmp(x->a, y->a, 16) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cp_sdp_endpoint ep[CP_SDP_MAX_MEDIA];
	struct cp_sdp_pair pairs[CP_SDP_MAX_MEDIA];
	struct cp_sdp_rewrite rw;
	struct cp_sdp_origin o;
	struct cp_sdp_out out, out_b;
	char why[CP_SDP_WHY_LEN];
	uint64_t v;
	unsigned lines;
	int rc;

	rc = cp_sdp_parse(&in, (const char *)data, size, why, sizeof(why));
	check(rc == 0 || rc == -EINVAL);
	if (rc) {
		check(why[0] != '\0' && memchr(why, '\0', sizeof(why)));
		return 0;
	}
	check_parsed(&in);

	/* the appliance's side: 192.0.2.1 / 2001:db8::1, ports 20000 + 2i */
	memset(ep, 0, sizeof(ep));
	for (unsigned i = 0; i < CP_SDP_MAX_MEDIA; i++) {
		bool v6 = size && (data[size - 1] & 1) && (i & 1);

		ep[i].rtp.family = v6 ? TG_AF_INET6 : TG_AF_INET;
		if (v6) {
			ep[i].rtp.a[0] = 0x20;
			ep[i].rtp.a[1] = 0x01;
			ep[i].rtp.a[2] = 0x0d;
			ep[i].rtp.a[3] = 0xb8;
			ep[i].rtp.a[15] = 1;
		} else {
			ep[i].rtp.a[0] = 192;
			ep[i].rtp.a[2] = 2;
			ep[i].rtp.a[3] = 1;
		}
		ep[i].rtp.port = (uint16_t)(20000 + 2 * i);
	}
	memset(&rw, 0, sizeof(rw));
	rw.role = CP_SDP_OFFER;
	rw.local = ep[0].rtp;
	rw.ep = ep;
	rw.nep = CP_SDP_MAX_MEDIA;
	rw.user = "tollgate";
	if (data[0] & 1) {
		rw.codecs = filter;
		rw.ncodecs = sizeof(filter) / sizeof(filter[0]);
	}
	cp_sdp_origin_init(&o, 42, 1);
	memset(&out, 0, sizeof(out));
	out.buf = out1;
	out.size = sizeof(out1);
	check(cp_sdp_rewrite(&in, &rw, &o, &out) == 0);
	check(out.nstreams == in.nmedia && out.nactive <= out.nstreams);
	lines = check_text(&out);
	v = out.version;

	/* the rewritten body parses again: same streams, only our addresses and ports, no ICE */
	if (reparsable(&out, lines)) {
		rc = cp_sdp_parse(&again, out.buf, out.len, why, sizeof(why));
		check(rc == 0);
		check(again.nmedia == in.nmedia && !again.ice);
		check(same_ip(&again.conn, &rw.local));
		for (unsigned i = 0; i < again.nmedia; i++) {
			const struct cp_sdp_media *m = &again.media[i];
			const struct cp_sdp_stream *st = &out.streams[i];

			check(!m->ice && m->rtcp_addr.family == TG_AF_NONE);
			if (st->reject) {
				check(m->port == 0);
				continue;
			}
			check(m->port == ep[i].rtp.port && same_ip(&m->addr, &ep[i].rtp));
			check(m->rtcp_port == 0 || m->rtcp_port == ep[i].rtp.port + 1);
			check(m->ncodecs == st->ncodecs);
		}
		/* match the original offer with its rewrite: same shape, never an error */
		check(cp_sdp_match(&in, &again, pairs, why, sizeof(why)) == in.nmedia);

		/* hold and resume from it, twice each: the second of a kind keeps the version */
		memset(&out_b, 0, sizeof(out_b));
		out_b.buf = out2;
		out_b.size = sizeof(out2);
		check(cp_sdp_hold_offer(&again, &o, &out_b) == 0);
		lines = check_text(&out_b);
		v = out_b.version;
		check(cp_sdp_hold_offer(&again, &o, &out_b) == 0 && out_b.version == v);
		if (reparsable(&out_b, lines)) {
			check(cp_sdp_parse(&held, out_b.buf, out_b.len, why, sizeof(why)) == 0);
			check(held.nmedia == again.nmedia);
			check(cp_sdp_resume_offer(&held, &o, &out_b) == 0);
			check_text(&out_b);
		}
	}

	/* the same rewrite again keeps the version only if nothing moved in between */
	cp_sdp_origin_init(&o, 42, 1);
	check(cp_sdp_rewrite(&in, &rw, &o, &out) == 0 && out.version == 1);
	check(cp_sdp_rewrite(&in, &rw, &o, &out) == 0 && out.version == 1);

	/* the input as an answer to itself */
	rw.role = CP_SDP_ANSWER;
	rw.offer = &in;
	check(cp_sdp_rewrite(&in, &rw, &o, &out) == 0);
	check_text(&out);
	for (unsigned i = 0; i < out.nstreams; i++)
		check(!(out.streams[i].flags & TG_EPF_RTCP_MUX) || in.media[i].rtcp_mux);

	/* too small a buffer: -ENOSPC and the origin untouched */
	v = o.version;
	out.size = (size_t)(data[0] % 64) + 1;
	rc = cp_sdp_rewrite(&in, &rw, &o, &out);
	check(rc == -ENOSPC && o.version == v);
	return 0;
}
