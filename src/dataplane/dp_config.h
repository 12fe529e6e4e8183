/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's configuration keys ([dataplane] and [channel]) and where they land. Plain C,
 * no DPDK: the control plane registers the same keys so one tollgate.conf serves both processes
 * and `show config` shows everything.
 */
#ifndef TG_DP_CONFIG_H
#define TG_DP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "tg_config.h"

#define DP_VDEVS_LEN 512

struct dp_config {
	char lcores[64];
	char vdevs[DP_VDEVS_LEN];
	char pci_devices[256];
		/* ';'-separated PCI addresses of NICs bound to vfio-pci */ /* ';'-separated DPDK
									       vdev specs, or "auto"
									     */
	int hugepages; /* enum dpk_huge_mode: auto, on, off */
	uint32_t memory_mb;
	uint32_t mbufs;
	int idle; /* enum dp_idle_mode: busy, adaptive */
	uint32_t idle_max_sleep_us;
	uint32_t rx_desc;
	uint32_t tx_desc;
	uint64_t port_stats_interval_ms;
	bool exception; /* a TAP per media port for what the relay does not own */
	bool checksum_offload;
	char media_address[48]; /* the media ports' IPv4 address ("" = none) */
	char media_address6[48];
	char next_hop_mac[24]; /* "" = learn MACs from received packets only */
	uint32_t port_min;
	uint32_t port_max;
	uint32_t max_endpoints;
	uint64_t media_timeout_ms;
	uint32_t ring_size; /* [channel] */
};

int dp_config_register(struct tg_cfg *cfg, struct dp_config *dc);

#endif
