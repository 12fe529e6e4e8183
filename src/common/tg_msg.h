/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control/data channel protocol: fixed-size typed messages, plain C, no pointers. This header
 * is all the control plane knows of the dataplane, so it must stay free of DPDK types.
 *
 * Rules every message type follows:
 *  - a command carries everything it needs and is idempotent: sending it twice (after a restart
 *    or a timeout) leaves the same state as sending it once;
 *  - a reply is the command's message with TG_MSGF_REPLY set, the same req_id and a status;
 *  - an unsolicited event has req_id 0.
 * Adding a type or a field that changes a body's size bumps TG_CHAN_LAYOUT_VERSION.
 */
#ifndef TG_MSG_H
#define TG_MSG_H

#include <assert.h>
#include <stdint.h>

#define TG_MSG_SIZE 128
#define TG_MSG_HDR_SIZE 24
#define TG_MSG_BODY_SIZE (TG_MSG_SIZE - TG_MSG_HDR_SIZE)

/* X(id, value, name) */
#define TG_MSG_TYPES(X)                                                                            \
	X(HELLO, 1, "hello")                                                                       \
	X(PING, 2, "ping")                                                                         \
	X(DP_STARTED, 3, "dp-started")                                                             \
	X(DP_STOPPING, 4, "dp-stopping")                                                           \
	X(EP_CREATE, 10, "ep-create")                                                              \
	X(EP_UPDATE, 11, "ep-update")                                                              \
	X(EP_LINK, 12, "ep-link")                                                                  \
	X(EP_DELETE, 13, "ep-delete")                                                              \
	X(EP_STATS, 14, "ep-stats")                                                                \
	X(MEDIA_TIMEOUT, 20, "media-timeout")

enum tg_msg_type {
	TG_MSG_NONE = 0,
#define TG_X(id, val, name) TG_MSG_##id = val,
	TG_MSG_TYPES(TG_X)
#undef TG_X
		TG_MSG__MAX
};

#define TG_MSGF_REPLY 0x0001

/* HELLO: the control plane introduces itself after (re)attaching; the reply describes the dp */
struct tg_msg_hello {
	uint32_t cp_pid;
	uint32_t dp_pid;   /* reply */
	uint16_t n_lcores; /* reply: lcores that consume a command ring */
	uint16_t n_ports;  /* reply */
	uint32_t pad;
	char version[32]; /* both directions: the sender's build version */
};

/* PING: liveness and latency probe; the consumer stamps its own time and lcore */
struct tg_msg_ping {
	uint64_t cp_send_ns; /* CLOCK_MONOTONIC, set by the control plane */
	uint64_t dp_recv_ns; /* set by the dataplane consumer */
	uint32_t lcore_id;   /* reply: which lcore answered */
	uint32_t seq;
};

/* DP_STARTED / DP_STOPPING: unsolicited events, no body beyond the header's generation */

/* An address and UDP port. family 0 = not set. IPv4 lives in a[0..3]. */
#define TG_AF_NONE 0
#define TG_AF_INET 4
#define TG_AF_INET6 6
struct tg_addr {
	uint8_t family;
	uint8_t pad;
	uint16_t port; /* host order */
	uint8_t a[16];
};

/* Media direction seen from the appliance toward one remote (the control plane maps SDP's
 * sendrecv/sendonly/recvonly/inactive of that remote onto these). */
#define TG_DIR_RECV 0x1 /* accept media from the remote */
#define TG_DIR_SEND 0x2 /* send media to the remote */

#define TG_EPF_LATCH 0x01	  /* learn the remote from its first packet, then accept only it */
#define TG_EPF_RTCP_MUX 0x02	  /* RTCP on the RTP port (RFC 5761) */
#define TG_EPF_REWRITE_RTP 0x04	  /* rewrite SSRC / sequence / timestamp toward this remote */
#define TG_EPF_STRICT_SOURCE 0x08 /* without latching: accept only the signalled remote */

/*
 * EP_CREATE / EP_UPDATE / EP_LINK / EP_DELETE / EP_STATS: a media endpoint is one call leg's
 * local address and RTP port (RTCP on port + 1 unless muxed) on one dataplane port. All are
 * keyed by the control plane's 64-bit key, so each is idempotent: a second EP_CREATE with the
 * same key answers with the endpoint that exists.
 *  - EP_CREATE: port_id, local (family; address zero = the port's own; port 0 = any free even
 *    port in the range), dir, flags, clock_rate. Reply: ep_id and the local address and port.
 *  - EP_UPDATE: remote (zero family = unknown yet), remote_rtcp_port (0 = remote.port + 1),
 *    dir, flags, out_ssrc, pt_in/pt_out (payload type mapping toward this remote, 0xff = none).
 *  - EP_LINK: relay between key and peer_key (peer_key 0 unlinks key).
 *  - EP_DELETE, EP_STATS: reply with the endpoint's statistics (struct tg_msg_ep_stats).
 */
struct tg_msg_ep {
	uint64_t key;
	uint64_t peer_key;
	uint32_t ep_id;	     /* reply */
	uint32_t clock_rate; /* RTP clock, for jitter in ms (8000 if 0) */
	uint32_t out_ssrc;
	uint16_t port_id;
	uint16_t remote_rtcp_port;
	uint8_t dir;
	uint8_t flags;
	uint8_t pt_in;
	uint8_t pt_out;
	struct tg_addr local;
	struct tg_addr remote;
};

/* Statistics of one endpoint, in EP_STATS / EP_DELETE replies and MEDIA_TIMEOUT events. */
struct tg_msg_ep_stats {
	uint64_t key;
	uint64_t rx_pkts; /* RTP received from the remote */
	uint64_t rx_bytes;
	uint64_t tx_pkts; /* relayed toward the remote */
	uint64_t rtcp_pkts;
	uint64_t dropped; /* refused for this endpoint: foreign source, direction, malformed */
	int32_t lost;	  /* RFC 3550 cumulative lost (RTP from the remote) */
	uint32_t expected;
	uint32_t jitter_us; /* interarrival jitter of what the remote sends */
	uint32_t jitter_max_us;
	uint32_t out_of_order;
	uint32_t duplicates;
	uint32_t rtt_us;      /* from the remote's RTCP (LSR/DLSR), 0 if unknown */
	uint32_t remote_lost; /* cumulative lost the remote reports for what it receives */
	uint32_t remote_jitter_us;
	uint32_t last_rx_ms_ago; /* UINT32_MAX: nothing received yet */
	uint16_t mos_x100;	 /* E-model MOS of the receive direction, times 100 */
	uint16_t pad;
};

struct tg_msg {
	uint16_t type;	 /* enum tg_msg_type */
	uint16_t flags;	 /* TG_MSGF_* */
	int32_t status;	 /* replies: 0 or -errno */
	uint64_t req_id; /* chosen by the sender; echoed in the reply; 0 for events */
	uint32_t cp_gen; /* commands: the sender's generation; replies: echoed */
	uint32_t dp_gen; /* replies and events: the dataplane's generation */
	union {
		struct tg_msg_hello hello;
		struct tg_msg_ping ping;
		struct tg_msg_ep ep;
		struct tg_msg_ep_stats ep_stats;
		uint8_t raw[TG_MSG_BODY_SIZE];
	} u;
};

static_assert(sizeof(struct tg_msg) == TG_MSG_SIZE, "channel message size is part of the ABI");
static_assert(sizeof(struct tg_msg) % 4 == 0, "rte_ring elements are multiples of 4 bytes");

const char *tg_msg_type_name(uint16_t type);

#endif
