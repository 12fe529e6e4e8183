/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Idle policy of a polling lcore. 'busy' spins forever (production: the lcore owns its core).
 * 'adaptive' spins a while after the last packet, then sleeps for exponentially longer up to a
 * ceiling, so a 2-core machine still runs SIPp and the tests beside the dataplane. The first
 * packet after a quiet spell waits at most the ceiling; a busy lcore never sleeps.
 */
#ifndef TG_DP_IDLE_H
#define TG_DP_IDLE_H

#include <stdbool.h>
#include <stdint.h>

enum dp_idle_mode {
	DP_IDLE_BUSY = 0,
	DP_IDLE_ADAPTIVE = 1,
};

/* empty polls spun before the first sleep: ~10-20 us of spinning on this class of CPU */
#define DP_IDLE_SPIN_POLLS 256

struct dp_idle {
	enum dp_idle_mode mode;
	uint32_t max_sleep_us;
	uint32_t empty_polls; /* consecutive polls with no work */
	uint32_t sleep_us;    /* last sleep, doubled each time up to max_sleep_us */
};

/* Microseconds to sleep after a poll that found 'work' items; 0 = poll again now. */
static inline uint32_t dp_idle_next_sleep(struct dp_idle *id, unsigned work)
{
	if (work) {
		id->empty_polls = 0;
		id->sleep_us = 0;
		return 0;
	}
	if (id->mode == DP_IDLE_BUSY || ++id->empty_polls < DP_IDLE_SPIN_POLLS)
		return 0;
	id->sleep_us = id->sleep_us ? id->sleep_us * 2 : 1;
	if (id->sleep_us > id->max_sleep_us)
		id->sleep_us = id->max_sleep_us;
	return id->sleep_us;
}

#endif
