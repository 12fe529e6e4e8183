/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Media endpoints and the flow table that finds them.
 *
 * An endpoint is one call leg's local address + RTP port (RTCP on port + 1 unless muxed) on one
 * dataplane port. The flow table maps (local address, local UDP port) to an endpoint and says
 * whether the packet is RTP or RTCP. Two linked endpoints relay to each other.
 *
 * Ownership: the main lcore is the only writer of the table and of each endpoint's
 * configuration (from channel commands); workers only read them. The table is an rte_hash with
 * lock-free readers, entries reclaimed through RCU QSBR; each endpoint's configuration is
 * guarded by its own sequence counter (readers retry, the writer never waits). What a worker
 * learns from packets (latched source, MAC) and the receive statistics are written by the
 * worker that receives the stream: RSS keeps one stream on one queue, so they have one writer.
 *
 * DTMF (RFC 4733, dp_dtmf.h). Generated digits leave from the endpoint toward its remote, played
 * by the worker that relays toward that remote (the one that writes its TX state, recorded in
 * tx.lcore; before anything was relayed, a worker chosen by endpoint id). That worker owns the
 * remote's RTP header space (tx.rtp, dp_rtptx.h): from the first generated packet on, every RTP
 * packet relayed toward the remote is rewritten, TG_EPF_REWRITE_RTP or not, so SSRC, sequence
 * numbers and timestamps stay continuous across audio -> DTMF -> audio. The SSRC kept is the
 * configured out_ssrc with TG_EPF_REWRITE_RTP, else the one the remote was getting (the relayed
 * audio's), so a phone sees one stream; timestamps follow the wall clock at the endpoint's clock
 * rate. Why the dataplane and not the far leg's numbers: the far leg keeps counting while its
 * audio is held back during an event, and only the lcore that sends knows what it sent. With
 * several workers, a stream that first arrives on another worker than the one already playing
 * to it would give the header space two writers; RSS keeps a stream on one queue, so this
 * needs DTMF asked for before any audio flowed and audio then arriving elsewhere.
 * The main lcore hands a digit string to the playing worker through that worker's job ring and
 * never waits: dtmf_req (main) and dtmf_done (the player) say whether one still plays (-EBUSY).
 * Detection state (det) belongs to the worker receiving the remote's stream, like rx.
 */
#ifndef TG_DP_FLOW_H
#define TG_DP_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include "dp_config.h"
#include "dp_dtmf.h"
#include "dp_rtpstats.h"
#include "dp_rtptx.h"
#include "tg_msg.h"

#define DP_EP_NONE UINT32_MAX
#define DP_FLOW_RTCP 0x1u /* flow value: (ep_id << 1) | DP_FLOW_RTCP */

struct dp_flow_key {
	uint8_t addr[16];
	uint16_t port;	 /* host order */
	uint8_t family;	 /* TG_AF_INET / TG_AF_INET6 */
	uint8_t pad[13]; /* always zero; 32 bytes in all, a size rte_hash compares with SIMD */
};

/* Written by the main lcore under cfg_seq; read by workers with dp_ep_cfg_read(). */
struct dp_ep_cfg {
	uint64_t key;
	struct tg_addr local;  /* family, address and RTP port */
	struct tg_addr remote; /* from signalling; family 0 = not known yet */
	uint16_t remote_rtcp_port;
	uint16_t port_id; /* the DPDK port it lives on (index into the app's ports) */
	uint32_t peer;	  /* linked endpoint or DP_EP_NONE */
	uint32_t gen;	  /* bumped when the remote changes: latching starts over */
	uint32_t clock_rate;
	uint32_t out_ssrc;
	uint8_t dir;   /* TG_DIR_* */
	uint8_t flags; /* TG_EPF_* */
	uint8_t pt_in;
	uint8_t pt_out;
	uint8_t te_pt; /* telephone-event PT the remote sends (detection), 0xff = none */
};

/* What the receiving worker learned about the remote; guarded by learn_seq. */
struct dp_ep_learned {
	struct tg_addr src; /* where RTP comes from (latched source) */
	uint16_t rtcp_port; /* where RTCP comes from, 0 = not seen */
	uint8_t mac[6];	    /* the remote's (or its gateway's) MAC */
	uint8_t have_mac;
	uint8_t latched;
	uint32_t gen; /* cfg.gen it was learned under */
};

/* What the remote last reported in RTCP about the stream it receives from us. */
struct dp_ep_remote_report {
	uint32_t have;
	uint8_t fraction_lost;
	int32_t cum_lost;
	uint32_t jitter; /* RTP timestamp units */
	uint32_t rtt_us; /* from LSR/DLSR, 0 = unknown */
};

/* Receive side: written by the worker receiving the remote's stream, under rx_seq. What every
 * packet updates comes first (last_ns, then the RTP statistics' counters and window). */
struct dp_ep_rx {
	uint64_t last_ns;	/* any packet, RTP or RTCP; 0 = nothing yet */
	struct dp_rtpstats rtp; /* RFC 3550 loss, jitter, order, duplicates of the remote's RTP */
	struct dp_ep_remote_report report;
	uint64_t rtcp_pkts;
	uint64_t dropped;
	uint64_t created_ns; /* set at create: the media timeout counts from here */
};

/* Written by the worker relaying toward this endpoint (one stream, one worker), which also plays
 * its DTMF; no sequence counter: a reader may see tx_pkts one packet stale, nothing worse. */
struct dp_ep_tx {
	uint64_t tx_pkts;     /* relayed toward this endpoint's remote */
	struct dp_rtp_tx rtp; /* the remote's RTP header space: rewrite, DTMF, held back audio */
	uint8_t lcore;	      /* index of the worker that last relayed toward it (0: none yet) */
	/* the next hop's MAC when the remote has not been heard from: looked up (neighbour table,
	 * then the configured next hop) at most once per DP_NH_RECHECK_NS, not per packet */
	uint8_t nh_ok;
	uint32_t nh_gen; /* the cfg.gen it was looked up for: a new remote looks again */
	struct rte_ether_addr nh_mac;
	uint64_t nh_checked_ns;
};

#define DP_NH_RECHECK_NS (1000ULL * 1000 * 1000)

/*
 * How the RTP an endpoint receives leaves toward its peer, cached by the worker receiving that
 * stream (its only writer and reader) so that a packet does not copy both endpoints'
 * configuration and the peer's learned remote through their sequence counters and rebuild the
 * same headers every time. Built by the general path after it relayed an RTP packet, from the
 * snapshots it used; valid while those sequence counters (cfg_seq of both, learn_seq of the
 * peer) are unchanged and, when the MAC came from the neighbour table or the configured next
 * hop, until the endpoint's next-hop recheck is due. Anything else (RTCP, latching, a new MAC,
 * a drop) takes the general path.
 */
struct dp_ep_plan {
	uint32_t cfg_seq;      /* this endpoint's cfg_seq it was built under */
	uint32_t peer;	       /* the peer it relays to */
	uint32_t peer_cfg_seq; /* the peer's cfg_seq and learn_seq it was built under */
	uint32_t peer_learn_seq;
	uint64_t expires_ns; /* MAC from the neighbour table or next hop: look again then */
	uint32_t gen;	     /* this endpoint's cfg.gen, flags and clock_rate */
	uint32_t clock_rate;
	uint32_t out_ssrc; /* the peer's, for the RTP rewrite */
	uint32_t out_clock_rate;
	uint16_t port_id;  /* the peer's port, where the packet leaves */
	uint16_t ip_sum;   /* IPv4: folded sum of hdr's IP header but length and checksum */
	uint16_t udp_sum;  /* folded sum of the new addresses and ports (UDP checksum update) */
	uint8_t ok;	   /* built; 0 in a fresh slot */
	uint8_t flags;	   /* this endpoint's TG_EPF_* */
	uint8_t out_flags; /* the peer's TG_EPF_* */
	uint8_t family;	   /* of the headers that leave */
	uint8_t hdr_len;   /* Ethernet + IP + UDP */
	uint8_t pt_in;	   /* the peer's payload-type map */
	uint8_t pt_out;
	uint8_t te_pt; /* this endpoint's telephone-event PT (detection), 0xff = none */
	/* the headers that leave, as built for the first packet: lengths and checksums are
	 * rewritten for each one */
	uint8_t hdr[64] __rte_aligned(64);
	struct tg_addr remote; /* this endpoint's signalled remote (strict source check only) */
} __rte_cache_aligned;

struct dp_ep {
	/* What a relayed packet reads of both endpoints, packed into the first line: the relay
	 * stalls on these when a burst spans thousands of calls. */
	volatile uint32_t cfg_seq;   /* main lcore: odd while cfg is being written */
	volatile uint32_t learn_seq; /* receiving worker: odd while learned is being written */
	struct dp_ep_learned learned;
	volatile uint32_t rx_seq; /* receiving worker: odd while rx is being updated */
	struct dp_ep_tx tx;
	uint32_t state;		   /* main lcore: DP_EP_FREE, DP_EP_ACTIVE, DP_EP_DYING */
	uint32_t timeout_reported; /* main lcore: MEDIA_TIMEOUT sent for this silence */
	struct dp_ep_plan plan;	   /* receiving worker */
	/* receiving worker, under rx_seq; read by the main lcore */
	struct dp_ep_rx rx __rte_cache_aligned;
	struct dp_ep_cfg cfg; /* main lcore, under cfg_seq */
	/* DTMF generation: the digit string handed to a worker last (main lcore: 0 = none, reset
	 * at create and delete) and the last one played to the end (that worker); equal or 0 = not
	 * busy */
	uint32_t dtmf_req;
	uint32_t dtmf_done;
	struct dp_dtmf_det det; /* receiving worker: RFC 4733 detection of the remote's events */
} __rte_cache_aligned;

enum dp_ep_state {
	DP_EP_FREE = 0,
	DP_EP_ACTIVE = 1,
	DP_EP_DYING = 2, /* out of the table, waiting for the workers' grace period */
};

struct dp_flows_params {
	uint32_t max_endpoints;
	uint32_t n_readers; /* worker lcores that look up flows */
	uint16_t port_min;  /* even local RTP port range, inclusive */
	uint16_t port_max;
	int socket;
};

struct dp_flows;

struct dp_flows *dp_flows_create(const struct dp_flows_params *p);
void dp_flows_free(struct dp_flows *f);
struct rte_hash *dp_flows_hash(struct dp_flows *f);
struct rte_rcu_qsbr *dp_flows_rcu(struct dp_flows *f);
struct dp_ep *dp_flows_eps(struct dp_flows *f);
uint32_t dp_flows_n_active(const struct dp_flows *f);

/* The media addresses of one family (dataplane.media_address or media_address6, in order). */
struct dp_local_addrs {
	struct tg_addr a[DP_MEDIA_ADDRS_MAX];
	uint32_t n;
	uint32_t cur; /* main lcore (dp_ep_create): the address endpoints take until it is full */
};

/* The port's own addresses, used when a request leaves the local address 0. */
struct dp_ep_local_default {
	struct dp_local_addrs v4;
	struct dp_local_addrs v6;
};

/*
 * Main lcore. Each returns 0 or -errno: -ENOENT no such key, -EADDRINUSE port taken,
 * -ENOSPC no free endpoint or port, -EINVAL bad request.
 *
 * dp_ep_create(): a request whose local address is 0 takes one of def's addresses of its family
 * (-EADDRNOTAVAIL if there is none): the current one until it has no free port, then the next
 * with one, so -ENOSPC comes only once all are full. Moves def's cursor.
 */
int dp_ep_create(struct dp_flows *f, const struct tg_msg_ep *req, struct dp_ep_local_default *def,
	uint32_t *ep_id);
int dp_ep_update(struct dp_flows *f, const struct tg_msg_ep *req, uint32_t *ep_id);
int dp_ep_link(struct dp_flows *f, uint64_t key, uint64_t peer_key);
int dp_ep_delete(struct dp_flows *f, uint64_t key, uint32_t *ep_id);
int dp_ep_find(struct dp_flows *f, uint64_t key, uint32_t *ep_id);
/* Frees endpoints whose grace period has passed; call from the main lcore's loop. */
void dp_flows_reclaim(struct dp_flows *f);

/* Built as four 64-bit words in registers: rte_hash reads the key 8 bytes at a time right
 * after the relay wrote it, and a load spanning narrower stores still in flight is not
 * forwarded from the store buffer (it waits for them to reach the cache). */
static inline void dp_flow_key_set(
	struct dp_flow_key *k, uint8_t family, const void *addr, uint16_t port)
{
	uint64_t w[4] = {0, 0, 0, 0};

	RTE_BUILD_BUG_ON(sizeof(*k) != sizeof(w) || offsetof(struct dp_flow_key, port) != 16 ||
			 offsetof(struct dp_flow_key, family) != 18);
	if (family == TG_AF_INET) {
		uint32_t a;

		memcpy(&a, addr, 4);
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
		w[0] = a;
#else
		w[0] = (uint64_t)a << 32;
#endif
	} else {
		memcpy(&w[0], addr, 8);
		memcpy(&w[1], (const uint8_t *)addr + 8, 8);
	}
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
	w[2] = port | (uint64_t)family << 16;
#else
	w[2] = (uint64_t)port << 48 | (uint64_t)family << 40;
#endif
	memcpy(k, w, sizeof(w));
}

/*
 * The sequence counters that guard an endpoint's parts (cfg_seq, learn_seq, rx_seq): one
 * writer makes the counter odd, writes, makes it even; readers copy and retry until they saw
 * the same even value before and after. The writer never waits.
 */
static inline void dp_seq_write_begin(volatile uint32_t *seq)
{
	__atomic_store_n(seq, *seq + 1, __ATOMIC_RELAXED);
	/* the odd value must be visible before any store it guards */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void dp_seq_write_end(volatile uint32_t *seq)
{
	__atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE);
}

static inline uint32_t dp_seq_read_begin(const volatile uint32_t *seq)
{
	return __atomic_load_n(seq, __ATOMIC_ACQUIRE);
}

/* True when the copy made since dp_seq_read_begin() returned s1 may be torn. */
static inline bool dp_seq_read_retry(const volatile uint32_t *seq, uint32_t s1)
{
	/* the copy must complete before the second look at the counter */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return (s1 & 1) || __atomic_load_n(seq, __ATOMIC_RELAXED) != s1;
}

/* A consistent copy of an endpoint's configuration (worker side); returns the (even) value
 * of cfg_seq it was taken under. */
static inline uint32_t dp_ep_cfg_read(const struct dp_ep *ep, struct dp_ep_cfg *out)
{
	uint32_t s;

	do {
		s = dp_seq_read_begin(&ep->cfg_seq);
		*out = ep->cfg;
	} while (dp_seq_read_retry(&ep->cfg_seq, s));
	return s;
}

/* The same for what the receiving worker learned; returns the learn_seq it was taken under. */
static inline uint32_t dp_ep_learned_read(const struct dp_ep *ep, struct dp_ep_learned *out)
{
	uint32_t s;

	do {
		s = dp_seq_read_begin(&ep->learn_seq);
		*out = ep->learned;
	} while (dp_seq_read_retry(&ep->learn_seq, s));
	return s;
}

static inline void dp_ep_learned_write(struct dp_ep *ep, const struct dp_ep_learned *l)
{
	dp_seq_write_begin(&ep->learn_seq);
	ep->learned = *l;
	dp_seq_write_end(&ep->learn_seq);
}

static inline void dp_ep_rx_begin(struct dp_ep *ep)
{
	dp_seq_write_begin(&ep->rx_seq);
}

static inline void dp_ep_rx_end(struct dp_ep *ep)
{
	dp_seq_write_end(&ep->rx_seq);
}

/* A consistent copy of an endpoint's receive statistics (main lcore). false if the worker kept
 * it busy through every retry. */
bool dp_ep_rx_read(const struct dp_ep *ep, struct dp_ep_rx *out);

#endif
