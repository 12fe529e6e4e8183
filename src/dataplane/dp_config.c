/* SPDX-License-Identifier: BSD-3-Clause */
/* Each dataplane config key, declared once: parsing, defaults, show config and docs use it. */
#include "dp_config.h"

#include <errno.h>
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

#define DC(member) TG_CFG_AT(struct dp_config, member)

static const struct tg_cfg_key dp_keys[] = {
	{"dataplane", "lcores", TG_CFG_STRING, DC(lcores), .def = "0-1",
		.help = "EAL --lcores list: the first is the main lcore (channel, stats), the "
			"others "
			"poll packets. Needs at least two entries; '0@0,1@0' shares one CPU."},
	{"dataplane", "vdevs", TG_CFG_STRING, DC(vdevs), .def = "auto",
		.help = "DPDK virtual devices to create, separated by ';' (e.g. "
			"'net_memif0,role=server,socket=/run/tg.sock'). 'auto' makes one net_tap "
			"port "
			"whose kernel interface is named tg-<instance>."},
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
	{"channel", "ring_size", TG_CFG_UINT, DC(ring_size), .def = "4096", .min = 64,
		.max = 1048576, .validate = validate_ring_size,
		.help = "Slots in each control/data channel ring (power of two). Set by the "
			"dataplane, which creates the channel."},
};

int dp_config_register(struct tg_cfg *cfg, struct dp_config *dc)
{
	return tg_cfg_register(cfg, dp_keys, sizeof(dp_keys) / sizeof(dp_keys[0]), dc);
}
