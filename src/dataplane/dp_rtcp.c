/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RTCP compound packets: the validating parser, round-trip time, and the RR/SR builder that
 * turns dp_rtpstats into report blocks. Bounds are checked against the packet's own length
 * field and against the buffer before any byte is read; see dp_rtcp.h for the rules.
 */
#include <errno.h>
#include <string.h>

#include "dp_rtcp.h"
#include "dp_rtp.h"

/* Collect the 'rc' report blocks that start 'first' bytes into an SR/RR of 'body' bytes. */
static int dp_rtcp_blocks(
	const uint8_t *h, size_t body, unsigned rc, size_t first, struct dp_rtcp_info *out)
{
	uint32_t reporter = dp_rtp_rd32(h + 4);

	if (first + (size_t)rc * DP_RTCP_BLOCK_LEN > body)
		return -EINVAL; /* RC larger than the packet holds */
	for (unsigned i = 0; i < rc; i++) {
		const uint8_t *b = h + first + (size_t)i * DP_RTCP_BLOCK_LEN;
		struct dp_rtcp_block *blk;
		uint32_t lost;

		out->blocks_total++;
		if (out->nblocks >= DP_RTCP_MAX_BLOCKS)
			continue;
		blk = &out->blocks[out->nblocks++];
		blk->reporter = reporter;
		blk->ssrc = dp_rtp_rd32(b);
		blk->fraction_lost = b[4];
		lost = (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
		blk->cum_lost = (lost & 0x800000) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
		blk->ext_max_seq = dp_rtp_rd32(b + 8);
		blk->jitter = dp_rtp_rd32(b + 12);
		blk->lsr = dp_rtp_rd32(b + 16);
		blk->dlsr = dp_rtp_rd32(b + 20);
	}
	return 0;
}

/* One packet of the compound, 'h' at its header, 'body' bytes without padding. */
static int dp_rtcp_packet(const uint8_t *h, size_t body, bool first, struct dp_rtcp_info *out)
{
	unsigned count = h[0] & 0x1f;

	switch (h[1]) {
	case DP_RTCP_SR:
		if (body < DP_RTCP_SR_LEN)
			return -EINVAL;
		out->seen |= DP_RTCP_SEEN_SR;
		if (first) {
			out->ssrc = dp_rtp_rd32(h + 4);
			out->has_sr = true;
			out->sr.ntp = (uint64_t)dp_rtp_rd32(h + 8) << 32 | dp_rtp_rd32(h + 12);
			out->sr.rtp_ts = dp_rtp_rd32(h + 16);
			out->sr.packets = dp_rtp_rd32(h + 20);
			out->sr.octets = dp_rtp_rd32(h + 24);
		}
		return dp_rtcp_blocks(h, body, count, DP_RTCP_SR_LEN, out);
	case DP_RTCP_RR:
		if (body < DP_RTCP_RR_LEN)
			return -EINVAL;
		out->seen |= DP_RTCP_SEEN_RR;
		if (first)
			out->ssrc = dp_rtp_rd32(h + 4);
		return dp_rtcp_blocks(h, body, count, DP_RTCP_RR_LEN, out);
	case DP_RTCP_SDES:
		/* a chunk is an SSRC, items, a null octet, padding to 32 bits: 8 bytes at least */
		out->seen |= DP_RTCP_SEEN_SDES;
		return DP_RTCP_HDR_LEN + 8 * (size_t)count <= body ? 0 : -EINVAL;
	case DP_RTCP_BYE:
		out->seen |= DP_RTCP_SEEN_BYE;
		return DP_RTCP_HDR_LEN + 4 * (size_t)count <= body ? 0 : -EINVAL;
	case DP_RTCP_APP:
		/* SSRC and the 4-character name */
		out->seen |= DP_RTCP_SEEN_APP;
		return body >= 12 ? 0 : -EINVAL;
	case DP_RTCP_RTPFB:
	case DP_RTCP_PSFB:
		/* RFC 4585 §6.1: sender SSRC and media SSRC */
		out->seen |= h[1] == DP_RTCP_RTPFB ? DP_RTCP_SEEN_RTPFB : DP_RTCP_SEEN_PSFB;
		return body >= 12 ? 0 : -EINVAL;
	case DP_RTCP_XR:
		/* RFC 3611 §2: sender SSRC */
		out->seen |= DP_RTCP_SEEN_XR;
		return body >= 8 ? 0 : -EINVAL;
	default:
		out->seen |= DP_RTCP_SEEN_OTHER;
		return 0;
	}
}

int dp_rtcp_parse(const void *buf, size_t len, struct dp_rtcp_info *out)
{
	const uint8_t *p = buf;
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	if (!p || len < DP_RTCP_RR_LEN)
		return -EINVAL;
	while (off < len) {
		const uint8_t *h = p + off;
		size_t rem = len - off;
		size_t size, body;
		int rc;

		if (rem < DP_RTCP_HDR_LEN || (h[0] >> 6) != DP_RTP_VERSION)
			return -EINVAL;
		/* length is in words minus one: every packet is 4 bytes or more, the walk ends */
		size = ((size_t)dp_rtp_rd16(h + 2) + 1) * 4;
		if (size > rem)
			return -EINVAL;
		body = size;
		if (h[0] & 0x20) {
			/* last packet only; the count includes itself, never the header */
			uint8_t pad = h[size - 1];

			if (size != rem || pad == 0 || pad > size - DP_RTCP_HDR_LEN)
				return -EINVAL;
			body = size - pad;
		}
		if (off == 0 && h[1] != DP_RTCP_SR && h[1] != DP_RTCP_RR)
			return -EINVAL;
		rc = dp_rtcp_packet(h, body, off == 0, out);
		if (rc)
			return rc;
		out->npackets++;
		off += size;
	}
	return 0;
}

int dp_rtcp_rtt(uint32_t a, uint32_t lsr, uint32_t dlsr, uint32_t *rtt_q16)
{
	uint32_t elapsed = a - lsr; /* since our SR left, modulo 2^32 */

	if (lsr == 0)
		return -ENODATA;
	if (elapsed & 0x80000000u)
		return -ERANGE;
	if (dlsr > elapsed) {
		if (dlsr - elapsed > DP_RTCP_RTT_SLACK)
			return -ERANGE;
		*rtt_q16 = 0;
		return 0;
	}
	*rtt_q16 = elapsed - dlsr;
	return 0;
}

int dp_rtcp_rtt_us(uint32_t a, uint32_t lsr, uint32_t dlsr, uint64_t *rtt_us)
{
	uint32_t q16;
	int rc = dp_rtcp_rtt(a, lsr, dlsr, &q16);

	if (rc == 0)
		*rtt_us = dp_rtcp_q16_to_us(q16);
	return rc;
}

/* ns -> 1/65536 s, saturated at the 32-bit field's 18.2 h. */
static uint32_t dp_rtcp_ns_to_q16(uint64_t ns)
{
	uint64_t sec = ns / 1000000000ull;

	if (sec >= 65536)
		return UINT32_MAX;
	return (uint32_t)(sec << 16 | ((ns % 1000000000ull) << 16) / 1000000000ull);
}

static void dp_rtcp_put_block(uint8_t *b, struct dp_rtpstats *s, uint64_t now_ns)
{
	struct dp_rtpstats_report r;
	int64_t lost;
	uint32_t lsr = 0, dlsr = 0;

	dp_rtpstats_get(s, &r);
	lost = r.lost;
	if (lost > DP_RTCP_LOST_MAX)
		lost = DP_RTCP_LOST_MAX;
	if (lost < DP_RTCP_LOST_MIN)
		lost = DP_RTCP_LOST_MIN;
	if (s->lsr && s->lsr_ssrc == s->ssrc) {
		lsr = s->lsr;
		dlsr = dp_rtcp_ns_to_q16(now_ns > s->lsr_ns ? now_ns - s->lsr_ns : 0);
	}
	dp_rtp_wr32(b, r.ssrc);
	dp_rtp_wr32(b + 4, (uint32_t)r.fraction_lost << 24 | ((uint32_t)lost & 0xffffff));
	dp_rtp_wr32(b + 8, r.ext_max_seq);
	dp_rtp_wr32(b + 12, r.jitter);
	dp_rtp_wr32(b + 16, lsr);
	dp_rtp_wr32(b + 20, dlsr);
	dp_rtpstats_mark(s);
}

int dp_rtcp_build(void *buf, size_t cap, uint32_t ssrc, const struct dp_rtcp_sender_info *sr,
	struct dp_rtpstats *const *src, unsigned nsrc, const char *cname, uint64_t now_ns)
{
	uint8_t *p = buf;
	size_t head = sr ? DP_RTCP_SR_LEN : DP_RTCP_RR_LEN;
	size_t cname_len = 0, sdes = 0, first, total;
	unsigned rc = 0;

	if (nsrc > DP_RTCP_MAX_RC || (nsrc && !src))
		return -EINVAL;
	if (cname) {
		cname_len = strlen(cname);
		if (cname_len > 255)
			return -EINVAL;
		/* header, then one chunk: SSRC, CNAME item (type, length, text), a null octet,
		 * padded to 32 bits */
		sdes = DP_RTCP_HDR_LEN + ((4 + 2 + cname_len + 1 + 3) & ~(size_t)3);
	}
	for (unsigned i = 0; i < nsrc; i++)
		rc += src[i]->valid;
	first = head + (size_t)rc * DP_RTCP_BLOCK_LEN;
	total = first + sdes;
	if (!p || total > cap)
		return -ENOSPC;

	p[0] = (uint8_t)(DP_RTP_VERSION << 6 | rc);
	p[1] = sr ? DP_RTCP_SR : DP_RTCP_RR;
	dp_rtp_wr16(p + 2, (uint16_t)(first / 4 - 1));
	dp_rtp_wr32(p + 4, ssrc);
	if (sr) {
		dp_rtp_wr32(p + 8, (uint32_t)(sr->ntp >> 32));
		dp_rtp_wr32(p + 12, (uint32_t)sr->ntp);
		dp_rtp_wr32(p + 16, sr->rtp_ts);
		dp_rtp_wr32(p + 20, sr->packets);
		dp_rtp_wr32(p + 24, sr->octets);
	}
	p += head;
	for (unsigned i = 0; i < nsrc; i++) {
		if (!src[i]->valid)
			continue;
		dp_rtcp_put_block(p, src[i], now_ns);
		p += DP_RTCP_BLOCK_LEN;
	}
	if (cname) {
		p[0] = DP_RTP_VERSION << 6 | 1;
		p[1] = DP_RTCP_SDES;
		dp_rtp_wr16(p + 2, (uint16_t)(sdes / 4 - 1));
		dp_rtp_wr32(p + 4, ssrc);
		p[8] = 1; /* CNAME */
		p[9] = (uint8_t)cname_len;
		memcpy(p + 10, cname, cname_len);
		memset(p + 10 + cname_len, 0, sdes - 10 - cname_len);
	}
	return (int)total;
}
