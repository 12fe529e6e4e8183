/* SPDX-License-Identifier: BSD-3-Clause */
/* Each dataplane config key, declared once: parsing, defaults, show config and docs use it. */
#include "dp_config.h"

#include <arpa/inet.h>
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

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

int dp_media_addrs_parse(const char *text, uint8_t family, struct tg_addr out[DP_MEDIA_ADDRS_MAX],
	char *err, size_t errlen)
{
	const bool v4 = family == TG_AF_INET;
	const char *fam = v4 ? "IPv4" : "IPv6";
	const size_t alen = v4 ? 4 : 16;
	const char *p = text;
	int n = 0;

	if (!*text)
		return 0;
	for (;;) {
		const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
		struct tg_addr a = {.family = family};
		unsigned char other[16];
		char entry[INET6_ADDRSTRLEN];
		size_t len;

		while (p < end && blank(*p))
			p++;
		while (end > p && blank(end[-1]))
			end--;
		len = (size_t)(end - p);
		if (n == DP_MEDIA_ADDRS_MAX) {
			tg_errf(err, errlen, "more than %d addresses", DP_MEDIA_ADDRS_MAX);
			return -EINVAL;
		}
		if (!len) {
			tg_errf(err, errlen, "address %d is empty", n + 1);
			return -EINVAL;
		}
		if (len >= sizeof(entry)) {
			tg_errf(err, errlen, "'%.40s...' (address %d) is not an %s address", p,
				n + 1, fam);
			return -EINVAL;
		}
		memcpy(entry, p, len);
		entry[len] = '\0';
		if (inet_pton(v4 ? AF_INET : AF_INET6, entry, a.a) != 1) {
			if (inet_pton(v4 ? AF_INET6 : AF_INET, entry, other) == 1)
				tg_errf(err, errlen,
					"'%s' (address %d) is an %s address: those go in "
					"dataplane.%s",
					entry, n + 1, v4 ? "IPv6" : "IPv4",
					v4 ? "media_address6" : "media_address");
			else
				tg_errf(err, errlen, "'%s' (address %d) is not an %s address",
					entry, n + 1, fam);
			return -EINVAL;
		}
		for (int i = 0; i < n; i++) {
			if (memcmp(out[i].a, a.a, alen) == 0) {
				tg_errf(err, errlen, "'%s' (address %d) is listed twice", entry,
					n + 1);
				return -EINVAL;
			}
		}
		out[n++] = a;
		if (!comma)
			return n;
		p = comma + 1;
	}
}

static int validate_media4(const void *v, char *err, size_t errlen)
{
	struct tg_addr a[DP_MEDIA_ADDRS_MAX];
	int n = dp_media_addrs_parse(v, TG_AF_INET, a, err, errlen);

	return n < 0 ? n : 0;
}

static int validate_media6(const void *v, char *err, size_t errlen)
{
	struct tg_addr a[DP_MEDIA_ADDRS_MAX];
	int n = dp_media_addrs_parse(v, TG_AF_INET6, a, err, errlen);

	return n < 0 ? n : 0;
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
			"addresses on that TAP, every media address among them: the kernel "
			"answers ARP and ND for them."},
	{"dataplane", "checksum_offload", TG_CFG_BOOL, DC(checksum_offload), .def = "true",
		.help = "Let ports that offer it compute IPv4/UDP checksums; off: the relay "
			"updates "
			"them in software (incrementally, RFC 1624) on every port."},
	{"dataplane", "media_address", TG_CFG_STRING, DC(media_address), .def = "",
		.flags = TG_CFG_REPEAT, .validate = validate_media4,
		.help = "IPv4 addresses of the media ports, separated by ',' (at most 16; a file "
			"may give the key on several lines), the first being the primary. An "
			"endpoint created without a local address takes the current one until "
			"its ports are all taken, then the next with a free port (after the last, "
			"the first again). Each address has (port_max - port_min) / 2 + 1 "
			"endpoints and a call takes two: 2,500 calls per address with the "
			"default ports. Empty: endpoints must name their address."},
	{"dataplane", "media_address6", TG_CFG_STRING, DC(media_address6), .def = "",
		.flags = TG_CFG_REPEAT, .validate = validate_media6,
		.help = "IPv6 addresses of the media ports, likewise."},
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
