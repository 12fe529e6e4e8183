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
	X(no_flow, "matched no media flow and there is no exception path to take it")              \
	X(tx_full, "the port's TX queue refused the packet")                                       \
	X(malformed, "IP/UDP lengths that do not add up, or a truncated header")                   \
	X(fragment, "an IPv4 fragment addressed to a media port")                                  \
	X(ip_options, "IPv4 options on a packet for a media port")                                 \
	X(not_rtp, "not RTP/RTCP version 2, or too short, on a media port")                        \
	X(foreign_source, "from a source other than the latched or signalled remote (RTP bleed)")  \
	X(direction, "the endpoints' directions do not allow this way (hold, inactive)")           \
	X(unlinked, "the endpoint is not linked to a peer yet")                                    \
	X(no_remote, "the peer's remote address is not known yet")                                 \
	X(no_neighbor, "no MAC known for the peer's remote yet")                                   \
	X(no_room, "no headroom to rewrite the headers")                                           \
	X(dtmf_playing, "RTP toward a remote held back while the dataplane plays it a DTMF event")

#define TG_DP_LCORE_COUNTERS(X)                                                                    \
	X(polls, "RX polls of all queues")                                                         \
	X(idle_polls, "polls that returned no packet")                                             \
	X(sleeps, "times the adaptive idle mode slept")                                            \
	X(rx_pkts, "packets received")                                                             \
	X(rx_bytes, "bytes received")                                                              \
	X(tx_pkts, "packets sent")                                                                 \
	X(tx_bytes, "bytes sent")                                                                  \
	X(relayed, "RTP/RTCP packets relayed to a peer endpoint")                                  \
	X(rtcp, "RTCP packets received on media endpoints")                                        \
	X(relatched, "latched sources given up for the signalled remote, which sent meanwhile")    \
	X(exc_to_kernel, "packets handed to the exception path (TAP)")                             \
	X(exc_from_kernel, "packets the kernel sent out through the port")                         \
	X(cmds, "channel commands handled by this lcore")                                          \
	X(evt_full, "events this lcore could not queue to the control plane")                      \
	X(endpoints, "media endpoints in use (the main lcore's: a gauge, 0 on workers)")           \
	X(dtmf_sent, "RFC 4733 event packets the dataplane made (EP_DTMF)")                        \
	X(dtmf_unsent, "RFC 4733 event packets not sent: no remote, MAC or mbuf at the time")      \
	X(dtmf_played, "digit strings played to the end (EP_DTMF)")                                \
	X(dtmf_detected, "digits received as RFC 4733 events and reported (DTMF events)")          \
	X(dtmf_bad, "telephone-event payloads left out of detection: short, event > 15, ...")      \
	X(dtmf_evt_lost, "DTMF events not reported: over the endpoint's rate, or the outbox full")

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
