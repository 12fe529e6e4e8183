/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Channel commands on the dataplane side. Every lcore that owns a command ring polls it between
 * bursts; each command gets exactly one reply. When the event ring is full the replies wait in
 * the lcore's backlog and the lcore reads no new command, so the back-pressure reaches the
 * control plane as a full command ring instead of a lost reply, and no lcore ever blocks.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <rte_lcore.h>

#include "dp.h"
#include "dp_emodel.h"
#include "tg_log.h"
#include "tg_stats_counters.h"
#include "tg_time.h"
#include "tollgate/version.h"

static void cmd_hello(struct dp_lcore *lc, const struct tg_msg *cmd, struct tg_msg *r)
{
	struct dp_app *app = lc->app;

	r->u.hello.dp_pid = (uint32_t)getpid();
	r->u.hello.n_lcores = (uint16_t)app->n_lcores;
	r->u.hello.n_ports = (uint16_t)app->n_ports;
	snprintf(r->u.hello.version, sizeof(r->u.hello.version), "%s", TOLLGATE_VERSION);
	TG_LOG(DP, INFO, "hello from control plane pid %u (cp generation %08x, version %.31s)",
		cmd->u.hello.cp_pid, cmd->cp_gen, cmd->u.hello.version);
}

static void cmd_ping(struct dp_lcore *lc, const struct tg_msg *cmd, struct tg_msg *r)
{
	r->u.ping.dp_recv_ns = tg_now_ns();
	r->u.ping.lcore_id = lc->lcore_id;
}

/*
 * An endpoint's statistics for the control plane. MOS is the E-model's for what this
 * endpoint receives: loss as measured here, delay as half the RTCP round trip plus a jitter
 * buffer of twice the jitter, and G.711 with packet-loss concealment (Ie 0, Bpl 25.1) until the
 * control plane tells the dataplane the codec.
 */
void dp_ep_stats_fill(const struct dp_ep *ep, uint64_t now, struct tg_msg_ep_stats *st)
{
	struct dp_ep_rx rx;
	struct dp_rtpstats_report r;
	const uint32_t clock = ep->cfg.clock_rate ? ep->cfg.clock_rate : 8000;
	double jitter_ms, ta_ms;

	st->key = ep->cfg.key;
	st->tx_pkts = ep->tx.tx_pkts;
	if (!dp_ep_rx_read(ep, &rx))
		return;
	dp_rtpstats_get(&rx.rtp, &r);
	st->rx_pkts = r.packets;
	st->rx_bytes = r.bytes;
	st->rtcp_pkts = rx.rtcp_pkts;
	st->dropped = rx.dropped;
	st->lost = (int32_t)(r.lost_total > INT32_MAX	? INT32_MAX
			     : r.lost_total < INT32_MIN ? INT32_MIN
							: r.lost_total);
	st->expected = (uint32_t)(r.expected_total > UINT32_MAX ? UINT32_MAX : r.expected_total);
	st->jitter_us = (uint32_t)dp_rtpstats_units_to_us(r.jitter, clock);
	st->jitter_max_us = (uint32_t)dp_rtpstats_units_to_us(r.jitter_max, clock);
	st->out_of_order = (uint32_t)r.out_of_order;
	st->duplicates = (uint32_t)r.duplicates;
	st->rtt_us = rx.report.rtt_us;
	st->remote_lost =
		rx.report.have ? (uint32_t)(rx.report.cum_lost < 0 ? 0 : rx.report.cum_lost) : 0;
	st->remote_jitter_us =
		rx.report.have ? (uint32_t)dp_rtpstats_units_to_us(rx.report.jitter, clock) : 0;
	st->last_rx_ms_ago =
		rx.last_ns ? (uint32_t)(tg_age_ns(now, rx.last_ns) / TG_NS_PER_MS) : UINT32_MAX;
	jitter_ms = st->jitter_us / 1000.0;
	ta_ms = st->rtt_us / 2000.0 + 2 * jitter_ms;
	struct dp_emodel_in in = {
		.ie = 0,
		.bpl = 25.1,
		.ppl = r.expected_total ? dp_rtpstats_loss_pct(&r) : 0,
		.burst_r = 1,
		.ta_ms = ta_ms,
	};
	st->mos_x100 = r.packets ? (uint16_t)(dp_emodel_mos(dp_emodel_r(&in)) * 100 + 0.5) : 0;
}

/* Endpoint commands change the flow table: the main lcore is its only writer. */
static bool ep_cmd_allowed(struct dp_lcore *lc, struct tg_msg *r)
{
	if (lc->is_main)
		return true;
	r->status = -EINVAL;
	return false;
}

static void ep_reply(struct dp_lcore *lc, uint32_t id, struct tg_msg *r)
{
	const struct dp_ep *ep = &lc->app->eps[id];

	r->u.ep.ep_id = id;
	r->u.ep.local = ep->cfg.local;
}

static void cmd_ep_create(struct dp_lcore *lc, const struct tg_msg *cmd, struct tg_msg *r)
{
	uint32_t id;

	if (!ep_cmd_allowed(lc, r))
		return;
	if (cmd->u.ep.port_id >= lc->app->n_ports || lc->app->ports[cmd->u.ep.port_id].is_tap) {
		r->status = -ENODEV;
		return;
	}
	r->status = dp_ep_create(lc->app->flows, &cmd->u.ep, &lc->app->local_addr, &id);
	if (r->status == 0)
		ep_reply(lc, id, r);
}

static void cmd_ep_update(struct dp_lcore *lc, const struct tg_msg *cmd, struct tg_msg *r)
{
	uint32_t id;

	if (!ep_cmd_allowed(lc, r))
		return;
	r->status = dp_ep_update(lc->app->flows, &cmd->u.ep, &id);
	if (r->status == 0)
		ep_reply(lc, id, r);
}

static void cmd_ep_link(struct dp_lcore *lc, const struct tg_msg *cmd, struct tg_msg *r)
{
	if (ep_cmd_allowed(lc, r))
		r->status = dp_ep_link(lc->app->flows, cmd->u.ep.key, cmd->u.ep.peer_key);
}

static void cmd_ep_stats(struct dp_lcore *lc, const struct tg_msg *cmd, struct tg_msg *r)
{
	uint32_t id;

	if (!ep_cmd_allowed(lc, r))
		return;
	r->status = dp_ep_find(lc->app->flows, cmd->u.ep.key, &id);
	memset(&r->u, 0, sizeof(r->u));
	if (r->status == 0)
		dp_ep_stats_fill(&lc->app->eps[id], tg_now_ns(), &r->u.ep_stats);
}

static void cmd_ep_delete(struct dp_lcore *lc, const struct tg_msg *cmd, struct tg_msg *r)
{
	uint64_t key = cmd->u.ep.key;
	uint32_t id;

	if (!ep_cmd_allowed(lc, r))
		return;
	memset(&r->u, 0, sizeof(r->u));
	/* deleting twice is not an error: the second finds nothing left to do */
	if (dp_ep_find(lc->app->flows, key, &id) < 0) {
		r->u.ep_stats.key = key;
		return;
	}
	/* the final statistics go back with the reply: the call record needs them */
	dp_ep_stats_fill(&lc->app->eps[id], tg_now_ns(), &r->u.ep_stats);
	r->status = dp_ep_delete(lc->app->flows, key, &id);
}

static void cmd_ep_dtmf(struct dp_lcore *lc, const struct tg_msg *cmd, struct tg_msg *r)
{
	uint32_t play_ms = 0;

	if (!ep_cmd_allowed(lc, r))
		return;
	r->status = dp_dtmf_submit(lc->app, &cmd->u.ep_dtmf, &play_ms);
	r->u.ep_dtmf.play_ms = play_ms;
}

typedef void (*dp_cmd_fn)(struct dp_lcore *lc, const struct tg_msg *cmd, struct tg_msg *reply);

static const dp_cmd_fn handlers[TG_MSG__MAX] = {
	[TG_MSG_HELLO] = cmd_hello,
	[TG_MSG_PING] = cmd_ping,
	[TG_MSG_EP_CREATE] = cmd_ep_create,
	[TG_MSG_EP_UPDATE] = cmd_ep_update,
	[TG_MSG_EP_LINK] = cmd_ep_link,
	[TG_MSG_EP_STATS] = cmd_ep_stats,
	[TG_MSG_EP_DELETE] = cmd_ep_delete,
	[TG_MSG_EP_DTMF] = cmd_ep_dtmf,
};

void dp_cmd_handle(struct dp_lcore *lc, const struct tg_msg *cmd, struct tg_msg *reply)
{
	*reply = *cmd;
	reply->flags |= TG_MSGF_REPLY;
	reply->dp_gen = tg_chan_generation(lc->app->chan);
	reply->status = 0;
	if (cmd->type < TG_MSG__MAX && handlers[cmd->type] && !(cmd->flags & TG_MSGF_REPLY)) {
		handlers[cmd->type](lc, cmd, reply);
		return;
	}
	/* not a command we know: answer so the sender's request does not hang, and count it */
	reply->status = -ENOTSUP;
	__atomic_fetch_add(&tg_chan_counters(lc->app->chan)->cmd_bad, 1, __ATOMIC_RELAXED);
	TG_LOG(DP, WARN, "lcore %u: unknown command type %u (req %llu) refused", lc->lcore_id,
		cmd->type, (unsigned long long)cmd->req_id);
}

unsigned dp_cmd_poll(struct dp_lcore *lc)
{
	struct tg_chan *ch = lc->app->chan;
	struct tg_msg cmds[DP_REPLY_BACKLOG];
	unsigned n, sent;

	if (lc->n_reply) {
		sent = tg_chan_evt_send(ch, lc->reply, lc->n_reply);
		if (sent < lc->n_reply) {
			memmove(lc->reply, lc->reply + sent,
				(lc->n_reply - sent) * sizeof(lc->reply[0]));
			lc->n_reply -= sent;
			lc->stats->v[TG_DPC_evt_full]++;
			return sent;
		}
		lc->n_reply = 0;
	}
	n = tg_chan_cmd_recv(ch, lc->cmd_ring, cmds, DP_REPLY_BACKLOG);
	if (!n)
		return 0;
	for (unsigned i = 0; i < n; i++)
		dp_cmd_handle(lc, &cmds[i], &lc->reply[i]);
	lc->stats->v[TG_DPC_cmds] += n;
	sent = tg_chan_evt_send(ch, lc->reply, n);
	if (sent < n) {
		memmove(lc->reply, lc->reply + sent, (n - sent) * sizeof(lc->reply[0]));
		lc->n_reply = n - sent;
		lc->stats->v[TG_DPC_evt_full]++;
	}
	return n;
}
