/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tg-bench-sip-write: what serializing one outgoing SIP message costs, libosip2's
 * osip_message_to_str against our cp_sip_write, on the two messages a call sends most: the
 * INVITE on the B leg and the 200 OK with SDP on the A leg, both built the way the B2BUA builds
 * them (setters, cp_sip_make_response, cp_sip_set_body) from an A-leg INVITE as it reaches the
 * appliance through a proxy.
 *
 * Rows (<msg> is invite or ok): sip_write_<msg>_osip = osip_message_force_update +
 * osip_message_to_str + osip_free of the text (what the send path did per message: a message
 * is marked changed once built, and the first serialization also refills libosip2's cached
 * copy); sip_write_<msg>_cp = cp_sip_write into a 64 KiB buffer (what the send path does now).
 * Setup checks that both give the same bytes. Ratios: sip_write_<msg>_speedup =
 * sip_write_<msg>_osip_ns / sip_write_<msg>_cp_ns, measured in the same run.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "bench.h"
#include "cp_dialog.h"
#include "cp_sip_write.h"

#define SDP_A                                                                                      \
	"v=0\r\n"                                                                                  \
	"o=- 3891234567 3891234567 IN IP4 198.18.0.1\r\n"                                          \
	"s=tollgate\r\n"                                                                           \
	"c=IN IP4 198.18.0.1\r\n"                                                                  \
	"t=0 0\r\n"                                                                                \
	"m=audio 20000 RTP/AVP 0 8 101\r\n"                                                        \
	"a=rtpmap:0 PCMU/8000\r\n"                                                                 \
	"a=rtpmap:8 PCMA/8000\r\n"                                                                 \
	"a=rtpmap:101 telephone-event/8000\r\n"                                                    \
	"a=fmtp:101 0-16\r\n"                                                                      \
	"a=ptime:20\r\n"                                                                           \
	"a=sendrecv\r\n"

/* The caller's INVITE through one proxy (two Vias, a Record-Route), as received on A. */
static const char a_invite[] =
	"INVITE sip:18005550100@198.18.0.1:5060 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 198.18.0.9:5060;branch=z9hG4bK-proxy-7f3a91c2;rport\r\n"
	"Via: SIP/2.0/UDP 198.18.0.2:5060;branch=z9hG4bK-caller-5d2e8b1a;rport\r\n"
	"Max-Forwards: 69\r\n"
	"Record-Route: <sip:198.18.0.9;lr>\r\n"
	"From: \"Alice Smith\" <sip:+12125550123@carrier.example.test>;tag=as7f3a91c2\r\n"
	"To: <sip:18005550100@198.18.0.1>\r\n"
	"Call-ID: 5d2e8b1a7f3a91c2@198.18.0.2\r\n"
	"CSeq: 102 INVITE\r\n"
	"Contact: <sip:+12125550123@198.18.0.2:5060>\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE\r\n"
	"Supported: timer\r\n"
	"Content-Length: 0\r\n\r\n";

struct fixture {
	osip_message_t *invite_b; /* the INVITE we send on B */
	osip_message_t *ok_a;	  /* the 200 OK we answer A with */
	char *buf;		  /* CP_SIP_WRITE_MAX */
};

static struct fixture fx;

static osip_message_t *build_invite_b(void)
{
	osip_message_t *m = NULL;
	osip_uri_t *uri = NULL;

	if (osip_message_init(&m) != 0)
		return NULL;
	osip_message_set_method(m, osip_strdup("INVITE"));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	if (osip_uri_init(&uri) != 0 || osip_uri_parse(uri, "sip:18005550100@198.18.0.3:5060")) {
		osip_uri_free(uri);
		osip_message_free(m);
		return NULL;
	}
	osip_message_set_uri(m, uri);
	osip_message_set_via(
		m, "SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKq7Rk2Lm9Xw4Ps1Tz8Vb3Nc6;rport");
	osip_message_set_from(m, "\"Alice Smith\" <sip:+12125550123@198.18.0.1>;tag=Hj4Kd9Wq2Zx7");
	osip_message_set_to(m, "<sip:18005550100@198.18.0.3>");
	osip_message_set_call_id(m, "Tq8Lr3Np6Vs1Xk9Wm2Zc5Bf@198.18.0.1");
	osip_message_set_cseq(m, "1 INVITE");
	osip_message_set_max_forwards(m, "68");
	osip_message_set_contact(m, "<sip:tollgate@198.18.0.1:5060>");
	if (cp_sip_add_header(m, "User-Agent", "tollgate/0.1.0") < 0 ||
		cp_sip_set_body(m, "application/sdp", SDP_A, strlen(SDP_A)) < 0) {
		osip_message_free(m);
		return NULL;
	}
	return m;
}

static osip_message_t *build_ok_a(void)
{
	osip_message_t *req = NULL, *m;

	if (osip_message_init(&req) != 0)
		return NULL;
	if (osip_message_parse(req, a_invite, strlen(a_invite)) != 0) {
		osip_message_free(req);
		return NULL;
	}
	m = cp_sip_make_response(req, 200, "OK", "Pz5Gt8Yh1Qa4");
	if (m) {
		osip_record_route_t *rr = osip_list_get(&req->record_routes, 0), *c = NULL;

		osip_message_set_contact(m, "<sip:tollgate@198.18.0.1:5060>");
		if (rr && osip_record_route_clone(rr, &c) == 0)
			osip_list_add(&m->record_routes, c, -1);
		if (cp_sip_add_header(m, "Server", "tollgate/0.1.0") < 0 ||
			cp_sip_set_body(m, "application/sdp", SDP_A, strlen(SDP_A)) < 0) {
			osip_message_free(m);
			m = NULL;
		}
	}
	osip_message_free(req);
	return m;
}

/* A row's message, and whether it reports that message's size (one row of each pair does). */
struct row {
	bool invite;
	bool report;
};

static osip_message_t *msg_of(struct bench_ctx *ctx)
{
	const struct row *r = bench_arg(ctx);

	return r->invite ? fx.invite_b : fx.ok_a;
}

/* Both serializers agree on the message, or the row fails. */
static int write_setup(struct bench_ctx *ctx)
{
	osip_message_t *m = msg_of(ctx);
	char *text = NULL;
	size_t len = 0, text_len = 0;
	int rc;

	if (!m || !fx.buf) {
		bench_error(ctx, "the message could not be built");
		return -ENOMEM;
	}
	osip_message_force_update(m);
	rc = cp_sip_write(m, fx.buf, CP_SIP_WRITE_MAX, &len);
	if (rc < 0) {
		bench_error(ctx, "cp_sip_write: %s", strerror(-rc));
		return rc;
	}
	if (osip_message_to_str(m, &text, &text_len) != 0 || !text) {
		bench_error(ctx, "osip_message_to_str failed");
		return -EPROTO;
	}
	rc = text_len == len && !memcmp(text, fx.buf, len) ? 0 : -EPROTO;
	if (rc)
		bench_error(ctx, "the two serializers disagree (%zu / %zu bytes)", len, text_len);
	osip_free(text);
	osip_message_force_update(m);
	if (((const struct row *)bench_arg(ctx))->report)
		bench_report(ctx,
			((const struct row *)bench_arg(ctx))->invite ? "sip_write_invite_bytes"
								     : "sip_write_ok_bytes",
			(double)len);
	return rc;
}

static int run_osip(struct bench_ctx *ctx, uint64_t n)
{
	osip_message_t *m = msg_of(ctx);
	char *text;
	size_t len;

	for (uint64_t i = 0; i < n; i++) {
		osip_message_force_update(m);
		if (osip_message_to_str(m, &text, &len) != 0) {
			bench_error(ctx, "osip_message_to_str failed");
			return -EPROTO;
		}
		osip_free(text);
	}
	return 0;
}

static int run_cp(struct bench_ctx *ctx, uint64_t n)
{
	osip_message_t *m = msg_of(ctx);
	size_t len;

	for (uint64_t i = 0; i < n; i++) {
		if (cp_sip_write(m, fx.buf, CP_SIP_WRITE_MAX, &len) != 0) {
			bench_error(ctx, "cp_sip_write failed");
			return -EPROTO;
		}
		/* the text must be produced, not optimized away */
		__asm__ volatile("" : : "r"(fx.buf) : "memory");
	}
	return 0;
}

static const struct row invite_osip = {true, true}, invite_cp = {true, false},
			ok_osip = {false, true}, ok_cp = {false, false};

static const struct bench_def write_benches[] = {
	{.name = "sip_write_invite_osip",
		.unit = "msg",
		.scale = BENCH_SCALE_K,
		.setup = write_setup,
		.run = run_osip,
		.arg = (void *)&invite_osip},
	{.name = "sip_write_invite_cp",
		.unit = "msg",
		.scale = BENCH_SCALE_K,
		.setup = write_setup,
		.run = run_cp,
		.arg = (void *)&invite_cp},
	{.name = "sip_write_ok_osip",
		.unit = "msg",
		.scale = BENCH_SCALE_K,
		.setup = write_setup,
		.run = run_osip,
		.arg = (void *)&ok_osip},
	{.name = "sip_write_ok_cp",
		.unit = "msg",
		.scale = BENCH_SCALE_K,
		.setup = write_setup,
		.run = run_cp,
		.arg = (void *)&ok_cp},
};

static const struct bench_ratio write_ratios[] = {
	{"sip_write_invite_speedup", "sip_write_invite_osip_ns", "sip_write_invite_cp_ns"},
	{"sip_write_ok_speedup", "sip_write_ok_osip_ns", "sip_write_ok_cp_ns"},
};

static const struct bench_suite write_suite = {
	.name = "tg-bench-sip-write",
	.defs = write_benches,
	.n_defs = sizeof(write_benches) / sizeof(write_benches[0]),
	.ratios = write_ratios,
	.n_ratios = sizeof(write_ratios) / sizeof(write_ratios[0]),
};

int main(int argc, char **argv)
{
	struct bench_opts o;
	int rc;

	bench_opts_init(&o);
	rc = bench_parse_args(&write_suite, &o, &argc, argv);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (argc > 1) {
		fprintf(stderr, "tg-bench-sip-write: unknown argument '%s' (see --help)\n",
			argv[1]);
		return 2;
	}
	if (parser_init() != 0) {
		fprintf(stderr, "tg-bench-sip-write: parser_init failed\n");
		return 1;
	}
	fx.invite_b = build_invite_b();
	fx.ok_a = build_ok_a();
	fx.buf = malloc(CP_SIP_WRITE_MAX);
	rc = bench_run_suite(&write_suite, &o);
	osip_message_free(fx.invite_b);
	osip_message_free(fx.ok_a);
	free(fx.buf);
	return rc ? 1 : 0;
}
