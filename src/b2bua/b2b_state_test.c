/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session state machine against an expected table written here, independently of
 * b2b_state.c: every state (and every pending re-INVITE and transfer origin a state can carry)
 * times every event, so changing one cell of the real table fails this test. Then whole calls:
 * basic, cancelled, hold/resume with rollback, blind transfer, BYE from either side, and the
 * observer firing exactly once per applied transition and never for a refused one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "b2b_state.h"
#include "tg_log.h"

/* Column order of the expected table: must follow B2B_EVENTS (checked by test_names). */
static const enum b2b_event cols[] = {
	B2B_EV_INCOMING_INVITE,
	B2B_EV_OUTGOING_INVITE_SENT,
	B2B_EV_PROVISIONAL,
	B2B_EV_ANSWERED,
	B2B_EV_REJECTED,
	B2B_EV_CANCELLED,
	B2B_EV_HOLD_REQUESTED,
	B2B_EV_HOLD_CONFIRMED,
	B2B_EV_HOLD_FAILED,
	B2B_EV_RESUME_REQUESTED,
	B2B_EV_RESUME_CONFIRMED,
	B2B_EV_RESUME_FAILED,
	B2B_EV_TRANSFER_REQUESTED,
	B2B_EV_TRANSFER_SUCCEEDED,
	B2B_EV_TRANSFER_FAILED,
	B2B_EV_BYE_SENT,
	B2B_EV_BYE_RECEIVED,
	B2B_EV_TERMINATE_REQUESTED,
	B2B_EV_TIMEOUT,
	B2B_EV_TERMINATED,
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

/* A starting configuration: state, pending re-INVITE, and where a failed transfer returns. */
struct row {
	const char *name;
	enum b2b_state state;
	enum b2b_pending pending;
	enum b2b_state before_xfer;
	/* expected outcome per column: "-" refused, else a state code, "+h"/"+r" = pending after */
	const char *expect[NCOLS];
};

/* clang-format off */
static const struct row rows[] = {
/*                                               INV    OIS    PRV    ANS    REJ    CAN    HRQ      HOK    HFL    RRQ      ROK    RFL    XRQ    XOK    XFL    BYS    BYR    TRQ    TMO    END */
{"init",   B2B_ST_INITIALIZING, B2B_PENDING_NONE,   0, {"INI", "DIA", "RIN", "CON", "TRD", "TRD", "-",     "-",   "-",   "-",     "-",   "-",   "-",   "-",   "-",   "-",   "-",   "TRD", "TRD", "-"}},
{"dial",   B2B_ST_DIALING,      B2B_PENDING_NONE,   0, {"-",   "DIA", "RIN", "CON", "TRD", "TRG", "-",     "-",   "-",   "-",     "-",   "-",   "-",   "-",   "-",   "-",   "-",   "TRG", "TRG", "-"}},
{"ring",   B2B_ST_RINGING,      B2B_PENDING_NONE,   0, {"-",   "DIA", "RIN", "CON", "TRD", "TRG", "-",     "-",   "-",   "-",     "-",   "-",   "-",   "-",   "-",   "-",   "-",   "TRG", "TRG", "-"}},
{"conn",   B2B_ST_CONNECTED,    B2B_PENDING_NONE,   0, {"-",   "-",   "-",   "-",   "-",   "-",   "CON+h", "-",   "-",   "-",     "-",   "-",   "XFR", "-",   "-",   "TRG", "TRG", "TRG", "TRG", "-"}},
{"conn+h", B2B_ST_CONNECTED,    B2B_PENDING_HOLD,   0, {"-",   "-",   "-",   "-",   "-",   "-",   "-",     "HLD", "CON", "-",     "-",   "-",   "-",   "-",   "-",   "TRG", "TRG", "TRG", "TRG", "-"}},
{"hold",   B2B_ST_ON_HOLD,      B2B_PENDING_NONE,   0, {"-",   "-",   "-",   "-",   "-",   "-",   "-",     "-",   "-",   "HLD+r", "-",   "-",   "XFR", "-",   "-",   "TRG", "TRG", "TRG", "TRG", "-"}},
{"hold+r", B2B_ST_ON_HOLD,      B2B_PENDING_RESUME, 0, {"-",   "-",   "-",   "-",   "-",   "-",   "-",     "-",   "-",   "-",     "CON", "HLD", "-",   "-",   "-",   "TRG", "TRG", "TRG", "TRG", "-"}},
{"xfr<c",  B2B_ST_TRANSFERRING, B2B_PENDING_NONE,   B2B_ST_CONNECTED,
                                                       {"-",   "-",   "XFR", "-",   "-",   "-",   "-",     "-",   "-",   "-",     "-",   "-",   "-",   "CON", "CON", "TRG", "TRG", "TRG", "TRG", "-"}},
{"xfr<h",  B2B_ST_TRANSFERRING, B2B_PENDING_NONE,   B2B_ST_ON_HOLD,
                                                       {"-",   "-",   "XFR", "-",   "-",   "-",   "-",     "-",   "-",   "-",     "-",   "-",   "-",   "CON", "HLD", "TRG", "TRG", "TRG", "TRG", "-"}},
{"term",   B2B_ST_TERMINATING,  B2B_PENDING_NONE,   0, {"-",   "-",   "TRG", "TRG", "TRG", "TRG", "-",     "TRG", "TRG", "-",     "TRG", "TRG", "-",   "TRG", "TRG", "TRG", "TRG", "TRG", "TRD", "TRD"}},
{"done",   B2B_ST_TERMINATED,   B2B_PENDING_NONE,   0, {"-",   "-",   "-",   "-",   "-",   "-",   "-",     "-",   "-",   "-",     "-",   "-",   "-",   "-",   "-",   "-",   "-",   "-",   "-",   "-"}},
};
/* clang-format on */

static const struct {
	const char *code;
	enum b2b_state state;
} codes[] = {
	{"INI", B2B_ST_INITIALIZING},
	{"DIA", B2B_ST_DIALING},
	{"RIN", B2B_ST_RINGING},
	{"CON", B2B_ST_CONNECTED},
	{"HLD", B2B_ST_ON_HOLD},
	{"XFR", B2B_ST_TRANSFERRING},
	{"TRG", B2B_ST_TERMINATING},
	{"TRD", B2B_ST_TERMINATED},
};

static enum b2b_state code_state(const char *code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strncmp(code, codes[i].code, 3) == 0)
			return codes[i].state;
	fail_msg("bad code %s in the expected table", code);
	return B2B_ST__COUNT;
}

static enum b2b_pending code_pending(const char *code)
{
	if (strcmp(code + 3, "+h") == 0)
		return B2B_PENDING_HOLD;
	if (strcmp(code + 3, "+r") == 0)
		return B2B_PENDING_RESUME;
	assert_string_equal(code + 3, "");
	return B2B_PENDING_NONE;
}

/* What the observer saw */
struct seen {
	unsigned n;
	struct {
		enum b2b_state from, to;
		enum b2b_event ev;
		char callid[32];
	} t[64];
	const struct b2b_state_machine *sm;
};

static void observe(void *ctx, const struct b2b_state_machine *sm, enum b2b_state old_state,
	enum b2b_state new_state, enum b2b_event ev, const char *callid)
{
	struct seen *s = ctx;

	assert_ptr_equal(sm, s->sm);
	/* called after the machine moved */
	assert_int_equal(sm->state, new_state);
	assert_true(s->n < sizeof(s->t) / sizeof(s->t[0]));
	s->t[s->n].from = old_state;
	s->t[s->n].to = new_state;
	s->t[s->n].ev = ev;
	snprintf(s->t[s->n].callid, sizeof(s->t[s->n].callid), "%s", callid);
	s->n++;
}

static void quiet(void)
{
	assert_int_equal(tg_log_set_level("b2b", "err"), 0);
}

static void test_names(void **state)
{
	/* the expected table's columns are every event, in declaration order */
	assert_int_equal(NCOLS, B2B_EV__COUNT);
	for (size_t i = 0; i < NCOLS; i++)
		assert_int_equal(cols[i], (enum b2b_event)i);
	for (int s = 0; s < B2B_ST__COUNT; s++) {
		assert_string_not_equal(b2b_state_name(s), "?");
		for (int t = 0; t < s; t++)
			assert_string_not_equal(b2b_state_name(s), b2b_state_name(t));
	}
	for (int e = 0; e < B2B_EV__COUNT; e++) {
		assert_string_not_equal(b2b_event_name(e), "?");
		for (int f = 0; f < e; f++)
			assert_string_not_equal(b2b_event_name(e), b2b_event_name(f));
	}
	assert_string_equal(b2b_state_name(B2B_ST_ON_HOLD), "on-hold");
	assert_string_equal(b2b_event_name(B2B_EV_HOLD_FAILED), "hold-failed");
	assert_string_equal(b2b_pending_name(B2B_PENDING_RESUME), "resume");
	assert_string_equal(b2b_state_name(B2B_ST__COUNT), "?");
	assert_string_equal(b2b_state_name((enum b2b_state) - 1), "?");
	assert_string_equal(b2b_event_name(B2B_EV__COUNT), "?");
	assert_string_equal(b2b_pending_name(B2B_PENDING__COUNT), "?");
}

/* Every state has a row with nothing pending. */
static void test_rows_cover_every_state(void **state)
{
	for (int s = 0; s < B2B_ST__COUNT; s++) {
		bool found = false;

		for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
			found |= rows[r].state == (enum b2b_state)s &&
				 rows[r].pending == B2B_PENDING_NONE;
		assert_true(found);
	}
}

static void test_every_state_every_event(void **state)
{
	quiet();
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		for (size_t c = 0; c < NCOLS; c++) {
			const char *exp = rows[r].expect[c];
			struct b2b_state_machine sm;
			struct seen seen = {.sm = &sm};
			enum b2b_state peeked = B2B_ST__COUNT;
			int rc, prc;

			b2b_state_init(&sm, observe, &seen);
			sm.state = rows[r].state;
			sm.pending = rows[r].pending;
			sm.before_xfer = rows[r].before_xfer;
			prc = b2b_state_peek(&sm, cols[c], &peeked);
			rc = b2b_state_apply(&sm, cols[c], "table@test");
			if (strcmp(exp, "-") == 0) {
				if (rc != -EPERM)
					fail_msg("%s + %s: expected refused, got %d -> %s",
						rows[r].name, b2b_event_name(cols[c]), rc,
						b2b_state_name(sm.state));
				assert_int_equal(prc, -EPERM);
				assert_int_equal(sm.state, rows[r].state);
				assert_int_equal(sm.pending, rows[r].pending);
				assert_int_equal(sm.refused, 1);
				assert_int_equal(sm.applied, 0);
				assert_int_equal(seen.n, 0);
				continue;
			}
			if (rc != 0 || sm.state != code_state(exp) ||
				sm.pending != code_pending(exp))
				fail_msg("%s + %s: expected %s, got rc %d, %s (pending %s)",
					rows[r].name, b2b_event_name(cols[c]), exp, rc,
					b2b_state_name(sm.state), b2b_pending_name(sm.pending));
			assert_int_equal(prc, 0);
			assert_int_equal(peeked, sm.state);
			assert_int_equal(sm.applied, 1);
			assert_int_equal(sm.refused, 0);
			assert_int_equal(seen.n, 1);
			assert_int_equal(seen.t[0].from, rows[r].state);
			assert_int_equal(seen.t[0].to, sm.state);
			assert_int_equal(seen.t[0].ev, cols[c]);
			assert_string_equal(seen.t[0].callid, "table@test");
		}
	}
}

static void test_out_of_range(void **state)
{
	struct b2b_state_machine sm;
	struct seen seen = {.sm = &sm};

	quiet();
	b2b_state_init(&sm, observe, &seen);
	assert_int_equal(b2b_state_apply(&sm, B2B_EV__COUNT, "x"), -EINVAL);
	assert_int_equal(b2b_state_apply(&sm, (enum b2b_event) - 1, NULL), -EINVAL);
	assert_int_equal(b2b_state_peek(&sm, B2B_EV__COUNT, NULL), -EINVAL);
	assert_int_equal(sm.state, B2B_ST_INITIALIZING);
	assert_int_equal(sm.refused, 2);
	assert_int_equal(seen.n, 0);
	sm.state = B2B_ST__COUNT;
	assert_int_equal(b2b_state_apply(&sm, B2B_EV_TIMEOUT, "x"), -EINVAL);
	/* a transfer that somehow lost where it came from is refused, not sent anywhere */
	sm.state = B2B_ST_TRANSFERRING;
	sm.before_xfer = B2B_ST_DIALING;
	assert_int_equal(b2b_state_apply(&sm, B2B_EV_TRANSFER_FAILED, "x"), -EPERM);
	assert_int_equal(sm.state, B2B_ST_TRANSFERRING);
	assert_int_equal(seen.n, 0);
}

/*
 * Feeds a whole script: each step an event and the expected result (a state code, "-" for
 * refused). Returns the machine for more checks.
 */
struct step {
	enum b2b_event ev;
	const char *expect;
};

static void run(struct b2b_state_machine *sm, struct seen *seen, const struct step *steps, size_t n)
{
	unsigned applied = 0, refused = 0;

	for (size_t i = 0; i < n; i++) {
		enum b2b_state before = sm->state;
		unsigned seen_before = seen->n;
		int rc = b2b_state_apply(sm, steps[i].ev, "seq@test");

		if (strcmp(steps[i].expect, "-") == 0) {
			if (rc != -EPERM)
				fail_msg("step %zu %s: expected refused, got %s", i,
					b2b_event_name(steps[i].ev), b2b_state_name(sm->state));
			assert_int_equal(sm->state, before);
			assert_int_equal(seen->n, seen_before);
			refused++;
		} else {
			if (rc != 0 || sm->state != code_state(steps[i].expect) ||
				sm->pending != code_pending(steps[i].expect))
				fail_msg("step %zu %s: expected %s, got rc %d %s (pending %s)", i,
					b2b_event_name(steps[i].ev), steps[i].expect, rc,
					b2b_state_name(sm->state), b2b_pending_name(sm->pending));
			/* exactly one observer call, describing this transition */
			assert_int_equal(seen->n, seen_before + 1);
			assert_int_equal(seen->t[seen_before].from, before);
			assert_int_equal(seen->t[seen_before].to, sm->state);
			assert_int_equal(seen->t[seen_before].ev, steps[i].ev);
			applied++;
		}
	}
	assert_int_equal(sm->applied, applied);
	assert_int_equal(sm->refused, refused);
	assert_int_equal(seen->n, applied);
}

#define RUN(...)                                                                                   \
	do {                                                                                       \
		const struct step steps_[] = {__VA_ARGS__};                                        \
		struct b2b_state_machine sm_;                                                      \
		struct seen seen_ = {.sm = &sm_};                                                  \
		b2b_state_init(&sm_, observe, &seen_);                                             \
		run(&sm_, &seen_, steps_, sizeof(steps_) / sizeof(steps_[0]));                     \
	} while (0)

#define S(ev, exp)                                                                                 \
	{                                                                                          \
		B2B_EV_##ev, exp                                                                   \
	}

static void test_basic_call(void **state)
{
	quiet();
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(PROVISIONAL, "RIN"),
		S(PROVISIONAL, "RIN"),		      /* 180 then 183 */
		S(ANSWERED, "CON"), S(ANSWERED, "-"), /* a stray 2xx is refused */
		S(BYE_RECEIVED, "TRG"), S(BYE_SENT, "TRG"), S(TERMINATED, "TRD"));
	/* answered without a provisional; failover to a second route */
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(PROVISIONAL, "RIN"),
		S(OUTGOING_INVITE_SENT, "DIA"), S(ANSWERED, "CON"), S(TIMEOUT, "TRG"),
		S(TERMINATED, "TRD"));
	/* rejected by B, refused locally, no answer */
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(REJECTED, "TRD"),
		S(BYE_RECEIVED, "-"));
	RUN(S(INCOMING_INVITE, "INI"), S(REJECTED, "TRD"));
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(PROVISIONAL, "RIN"),
		S(TIMEOUT, "TRG"), S(REJECTED, "TRG"), S(TERMINATED, "TRD"));
	/* BYE or hold before the call is up is refused */
	RUN(S(INCOMING_INVITE, "INI"), S(BYE_RECEIVED, "-"), S(OUTGOING_INVITE_SENT, "DIA"),
		S(HOLD_REQUESTED, "-"), S(BYE_SENT, "-"), S(INCOMING_INVITE, "-"),
		S(ANSWERED, "CON"));
}

static void test_cancelled_call(void **state)
{
	quiet();
	/* CANCEL while ringing: forwarded, the B leg's 487 and a late 180 are absorbed */
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(PROVISIONAL, "RIN"),
		S(CANCELLED, "TRG"), S(PROVISIONAL, "TRG"), S(REJECTED, "TRG"),
		S(TERMINATED, "TRD"));
	/* CANCEL before the B leg exists ends the session at once */
	RUN(S(INCOMING_INVITE, "INI"), S(CANCELLED, "TRD"), S(TERMINATED, "-"));
	/* 2xx crossing the CANCEL: kept in Terminating (the B leg gets ACK + BYE) */
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(CANCELLED, "TRG"),
		S(ANSWERED, "TRG"), S(BYE_SENT, "TRG"), S(HOLD_REQUESTED, "-"),
		S(TERMINATED, "TRD"));
	/* CANCEL after the answer is refused: the call goes on */
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(ANSWERED, "CON"),
		S(CANCELLED, "-"), S(BYE_RECEIVED, "TRG"), S(TERMINATED, "TRD"));
}

static void test_hold_resume(void **state)
{
	quiet();
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(ANSWERED, "CON"),
		/* hold re-INVITE rejected: rolls back to Connected */
		S(HOLD_REQUESTED, "CON+h"), S(HOLD_REQUESTED, "-"), /* one re-INVITE at a time */
		S(RESUME_REQUESTED, "-"), S(TRANSFER_REQUESTED, "-"), S(HOLD_FAILED, "CON"),
		S(HOLD_FAILED, "-"), S(HOLD_CONFIRMED, "-"), /* nothing pending any more */
		/* hold accepted */
		S(HOLD_REQUESTED, "CON+h"), S(HOLD_CONFIRMED, "HLD"), S(HOLD_REQUESTED, "-"),
		/* resume fails: still on hold; then succeeds */
		S(RESUME_REQUESTED, "HLD+r"), S(RESUME_REQUESTED, "-"), S(RESUME_FAILED, "HLD"),
		S(RESUME_CONFIRMED, "-"), S(RESUME_REQUESTED, "HLD+r"), S(RESUME_CONFIRMED, "CON"),
		/* a pending hold does not survive a BYE; its late 2xx is absorbed */
		S(HOLD_REQUESTED, "CON+h"), S(BYE_RECEIVED, "TRG"), S(HOLD_CONFIRMED, "TRG"),
		S(BYE_SENT, "TRG"), S(TERMINATED, "TRD"));
}

static void test_transfer(void **state)
{
	quiet();
	/* blind transfer from hold, succeeding */
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(ANSWERED, "CON"),
		S(HOLD_REQUESTED, "CON+h"), S(HOLD_CONFIRMED, "HLD"), S(TRANSFER_REQUESTED, "XFR"),
		S(TRANSFER_REQUESTED, "-"), S(PROVISIONAL, "XFR"), S(HOLD_REQUESTED, "-"),
		S(TRANSFER_SUCCEEDED, "CON"), S(BYE_SENT, "TRG"), S(BYE_RECEIVED, "TRG"),
		S(TERMINATED, "TRD"));
	/* failing from hold returns to hold, from Connected to Connected */
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(ANSWERED, "CON"),
		S(HOLD_REQUESTED, "CON+h"), S(HOLD_CONFIRMED, "HLD"), S(TRANSFER_REQUESTED, "XFR"),
		S(TRANSFER_FAILED, "HLD"), S(RESUME_REQUESTED, "HLD+r"), S(RESUME_CONFIRMED, "CON"),
		S(TRANSFER_REQUESTED, "XFR"), S(TRANSFER_FAILED, "CON"), S(TRANSFER_FAILED, "-"),
		S(TRANSFER_SUCCEEDED, "-"), S(TRANSFER_REQUESTED, "XFR"), S(BYE_RECEIVED, "TRG"),
		S(TRANSFER_FAILED, "TRG"), S(TERMINATED, "TRD"));
}

static void test_bye_either_side(void **state)
{
	quiet();
	/* A hangs up: BYE received on A, relayed to B */
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(ANSWERED, "CON"),
		S(BYE_RECEIVED, "TRG"), S(BYE_SENT, "TRG"), S(TERMINATED, "TRD"));
	/* the B2BUA hangs up both legs (max duration) and the two BYEs cross a BYE from B */
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(ANSWERED, "CON"),
		S(TERMINATE_REQUESTED, "TRG"), S(BYE_SENT, "TRG"), S(BYE_SENT, "TRG"),
		S(BYE_RECEIVED, "TRG"), S(TERMINATE_REQUESTED, "TRG"), S(TERMINATED, "TRD"));
	/* from hold, and a leg that never answers our BYE */
	RUN(S(INCOMING_INVITE, "INI"), S(OUTGOING_INVITE_SENT, "DIA"), S(ANSWERED, "CON"),
		S(HOLD_REQUESTED, "CON+h"), S(HOLD_CONFIRMED, "HLD"), S(BYE_SENT, "TRG"),
		S(TIMEOUT, "TRD"));
}

static void test_terminal_absorbs_nothing(void **state)
{
	struct b2b_state_machine sm;
	struct seen seen = {.sm = &sm};

	quiet();
	b2b_state_init(&sm, observe, &seen);
	assert_int_equal(b2b_state_apply(&sm, B2B_EV_INCOMING_INVITE, "t"), 0);
	assert_int_equal(b2b_state_apply(&sm, B2B_EV_CANCELLED, "t"), 0);
	assert_true(b2b_state_is_final(&sm));
	for (int e = 0; e < B2B_EV__COUNT; e++) {
		assert_int_equal(b2b_state_apply(&sm, e, "t"), -EPERM);
		assert_int_equal(b2b_state_peek(&sm, e, NULL), -EPERM);
	}
	assert_int_equal(sm.state, B2B_ST_TERMINATED);
	assert_int_equal(sm.refused, B2B_EV__COUNT);
	assert_int_equal(seen.n, 2);
}

/* Without an observer nothing breaks; self-transitions reach the observer with old == new. */
static void test_observer(void **state)
{
	struct b2b_state_machine sm;
	struct seen seen = {.sm = &sm};

	quiet();
	b2b_state_init(&sm, NULL, NULL);
	assert_int_equal(b2b_state_apply(&sm, B2B_EV_INCOMING_INVITE, NULL), 0);
	assert_int_equal(b2b_state_apply(&sm, B2B_EV_HOLD_CONFIRMED, NULL), -EPERM);
	assert_int_equal(sm.applied, 1);

	b2b_state_init(&sm, observe, &seen);
	assert_int_equal(b2b_state_apply(&sm, B2B_EV_INCOMING_INVITE, NULL), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.t[0].from, B2B_ST_INITIALIZING);
	assert_int_equal(seen.t[0].to, B2B_ST_INITIALIZING);
	assert_string_equal(seen.t[0].callid, "-");
	assert_int_equal(b2b_state_apply(&sm, B2B_EV_TERMINATED, "c"), -EPERM);
	assert_int_equal(seen.n, 1);
}

/* A refusal is one warn line carrying the call-id, the event and the state. */
static void test_refusal_logged(void **state)
{
	struct b2b_state_machine sm;
	int fds[2], saved = dup(STDERR_FILENO);
	char buf[4096] = "";
	ssize_t n;

	assert_int_equal(tg_log_set_level("b2b", "info"), 0);
	assert_int_equal(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	b2b_state_init(&sm, NULL, NULL);
	b2b_state_apply(&sm, B2B_EV_INCOMING_INVITE, "ok@host"); /* applied: debug only */
	b2b_state_apply(&sm, B2B_EV_BYE_RECEIVED, "abc@host");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "warn b2b: [abc@host] refused event bye-received in state "
				    "initializing"));
	assert_null(strstr(buf, "ok@host"));
	assert_non_null(strchr(buf, '\n'));
	assert_null(strchr(strchr(buf, '\n') + 1, '\n'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_rows_cover_every_state),
		cmocka_unit_test(test_every_state_every_event),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_basic_call),
		cmocka_unit_test(test_cancelled_call),
		cmocka_unit_test(test_hold_resume),
		cmocka_unit_test(test_transfer),
		cmocka_unit_test(test_bye_either_side),
		cmocka_unit_test(test_terminal_absorbs_nothing),
		cmocka_unit_test(test_observer),
		cmocka_unit_test(test_refusal_logged),
	};

	return cmocka_run_group_tests_name("b2b_state", tests, NULL, NULL);
}
