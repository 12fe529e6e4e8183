/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the SIP receive path past the parser: libosip2's parser, our checks (as
 * the transport applies them: only what passes goes up), the transaction layer, dialogs and the
 * B2BUA, through b2b_sip_rx() as the transport calls it. The dataplane is down (the channel's
 * instance name is nobody's), so a routed INVITE gets 503 and one no rule routes gets 404; every
 * other method meets the transaction and dialog code (CANCEL matching, ACK absorption, 481
 * outside a dialog, stray responses). An input holding the marker "\n%%\n" is two messages
 * sent one after the other (an INVITE then its CANCEL or ACK, say), so the second finds the
 * first's transaction. Each input starts from a fresh B2BUA, so a crash reproduces alone.
 * Answers go to 127.0.0.1:5999 over a socket of our own: nobody listens there. FUZZ_B2B_DEBUG=1
 * prints what each input did (checks refused, counters).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "b2b_call.h"
#include "b2b_config.h"
#include "cp_dp.h"
#include "cp_loop.h"
#include "cp_route.h"
#include "cp_sip_msg.h"
#include "cp_sip_transport.h"
#include "cp_sip_txn.h"
#include "tg_log.h"
#include "tg_time.h"

static const char marker[] = "\n%%\n";

static struct cp_loop *loop;
static struct cp_sip_transport *transport;
static struct cp_dp *dp;
static struct cp_route_config route_cfg;
static struct cp_route_table *routes;
static struct b2b_config cfg;
static struct b2b_params params;
static struct b2b *b2b;
static struct cp_sip_peer peer;
static bool debug; /* FUZZ_B2B_DEBUG set: what each input did, on stderr */

static void die(const char *what)
{
	fprintf(stderr, "fuzz_b2b: %s\n", what);
	abort();
}

static void on_rx(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg)
{
	(void)arg;
	/* nothing is sent to this transport; if something were, it goes the same way */
	if (b2b)
		b2b_sip_rx(t, msg, from, b2b);
	else
		osip_message_free(msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cp_dp_params dpp = {
		.dp_timeout_ns = 1000 * TG_NS_PER_MS,
		.request_timeout_ns = 1000 * TG_NS_PER_MS,
		.check_interval_ns = 1000 * TG_NS_PER_MS,
		.backlog_max = 16,
	};
	struct sockaddr_in *sin = (struct sockaddr_in *)&peer.addr;
	static char instance[48];
	char err[CP_ROUTE_ERR_LEN];

	(void)argc;
	(void)argv;
	debug = getenv("FUZZ_B2B_DEBUG") != NULL;
	parser_init();
	osip_trace_initialize(TRACE_LEVEL0, NULL);
	for (int l = 0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
	tg_log_set_level("all", "err");

	loop = cp_loop_new();
	if (!loop)
		die("cp_loop_new");
	transport = cp_sip_transport_new(loop, "127.0.0.1:0", on_rx, NULL);
	if (!transport)
		die("cp_sip_transport_new");
	snprintf(instance, sizeof(instance), "fuzzb2b-nobody-%d", (int)getpid());
	dpp.instance = instance;
	dp = cp_dp_new(loop, &dpp, NULL, NULL, NULL);
	if (!dp)
		die("cp_dp_new");
	/* users starting with 1 are routed (then 503: no dataplane), the rest get 404 */
	snprintf(route_cfg.rules, sizeof(route_cfg.rules), "1*@* => 127.0.0.1:5999");
	routes = cp_route_table_new(&route_cfg, err, sizeof(err));
	if (!routes)
		die(err);
	cfg.max_calls = 1000;
	cfg.retry_after_s = 5;
	cfg.max_duration_ms = 3600 * 1000;
	cfg.no_answer_ms = 60 * 1000;
	snprintf(cfg.codecs, sizeof(cfg.codecs), "PCMU,PCMA");
	params.loop = loop;
	params.transport = transport;
	params.dp = dp;
	params.cfg = &cfg;
	params.routes = routes;
	params.cdr = NULL;
	params.user_agent = "tollgate-fuzz";

	peer.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (peer.fd < 0)
		die("socket");
	sin->sin_family = AF_INET;
	sin->sin_port = htons(5999);
	inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
	peer.len = sizeof(*sin);
	peer.stream = false;
	return 0;
}

/* One message as the transport hands it up: parsed, checked, then to the B2BUA. */
static void one(const uint8_t *data, size_t size)
{
	osip_message_t *m;
	char reason[160];
	long body;

	if (size == 0 || size > CP_SIP_MAX_MSG || osip_message_init(&m) != 0)
		return;
	if (osip_message_parse(m, (const char *)data, size) != 0) {
		osip_message_free(m);
		return;
	}
	body = cp_sip_body_offset((const char *)data, size);
	if (cp_sip_check(m, body < 0 ? 0 : size - (size_t)body, reason, sizeof(reason)) != 0) {
		if (debug)
			fprintf(stderr, "fuzz_b2b: refused: %s\n", reason);
		osip_message_free(m);
		return;
	}
	b2b_sip_rx(transport, m, &peer, b2b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *cut = NULL;

	b2b = b2b_new(&params);
	if (!b2b)
		die("b2b_new");
	if (size >= sizeof(marker) - 1)
		cut = memmem(data, size, marker, sizeof(marker) - 1);
	if (cut) {
		size_t first = (size_t)(cut - data);
		size_t skip = first + sizeof(marker) - 1;

		one(data, first);
		one(data + skip, size - skip);
	} else {
		one(data, size);
	}
	/* what is left (server transactions waiting for timers, calls) goes with the B2BUA */
	if (debug) {
		const struct b2b_counters *c = b2b_counters(b2b);
		const struct cp_txn_counters *tc = b2b_txn_counters(b2b);

		fprintf(stderr,
			"fuzz_b2b: offered %lu no_route %lu media %lu no_dialog %lu options %lu | "
			"server %lu client %lu absorbed %lu stray_acks %lu stray_resp %lu\n",
			(unsigned long)c->calls_offered, (unsigned long)c->rejected_no_route,
			(unsigned long)c->rejected_media, (unsigned long)c->no_dialog,
			(unsigned long)c->options, (unsigned long)tc->server_created,
			(unsigned long)tc->client_created,
			(unsigned long)tc->retransmissions_absorbed, (unsigned long)tc->stray_acks,
			(unsigned long)tc->stray_responses);
	}
	b2b_free(b2b);
	b2b = NULL;
	return 0;
}
