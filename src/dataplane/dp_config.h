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
#include "tg_msg.h"

#define DP_VDEVS_LEN 512
/* Most addresses in dataplane.media_address, and in media_address6 */
#define DP_MEDIA_ADDRS_MAX 16
/* Their text: 16 IPv6 addresses of up to 45 characters, ", " between them */
#define DP_MEDIA_ADDRS_LEN 768

struct dp_config {
	char lcores[64];
	char vdevs[DP_VDEVS_LEN]; /* ';'-separated DPDK vdev specs, or "auto" */
	char pci_devices[256];	  /* ';'-separated PCI addresses of NICs bound to vfio-pci */
	int hugepages;		  /* enum dpk_huge_mode: auto, on, off */
	uint32_t memory_mb;
	uint32_t mbufs;
	int idle; /* enum dp_idle_mode: busy, adaptive */
	uint32_t idle_max_sleep_us;
	uint32_t rx_desc;
	uint32_t tx_desc;
	uint64_t port_stats_interval_ms;
	bool exception; /* a TAP per media port for what the relay does not own */
	bool checksum_offload;
	/* the media ports' IPv4 and IPv6 addresses, ','-separated ("" = none) */
	char media_address[DP_MEDIA_ADDRS_LEN];
	char media_address6[DP_MEDIA_ADDRS_LEN];
	char next_hop_mac[24]; /* "" = learn MACs from received packets only */
	uint32_t port_min;
	uint32_t port_max;
	uint32_t max_endpoints;
	uint64_t media_timeout_ms;
	uint32_t ring_size; /* [channel] */
};

int dp_config_register(struct tg_cfg *cfg, struct dp_config *dc);

/*
 * Parses a media address list as dataplane.media_address (family TG_AF_INET) or media_address6
 * (TG_AF_INET6) takes it: addresses of that family separated by ',', spaces or tabs around each
 * allowed, at most DP_MEDIA_ADDRS_MAX, none twice; "" is an empty list. Fills out[0..n-1] (the
 * family set, port 0) and returns n, or -EINVAL with a reason naming the bad entry in err.
 * The config's check and the dataplane's start-up both use it: no state, any thread.
 */
int dp_media_addrs_parse(const char *text, uint8_t family, struct tg_addr out[DP_MEDIA_ADDRS_MAX],
	char *err, size_t errlen);

#endif
