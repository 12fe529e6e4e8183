/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RTP header space of what leaves toward one remote: the SSRC, sequence numbers and
 * timestamps the remote sees. Plain C, no DPDK: the relay and the DTMF player write through it
 * (one writer: the lcore relaying toward that remote), and the unit tests drive it without EAL.
 *
 * Three ways a packet leaves:
 *  - passed through (dp_rtp_tx_pass): the sender's header unchanged; only remembered, so a packet
 *    the dataplane makes later can continue it;
 *  - rewritten (dp_rtp_tx_rewrite): TG_EPF_REWRITE_RTP, or any endpoint the dataplane has sent
 *    packets of its own to ("owned"): sequence numbers and timestamps continue the stream that
 *    left before, whatever is relayed now. A new source, or the end of a generated DTMF event,
 *    starts a new mapping: the next sequence number, and the last timestamp plus the wall time
 *    since at the stream's clock rate;
 *  - made by the dataplane (dp_dtmf_gen_write() in dp_dtmf.h): the next sequence number and the
 *    timestamp the stream has at the event's start, same rule.
 * So once the dataplane has spoken to a remote it owns that remote's RTP header space for the
 * rest of the endpoint's life: a phone sees one SSRC whose sequence numbers step by one and
 * whose timestamps follow the wall clock, across audio -> DTMF -> audio and across source
 * changes of the far leg.
 */
#ifndef TG_DP_RTPTX_H
#define TG_DP_RTPTX_H

#include <stdbool.h>
#include <stdint.h>

#include "dp_rtp.h"

struct dp_rtp_tx {
	uint64_t last_ns;   /* the time last_ts stands for (the caller's monotonic clock) */
	uint32_t last_ts;   /* header of the last packet that left toward the remote */
	uint32_t last_ssrc; /* (the SSRC it left with) */
	uint32_t in_ssrc;   /* rewriting: the source being relayed, and its offsets */
	uint32_t ts_delta;
	uint32_t own_ssrc; /* owned: the SSRC the dataplane keeps the stream on */
	uint16_t seq_delta;
	uint16_t last_seq;
	uint8_t have_last; /* something left already: last_* mean something */
	uint8_t mapped;	   /* in_ssrc and the offsets hold; 0: computed again at the next packet */
	uint8_t owned;	   /* the dataplane sent packets of its own: rewrite everything from now */
	uint8_t playing;   /* a generated event is on: relayed RTP toward the remote is held back */
};

/* Clock units in [from_ns, to_ns] at clock_rate (0 if to_ns is not later). */
static inline uint32_t dp_rtp_tx_ticks(uint64_t from_ns, uint64_t to_ns, uint32_t clock_rate)
{
	const uint64_t gap = to_ns > from_ns ? to_ns - from_ns : 0;

	return (uint32_t)(gap / 1000 * clock_rate / 1000000);
}

/* The timestamp the stream has at t_ns: the last one plus the time since (at least one unit
 * on, so it never repeats the last); 'fresh' when nothing left yet. */
static inline uint32_t dp_rtp_tx_ts_at(
	const struct dp_rtp_tx *t, uint32_t clock_rate, uint64_t t_ns, uint32_t fresh)
{
	uint32_t ticks;

	if (!t->have_last)
		return fresh;
	ticks = dp_rtp_tx_ticks(t->last_ns, t_ns, clock_rate);
	return t->last_ts + (ticks ? ticks : 1);
}

/* Relayed unchanged: remember the header as it leaves. */
static inline void dp_rtp_tx_pass(struct dp_rtp_tx *t, const uint8_t *rtp, uint64_t now_ns)
{
	t->last_seq = dp_rtp_rd16(rtp + 2);
	t->last_ts = dp_rtp_rd32(rtp + 4);
	t->last_ssrc = dp_rtp_rd32(rtp + 8);
	t->last_ns = now_ns;
	t->have_last = 1;
}

/* Relayed rewritten: sequence number and timestamp continue the stream, SSRC out_ssrc. 'rtp' is
 * the RTP header in the packet (any alignment). */
static inline void dp_rtp_tx_rewrite(
	struct dp_rtp_tx *t, uint32_t clock_rate, uint32_t out_ssrc, uint8_t *rtp, uint64_t now_ns)
{
	const uint32_t ssrc = dp_rtp_rd32(rtp + 8);
	const uint16_t seq = dp_rtp_rd16(rtp + 2);
	const uint32_t ts = dp_rtp_rd32(rtp + 4);
	uint16_t out_seq;
	uint32_t out_ts;

	if (!t->mapped || ssrc != t->in_ssrc) {
		/* a new mapping: continue where the stream left off, plus the time since; the
		 * first packet toward a remote keeps its own numbers */
		if (t->have_last) {
			t->seq_delta = (uint16_t)(t->last_seq + 1 - seq);
			t->ts_delta = dp_rtp_tx_ts_at(t, clock_rate, now_ns, 0) - ts;
		} else {
			t->seq_delta = 0;
			t->ts_delta = 0;
		}
		t->in_ssrc = ssrc;
		t->mapped = 1;
	}
	out_seq = (uint16_t)(seq + t->seq_delta);
	out_ts = ts + t->ts_delta;
	t->last_seq = out_seq;
	t->last_ts = out_ts;
	t->last_ssrc = out_ssrc;
	t->last_ns = now_ns;
	t->have_last = 1;
	dp_rtp_wr16(rtp + 2, out_seq);
	dp_rtp_wr32(rtp + 4, out_ts);
	dp_rtp_wr32(rtp + 8, out_ssrc);
}

/* The SSRC a rewritten packet leaves with: the configured one (TG_EPF_REWRITE_RTP), else the
 * one the dataplane keeps for a stream it owns. */
static inline uint32_t dp_rtp_tx_ssrc(
	const struct dp_rtp_tx *t, bool cfg_rewrite, uint32_t cfg_ssrc)
{
	return cfg_rewrite ? cfg_ssrc : t->own_ssrc;
}

#endif
