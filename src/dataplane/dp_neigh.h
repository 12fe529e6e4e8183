/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Neighbours: the MAC of a remote the relay must send to before it has heard from it. Workers
 * snoop ARP and IPv6 neighbour discovery on the exception path and post what they learn to the
 * main lcore, the table's only writer; when a MAC is missing a worker sends its own ARP request
 * or neighbour solicitation (at most one per address per DP_NEIGH_RETRY_NS) and drops the
 * packet, counted as drop_no_neighbor, until the answer has been learned.
 */
#ifndef TG_DP_NEIGH_H
#define TG_DP_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "tg_msg.h"

#define DP_NEIGH_RETRY_NS (200ULL * 1000 * 1000)
#define DP_NEIGH_PENDING 64 /* per worker: addresses being resolved, direct-mapped */

struct dp_neigh_key {
	uint8_t addr[16];
	uint8_t family;
	uint8_t pad[3];
};

/* 32 bytes, 8-aligned: rte_hash_crc reads keys 8 bytes at a time, so in an array every
 * entry's key must stay aligned */
struct dp_neigh_learn {
	struct dp_neigh_key key;
	struct rte_ether_addr mac;
	uint16_t pad;
	uint32_t pad2;
} __rte_aligned(8);

struct dp_neigh {
	struct rte_hash *h; /* key -> index into macs; main lcore writes */
	struct rte_ether_addr *macs;
	uint32_t n;
	uint32_t max;
	struct rte_ring *learn; /* workers -> main lcore */
};

/* Per-worker resolution state: when each (hashed) address was last asked for. */
struct dp_neigh_pending {
	uint64_t asked_ns[DP_NEIGH_PENDING];
	uint8_t addr[DP_NEIGH_PENDING][16];
};

struct dp_neigh *dp_neigh_create(uint32_t max, int socket);
void dp_neigh_free(struct dp_neigh *n);
/* Main lcore: applies what workers learned. Returns how many entries changed. */
unsigned dp_neigh_apply(struct dp_neigh *n);
/* Any lcore: the MAC of addr, or false. */
bool dp_neigh_lookup(
	const struct dp_neigh *n, uint8_t family, const uint8_t *addr, struct rte_ether_addr *mac);
/* Worker: learn from an ARP or ND packet headed for the exception path (not consumed). */
void dp_neigh_snoop(struct dp_neigh *n, const struct rte_mbuf *m);
/*
 * Worker: builds an ARP request / neighbour solicitation for 'target' from (src, src_mac) if
 * this address was not asked for recently. NULL when rate-limited or out of mbufs.
 */
struct rte_mbuf *dp_neigh_solicit(struct dp_neigh_pending *p, struct rte_mempool *pool,
	uint8_t family, const uint8_t *src, const struct rte_ether_addr *src_mac,
	const uint8_t *target, uint64_t now_ns);

#endif
