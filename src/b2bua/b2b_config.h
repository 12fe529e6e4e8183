/* SPDX-License-Identifier: BSD-3-Clause */
/* The session coordinator's config keys ([b2bua]); plain C so both daemons register them. */
#ifndef TG_B2B_CONFIG_H
#define TG_B2B_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "tg_config.h"

enum b2b_redirect {
	B2B_REDIRECT_FOLLOW, /* a 3xx from the callee is followed through the routing table */
	B2B_REDIRECT_RELAY,  /* a 3xx goes to the caller with its Contacts */
};

/* What happens to a new call before anything else (b2bua.incoming) */
enum b2b_incoming {
	B2B_INCOMING_ROUTE,  /* the routing table sends it to a target: a B2BUA call */
	B2B_INCOMING_ACCEPT, /* the appliance answers it itself, media ending in the dataplane */
	B2B_INCOMING_DEFER,  /* it rings until the operator answers, rejects or forwards it */
};

struct b2b_config {
	uint32_t max_calls;
	uint32_t max_calls_per_source; /* 0: no limit */
	uint32_t retry_after_s;
	uint64_t max_duration_ms;
	uint64_t no_answer_ms;
	char codecs[512];
	bool latch;
	int redirect; /* enum b2b_redirect */
	uint32_t max_redirects;
	uint64_t quality_interval_ms; /* media-quality events; 0: off */
	int incoming;		      /* enum b2b_incoming */
};

int b2b_config_register(struct tg_cfg *cfg, struct b2b_config *bc);

#endif
