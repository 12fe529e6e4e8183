/* SPDX-License-Identifier: BSD-3-Clause */
/* Each [b2bua] config key, declared once. */
#include "b2b_config.h"

#include <errno.h>
#include <stdio.h>

#define B2B_CFG(member) TG_CFG_AT(struct b2b_config, member)

static const char *const redirect_modes[] = {"follow", "relay", NULL};
static const char *const incoming_modes[] = {"route", "accept", "defer", NULL};

/* Rounds of EP_STATS for every call: not more often than once a second */
static int quality_interval_ok(const void *value, char *err, size_t errlen)
{
	uint64_t ms = *(const uint64_t *)value;

	if (ms && ms < 1000) {
		snprintf(err, errlen, "0 (off) or at least 1s");
		return -EINVAL;
	}
	return 0;
}

static const struct tg_cfg_key b2b_keys[] = {
	{"b2bua", "max_calls", TG_CFG_UINT, B2B_CFG(max_calls), .def = "100000", .min = 1,
		.max = 10000000, .flags = TG_CFG_LIVE,
		.help = "Calls in progress at most; a new INVITE beyond it is answered 503 with "
			"Retry-After."},
	{"b2bua", "max_calls_per_source", TG_CFG_UINT, B2B_CFG(max_calls_per_source), .def = "0",
		.min = 0, .max = 10000000, .flags = TG_CFG_LIVE,
		.help = "Calls in progress at most from one signalling address (the caller's IP, "
			"any port): one peer cannot take the whole of max_calls. Beyond it a new "
			"INVITE is answered 503 with Retry-After. 0: no limit."},
	{"b2bua", "retry_after", TG_CFG_UINT, B2B_CFG(retry_after_s), .def = "5", .min = 0,
		.max = 3600, .flags = TG_CFG_LIVE,
		.help = "Seconds in the Retry-After of a 503 sent at max_calls or "
			"max_calls_per_source (0: no header)."},
	{"b2bua", "max_duration", TG_CFG_DURATION, B2B_CFG(max_duration_ms), .def = "4h", .min = 0,
		.max = 604800000,
		.help = "A connected call is ended (BYE on both legs with a Reason header) after "
			"this long; 0: never."},
	{"b2bua", "no_answer_timeout", TG_CFG_DURATION, B2B_CFG(no_answer_ms), .def = "60s",
		.min = 1000, .max = 3600000,
		.help = "A call not answered by then is cancelled on the callee's leg and "
			"answered 408 to the caller."},
	{"b2bua", "codecs", TG_CFG_STRING, B2B_CFG(codecs), .def = "",
		.help = "Encoding names offered to the callee, comma-separated (\"PCMU,PCMA\"); "
			"empty: every codec the caller offered. telephone-event is always kept."},
	{"b2bua", "latch", TG_CFG_BOOL, B2B_CFG(latch), .def = "true",
		.help = "Symmetric RTP: each leg's media address is learned from its first packet "
			"and only that source is accepted afterwards."},
	{"b2bua", "incoming", TG_CFG_ENUM, B2B_CFG(incoming), .def = "route",
		.choices = incoming_modes, .flags = TG_CFG_LIVE,
		.help = "What happens to a new call: route (the routing table sends it to a "
			"target: "
			"a B2BUA call), accept (the appliance answers it itself; its media ends in "
			"the dataplane, measured, until tgctl bridge joins it to another call) or "
			"defer (it rings, 180, until the operator's tgctl call answer, call reject "
			"or call forward, or b2bua.no_answer_timeout)."},
	{"b2bua", "redirect", TG_CFG_ENUM, B2B_CFG(redirect), .def = "follow",
		.choices = redirect_modes, .flags = TG_CFG_LIVE,
		.help = "A 3xx from the callee: follow (a new INVITE to its Contacts in order, "
			"each through the routing table, so a redirect can only reach a "
			"configured route; the caller never sees the callee's network) or relay "
			"(the 3xx and its Contacts go to the caller)."},
	{"b2bua", "max_redirects", TG_CFG_UINT, B2B_CFG(max_redirects), .def = "3", .min = 0,
		.max = 16, .flags = TG_CFG_LIVE,
		.help = "redirect = follow: at most this many 3xx followed per call (loops "
			"end); past it, or with no routable Contact, the caller gets 480."},
	{"b2bua", "quality_interval", TG_CFG_DURATION, B2B_CFG(quality_interval_ms), .def = "5s",
		.min = 0, .max = 3600000, .flags = TG_CFG_LIVE, .validate = quality_interval_ok,
		.help = "How often, while someone subscribes to media-quality events (tgctl "
			"events), each answered call's media statistics are read from the "
			"dataplane and published (MOS, jitter, RTT, loss, packets per stream and "
			"leg); 0: never, else at least 1s. A change takes effect from the next "
			"round."},
};

int b2b_config_register(struct tg_cfg *cfg, struct b2b_config *bc)
{
	return tg_cfg_register(cfg, b2b_keys, sizeof(b2b_keys) / sizeof(b2b_keys[0]), bc);
}
