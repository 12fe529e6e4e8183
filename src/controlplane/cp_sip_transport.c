/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP over UDP and TCP (see cp_sip_transport.h). UDP: sockets on the loop, batch receive,
 * checks, stateless error answers; a send is one sendto(). TCP: a slot table of connections
 * (the id a peer holds is the slot and its generation), a hash of them by remote address, one
 * loop callback per connection with the connection as its argument, an output queue per
 * connection drained on EPOLLOUT. A connection that goes is taken out of the table and the hash
 * at once (its id no longer finds it) and freed, its owner told of lost output, on the next loop
 * iteration: a send from inside a receive callback may kill the connection being read.
 */
#include "cp_sip_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "cp_sip_msg.h"
#include "tg_hmap.h"
#include "tg_log.h"
#include "tg_sockaddr.h"
#include "tg_time.h"

#define MAX_LISTEN 8
#define CONN_SLOT_BITS 10
#define MAX_CONNS (1u << CONN_SLOT_BITS)
#define CONN_GEN_MAX (UINT32_MAX >> CONN_SLOT_BITS)
#define CONN_IDLE_NS (120ULL * TG_NS_PER_S)
#define CONN_CONNECT_NS (10ULL * TG_NS_PER_S) /* well inside Timer B (32 s) */
#define SWEEP_NS (5ULL * TG_NS_PER_S)
#define CONN_READS 8	    /* recv() calls per wake-up: one busy peer cannot starve the loop */
#define TX_KEEP (64u << 10) /* an emptied queue keeps a buffer this large, frees a larger one */
#define RX_BATCH 32
#define SOCK_BUF (4 << 20) /* SIPp at thousands of calls per second overruns the default */

struct listener {
	int fd;
	int tcp_fd;
	struct sockaddr_storage addr; /* as bound (the port filled in) */
	socklen_t alen;
	char bound[64];
};

enum conn_state {
	CONN_CONNECTING, /* non-blocking connect() in flight: output waits */
	CONN_OPEN,
	CONN_DRAINING, /* closing once its queue is out (a 400 for bad framing); reads nothing */
	CONN_DEAD,     /* out of the table and the hash, socket closed; freed by reap() */
};

/*
 * One TCP connection. peer is what the owner gets with each message it reads (addr, fd, id).
 * The receive buffer holds what has not yet formed a whole message; the output queue what the
 * kernel has not taken, tx[tx_off, tx_len).
 */
struct conn {
	struct tg_hnode node; /* in t->by_addr while OPEN or CONNECTING */
	struct cp_sip_transport *t;
	struct cp_sip_peer peer;
	enum conn_state state;
	bool hashed;
	bool lost;	 /* it went with output queued (or never connected): tell the owner */
	int err;	 /* why it went, for the owner */
	uint32_t events; /* as registered with the loop */
	uint64_t born_ns, last_ns;
	char *rx;
	size_t rx_len;
	char *tx;
	size_t tx_off, tx_len, tx_cap;
	struct conn *next_dead;
};

struct cp_sip_transport {
	struct cp_loop *loop;
	cp_sip_rx_fn fn;
	void *arg;
	cp_sip_error_fn err_fn;
	void *err_arg;
	struct listener ls[MAX_LISTEN];
	unsigned n_ls;
	struct cp_sip_counters c;
	/* connections: slot i holds the one whose id is gen[i] << CONN_SLOT_BITS | i */
	struct conn *slot[MAX_CONNS];
	uint32_t gen[MAX_CONNS];
	/* free slots, first in first out: a slot comes back as late as possible, so an id (22 bits
	 * of generation) recurs only after 2^32 connections */
	uint16_t free_slot[MAX_CONNS];
	unsigned free_head, n_free;
	unsigned n_conns;
	struct tg_hmap by_addr;
	struct conn *dead; /* gone, to be reported and freed */
	struct cp_timer reap;
	struct cp_timer sweep;
	/* held open so that, out of descriptors, a pending connection can still be accepted and
	 * closed: left in the backlog it would wake the loop again and again */
	int spare_fd;
	/* receive buffers for one batch; a datagram of CP_SIP_MAX_MSG + 1 bytes is too big */
	char (*bufs)[CP_SIP_MAX_MSG + 2];
};

/* RFC 3581 / RFC 3261 §18.2.1: where the request really came from, on its top Via */
static void stamp_via(osip_message_t *m, const struct cp_sip_peer *from)
{
	osip_via_t *via = osip_list_get(&m->vias, 0);
	osip_generic_param_t *rport = NULL;
	char ip[INET6_ADDRSTRLEN], port[8];

	if (!via)
		return;
	tg_sockaddr_ip((const struct sockaddr *)&from->addr, ip, sizeof(ip));
	snprintf(port, sizeof(port), "%u", tg_sockaddr_port((const struct sockaddr *)&from->addr));
	if (strcmp(via->host, ip) != 0)
		osip_via_set_received(via, osip_strdup(ip));
	if (osip_via_param_get_byname(via, "rport", &rport) == 0 && rport) {
		osip_free(rport->gvalue);
		rport->gvalue = osip_strdup(port);
	}
}

/* RFC 3261 §18.2.2: a response whose connection has gone goes to a new one at the sent-by
 * port (5060 when the Via has none) */
static uint16_t via_port(const osip_message_t *m)
{
	osip_via_t *via = osip_list_get(&m->vias, 0);
	unsigned long p;

	if (!via || !via->port)
		return 5060;
	p = strtoul(via->port, NULL, 10);
	return p > 0 && p <= 65535 ? (uint16_t)p : 5060;
}

/* ---- connections: ids, the address hash, life and death ------------------------------------ */

static struct conn *conn_by_id(const struct cp_sip_transport *t, uint32_t id)
{
	struct conn *c = t->slot[id & (MAX_CONNS - 1)];

	return c && c->peer.conn == id ? c : NULL;
}

/* A connection to sa that may carry a new message: open or opening. */
static struct conn *conn_by_addr(const struct cp_sip_transport *t, const struct sockaddr *sa)
{
	uint64_t h = tg_sockaddr_hash(sa);

	for (struct tg_hnode *n = tg_hmap_first(&t->by_addr, h); n; n = tg_hmap_next(n, h)) {
		struct conn *c = (struct conn *)n;

		if (tg_sockaddr_equal((const struct sockaddr *)&c->peer.addr, sa))
			return c;
	}
	return NULL;
}

static void conn_unhash(struct cp_sip_transport *t, struct conn *c)
{
	if (c->hashed) {
		tg_hmap_remove(&t->by_addr, &c->node);
		c->hashed = false;
	}
}

static void set_events(struct cp_sip_transport *t, struct conn *c, uint32_t ev)
{
	if (c->events != ev && cp_loop_mod_fd(t->loop, c->peer.fd, ev) == 0)
		c->events = ev;
}

static void on_conn_event(struct cp_loop *l, int fd, uint32_t events, void *arg);

/*
 * A connection on fd (a socket already connected, accepted or connecting) in the table, the
 * hash and the loop. 0 or -errno (then fd is the caller's to close).
 */
static int conn_new(struct cp_sip_transport *t, int fd, const struct sockaddr *addr, socklen_t alen,
	enum conn_state st, struct conn **out)
{
	struct conn *c;
	unsigned s;
	int one = 1, rc;

	if (!t->n_free || alen > sizeof(c->peer.addr)) {
		t->c.tcp_refused++;
		return -ENOSPC;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->rx = malloc(CP_SIP_MAX_MSG + 2))) {
		free(c);
		t->c.tcp_refused++;
		return -ENOMEM;
	}
	/* a SIP message is written whole: Nagle would hold the next one for a delayed ACK */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->t = t;
	c->state = st;
	c->events = st == CONN_CONNECTING ? EPOLLOUT : EPOLLIN;
	rc = cp_loop_add_fd(t->loop, fd, c->events, on_conn_event, c);
	if (rc < 0) {
		free(c->rx);
		free(c);
		t->c.tcp_refused++;
		return rc;
	}
	s = t->free_slot[t->free_head];
	t->free_head = (t->free_head + 1) % MAX_CONNS;
	t->n_free--;
	t->slot[s] = c;
	memcpy(&c->peer.addr, addr, alen);
	c->peer.len = alen;
	c->peer.fd = fd;
	c->peer.stream = true;
	c->peer.conn = t->gen[s] << CONN_SLOT_BITS | s;
	c->born_ns = c->last_ns = cp_loop_now(t->loop);
	tg_hmap_insert(&t->by_addr, &c->node, tg_sockaddr_hash(addr));
	c->hashed = true;
	t->n_conns++;
	*out = c;
	return 0;
}

static void conn_free(struct conn *c)
{
	free(c->rx);
	free(c->tx);
	free(c);
}

/* The connection goes: no id or address finds it from now on; reap() tells and frees. */
static void conn_kill(struct cp_sip_transport *t, struct conn *c, int err)
{
	unsigned s = c->peer.conn & (MAX_CONNS - 1);

	if (c->state == CONN_DEAD)
		return;
	c->lost = c->state == CONN_CONNECTING || c->tx_off < c->tx_len;
	if (c->lost)
		t->c.tcp_lost++;
	c->err = err;
	c->state = CONN_DEAD;
	conn_unhash(t, c);
	t->slot[s] = NULL;
	t->gen[s] = t->gen[s] == CONN_GEN_MAX ? 1 : t->gen[s] + 1;
	t->free_slot[(t->free_head + t->n_free) % MAX_CONNS] = (uint16_t)s;
	t->n_free++;
	t->n_conns--;
	cp_loop_del_fd(t->loop, c->peer.fd);
	close(c->peer.fd);
	c->peer.fd = -1;
	c->next_dead = t->dead;
	t->dead = c;
	cp_timer_start(t->loop, &t->reap, 0);
}

static void reap(struct cp_loop *l, struct cp_timer *tm, void *arg)
{
	struct cp_sip_transport *t = arg;
	struct conn *c;

	/* the callback may send, and a send may kill another connection: the list grows here */
	while ((c = t->dead)) {
		t->dead = c->next_dead;
		if (c->lost && t->err_fn)
			t->err_fn(t, c->peer.conn, c->err, t->err_arg);
		conn_free(c);
	}
}

/* Writes out the queue; 0, or -errno when the connection died of it. */
static int conn_flush(struct cp_sip_transport *t, struct conn *c)
{
	while (c->tx_off < c->tx_len) {
		ssize_t n = send(c->peer.fd, c->tx + c->tx_off, c->tx_len - c->tx_off,
			MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			c->tx_off += (size_t)n;
			c->last_ns = cp_loop_now(t->loop);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_events(t, c, c->state == CONN_DRAINING ? EPOLLOUT : EPOLLIN | EPOLLOUT);
			return 0;
		}
		int rc = n < 0 ? -errno : -EPIPE;

		t->c.tcp_closed_peer++;
		conn_kill(t, c, rc);
		return rc;
	}
	c->tx_off = c->tx_len = 0;
	if (c->tx_cap > TX_KEEP) {
		free(c->tx);
		c->tx = NULL;
		c->tx_cap = 0;
	}
	if (c->state == CONN_DRAINING)
		conn_kill(t, c, 0);
	else
		set_events(t, c, EPOLLIN);
	return 0;
}

/* Appends to the queue: 0, -ENOBUFS past CP_SIP_TX_QUEUE_MAX, -ENOMEM. */
static int tx_append(struct conn *c, const char *buf, size_t len)
{
	size_t queued = c->tx_len - c->tx_off;

	if (queued + len > CP_SIP_TX_QUEUE_MAX)
		return -ENOBUFS;
	if (c->tx_len + len > c->tx_cap && c->tx_off) {
		memmove(c->tx, c->tx + c->tx_off, queued);
		c->tx_off = 0;
		c->tx_len = queued;
	}
	if (c->tx_len + len > c->tx_cap) {
		size_t cap = c->tx_cap ? c->tx_cap : 16384;
		char *p;

		while (cap < c->tx_len + len)
			cap *= 2;
		if (cap > CP_SIP_TX_QUEUE_MAX)
			cap = CP_SIP_TX_QUEUE_MAX;
		p = realloc(c->tx, cap);
		if (!p)
			return -ENOMEM;
		c->tx = p;
		c->tx_cap = cap;
	}
	memcpy(c->tx + c->tx_len, buf, len);
	c->tx_len += len;
	return 0;
}

/* One message onto the connection, after what is queued. 0 or -errno (the connection died). */
static int conn_write(struct cp_sip_transport *t, struct conn *c, const char *buf, size_t len)
{
	size_t done = 0;
	int rc;

	if (c->state == CONN_OPEN && c->tx_off == c->tx_len) {
		ssize_t n = send(c->peer.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n == (ssize_t)len) {
			c->last_ns = cp_loop_now(t->loop);
			return 0;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			rc = -errno;
			t->c.tcp_closed_peer++;
			conn_kill(t, c, rc);
			return rc;
		}
		done = n > 0 ? (size_t)n : 0;
	}
	rc = tx_append(c, buf + done, len - done);
	if (rc < 0) {
		/* the peer does not read (or memory ran out): the stream is cut mid-message */
		if (rc == -ENOBUFS) {
			t->c.tcp_closed_overflow++;
			TG_LOG(SIP, WARN, "TCP connection %08x closed: more than %u bytes unread",
				c->peer.conn, CP_SIP_TX_QUEUE_MAX);
		}
		conn_kill(t, c, rc);
		return rc;
	}
	t->c.tx_queued++;
	if (c->state == CONN_OPEN)
		set_events(t, c, EPOLLIN | EPOLLOUT);
	return 0;
}

static const struct listener *listener_for_family(const struct cp_sip_transport *t, int family)
{
	for (unsigned i = 0; i < t->n_ls; i++)
		if (t->ls[i].addr.ss_family == family)
			return &t->ls[i];
	return NULL;
}

/*
 * A new connection to dst from the listener's address of its family (the port the kernel's
 * choice, made at connect time so that source ports are shared across destinations).
 */
static int conn_open(
	struct cp_sip_transport *t, const struct sockaddr *dst, socklen_t dlen, struct conn **out)
{
	const struct listener *ls = listener_for_family(t, dst->sa_family);
	struct sockaddr_storage src;
	int fd, one = 1, rc;

	if (!ls)
		return -EAFNOSUPPORT;
	if (!t->n_free) {
		t->c.tcp_refused++;
		return -ENOSPC;
	}
	fd = socket(dst->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	src = ls->addr;
	tg_sockaddr_set_port((struct sockaddr *)&src, 0);
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&src, ls->alen) < 0) {
		rc = -errno;
		goto fail;
	}
	if (connect(fd, dst, dlen) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		t->c.tcp_connect_failed++;
		goto fail;
	}
	/* even on loopback the answer comes later: SO_ERROR on the first EPOLLOUT */
	rc = conn_new(t, fd, dst, dlen, CONN_CONNECTING, out);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	close(fd);
	return rc;
}

/* ---- sending ------------------------------------------------------------------------------- */

static int stream_send(struct cp_sip_transport *t, const char *buf, size_t len,
	const struct cp_sip_peer *to, uint32_t *id)
{
	struct conn *c = conn_by_id(t, to->conn);
	int rc;

	if (!c) {
		/* gone: a live connection to where it went, else a new one (§18.2.2) */
		struct sockaddr_storage dst = to->addr;

		if (to->reconnect_port)
			tg_sockaddr_set_port((struct sockaddr *)&dst, to->reconnect_port);
		c = conn_by_addr(t, (const struct sockaddr *)&dst);
		if (!c) {
			rc = conn_open(t, (const struct sockaddr *)&dst, to->len, &c);
			if (rc < 0) {
				t->c.tx_errors++;
				return rc;
			}
			t->c.tcp_reconnected++;
		}
	}
	*id = c->peer.conn;
	rc = conn_write(t, c, buf, len);
	if (rc < 0) {
		t->c.tx_errors++;
		return rc;
	}
	t->c.tx_msgs++;
	return 0;
}

int cp_sip_send(
	struct cp_sip_transport *t, const char *buf, size_t len, const struct cp_sip_peer *to)
{
	ssize_t n;
	uint32_t id;

	if (to->stream)
		return stream_send(t, buf, len, to, &id);
	n = sendto(to->fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&to->addr, to->len);
	if (n < 0 || (size_t)n != len) {
		t->c.tx_errors++;
		return n < 0 ? -errno : -EMSGSIZE;
	}
	t->c.tx_msgs++;
	return 0;
}

int cp_sip_send_update(
	struct cp_sip_transport *t, const char *buf, size_t len, struct cp_sip_peer *to)
{
	uint32_t id = to->conn;
	int rc;

	if (!to->stream)
		return cp_sip_send(t, buf, len, to);
	rc = stream_send(t, buf, len, to, &id);
	if (id != to->conn) {
		struct conn *c = conn_by_id(t, id);

		/* a failed first send still names the new connection: its error comes later */
		to->conn = id;
		to->fd = c ? c->peer.fd : -1;
	}
	return rc;
}

/* ---- receiving ----------------------------------------------------------------------------- */

static void answer_bad(struct cp_sip_transport *t, const osip_message_t *m, const char *buf,
	size_t len, int code, const char *reason, const struct cp_sip_peer *from)
{
	char *out = NULL, raw[4096];
	size_t out_len;

	if (m && cp_sip_response(m, code, reason, NULL, &out, &out_len) == 0) {
		cp_sip_send(t, out, out_len, from);
		osip_free(out);
		return;
	}
	if (cp_sip_raw_400(buf, len, reason, raw, sizeof(raw), &out_len) == 0) {
		cp_sip_send(t, raw, out_len, from);
		return;
	}
	t->c.rx_unanswerable++;
}

static bool looks_like_response(const char *buf, size_t len)
{
	return len >= 4 && strncmp(buf, "SIP/", 4) == 0;
}

static void handle_datagram(
	struct cp_sip_transport *t, char *buf, size_t len, const struct cp_sip_peer *from)
{
	osip_message_t *m;
	char reason[160];
	long body;
	int code;

	t->c.rx_msgs++;
	t->c.rx_bytes += len;
	/* RFC 3261 §7.5: keep-alive CRLFs and stray padding are not messages */
	if (len <= 4 && strspn(buf, "\r\n") == len)
		return;
	if (len > CP_SIP_MAX_MSG) {
		t->c.rx_too_big++;
		return;
	}
	if (osip_message_init(&m) != 0)
		return;
	if (osip_message_parse(m, buf, len) != 0) {
		if (looks_like_response(buf, len)) {
			t->c.rx_bad_responses++;
		} else {
			t->c.rx_bad_requests++;
			answer_bad(t, NULL, buf, len, 400, "Malformed Message", from);
		}
		osip_message_free(m);
		return;
	}
	body = cp_sip_body_offset(buf, len);
	code = cp_sip_check(m, body < 0 ? 0 : len - (size_t)body, reason, sizeof(reason));
	if (code) {
		if (MSG_IS_RESPONSE(m)) {
			t->c.rx_bad_responses++;
		} else if (MSG_IS_ACK(m)) {
			t->c.rx_bad_requests++; /* an ACK is never answered */
		} else {
			t->c.rx_bad_requests++;
			answer_bad(t, m, buf, len, code, reason, from);
		}
		TG_LOG(SIP, INFO, "refused a %s: %d %s",
			MSG_IS_RESPONSE(m) ? "response" : "request", code, reason);
		osip_message_free(m);
		return;
	}
	if (MSG_IS_REQUEST(m)) {
		stamp_via(m, from);
		if (from->stream) {
			struct cp_sip_peer p = *from;

			p.reconnect_port = via_port(m);
			t->fn(t, m, &p, t->arg);
			return;
		}
	}
	t->fn(t, m, from, t->arg);
}

static void on_readable(struct cp_loop *l, int fd, uint32_t events, void *arg)
{
	struct cp_sip_transport *t = arg;
	struct mmsghdr hdrs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_storage addrs[RX_BATCH];
	int n;

	for (int i = 0; i < RX_BATCH; i++) {
		iov[i].iov_base = t->bufs[i];
		iov[i].iov_len = CP_SIP_MAX_MSG + 1;
		memset(&hdrs[i], 0, sizeof(hdrs[i]));
		hdrs[i].msg_hdr.msg_iov = &iov[i];
		hdrs[i].msg_hdr.msg_iovlen = 1;
		hdrs[i].msg_hdr.msg_name = &addrs[i];
		hdrs[i].msg_hdr.msg_namelen = sizeof(addrs[i]);
	}
	n = recvmmsg(fd, hdrs, RX_BATCH, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		struct cp_sip_peer from = {
			.len = hdrs[i].msg_hdr.msg_namelen, .fd = fd, .stream = false};

		memcpy(&from.addr, &addrs[i], sizeof(addrs[i]));
		t->bufs[i][hdrs[i].msg_len] = '\0';
		handle_datagram(t, t->bufs[i], hdrs[i].msg_len, &from);
	}
}

/* Content-Length of the header block [buf, buf + hdr_len), or -1 if there is none. RFC 3261
 * §18.3: on a stream it is how the next message is found, so it is mandatory. */
static long stream_content_length(const char *buf, size_t hdr_len)
{
	const char *p = buf, *end = buf + hdr_len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *v = NULL;

		if (!eol)
			break;
		if (eol - p > 15 && strncasecmp(p, "content-length", 14) == 0)
			v = p + 14;
		else if (eol - p > 2 && (p[0] == 'l' || p[0] == 'L') &&
			 (p[1] == ':' || p[1] == ' '))
			v = p + 1;
		if (v) {
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			if (v < eol && *v == ':') {
				char *e;
				long n = strtol(v + 1, &e, 10);

				while (e < eol && (*e == ' ' || *e == '\t' || *e == '\r'))
					e++;
				return e == eol && n >= 0 && n <= CP_SIP_MAX_MSG ? n : -2;
			}
		}
		p = eol + 1;
	}
	return -1;
}

/*
 * Takes every whole message off the front of c->rx (NUL-terminated at rx_len); false if the
 * framing is broken and the connection must close. Stops early when a send from the owner's
 * callback killed the connection.
 */
static bool stream_frame(struct cp_sip_transport *t, struct conn *c)
{
	while (c->rx_len && c->state == CONN_OPEN) {
		size_t skip = strspn(c->rx, "\r\n"), total;
		long hdr, cl;

		if (skip) {
			/* RFC 5626 keep-alives (CRLFCRLF) between messages */
			memmove(c->rx, c->rx + skip, c->rx_len - skip + 1);
			c->rx_len -= skip;
			continue;
		}
		hdr = cp_sip_body_offset(c->rx, c->rx_len);
		if (hdr < 0)
			return c->rx_len <= CP_SIP_MAX_MSG; /* wait for the rest, within bounds */
		cl = stream_content_length(c->rx, (size_t)hdr);
		if (cl < 0) {
			char raw[4096];
			size_t n;

			t->c.rx_bad_requests++;
			if (cp_sip_raw_400(c->rx, (size_t)hdr,
				    cl == -1 ? "Missing Content-Length on a stream"
					     : "Bad Content-Length",
				    raw, sizeof(raw), &n) == 0)
				cp_sip_send(t, raw, n, &c->peer);
			return false;
		}
		total = (size_t)hdr + (size_t)cl;
		if (total > CP_SIP_MAX_MSG) {
			t->c.rx_too_big++;
			return false;
		}
		if (c->rx_len < total)
			return true;
		char save = c->rx[total];

		c->rx[total] = '\0';
		handle_datagram(t, c->rx, total, &c->peer);
		c->rx[total] = save;
		memmove(c->rx, c->rx + total, c->rx_len - total + 1);
		c->rx_len -= total;
	}
	return true;
}

static void conn_read(struct cp_sip_transport *t, struct conn *c)
{
	for (int i = 0; i < CONN_READS && c->state == CONN_OPEN; i++) {
		ssize_t n = recv(c->peer.fd, c->rx + c->rx_len, CP_SIP_MAX_MSG + 1 - c->rx_len,
			MSG_DONTWAIT);

		if (n > 0) {
			c->rx_len += (size_t)n;
			c->rx[c->rx_len] = '\0';
			c->last_ns = cp_loop_now(t->loop);
			if (!stream_frame(t, c) && c->state == CONN_OPEN) {
				/* the 400 goes out first, if it had to wait */
				t->c.tcp_closed_bad++;
				c->state = CONN_DRAINING;
				conn_unhash(t, c);
				conn_flush(t, c);
			}
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		/* the peer closed, or the connection broke */
		t->c.tcp_closed_peer++;
		conn_kill(t, c, n == 0 ? -ECONNRESET : -errno);
		return;
	}
}

/* A connecting socket's first event: up (true), failed (killed), or not yet (a stale event). */
static bool conn_connected(struct cp_sip_transport *t, struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(c->peer.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	len = sizeof(ss);
	if (!err && getpeername(c->peer.fd, (struct sockaddr *)&ss, &len) < 0)
		err = errno == ENOTCONN ? 0 : errno;
	else if (!err)
		c->state = CONN_OPEN;
	if (err) {
		char peer[TG_SOCKADDR_STRLEN];

		t->c.tcp_connect_failed++;
		TG_LOG(SIP, INFO, "TCP connection to %s failed: %s",
			tg_sockaddr_fmt((const struct sockaddr *)&c->peer.addr, peer, sizeof(peer)),
			strerror(err));
		conn_kill(t, c, -err);
		return false;
	}
	if (c->state != CONN_OPEN)
		return false;
	t->c.tcp_connected++;
	c->last_ns = cp_loop_now(t->loop);
	return true;
}

/*
 * Every event of a connection. The loop dispatches by file descriptor: an event read in the
 * same batch as a close may reach the connection that got the number next, so nothing here
 * trusts the event bits alone; the socket calls say what is true.
 */
static void on_conn_event(struct cp_loop *l, int fd, uint32_t events, void *arg)
{
	struct conn *c = arg;
	struct cp_sip_transport *t = c->t;

	if (c->state == CONN_CONNECTING) {
		if (!conn_connected(t, c))
			return;
		if (conn_flush(t, c) < 0)
			return;
	} else if (c->state != CONN_DEAD && (events & (EPOLLOUT | EPOLLERR))) {
		if (conn_flush(t, c) < 0)
			return;
	}
	if (c->state == CONN_OPEN && (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)))
		conn_read(t, c);
	else if (c->state == CONN_DRAINING && (events & (EPOLLERR | EPOLLHUP)))
		conn_kill(t, c, -ECONNRESET);
}

static void on_accept(struct cp_loop *l, int fd, uint32_t events, void *arg)
{
	struct cp_sip_transport *t = arg;

	for (;;) {
		struct conn *c;
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int rc;

		if (cfd < 0 && (errno == EMFILE || errno == ENFILE) && t->spare_fd >= 0) {
			/* (accept reports EMFILE before it looks at the queue: it may be empty) */
			close(t->spare_fd);
			cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd >= 0)
				close(cfd);
			t->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (cfd < 0)
				return;
			t->c.tcp_refused++;
			TG_LOG(SIP, WARN, "TCP connection refused: out of file descriptors");
			continue;
		}
		if (cfd < 0)
			return;
		rc = conn_new(t, cfd, (const struct sockaddr *)&ss, len, CONN_OPEN, &c);
		if (rc < 0) {
			TG_LOG(SIP, WARN, "TCP connection refused: %s",
				rc == -ENOSPC ? "too many connections" : strerror(-rc));
			close(cfd);
			continue;
		}
		t->c.tcp_accepted++;
	}
}

/* Idle connections are closed: a peer that went away without FIN must not hold a slot. */
static void sweep_idle(struct cp_loop *l, struct cp_timer *tm, void *arg)
{
	struct cp_sip_transport *t = arg;
	uint64_t now = cp_loop_now(l);

	reap(l, &t->reap, t); /* in case arming it failed */
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		struct conn *c = t->slot[i];

		if (!c)
			continue;
		if (c->state == CONN_CONNECTING && now - c->born_ns > CONN_CONNECT_NS) {
			t->c.tcp_connect_failed++;
			conn_kill(t, c, -ETIMEDOUT);
		} else if (now - c->last_ns > CONN_IDLE_NS) {
			t->c.tcp_closed_idle++;
			conn_kill(t, c, -ETIMEDOUT);
		}
	}
	cp_timer_start(l, tm, SWEEP_NS);
}

/* ---- listeners ----------------------------------------------------------------------------- */

static int listen_tcp(struct cp_sip_transport *t, struct listener *ls,
	const struct sockaddr_storage *ss, socklen_t len)
{
	int one = 1;

	ls->tcp_fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ls->tcp_fd < 0)
		return -errno;
	setsockopt(ls->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(ls->tcp_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(ls->tcp_fd, (const struct sockaddr *)ss, len) < 0 || listen(ls->tcp_fd, 128) < 0 ||
		cp_loop_add_fd(t->loop, ls->tcp_fd, EPOLLIN, on_accept, t) < 0) {
		int rc = -errno;

		close(ls->tcp_fd);
		ls->tcp_fd = -1;
		return rc;
	}
	return 0;
}

struct cp_sip_transport *cp_sip_transport_new(
	struct cp_loop *l, const char *listen, cp_sip_rx_fn fn, void *arg)
{
	struct cp_sip_transport *t = calloc(1, sizeof(*t));
	char spec[256], *save = NULL;
	int one = 1, buf = SOCK_BUF, rc;

	if (!t || !(t->bufs = malloc(sizeof(*t->bufs) * RX_BATCH)) ||
		tg_hmap_init(&t->by_addr, 64) < 0) {
		if (t)
			free(t->bufs);
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->loop = l;
	t->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	t->fn = fn;
	t->arg = arg;
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		t->free_slot[i] = (uint16_t)i;
		t->gen[i] = 1; /* id 0 is never a connection */
	}
	t->n_free = MAX_CONNS;
	cp_timer_init(&t->reap, reap, t);
	cp_timer_init(&t->sweep, sweep_idle, t);
	snprintf(spec, sizeof(spec), "%s", listen);
	for (char *s = strtok_r(spec, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		struct sockaddr_storage ss;
		socklen_t len;
		struct listener *ls = &t->ls[t->n_ls];
		const char *why = "too many addresses";
		size_t n;

		while (*s == ' ')
			s++;
		n = strlen(s);
		while (n && s[n - 1] == ' ')
			n--;
		if (t->n_ls == MAX_LISTEN || tg_sockaddr_parse(s, n, 0, &ss, &len, &why) < 0) {
			TG_LOG(SIP, ERR, "sip.listen: '%s': %s", s, why);
			rc = EINVAL;
			goto fail;
		}
		ls->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (ls->fd < 0) {
			rc = errno;
			goto fail;
		}
		setsockopt(ls->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(ls->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		setsockopt(ls->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		if (ss.ss_family == AF_INET6)
			setsockopt(ls->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(ls->fd, (struct sockaddr *)&ss, len) < 0) {
			rc = errno;
			TG_LOG(SIP, ERR, "sip.listen: bind %s: %s", s, strerror(rc));
			close(ls->fd);
			goto fail;
		}
		len = sizeof(ss);
		getsockname(ls->fd, (struct sockaddr *)&ss, &len);
		ls->addr = ss;
		ls->alen = len;
		tg_sockaddr_fmt((const struct sockaddr *)&ss, ls->bound, sizeof(ls->bound));
		rc = -cp_loop_add_fd(l, ls->fd, EPOLLIN, on_readable, t);
		if (rc) {
			close(ls->fd);
			goto fail;
		}
		/* TCP on the very port UDP got (which matters when it was 0: any free one) */
		rc = -listen_tcp(t, ls, &ss, len);
		if (rc) {
			TG_LOG(SIP, ERR, "sip.listen: TCP on %s: %s", ls->bound, strerror(rc));
			cp_loop_del_fd(l, ls->fd);
			close(ls->fd);
			goto fail;
		}
		t->n_ls++;
		TG_LOG(SIP, NOTICE, "SIP listening on udp and tcp %s", ls->bound);
	}
	if (!t->n_ls) {
		rc = EINVAL;
		goto fail;
	}
	cp_timer_start(l, &t->sweep, SWEEP_NS);
	return t;
fail:
	cp_sip_transport_free(t);
	errno = rc;
	return NULL;
}

void cp_sip_transport_free(struct cp_sip_transport *t)
{
	if (!t)
		return;
	cp_timer_stop(t->loop, &t->sweep);
	cp_timer_stop(t->loop, &t->reap);
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (t->slot[i])
			conn_kill(t, t->slot[i], 0);
	cp_timer_stop(t->loop, &t->reap);
	while (t->dead) {
		struct conn *c = t->dead;

		t->dead = c->next_dead;
		conn_free(c);
	}
	for (unsigned i = 0; i < t->n_ls; i++) {
		cp_loop_del_fd(t->loop, t->ls[i].fd);
		close(t->ls[i].fd);
		cp_loop_del_fd(t->loop, t->ls[i].tcp_fd);
		close(t->ls[i].tcp_fd);
	}
	tg_hmap_fini(&t->by_addr);
	if (t->spare_fd >= 0)
		close(t->spare_fd);
	free(t->bufs);
	free(t);
}

void cp_sip_transport_on_error(struct cp_sip_transport *t, cp_sip_error_fn fn, void *arg)
{
	t->err_fn = fn;
	t->err_arg = arg;
}

const struct cp_sip_counters *cp_sip_transport_counters(const struct cp_sip_transport *t)
{
	return &t->c;
}

const char *cp_sip_transport_bound(const struct cp_sip_transport *t, unsigned i)
{
	return i < t->n_ls ? t->ls[i].bound : NULL;
}

unsigned cp_sip_transport_conns(const struct cp_sip_transport *t)
{
	return t->n_conns;
}

int cp_sip_transport_route(struct cp_sip_transport *t, const struct sockaddr *dst, socklen_t len,
	bool tcp, struct cp_sip_peer *out, char *local, size_t local_len)
{
	const struct listener *ls = listener_for_family(t, dst->sa_family);

	if (!ls || len > sizeof(out->addr))
		return -EAFNOSUPPORT;
	memset(out, 0, sizeof(*out));
	memcpy(&out->addr, dst, len);
	out->len = len;
	out->fd = ls->fd;
	if (tcp) {
		struct conn *c = conn_by_addr(t, dst);
		int rc;

		if (!c && (rc = conn_open(t, dst, len, &c)) < 0)
			return rc;
		out->fd = c->peer.fd;
		out->stream = true;
		out->conn = c->peer.conn;
	}
	if (local)
		snprintf(local, local_len, "%s", ls->bound);
	return 0;
}

int cp_sip_transport_local(const struct cp_sip_transport *t, const struct cp_sip_peer *p,
	char *local, size_t local_len)
{
	const struct listener *ls = NULL;

	for (unsigned i = 0; i < t->n_ls && !p->stream; i++)
		if (t->ls[i].fd == p->fd)
			ls = &t->ls[i];
	if (!ls)
		ls = listener_for_family(t, p->addr.ss_family);
	if (!ls)
		return -ENOENT;
	snprintf(local, local_len, "%s", ls->bound);
	return 0;
}
