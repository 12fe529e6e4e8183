/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The relay node. A burst is classified (dp_pkt_parse), looked up in one bulk call, and each
 * packet gets a verdict: relay to the linked endpoint, hand to the exception path (the kernel,
 * through a TAP), or drop with a counted reason. Relaying strips the received Ethernet/IP/UDP
 * headers and writes fresh ones for the far leg (so IPv4 <-> IPv6 costs nothing extra), rewrites
 * RTP where the far endpoint asks for it, and queues the packet on this lcore's TX buffer of the
 * far port. Counters are kept in locals and folded into the lcore's stats block once per burst.
 * No lock, atomic read-modify-write, allocation, syscall or log line per packet.
 *
 * RTP of an established call takes relay_fast(): the endpoint's plan (struct dp_ep_plan) says
 * how its last packet left, so nothing is copied through the sequence counters and the headers
 * are one copy plus lengths and checksums. Everything else takes relay_one(), which builds the
 * plan. Measured with rdtsc around dp_relay_burst (full bursts of 32 from tg-pktgen over memif,
 * median, 2.6 GHz EPYC VM, -O2, lookup included): 144 cycles/packet with 100 calls, 166-170
 * with 10,000 calls round-robin; 200 and 224-235 before the plan and the checksum rework
 * (perf/RESULTS.md).
 *
 * DTMF (dp_dtmf_play.c) adds per packet a flag test toward the far remote (RTP held back while
 * an event plays to it), a payload-type compare on the receiving endpoint (its telephone-event
 * packets go to the detector) and, without a rewrite, five stores remembering the header that
 * leaves (dp_rtp_tx_pass: a DTMF event continues it); not measured since. The packets the
 * dataplane makes itself leave through dp_relay_send_own(), with the relay's own addressing.
 */
#include "dp_relay.h"

#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include "dp.h"
#include "dp_flow.h"
#include "dp_neigh.h"
#include "dp_pkt.h"
#include "dp_dtmf.h"
#include "dp_rtcp.h"
#include "dp_rtp.h"
#include "dp_rtptx.h"
#include "tg_stats_counters.h"
#include "tg_time.h"

#define RTP_HDR_MIN 12
#define RTCP_HDR_MIN 8
#define OUT_TTL 64

/* Sends what lc buffered for port; what the port refuses is freed and counted. */
static inline void tx_send(struct dp_lcore *lc, unsigned port)
{
	struct dp_txbuf *b = &lc->txb[port];
	uint16_t sent =
		rte_eth_tx_burst(lc->app->ports[port].port_id, lc->txq[port], b->pkts, b->n);

	lc->stats->v[TG_DPC_tx_pkts] += sent;
	if (sent < b->n) {
		lc->stats->v[TG_DPC_drop_tx_full] += b->n - sent;
		rte_pktmbuf_free_bulk(b->pkts + sent, b->n - sent);
	}
	b->n = 0;
}

static inline void tx_queue(struct dp_lcore *lc, unsigned port, struct rte_mbuf *m)
{
	struct dp_txbuf *b = &lc->txb[port];

	b->pkts[b->n++] = m;
	if (b->n == DP_TX_BUF)
		tx_send(lc, port);
}

void dp_tx_flush(struct dp_lcore *lc)
{
	for (unsigned p = 0; p < lc->app->n_ports; p++)
		if (lc->txb[p].n)
			tx_send(lc, p);
}

/* fixed-size loads, no call to memcmp: this runs per packet */
static inline bool addr_eq(uint8_t family, const uint8_t *a, const uint8_t *b)
{
	uint64_t x[2], y[2];
	uint32_t u, w;

	if (family == TG_AF_INET) {
		memcpy(&u, a, 4);
		memcpy(&w, b, 4);
		return u == w;
	}
	memcpy(x, a, 16);
	memcpy(y, b, 16);
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/*
 * The UDP checksum of a relayed packet is updated, not recomputed (RFC 1624): the payload is
 * the sender's, so only the pseudo-header addresses, the ports and the RTP header words we
 * rewrite change. IPv4 and IPv6 pseudo-headers differ only in their addresses, so this holds
 * across families. A sender that sent no checksum (IPv4) gets none back, unless the far leg is
 * IPv6, where it is mandatory and computed in full.
 *
 * Sums are of the fields' values (big-endian 32-bit words as numbers, ports in host order) in a
 * 64-bit accumulator, folded once (RFC 1071: the ones' complement sum does not depend on the
 * word size). They never read back a header just written: a wide load over narrow fresh
 * stores cannot be forwarded from the store buffer and stalls. Together with summing words
 * instead of DPDK's 16-bit loop, that took the checksums from about a third of the relay's
 * cycles to a few.
 */
struct ck_update {
	uint16_t in_ck;	   /* the received checksum, host order; 0 = none */
	uint8_t rtp_words; /* 32-bit RTP header words in the sums: 0, 1 (PT) or 3 (rewrite) */
	uint64_t old_sum;  /* unfolded sum of the fields that change, as received */
};

static inline uint64_t ck_be32(const uint8_t *p)
{
	uint32_t w;

	memcpy(&w, p, 4); /* any alignment: the RTP header sits 2 bytes off a 4-byte boundary */
	return dp_be32(w);
}

static inline uint16_t ck_fold(uint64_t s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static inline uint64_t ck_addr(const uint8_t *a, unsigned alen)
{
	uint64_t sum = ck_be32(a);

	if (alen == 16)
		sum += ck_be32(a + 4) + ck_be32(a + 8) + ck_be32(a + 12);
	return sum;
}

static inline uint64_t ck_rtp(const uint8_t *rtp, unsigned rtp_words)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < rtp_words; i++)
		sum += ck_be32(rtp + 4 * i);
	return sum;
}

/* The fields a relayed packet may change: both addresses, both ports (host order), and the
 * sum of the RTP header words that change. */
static inline uint64_t ck_fields(const uint8_t *src, const uint8_t *dst, unsigned alen,
	uint16_t sport, uint16_t dport, uint64_t rtp_sum)
{
	return ck_addr(src, alen) + ck_addr(dst, alen) + sport + dport + rtp_sum;
}

/* The checksum to write, network order. */
static inline uint16_t ck_updated(const struct ck_update *ck, uint64_t new_sum)
{
	uint16_t out = (uint16_t)~ck_fold((uint64_t)(uint16_t)~ck->in_ck +
					  (uint16_t)~ck_fold(ck->old_sum) + ck_fold(new_sum));

	return dp_be16(out ? out : 0xffff); /* 0 means "no checksum" in UDP */
}

#define OUT_TOS 0xb8 /* DSCP EF: voice */

/* The sum of the IPv4 header write_headers() builds, but for its total length and checksum. */
static inline uint16_t ip4_base_sum(const uint8_t *src, const uint8_t *dst)
{
	return ck_fold((RTE_IPV4_VHL_DEF << 8 | OUT_TOS) + RTE_IPV4_HDR_DF_FLAG +
		       (OUT_TTL << 8 | IPPROTO_UDP) + ck_be32(src) + ck_be32(dst));
}

/*
 * What depends on the payload's length, on headers m already holds for 'family': the IP and UDP
 * lengths and checksums, or the offload requests for them. 'ip_sum': ip4_base_sum() of the
 * IPv4 header; 'new_sum': the changed UDP fields as they leave (ck_fields()).
 */
static inline void finish_headers(struct rte_mbuf *m, const struct dp_port *port, uint8_t family,
	uint16_t plen, uint16_t ip_sum, uint64_t new_sum, const struct ck_update *ck)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	const uint16_t l3 =
		family == TG_AF_INET ? sizeof(struct rte_ipv4_hdr) : sizeof(struct rte_ipv6_hdr);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((uint8_t *)(eth + 1) + l3);
	const uint16_t udp_len = (uint16_t)(plen + sizeof(*udp));
	const bool csum_off = port->info.tx_offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM;

	udp->dgram_len = dp_be16(udp_len);
	udp->dgram_cksum = 0;
	m->l2_len = sizeof(*eth);
	m->l3_len = l3;
	m->ol_flags &= ~(RTE_MBUF_F_TX_OFFLOAD_MASK);
	if (family == TG_AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
		const uint16_t total_len = (uint16_t)(l3 + udp_len);

		ip->total_length = dp_be16(total_len);
		ip->hdr_checksum = 0;
		if (port->info.tx_offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
			m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
		else
			ip->hdr_checksum =
				dp_be16((uint16_t)~ck_fold((uint64_t)ip_sum + total_len));
		if (csum_off) {
			m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
			udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
		} else if (ck->in_ck) {
			udp->dgram_cksum = ck_updated(ck, new_sum);
		}
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);

		ip->payload_len = dp_be16(udp_len);
		if (csum_off) {
			m->ol_flags |= RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM;
			udp->dgram_cksum = rte_ipv6_phdr_cksum(ip, m->ol_flags);
		} else if (ck->in_ck) {
			udp->dgram_cksum = ck_updated(ck, new_sum);
		} else {
			udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);
		}
	}
}

/* Writes Ethernet/IP/UDP in front of the payload m now holds. false: no headroom. 'new_rtp'
 * is the sum of the RTP words in ck as they leave. */
static inline bool write_headers(struct rte_mbuf *m, const struct dp_port *port,
	const uint8_t *dst_mac, const struct tg_addr *src, uint16_t sport, const uint8_t *dst,
	uint16_t dport, uint8_t family, const struct ck_update *ck, uint64_t new_rtp)
{
	const uint16_t plen = rte_pktmbuf_data_len(m);
	const unsigned alen = family == TG_AF_INET ? 4 : 16;
	const uint16_t l3 =
		family == TG_AF_INET ? sizeof(struct rte_ipv4_hdr) : sizeof(struct rte_ipv6_hdr);
	struct rte_ether_hdr *eth;
	struct rte_udp_hdr *udp;

	eth = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eth) + l3 + sizeof(*udp));
	if (!eth)
		return false;
	memcpy(&eth->dst_addr, dst_mac, RTE_ETHER_ADDR_LEN);
	eth->src_addr = port->info.mac;
	udp = (struct rte_udp_hdr *)((uint8_t *)(eth + 1) + l3);
	udp->src_port = dp_be16(sport);
	udp->dst_port = dp_be16(dport);
	if (family == TG_AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);

		eth->ether_type = dp_be16(RTE_ETHER_TYPE_IPV4);
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->type_of_service = OUT_TOS;
		ip->packet_id = 0;
		ip->fragment_offset = dp_be16(RTE_IPV4_HDR_DF_FLAG);
		ip->time_to_live = OUT_TTL;
		ip->next_proto_id = IPPROTO_UDP;
		memcpy(&ip->src_addr, src->a, 4);
		memcpy(&ip->dst_addr, dst, 4);
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);

		eth->ether_type = dp_be16(RTE_ETHER_TYPE_IPV6);
		ip->vtc_flow = dp_be32(6u << 28 | (uint32_t)OUT_TOS << 20);
		ip->proto = IPPROTO_UDP;
		ip->hop_limits = OUT_TTL;
		memcpy(ip->src_addr, src->a, 16);
		memcpy(ip->dst_addr, dst, 16);
	}
	finish_headers(m, port, family, plen, family == TG_AF_INET ? ip4_base_sum(src->a, dst) : 0,
		ck_fields(src->a, dst, alen, sport, dport, new_rtp), ck);
	return true;
}

/*
 * RTCP from the remote: its sender report (for the reports we may originate) and its report
 * on the stream it receives from us (loss, jitter, and the round trip from LSR/DLSR, which
 * assumes the far sender's NTP clock agrees with ours: true on one host, roughly so with NTP).
 * Parsing is bounded by the packet; a malformed compound is counted by the caller as RTCP and
 * relayed unchanged, since the far end may understand what we do not.
 */
static inline void rtcp_received(
	struct dp_lcore *lc, struct dp_ep *ep, const uint8_t *pl, uint16_t len, uint64_t now_ns)
{
	struct dp_rtcp_info info;
	const uint64_t ntp = dp_rtcp_ntp_from_ns(now_ns + lc->app->realtime_offset_ns);
	uint64_t rtt_us;

	if (dp_rtcp_parse(pl, len, &info) < 0)
		return;
	if (info.has_sr)
		dp_rtpstats_sr_received(&ep->rx.rtp, info.ssrc, info.sr.ntp, now_ns);
	if (!info.nblocks)
		return;
	ep->rx.report.have = 1;
	ep->rx.report.fraction_lost = info.blocks[0].fraction_lost;
	ep->rx.report.cum_lost = info.blocks[0].cum_lost;
	ep->rx.report.jitter = info.blocks[0].jitter;
	if (dp_rtcp_rtt_us(
		    dp_rtcp_ntp_mid(ntp), info.blocks[0].lsr, info.blocks[0].dlsr, &rtt_us) == 0)
		ep->rx.report.rtt_us = (uint32_t)(rtt_us > UINT32_MAX ? UINT32_MAX : rtt_us);
}

/* Verdicts for one packet; V_SLOW: the plan does not apply, take the general path. */
enum { V_RELAY, V_EXCEPTION, V_DROP, V_SLOW };

/* What every packet of a burst shares: its arrival time, and that time in the RTP clock of the
 * last rate asked for (one rate, 8 kHz, serves most calls: the conversion's two 64-bit
 * divisions are done once per burst, not per packet). */
struct burst_ctx {
	uint64_t now_ns;
	uint32_t clock_rate; /* 0 = none yet: the conversion of rate 0 is 0, so {now, 0, 0} holds */
	uint32_t arrival;
};

static inline uint32_t arrival_clock(struct burst_ctx *bc, uint32_t clock_rate)
{
	if (unlikely(clock_rate != bc->clock_rate)) {
		bc->clock_rate = clock_rate;
		bc->arrival = dp_rtpstats_ns_to_clock(bc->now_ns, clock_rate);
	}
	return bc->arrival;
}

/* A packet received on ep went nowhere: counted on the endpoint (the lcore counts the reason). */
static inline void ep_dropped(struct dp_ep *ep)
{
	dp_ep_rx_begin(ep);
	ep->rx.dropped++;
	dp_ep_rx_end(ep);
}

/*
 * After the general path relayed an RTP packet: remember how, for the next ones (struct
 * dp_ep_plan). 'm' holds the headers just written; the rest is the snapshots they came from
 * and the sequence counters those were read under.
 */
static void plan_build(struct dp_ep *ep, uint32_t cfg_seq, const struct dp_ep_cfg *c,
	uint32_t peer_cfg_seq, uint32_t peer_learn_seq, const struct dp_ep_cfg *tc,
	const struct rte_mbuf *m, const uint8_t *dst, uint16_t sport, uint16_t dport,
	uint64_t expires_ns)
{
	struct dp_ep_plan *pn = &ep->plan;
	const uint8_t family = tc->local.family;
	const unsigned alen = family == TG_AF_INET ? 4 : 16;

	pn->cfg_seq = cfg_seq;
	pn->peer = c->peer;
	pn->peer_cfg_seq = peer_cfg_seq;
	pn->peer_learn_seq = peer_learn_seq;
	pn->expires_ns = expires_ns;
	pn->gen = c->gen;
	pn->clock_rate = c->clock_rate;
	pn->flags = c->flags;
	pn->remote = c->remote;
	pn->out_ssrc = tc->out_ssrc;
	pn->out_clock_rate = tc->clock_rate;
	pn->out_flags = tc->flags;
	pn->pt_in = tc->pt_in;
	pn->pt_out = tc->pt_out;
	pn->te_pt = c->te_pt;
	pn->port_id = tc->port_id;
	pn->family = family;
	pn->hdr_len = (uint8_t)(sizeof(struct rte_ether_hdr) +
				(family == TG_AF_INET ? sizeof(struct rte_ipv4_hdr)
						      : sizeof(struct rte_ipv6_hdr)) +
				sizeof(struct rte_udp_hdr));
	/* lengths and checksums in the copy are rewritten per packet by finish_headers() */
	memcpy(pn->hdr, rte_pktmbuf_mtod(m, const uint8_t *), pn->hdr_len);
	pn->ip_sum = family == TG_AF_INET ? ip4_base_sum(tc->local.a, dst) : 0;
	pn->udp_sum = ck_fold(ck_fields(tc->local.a, dst, alen, sport, dport, 0));
	pn->ok = 1;
}

/*
 * The common case, through the endpoint's plan: RTP (not RTCP, muxed or not), both endpoints'
 * configuration and the peer's learned remote unchanged since the plan was built, the source
 * what the endpoint expects and nothing to learn from it. The configuration is not copied and
 * the headers come from the plan. Returns V_SLOW, having changed nothing, when any of that does
 * not hold; the general path (relay_one) then decides, and builds a new plan.
 */
static inline unsigned relay_fast(struct dp_lcore *lc, struct rte_mbuf *m, const struct dp_pkt *p,
	uint32_t id, struct burst_ctx *bc, uint64_t *v, unsigned *out_port)
{
	struct dp_app *app = lc->app;
	struct dp_ep *ep = &app->eps[id], *to;
	const struct dp_ep_plan *pn = &ep->plan;
	const struct dp_ep_learned *l = &ep->learned;
	const uint64_t now_ns = bc->now_ns;
	uint8_t *pl;
	uint32_t ls;

	if (!pn->ok || dp_seq_read_begin(&ep->cfg_seq) != pn->cfg_seq || now_ns >= pn->expires_ns ||
		p->ip_options)
		return V_SLOW;
	to = &app->eps[pn->peer];
	if (dp_seq_read_begin(&to->cfg_seq) != pn->peer_cfg_seq ||
		dp_seq_read_begin(&to->learn_seq) != pn->peer_learn_seq)
		return V_SLOW;
	pl = rte_pktmbuf_mtod_offset(m, uint8_t *, p->l4_off + sizeof(struct rte_udp_hdr));
	if (p->payload_len < RTP_HDR_MIN || (pl[0] >> 6) != 2 ||
		((pn->flags & TG_EPF_RTCP_MUX) && pl[1] >= 192 && pl[1] <= 223))
		return V_SLOW;
	/* the source, as relay_one checks it when it has nothing to learn; this lcore is
	 * learned's writer, but the main lcore resets it when the slot is reused: read it under
	 * its counter all the same, in place */
	ls = dp_seq_read_begin(&ep->learn_seq);
	if (pn->flags & TG_EPF_LATCH) {
		if (!l->latched || l->gen != pn->gen || p->family != l->src.family ||
			!addr_eq(p->family, p->src, l->src.a) || p->sport != l->src.port)
			return V_SLOW;
	} else {
		if ((pn->flags & TG_EPF_STRICT_SOURCE) &&
			(pn->remote.family != p->family ||
				!addr_eq(p->family, p->src, pn->remote.a)))
			return V_SLOW;
		if (!l->have_mac || l->gen != pn->gen ||
			!rte_is_same_ether_addr((const struct rte_ether_addr *)l->mac,
				&rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->src_addr))
			return V_SLOW;
	}
	if (dp_seq_read_retry(&ep->learn_seq, ls))
		return V_SLOW;

	dp_ep_rx_begin(ep);
	ep->rx.last_ns = now_ns;
	dp_rtpstats_update(&ep->rx.rtp, dp_rtp_ssrc(pl), dp_rtp_seq(pl), dp_rtp_ts(pl),
		p->payload_len, arrival_clock(bc, pn->clock_rate), now_ns);
	dp_ep_rx_end(ep);
	if (unlikely(pn->te_pt != 0xff) && (pl[1] & 0x7f) == pn->te_pt)
		dp_dtmf_rx(lc, id, pl, p->payload_len, pn->clock_rate, now_ns, v);
	/* a DTMF event plays toward the far remote: nothing else goes there meanwhile */
	if (unlikely(to->tx.rtp.playing)) {
		v[TG_DPC_drop_dtmf_playing]++;
		return V_DROP;
	}

	const struct rte_udp_hdr *uh =
		rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *, p->l4_off);
	const bool map_pt = pn->pt_in != 0xff && (pl[1] & 0x7f) == pn->pt_in;
	const bool cfg_rewrite = pn->out_flags & TG_EPF_REWRITE_RTP;
	const bool rewrite = cfg_rewrite || to->tx.rtp.owned;
	struct ck_update ck = {.in_ck = dp_be16(uh->dgram_cksum),
		.rtp_words = rewrite  ? 3
			     : map_pt ? 1
				      : 0};
	uint64_t new_rtp = 0;
	uint8_t *h;

	if (ck.in_ck)
		ck.old_sum = ck_fields(p->src, p->dst, p->family == TG_AF_INET ? 4 : 16, p->sport,
			p->dport, ck_rtp(pl, ck.rtp_words));
	if (map_pt)
		pl[1] = (uint8_t)((pl[1] & 0x80) | pn->pt_out);
	if (rewrite)
		dp_rtp_tx_rewrite(&to->tx.rtp, pn->out_clock_rate,
			dp_rtp_tx_ssrc(&to->tx.rtp, cfg_rewrite, pn->out_ssrc), pl, now_ns);
	else
		dp_rtp_tx_pass(&to->tx.rtp, pl, now_ns);
	if (ck.in_ck)
		new_rtp = ck_rtp(pl, ck.rtp_words);
	rte_pktmbuf_adj(m, (uint16_t)(p->l4_off + sizeof(struct rte_udp_hdr)));
	if (rte_pktmbuf_data_len(m) > p->payload_len)
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - p->payload_len));
	h = (uint8_t *)rte_pktmbuf_prepend(m, pn->hdr_len);
	if (!h) {
		v[TG_DPC_drop_no_room]++;
		ep_dropped(ep);
		return V_DROP;
	}
	/* fixed sizes: copied inline */
	if (pn->family == TG_AF_INET)
		memcpy(h, pn->hdr,
			sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) +
				sizeof(struct rte_udp_hdr));
	else
		memcpy(h, pn->hdr,
			sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv6_hdr) +
				sizeof(struct rte_udp_hdr));
	finish_headers(m, &app->ports[pn->port_id], pn->family, p->payload_len, pn->ip_sum,
		(uint64_t)pn->udp_sum + new_rtp, &ck);
	to->tx.tx_pkts++;
	v[TG_DPC_relayed]++;
	*out_port = pn->port_id;
	return V_RELAY;
}

/* The endpoint's RTP source from now on: p's, under configuration generation gen. */
static inline void latch(struct dp_ep *ep, struct dp_ep_learned *l, const struct dp_pkt *p,
	const uint8_t *eth_src, uint32_t gen)
{
	l->src.family = p->family;
	memcpy(l->src.a, p->src, 16);
	l->src.port = p->sport;
	l->latched = 1;
	l->gen = gen;
	l->rtcp_port = 0;
	memcpy(l->mac, eth_src, 6);
	l->have_mac = 1;
	dp_ep_learned_write(ep, l);
}

/*
 * Where a packet toward endpoint 'to' goes: its latched remote (learned 'tl'), else the
 * signalled one, and that remote's MAC: from its own packets, else the neighbour table, else the
 * configured next hop (both cached per endpoint for a second, until *expires_ns). 0; -ENOTCONN
 * when there is no remote of the endpoint's family; -EHOSTUNREACH when no MAC is known: an ARP
 * request / neighbour solicitation goes out instead (at most one per address per 200 ms).
 */
static inline int peer_dest(struct dp_lcore *lc, struct dp_ep *to, const struct dp_ep_cfg *tc,
	const struct dp_ep_learned *tl, bool is_rtcp, uint64_t now_ns, const uint8_t **dst,
	uint16_t *dport, const uint8_t **dst_mac, uint64_t *expires_ns)
{
	struct dp_app *app = lc->app;
	struct rte_ether_addr nmac;

	if ((tc->flags & TG_EPF_LATCH) && tl->latched && tl->gen == tc->gen) {
		if (tl->src.family != tc->local.family)
			return -ENOTCONN;
		*dst = tl->src.a;
		*dport = is_rtcp ? (tl->rtcp_port ? tl->rtcp_port
						  : (uint16_t)(tl->src.port +
							       ((tc->flags & TG_EPF_RTCP_MUX) ? 0
											      : 1)))
				 : tl->src.port;
	} else if (tc->remote.family == tc->local.family) {
		*dst = tc->remote.a;
		*dport = is_rtcp ? tc->remote_rtcp_port : tc->remote.port;
	} else {
		return -ENOTCONN;
	}
	if (tl->have_mac && tl->gen == tc->gen) {
		*dst_mac = tl->mac;
	} else if (to->tx.nh_ok && to->tx.nh_gen == tc->gen &&
		   now_ns - to->tx.nh_checked_ns < DP_NH_RECHECK_NS) {
		*dst_mac = to->tx.nh_mac.addr_bytes;
		*expires_ns = to->tx.nh_checked_ns + DP_NH_RECHECK_NS;
	} else if (dp_neigh_lookup(app->neigh, tc->local.family, *dst, &nmac) ||
		   (app->ports[tc->port_id].have_next_hop &&
			   (nmac = app->ports[tc->port_id].next_hop, true))) {
		to->tx.nh_mac = nmac;
		to->tx.nh_ok = 1;
		to->tx.nh_gen = tc->gen;
		to->tx.nh_checked_ns = now_ns;
		*dst_mac = to->tx.nh_mac.addr_bytes;
		*expires_ns = now_ns + DP_NH_RECHECK_NS;
	} else {
		struct rte_mbuf *ask =
			dp_neigh_solicit(&lc->neigh_pending, app->pool, tc->local.family,
				tc->local.a, &app->ports[tc->port_id].info.mac, *dst, now_ns);

		to->tx.nh_ok = 0;
		if (ask)
			tx_queue(lc, tc->port_id, ask);
		return -EHOSTUNREACH;
	}
	return 0;
}

static inline unsigned relay_one(struct dp_lcore *lc, struct rte_mbuf *m, const struct dp_pkt *p,
	uint32_t flow, struct burst_ctx *bc, uint64_t *v, unsigned *out_port)
{
	const uint64_t now_ns = bc->now_ns;
	struct dp_app *app = lc->app;
	struct dp_ep *eps = app->eps;
	const uint32_t id = flow >> 1;
	const bool rtcp = flow & DP_FLOW_RTCP;
	struct dp_ep *ep = &eps[id], *to;
	struct dp_ep_cfg c, tc;
	struct dp_ep_learned l, tl;
	const uint8_t *eth_src = rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->src_addr.addr_bytes;
	uint8_t *pl;
	const uint8_t *dst, *dst_mac;
	uint16_t dport, sport;
	uint32_t cfg_seq, peer_cfg_seq, peer_learn_seq;
	uint64_t expires_ns = UINT64_MAX; /* of the plan: when the MAC must be looked up again */
	int rc;

	cfg_seq = dp_ep_cfg_read(ep, &c);
	if (p->ip_options) {
		v[TG_DPC_drop_ip_options]++;
		goto drop;
	}
	pl = rte_pktmbuf_mtod_offset(m, uint8_t *, p->l4_off + sizeof(struct rte_udp_hdr));
	/* version 2 and long enough; on a muxed port, RTCP is told by its packet type */
	if (p->payload_len < (rtcp ? RTCP_HDR_MIN : RTP_HDR_MIN) || (pl[0] >> 6) != 2) {
		v[TG_DPC_drop_not_rtp]++;
		goto drop;
	}
	const bool is_rtcp = rtcp || ((c.flags & TG_EPF_RTCP_MUX) && pl[1] >= 192 && pl[1] <= 223);

	/* the source: latch it, or check it against what was latched or signalled */
	dp_ep_learned_read(ep, &l);
	if (c.flags & TG_EPF_LATCH) {
		if (!l.latched || l.gen != c.gen) {
			if (is_rtcp)
				goto learn_rtcp_only;
			latch(ep, &l, p, eth_src, c.gen);
		} else if (p->family != l.src.family || !addr_eq(p->family, p->src, l.src.a) ||
			   (!is_rtcp && p->sport != l.src.port)) {
			/* The signalled remote outranks what was latched: a phone that starts
			 * sending before it has its port (SIPp sends from port 0 first), or an
			 * early stray, must not lock the real source out for the whole call. */
			if (is_rtcp || p->family != c.remote.family || p->sport != c.remote.port ||
				!addr_eq(p->family, p->src, c.remote.a)) {
				v[TG_DPC_drop_foreign_source]++;
				goto drop;
			}
			latch(ep, &l, p, eth_src, c.gen);
			v[TG_DPC_relatched]++;
		} else if (is_rtcp && l.rtcp_port != p->sport) {
			l.rtcp_port = p->sport;
			dp_ep_learned_write(ep, &l);
		}
	} else {
		if ((c.flags & TG_EPF_STRICT_SOURCE) &&
			(c.remote.family != p->family || !addr_eq(p->family, p->src, c.remote.a))) {
			v[TG_DPC_drop_foreign_source]++;
			goto drop;
		}
	learn_rtcp_only:
		if (!l.have_mac || l.gen != c.gen ||
			!rte_is_same_ether_addr((const struct rte_ether_addr *)l.mac,
				(const struct rte_ether_addr *)eth_src)) {
			memcpy(l.mac, eth_src, 6);
			l.have_mac = 1;
			if (!l.latched)
				l.gen = c.gen;
			dp_ep_learned_write(ep, &l);
		}
	}
	dp_ep_rx_begin(ep);
	ep->rx.last_ns = now_ns;
	if (is_rtcp) {
		ep->rx.rtcp_pkts++;
		v[TG_DPC_rtcp]++;
		rtcp_received(lc, ep, pl, p->payload_len, now_ns);
	} else {
		dp_rtpstats_update(&ep->rx.rtp, dp_rtp_ssrc(pl), dp_rtp_seq(pl), dp_rtp_ts(pl),
			p->payload_len, arrival_clock(bc, c.clock_rate), now_ns);
	}
	dp_ep_rx_end(ep);
	if (!(c.dir & TG_DIR_RECV)) {
		v[TG_DPC_drop_direction]++;
		goto drop;
	}
	/* RFC 4733 events from the remote: reported, and relayed like any RTP */
	if (!is_rtcp && unlikely(c.te_pt != 0xff) && (pl[1] & 0x7f) == c.te_pt)
		dp_dtmf_rx(lc, id, pl, p->payload_len, c.clock_rate, now_ns, v);
	if (c.peer == DP_EP_NONE) {
		v[TG_DPC_drop_unlinked]++;
		goto drop;
	}
	to = &eps[c.peer];
	peer_cfg_seq = dp_ep_cfg_read(to, &tc);
	if (!(tc.dir & TG_DIR_SEND)) {
		v[TG_DPC_drop_direction]++;
		goto drop;
	}
	peer_learn_seq = dp_ep_learned_read(to, &tl);
	rc = peer_dest(lc, to, &tc, &tl, is_rtcp, now_ns, &dst, &dport, &dst_mac, &expires_ns);
	if (rc == -ENOTCONN)
		goto no_remote;
	if (rc < 0) {
		v[TG_DPC_drop_no_neighbor]++;
		goto drop;
	}
	/* RTP toward a remote a DTMF event plays to waits until it is over (RTCP goes on) */
	if (!is_rtcp && unlikely(to->tx.rtp.playing)) {
		v[TG_DPC_drop_dtmf_playing]++;
		return V_DROP;
	}
	/* what the UDP checksum covered as received, before anything is rewritten: the RTP
	 * words only when they are about to change */
	const struct rte_udp_hdr *uh =
		rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *, p->l4_off);
	const bool map_pt = !is_rtcp && tc.pt_in != 0xff && (pl[1] & 0x7f) == tc.pt_in;
	const bool cfg_rewrite = tc.flags & TG_EPF_REWRITE_RTP;
	const bool rewrite = !is_rtcp && (cfg_rewrite || to->tx.rtp.owned);
	struct ck_update ck = {.in_ck = dp_be16(uh->dgram_cksum),
		.rtp_words = rewrite  ? 3
			     : map_pt ? 1
				      : 0};
	uint64_t new_rtp = 0;

	if (ck.in_ck)
		ck.old_sum = ck_fields(p->src, p->dst, p->family == TG_AF_INET ? 4 : 16, p->sport,
			p->dport, ck_rtp(pl, ck.rtp_words));
	if (map_pt)
		pl[1] = (uint8_t)((pl[1] & 0x80) | tc.pt_out);
	if (rewrite)
		dp_rtp_tx_rewrite(&to->tx.rtp, tc.clock_rate,
			dp_rtp_tx_ssrc(&to->tx.rtp, cfg_rewrite, tc.out_ssrc), pl, now_ns);
	else if (!is_rtcp)
		dp_rtp_tx_pass(&to->tx.rtp, pl, now_ns);
	if (ck.in_ck)
		new_rtp = ck_rtp(pl, ck.rtp_words);
	/* keep exactly the UDP payload, then write the far leg's headers in front of it */
	rte_pktmbuf_adj(m, (uint16_t)(p->l4_off + sizeof(struct rte_udp_hdr)));
	if (rte_pktmbuf_data_len(m) > p->payload_len)
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - p->payload_len));
	sport = (uint16_t)(tc.local.port + (is_rtcp && !(tc.flags & TG_EPF_RTCP_MUX) ? 1 : 0));
	if (!write_headers(m, &app->ports[tc.port_id], dst_mac, &tc.local, sport, dst, dport,
		    tc.local.family, &ck, new_rtp)) {
		v[TG_DPC_drop_no_room]++;
		goto drop;
	}
	if (!is_rtcp) {
		plan_build(ep, cfg_seq, &c, peer_cfg_seq, peer_learn_seq, &tc, m, dst, sport, dport,
			expires_ns);
		/* the worker sending toward 'to': where its DTMF is played */
		to->tx.lcore = (uint8_t)lc->index;
	}
	to->tx.tx_pkts++;
	v[TG_DPC_relayed]++;
	*out_port = tc.port_id;
	return V_RELAY;
no_remote:
	v[TG_DPC_drop_no_remote]++;
drop:
	ep_dropped(ep);
	return V_DROP;
}

#define DP_PREFETCH_AHEAD 4

/*
 * Second prefetch stage, a few packets ahead: the bulk lookup's stage brought in the endpoint's
 * first line (sequence counters, learned source) and its plan's; now the plan's headers, the
 * receive statistics, and the peer's first two lines (sequence counters, TX and rewrite
 * state). Reading the peer is racy and only a hint.
 */
static inline void prefetch_peer(const struct dp_app *app, uint32_t id)
{
	const struct dp_ep *ep = &app->eps[id];
	const uint32_t peer = ep->plan.ok ? ep->plan.peer : ep->cfg.peer;

	rte_prefetch0(ep->plan.hdr);
	rte_prefetch0(&ep->rx);
	rte_prefetch0((const char *)&ep->rx + RTE_CACHE_LINE_SIZE);
	rte_prefetch0((const char *)&ep->rx + 2 * RTE_CACHE_LINE_SIZE);
	if (peer != DP_EP_NONE) {
		const char *pe = (const char *)&app->eps[peer];

		rte_prefetch0(pe);
		rte_prefetch0(pe + RTE_CACHE_LINE_SIZE);
	}
}

void dp_relay_burst(
	struct dp_lcore *lc, unsigned in, struct rte_mbuf **pkts, uint16_t n, uint64_t now_ns)
{
	struct dp_app *app = lc->app;
	struct dp_pkt info[DP_BURST];
	struct dp_flow_key keys[DP_BURST];
	const void *key_ptrs[DP_BURST];
	void *data[DP_BURST];
	uint8_t cls[DP_BURST];
	uint64_t hits = 0, *v = lc->stats->v;
	struct rte_mbuf *drops[DP_BURST];
	unsigned n_keys = 0, n_drop = 0;
	const int exc = app->ports[in].exception;
	struct burst_ctx bc = {.now_ns = now_ns};

	for (uint16_t i = 0; i < n; i++) {
		cls[i] = (uint8_t)dp_pkt_parse(pkts[i], &info[i]);
		if (cls[i] != DP_PKT_UDP && !(cls[i] == DP_PKT_FRAGMENT && info[i].first_frag))
			continue;
		dp_flow_key_set(&keys[n_keys], info[i].family, info[i].dst, info[i].dport);
		key_ptrs[n_keys] = &keys[n_keys];
		n_keys++;
	}
	if (n_keys) {
		rte_hash_lookup_bulk_data(app->flow_hash, key_ptrs, n_keys, &hits, data);
		for (unsigned k = 0; k < n_keys; k++) {
			if (hits & (1ULL << k)) {
				const struct dp_ep *e =
					&app->eps[(uint32_t)(uintptr_t)data[k] >> 1];

				rte_prefetch0(e);
				rte_prefetch0(&e->plan);
			}
		}
	}
	/* Two-stage prefetch: the lookup above prefetched each hit's endpoint; a few packets
	 * ahead, read its peer (racy, only a hint) and prefetch the peer's hot lines and the
	 * endpoint's receive statistics, so the packet's turn finds them in cache. */
	uint32_t ahead_id[DP_BURST];
	unsigned n_ahead = 0;

	for (unsigned k = 0; k < n_keys; k++)
		if (hits & (1ULL << k))
			ahead_id[n_ahead++] = (uint32_t)(uintptr_t)data[k] >> 1;
	for (unsigned a = 0; a < n_ahead && a < DP_PREFETCH_AHEAD; a++)
		prefetch_peer(app, ahead_id[a]);
	for (unsigned k = 0, i = 0, hit_no = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		unsigned verdict, out = in;

		if ((cls[i] == DP_PKT_UDP || (cls[i] == DP_PKT_FRAGMENT && info[i].first_frag)) &&
			(hits & (1ULL << k)) && hit_no + DP_PREFETCH_AHEAD < n_ahead)
			prefetch_peer(app, ahead_id[hit_no++ + DP_PREFETCH_AHEAD]);
		if (cls[i] == DP_PKT_UDP) {
			if (hits & (1ULL << k)) {
				const uint32_t flow = (uint32_t)(uintptr_t)data[k];

				verdict = flow & DP_FLOW_RTCP ? V_SLOW
							      : relay_fast(lc, m, &info[i],
									flow >> 1, &bc, v, &out);
				if (verdict == V_SLOW)
					verdict = relay_one(lc, m, &info[i], flow, &bc, v, &out);
			} else {
				verdict = V_EXCEPTION;
			}
			k++;
		} else if (cls[i] == DP_PKT_FRAGMENT && info[i].first_frag) {
			/* media is never fragmented; a fragment for a media port is refused, any
			 * other (SIP over UDP, say) goes to the kernel, which reassembles */
			if (hits & (1ULL << k)) {
				v[TG_DPC_drop_fragment]++;
				verdict = V_DROP;
			} else {
				dp_neigh_snoop(app->neigh, m);
				verdict = V_EXCEPTION;
			}
			k++;
		} else if (cls[i] == DP_PKT_MALFORMED) {
			v[TG_DPC_drop_malformed]++;
			verdict = V_DROP;
		} else {
			/* ARP, ICMP, fragments (SIP over UDP fragments too), anything not ours; the
			 * neighbour table learns from the ARP and ND among them */
			dp_neigh_snoop(app->neigh, m);
			verdict = V_EXCEPTION;
		}
		if (verdict == V_EXCEPTION) {
			if (exc < 0) {
				v[TG_DPC_drop_no_flow]++;
				verdict = V_DROP;
			} else {
				v[TG_DPC_exc_to_kernel]++;
				out = (unsigned)exc;
			}
		}
		if (verdict == V_DROP)
			drops[n_drop++] = m;
		else
			tx_queue(lc, out, m);
	}
	if (n_drop)
		rte_pktmbuf_free_bulk(drops, n_drop);
}

int dp_relay_send_own(struct dp_lcore *lc, struct dp_ep *to, const struct dp_ep_cfg *tc,
	const uint8_t *rtp, uint16_t len, uint64_t now_ns)
{
	const struct dp_port *port = &lc->app->ports[tc->port_id];
	const struct ck_update ck = {0}; /* nothing received: no checksum to update */
	struct dp_ep_learned tl;
	const uint8_t *dst, *dst_mac;
	uint64_t expires_ns;
	uint16_t dport;
	struct rte_mbuf *m;
	uint8_t *d;
	int rc;

	dp_ep_learned_read(to, &tl);
	rc = peer_dest(lc, to, tc, &tl, false, now_ns, &dst, &dport, &dst_mac, &expires_ns);
	if (rc < 0)
		return rc;
	m = rte_pktmbuf_alloc(lc->app->pool);
	if (!m)
		return -ENOMEM;
	d = (uint8_t *)rte_pktmbuf_append(m, len);
	if (d)
		memcpy(d, rtp, len);
	if (!d || !write_headers(m, port, dst_mac, &tc->local, tc->local.port, dst, dport,
			  tc->local.family, &ck, 0)) {
		rte_pktmbuf_free(m);
		return -ENOMEM;
	}
	/* IPv4: write_headers() gave a packet with no checksum received none; ours gets one */
	if (tc->local.family == TG_AF_INET &&
		!(port->info.tx_offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM)) {
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(
			m, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	}
	tx_queue(lc, tc->port_id, m);
	return 0;
}

void dp_exception_out(struct dp_lcore *lc, unsigned in, struct rte_mbuf **pkts, uint16_t n)
{
	const int out = lc->app->ports[in].exception;

	if (out < 0) {
		lc->stats->v[TG_DPC_drop_no_flow] += n;
		rte_pktmbuf_free_bulk(pkts, n);
		return;
	}
	lc->stats->v[TG_DPC_exc_from_kernel] += n;
	for (uint16_t i = 0; i < n; i++)
		tx_queue(lc, (unsigned)out, pkts[i]);
}
