/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SDP parsing, rewriting, offer/answer and hold/resume. Fixtures are inline, written with LF and
 * sent with CRLF (lf2crlf) unless a test is about line endings. Every rewritten body is checked
 * to be CRLF-only and to parse again.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "cp_sdp.h"

/* parsed bodies are ~29 KiB each: static, not on the stack */
static struct cp_sdp sa, sb, sc, sd;
static char obuf[65536], obuf2[65536];
static char lfbuf[4][65536];

static const char *lf2crlf_n(int slot, const char *lf)
{
	char *o = lfbuf[slot];
	size_t j = 0;

	for (size_t i = 0; lf[i] && j + 2 < sizeof(lfbuf[slot]); i++) {
		if (lf[i] == '\n')
			o[j++] = '\r';
		o[j++] = lf[i];
	}
	o[j] = '\0';
	return o;
}

static const char *lf2crlf(const char *lf)
{
	return lf2crlf_n(0, lf);
}

static int parse_str(struct cp_sdp *s, const char *body, char *why)
{
	return cp_sdp_parse(s, body, strlen(body), why, CP_SDP_WHY_LEN);
}

static int parse_lf(struct cp_sdp *s, const char *lf, char *why)
{
	return parse_str(s, lf2crlf(lf), why);
}

static struct tg_addr ip(const char *text, uint16_t port)
{
	struct tg_addr a = {0};

	if (strchr(text, ':')) {
		a.family = TG_AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, a.a), 1);
	} else {
		a.family = TG_AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, a.a), 1);
	}
	a.port = port;
	return a;
}

static void assert_addr(const struct tg_addr *a, const char *text, uint16_t port)
{
	struct tg_addr b = ip(text, port);

	assert_int_equal(a->family, b.family);
	assert_memory_equal(a->a, b.a, a->family == TG_AF_INET ? 4 : 16);
	assert_int_equal(a->port, port);
}

static bool has_line(const char *body, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = body; (p = strstr(p, line)) != NULL; p++)
		if ((p == body || p[-1] == '\n') && p[n] == '\r' && p[n + 1] == '\n')
			return true;
	return false;
}

/* every line ends in CRLF, and the body parses again */
static void assert_sane_output(const struct cp_sdp_out *out)
{
	static struct cp_sdp again;
	char why[CP_SDP_WHY_LEN];

	assert_int_equal(strlen(out->buf), out->len);
	assert_true(
		out->len >= 2 && out->buf[out->len - 2] == '\r' && out->buf[out->len - 1] == '\n');
	for (size_t i = 0; i < out->len; i++) {
		if (out->buf[i] == '\n')
			assert_true(i > 0 && out->buf[i - 1] == '\r');
		if (out->buf[i] == '\r')
			assert_true(out->buf[i + 1] == '\n');
	}
	if (parse_str(&again, out->buf, why) != 0)
		fail_msg("rewritten SDP does not parse: %s\n%s", why, out->buf);
}

/* an offer or answer rewrite toward the appliance side 203.0.113.5, one endpoint per stream */
static struct cp_sdp_endpoint eps[CP_SDP_MAX_MEDIA];

static struct cp_sdp_rewrite rw_for(
	enum cp_sdp_role role, const struct cp_sdp *offer, unsigned nep, uint16_t base_port)
{
	struct cp_sdp_rewrite rw = {
		.role = role,
		.offer = offer,
		.local = ip("203.0.113.5", 0),
		.ep = eps,
		.nep = nep,
		.user = "tollgate",
		.session_name = "tollgate",
	};

	for (unsigned i = 0; i < CP_SDP_MAX_MEDIA; i++) {
		memset(&eps[i], 0, sizeof(eps[i]));
		eps[i].rtp = ip("203.0.113.5", (uint16_t)(base_port + 2 * i));
	}
	return rw;
}

static void out_init(struct cp_sdp_out *out, char *buf, size_t size)
{
	memset(out, 0, sizeof(*out));
	out->buf = buf;
	out->size = size;
}

/* ---------------------------------------------------------------- fixtures */

static const char sipp_offer[] = "v=0\n"
				 "o=user1 53655765 2353687637 IN IP4 127.0.1.1\n"
				 "s=-\n"
				 "c=IN IP4 127.0.1.1\n"
				 "t=0 0\n"
				 "m=audio 6000 RTP/AVP 0\n"
				 "a=rtpmap:0 PCMU/8000\n";

static const char asterisk_offer[] = "v=0\n"
				     "o=- 1716371234 1716371234 IN IP4 10.20.30.40\n"
				     "s=Asterisk\n"
				     "c=IN IP4 10.20.30.40\n"
				     "t=0 0\n"
				     "m=audio 17220 RTP/AVP 0 8 9 101\n"
				     "a=rtpmap:0 PCMU/8000\n"
				     "a=rtpmap:8 PCMA/8000\n"
				     "a=rtpmap:9 G722/8000\n"
				     "a=rtpmap:101 telephone-event/8000\n"
				     "a=fmtp:101 0-16\n"
				     "a=ptime:20\n"
				     "a=maxptime:150\n"
				     "a=sendrecv\n";

static const char linphone_offer[] =
	"v=0\n"
	"o=alice 3016 1946 IN IP4 192.168.1.34\n"
	"s=Talk\n"
	"c=IN IP4 192.168.1.34\n"
	"t=0 0\n"
	"a=ice-pwd:31ec21eb38b2ec6d36e8dc7b\n"
	"a=ice-ufrag:0c2dc51e\n"
	"a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\n"
	"m=audio 7078 RTP/AVP 96 97 0 8 101 99\n"
	"a=rtpmap:96 opus/48000/2\n"
	"a=fmtp:96 useinbandfec=1\n"
	"a=rtpmap:97 speex/16000\n"
	"a=fmtp:97 vbr=on\n"
	"a=rtpmap:101 telephone-event/48000\n"
	"a=rtpmap:99 telephone-event/8000\n"
	"a=rtcp:7079\n"
	"a=rtcp-fb:* trr-int 1000\n"
	"a=candidate:1 1 UDP 2130706431 192.168.1.34 7078 typ host\n"
	"a=candidate:1 2 UDP 2130706430 192.168.1.34 7079 typ host\n"
	"a=candidate:2 1 UDP 1694498815 81.56.113.2 30244 typ srflx raddr 192.168.1.34 rport 7078\n"
	"m=video 9078 RTP/AVP 96 97\n"
	"a=rtpmap:96 VP8/90000\n"
	"a=rtpmap:97 H264/90000\n"
	"a=fmtp:97 profile-level-id=42801F\n"
	"a=rtcp-fb:* trr-int 1000\n"
	"a=rtcp-fb:96 nack pli\n"
	"a=rtcp-fb:96 ccm fir\n"
	"a=rtcp-fb:97 nack pli\n"
	"a=candidate:1 1 UDP 2130706431 192.168.1.34 9078 typ host\n";

static const char ipv6_offer[] = "v=0\n"
				 "o=bob 2890844526 2890844526 IN IP6 2001:db8::1\n"
				 "s=-\n"
				 "c=IN IP6 2001:db8::1\n"
				 "t=0 0\n"
				 "m=audio 49170 RTP/AVP 0 8\n"
				 "a=rtcp:53021 IN IP6 2001:db8::2\n";

/* ---------------------------------------------------------------- parsing */

static void test_parse_sipp(void **state)
{
	char why[CP_SDP_WHY_LEN];
	const struct cp_sdp_media *m;

	assert_int_equal(parse_lf(&sa, sipp_offer, why), 0);
	assert_int_equal(sa.sess_id, 53655765);
	assert_int_equal(sa.sess_version, 2353687637ull);
	assert_int_equal(sa.origin_family, TG_AF_INET);
	assert_int_equal(sa.nmedia, 1);
	m = &sa.media[0];
	assert_int_equal(m->port, 6000);
	assert_int_equal(m->proto_id, CP_SDP_RTP_AVP);
	assert_addr(&m->addr, "127.0.1.1", 6000);
	assert_false(m->c_media);
	assert_int_equal(m->dir_attr, CP_SDP_DIR_NONE);
	assert_int_equal(m->dir, CP_SDP_SENDRECV);
	assert_int_equal(m->ncodecs, 1);
	assert_string_equal(m->codecs[0].name, "PCMU");
	assert_int_equal(m->codecs[0].clock_rate, 8000);
	assert_true(m->codecs[0].flags & CP_SDP_CF_RTPMAP);
}

static void test_parse_asterisk(void **state)
{
	char why[CP_SDP_WHY_LEN];
	const struct cp_sdp_media *m;

	assert_int_equal(parse_lf(&sa, asterisk_offer, why), 0);
	m = &sa.media[0];
	assert_int_equal(m->ncodecs, 4);
	assert_string_equal(m->codecs[1].name, "PCMA");
	assert_string_equal(m->codecs[2].name, "G722");
	assert_string_equal(m->codecs[3].name, "telephone-event");
	assert_int_equal(m->codecs[3].pt, 101);
	assert_true(m->codecs[3].flags & CP_SDP_CF_DTMF);
	assert_int_equal(m->codecs[3].fmtp.len, 4);
	assert_memory_equal(cp_sdp_ptr(&sa, m->codecs[3].fmtp), "0-16", 4);
	assert_int_equal(m->ptime, 20);
	assert_int_equal(m->maxptime, 150);
	assert_int_equal(m->dir_attr, CP_SDP_SENDRECV);
	assert_int_equal(sa.name.len, 8);
}

static void test_parse_linphone_two_streams(void **state)
{
	char why[CP_SDP_WHY_LEN];
	const struct cp_sdp_media *a, *v;

	assert_int_equal(parse_lf(&sa, linphone_offer, why), 0);
	assert_int_equal(sa.nmedia, 2);
	assert_true(sa.ice);
	a = &sa.media[0];
	v = &sa.media[1];
	assert_int_equal(a->ncodecs, 6);
	assert_string_equal(a->codecs[0].name, "opus");
	assert_int_equal(a->codecs[0].clock_rate, 48000);
	assert_int_equal(a->codecs[0].channels, 2);
	assert_string_equal(a->codecs[2].name, "PCMU"); /* static type without rtpmap */
	assert_false(a->codecs[2].flags & CP_SDP_CF_RTPMAP);
	assert_int_equal(a->rtcp_port, 7079);
	assert_int_equal(a->rtcp_addr.family, TG_AF_NONE);
	assert_true(a->ice);
	assert_int_equal(a->nattrs, 1); /* rtcp-fb only: candidates dropped */
	assert_string_equal(v->codecs[0].name, "VP8");
	assert_int_equal(v->codecs[1].clock_rate, 90000);
	assert_addr(&v->addr, "192.168.1.34", 9078);
	assert_int_equal(v->nattrs, 4);
}

static void test_parse_ipv6_rtcp(void **state)
{
	char why[CP_SDP_WHY_LEN];
	const struct cp_sdp_media *m;

	assert_int_equal(parse_lf(&sa, ipv6_offer, why), 0);
	assert_int_equal(sa.origin_family, TG_AF_INET6);
	m = &sa.media[0];
	assert_addr(&m->addr, "2001:db8::1", 49170);
	assert_int_equal(m->rtcp_port, 53021);
	assert_addr(&m->rtcp_addr, "2001:db8::2", 53021);
}

static void test_line_endings(void **state)
{
	char why[CP_SDP_WHY_LEN];
	char body[2048];

	/* LF only */
	assert_int_equal(parse_str(&sa, asterisk_offer, why), 0);
	assert_int_equal(sa.media[0].ncodecs, 4);
	/* CRLF, last line unterminated, trailing blank lines, trailing spaces */
	assert_true(strlen(lf2crlf(sipp_offer)) + 5 < sizeof(body));
	snprintf(body, sizeof(body), "%.2040s", lf2crlf(sipp_offer));
	body[strlen(body) - 2] = '\0';
	assert_int_equal(parse_str(&sa, body, why), 0);
	assert_string_equal(sa.media[0].codecs[0].name, "PCMU");
	snprintf(body, sizeof(body), "%.2040s\r\n\r\n", lf2crlf(sipp_offer));
	assert_int_equal(parse_str(&sa, body, why), 0);
	assert_int_equal(parse_lf(&sa,
				 "v=0\no=- 1 1 IN IP4 1.2.3.4 \ns=-\nc=IN IP4 1.2.3.4\nt=0 0\n"
				 "m=audio 4000 RTP/AVP 0\na=sendonly \n",
				 why),
		0);
	assert_int_equal(sa.media[0].dir, CP_SDP_SENDONLY);
	/* mixed */
	assert_int_equal(parse_str(&sa,
				 "v=0\r\no=- 1 1 IN IP4 1.2.3.4\ns=-\r\nc=IN IP4 1.2.3.4\nt=0 0\r\n"
				 "m=audio 4000 RTP/AVP 0",
				 why),
		0);
}

/* ---------------------------------------------------------------- rewriting */

static void test_rewrite_asterisk_exact(void **state)
{
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 1, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;
	const struct cp_sdp_stream *st;
	static const char want[] = "v=0\n"
				   "o=tollgate 777 1 IN IP4 203.0.113.5\n"
				   "s=tollgate\n"
				   "c=IN IP4 203.0.113.5\n"
				   "t=0 0\n"
				   "m=audio 20000 RTP/AVP 0 8 9 101\n"
				   "a=rtpmap:0 PCMU/8000\n"
				   "a=rtpmap:8 PCMA/8000\n"
				   "a=rtpmap:9 G722/8000\n"
				   "a=rtpmap:101 telephone-event/8000\n"
				   "a=fmtp:101 0-16\n"
				   "a=ptime:20\n"
				   "a=maxptime:150\n"
				   "a=sendrecv\n";

	assert_int_equal(parse_lf(&sa, asterisk_offer, why), 0);
	cp_sdp_origin_init(&o, 777, 1);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_string_equal(out.buf, lf2crlf_n(1, want));
	assert_sane_output(&out);
	assert_int_equal(out.nstreams, 1);
	assert_int_equal(out.nactive, 1);
	st = &out.streams[0];
	assert_int_equal(st->reject, CP_SDP_REJ_NONE);
	assert_addr(&st->remote, "10.20.30.40", 17220);
	assert_addr(&st->remote_rtcp, "10.20.30.40", 17221);
	assert_int_equal(st->dir, TG_DIR_RECV | TG_DIR_SEND);
	assert_int_equal(st->flags, 0);
	assert_int_equal(st->clock_rate, 8000);
	assert_int_equal(st->ptime, 20);
	assert_int_equal(st->ncodecs, 4);
	assert_int_equal(st->codecs[3].pt, 101);
	assert_string_equal(st->codecs[3].name, "telephone-event");
}

static void test_rewrite_sipp_and_ipv6(void **state)
{
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 1, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;

	cp_sdp_origin_init(&o, 5, 5);
	assert_int_equal(parse_lf(&sa, sipp_offer, why), 0);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_true(has_line(out.buf, "m=audio 20000 RTP/AVP 0"));
	assert_true(has_line(out.buf, "a=rtpmap:0 PCMU/8000"));
	assert_null(strstr(out.buf, "a=sendrecv")); /* none written, none added */
	assert_sane_output(&out);

	/* IPv6 leg in, IPv6 appliance side out; a=rtcp rewritten to our port, address dropped */
	assert_int_equal(parse_lf(&sa, ipv6_offer, why), 0);
	rw.local = ip("2001:db8:ffff::5", 0);
	eps[0].rtp = ip("2001:db8:ffff::5", 30000);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_true(has_line(out.buf, "o=tollgate 5 6 IN IP6 2001:db8:ffff::5"));
	assert_true(has_line(out.buf, "c=IN IP6 2001:db8:ffff::5"));
	assert_true(has_line(out.buf, "m=audio 30000 RTP/AVP 0 8"));
	assert_true(has_line(out.buf, "a=rtcp:30001"));
	assert_null(strstr(out.buf, "2001:db8::"));
	assert_addr(&out.streams[0].remote_rtcp, "2001:db8::2", 53021);
	assert_sane_output(&out);

	/* IPv4 session, one stream on an IPv6 endpoint: a media-level c= */
	assert_int_equal(parse_lf(&sa, linphone_offer, why), 0);
	rw = rw_for(CP_SDP_OFFER, NULL, 2, 20000);
	eps[1].rtp = ip("2001:db8:ffff::5", 30002);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_true(has_line(out.buf, "c=IN IP4 203.0.113.5"));
	assert_true(
		strstr(out.buf, "m=video 30002 RTP/AVP 96 97\r\nc=IN IP6 2001:db8:ffff::5\r\n"));
	assert_sane_output(&out);
}

static void test_two_streams_and_rtcp(void **state)
{
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 2, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;

	assert_int_equal(parse_lf(&sa, linphone_offer, why), 0);
	cp_sdp_origin_init(&o, 1, 1);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_int_equal(out.nstreams, 2);
	assert_int_equal(out.nactive, 2);
	assert_true(has_line(out.buf, "m=audio 20000 RTP/AVP 96 97 0 8 101 99"));
	assert_true(has_line(out.buf, "a=rtcp:20001")); /* the input had a=rtcp */
	assert_true(has_line(out.buf, "m=video 20002 RTP/AVP 96 97"));
	assert_true(has_line(out.buf, "a=rtcp-fb:96 ccm fir"));
	assert_true(has_line(out.buf, "a=fmtp:97 profile-level-id=42801F"));
	assert_null(strstr(out.buf, "candidate"));
	assert_null(strstr(out.buf, "ice-"));
	assert_null(strstr(out.buf, "rtcp-xr")); /* unknown: dropped */
	assert_addr(&out.streams[0].remote, "192.168.1.34", 7078);
	assert_addr(&out.streams[0].remote_rtcp, "192.168.1.34", 7079);
	assert_addr(&out.streams[1].remote, "192.168.1.34", 9078);
	assert_int_equal(out.streams[0].clock_rate, 48000);
	assert_int_equal(out.streams[1].clock_rate, 90000);
	assert_sane_output(&out);

	/* an RTCP port that is not RTP + 1 is always written */
	assert_int_equal(parse_lf(&sb, sipp_offer, why), 0);
	rw = rw_for(CP_SDP_OFFER, NULL, 1, 20000);
	eps[0].rtcp_port = 20009;
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sb, &rw, &o, &out), 0);
	assert_true(has_line(out.buf, "a=rtcp:20009"));
}

static const char mux_offer[] = "v=0\n"
				"o=- 10 10 IN IP4 10.1.1.1\n"
				"s=-\n"
				"c=IN IP4 10.1.1.1\n"
				"t=0 0\n"
				"m=audio 40000 RTP/AVP 0 101\n"
				"a=rtpmap:101 telephone-event/8000\n"
				"a=rtcp:40001\n"
				"a=rtcp-mux\n";

static const char mux_answer[] = "v=0\n"
				 "o=- 20 20 IN IP4 10.2.2.2\n"
				 "s=-\n"
				 "c=IN IP4 10.2.2.2\n"
				 "t=0 0\n"
				 "m=audio 50000 RTP/AVP 0 101\n"
				 "a=rtpmap:101 telephone-event/8000\n"
				 "a=rtcp:50000\n"
				 "a=rtcp-mux\n";

static void test_rtcp_mux(void **state)
{
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 1, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;

	/* offer: passed through, a=rtcp kept (rewritten) for an answerer without mux */
	assert_int_equal(parse_lf(&sa, mux_offer, why), 0);
	assert_true(sa.media[0].rtcp_mux);
	cp_sdp_origin_init(&o, 1, 1);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_true(has_line(out.buf, "a=rtcp-mux"));
	assert_true(has_line(out.buf, "a=rtcp:20001"));
	assert_int_equal(out.streams[0].flags, TG_EPF_RTCP_MUX);
	assert_addr(&out.streams[0].remote_rtcp, "10.1.1.1", 40001); /* offered, not agreed */

	/* answer with mux to an offer with mux: kept, a=rtcp dropped, RTCP on the RTP address */
	assert_int_equal(parse_lf(&sb, mux_answer, why), 0);
	rw = rw_for(CP_SDP_ANSWER, &sa, 1, 21000);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sb, &rw, &o, &out), 0);
	assert_true(has_line(out.buf, "a=rtcp-mux"));
	assert_null(strstr(out.buf, "a=rtcp:"));
	assert_int_equal(out.streams[0].flags, TG_EPF_RTCP_MUX);
	assert_addr(&out.streams[0].remote_rtcp, "10.2.2.2", 50000);
	assert_sane_output(&out);

	/* answer with mux to an offer without: not kept, a=rtcp with our port */
	assert_int_equal(parse_lf(&sc, sipp_offer, why), 0);
	assert_int_equal(parse_lf(&sd,
				 "v=0\no=- 20 20 IN IP4 10.2.2.2\ns=-\nc=IN IP4 10.2.2.2\nt=0 0\n"
				 "m=audio 50000 RTP/AVP 0\na=rtcp:50001\na=rtcp-mux\n",
				 why),
		0);
	rw = rw_for(CP_SDP_ANSWER, &sc, 1, 21000);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sd, &rw, &o, &out), 0);
	assert_null(strstr(out.buf, "a=rtcp-mux"));
	assert_true(has_line(out.buf, "a=rtcp:21001"));
	assert_int_equal(out.streams[0].flags, 0);
	assert_addr(&out.streams[0].remote_rtcp, "10.2.2.2", 50001);
}

static void test_codec_filter(void **state)
{
	static const char *const keep[] = {"PCMA", "g722"};
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 1, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;

	assert_int_equal(parse_lf(&sa, asterisk_offer, why), 0);
	rw.codecs = keep;
	rw.ncodecs = 2;
	cp_sdp_origin_init(&o, 1, 1);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_true(has_line(out.buf, "m=audio 20000 RTP/AVP 8 9 101"));
	assert_null(strstr(out.buf, "PCMU"));
	assert_true(has_line(out.buf, "a=fmtp:101 0-16"));
	assert_int_equal(out.streams[0].ncodecs, 3);
	assert_int_equal(out.streams[0].codecs[0].pt, 8);
	assert_int_equal(out.streams[0].clock_rate, 8000);
	assert_sane_output(&out);
}

static void test_telephone_event_kept(void **state)
{
	static const char *const keep[] = {"PCMU"};
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 2, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;

	assert_int_equal(parse_lf(&sa, linphone_offer, why), 0);
	rw.codecs = keep;
	rw.ncodecs = 1;
	cp_sdp_origin_init(&o, 1, 1);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	/* both telephone-event rates kept though not listed; the video has nothing left */
	assert_true(has_line(out.buf, "m=audio 20000 RTP/AVP 0 101 99"));
	assert_true(has_line(out.buf, "a=rtpmap:101 telephone-event/48000"));
	assert_true(has_line(out.buf, "a=rtpmap:99 telephone-event/8000"));
	assert_null(strstr(out.buf, "opus"));
	assert_null(strstr(out.buf, "useinbandfec"));
	assert_true(has_line(out.buf, "m=video 0 RTP/AVP 96 97"));
	assert_null(strstr(out.buf, "VP8"));
	assert_int_equal(out.nactive, 1);
	assert_int_equal(out.streams[1].reject, CP_SDP_REJ_CODECS);
	assert_int_equal(out.streams[0].ncodecs, 3);
	assert_int_equal(out.streams[0].clock_rate, 8000);
	assert_sane_output(&out);
}

static void test_all_codecs_filtered(void **state)
{
	static const char *const keep[] = {"opus", "telephone-event"};
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 1, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;
	const char *m;

	assert_int_equal(parse_lf(&sa, asterisk_offer, why), 0);
	rw.codecs = keep;
	rw.ncodecs = 2;
	cp_sdp_origin_init(&o, 1, 1);
	out_init(&out, obuf, sizeof(obuf));
	/* plan first: the caller learns it needs no endpoint */
	assert_int_equal(cp_sdp_plan(&sa, &rw, &out), 0);
	assert_int_equal(out.nactive, 0);
	assert_int_equal(out.streams[0].reject, CP_SDP_REJ_CODECS);
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_int_equal(out.nactive, 0);
	assert_int_equal(out.streams[0].reject, CP_SDP_REJ_CODECS);
	assert_int_equal(out.streams[0].dir, 0);
	m = strstr(out.buf, "m=audio 0 RTP/AVP 0 8 9 101\r\n");
	assert_non_null(m);
	assert_int_equal(strlen(m), strlen("m=audio 0 RTP/AVP 0 8 9 101\r\n")); /* nothing after */
	assert_sane_output(&out);
}

static void test_no_endpoint_and_enospc(void **state)
{
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 1, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;

	assert_int_equal(parse_lf(&sa, linphone_offer, why), 0);
	cp_sdp_origin_init(&o, 1, 1);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0); /* one endpoint, two streams */
	assert_int_equal(out.nactive, 1);
	assert_int_equal(out.streams[1].reject, CP_SDP_REJ_NO_EP);
	assert_true(has_line(out.buf, "m=video 0 RTP/AVP 96 97"));

	cp_sdp_origin_init(&o, 1, 1);
	out_init(&out, obuf, 64);
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), -ENOSPC);
	assert_false(o.sent);
	assert_non_null(strstr(out.why, "does not fit"));
	/* exactly the size needed, and one byte less */
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	cp_sdp_origin_init(&o, 1, 1);
	{
		size_t need = out.len + 1;

		out_init(&out, obuf2, need - 1);
		assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), -ENOSPC);
		out_init(&out, obuf2, need);
		assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
		assert_string_equal(obuf, obuf2);
	}

	/* bad parameters */
	rw.local.family = TG_AF_NONE;
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), -EINVAL);
	rw = rw_for(CP_SDP_OFFER, NULL, 1, 20000);
	rw.user = "two words";
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), -EINVAL);
	rw = rw_for(CP_SDP_ANSWER, NULL, 1, 20000);
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), -EINVAL);
}

static void test_origin_version(void **state)
{
	static const char *const keep[] = {"PCMA"};
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 1, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;

	assert_int_equal(parse_lf(&sa, asterisk_offer, why), 0);
	cp_sdp_origin_init(&o, 4000000001ull, 100);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_int_equal(out.version, 100);
	assert_true(has_line(out.buf, "o=tollgate 4000000001 100 IN IP4 203.0.113.5"));
	/* the same SDP again (a session refresh): same version */
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_int_equal(out.version, 100);
	/* a changed one: incremented; back again: incremented again */
	rw.codecs = keep;
	rw.ncodecs = 1;
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_int_equal(out.version, 101);
	rw.codecs = NULL;
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_int_equal(out.version, 102);
	/* the peer's own o= changing alone is no change of ours */
	assert_int_equal(
		parse_lf(&sb,
			"v=0\no=- 1716371234 1716371299 IN IP4 10.20.30.40\ns=Other\n"
			"c=IN IP4 10.20.30.40\nt=0 0\nm=audio 17220 RTP/AVP 0 8 9 101\n"
			"a=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\na=rtpmap:9 G722/8000\n"
			"a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\na=ptime:20\n"
			"a=maxptime:150\na=sendrecv\n",
			why),
		0);
	assert_int_equal(cp_sdp_rewrite(&sb, &rw, &o, &out), 0);
	assert_int_equal(out.version, 102);
}

/* ---------------------------------------------------------------- topology hiding */

static const char secret_offer[] =
	"v=0\n"
	"o=alice.secret 4242424242 4242424243 IN IP4 198.51.100.77\n"
	"s=Secret Session\n"
	"i=internal info\n"
	"u=http://internal.example/\n"
	"e=alice@internal.example\n"
	"p=+1 617 555-6011\n"
	"c=IN IP4 198.51.100.77\n"
	"t=0 0\n"
	"a=tool:SecretPhone 1.2\n"
	"a=group:BUNDLE 0 1\n"
	"a=ice-ufrag:Zq9x\n"
	"a=ice-lite\n"
	"a=msid-semantic: WMS streamX\n"
	"m=audio 49170 RTP/AVP 0 101\n"
	"i=mic of alice\n"
	"c=IN IP4 198.51.100.78\n"
	"a=rtpmap:0 PCMU/8000\n"
	"a=rtpmap:101 telephone-event/8000\n"
	"a=rtcp:49171 IN IP4 198.51.100.79\n"
	"a=candidate:1 1 UDP 2130706431 198.51.100.77 49170 typ host\n"
	"a=candidate:2 1 UDP 1694498815 203.0.113.200 61234 typ srflx raddr 198.51.100.77 rport "
	"49170\n"
	"a=remote-candidates:1 198.51.100.77 49170\n"
	"a=end-of-candidates\n"
	"a=ice-pwd:Pw0rdPw0rdPw0rdPw0rd\n"
	"a=ssrc:11223344 cname:alice@198.51.100.77\n"
	"a=msid:streamX trackY\n"
	"a=x-secret:198.51.100.80\n"
	"a=mid:0\n"
	"m=video 51372 RTP/AVP 96\n"
	"a=rtpmap:96 H264/90000\n"
	"a=ssrc:55667788 cname:alice@198.51.100.77\n"
	"a=mid:1\n";

static void test_topology_hiding(void **state)
{
	static const char *const leaks[] = {"198.51.100", "203.0.113.200", "49170", "49171",
		"51372", "61234", "alice", "Secret", "secret", "4242424242", "4242424243",
		"internal", "617", "11223344", "55667788", "Zq9x", "Pw0rd", "BUNDLE", "WMS",
		"streamX", "trackY", "candidate", "ice-", "ssrc", "i=", "u=", "e=", "p="};
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 2, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;

	assert_int_equal(parse_lf(&sa, secret_offer, why), 0);
	cp_sdp_origin_init(&o, 1000, 1);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	for (size_t i = 0; i < sizeof(leaks) / sizeof(leaks[0]); i++)
		if (strstr(out.buf, leaks[i]))
			fail_msg("'%s' leaked:\n%s", leaks[i], out.buf);
	assert_true(has_line(out.buf, "m=audio 20000 RTP/AVP 0 101"));
	assert_true(has_line(out.buf, "a=rtcp:20001"));
	assert_true(has_line(out.buf, "m=video 20002 RTP/AVP 96"));
	assert_true(has_line(out.buf, "a=mid:0"));
	/* but the dataplane gets the real remote */
	assert_addr(&out.streams[0].remote, "198.51.100.78", 49170);
	assert_addr(&out.streams[0].remote_rtcp, "198.51.100.79", 49171);
	assert_addr(&out.streams[1].remote, "198.51.100.77", 51372);
	assert_sane_output(&out);

	/* and the way back: an answer from leg B says nothing of B to A */
	assert_int_equal(parse_str(&sb, out.buf, why), 0);
	assert_int_equal(parse_lf(&sc,
				 "v=0\no=bob.hidden 777777 777777 IN IP4 192.0.2.99\ns=hidden\n"
				 "c=IN IP4 192.0.2.99\nt=0 0\nm=audio 33333 RTP/AVP 0 101\n"
				 "a=rtpmap:101 telephone-event/8000\n"
				 "a=candidate:1 1 UDP 1 192.0.2.99 33333 typ host\n"
				 "m=video 0 RTP/AVP 96\n",
				 why),
		0);
	rw = rw_for(CP_SDP_ANSWER, &sa, 2, 22000);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sc, &rw, &o, &out), 0);
	assert_null(strstr(out.buf, "192.0.2.99"));
	assert_null(strstr(out.buf, "33333"));
	assert_null(strstr(out.buf, "bob"));
	assert_null(strstr(out.buf, "hidden"));
	assert_null(strstr(out.buf, "777777"));
	assert_true(has_line(out.buf, "m=audio 22000 RTP/AVP 0 101"));
	assert_true(has_line(out.buf, "m=video 0 RTP/AVP 96"));
	assert_int_equal(out.streams[1].reject, CP_SDP_REJ_PEER);
	assert_addr(&out.streams[0].remote, "192.0.2.99", 33333);
	assert_sane_output(&out);
}

/* ---------------------------------------------------------------- directions */

static const enum cp_sdp_dir dirs[] = {
	CP_SDP_SENDRECV, CP_SDP_SENDONLY, CP_SDP_RECVONLY, CP_SDP_INACTIVE};
#define SR CP_SDP_SENDRECV
#define SO CP_SDP_SENDONLY
#define RO CP_SDP_RECVONLY
#define IN CP_SDP_INACTIVE
#define R TG_DIR_RECV
#define S TG_DIR_SEND

static uint8_t mirror(uint8_t b)
{
	return (uint8_t)(((b & R) ? S : 0) | ((b & S) ? R : 0));
}

static void test_direction_tables(void **state)
{
	/* [offer][answer as written] -> the answer as narrowed */
	static const enum cp_sdp_dir answer_dir[4][4] = {
		{SR, SO, RO, IN},
		{RO, IN, RO, IN},
		{SO, SO, IN, IN},
		{IN, IN, IN, IN},
	};
	/* [offer][answer] -> the bits of the endpoint facing the offerer */
	static const uint8_t toward_offerer[4][4] = {
		{R | S, S, R, 0},
		{R, 0, R, 0},
		{S, S, 0, 0},
		{0, 0, 0, 0},
	};

	assert_int_equal(cp_sdp_dir_bits(CP_SDP_DIR_NONE), R | S);
	assert_int_equal(cp_sdp_dir_bits(SR), R | S);
	assert_int_equal(cp_sdp_dir_bits(SO), R); /* it sends: we accept, send it nothing */
	assert_int_equal(cp_sdp_dir_bits(RO), S);
	assert_int_equal(cp_sdp_dir_bits(IN), 0);
	for (int o = 0; o < 4; o++) {
		for (int a = 0; a < 4; a++) {
			uint8_t off = cp_sdp_dir_negotiated(dirs[o], dirs[a], CP_SDP_OFFER);
			uint8_t ans = cp_sdp_dir_negotiated(dirs[o], dirs[a], CP_SDP_ANSWER);

			assert_int_equal(cp_sdp_dir_answer(dirs[o], dirs[a]), answer_dir[o][a]);
			assert_int_equal(off, toward_offerer[o][a]);
			/* what one side sends through the relay the other receives */
			assert_int_equal(ans, mirror(off));
		}
		assert_int_equal(cp_sdp_dir_answer(dirs[o], CP_SDP_DIR_NONE), answer_dir[o][0]);
	}
}

/* every direction in an offer, and every offer x answer pair, through the rewrite */
static void test_direction_rewrite(void **state)
{
	char why[CP_SDP_WHY_LEN], body[512], line[32];
	struct cp_sdp_rewrite rw;
	struct cp_sdp_origin o;
	struct cp_sdp_out out;
	struct cp_sdp_pair pairs[CP_SDP_MAX_MEDIA];

	cp_sdp_origin_init(&o, 1, 1);
	for (int i = 0; i < 4; i++) {
		snprintf(body, sizeof(body),
			"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
			"m=audio 4000 RTP/AVP 0\r\na=%s\r\n",
			cp_sdp_dir_name(dirs[i]));
		assert_int_equal(parse_str(&sa, body, why), 0);
		rw = rw_for(CP_SDP_OFFER, NULL, 1, 20000);
		out_init(&out, obuf, sizeof(obuf));
		assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
		snprintf(line, sizeof(line), "a=%s", cp_sdp_dir_name(dirs[i]));
		assert_true(has_line(out.buf, line));
		assert_int_equal(out.streams[0].dir, cp_sdp_dir_bits(dirs[i]));

		for (int j = 0; j < 4; j++) {
			enum cp_sdp_dir want = cp_sdp_dir_answer(dirs[i], dirs[j]);

			snprintf(body, sizeof(body),
				"v=0\r\no=- 2 2 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\n"
				"t=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=%s\r\n",
				cp_sdp_dir_name(dirs[j]));
			assert_int_equal(parse_str(&sb, body, why), 0);
			rw = rw_for(CP_SDP_ANSWER, &sa, 1, 21000);
			out_init(&out, obuf, sizeof(obuf));
			assert_int_equal(cp_sdp_rewrite(&sb, &rw, &o, &out), 0);
			snprintf(line, sizeof(line), "a=%s", cp_sdp_dir_name(want));
			assert_true(has_line(out.buf, line));
			assert_int_equal(out.streams[0].dir,
				cp_sdp_dir_negotiated(dirs[i], dirs[j], CP_SDP_ANSWER));
			assert_int_equal(cp_sdp_match(&sa, &sb, pairs, why, sizeof(why)), 1);
			assert_int_equal(pairs[0].dir, want);
			assert_int_equal(pairs[0].dir_answerer, out.streams[0].dir);
			assert_int_equal(pairs[0].dir_offerer, mirror(out.streams[0].dir));
		}
	}
}

/* c=0.0.0.0 (RFC 2543 hold) is a sendonly from its author */
static void test_zero_address_hold(void **state)
{
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 1, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;

	assert_int_equal(parse_lf(&sa,
				 "v=0\no=- 1 2 IN IP4 10.0.0.1\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\n"
				 "m=audio 4000 RTP/AVP 0\n",
				 why),
		0);
	assert_true(sa.media[0].zero_addr);
	assert_int_equal(sa.media[0].dir, CP_SDP_SENDONLY);
	cp_sdp_origin_init(&o, 1, 1);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_true(has_line(out.buf, "a=sendonly"));
	assert_null(strstr(out.buf, "0.0.0.0"));
	assert_int_equal(out.streams[0].dir, TG_DIR_RECV);

	/* with ICE (trickle, RFC 8839) the zero address is no hold: the relay latches */
	assert_int_equal(parse_lf(&sa,
				 "v=0\no=- 1 2 IN IP4 127.0.0.1\ns=-\nt=0 0\n"
				 "m=audio 9 UDP/TLS/RTP/SAVPF 111\nc=IN IP4 0.0.0.0\n"
				 "a=rtpmap:111 opus/48000/2\na=ice-ufrag:abcd\na=rtcp-mux\n",
				 why),
		0);
	assert_true(sa.media[0].zero_addr);
	assert_int_equal(sa.media[0].dir, CP_SDP_SENDRECV);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_null(strstr(out.buf, "a=sendonly"));
	assert_null(strstr(out.buf, "ice-"));
	assert_int_equal(out.streams[0].dir, TG_DIR_RECV | TG_DIR_SEND);
	assert_addr(&out.streams[0].remote, "0.0.0.0", 9);
	assert_sane_output(&out);
}

/* ---------------------------------------------------------------- offer/answer */

static void test_match(void **state)
{
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_pair pairs[CP_SDP_MAX_MEDIA];

	assert_int_equal(parse_lf(&sa, linphone_offer, why), 0);
	assert_int_equal(parse_lf(&sb,
				 "v=0\no=- 1 1 IN IP4 10.9.9.9\ns=-\nc=IN IP4 10.9.9.9\nt=0 0\n"
				 "m=audio 6000 RTP/AVP 0 101\na=rtpmap:101 telephone-event/48000\n"
				 "a=recvonly\nm=video 0 RTP/AVP 96\n",
				 why),
		0);
	assert_int_equal(cp_sdp_match(&sa, &sb, pairs, why, sizeof(why)), 2);
	assert_int_equal(pairs[0].reject, CP_SDP_REJ_NONE);
	assert_int_equal(pairs[0].ncommon, 2);
	assert_int_equal(pairs[0].dir, CP_SDP_RECVONLY);
	assert_int_equal(pairs[0].dir_offerer, TG_DIR_RECV);
	assert_int_equal(pairs[0].dir_answerer, TG_DIR_SEND);
	assert_false(pairs[0].rtcp_mux);
	assert_int_equal(pairs[1].reject, CP_SDP_REJ_PEER);

	/* no codec in common (telephone-event alone does not count) */
	assert_int_equal(parse_lf(&sc,
				 "v=0\no=- 1 1 IN IP4 10.9.9.9\ns=-\nc=IN IP4 10.9.9.9\nt=0 0\n"
				 "m=audio 6000 RTP/AVP 18 101\na=rtpmap:101 telephone-event/48000\n"
				 "m=video 7000 RTP/AVP 97\na=rtpmap:97 H264/90000\n",
				 why),
		0);
	assert_int_equal(cp_sdp_match(&sa, &sc, pairs, why, sizeof(why)), 2);
	assert_int_equal(pairs[0].reject, CP_SDP_REJ_CODECS);
	assert_int_equal(pairs[0].ncommon, 1);
	assert_int_equal(pairs[1].reject, CP_SDP_REJ_NONE);

	/* count, type, and accepting a rejected stream */
	assert_int_equal(parse_lf(&sc,
				 "v=0\no=- 1 1 IN IP4 10.9.9.9\ns=-\nc=IN IP4 10.9.9.9\nt=0 0\n"
				 "m=audio 6000 RTP/AVP 0\n",
				 why),
		0);
	assert_int_equal(cp_sdp_match(&sa, &sc, pairs, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "the answer has 1 m= lines, the offer 2");
	assert_int_equal(parse_lf(&sc,
				 "v=0\no=- 1 1 IN IP4 10.9.9.9\ns=-\nc=IN IP4 10.9.9.9\nt=0 0\n"
				 "m=audio 6000 RTP/AVP 0\nm=text 7000 RTP/AVP 98\n",
				 why),
		0);
	assert_int_equal(cp_sdp_match(&sa, &sc, pairs, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "stream 1"));
	assert_int_equal(parse_lf(&sd,
				 "v=0\no=- 1 1 IN IP4 10.9.9.9\ns=-\nc=IN IP4 10.9.9.9\nt=0 0\n"
				 "m=audio 0 RTP/AVP 0\nm=text 7000 RTP/AVP 98\n",
				 why),
		0);
	assert_int_equal(cp_sdp_match(&sd, &sc, pairs, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "rejected"));
}

static void test_answer_rewrite(void **state)
{
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw;
	struct cp_sdp_origin oa, ob;
	struct cp_sdp_out out;

	/* A offers, the B leg gets the rewrite, B answers with PCMA, 101 and an extra G729 */
	assert_int_equal(parse_lf(&sa, asterisk_offer, why), 0);
	cp_sdp_origin_init(&ob, 900, 1);
	rw = rw_for(CP_SDP_OFFER, NULL, 1, 20000);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &ob, &out), 0);
	assert_int_equal(parse_lf(&sb,
				 "v=0\no=- 5 5 IN IP4 10.2.2.2\ns=-\nc=IN IP4 10.2.2.2\nt=0 0\n"
				 "m=audio 50000 RTP/AVP 8 18 101\na=rtpmap:8 PCMA/8000\n"
				 "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\na=ptime:30\n",
				 why),
		0);
	cp_sdp_origin_init(&oa, 800, 1);
	rw = rw_for(CP_SDP_ANSWER, &sa, 1, 24000);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sb, &rw, &oa, &out), 0);
	assert_true(has_line(out.buf, "o=tollgate 800 1 IN IP4 203.0.113.5"));
	assert_true(has_line(out.buf, "m=audio 24000 RTP/AVP 8 101"));
	assert_true(has_line(out.buf, "a=fmtp:101 0-15"));
	assert_true(has_line(out.buf, "a=ptime:30"));
	assert_null(strstr(out.buf, "a=sendrecv")); /* none written, none needed */
	assert_addr(&out.streams[0].remote, "10.2.2.2", 50000);
	assert_int_equal(out.streams[0].ncodecs, 2);
	assert_int_equal(out.streams[0].codecs[0].pt, 8);
	assert_int_equal(out.streams[0].dir, TG_DIR_RECV | TG_DIR_SEND);
	assert_sane_output(&out);

	/* an answer with a stream count that does not match */
	assert_int_equal(parse_lf(&sc, linphone_offer, why), 0);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sc, &rw, &oa, &out), -EINVAL);
	assert_non_null(strstr(out.why, "m= lines"));
}

/* ---------------------------------------------------------------- hold and resume */

static void test_hold_resume(void **state)
{
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 2, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;
	static const char *const keep[] = {"PCMU", "H264"};

	/* what the appliance sent on the leg: audio sendrecv, video recvonly */
	assert_int_equal(parse_lf(&sa, linphone_offer, why), 0);
	sa.media[1].dir = CP_SDP_RECVONLY;
	sa.media[1].dir_attr = CP_SDP_RECVONLY;
	rw.codecs = keep;
	rw.ncodecs = 2;
	cp_sdp_origin_init(&o, 31, 7);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_int_equal(out.version, 7);
	assert_int_equal(parse_str(&sb, out.buf, why), 0);

	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_hold_offer(&sb, &o, &out), 0);
	assert_int_equal(out.version, 8);
	assert_true(has_line(out.buf, "o=tollgate 31 8 IN IP4 203.0.113.5"));
	assert_true(strstr(out.buf, "m=audio 20000 RTP/AVP 0 101 99\r\n"));
	assert_true(strstr(out.buf, "a=sendonly\r\nm=video 20002 RTP/AVP 97\r\n"));
	assert_true(has_line(out.buf, "a=inactive")); /* the recvonly video */
	assert_true(has_line(out.buf, "a=rtcp:20001"));
	assert_true(has_line(out.buf, "a=fmtp:97 profile-level-id=42801F"));
	assert_null(strstr(out.buf, "sendrecv"));
	assert_sane_output(&out);
	/* sent twice (a retransmitted re-INVITE): same version */
	out_init(&out, obuf2, sizeof(obuf2));
	assert_int_equal(cp_sdp_hold_offer(&sb, &o, &out), 0);
	assert_int_equal(out.version, 8);
	assert_string_equal(obuf, obuf2);

	/* resume from the held SDP: everything sendrecv, version moves */
	assert_int_equal(parse_str(&sc, obuf, why), 0);
	out_init(&out, obuf2, sizeof(obuf2));
	assert_int_equal(cp_sdp_resume_offer(&sc, &o, &out), 0);
	assert_int_equal(out.version, 9);
	assert_null(strstr(out.buf, "sendonly"));
	assert_null(strstr(out.buf, "inactive"));
	assert_true(strstr(out.buf, "a=sendrecv\r\nm=video"));
	assert_true(has_line(out.buf, "m=video 20002 RTP/AVP 97"));
	assert_sane_output(&out);

	/* a held stream that is held again stays as it is; a rejected one stays rejected */
	assert_int_equal(
		parse_lf(&sd,
			"v=0\no=- 31 9 IN IP4 203.0.113.5\ns=-\nc=IN IP4 203.0.113.5\nt=0 0\n"
			"a=sendonly\nm=audio 20000 RTP/AVP 0\nm=video 0 RTP/AVP 96\n",
			why),
		0);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_hold_offer(&sd, &o, &out), 0);
	assert_true(has_line(out.buf, "a=sendonly"));
	assert_true(has_line(out.buf, "m=video 0 RTP/AVP 96"));
	assert_int_equal(out.nstreams, 0);
	assert_int_equal(out.nactive, 1);
}

/* ---------------------------------------------------------------- other transports */

static void test_t38_and_tcp(void **state)
{
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 2, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;

	assert_int_equal(
		parse_lf(&sa,
			"v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n"
			"m=image 4000 udptl t38\na=T38FaxVersion:0\na=T38MaxBitRate:14400\n"
			"a=T38FaxRateManagement:transferredTCF\na=T38FaxUdpEC:t38UDPRedundancy\n"
			"m=message 2855 TCP/MSRP *\na=path:msrp://10.0.0.1:2855/abc;tcp\n",
			why),
		0);
	assert_int_equal(sa.media[0].proto_id, CP_SDP_UDPTL);
	assert_int_equal(sa.media[0].ncodecs, 0);
	cp_sdp_origin_init(&o, 1, 1);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_true(has_line(out.buf, "m=image 20000 udptl t38"));
	assert_true(has_line(out.buf, "a=T38MaxBitRate:14400"));
	assert_true(has_line(out.buf, "a=T38FaxUdpEC:t38UDPRedundancy"));
	assert_true(has_line(out.buf, "m=message 0 TCP/MSRP *"));
	assert_null(strstr(out.buf, "msrp://"));
	assert_int_equal(out.streams[1].reject, CP_SDP_REJ_PROTO);
	assert_int_equal(out.nactive, 1);
	assert_sane_output(&out);
}

static void test_duplicate_m(void **state)
{
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, 2, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;

	/* two identical m= lines are two streams, not an error */
	assert_int_equal(parse_lf(&sa,
				 "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n"
				 "m=audio 4000 RTP/AVP 0\nm=audio 4000 RTP/AVP 0\n",
				 why),
		0);
	assert_int_equal(sa.nmedia, 2);
	cp_sdp_origin_init(&o, 1, 1);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&sa, &rw, &o, &out), 0);
	assert_true(has_line(out.buf, "m=audio 20000 RTP/AVP 0"));
	assert_true(has_line(out.buf, "m=audio 20002 RTP/AVP 0"));
	assert_int_equal(out.nactive, 2);
}

/* ---------------------------------------------------------------- hostile input */

#define HDR "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\n"

static void test_hostile_reasons(void **state)
{
	static const struct {
		const char *lf;
		const char *why; /* a substring of the reason */
	} cases[] = {
		{"v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 999.1.1.1\nt=0 0\n",
			"line 4: c=: bad address 'IN IP4 999.1.1.1'"},
		{"o=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\n",
			"line 1: o=: the body must start with v=0"},
		{"v=1\n", "line 1: v=: unsupported version '1'"},
		{"v=0\n", "truncated body"},
		{"v=0\no=- 1 1 IN IP4 1.2.3.4\n", "truncated body"},
		{"v=0\ns=-\n", "line 2: s=: o= must follow v="},
		{"v=0\no=-\n", "line 2: o=: bad session id ''"},
		{"v=0\no=- 1 1 IN IP4\n", "line 2: o=: bad address ''"},
		{"v=0\no=- 123456789012345678901234567890 1 IN IP4 1.2.3.4\n",
			"line 2: o=: bad session id '123456789012345678901234567890'"},
		{"v=0\no=- 1 18446744073709551616 IN IP4 1.2.3.4\n", "bad session version"},
		{"v=0\no=- 1 1 IN IP5 1.2.3.4\n", "bad address type 'IP5'"},
		{HDR "t=0 0\nm=audio\n", "line 5: m=: missing port"},
		{HDR "t=0 0\nm=audio 4000\n", "line 5: m=: bad protocol ''"},
		{HDR "t=0 0\nm=audio 4000 RTP/AVP\n", "line 5: m=: no format"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 65536 RTP/AVP 0\n", "bad port '65536'"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 99999999999999999999999 RTP/AVP 0\n",
			"bad port '99999999999999999999999'"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio -1 RTP/AVP 0\n", "bad port '-1'"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000/2 RTP/AVP 0\n", "port count"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 128\n",
			"bad payload type '128'"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0 8 0\n",
			"payload type 0 listed twice"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 "
		     "PCMU/99999999999\n",
			"line 7: a=rtpmap: bad clock rate"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU\n",
			"bad encoding name"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/8000/0\n",
			"bad channel count"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"
		     "a=rtpmap:0 PCMA/8000\n",
			"second a=rtpmap"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=ptime:abc\n",
			"line 7: a=ptime: bad value 'abc'"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=ptime:99999999999\n",
			"a=ptime: bad value"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtcp:70000\n",
			"a=rtcp: bad port '70000'"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtcp:4001 IN IP4 x\n",
			"a=rtcp: bad address"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=sendonly\na=recvonly\n",
			"second direction attribute"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=\n",
			"bad attribute name"},
		{HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\nt=0 0\n",
			"line 7: t=: not allowed in a media section"},
		{HDR "t=0 0\nm=audio 4000 RTP/AVP 0\n", "line 5: m=: no c= for this stream"},
		{HDR "m=audio 4000 RTP/AVP 0\n", "m= before any t="},
		{HDR "c=IN IP4 10.0.0.1\n", "no t= line"},
		{HDR "c=IN IP4 host.example.com\nt=0 0\n", "bad address 'IN IP4 host.example.com'"},
		{HDR "c=IN IP4 224.2.1.1/127\nt=0 0\n", "multicast not supported"},
		{HDR "c=IN IP6 ff02::1\nt=0 0\n", "multicast not supported"},
		{HDR "c=IN IP6 10.0.0.1\nt=0 0\n", "bad address"},
		{HDR "c=IN IP4 10.0.0.1\nc=IN IP4 10.0.0.1\n", "second c="},
		{HDR "c=IN IP4\nt=0 0\n", "bad address 'IN IP4'"},
		{HDR "c=IN IP4 1.2.3.4 extra\nt=0 0\n", "bad address"},
		{HDR "x=foo\n", "line 4: x=: unknown line type"},
		{HDR "=foo\n", "line 4: not a '<letter>=' line"},
		{HDR "C=IN IP4 1.2.3.4\n", "not a '<letter>=' line"},
		{HDR "b=AS:abc\n", "bad bandwidth"},
		{HDR "t=0\n", "bad time"},
		{HDR "r=1 2 3\n", "r= before any t="},
		{HDR "\nt=0 0\n", "line 5: text after a blank line"},
		{"v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\n\x01\n", "line 4: control byte 0x01"},
		{"v=0\ro=- 1 1 IN IP4 10.0.0.1\n", "line 1: CR not followed by LF"},
		{"", "empty body"},
	};
	char why[CP_SDP_WHY_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse_str(&sa, cases[i].lf, why);

		if (rc != -EINVAL || !strstr(why, cases[i].why))
			fail_msg("case %zu: rc %d, reason '%s', wanted '%s'", i, rc, why,
				cases[i].why);
	}
}

static void test_hostile_limits(void **state)
{
	static char big[CP_SDP_MAX_BODY * 4];
	char why[CP_SDP_WHY_LEN];
	size_t n;

	/* NUL bytes: the length is what counts, not strlen */
	n = (size_t)snprintf(big, sizeof(big), "%s", lf2crlf(sipp_offer));
	big[20] = '\0';
	assert_int_equal(cp_sdp_parse(&sa, big, n, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "line 2: NUL byte");

	/* 10k lines: over the body size; 600 short lines: over the line count */
	n = (size_t)snprintf(big, sizeof(big), HDR);
	for (int i = 0; i < 10000; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "a=x\r\n");
	assert_int_equal(cp_sdp_parse(&sa, big, n, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "more than 16384"));
	n = (size_t)snprintf(big, sizeof(big), HDR "t=0 0\n");
	for (int i = 0; i < 600; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "a=x\n");
	assert_int_equal(cp_sdp_parse(&sa, big, n, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "line 513: more than 512 lines");

	/* one very long line */
	n = (size_t)snprintf(big, sizeof(big), HDR "t=0 0\na=x:");
	memset(big + n, 'y', 2000);
	n += 2000;
	assert_int_equal(cp_sdp_parse(&sa, big, n, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "line 5: longer than 1024 bytes");

	/* 9 media sections, 33 payload types, 33 kept attributes */
	n = (size_t)snprintf(big, sizeof(big), HDR "c=IN IP4 10.0.0.1\nt=0 0\n");
	for (int i = 0; i < 9; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "m=audio %d RTP/AVP 0\n", 4000 + i);
	assert_int_equal(cp_sdp_parse(&sa, big, n, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "line 14: m=: more than 8 media sections");
	n = (size_t)snprintf(
		big, sizeof(big), HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP");
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, " %d", 90 + i);
	assert_int_equal(cp_sdp_parse(&sa, big, n, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "line 6: m=: more than 32 payload types");
	n = (size_t)snprintf(
		big, sizeof(big), HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n");
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "a=mid:%d\n", i);
	assert_int_equal(cp_sdp_parse(&sa, big, n, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "more than 32 attributes"));
	/* dropped attributes do not count: 400 candidates are fine */
	n = (size_t)snprintf(
		big, sizeof(big), HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n");
	for (int i = 0; i < 400; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "a=candidate:%d\n", i);
	assert_int_equal(cp_sdp_parse(&sa, big, n, why, sizeof(why)), 0);

	/* exactly the body limit is accepted, one more byte is not */
	n = (size_t)snprintf(
		big, sizeof(big), HDR "c=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n");
	while (n < CP_SDP_MAX_BODY) {
		size_t room = CP_SDP_MAX_BODY - n;
		size_t line = room > 1000 ? (room - 1000 < 20 ? 900 : 1000) : room;

		n += (size_t)snprintf(big + n, sizeof(big) - n, "a=label:");
		memset(big + n, 'y', line - 9);
		n += line - 9;
		big[n++] = '\n';
	}
	assert_int_equal(n, CP_SDP_MAX_BODY);
	assert_int_equal(cp_sdp_parse(&sa, big, n, why, sizeof(why)), 0);
	assert_int_equal(sa.media[0].nattrs, 17);
	big[n++] = 'y';
	assert_int_equal(cp_sdp_parse(&sa, big, n, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "body of 16385 bytes, more than 16384");
	assert_int_equal(cp_sdp_parse(&sa, NULL, 10, why, sizeof(why)), -EINVAL);
	assert_int_equal(cp_sdp_parse(&sa, "v=0", 3, NULL, 0), -EINVAL);
}

/* parse + rewrite every prefix and many one-byte mutations: an error or a sane result */
static void sweep_one(const char *body, size_t n, unsigned *ok)
{
	static struct cp_sdp s;
	char why[CP_SDP_WHY_LEN];
	struct cp_sdp_rewrite rw = rw_for(CP_SDP_OFFER, NULL, CP_SDP_MAX_MEDIA, 20000);
	struct cp_sdp_origin o;
	struct cp_sdp_out out;
	int rc = cp_sdp_parse(&s, body, n, why, sizeof(why));

	if (rc) {
		assert_int_equal(rc, -EINVAL);
		assert_true(why[0] != '\0');
		return;
	}
	(*ok)++;
	cp_sdp_origin_init(&o, 1, 1);
	out_init(&out, obuf, sizeof(obuf));
	assert_int_equal(cp_sdp_rewrite(&s, &rw, &o, &out), 0);
	assert_sane_output(&out);
	out_init(&out, obuf2, sizeof(obuf2));
	assert_int_equal(cp_sdp_hold_offer(&s, &o, &out), 0);
	assert_sane_output(&out);
}

static void test_truncation_and_mutation(void **state)
{
	static const char bytes[] = {'\0', '\r', '\n', ' ', '9', ':', '/', 'x', '=', (char)0xff};
	static char body[4096];
	const char *crlf = lf2crlf(linphone_offer);
	size_t n = strlen(crlf);
	unsigned ok = 0;

	memcpy(body, crlf, n);
	for (size_t len = 0; len <= n; len++)
		sweep_one(body, len, &ok);
	for (size_t i = 0; i < n; i++) {
		for (size_t b = 0; b < sizeof(bytes); b++) {
			char saved = body[i];

			body[i] = bytes[b];
			sweep_one(body, n, &ok);
			body[i] = saved;
		}
	}
	assert_true(ok > 100); /* the sweep reached the rewrite often */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_sipp),
		cmocka_unit_test(test_parse_asterisk),
		cmocka_unit_test(test_parse_linphone_two_streams),
		cmocka_unit_test(test_parse_ipv6_rtcp),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_rewrite_asterisk_exact),
		cmocka_unit_test(test_rewrite_sipp_and_ipv6),
		cmocka_unit_test(test_two_streams_and_rtcp),
		cmocka_unit_test(test_rtcp_mux),
		cmocka_unit_test(test_codec_filter),
		cmocka_unit_test(test_telephone_event_kept),
		cmocka_unit_test(test_all_codecs_filtered),
		cmocka_unit_test(test_no_endpoint_and_enospc),
		cmocka_unit_test(test_origin_version),
		cmocka_unit_test(test_topology_hiding),
		cmocka_unit_test(test_direction_tables),
		cmocka_unit_test(test_direction_rewrite),
		cmocka_unit_test(test_zero_address_hold),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_answer_rewrite),
		cmocka_unit_test(test_hold_resume),
		cmocka_unit_test(test_t38_and_tcp),
		cmocka_unit_test(test_duplicate_m),
		cmocka_unit_test(test_hostile_reasons),
		cmocka_unit_test(test_hostile_limits),
		cmocka_unit_test(test_truncation_and_mutation),
	};

	return cmocka_run_group_tests_name("cp_sdp", tests, NULL, NULL);
}
