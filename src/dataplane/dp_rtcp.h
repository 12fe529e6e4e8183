/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RTCP (RFC 3550 §6.4): parsing a compound packet into its sender info and report blocks,
 * round-trip time from a report block's LSR/DLSR, NTP timestamps, and building our own RR or
 * SR from dp_rtpstats. The parser trusts nothing: every length is checked before it is used,
 * the output has a fixed size, and nothing is allocated, so it can run on the fast path and
 * on anything the network sends (it is fuzzed: tests/fuzz/fuzz_rtcp.c). No DPDK.
 */
#ifndef TG_DP_RTCP_H
#define TG_DP_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_rtpstats.h"

/* Packet types (RFC 3550 §12.1, RFC 4585 §6.1, RFC 3611 §2). */
#define DP_RTCP_SR 200
#define DP_RTCP_RR 201
#define DP_RTCP_SDES 202
#define DP_RTCP_BYE 203
#define DP_RTCP_APP 204
#define DP_RTCP_RTPFB 205
#define DP_RTCP_PSFB 206
#define DP_RTCP_XR 207

#define DP_RTCP_HDR_LEN 4    /* V P count, PT, length */
#define DP_RTCP_RR_LEN 8     /* header + sender SSRC */
#define DP_RTCP_SR_LEN 28    /* header + sender SSRC + sender info */
#define DP_RTCP_BLOCK_LEN 24 /* one report block */
#define DP_RTCP_MAX_RC 31    /* the 5-bit count field */
#define DP_RTCP_MAX_BLOCKS 8 /* report blocks kept by the parser; the rest are counted */

/* 24-bit signed cumulative loss field */
#define DP_RTCP_LOST_MAX 0x7fffff
#define DP_RTCP_LOST_MIN (-0x800000)

/* Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01). */
#define DP_RTCP_NTP_UNIX_OFFSET 2208988800ull

/* dp_rtcp_info.seen: one bit per packet type met in the compound packet. */
#define DP_RTCP_SEEN_SR (1u << 0)
#define DP_RTCP_SEEN_RR (1u << 1)
#define DP_RTCP_SEEN_SDES (1u << 2)
#define DP_RTCP_SEEN_BYE (1u << 3)
#define DP_RTCP_SEEN_APP (1u << 4)
#define DP_RTCP_SEEN_RTPFB (1u << 5)
#define DP_RTCP_SEEN_PSFB (1u << 6)
#define DP_RTCP_SEEN_XR (1u << 7)
#define DP_RTCP_SEEN_OTHER (1u << 8)

struct dp_rtcp_sender_info {
	uint64_t ntp;	  /* NTP timestamp, 32.32 fixed point */
	uint32_t rtp_ts;  /* the same instant on the RTP clock */
	uint32_t packets; /* sender's packet count */
	uint32_t octets;  /* sender's payload octet count */
};

struct dp_rtcp_block {
	uint32_t reporter;     /* SSRC of the SR/RR that carried the block */
	uint32_t ssrc;	       /* source the block reports on */
	uint8_t fraction_lost; /* 1/256 units */
	int32_t cum_lost;      /* sign-extended from 24 bits */
	uint32_t ext_max_seq;
	uint32_t jitter; /* RTP timestamp units */
	uint32_t lsr;	 /* middle 32 bits of the last SR's NTP time, 0 = none */
	uint32_t dlsr;	 /* delay since that SR, 1/65536 s */
};

struct dp_rtcp_info {
	uint32_t ssrc; /* sender SSRC of the first packet (SR or RR) */
	bool has_sr;   /* the first packet is an SR: 'sr' is filled */
	struct dp_rtcp_sender_info sr;
	uint16_t seen;	       /* DP_RTCP_SEEN_* */
	uint16_t npackets;     /* packets in the compound */
	uint16_t nblocks;      /* blocks stored in blocks[] */
	uint16_t blocks_total; /* blocks in the compound, stored or not */
	struct dp_rtcp_block blocks[DP_RTCP_MAX_BLOCKS];
};

/*
 * Parse a compound RTCP packet of 'len' bytes. Checks (RFC 3550 §6.4 and A.2): version 2 in
 * every packet; the first is SR or RR; each length field (32-bit words minus one, so every
 * packet moves the walk on by 4 bytes at least) fits in what is left, and together they cover
 * the buffer exactly; only the last packet may be padded, with a padding count of 1 up to its
 * body; SR/RR hold their RC report blocks, BYE its SC SSRCs, APP its name. Report blocks of
 * every SR/RR are collected (first DP_RTCP_MAX_BLOCKS kept); sender info only of the first
 * packet. SDES, BYE, APP, feedback, XR and unknown types are skipped after their length check.
 * Returns 0, or -EINVAL on anything malformed (then *out is partly filled: do not use it).
 * Reentrant.
 */
int dp_rtcp_parse(const void *buf, size_t len, struct dp_rtcp_info *out);

/* CLOCK_REALTIME in ns since the Unix epoch -> 64-bit NTP time, 32.32 fixed point. NTP era 0
 * ends in 2036: the seconds are kept modulo 2^32, as the NTP fields of SR and LSR are. */
static inline uint64_t dp_rtcp_ntp_from_ns(uint64_t realtime_ns)
{
	uint64_t sec = realtime_ns / 1000000000ull + DP_RTCP_NTP_UNIX_OFFSET;
	uint64_t frac = ((realtime_ns % 1000000000ull) << 32) / 1000000000ull;

	return sec << 32 | frac;
}

/* The middle 32 bits of an NTP time: the LSR field, and the "A" of the RTT computation. */
static inline uint32_t dp_rtcp_ntp_mid(uint64_t ntp)
{
	return (uint32_t)(ntp >> 16);
}

/* 1/65536 s -> microseconds, truncated. */
static inline uint64_t dp_rtcp_q16_to_us(uint32_t q16)
{
	return (uint64_t)q16 * 15625u >> 10; /* * 1e6 / 65536 */
}

/* Slack for truncation: A, LSR and DLSR are each truncated to 1/65536 s, so a round trip of
 * about zero can compute as a few units below it. Within the slack it is reported as 0. */
#define DP_RTCP_RTT_SLACK 4

/*
 * Round-trip time from a report block about our stream (RFC 3550 §6.4.1): A - LSR - DLSR in
 * 1/65536 s, where A is dp_rtcp_ntp_mid() of our NTP time when the block arrived. Modulo 2^32,
 * so the wrap of the 32-bit middle word (every 18.2 h) is harmless.
 * Returns 0 and *rtt_q16; -ENODATA when lsr is 0 (no SR of ours reached the peer yet);
 * -ERANGE when the numbers are inconsistent: the SR was sent more than 2^31 units (9.1 h) ago
 * or after A, or DLSR exceeds A - LSR by more than DP_RTCP_RTT_SLACK.
 */
int dp_rtcp_rtt(uint32_t a, uint32_t lsr, uint32_t dlsr, uint32_t *rtt_q16);

/* Same, in microseconds. */
int dp_rtcp_rtt_us(uint32_t a, uint32_t lsr, uint32_t dlsr, uint64_t *rtt_us);

/*
 * Build a compound packet into buf[cap]: an SR (when 'sr' is not NULL) or an RR from 'ssrc',
 * with one report block per valid source in src[0..nsrc) (sources still on probation are
 * skipped), then, when 'cname' is not NULL, an SDES with that CNAME (RFC 3550 wants one in
 * every compound packet). A block carries the source's fraction lost since its last report
 * (and starts a new interval: dp_rtpstats_mark()), its cumulative loss clamped to 24 bits,
 * extended highest sequence, jitter, and LSR/DLSR of the last SR from that source, DLSR from
 * 'now_ns' on the clock dp_rtpstats_sr_received() was given.
 * Returns the length written, -ENOSPC when it does not fit in cap (nothing is marked), or
 * -EINVAL for nsrc > DP_RTCP_MAX_RC or a CNAME longer than 255 bytes.
 * Writer of the sources: the lcore that owns them.
 */
int dp_rtcp_build(void *buf, size_t cap, uint32_t ssrc, const struct dp_rtcp_sender_info *sr,
	struct dp_rtpstats *const *src, unsigned nsrc, const char *cname, uint64_t now_ns);

#endif
