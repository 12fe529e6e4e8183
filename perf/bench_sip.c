/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tg-bench-sip: what libosip2 costs per INVITE on one core, the floor under the b2bua's
 * per-call work. The message is a text fixture (a carrier-style INVITE with an SDP offer), read
 * once at start-up: from --fixture PATH, else from the source tree's perf/fixtures/, whose path
 * is compiled in so `meson test` and perf/run find it from any working directory.
 *
 * Rows: parse (init + parse + free), parse + serialize (plus osip_message_to_str and freeing the
 * string; parsing leaves the message marked dirty, so this really rebuilds the text), and parse
 * + SDP (plus sdp_message_parse of the body, which the b2bua needs for media anchoring).
 * Every op checks the parser's return code: a fixture that stops parsing fails the row.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/sdp_message.h>

#include "bench.h"

#ifndef TG_PERF_FIXTURE_DIR
#define TG_PERF_FIXTURE_DIR "perf/fixtures"
#endif
#define FIXTURE_MAX (64 * 1024)

static struct {
	char *buf; /* the INVITE with CRLF line ends, NUL-terminated */
	size_t len;
} fixture;

/*
 * Reads the fixture and gives it CRLF line ends (an editor may have dropped the CRs), then checks
 * that Content-Length matches the body: a fixture that lies about it would benchmark an error
 * path. 0 or -errno, with the reason on stderr.
 */
static int fixture_load(const char *path)
{
	char *raw, *out, *body, *cl;
	size_t n, o = 0;
	long want;
	FILE *f;

	f = fopen(path, "rb");
	if (!f) {
		int rc = -errno;

		fprintf(stderr, "tg-bench-sip: %s: %s\n", path, strerror(-rc));
		return rc;
	}
	raw = malloc(FIXTURE_MAX);
	out = malloc(2 * FIXTURE_MAX + 1);
	if (!raw || !out) {
		fclose(f);
		free(raw);
		free(out);
		return -ENOMEM;
	}
	n = fread(raw, 1, FIXTURE_MAX, f);
	fclose(f);
	if (n == 0 || n == FIXTURE_MAX) {
		fprintf(stderr, "tg-bench-sip: %s: empty or larger than %d bytes\n", path,
			FIXTURE_MAX);
		free(raw);
		free(out);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = raw[i];
	}
	out[o] = '\0';
	free(raw);

	body = strstr(out, "\r\n\r\n");
	cl = strcasestr(out, "\r\nContent-Length:");
	if (!body || !cl || cl > body) {
		fprintf(stderr, "tg-bench-sip: %s: no header/body separator or Content-Length\n",
			path);
		free(out);
		return -EINVAL;
	}
	body += 4;
	want = strtol(cl + strlen("\r\nContent-Length:"), NULL, 10);
	if (want != (long)(out + o - body)) {
		fprintf(stderr, "tg-bench-sip: %s: Content-Length %ld, body is %zu bytes\n", path,
			want, (size_t)(out + o - body));
		free(out);
		return -EINVAL;
	}
	fixture.buf = out;
	fixture.len = o;
	return 0;
}

static int parse(struct bench_ctx *ctx, osip_message_t **msg)
{
	int rc;

	rc = osip_message_init(msg);
	if (rc != OSIP_SUCCESS) {
		bench_error(ctx, "osip_message_init: %d", rc);
		return -ENOMEM;
	}
	rc = osip_message_parse(*msg, fixture.buf, fixture.len);
	if (rc != OSIP_SUCCESS) {
		bench_error(ctx, "osip_message_parse: %d", rc);
		osip_message_free(*msg);
		*msg = NULL;
		return -EPROTO;
	}
	return 0;
}

/* The first SDP body of a parsed message, parsed; NULL when there is none or it fails. */
static sdp_message_t *parse_sdp(osip_message_t *msg)
{
	osip_body_t *b = NULL;
	sdp_message_t *sdp;

	if (osip_message_get_body(msg, 0, &b) < 0 || !b || !b->body)
		return NULL;
	if (sdp_message_init(&sdp) != OSIP_SUCCESS)
		return NULL;
	if (sdp_message_parse(sdp, b->body) != OSIP_SUCCESS) {
		sdp_message_free(sdp);
		return NULL;
	}
	return sdp;
}

/*
 * Once per row: the fixture must parse into an INVITE with a body, serialize, parse again from
 * its own output with the same Call-ID, and carry an audio offer. Benchmarking a message the
 * parser half-rejects would measure nothing useful.
 */
static int sip_setup(struct bench_ctx *ctx)
{
	osip_message_t *a = NULL, *b = NULL;
	osip_call_id_t *ca, *cb;
	sdp_message_t *sdp;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!fixture.buf) {
		bench_error(ctx, "no fixture loaded");
		return -ENOENT;
	}
	rc = parse(ctx, &a);
	if (rc)
		return rc;
	rc = -EPROTO;
	if (!MSG_IS_INVITE(a) || osip_list_size(&a->bodies) != 1) {
		bench_error(ctx, "fixture is not an INVITE with one body");
		goto out;
	}
	if (osip_message_to_str(a, &text, &len) != OSIP_SUCCESS || !text) {
		bench_error(ctx, "osip_message_to_str failed on the fixture");
		goto out;
	}
	if (osip_message_init(&b) != OSIP_SUCCESS || osip_message_parse(b, text, len) != 0) {
		bench_error(ctx, "the serialized fixture does not parse again");
		goto out;
	}
	ca = osip_message_get_call_id(a);
	cb = osip_message_get_call_id(b);
	if (!ca || !cb || osip_call_id_match(ca, cb) != OSIP_SUCCESS) {
		bench_error(ctx, "Call-ID lost in the parse/serialize round trip");
		goto out;
	}
	sdp = parse_sdp(a);
	if (!sdp || !sdp_message_m_media_get(sdp, 0) ||
		strcmp(sdp_message_m_media_get(sdp, 0), "audio")) {
		bench_error(ctx, "the fixture's body is not an SDP audio offer");
		sdp_message_free(sdp);
		goto out;
	}
	sdp_message_free(sdp);
	if (bench_arg(ctx))
		bench_report(ctx, "sip_invite_bytes", (double)fixture.len);
	rc = 0;
out:
	osip_free(text);
	osip_message_free(a);
	osip_message_free(b);
	return rc;
}

static int run_parse(struct bench_ctx *ctx, uint64_t n)
{
	osip_message_t *msg;
	int rc;

	for (uint64_t i = 0; i < n; i++) {
		rc = parse(ctx, &msg);
		if (rc)
			return rc;
		osip_message_free(msg);
	}
	return 0;
}

static int run_parse_serialize(struct bench_ctx *ctx, uint64_t n)
{
	osip_message_t *msg;
	char *text;
	size_t len;
	int rc;

	for (uint64_t i = 0; i < n; i++) {
		rc = parse(ctx, &msg);
		if (rc)
			return rc;
		rc = osip_message_to_str(msg, &text, &len);
		osip_message_free(msg);
		if (rc != OSIP_SUCCESS || len < fixture.len / 2) {
			bench_error(ctx, "osip_message_to_str: %d, %zu bytes", rc, len);
			osip_free(text);
			return -EPROTO;
		}
		osip_free(text);
	}
	return 0;
}

static int run_parse_sdp(struct bench_ctx *ctx, uint64_t n)
{
	osip_message_t *msg;
	sdp_message_t *sdp;
	int rc;

	for (uint64_t i = 0; i < n; i++) {
		rc = parse(ctx, &msg);
		if (rc)
			return rc;
		sdp = parse_sdp(msg);
		osip_message_free(msg);
		if (!sdp) {
			bench_error(ctx, "sdp_message_parse failed");
			return -EPROTO;
		}
		sdp_message_free(sdp);
	}
	return 0;
}

static const struct bench_def sip_benches[] = {
	/* arg != NULL: this row also reports the fixture's size */
	{.name = "sip_parse",
		.scale = BENCH_SCALE_K,
		.setup = sip_setup,
		.run = run_parse,
		.arg = (void *)"size"},
	{.name = "sip_parse_serialize",
		.scale = BENCH_SCALE_K,
		.setup = sip_setup,
		.run = run_parse_serialize},
	{.name = "sip_parse_sdp", .scale = BENCH_SCALE_K, .setup = sip_setup, .run = run_parse_sdp},
};

static const struct bench_suite sip_suite = {
	.name = "tg-bench-sip",
	.defs = sip_benches,
	.n_defs = sizeof(sip_benches) / sizeof(sip_benches[0]),
};

int main(int argc, char **argv)
{
	const char *path = TG_PERF_FIXTURE_DIR "/invite_sdp.sip";
	struct bench_opts o;
	bool help = false;
	int rc;

	for (int i = 1; i < argc; i++)
		help |= !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
	bench_opts_init(&o);
	rc = bench_parse_args(&sip_suite, &o, &argc, argv);
	if (rc) {
		if (help)
			printf("  --fixture PATH      the INVITE to use (default %s)\n", path);
		return rc > 0 ? 0 : 2;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--fixture") && i + 1 < argc) {
			path = argv[++i];
		} else {
			fprintf(stderr, "tg-bench-sip: unknown argument '%s' (see --help)\n",
				argv[i]);
			return 2;
		}
	}
	if (parser_init() != 0) {
		fprintf(stderr, "tg-bench-sip: parser_init failed\n");
		return 1;
	}
	rc = fixture_load(path);
	if (rc == 0)
		rc = bench_run_suite(&sip_suite, &o);
	free(fixture.buf);
	return rc ? 1 : 0;
}
