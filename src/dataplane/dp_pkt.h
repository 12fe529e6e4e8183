/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Classifying a received frame for the relay: Ethernet, IPv4/IPv6, UDP, with every length
 * checked against what the mbuf holds. Inline: it runs per packet.
 */
#ifndef TG_DP_PKT_H
#define TG_DP_PKT_H

#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "tg_msg.h"

/* Byte order of a variable, both ways. rte_be_to_cpu_16() of a variable is inline asm on x86
 * (an exchange of byte registers) that the compiler can neither fold nor schedule; these are
 * builtins it can. */
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
#define dp_be16(x) __builtin_bswap16((uint16_t)(x))
#define dp_be32(x) __builtin_bswap32((uint32_t)(x))
#else
#define dp_be16(x) ((uint16_t)(x))
#define dp_be32(x) ((uint32_t)(x))
#endif

enum dp_pkt_class {
	DP_PKT_UDP = 0,	      /* a well-formed UDP datagram: look it up */
	DP_PKT_OTHER = 1,     /* ARP, ICMP, TCP, VLAN, multi-segment...: the exception path's */
	DP_PKT_MALFORMED = 2, /* lengths that do not add up: dropped */
	DP_PKT_FRAGMENT = 3,  /* IPv4 fragment: the kernel may reassemble, the relay does not */
};

struct dp_pkt {
	uint8_t family;	    /* TG_AF_INET / TG_AF_INET6 */
	uint8_t ip_options; /* IPv4 header longer than 20 bytes */
	uint8_t first_frag; /* DP_PKT_FRAGMENT with offset 0: the UDP ports are valid */
	uint16_t l4_off;    /* offset of the UDP header */
	uint16_t sport;	    /* host order */
	uint16_t dport;
	uint16_t payload_len; /* UDP payload bytes */
	const uint8_t *src;   /* address bytes inside the packet */
	const uint8_t *dst;
};

static inline enum dp_pkt_class dp_pkt_parse(struct rte_mbuf *m, struct dp_pkt *p)
{
	const uint32_t len = rte_pktmbuf_data_len(m);
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)d;
	const struct rte_udp_hdr *udp;
	uint32_t l3_len, udp_len;

	p->first_frag = 0;
	if (len < sizeof(*eth) || m->nb_segs != 1)
		return DP_PKT_OTHER;
	if (eth->ether_type == dp_be16(RTE_ETHER_TYPE_IPV4)) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
		uint32_t ihl;

		if (len < sizeof(*eth) + sizeof(*ip) || (ip->version_ihl >> 4) != 4)
			return DP_PKT_MALFORMED;
		if (ip->next_proto_id != IPPROTO_UDP)
			return DP_PKT_OTHER;
		ihl = (ip->version_ihl & 0xf) * 4u;
		l3_len = dp_be16(ip->total_length);
		if (ihl < 20 || l3_len < ihl + sizeof(*udp) || sizeof(*eth) + l3_len > len)
			return DP_PKT_MALFORMED;
		p->family = TG_AF_INET;
		p->ip_options = ihl > 20;
		p->l4_off = (uint16_t)(sizeof(*eth) + ihl);
		p->src = (const uint8_t *)&ip->src_addr;
		p->dst = (const uint8_t *)&ip->dst_addr;
		l3_len -= ihl;
		if (ip->fragment_offset &
			dp_be16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
			/* only the first fragment has the UDP header: enough to see its port */
			udp = (const struct rte_udp_hdr *)(d + p->l4_off);
			p->first_frag = !(ip->fragment_offset & dp_be16(RTE_IPV4_HDR_OFFSET_MASK));
			if (p->first_frag) {
				p->sport = dp_be16(udp->src_port);
				p->dport = dp_be16(udp->dst_port);
			}
			return DP_PKT_FRAGMENT;
		}
	} else if (eth->ether_type == dp_be16(RTE_ETHER_TYPE_IPV6)) {
		const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(eth + 1);

		if (len < sizeof(*eth) + sizeof(*ip) || (dp_be32(ip->vtc_flow) >> 28) != 6)
			return DP_PKT_MALFORMED;
		/* extension headers are rare on media; the kernel handles them */
		if (ip->proto != IPPROTO_UDP)
			return DP_PKT_OTHER;
		l3_len = dp_be16(ip->payload_len);
		if (l3_len < sizeof(*udp) || sizeof(*eth) + sizeof(*ip) + l3_len > len)
			return DP_PKT_MALFORMED;
		p->family = TG_AF_INET6;
		p->ip_options = 0;
		p->l4_off = (uint16_t)(sizeof(*eth) + sizeof(*ip));
		p->src = ip->src_addr;
		p->dst = ip->dst_addr;
	} else {
		return DP_PKT_OTHER;
	}
	udp = (const struct rte_udp_hdr *)(d + p->l4_off);
	udp_len = dp_be16(udp->dgram_len);
	if (udp_len < sizeof(*udp) || udp_len > l3_len)
		return DP_PKT_MALFORMED;
	p->sport = dp_be16(udp->src_port);
	p->dport = dp_be16(udp->dst_port);
	p->payload_len = (uint16_t)(udp_len - sizeof(*udp));
	return DP_PKT_UDP;
}

#endif
