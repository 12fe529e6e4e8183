/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Media-quality rounds (see b2b_quality.h). A round is a list of endpoints made at its start
 * (the calls' views do not outlive the loop turn) and worked through B2B_QUALITY_IN_FLIGHT at a
 * time. A round belongs to the module until the module goes; then it is an orphan, and the last
 * reply frees it: the channel's client calls back every request, even at its own end.
 */
#include "b2b_quality.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tg_log.h"
#include "tg_time.h"

#define OFF_RECHECK_NS TG_NS_PER_S /* quality_interval = 0: when to look at it again */

struct q_round;

struct q_ep {
	struct q_round *r;
	uint64_t call;
	uint64_t key;
	uint8_t stream;
	char leg; /* 'a' or 'b' */
};

struct q_round {
	struct b2b_quality *q; /* NULL: the module is gone */
	struct q_ep *eps;
	size_t n, cap;
	size_t next; /* eps[next, n) not asked yet */
	unsigned in_flight;
};

struct b2b_quality {
	struct b2b_quality_params p;
	struct b2b_events *bus;
	void *calls_arg, *stats_arg; /* the first argument of p.calls_each, p.stats */
	struct cp_timer tick;
	struct q_round *round; /* the round running, or NULL */
	struct b2b_quality_counters c;
};

/* ---- the appliance's calls and statistics -------------------------------------------------- */

static void b2b_each(void *arg, bool (*fn)(void *ctx, const struct b2b_call_view *v), void *ctx)
{
	b2b_calls_each(((struct b2b_quality *)arg)->p.b, fn, ctx);
}

static void dp_reply(struct cp_dp *dp, const struct tg_msg *r, int status, void *ctx)
{
	(void)dp;
	b2b_quality_stats_done(ctx, r && status == 0 ? &r->u.ep_stats : NULL);
}

static int dp_stats(void *arg, uint64_t key, void *ctx)
{
	struct b2b_quality *q = arg;
	struct tg_msg m = {.type = TG_MSG_EP_STATS};

	if (!cp_dp_is_up(q->p.dp))
		return -ENOTCONN;
	m.u.ep.key = key;
	return cp_dp_request(q->p.dp, 0, &m, dp_reply, ctx);
}

/* ---- rounds -------------------------------------------------------------------------------- */

static void round_free(struct q_round *r)
{
	free(r->eps);
	free(r);
}

static void publish(struct b2b_quality *q, const struct q_ep *ep, const struct tg_msg_ep_stats *st)
{
	struct b2b_ev e;

	/* its subscriber may have gone meanwhile */
	if (!b2b_events_wanted(q->bus, B2B_EVK_MEDIA_QUALITY, ep->call))
		return;
	memset(&e, 0, sizeof(e));
	e.call = ep->call;
	e.kind = B2B_EVK_MEDIA_QUALITY;
	e.time_ms = tg_wall_ms();
	e.u.quality.stream = ep->stream;
	e.u.quality.leg = ep->leg;
	e.u.quality.mos_x100 = st->mos_x100;
	e.u.quality.jitter_us = st->jitter_us;
	e.u.quality.rtt_us = st->rtt_us;
	e.u.quality.lost = st->lost;
	e.u.quality.packets = st->rx_pkts;
	b2b_events_publish(q->bus, &e);
	q->c.events++;
}

/* Asks for what is left, up to the bound; finishes the round when nothing is left at all. */
static void pump(struct q_round *r)
{
	struct b2b_quality *q = r->q;

	while (r->in_flight < B2B_QUALITY_IN_FLIGHT && r->next < r->n) {
		struct q_ep *ep = &r->eps[r->next++];
		int rc = q->p.stats(q->stats_arg, ep->key, ep);

		q->c.requests++;
		if (rc < 0)
			q->c.failed++;
		else
			r->in_flight++;
	}
	if (!r->in_flight && r->next == r->n) {
		q->round = NULL;
		q->c.rounds++;
		round_free(r);
	}
}

void b2b_quality_stats_done(void *ctx, const struct tg_msg_ep_stats *st)
{
	struct q_ep *ep = ctx;
	struct q_round *r = ep->r;

	r->in_flight--;
	if (!r->q) {
		if (!r->in_flight)
			round_free(r);
		return;
	}
	if (st)
		publish(r->q, ep, st);
	else
		r->q->c.failed++;
	pump(r);
}

static bool answered(const struct b2b_call_view *v)
{
	return v->answer_ms > 0 && (v->state == B2B_ST_CONNECTED || v->state == B2B_ST_ON_HOLD ||
					   v->state == B2B_ST_TRANSFERRING);
}

static bool add_ep(struct q_round *r, const struct b2b_call_view *v, unsigned i, bool b)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct q_ep *p = realloc(r->eps, cap * sizeof(*p));

		if (!p)
			return false;
		r->eps = p;
		r->cap = cap;
	}
	r->eps[r->n++] = (struct q_ep){
		.r = r,
		.call = v->id,
		.key = b ? v->media[i].key_b : v->media[i].key_a,
		.stream = (uint8_t)i,
		.leg = b ? 'b' : 'a',
	};
	return true;
}

/* Each answered call somebody listens to: its active streams' endpoints */
static bool collect(void *ctx, const struct b2b_call_view *v)
{
	struct q_round *r = ctx;

	if (!answered(v) || !b2b_events_wanted(r->q->bus, B2B_EVK_MEDIA_QUALITY, v->id))
		return true;
	for (unsigned i = 0; i < v->nmedia && i < CP_SDP_MAX_MEDIA; i++) {
		if (!v->media[i].active)
			continue;
		if (!add_ep(r, v, i, false) || !add_ep(r, v, i, true))
			return false; /* out of memory: this round does what it has */
	}
	return true;
}

static void on_tick(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct b2b_quality *q = arg;
	uint64_t iv = q->p.cfg->quality_interval_ms;
	struct b2b_events_counters bc;
	struct q_round *r;

	cp_timer_start(l, t, iv ? iv * TG_NS_PER_MS : OFF_RECHECK_NS);
	if (!iv)
		return;
	if (q->round) {
		q->c.skipped++;
		return;
	}
	b2b_events_counters(q->bus, &bc);
	if (!bc.subscribers)
		return;
	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->q = q;
	q->p.calls_each(q->calls_arg, collect, r);
	if (!r->n) {
		round_free(r);
		return;
	}
	q->round = r;
	pump(r);
}

struct b2b_quality *b2b_quality_new(const struct b2b_quality_params *p)
{
	struct b2b_quality *q = calloc(1, sizeof(*q));
	uint64_t iv;

	if (!q)
		return NULL;
	q->p = *p;
	q->bus = p->b ? b2b_events_of(p->b) : p->bus;
	q->calls_arg = p->b ? (void *)q : p->arg;
	q->stats_arg = p->dp ? (void *)q : p->arg;
	if (p->b)
		q->p.calls_each = b2b_each;
	if (p->dp)
		q->p.stats = dp_stats;
	if (!q->bus || !q->p.calls_each || !q->p.stats || !p->loop || !p->cfg) {
		free(q);
		errno = EINVAL;
		return NULL;
	}
	cp_timer_init(&q->tick, on_tick, q);
	iv = p->cfg->quality_interval_ms;
	if (cp_timer_start(p->loop, &q->tick, iv ? iv * TG_NS_PER_MS : OFF_RECHECK_NS) < 0) {
		free(q);
		errno = ENOMEM;
		return NULL;
	}
	return q;
}

void b2b_quality_free(struct b2b_quality *q)
{
	if (!q)
		return;
	cp_timer_stop(q->p.loop, &q->tick);
	if (q->round) {
		struct q_round *r = q->round;

		r->q = NULL;
		r->next = r->n; /* nothing more is asked */
		if (!r->in_flight)
			round_free(r);
	}
	free(q);
}

const struct b2b_quality_counters *b2b_quality_counters(const struct b2b_quality *q)
{
	return &q->c;
}
