/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EAL, mempool and port bring-up. Hugepages are best effort: on a machine without free ones the
 * EAL runs with --no-huge on anonymous memory, which every virtual device we use supports.
 */
#include "dpk_env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "tg_log.h"

#define MAX_EAL_ARGS 64
#define HUGE_2M_FREE "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

static bool hugetlbfs_mounted(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/mounts", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " hugetlbfs ") != NULL;
	fclose(f);
	return found;
}

unsigned dpk_hugepages_free_mb(void)
{
	unsigned long pages = 0;
	FILE *f;

	if (!hugetlbfs_mounted())
		return 0;
	f = fopen(HUGE_2M_FREE, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%lu", &pages) != 1)
		pages = 0;
	fclose(f);
	return (unsigned)(pages * 2);
}

int dpk_env_init(const struct dpk_env_params *p, struct dpk_env_info *info)
{
	char *argv[MAX_EAL_ARGS];
	char mem[16], prefix[64], loglvl[64];
	unsigned free_mb = dpk_hugepages_free_mb();
	int argc = 0, rc;

	memset(info, 0, sizeof(*info));
	switch (p->huge) {
	case DPK_HUGE_OFF:
		info->hugepages = false;
		snprintf(info->reason, sizeof(info->reason), "hugepages off by configuration");
		break;
	case DPK_HUGE_ON:
		info->hugepages = true;
		snprintf(info->reason, sizeof(info->reason), "hugepages required, %u MB free",
			free_mb);
		break;
	default:
		info->hugepages = free_mb >= p->memory_mb;
		snprintf(info->reason, sizeof(info->reason),
			info->hugepages ? "%u MB of hugepages free, %u MB needed"
					: "only %u MB of hugepages free, %u MB needed: --no-huge",
			free_mb, p->memory_mb);
		break;
	}
	if (p->n_vdevs > DPK_MAX_VDEVS || p->n_pci > DPK_MAX_VDEVS || p->n_extra < 0 ||
		12 + 2 * (p->n_vdevs + p->n_pci) + (unsigned)p->n_extra >= MAX_EAL_ARGS) {
		TG_LOG(DPDK, ERR, "too many EAL arguments");
		return -E2BIG;
	}
	argv[argc++] = (char *)p->prog;
	argv[argc++] = "--lcores";
	argv[argc++] = (char *)p->lcores;
	snprintf(prefix, sizeof(prefix), "--file-prefix=%s", p->file_prefix);
	argv[argc++] = prefix;
	snprintf(mem, sizeof(mem), "%u", p->memory_mb);
	argv[argc++] = "-m";
	argv[argc++] = mem;
	/* nothing of ours may outlive the process: in-memory hugepages (no files left in
	 * hugetlbfs to pin pages after exit), or no shared config at all without them */
	if (!info->hugepages) {
		argv[argc++] = "--no-huge";
		argv[argc++] = "--no-shconf";
	} else {
		argv[argc++] = "--in-memory";
	}
	if (!p->n_pci)
		argv[argc++] = "--no-pci";
	for (unsigned i = 0; i < p->n_pci; i++) {
		argv[argc++] = "-a";
		argv[argc++] = (char *)p->pci_allow[i];
	}
	if (p->log_level) {
		snprintf(loglvl, sizeof(loglvl), "--log-level=%s", p->log_level);
		argv[argc++] = loglvl;
	}
	for (unsigned i = 0; i < p->n_vdevs; i++) {
		argv[argc++] = "--vdev";
		argv[argc++] = (char *)p->vdevs[i];
	}
	for (int i = 0; i < p->n_extra; i++)
		argv[argc++] = p->extra[i];
	argv[argc] = NULL;

	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		TG_LOG(DPDK, ERR, "EAL init failed (%s): %s", info->reason,
			rte_strerror(rte_errno));
		return -rte_errno;
	}
	TG_LOG(DPDK, INFO, "EAL up: lcores %s, %u MB, %s, %u vdev(s), %u PCI device(s)", p->lcores,
		p->memory_mb, info->reason, p->n_vdevs, p->n_pci);
	return 0;
}

void dpk_env_cleanup(void)
{
	rte_eal_cleanup();
}

struct rte_mempool *dpk_mbuf_pool_create(const char *name, unsigned n_mbufs, int socket)
{
	struct rte_mempool *mp;

	mp = rte_pktmbuf_pool_create(name, n_mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (!mp)
		TG_LOG(DPDK, ERR, "mbuf pool %s (%u mbufs): %s", name, n_mbufs,
			rte_strerror(rte_errno));
	return mp;
}

int dpk_port_init(uint16_t port, const struct dpk_port_conf *c, struct rte_mempool *mp,
	struct dpk_port_info *out)
{
	struct rte_eth_conf conf = {0};
	struct rte_eth_dev_info dev;
	const uint64_t want_tx = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	const uint64_t want_rx = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	uint16_t rxd = c->rx_desc, txd = c->tx_desc;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = rte_eth_dev_info_get(port, &dev);
	if (rc < 0)
		return rc;
	rte_eth_dev_get_name_by_port(port, out->name);
	snprintf(out->driver, sizeof(out->driver), "%s", dev.driver_name);
	if (c->n_rxq > dev.max_rx_queues || c->n_txq > dev.max_tx_queues) {
		TG_LOG(DPDK, ERR, "port %u (%s): %u/%u queues asked, %u/%u offered", port,
			out->name, c->n_rxq, c->n_txq, dev.max_rx_queues, dev.max_tx_queues);
		return -EINVAL;
	}
	conf.txmode.offloads = c->no_csum_offload ? 0 : dev.tx_offload_capa & want_tx;
	conf.rxmode.offloads = dev.rx_offload_capa & want_rx;
	if (c->n_rxq > 1 && dev.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & dev.flow_type_rss_offloads;
		out->rss = true;
	}
	rc = rte_eth_dev_configure(port, c->n_rxq, c->n_txq, &conf);
	if (rc < 0)
		goto fail;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
	if (rc < 0)
		goto fail;
	for (uint16_t q = 0; q < c->n_rxq; q++) {
		struct rte_eth_rxconf rxc = dev.default_rxconf;

		rxc.offloads = conf.rxmode.offloads;
		rc = rte_eth_rx_queue_setup(port, q, rxd, rte_eth_dev_socket_id(port), &rxc, mp);
		if (rc < 0)
			goto fail;
	}
	for (uint16_t q = 0; q < c->n_txq; q++) {
		struct rte_eth_txconf txc = dev.default_txconf;

		txc.offloads = conf.txmode.offloads;
		rc = rte_eth_tx_queue_setup(port, q, txd, rte_eth_dev_socket_id(port), &txc);
		if (rc < 0)
			goto fail;
	}
	rc = rte_eth_dev_start(port);
	if (rc < 0)
		goto fail;
	if (c->promiscuous)
		rte_eth_promiscuous_enable(port); /* not every virtual device supports it */
	rte_eth_macaddr_get(port, &out->mac);
	out->tx_offloads = conf.txmode.offloads;
	out->rx_offloads = conf.rxmode.offloads;
	TG_LOG(DPDK, INFO, "port %u %s (%s): %u rxq x %u, %u txq x %u, rss %s, tx csum offload %s",
		port, out->name, out->driver, c->n_rxq, rxd, c->n_txq, txd, out->rss ? "on" : "off",
		out->tx_offloads ? "on" : "off");
	return 0;
fail:
	TG_LOG(DPDK, ERR, "port %u (%s): set-up failed: %s", port, out->name, strerror(-rc));
	return rc;
}

void dpk_port_close(uint16_t port)
{
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
}
