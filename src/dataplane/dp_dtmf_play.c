/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 4733 DTMF on the lcores; the packet rules themselves are plain C in dp_dtmf.c.
 *
 *  - EP_DTMF (main lcore, dp_dtmf_submit): checked, then handed by value to the worker that
 *    relays toward the endpoint's remote, through that worker's job ring (one producer, one
 *    consumer). The main lcore never waits and never writes a worker's state: the endpoint's
 *    dtmf_req (main) and dtmf_done (the worker) say whether digits still play there.
 *  - Playing (worker): while it has players, a loop pass reads the TSC once and does nothing
 *    until a packet is due; then dp_dtmf_gen_next() says what to send, dp_dtmf_gen_write() gives
 *    it the RTP header that continues the remote's stream (the endpoint's tx.rtp, which this
 *    worker writes), and dp_relay_send_own() sends it from the endpoint's address. One mbuf per
 *    20 ms per digit string; nothing is added per relayed packet but a flag test.
 *  - Detection (worker receiving the remote's stream): the relay hands each packet of the
 *    endpoint's telephone-event PT to dp_dtmf_rx(); digits go to the lcore's outbox, sent to the
 *    control plane once per loop pass (one ring enqueue for the lot, not one per packet). An
 *    event whose end is lost and that no new event follows is reported by the lcore's watch
 *    list once DP_DTMF_DET_TIMEOUT_NS passed, checked with the players' deadline.
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_random.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "dp.h"
#include "dp_relay.h"
#include "tg_log.h"
#include "tg_stats_counters.h"
#include "tg_time.h"

/* ---- main lcore ---- */

/* Somewhere to send: the latched remote (same family) or a signalled one, in a direction that
 * sends. The main lcore writes cfg: it reads it in place. */
static bool can_send(const struct dp_ep *ep)
{
	struct dp_ep_learned l;

	if (!(ep->cfg.dir & TG_DIR_SEND))
		return false;
	dp_ep_learned_read(ep, &l);
	if ((ep->cfg.flags & TG_EPF_LATCH) && l.latched && l.gen == ep->cfg.gen)
		return l.src.family == ep->cfg.local.family;
	return ep->cfg.remote.family == ep->cfg.local.family;
}

int dp_dtmf_submit(struct dp_app *app, const struct tg_msg_ep_dtmf *req, uint32_t *play_ms)
{
	struct dp_dtmf_player pl;
	struct dp_lcore *w;
	struct dp_ep *ep;
	uint32_t id, prev;
	unsigned wi;

	if (dp_ep_find(app->flows, req->key, &id) < 0)
		return -ENOENT;
	ep = &app->eps[id];
	memset(&pl, 0, sizeof(pl));
	if (req->n_digits > TG_DTMF_DIGITS_MAX ||
		dp_dtmf_gen_init(&pl.gen, req->digits, req->n_digits, req->duration_ms, req->gap_ms,
			req->volume, req->pt, ep->cfg.clock_rate) < 0)
		return -EINVAL;
	if (!can_send(ep))
		return -ENOTCONN;
	/* one string at a time per endpoint: not queued, the control plane knows play_ms */
	prev = ep->dtmf_req;
	if (prev && prev != __atomic_load_n(&ep->dtmf_done, __ATOMIC_ACQUIRE))
		return -EBUSY;
	if (app->n_lcores < 2)
		return -ENOBUFS;
	/* the worker relaying toward the remote writes its RTP header space: it plays */
	wi = __atomic_load_n(&ep->tx.lcore, __ATOMIC_RELAXED);
	if (wi == 0 || wi >= app->n_lcores)
		wi = 1 + id % (app->n_lcores - 1);
	w = &app->lcores[wi];
	if (!w->dtmf_jobs)
		return -ENOBUFS;
	if (++app->dtmf_next_job == 0)
		app->dtmf_next_job = 1;
	pl.key = req->key;
	pl.ep = id;
	pl.job = app->dtmf_next_job;
	__atomic_store_n(&ep->dtmf_req, pl.job, __ATOMIC_RELEASE);
	if (rte_ring_sp_enqueue_elem(w->dtmf_jobs, &pl, sizeof(pl)) != 0) {
		__atomic_store_n(&ep->dtmf_req, prev, __ATOMIC_RELEASE);
		return -ENOBUFS;
	}
	*play_ms = (uint32_t)((dp_dtmf_gen_length_ns(&pl.gen) + TG_NS_PER_MS - 1) / TG_NS_PER_MS);
	TG_LOG(DP, DEBUG, "endpoint %llu: %u DTMF digit(s) to worker lcore %u, %u ms",
		(unsigned long long)req->key, req->n_digits, w->lcore_id, *play_ms);
	return 0;
}

/* ---- workers ---- */

unsigned dp_dtmf_take_jobs(struct dp_lcore *lc, uint64_t now_ns)
{
	const unsigned room = DP_DTMF_PLAYERS - lc->n_players;
	unsigned n;

	if (!lc->dtmf_jobs || !room)
		return 0; /* a full table leaves the jobs in the ring until a player ends */
	n = rte_ring_sc_dequeue_burst_elem(lc->dtmf_jobs, &lc->players[lc->n_players],
		sizeof(struct dp_dtmf_player), room, NULL);
	for (unsigned k = 0; k < n; k++)
		dp_dtmf_gen_start(&lc->players[lc->n_players + k].gen, now_ns);
	lc->n_players += n;
	if (n)
		lc->dtmf_due_tsc = 0;
	return n;
}

/* A digit for the control plane, into the lcore's outbox (sent at the end of the pass). */
static void post(struct dp_lcore *lc, struct dp_dtmf_det *d, uint64_t key,
	const struct dp_dtmf_digit *dg, uint32_t clock_rate, uint64_t now_ns, uint64_t *v)
{
	struct tg_msg *m;

	if (!dp_dtmf_det_allow(d, now_ns) || lc->n_evt_out == DP_EVT_OUTBOX) {
		v[TG_DPC_dtmf_evt_lost]++;
		return;
	}
	m = &lc->evt_out[lc->n_evt_out++];
	memset(m, 0, sizeof(*m));
	m->type = TG_MSG_DTMF;
	m->u.dtmf.key = key;
	m->u.dtmf.duration_ms = dp_dtmf_units_to_ms(dg->duration, clock_rate);
	m->u.dtmf.timestamp = dg->ts;
	m->u.dtmf.digit = dg->digit;
	m->u.dtmf.event = dg->event;
	m->u.dtmf.volume = dg->volume;
	m->u.dtmf.end = dg->end;
	v[TG_DPC_dtmf_detected]++;
}

void dp_dtmf_rx(struct dp_lcore *lc, uint32_t id, const uint8_t *rtp, uint16_t len,
	uint32_t clock_rate, uint64_t now_ns, uint64_t *v)
{
	struct dp_ep *ep = &lc->app->eps[id];
	struct dp_dtmf_digit dg[2];
	const uint64_t key = ep->cfg.key; /* fixed for the endpoint's life: no copy needed */
	const int n = dp_dtmf_det_packet(&ep->det, rtp, len, now_ns, dg);

	if (n < 0) {
		v[TG_DPC_dtmf_bad]++;
		return;
	}
	for (int i = 0; i < n; i++)
		post(lc, &ep->det, key, &dg[i], clock_rate, now_ns, v);
	/* an event under way: its end may never come */
	if (ep->det.state == DP_DTMF_DET_ON && !ep->det.watched && lc->n_watch < DP_DTMF_WATCH) {
		lc->watch[lc->n_watch++] = (struct dp_dtmf_watch){.key = key, .ep = id};
		ep->det.watched = 1;
		lc->dtmf_due_tsc = 0;
	}
}

static uint64_t play(struct dp_lcore *lc, uint64_t now_ns, unsigned *work)
{
	struct dp_app *app = lc->app;
	uint64_t *v = lc->stats->v, next = UINT64_MAX;

	for (unsigned i = 0; i < lc->n_players;) {
		struct dp_dtmf_player *pl = &lc->players[i];
		struct dp_ep *ep = &app->eps[pl->ep];
		struct dp_rtp_tx *t = &ep->tx.rtp;
		struct dp_dtmf_pkt pk;
		struct dp_ep_cfg c;

		if (__atomic_load_n(&ep->dtmf_req, __ATOMIC_ACQUIRE) != pl->job) {
			/* deleted, or made anew: the slot is no longer this string's to write */
			lc->players[i] = lc->players[--lc->n_players];
			continue;
		}
		if (pl->gen.next_ns <= now_ns) {
			dp_ep_cfg_read(ep, &c);
			/* at most an update, three end copies and the next digit's first packet */
			for (unsigned k = 0; k < 8 && dp_dtmf_gen_next(&pl->gen, now_ns, &pk);
				k++) {
				uint8_t pkt[DP_DTMF_PKT_LEN];

				dp_dtmf_gen_write(&pl->gen, &pk, t, c.flags & TG_EPF_REWRITE_RTP,
					c.out_ssrc, t->owned && t->have_last ? 0 : rte_rand(), pkt);
				/* a packet that cannot go now is lost, as on any network: its
				 * sequence number stays used and the next one follows the schedule
				 */
				if ((c.dir & TG_DIR_SEND) && dp_relay_send_own(lc, ep, &c, pkt,
								     sizeof(pkt), now_ns) == 0)
					v[TG_DPC_dtmf_sent]++;
				else
					v[TG_DPC_dtmf_unsent]++;
				(*work)++;
			}
		}
		if (dp_dtmf_gen_done(&pl->gen)) {
			t->playing = 0;
			__atomic_store_n(&ep->dtmf_done, pl->job, __ATOMIC_RELEASE);
			v[TG_DPC_dtmf_played]++;
			lc->players[i] = lc->players[--lc->n_players];
			continue;
		}
		if (pl->gen.next_ns < next)
			next = pl->gen.next_ns;
		i++;
	}
	return next;
}

static uint64_t watch(struct dp_lcore *lc, uint64_t now_ns, unsigned *work, uint64_t next)
{
	struct dp_app *app = lc->app;

	for (unsigned i = 0; i < lc->n_watch;) {
		struct dp_dtmf_watch *w = &lc->watch[i];
		struct dp_ep *ep = &app->eps[w->ep];
		struct dp_dtmf_digit dg;
		struct dp_ep_cfg c;

		dp_ep_cfg_read(ep, &c);
		if (ep->state != DP_EP_ACTIVE || c.key != w->key) {
			/* deleted or made anew (which cleared its detector): not ours to touch */
			lc->watch[i] = lc->watch[--lc->n_watch];
			continue;
		}
		if (dp_dtmf_det_expire(&ep->det, now_ns, &dg)) {
			post(lc, &ep->det, w->key, &dg, c.clock_rate, now_ns, lc->stats->v);
			(*work)++;
		}
		if (ep->det.state != DP_DTMF_DET_ON) {
			ep->det.watched = 0;
			lc->watch[i] = lc->watch[--lc->n_watch];
			continue;
		}
		if (ep->det.last_ns + DP_DTMF_DET_TIMEOUT_NS < next)
			next = ep->det.last_ns + DP_DTMF_DET_TIMEOUT_NS;
		i++;
	}
	return next;
}

uint64_t dp_dtmf_run(struct dp_lcore *lc, uint64_t now_ns, unsigned *work)
{
	return watch(lc, now_ns, work, play(lc, now_ns, work));
}

unsigned dp_dtmf_poll(struct dp_lcore *lc)
{
	uint64_t tsc, now_ns, next;
	unsigned work = 0;

	if (likely(!lc->n_players && !lc->n_watch))
		return 0;
	tsc = rte_rdtsc();
	if (tsc < lc->dtmf_due_tsc)
		return 0;
	now_ns = tg_now_ns();
	next = dp_dtmf_run(lc, now_ns, &work);
	if (next == UINT64_MAX)
		lc->dtmf_due_tsc = UINT64_MAX; /* a new job or watch sets it to 0 */
	else
		lc->dtmf_due_tsc =
			tsc + (next > now_ns ? (next - now_ns) / 1000 * (lc->tsc_hz / 1000000) : 0);
	if (work)
		dp_tx_flush(lc);
	return work;
}

void dp_dtmf_flush_events(struct dp_lcore *lc)
{
	const uint32_t gen = tg_chan_generation(lc->app->chan);
	unsigned sent;

	for (unsigned i = 0; i < lc->n_evt_out; i++)
		lc->evt_out[i].dp_gen = gen;
	sent = tg_chan_evt_send(lc->app->chan, lc->evt_out, lc->n_evt_out);
	for (unsigned i = 0; i < sent; i++) {
		const struct tg_msg_dtmf *d = &lc->evt_out[i].u.dtmf;

		TG_LOG(DP, DEBUG, "endpoint %llu: DTMF '%c' %u ms volume %u%s",
			(unsigned long long)d->key, d->digit, d->duration_ms, d->volume,
			d->end ? "" : " (end lost)");
	}
	if (sent < lc->n_evt_out) {
		/* the event ring is full: kept for the next pass (the outbox bounds them) */
		memmove(lc->evt_out, lc->evt_out + sent,
			(lc->n_evt_out - sent) * sizeof(lc->evt_out[0]));
		lc->stats->v[TG_DPC_evt_full]++;
	}
	lc->n_evt_out -= sent;
}
