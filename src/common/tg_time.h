/* SPDX-License-Identifier: BSD-3-Clause */
/* Monotonic time shared by both planes: heartbeats compare these across processes on one host.
 * And wall-clock time for what people read (call records, tgctl). */
#ifndef TG_TIME_H
#define TG_TIME_H

#include <stdint.h>
#include <time.h>

#define TG_NS_PER_US 1000ULL
#define TG_NS_PER_MS 1000000ULL
#define TG_NS_PER_S 1000000000ULL

static inline uint64_t tg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * TG_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Unix time in ms (CLOCK_REALTIME): timestamps for people, never for measuring intervals */
static inline int64_t tg_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long ago 'then' was; 0 when another process stamped it after our 'now' was read. */
static inline uint64_t tg_age_ns(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

#endif
