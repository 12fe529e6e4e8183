/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tg-pktgen's packets: Ethernet + IPv4 or IPv6 + UDP + RTP, with a tag at the start of the RTP
 * payload that lets the receiver measure whatever the relay did to the headers:
 *
 *   RTP header (12 bytes, V=2, no CSRC, no extension when sent)
 *   tag: magic "TGPG" | stream id (u32) | sequence in the stream (u64) | TSC at TX (u64)
 *        all little-endian, 24 bytes
 *   filler up to --payload-size (0xff: G.711 mu-law silence)
 *
 * Each stream has a prebuilt header template; the payload filler is shared. Per packet the
 * sender copies both and patches four fields, and the UDP checksum follows incrementally from
 * a sum precomputed over everything that does not change. Nothing here touches DPDK: the
 * builder and the parser are unit-tested on plain buffers.
 */
#ifndef TG_PG_PKT_H
#define TG_PG_PKT_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "pg_args.h"

#define PG_MAGIC 0x47504754u /* "TGPG" on the wire */
#define PG_ETH_HDR_LEN 14
#define PG_UDP_HDR_LEN 8
#define PG_TMPL_HDR_MAX 112 /* Ethernet + IPv6 + UDP + RTP + tag = 98 */
#define PG_FILLER_BYTE 0xff

/* Where things are in every frame of a run (one address family per run). */
struct pg_pkt_layout {
	uint8_t family;
	uint16_t l3_off;
	uint16_t l3_len;
	uint16_t l4_off;
	uint16_t rtp_off;
	uint16_t tag_off;
	uint16_t hdr_len;    /* bytes taken from the stream's template */
	uint16_t filler_len; /* then this many from the shared filler */
	uint16_t frame_len;
};

/* One stream's prebuilt headers: two cache lines, read once per packet of the stream. */
struct pg_tmpl {
	uint8_t hdr[PG_TMPL_HDR_MAX];
	uint32_t csum_base; /* UDP sum (unfolded) over the fixed fields, filler included */
	uint32_t ts_base;   /* RTP timestamp of sequence 0 */
	uint16_t seq_base;  /* RTP sequence number of sequence 0 */
	bool hw_csum;	    /* the port finishes the UDP checksum */
} __attribute__((aligned(64)));

struct pg_pkt_params {
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	struct pg_endpoint src;
	struct pg_endpoint dst;
	uint8_t pt;
	uint32_t ssrc;
	uint16_t seq_base;
	uint32_t ts_base;
	bool hw_csum; /* leave the pseudo-header sum in the UDP checksum for the port */
};

/* 0, or -EINVAL when the payload does not fit the family's MTU or cannot hold the tag. */
int pg_pkt_layout_init(struct pg_pkt_layout *l, uint8_t family, unsigned payload_size);

/* The shared filler and its checksum contribution (it starts at an even UDP offset). */
void pg_pkt_filler(uint8_t *filler, const struct pg_pkt_layout *l, uint32_t *sum);

void pg_pkt_tmpl_build(struct pg_tmpl *t, const struct pg_pkt_layout *l,
	const struct pg_pkt_params *p, uint32_t stream, uint32_t filler_sum);

/* RFC 1071 over native 16-bit loads, so the sum is right on either byte order. */
static inline uint64_t pg_csum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint16_t w;

	for (; len >= 2; len -= 2, p += 2) {
		memcpy(&w, p, 2);
		sum += w;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, 1); /* the odd byte is the high-order byte of a zero-padded word */
		sum += w;
	}
	return sum;
}

static inline uint16_t pg_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static inline uint64_t pg_csum_word_at(const uint8_t *p)
{
	uint16_t w;

	memcpy(&w, p, 2);
	return w;
}

/*
 * Fills in what changes per packet in a frame already copied from t and the filler: the RTP
 * sequence number and timestamp, the tag's sequence and TSC, and the UDP checksum (unless the
 * port computes it). About 11 loads and adds for the checksum: the frame's cache lines are hot.
 */
static inline void pg_pkt_stamp(uint8_t *f, const struct pg_pkt_layout *l, const struct pg_tmpl *t,
	uint32_t ts_step, uint64_t seq, uint64_t tsc)
{
	uint8_t *rtp = f + l->rtp_off, *tag = f + l->tag_off;
	uint16_t rtp_seq = htobe16((uint16_t)(t->seq_base + (uint16_t)seq));
	uint32_t rtp_ts = htobe32(t->ts_base + (uint32_t)seq * ts_step);
	uint64_t le_seq = htole64(seq), le_tsc = htole64(tsc);
	uint64_t sum;
	uint16_t c;

	memcpy(rtp + 2, &rtp_seq, 2);
	memcpy(rtp + 4, &rtp_ts, 4);
	memcpy(tag + 8, &le_seq, 8);
	memcpy(tag + 16, &le_tsc, 8);
	if (t->hw_csum)
		return;
	sum = t->csum_base + pg_csum_word_at(rtp + 2) + pg_csum_word_at(rtp + 4) +
	      pg_csum_word_at(rtp + 6);
	for (int i = 8; i < 24; i += 2)
		sum += pg_csum_word_at(tag + i);
	c = (uint16_t)~pg_csum_fold(sum);
	if (c == 0)
		c = 0xffff; /* zero means "no checksum" in UDP over IPv4 and is invalid over IPv6 */
	memcpy(f + l->l4_off + 6, &c, 2);
}

/* What the parser found in a frame carrying our tag. */
struct pg_pkt_tag {
	uint32_t stream;
	uint64_t seq;
	uint64_t tsc;
};

/*
 * true when the frame is Ethernet (up to two VLAN tags) + IPv4 (unfragmented) or IPv6 (no
 * extension headers) + UDP + RTP (any CSRC count or extension) + our tag. Bounds are checked
 * against len and the UDP length, never past either.
 */
bool pg_pkt_parse(const uint8_t *f, uint32_t len, struct pg_pkt_tag *tag);

/* UDP checksum over a whole frame, for tests: 0 when the frame's checksum is right. */
uint16_t pg_pkt_udp_verify(const uint8_t *f, const struct pg_pkt_layout *l);

#endif
