/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tg-bench-chan: the control/data channel between two real processes, against the kernel IPC a
 * control plane would otherwise use, measured in the same run on the same machine.
 *
 * Each row forks a peer that plays the dataplane: for the channel rows it creates the segment
 * (tg_chan_create) and the parent, the control plane, attaches by name, as the daemons do. The
 * peer either sinks commands and checks their sequence numbers, or answers PINGs on the event
 * ring. The reference rows do the same over a pipe (one-way, 32 messages of 128 bytes a write)
 * and an AF_UNIX SOCK_SEQPACKET socketpair (round trip). Every side busy-polls, the pipe and the
 * socket with O_NONBLOCK, so the ratio compares transports, not scheduler wake-ups.
 *
 * The two processes are pinned to two different CPUs when there are two; on one CPU the loops
 * yield instead, which keeps the smoke test finishing but makes the numbers meaningless.
 * Every wait is bounded: the parent gives up when the peer makes no progress for
 * PEER_STALL_NS or exits; the peer leaves when its parent dies (PR_SET_PDEATHSIG, and getppid()
 * in its loop) or at a deadline, unlinking its segment on the way out.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "tg_chan.h"
#include "tg_log.h"
#include "tg_msg.h"
#include "tg_time.h"

#define BURST 32
#define CHAN_RING_SIZE 1024
#define SPIN_CHECK_MASK 1023u		/* look at the clock every 1024 polls */
#define PEER_STALL_NS (2 * TG_NS_PER_S) /* no progress this long: the peer is gone or stuck */
#define PEER_START_NS (5 * TG_NS_PER_S) /* peer must be ready within this */
#define PEER_EXIT_NS (5 * TG_NS_PER_S)	/* then SIGKILL */
#define PEER_LIFE_BASE_NS (60 * TG_NS_PER_S)

enum peer_mode {
	PEER_CHAN_SINK, /* dequeue command bursts, check sequence */
	PEER_CHAN_ECHO, /* answer PINGs on the event ring */
	PEER_PIPE_SINK, /* read 128-byte messages from a pipe, check sequence */
	PEER_SOCK_ECHO, /* answer PINGs on a SOCK_SEQPACKET socket */
};

/* Shared between parent and peer (anonymous MAP_SHARED); each field has one writer. */
struct peer_ctl {
	alignas(64) uint32_t stop;     /* parent: leave the loop */
	alignas(64) uint64_t consumed; /* peer: messages received in order so far */
	alignas(64) uint32_t ready;    /* peer: transport usable */
	int32_t failed;		       /* peer: -errno, err says why */
	char err[BENCH_ERR_MAX];
};

/* Parent side of one row, between setup and teardown. */
struct peer {
	alignas(64) struct tg_msg burst[BURST];
	enum peer_mode mode;
	pid_t pid;  /* 0 once reaped */
	int status; /* wait status once reaped */
	struct peer_ctl *ctl;
	struct tg_chan *ch;
	int fd;	      /* pipe write end or socket, -1 for the channel */
	uint64_t seq; /* one-way: next sequence number */
	uint64_t req; /* round trip: last request id */
	bool pinned;
	cpu_set_t saved_cpus;
	char instance[TG_CHAN_NAME_MAX];
};

/* Bounded busy-wait: progress resets the stall clock, nothing for PEER_STALL_NS fails. */
struct spin {
	uint32_t k;
	uint64_t mark;
	uint64_t since;
};

static bool spin_yield; /* one CPU: busy-polling would starve the peer */
/* peer: a signal asked it to leave (its parent died, or ^C): unlink the segment, then go */
static volatile sig_atomic_t peer_signalled;

static void spin_init(struct spin *s)
{
	s->k = 0;
	s->mark = UINT64_MAX;
	s->since = 0;
}

/* ---- the peer (child) ------------------------------------------------------------------ */

struct child {
	struct peer_ctl *ctl;
	pid_t parent;
	uint64_t deadline_ns;
	uint32_t k;
};

static void child_fail(struct child *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void child_fail(struct child *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->ctl->err, sizeof(c->ctl->err), fmt, ap);
	va_end(ap);
	__atomic_store_n(&c->ctl->failed, rc, __ATOMIC_RELEASE);
}

/* Every SPIN_CHECK_MASK+1 polls: 1 to stop, 0 to go on, -errno when orphaned or out of time. */
static int child_check(struct child *c)
{
	if (spin_yield)
		sched_yield();
	if (++c->k & SPIN_CHECK_MASK)
		return 0;
	if (__atomic_load_n(&c->ctl->stop, __ATOMIC_ACQUIRE))
		return 1;
	if (peer_signalled || getppid() != c->parent) {
		child_fail(c, -EPIPE, peer_signalled ? "signalled" : "parent went away");
		return -EPIPE;
	}
	if (tg_now_ns() > c->deadline_ns) {
		child_fail(c, -ETIMEDOUT, "peer deadline reached");
		return -ETIMEDOUT;
	}
	return 0;
}

static int check_seq(struct child *c, const struct tg_msg *m, uint64_t *expect)
{
	if (m->req_id != *expect || m->type != TG_MSG_PING) {
		child_fail(c, -EPROTO,
			"message lost or reordered: expected seq %llu, got %llu type %u",
			(unsigned long long)*expect, (unsigned long long)m->req_id, m->type);
		return -EPROTO;
	}
	(*expect)++;
	return 0;
}

static int child_chan(struct child *c, enum peer_mode mode, const char *instance)
{
	const struct tg_chan_params prm = {
		.instance = instance, .n_cmd_rings = 1, .ring_size = CHAN_RING_SIZE};
	alignas(64) struct tg_msg msgs[BURST];
	struct tg_chan *ch;
	uint64_t expect = 0;
	int rc = 0;

	ch = tg_chan_create(&prm);
	if (!ch) {
		rc = -errno;
		child_fail(c, rc, "tg_chan_create(%s): %s", instance, strerror(-rc));
		return rc;
	}
	__atomic_store_n(&c->ctl->ready, 1, __ATOMIC_RELEASE);
	while (rc == 0) {
		unsigned n = tg_chan_cmd_recv(ch, 0, msgs, BURST);

		if (n && mode == PEER_CHAN_SINK) {
			for (unsigned i = 0; i < n && rc == 0; i++)
				rc = check_seq(c, &msgs[i], &expect);
			__atomic_store_n(&c->ctl->consumed, expect, __ATOMIC_RELEASE);
		} else if (n) {
			unsigned sent = 0;

			for (unsigned i = 0; i < n; i++) {
				msgs[i].flags |= TG_MSGF_REPLY;
				msgs[i].status = 0;
				msgs[i].dp_gen = tg_chan_generation(ch);
			}
			while (sent < n && rc == 0) {
				sent += tg_chan_evt_send(ch, msgs + sent, n - sent);
				if (sent < n)
					rc = child_check(c);
			}
		}
		if (rc == 0)
			rc = child_check(c);
	}
	tg_chan_destroy(ch);
	return rc < 0 ? rc : 0;
}

static int child_pipe_sink(struct child *c, int fd)
{
	alignas(64) char buf[BURST * TG_MSG_SIZE];
	uint64_t expect = 0;
	size_t have = 0;
	int rc = 0;

	__atomic_store_n(&c->ctl->ready, 1, __ATOMIC_RELEASE);
	while (rc == 0) {
		ssize_t got = read(fd, buf + have, sizeof(buf) - have);

		if (got > 0) {
			size_t off = 0;

			have += (size_t)got;
			for (; have - off >= TG_MSG_SIZE && rc == 0; off += TG_MSG_SIZE)
				rc = check_seq(c, (const struct tg_msg *)(buf + off), &expect);
			/* a read may end inside a message: keep the tail for the next one */
			memmove(buf, buf + off, have - off);
			have -= off;
			__atomic_store_n(&c->ctl->consumed, expect, __ATOMIC_RELEASE);
		} else if (got == 0) {
			if (!__atomic_load_n(&c->ctl->stop, __ATOMIC_ACQUIRE))
				child_fail(c, -EPIPE, "pipe closed early at seq %llu",
					(unsigned long long)expect);
			return __atomic_load_n(&c->ctl->stop, __ATOMIC_ACQUIRE) ? 0 : -EPIPE;
		} else if (errno != EAGAIN && errno != EINTR) {
			rc = -errno;
			child_fail(c, rc, "pipe read: %s", strerror(-rc));
			return rc;
		}
		if (rc == 0)
			rc = child_check(c);
	}
	return rc < 0 ? rc : 0;
}

static int child_sock_echo(struct child *c, int fd)
{
	struct tg_msg m;
	int rc = 0;

	__atomic_store_n(&c->ctl->ready, 1, __ATOMIC_RELEASE);
	while (rc == 0) {
		ssize_t got = recv(fd, &m, sizeof(m), 0);

		if (got == (ssize_t)sizeof(m)) {
			m.flags |= TG_MSGF_REPLY;
			m.status = 0;
			for (;;) {
				if (send(fd, &m, sizeof(m), 0) == (ssize_t)sizeof(m))
					break;
				if (errno != EAGAIN && errno != EINTR) {
					rc = -errno;
					child_fail(c, rc, "socket send: %s", strerror(-rc));
					return rc;
				}
				rc = child_check(c);
				if (rc)
					return rc < 0 ? rc : 0;
			}
		} else if (got >= 0) {
			child_fail(c, -EPROTO, "socket recv: %zd bytes", got);
			return -EPROTO;
		} else if (errno != EAGAIN && errno != EINTR) {
			rc = -errno;
			child_fail(c, rc, "socket recv: %s", strerror(-rc));
			return rc;
		}
		rc = child_check(c);
	}
	return rc < 0 ? rc : 0;
}

static void pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void on_peer_signal(int sig)
{
	peer_signalled = sig;
}

static __attribute__((noreturn)) void child_main(
	struct peer *p, pid_t parent, int cpu, int fd, uint64_t life_ns)
{
	struct child c = {.ctl = p->ctl, .parent = parent, .deadline_ns = tg_now_ns() + life_ns};
	struct sigaction sa = {.sa_handler = on_peer_signal};
	int rc;

	/*
	 * Leave with the parent, through the loop rather than SIGKILL so the channel peer still
	 * unlinks its segment; the getppid() check covers a parent that is already gone.
	 */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(3);
	pin_self(cpu);
	switch (p->mode) {
	case PEER_CHAN_SINK:
	case PEER_CHAN_ECHO:
		rc = child_chan(&c, p->mode, p->instance);
		break;
	case PEER_PIPE_SINK:
		rc = child_pipe_sink(&c, fd);
		break;
	case PEER_SOCK_ECHO:
		rc = child_sock_echo(&c, fd);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	_exit(rc ? 1 : 0);
}

/* ---- the parent ------------------------------------------------------------------------ */

static bool peer_reaped(struct peer *p)
{
	if (p->pid > 0 && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
		p->pid = 0;
	return p->pid == 0;
}

static int peer_gone(struct bench_ctx *ctx, struct peer *p)
{
	int failed = __atomic_load_n(&p->ctl->failed, __ATOMIC_ACQUIRE);

	if (failed) {
		bench_error(ctx, "peer: %s", p->ctl->err);
		return failed;
	}
	bench_error(ctx, "peer exited (status 0x%x) without a reason", p->status);
	return -EPIPE;
}

/* Call on every idle poll; 0 to go on, -errno when the peer failed, died or stalled. */
static int spin_check(struct bench_ctx *ctx, struct peer *p, struct spin *s, uint64_t progress)
{
	uint64_t now;

	if (spin_yield)
		sched_yield();
	if (++s->k & SPIN_CHECK_MASK)
		return 0;
	if (__atomic_load_n(&p->ctl->failed, __ATOMIC_ACQUIRE) || peer_reaped(p))
		return peer_gone(ctx, p);
	now = tg_now_ns();
	if (progress != s->mark) {
		s->mark = progress;
		s->since = now;
		return 0;
	}
	if (now - s->since > PEER_STALL_NS) {
		bench_error(ctx, "no progress for %llu ms at %llu",
			(unsigned long long)(PEER_STALL_NS / TG_NS_PER_MS),
			(unsigned long long)progress);
		return -ETIMEDOUT;
	}
	return 0;
}

/* Two CPUs from our affinity mask, or -1/-1 (and spin_yield) when there is only one. */
static void pick_cpus(int *mine, int *peer)
{
	cpu_set_t set;
	int found = 0;

	*mine = *peer = -1;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (found++ == 0)
			*mine = cpu;
		else
			*peer = cpu;
	}
	if (found < 2) {
		*mine = -1;
		spin_yield = true;
	}
}

static void peer_teardown(struct bench_ctx *ctx)
{
	struct peer *p = bench_priv(ctx);
	char shm[TG_CHAN_NAME_MAX + 16];
	uint64_t until;

	if (!p)
		return;
	if (p->ch)
		tg_chan_detach(p->ch);
	if (p->ctl && p->pid > 0) {
		__atomic_store_n(&p->ctl->stop, 1, __ATOMIC_RELEASE);
		if (p->fd >= 0 && p->mode == PEER_PIPE_SINK) {
			close(p->fd); /* EOF for the reader */
			p->fd = -1;
		}
		until = tg_now_ns() + PEER_EXIT_NS;
		while (!peer_reaped(p) && tg_now_ns() < until)
			usleep(1000);
		if (p->pid > 0) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &p->status, 0);
			p->pid = 0;
		}
	}
	/* the peer unlinks its segment; this covers a peer that was killed first */
	if (p->instance[0] && tg_chan_shm_name(p->instance, shm, sizeof(shm)) == 0)
		shm_unlink(shm);
	if (p->fd >= 0)
		close(p->fd);
	if (p->pinned)
		sched_setaffinity(0, sizeof(p->saved_cpus), &p->saved_cpus);
	if (p->ctl)
		munmap(p->ctl, sizeof(*p->ctl));
	free(p);
	bench_set_priv(ctx, NULL);
}

static int peer_wait_ready(struct bench_ctx *ctx, struct peer *p)
{
	uint64_t until = tg_now_ns() + PEER_START_NS;

	while (!__atomic_load_n(&p->ctl->ready, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&p->ctl->failed, __ATOMIC_ACQUIRE) || peer_reaped(p))
			return peer_gone(ctx, p);
		if (tg_now_ns() > until) {
			bench_error(ctx, "peer not ready after %llu ms",
				(unsigned long long)(PEER_START_NS / TG_NS_PER_MS));
			return -ETIMEDOUT;
		}
		usleep(100);
	}
	return 0;
}

static int chan_attach_retry(struct bench_ctx *ctx, struct peer *p)
{
	uint64_t until = tg_now_ns() + PEER_START_NS;
	char err[128];
	int rc;

	/* ready is set after create returns, so one attempt should do; -EAGAIN is still legal */
	for (;;) {
		rc = tg_chan_attach(p->instance, &p->ch, err, sizeof(err));
		if (rc != -EAGAIN && rc != -ENOENT)
			break;
		if (tg_now_ns() > until)
			break;
		usleep(1000);
	}
	if (rc < 0)
		bench_error(ctx, "tg_chan_attach(%s): %s", p->instance, err);
	return rc;
}

static int peer_setup(struct bench_ctx *ctx)
{
	const enum peer_mode mode = (enum peer_mode)(uintptr_t)bench_arg(ctx);
	uint64_t life_ns = PEER_LIFE_BASE_NS + (uint64_t)(20 * bench_min_time_s(ctx) * 1e9);
	int fds[2] = {-1, -1}, child_fd = -1, cpu_mine, cpu_peer, rc;
	pid_t parent = getpid();
	struct peer *p;

	p = aligned_alloc(64, sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->fd = -1;
	bench_set_priv(ctx, p);
	p->ctl = mmap(
		NULL, sizeof(*p->ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->ctl == MAP_FAILED) {
		p->ctl = NULL;
		return -errno;
	}
	for (unsigned i = 0; i < BURST; i++) {
		p->burst[i].type = TG_MSG_PING;
		p->burst[i].cp_gen = 1;
	}

	switch (mode) {
	case PEER_CHAN_SINK:
	case PEER_CHAN_ECHO:
		snprintf(p->instance, sizeof(p->instance), "bench%d-%s", (int)parent,
			mode == PEER_CHAN_SINK ? "ow" : "rtt");
		break;
	case PEER_PIPE_SINK:
		if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
			return -errno;
		p->fd = fds[1];
		child_fd = fds[0];
		break;
	case PEER_SOCK_ECHO:
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
			return -errno;
		p->fd = fds[0];
		child_fd = fds[1];
		break;
	}

	pick_cpus(&cpu_mine, &cpu_peer);
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0) {
		rc = -errno;
		p->pid = 0;
		if (child_fd >= 0)
			close(child_fd);
		bench_error(ctx, "fork: %s", strerror(-rc));
		return rc;
	}
	if (p->pid == 0) {
		if (p->fd >= 0)
			close(p->fd);
		child_main(p, parent, cpu_peer, child_fd, life_ns);
	}
	if (child_fd >= 0)
		close(child_fd);
	if (cpu_mine >= 0 && sched_getaffinity(0, sizeof(p->saved_cpus), &p->saved_cpus) == 0) {
		pin_self(cpu_mine);
		p->pinned = true;
	}
	rc = peer_wait_ready(ctx, p);
	if (rc == 0 && (mode == PEER_CHAN_SINK || mode == PEER_CHAN_ECHO))
		rc = chan_attach_retry(ctx, p);
	return rc;
}

/* Waits until the peer has taken every message sent so far. */
static int wait_consumed(struct bench_ctx *ctx, struct peer *p)
{
	struct spin s;
	uint64_t got;
	int rc;

	spin_init(&s);
	while ((got = __atomic_load_n(&p->ctl->consumed, __ATOMIC_ACQUIRE)) != p->seq) {
		rc = spin_check(ctx, p, &s, got);
		if (rc)
			return rc;
	}
	return 0;
}

static unsigned fill_burst(struct peer *p, uint64_t left)
{
	unsigned k = left < BURST ? (unsigned)left : BURST;

	for (unsigned i = 0; i < k; i++)
		p->burst[i].req_id = p->seq++;
	return k;
}

static int run_chan_oneway(struct bench_ctx *ctx, uint64_t n)
{
	struct peer *p = bench_priv(ctx);
	struct spin s;
	uint64_t sent = 0;
	int rc;

	spin_init(&s);
	while (sent < n) {
		unsigned k = fill_burst(p, n - sent), off = 0;

		while (off < k) {
			unsigned done = tg_chan_cmd_send(p->ch, 0, p->burst + off, k - off);

			off += done;
			if (done)
				continue;
			/* a full ring is back-pressure: retry, but not forever */
			rc = spin_check(ctx, p, &s, sent + off);
			if (rc)
				return rc;
		}
		sent += k;
	}
	return wait_consumed(ctx, p);
}

static int run_pipe_oneway(struct bench_ctx *ctx, uint64_t n)
{
	struct peer *p = bench_priv(ctx);
	struct spin s;
	uint64_t sent = 0;
	int rc;

	spin_init(&s);
	while (sent < n) {
		unsigned k = fill_burst(p, n - sent);
		size_t len = (size_t)k * TG_MSG_SIZE, off = 0;

		/* len <= PIPE_BUF: the write is atomic, all or EAGAIN */
		while (off < len) {
			ssize_t w = write(p->fd, (const char *)p->burst + off, len - off);

			if (w > 0) {
				off += (size_t)w;
				continue;
			}
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				bench_error(ctx, "pipe write: %s", strerror(-rc));
				return rc;
			}
			rc = spin_check(ctx, p, &s, sent);
			if (rc)
				return rc;
		}
		sent += k;
	}
	return wait_consumed(ctx, p);
}

static int check_reply(struct bench_ctx *ctx, const struct tg_msg *r, uint64_t req)
{
	if (r->req_id == req && (r->flags & TG_MSGF_REPLY) && r->type == TG_MSG_PING &&
		r->status == 0)
		return 0;
	bench_error(ctx, "bad reply: req_id %llu (want %llu) flags 0x%x type %u status %d",
		(unsigned long long)r->req_id, (unsigned long long)req, r->flags, r->type,
		r->status);
	return -EPROTO;
}

static int run_chan_rtt(struct bench_ctx *ctx, uint64_t n)
{
	struct peer *p = bench_priv(ctx);
	struct tg_msg *m = &p->burst[0], r;
	struct spin s;
	int rc;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = tg_now_ns();

		m->req_id = ++p->req;
		m->u.ping.cp_send_ns = t0;
		spin_init(&s);
		while (tg_chan_cmd_send(p->ch, 0, m, 1) != 1) {
			rc = spin_check(ctx, p, &s, i);
			if (rc)
				return rc;
		}
		while (tg_chan_evt_recv(p->ch, &r, 1) != 1) {
			rc = spin_check(ctx, p, &s, i);
			if (rc)
				return rc;
		}
		bench_record_ns(ctx, tg_now_ns() - t0);
		rc = check_reply(ctx, &r, p->req);
		if (rc)
			return rc;
	}
	return 0;
}

static int run_sock_rtt(struct bench_ctx *ctx, uint64_t n)
{
	struct peer *p = bench_priv(ctx);
	struct tg_msg *m = &p->burst[0], r;
	struct spin s;
	ssize_t got;
	int rc;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = tg_now_ns();

		m->req_id = ++p->req;
		m->u.ping.cp_send_ns = t0;
		spin_init(&s);
		while (send(p->fd, m, sizeof(*m), 0) != (ssize_t)sizeof(*m)) {
			if (errno != EAGAIN && errno != EINTR) {
				rc = -errno;
				bench_error(ctx, "socket send: %s", strerror(-rc));
				return rc;
			}
			rc = spin_check(ctx, p, &s, i);
			if (rc)
				return rc;
		}
		while ((got = recv(p->fd, &r, sizeof(r), 0)) != (ssize_t)sizeof(r)) {
			if (got >= 0 || (errno != EAGAIN && errno != EINTR)) {
				rc = got >= 0 ? -EPROTO : -errno;
				bench_error(ctx, "socket recv: %zd (%s)", got, strerror(-rc));
				return rc;
			}
			rc = spin_check(ctx, p, &s, i);
			if (rc)
				return rc;
		}
		bench_record_ns(ctx, tg_now_ns() - t0);
		rc = check_reply(ctx, &r, p->req);
		if (rc)
			return rc;
	}
	return 0;
}

static const struct bench_def chan_benches[] = {
	{.name = "chan_oneway",
		.unit = "msg",
		.scale = BENCH_SCALE_M,
		.setup = peer_setup,
		.run = run_chan_oneway,
		.teardown = peer_teardown,
		.arg = (void *)(uintptr_t)PEER_CHAN_SINK},
	{.name = "pipe_oneway",
		.unit = "msg",
		.scale = BENCH_SCALE_M,
		.setup = peer_setup,
		.run = run_pipe_oneway,
		.teardown = peer_teardown,
		.arg = (void *)(uintptr_t)PEER_PIPE_SINK},
	{.name = "chan_rtt",
		.unit = "op",
		.scale = BENCH_SCALE_M,
		.flags = BENCH_F_LATENCY,
		.setup = peer_setup,
		.run = run_chan_rtt,
		.teardown = peer_teardown,
		.arg = (void *)(uintptr_t)PEER_CHAN_ECHO},
	{.name = "sock_rtt",
		.unit = "op",
		.scale = BENCH_SCALE_M,
		.flags = BENCH_F_LATENCY,
		.setup = peer_setup,
		.run = run_sock_rtt,
		.teardown = peer_teardown,
		.arg = (void *)(uintptr_t)PEER_SOCK_ECHO},
};

/*
 * Both ratios are channel / reference of the figure as reported: above 1 is better for the
 * throughput, below 1 is better for the latency.
 */
static const struct bench_ratio chan_ratios[] = {
	{"oneway_ratio", "chan_oneway_mmsgs", "pipe_oneway_mmsgs"},
	{"rtt_ratio", "chan_rtt_p50_ns", "sock_rtt_p50_ns"},
};

static const struct bench_suite chan_suite = {
	.name = "tg-bench-chan",
	.defs = chan_benches,
	.n_defs = sizeof(chan_benches) / sizeof(chan_benches[0]),
	.ratios = chan_ratios,
	.n_ratios = sizeof(chan_ratios) / sizeof(chan_ratios[0]),
};

int main(int argc, char **argv)
{
	/* creating a segment per row logs at info; the table is the output here */
	tg_log_set_level("chan", "warn");
	tg_log_set_ident("tg-bench-chan");
	/* a peer closing its end must be an error return, not a signal */
	signal(SIGPIPE, SIG_IGN);
	return bench_main(&chan_suite, argc, argv);
}
