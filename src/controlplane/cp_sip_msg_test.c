/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP message checks against valid and malformed messages (RFC 4475's kinds of breakage: missing
 * mandatory headers, CSeq mismatch, bad Content-Length, unknown scheme or version, garbage), the
 * stateless responses built from them, and the raw 400 for what libosip2 cannot parse.
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

#include "cp_sip_msg.h"

#define HDRS                                                                                       \
	"Via: SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bK776asdhds\r\n"                             \
	"Max-Forwards: 70\r\n"                                                                     \
	"To: Bob <sip:bob@example.test>\r\n"                                                       \
	"From: Alice <sip:alice@example.test>;tag=1928301774\r\n"

static const char invite_ok[] = "INVITE sip:bob@example.test SIP/2.0\r\n" HDRS
				"Call-ID: a84b4c76e66710@pc33.example.test\r\n"
				"CSeq: 314159 INVITE\r\n"
				"Contact: <sip:alice@198.18.0.2>\r\n"
				"Content-Type: application/sdp\r\n"
				"Content-Length: 4\r\n\r\nv=0\n";

/* Parses text and runs the check; returns the status (0 = fine), reason in r. */
static int check(const char *text, char *r, size_t rlen)
{
	osip_message_t *m;
	size_t len = strlen(text);
	long body = cp_sip_body_offset(text, len);
	int rc;

	assert_int_equal(osip_message_init(&m), 0);
	if (osip_message_parse(m, text, len) != 0) {
		osip_message_free(m);
		snprintf(r, rlen, "unparseable");
		return -1;
	}
	rc = cp_sip_check(m, body < 0 ? 0 : len - (size_t)body, r, rlen);
	osip_message_free(m);
	return rc;
}

static void test_valid_invite(void **state)
{
	char r[128] = "";

	assert_int_equal(check(invite_ok, r, sizeof(r)), 0);
}

static void test_malformed_requests(void **state)
{
	static const struct {
		const char *text;
		int code;
		const char *reason;
	} cases[] = {
		{"INVITE sip:bob@example.test SIP/2.0\r\n" HDRS "CSeq: 1 INVITE\r\n"
		 "Content-Length: 0\r\n\r\n",
			400, "Call-ID"},
		{"INVITE sip:bob@example.test SIP/2.0\r\n" HDRS "Call-ID: x@y\r\n"
		 "Content-Length: 0\r\n\r\n",
			400, "CSeq"},
		{"INVITE sip:bob@example.test SIP/2.0\r\n" HDRS "Call-ID: x@y\r\n"
		 "CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
			400, "CSeq method"},
		{"INVITE sip:bob@example.test SIP/2.0\r\n" HDRS "Call-ID: x@y\r\n"
		 "CSeq: 1 INVITE\r\nContent-Length: 99\r\n\r\nv=0\r\n",
			400, "Content-Length"},
		{"INVITE sip:bob@example.test SIP/2.0\r\n" HDRS "Call-ID: x@y\r\n"
		 "CSeq: -5 INVITE\r\nContent-Length: 0\r\n\r\n",
			400, "CSeq"},
		{"INVITE sip:bob@example.test SIP/2.0\r\n" HDRS "Call-ID: x@y\r\n"
		 "CSeq: 99999999999999999999 INVITE\r\nContent-Length: 0\r\n\r\n",
			400, "CSeq"},
		{"INVITE sip:bob@example.test SIP/2.0\r\nMax-Forwards: 70\r\n"
		 "To: <sip:b@example.test>\r\nFrom: <sip:a@example.test>;tag=1\r\nCall-ID: x@y\r\n"
		 "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
			400, "Via"},
		{"INVITE http://example.test/bob SIP/2.0\r\n" HDRS "Call-ID: x@y\r\n"
		 "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
			416, "http"},
		{"INVITE sip:bob@example.test SIP/7.0\r\n" HDRS "Call-ID: x@y\r\n"
		 "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
			505, "SIP/7.0"},
		{"INVITE sip:bob@example.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 198.18.0.2;branch=z9hG4bK1\r\nMax-Forwards: ten\r\n"
		 "To: <sip:b@example.test>\r\nFrom: <sip:a@example.test>;tag=1\r\nCall-ID: x@y\r\n"
		 "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
			400, "Max-Forwards"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char r[160] = "";
		int code = check(cases[i].text, r, sizeof(r));

		if (code == -1)
			continue; /* libosip2 refused it outright: the raw 400 path answers those */
		if (code != cases[i].code || !strstr(r, cases[i].reason))
			fail_msg("case %zu: got %d '%s', expected %d '%s'", i, code, r,
				cases[i].code, cases[i].reason);
	}
}

static void test_response_built_from_request(void **state)
{
	osip_message_t *m, *resp;
	char *out = NULL;
	size_t len;

	assert_int_equal(osip_message_init(&m), 0);
	assert_int_equal(osip_message_parse(m, invite_ok, strlen(invite_ok)), 0);
	assert_int_equal(cp_sip_response(m, 486, "Busy Here", "tg1234", &out, &len), 0);
	assert_non_null(strstr(out, "SIP/2.0 486 Busy Here\r\n"));
	assert_non_null(strstr(out, "branch=z9hG4bK776asdhds"));
	assert_non_null(strstr(out, "tag=tg1234"));
	assert_non_null(strstr(out, "Call-ID: a84b4c76e66710@pc33.example.test"));
	assert_non_null(strstr(out, "CSeq: 314159 INVITE"));
	assert_non_null(strstr(out, "Content-Length: 0"));
	/* the response parses and passes the same checks */
	assert_int_equal(osip_message_init(&resp), 0);
	assert_int_equal(osip_message_parse(resp, out, len), 0);
	char r[128];
	assert_int_equal(cp_sip_check(resp, 0, r, sizeof(r)), 0);
	assert_int_equal(resp->status_code, 486);
	osip_message_free(resp);
	osip_free(out);
	osip_message_free(m);
}

static void test_raw_400(void **state)
{
	static const char garbage_req[] = "INVITE sip:bob@example.test SIP/2.0\r\n"
					  "v: SIP/2.0/UDP 198.18.0.2;branch=z9hG4bKraw\r\n"
					  "f: <sip:a@example.test>;tag=9\r\n"
					  "t: <sip:b@example.test>\r\n"
					  "i: raw@example.test\r\n"
					  "CSeq: 7 INVITE\r\n"
					  "Content-Type: \x01\x02\x03 totally broken\r\n\r\n";
	char out[1024];
	size_t len;

	assert_int_equal(cp_sip_raw_400(garbage_req, sizeof(garbage_req) - 1,
				 "Malformed Content-Type", out, sizeof(out), &len),
		0);
	assert_int_equal(len, strlen(out));
	assert_non_null(strstr(out, "SIP/2.0 400 Malformed Content-Type\r\n"));
	assert_non_null(strstr(out, "Via: SIP/2.0/UDP 198.18.0.2;branch=z9hG4bKraw\r\n"));
	assert_non_null(strstr(out, "Call-ID: raw@example.test\r\n"));
	assert_non_null(strstr(out, "CSeq: 7 INVITE\r\n"));
	assert_non_null(strstr(out, "Content-Length: 0\r\n\r\n"));
	/* a response is never answered; a request without Via cannot be */
	assert_int_equal(
		cp_sip_raw_400("SIP/2.0 200 OK\r\nVia: x\r\n\r\n", 25, "x", out, sizeof(out), &len),
		-EINVAL);
	assert_int_equal(cp_sip_raw_400("INVITE sip:a@b SIP/2.0\r\ni: x@y\r\n\r\n", 34, "x", out,
				 sizeof(out), &len),
		-EINVAL);
	assert_int_equal(cp_sip_raw_400("INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\r\n", 34, "x", out,
				 sizeof(out), &len),
		0);
	/* too small an output buffer is an error, not an overflow */
	assert_int_equal(
		cp_sip_raw_400(garbage_req, sizeof(garbage_req) - 1, "x", out, 40, &len), -ENOSPC);
}

static void test_hostile_bytes_never_crash(void **state)
{
	char buf[2048];
	char r[160], out[4096];
	size_t len;

	srand(4475);
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = (size_t)rand() % sizeof(buf);
		osip_message_t *m;

		memcpy(buf, invite_ok, sizeof(invite_ok) - 1 < n ? sizeof(invite_ok) - 1 : n);
		for (size_t i = 0; i < n / 16 + 1 && n; i++)
			buf[rand() % n] = (char)rand();
		if (osip_message_init(&m) == 0) {
			if (osip_message_parse(m, buf, n) == 0) {
				long body = cp_sip_body_offset(buf, n);
				char *o = NULL;
				size_t ol;

				if (cp_sip_check(m, body < 0 ? 0 : n - (size_t)body, r,
					    sizeof(r)) == 0 &&
					MSG_IS_REQUEST(m) &&
					cp_sip_response(m, 400, "x", "t", &o, &ol) == 0)
					osip_free(o);
			}
			osip_message_free(m);
		}
		cp_sip_raw_400(buf, n, "Bad", out, sizeof(out), &len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_invite),
		cmocka_unit_test(test_malformed_requests),
		cmocka_unit_test(test_response_built_from_request),
		cmocka_unit_test(test_raw_400),
		cmocka_unit_test(test_hostile_bytes_never_crash),
	};

	parser_init();
	/* libosip2 traces every parse failure; the tests feed it thousands on purpose */
	osip_trace_initialize(TRACE_LEVEL0, NULL);
	for (int l = 0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
	return cmocka_run_group_tests_name("cp_sip_msg", tests, NULL, NULL);
}
