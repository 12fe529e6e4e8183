/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP over TCP against real sockets on 127.0.0.1: the transport runs on a real loop, the far
 * ends are plain sockets this file drives by hand. Inbound framing (a message in two writes,
 * two in one, no Content-Length: 400 and a close), answers on the same connection; outbound
 * connections from route(tcp), reused by a second route() and by an inbound one's address;
 * the write queue (a peer that does not read gets every message whole and in order once it
 * does; one that never reads overflows the bound and the connection closes); a refused
 * connect reported with the id route() gave; a peer whose connection has gone reached again at
 * its Via's sent-by port; a stale peer whose fd number now belongs to another connection never
 * sent to it; and the transaction layer failing a client INVITE at once when its connection is
 * refused, and running no Timer A over TCP. Waits are bounded by conditions, not fixed sleeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include <sys/resource.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "cp_dialog.h"
#include "cp_loop.h"
#include "cp_loop_testing.h"
#include "cp_sip_msg.h"
#include "cp_sip_transport.h"
#include "cp_sip_txn.h"
#include "tg_time.h"

#define MAX_RX 64
#define MAX_ERR 8
#define BIG_BODY 60000

struct fx {
	struct cp_loop *loop;
	struct cp_sip_transport *t;
	struct sockaddr_in our; /* the transport's address */
	char our_hp[64];

	/* what the transport handed up */
	osip_message_t *rx[MAX_RX];
	struct cp_sip_peer from[MAX_RX];
	unsigned nrx;
	/* what the error callback said */
	uint32_t err_conn[MAX_ERR];
	int err[MAX_ERR];
	unsigned nerr;

	/* the transaction layer's test: what its TU saw */
	struct cp_txn_layer *x;
	unsigned timeouts, ends, responses;
	int last_code;
};

static const struct cp_sip_counters *ctr(struct fx *f)
{
	return cp_sip_transport_counters(f->t);
}

/* ---- the transport's owner ----------------------------------------------------------------- */

static void on_rx(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg)
{
	struct fx *f = arg;

	(void)t;
	if (f->x) {
		cp_txn_layer_rx(t, msg, from, f->x);
		return;
	}
	assert_true(f->nrx < MAX_RX);
	f->rx[f->nrx] = msg;
	f->from[f->nrx++] = *from;
}

static void on_error(struct cp_sip_transport *t, uint32_t conn, int err, void *arg)
{
	struct fx *f = arg;

	(void)t;
	assert_true(f->nerr < MAX_ERR);
	f->err_conn[f->nerr] = conn;
	f->err[f->nerr++] = err;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *bound;

	assert_non_null(f);
	f->loop = cp_loop_new();
	assert_non_null(f->loop);
	f->t = cp_sip_transport_new(f->loop, "127.0.0.1:0", on_rx, f);
	assert_non_null(f->t);
	cp_sip_transport_on_error(f->t, on_error, f);
	bound = cp_sip_transport_bound(f->t, 0);
	assert_non_null(bound);
	snprintf(f->our_hp, sizeof(f->our_hp), "%s", bound);
	f->our.sin_family = AF_INET;
	f->our.sin_port = htons((uint16_t)atoi(strrchr(bound, ':') + 1));
	inet_pton(AF_INET, "127.0.0.1", &f->our.sin_addr);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < f->nrx; i++)
		osip_message_free(f->rx[i]);
	cp_txn_layer_free(f->x);
	cp_sip_transport_free(f->t);
	cp_loop_free(f->loop);
	free(f);
	return 0;
}

/* ---- the far ends: plain sockets on 127.0.0.1 ------------------------------------------------ */

static struct sockaddr_in local_addr(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	return a;
}

static uint16_t port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

/* A listening socket on 127.0.0.1 (any port, accept() never blocks); rcvbuf > 0 sets what
 * accepted sockets get. */
static int listen_local(int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = local_addr(0);

	assert_true(fd >= 0);
	if (rcvbuf)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

/* A port nobody listens on (bound, then closed: nothing else takes it within a test) */
static uint16_t closed_port(void)
{
	int fd = listen_local(0);
	uint16_t p = port_of(fd);

	close(fd);
	return p;
}

static int accept_nb(int lfd)
{
	return accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

/* Accepts, running the loop meanwhile (the transport connects from it) */
static int accept_wait(struct fx *f, int lfd)
{
	int fd = -1;

	CP_TEST_RUN_UNTIL(f->loop, (fd = accept_nb(lfd)) >= 0, 2000);
	return fd;
}

static int connect_to_us(struct fx *f)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&f->our, sizeof(f->our)), 0);
	return fd;
}

static void write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		s += n;
		len -= (size_t)n;
	}
}

static void write_str(int fd, const char *s)
{
	write_all(fd, s, strlen(s));
}

/* An OPTIONS request whose Via says sent-by 127.0.0.1:via_port */
static const char *options(char *buf, size_t len, unsigned cseq, uint16_t via_port, bool with_cl)
{
	snprintf(buf, len,
		"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 127.0.0.1:%u;branch=z9hG4bKtr%u\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:a@127.0.0.1>;tag=ft%u\r\n"
		"To: <sip:x@127.0.0.1>\r\n"
		"Call-ID: tcp-test-%u\r\n"
		"CSeq: %u OPTIONS\r\n"
		"%s\r\n",
		via_port, cseq, cseq, cseq, cseq, with_cl ? "Content-Length: 0\r\n" : "");
	return buf;
}

/* A message with a body of body_len bytes, its Call-ID and body naming seq */
static char *message(unsigned seq, size_t body_len, size_t *len)
{
	size_t cap = body_len + 512;
	char *m = malloc(cap);
	int n;

	assert_non_null(m);
	n = snprintf(m, cap,
		"MESSAGE sip:b@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKm%u\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:a@127.0.0.1>;tag=m\r\n"
		"To: <sip:b@127.0.0.1>\r\n"
		"Call-ID: msg-%u\r\n"
		"CSeq: %u MESSAGE\r\n"
		"Content-Type: text/plain\r\n"
		"Content-Length: %zu\r\n\r\n",
		seq, seq, seq + 1, body_len);
	for (size_t i = 0; i < body_len; i++)
		m[n + (int)i] = (char)('a' + (seq + i) % 26);
	*len = (size_t)n + body_len;
	return m;
}

/* What a far end reads, cut into messages by Content-Length. */
struct reader {
	char *buf;
	size_t len, cap;
	bool eof;
};

static void reader_fini(struct reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/* Everything readable now, without blocking */
static void reader_pull(struct reader *r, int fd)
{
	for (;;) {
		ssize_t n;

		if (r->cap - r->len < 65536) {
			r->cap = r->cap ? r->cap * 2 : 262144;
			r->buf = realloc(r->buf, r->cap + 1);
			assert_non_null(r->buf);
		}
		n = recv(fd, r->buf + r->len, r->cap - r->len, MSG_DONTWAIT);
		if (n > 0) {
			r->len += (size_t)n;
			r->buf[r->len] = '\0';
			continue;
		}
		if (n == 0)
			r->eof = true;
		return;
	}
}

/* The first whole message (malloc'd, NUL-terminated) taken off the front, or NULL */
static char *reader_take(struct reader *r)
{
	char *end, *cl, *m;
	size_t hdr, total;

	if (!r->len)
		return NULL;
	r->buf[r->len] = '\0';
	end = strstr(r->buf, "\r\n\r\n");
	if (!end)
		return NULL;
	hdr = (size_t)(end + 4 - r->buf);
	cl = strcasestr(r->buf, "\r\nContent-Length:");
	assert_true(cl && cl < end);
	total = hdr + strtoul(cl + 17, NULL, 10);
	if (r->len < total)
		return NULL;
	m = malloc(total + 1);
	assert_non_null(m);
	memcpy(m, r->buf, total);
	m[total] = '\0';
	memmove(r->buf, r->buf + total, r->len - total);
	r->len -= total;
	return m;
}

/* The next whole message on fd, running the loop meanwhile; fails after max_ms */
static char *read_msg(struct fx *f, struct reader *r, int fd, unsigned max_ms)
{
	char *m = NULL;

	CP_TEST_RUN_UNTIL(f->loop, (reader_pull(r, fd), (m = reader_take(r)) != NULL), max_ms);
	return m;
}

/* A response to the i-th request the transport handed up, sent back to where it came from */
static void answer(struct fx *f, unsigned i, int code, const struct cp_sip_peer *to)
{
	char *out = NULL;
	size_t len;

	assert_int_equal(
		cp_sip_response(f->rx[i], code, osip_message_get_reason(code), "tt", &out, &len),
		0);
	assert_int_equal(cp_sip_send(f->t, out, len, to ? to : &f->from[i]), 0);
	osip_free(out);
}

/* ---- inbound ------------------------------------------------------------------------------- */

static void test_inbound_split_and_answered(void **state)
{
	struct fx *f = *state;
	struct reader r = {0};
	char req[1024], *m;
	int c = connect_to_us(f);
	size_t half;

	options(req, sizeof(req), 1, 5099, true);
	half = strlen(req) / 2;
	write_all(c, req, half);
	CP_TEST_RUN_UNTIL(f->loop, ctr(f)->tcp_accepted == 1, 1000);
	cp_test_run_ms(f->loop, 20);
	assert_int_equal(f->nrx, 0);
	write_str(c, req + half);
	CP_TEST_RUN_UNTIL(f->loop, f->nrx == 1, 1000);
	assert_true(f->from[0].stream);
	assert_int_not_equal(f->from[0].conn, 0);
	assert_int_equal(f->from[0].reconnect_port, 5099);
	assert_int_equal(ntohs(((struct sockaddr_in *)&f->from[0].addr)->sin_port), port_of(c));
	assert_string_equal(f->rx[0]->call_id->number, "tcp-test-1");
	assert_int_equal(cp_sip_transport_conns(f->t), 1);

	/* the answer goes back on that connection */
	answer(f, 0, 200, NULL);
	m = read_msg(f, &r, c, 1000);
	assert_non_null(strstr(m, "SIP/2.0 200 OK"));
	assert_non_null(strstr(m, "Call-ID: tcp-test-1"));
	free(m);
	assert_int_equal(ctr(f)->tx_queued, 0);
	reader_fini(&r);
	close(c);
}

static void test_inbound_two_in_one_write(void **state)
{
	struct fx *f = *state;
	char a[1024], b[1024], both[2056];
	int c = connect_to_us(f);

	snprintf(both, sizeof(both), "%s\r\n\r\n%s", options(a, sizeof(a), 1, 5060, true),
		options(b, sizeof(b), 2, 5060, true));
	write_str(c, both); /* a keep-alive CRLFCRLF between them, too */
	CP_TEST_RUN_UNTIL(f->loop, f->nrx == 2, 1000);
	assert_string_equal(f->rx[0]->cseq->number, "1");
	assert_string_equal(f->rx[1]->cseq->number, "2");
	assert_int_equal(f->from[0].conn, f->from[1].conn);
	assert_int_equal(ctr(f)->rx_msgs, 2);
	close(c);
}

static void test_inbound_no_content_length(void **state)
{
	struct fx *f = *state;
	struct reader r = {0};
	char req[1024], *m;
	int c = connect_to_us(f);

	write_str(c, options(req, sizeof(req), 1, 5060, false));
	m = read_msg(f, &r, c, 1000);
	assert_non_null(strstr(m, "SIP/2.0 400 Missing Content-Length on a stream"));
	free(m);
	/* then the connection closes */
	CP_TEST_RUN_UNTIL(f->loop, (reader_pull(&r, c), r.eof), 1000);
	assert_int_equal(f->nrx, 0);
	assert_int_equal(ctr(f)->tcp_closed_bad, 1);
	assert_int_equal(cp_sip_transport_conns(f->t), 0);
	assert_int_equal(f->nerr, 0); /* nothing was lost */
	reader_fini(&r);
	close(c);
}

/* Out of descriptors: a pending connection is accepted and closed (the spare descriptor), so
 * the listener does not wake the loop forever; later connections are served again. */
static void test_inbound_out_of_fds(void **state)
{
	struct fx *f = *state;
	struct reader r = {0};
	struct rlimit old, low;
	int c = connect_to_us(f), fill[64], nfill = 0, probe;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	probe = dup(0);
	assert_true(probe >= 0);
	close(probe);
	low = old;
	low.rlim_cur = (rlim_t)probe + 8;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (nfill < 64 && (fill[nfill] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		nfill++;
	assert_true(nfill < 64); /* the limit was reached */
	CP_TEST_RUN_UNTIL(f->loop, ctr(f)->tcp_refused >= 1, 1000);
	CP_TEST_RUN_UNTIL(f->loop, (reader_pull(&r, c), r.eof), 1000);
	assert_int_equal(cp_sip_transport_conns(f->t), 0);
	while (nfill)
		close(fill[--nfill]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	reader_fini(&r);
	close(c);
	/* descriptors back: the next connection is served */
	{
		char req[1024];
		int c2 = connect_to_us(f);

		write_str(c2, options(req, sizeof(req), 1, 5060, true));
		CP_TEST_RUN_UNTIL(f->loop, f->nrx == 1, 1000);
		assert_int_equal(ctr(f)->tcp_refused, 1);
		close(c2);
	}
}

/* ---- outbound ------------------------------------------------------------------------------ */

static void test_outbound_route_and_reuse(void **state)
{
	struct fx *f = *state;
	struct reader r = {0};
	int lfd = listen_local(0), s;
	struct sockaddr_in dst = local_addr(port_of(lfd));
	struct cp_sip_peer p, q;
	char local[72], *m, resp[512];
	size_t len;
	char *msg = message(1, 100, &len);

	assert_int_equal(cp_sip_transport_route(f->t, (struct sockaddr *)&dst, sizeof(dst), true,
				 &p, local, sizeof(local)),
		0);
	assert_true(p.stream);
	assert_int_not_equal(p.conn, 0);
	assert_string_equal(local, f->our_hp);
	/* sent before the connection is up: it waits */
	assert_int_equal(cp_sip_send(f->t, msg, len, &p), 0);
	s = accept_wait(f, lfd);
	CP_TEST_RUN_UNTIL(f->loop, ctr(f)->tcp_connected == 1, 1000);
	m = read_msg(f, &r, s, 1000);
	assert_memory_equal(m, msg, len);
	assert_int_equal(strlen(m), len);
	free(m);
	free(msg);

	/* from the appliance's address */
	{
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);

		assert_int_equal(getpeername(s, (struct sockaddr *)&peer, &plen), 0);
		assert_int_equal(peer.sin_addr.s_addr, dst.sin_addr.s_addr);
	}

	/* a second route() to the same place: the same connection, no second connect */
	assert_int_equal(cp_sip_transport_route(
				 f->t, (struct sockaddr *)&dst, sizeof(dst), true, &q, NULL, 0),
		0);
	assert_int_equal(q.conn, p.conn);
	msg = message(2, 10, &len);
	assert_int_equal(cp_sip_send(f->t, msg, len, &q), 0);
	m = read_msg(f, &r, s, 1000);
	assert_memory_equal(m, msg, len);
	free(m);
	free(msg);
	cp_test_run_ms(f->loop, 10);
	assert_true(accept_nb(lfd) < 0);
	assert_int_equal(cp_sip_transport_conns(f->t), 1);

	/* what the far end sends back on it arrives with the connection's id */
	snprintf(resp, sizeof(resp),
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bKm2\r\n"
		"From: <sip:a@127.0.0.1>;tag=m\r\nTo: <sip:b@127.0.0.1>;tag=x\r\n"
		"Call-ID: msg-2\r\nCSeq: 3 MESSAGE\r\nContent-Length: 0\r\n\r\n",
		f->our_hp);
	write_str(s, resp);
	CP_TEST_RUN_UNTIL(f->loop, f->nrx == 1, 1000);
	assert_int_equal(f->rx[0]->status_code, 200);
	assert_int_equal(f->from[0].conn, p.conn);
	assert_int_equal(ctr(f)->tcp_accepted, 0);
	reader_fini(&r);
	close(s);
	close(lfd);
}

/* A request toward the address an inbound connection comes from goes on that connection. */
static void test_route_reuses_inbound(void **state)
{
	struct fx *f = *state;
	struct reader r = {0};
	struct cp_sip_peer p;
	char req[1024], *m;
	int c = connect_to_us(f);
	struct sockaddr_in dst = local_addr(port_of(c));
	size_t len;
	char *msg;

	write_str(c, options(req, sizeof(req), 1, 5060, true));
	CP_TEST_RUN_UNTIL(f->loop, f->nrx == 1, 1000);
	assert_int_equal(cp_sip_transport_route(
				 f->t, (struct sockaddr *)&dst, sizeof(dst), true, &p, NULL, 0),
		0);
	assert_int_equal(p.conn, f->from[0].conn);
	msg = message(7, 5, &len);
	assert_int_equal(cp_sip_send(f->t, msg, len, &p), 0);
	m = read_msg(f, &r, c, 1000);
	assert_memory_equal(m, msg, len);
	free(m);
	free(msg);
	assert_int_equal(cp_sip_transport_conns(f->t), 1);
	reader_fini(&r);
	close(c);
}

/* A peer that reads nothing for a while gets every message whole and in order once it does. */
static void test_write_queue(void **state)
{
	struct fx *f = *state;
	struct reader r = {0};
	int lfd = listen_local(4096), s;
	struct sockaddr_in dst = local_addr(port_of(lfd));
	struct cp_sip_peer p;
	unsigned n = 0, queued_at = 0;

	assert_int_equal(cp_sip_transport_route(
				 f->t, (struct sockaddr *)&dst, sizeof(dst), true, &p, NULL, 0),
		0);
	s = accept_wait(f, lfd);
	CP_TEST_RUN_UNTIL(f->loop, ctr(f)->tcp_connected == 1, 1000);
	/* until the kernel has refused some, and a few more behind them (well under the bound) */
	while (n < 100 && (!queued_at || n < queued_at + 4)) {
		size_t len;
		char *msg = message(n, BIG_BODY, &len);

		assert_int_equal(cp_sip_send(f->t, msg, len, &p), 0);
		free(msg);
		n++;
		if (!queued_at && ctr(f)->tx_queued)
			queued_at = n;
	}
	assert_true(queued_at > 0);
	assert_int_equal(ctr(f)->tx_queued, n - queued_at + 1);
	cp_test_run_ms(f->loop, 20);

	for (unsigned i = 0; i < n; i++) {
		size_t len;
		char *want = message(i, BIG_BODY, &len), *m = read_msg(f, &r, s, 5000);

		assert_int_equal(strlen(m), len);
		assert_memory_equal(m, want, len);
		free(want);
		free(m);
	}
	cp_test_run_ms(f->loop, 20);
	reader_pull(&r, s);
	assert_int_equal(r.len, 0);
	assert_int_equal(ctr(f)->tcp_closed_overflow, 0);
	assert_int_equal(f->nerr, 0);
	assert_int_equal(cp_sip_transport_conns(f->t), 1);
	reader_fini(&r);
	close(s);
	close(lfd);
}

/* One that never reads: past the bound the connection closes, counted and reported. */
static void test_write_queue_overflow(void **state)
{
	struct fx *f = *state;
	int lfd = listen_local(4096), s;
	struct sockaddr_in dst = local_addr(port_of(lfd));
	struct cp_sip_peer p;
	size_t len;
	char *msg = message(0, BIG_BODY, &len);
	int rc = 0;

	assert_int_equal(cp_sip_transport_route(
				 f->t, (struct sockaddr *)&dst, sizeof(dst), true, &p, NULL, 0),
		0);
	s = accept_wait(f, lfd);
	CP_TEST_RUN_UNTIL(f->loop, ctr(f)->tcp_connected == 1, 1000);
	for (unsigned i = 0; i < 400 && rc == 0; i++) {
		rc = cp_sip_send(f->t, msg, len, &p);
		if (rc == 0 && i % 8 == 0)
			cp_test_run_ms(
				f->loop, 1); /* EPOLLOUT drains what the kernel takes meanwhile */
	}
	free(msg);
	assert_int_equal(rc, -ENOBUFS);
	assert_int_equal(ctr(f)->tcp_closed_overflow, 1);
	assert_int_equal(cp_sip_transport_conns(f->t), 0);
	/* told from the loop, not from inside the send */
	assert_int_equal(f->nerr, 0);
	CP_TEST_RUN_UNTIL(f->loop, f->nerr == 1, 1000);
	assert_int_equal(f->err_conn[0], p.conn);
	assert_int_equal(f->err[0], -ENOBUFS);
	assert_int_equal(ctr(f)->tcp_lost, 1);
	close(s);
	close(lfd);
}

static void test_connect_refused(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in dst = local_addr(closed_port());
	struct cp_sip_peer p;
	size_t len;
	char *msg = message(1, 10, &len);

	assert_int_equal(cp_sip_transport_route(
				 f->t, (struct sockaddr *)&dst, sizeof(dst), true, &p, NULL, 0),
		0);
	assert_int_equal(cp_sip_send(f->t, msg, len, &p), 0);
	free(msg);
	assert_int_equal(f->nerr, 0);
	CP_TEST_RUN_UNTIL(f->loop, f->nerr == 1, 2000);
	assert_int_equal(f->err_conn[0], p.conn);
	assert_int_equal(f->err[0], -ECONNREFUSED);
	assert_int_equal(ctr(f)->tcp_connect_failed, 1);
	assert_int_equal(ctr(f)->tcp_connected, 0);
	assert_int_equal(cp_sip_transport_conns(f->t), 0);
	/* a second route() opens a new connection: a new id */
	{
		struct cp_sip_peer q;

		assert_int_equal(cp_sip_transport_route(f->t, (struct sockaddr *)&dst, sizeof(dst),
					 true, &q, NULL, 0),
			0);
		assert_int_not_equal(q.conn, p.conn);
		CP_TEST_RUN_UNTIL(f->loop, f->nerr == 2, 2000);
		assert_int_equal(f->err_conn[1], q.conn);
	}
}

/* RFC 3261 §18.2.2: the peer closed; the answer goes on a new connection to its Via's port. */
static void test_peer_closed_reconnects(void **state)
{
	struct fx *f = *state;
	struct reader r = {0};
	int ua = listen_local(0), c = connect_to_us(f), s;
	char req[1024], *m;
	struct cp_sip_peer keep;
	uint32_t first;

	write_str(c, options(req, sizeof(req), 1, port_of(ua), true));
	CP_TEST_RUN_UNTIL(f->loop, f->nrx == 1, 1000);
	first = f->from[0].conn;
	close(c);
	CP_TEST_RUN_UNTIL(f->loop, ctr(f)->tcp_closed_peer == 1, 1000);
	assert_int_equal(cp_sip_transport_conns(f->t), 0);

	keep = f->from[0];
	answer(f, 0, 200, &keep);
	assert_int_equal(keep.conn, first); /* cp_sip_send leaves the peer as it was */
	assert_int_equal(ctr(f)->tcp_reconnected, 1);
	s = accept_wait(f, ua);
	m = read_msg(f, &r, s, 1000);
	assert_non_null(strstr(m, "SIP/2.0 200 OK"));
	free(m);

	/* the stale peer again: the connection now open to that address, no third one */
	answer(f, 0, 202, NULL);
	m = read_msg(f, &r, s, 1000);
	assert_non_null(strstr(m, "SIP/2.0 202 Accepted"));
	free(m);
	/* cp_sip_send_update() gives the caller the id of the connection it went on */
	{
		char *out = NULL;
		size_t len;

		assert_int_equal(
			cp_sip_response(f->rx[0], 203, "Non-Authoritative", "tt", &out, &len), 0);
		assert_int_equal(cp_sip_send_update(f->t, out, len, &keep), 0);
		osip_free(out);
		assert_int_not_equal(keep.conn, first);
		m = read_msg(f, &r, s, 1000);
		assert_non_null(strstr(m, "SIP/2.0 203 "));
		free(m);
	}
	assert_int_equal(ctr(f)->tcp_reconnected, 1);
	assert_true(accept_nb(ua) < 0);
	assert_int_equal(f->nerr, 0);
	reader_fini(&r);
	close(s);
	close(ua);
}

/* A peer held past its connection's end is never sent to whoever has its fd number now. */
static void test_stale_peer_fd_reused(void **state)
{
	struct fx *f = *state;
	struct reader r = {0};
	char req[1024], *m;
	uint16_t nobody = closed_port();
	int c1 = connect_to_us(f), c2;

	write_str(c1, options(req, sizeof(req), 1, nobody, true));
	CP_TEST_RUN_UNTIL(f->loop, f->nrx == 1, 1000);
	close(c1);
	CP_TEST_RUN_UNTIL(f->loop, ctr(f)->tcp_closed_peer == 1, 1000);
	c2 = connect_to_us(f);
	write_str(c2, options(req, sizeof(req), 2, nobody, true));
	CP_TEST_RUN_UNTIL(f->loop, f->nrx == 2, 1000);
	/* the kernel gave the new connection the old one's number: only the id tells them apart */
	assert_int_equal(f->from[1].fd, f->from[0].fd);
	assert_int_not_equal(f->from[1].conn, f->from[0].conn);

	/* the answer to the first request: not on c2; a new connection to its Via port, refused */
	answer(f, 0, 200, NULL);
	CP_TEST_RUN_UNTIL(f->loop, f->nerr == 1, 2000);
	assert_int_equal(f->err[0], -ECONNREFUSED);
	assert_int_not_equal(f->err_conn[0], f->from[1].conn);
	reader_pull(&r, c2);
	assert_int_equal(r.len, 0);

	/* c2's own answer reaches it */
	answer(f, 1, 200, NULL);
	m = read_msg(f, &r, c2, 1000);
	assert_non_null(strstr(m, "Call-ID: tcp-test-2"));
	free(m);
	reader_pull(&r, c2);
	assert_int_equal(r.len, 0);
	reader_fini(&r);
	close(c2);
}

/* UDP is untouched: a peer from route(udp) names no connection. */
static void test_udp_route(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in dst = local_addr(5060);
	struct cp_sip_peer p;
	char local[72];

	assert_int_equal(cp_sip_transport_route(f->t, (struct sockaddr *)&dst, sizeof(dst), false,
				 &p, local, sizeof(local)),
		0);
	assert_false(p.stream);
	assert_int_equal(p.conn, 0);
	assert_string_equal(local, f->our_hp);
	assert_int_equal(cp_sip_transport_conns(f->t), 0);
}

/* ---- the transaction layer over TCP --------------------------------------------------------- */

static void tu_request(
	void *arg, struct cp_txn *tx, osip_message_t *req, const struct cp_sip_peer *from)
{
}

static void tu_ack(void *arg, osip_message_t *ack, const struct cp_sip_peer *from)
{
	osip_message_free(ack);
}

static void tu_response(void *arg, struct cp_txn *tx, osip_message_t *resp)
{
	struct fx *f = arg;

	f->responses++;
	f->last_code = resp->status_code;
}

static void tu_stray_2xx(void *arg, osip_message_t *resp, const struct cp_sip_peer *from)
{
	osip_message_free(resp);
}

static void tu_timeout(void *arg, struct cp_txn *tx)
{
	((struct fx *)arg)->timeouts++;
}

static void tu_end(void *arg, struct cp_txn *tx)
{
	((struct fx *)arg)->ends++;
}

static const struct cp_txn_ops tu = {
	.request = tu_request,
	.ack = tu_ack,
	.response = tu_response,
	.stray_2xx = tu_stray_2xx,
	.timeout = tu_timeout,
	.end = tu_end,
};

/* An INVITE on a new TCP leg toward port, through a client transaction */
static struct cp_txn *invite_over_tcp(struct fx *f, uint16_t port, struct cp_dialog *d)
{
	struct sockaddr_in dst = local_addr(port);
	struct cp_sip_peer p;
	char local[72], ruri[64];
	struct cp_txn *tx;

	f->x = cp_txn_layer_new(f->loop, f->t, &tu, f);
	assert_non_null(f->x);
	assert_int_equal(cp_sip_transport_route(f->t, (struct sockaddr *)&dst, sizeof(dst), true,
				 &p, local, sizeof(local)),
		0);
	snprintf(ruri, sizeof(ruri), "sip:bob@127.0.0.1:%u", port);
	assert_int_equal(cp_dialog_init_uac(d, "alice", NULL, ruri, &p, local, NULL), 0);
	tx = cp_txn_request(f->x, cp_dialog_request(d, "INVITE"), &p, NULL);
	assert_non_null(tx);
	return tx;
}

/* §17.1.4 / §8.1.3.1: a refused connection fails the INVITE at once, not after Timer B. */
static void test_txn_connect_refused(void **state)
{
	struct fx *f = *state;
	struct cp_dialog d;
	uint64_t t0 = cp_test_now_ms();

	invite_over_tcp(f, closed_port(), &d);
	CP_TEST_RUN_UNTIL(f->loop, f->ends == 1, 2000);
	assert_true(cp_test_now_ms() - t0 < 2000);
	assert_int_equal(f->timeouts, 1);
	assert_int_equal(f->responses, 0);
	assert_int_equal(cp_txn_count(f->x), 0);
	assert_int_equal(cp_txn_counters(f->x)->send_errors, 1);
	cp_dialog_fini(&d);
}

/* Over TCP the INVITE goes once (no Timer A), and libosip2 ACKs a 486 on the same connection. */
static void test_txn_invite_over_tcp(void **state)
{
	struct fx *f = *state;
	struct reader r = {0};
	int lfd = listen_local(0), s;
	struct cp_dialog d;
	osip_message_t *inv;
	char *m, *out = NULL;
	size_t len;

	invite_over_tcp(f, port_of(lfd), &d);
	s = accept_wait(f, lfd);
	m = read_msg(f, &r, s, 1000);
	assert_non_null(strstr(m, "INVITE sip:bob@"));
	assert_non_null(strstr(m, "Via: SIP/2.0/TCP "));
	assert_non_null(strstr(m, ";transport=tcp>"));
	/* Timer A would have sent it again at 500 ms */
	cp_test_run_ms(f->loop, 700);
	reader_pull(&r, s);
	assert_int_equal(r.len, 0);

	assert_int_equal(osip_message_init(&inv), 0);
	assert_int_equal(osip_message_parse(inv, m, strlen(m)), 0);
	free(m);
	assert_int_equal(cp_sip_response(inv, 486, "Busy Here", "calleetag", &out, &len), 0);
	osip_message_free(inv);
	write_all(s, out, len);
	osip_free(out);
	CP_TEST_RUN_UNTIL(f->loop, f->responses == 1, 1000);
	assert_int_equal(f->last_code, 486);
	m = read_msg(f, &r, s, 1000);
	assert_non_null(strstr(m, "ACK sip:bob@"));
	free(m);
	/* Timer D is 0 over TCP: the transaction ends */
	CP_TEST_RUN_UNTIL(f->loop, f->ends == 1, 1000);
	assert_int_equal(f->timeouts, 0);
	cp_dialog_fini(&d);
	reader_fini(&r);
	close(s);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inbound_split_and_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inbound_two_in_one_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inbound_no_content_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inbound_out_of_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbound_route_and_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_reuses_inbound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_queue_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closed_reconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_peer_fd_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_invite_over_tcp, setup, teardown),
	};

	parser_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
