/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RTP (RFC 3550 §5.1) and RTCP wire helpers for the fast path: validating an RTP header in a
 * byte buffer, reading its fields, and telling RTCP from RTP on an rtcp-mux port (RFC 5761 §4).
 * Pure C on plain byte pointers: no DPDK, no allocation, no alignment assumption (fields are
 * assembled from bytes, which compilers turn into one load and a bswap). Every function is
 * reentrant and touches only the buffer it is given.
 */
#ifndef TG_DP_RTP_H
#define TG_DP_RTP_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_RTP_VERSION 2
#define DP_RTP_HDR_LEN 12 /* fixed header, before CSRCs and extension */
#define DP_RTP_SEQ_MOD (1u << 16)

/* Big-endian reads and writes, unaligned. */
static inline uint16_t dp_rtp_rd16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t dp_rtp_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void dp_rtp_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void dp_rtp_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Validate the RTP header of a packet of 'len' bytes at 'buf': version 2, the CSRC list, the
 * header extension (4-byte header + its length in 32-bit words) and the padding all within the
 * packet. Padding (P bit) is counted by the last octet, which includes itself: 0 is invalid,
 * and a packet made only of padding is accepted (bandwidth probes send those).
 * Returns the payload offset (>= DP_RTP_HDR_LEN) or -EINVAL; *payload_len, when not NULL,
 * receives the payload length without padding. Does not look at the payload type: on an
 * rtcp-mux port call dp_rtp_is_rtcp() first.
 */
static inline int dp_rtp_validate(const void *buf, size_t len, size_t *payload_len)
{
	const uint8_t *p = buf;
	size_t off = DP_RTP_HDR_LEN;
	size_t pad = 0;

	if (len < DP_RTP_HDR_LEN || (p[0] >> 6) != DP_RTP_VERSION)
		return -EINVAL;
	off += 4u * (p[0] & 0x0f);
	if (p[0] & 0x10) {
		/* extension: 16-bit profile field, 16-bit length in words, then the words */
		if (off + 4 > len)
			return -EINVAL;
		off += 4 + 4u * dp_rtp_rd16(p + off + 2);
	}
	if (off > len)
		return -EINVAL;
	if (p[0] & 0x20) {
		pad = p[len - 1];
		if (pad == 0 || pad > len - off)
			return -EINVAL;
	}
	if (payload_len)
		*payload_len = len - off - pad;
	return (int)off;
}

/* Field accessors: only on a buffer that dp_rtp_validate() accepted (12 bytes at least). */
static inline bool dp_rtp_marker(const void *buf)
{
	return ((const uint8_t *)buf)[1] & 0x80;
}

static inline uint8_t dp_rtp_pt(const void *buf)
{
	return ((const uint8_t *)buf)[1] & 0x7f;
}

static inline uint16_t dp_rtp_seq(const void *buf)
{
	return dp_rtp_rd16((const uint8_t *)buf + 2);
}

static inline uint32_t dp_rtp_ts(const void *buf)
{
	return dp_rtp_rd32((const uint8_t *)buf + 4);
}

static inline uint32_t dp_rtp_ssrc(const void *buf)
{
	return dp_rtp_rd32((const uint8_t *)buf + 8);
}

static inline unsigned dp_rtp_csrc_count(const void *buf)
{
	return ((const uint8_t *)buf)[0] & 0x0f;
}

/*
 * On an rtcp-mux port (RFC 5761 §4), true when the packet is RTCP: the second octet, read as
 * an RTP marker + payload type, has PT 64..95, i.e. RTCP packet types 192..223 (SR 200, RR 201,
 * ...). RFC 5761 forbids RTP payload types 64..95 on a muxed port for that reason. Looks at
 * the version and that octet only; the matching parser validates the rest.
 */
static inline bool dp_rtp_is_rtcp(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint8_t pt;

	if (len < 2 || (p[0] >> 6) != DP_RTP_VERSION)
		return false;
	pt = p[1] & 0x7f;
	return pt >= 64 && pt <= 95;
}

#endif
