/* SPDX-License-Identifier: BSD-3-Clause */
/* SIP over UDP: sockets on the loop, batch receive, checks, stateless error answers. */
#include "cp_sip_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "cp_sip_msg.h"
#include "tg_log.h"

#define MAX_LISTEN 8
#define MAX_CONNS 1024
#define CONN_IDLE_NS (120ULL * 1000 * 1000 * 1000)
#define SWEEP_NS (5ULL * 1000 * 1000 * 1000)
#define RX_BATCH 32
#define SOCK_BUF (4 << 20) /* SIPp at thousands of calls per second overruns the default */

struct listener {
	int fd;
	int tcp_fd;
	char bound[64];
};

/* One TCP connection: what has arrived and not yet formed a whole message. */
struct conn {
	struct cp_sip_peer peer;
	char *buf;
	size_t len;
	uint64_t last_ns;
	struct conn *next;
};

struct cp_sip_transport {
	struct cp_loop *loop;
	cp_sip_rx_fn fn;
	void *arg;
	struct listener ls[MAX_LISTEN];
	unsigned n_ls;
	struct cp_sip_counters c;
	struct conn *conns;
	unsigned n_conns;
	struct cp_timer sweep;
	/* receive buffers for one batch; a datagram of CP_SIP_MAX_MSG + 1 bytes is too big */
	char (*bufs)[CP_SIP_MAX_MSG + 2];
};

static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	long port;
	char *end;

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		host[strlen(host) - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
	}
	return 0;
}

static void fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len, uint16_t *port)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		*port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		*port = ntohs(s4->sin_port);
	}
	snprintf(buf, len, "%s", ip);
}

/* RFC 3581 / RFC 3261 §18.2.1: where the request really came from, on its top Via */
static void stamp_via(osip_message_t *m, const struct cp_sip_peer *from)
{
	osip_via_t *via = osip_list_get(&m->vias, 0);
	osip_generic_param_t *rport = NULL;
	char ip[INET6_ADDRSTRLEN], port[8];
	uint16_t p;

	if (!via)
		return;
	fmt_addr(&from->addr, ip, sizeof(ip), &p);
	snprintf(port, sizeof(port), "%u", p);
	if (strcmp(via->host, ip) != 0)
		osip_via_set_received(via, osip_strdup(ip));
	if (osip_via_param_get_byname(via, "rport", &rport) == 0 && rport) {
		osip_free(rport->gvalue);
		rport->gvalue = osip_strdup(port);
	}
}

int cp_sip_send(
	struct cp_sip_transport *t, const char *buf, size_t len, const struct cp_sip_peer *to)
{
	ssize_t n =
		sendto(to->fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&to->addr, to->len);

	if (n < 0 || (size_t)n != len) {
		t->c.tx_errors++;
		return n < 0 ? -errno : -EMSGSIZE;
	}
	t->c.tx_msgs++;
	return 0;
}

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
	if (MSG_IS_REQUEST(m))
		stamp_via(m, from);
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

static void conn_close(struct cp_sip_transport *t, struct conn *c)
{
	for (struct conn **pp = &t->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	cp_loop_del_fd(t->loop, c->peer.fd);
	close(c->peer.fd);
	free(c->buf);
	free(c);
	t->n_conns--;
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

/* Takes every whole message off the front of c->buf; false if the connection must close. */
static bool stream_frame(struct cp_sip_transport *t, struct conn *c)
{
	while (c->len) {
		long hdr = cp_sip_body_offset(c->buf, c->len), cl;
		size_t total, skip = strspn(c->buf, "\r\n");

		if (skip) {
			/* RFC 5626 keep-alives (CRLFCRLF) between messages */
			memmove(c->buf, c->buf + skip, c->len - skip);
			c->len -= skip;
			continue;
		}
		if (hdr < 0)
			return c->len <= CP_SIP_MAX_MSG; /* wait for the rest, within bounds */
		cl = stream_content_length(c->buf, (size_t)hdr);
		if (cl < 0) {
			char raw[4096];
			size_t n;

			t->c.rx_bad_requests++;
			if (cp_sip_raw_400(c->buf, (size_t)hdr,
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
		if (c->len < total)
			return true;
		char save = c->buf[total];

		c->buf[total] = '\0';
		handle_datagram(t, c->buf, total, &c->peer);
		c->buf[total] = save;
		memmove(c->buf, c->buf + total, c->len - total);
		c->len -= total;
	}
	return true;
}

static void on_conn_readable(struct cp_loop *l, int fd, uint32_t events, void *arg)
{
	struct cp_sip_transport *t = arg;
	struct conn *c = t->conns;

	while (c && c->peer.fd != fd)
		c = c->next;
	if (!c)
		return;
	for (;;) {
		ssize_t n = recv(fd, c->buf + c->len, CP_SIP_MAX_MSG + 1 - c->len, MSG_DONTWAIT);

		if (n > 0) {
			c->len += (size_t)n;
			c->last_ns = cp_loop_now(l);
			if (!stream_frame(t, c)) {
				t->c.tcp_closed_bad++;
				conn_close(t, c);
				return;
			}
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			conn_close(t, c); /* peer closed, or the connection broke */
		return;
	}
}

static void on_accept(struct cp_loop *l, int fd, uint32_t events, void *arg)
{
	struct cp_sip_transport *t = arg;

	for (;;) {
		struct conn *c;
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c || t->n_conns == MAX_CONNS || !(c->buf = malloc(CP_SIP_MAX_MSG + 2)) ||
			cp_loop_add_fd(l, cfd, EPOLLIN, on_conn_readable, t) < 0) {
			TG_LOG(SIP, WARN, "TCP connection refused: %s",
				t->n_conns == MAX_CONNS ? "too many connections" : "out of memory");
			if (c)
				free(c->buf);
			free(c);
			close(cfd);
			continue;
		}
		c->peer.addr = ss;
		c->peer.len = len;
		c->peer.fd = cfd;
		c->peer.stream = true;
		c->last_ns = cp_loop_now(l);
		c->next = t->conns;
		t->conns = c;
		t->n_conns++;
		t->c.tcp_accepted++;
	}
}

/* Idle connections are closed: a peer that went away without FIN must not hold a slot. */
static void sweep_idle(struct cp_loop *l, struct cp_timer *tm, void *arg)
{
	struct cp_sip_transport *t = arg;
	uint64_t now = cp_loop_now(l);

	for (struct conn *c = t->conns, *next; c; c = next) {
		next = c->next;
		if (now - c->last_ns > CONN_IDLE_NS) {
			t->c.tcp_closed_idle++;
			conn_close(t, c);
		}
	}
	cp_timer_start(l, tm, SWEEP_NS);
}

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

	if (!t || !(t->bufs = malloc(sizeof(*t->bufs) * RX_BATCH))) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->loop = l;
	t->fn = fn;
	t->arg = arg;
	snprintf(spec, sizeof(spec), "%s", listen);
	for (char *s = strtok_r(spec, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		struct sockaddr_storage ss;
		socklen_t len;
		struct listener *ls = &t->ls[t->n_ls];
		uint16_t port;
		char ip[INET6_ADDRSTRLEN];

		while (*s == ' ')
			s++;
		if (t->n_ls == MAX_LISTEN || parse_listen(s, &ss, &len) < 0) {
			TG_LOG(SIP, ERR, "sip.listen: '%s' is not ADDR:PORT or [ADDR6]:PORT", s);
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
		fmt_addr(&ss, ip, sizeof(ip), &port);
		snprintf(ls->bound, sizeof(ls->bound),
			ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
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
	cp_timer_init(&t->sweep, sweep_idle, t);
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
	while (t->conns)
		conn_close(t, t->conns);
	for (unsigned i = 0; i < t->n_ls; i++) {
		cp_loop_del_fd(t->loop, t->ls[i].fd);
		close(t->ls[i].fd);
		cp_loop_del_fd(t->loop, t->ls[i].tcp_fd);
		close(t->ls[i].tcp_fd);
	}
	free(t->bufs);
	free(t);
}

const struct cp_sip_counters *cp_sip_transport_counters(const struct cp_sip_transport *t)
{
	return &t->c;
}

const char *cp_sip_transport_bound(const struct cp_sip_transport *t, unsigned i)
{
	return i < t->n_ls ? t->ls[i].bound : NULL;
}

static const struct listener *listener_for_family(const struct cp_sip_transport *t, int family)
{
	for (unsigned i = 0; i < t->n_ls; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(t->ls[i].fd, (struct sockaddr *)&ss, &len) == 0 &&
			ss.ss_family == family)
			return &t->ls[i];
	}
	return NULL;
}

int cp_sip_transport_route(struct cp_sip_transport *t, const struct sockaddr *dst, socklen_t len,
	bool tcp, struct cp_sip_peer *out, char *local, size_t local_len)
{
	const struct listener *ls;

	if (tcp)
		return -EPROTONOSUPPORT;
	ls = listener_for_family(t, dst->sa_family);
	if (!ls || len > sizeof(out->addr))
		return -EAFNOSUPPORT;
	memset(out, 0, sizeof(*out));
	memcpy(&out->addr, dst, len);
	out->len = len;
	out->fd = ls->fd;
	out->stream = false;
	if (local)
		snprintf(local, local_len, "%s", ls->bound);
	return 0;
}

int cp_sip_transport_local(const struct cp_sip_transport *t, const struct cp_sip_peer *p,
	char *local, size_t local_len)
{
	for (unsigned i = 0; i < t->n_ls; i++) {
		if (t->ls[i].fd == p->fd) {
			snprintf(local, local_len, "%s", t->ls[i].bound);
			return 0;
		}
	}
	const struct listener *ls = listener_for_family(t, p->addr.ss_family);

	if (!ls)
		return -ENOENT;
	snprintf(local, local_len, "%s", ls->bound);
	return 0;
}
