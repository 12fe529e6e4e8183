/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session state machine's one transition table and the function that walks it. The table is
 * grouped by event, then state (the shape of Kamailio's dialog switch): an empty cell is a refused
 * transition, and b2b_state_apply() logs every refusal instead of ignoring it.
 */
#include "b2b_state.h"

#include <errno.h>
#include <stddef.h>

#include "tg_log.h"

/* What a cell does to the pending re-INVITE besides moving the state. */
enum b2b_op {
	OP_NONE = 0,	 /* nothing pending required; leaving Connected/OnHold clears it */
	OP_BEGIN_HOLD,	 /* requires nothing pending; marks a hold pending */
	OP_BEGIN_RESUME, /* requires nothing pending; marks a resume pending */
	OP_END_HOLD,	 /* requires a pending hold; clears it */
	OP_END_RESUME,	 /* requires a pending resume; clears it */
	OP_BEGIN_XFER,	 /* requires nothing pending; remembers where TRANSFER_FAILED returns */
};

struct b2b_cell {
	uint8_t to; /* next state + 1; 0: refused; TO_SAVED: back to sm->before_xfer */
	uint8_t op; /* enum b2b_op */
};

#define TO_SAVED 0xff
_Static_assert(B2B_ST__COUNT < TO_SAVED, "state numbers must fit a cell");

/* clang-format off */
#define ON(ev) [B2B_EV_##ev]
#define IN(st) [B2B_ST_##st]
#define TO(st) {.to = B2B_ST_##st + 1}
#define TO_OP(st, o) {.to = B2B_ST_##st + 1, .op = OP_##o}
#define BACK {.to = TO_SAVED}

/*
 * The whole machine. Late responses racing a teardown (an 18x, 2xx or 487 after our CANCEL, a
 * re-INVITE's answer after a BYE, BYE glare) are expected in Terminating and keep it there; new
 * operations (hold, resume, transfer, a new INVITE) are not. Only TERMINATED or TIMEOUT leave
 * Terminating; nothing leaves Terminated.
 */
static const struct b2b_cell b2b_table[B2B_EV__COUNT][B2B_ST__COUNT] = {
	ON(INCOMING_INVITE) = {
		IN(INITIALIZING)  = TO(INITIALIZING),
	},
	ON(OUTGOING_INVITE_SENT) = {
		IN(INITIALIZING)  = TO(DIALING),
		IN(DIALING)       = TO(DIALING),	/* next route after a failure the call survives */
		IN(RINGING)       = TO(DIALING),
	},
	ON(PROVISIONAL) = {
		IN(INITIALIZING)  = TO(RINGING),	/* deferred: the appliance rings */
		IN(DIALING)       = TO(RINGING),
		IN(RINGING)       = TO(RINGING),
		IN(TRANSFERRING)  = TO(TRANSFERRING),	/* the transfer target rings */
		IN(TERMINATING)   = TO(TERMINATING),
	},
	ON(ANSWERED) = {
		IN(INITIALIZING)  = TO(CONNECTED),	/* answered by the appliance itself */
		IN(DIALING)       = TO(CONNECTED),
		IN(RINGING)       = TO(CONNECTED),
		IN(TERMINATING)   = TO(TERMINATING),	/* 2xx crossed our CANCEL: ACK + BYE it */
	},
	ON(REJECTED) = {
		IN(INITIALIZING)  = TO(TERMINATED),	/* refused locally: no B leg to release */
		IN(DIALING)       = TO(TERMINATED),
		IN(RINGING)       = TO(TERMINATED),
		IN(TERMINATING)   = TO(TERMINATING),	/* the 487 to our CANCEL */
	},
	ON(CANCELLED) = {
		IN(INITIALIZING)  = TO(TERMINATED),
		IN(DIALING)       = TO(TERMINATING),	/* CANCEL forwarded; wait for B's final */
		IN(RINGING)       = TO(TERMINATING),
		IN(TERMINATING)   = TO(TERMINATING),
	},
	ON(HOLD_REQUESTED) = {
		IN(CONNECTED)     = TO_OP(CONNECTED, BEGIN_HOLD),
	},
	ON(HOLD_CONFIRMED) = {
		IN(CONNECTED)     = TO_OP(ON_HOLD, END_HOLD),
		IN(TERMINATING)   = TO(TERMINATING),
	},
	ON(HOLD_FAILED) = {
		IN(CONNECTED)     = TO_OP(CONNECTED, END_HOLD),
		IN(TERMINATING)   = TO(TERMINATING),
	},
	ON(RESUME_REQUESTED) = {
		IN(ON_HOLD)       = TO_OP(ON_HOLD, BEGIN_RESUME),
	},
	ON(RESUME_CONFIRMED) = {
		IN(ON_HOLD)       = TO_OP(CONNECTED, END_RESUME),
		IN(TERMINATING)   = TO(TERMINATING),
	},
	ON(RESUME_FAILED) = {
		IN(ON_HOLD)       = TO_OP(ON_HOLD, END_RESUME),
		IN(TERMINATING)   = TO(TERMINATING),
	},
	ON(TRANSFER_REQUESTED) = {
		IN(CONNECTED)     = TO_OP(TRANSFERRING, BEGIN_XFER),
		IN(ON_HOLD)       = TO_OP(TRANSFERRING, BEGIN_XFER),
	},
	ON(TRANSFER_SUCCEEDED) = {
		IN(TRANSFERRING)  = TO(CONNECTED),
		IN(TERMINATING)   = TO(TERMINATING),
	},
	ON(TRANSFER_FAILED) = {
		IN(TRANSFERRING)  = BACK,		/* Connected or OnHold, as before the REFER */
		IN(TERMINATING)   = TO(TERMINATING),
	},
	ON(BYE_SENT) = {
		IN(CONNECTED)     = TO(TERMINATING),
		IN(ON_HOLD)       = TO(TERMINATING),
		IN(TRANSFERRING)  = TO(TERMINATING),
		IN(TERMINATING)   = TO(TERMINATING),	/* the second leg's BYE */
	},
	ON(BYE_RECEIVED) = {
		IN(CONNECTED)     = TO(TERMINATING),
		IN(ON_HOLD)       = TO(TERMINATING),
		IN(TRANSFERRING)  = TO(TERMINATING),
		IN(TERMINATING)   = TO(TERMINATING),	/* BYE glare */
	},
	ON(TERMINATE_REQUESTED) = {
		IN(INITIALIZING)  = TO(TERMINATED),	/* a final response to A is all there is */
		IN(DIALING)       = TO(TERMINATING),
		IN(RINGING)       = TO(TERMINATING),
		IN(CONNECTED)     = TO(TERMINATING),
		IN(ON_HOLD)       = TO(TERMINATING),
		IN(TRANSFERRING)  = TO(TERMINATING),
		IN(TERMINATING)   = TO(TERMINATING),	/* idempotent: shutdown sweeps every call */
	},
	ON(TIMEOUT) = {
		IN(INITIALIZING)  = TO(TERMINATED),
		IN(DIALING)       = TO(TERMINATING),	/* no answer: CANCEL the B leg */
		IN(RINGING)       = TO(TERMINATING),
		IN(CONNECTED)     = TO(TERMINATING),	/* session timer, media timeout */
		IN(ON_HOLD)       = TO(TERMINATING),
		IN(TRANSFERRING)  = TO(TERMINATING),
		IN(TERMINATING)   = TO(TERMINATED),	/* a leg never answered: give up on it */
	},
	ON(TERMINATED) = {
		IN(TERMINATING)   = TO(TERMINATED),
	},
};
/* clang-format on */

static const char *const state_names[B2B_ST__COUNT] = {
#define B2B_X(id, name) [B2B_ST_##id] = name,
	B2B_STATES(B2B_X)
#undef B2B_X
};

static const char *const event_names[B2B_EV__COUNT] = {
#define B2B_X(id, name) [B2B_EV_##id] = name,
	B2B_EVENTS(B2B_X)
#undef B2B_X
};

static const char *const pending_names[B2B_PENDING__COUNT] = {
#define B2B_X(id, name) [B2B_PENDING_##id] = name,
	B2B_PENDING_OPS(B2B_X)
#undef B2B_X
};

const char *b2b_state_name(enum b2b_state s)
{
	return (unsigned)s < B2B_ST__COUNT ? state_names[s] : "?";
}

const char *b2b_event_name(enum b2b_event ev)
{
	return (unsigned)ev < B2B_EV__COUNT ? event_names[ev] : "?";
}

const char *b2b_pending_name(enum b2b_pending p)
{
	return (unsigned)p < B2B_PENDING__COUNT ? pending_names[p] : "?";
}

void b2b_state_init(struct b2b_state_machine *sm, b2b_state_observer_fn observer, void *ctx)
{
	*sm = (struct b2b_state_machine){
		.state = B2B_ST_INITIALIZING,
		.pending = B2B_PENDING_NONE,
		.before_xfer = B2B_ST_INITIALIZING,
		.observer = observer,
		.observer_ctx = ctx,
	};
}

/*
 * The table's answer for (state, pending, event): 0 with the next state and the cell, or a
 * negative errno with why in *why (for the log line).
 */
static int lookup(const struct b2b_state_machine *sm, enum b2b_event ev, enum b2b_state *next,
	const struct b2b_cell **cellp, const char **why)
{
	const struct b2b_cell *c;

	if ((unsigned)ev >= B2B_EV__COUNT || (unsigned)sm->state >= B2B_ST__COUNT ||
		(unsigned)sm->pending >= B2B_PENDING__COUNT) {
		*why = "event or state out of range";
		return -EINVAL;
	}
	c = &b2b_table[ev][sm->state];
	if (c->to == 0) {
		*why = "not allowed in this state";
		return -EPERM;
	}
	switch (c->op) {
	case OP_BEGIN_HOLD:
	case OP_BEGIN_RESUME:
	case OP_BEGIN_XFER:
		if (sm->pending != B2B_PENDING_NONE) {
			*why = "another re-INVITE is pending";
			return -EPERM;
		}
		break;
	case OP_END_HOLD:
		if (sm->pending != B2B_PENDING_HOLD) {
			*why = "no hold pending";
			return -EPERM;
		}
		break;
	case OP_END_RESUME:
		if (sm->pending != B2B_PENDING_RESUME) {
			*why = "no resume pending";
			return -EPERM;
		}
		break;
	default:
		break;
	}
	if (c->to == TO_SAVED) {
		if (sm->before_xfer != B2B_ST_CONNECTED && sm->before_xfer != B2B_ST_ON_HOLD) {
			*why = "no state to return to";
			return -EPERM;
		}
		*next = sm->before_xfer;
	} else {
		*next = (enum b2b_state)(c->to - 1);
	}
	*cellp = c;
	return 0;
}

int b2b_state_peek(const struct b2b_state_machine *sm, enum b2b_event ev, enum b2b_state *next)
{
	const struct b2b_cell *c;
	const char *why;
	enum b2b_state to;
	int rc = lookup(sm, ev, &to, &c, &why);

	if (rc == 0 && next)
		*next = to;
	return rc;
}

int b2b_state_apply(struct b2b_state_machine *sm, enum b2b_event ev, const char *callid)
{
	const struct b2b_cell *c;
	enum b2b_state old = sm->state, to;
	const char *why;
	int rc;

	if (!callid)
		callid = "-";
	rc = lookup(sm, ev, &to, &c, &why);
	if (rc < 0) {
		sm->refused++;
		TG_LOG_CALL(B2B, WARN, callid, NULL,
			"refused event %s in state %s (pending %s): %s", b2b_event_name(ev),
			b2b_state_name(old), b2b_pending_name(sm->pending), why);
		return rc;
	}
	switch (c->op) {
	case OP_BEGIN_HOLD:
		sm->pending = B2B_PENDING_HOLD;
		break;
	case OP_BEGIN_RESUME:
		sm->pending = B2B_PENDING_RESUME;
		break;
	case OP_END_HOLD:
	case OP_END_RESUME:
		sm->pending = B2B_PENDING_NONE;
		break;
	case OP_BEGIN_XFER:
		sm->before_xfer = old;
		break;
	default:
		break;
	}
	sm->state = to;
	/* a re-INVITE still in flight is moot once the session leaves Connected/OnHold */
	if (to != B2B_ST_CONNECTED && to != B2B_ST_ON_HOLD)
		sm->pending = B2B_PENDING_NONE;
	sm->applied++;
	TG_LOG_CALL(B2B, DEBUG, callid, NULL, "%s: %s -> %s (pending %s)", b2b_event_name(ev),
		b2b_state_name(old), b2b_state_name(to), b2b_pending_name(sm->pending));
	if (sm->observer)
		sm->observer(sm->observer_ctx, sm, old, to, ev, callid);
	return 0;
}
