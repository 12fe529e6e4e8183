/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session coordinator: every call is two independent dialogs, the caller's leg (A, where
 * the appliance is the UAS) and the callee's leg (B, where it is the UAC), each with the
 * appliance's own Call-ID, tags, Via and Contact, so nothing of one leg reaches the other. The
 * media of each leg is anchored in the dataplane: one endpoint per leg and stream, created
 * over the channel before the B leg's INVITE goes out, linked when the answer comes, deleted
 * (with their statistics) when the call ends. Every call ends in one call record.
 *
 * Setup: INVITE on A -> 100 -> limits, route, SDP -> endpoints -> INVITE on B with the offer
 * rewritten -> 18x relayed (with early media when they carry SDP) -> 2xx: ACK on B, 2xx on A with
 * the answer rewritten (retransmitted until A's ACK) -> Connected. CANCEL from A, a final
 * >= 300 from B, no answer, BYE from either side, re-INVITEs and UPDATEs relayed with their SDP
 * rewritten, max call duration and media timeout (BYE on both legs with a Reason header).
 */
#ifndef TG_B2B_CALL_H
#define TG_B2B_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "b2b_cdr.h"
#include "b2b_state.h"
#include "cp_dp.h"
#include "cp_sdp.h"
#include "cp_loop.h"
#include "cp_route.h"
#include "cp_sip_transport.h"
#include "b2b_config.h"

/* What to do with a new call (b2b_params.incoming, b2b_call_decide) */
enum b2b_decision_kind {
	B2B_DECIDE_FORWARD, /* to target, or where the Request-URI leads: the routing table picks */
	B2B_DECIDE_ACCEPT,  /* the appliance answers it itself (an offer in the INVITE needed) */
	B2B_DECIDE_REJECT,  /* code (300-699, else 603) with reason (NULL: the code's) */
	B2B_DECIDE_DEFER,   /* 180, and it rings until b2b_call_decide() or the no-answer timer */
};

struct b2b_decision {
	enum b2b_decision_kind kind;
	int code;
	const char *reason;
	const char *target; /* FORWARD: a user or a sip: URI; NULL: the Request-URI */
};

struct b2b_call_view;
/* Decides a new call (d holds what b2bua.incoming says; change it or leave it). On the loop's
 * thread; v is valid during the call only. */
typedef void (*b2b_incoming_fn)(void *arg, const struct b2b_call_view *v, struct b2b_decision *d);

struct b2b_params {
	struct cp_loop *loop;
	struct cp_sip_transport *transport;
	struct cp_dp *dp;
	const struct b2b_config *cfg;
	const struct cp_route_table *routes;
	struct b2b_cdr *cdr; /* NULL: no records (tests of the signalling alone) */
	const char *user_agent;
	b2b_incoming_fn incoming; /* NULL: b2bua.incoming alone decides */
	void *incoming_arg;
};

struct b2b_counters {
	uint64_t calls_offered;		/* INVITEs that started a call */
	uint64_t calls_answered;	/* 2xx relayed to A */
	uint64_t calls_ended;		/* call records written (or refused by the writer) */
	uint64_t rejected_limit;	/* 503: b2bua.max_calls */
	uint64_t rejected_source_limit; /* 503: b2bua.max_calls_per_source */
	uint64_t rejected_no_route;
	uint64_t rejected_sdp;	 /* 488 */
	uint64_t rejected_media; /* 503: the dataplane could not anchor the media */
	uint64_t cancelled;
	uint64_t redirects_followed; /* 3xx answered by a new INVITE to a Contact */
	uint64_t redirects_relayed;  /* 3xx passed to A (b2bua.redirect = relay) */
	uint64_t udp_to_tcp; /* B legs sent over TCP: an INVITE over 1300 bytes (RFC 3261 18.1.1) */
	uint64_t no_answer;
	uint64_t media_timeouts;
	uint64_t max_duration;
	uint64_t reinvites;
	uint64_t info_relayed;	   /* INFOs passed from one party to the other */
	uint64_t transfers;	   /* a party replaced by a transfer target that answered */
	uint64_t transfers_failed; /* the target refused or could not be reached */
	uint64_t dtmf_sent;	   /* digits the operator sent (b2b_call_dtmf) */
	uint64_t dtmf_received;	   /* digits a party sent: RFC 4733 (the dataplane saw) or INFO */
	uint64_t no_dialog;	   /* 481 */
	/* the INVITE of a call that exists again, after our 2xx ended its transaction (RFC 6026:
	 * absorbed, our 2xx retransmissions answer it) */
	uint64_t invite_retransmissions;
	uint64_t merged_requests;      /* a call's INVITE by another branch, same CSeq: 482 */
	uint64_t answered_locally;     /* answered by the appliance (accept) */
	uint64_t deferred;	       /* rang, waiting for a decision */
	uint64_t rejected_by_decision; /* rejected by the operator or the application */
	uint64_t originated;	       /* calls the appliance placed */
	uint64_t bridges;	       /* b2b_bridge() */
	uint64_t options;
	uint64_t cdr_errors;
};

struct b2b;

struct b2b *b2b_new(const struct b2b_params *p);
/*
 * Graceful stop: from now on new INVITEs get 503, and every call in progress is ended (BYE with
 * a Reason on answered legs, CANCEL / 503 on ringing ones; records with reason "shutdown").
 * Returns the calls still in memory (0: done); call again to poll.
 */
unsigned b2b_drain(struct b2b *b);
/* Ends what is left (records with reason "shutdown") and frees everything. */
void b2b_free(struct b2b *b);

/* The transport's receive callback (arg = the struct b2b). */
void b2b_sip_rx(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg);
/* Unsolicited dataplane events (MEDIA_TIMEOUT). */
void b2b_dp_event(struct b2b *b, const struct tg_msg *ev);
/* The dataplane restarted: the endpoints of every call are gone; the calls are ended. */
void b2b_dp_restarted(struct b2b *b);

const struct b2b_counters *b2b_counters(const struct b2b *b);
/* The bus every call's events are published on (b2b_events.h); it lives as long as b. */
struct b2b_events *b2b_events_of(struct b2b *b);
/* Calls not yet terminating (what b2bua.max_calls limits) and all calls held in memory. */
unsigned b2b_active_calls(const struct b2b *b);
unsigned b2b_calls_in_memory(const struct b2b *b);
/* Dialogs registered (two per call once its B leg exists): 0 when every call is gone */
unsigned b2b_dialog_count(const struct b2b *b);
/* Caller addresses with active calls (b2bua.max_calls_per_source counts per address) */
unsigned b2b_source_count(const struct b2b *b);
/* The transaction layer's counters, for status lines. */
const struct cp_txn_counters *b2b_txn_counters(const struct b2b *b);
/*
 * A call as the operator (and later the session API) sees it. The strings and the address point
 * into the call: valid until the loop runs on.
 */
struct b2b_call_view {
	uint64_t id;
	enum b2b_state state;
	struct b2b_cdr_leg a, b;     /* b.call_id NULL: the B leg has not been sent yet */
	const char *target;	     /* where the route sent the call ("198.18.0.2:5060/udp") */
	int64_t setup_ms, answer_ms; /* Unix time in ms; <= 0: not yet */
	bool operator_hold;	     /* on hold by b2b_call_hold (else a party's, if on-hold) */
	bool local;		     /* one party, answered or called by the appliance */
	bool originated;	     /* called by the appliance: the party is on b, a is empty */
	bool deferred;		     /* ringing until b2b_call_decide() */
	uint64_t bridged;	     /* the call whose party this one's is bridged with, 0: none */
	const char *ruri_user;	     /* the user the caller asked for */
	unsigned nmedia;
	struct b2b_media_view {
		uint64_t key_a, key_b; /* the endpoints facing A and B (EP_STATS takes them) */
		struct tg_addr local_a, local_b;
		bool active;
	} media[CP_SDP_MAX_MEDIA];
};

/* Calls by id (-ENOENT: none, or it is ending). */
int b2b_call_get(struct b2b *b, uint64_t id, struct b2b_call_view *out);
/* Every call not yet ending, in no particular order; fn returns false to stop. */
void b2b_calls_each(struct b2b *b, bool (*fn)(void *arg, const struct b2b_call_view *v), void *arg);
/* Ends a call as the operator asked: BYE on both legs (Reason: SIP;cause=200;text="ended by
 * the operator") once answered, CANCEL and 480 before; the record says "operator".
 * -ENOENT: no such call, or it is already ending. */
int b2b_call_hangup(struct b2b *b, uint64_t id);
/*
 * How an operation that finishes later went: status 0; -EREMOTEIO: leg ('a' or 'b') refused with
 * sip_code; -ETIMEDOUT: it never answered (sip_code 408); -ECONNRESET: the call ended first.
 */
typedef void (*b2b_op_fn)(void *arg, uint64_t id, int status, int sip_code, char leg);
/*
 * Holds (hold) or resumes a call as the operator: a re-INVITE on both legs at once offering the
 * SDP each last got from the appliance, sendonly for a hold, sendrecv for a resume (RFC 3264
 * section 8.4). The call is on hold (Connected again) only once both answered 2xx, and each
 * answer programs the endpoint facing its leg, so a held call relays nothing. A leg refusing
 * (or not answering) fails the operation and the other leg is put back; 491 is retried after
 * the RFC 3261 section 14.1 back-off. While held, a party's re-INVITE is answered with the hold
 * SDP instead of being relayed. fn(arg, ...) is called exactly once (possibly before this
 * returns) when 0 is returned. Else: -ENOENT (no such call, or ending), -EBUSY (an offer/answer
 * in progress), -EALREADY, -EPERM (not connected; or held by a party, whose hold it is to lift).
 */
int b2b_call_hold(struct b2b *b, uint64_t id, bool hold, b2b_op_fn fn, void *arg);
#define B2B_DTMF_MAX 32
/* Digits DTMF can carry: 1..B2B_DTMF_MAX of 0-9 * # A-D */
bool b2b_dtmf_digits_ok(const char *digits);
enum b2b_dtmf_method {
	B2B_DTMF_AUTO, /* RTP if the leg agreed to telephone-event, else INFO */
	B2B_DTMF_RTP,  /* RFC 4733 events the dataplane plays into the leg's stream */
	B2B_DTMF_INFO, /* SIP INFO, application/dtmf-relay */
};
/*
 * Sends DTMF to one party (the callee's leg when to_b), each digit duration_ms long (0: 100).
 * RTP: the dataplane plays RFC 4733 events from the endpoint facing that party, in its stream
 * (SSRC, sequence and timestamp continuous; the audio held back meanwhile), with the
 * telephone-event payload type that leg agreed to; fn once the dataplane accepted them.
 * INFO: one INFO per digit ("Signal=5", "Duration=ms"), each after the last one's 2xx; fn once
 * all are. A connected or held call. fn: 0; -EREMOTEIO (an INFO refused, with its status),
 * -ETIMEDOUT, -EBUSY (the dataplane still plays digits there), -ECONNRESET (the call ended).
 * Else -ENOENT, -EINVAL (digits), -EPERM (not connected), -EBUSY (digits or an INFO under way),
 * -EPROTONOSUPPORT (RTP asked, but the leg has no telephone-event or no media anchored).
 */
int b2b_call_dtmf(struct b2b *b, uint64_t id, bool to_b, const char *digits,
	enum b2b_dtmf_method method, unsigned duration_ms, b2b_op_fn fn, void *arg);
/*
 * Transfers a call as the operator: the callee's party is replaced by a new leg to target
 * (keep_a; else the caller's party is), routed by the routing table like a new call from the
 * party that stays ("2001", "sip:2001@example.com": the host only selects a rule, it is never a
 * destination). The new leg offers what the replaced party last got; once the target answers it
 * takes that party's endpoints (SSRC, sequence and timestamp rewritten so the remaining party
 * sees one stream), the replaced party gets BYE (Reason: "transferred by the operator") and the
 * remaining one a sendrecv re-offer. fn once decided: 0; -EREMOTEIO with the target's status;
 * -ETIMEDOUT; -ECONNRESET (the call ended). Else -ENOENT, -EINVAL (target), -EPERM (not
 * answered, or not connected / on hold), -EBUSY (another operation under way), -EHOSTUNREACH
 * (no route to the target).
 */
int b2b_call_transfer(
	struct b2b *b, uint64_t id, const char *target, bool keep_a, b2b_op_fn fn, void *arg);
/* A deferred call decided (not DEFER): 0, -ENOENT, -EPERM (not deferred), -EINVAL. */
int b2b_call_decide(struct b2b *b, uint64_t id, const struct b2b_decision *d);
/*
 * The appliance calls 'to' (a user or sip: URI, routed by the routing table) as from_user,
 * offering PCMU, PCMA and telephone-event on an endpoint of its own: a local call whose
 * media ends in the dataplane until bridged. *id at once; fn when it is answered (0) or
 * refused (-EREMOTEIO, the status) or ended (-ECONNRESET). -EINVAL, -EHOSTUNREACH (no
 * route), -EBUSY (b2bua.max_calls), -EAGAIN (no dataplane).
 */
int b2b_call_originate(struct b2b *b, const char *from_user, const char *to, b2b_op_fn fn,
	void *arg, uint64_t *id);
/*
 * Joins the media of two answered local calls in the dataplane: each party hears the other
 * (SSRC, sequence and timestamp rewritten toward each, so the phones take the switched
 * stream). When either call ends the other goes on, unbridged. -ENOENT, -EPERM (not both
 * local and answered), -EBUSY (one is bridged already).
 */
int b2b_bridge(struct b2b *b, uint64_t id1, uint64_t id2);
/* Undoes the bridge call id is in: -ENOENT, -EPERM (not bridged) */
int b2b_unbridge(struct b2b *b, uint64_t id);
/* A new routing table for the calls to come (reload); the caller frees the old one after. */
void b2b_set_routes(struct b2b *b, const struct cp_route_table *routes);

/* Transactions alive now, and completed records absorbing retransmissions */
size_t b2b_txn_live(const struct b2b *b);
size_t b2b_txn_completed(const struct b2b *b);

#endif
