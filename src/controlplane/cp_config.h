/* SPDX-License-Identifier: BSD-3-Clause */
/* The control plane's config keys ([controlplane]) and where they land. */
#ifndef TG_CP_CONFIG_H
#define TG_CP_CONFIG_H

#include <stdint.h>

#include "tg_config.h"

struct cp_config {
	uint64_t dp_timeout_ms;
	uint64_t request_timeout_ms;
	uint64_t check_interval_ms;
	uint32_t backlog_max;
	uint64_t ping_interval_ms;
	uint64_t status_interval_ms;
	uint64_t shutdown_grace_ms;
	char control_socket[256]; /* a template: "{instance}" stands for general.instance */
	char sip_listen[256];	  /* [sip] */
	char sip_user_agent[64];
};

int cp_config_register(struct tg_cfg *cfg, struct cp_config *cc);

#endif
