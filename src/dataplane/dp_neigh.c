/* SPDX-License-Identifier: BSD-3-Clause */
/* Neighbour table, ARP / ND snooping and solicitation (see dp_neigh.h). */
#include "dp_neigh.h"

#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_malloc.h>

#include "tg_log.h"

#define ICMP6_NS 135
#define ICMP6_NA 136
#define ND_OPT_SRC_LL 1
#define ND_OPT_TGT_LL 2

struct dp_neigh *dp_neigh_create(uint32_t max, int socket)
{
	struct rte_hash_parameters hp = {
		.name = "tg_neigh",
		.entries = max,
		.key_len = sizeof(struct dp_neigh_key),
		.hash_func = rte_hash_crc,
		.socket_id = socket,
		/* lock-free readers; an entry is never deleted, only its MAC rewritten */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	struct dp_neigh *n = rte_zmalloc_socket("dp_neigh", sizeof(*n), 0, socket);

	if (!n)
		return NULL;
	n->max = max;
	n->h = rte_hash_create(&hp);
	n->macs = rte_zmalloc_socket("dp_neigh_macs", sizeof(*n->macs) * max, 0, socket);
	n->learn = rte_ring_create_elem(
		"tg_neigh_learn", sizeof(struct dp_neigh_learn), 1024, socket, RING_F_SC_DEQ);
	if (!n->h || !n->macs || !n->learn) {
		TG_LOG(DP, ERR, "neighbour table: %s", rte_strerror(rte_errno));
		dp_neigh_free(n);
		return NULL;
	}
	return n;
}

void dp_neigh_free(struct dp_neigh *n)
{
	if (!n)
		return;
	rte_hash_free(n->h);
	rte_ring_free(n->learn);
	rte_free(n->macs);
	rte_free(n);
}

unsigned dp_neigh_apply(struct dp_neigh *n)
{
	struct dp_neigh_learn l[32];
	unsigned got, changed = 0;

	while ((got = rte_ring_sc_dequeue_burst_elem(n->learn, l, sizeof(l[0]), 32, NULL))) {
		for (unsigned i = 0; i < got; i++) {
			void *data;
			uint32_t idx;

			if (rte_hash_lookup_data(n->h, &l[i].key, &data) >= 0) {
				idx = (uint32_t)(uintptr_t)data;
				if (rte_is_same_ether_addr(&n->macs[idx], &l[i].mac))
					continue;
			} else if (n->n < n->max) {
				idx = n->n++;
			} else {
				continue; /* full: the relay keeps learning from received packets */
			}
			/* a remote whose MAC changes may have one packet sent to a torn MAC while
			 * this store is under way: rare, and cheaper than guarding every read */
			n->macs[idx] = l[i].mac;
			rte_hash_add_key_data(n->h, &l[i].key, (void *)(uintptr_t)idx);
			changed++;
		}
	}
	return changed;
}

bool dp_neigh_lookup(
	const struct dp_neigh *n, uint8_t family, const uint8_t *addr, struct rte_ether_addr *mac)
{
	struct dp_neigh_key k = {.family = family};
	void *data;

	memcpy(k.addr, addr, family == TG_AF_INET ? 4 : 16);
	if (rte_hash_lookup_data(n->h, &k, &data) < 0)
		return false;
	*mac = n->macs[(uint32_t)(uintptr_t)data];
	return !rte_is_zero_ether_addr(mac);
}

static void post(struct dp_neigh *n, uint8_t family, const uint8_t *addr, const uint8_t *mac)
{
	struct dp_neigh_learn l = {.key.family = family};

	memcpy(l.key.addr, addr, family == TG_AF_INET ? 4 : 16);
	memcpy(&l.mac, mac, RTE_ETHER_ADDR_LEN);
	if (rte_is_zero_ether_addr(&l.mac) || !rte_is_unicast_ether_addr(&l.mac))
		return;
	/* a full ring loses a hint, not a packet: the next ARP teaches it again */
	rte_ring_mp_enqueue_elem(n->learn, &l, sizeof(l));
}

static void snoop_nd(
	struct dp_neigh *n, const struct rte_ipv6_hdr *ip, const uint8_t *icmp, uint32_t len)
{
	/* type, code, checksum, reserved/flags (4), target (16), then options */
	const uint8_t type = icmp[0];
	uint32_t off = 24;

	if (len < off || (type != ICMP6_NS && type != ICMP6_NA))
		return;
	while (off + 8 <= len) {
		uint32_t olen = icmp[off + 1] * 8u;

		if (olen == 0 || off + olen > len)
			return;
		if (type == ICMP6_NS && icmp[off] == ND_OPT_SRC_LL)
			post(n, TG_AF_INET6, ip->src_addr, icmp + off + 2);
		else if (type == ICMP6_NA && icmp[off] == ND_OPT_TGT_LL)
			post(n, TG_AF_INET6, icmp + 8, icmp + off + 2);
		off += olen;
	}
}

void dp_neigh_snoop(struct dp_neigh *n, const struct rte_mbuf *m)
{
	const uint32_t len = rte_pktmbuf_data_len(m);
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);

	if (len < sizeof(*eth))
		return;
	if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
		const struct rte_arp_hdr *arp = (const struct rte_arp_hdr *)(eth + 1);

		if (len < sizeof(*eth) + sizeof(*arp) ||
			arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
			arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
			arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4)
			return;
		post(n, TG_AF_INET, (const uint8_t *)&arp->arp_data.arp_sip,
			arp->arp_data.arp_sha.addr_bytes);
	} else if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
		const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(eth + 1);
		uint32_t plen;

		if (len < sizeof(*eth) + sizeof(*ip) || ip->proto != IPPROTO_ICMPV6)
			return;
		plen = rte_be_to_cpu_16(ip->payload_len);
		if (sizeof(*eth) + sizeof(*ip) + plen > len)
			return;
		snoop_nd(n, ip, (const uint8_t *)(ip + 1), plen);
	}
}

static bool may_ask(
	struct dp_neigh_pending *p, uint8_t family, const uint8_t *target, uint64_t now_ns)
{
	const uint32_t alen = family == TG_AF_INET ? 4 : 16;
	const uint32_t slot = rte_hash_crc(target, alen, family) % DP_NEIGH_PENDING;

	if (memcmp(p->addr[slot], target, alen) == 0 &&
		now_ns - p->asked_ns[slot] < DP_NEIGH_RETRY_NS)
		return false;
	memcpy(p->addr[slot], target, alen);
	p->asked_ns[slot] = now_ns;
	return true;
}

static struct rte_mbuf *build_arp(struct rte_mempool *pool, const uint8_t *src,
	const struct rte_ether_addr *src_mac, const uint8_t *target)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;

	if (!m)
		return NULL;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eth) + sizeof(*arp));
	arp = (struct rte_arp_hdr *)(eth + 1);
	memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	eth->src_addr = *src_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	arp->arp_data.arp_sha = *src_mac;
	memcpy(&arp->arp_data.arp_sip, src, 4);
	memset(&arp->arp_data.arp_tha, 0, RTE_ETHER_ADDR_LEN);
	memcpy(&arp->arp_data.arp_tip, target, 4);
	return m;
}

static struct rte_mbuf *build_ns(struct rte_mempool *pool, const uint8_t *src,
	const struct rte_ether_addr *src_mac, const uint8_t *target)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_ipv6_hdr *ip;
	uint8_t *icmp;
	const uint16_t icmp_len = 24 + 8; /* header + target, then the source LL option */
	uint16_t ck;

	if (!m)
		return NULL;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eth) + sizeof(*ip) + icmp_len);
	ip = (struct rte_ipv6_hdr *)(eth + 1);
	icmp = (uint8_t *)(ip + 1);
	/* solicited-node multicast: ff02::1:ffXX:XXXX, MAC 33:33:ff:XX:XX:XX */
	const uint8_t mac[6] = {0x33, 0x33, 0xff, target[13], target[14], target[15]};
	memcpy(&eth->dst_addr, mac, 6);
	eth->src_addr = *src_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16(icmp_len);
	ip->proto = IPPROTO_ICMPV6;
	ip->hop_limits = 255; /* RFC 4861: neighbour discovery only on-link */
	memcpy(ip->src_addr, src, 16);
	memset(ip->dst_addr, 0, 16);
	ip->dst_addr[0] = 0xff;
	ip->dst_addr[1] = 0x02;
	ip->dst_addr[11] = 0x01;
	ip->dst_addr[12] = 0xff;
	memcpy(ip->dst_addr + 13, target + 13, 3);
	memset(icmp, 0, icmp_len);
	icmp[0] = ICMP6_NS;
	memcpy(icmp + 8, target, 16);
	icmp[24] = ND_OPT_SRC_LL;
	icmp[25] = 1; /* 8 bytes */
	memcpy(icmp + 26, src_mac, 6);
	ck = rte_ipv6_udptcp_cksum(ip, icmp);
	memcpy(icmp + 2, &ck, 2);
	return m;
}

struct rte_mbuf *dp_neigh_solicit(struct dp_neigh_pending *p, struct rte_mempool *pool,
	uint8_t family, const uint8_t *src, const struct rte_ether_addr *src_mac,
	const uint8_t *target, uint64_t now_ns)
{
	if (!may_ask(p, family, target, now_ns))
		return NULL;
	return family == TG_AF_INET ? build_arp(pool, src, src_mac, target)
				    : build_ns(pool, src, src_mac, target);
}
