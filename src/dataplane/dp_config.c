/* SPDX-License-Identifier: BSD-3-Clause */
/* Each dataplane config key, declared once: parsing, defaults, show config and docs use it. */
#include "dp_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tg_chan.h"
#include "tg_shm.h"

static const char *const huge_modes[] = {"auto", "on", "off", NULL};
static const char *const idle_modes[] = {"busy", "adaptive", NULL};

static int validate_ring_size(const void *v, char *err, size_t errlen)
{
	uint32_t n = *(const uint32_t *)v;

	if (n & (n - 1)) {
		tg_errf(err, errlen, "%u is not a power of two", n);
		return -EINVAL;
	}
	return 0;
}

static int validate_even(const void *v, char *err, size_t errlen)
{
	if (*(const uint32_t *)v & 1) {
		tg_errf(err, errlen, "%u is odd: RTP ports are even", *(const uint32_t *)v);
		return -EINVAL;
	}
	return 0;
}

static int validate_mac(const void *v, char *err, size_t errlen)
{
	const char *s = v;
	unsigned b[6];
	char tail;

	if (!*s)
		return 0;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		    &tail) != 6) {
		tg_errf(err, errlen, "'%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", s);
		return -EINVAL;
	}
	return 0;
}

#define DC(member) TG_CFG_AT(struct dp_config, member)

static const struct tg_cfg_key dp_keys[] = {
	{"dataplane", "lcores", TG_CFG_STRING, DC(lcores), .def = "0-1",
		.help = "EAL --lcores list: the first is the main lcore (channel, stats), the "
			"others "
			"poll packets. Needs at least two entries; '0@0,1@0' shares one CPU."},
	{"dataplane", "vdevs", TG_CFG_STRING, DC(vdevs), .def = "auto",
		.help = "DPDK virtual devices to create, separated by ';', or '' for none (e.g. "
			"'net_memif0,role=server,socket=/run/tg.sock'). 'auto' makes one net_tap "
			"port "
			"whose kernel interface is named tg-<instance>."},
	{"dataplane", "pci_devices", TG_CFG_STRING, DC(pci_devices), .def = "",
		.help = "Physical NICs to use, as PCI addresses separated by ';' (e.g. "
			"'0000:03:00.0;0000:03:00.1'), bound to vfio-pci first (dpdk/nic-bind). "
			"Empty: no "
			"PCI device is probed, so the host's own NICs are never touched. With "
			"NICs, set "
			"dataplane.vdevs to '' unless virtual ports are wanted beside them."},
	{"dataplane", "hugepages", TG_CFG_ENUM, DC(hugepages), .def = "auto", .choices = huge_modes,
		.help = "auto uses hugepages when enough are free and falls back to --no-huge; on "
			"fails without them; off never uses them."},
	{"dataplane", "memory_mb", TG_CFG_UINT, DC(memory_mb), .def = "256", .min = 64,
		.max = 65536, .help = "Memory the EAL reserves (MB)."},
	{"dataplane", "mbufs", TG_CFG_UINT, DC(mbufs), .def = "16383", .min = 1023, .max = 16777215,
		.help = "Packet buffers in the pool (best as 2^n - 1)."},
	{"dataplane", "idle", TG_CFG_ENUM, DC(idle), .def = "adaptive", .choices = idle_modes,
		.help = "busy: workers spin on their queues and own their cores (production). "
			"adaptive: after a quiet spell workers sleep, up to idle_max_sleep_us."},
	{"dataplane", "idle_max_sleep_us", TG_CFG_UINT, DC(idle_max_sleep_us), .def = "250",
		.min = 1, .max = 100000,
		.help = "Longest sleep of an idle worker in adaptive mode: the most a first packet "
			"after silence waits."},
	{"dataplane", "rx_desc", TG_CFG_UINT, DC(rx_desc), .def = "1024", .min = 64, .max = 32768,
		.help = "RX descriptors per queue."},
	{"dataplane", "tx_desc", TG_CFG_UINT, DC(tx_desc), .def = "1024", .min = 64, .max = 32768,
		.help = "TX descriptors per queue."},
	{"dataplane", "port_stats_interval", TG_CFG_DURATION, DC(port_stats_interval_ms),
		.def = "100ms", .min = 10, .max = 60000,
		.help = "How often the main lcore copies the ports' driver counters into the stats "
			"segment."},
	{"dataplane", "exception", TG_CFG_BOOL, DC(exception), .def = "true",
		.help = "Give every media port a Linux TAP (tgx<n>-<instance>) for what the relay "
			"does "
			"not own: ARP, ICMP, SIP, anything matching no flow goes to the kernel and "
			"what "
			"the kernel sends there leaves through the port. Put the appliance's "
			"address on "
			"that TAP."},
	{"dataplane", "checksum_offload", TG_CFG_BOOL, DC(checksum_offload), .def = "true",
		.help = "Let ports that offer it compute IPv4/UDP checksums; off: the relay "
			"updates "
			"them in software (incrementally, RFC 1624) on every port."},
	{"dataplane", "media_address", TG_CFG_ADDR, DC(media_address), .def = "",
		.help = "IPv4 address of the media ports: the local address of an endpoint created "
			"without one."},
	{"dataplane", "media_address6", TG_CFG_ADDR, DC(media_address6), .def = "",
		.help = "IPv6 address of the media ports, likewise."},
	{"dataplane", "next_hop_mac", TG_CFG_STRING, DC(next_hop_mac), .def = "",
		.validate = validate_mac,
		.help = "MAC to send media to when the remote has not been heard from yet (the "
			"gateway's); empty: only MACs learned from received packets are used."},
	{"dataplane", "port_min", TG_CFG_UINT, DC(port_min), .def = "30000", .min = 1024,
		.max = 65534, .validate = validate_even,
		.help = "Lowest local RTP port (even; RTCP uses the odd port above)."},
	{"dataplane", "port_max", TG_CFG_UINT, DC(port_max), .def = "39998", .min = 1024,
		.max = 65534, .validate = validate_even, .help = "Highest local RTP port (even)."},
	{"dataplane", "max_endpoints", TG_CFG_UINT, DC(max_endpoints), .def = "65536", .min = 16,
		.max = 4194304,
		.help = "Media endpoints (call legs) the flow table holds; two per relayed call."},
	{"dataplane", "media_timeout", TG_CFG_DURATION, DC(media_timeout_ms), .def = "30s",
		.min = 0, .max = 3600000,
		.help = "An endpoint that has received nothing for this long is reported to the "
			"control "
			"plane (MEDIA_TIMEOUT), which ends the call; 0 turns it off."},
	{"channel", "ring_size", TG_CFG_UINT, DC(ring_size), .def = "4096", .min = 64,
		.max = 1048576, .validate = validate_ring_size,
		.help = "Slots in each control/data channel ring (power of two). Set by the "
			"dataplane, which creates the channel."},
};

int dp_config_register(struct tg_cfg *cfg, struct dp_config *dc)
{
	return tg_cfg_register(cfg, dp_keys, sizeof(dp_keys) / sizeof(dp_keys[0]), dc);
}
