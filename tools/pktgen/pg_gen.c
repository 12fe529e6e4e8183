/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Building and pacing. Per burst: one TSC pacing computation, one bulk mbuf allocation, one
 * tx_burst. Per packet: two copies (the stream's headers, the shared filler) and the stamp
 * (pg_pkt_stamp). The pace is a total rate: packet k is due at start + k / pps, so a late
 * burst catches up (up to PG_BURST at a time) and the run's average rate is the one asked for.
 *
 * Measured: unpaced through a net_ring loopback, one lcore sends and receives ~20 Mpps of
 * 214-byte frames (2.6 GHz EPYC VM), i.e. ~130 cycles per packet for build, checksum, send,
 * receive, parse and accounting together.
 */
#include "pg_gen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "tg_log.h"

int pg_gen_init(struct pg_gen *g, const struct pg_args *a, uint16_t port, struct rte_mempool *mp,
	const struct dpk_port_info *info, uint64_t hz)
{
	bool hw_csum = (info->tx_offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
	uint8_t family = a->dst[0].family;
	uint32_t filler_sum;
	void *mem;
	int rc;

	memset(g, 0, sizeof(*g));
	rc = pg_pkt_layout_init(&g->lay, family, a->payload_size);
	if (rc < 0)
		return rc;
	if (posix_memalign(&mem, 64, (size_t)a->n_streams * sizeof(*g->tmpl)) != 0)
		return -ENOMEM;
	g->tmpl = mem;
	g->filler = malloc(g->lay.filler_len + 1u);
	if (!g->filler) {
		pg_gen_fini(g);
		return -ENOMEM;
	}
	pg_pkt_filler(g->filler, &g->lay, &filler_sum);
	for (unsigned i = 0; i < a->n_streams; i++) {
		struct pg_pkt_params p = {
			.pt = (uint8_t)a->pt,
			/* random per RFC 3550, so a relay cannot rely on them starting at zero */
			.ssrc = (uint32_t)rte_rand(),
			.seq_base = (uint16_t)rte_rand(),
			.ts_base = (uint32_t)rte_rand(),
			.hw_csum = hw_csum,
		};

		memcpy(p.dst_mac, a->dst_mac, 6);
		memcpy(p.src_mac,
			pg_args_given(a, PG_O_SRC_MAC) ? a->src_mac : info->mac.addr_bytes, 6);
		pg_args_stream_endpoint(a->dst, a->n_dst, i, &p.dst);
		pg_args_stream_endpoint(a->src, a->n_src, i, &p.src);
		pg_pkt_tmpl_build(&g->tmpl[i], &g->lay, &p, i, filler_sum);
	}
	g->port = port;
	g->mp = mp;
	g->n_streams = a->n_streams;
	g->ts_step = a->ptime_ms * 8; /* an 8 kHz RTP clock, as G.711's */
	if (hw_csum)
		g->ol_flags = RTE_MBUF_F_TX_UDP_CKSUM |
			      (family == AF_INET ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6);
	g->pps = a->pps;
	g->hz = hz;
	g->limit = a->count ? a->count : UINT64_MAX;
	g->duration_tsc = (uint64_t)((unsigned __int128)a->duration_ms * hz / 1000);
	if (g->pps) {
		/* paced: the duration means its packets, so "2 s at 50 kpps" is exactly 100000;
		 * the time bound then gets 100 ms of slack for the last ones to go */
		uint64_t by_time = (uint64_t)((unsigned __int128)a->duration_ms * g->pps / 1000);

		if (by_time < g->limit)
			g->limit = by_time;
		g->duration_tsc += hz / 10;
	}
	TG_LOG(PERF, INFO, "%u stream(s), %u-byte frames, UDP checksum %s", g->n_streams,
		g->lay.frame_len, hw_csum ? "by the port" : "in software");
	return 0;
}

void pg_gen_fini(struct pg_gen *g)
{
	free(g->tmpl);
	free(g->filler);
	g->tmpl = NULL;
	g->filler = NULL;
}

void pg_gen_start(struct pg_gen *g, uint64_t now)
{
	g->start_tsc = now;
	g->end_tsc = 0;
	g->sent = 0;
	g->cur = 0;
	g->cur_seq = 0;
	g->done = false;
}

void pg_gen_abort(struct pg_gen *g, uint64_t now)
{
	if (!g->done) {
		g->done = true;
		g->end_tsc = now;
	}
}

bool pg_gen_poll(struct pg_gen *g, uint64_t now)
{
	const struct pg_pkt_layout *l = &g->lay;
	struct rte_mbuf *pkts[PG_BURST];
	uint64_t n = PG_BURST, left, seq;
	unsigned s;
	uint16_t k;

	if (g->done)
		return false;
	left = g->limit - g->sent;
	if (left == 0 || now - g->start_tsc >= g->duration_tsc) {
		g->done = true;
		g->end_tsc = now;
		return false;
	}
	if (left < n)
		n = left;
	if (g->pps) {
		uint64_t due = (uint64_t)((unsigned __int128)(now - g->start_tsc) * g->pps / g->hz);

		if (due <= g->sent)
			return true;
		if (due - g->sent < n)
			n = due - g->sent;
	}
	if (rte_pktmbuf_alloc_bulk(g->mp, pkts, (unsigned)n) != 0) {
		g->nombuf++;
		return true;
	}
	s = g->cur;
	seq = g->cur_seq;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct pg_tmpl *t = &g->tmpl[s];
		uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);

		memcpy(f, t->hdr, l->hdr_len);
		memcpy(f + l->hdr_len, g->filler, l->filler_len);
		pg_pkt_stamp(f, l, t, g->ts_step, seq, now);
		m->data_len = l->frame_len;
		m->pkt_len = l->frame_len;
		if (g->ol_flags) {
			m->ol_flags |= g->ol_flags;
			m->l2_len = PG_ETH_HDR_LEN;
			m->l3_len = l->l3_len;
		}
		if (++s == g->n_streams) {
			s = 0;
			seq++;
		}
	}
	k = rte_eth_tx_burst(g->port, g->queue, pkts, (uint16_t)n);
	if (k == n) {
		g->cur = s;
		g->cur_seq = seq;
	} else {
		uint64_t pos = g->cur + (uint64_t)k;

		/* resume at the first refused packet: its stream and sequence are reused */
		rte_pktmbuf_free_bulk(pkts + k, (unsigned)(n - k));
		g->refused += n - k;
		g->cur_seq += pos / g->n_streams;
		g->cur = (unsigned)(pos % g->n_streams);
	}
	g->sent += k;
	return true;
}
