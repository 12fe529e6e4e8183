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
	X(DP_STOPPING, 4, "dp-stopping")

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
		uint8_t raw[TG_MSG_BODY_SIZE];
	} u;
};

static_assert(sizeof(struct tg_msg) == TG_MSG_SIZE, "channel message size is part of the ABI");
static_assert(sizeof(struct tg_msg) % 4 == 0, "rte_ring elements are multiples of 4 bytes");

const char *tg_msg_type_name(uint16_t type);

#endif
