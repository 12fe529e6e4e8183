/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Periodic media-quality events. Every b2bua.quality_interval (0: off; read at each round, so a
 * live `set` takes effect from the next one), and only while some subscriber of the bus wants
 * media-quality events of a call, the dataplane is asked for the statistics (EP_STATS) of each
 * endpoint of every answered call (connected, on hold, transferring), and each reply becomes
 * one MEDIA_QUALITY event on the bus (b2b_events.h: stream, leg, MOS, jitter, RTT, loss,
 * packets; leg 'a' is the caller's media as the endpoint facing it receives it).
 *
 * Bounds: one round at a time (a round still running when the next is due is not doubled: that
 * tick is skipped and counted), and at most B2B_QUALITY_IN_FLIGHT requests of a round on the
 * channel at once, the next sent as each reply comes. Nothing is asked when nobody listens.
 *
 * Loop thread only.
 */
#ifndef TG_B2B_QUALITY_H
#define TG_B2B_QUALITY_H

#include <stdbool.h>
#include <stdint.h>

#include "b2b_call.h"
#include "b2b_config.h"
#include "b2b_events.h"
#include "cp_dp.h"
#include "cp_loop.h"

#define B2B_QUALITY_IN_FLIGHT 32

struct b2b_quality_params {
	struct cp_loop *loop;
	const struct b2b_config *cfg; /* quality_interval_ms, read at each round */
	/* The appliance: calls (b2b_calls_each), the bus (b2b_events_of) and EP_STATS over dp. */
	struct b2b *b;
	struct cp_dp *dp;
	/*
	 * Tests, with b and dp NULL: the bus, the calls, and a stand-in for EP_STATS that returns
	 * 0 and calls b2b_quality_stats_done(ctx, ...) exactly once later (never from inside), or
	 * returns -errno (then never calls it).
	 */
	struct b2b_events *bus;
	void (*calls_each)(
		void *arg, bool (*fn)(void *ctx, const struct b2b_call_view *v), void *ctx);
	int (*stats)(void *arg, uint64_t key, void *ctx);
	void *arg;
};

struct b2b_quality_counters {
	uint64_t rounds;   /* rounds finished */
	uint64_t skipped;  /* ticks that found the last round still running */
	uint64_t requests; /* EP_STATS asked */
	uint64_t failed;   /* refused, timed out, or the endpoint is gone */
	uint64_t events;   /* MEDIA_QUALITY published */
};

/* Starts the rounds' timer. NULL with errno. */
struct b2b_quality *b2b_quality_new(const struct b2b_quality_params *p);
/* Stops; requests still in flight finish without it (their replies publish nothing), so it may
 * go before the bus and the channel. */
void b2b_quality_free(struct b2b_quality *q);
const struct b2b_quality_counters *b2b_quality_counters(const struct b2b_quality *q);
/* A stand-in's reply (see stats above): the endpoint's statistics, or NULL when it failed. */
void b2b_quality_stats_done(void *ctx, const struct tg_msg_ep_stats *st);

#endif
