/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP transactions against a real peer: the layer runs on a real loop and transport bound to
 * 127.0.0.1, the peer is a plain UDP socket. Server INVITE and non-INVITE transactions,
 * retransmissions absorbed and answered again by libosip2, the ACK of a non-2xx absorbed and
 * the ACK of a 2xx handed up, CANCEL matched to its INVITE, a client INVITE retransmitted on
 * Timer A and ACKed by libosip2 after a 486, a client request nobody answers, the end of
 * every transaction (end() once each, nothing left), and completed records standing in for
 * transactions that only absorb retransmissions. Timers with RFC 3261 lengths (Timer D, H,
 * J of 32 s) are avoided by naming a reliable transport in Via where a transaction must end
 * within the test: libosip2 then runs those timers at zero. Waits are bounded by conditions, not
 * fixed sleeps, so a loaded machine slows the file down (~4 s unloaded) without failing it.
 * TXN_TEST_DEBUG=1 prints when each awaited retransmission arrived.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "cp_dialog.h"
#include "cp_loop.h"
#include "cp_loop_testing.h"
#include "cp_sip_transport.h"
#include "cp_sip_txn.h"
#include "cp_txn_pool.h"
#include "tg_time.h"

#define MAX_TX 16
#define MAX_RX 32

struct rec {
	struct cp_txn *tx;
	bool is_cancel;
	int ended;
	struct cp_txn *cancel_target; /* for a CANCEL: what cp_txn_cancel_target found */
};

struct fx {
	struct cp_loop *loop;
	struct cp_sip_transport *t;
	struct cp_txn_layer *x;
	int peer_fd;
	uint16_t peer_port;
	struct sockaddr_in our;	    /* the transport's address */
	char our_hp[64];	    /* "127.0.0.1:PORT" */
	struct cp_sip_peer to_peer; /* the peer as the layer reaches it */

	/* what the TU saw */
	struct rec recs[MAX_TX];
	unsigned nrecs;
	unsigned requests, acks, responses, timeouts, ends, strays;
	int resp_codes[8];
	unsigned nresp;
	bool answer_100;  /* request(): answer INVITEs with 100 at once */
	int answer_final; /* request(): answer every new request with this (0: no) */

	unsigned sent; /* datagrams the peer sent to the transport */

	/* what the peer received, parsed */
	osip_message_t *rx[MAX_RX];
	unsigned nrx;
};

static struct rec *rec_of(struct fx *f, struct cp_txn *tx)
{
	for (unsigned i = 0; i < f->nrecs; i++)
		if (f->recs[i].tx == tx && !f->recs[i].ended)
			return &f->recs[i];
	return NULL;
}

static void respond(struct cp_txn *tx, int code)
{
	osip_message_t *r = cp_sip_make_response(cp_txn_msg(tx), code, NULL, "uastag1");

	assert_non_null(r);
	assert_int_equal(cp_txn_respond(tx, r), 0);
}

/* ---- the transaction user ------------------------------------------------------------------ */

static void on_request(
	void *arg, struct cp_txn *tx, osip_message_t *req, const struct cp_sip_peer *from)
{
	struct fx *f = arg;
	struct rec *r;

	assert_true(f->nrecs < MAX_TX);
	assert_ptr_equal(cp_txn_msg(tx), req);
	assert_int_equal(ntohs(((const struct sockaddr_in *)&from->addr)->sin_port), f->peer_port);
	r = &f->recs[f->nrecs++];
	r->tx = tx;
	f->requests++;
	if (MSG_IS_CANCEL(req)) {
		r->is_cancel = true;
		r->cancel_target = cp_txn_cancel_target(f->x, tx);
		return;
	}
	if (MSG_IS_INVITE(req) && f->answer_100)
		respond(tx, 100);
	if (f->answer_final)
		respond(tx, f->answer_final);
}

static void on_ack(void *arg, osip_message_t *ack, const struct cp_sip_peer *from)
{
	struct fx *f = arg;

	(void)from;
	f->acks++;
	osip_message_free(ack);
}

static void on_response(void *arg, struct cp_txn *tx, osip_message_t *resp)
{
	struct fx *f = arg;

	assert_non_null(rec_of(f, tx));
	if (f->nresp < 8)
		f->resp_codes[f->nresp++] = resp->status_code;
	f->responses++;
}

static void on_stray_2xx(void *arg, osip_message_t *resp, const struct cp_sip_peer *from)
{
	struct fx *f = arg;

	(void)from;
	f->strays++;
	osip_message_free(resp);
}

static void on_timeout(void *arg, struct cp_txn *tx)
{
	struct fx *f = arg;

	assert_non_null(rec_of(f, tx));
	f->timeouts++;
}

static void on_end(void *arg, struct cp_txn *tx)
{
	struct fx *f = arg;
	struct rec *r = rec_of(f, tx);

	if (!r)
		fail_msg("end() for a transaction never seen (or ended twice)");
	r->ended++;
	f->ends++;
}

static const struct cp_txn_ops ops = {
	.request = on_request,
	.ack = on_ack,
	.response = on_response,
	.stray_2xx = on_stray_2xx,
	.timeout = on_timeout,
	.end = on_end,
};

static void rx(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg)
{
	struct fx *f = arg;

	cp_txn_layer_rx(t, msg, from, f->x);
}

/* ---- the loop and the peer ----------------------------------------------------------------- */

static void peer_send(struct fx *f, const char *text)
{
	ssize_t n = sendto(f->peer_fd, text, strlen(text), 0, (const struct sockaddr *)&f->our,
		sizeof(f->our));

	assert_int_equal(n, (ssize_t)strlen(text));
	f->sent++;
}

static void rx_clear(struct fx *f)
{
	for (unsigned i = 0; i < f->nrx; i++)
		osip_message_free(f->rx[i]);
	f->nrx = 0;
}

/* Everything the peer got since the last call, parsed and added to f->rx[] */
static unsigned peer_collect(struct fx *f)
{
	char buf[8192];
	ssize_t n;

	while ((n = recv(f->peer_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		osip_message_t *m;

		assert_true(f->nrx < MAX_RX);
		buf[n] = '\0';
		assert_int_equal(osip_message_init(&m), 0);
		if (osip_message_parse(m, buf, (size_t)n) != 0)
			fail_msg("the peer got something that does not parse:\n%s", buf);
		f->rx[f->nrx++] = m;
	}
	return f->nrx;
}

static unsigned peer_drain(struct fx *f)
{
	rx_clear(f);
	return peer_collect(f);
}

/*
 * Runs the loop until the transport has read everything the peer sent (the loop's clock is
 * read once per iteration, so a fixed short run could end before it looks at the socket on a
 * loaded machine).
 */
static void sync_rx(struct fx *f)
{
	for (int i = 0; i < 400 && cp_sip_transport_counters(f->t)->rx_msgs < f->sent; i++)
		cp_test_run_ms(f->loop, 5);
	assert_int_equal(cp_sip_transport_counters(f->t)->rx_msgs, f->sent);
	cp_test_run_ms(f->loop, 1);
}

static unsigned rx_count(struct fx *f, const char *method, int code)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->nrx; i++) {
		osip_message_t *m = f->rx[i];

		if (method && MSG_IS_REQUEST(m) && !strcmp(m->sip_method, method))
			n++;
		else if (!method && MSG_IS_RESPONSE(m) && m->status_code == code)
			n++;
	}
	return n;
}

/* Runs the loop until the peer holds n of (method, code) in f->rx[] or max_ms passed; the
 * time it took in ms. */
static uint64_t wait_for(struct fx *f, const char *method, int code, unsigned n, unsigned max_ms)
{
	uint64_t t0 = cp_test_now_ms();

	while (rx_count(f, method, code) < n && cp_test_now_ms() - t0 < max_ms) {
		unsigned before = f->nrx;

		cp_test_run_ms(f->loop, 10);
		peer_collect(f);
		if (getenv("TXN_TEST_DEBUG") && f->nrx != before)
			fprintf(stderr, "  +%u at %lu ms\n", f->nrx - before,
				(unsigned long)(cp_test_now_ms() - t0));
	}
	return cp_test_now_ms() - t0;
}

static osip_message_t *rx_find(struct fx *f, const char *method, int code)
{
	for (unsigned i = 0; i < f->nrx; i++) {
		osip_message_t *m = f->rx[i];

		if ((method && MSG_IS_REQUEST(m) && !strcmp(m->sip_method, method)) ||
			(!method && MSG_IS_RESPONSE(m) && m->status_code == code))
			return m;
	}
	return NULL;
}

static const char *branch_of(const osip_message_t *m)
{
	osip_via_t *v = osip_list_get(&m->vias, 0);
	osip_generic_param_t *b = NULL;

	if (!v || osip_via_param_get_byname(v, "branch", &b) != 0 || !b)
		return NULL;
	return b->gvalue;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	const char *bound;
	char local[72];

	f->loop = cp_loop_new();
	assert_non_null(f->loop);
	f->t = cp_sip_transport_new(f->loop, "127.0.0.1:0", rx, f);
	assert_non_null(f->t);
	f->x = cp_txn_layer_new(f->loop, f->t, &ops, f);
	assert_non_null(f->x);
	bound = cp_sip_transport_bound(f->t, 0);
	assert_non_null(bound);
	snprintf(f->our_hp, sizeof(f->our_hp), "%s", bound);
	f->our.sin_family = AF_INET;
	f->our.sin_port = htons((uint16_t)atoi(strrchr(bound, ':') + 1));
	inet_pton(AF_INET, "127.0.0.1", &f->our.sin_addr);
	assert_int_not_equal(f->our.sin_port, 0);

	f->peer_fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(f->peer_fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(f->peer_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(f->peer_fd, (struct sockaddr *)&a, &alen), 0);
	f->peer_port = ntohs(a.sin_port);
	assert_int_equal(cp_sip_transport_route(f->t, (struct sockaddr *)&a, sizeof(a), false,
				 &f->to_peer, local, sizeof(local)),
		0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rx_clear(f);
	cp_txn_layer_free(f->x);
	cp_sip_transport_free(f->t);
	cp_loop_free(f->loop);
	close(f->peer_fd);
	free(f);
	return 0;
}

/* ---- messages from the peer ---------------------------------------------------------------- */

/* A request from the peer; proto "UDP" or "TCP" (only the Via says so: it travels over UDP) */
static void peer_request(struct fx *f, const char *method, const char *cseq_method,
	const char *branch, const char *proto, const char *to_tag, const char *callid)
{
	char buf[2048];

	snprintf(buf, sizeof(buf),
		"%s sip:bob@%s SIP/2.0\r\n"
		"Via: SIP/2.0/%s 127.0.0.1:%u;branch=%s;rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@127.0.0.1>;tag=peertag\r\n"
		"To: <sip:bob@127.0.0.1>%s%s\r\n"
		"Call-ID: %s\r\n"
		"CSeq: 1 %s\r\n"
		"Contact: <sip:alice@127.0.0.1:%u>\r\n"
		"Content-Length: 0\r\n\r\n",
		method, f->our_hp, proto, f->peer_port, branch, to_tag ? ";tag=" : "",
		to_tag ? to_tag : "", callid, cseq_method, f->peer_port);
	peer_send(f, buf);
}

/* The peer's response to a request it received */
static void peer_respond(struct fx *f, const osip_message_t *req, int code)
{
	osip_message_t *r = cp_sip_make_response(req, code, NULL, code > 100 ? "peertag" : NULL);
	char *s = NULL;
	size_t len;

	assert_non_null(r);
	assert_int_equal(osip_message_to_str(r, &s, &len), 0);
	assert_int_equal(
		sendto(f->peer_fd, s, len, 0, (const struct sockaddr *)&f->our, sizeof(f->our)),
		(ssize_t)len);
	f->sent++;
	osip_free(s);
	osip_message_free(r);
}

/* A request of ours toward the peer, its top Via naming proto */
static osip_message_t *our_request(
	struct fx *f, const char *method, const char *proto, const char *branch)
{
	char buf[2048];
	osip_message_t *m;

	snprintf(buf, sizeof(buf),
		"%s sip:peer@127.0.0.1:%u SIP/2.0\r\n"
		"Via: SIP/2.0/%s %s;branch=%s;rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:tollgate@%s>;tag=ourtag\r\n"
		"To: <sip:peer@127.0.0.1:%u>\r\n"
		"Call-ID: our-%s\r\n"
		"CSeq: 1 %s\r\n"
		"Contact: <sip:tollgate@%s>\r\n"
		"Content-Length: 0\r\n\r\n",
		method, f->peer_port, proto, f->our_hp, branch, f->our_hp, f->peer_port, branch,
		method, f->our_hp);
	assert_int_equal(osip_message_init(&m), 0);
	assert_int_equal(osip_message_parse(m, buf, strlen(buf)), 0);
	return m;
}

/* ---- server transactions ------------------------------------------------------------------- */

static void test_invite_retransmission_absorbed(void **state)
{
	struct fx *f = *state;

	f->answer_100 = true;
	peer_request(f, "INVITE", "INVITE", "z9hG4bKinv1", "UDP", NULL, "call-1");
	sync_rx(f);
	assert_int_equal(f->requests, 1);
	assert_int_equal(cp_txn_counters(f->x)->server_created, 1);
	assert_int_equal(cp_txn_count(f->x), 1);
	assert_true(cp_txn_is_invite(f->recs[0].tx));
	assert_int_equal(peer_drain(f), 1);
	assert_int_equal(rx_count(f, NULL, 100), 1);

	/* the same INVITE again: no new transaction, no request(); libosip2 sends the 100 again */
	peer_request(f, "INVITE", "INVITE", "z9hG4bKinv1", "UDP", NULL, "call-1");
	sync_rx(f);
	assert_int_equal(f->requests, 1);
	assert_int_equal(cp_txn_counters(f->x)->server_created, 1);
	assert_int_equal(cp_txn_counters(f->x)->retransmissions_absorbed, 1);
	assert_int_equal(peer_drain(f), 1);
	assert_int_equal(rx_count(f, NULL, 100), 1);
	assert_int_equal(cp_txn_count(f->x), 1);
	assert_int_equal(f->ends, 0);
}

static void test_final_retransmitted_and_ack_absorbed(void **state)
{
	struct fx *f = *state;
	struct cp_txn *tx;
	osip_message_t *r;

	peer_request(f, "INVITE", "INVITE", "z9hG4bKinv2", "UDP", NULL, "call-2");
	sync_rx(f);
	assert_int_equal(f->requests, 1);
	tx = f->recs[0].tx;
	respond(tx, 486);
	assert_int_equal(cp_txn_final_status(tx), 486);
	assert_int_equal(peer_drain(f), 1);
	r = rx_find(f, NULL, 486);
	assert_non_null(r);
	assert_string_equal(branch_of(r), "z9hG4bKinv2");

	/* the peer did not hear it and sends the INVITE again: the 486 again */
	peer_request(f, "INVITE", "INVITE", "z9hG4bKinv2", "UDP", NULL, "call-2");
	sync_rx(f);
	assert_int_equal(f->requests, 1);
	peer_drain(f);
	assert_true(f->nrx >= 1 && rx_count(f, NULL, 486) == f->nrx);

	/* Timer G (T1 = 500 ms over UDP): the 486 once more without being asked */
	rx_clear(f);
	assert_true(wait_for(f, NULL, 486, 1, 5000) >= 400);
	assert_true(f->nrx >= 1 && rx_count(f, NULL, 486) == f->nrx);

	/* its ACK (same branch) belongs to the transaction: not handed up */
	peer_request(f, "ACK", "ACK", "z9hG4bKinv2", "UDP", "uastag1", "call-2");
	sync_rx(f);
	assert_int_equal(f->acks, 0);
	assert_int_equal(cp_txn_counters(f->x)->stray_acks, 0);
	/* and no more 486 after the ACK (Timer G stopped; what left before it is dropped) */
	peer_drain(f);
	cp_test_run_ms(f->loop, 600);
	assert_int_equal(peer_drain(f), 0);

	/* an ACK with another branch (the ACK for a 2xx) goes to the TU */
	peer_request(f, "ACK", "ACK", "z9hG4bKack2xx", "UDP", "uastag1", "call-2");
	sync_rx(f);
	assert_int_equal(f->acks, 1);
	assert_int_equal(cp_txn_counters(f->x)->stray_acks, 1);
	assert_int_equal(f->requests, 1);
	assert_int_equal(cp_txn_counters(f->x)->server_created, 1);
}

static void test_cancel(void **state)
{
	struct fx *f = *state;
	struct cp_txn *inv, *can;

	f->answer_100 = true;
	peer_request(f, "INVITE", "INVITE", "z9hG4bKinv3", "UDP", NULL, "call-3");
	sync_rx(f);
	peer_request(f, "CANCEL", "CANCEL", "z9hG4bKinv3", "UDP", NULL, "call-3");
	sync_rx(f);
	/* a server transaction of its own, which finds the INVITE's */
	assert_int_equal(f->requests, 2);
	assert_int_equal(cp_txn_counters(f->x)->server_created, 2);
	assert_int_equal(cp_txn_count(f->x), 2);
	inv = f->recs[0].tx;
	can = f->recs[1].tx;
	assert_ptr_not_equal(inv, can);
	assert_true(f->recs[1].is_cancel);
	assert_false(cp_txn_is_invite(can));
	assert_ptr_equal(f->recs[1].cancel_target, inv);
	assert_ptr_equal(cp_txn_cancel_target(f->x, can), inv);

	/* a CANCEL for another branch finds nothing */
	peer_request(f, "CANCEL", "CANCEL", "z9hG4bKnosuch", "UDP", NULL, "call-3");
	sync_rx(f);
	assert_int_equal(f->requests, 3);
	assert_null(f->recs[2].cancel_target);

	respond(can, 200);
	respond(inv, 487);
	peer_drain(f);
	assert_int_equal(rx_count(f, NULL, 100), 1);
	assert_int_equal(rx_count(f, NULL, 200), 1);
	assert_int_equal(rx_count(f, NULL, 487), 1);
	assert_int_equal(cp_txn_final_status(inv), 487);
	/* the CANCEL's transaction, answered over UDP, is a completed record now: ended */
	assert_int_equal(f->recs[1].ended, 1);
	assert_int_equal(cp_txn_completed_count(f->x), 1);
}

/* ---- client transactions ------------------------------------------------------------------- */

static void test_client_invite(void **state)
{
	struct fx *f = *state;
	struct cp_txn *tx;
	osip_message_t *inv, *ack;
	int owner;

	tx = cp_txn_request(
		f->x, our_request(f, "INVITE", "UDP", "z9hG4bKcli1"), &f->to_peer, &owner);
	assert_non_null(tx);
	f->recs[f->nrecs++].tx = tx;
	assert_ptr_equal(cp_txn_owner(tx), &owner);
	assert_true(cp_txn_is_invite(tx));
	assert_int_equal(cp_txn_counters(f->x)->client_created, 1);

	/* Timer A: sent at 0, again at 500 ms and 1.5 s (never sooner) */
	rx_clear(f);
	assert_true(wait_for(f, "INVITE", 0, 3, 6000) >= 1400);
	assert_true(f->nrx >= 3 && rx_count(f, "INVITE", 0) == f->nrx);
	inv = rx_find(f, "INVITE", 0);
	assert_string_equal(branch_of(inv), "z9hG4bKcli1");
	f->rx[0] = NULL; /* keep it: rx_clear frees the rest */
	for (unsigned i = 1; i < f->nrx; i++)
		osip_message_free(f->rx[i]);
	f->nrx = 0;

	peer_respond(f, inv, 180);
	sync_rx(f);
	assert_int_equal(f->responses, 1);
	assert_int_equal(f->resp_codes[0], 180);
	/* proceeding: no more retransmissions (what left before the 180 was read is dropped) */
	peer_drain(f);
	cp_test_run_ms(f->loop, 600);
	assert_int_equal(peer_drain(f), 0);

	peer_respond(f, inv, 486);
	sync_rx(f);
	assert_int_equal(f->responses, 2);
	assert_int_equal(f->resp_codes[1], 486);
	/* Timer D's wait is a completed record's: the transaction has ended */
	assert_int_equal(f->recs[0].ended, 1);
	assert_int_equal(cp_txn_count(f->x), 0);
	assert_int_equal(cp_txn_completed_count(f->x), 1);
	/* libosip2 ACKs a non-2xx itself: same branch, CSeq 1 ACK, the To tag of the answer */
	assert_int_equal(peer_drain(f), 1);
	ack = rx_find(f, "ACK", 0);
	assert_non_null(ack);
	assert_string_equal(branch_of(ack), "z9hG4bKcli1");
	assert_string_equal(ack->cseq->number, "1");
	assert_string_equal(ack->cseq->method, "ACK");
	{
		osip_generic_param_t *tag = NULL;

		assert_int_equal(osip_to_get_tag(ack->to, &tag), 0);
		assert_string_equal(tag->gvalue, "peertag");
	}
	/* the 486 again: ACKed again, not handed up again */
	peer_respond(f, inv, 486);
	sync_rx(f);
	assert_int_equal(f->responses, 2);
	assert_int_equal(peer_drain(f), 1);
	assert_int_equal(rx_count(f, "ACK", 0), 1);
	assert_int_equal(cp_txn_counters(f->x)->retransmissions_absorbed, 1);
	assert_int_equal(f->timeouts, 0);
	osip_message_free(inv);
}

static void test_client_non_invite_unanswered(void **state)
{
	struct fx *f = *state;
	struct cp_txn *tx;

	tx = cp_txn_request(
		f->x, our_request(f, "OPTIONS", "UDP", "z9hG4bKcli2"), &f->to_peer, NULL);
	assert_non_null(tx);
	f->recs[f->nrecs++].tx = tx;
	assert_false(cp_txn_is_invite(tx));
	/* Timer E retransmits; Timer F (32 s) is far: pending, no timeout() yet */
	rx_clear(f);
	assert_true(wait_for(f, "OPTIONS", 0, 2, 5000) >= 400);
	assert_true(f->nrx >= 2 && rx_count(f, "OPTIONS", 0) == f->nrx);
	assert_int_equal(f->timeouts, 0);
	assert_int_equal(f->ends, 0);
	assert_int_equal(cp_txn_count(f->x), 1);
	assert_int_equal(cp_txn_final_status(tx), 0);
}

static void test_client_request_refused(void **state)
{
	struct fx *f = *state;
	osip_message_t *m = our_request(f, "OPTIONS", "UDP", "z9hG4bKcli3");
	osip_via_t *via = osip_list_get(&m->vias, 0);

	/* no branch: refused, req freed */
	osip_list_remove(&m->vias, 0);
	osip_via_free(via);
	errno = 0;
	assert_null(cp_txn_request(f->x, m, &f->to_peer, NULL));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(cp_txn_count(f->x), 0);
}

/* ---- every transaction ends once ----------------------------------------------------------- */

static void test_all_end(void **state)
{
	struct fx *f = *state;
	struct cp_txn *c1, *c2, *c3, *s;
	osip_message_t *inv, *opt, *inv2;

	/* server: an INVITE answered 200 (ends at once, over UDP too) */
	f->answer_final = 200;
	peer_request(f, "INVITE", "INVITE", "z9hG4bKe1", "UDP", NULL, "call-e1");
	/* a BYE answered 200: Timer J is 0 on a reliable transport */
	peer_request(f, "BYE", "BYE", "z9hG4bKe2", "TCP", "x", "call-e2");
	sync_rx(f);
	assert_int_equal(f->requests, 2);
	/* an INVITE answered 486 and ACKed: Timer I is 0 on a reliable transport */
	f->answer_final = 0;
	peer_request(f, "INVITE", "INVITE", "z9hG4bKe3", "TCP", NULL, "call-e3");
	sync_rx(f);
	assert_int_equal(f->requests, 3);
	s = f->recs[2].tx;
	respond(s, 486);
	peer_request(f, "ACK", "ACK", "z9hG4bKe3", "TCP", "uastag1", "call-e3");
	sync_rx(f);
	assert_int_equal(f->acks, 0);

	/* client: an INVITE answered 200 (ends at once), one answered 486 (Timer D 0 over a
	 * reliable transport), an OPTIONS answered 200 (Timer K 0) */
	c1 = cp_txn_request(f->x, our_request(f, "INVITE", "UDP", "z9hG4bKe4"), &f->to_peer, NULL);
	c2 = cp_txn_request(f->x, our_request(f, "INVITE", "TCP", "z9hG4bKe5"), &f->to_peer, NULL);
	c3 = cp_txn_request(f->x, our_request(f, "OPTIONS", "TCP", "z9hG4bKe6"), &f->to_peer, NULL);
	assert_non_null(c1);
	assert_non_null(c2);
	assert_non_null(c3);
	f->recs[f->nrecs++].tx = c1;
	f->recs[f->nrecs++].tx = c2;
	f->recs[f->nrecs++].tx = c3;
	sync_rx(f);
	peer_drain(f);
	inv = opt = inv2 = NULL;
	for (unsigned i = 0; i < f->nrx; i++) {
		osip_message_t *m = f->rx[i];

		if (MSG_IS_REQUEST(m) && !strcmp(branch_of(m), "z9hG4bKe4"))
			inv = m;
		else if (MSG_IS_REQUEST(m) && !strcmp(branch_of(m), "z9hG4bKe5"))
			inv2 = m;
		else if (MSG_IS_REQUEST(m) && !strcmp(branch_of(m), "z9hG4bKe6"))
			opt = m;
	}
	assert_non_null(inv);
	assert_non_null(inv2);
	assert_non_null(opt);
	peer_respond(f, inv, 200);
	peer_respond(f, inv2, 486);
	peer_respond(f, opt, 200);
	sync_rx(f);
	assert_int_equal(f->responses, 3);
	assert_int_equal(f->timeouts, 0);

	/* all done: end() once for each of the six, nothing left */
	assert_int_equal(cp_txn_counters(f->x)->server_created, 3);
	assert_int_equal(cp_txn_counters(f->x)->client_created, 3);
	assert_int_equal(f->ends, 6);
	for (unsigned i = 0; i < f->nrecs; i++)
		assert_int_equal(f->recs[i].ended, 1);
	assert_int_equal(cp_txn_count(f->x), 0);
	assert_int_equal(cp_txn_counters(f->x)->freed, 6);
	/* libosip2's transactions came from the pool and went back (sanitizer builds: malloc) */
	assert_int_equal(cp_txn_pool_in_use(), 0);
	assert_true(cp_txn_pool_resident() >= (cp_txn_pool_active() ? 1 : 0));

	/* a 2xx retransmitted after its INVITE transaction is gone: stray_2xx() */
	peer_respond(f, inv, 200);
	sync_rx(f);
	assert_int_equal(f->strays, 1);
	assert_int_equal(f->responses, 3);
	/* any other response without a transaction: dropped and counted */
	peer_respond(f, opt, 200);
	sync_rx(f);
	assert_int_equal(cp_txn_counters(f->x)->stray_responses, 1);
}

/* ---- completed records ------------------------------------------------------------------ */

/*
 * Over UDP a BYE's server transaction absorbs retransmissions for Timer J (32 s) and an
 * OPTIONS client transaction for Timer K (5 s) after the final response. Both end for the TU
 * at once and live on as small records: the BYE again gets the same 200, the 200 again is
 * absorbed (not handed up, not a stray), and Timer K's record goes when Timer K would fire.
 */
static void test_completed_records(void **state)
{
	struct fx *f = *state;
	osip_message_t *opt = NULL, *first, *again;
	struct cp_txn *c;
	char *s1 = NULL, *s2 = NULL;
	size_t l1, l2;
	uint64_t t0;

	f->answer_final = 200;
	peer_request(f, "BYE", "BYE", "z9hG4bKdone1", "UDP", "x", "call-d1");
	sync_rx(f);
	assert_int_equal(f->requests, 1);
	assert_int_equal(f->ends, 1);
	assert_int_equal(cp_txn_count(f->x), 0);
	assert_int_equal(cp_txn_completed_count(f->x), 1);
	assert_int_equal(cp_txn_counters(f->x)->retired, 1);
	assert_int_equal(peer_drain(f), 1);
	first = rx_find(f, NULL, 200);
	assert_non_null(first);
	assert_int_equal(osip_message_to_str(first, &s1, &l1), 0);

	rx_clear(f);
	peer_request(f, "BYE", "BYE", "z9hG4bKdone1", "UDP", "x", "call-d1");
	sync_rx(f);
	assert_int_equal(f->requests, 1);
	assert_int_equal(cp_txn_counters(f->x)->server_created, 1);
	assert_int_equal(cp_txn_counters(f->x)->retransmissions_absorbed, 1);
	assert_int_equal(peer_drain(f), 1);
	again = rx_find(f, NULL, 200);
	assert_non_null(again);
	assert_int_equal(osip_message_to_str(again, &s2, &l2), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(s1, s2, l1);
	osip_free(s1);
	osip_free(s2);

	/* our OPTIONS answered 200: the response goes up once, then the record absorbs */
	c = cp_txn_request(
		f->x, our_request(f, "OPTIONS", "UDP", "z9hG4bKdone2"), &f->to_peer, NULL);
	assert_non_null(c);
	f->recs[f->nrecs++].tx = c;
	rx_clear(f);
	assert_true(wait_for(f, "OPTIONS", 0, 1, 2000) < 2000);
	for (unsigned i = 0; i < f->nrx && !opt; i++)
		if (MSG_IS_REQUEST(f->rx[i]))
			assert_int_equal(osip_message_clone(f->rx[i], &opt), 0);
	assert_non_null(opt);
	peer_respond(f, opt, 200);
	sync_rx(f);
	assert_int_equal(f->responses, 1);
	assert_int_equal(f->recs[1].ended, 1);
	assert_int_equal(cp_txn_count(f->x), 0);
	assert_int_equal(cp_txn_completed_count(f->x), 2);
	peer_respond(f, opt, 200);
	sync_rx(f);
	assert_int_equal(f->responses, 1);
	assert_int_equal(cp_txn_counters(f->x)->stray_responses, 0);
	assert_int_equal(cp_txn_counters(f->x)->retransmissions_absorbed, 2);
	/* nothing is sent back for a response */
	assert_int_equal(peer_drain(f), 0);

	/* Timer K (T4, 5 s): the OPTIONS record goes, the BYE's stays for Timer J */
	t0 = cp_test_now_ms();
	while (cp_txn_completed_count(f->x) > 1 && cp_test_now_ms() - t0 < 8000)
		cp_test_run_ms(f->loop, 100);
	assert_int_equal(cp_txn_completed_count(f->x), 1);
	assert_true(cp_test_now_ms() - t0 >= 4000);
	peer_respond(f, opt, 200);
	sync_rx(f);
	assert_int_equal(cp_txn_counters(f->x)->stray_responses, 1);
	assert_int_equal(f->ends, 2);
	osip_message_free(opt);
}

/* One transaction after another reuses the same pool block: nothing new is touched. */
static void test_pool_reuse(void **state)
{
	struct fx *f = *state;
	size_t before = cp_txn_pool_resident();
	char branch[32], callid[32];

	f->answer_final = 200;
	for (unsigned i = 0; i < 10; i++) {
		snprintf(branch, sizeof(branch), "z9hG4bKpool%u", i);
		snprintf(callid, sizeof(callid), "call-pool%u", i);
		/* a reliable transport in Via: Timer J is 0, the transaction ends with its 200 */
		peer_request(f, "BYE", "BYE", branch, "TCP", "x", callid);
		sync_rx(f);
	}
	assert_int_equal(f->requests, 10);
	assert_int_equal(f->ends, 10);
	assert_int_equal(cp_txn_count(f->x), 0);
	assert_int_equal(cp_txn_pool_in_use(), 0);
	if (cp_txn_pool_active()) {
		assert_true(cp_txn_pool_resident() >= 1);
		assert_true(cp_txn_pool_resident() <= (before > 1 ? before : 1));
	} else {
		assert_int_equal(cp_txn_pool_resident(), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_invite_retransmission_absorbed, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_final_retransmitted_and_ack_absorbed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_invite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_non_invite_unanswered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_request_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_completed_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_reuse, setup, teardown),
	};

	parser_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
