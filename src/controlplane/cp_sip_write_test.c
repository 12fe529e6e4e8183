/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Our serializer against libosip2's osip_message_to_str, byte for byte: what the B2BUA receives
 * (INVITE with SDP, ACK, BYE, CANCEL, OPTIONS in compact form, 1xx-5xx responses), rarer
 * headers (auth, Call-Info, Accept, IPv6, escaped URIs, multipart), the messages the B2BUA
 * builds (INVITE, responses, CANCEL, bodies replaced), libosip2's cached text, libosip2's
 * quirks (a bare header name for a From it cannot print), the messages it refuses, and -ENOSPC
 * for every buffer too small (each allocated at its exact size, so ASan sees any overflow).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "cp_dialog.h"
#include "cp_sip_write.h"

#define SDP                                                                                        \
	"v=0\r\n"                                                                                  \
	"o=alice 2890844526 2890844526 IN IP4 198.18.0.2\r\n"                                      \
	"s=-\r\n"                                                                                  \
	"c=IN IP4 198.18.0.2\r\n"                                                                  \
	"t=0 0\r\n"                                                                                \
	"m=audio 49170 RTP/AVP 0 8 101\r\n"                                                        \
	"a=rtpmap:0 PCMU/8000\r\n"                                                                 \
	"a=rtpmap:8 PCMA/8000\r\n"                                                                 \
	"a=rtpmap:101 telephone-event/8000\r\n"                                                    \
	"a=fmtp:101 0-15\r\n"

static const char invite[] = "INVITE sip:1000@198.18.0.1:5060 SIP/2.0\r\n"
			     "Via: SIP/2.0/UDP 198.18.0.9:5060;branch=z9hG4bKproxy1hop\r\n"
			     "Via: SIP/2.0/UDP 198.18.0.2:5062;branch=z9hG4bKcallerbranch;rport\r\n"
			     "Max-Forwards: 68\r\n"
			     "Record-Route: <sip:p1.example.test;lr>\r\n"
			     "Record-Route: <sip:p2.example.test;lr>\r\n"
			     "From: \"Alice Smith\" <sip:alice@example.test>;tag=alicetag1\r\n"
			     "To: <sip:1000@example.test>\r\n"
			     "Call-ID: a84b4c76e66710@pc33.example.test\r\n"
			     "CSeq: 314159 INVITE\r\n"
			     "Contact: <sip:alice@198.18.0.2:5062;transport=udp>\r\n"
			     "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"
			     "Supported: timer, replaces\r\n"
			     "User-Agent: SecretPhone/1.0\r\n"
			     "Content-Type: application/sdp\r\n"
			     "Content-Length: 214\r\n"
			     "\r\n" SDP;

static const char *const received[] = {
	invite,
	"ACK sip:1000@198.18.0.1:5060 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 198.18.0.2:5062;branch=z9hG4bKack;rport=5062;received=198.18.0.2\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:alice@example.test>;tag=alicetag1\r\n"
	"To: <sip:1000@example.test>;tag=tg-b\r\n"
	"Call-ID: a84b4c76e66710@pc33.example.test\r\n"
	"CSeq: 314159 ACK\r\n"
	"Content-Length: 0\r\n\r\n",
	"BYE sip:tollgate@198.18.0.1:5060;transport=tcp SIP/2.0\r\n"
	"Via: SIP/2.0/TCP 198.18.0.3:5060;branch=z9hG4bKbye\r\n"
	"Max-Forwards: 70\r\n"
	"Route: <sip:p1.example.test;lr>\r\n"
	"From: \"Bob\" <sip:bob@example.test>;tag=b1\r\n"
	"To: <sip:alice@example.test>;tag=a1\r\n"
	"Call-ID: b2b-leg@198.18.0.1\r\n"
	"CSeq: 2 BYE\r\n"
	"Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n"
	"Content-Length: 0\r\n\r\n",
	"CANCEL sip:1000@198.18.0.1:5060 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 198.18.0.2:5062;branch=z9hG4bKcallerbranch\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:alice@example.test>;tag=alicetag1\r\n"
	"To: <sip:1000@example.test>\r\n"
	"Call-ID: a84b4c76e66710@pc33.example.test\r\n"
	"CSeq: 314159 CANCEL\r\n"
	"Content-Length: 0\r\n\r\n",
	"OPTIONS sip:tollgate@198.18.0.1 SIP/2.0\r\n"
	"v: SIP/2.0/UDP 198.18.0.2;branch=z9hG4bK1;rport\r\n"
	"f: <sip:a@example.test>;tag=9\r\n"
	"t: <sip:b@example.test>\r\n"
	"i: opt@x\r\n"
	"CSeq: 1 OPTIONS\r\n"
	"m: <sip:a@198.18.0.2>\r\n"
	"k: timer\r\n"
	"l: 0\r\n\r\n",
	"SIP/2.0 100 Trying\r\n"
	"Via: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKtg.1;rport=5060;received=198.18.0.1\r\n"
	"From: <sip:alice@example.test>;tag=x\r\n"
	"To: <sip:bob@example.test>\r\n"
	"Call-ID: c@x\r\n"
	"CSeq: 1 INVITE\r\n"
	"Content-Length: 0\r\n\r\n",
	"SIP/2.0 183 Session Progress\r\n"
	"Via: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKtg.1\r\n"
	"Record-Route: <sip:198.18.0.9;lr>\r\n"
	"From: <sip:alice@example.test>;tag=x\r\n"
	"To: <sip:bob@example.test>;tag=y\r\n"
	"Call-ID: c@x\r\n"
	"CSeq: 1 INVITE\r\n"
	"Contact: <sip:bob@198.18.0.3:5060>\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 214\r\n\r\n" SDP,
	"SIP/2.0 486 Busy Here\r\n"
	"Via: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKtg.1\r\n"
	"From: <sip:alice@example.test>;tag=x\r\n"
	"To: <sip:bob@example.test>;tag=y\r\n"
	"Call-ID: c@x\r\n"
	"CSeq: 1 INVITE\r\n"
	"Content-Length: 0\r\n\r\n",
	"SIP/2.0 503 Service Unavailable\r\n"
	"Via: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKtg.1\r\n"
	"From: <sip:alice@example.test>;tag=x\r\n"
	"To: <sip:bob@example.test>;tag=y\r\n"
	"Call-ID: c@x\r\n"
	"CSeq: 1 INVITE\r\n"
	"Retry-After: 5\r\n"
	"Warning: 399 tollgate \"overloaded\"\r\n"
	"Content-Length: 0\r\n\r\n",
	/* every typed header libosip2 keeps, IPv6, escapes, URI headers, Contact: * */
	"REGISTER sip:registrar.example.test SIP/2.0\r\n"
	"Via: SIP/2.0/TCP [2001:db8::9]:5061;branch=z9hG4bK-1;received=2001:db8::9 (comment)\r\n"
	"From: <sip:a%41b:pw%3A@example.test;user=phone>;tag=1\r\n"
	"To: \"A \\\"q\\\" name\" <sips:alice@example.test:5061;transport=tls?Subject=hi%20"
	"there&Priority=urgent>\r\n"
	"Call-ID: reg1\r\n"
	"CSeq: 7 REGISTER\r\n"
	"Contact: *\r\n"
	"Contact: \"X\" <sip:x@[2001:db8::9]:5070;ob;x-obr=1;x-obp>;expires=0\r\n"
	"Authorization: Digest username=\"alice\", realm=\"example.test\", nonce=\"abc\", "
	"uri=\"sip:registrar.example.test\", response=\"0123\", algorithm=MD5, cnonce=\"c\", "
	"opaque=\"o\", qop=auth, nc=00000001\r\n"
	"Proxy-Authorization: Digest username=\"bob\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
	"response=\"1\"\r\n"
	"WWW-Authenticate: Digest domain=\"sip:d\", nonce=\"n\", opaque=\"o\", stale=FALSE, "
	"algorithm=MD5, qop=\"auth,auth-int\"\r\n"
	"Proxy-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n"
	"Authentication-Info: qop=auth, rspauth=\"x\", cnonce=\"c\", nc=00000001\r\n"
	"Proxy-Authentication-Info: nextnonce=\"y\"\r\n"
	"Call-Info: <http://www.example.test/alice/photo.jpg> ;purpose=icon\r\n"
	"Alert-Info: <http://www.example.test/sounds/moo.wav>\r\n"
	"Error-Info: <sip:not-in-service-recording@example.test>\r\n"
	"Accept: application/sdp;level=1, text/html\r\n"
	"Accept-Encoding: gzip;q=1.0, identity; q=0.5\r\n"
	"Accept-Language: da, en-gb;q=0.8\r\n"
	"Content-Encoding: gzip\r\n"
	"Mime-Version: 1.0\r\n"
	"expires: 7200\r\n"
	"Content-Length: 0\r\n\r\n",
	/* multipart: a quoted boundary, MIME part headers */
	"MESSAGE sip:bob@example.test SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bKmp\r\n"
	"From: <sip:alice@example.test>;tag=mp\r\n"
	"To: <sip:bob@example.test>\r\n"
	"Call-ID: mp@x\r\n"
	"CSeq: 1 MESSAGE\r\n"
	"Content-Type: multipart/mixed;boundary=\"b-1\"\r\n"
	"Content-Length: 104\r\n\r\n"
	"--b-1\r\n"
	"Content-Type: text/plain\r\n"
	"X-Part: 1\r\n"
	"\r\n"
	"hello\r\n"
	"--b-1\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"world\r\n"
	"--b-1--\r\n",
};

static osip_message_t *parse(const char *text)
{
	osip_message_t *m = NULL;

	assert_int_equal(osip_message_init(&m), 0);
	if (osip_message_parse(m, text, strlen(text)) != 0)
		fail_msg("does not parse:\n%s", text);
	return m;
}

/* Ours (from the fields: the cache marked stale first), then libosip2's, then ours again from
 * libosip2's cache: all three the same bytes. Returns the length. */
static size_t assert_same(osip_message_t *m)
{
	static char ours[CP_SIP_WRITE_MAX];
	char *theirs = NULL;
	size_t len = 0, theirs_len = 0, again = 0;

	osip_message_force_update(m);
	assert_int_equal(cp_sip_write(m, ours, sizeof(ours), &len), 0);
	assert_int_equal(osip_message_to_str(m, &theirs, &theirs_len), 0);
	if (len != theirs_len || memcmp(ours, theirs, len) != 0)
		fail_msg("differ:\n--- cp_sip_write (%zu)\n%.*s\n--- osip_message_to_str (%zu)\n%s",
			len, (int)len, ours, theirs_len, theirs);
	assert_int_equal(m->message_property, 1);
	assert_int_equal(cp_sip_write(m, ours, sizeof(ours), &again), 0);
	assert_int_equal(again, len);
	assert_memory_equal(ours, theirs, len);
	osip_free(theirs);
	return len;
}

static void test_received_messages(void **state)
{
	for (size_t i = 0; i < sizeof(received) / sizeof(received[0]); i++) {
		osip_message_t *m = parse(received[i]);

		assert_same(m);
		osip_message_free(m);
	}
}

/* -ENOSPC for every capacity below the length, each buffer exactly that big; the length
 * needed is reported; the exact size fits. */
static void test_enospc(void **state)
{
	osip_message_t *m = parse(invite);
	size_t need = 0, len;
	char *buf;

	assert_int_equal(cp_sip_measure(m, &need), 0);
	assert_int_equal(cp_sip_write(m, NULL, 0, &len), -ENOSPC);
	assert_int_equal(len, need);
	for (size_t cap = 1; cap < need; cap++) {
		buf = malloc(cap);
		assert_non_null(buf);
		len = 0;
		assert_int_equal(cp_sip_write(m, buf, cap, &len), -ENOSPC);
		assert_int_equal(len, need);
		free(buf);
	}
	buf = malloc(need);
	assert_non_null(buf);
	assert_int_equal(cp_sip_write(m, buf, need, &len), 0);
	assert_int_equal(len, need);
	free(buf);
	assert_int_equal(assert_same(m), need);
	/* the cached text too */
	assert_int_equal(m->message_property, 1);
	buf = malloc(need - 1);
	assert_int_equal(cp_sip_write(m, buf, need - 1, &len), -ENOSPC);
	assert_int_equal(len, need);
	free(buf);
	osip_message_free(m);
}

/* An INVITE the way the B2BUA builds its B leg (cp_dialog.c's base_request): setters only. */
static void test_built_invite(void **state)
{
	osip_message_t *m = NULL;
	osip_uri_t *uri = NULL;

	assert_int_equal(osip_message_init(&m), 0);
	osip_message_set_method(m, osip_strdup("INVITE"));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	assert_int_equal(osip_uri_init(&uri), 0);
	assert_int_equal(osip_uri_parse(uri, "sip:1000@198.18.0.3:5060;transport=tcp"), 0);
	osip_message_set_uri(m, uri);
	osip_message_set_via(m, "SIP/2.0/TCP 198.18.0.1:5060;branch=z9hG4bKa1b2c3d4e5f6;rport");
	osip_message_set_route(m, "<sip:198.18.0.7;lr>");
	osip_message_set_from(m, "\"Alice Smith\" <sip:alice@198.18.0.1>;tag=tgA1b2C3");
	osip_message_set_to(m, "<sip:1000@198.18.0.3>");
	osip_message_set_call_id(m, "tg-4f1c2a9e7b3d@198.18.0.1");
	osip_message_set_cseq(m, "1 INVITE");
	osip_message_set_max_forwards(m, "69");
	osip_message_set_contact(m, "<sip:tollgate@198.18.0.1:5060;transport=tcp>");
	assert_int_equal(cp_sip_add_header(m, "User-Agent", "tollgate"), 0);
	osip_message_set_content_length(m, "0");
	assert_same(m);
	assert_int_equal(cp_sip_set_body(m, "application/sdp", SDP, strlen(SDP)), 0);
	assert_same(m);
	/* a body replaced, then removed */
	assert_int_equal(cp_sip_set_body(m, "application/sdp", "v=0\r\n", 5), 0);
	assert_same(m);
	assert_int_equal(cp_sip_set_body(m, NULL, NULL, 0), 0);
	assert_same(m);
	osip_message_free(m);
}

/* The responses and the CANCEL the B2BUA builds from a request. */
static void test_built_responses(void **state)
{
	static const int codes[] = {
		100, 180, 183, 200, 401, 404, 408, 480, 487, 488, 491, 500, 503, 603};
	osip_message_t *req = parse(invite), *c;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		osip_message_t *r = cp_sip_make_response(req, codes[i], NULL, "tg-tag-1");

		assert_non_null(r);
		if (codes[i] == 200 || codes[i] == 183) {
			osip_message_set_contact(r, "<sip:tollgate@198.18.0.1:5060>");
			osip_message_set_record_route(r, "<sip:p1.example.test;lr>");
			assert_int_equal(
				cp_sip_set_body(r, "application/sdp", SDP, strlen(SDP)), 0);
		}
		if (codes[i] == 503)
			assert_int_equal(cp_sip_add_header(r, "Retry-After", "5"), 0);
		assert_same(r);
		osip_message_free(r);
	}
	c = cp_dialog_cancel(req);
	assert_non_null(c);
	assert_same(c);
	osip_message_free(c);
	osip_message_free(req);
}

/*
 * The cache: while m->message_property is 1 libosip2 answers with its last text even if a
 * field changed since; so do we. A setter (or osip_message_force_update) ends that.
 */
static void test_cached_text(void **state)
{
	osip_message_t *m = parse(invite);
	static char buf[CP_SIP_WRITE_MAX];
	char *theirs = NULL;
	size_t len, theirs_len;

	assert_same(m);
	osip_free(m->call_id->number);
	m->call_id->number = osip_strdup("changed-behind-libosip2s-back");
	assert_int_equal(cp_sip_write(m, buf, sizeof(buf), &len), 0);
	assert_int_equal(osip_message_to_str(m, &theirs, &theirs_len), 0);
	assert_int_equal(len, theirs_len);
	assert_memory_equal(buf, theirs, len);
	assert_null(memmem(buf, len, "changed-behind", 14));
	osip_free(theirs);
	/* marked changed: both print the new Call-ID */
	len = assert_same(m);
	assert_non_null(memmem(m->message, len, "changed-behind", 14));
	osip_message_free(m);
}

/* libosip2's oddities, reproduced: a From it cannot print leaves "From: " glued to the next
 * header; a Content-Type parameter without a value does the same; an empty Accept is a space;
 * header names get a capital first letter. */
static void test_quirks(void **state)
{
	osip_message_t *m = parse(received[1]);
	osip_generic_param_t *p = NULL;
	static char buf[CP_SIP_WRITE_MAX];
	size_t len;

	osip_uri_free(m->from->url);
	m->from->url = NULL;
	len = assert_same(m);
	assert_non_null(memmem(m->message, len, "\r\nFrom: To: ", 12));
	osip_message_set_content_type(m, "text/plain;charset=utf-8");
	p = osip_list_get(&m->content_type->gen_params, 0);
	assert_non_null(p);
	osip_free(p->gvalue);
	p->gvalue = NULL;
	osip_message_set_accept(m, "");
	osip_message_set_header(m, "x-lower", "v");
	len = assert_same(m);
	assert_non_null(memmem(m->message, len, "Content-Type: Accept:  \r\n", 25));
	assert_non_null(memmem(m->message, len, "\r\nX-lower: v\r\n", 14));
	assert_int_equal(cp_sip_write(m, buf, sizeof(buf), &len), 0);
	osip_message_free(m);
}

/* What libosip2 refuses, we refuse: no start line, a Via without host, a body of length 0,
 * a multipart boundary over 70 characters, a status code out of range. */
static void test_refused(void **state)
{
	static char buf[CP_SIP_WRITE_MAX];
	char *theirs = NULL;
	size_t len = 1, theirs_len;
	osip_message_t *m = NULL;
	osip_via_t *via;
	osip_body_t *b = NULL;

	assert_int_equal(osip_message_init(&m), 0);
	assert_int_equal(cp_sip_write(m, buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(len, 0);
	assert_int_not_equal(osip_message_to_str(m, &theirs, &theirs_len), 0);
	osip_message_free(m);

	m = parse(received[2]);
	via = osip_list_get(&m->vias, 0);
	osip_free(via->host);
	via->host = NULL;
	osip_message_force_update(m);
	assert_int_equal(cp_sip_write(m, buf, sizeof(buf), &len), -EINVAL);
	assert_int_equal(cp_sip_write(m, NULL, 0, &len), -EINVAL);
	assert_int_not_equal(osip_message_to_str(m, &theirs, &theirs_len), 0);
	osip_message_free(m);

	m = parse(invite);
	b = osip_list_get(&m->bodies, 0);
	b->length = 0;
	osip_message_force_update(m);
	assert_int_equal(cp_sip_write(m, buf, sizeof(buf), &len), -EINVAL);
	assert_int_not_equal(osip_message_to_str(m, &theirs, &theirs_len), 0);
	osip_message_free(m);

	m = parse(received[sizeof(received) / sizeof(received[0]) - 1]);
	osip_content_type_free(m->content_type);
	m->content_type = NULL;
	{
		char ct[128];

		/* 71 characters */
		snprintf(ct, sizeof(ct), "multipart/mixed;boundary=%071d", 7);
		osip_message_set_content_type(m, ct);
	}
	assert_int_equal(cp_sip_write(m, buf, sizeof(buf), &len), -EINVAL);
	assert_int_not_equal(osip_message_to_str(m, &theirs, &theirs_len), 0);
	osip_message_free(m);

	m = parse(received[5]);
	m->status_code = 700;
	osip_message_force_update(m);
	assert_int_equal(cp_sip_write(m, buf, sizeof(buf), &len), -EINVAL);
	assert_int_not_equal(osip_message_to_str(m, &theirs, &theirs_len), 0);
	osip_message_free(m);
}

/* Past 64 KiB: a body of 100,000 bytes, whose length runs into "Content-Length: " as it does
 * in libosip2; -ENOSPC in the scratch buffer, written in one of the size asked for. */
static void test_large(void **state)
{
	osip_message_t *m = parse(received[2]);
	size_t n = 100000, len, need;
	char *body = malloc(n), *buf;

	assert_non_null(body);
	memset(body, 'x', n);
	assert_int_equal(cp_sip_set_body(m, "text/plain", body, n), 0);
	free(body);
	buf = malloc(CP_SIP_WRITE_MAX);
	assert_int_equal(cp_sip_write(m, buf, CP_SIP_WRITE_MAX, &need), -ENOSPC);
	free(buf);
	assert_true(need > n);
	buf = malloc(need);
	assert_int_equal(cp_sip_write(m, buf, need, &len), 0);
	assert_int_equal(len, need);
	{
		char *theirs = NULL;
		size_t theirs_len;

		assert_int_equal(osip_message_to_str(m, &theirs, &theirs_len), 0);
		assert_int_equal(theirs_len, len);
		assert_memory_equal(buf, theirs, len);
		assert_non_null(memmem(buf, len, "Content-Length:100000\r\n", 23));
		osip_free(theirs);
	}
	free(buf);
	osip_message_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_received_messages),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_built_invite),
		cmocka_unit_test(test_built_responses),
		cmocka_unit_test(test_cached_text),
		cmocka_unit_test(test_quirks),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_large),
	};

	parser_init();
	/* the refused messages make libosip2 log: quiet */
	osip_trace_initialize(TRACE_LEVEL0, NULL);
	for (int l = 0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
