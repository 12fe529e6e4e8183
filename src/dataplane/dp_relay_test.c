/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The relay node (dp_relay.c) end to end on three net_ring ports, whose TX loops back to their
 * RX, so what a port sent is read back with rte_eth_rx_burst: port 0 carries leg A, port 1 leg
 * B, port 2 stands in for the exception TAP. The dataplane's state (struct dp_app, one struct
 * dp_lcore, a real flow table and neighbour table) is built by hand; no worker is launched.
 * Frames are built, and what the relay sends is checked, with a checksum routine of this file's
 * own (independent of DPDK's): headers, addresses, ports, TTL/DSCP, both checksums, payload,
 * counters, and that every mbuf goes back to the pool. EAL runs once per process: no hugepages,
 * no PCI, no shared files; its runtime directory is removed at the end.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "dp.h"
#include "dp_relay.h"
#include "dp_rtp.h"
#include "tg_log.h"
#include "tg_stats_counters.h"

#define PORT_MIN 20000
#define PORT_MAX 20998
#define DIR_BOTH (TG_DIR_RECV | TG_DIR_SEND)
#define MS (1000ULL * 1000)
#define POOL_SIZE 4095
#define C(name) TG_DPC_##name

enum { PA = 0, PB = 1, PX = 2, N_PORTS = 3 }; /* leg A's port, leg B's, the exception "TAP" */

static const char *const port_names[N_PORTS] = {"net_ring0", "net_ring1", "net_ring2"};
static uint16_t port_ids[N_PORTS];
static struct rte_mempool *pool;
static unsigned pool_start;

static struct dp_app app;
static struct dp_lcore lc;
static struct tg_stats_block *ctrs;
static uint64_t snap[TG_DPC__COUNT];
static struct dp_ep *eps;
static uint32_t ida, idb;
static struct tg_msg_ep ra, rb;	   /* the endpoints' last EP_UPDATE */
static uint64_t now;		   /* the relay's clock: each send1() moves it 20 ms on */
static struct rte_mbuf *checking;  /* the frame a check holds: teardown frees it if one failed */
static struct rte_ring *dtmf_jobs; /* the worker's DTMF job ring (lc plays as lcore 1) */
static struct dp_dtmf_player players[DP_DTMF_PLAYERS];

static const struct rte_ether_addr port_mac[N_PORTS] = {
	{{0x02, 0, 0, 0, 0, 0x0a}}, {{0x02, 0, 0, 0, 0, 0x0b}}, {{0x02, 0, 0, 0, 0, 0x0e}}};
static const struct rte_ether_addr mac_ra = {{0x02, 0xaa, 0, 0, 0, 0x01}}; /* A's remote */
static const struct rte_ether_addr mac_rb = {{0x02, 0xbb, 0, 0, 0, 0x02}}; /* B's remote */
static const struct rte_ether_addr mac_nh = {{0x02, 0x4e, 0x58, 0x54, 0x48, 0x50}};
static const struct rte_ether_addr mac_nat = {{0x02, 0x4a, 0x54, 0, 0, 0x77}};
static const struct rte_ether_addr mac_bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

static const char *const ctr_names[TG_DPC__COUNT] = {
#define TG_X(name, help) #name,
	TG_DP_LCORE_COUNTERS(TG_X)
#undef TG_X
#define TG_X(name, help) "drop_" #name,
		TG_DP_DROP_REASONS(TG_X)
#undef TG_X
};

/* ---- addresses and endpoints ---- */

static struct tg_addr addr(const char *s, uint16_t port)
{
	struct tg_addr a = {.port = port};
	const bool v6 = strchr(s, ':') != NULL;

	a.family = v6 ? TG_AF_INET6 : TG_AF_INET;
	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, s, a.a), 1);
	return a;
}

static const char *local_of(unsigned port, uint8_t family)
{
	if (port == PA)
		return family == TG_AF_INET ? "10.0.0.1" : "2001:db8:a::1";
	return family == TG_AF_INET ? "10.1.0.1" : "2001:db8:b::1";
}

/* The signalled remotes: A's at 192.0.2.1:4000, B's at 198.51.100.2:5000 (or IPv6). */
static struct tg_addr remote_a(uint8_t family)
{
	return addr(family == TG_AF_INET ? "192.0.2.1" : "2001:db8:aa::2", 4000);
}

static struct tg_addr remote_b(uint8_t family)
{
	/* its last three bytes make a distinct solicited-node address: ff02::1:ff12:3456 */
	return addr(family == TG_AF_INET ? "198.51.100.2" : "2001:db8:bb::12:3456", 5000);
}

static uint32_t ep_create(uint64_t key, unsigned port, uint8_t family, uint8_t flags)
{
	struct tg_msg_ep r = {.key = key,
		.port_id = (uint16_t)port,
		.dir = DIR_BOTH,
		.flags = flags,
		.clock_rate = 8000,
		.pt_in = 0xff,
		.pt_out = 0xff};
	uint32_t id;

	r.local = addr(local_of(port, family), 0);
	assert_int_equal(dp_ep_create(app.flows, &r, &app.local_addr, &id), 0);
	return id;
}

static struct tg_msg_ep ep_req(uint64_t key, const struct tg_addr *remote)
{
	struct tg_msg_ep r = {.key = key, .dir = DIR_BOTH, .pt_in = 0xff, .pt_out = 0xff};

	if (remote)
		r.remote = *remote;
	return r;
}

static void ep_apply(const struct tg_msg_ep *r)
{
	uint32_t id;

	assert_int_equal(dp_ep_update(app.flows, r, &id), 0);
}

/* A (key 1) on port A and B (key 2) on port B, each with its signalled remote, linked. */
static void pair_open(uint8_t fam_a, uint8_t fam_b)
{
	const struct tg_addr rem_a = remote_a(fam_a), rem_b = remote_b(fam_b);

	ida = ep_create(1, PA, fam_a, 0);
	idb = ep_create(2, PB, fam_b, 0);
	ra = ep_req(1, &rem_a);
	rb = ep_req(2, &rem_b);
	ep_apply(&ra);
	ep_apply(&rb);
	assert_int_equal(dp_ep_link(app.flows, 1, 2), 0);
}

static void next_hops(void)
{
	for (unsigned p = PA; p <= PB; p++) {
		app.ports[p].have_next_hop = true;
		app.ports[p].next_hop = mac_nh;
	}
}

/* ---- checksums, computed here byte by byte (big-endian words), not with DPDK's code ---- */

static uint32_t sum_be(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Pseudo-header (either family) plus the L4 segment, folded, not complemented. */
static uint16_t l4_sum(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
	const uint8_t *l4, uint32_t len)
{
	const size_t alen = family == TG_AF_INET ? 4 : 16;
	uint32_t s = sum_be(src, alen, 0);

	s = sum_be(dst, alen, s);
	s += proto;
	s += (len >> 16) + (len & 0xffff);
	return fold(sum_be(l4, len, s));
}

/* ---- frames ---- */

struct frame {
	struct rte_ether_addr smac, dmac;
	struct tg_addr src, dst; /* family from src; addresses and UDP ports */
	const uint8_t *pl;
	uint16_t len;
	bool no_ck;	   /* IPv4: send the UDP checksum as 0 (none) */
	uint8_t opt_words; /* IPv4 options, in 32-bit words */
	uint16_t frag;	   /* IPv4 flags + fragment offset, host order; 0 = DF only */
	uint16_t trailer;  /* Ethernet padding after the IP packet */
};

static struct rte_mbuf *raw_frame(const uint8_t *bytes, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *d;

	assert_non_null(m);
	d = (uint8_t *)rte_pktmbuf_append(m, len);
	assert_non_null(d);
	memcpy(d, bytes, len);
	return m;
}

static void eth_write(uint8_t *d, const struct rte_ether_addr *dmac,
	const struct rte_ether_addr *smac, uint16_t type)
{
	memcpy(d, dmac->addr_bytes, 6);
	memcpy(d + 6, smac->addr_bytes, 6);
	dp_rtp_wr16(d + 12, type);
}

/* Ethernet + IPv4/IPv6 + UDP with correct IPv4 header and UDP checksums. */
static struct rte_mbuf *frame_build(const struct frame *f)
{
	const bool v4 = f->src.family == TG_AF_INET;
	const uint16_t l3 = v4 ? (uint16_t)(20 + 4 * f->opt_words) : 40;
	const uint16_t tot = (uint16_t)(14 + l3 + 8 + f->len + f->trailer);
	uint8_t buf[2048], *ip = buf + 14, *udp = ip + l3;

	assert_true(tot <= sizeof(buf));
	assert_int_equal(f->src.family, f->dst.family);
	memset(buf, 0, tot);
	eth_write(buf, &f->dmac, &f->smac, v4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	if (v4) {
		ip[0] = (uint8_t)(0x40 | l3 / 4);
		dp_rtp_wr16(ip + 2, (uint16_t)(l3 + 8 + f->len));
		dp_rtp_wr16(ip + 4, 0x1234);
		dp_rtp_wr16(ip + 6, f->frag ? f->frag : 0x4000);
		ip[8] = 7; /* TTL and TOS as a remote might send them: the relay sets its own */
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, f->src.a, 4);
		memcpy(ip + 16, f->dst.a, 4);
		memset(ip + 20, 1, l3 - 20u); /* options: NOPs */
		dp_rtp_wr16(ip + 10, (uint16_t)~fold(sum_be(ip, l3, 0)));
	} else {
		dp_rtp_wr32(ip, 6u << 28);
		dp_rtp_wr16(ip + 4, (uint16_t)(8 + f->len));
		ip[6] = IPPROTO_UDP;
		ip[7] = 9;
		memcpy(ip + 8, f->src.a, 16);
		memcpy(ip + 24, f->dst.a, 16);
	}
	dp_rtp_wr16(udp, f->src.port);
	dp_rtp_wr16(udp + 2, f->dst.port);
	dp_rtp_wr16(udp + 4, (uint16_t)(8 + f->len));
	memcpy(udp + 8, f->pl, f->len);
	memset(udp + 8 + f->len, 0xee, f->trailer);
	if (!(v4 && f->no_ck)) {
		uint16_t ck = (uint16_t)~l4_sum(
			f->src.family, f->src.a, f->dst.a, IPPROTO_UDP, udp, 8u + f->len);

		dp_rtp_wr16(udp + 6, ck ? ck : 0xffff);
	}
	return raw_frame(buf, tot);
}

/* A UDP datagram from 'src' (MAC smac) to endpoint id's local address, RTP port + off. */
static struct frame frame_to(
	uint32_t id, const struct tg_addr *src, const struct rte_ether_addr *smac, uint16_t off)
{
	struct frame f = {.smac = *smac, .src = *src, .dst = eps[id].cfg.local};

	f.dmac = port_mac[eps[id].cfg.port_id];
	f.dst.port = (uint16_t)(f.dst.port + off);
	return f;
}

static struct rte_mbuf *to_ep(uint32_t id, const struct tg_addr *src,
	const struct rte_ether_addr *smac, uint16_t off, const uint8_t *pl, uint16_t len)
{
	struct frame f = frame_to(id, src, smac, off);

	f.pl = pl;
	f.len = len;
	return frame_build(&f);
}

/* RTP: version 2, the given header fields, 'body' bytes of a pattern. Returns the length. */
static uint16_t rtp_make(uint8_t *b, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
	uint32_t ssrc, uint16_t body)
{
	b[0] = 0x80;
	b[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
	dp_rtp_wr16(b + 2, seq);
	dp_rtp_wr32(b + 4, ts);
	dp_rtp_wr32(b + 8, ssrc);
	for (unsigned i = 0; i < body; i++)
		b[12 + i] = (uint8_t)(seq * 7u + i * 13u + 1);
	return (uint16_t)(12 + body);
}

/* An RTCP sender report without report blocks: 28 bytes. */
static uint16_t rtcp_sr(uint8_t *b, uint32_t ssrc)
{
	memset(b, 0, 28);
	b[0] = 0x80;
	b[1] = 200;
	dp_rtp_wr16(b + 2, 6);
	dp_rtp_wr32(b + 4, ssrc);
	dp_rtp_wr32(b + 8, 0xe1234567); /* NTP seconds */
	dp_rtp_wr32(b + 12, 0x80000000);
	dp_rtp_wr32(b + 16, 123456); /* RTP timestamp */
	dp_rtp_wr32(b + 20, 10);     /* packets */
	dp_rtp_wr32(b + 24, 1600);   /* octets */
	return 28;
}

/* An RTCP receiver report with 'blocks' report blocks (0 or 1): 8 or 32 bytes. */
static uint16_t rtcp_rr(uint8_t *b, uint32_t ssrc, unsigned blocks)
{
	memset(b, 0, 32);
	b[0] = (uint8_t)(0x80 | blocks);
	b[1] = 201;
	dp_rtp_wr16(b + 2, (uint16_t)(1 + 6 * blocks));
	dp_rtp_wr32(b + 4, ssrc);
	if (blocks) {
		dp_rtp_wr32(b + 8, 0xabcdef01); /* the source reported on */
		b[12] = 0x20;			/* fraction lost: 1/8 */
		b[15] = 5;			/* cumulative lost */
		dp_rtp_wr32(b + 16, 1000);	/* extended highest sequence */
		dp_rtp_wr32(b + 20, 80);	/* jitter */
	}
	return (uint16_t)(8 + 24 * blocks);
}

/* An RTP packet from src to endpoint id, 160 bytes of body. */
static struct rte_mbuf *rtp_to(uint32_t id, const struct tg_addr *src,
	const struct rte_ether_addr *smac, uint16_t seq, uint8_t *pl, uint16_t *len)
{
	*len = rtp_make(pl, 0, false, seq, seq * 160u, 0xabcdef01, 160);
	return to_ep(id, src, smac, 0, pl, *len);
}

/* ---- driving the relay and reading what it sent ---- */

static void burst(unsigned in, struct rte_mbuf **m, uint16_t n)
{
	dp_relay_burst(&lc, in, m, n, now);
	dp_tx_flush(&lc);
	now += 20 * MS;
}

static void send1(unsigned in, struct rte_mbuf *m)
{
	burst(in, &m, 1);
}

/* What port p sent: up to max frames, in order. */
static unsigned sent(unsigned p, struct rte_mbuf **m, unsigned max)
{
	return rte_eth_rx_burst(port_ids[p], 0, m, (uint16_t)max);
}

/* Exactly one frame went out, on port p, and nothing on the others. */
static struct rte_mbuf *take(unsigned p)
{
	struct rte_mbuf *got = NULL, *m[8];

	for (unsigned q = 0; q < N_PORTS; q++) {
		unsigned n = sent(q, m, 8);

		if (q == p && n == 1) {
			got = m[0];
			continue;
		}
		if (n)
			rte_pktmbuf_free_bulk(m, n);
		if (q == p)
			fail_msg("port %u sent %u frames, expected 1", q, n);
		else if (n)
			fail_msg("port %u sent %u frames, expected none", q, n);
	}
	return got;
}

static void none_sent(void)
{
	struct rte_mbuf *m[8];

	for (unsigned q = 0; q < N_PORTS; q++) {
		unsigned n = sent(q, m, 8);

		if (n) {
			rte_pktmbuf_free_bulk(m, n);
			fail_msg("port %u sent %u frames, expected none", q, n);
		}
	}
}

static void pool_check(void)
{
	assert_int_equal(rte_mempool_avail_count(pool), pool_start);
}

/* Every counter moved by exactly what is listed, the others not at all; then a new snapshot. */
struct delta {
	int c;
	uint64_t n;
};

static void deltas_check(const struct delta *d)
{
	uint64_t want[TG_DPC__COUNT] = {0};
	bool bad = false;

	for (; d->c >= 0; d++)
		want[d->c] = d->n;
	for (unsigned i = 0; i < TG_DPC__COUNT; i++) {
		const uint64_t got = ctrs->v[i] - snap[i];

		if (got != want[i]) {
			print_error("counter %s moved by %llu, expected %llu\n", ctr_names[i],
				(unsigned long long)got, (unsigned long long)want[i]);
			bad = true;
		}
	}
	memcpy(snap, ctrs->v, sizeof(snap));
	if (bad)
		fail();
}

#define DELTAS(...) deltas_check((const struct delta[]){__VA_ARGS__, {-1, 0}})
#define NO_DELTAS() deltas_check((const struct delta[]){{-1, 0}})

/* What a relayed frame must look like. */
struct expect {
	const struct rte_ether_addr *smac, *dmac; /* dmac NULL: not compared */
	struct tg_addr src, dst;		  /* family, addresses, UDP ports */
	const uint8_t *pl;			  /* NULL: not compared */
	uint16_t len;
	bool ck_zero; /* IPv4: no UDP checksum expected */
};

/* The frame relayed toward endpoint 'to', sent to 'dst' with MAC dmac; RTCP from port + 1. */
static struct expect expect_to(uint32_t to, const struct rte_ether_addr *dmac,
	const struct tg_addr *dst, bool rtcp_port, const uint8_t *pl, uint16_t len)
{
	struct expect e = {.smac = &port_mac[eps[to].cfg.port_id],
		.dmac = dmac,
		.src = eps[to].cfg.local,
		.dst = *dst,
		.pl = pl,
		.len = len};

	if (rtcp_port)
		e.src.port++;
	return e;
}

/* Checks every header field the relay writes, both checksums and the payload; copies the
 * payload out when 'pl_out' is given; frees m. */
static void out_check(struct rte_mbuf *m, const struct expect *e, uint8_t *pl_out)
{
	const bool v4 = e->src.family == TG_AF_INET;
	const uint16_t l3 = v4 ? 20 : 40;
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *ip = d + 14, *udp = ip + l3;

	assert_non_null(m);
	checking = m;
	assert_int_equal(m->nb_segs, 1);
	assert_int_equal(rte_pktmbuf_pkt_len(m), rte_pktmbuf_data_len(m));
	assert_int_equal(rte_pktmbuf_data_len(m), 14 + l3 + 8 + e->len);
	if (e->dmac)
		assert_memory_equal(d, e->dmac->addr_bytes, 6);
	assert_memory_equal(d + 6, e->smac->addr_bytes, 6);
	assert_int_equal(dp_rtp_rd16(d + 12), v4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	if (v4) {
		assert_int_equal(ip[0], 0x45);
		assert_int_equal(ip[1], 0xb8); /* DSCP EF */
		assert_int_equal(dp_rtp_rd16(ip + 2), 20 + 8 + e->len);
		assert_int_equal(dp_rtp_rd16(ip + 6), 0x4000); /* DF, not a fragment */
		assert_int_equal(ip[8], 64);
		assert_int_equal(ip[9], IPPROTO_UDP);
		assert_int_equal(fold(sum_be(ip, 20, 0)), 0xffff); /* header checksum */
		assert_memory_equal(ip + 12, e->src.a, 4);
		assert_memory_equal(ip + 16, e->dst.a, 4);
	} else {
		const uint32_t vtc = dp_rtp_rd32(ip);

		assert_int_equal(vtc >> 28, 6);
		assert_int_equal((vtc >> 20) & 0xff, 0xb8);
		assert_int_equal(dp_rtp_rd16(ip + 4), 8 + e->len);
		assert_int_equal(ip[6], IPPROTO_UDP);
		assert_int_equal(ip[7], 64);
		assert_memory_equal(ip + 8, e->src.a, 16);
		assert_memory_equal(ip + 24, e->dst.a, 16);
	}
	assert_int_equal(dp_rtp_rd16(udp), e->src.port);
	assert_int_equal(dp_rtp_rd16(udp + 2), e->dst.port);
	assert_int_equal(dp_rtp_rd16(udp + 4), 8 + e->len);
	if (e->ck_zero) {
		assert_true(v4);
		assert_int_equal(dp_rtp_rd16(udp + 6), 0);
	} else {
		assert_int_not_equal(dp_rtp_rd16(udp + 6), 0);
		assert_int_equal(l4_sum(e->src.family, ip + (v4 ? 12 : 8), ip + (v4 ? 16 : 24),
					 IPPROTO_UDP, udp, 8u + e->len),
			0xffff);
	}
	if (e->pl)
		assert_memory_equal(udp + 8, e->pl, e->len);
	if (pl_out)
		memcpy(pl_out, udp + 8, e->len);
	checking = NULL;
	rte_pktmbuf_free(m);
}

/* ---- fixtures ---- */

static void ports_drain(void)
{
	struct rte_mbuf *m[32];
	unsigned n;

	for (unsigned q = 0; q < N_PORTS; q++)
		while ((n = sent(q, m, 32)))
			rte_pktmbuf_free_bulk(m, n);
}

static int setup(void **state)
{
	const struct dp_flows_params fp = {.max_endpoints = 16,
		.n_readers = 1,
		.port_min = PORT_MIN,
		.port_max = PORT_MAX,
		.socket = 0};

	memset(&app, 0, sizeof(app));
	app.pool = pool;
	app.n_ports = N_PORTS;
	for (unsigned p = 0; p < N_PORTS; p++) {
		app.ports[p].port_id = port_ids[p];
		app.ports[p].info.mac = port_mac[p];
		app.ports[p].info.tx_offloads = 0; /* checksums in software */
	}
	app.ports[PA].exception = PX;
	app.ports[PB].exception = PX;
	app.ports[PX].is_tap = true;
	app.ports[PX].exception = PA;
	app.flows = dp_flows_create(&fp);
	assert_non_null(app.flows);
	app.flow_hash = dp_flows_hash(app.flows);
	app.eps = dp_flows_eps(app.flows);
	app.neigh = dp_neigh_create(64, 0);
	assert_non_null(app.neigh);
	app.local_addr.v4.a[0] = addr("10.0.0.1", 0);
	app.local_addr.v4.n = 1;
	app.local_addr.v6.a[0] = addr("2001:db8:a::1", 0);
	app.local_addr.v6.n = 1;
	eps = app.eps;

	memset(&lc, 0, sizeof(lc));
	lc.app = &app;
	/* DTMF: the main lcore hands digits to lcore 1's ring, which lc consumes */
	rte_ring_reset(dtmf_jobs);
	app.n_lcores = 2;
	app.lcores[1].dtmf_jobs = dtmf_jobs;
	lc.dtmf_jobs = dtmf_jobs;
	lc.players = players;
	memset(ctrs, 0, sizeof(*ctrs) + TG_DPC__COUNT * sizeof(uint64_t));
	lc.stats = ctrs;
	memset(snap, 0, sizeof(snap));
	now = 5000 * MS;
	ports_drain();
	pool_check();
	return 0;
}

static int teardown(void **state)
{
	unsigned avail;

	rte_pktmbuf_free(checking);
	checking = NULL;
	for (unsigned p = 0; p < N_PORTS; p++) {
		if (lc.txb[p].n)
			rte_pktmbuf_free_bulk(lc.txb[p].pkts, lc.txb[p].n);
		lc.txb[p].n = 0;
	}
	ports_drain();
	dp_flows_free(app.flows);
	dp_neigh_free(app.neigh);
	app.flows = NULL;
	app.neigh = NULL;
	/* every mbuf the test and the relay took is back; a test that failed half-way may have
	 * left some behind: counted against it alone (main checks the whole run) */
	avail = rte_mempool_avail_count(pool);
	if (avail != pool_start) {
		print_error("%d mbufs not returned to the pool\n", (int)(pool_start - avail));
		pool_start = avail;
		return -1;
	}
	return 0;
}

/* ---- 1, 2: headers and checksums across families ---- */

/*
 * B's remote speaks first: relayed to A's signalled remote through port A's next hop; B learns
 * its remote's MAC. Then A's remote: relayed to B's remote with that MAC.
 */
static void relay_both_ways(uint8_t fam_a, uint8_t fam_b)
{
	const struct tg_addr rem_a = remote_a(fam_a), rem_b = remote_b(fam_b);
	uint8_t pl[256];
	uint16_t len;
	struct expect e;

	pair_open(fam_a, fam_b);
	app.ports[PA].have_next_hop = true;
	app.ports[PA].next_hop = mac_nh;

	send1(PB, rtp_to(idb, &rem_b, &mac_rb, 500, pl, &len));
	e = expect_to(ida, &mac_nh, &rem_a, false, pl, len);
	out_check(take(PA), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});

	send1(PA, rtp_to(ida, &rem_a, &mac_ra, 77, pl, &len));
	e = expect_to(idb, &mac_rb, &rem_b, false, pl, len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});

	/* a bare RTP header, odd lengths, and a short frame with Ethernet padding to drop */
	for (uint16_t body = 0; body <= 3; body++) {
		struct frame f = frame_to(ida, &rem_a, &mac_ra, 0);

		f.pl = pl;
		f.len = rtp_make(pl, 0, false, (uint16_t)(77 + body), 1000, 0xabcdef01, body);
		f.trailer = body == 2 ? 13 : 0;
		send1(PA, frame_build(&f));
		e = expect_to(idb, &mac_rb, &rem_b, false, pl, f.len);
		out_check(take(PB), &e, NULL);
		DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
	}
	assert_int_equal(eps[idb].tx.tx_pkts, 5);
	assert_int_equal(eps[ida].tx.tx_pkts, 1);
	pool_check();
}

static void test_v4_to_v4(void **state)
{
	relay_both_ways(TG_AF_INET, TG_AF_INET);
}

static void test_v6_to_v6(void **state)
{
	relay_both_ways(TG_AF_INET6, TG_AF_INET6);
}

static void test_v4_to_v6(void **state)
{
	relay_both_ways(TG_AF_INET, TG_AF_INET6);
}

static void test_v6_to_v4(void **state)
{
	relay_both_ways(TG_AF_INET6, TG_AF_INET);
}

/* An IPv4 datagram sent without UDP checksum: none toward IPv4, a full one toward IPv6. */
static void test_zero_checksum(void **state)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET), rem_b4 = remote_b(TG_AF_INET),
			     rem_b6 = remote_b(TG_AF_INET6);
	struct tg_msg_ep r3 = ep_req(3, &rem_b6);
	uint8_t pl[256];
	struct frame f;
	struct expect e;
	uint32_t id3;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	id3 = ep_create(3, PB, TG_AF_INET6, 0);
	ep_apply(&r3);

	f = frame_to(ida, &rem_a, &mac_ra, 0);
	f.pl = pl;
	f.len = rtp_make(pl, 0, false, 10, 1600, 0x42, 160);
	f.no_ck = true;
	send1(PA, frame_build(&f));
	e = expect_to(idb, &mac_nh, &rem_b4, false, pl, f.len);
	e.ck_zero = true;
	out_check(take(PB), &e, NULL);

	assert_int_equal(dp_ep_link(app.flows, 1, 3), 0);
	f.len = rtp_make(pl, 0, false, 11, 1760, 0x42, 160);
	send1(PA, frame_build(&f));
	e = expect_to(id3, &mac_nh, &rem_b6, false, pl, f.len);
	out_check(take(PB), &e, NULL);

	/* an odd length, so the full computation's last byte is padded correctly */
	f.len = rtp_make(pl, 0, false, 12, 1920, 0x42, 161);
	send1(PA, frame_build(&f));
	e = expect_to(id3, &mac_nh, &rem_b6, false, pl, f.len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(relayed), 3}, {C(tx_pkts), 3});
}

/*
 * Sets the last 16-bit word of an even-length payload so that the UDP checksum of the frame
 * relayed toward 'to' (sent to dst) comes out as zero, which UDP must send as 0xffff.
 */
static void payload_for_zero_checksum(
	uint32_t to, const struct tg_addr *dst, uint8_t *pl, uint16_t len)
{
	const struct tg_addr *src = &eps[to].cfg.local;
	uint8_t udp[512];
	uint16_t s;

	assert_true(len % 2 == 0 && len >= 14 && len + 8u <= sizeof(udp));
	dp_rtp_wr16(pl + len - 2, 0);
	dp_rtp_wr16(udp, src->port);
	dp_rtp_wr16(udp + 2, dst->port);
	dp_rtp_wr16(udp + 4, (uint16_t)(8 + len));
	dp_rtp_wr16(udp + 6, 0);
	memcpy(udp + 8, pl, len);
	s = l4_sum(src->family, src->a, dst->a, IPPROTO_UDP, udp, 8u + len);
	dp_rtp_wr16(pl + len - 2, (uint16_t)(0xffff - s));
}

/* A relayed datagram whose checksum computes to zero leaves with 0xffff, on every path. */
static void test_checksum_all_ones(void **state)
{
	const uint8_t fams[][2] = {{TG_AF_INET, TG_AF_INET}, {TG_AF_INET6, TG_AF_INET6},
		{TG_AF_INET, TG_AF_INET6}, {TG_AF_INET6, TG_AF_INET}};

	for (unsigned i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		const struct tg_addr rem_a = remote_a(fams[i][0]), rem_b = remote_b(fams[i][1]);
		uint8_t pl[64], *d;
		struct frame f;
		struct expect e;
		struct rte_mbuf *m;

		pair_open(fams[i][0], fams[i][1]);
		next_hops();
		for (unsigned no_ck = 0; no_ck <= (fams[i][0] == TG_AF_INET); no_ck++) {
			f = frame_to(ida, &rem_a, &mac_ra, 0);
			f.pl = pl;
			f.len = rtp_make(pl, 0, false, (uint16_t)(1 + no_ck), 160, 0x42, 20);
			f.no_ck = no_ck;
			payload_for_zero_checksum(idb, &rem_b, pl, f.len);
			send1(PA, frame_build(&f));
			e = expect_to(idb, &mac_nh, &rem_b, false, pl, f.len);
			e.ck_zero = no_ck && fams[i][1] == TG_AF_INET;
			m = take(PB);
			d = rte_pktmbuf_mtod(m, uint8_t *);
			if (!e.ck_zero)
				assert_int_equal(
					dp_rtp_rd16(
						d + 14 + (fams[i][1] == TG_AF_INET ? 20 : 40) + 6),
					0xffff);
			out_check(m, &e, NULL);
			DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
		}
		/* the next pair reuses the keys: this one goes */
		for (uint64_t key = 1; key <= 2; key++) {
			uint32_t id;

			assert_int_equal(dp_ep_delete(app.flows, key, &id), 0);
		}
		dp_flows_reclaim(app.flows);
	}
}

/* ---- 3: RTCP ---- */

static void test_rtcp(void **state)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET), rem_b = remote_b(TG_AF_INET);
	struct tg_addr src = rem_a, dst = rem_b;
	uint8_t pl[64];
	uint16_t len = rtcp_sr(pl, 0x1111);
	struct expect e;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();

	/* port + 1 to port + 1: from B's local RTCP port to its remote's RTP port + 1 */
	src.port = 4001;
	dst.port = 5001;
	send1(PA, to_ep(ida, &src, &mac_ra, 1, pl, len));
	e = expect_to(idb, &mac_nh, &dst, true, pl, len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(rtcp), 1}, {C(relayed), 1}, {C(tx_pkts), 1});
	assert_int_equal(eps[ida].rx.rtcp_pkts, 1);
	assert_int_equal(eps[ida].rx.rtp.packets, 0);
	/* the sender report is remembered for our reports' LSR: the middle of its NTP time */
	assert_int_equal(eps[ida].rx.rtp.lsr, 0x45678000);
	assert_int_equal(eps[ida].rx.report.have, 0);

	/* receiver reports: the shortest one (8 bytes) and one whose block is kept */
	{
		uint8_t rr[64];
		struct tg_msg_ep_stats st = {0};

		for (unsigned blocks = 0; blocks <= 1; blocks++) {
			uint16_t rlen = rtcp_rr(rr, 0x1111, blocks);

			send1(PA, to_ep(ida, &src, &mac_ra, 1, rr, rlen));
			e = expect_to(idb, &mac_nh, &dst, true, rr, rlen);
			out_check(take(PB), &e, NULL);
			DELTAS({C(rtcp), 1}, {C(relayed), 1}, {C(tx_pkts), 1});
		}
		assert_int_equal(eps[ida].rx.report.have, 1);
		assert_int_equal(eps[ida].rx.report.fraction_lost, 0x20);
		assert_int_equal(eps[ida].rx.report.cum_lost, 5);
		assert_int_equal(eps[ida].rx.report.jitter, 80);
		assert_int_equal(eps[ida].rx.report.rtt_us, 0); /* no LSR in the block */
		dp_ep_stats_fill(&eps[ida], now, &st);
		assert_int_equal(st.rtcp_pkts, 3);
		assert_int_equal(st.remote_lost, 5);
		assert_int_equal(st.remote_jitter_us, 10000); /* 80 units at 8 kHz */
	}

	/* a signalled remote RTCP port */
	rb.remote_rtcp_port = 5999;
	ep_apply(&rb);
	dst.port = 5999;
	send1(PA, to_ep(ida, &src, &mac_ra, 1, pl, len));
	e = expect_to(idb, &mac_nh, &dst, true, pl, len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(rtcp), 1}, {C(relayed), 1}, {C(tx_pkts), 1});

	/* rtcp-mux on both: RTCP on the RTP port, from B's RTP port to its remote's RTP port */
	ra.flags = TG_EPF_RTCP_MUX;
	rb.flags = TG_EPF_RTCP_MUX;
	rb.remote_rtcp_port = 0;
	ep_apply(&ra);
	ep_apply(&rb);
	for (uint8_t pt = 200; pt <= 204; pt++) {
		pl[1] = pt;
		send1(PA, to_ep(ida, &rem_a, &mac_ra, 0, pl, len));
		e = expect_to(idb, &mac_nh, &rem_b, false, pl, len);
		out_check(take(PB), &e, NULL);
		DELTAS({C(rtcp), 1}, {C(relayed), 1}, {C(tx_pkts), 1});
	}
	pl[1] = 200;
	assert_int_equal(eps[ida].rx.rtcp_pkts, 9);
	assert_int_equal(eps[ida].rx.rtp.packets, 0);
	/* RTP on the muxed port is still RTP */
	{
		uint8_t rtp[200];
		uint16_t rlen;

		send1(PA, rtp_to(ida, &rem_a, &mac_ra, 9, rtp, &rlen));
		e = expect_to(idb, &mac_nh, &rem_b, false, rtp, rlen);
		out_check(take(PB), &e, NULL);
		DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
		assert_int_equal(eps[ida].rx.rtp.packets, 1);
	}
	/* A's port + 1 is no media flow any more: the kernel's */
	send1(PA, to_ep(ida, &src, &mac_ra, 1, pl, len));
	rte_pktmbuf_free(take(PX));
	DELTAS({C(exc_to_kernel), 1}, {C(tx_pkts), 1});

	/* A muxed, B not: RTCP on A's RTP port leaves from B's port + 1 to its remote's + 1 */
	rb.flags = 0;
	ep_apply(&rb);
	dst.port = 5001;
	send1(PA, to_ep(ida, &rem_a, &mac_ra, 0, pl, len));
	e = expect_to(idb, &mac_nh, &dst, true, pl, len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(rtcp), 1}, {C(relayed), 1}, {C(tx_pkts), 1});

	/* B muxed and latched onto a NAT'd source: RTCP toward B goes to that source's port */
	rb.flags = TG_EPF_RTCP_MUX | TG_EPF_LATCH;
	ep_apply(&rb);
	{
		const struct tg_addr nat_b = addr("198.51.100.9", 6000);
		uint8_t rtp[200];
		uint16_t rlen;

		send1(PB, rtp_to(idb, &nat_b, &mac_rb, 1, rtp, &rlen));
		rte_pktmbuf_free(take(PA));
		DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
		send1(PA, to_ep(ida, &rem_a, &mac_ra, 0, pl, len));
		e = expect_to(idb, &mac_rb, &nat_b, false, pl, len);
		out_check(take(PB), &e, NULL);
		DELTAS({C(rtcp), 1}, {C(relayed), 1}, {C(tx_pkts), 1});
	}
}

/* ---- 4: latching and strict source ---- */

static void test_latching(void **state)
{
	const struct tg_addr rem_b = remote_b(TG_AF_INET);
	const struct tg_addr nat = addr("192.0.2.77", 4444), other = addr("192.0.2.88", 4444),
			     nat_other_port = addr("192.0.2.77", 4446),
			     nat_rtcp = addr("192.0.2.77", 4999);
	struct tg_addr rem_new = addr("192.0.2.2", 4100), moved = addr("192.0.2.99", 5555);
	uint8_t pl[256], sr[64];
	uint16_t len, srlen = rtcp_sr(sr, 0x77);
	struct expect e;
	uint32_t gen;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	ra.flags = TG_EPF_LATCH;
	ep_apply(&ra);

	/* the first packet's source is learned, whatever was signalled */
	send1(PA, rtp_to(ida, &nat, &mac_nat, 1, pl, &len));
	e = expect_to(idb, &mac_nh, &rem_b, false, pl, len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
	assert_true(eps[ida].learned.latched);
	assert_int_equal(eps[ida].learned.gen, eps[ida].cfg.gen);
	assert_int_equal(eps[ida].learned.src.port, 4444);
	assert_memory_equal(eps[ida].learned.src.a, nat.a, 4);
	assert_memory_equal(eps[ida].learned.mac, mac_nat.addr_bytes, 6);
	/* toward A: the latched source and its MAC, not the signalled remote */
	send1(PB, rtp_to(idb, &rem_b, &mac_rb, 1, pl, &len));
	e = expect_to(ida, &mac_nat, &nat, false, pl, len);
	out_check(take(PA), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});

	/* anyone else, or the same address from another port, is refused: nothing sent */
	send1(PA, rtp_to(ida, &other, &mac_ra, 2, pl, &len));
	none_sent();
	send1(PA, rtp_to(ida, &nat_other_port, &mac_nat, 3, pl, &len));
	none_sent();
	DELTAS({C(drop_foreign_source), 2});
	assert_int_equal(eps[ida].rx.dropped, 2);
	assert_int_equal(eps[ida].learned.src.port, 4444);
	pool_check();

	/* RTCP toward A: the latched source's port + 1 until A's own RTCP has been seen; RTCP
	 * from the latched address, any port, is accepted and its port used from then on */
	{
		struct tg_addr rem_b_rtcp = rem_b, nat_rtcp_default = nat;

		rem_b_rtcp.port = 5001;
		nat_rtcp_default.port = 4445;
		send1(PB, to_ep(idb, &rem_b_rtcp, &mac_rb, 1, sr, srlen));
		e = expect_to(ida, &mac_nat, &nat_rtcp_default, true, sr, srlen);
		out_check(take(PA), &e, NULL);
		DELTAS({C(rtcp), 1}, {C(relayed), 1}, {C(tx_pkts), 1});

		send1(PA, to_ep(ida, &nat_rtcp, &mac_nat, 1, sr, srlen));
		rte_pktmbuf_free(take(PB));
		DELTAS({C(rtcp), 1}, {C(relayed), 1}, {C(tx_pkts), 1});
		assert_int_equal(eps[ida].learned.rtcp_port, 4999);
		assert_int_equal(eps[ida].learned.src.port, 4444);

		send1(PB, to_ep(idb, &rem_b_rtcp, &mac_rb, 1, sr, srlen));
		e = expect_to(ida, &mac_nat, &nat_rtcp, true, sr, srlen);
		out_check(take(PA), &e, NULL);
		DELTAS({C(rtcp), 1}, {C(relayed), 1}, {C(tx_pkts), 1});
	}
	/* RTCP from another address is refused too */
	send1(PA, to_ep(ida, &other, &mac_ra, 1, sr, srlen));
	none_sent();
	DELTAS({C(drop_foreign_source), 1});

	/* a new remote from signalling: latching starts over */
	gen = eps[ida].cfg.gen;
	ra.remote = rem_new;
	ep_apply(&ra);
	assert_int_equal(eps[ida].cfg.gen, gen + 1);
	/* until it is heard from, toward A goes to the newly signalled remote (the MAC is the one
	 * learned under the previous generation: not what this test is about) */
	send1(PB, rtp_to(idb, &rem_b, &mac_rb, 2, pl, &len));
	e = expect_to(ida, NULL, &rem_new, false, pl, len);
	out_check(take(PA), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
	/* the source it really sends from is learned */
	send1(PA, rtp_to(ida, &moved, &mac_ra, 4, pl, &len));
	e = expect_to(idb, &mac_rb, &rem_b, false, pl, len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
	assert_true(eps[ida].learned.latched);
	assert_int_equal(eps[ida].learned.gen, gen + 1);
	assert_int_equal(eps[ida].learned.src.port, 5555);
	assert_memory_equal(eps[ida].learned.src.a, moved.a, 4);
	send1(PB, rtp_to(idb, &rem_b, &mac_rb, 3, pl, &len));
	e = expect_to(ida, &mac_ra, &moved, false, pl, len);
	out_check(take(PA), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
	/* and the old source is foreign now */
	send1(PA, rtp_to(ida, &nat, &mac_nat, 5, pl, &len));
	none_sent();
	DELTAS({C(drop_foreign_source), 1});
	/* the signalled remote outranks a latched source: it sends, it is latched (a phone whose
	 * first packets left from another port must not be locked out for the whole call) */
	send1(PA, rtp_to(ida, &rem_new, &mac_ra, 6, pl, &len));
	e = expect_to(idb, &mac_rb, &rem_b, false, pl, len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(relatched), 1}, {C(relayed), 1}, {C(tx_pkts), 1});
	assert_int_equal(eps[ida].learned.src.port, rem_new.port);
	send1(PB, rtp_to(idb, &rem_b, &mac_rb, 4, pl, &len));
	e = expect_to(ida, &mac_ra, &rem_new, false, pl, len);
	out_check(take(PA), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
	/* and what was latched before is foreign from then on */
	send1(PA, rtp_to(ida, &moved, &mac_ra, 7, pl, &len));
	none_sent();
	DELTAS({C(drop_foreign_source), 1});
	pool_check();
}

/* RTCP never latches: neither on a fresh endpoint nor after a new remote restarted latching. */
static void test_latch_rtcp_first(void **state)
{
	const struct tg_addr rem_b = remote_b(TG_AF_INET);
	const struct tg_addr src_rtcp = addr("192.0.2.50", 6001),
			     src_rtp = addr("192.0.2.50", 6000),
			     new_rtcp = addr("192.0.2.60", 7001),
			     new_rtp = addr("192.0.2.60", 7000);
	uint8_t pl[256], sr[64];
	uint16_t len, srlen = rtcp_sr(sr, 0x50);
	struct tg_addr dst = rem_b;
	struct expect e;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	ra.flags = TG_EPF_LATCH;
	ep_apply(&ra);
	dst.port = 5001;

	send1(PA, to_ep(ida, &src_rtcp, &mac_nat, 1, sr, srlen));
	e = expect_to(idb, &mac_nh, &dst, true, sr, srlen);
	out_check(take(PB), &e, NULL);
	assert_false(eps[ida].learned.latched);
	send1(PA, rtp_to(ida, &src_rtp, &mac_nat, 1, pl, &len));
	e = expect_to(idb, &mac_nh, &rem_b, false, pl, len);
	out_check(take(PB), &e, NULL);
	assert_true(eps[ida].learned.latched);
	assert_int_equal(eps[ida].learned.src.port, 6000);
	DELTAS({C(rtcp), 1}, {C(relayed), 2}, {C(tx_pkts), 2});

	ra.remote = addr("192.0.2.3", 4200);
	ep_apply(&ra);
	send1(PA, to_ep(ida, &new_rtcp, &mac_nat, 1, sr, srlen));
	e = expect_to(idb, &mac_nh, &dst, true, sr, srlen);
	out_check(take(PB), &e, NULL);
	DELTAS({C(rtcp), 1}, {C(relayed), 1}, {C(tx_pkts), 1});
	/* the RTCP port must not have been latched as the RTP source */
	assert_false(eps[ida].learned.latched && eps[ida].learned.gen == eps[ida].cfg.gen &&
		     eps[ida].learned.src.port == 7001);
	send1(PA, rtp_to(ida, &new_rtp, &mac_nat, 2, pl, &len));
	e = expect_to(idb, &mac_nh, &rem_b, false, pl, len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
	assert_true(eps[ida].learned.latched);
	assert_int_equal(eps[ida].learned.gen, eps[ida].cfg.gen);
	assert_int_equal(eps[ida].learned.src.port, 7000);
}

/* Without latching: only the signalled address (any port); replies go to the signalled remote. */
static void test_strict_source(void **state)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET), rem_b = remote_b(TG_AF_INET);
	const struct tg_addr other_port = addr("192.0.2.1", 4010), other = addr("192.0.2.9", 4000);
	uint8_t pl[256];
	uint16_t len;
	struct expect e;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	ra.flags = TG_EPF_STRICT_SOURCE;
	ep_apply(&ra);

	send1(PA, rtp_to(ida, &rem_a, &mac_ra, 1, pl, &len));
	e = expect_to(idb, &mac_nh, &rem_b, false, pl, len);
	out_check(take(PB), &e, NULL);
	send1(PA, rtp_to(ida, &other_port, &mac_ra, 2, pl, &len));
	e = expect_to(idb, &mac_nh, &rem_b, false, pl, len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(relayed), 2}, {C(tx_pkts), 2});
	assert_false(eps[ida].learned.latched);

	send1(PA, rtp_to(ida, &other, &mac_ra, 3, pl, &len));
	none_sent();
	DELTAS({C(drop_foreign_source), 1});
	assert_int_equal(eps[ida].rx.dropped, 1);

	/* nothing latched: toward A goes to the signalled remote, with the MAC A heard from */
	send1(PB, rtp_to(idb, &rem_b, &mac_rb, 1, pl, &len));
	e = expect_to(ida, &mac_ra, &rem_a, false, pl, len);
	out_check(take(PA), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});

	/* the remote's MAC changes (a gateway fail-over, say): the new one is used from then on */
	send1(PA, rtp_to(ida, &rem_a, &mac_nat, 4, pl, &len));
	rte_pktmbuf_free(take(PB));
	send1(PB, rtp_to(idb, &rem_b, &mac_rb, 2, pl, &len));
	e = expect_to(ida, &mac_nat, &rem_a, false, pl, len);
	out_check(take(PA), &e, NULL);
	DELTAS({C(relayed), 2}, {C(tx_pkts), 2});

	/* without the flag, anyone is relayed */
	ra.flags = 0;
	ep_apply(&ra);
	send1(PA, rtp_to(ida, &other, &mac_ra, 5, pl, &len));
	e = expect_to(idb, &mac_rb, &rem_b, false, pl, len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
	pool_check();
}

/* ---- 5: direction ---- */

static void expect_relayed(unsigned in, uint32_t from, const struct tg_addr *src,
	const struct rte_ether_addr *smac, uint32_t to, const struct rte_ether_addr *dmac,
	const struct tg_addr *dst, uint16_t seq)
{
	uint8_t pl[256];
	uint16_t len;
	struct expect e;

	send1(in, rtp_to(from, src, smac, seq, pl, &len));
	e = expect_to(to, dmac, dst, false, pl, len);
	out_check(take(eps[to].cfg.port_id), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
}

static void expect_dropped(unsigned in, uint32_t from, const struct tg_addr *src,
	const struct rte_ether_addr *smac, int counter, uint16_t seq)
{
	uint8_t pl[256];
	uint16_t len;

	send1(in, rtp_to(from, src, smac, seq, pl, &len));
	none_sent();
	DELTAS({counter, 1});
	pool_check();
}

static void test_direction(void **state)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET), rem_b = remote_b(TG_AF_INET);

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();

	/* A sendonly: what A's remote sends is refused; what B's remote sends reaches A */
	ra.dir = TG_DIR_SEND;
	ep_apply(&ra);
	expect_dropped(PA, ida, &rem_a, &mac_ra, C(drop_direction), 1);
	assert_int_equal(eps[ida].rx.dropped, 1);
	expect_relayed(PB, idb, &rem_b, &mac_rb, ida, &mac_ra, &rem_a, 1);

	/* B recvonly: nothing may be sent to B's remote; B's remote still reaches A */
	ra.dir = DIR_BOTH;
	rb.dir = TG_DIR_RECV;
	ep_apply(&ra);
	ep_apply(&rb);
	expect_dropped(PA, ida, &rem_a, &mac_ra, C(drop_direction), 2);
	expect_relayed(PB, idb, &rem_b, &mac_rb, ida, &mac_ra, &rem_a, 2);

	/* B inactive: neither way */
	rb.dir = 0;
	ep_apply(&rb);
	expect_dropped(PA, ida, &rem_a, &mac_ra, C(drop_direction), 3);
	expect_dropped(PB, idb, &rem_b, &mac_rb, C(drop_direction), 3);

	/* A recvonly: A's remote reaches B (whose MAC is known by now), B's does not reach A */
	rb.dir = DIR_BOTH;
	ra.dir = TG_DIR_RECV;
	ep_apply(&ra);
	ep_apply(&rb);
	expect_relayed(PA, ida, &rem_a, &mac_ra, idb, &mac_rb, &rem_b, 4);
	expect_dropped(PB, idb, &rem_b, &mac_rb, C(drop_direction), 4);

	ra.dir = DIR_BOTH;
	ep_apply(&ra);
	expect_relayed(PA, ida, &rem_a, &mac_ra, idb, &mac_rb, &rem_b, 5);
	expect_relayed(PB, idb, &rem_b, &mac_rb, ida, &mac_ra, &rem_a, 5);
}

/* ---- 6: unlinked, no remote, no neighbour ---- */

static void test_unlinked_no_remote(void **state)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET), rem_b = remote_b(TG_AF_INET);

	ida = ep_create(1, PA, TG_AF_INET, 0);
	idb = ep_create(2, PB, TG_AF_INET, 0);
	ra = ep_req(1, &rem_a);
	rb = ep_req(2, &rem_b);
	ep_apply(&ra);
	ep_apply(&rb);
	next_hops();
	expect_dropped(PA, ida, &rem_a, &mac_ra, C(drop_unlinked), 1);
	assert_int_equal(eps[ida].rx.dropped, 1);

	assert_int_equal(dp_ep_link(app.flows, 1, 2), 0);
	/* B's remote not known from signalling, nor latched */
	rb = ep_req(2, NULL);
	ep_apply(&rb);
	expect_dropped(PA, ida, &rem_a, &mac_ra, C(drop_no_remote), 2);
	rb.flags = TG_EPF_LATCH;
	ep_apply(&rb);
	expect_dropped(PA, ida, &rem_a, &mac_ra, C(drop_no_remote), 3);
	assert_int_equal(eps[ida].rx.dropped, 3);

	/* B's remote speaks: latched, relayed to A's signalled remote; then A reaches it */
	expect_relayed(PB, idb, &rem_b, &mac_rb, ida, &mac_ra, &rem_a, 1);
	expect_relayed(PA, ida, &rem_a, &mac_ra, idb, &mac_rb, &rem_b, 4);

	/* unlinked again: neither way */
	assert_int_equal(dp_ep_link(app.flows, 1, 0), 0);
	expect_dropped(PA, ida, &rem_a, &mac_ra, C(drop_unlinked), 5);
	expect_dropped(PB, idb, &rem_b, &mac_rb, C(drop_unlinked), 2);
}

static struct rte_mbuf *arp_frame(uint16_t op, const struct rte_ether_addr *dmac,
	const struct rte_ether_addr *sha, const uint8_t *spa, const struct rte_ether_addr *tha,
	const uint8_t *tpa)
{
	uint8_t b[60] = {0}; /* padded to the Ethernet minimum, as on a wire */

	eth_write(b, dmac, sha, RTE_ETHER_TYPE_ARP);
	dp_rtp_wr16(b + 14, 1);
	dp_rtp_wr16(b + 16, RTE_ETHER_TYPE_IPV4);
	b[18] = 6;
	b[19] = 4;
	dp_rtp_wr16(b + 20, op);
	memcpy(b + 22, sha->addr_bytes, 6);
	memcpy(b + 28, spa, 4);
	memcpy(b + 32, tha->addr_bytes, 6);
	memcpy(b + 38, tpa, 4);
	return raw_frame(b, sizeof(b));
}

/* An ARP request from 'smac' / sender for target, broadcast. */
static void arp_request_check(struct rte_mbuf *m, const struct rte_ether_addr *smac,
	const struct tg_addr *sender, const struct tg_addr *target)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	static const uint8_t zero[6];

	checking = m;
	assert_true(rte_pktmbuf_data_len(m) >= 42);
	assert_memory_equal(d, mac_bcast.addr_bytes, 6);
	assert_memory_equal(d + 6, smac->addr_bytes, 6);
	assert_int_equal(dp_rtp_rd16(d + 12), RTE_ETHER_TYPE_ARP);
	assert_int_equal(dp_rtp_rd16(d + 14), 1);
	assert_int_equal(dp_rtp_rd16(d + 16), RTE_ETHER_TYPE_IPV4);
	assert_int_equal(d[18], 6);
	assert_int_equal(d[19], 4);
	assert_int_equal(dp_rtp_rd16(d + 20), 1); /* request */
	assert_memory_equal(d + 22, smac->addr_bytes, 6);
	assert_memory_equal(d + 28, sender->a, 4);
	assert_memory_equal(d + 32, zero, 6);
	assert_memory_equal(d + 38, target->a, 4);
	checking = NULL;
	rte_pktmbuf_free(m);
}

/* An IPv6 neighbour solicitation for target, to its solicited-node multicast group. */
static void ns_check(struct rte_mbuf *m, const struct rte_ether_addr *smac,
	const struct tg_addr *sender, const struct tg_addr *target)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *ip = d + 14, *icmp = ip + 40;
	const uint8_t mmac[6] = {0x33, 0x33, 0xff, target->a[13], target->a[14], target->a[15]};
	uint8_t group[16] = {0xff, 0x02};

	group[11] = 0x01;
	group[12] = 0xff;
	memcpy(group + 13, target->a + 13, 3);
	checking = m;
	assert_int_equal(rte_pktmbuf_data_len(m), 14 + 40 + 32);
	assert_memory_equal(d, mmac, 6);
	assert_memory_equal(d + 6, smac->addr_bytes, 6);
	assert_int_equal(dp_rtp_rd16(d + 12), RTE_ETHER_TYPE_IPV6);
	assert_int_equal(ip[0] >> 4, 6);
	assert_int_equal(dp_rtp_rd16(ip + 4), 32);
	assert_int_equal(ip[6], IPPROTO_ICMPV6);
	assert_int_equal(ip[7], 255);
	assert_memory_equal(ip + 8, sender->a, 16);
	assert_memory_equal(ip + 24, group, 16);
	assert_int_equal(icmp[0], 135);
	assert_int_equal(icmp[1], 0);
	assert_int_equal(l4_sum(TG_AF_INET6, ip + 8, ip + 24, IPPROTO_ICMPV6, icmp, 32), 0xffff);
	assert_memory_equal(icmp + 8, target->a, 16);
	assert_int_equal(icmp[24], 1); /* source link-layer address */
	assert_int_equal(icmp[25], 1);
	assert_memory_equal(icmp + 26, smac->addr_bytes, 6);
	checking = NULL;
	rte_pktmbuf_free(m);
}

/* A solicited neighbour advertisement from 'from' for itself, with its link-layer address. */
static struct rte_mbuf *na_frame(const struct tg_addr *from, const struct tg_addr *to,
	const struct rte_ether_addr *smac, const struct rte_ether_addr *dmac)
{
	uint8_t b[14 + 40 + 32] = {0}, *ip = b + 14, *icmp = ip + 40;

	eth_write(b, dmac, smac, RTE_ETHER_TYPE_IPV6);
	dp_rtp_wr32(ip, 6u << 28);
	dp_rtp_wr16(ip + 4, 32);
	ip[6] = IPPROTO_ICMPV6;
	ip[7] = 255;
	memcpy(ip + 8, from->a, 16);
	memcpy(ip + 24, to->a, 16);
	icmp[0] = 136;
	dp_rtp_wr32(icmp + 4, 0x60000000); /* solicited, override */
	memcpy(icmp + 8, from->a, 16);
	icmp[24] = 2; /* target link-layer address */
	icmp[25] = 1;
	memcpy(icmp + 26, smac->addr_bytes, 6);
	dp_rtp_wr16(icmp + 2,
		(uint16_t)~l4_sum(TG_AF_INET6, ip + 8, ip + 24, IPPROTO_ICMPV6, icmp, 32));
	return raw_frame(b, sizeof(b));
}

/*
 * No MAC for B's remote anywhere: dropped, one ARP request / NS on B's port, none more within
 * 200 ms (one more after), and once the answer went through the exception path and the main
 * lcore applied it, the next packet goes out with that MAC.
 */
static void neighbor(uint8_t fam_b)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET), rem_b = remote_b(fam_b);
	const uint64_t t0 = 60000 * MS;
	const uint64_t later[] = {t0 + 1 * MS, t0 + 150 * MS, t0 + 199 * MS};
	uint8_t pl[256];
	uint16_t len;
	struct rte_mbuf *m;
	struct expect e;

	pair_open(TG_AF_INET, fam_b);

	now = t0;
	send1(PA, rtp_to(ida, &rem_a, &mac_ra, 1, pl, &len));
	m = take(PB);
	if (fam_b == TG_AF_INET)
		arp_request_check(m, &port_mac[PB], &eps[idb].cfg.local, &rem_b);
	else
		ns_check(m, &port_mac[PB], &eps[idb].cfg.local, &rem_b);
	DELTAS({C(drop_no_neighbor), 1}, {C(tx_pkts), 1});
	assert_int_equal(eps[ida].rx.dropped, 1);
	for (unsigned i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		now = later[i];
		send1(PA, rtp_to(ida, &rem_a, &mac_ra, (uint16_t)(2 + i), pl, &len));
		none_sent();
		DELTAS({C(drop_no_neighbor), 1});
	}
	now = t0 + 201 * MS;
	send1(PA, rtp_to(ida, &rem_a, &mac_ra, 5, pl, &len));
	m = take(PB);
	if (fam_b == TG_AF_INET)
		arp_request_check(m, &port_mac[PB], &eps[idb].cfg.local, &rem_b);
	else
		ns_check(m, &port_mac[PB], &eps[idb].cfg.local, &rem_b);
	DELTAS({C(drop_no_neighbor), 1}, {C(tx_pkts), 1});
	pool_check();

	/* the answer arrives on B's port: snooped on its way to the kernel */
	if (fam_b == TG_AF_INET)
		m = arp_frame(
			2, &port_mac[PB], &mac_rb, rem_b.a, &port_mac[PB], eps[idb].cfg.local.a);
	else
		m = na_frame(&rem_b, &eps[idb].cfg.local, &mac_rb, &port_mac[PB]);
	send1(PB, m);
	rte_pktmbuf_free(take(PX));
	DELTAS({C(exc_to_kernel), 1}, {C(tx_pkts), 1});
	/* not usable until the table's writer has applied it */
	send1(PA, rtp_to(ida, &rem_a, &mac_ra, 6, pl, &len));
	none_sent();
	DELTAS({C(drop_no_neighbor), 1});
	assert_int_equal(dp_neigh_apply(app.neigh), 1);

	send1(PA, rtp_to(ida, &rem_a, &mac_ra, 7, pl, &len));
	e = expect_to(idb, &mac_rb, &rem_b, false, pl, len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
	assert_false(eps[idb].learned.have_mac); /* from the table, not from B's remote */
}

static void test_neighbor_arp(void **state)
{
	neighbor(TG_AF_INET);
}

static void test_neighbor_nd(void **state)
{
	neighbor(TG_AF_INET6);
}

/* ---- 7, 8: RTP rewrite and payload-type map ---- */

static void test_rtp_rewrite(void **state)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET), rem_b = remote_b(TG_AF_INET);
	enum { N = 8, N_X = 5 };
	uint16_t out_seq[N];
	uint32_t out_ts[N];
	uint8_t pl[256], out[256];
	uint16_t len;
	struct expect e;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	rb.flags = TG_EPF_REWRITE_RTP;
	rb.out_ssrc = 0x5eed5eed;
	ep_apply(&rb);

	/* SSRC X, sequence numbers wrapping 65533..1, then SSRC Y from 7000: one stream out */
	for (unsigned i = 0; i < N; i++) {
		const bool x = i < N_X;
		const uint16_t seq = x ? (uint16_t)(65533 + i) : (uint16_t)(7000 + i - N_X);
		const uint32_t ts = x ? 0xfffffe00u + 160 * i : 900000 + 160 * (i - N_X);

		len = rtp_make(pl, 0, i == N_X, seq, ts, x ? 0x1111 : 0x2222, 160);
		send1(PA, to_ep(ida, &rem_a, &mac_ra, 0, pl, len));
		e = expect_to(idb, &mac_nh, &rem_b, false, NULL, len);
		out_check(take(PB), &e, out); /* checksums valid after the rewrite */
		assert_int_equal(out[0], pl[0]);
		assert_int_equal(out[1], pl[1]);
		assert_memory_equal(out + 12, pl + 12, len - 12);
		assert_int_equal(dp_rtp_ssrc(out), 0x5eed5eed);
		out_seq[i] = dp_rtp_seq(out);
		out_ts[i] = dp_rtp_ts(out);
	}
	DELTAS({C(relayed), N}, {C(tx_pkts), N});
	for (unsigned i = 1; i < N; i++) {
		assert_int_equal(out_seq[i], (uint16_t)(out_seq[i - 1] + 1));
		/* 20 ms apart at 8 kHz, across the switch too */
		assert_int_equal((uint32_t)(out_ts[i] - out_ts[i - 1]), 160);
	}

	/* toward A nothing asked for a rewrite: the header is the sender's */
	len = rtp_make(pl, 8, true, 4242, 0x01020304, 0xabcdef01, 160);
	send1(PB, to_ep(idb, &rem_b, &mac_rb, 0, pl, len));
	e = expect_to(ida, &mac_ra, &rem_a, false, pl, len);
	out_check(take(PA), &e, NULL);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
}

static void test_pt_map(void **state)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET), rem_b = remote_b(TG_AF_INET);
	const struct {
		uint8_t pt;
		bool marker;
		uint8_t out;
	} cases[] = {
		{96, true, 0x80 | 101},
		{96, false, 101},
		{0, true, 0x80 | 0},
		{97, false, 97},
		{101, false, 101},
	};
	struct tg_addr src = rem_a, dst = rem_b;
	uint8_t pl[256], want[256];
	uint16_t len;
	struct expect e;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	rb.pt_in = 96;
	rb.pt_out = 101;
	ep_apply(&rb);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = rtp_make(
			pl, cases[i].pt, cases[i].marker, (uint16_t)(10 + i), 160 * i, 7, 20);
		memcpy(want, pl, len);
		want[1] = cases[i].out;
		send1(PA, to_ep(ida, &rem_a, &mac_ra, 0, pl, len));
		e = expect_to(idb, &mac_nh, &rem_b, false, want, len);
		out_check(take(PB), &e, NULL);
	}
	DELTAS({C(relayed), 5}, {C(tx_pkts), 5});

	/* RTCP is never mapped, even when its packet type reads as the mapped value */
	rb.pt_in = 200 & 0x7f;
	rb.pt_out = 0;
	ep_apply(&rb);
	len = rtcp_sr(pl, 9);
	src.port = 4001;
	dst.port = 5001;
	send1(PA, to_ep(ida, &src, &mac_ra, 1, pl, len));
	e = expect_to(idb, &mac_nh, &dst, true, pl, len);
	out_check(take(PB), &e, NULL);
	DELTAS({C(rtcp), 1}, {C(relayed), 1}, {C(tx_pkts), 1});
}

/* ---- 9: malformed ---- */

static void ip4_fix(uint8_t *ip)
{
	dp_rtp_wr16(ip + 10, 0);
	dp_rtp_wr16(ip + 10, (uint16_t)~fold(sum_be(ip, (ip[0] & 0xf) * 4u, 0)));
}

/* Builds the i-th malformed frame toward A and says which counter it must bump. */
static struct rte_mbuf *bad_frame(unsigned i, int *counter)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET), rem_a6 = remote_a(TG_AF_INET6);
	struct frame f = frame_to(ida, &rem_a, &mac_ra, 0);
	uint8_t pl[256], *d;
	struct rte_mbuf *m;

	f.pl = pl;
	f.len = rtp_make(pl, 0, false, (uint16_t)i, 0, 1, 40);
	*counter = C(drop_malformed);
	switch (i) {
	case 0: /* IPv4 header cut short */
		m = frame_build(&f);
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - (14 + 19)));
		return m;
	case 1: /* IP total length one byte beyond the frame */
		m = frame_build(&f);
		d = rte_pktmbuf_mtod(m, uint8_t *);
		dp_rtp_wr16(d + 16, (uint16_t)(dp_rtp_rd16(d + 16) + 1));
		ip4_fix(d + 14);
		return m;
	case 2: /* UDP length one byte beyond the IP payload */
		m = frame_build(&f);
		d = rte_pktmbuf_mtod(m, uint8_t *);
		dp_rtp_wr16(d + 34 + 4, (uint16_t)(dp_rtp_rd16(d + 34 + 4) + 1));
		return m;
	case 3: /* UDP length below its own header */
		m = frame_build(&f);
		d = rte_pktmbuf_mtod(m, uint8_t *);
		dp_rtp_wr16(d + 34 + 4, 7);
		return m;
	case 4: /* IHL below 5 */
		m = frame_build(&f);
		d = rte_pktmbuf_mtod(m, uint8_t *);
		d[14] = 0x44;
		return m;
	case 5: /* IPv6 payload length one byte beyond the frame */
		f = frame_to(ida, &rem_a6, &mac_ra, 0);
		f.dst = addr("2001:db8:a::1", 20000);
		f.pl = pl;
		f.len = 40;
		m = frame_build(&f);
		d = rte_pktmbuf_mtod(m, uint8_t *);
		dp_rtp_wr16(d + 18, (uint16_t)(dp_rtp_rd16(d + 18) + 1));
		return m;
	case 6: /* IPv6 header cut short */
		f = frame_to(ida, &rem_a6, &mac_ra, 0);
		f.dst = addr("2001:db8:a::1", 20000);
		f.pl = pl;
		f.len = 40;
		m = frame_build(&f);
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - (14 + 39)));
		return m;
	case 7: /* IPv4 options on a media port */
		*counter = C(drop_ip_options);
		f.opt_words = 1;
		return frame_build(&f);
	case 8: /* the first fragment of a datagram for a media port */
		*counter = C(drop_fragment);
		f.frag = 0x2000; /* MF, offset 0 */
		return frame_build(&f);
	case 9: /* RTP version 0 */
		*counter = C(drop_not_rtp);
		pl[0] = 0x00;
		return frame_build(&f);
	case 10: /* RTP version 1 */
		*counter = C(drop_not_rtp);
		pl[0] = 0x40;
		return frame_build(&f);
	case 11: /* shorter than an RTP header */
		*counter = C(drop_not_rtp);
		f.len = 11;
		return frame_build(&f);
	case 12: /* empty datagram */
		*counter = C(drop_not_rtp);
		f.len = 0;
		return frame_build(&f);
	case 13: /* shorter than an RTCP header, on the RTCP port */
		*counter = C(drop_not_rtp);
		f.dst.port++;
		rtcp_sr(pl, 1);
		f.len = 7;
		return frame_build(&f);
	default:
		return NULL;
	}
}

#define N_BAD 14

static void test_malformed(void **state)
{
	struct rte_mbuf *all[N_BAD];
	uint64_t want[TG_DPC__COUNT] = {0};
	int counter;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	for (unsigned i = 0; i < N_BAD; i++) {
		struct rte_mbuf *m = bad_frame(i, &counter);

		assert_non_null(m);
		send1(PA, m);
		none_sent();
		deltas_check((const struct delta[]){{counter, 1}, {-1, 0}});
		pool_check();
	}
	/* the endpoint counts those that reached it: options, fragment refused before lookup
	 * counts nothing per endpoint, five not-RTP */
	assert_int_equal(eps[ida].rx.dropped, 1 + 5);
	assert_int_equal(eps[ida].rx.rtp.packets, 0);

	/* all in one burst */
	for (unsigned i = 0; i < N_BAD; i++) {
		all[i] = bad_frame(i, &counter);
		want[counter]++;
	}
	burst(PA, all, N_BAD);
	none_sent();
	for (unsigned i = 0; i < TG_DPC__COUNT; i++)
		assert_int_equal(ctrs->v[i] - snap[i], want[i]);
	memcpy(snap, ctrs->v, sizeof(snap));
	pool_check();
}

/* ---- 10: exception path ---- */

static struct rte_mbuf *copy_of(struct rte_mbuf *m, uint8_t *bytes, uint16_t *len)
{
	*len = rte_pktmbuf_data_len(m);
	memcpy(bytes, rte_pktmbuf_mtod(m, const uint8_t *), *len);
	return m;
}

static void same_frame(struct rte_mbuf *m, const uint8_t *bytes, uint16_t len)
{
	checking = m;
	assert_int_equal(rte_pktmbuf_data_len(m), len);
	assert_memory_equal(rte_pktmbuf_mtod(m, const uint8_t *), bytes, len);
	checking = NULL;
	rte_pktmbuf_free(m);
}

/* Frames the relay does not own, received on A's port. */
static struct rte_mbuf *not_ours(unsigned i)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET);
	struct frame f = frame_to(ida, &rem_a, &mac_ra, 0);
	uint8_t pl[64] = "INVITE sip:bob@example.com SIP/2.0\r\n";
	struct rte_mbuf *m;
	uint8_t *d;

	f.pl = pl;
	f.len = 40;
	switch (i) {
	case 0: /* ARP request for A's address */
		return arp_frame(1, &mac_bcast, &mac_ra, rem_a.a, &mac_bcast, eps[ida].cfg.local.a);
	case 1: /* SIP: UDP to a port with no flow */
		f.dst.port = 5060;
		return frame_build(&f);
	case 2: /* ICMP */
		m = frame_build(&f);
		d = rte_pktmbuf_mtod(m, uint8_t *);
		d[14 + 9] = IPPROTO_ICMP;
		ip4_fix(d + 14);
		return m;
	case 3: /* a later fragment, even of a media port's datagram: no ports in it */
		f.frag = 0x0010;
		return frame_build(&f);
	case 4: /* the first fragment of a datagram for a port with no flow */
		f.dst.port = 5060;
		f.frag = 0x2000;
		return frame_build(&f);
	case 5: /* to another local address */
		f.dst = addr("10.0.0.99", eps[ida].cfg.local.port);
		return frame_build(&f);
	default:
		return NULL;
	}
}

#define N_NOT_OURS 6

static void test_exception(void **state)
{
	uint8_t bytes[N_NOT_OURS][256];
	uint16_t len[N_NOT_OURS];
	struct rte_mbuf *m;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	for (unsigned i = 0; i < N_NOT_OURS; i++) {
		send1(PA, copy_of(not_ours(i), bytes[i], &len[i]));
		same_frame(take(PX), bytes[i], len[i]);
		DELTAS({C(exc_to_kernel), 1}, {C(tx_pkts), 1});
	}
	assert_int_equal(eps[ida].rx.dropped, 0);

	/* no exception path on this port: dropped */
	app.ports[PA].exception = -1;
	for (unsigned i = 0; i < N_NOT_OURS; i++) {
		send1(PA, not_ours(i));
		none_sent();
		DELTAS({C(drop_no_flow), 1});
	}
	pool_check();

	/* what the kernel sends on the TAP leaves through its media port, unchanged */
	m = copy_of(not_ours(1), bytes[0], &len[0]);
	dp_exception_out(&lc, PX, &m, 1);
	dp_tx_flush(&lc);
	same_frame(take(PA), bytes[0], len[0]);
	DELTAS({C(exc_from_kernel), 1}, {C(tx_pkts), 1});
	app.ports[PX].exception = -1;
	m = not_ours(1);
	dp_exception_out(&lc, PX, &m, 1);
	dp_tx_flush(&lc);
	none_sent();
	DELTAS({C(drop_no_flow), 1});
	pool_check();
}

/* One burst mixing every verdict: each packet's lookup result must be its own. */
static void test_mixed_burst(void **state)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET);
	struct rte_mbuf *pkts[12], *out[16];
	uint8_t exc[5][256], pl[256], sr[64], got[256];
	uint16_t exc_len[5], len, srlen = rtcp_sr(sr, 3);
	struct tg_addr rtcp_src = rem_a;
	int counter;
	unsigned n;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	rtcp_src.port = 4001;
	pkts[0] = copy_of(not_ours(0), exc[0], &exc_len[0]); /* ARP */
	pkts[1] = rtp_to(ida, &rem_a, &mac_ra, 1, pl, &len);
	pkts[2] = bad_frame(0, &counter);		     /* truncated */
	pkts[3] = copy_of(not_ours(1), exc[1], &exc_len[1]); /* no flow */
	pkts[4] = rtp_to(ida, &rem_a, &mac_ra, 2, pl, &len);
	pkts[5] = copy_of(not_ours(3), exc[2], &exc_len[2]); /* later fragment */
	pkts[6] = to_ep(ida, &rtcp_src, &mac_ra, 1, sr, srlen);
	pkts[7] = bad_frame(7, &counter);		      /* options */
	pkts[8] = bad_frame(8, &counter);		      /* first fragment, a hit */
	pkts[9] = copy_of(not_ours(1), exc[3], &exc_len[3]);  /* a miss right after it */
	pkts[10] = copy_of(not_ours(4), exc[4], &exc_len[4]); /* first fragment, a miss */
	pkts[11] = rtp_to(ida, &rem_a, &mac_ra, 3, pl, &len); /* a hit right after it */
	burst(PA, pkts, 12);

	n = sent(PB, out, 16);
	assert_int_equal(n, 4);
	for (unsigned i = 0; i < n; i++) {
		const bool rtcp = i == 2;
		struct tg_addr dst = remote_b(TG_AF_INET);
		struct expect e;

		dst.port = (uint16_t)(dst.port + rtcp);
		e = expect_to(idb, &mac_nh, &dst, rtcp, NULL, rtcp ? srlen : len);
		out_check(out[i], &e, got);
		if (rtcp)
			assert_memory_equal(got, sr, srlen);
		else
			assert_int_equal(dp_rtp_seq(got), i < 2 ? i + 1 : 3);
	}
	n = sent(PX, out, 16);
	assert_int_equal(n, 5);
	for (unsigned i = 0; i < n; i++)
		same_frame(out[i], exc[i], exc_len[i]);
	none_sent();
	DELTAS({C(relayed), 4}, {C(rtcp), 1}, {C(exc_to_kernel), 5}, {C(drop_malformed), 1},
		{C(drop_ip_options), 1}, {C(drop_fragment), 1}, {C(tx_pkts), 9});
}

/* The per-port TX buffer sends by itself when full; what a full TX ring refuses is freed. */
static void test_tx_buffer(void **state)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET);
	struct rte_mbuf *pkts[DP_BURST], *out[DP_TX_BUF];
	uint8_t pl[256];
	uint16_t len, seq = 0, want_seq = 0;
	uint64_t relayed = 0, n_out;
	unsigned n;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	/* three bursts of 32, a quarter of them for the kernel, without a flush */
	for (unsigned b = 0; b < 3; b++) {
		for (unsigned i = 0; i < DP_BURST; i++)
			pkts[i] = i % 4 == 3 ? not_ours(1)
					     : rtp_to(ida, &rem_a, &mac_ra, seq++, pl, &len);
		dp_relay_burst(&lc, PA, pkts, DP_BURST, now);
		if (b < 2)
			none_sent();
	}
	n = sent(PB, out, DP_TX_BUF);
	assert_int_equal(n, DP_TX_BUF);
	for (unsigned i = 0; i < n; i++, want_seq++) {
		assert_int_equal(
			dp_rtp_seq(rte_pktmbuf_mtod_offset(out[i], uint8_t *, 42)), want_seq);
		rte_pktmbuf_free(out[i]);
	}
	none_sent();
	dp_tx_flush(&lc);
	n = sent(PB, out, DP_TX_BUF);
	assert_int_equal(n, 72 - DP_TX_BUF);
	for (unsigned i = 0; i < n; i++, want_seq++) {
		assert_int_equal(
			dp_rtp_seq(rte_pktmbuf_mtod_offset(out[i], uint8_t *, 42)), want_seq);
		rte_pktmbuf_free(out[i]);
	}
	n = sent(PX, out, DP_TX_BUF);
	assert_int_equal(n, 24);
	rte_pktmbuf_free_bulk(out, n);
	DELTAS({C(relayed), 72}, {C(exc_to_kernel), 24}, {C(tx_pkts), 96});

	/* nobody drains port B: its ring fills up and the rest is refused, counted and freed */
	for (unsigned b = 0; b < 40; b++) {
		for (unsigned i = 0; i < DP_BURST; i++)
			pkts[i] = rtp_to(ida, &rem_a, &mac_ra, seq++, pl, &len);
		burst(PA, pkts, DP_BURST);
		relayed += DP_BURST;
	}
	assert_int_equal(ctrs->v[C(relayed)] - snap[C(relayed)], relayed);
	assert_int_equal(ctrs->v[C(tx_pkts)] - snap[C(tx_pkts)] + ctrs->v[C(drop_tx_full)] -
				 snap[C(drop_tx_full)],
		relayed);
	assert_true(ctrs->v[C(drop_tx_full)] > snap[C(drop_tx_full)]);
	n_out = 0;
	while ((n = sent(PB, out, DP_TX_BUF))) {
		n_out += n;
		rte_pktmbuf_free_bulk(out, n);
	}
	assert_int_equal(n_out, ctrs->v[C(tx_pkts)] - snap[C(tx_pkts)]);
	memcpy(snap, ctrs->v, sizeof(snap));
	none_sent();
	pool_check();
}

/*
 * The remote moves (a re-INVITE) before it has sent anything: the MAC must be the new remote's
 * (neighbour table) at once, and a remote nobody knows must be asked for: the MAC cached per
 * endpoint (dp_ep_tx.nh_mac) belongs to the remote it was looked up for (cfg.gen).
 */
static void test_remote_change_neighbor(void **state)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET), rem_b = remote_b(TG_AF_INET),
			     rem_b2 = addr("198.51.100.3", 5002),
			     rem_b3 = addr("198.51.100.4", 5004);
	const struct rte_ether_addr mac_rb2 = {{0x02, 0xbb, 0, 0, 0, 0x03}};
	uint8_t pl[256];
	uint16_t len;

	pair_open(TG_AF_INET, TG_AF_INET);
	/* both remotes in the neighbour table (snooped ARP replies); neither has sent media */
	send1(PB,
		arp_frame(2, &port_mac[PB], &mac_rb, rem_b.a, &port_mac[PB], eps[idb].cfg.local.a));
	rte_pktmbuf_free(take(PX));
	send1(PB, arp_frame(2, &port_mac[PB], &mac_rb2, rem_b2.a, &port_mac[PB],
			  eps[idb].cfg.local.a));
	rte_pktmbuf_free(take(PX));
	assert_int_equal(dp_neigh_apply(app.neigh), 2);
	DELTAS({C(exc_to_kernel), 2}, {C(tx_pkts), 2});
	expect_relayed(PA, ida, &rem_a, &mac_ra, idb, &mac_rb, &rem_b, 1);

	rb.remote = rem_b2;
	ep_apply(&rb);
	expect_relayed(PA, ida, &rem_a, &mac_ra, idb, &mac_rb2, &rem_b2, 2);

	rb.remote = rem_b3;
	ep_apply(&rb);
	send1(PA, rtp_to(ida, &rem_a, &mac_ra, 3, pl, &len));
	arp_request_check(take(PB), &port_mac[PB], &eps[idb].cfg.local, &rem_b3);
	DELTAS({C(drop_no_neighbor), 1}, {C(tx_pkts), 1});
}

/* ---- 11: statistics ---- */

static void test_stats(void **state)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET);
	struct tg_msg_ep_stats st;
	uint8_t pl[256];
	uint16_t len = 0;
	uint64_t bytes = 0;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	for (uint16_t s = 1000; s < 1010; s++) {
		len = rtp_make(pl, 0, false, s, s * 160u, 0x77, 160);
		bytes += len;
		send1(PA, to_ep(ida, &rem_a, &mac_ra, 0, pl, len));
		rte_pktmbuf_free(take(PB));
	}
	DELTAS({C(relayed), 10}, {C(tx_pkts), 10});
	assert_int_equal(eps[ida].rx.rtp.packets, 10);
	memset(&st, 0, sizeof(st));
	dp_ep_stats_fill(&eps[ida], now, &st);
	assert_int_equal(st.key, 1);
	assert_int_equal(st.rx_pkts, 10);
	assert_int_equal(st.rx_bytes, bytes);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.out_of_order, 0);
	assert_int_equal(st.duplicates, 0);
	assert_int_equal(st.last_rx_ms_ago, 20);
	assert_true(st.mos_x100 > 400);
	memset(&st, 0, sizeof(st));
	dp_ep_stats_fill(&eps[idb], now, &st);
	assert_int_equal(st.tx_pkts, 10);
	assert_int_equal(st.rx_pkts, 0);
	assert_int_equal(st.last_rx_ms_ago, UINT32_MAX);

	/* 1010 and 1011 never come */
	for (uint16_t s = 1012; s < 1015; s++) {
		len = rtp_make(pl, 0, false, s, s * 160u, 0x77, 160);
		send1(PA, to_ep(ida, &rem_a, &mac_ra, 0, pl, len));
		rte_pktmbuf_free(take(PB));
	}
	memset(&st, 0, sizeof(st));
	dp_ep_stats_fill(&eps[ida], now, &st);
	assert_int_equal(st.rx_pkts, 13);
	assert_int_equal(st.lost, 2);
	DELTAS({C(relayed), 3}, {C(tx_pkts), 3});
}

/* ---- 13: DTMF ---- */

static struct tg_msg_ep_dtmf dtmf_req(uint64_t key, const char *digits)
{
	struct tg_msg_ep_dtmf r = {.key = key, .pt = 101};

	r.n_digits = (uint8_t)strlen(digits);
	memcpy(r.digits, digits, r.n_digits);
	return r;
}

/* A frame's RTP, read back after out_check(). */
struct rtp_seen {
	uint8_t pt;
	bool marker, end;
	uint16_t seq;
	uint32_t ts, ssrc;
	uint8_t event;
	uint16_t duration;
	uint64_t at;
};

/*
 * "1#" played from B toward B's remote while A's remote sends audio every 20 ms (relayed to B's
 * remote): the audio relayed before, the 14 event packets and the audio after form one stream
 * (one SSRC, sequence numbers by one), the audio is held back while each event plays, every
 * frame leaves from B's address with valid checksums.
 */
static void dtmf_play(uint8_t family, uint8_t flags)
{
	const struct tg_addr rem_a = remote_a(family), rem_b = remote_b(family);
	struct tg_msg_ep_dtmf req = dtmf_req(2, "1#");
	const uint64_t base = now;
	struct rtp_seen seen[64];
	unsigned n_seen = 0, n_ev = 0, held = 0, work = 0;
	uint32_t play_ms = 0;
	uint16_t audio_seq = 3000;
	uint8_t pl[256];

	pair_open(family, family);
	next_hops();
	if (flags) {
		rb.flags = flags;
		rb.out_ssrc = 0x0ddba11;
		ep_apply(&rb);
	}
	/* 10 ms steps: audio from A's remote on the 20 ms marks, the digits from 110 ms on */
	for (uint64_t t = base; t <= base + 500 * MS; t += 10 * MS) {
		struct rte_mbuf *out[8];
		unsigned n;

		if ((t - base) % (20 * MS) == 0) {
			struct rte_mbuf *m;
			uint16_t len =
				rtp_make(pl, 0, false, audio_seq, audio_seq * 160u, 0xa0d10u, 160);

			m = to_ep(ida, &rem_a, &mac_ra, 0, pl, len);
			audio_seq++;
			dp_relay_burst(&lc, PA, &m, 1, t);
			dp_tx_flush(&lc);
		}
		if (t == base + 110 * MS) {
			assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), 0);
			assert_int_equal(play_ms, 270);
			assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), -EBUSY);
			assert_int_equal(dp_dtmf_take_jobs(&lc, t), 1);
		}
		if (lc.n_players)
			(void)dp_dtmf_run(&lc, t, &work);
		dp_tx_flush(&lc);
		n = sent(PB, out, 8);
		for (unsigned i = 0; i < n; i++) {
			uint8_t got[256];
			const uint16_t plen = (uint16_t)(rte_pktmbuf_data_len(out[i]) - 14 -
							 (family == TG_AF_INET ? 20 : 40) - 8);
			struct expect e = expect_to(idb, &mac_nh, &rem_b, false, NULL, plen);
			struct rtp_seen *s = &seen[n_seen++];

			assert_true(n_seen <= 64);
			out_check(out[i], &e, got); /* addresses, ports, both checksums */
			s->pt = got[1] & 0x7f;
			s->marker = got[1] & 0x80;
			s->seq = dp_rtp_seq(got);
			s->ts = dp_rtp_ts(got);
			s->ssrc = dp_rtp_ssrc(got);
			s->at = t;
			if (s->pt == 101) {
				assert_int_equal(plen, 16);
				s->event = got[12];
				s->end = got[13] & 0x80;
				assert_int_equal(got[13] & 0x3f, 10);
				s->duration = dp_rtp_rd16(got + 14);
				n_ev++;
			} else {
				assert_int_equal(plen, 172);
			}
		}
		none_sent();
	}
	/* 26 audio packets offered; 12 of them (120..220 and 280..380 ms) held back */
	held = (unsigned)(ctrs->v[C(drop_dtmf_playing)] - snap[C(drop_dtmf_playing)]);
	assert_int_equal(held, 12);
	assert_int_equal(n_ev, 14);
	assert_int_equal(n_seen, 26 - 12 + 14);
	for (unsigned i = 0; i < n_seen; i++) {
		if (i)
			assert_int_equal(seen[i].seq, (uint16_t)(seen[i - 1].seq + 1));
		assert_int_equal(seen[i].ssrc, flags ? 0x0ddba11 : 0xa0d10u);
		if (i && seen[i].pt != 101 && seen[i - 1].pt != 101)
			assert_int_equal(seen[i].ts - seen[i - 1].ts, 160); /* audio steps */
	}
	/* the events: 6 audio packets, '1' (7), audio at 240 and 260 ms, '#' (7), audio */
	for (unsigned e = 0; e < 2; e++) {
		const unsigned first = e ? 15 : 6;

		for (unsigned j = 0; j < 7; j++) {
			const struct rtp_seen *s = &seen[first + j];

			assert_int_equal(s->pt, 101);
			assert_int_equal(s->event, e ? 11 : 1);
			assert_int_equal(s->marker, j == 0);
			assert_int_equal(s->end, j >= 4);
			assert_int_equal(s->duration, j >= 4 ? 800 : 160 * (j + 1));
			assert_int_equal(s->ts, seen[first].ts);
			assert_int_equal(s->at, base + (110 + 150 * e + 20 * j) * MS);
		}
	}
	/* '1' 10 ms after the audio of 100 ms; the audio after it continues at the wall clock */
	assert_int_equal(seen[6].ts, seen[5].ts + 80);
	assert_int_equal(seen[13].ts, seen[6].ts + 130 * 8);
	assert_int_equal(seen[15].ts, seen[14].ts + 1);
	assert_true(eps[idb].dtmf_done == eps[idb].dtmf_req);
	assert_int_equal(lc.n_players, 0);
	assert_false(eps[idb].tx.rtp.playing);
	DELTAS({C(relayed), 14}, {C(tx_pkts), 28}, {C(drop_dtmf_playing), 12}, {C(dtmf_sent), 14},
		{C(dtmf_played), 1});
	/* done: another string is accepted */
	assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), 0);
	assert_int_equal(dp_dtmf_take_jobs(&lc, now), 1);
	pool_check();
}

static void test_dtmf_play_v4(void **state)
{
	dtmf_play(TG_AF_INET, 0);
}

static void test_dtmf_play_v6_rewrite(void **state)
{
	dtmf_play(TG_AF_INET6, TG_EPF_REWRITE_RTP);
}

/* What EP_DTMF refuses, and a string abandoned when its endpoint goes. */
static void test_dtmf_submit(void **state)
{
	const struct tg_addr rem_b = remote_b(TG_AF_INET);
	struct tg_msg_ep_dtmf req = dtmf_req(2, "123");
	uint32_t play_ms = 0, work = 0;
	uint32_t idc;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	req.key = 77;
	assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), -ENOENT);
	req.key = 2;
	req.n_digits = 0;
	assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), -EINVAL);
	req.n_digits = TG_DTMF_DIGITS_MAX + 1;
	assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), -EINVAL);
	req = dtmf_req(2, "12E");
	assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), -EINVAL);
	req = dtmf_req(2, "123");
	req.pt = 0;
	assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), -EINVAL);
	req.pt = 101;
	req.volume = 64;
	assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), -EINVAL);
	req.volume = 0;
	req.duration_ms = 9000;
	assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), -EINVAL);
	req.duration_ms = 0;
	/* no remote yet; a remote of the other family; a direction that does not send */
	idc = ep_create(3, PB, TG_AF_INET, 0);
	req.key = 3;
	assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), -ENOTCONN);
	{
		struct tg_addr r6 = remote_b(TG_AF_INET6);
		struct tg_msg_ep u = ep_req(3, &r6);

		ep_apply(&u);
		assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), -ENOTCONN);
		u = ep_req(3, &rem_b);
		u.dir = TG_DIR_RECV;
		ep_apply(&u);
		assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), -ENOTCONN);
		u.dir = TG_DIR_SEND;
		ep_apply(&u);
	}
	assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), 0);
	assert_int_equal(play_ms, 2 * 150 + 120);
	assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), -EBUSY);
	/* played from an endpoint with no peer: the first packet goes out */
	assert_int_equal(dp_dtmf_take_jobs(&lc, now), 1);
	(void)dp_dtmf_run(&lc, now, &work);
	dp_tx_flush(&lc);
	rte_pktmbuf_free(take(PB));
	assert_true(eps[idc].tx.rtp.playing);
	/* deleted mid-digit: the player lets go without writing to the slot again */
	assert_int_equal(dp_ep_delete(app.flows, 3, &idc), 0);
	(void)dp_dtmf_run(&lc, now + 20 * MS, &work);
	dp_tx_flush(&lc);
	assert_int_equal(lc.n_players, 0);
	none_sent();
	DELTAS({C(dtmf_sent), 1}, {C(tx_pkts), 1});
	/* a string of 32 with the longest duration */
	req = dtmf_req(2, "0123456789*#ABCDabcd0123456789*#");
	req.duration_ms = 8191;
	req.gap_ms = 10000;
	req.volume = 63;
	assert_int_equal(dp_dtmf_submit(&app, &req, &play_ms), 0);
	assert_int_equal(play_ms, 31 * (8191 + 10000) + (410 + 1) * 20);
}

/* An RFC 4733 packet from A's remote. */
static uint16_t ev_make(uint8_t *b, uint16_t seq, uint32_t ts, uint8_t event, bool marker, bool end,
	uint16_t duration)
{
	uint16_t len = rtp_make(b, 101, marker, seq, ts, 0xfeed, 0);

	b[12] = event;
	b[13] = (uint8_t)((end ? 0x80 : 0) | 7);
	dp_rtp_wr16(b + 14, duration);
	return (uint16_t)(len + 4);
}

/*
 * A's remote sends digits to A (te_pt 101): every packet is still relayed to B's remote, one
 * DTMF event per digit goes to the lcore's outbox whatever the repeats, a lost end is reported
 * on the next event and on the timeout, hostile payloads are counted and relayed.
 */
static void test_dtmf_detect(void **state)
{
	const struct tg_addr rem_a = remote_a(TG_AF_INET), rem_b = remote_b(TG_AF_INET);
	static const uint16_t dur[7] = {160, 320, 480, 640, 800, 800, 800};
	uint8_t pl[256];
	uint16_t len, seq = 10;
	unsigned relayed = 0, work = 0;
	struct expect e;

	pair_open(TG_AF_INET, TG_AF_INET);
	next_hops();
	ra.te_pt = 101;
	ep_apply(&ra);
	/* '5' with its end, the first update repeated; '*' without its end; '9' with it */
	for (unsigned d = 0; d < 3; d++) {
		const uint8_t ev = d == 0 ? 5 : d == 1 ? 10 : 9;

		for (unsigned j = 0; j < 7; j++) {
			if (d == 1 && j >= 4)
				continue;
			for (unsigned rep = 0; rep < (j == 1 ? 2u : 1u); rep++) {
				len = ev_make(
					pl, seq++, 1000 + 2000 * d, ev, j == 0, j >= 4, dur[j]);
				send1(PA, to_ep(ida, &rem_a, &mac_ra, 0, pl, len));
				e = expect_to(idb, &mac_nh, &rem_b, false, pl, len);
				out_check(take(PB), &e, NULL);
				relayed++;
			}
		}
	}
	assert_int_equal(lc.n_evt_out, 3);
	{
		const struct tg_msg_dtmf *m0 = &lc.evt_out[0].u.dtmf, *m1 = &lc.evt_out[1].u.dtmf,
					 *m2 = &lc.evt_out[2].u.dtmf;

		assert_int_equal(lc.evt_out[0].type, TG_MSG_DTMF);
		assert_int_equal(lc.evt_out[0].req_id, 0);
		assert_int_equal(m0->key, 1);
		assert_int_equal(m0->digit, '5');
		assert_int_equal(m0->event, 5);
		assert_int_equal(m0->duration_ms, 100);
		assert_int_equal(m0->volume, 7);
		assert_int_equal(m0->end, 1);
		assert_int_equal(m0->timestamp, 1000);
		assert_int_equal(m1->digit, '*');
		assert_int_equal(m1->end, 0);
		assert_int_equal(m1->duration_ms, 80);
		assert_int_equal(m2->digit, '9');
		assert_int_equal(m2->end, 1);
	}
	DELTAS({C(relayed), relayed}, {C(tx_pkts), relayed}, {C(dtmf_detected), 3});
	lc.n_evt_out = 0;

	/* hostile: a bare header, 3 bytes of event, event 16 and 200: counted, still relayed */
	for (unsigned i = 0; i < 4; i++) {
		len = ev_make(pl, seq++, 90000 + i, i < 2 ? 1 : i == 2 ? 16 : 200, true, true, 800);
		if (i < 2)
			len = (uint16_t)(12 + 3 * i);
		send1(PA, to_ep(ida, &rem_a, &mac_ra, 0, pl, len));
		e = expect_to(idb, &mac_nh, &rem_b, false, pl, len);
		out_check(take(PB), &e, NULL);
	}
	assert_int_equal(lc.n_evt_out, 0);
	DELTAS({C(relayed), 4}, {C(tx_pkts), 4}, {C(dtmf_bad), 4});

	/* '0' without its end, then silence: the lcore's watch list reports it after 500 ms */
	for (unsigned j = 0; j < 3; j++) {
		len = ev_make(pl, seq++, 100000, 0, j == 0, false, dur[j]);
		send1(PA, to_ep(ida, &rem_a, &mac_ra, 0, pl, len));
		rte_pktmbuf_free(take(PB));
	}
	assert_int_equal(lc.n_watch, 1);
	assert_true(dp_dtmf_run(&lc, now, &work) <= now + DP_DTMF_DET_TIMEOUT_NS);
	assert_int_equal(lc.n_evt_out, 0);
	(void)dp_dtmf_run(&lc, now + DP_DTMF_DET_TIMEOUT_NS, &work);
	assert_int_equal(lc.n_evt_out, 1);
	assert_int_equal(lc.evt_out[0].u.dtmf.digit, '0');
	assert_int_equal(lc.evt_out[0].u.dtmf.end, 0);
	assert_int_equal(lc.evt_out[0].u.dtmf.duration_ms, 60);
	assert_int_equal(lc.n_watch, 0);
	assert_int_equal(dp_dtmf_run(&lc, now + 2 * DP_DTMF_DET_TIMEOUT_NS, &work), UINT64_MAX);
	DELTAS({C(relayed), 3}, {C(tx_pkts), 3}, {C(dtmf_detected), 1});

	/* without te_pt nothing is detected */
	lc.n_evt_out = 0;
	ra.te_pt = 0;
	ep_apply(&ra);
	len = ev_make(pl, seq++, 200000, 4, true, true, 800);
	send1(PA, to_ep(ida, &rem_a, &mac_ra, 0, pl, len));
	rte_pktmbuf_free(take(PB));
	assert_int_equal(lc.n_evt_out, 0);
	DELTAS({C(relayed), 1}, {C(tx_pkts), 1});
}

int main(void)
{
	char prefix[32], runtime_dir[PATH_MAX];
	char *eal[] = {"dp_relay_test", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
		"--no-telemetry", "--file-prefix", prefix, "-l", "0", "--log-level=error", "--vdev",
		"net_ring0", "--vdev", "net_ring1", "--vdev", "net_ring2", NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v4_to_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v6_to_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v4_to_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v6_to_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_checksum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checksum_all_ones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_latching, setup, teardown),
		cmocka_unit_test_setup_teardown(test_latch_rtcp_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlinked_no_remote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_neighbor_arp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_neighbor_nd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_change_neighbor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pt_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exception, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mixed_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dtmf_play_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dtmf_play_v6_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dtmf_submit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dtmf_detect, setup, teardown),
		/* last: a sanitizer stopping the process here has let every other test run */
		cmocka_unit_test_setup_teardown(test_rtp_rewrite, setup, teardown),
	};
	const struct rte_eth_conf conf = {0};
	int rc = 1;

	/* --in-memory would be tidier, but DPDK 22.11 refuses it with --no-huge (legacy memory) */
	snprintf(prefix, sizeof(prefix), "dprelay%d", (int)getpid());
	tg_log_set_level("all", "err");
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "dp_relay_test: EAL init failed\n");
		return 1;
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	ctrs = calloc(1, sizeof(*ctrs) + TG_DPC__COUNT * sizeof(uint64_t));
	pool = rte_pktmbuf_pool_create(
		"relay_test", POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	dtmf_jobs = rte_ring_create_elem("relay_test_dtmf", sizeof(struct dp_dtmf_player),
		DP_DTMF_JOBS, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!ctrs || !pool || !dtmf_jobs) {
		fprintf(stderr, "dp_relay_test: no memory for the mbuf pool\n");
		goto out;
	}
	for (unsigned p = 0; p < N_PORTS; p++) {
		/* a net_ring port with no arguments sends on the ring it receives from */
		if (rte_eth_dev_get_port_by_name(port_names[p], &port_ids[p]) != 0 ||
			rte_eth_dev_configure(port_ids[p], 1, 1, &conf) != 0 ||
			rte_eth_rx_queue_setup(port_ids[p], 0, 1024, SOCKET_ID_ANY, NULL, pool) !=
				0 ||
			rte_eth_tx_queue_setup(port_ids[p], 0, 1024, SOCKET_ID_ANY, NULL) != 0 ||
			rte_eth_dev_start(port_ids[p]) != 0) {
			fprintf(stderr, "dp_relay_test: cannot start %s\n", port_names[p]);
			goto out;
		}
	}
	pool_start = rte_mempool_avail_count(pool);
	if (pool_start != POOL_SIZE) {
		fprintf(stderr, "dp_relay_test: %u mbufs in use before any test\n",
			POOL_SIZE - pool_start);
		goto out;
	}
	rc = cmocka_run_group_tests_name("dp_relay", tests, NULL, NULL);
	/* 12: nothing leaked over the whole run */
	if (rte_mempool_avail_count(pool) != POOL_SIZE) {
		fprintf(stderr, "dp_relay_test: %u mbufs leaked\n",
			POOL_SIZE - rte_mempool_avail_count(pool));
		rc = 1;
	}
out:
	for (unsigned p = 0; p < N_PORTS; p++) {
		rte_eth_dev_stop(port_ids[p]);
		rte_eth_dev_close(port_ids[p]);
	}
	rte_mempool_free(pool);
	rte_ring_free(dtmf_jobs);
	free(ctrs);
	rte_eal_cleanup();
	rmdir(runtime_dir); /* empty without shared config and telemetry */
	return rc;
}
