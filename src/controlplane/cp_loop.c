/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event loop. epoll_pwait2 gives it sub-millisecond sleeps, which matter because the channel
 * has no file descriptor: while requests to the dataplane are in flight a poller asks for short
 * sleeps, and when all is quiet the loop sleeps until the next timer.
 */
#include "cp_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "tg_log.h"
#include "tg_time.h"

#define MAX_EVENTS 64
#define MAX_POLLERS 8

struct fd_slot {
	cp_fd_fn fn;
	void *arg;
};

struct poller {
	cp_poll_fn fn;
	void *arg;
};

struct cp_loop {
	int epfd;
	bool stop;
	uint64_t now;
	uint64_t iterations;
	struct fd_slot *fds;
	int n_fds;
	struct cp_timer **heap; /* 1-based: heap[1] is the earliest */
	uint32_t heap_len;
	uint32_t heap_cap;
	struct poller pollers[MAX_POLLERS];
	unsigned n_pollers;
};

struct cp_loop *cp_loop_new(void)
{
	struct cp_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	l->now = tg_now_ns();
	return l;
}

void cp_loop_free(struct cp_loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l->fds);
	free(l->heap);
	free(l);
}

int cp_loop_add_fd(struct cp_loop *l, int fd, uint32_t events, cp_fd_fn fn, void *arg)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};

	if (fd < 0)
		return -EBADF;
	if (fd >= l->n_fds) {
		int n = fd + 64;
		struct fd_slot *s = realloc(l->fds, (size_t)n * sizeof(*s));

		if (!s)
			return -ENOMEM;
		memset(s + l->n_fds, 0, (size_t)(n - l->n_fds) * sizeof(*s));
		l->fds = s;
		l->n_fds = n;
	}
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	l->fds[fd].fn = fn;
	l->fds[fd].arg = arg;
	return 0;
}

int cp_loop_mod_fd(struct cp_loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int cp_loop_del_fd(struct cp_loop *l, int fd)
{
	if (fd < 0 || fd >= l->n_fds || !l->fds[fd].fn)
		return -ENOENT;
	l->fds[fd].fn = NULL;
	return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

void cp_timer_init(struct cp_timer *t, cp_timer_fn fn, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->fn = fn;
	t->arg = arg;
}

static void heap_set(struct cp_loop *l, uint32_t i, struct cp_timer *t)
{
	l->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct cp_loop *l, uint32_t i)
{
	struct cp_timer *t = l->heap[i];

	while (i > 1 && l->heap[i / 2]->deadline_ns > t->deadline_ns) {
		heap_set(l, i, l->heap[i / 2]);
		i /= 2;
	}
	heap_set(l, i, t);
}

static void heap_down(struct cp_loop *l, uint32_t i)
{
	struct cp_timer *t = l->heap[i];

	for (;;) {
		uint32_t c = 2 * i;

		if (c > l->heap_len)
			break;
		if (c + 1 <= l->heap_len && l->heap[c + 1]->deadline_ns < l->heap[c]->deadline_ns)
			c++;
		if (l->heap[c]->deadline_ns >= t->deadline_ns)
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

void cp_timer_stop(struct cp_loop *l, struct cp_timer *t)
{
	uint32_t i = t->heap_idx;

	if (!i)
		return;
	t->heap_idx = 0;
	if (i == l->heap_len) {
		l->heap_len--;
		return;
	}
	struct cp_timer *moved = l->heap[l->heap_len--];

	heap_set(l, i, moved);
	heap_up(l, i);
	heap_down(l, moved->heap_idx);
}

int cp_timer_start(struct cp_loop *l, struct cp_timer *t, uint64_t delay_ns)
{
	cp_timer_stop(l, t);
	if (l->heap_len + 1 >= l->heap_cap) {
		uint32_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
		struct cp_timer **h = realloc(l->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->heap_cap = cap;
	}
	t->deadline_ns = l->now + delay_ns;
	heap_set(l, ++l->heap_len, t);
	heap_up(l, l->heap_len);
	return 0;
}

int cp_loop_add_poller(struct cp_loop *l, cp_poll_fn fn, void *arg)
{
	if (l->n_pollers == MAX_POLLERS)
		return -ENOSPC;
	l->pollers[l->n_pollers].fn = fn;
	l->pollers[l->n_pollers++].arg = arg;
	return 0;
}

void cp_loop_stop(struct cp_loop *l)
{
	l->stop = true;
}

uint64_t cp_loop_now(const struct cp_loop *l)
{
	return l->now;
}

uint64_t cp_loop_iterations(const struct cp_loop *l)
{
	return l->iterations;
}

static void run_timers(struct cp_loop *l)
{
	while (l->heap_len && l->heap[1]->deadline_ns <= l->now) {
		struct cp_timer *t = l->heap[1];

		cp_timer_stop(l, t);
		t->fn(l, t, t->arg); /* may re-arm itself */
	}
}

int cp_loop_run(struct cp_loop *l)
{
	struct epoll_event ev[MAX_EVENTS];

	l->stop = false;
	while (!l->stop) {
		uint64_t sleep_ns = UINT64_MAX;
		struct timespec ts;
		int n;

		l->now = tg_now_ns();
		l->iterations++;
		run_timers(l);
		for (unsigned i = 0; i < l->n_pollers && !l->stop; i++) {
			uint64_t s = l->pollers[i].fn(l, l->pollers[i].arg);

			if (s < sleep_ns)
				sleep_ns = s;
		}
		if (l->stop)
			break;
		if (l->heap_len) {
			uint64_t until = l->heap[1]->deadline_ns > l->now
						 ? l->heap[1]->deadline_ns - l->now
						 : 0;

			if (until < sleep_ns)
				sleep_ns = until;
		}
		if (sleep_ns > 10 * TG_NS_PER_S)
			sleep_ns = 10 * TG_NS_PER_S;
		ts.tv_sec = (time_t)(sleep_ns / TG_NS_PER_S);
		ts.tv_nsec = (long)(sleep_ns % TG_NS_PER_S);
		n = epoll_pwait2(l->epfd, ev, MAX_EVENTS, &ts, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			TG_LOG(CP, ERR, "epoll_pwait2: %s", strerror(errno));
			return -errno;
		}
		l->now = tg_now_ns();
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			/* a handler earlier in this batch may have removed this fd */
			if (fd < l->n_fds && l->fds[fd].fn)
				l->fds[fd].fn(l, fd, ev[i].events, l->fds[fd].arg);
		}
	}
	return 0;
}

static void run_for_over(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	cp_loop_stop(l);
}

int cp_loop_run_for(struct cp_loop *l, uint64_t ns)
{
	struct cp_timer t;
	int rc;

	cp_timer_init(&t, run_for_over, NULL);
	cp_timer_start(l, &t, ns);
	rc = cp_loop_run(l);
	cp_timer_stop(l, &t); /* stopped early: the timer must not outlive this frame */
	return rc;
}
