/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK environment bring-up for tollgate's DPDK processes: the EAL (with a --no-huge fallback
 * when the machine has no free hugepages), the mbuf pool, and ports with their queues and
 * offloads. Nothing here is tollgate-specific policy: callers say what they want.
 */
#ifndef TG_DPK_ENV_H
#define TG_DPK_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#define DPK_MAX_VDEVS 8

enum dpk_huge_mode {
	DPK_HUGE_AUTO = 0, /* hugepages when enough are free, else --no-huge */
	DPK_HUGE_ON = 1,   /* hugepages or fail */
	DPK_HUGE_OFF = 2,  /* always --no-huge */
};

struct dpk_env_params {
	const char *prog;	 /* argv[0] for the EAL */
	const char *file_prefix; /* per instance, so two instances never share runtime files */
	const char *lcores;	 /* EAL -l list, e.g. "0-1" */
	const char *vdevs[DPK_MAX_VDEVS];
	unsigned n_vdevs;
	/* PCI devices to use (-a each); none: --no-pci, so the host's NICs are never probed */
	const char *pci_allow[DPK_MAX_VDEVS];
	unsigned n_pci;
	enum dpk_huge_mode huge;
	unsigned memory_mb;    /* -m: memory to reserve */
	const char *log_level; /* EAL --log-level, NULL for DPDK's default */
	int n_extra;	       /* raw EAL arguments appended last (from the command line) */
	char **extra;
};

/* What bring-up decided, for the caller's log and status lines. */
struct dpk_env_info {
	bool hugepages;	 /* false: running with --no-huge */
	char reason[96]; /* why hugepages were or were not used */
};

/* MB of free 2 MiB hugepages on a mounted hugetlbfs, 0 if none. */
unsigned dpk_hugepages_free_mb(void);

/* Builds the EAL argument vector and runs rte_eal_init. 0 or -errno (reason logged). */
int dpk_env_init(const struct dpk_env_params *p, struct dpk_env_info *info);
void dpk_env_cleanup(void);

struct rte_mempool *dpk_mbuf_pool_create(const char *name, unsigned n_mbufs, int socket);

struct dpk_port_conf {
	uint16_t n_rxq;
	uint16_t n_txq;
	uint16_t rx_desc;
	uint16_t tx_desc;
	bool promiscuous;
	bool no_csum_offload; /* compute checksums in software even where the port offers them */
};

struct dpk_port_info {
	char name[RTE_ETH_NAME_MAX_LEN];
	char driver[32];
	struct rte_ether_addr mac;
	uint64_t tx_offloads; /* offloads enabled on the port (checksums when offered) */
	uint64_t rx_offloads;
	bool rss;
};

/* Configures queues (RSS over IP/UDP when n_rxq > 1), enables checksum offloads the port
 * offers, starts it. 0 or -errno. */
int dpk_port_init(uint16_t port, const struct dpk_port_conf *c, struct rte_mempool *mp,
	struct dpk_port_info *out);
void dpk_port_close(uint16_t port);

#endif
