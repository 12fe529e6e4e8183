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

typedef void (*dp_cmd_fn)(struct dp_lcore *lc, const struct tg_msg *cmd, struct tg_msg *reply);

static const dp_cmd_fn handlers[TG_MSG__MAX] = {
	[TG_MSG_HELLO] = cmd_hello,
	[TG_MSG_PING] = cmd_ping,
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
