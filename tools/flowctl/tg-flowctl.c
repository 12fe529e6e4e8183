/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tg-flowctl: installs relayed media pairs in a running tollgate-dp over the channel, without
 * SIP. It is a minimal control plane (it attaches as one, so it cannot run beside tollgate-cp)
 * for the relay's integration tests and benchmarks, and for an operator checking a dataplane
 * by hand. Every pair is two endpoints, A and B, linked; packets sent to A's local port go to
 * B's remote and the other way round.
 *
 *   tg-flowctl --instance NAME --pairs N --a-remote IP:PORT --b-remote IP:PORT
 *              [--a-local IP:PORT] [--b-local IP:PORT] [--latch] [--rewrite] [--mux]
 *              [--hold SECONDS] [--stats]
 *
 * IP:PORT is "ADDR:PORT" or "[ADDR6]:PORT" (tg_sockaddr.h). Ports step by 2 from the given
 * bases for each pair; a local port of 0 lets the dataplane choose. It prints one line per pair
 * ("pair i: a=IP:PORT b=IP:PORT"), holds them for --hold seconds (default: until SIGINT/SIGTERM),
 * prints each endpoint's statistics with --stats, deletes everything and ends with a key=value
 * summary line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cp_dp.h"
#include "cp_loop.h"
#include "tg_log.h"
#include "tg_sockaddr.h"
#include "tg_time.h"

#define KEY_A(i) (((uint64_t)(i) + 1) << 1)
#define KEY_B(i) ((((uint64_t)(i) + 1) << 1) | 1)

struct opts {
	const char *instance;
	unsigned pairs;
	struct tg_addr a_local, b_local, a_remote, b_remote;
	uint8_t flags;
	double hold_s;
	bool stats;
};

enum phase { CREATE, UPDATE, LINK, HOLD, STATS, DELETE, DONE };

struct ctl {
	struct opts o;
	struct cp_loop *loop;
	struct cp_dp *dp;
	enum phase phase;
	unsigned sent, done, failed;
	int first_err;
	struct tg_addr *a_got, *b_got;
	struct tg_msg_ep_stats *st_a, *st_b;
	struct cp_timer hold, deadline;
	int sig_fd;
	int exit_code;
};

static int parse_addr(const char *s, struct tg_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(a, 0, sizeof(*a));
	if (tg_sockaddr_parse(s, strlen(s), 0, &ss, &len, NULL) < 0)
		return -EINVAL;
	a->port = tg_sockaddr_port((struct sockaddr *)&ss);
	if (ss.ss_family == AF_INET) {
		a->family = TG_AF_INET;
		memcpy(a->a, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else {
		a->family = TG_AF_INET6;
		memcpy(a->a, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	}
	return 0;
}

static const char *fmt_addr(const struct tg_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(a->family == TG_AF_INET ? AF_INET : AF_INET6, a->a, ip, sizeof(ip));
	snprintf(buf, len, a->family == TG_AF_INET6 ? "[%s]:%u" : "%s:%u", ip, a->port);
	return buf;
}

static void next_phase(struct ctl *c);

static void on_reply(struct cp_dp *dp, const struct tg_msg *r, int status, void *arg)
{
	struct ctl *c = arg;

	c->done++;
	if (status < 0) {
		c->failed++;
		if (!c->first_err)
			c->first_err = status;
	} else if (r) {
		uint64_t key = r->u.ep.key, idx = (key >> 1) - 1;
		bool is_b = key & 1;

		if (r->type == TG_MSG_EP_CREATE && idx < c->o.pairs)
			(is_b ? c->b_got : c->a_got)[idx] = r->u.ep.local;
		if ((r->type == TG_MSG_EP_STATS || r->type == TG_MSG_EP_DELETE)) {
			key = r->u.ep_stats.key;
			idx = (key >> 1) - 1;
			if (key && idx < c->o.pairs)
				(key & 1 ? c->st_b : c->st_a)[idx] = r->u.ep_stats;
		}
	}
	if (c->done == c->sent)
		next_phase(c);
}

static void send_ep(struct ctl *c, uint16_t type, uint64_t key, uint64_t peer,
	const struct tg_addr *local, const struct tg_addr *remote)
{
	struct tg_msg m = {.type = type};
	int rc;

	m.u.ep.key = key;
	m.u.ep.peer_key = peer;
	m.u.ep.dir = TG_DIR_RECV | TG_DIR_SEND;
	m.u.ep.flags = c->o.flags;
	m.u.ep.pt_in = m.u.ep.pt_out = 0xff;
	m.u.ep.out_ssrc = (uint32_t)key * 2654435761u;
	if (local)
		m.u.ep.local = *local;
	if (remote)
		m.u.ep.remote = *remote;
	c->sent++;
	rc = cp_dp_request(c->dp, 0, &m, on_reply, c);
	if (rc < 0) {
		/* counted as done now: the reply callback will never come */
		c->done++;
		c->failed++;
		if (!c->first_err)
			c->first_err = rc;
	}
}

static struct tg_addr step(const struct tg_addr *base, unsigned i)
{
	struct tg_addr a = *base;

	if (a.port)
		a.port = (uint16_t)(a.port + 2 * i);
	return a;
}

static void print_stats(struct ctl *c)
{
	for (unsigned i = 0; i < c->o.pairs; i++) {
		for (int s = 0; s < 2; s++) {
			const struct tg_msg_ep_stats *st = s ? &c->st_b[i] : &c->st_a[i];

			printf("stats pair %u %c: rx_pkts=%" PRIu64 " rx_bytes=%" PRIu64
			       " tx_pkts=%" PRIu64 " rtcp_pkts=%" PRIu64 " dropped=%" PRIu64
			       " lost=%d expected=%u jitter_us=%u jitter_max_us=%u"
			       " out_of_order=%u duplicates=%u rtt_us=%u remote_lost=%u"
			       " remote_jitter_us=%u mos=%.2f\n",
				i, s ? 'b' : 'a', st->rx_pkts, st->rx_bytes, st->tx_pkts,
				st->rtcp_pkts, st->dropped, st->lost, st->expected, st->jitter_us,
				st->jitter_max_us, st->out_of_order, st->duplicates, st->rtt_us,
				st->remote_lost, st->remote_jitter_us, st->mos_x100 / 100.0);
		}
	}
}

static void hold_done(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct ctl *c = arg;

	c->phase = HOLD;
	next_phase(c);
}

static void next_phase(struct ctl *c)
{
	char a[64], b[64];

	if (c->failed && c->phase != DELETE) {
		fprintf(stderr, "tg-flowctl: %u of %u requests failed (first: %s)\n", c->failed,
			c->sent, strerror(-c->first_err));
		c->exit_code = 1;
		c->phase = STATS; /* clean up what was made */
	}
	c->sent = c->done = 0;
	switch (c->phase) {
	case CREATE:
		c->phase = UPDATE;
		for (unsigned i = 0; i < c->o.pairs; i++) {
			struct tg_addr ra = step(&c->o.a_remote, i), rb = step(&c->o.b_remote, i);

			send_ep(c, TG_MSG_EP_UPDATE, KEY_A(i), 0, NULL, &ra);
			send_ep(c, TG_MSG_EP_UPDATE, KEY_B(i), 0, NULL, &rb);
		}
		break;
	case UPDATE:
		c->phase = LINK;
		for (unsigned i = 0; i < c->o.pairs; i++)
			send_ep(c, TG_MSG_EP_LINK, KEY_A(i), KEY_B(i), NULL, NULL);
		break;
	case LINK:
		for (unsigned i = 0; i < c->o.pairs; i++)
			printf("pair %u: a=%s b=%s\n", i, fmt_addr(&c->a_got[i], a, sizeof(a)),
				fmt_addr(&c->b_got[i], b, sizeof(b)));
		printf("installed %u pairs\n", c->o.pairs);
		fflush(stdout);
		cp_timer_stop(c->loop, &c->deadline);
		if (c->o.hold_s > 0)
			cp_timer_start(c->loop, &c->hold, (uint64_t)(c->o.hold_s * 1e9));
		return; /* HOLD: until the timer or a signal */
	case HOLD:
		cp_timer_start(c->loop, &c->deadline, 10 * TG_NS_PER_S);
		c->phase = STATS;
		for (unsigned i = 0; c->o.stats && i < c->o.pairs; i++) {
			send_ep(c, TG_MSG_EP_STATS, KEY_A(i), 0, NULL, NULL);
			send_ep(c, TG_MSG_EP_STATS, KEY_B(i), 0, NULL, NULL);
		}
		if (!c->sent)
			next_phase(c);
		break;
	case STATS:
		if (c->o.stats)
			print_stats(c);
		c->phase = DELETE;
		for (unsigned i = 0; i < c->o.pairs; i++) {
			send_ep(c, TG_MSG_EP_DELETE, KEY_A(i), 0, NULL, NULL);
			send_ep(c, TG_MSG_EP_DELETE, KEY_B(i), 0, NULL, NULL);
		}
		break;
	case DELETE:
		c->phase = DONE;
		cp_loop_stop(c->loop);
		break;
	case DONE:
		break;
	}
}

static void on_state(struct cp_dp *dp, enum cp_dp_state st, void *arg)
{
	struct ctl *c = arg;

	if (st == CP_DP_UP && c->phase == CREATE && c->sent == 0) {
		for (unsigned i = 0; i < c->o.pairs; i++) {
			struct tg_addr la = step(&c->o.a_local, i), lb = step(&c->o.b_local, i);

			send_ep(c, TG_MSG_EP_CREATE, KEY_A(i), 0, &la, NULL);
			send_ep(c, TG_MSG_EP_CREATE, KEY_B(i), 0, &lb, NULL);
		}
	} else if (st != CP_DP_UP) {
		fprintf(stderr, "tg-flowctl: the dataplane went away\n");
		c->exit_code = 1;
		cp_loop_stop(c->loop);
	}
}

static void on_event(struct cp_dp *dp, const struct tg_msg *ev, void *arg)
{
	if (ev->type == TG_MSG_MEDIA_TIMEOUT)
		printf("media-timeout key=%" PRIu64 " last_rx_ms_ago=%u rx_pkts=%" PRIu64 "\n",
			ev->u.ep_stats.key, ev->u.ep_stats.last_rx_ms_ago, ev->u.ep_stats.rx_pkts);
	fflush(stdout);
}

static void on_signal(struct cp_loop *l, int fd, uint32_t ev, void *arg)
{
	struct ctl *c = arg;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) < 0)
		return;
	if (c->phase == LINK) {
		cp_timer_stop(l, &c->hold);
		c->phase = HOLD;
		next_phase(c);
	} else {
		cp_loop_stop(l);
	}
}

static void on_deadline(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct ctl *c = arg;

	fprintf(stderr, "tg-flowctl: no dataplane answered in time (phase %d)\n", c->phase);
	c->exit_code = 1;
	cp_loop_stop(l);
}

static int usage(void)
{
	fprintf(stderr, "usage: tg-flowctl --instance NAME --pairs N --a-remote IP:PORT "
			"--b-remote IP:PORT [--a-local IP:PORT] [--b-local IP:PORT] [--latch] "
			"[--rewrite] [--mux] [--hold SECONDS] [--stats]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct ctl c = {.sig_fd = -1};
	struct cp_dp_params p = {
		.dp_timeout_ns = 2 * TG_NS_PER_S,
		.request_timeout_ns = 5 * TG_NS_PER_S,
		.check_interval_ns = 20 * TG_NS_PER_MS,
		.backlog_max = 1u << 24,
	};
	sigset_t mask;

	tg_log_set_ident("tg-flowctl");
	tg_log_set_level("all", "warn");
	c.o.instance = "default";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;

		if (!strcmp(a, "--latch")) {
			c.o.flags |= TG_EPF_LATCH;
			continue;
		} else if (!strcmp(a, "--rewrite")) {
			c.o.flags |= TG_EPF_REWRITE_RTP;
			continue;
		} else if (!strcmp(a, "--mux")) {
			c.o.flags |= TG_EPF_RTCP_MUX;
			continue;
		} else if (!strcmp(a, "--stats")) {
			c.o.stats = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "tg-flowctl: %s needs an argument\n", a);
			return usage();
		}
		i++;
		if (!strcmp(a, "--instance"))
			c.o.instance = v;
		else if (!strcmp(a, "--pairs"))
			bad = (c.o.pairs = (unsigned)strtoul(v, NULL, 10)) == 0 ||
			      c.o.pairs > 2000000;
		else if (!strcmp(a, "--a-remote"))
			bad = parse_addr(v, &c.o.a_remote);
		else if (!strcmp(a, "--b-remote"))
			bad = parse_addr(v, &c.o.b_remote);
		else if (!strcmp(a, "--a-local"))
			bad = parse_addr(v, &c.o.a_local);
		else if (!strcmp(a, "--b-local"))
			bad = parse_addr(v, &c.o.b_local);
		else if (!strcmp(a, "--hold"))
			bad = (c.o.hold_s = strtod(v, NULL)) <= 0;
		else {
			fprintf(stderr, "tg-flowctl: unknown option '%s'\n", a);
			return usage();
		}
		if (bad) {
			fprintf(stderr, "tg-flowctl: bad value '%s' for %s\n", v, a);
			return usage();
		}
	}
	if (!c.o.pairs || !c.o.a_remote.family || !c.o.b_remote.family)
		return usage();
	/* no local address: the dataplane picks a media address of the remote's family */
	if (!c.o.a_local.family)
		c.o.a_local.family = c.o.a_remote.family;
	if (!c.o.b_local.family)
		c.o.b_local.family = c.o.b_remote.family;
	c.a_got = calloc(c.o.pairs, sizeof(*c.a_got));
	c.b_got = calloc(c.o.pairs, sizeof(*c.b_got));
	c.st_a = calloc(c.o.pairs, sizeof(*c.st_a));
	c.st_b = calloc(c.o.pairs, sizeof(*c.st_b));
	c.loop = cp_loop_new();
	p.instance = c.o.instance;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	c.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (!c.a_got || !c.b_got || !c.st_a || !c.st_b || !c.loop || c.sig_fd < 0 ||
		cp_loop_add_fd(c.loop, c.sig_fd, EPOLLIN, on_signal, &c) < 0)
		return 1;
	c.dp = cp_dp_new(c.loop, &p, on_state, on_event, &c);
	if (!c.dp)
		return 1;
	cp_timer_init(&c.hold, hold_done, &c);
	cp_timer_init(&c.deadline, on_deadline, &c);
	/* the deadline guards set-up and clean-up; installed pairs are held as long as asked */
	cp_timer_start(c.loop, &c.deadline, 10 * TG_NS_PER_S);
	cp_loop_run(c.loop);
	cp_timer_stop(c.loop, &c.deadline);
	printf("pairs=%u installed=%d exit=%d\n", c.o.pairs, c.phase >= HOLD || c.phase == LINK,
		c.exit_code);
	cp_dp_free(c.dp);
	cp_loop_free(c.loop);
	close(c.sig_fd);
	free(c.a_got);
	free(c.b_got);
	free(c.st_a);
	free(c.st_b);
	return c.exit_code;
}
