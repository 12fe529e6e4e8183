/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 4733 DTMF in plain C, no DPDK: the generator (what telephone-event packet a digit string
 * sends at time t) and the detector (which digits a remote's telephone-event packets carry).
 * The lcores run them (dp_dtmf_play.c, dp_relay.c); the unit tests drive them with a clock of
 * their own. No allocation, no clock read, no syscall: times come from the caller.
 *
 * Generation (RFC 4733 §2.5.1). Event j of a string starts at t0; its packets leave every
 * 20 ms: packet i (i = 0, 1, ...) at t0 + 20i ms says the event has lasted (i + 1) * 20 ms, as
 * an audio packet covers the interval it starts, capped at the digit's duration D. The first has
 * the marker bit; the one whose duration reaches D has the end bit and is sent three times in
 * all (at t0 + 20(K - 1), 20K, 20(K + 1) ms, K = ceil(D / 20 ms)), so a lost copy does not cost
 * the end. Every packet of an event carries the event's timestamp, the stream's timestamp at t0
 * (dp_rtp_tx_ts_at()); sequence numbers step by one per packet, copies of the end included.
 * The next digit starts 'gap' after D, but never before the end's last copy is 20 ms old:
 * 100 ms digits with the default 50 ms gap start every 150 ms and take 7 packets each.
 * When the lcore is late, update packets already overdue are skipped (only the newest is sent:
 * it carries all the others say); the first packet and the three end packets never are.
 *
 * Detection (RFC 4733 §2.5.2). Packets are grouped into events by RTP timestamp (and SSRC). A
 * digit is reported once, when its first end packet arrives; its end copies, repeated packets
 * and late packets of older events are ignored. A digit whose end packets are all lost is
 * reported (end = 0) when an event with a new timestamp starts, or by dp_dtmf_det_expire() once
 * nothing of it came for DP_DTMF_DET_TIMEOUT_NS. Payloads that are not a DTMF event (shorter
 * than 4 bytes, event code above 15, a broken RTP header, another event on the timestamp of the
 * current one) are refused with -EINVAL and change nothing.
 */
#ifndef TG_DP_DTMF_H
#define TG_DP_DTMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_rtptx.h"

#define DP_DTMF_DIGITS_MAX 32 /* TG_DTMF_DIGITS_MAX */
#define DP_DTMF_PKT_NS (20ull * 1000 * 1000)
#define DP_DTMF_END_COPIES 3
#define DP_DTMF_PKT_LEN 16 /* 12 bytes of RTP header, 4 of event */
#define DP_DTMF_DEFAULT_DURATION_MS 100
#define DP_DTMF_DEFAULT_GAP_MS 50
#define DP_DTMF_DEFAULT_VOLUME 10
#define DP_DTMF_GAP_MAX_MS 10000
#define DP_DTMF_DET_TIMEOUT_NS (500ull * 1000 * 1000)
/* digits one endpoint may report per window of 2^30 ns (~1.07 s): a person dials ~10 a second;
 * a remote sending a new event per packet must not flood the channel the replies share */
#define DP_DTMF_DET_RATE 20

/* ---- generation ---- */

struct dp_dtmf_gen {
	uint64_t dur_ns; /* of each digit */
	uint64_t gap_ns;
	uint64_t t0;	  /* the current event's start: the time its timestamp stands for */
	uint64_t next_ns; /* when the next packet is due; UINT64_MAX once all are sent */
	uint32_t clock_rate;
	uint32_t ts;	    /* the current event's RTP timestamp (dp_dtmf_gen_write) */
	uint16_t dur_units; /* D in clock units: the end packets' duration */
	uint16_t n_pkt;	    /* K = ceil(D / 20 ms): packet K - 1 is the first with the end bit */
	uint16_t i;	    /* the current event's next packet, end copies counted */
	uint8_t events[DP_DTMF_DIGITS_MAX];
	uint8_t n_events;
	uint8_t cur;	/* the event playing (or next) */
	uint8_t volume; /* dBm0 below zero */
	uint8_t pt;
};

/* One packet to send, from dp_dtmf_gen_next(). */
struct dp_dtmf_pkt {
	uint64_t t0;	   /* its event's start */
	uint64_t due_ns;   /* when it was due */
	uint16_t duration; /* clock units */
	uint8_t event;
	uint8_t marker; /* the event's first packet */
	uint8_t end;
	uint8_t last; /* the event's last packet (its third end): relayed RTP may go again */
};

/*
 * Checks a request and prepares g (not started): digits (n of them, 1-32, '0'-'9' '*' '#'
 * 'A'-'D'), duration_ms (0 = 100, at most 65535 clock units), gap_ms (0 = 50, at most 10 s),
 * volume (0 = 10, at most 63), pt (1-127), clock_rate (0 = 8000). 0 or -EINVAL.
 */
int dp_dtmf_gen_init(struct dp_dtmf_gen *g, const char *digits, size_t n, unsigned duration_ms,
	unsigned gap_ms, unsigned volume, unsigned pt, uint32_t clock_rate);
/* The first event starts at now_ns. */
void dp_dtmf_gen_start(struct dp_dtmf_gen *g, uint64_t now_ns);
/* From the start to the last packet (the third end of the last digit), in ns. */
uint64_t dp_dtmf_gen_length_ns(const struct dp_dtmf_gen *g);
/* True when every packet was given out. */
static inline bool dp_dtmf_gen_done(const struct dp_dtmf_gen *g)
{
	return g->next_ns == UINT64_MAX;
}

/*
 * The packet due at now_ns, if one is (true, *p filled; g moves on and g->next_ns says when the
 * next one is due). Call again while it returns true: a late caller gets the end copies one by
 * one, but only the newest of the overdue updates.
 */
bool dp_dtmf_gen_next(struct dp_dtmf_gen *g, uint64_t now_ns, struct dp_dtmf_pkt *p);

/*
 * Writes p as a DP_DTMF_PKT_LEN-byte RTP packet into out, continuing t's stream: the next
 * sequence number; the event's timestamp, taken at its first packet as the stream's timestamp
 * at t0. The SSRC is cfg_ssrc when cfg_rewrite (TG_EPF_REWRITE_RTP), else the stream's own
 * (chosen once: the SSRC that left last, or rnd's low bits when nothing has). rnd seeds a stream
 * that has nothing yet (sequence number and timestamp). Marks t owned; t->playing holds from
 * an event's first packet to its last.
 */
void dp_dtmf_gen_write(struct dp_dtmf_gen *g, const struct dp_dtmf_pkt *p, struct dp_rtp_tx *t,
	bool cfg_rewrite, uint32_t cfg_ssrc, uint64_t rnd, uint8_t *out);

/* ---- detection ---- */

enum dp_dtmf_det_state {
	DP_DTMF_DET_IDLE = 0, /* no event seen yet */
	DP_DTMF_DET_ON = 1,   /* the current event is not reported yet */
	DP_DTMF_DET_DONE = 2, /* reported: its later packets are ignored */
};

/* One endpoint's detector: written by the lcore receiving the remote's stream. */
struct dp_dtmf_det {
	uint64_t last_ns; /* the current event's last packet */
	uint32_t ts;	  /* the current event's timestamp and source */
	uint32_t ssrc;
	uint16_t duration; /* the longest duration seen for it, clock units */
	uint8_t event;
	uint8_t volume;
	uint8_t state;	 /* enum dp_dtmf_det_state */
	uint8_t watched; /* the lcore's timeout list holds it (dp_dtmf_play.c) */
	uint8_t win_id;	 /* the rate limit's window (now >> 30, low bits) and reports in it */
	uint8_t win_n;
};

/* A digit to report. */
struct dp_dtmf_digit {
	uint32_t ts;
	uint16_t duration; /* clock units */
	uint8_t event;
	uint8_t volume;
	uint8_t end; /* 1: ended by its end packet; 0: its end was lost */
	char digit;
};

/*
 * One RTP packet of the telephone-event payload type from the remote ('rtp': len bytes from the
 * RTP header on). Returns how many digits it ends into out (0, 1 or 2: a new event whose
 * predecessor's end was lost reports that one too, first), or -EINVAL for a packet that is not
 * a DTMF event, which changes nothing.
 */
int dp_dtmf_det_packet(struct dp_dtmf_det *d, const uint8_t *rtp, size_t len, uint64_t now_ns,
	struct dp_dtmf_digit out[2]);
/* An unreported event nothing came of for DP_DTMF_DET_TIMEOUT_NS: 1 and *out, else 0. */
int dp_dtmf_det_expire(struct dp_dtmf_det *d, uint64_t now_ns, struct dp_dtmf_digit *out);
/* True when one more report fits the endpoint's rate (DP_DTMF_DET_RATE per window); counts it. */
bool dp_dtmf_det_allow(struct dp_dtmf_det *d, uint64_t now_ns);
/* Duration in ms at clock_rate (0 = 8000). */
uint32_t dp_dtmf_units_to_ms(uint32_t units, uint32_t clock_rate);

#endif
