/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Our SIP serializer (cp_sip_write) against libosip2's osip_message_to_str, byte for byte, on
 * whatever libosip2 parses: first as parsed, then from libosip2's cached text, then after the
 * changes our code makes to messages it relays or answers (a Via on top with received/rport,
 * a new To tag, a new body, Route/Record-Route, extra headers, a multipart body, a new
 * Request-URI or status line, auth headers), which the input's last byte picks. Aborts, printing
 * both texts, when they differ, when one refuses what the other writes, when the length
 * cp_sip_write measures is not the one it writes, or when a buffer one byte short is not
 * refused with -ENOSPC without a byte written past its end.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>
#include <sanitizer/lsan_interface.h>

#include "cp_sip_msg.h"
#include "cp_sip_write.h"

#define GUARD 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void dump(const char *what, const char *s, size_t n)
{
	fprintf(stderr, "---- %s (%zu bytes) ----\n", what, n);
	fwrite(s, 1, n, stderr);
	fprintf(stderr, "\n---- end ----\n");
}

static void fail(const char *stage, const char *why, const char *ours, size_t ours_len,
	const char *theirs, size_t theirs_len)
{
	size_t i = 0;

	fprintf(stderr, "fuzz_sip_write: %s: %s\n", stage, why);
	if (ours && theirs) {
		while (i < ours_len && i < theirs_len && ours[i] == theirs[i])
			i++;
		fprintf(stderr, "first difference at byte %zu\n", i);
	}
	if (ours)
		dump("cp_sip_write", ours, ours_len);
	if (theirs)
		dump("osip_message_to_str", theirs, theirs_len);
	abort();
}

static bool guard_intact(const char *g)
{
	for (size_t i = 0; i < GUARD; i++)
		if (g[i] != (char)0xa5)
			return false;
	return true;
}

/* Ours then libosip2's (which caches its text in m, so it goes second). */
static void compare(osip_message_t *m, const char *stage)
{
	char *ours = NULL, *theirs = NULL;
	size_t need = 0, len = 0, theirs_len = 0;
	int rc, trc;

	rc = cp_sip_measure(m, &need);
	if (rc == 0) {
		ours = malloc(need + GUARD);
		if (!ours)
			abort();
		/* one byte short: refused, the length needed given, nothing written past it */
		memset(ours, 0xa5, need + GUARD);
		if (cp_sip_write(m, ours, need - 1, &len) != -ENOSPC || len != need ||
			ours[need - 1] != (char)0xa5)
			fail(stage, "a buffer one byte short is not refused cleanly", NULL, 0, NULL,
				0);
		memset(ours, 0xa5, need + GUARD);
		rc = cp_sip_write(m, ours, need, &len);
		if (rc != 0 || len != need || !guard_intact(ours + need))
			fail(stage, "measured and written lengths differ, or overflow", ours,
				rc == 0 ? len : 0, NULL, 0);
	}
	trc = osip_message_to_str(m, &theirs, &theirs_len);
	if (trc != 0 || !theirs) {
		if (rc == 0)
			fail(stage, "libosip2 refuses a message we write", ours, len, NULL, 0);
	} else if (rc != 0) {
		fail(stage, "we refuse a message libosip2 writes", NULL, 0, theirs, theirs_len);
	} else if (len != theirs_len || memcmp(ours, theirs, len) != 0) {
		fail(stage, "texts differ", ours, len, theirs, theirs_len);
	}
	free(ours);
	osip_free(theirs);
}

/* After osip_message_to_str, libosip2 answers from its cache: so must we. */
static void compare_cached(osip_message_t *m)
{
	char *ours;
	size_t len;

	if (m->message_property != 1 || !m->message)
		return;
	ours = malloc(m->message_length + 1);
	if (!ours)
		abort();
	if (cp_sip_write(m, ours, m->message_length + 1, &len) != 0 || len != m->message_length ||
		memcmp(ours, m->message, len) != 0)
		fail("cached", "the cached text is not what we write", ours, len, m->message,
			m->message_length);
	free(ours);
}

/* What the transport and the B2BUA do to a message: our Via on top with received/rport (RFC
 * 3581), a To tag, a new body, Max-Forwards. */
static void modify_common(osip_message_t *m, const uint8_t *data, size_t size)
{
	osip_via_t *via = NULL;
	osip_generic_param_t *tag = NULL;
	size_t body_len = size > 200 ? 200 : size;

	if (osip_via_init(&via) == 0) {
		if (osip_via_parse(via, "SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKtg.fz;rport") ==
			0)
			osip_list_add(&m->vias, via, 0);
		else
			osip_via_free(via);
	}
	via = osip_list_get(&m->vias, 1);
	if (via)
		osip_via_set_received(via, osip_strdup("198.18.0.2"));
	if (m->to) {
		if (osip_to_get_tag(m->to, &tag) == 0 && tag) {
			osip_free(tag->gvalue);
			tag->gvalue = osip_strdup("tg-fuzz-tag");
		} else {
			osip_to_set_tag(m->to, osip_strdup("tg-fuzz-tag"));
		}
	}
	/* cp_sip_set_body(): the old body, its type and length go; the new one comes */
	while (osip_list_size(&m->bodies) > 0) {
		osip_body_t *old = osip_list_get(&m->bodies, 0);

		osip_list_remove(&m->bodies, 0);
		osip_body_free(old);
	}
	osip_content_type_free(m->content_type);
	m->content_type = NULL;
	osip_content_length_free(m->content_length);
	m->content_length = NULL;
	if (body_len > 0 && (data[0] & 1)) {
		osip_message_set_body(m, (const char *)data + size - body_len, body_len);
		osip_message_set_content_type(m, "application/sdp");
	}
	osip_message_set_header(m, "Max-Forwards", "69");
}

static void modify_extra(osip_message_t *m, uint8_t sel)
{
	osip_uri_t *uri = NULL;

	if (sel & 1) {
		/* a multipart body: a boundary, MIME part headers */
		static const char part[] =
			"Content-Type: application/sdp\r\nX-Part: 1\r\n\r\nv=0\r\n";
		osip_body_t *b;

		osip_content_type_free(m->content_type);
		m->content_type = NULL;
		osip_message_set_content_type(m, (sel & 2) ? "multipart/mixed;boundary=\"tg-b1\""
							   : "multipart/mixed;boundary=tg-b2");
		if (osip_body_init(&b) == 0) {
			if (osip_body_parse_mime(b, part, strlen(part)) == 0)
				osip_list_add(&m->bodies, b, -1);
			else
				osip_body_free(b);
		}
		osip_message_set_body(m, "plain", 5);
	}
	if (sel & 4) {
		while (osip_list_size(&m->routes) > 0) {
			osip_route_t *r = osip_list_get(&m->routes, 0);

			osip_list_remove(&m->routes, 0);
			osip_route_free(r);
		}
		osip_message_set_record_route(m, "<sip:198.18.0.1:5060;lr>");
		osip_message_set_route(m, "\"Next\" <sip:[2001:db8::1]:5062;lr;transport=tcp>");
	}
	if (sel & 8) {
		osip_message_set_header(m, "reason", "SIP;cause=200;text=\"Call completed\"");
		osip_message_set_header(m, "Retry-After", "5");
		osip_message_set_contact(m, "*");
		osip_message_set_contact(m, "\"B2B\" <sip:tg@198.18.0.1:5060;ob>;expires=60");
	}
	if (sel & 16) {
		osip_message_set_authorization(m,
			"Digest username=\"a\", realm=\"r\", nonce=\"n\", "
			"uri=\"sip:x\", response=\"0123\"");
		osip_message_set_www_authenticate(
			m, "Digest realm=\"r\", nonce=\"n\", qop=\"auth\"");
		osip_message_set_proxy_authenticate(m, "Digest nonce=\"n\", stale=false");
		osip_message_set_authentication_info(m, "nextnonce=\"x\", qop=auth");
		osip_message_set_accept(m, "application/sdp;level=1");
		osip_message_set_allow(m, "INVITE");
		osip_message_set_call_info(m, "<http://x.test/i>;purpose=info");
	}
	if (sel & 32) {
		if (MSG_IS_REQUEST(m)) {
			if (osip_uri_init(&uri) == 0 &&
				osip_uri_parse(uri, "sip:+1%20800@198.18.0.3:5060;transport=udp;"
						    "user=phone?subject=a%26b&x=y") == 0) {
				osip_uri_free(m->req_uri);
				m->req_uri = uri;
			} else {
				osip_uri_free(uri);
			}
		} else {
			m->status_code = 183;
			osip_free(m->reason_phrase);
			m->reason_phrase = osip_strdup("Session Progress");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	osip_message_t *m;
	int rc;

	if (!ready) {
		parser_init();
		osip_trace_initialize(TRACE_LEVEL0, NULL);
		for (int l = 0; l < END_TRACE_LEVEL; l++)
			osip_trace_disable_level((osip_trace_level_t)l);
		ready = 1;
	}
	if (size == 0 || size > CP_SIP_MAX_MSG || osip_message_init(&m) != 0)
		return 0;
	/* libosip2's parser leaks on some inputs (a MIME part with two Content-Types): its
	 * allocations are not ours to report; everything after it is */
	__lsan_disable();
	rc = osip_message_parse(m, (const char *)data, size);
	__lsan_enable();
	if (rc == 0) {
		compare(m, "parsed");
		compare_cached(m);
		modify_common(m, data, size);
		osip_message_force_update(m);
		compare(m, "modified");
		modify_extra(m, data[size - 1]);
		osip_message_force_update(m);
		compare(m, "modified more");
	}
	osip_message_free(m);
	return 0;
}
