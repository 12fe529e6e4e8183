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
 *              [--dtmf-pt PT] [--commands] [--hold SECONDS] [--stats] [--keep]
 *   tg-flowctl dtmf --instance NAME --key KEY --pt PT [--duration MS] [--gap MS]
 *              [--volume N] [--listen SECONDS] DIGITS
 *
 * IP:PORT is "ADDR:PORT" or "[ADDR6]:PORT" (tg_sockaddr.h). Ports step by 2 from the given
 * bases for each pair; a local port of 0 lets the dataplane choose. It prints one line per pair
 * ("pair i: a=IP:PORT b=IP:PORT"), holds them for --hold seconds (default: until SIGINT/SIGTERM,
 * or a "quit" command), prints each endpoint's statistics with --stats, deletes everything
 * (unless --keep, which leaves the pairs installed for a later tg-flowctl dtmf) and ends with a
 * key=value summary line. Pair i's endpoints have keys 2(i+1) (A) and 2(i+1)+1 (B).
 *
 * DTMF (RFC 4733): --dtmf-pt PT tells both endpoints that their remotes send telephone-event with
 * payload type PT; each digit a remote sends is printed when it ends:
 *   dtmf key=KEY digit=D end=0|1 duration_ms=N volume=N ts=N
 * --commands reads commands on standard input while the pairs are held, one per line:
 *   dtmf ENDPOINT PT DIGITS [DURATION_MS [GAP_MS [VOLUME]]]
 *       ENDPOINT is a key or a<i> / b<i> (pair i's A or B): the dataplane sends DIGITS from
 *       that endpoint to its remote; prints "dtmf-reply key=KEY status=N (text) play_ms=N"
 *   quit
 * The dtmf verb does the same once, as a control plane of its own (none other may be attached:
 * install with --keep), prints the reply, then any digit received for --listen seconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
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
	uint8_t te_pt; /* --dtmf-pt: the remotes' telephone-event PT, 0 = none */
	double hold_s;
	bool stats;
	bool commands; /* --commands: read commands on stdin while holding */
	bool keep;     /* --keep: leave the pairs installed at exit */
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
	char line[512]; /* --commands: the partial line read so far */
	size_t line_len;
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

	if (type == TG_MSG_EP_UPDATE) {
		const struct cp_dp_ep_update u = {
			.key = key,
			.remote = *remote,
			.dir = TG_DIR_RECV | TG_DIR_SEND,
			.flags = c->o.flags,
			.out_ssrc = (uint32_t)key * 2654435761u,
			.pt_in = 0xff,
			.pt_out = 0xff,
			.te_pt = c->o.te_pt,
		};

		cp_dp_ep_update_msg(&m, &u);
	} else {
		m.u.ep.key = key;
		m.u.ep.peer_key = peer;
		m.u.ep.dir = TG_DIR_RECV | TG_DIR_SEND;
		m.u.ep.flags = c->o.flags;
		m.u.ep.pt_in = m.u.ep.pt_out = 0xff;
		if (local)
			m.u.ep.local = *local;
	}
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
		for (unsigned i = 0; !c->o.keep && i < c->o.pairs; i++) {
			send_ep(c, TG_MSG_EP_DELETE, KEY_A(i), 0, NULL, NULL);
			send_ep(c, TG_MSG_EP_DELETE, KEY_B(i), 0, NULL, NULL);
		}
		if (!c->sent)
			next_phase(c);
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
	const struct tg_msg_dtmf *d = cp_dp_event_dtmf(ev);

	if (ev->type == TG_MSG_MEDIA_TIMEOUT)
		printf("media-timeout key=%" PRIu64 " last_rx_ms_ago=%u rx_pkts=%" PRIu64 "\n",
			ev->u.ep_stats.key, ev->u.ep_stats.last_rx_ms_ago, ev->u.ep_stats.rx_pkts);
	else if (d)
		printf("dtmf key=%" PRIu64 " digit=%c end=%u duration_ms=%u volume=%u ts=%u\n",
			d->key, d->digit, d->end, d->duration_ms, d->volume, d->timestamp);
	fflush(stdout);
}

/* ---- DTMF: the dtmf command and verb ---- */

static void on_dtmf_reply(struct cp_dp *dp, const struct tg_msg *r, int status, void *arg)
{
	printf("dtmf-reply key=%" PRIu64 " status=%d (%s) play_ms=%u\n", r ? r->u.ep_dtmf.key : 0,
		status, status ? strerror(-status) : "accepted",
		r && status == 0 ? r->u.ep_dtmf.play_ms : 0);
	fflush(stdout);
	if (arg) /* the verb: its one request is answered */
		*(int *)arg = status < 0 ? 1 : 0;
}

/* A key, or a<i> / b<i>: pair i's endpoint A or B. */
static int parse_key(const char *s, uint64_t *key)
{
	char *end;
	unsigned long long v;

	if (s[0] == 'a' || s[0] == 'b') {
		v = strtoull(s + 1, &end, 10);
		if (end == s + 1 || *end)
			return -EINVAL;
		*key = s[0] == 'a' ? KEY_A(v) : KEY_B(v);
		return 0;
	}
	v = strtoull(s, &end, 0);
	if (end == s || *end || v == 0)
		return -EINVAL;
	*key = v;
	return 0;
}

/* "dtmf ENDPOINT PT DIGITS [DURATION_MS [GAP_MS [VOLUME]]]" */
static void command(struct ctl *c, char *line)
{
	char *w[8], *save = NULL;
	unsigned n = 0;
	struct cp_dp_dtmf d = {0};
	int rc;

	for (char *t = strtok_r(line, " \t\r", &save); t && n < 8;
		t = strtok_r(NULL, " \t\r", &save))
		w[n++] = t;
	if (n == 0)
		return;
	if (!strcmp(w[0], "quit")) {
		if (c->phase == LINK) {
			cp_timer_stop(c->loop, &c->hold);
			c->phase = HOLD;
			next_phase(c);
		}
		return;
	}
	if (strcmp(w[0], "dtmf") || n < 4 || n > 7 || parse_key(w[1], &d.key) < 0) {
		printf("error: usage: dtmf ENDPOINT PT DIGITS [DURATION_MS [GAP_MS [VOLUME]]]\n");
		fflush(stdout);
		return;
	}
	d.pt = (uint8_t)strtoul(w[2], NULL, 10);
	d.digits = w[3];
	d.duration_ms = n > 4 ? (unsigned)strtoul(w[4], NULL, 10) : 0;
	d.gap_ms = n > 5 ? (unsigned)strtoul(w[5], NULL, 10) : 0;
	d.volume = n > 6 ? (unsigned)strtoul(w[6], NULL, 10) : 0;
	if (c->phase != LINK)
		rc = -EAGAIN; /* not installed yet, or being removed */
	else
		rc = cp_dp_ep_dtmf(c->dp, &d, on_dtmf_reply, NULL);
	if (rc < 0) {
		printf("dtmf-reply key=%" PRIu64 " status=%d (%s) play_ms=0\n", d.key, rc,
			strerror(-rc));
		fflush(stdout);
	}
}

static void on_stdin(struct cp_loop *l, int fd, uint32_t ev, void *arg)
{
	struct ctl *c = arg;
	ssize_t n = read(fd, c->line + c->line_len, sizeof(c->line) - 1 - c->line_len);
	char *nl;

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			cp_loop_del_fd(l, fd); /* no more commands; the pairs stay held */
		return;
	}
	c->line_len += (size_t)n;
	c->line[c->line_len] = '\0';
	while ((nl = strchr(c->line, '\n'))) {
		*nl = '\0';
		command(c, c->line);
		c->line_len -= (size_t)(nl + 1 - c->line);
		memmove(c->line, nl + 1, c->line_len + 1);
	}
	if (c->line_len == sizeof(c->line) - 1)
		c->line_len = 0; /* a line that long is no command */
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
	fprintf(stderr,
		"usage: tg-flowctl --instance NAME --pairs N --a-remote IP:PORT "
		"--b-remote IP:PORT [--a-local IP:PORT] [--b-local IP:PORT] [--latch] "
		"[--rewrite] [--mux] [--dtmf-pt PT] [--commands] [--hold SECONDS] [--stats] "
		"[--keep]\n"
		"       tg-flowctl dtmf --instance NAME --key KEY --pt PT [--duration MS] "
		"[--gap MS] [--volume N] [--listen SECONDS] DIGITS\n");
	return 2;
}

/* The dtmf verb: one EP_DTMF as a control plane of its own, then digits received. */
struct verb {
	struct cp_dp_dtmf d;
	double listen_s;
	int result; /* -1 until the reply: then 0 or 1 */
	bool sent;
	struct cp_timer done;
};

static void verb_state(struct cp_dp *dp, enum cp_dp_state st, void *arg)
{
	struct verb *v = arg;
	int rc;

	if (st == CP_DP_DOWN || v->sent)
		return;
	v->sent = true;
	rc = cp_dp_ep_dtmf(dp, &v->d, on_dtmf_reply, &v->result);
	if (rc < 0) {
		printf("dtmf-reply key=%" PRIu64 " status=%d (%s) play_ms=0\n", v->d.key, rc,
			strerror(-rc));
		v->result = 1;
	}
}

static void verb_tick(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	cp_loop_stop(l);
}

static int dtmf_verb(int argc, char **argv)
{
	struct cp_dp_params p = {
		.instance = "default",
		.dp_timeout_ns = 2 * TG_NS_PER_S,
		.request_timeout_ns = 5 * TG_NS_PER_S,
		.check_interval_ns = 20 * TG_NS_PER_MS,
		.backlog_max = 1024,
	};
	struct verb v = {.result = -1};
	struct cp_loop *loop;
	struct cp_dp *dp;
	uint64_t deadline;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] != '-') {
			v.d.digits = a;
			continue;
		}
		if (!val)
			return usage();
		i++;
		if (!strcmp(a, "--instance"))
			p.instance = val;
		else if (!strcmp(a, "--key")) {
			if (parse_key(val, &v.d.key) < 0)
				return usage();
		} else if (!strcmp(a, "--pt"))
			v.d.pt = (uint8_t)strtoul(val, NULL, 10);
		else if (!strcmp(a, "--duration"))
			v.d.duration_ms = (unsigned)strtoul(val, NULL, 10);
		else if (!strcmp(a, "--gap"))
			v.d.gap_ms = (unsigned)strtoul(val, NULL, 10);
		else if (!strcmp(a, "--volume"))
			v.d.volume = (unsigned)strtoul(val, NULL, 10);
		else if (!strcmp(a, "--listen"))
			v.listen_s = strtod(val, NULL);
		else
			return usage();
	}
	if (!v.d.key || !v.d.digits || v.listen_s < 0 || v.listen_s > 3600)
		return usage();
	loop = cp_loop_new();
	if (!loop)
		return 1;
	dp = cp_dp_new(loop, &p, verb_state, on_event, &v);
	if (!dp)
		return 1;
	cp_timer_init(&v.done, verb_tick, &v);
	/* the reply within 10 s, then --listen seconds of digits; each wait bounded */
	deadline = tg_now_ns() + 10 * TG_NS_PER_S;
	while (v.result < 0 && tg_now_ns() < deadline) {
		cp_timer_start(loop, &v.done, 20 * TG_NS_PER_MS);
		cp_loop_run(loop);
	}
	if (v.result < 0) {
		fprintf(stderr, "tg-flowctl: no dataplane answered in time\n");
		v.result = 1;
	} else if (v.listen_s > 0) {
		cp_timer_start(loop, &v.done, (uint64_t)(v.listen_s * 1e9));
		cp_loop_run(loop);
	}
	cp_timer_stop(loop, &v.done);
	cp_dp_free(dp);
	cp_loop_free(loop);
	return v.result;
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
	if (argc > 1 && !strcmp(argv[1], "dtmf"))
		return dtmf_verb(argc - 1, argv + 1);
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
		} else if (!strcmp(a, "--commands")) {
			c.o.commands = true;
			continue;
		} else if (!strcmp(a, "--keep")) {
			c.o.keep = true;
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
		else if (!strcmp(a, "--dtmf-pt"))
			bad = (c.o.te_pt = (uint8_t)strtoul(v, NULL, 10)) == 0 ||
			      strtoul(v, NULL, 10) > 127;
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
	if (c.o.commands) {
		fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
		if (cp_loop_add_fd(c.loop, 0, EPOLLIN, on_stdin, &c) < 0) {
			fprintf(stderr, "tg-flowctl: --commands: standard input cannot be polled "
					"(a pipe, FIFO or terminal can)\n");
			return 1;
		}
	}
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
