/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's client of the dataplane channel. It attaches (and keeps trying while the
 * dataplane is away), introduces itself with HELLO, matches replies to requests by req_id, fails
 * requests that time out, keeps commands the ring refused in a per-ring backlog (so a command is
 * never dropped silently: it is sent later, or the caller is told -ENOBUFS), and notices a
 * dataplane that restarted or died. On a restart every request in flight fails with -ECONNRESET
 * and the state callback fires with CP_DP_RESTARTED so the owner re-sends its state.
 * Runs on the control plane's loop thread only.
 */
#ifndef TG_CP_DP_H
#define TG_CP_DP_H

#include <stdbool.h>
#include <stdint.h>

#include "cp_loop.h"
#include "tg_msg.h"

struct cp_dp;

enum cp_dp_state {
	CP_DP_DOWN = 0,	     /* not attached, or the dataplane stopped answering */
	CP_DP_UP = 1,	     /* first HELLO answered */
	CP_DP_RESTARTED = 2, /* HELLO answered by a new dataplane generation: re-send state */
};

struct cp_dp_params {
	const char *instance;
	uint64_t dp_timeout_ns;	     /* heartbeat age that counts as "dataplane gone" */
	uint64_t request_timeout_ns; /* a request with no reply by then fails with -ETIMEDOUT */
	uint64_t check_interval_ns;  /* liveness checks and re-attach attempts */
	unsigned backlog_max;	     /* per ring, commands held while the ring is full */
};

struct cp_dp_info {
	uint32_t dp_gen;
	uint32_t dp_pid;
	unsigned n_lcores; /* command rings */
	unsigned n_ports;
	char version[32];
};

struct cp_dp_counters {
	uint64_t requests;
	uint64_t replies;
	uint64_t timeouts;
	uint64_t resets;     /* failed by a dataplane restart */
	uint64_t backlogged; /* commands that waited in a backlog */
	uint64_t backlog_peak;
	uint64_t refused;	/* -ENOBUFS: backlog full */
	uint64_t stray_replies; /* no request waiting with that id: late, or from an older cp */
	uint64_t events;	/* unsolicited events */
	uint64_t restarts;
};

/* status: the reply's status, or -ETIMEDOUT / -ECONNRESET with reply == NULL */
typedef void (*cp_dp_reply_fn)(struct cp_dp *dp, const struct tg_msg *reply, int status, void *arg);
typedef void (*cp_dp_state_fn)(struct cp_dp *dp, enum cp_dp_state state, void *arg);
typedef void (*cp_dp_event_fn)(struct cp_dp *dp, const struct tg_msg *ev, void *arg);

struct cp_dp *cp_dp_new(struct cp_loop *l, const struct cp_dp_params *p, cp_dp_state_fn on_state,
	cp_dp_event_fn on_event, void *arg);
void cp_dp_free(struct cp_dp *dp);

/*
 * Sends m (its req_id, cp_gen and flags are filled in) on command ring 'ring'. fn is called
 * exactly once, later, never from inside this call. Returns 0, or -ENOTCONN (dataplane down),
 * -EINVAL (no such ring), -ENOBUFS (ring and backlog full).
 */
int cp_dp_request(struct cp_dp *dp, unsigned ring, struct tg_msg *m, cp_dp_reply_fn fn, void *arg);

/*
 * Endpoint helpers: each builds the command tg_msg.h describes and sends it on ring 0 (the main
 * lcore owns the flow table) with cp_dp_request()'s contract: fn is called once, later; the
 * return is 0 or cp_dp_request()'s error, or -EINVAL for a request the helper refuses itself.
 */

/* EP_UPDATE: what signalling says about an endpoint's remote. */
struct cp_dp_ep_update {
	uint64_t key;
	struct tg_addr remote;	   /* family 0: not known yet */
	uint16_t remote_rtcp_port; /* 0: remote.port + 1 (the RTP port with TG_EPF_RTCP_MUX) */
	uint8_t dir;		   /* TG_DIR_* */
	uint8_t flags;		   /* TG_EPF_* */
	uint32_t clock_rate;	   /* 0: unchanged (8000 from EP_CREATE) */
	uint32_t out_ssrc;	   /* with TG_EPF_REWRITE_RTP */
	uint8_t pt_in;		   /* payload-type mapping toward the remote: pt_in -> pt_out; */
	uint8_t pt_out;		   /* 0xff = none (0 is PCMU) */
	uint8_t te_pt;		   /* telephone-event PT the remote sends (SDP's
				      a=rtpmap:N telephone-event/8000): its RFC 4733 digits come
				      as DTMF events; 0 = none */
};

/* Fills m with the EP_UPDATE u describes. */
void cp_dp_ep_update_msg(struct tg_msg *m, const struct cp_dp_ep_update *u);
int cp_dp_ep_update(
	struct cp_dp *dp, const struct cp_dp_ep_update *u, cp_dp_reply_fn fn, void *arg);

/*
 * EP_DTMF: the dataplane sends 'digits' from endpoint 'key' to its remote as RFC 4733 events.
 * The reply (fn) comes once they are accepted: status 0 and reply->u.ep_dtmf.play_ms (the time
 * they take); -ENOENT, -EINVAL, -ENOTCONN (no remote yet), -EBUSY (digits still play there:
 * ask again after play_ms), -ENOBUFS (the dataplane's players are full).
 */
struct cp_dp_dtmf {
	uint64_t key;
	const char *digits;   /* '0'-'9' '*' '#' 'A'-'D', 1 to TG_DTMF_DIGITS_MAX of them */
	uint8_t pt;	      /* telephone-event PT toward the remote (its SDP's), 1-127 */
	unsigned duration_ms; /* of each digit; 0 = 100 */
	unsigned gap_ms;      /* between digits; 0 = 50 */
	unsigned volume;      /* dBm0 below zero, 1-63; 0 = 10 */
};

/* Fills m with the EP_DTMF d describes: 0, or -EINVAL (digits, pt, volume or a time out of
 * range: the dataplane would refuse it too). */
int cp_dp_ep_dtmf_msg(struct tg_msg *m, const struct cp_dp_dtmf *d);
int cp_dp_ep_dtmf(struct cp_dp *dp, const struct cp_dp_dtmf *d, cp_dp_reply_fn fn, void *arg);

/*
 * Unsolicited events reach the cp_dp_event_fn given to cp_dp_new(), whatever their type:
 * MEDIA_TIMEOUT (ev->u.ep_stats), DTMF (one per digit the remote of an endpoint with a te_pt
 * sent, when it ends: ev->u.dtmf, or this helper), and types a newer dataplane may add, which
 * an owner ignores. Returns the DTMF body of ev, or NULL when ev is not a DTMF event.
 */
const struct tg_msg_dtmf *cp_dp_event_dtmf(const struct tg_msg *ev);

bool cp_dp_is_up(const struct cp_dp *dp);
const struct cp_dp_info *cp_dp_info(const struct cp_dp *dp);
const struct cp_dp_counters *cp_dp_counters(const struct cp_dp *dp);
unsigned cp_dp_in_flight(const struct cp_dp *dp);
uint32_t cp_dp_cp_generation(const struct cp_dp *dp);

#endif
