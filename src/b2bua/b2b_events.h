/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session layer's event bus: every lifecycle, media, DTMF, transfer and bridge event of every
 * call, published by the coordinator on the control plane's loop thread and delivered to any
 * number of subscribers, each with a filter (one call, a set of kinds).
 *
 * A subscriber never stalls the loop: publishing copies the event into each matching
 * subscriber's own bounded queue (a ring of fixed-size events) and signals its eventfd; a full
 * queue drops the event and counts it for that subscriber (and in the bus's totals). The
 * subscriber drains its queue whenever it likes, from the loop thread (the control socket's
 * `events` stream) or from another thread (an application polling the eventfd): one producer
 * (the loop thread), one consumer per subscription, lock-free.
 */
#ifndef TG_B2B_EVENTS_H
#define TG_B2B_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "b2b_cdr.h"
#include "b2b_state.h"

/* X(id, name) */
#define B2B_EV_KINDS(X)                                                                            \
	X(STATE, "state")		  /* a state machine transition (u.state) */               \
	X(INCOMING, "incoming")		  /* an INVITE started a call (u.call) */                  \
	X(ESTABLISHED, "established")	  /* both legs answered (u.call) */                        \
	X(ENDED, "ended")		  /* the call's record was written (u.ended) */            \
	X(DTMF, "dtmf")			  /* a digit from a party, or sent to one (u.dtmf) */      \
	X(MEDIA_QUALITY, "media-quality") /* periodic statistics of a stream (u.quality) */        \
	X(TRANSFER, "transfer")		  /* transfer progress (u.transfer) */                     \
	X(BRIDGE, "bridge")		  /* bridge participants added / removed, destroyed */

enum b2b_ev_kind {
#define B2B_X(id, name) B2B_EVK_##id,
	B2B_EV_KINDS(B2B_X)
#undef B2B_X
		B2B_EVK__COUNT
};

#define B2B_EVK_BIT(k) (1u << (k))
#define B2B_EVK_ALL ((1u << B2B_EVK__COUNT) - 1)

/* Fixed-size, no pointers: an event is copied into queues and read on other threads. */
struct b2b_ev {
	uint64_t call;	 /* the call's id (b2b_call_view.id); 0: none (a bridge event) */
	int64_t time_ms; /* Unix time in ms */
	uint16_t kind;	 /* enum b2b_ev_kind */
	uint16_t pad[3];
	union {
		struct {
			uint8_t from, to; /* enum b2b_state */
			uint8_t event;	  /* enum b2b_event */
		} state;
		struct {
			char from[96]; /* the caller's From URI, cut to fit */
			char to[96];
		} call;
		struct {
			uint8_t reason; /* enum b2b_cdr_reason */
			int16_t sip_code;
			int64_t duration_ms; /* from the answer; 0 if never answered */
		} ended;
		struct {
			char digit;	      /* 0-9 * # A-D */
			char leg;	      /* 'a' (the caller's leg) or 'b' */
			uint8_t method;	      /* 0: RFC 4733 (RTP), 1: SIP INFO */
			uint8_t outgoing;     /* 1: sent to that leg, 0: received from it */
			uint16_t duration_ms; /* 0: unknown */
		} dtmf;
		struct {
			uint8_t stream;
			char leg;	   /* whose reception these are: 'a' or 'b' */
			uint16_t mos_x100; /* 0: unknown */
			uint32_t jitter_us;
			uint32_t rtt_us; /* 0: unknown */
			int32_t lost;
			uint64_t packets;
		} quality;
		struct {
			uint8_t state;	  /* 0: trying, 1: ringing, 2: succeeded, 3: failed */
			int16_t sip_code; /* the target's status, when it answered */
			char target[96];  /* Refer-To, cut to fit */
		} transfer;
		struct {
			uint64_t bridge;
			uint8_t what; /* 0: added, 1: removed, 2: destroyed */
		} bridge;
	} u;
};

struct b2b_events;
struct b2b_ev_sub;

/* What a subscriber wants: kinds (B2B_EVK_BIT mask; 0 = all), one call (0 = every call). */
struct b2b_ev_filter {
	uint32_t kinds;
	uint64_t call;
};

struct b2b_events *b2b_events_new(void);
/* Subscriptions still open are closed and freed. */
void b2b_events_free(struct b2b_events *bus);

/* Loop thread only. Copies ev into every matching subscriber's queue (dropped and counted where
 * full) and signals its eventfd. */
void b2b_events_publish(struct b2b_events *bus, const struct b2b_ev *ev);
/* Whether anybody wants this kind for this call (to skip building costly events). */
bool b2b_events_wanted(const struct b2b_events *bus, enum b2b_ev_kind kind, uint64_t call);

/*
 * A subscription with a queue of 'depth' events (rounded up to a power of two; 0 = 1024).
 * Loop thread only. NULL with errno.
 */
struct b2b_ev_sub *b2b_events_subscribe(
	struct b2b_events *bus, const struct b2b_ev_filter *f, unsigned depth);
/* Loop thread only; the subscriber must not be reading at the same time. */
void b2b_events_unsubscribe(struct b2b_ev_sub *s);
/* Readable (EPOLLIN) when events wait: the consumer reads it to clear, then drains. */
int b2b_ev_sub_fd(const struct b2b_ev_sub *s);
/* Consumer side, any one thread: the next event into *ev, true; false when empty. */
bool b2b_ev_sub_next(struct b2b_ev_sub *s, struct b2b_ev *ev);
/* Events this subscriber lost to a full queue (monotonic). */
uint64_t b2b_ev_sub_dropped(const struct b2b_ev_sub *s);

struct b2b_events_counters {
	uint64_t published;
	uint64_t delivered;
	uint64_t dropped; /* summed over subscribers */
	unsigned subscribers;
};
void b2b_events_counters(const struct b2b_events *bus, struct b2b_events_counters *out);

const char *b2b_ev_kind_name(enum b2b_ev_kind k);
/* "state,dtmf" -> mask; -EINVAL naming nothing (an unknown kind). */
int b2b_ev_kinds_parse(const char *list, uint32_t *mask);

#endif
