/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `events` command of the control socket: a subscription to the session layer's event bus
 * (b2b_events.h) streamed to the operator (cp_ctl.h's streams), one JSON object per event:
 *
 *   events [--call ID] [--kinds KIND,...]
 *
 * Each subscription has its own bounded queue on the bus (B2B_EVENTS_CTL_DEPTH events) whose
 * eventfd is watched on the loop; the events are written to the client as they come. When the
 * client reads too slowly and the connection's bounded output is half full, the stream stops
 * taking from its queue until the client has read (cp_ctl's on_room), so the queue fills and
 * the bus drops and counts (b2b_events_counters, `show stats`): neither the loop nor the calls
 * ever wait for a reader. Whatever a client lost reaches it as {"dropped": N}.
 *
 * Every line is {"time": RFC 3339 UTC with ms (as the call records), "call": id, "kind": ...}
 * and, by kind:
 *   state          from, to (b2b_state_name), event (b2b_event_name)
 *   incoming       from, to (the caller's From and To URIs)
 *   established    -
 *   ended          reason (the call record's end_reason), sip_code, duration_ms (0: never
 *                  answered)
 *   dtmf           digit, leg ("caller"|"callee": the party it came from or went to), method
 *                  ("rtp": RFC 4733 | "info": SIP INFO), direction ("received"|"sent"),
 *                  duration_ms (null: unknown)
 *   media-quality  stream (index of the m= line), leg ("caller"|"callee": whose media, as the
 *                  appliance receives it), mos (null: not computed), jitter_ms, rtt_ms (null:
 *                  no RTCP round trip yet), lost, packets
 *   transfer       state ("trying"|"ringing"|"succeeded"|"failed"), sip_code, target
 *   bridge         bridge, what ("added"|"removed"|"destroyed"); "call" may be null
 *
 * With --call, the stream ends ({"end": true, "reason": "call N ended"}) once that call's
 * record is written (its "ended" event, sent when asked for).
 *
 * Loop thread only.
 */
#ifndef TG_B2B_EVENTS_CTL_H
#define TG_B2B_EVENTS_CTL_H

#include <stddef.h>

#include <jansson.h>

#include "b2b_call.h"
#include "b2b_events.h"
#include "cp_ctl.h"
#include "cp_loop.h"

/* Events a subscriber's queue holds while its client or the loop is behind */
#define B2B_EVENTS_CTL_DEPTH 256

struct b2b_events_ctl;

/*
 * Registers `events` on ctl. bus: the bus to subscribe to; b: the calls (for --call: refused
 * when there is no such call; NULL: not checked). For --ctl-docs, l, bus and b may be NULL (no
 * handler runs then). NULL with errno.
 */
struct b2b_events_ctl *b2b_events_ctl_new(
	struct cp_ctl *ctl, struct cp_loop *l, struct b2b_events *bus, struct b2b *b);
/* Ends every stream ({"end": true, "reason": "the control plane is stopping"}) and refuses new
 * ones: before the bus goes. */
void b2b_events_ctl_stop(struct b2b_events_ctl *ec);
/* After the control socket is freed (its row points here); stops first if not stopped. */
void b2b_events_ctl_free(struct b2b_events_ctl *ec);
/* Streams open now */
unsigned b2b_events_ctl_streams(const struct b2b_events_ctl *ec);

/* The JSON line of an event (above). NULL without memory. */
json_t *b2b_ev_json(const struct b2b_ev *ev);
/*
 * The arguments of `events` into f (kinds 0: all; call 0: every call). 0, or -EINVAL with the
 * reason in err ("--kinds 'x': unknown kind 'x' (kinds: state, ...)").
 */
int b2b_events_ctl_args(
	const char *const *args, unsigned n, struct b2b_ev_filter *f, char *err, size_t errlen);

#endif
