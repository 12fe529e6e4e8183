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
	X(EP_DTMF, 15, "ep-dtmf")                                                                  \
	X(MEDIA_TIMEOUT, 20, "media-timeout")                                                      \
	X(DTMF, 21, "dtmf")

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
 *    dir, flags, out_ssrc, pt_in/pt_out (payload type mapping toward this remote, 0xff = none),
 *    te_pt (the telephone-event payload type the remote sends: its RFC 4733 DTMF events are
 *    reported as DTMF events; 0 = none, so a sender that does not know the field asks for
 *    nothing, and 0xff = none as for pt_in/pt_out: PT 0 is PCMU and 128+ is no payload type).
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
	uint8_t te_pt; /* EP_UPDATE: telephone-event PT of the remote, 1-127; 0 or 0xff = none */
	uint8_t pad[3];
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

/*
 * DTMF (RFC 4733 telephone-event, events 0-15): the digits '0'-'9', '*', '#', 'A'-'D' (lower
 * case accepted) and their event codes. -1 / '?' for anything else.
 */
#define TG_DTMF_DIGITS_MAX 32

static inline int tg_dtmf_event(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	switch (c) {
	case '*':
		return 10;
	case '#':
		return 11;
	case 'A':
	case 'a':
		return 12;
	case 'B':
	case 'b':
		return 13;
	case 'C':
	case 'c':
		return 14;
	case 'D':
	case 'd':
		return 15;
	default:
		return -1;
	}
}

static inline char tg_dtmf_digit(unsigned event)
{
	return event < 16 ? "0123456789*#ABCD"[event] : '?';
}

/*
 * EP_DTMF: the dataplane sends 'digits' from endpoint 'key' to its remote as RFC 4733 events
 * (one packet every 20 ms, the end packet three times, relayed audio toward the remote held back
 * while an event plays; SSRC, sequence numbers and timestamps continue the stream the remote
 * gets). The reply comes once the digits are accepted: status 0 and play_ms, the time from
 * then to the last packet; -ENOENT unknown key, -EINVAL a bad digit, count, pt, volume or
 * duration, -ENOTCONN no remote to send to yet (or the direction does not send), -EBUSY digits
 * still playing on that endpoint (not queued: the control plane asks again after play_ms),
 * -ENOBUFS the playing worker's job ring is full. Sending it twice plays the digits twice, unless
 * the first still plays (-EBUSY).
 */
struct tg_msg_ep_dtmf {
	uint64_t key;
	uint16_t duration_ms; /* of each digit; 0 = 100; at most 65535 clock units (8191 ms) */
	uint16_t gap_ms;      /* between digits; 0 = 50; at most 10000 */
	uint8_t pt;	      /* telephone-event payload type toward the remote, 1-127 */
	uint8_t volume;	      /* dBm0 below zero, 1-63; 0 = 10 */
	uint8_t n_digits;     /* 1-TG_DTMF_DIGITS_MAX */
	uint8_t pad;
	char digits[TG_DTMF_DIGITS_MAX]; /* n_digits of them, no terminator needed */
	uint32_t play_ms;		 /* reply */
	uint32_t pad2;
};

/*
 * DTMF: unsolicited, one per digit the remote of endpoint 'key' sent as RFC 4733 events of the
 * endpoint's te_pt (EP_UPDATE), when the digit ends: its end packet arrived (end = 1; the three
 * end copies and repeated packets of the same event give one report), or it was reported
 * without one (end = 0: a new event started, or nothing of it came for 500 ms).
 */
struct tg_msg_dtmf {
	uint64_t key;
	uint32_t duration_ms; /* the event's duration field, in ms of the endpoint's clock rate */
	uint32_t timestamp;   /* the event's RTP timestamp */
	char digit;	      /* '0'-'9', '*', '#', 'A'-'D' */
	uint8_t event;	      /* its RFC 4733 event code, 0-15 */
	uint8_t volume;	      /* dBm0 below zero, 0-63 */
	uint8_t end;	      /* 1: ended by its end packet */
	uint32_t pad;
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
		struct tg_msg_ep_dtmf ep_dtmf;
		struct tg_msg_dtmf dtmf;
		uint8_t raw[TG_MSG_BODY_SIZE];
	} u;
};

static_assert(sizeof(struct tg_msg) == TG_MSG_SIZE, "channel message size is part of the ABI");
static_assert(sizeof(struct tg_msg_ep) == 80, "tg_msg_ep: te_pt took a padding byte");
static_assert(sizeof(struct tg_msg) % 4 == 0, "rte_ring elements are multiples of 4 bytes");

const char *tg_msg_type_name(uint16_t type);

#endif
