/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame templates and the tag parser. Templates are built once per stream at start-up, so
 * clarity wins over speed here; the parser runs per received packet and only reads bytes it has
 * bounds-checked, since whatever comes back from a relay under test may be truncated or foreign.
 */
#include "pg_pkt.h"

#include <errno.h>
#include <sys/socket.h>

#define ETHERTYPE_V4 0x0800
#define ETHERTYPE_V6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define IPPROTO_UDP_ 17
#define DSCP_EF_TOS 0xb8 /* expedited forwarding, as voice is marked */

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

int pg_pkt_layout_init(struct pg_pkt_layout *l, uint8_t family, unsigned payload_size)
{
	unsigned max = family == AF_INET6 ? PG_MAX_PAYLOAD_V6 : PG_MAX_PAYLOAD_V4;

	if ((family != AF_INET && family != AF_INET6) || payload_size < PG_MIN_PAYLOAD ||
		payload_size > max)
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	l->family = family;
	l->l3_off = PG_ETH_HDR_LEN;
	l->l3_len = family == AF_INET6 ? 40 : 20;
	l->l4_off = (uint16_t)(l->l3_off + l->l3_len);
	l->rtp_off = (uint16_t)(l->l4_off + PG_UDP_HDR_LEN);
	l->tag_off = (uint16_t)(l->rtp_off + PG_RTP_HDR_LEN);
	l->hdr_len = (uint16_t)(l->tag_off + PG_TAG_LEN);
	l->frame_len = (uint16_t)(l->l4_off + PG_UDP_HDR_LEN + payload_size);
	l->filler_len = (uint16_t)(l->frame_len - l->hdr_len);
	return 0;
}

void pg_pkt_filler(uint8_t *filler, const struct pg_pkt_layout *l, uint32_t *sum)
{
	memset(filler, PG_FILLER_BYTE, l->filler_len);
	/* the filler starts at an even offset from the UDP header, so its sum simply adds */
	*sum = pg_csum_fold(pg_csum_add(0, filler, l->filler_len));
}

/* The UDP pseudo-header's sum: addresses, protocol and UDP length, as on the wire. */
static uint64_t pseudo_sum(const struct pg_pkt_layout *l, const uint8_t *ip, uint16_t udp_len)
{
	uint8_t tail[4] = {0, 0, 0, IPPROTO_UDP_};
	uint64_t sum;

	if (l->family == AF_INET) {
		sum = pg_csum_add(0, ip + 12, 8);
		tail[0] = 0;
		tail[1] = IPPROTO_UDP_;
		put_be16(tail + 2, udp_len);
		return pg_csum_add(sum, tail, 4);
	}
	sum = pg_csum_add(0, ip + 8, 32);
	put_be32(tail, udp_len);
	sum = pg_csum_add(sum, tail, 4);
	tail[0] = tail[1] = tail[2] = 0;
	tail[3] = IPPROTO_UDP_;
	return pg_csum_add(sum, tail, 4);
}

void pg_pkt_tmpl_build(struct pg_tmpl *t, const struct pg_pkt_layout *l,
	const struct pg_pkt_params *p, uint32_t stream, uint32_t filler_sum)
{
	uint8_t *h = t->hdr, *ip = h + l->l3_off, *udp = h + l->l4_off;
	uint8_t *rtp = h + l->rtp_off, *tag = h + l->tag_off;
	uint16_t udp_len = (uint16_t)(l->frame_len - l->l4_off);
	uint64_t phdr, sum;
	uint16_t c;

	memset(t, 0, sizeof(*t));
	memcpy(h, p->dst_mac, 6);
	memcpy(h + 6, p->src_mac, 6);
	put_be16(h + 12, l->family == AF_INET ? ETHERTYPE_V4 : ETHERTYPE_V6);
	if (l->family == AF_INET) {
		ip[0] = 0x45;
		ip[1] = DSCP_EF_TOS;
		put_be16(ip + 2, (uint16_t)(l->l3_len + udp_len));
		/* id 0 with DF: never fragmented, and the header checksum stays the template's */
		put_be16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = IPPROTO_UDP_;
		memcpy(ip + 12, p->src.addr, 4);
		memcpy(ip + 16, p->dst.addr, 4);
		c = (uint16_t)~pg_csum_fold(pg_csum_add(0, ip, 20));
		memcpy(ip + 10, &c, 2);
	} else {
		put_be32(ip, 6U << 28 | (uint32_t)DSCP_EF_TOS << 20);
		put_be16(ip + 4, udp_len);
		ip[6] = IPPROTO_UDP_;
		ip[7] = 64;
		memcpy(ip + 8, p->src.addr, 16);
		memcpy(ip + 24, p->dst.addr, 16);
	}
	put_be16(udp, p->src.port);
	put_be16(udp + 2, p->dst.port);
	put_be16(udp + 4, udp_len);
	rtp[0] = 0x80; /* version 2, no padding, extension or CSRC */
	rtp[1] = p->pt & 0x7f;
	put_be32(rtp + 8, p->ssrc);
	put_le32(tag, PG_MAGIC);
	put_le32(tag + 4, stream);
	/* sequence numbers, timestamps, tag sequence and TSC are zero here: added per packet */
	phdr = pseudo_sum(l, ip, udp_len);
	sum = phdr + pg_csum_add(0, udp, (size_t)(l->hdr_len - l->l4_off)) + filler_sum;
	t->csum_base = pg_csum_fold(sum);
	t->seq_base = p->seq_base;
	t->ts_base = p->ts_base;
	t->hw_csum = p->hw_csum;
	if (p->hw_csum) {
		/* what DPDK's offload expects: the folded pseudo-header sum, not inverted */
		c = pg_csum_fold(phdr);
		memcpy(udp + 6, &c, 2);
	}
}

uint16_t pg_pkt_udp_verify(const uint8_t *f, const struct pg_pkt_layout *l)
{
	uint16_t udp_len = get_be16(f + l->l4_off + 4);
	uint64_t sum = pseudo_sum(l, f + l->l3_off, udp_len);

	sum = pg_csum_add(sum, f + l->l4_off, udp_len);
	return (uint16_t)~pg_csum_fold(sum);
}

bool pg_pkt_parse(const uint8_t *f, uint32_t len, struct pg_pkt_tag *tag)
{
	uint32_t off = PG_ETH_HDR_LEN, l4, end, rtp, hl;
	uint16_t type, udp_len;

	if (len < PG_ETH_HDR_LEN)
		return false;
	type = get_be16(f + 12);
	for (int vlans = 0; (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) && vlans < 2;
		vlans++) {
		if (len < off + 4)
			return false;
		type = get_be16(f + off + 2);
		off += 4;
	}
	if (type == ETHERTYPE_V4) {
		uint32_t ihl;

		if (len < off + 20 || (f[off] >> 4) != 4)
			return false;
		ihl = (uint32_t)(f[off] & 0x0f) * 4;
		/* later fragments carry no UDP header, first ones an incomplete payload */
		if (ihl < 20 || f[off + 9] != IPPROTO_UDP_ || (get_be16(f + off + 6) & 0x3fff))
			return false;
		l4 = off + ihl;
	} else if (type == ETHERTYPE_V6) {
		if (len < off + 40 || (f[off] >> 4) != 6 || f[off + 6] != IPPROTO_UDP_)
			return false;
		l4 = off + 40;
	} else {
		return false;
	}
	if (len < l4 + PG_UDP_HDR_LEN)
		return false;
	udp_len = get_be16(f + l4 + 4);
	/* the UDP length, not the frame's, ends the payload: Ethernet may pad short frames */
	if (udp_len < PG_UDP_HDR_LEN || l4 + udp_len > len)
		return false;
	end = l4 + udp_len;
	rtp = l4 + PG_UDP_HDR_LEN;
	if (rtp + PG_RTP_HDR_LEN > end || (f[rtp] >> 6) != 2)
		return false;
	hl = PG_RTP_HDR_LEN + 4 * (uint32_t)(f[rtp] & 0x0f);
	if (f[rtp] & 0x10) {
		if (rtp + hl + 4 > end)
			return false;
		hl += 4 + 4 * (uint32_t)get_be16(f + rtp + hl + 2);
	}
	if (rtp + hl + PG_TAG_LEN > end || get_le32(f + rtp + hl) != PG_MAGIC)
		return false;
	tag->stream = get_le32(f + rtp + hl + 4);
	tag->seq = get_le64(f + rtp + hl + 8);
	tag->tsc = get_le64(f + rtp + hl + 16);
	return true;
}
