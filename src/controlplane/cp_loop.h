/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's one event loop: file descriptors through epoll, timers in a binary heap
 * (intrusive, caller-owned, O(log n) start/stop), and pollers that run every iteration for
 * sources without a file descriptor (the channel's rings) and say how long the loop may sleep.
 * Nothing registered here may block.
 */
#ifndef TG_CP_LOOP_H
#define TG_CP_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct cp_loop;
struct cp_timer;

typedef void (*cp_fd_fn)(struct cp_loop *l, int fd, uint32_t events, void *arg);
typedef void (*cp_timer_fn)(struct cp_loop *l, struct cp_timer *t, void *arg);
/* Returns the longest the loop may sleep before calling it again (ns); UINT64_MAX: no bound. */
typedef uint64_t (*cp_poll_fn)(struct cp_loop *l, void *arg);

struct cp_timer {
	uint64_t deadline_ns;
	uint32_t heap_idx; /* 0 = not armed; else 1-based position in the heap */
	cp_timer_fn fn;
	void *arg;
};

struct cp_loop *cp_loop_new(void);
void cp_loop_free(struct cp_loop *l);

/* events: EPOLLIN/EPOLLOUT/... 0 or -errno. */
int cp_loop_add_fd(struct cp_loop *l, int fd, uint32_t events, cp_fd_fn fn, void *arg);
int cp_loop_mod_fd(struct cp_loop *l, int fd, uint32_t events);
int cp_loop_del_fd(struct cp_loop *l, int fd);

void cp_timer_init(struct cp_timer *t, cp_timer_fn fn, void *arg);
/* (Re)arms t to fire once, delay_ns from the loop's current time. 0 or -ENOMEM. */
int cp_timer_start(struct cp_loop *l, struct cp_timer *t, uint64_t delay_ns);
void cp_timer_stop(struct cp_loop *l, struct cp_timer *t);
static inline bool cp_timer_armed(const struct cp_timer *t)
{
	return t->heap_idx != 0;
}

int cp_loop_add_poller(struct cp_loop *l, cp_poll_fn fn, void *arg);

/* Runs until cp_loop_stop(). 0, or -errno if epoll itself failed. */
int cp_loop_run(struct cp_loop *l);
void cp_loop_stop(struct cp_loop *l);
/* Runs for ns (or until cp_loop_stop() comes first): tests and tools that drive the loop in
 * steps. 0, or -errno as cp_loop_run(). */
int cp_loop_run_for(struct cp_loop *l, uint64_t ns);
/* CLOCK_MONOTONIC ns, read once per iteration */
uint64_t cp_loop_now(const struct cp_loop *l);
/* Iterations so far, for tests and status */
uint64_t cp_loop_iterations(const struct cp_loop *l);

#endif
