/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The B2BUA session state machine: one session (an A leg and a B leg) moves through the states
 * below as the SIP layer reports events. One transition table, declared once in b2b_state.c
 * (grouped by event, then state, like Kamailio's dialog machine), decides every move; an event
 * the table does not allow in the current state is refused, logged with the call-id, counted and
 * not applied. An optional observer sees every applied transition, so each one can become an
 * event on the lifecycle bus.
 *
 * Hold, resume and transfer are operations in flight: HOLD_REQUESTED / RESUME_REQUESTED mark the
 * re-INVITE as pending without leaving Connected / OnHold, and only the re-INVITE's 2xx
 * (*_CONFIRMED) changes the state; a 4xx/5xx or a transaction timeout (*_FAILED) rolls back to
 * where the session was. One re-INVITE at a time: a second request while one is pending is
 * refused (the SIP layer answers it 491). TRANSFER_REQUESTED enters Transferring from Connected or
 * OnHold and TRANSFER_FAILED returns to whichever of the two it came from.
 *
 * Threading: a machine belongs to the thread that owns its session (the control thread); no
 * locks. The observer runs on that thread, inside b2b_state_apply(), and must not apply events to
 * the same machine.
 */
#ifndef TG_B2B_STATE_H
#define TG_B2B_STATE_H

#include <stdbool.h>
#include <stdint.h>

/* X(id, name) */
#define B2B_STATES(X)                                                                              \
	X(INITIALIZING, "initializing") /* A leg's INVITE being routed; no B leg yet */            \
	X(DIALING, "dialing")		/* B leg's INVITE sent, no provisional yet */              \
	X(RINGING, "ringing")		/* 18x on the B leg, relayed to A */                       \
	X(CONNECTED, "connected")	/* both legs confirmed, media flowing */                   \
	X(ON_HOLD, "on-hold")		/* a hold re-INVITE was answered 2xx */                    \
	X(TRANSFERRING, "transferring") /* REFER accepted, transfer target being called */         \
	X(TERMINATING, "terminating")	/* BYE/CANCEL sent or received, legs being released */     \
	X(TERMINATED, "terminated")	/* both legs done; absorbs nothing */

/*
 * X(id, name). What the SIP layer reports; leg-level details (retransmissions, ACKs, 100 Trying)
 * stay in the transaction layer and never reach the machine.
 */
#define B2B_EVENTS(X)                                                                              \
	/* the initial INVITE arrived on the A leg (the session exists from here) */               \
	X(INCOMING_INVITE, "incoming-invite")                                                      \
	/* the initial INVITE went out on the B leg; again from Dialing/Ringing: the next route */ \
	X(OUTGOING_INVITE_SENT, "outgoing-invite-sent")                                            \
	/* 18x on the B leg (in Transferring: the transfer target is ringing) */                   \
	X(PROVISIONAL, "provisional")                                                              \
	/* 2xx to the initial INVITE */                                                            \
	X(ANSWERED, "answered")                                                                    \
	/* setup failed for good with a final >= 300 (from the B leg, or ours: no route, 403) */   \
	X(REJECTED, "rejected")                                                                    \
	/* the setup was cancelled (CANCEL from A, or the B2BUA cancelling the B leg) */           \
	X(CANCELLED, "cancelled")                                                                  \
	X(HOLD_REQUESTED, "hold-requested")	/* hold re-INVITE sent/received, now pending */    \
	X(HOLD_CONFIRMED, "hold-confirmed")	/* its 2xx */                                      \
	X(HOLD_FAILED, "hold-failed")		/* its 4xx/5xx/6xx or timeout: roll back */        \
	X(RESUME_REQUESTED, "resume-requested") /* resume re-INVITE, now pending */                \
	X(RESUME_CONFIRMED, "resume-confirmed")                                                    \
	X(RESUME_FAILED, "resume-failed")                                                          \
	X(TRANSFER_REQUESTED, "transfer-requested") /* REFER accepted, target being called */      \
	X(TRANSFER_SUCCEEDED, "transfer-succeeded") /* target answered, transferor released */     \
	X(TRANSFER_FAILED, "transfer-failed")	    /* target failed: back to where we were */     \
	/* a BYE that ends the session, sent or received on either leg (the transferor's BYE */    \
	/* inside a transfer belongs to TRANSFER_*, not here) */                                   \
	X(BYE_SENT, "bye-sent")                                                                    \
	X(BYE_RECEIVED, "bye-received")                                                            \
	/* local decision to end it: API, max duration, shutdown (BYE or CANCEL follow) */         \
	X(TERMINATE_REQUESTED, "terminate-requested")                                              \
	/* session-level timer: no answer, session timer, media timeout; in Terminating: a leg */  \
	/* that never answered our BYE/CANCEL (give up) */                                         \
	X(TIMEOUT, "timeout")                                                                      \
	/* both legs are done (final responses, BYE transactions complete) */                      \
	X(TERMINATED, "terminated")

enum b2b_state {
#define B2B_X(id, name) B2B_ST_##id,
	B2B_STATES(B2B_X)
#undef B2B_X
		B2B_ST__COUNT
};

enum b2b_event {
#define B2B_X(id, name) B2B_EV_##id,
	B2B_EVENTS(B2B_X)
#undef B2B_X
		B2B_EV__COUNT
};

/* The re-INVITE in flight in Connected (a hold) or OnHold (a resume). */
#define B2B_PENDING_OPS(X)                                                                         \
	X(NONE, "none")                                                                            \
	X(HOLD, "hold")                                                                            \
	X(RESUME, "resume")

enum b2b_pending {
#define B2B_X(id, name) B2B_PENDING_##id,
	B2B_PENDING_OPS(B2B_X)
#undef B2B_X
		B2B_PENDING__COUNT
};

struct b2b_state_machine;

/*
 * Called after every applied transition (self-transitions such as a second 18x included; old ==
 * new then), with the machine already in its new state. Never called for a refused event.
 */
typedef void (*b2b_state_observer_fn)(void *ctx, const struct b2b_state_machine *sm,
	enum b2b_state old_state, enum b2b_state new_state, enum b2b_event ev, const char *callid);

/*
 * One per session, embedded in it. Read the fields freely; change them only through
 * b2b_state_apply() (tests excepted).
 */
struct b2b_state_machine {
	enum b2b_state state;
	enum b2b_pending pending;	/* only in Connected / OnHold, else NONE */
	enum b2b_state before_xfer;	/* Transferring only: where TRANSFER_FAILED returns */
	uint32_t applied;		/* transitions applied */
	uint32_t refused;		/* events refused */
	b2b_state_observer_fn observer; /* NULL: none */
	void *observer_ctx;
};

/* Starts a machine in Initializing, nothing pending, with an optional observer (may be NULL). */
void b2b_state_init(struct b2b_state_machine *sm, b2b_state_observer_fn observer, void *ctx);

/*
 * Applies one event. callid names the session in log lines (NULL: "-").
 * Returns 0 with sm->state the new state (the observer has run), -EPERM when the table refuses
 * the event in this state (or the pending operation does not match: a second re-INVITE while one
 * is pending, a confirmation with nothing pending): logged at warn with the call-id, counted in
 * sm->refused, sm unchanged, no observer call. -EINVAL for an event or state out of range.
 */
int b2b_state_apply(struct b2b_state_machine *sm, enum b2b_event ev, const char *callid);

/*
 * What b2b_state_apply() would do, without doing it or logging: 0 with the next state in *next
 * (may be NULL), or -EPERM / -EINVAL. For the SIP layer deciding to answer 491 before it acts.
 */
int b2b_state_peek(const struct b2b_state_machine *sm, enum b2b_event ev, enum b2b_state *next);

/* Terminated: nothing more will be accepted. */
static inline bool b2b_state_is_final(const struct b2b_state_machine *sm)
{
	return sm->state == B2B_ST_TERMINATED;
}

/* Names for logs and the event bus; "?" when out of range. */
const char *b2b_state_name(enum b2b_state s);
const char *b2b_event_name(enum b2b_event ev);
const char *b2b_pending_name(enum b2b_pending p);

#endif
