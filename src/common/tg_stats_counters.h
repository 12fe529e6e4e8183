/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every dataplane counter, declared once. The lists expand into the enum the writers index, the
 * names stored in the stats segment (so readers need no copy of this file), and the docs.
 * Drop reasons are counters too, named drop_<reason>.
 */
#ifndef TG_STATS_COUNTERS_H
#define TG_STATS_COUNTERS_H

/* X(name, help) — per worker lcore */
#define TG_DP_DROP_REASONS(X)                                                                      \
	X(no_flow, "packet matched no media flow and no exception path took it")                   \
	X(tx_full, "the port's TX queue refused the packet")

#define TG_DP_LCORE_COUNTERS(X)                                                                    \
	X(polls, "RX polls of all queues")                                                         \
	X(idle_polls, "polls that returned no packet")                                             \
	X(sleeps, "times the adaptive idle mode slept")                                            \
	X(rx_pkts, "packets received")                                                             \
	X(rx_bytes, "bytes received")                                                              \
	X(tx_pkts, "packets sent")                                                                 \
	X(tx_bytes, "bytes sent")                                                                  \
	X(cmds, "channel commands handled by this lcore")                                          \
	X(evt_full, "events this lcore could not queue to the control plane")

/* X(name, help) — per port, copied from the driver's counters by the main lcore */
#define TG_DP_PORT_COUNTERS(X)                                                                     \
	X(ipackets, "packets the port received")                                                   \
	X(opackets, "packets the port sent")                                                       \
	X(ibytes, "bytes the port received")                                                       \
	X(obytes, "bytes the port sent")                                                           \
	X(imissed, "packets the NIC dropped: RX queues full")                                      \
	X(ierrors, "receive errors")                                                               \
	X(oerrors, "transmit errors")                                                              \
	X(rx_nombuf, "mbuf allocation failures on receive")

enum tg_dp_lcore_counter {
#define TG_X(name, help) TG_DPC_##name,
	TG_DP_LCORE_COUNTERS(TG_X)
#undef TG_X
#define TG_X(name, help) TG_DPC_drop_##name,
		TG_DP_DROP_REASONS(TG_X)
#undef TG_X
			TG_DPC__COUNT
};

enum tg_dp_port_counter {
#define TG_X(name, help) TG_DPP_##name,
	TG_DP_PORT_COUNTERS(TG_X)
#undef TG_X
		TG_DPP__COUNT
};

#endif
