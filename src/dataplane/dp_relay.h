/* SPDX-License-Identifier: BSD-3-Clause */
/* The packet path of a worker lcore: media relay, exception path in and out. */
#ifndef TG_DP_RELAY_H
#define TG_DP_RELAY_H

#include <stdint.h>

#include <rte_mbuf.h>

struct dp_lcore;
struct dp_ep;
struct dp_ep_cfg;

/* A burst received on media port index 'in': relayed, handed to the kernel, or dropped. */
void dp_relay_burst(
	struct dp_lcore *lc, unsigned in, struct rte_mbuf **pkts, uint16_t n, uint64_t now_ns);
/* A burst the kernel sent on exception TAP port index 'in': out through its media port. */
void dp_exception_out(struct dp_lcore *lc, unsigned in, struct rte_mbuf **pkts, uint16_t n);
/* Sends what the lcore buffered for each port; frees and counts what a port refused. */
void dp_tx_flush(struct dp_lcore *lc);
/*
 * A packet the dataplane makes (DTMF): 'len' bytes of RTP from endpoint 'to' (configuration
 * 'tc', read by the caller) to its remote, the latched or signalled one as the relay would
 * choose, from the endpoint's local address and RTP port; queued on the lcore's TX buffer (the
 * caller flushes). 0; -ENOTCONN no remote; -EHOSTUNREACH no MAC known yet (asked for: ARP/ND);
 * -ENOMEM no mbuf.
 */
int dp_relay_send_own(struct dp_lcore *lc, struct dp_ep *to, const struct dp_ep_cfg *tc,
	const uint8_t *rtp, uint16_t len, uint64_t now_ns);

#endif
