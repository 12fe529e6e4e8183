/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker lcore: polls its RX queues in bursts of 32, hands each burst to the packet path,
 * polls its command ring between bursts and folds its counters into its stats block once per
 * loop. No lock, atomic, allocation, syscall or log line per packet; the only syscall is the
 * adaptive idle mode's sleep, taken only when every queue came back empty.
 *
 * Media ports' bursts go to the relay (dp_relay.c); exception TAPs' bursts go out through their
 * media port. DTMF (dp_dtmf_play.c): digit strings are taken from the job ring when the command
 * ring is polled, their packets sent when due (one TSC read per pass while any play), and the
 * DTMF events the relay detected go to the control plane once per pass. The lcore reports an RCU
 * quiescent state once per loop, so the main lcore can reuse a deleted endpoint's slot once every
 * worker has moved past it.
 */
#include <sys/prctl.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "dp.h"
#include "dp_relay.h"
#include "tg_log.h"
#include "tg_stats_counters.h"
#include "tg_time.h"

/* a command ring is polled every this many busy loops, and on every idle one */
#define DP_CMD_POLL_EVERY 64

void dp_sleep_us(uint32_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

/* One pass over the lcore's RX queues; returns the packets received. Arrival time is read
 * once per pass that found packets (vDSO, no syscall): jitter needs it fresh. */
static unsigned dp_rx_pass(struct dp_lcore *lc, uint64_t *v)
{
	uint64_t now_ns = 0;
	struct dp_app *app = lc->app;
	struct rte_mbuf *pkts[DP_BURST];
	unsigned total = 0;

	for (unsigned q = 0; q < lc->n_rxq; q++) {
		const struct dp_port *port = &app->ports[lc->rxq[q].port];
		uint16_t n = rte_eth_rx_burst(port->port_id, lc->rxq[q].queue, pkts, DP_BURST);
		uint64_t bytes = 0;

		if (!n)
			continue;
		if (!now_ns)
			now_ns = tg_now_ns();
		for (uint16_t i = 0; i < n; i++)
			bytes += rte_pktmbuf_pkt_len(pkts[i]);
		v[TG_DPC_rx_pkts] += n;
		v[TG_DPC_rx_bytes] += bytes;
		if (port->is_tap)
			dp_exception_out(lc, lc->rxq[q].port, pkts, n);
		else
			dp_relay_burst(lc, lc->rxq[q].port, pkts, n, now_ns);
		total += n;
	}
	if (total)
		dp_tx_flush(lc);
	return total;
}

int dp_worker_main(void *arg)
{
	struct dp_lcore *lc = arg;
	struct dp_app *app = lc->app;
	struct tg_stats_block *sb = lc->stats;
	uint64_t loops = 0, now = tg_now_ns();

	struct rte_rcu_qsbr *rcu = dp_flows_rcu(app->flows);

	/* sleeps of a few microseconds need a timer slack below the default 50 us */
	prctl(PR_SET_TIMERSLACK, 1000UL);
	lc->tsc_hz = rte_get_tsc_hz();
	rte_rcu_qsbr_thread_online(rcu, lc->rcu_id);
	TG_LOG(DP, INFO, "worker lcore %u: %u rx queue(s), command ring %u, idle %s", lc->lcore_id,
		lc->n_rxq, lc->cmd_ring, lc->idle.mode == DP_IDLE_BUSY ? "busy" : "adaptive");
	while (!__atomic_load_n(&app->stop, __ATOMIC_RELAXED)) {
		unsigned work, sleep_us;

		tg_stats_write_begin(sb);
		work = dp_rx_pass(lc, sb->v);
		sb->v[TG_DPC_polls]++;
		if (!work)
			sb->v[TG_DPC_idle_polls]++;
		work += dp_dtmf_poll(lc);
		if (!work || (++loops % DP_CMD_POLL_EVERY) == 0) {
			work += dp_cmd_poll(lc);
			now = tg_now_ns(); /* vDSO, every few dozen loops: not per packet */
			work += dp_dtmf_take_jobs(lc, now);
		}
		if (lc->n_evt_out)
			dp_dtmf_flush_events(lc);
		sleep_us = dp_idle_next_sleep(&lc->idle, work);
		if (sleep_us)
			sb->v[TG_DPC_sleeps]++;
		tg_stats_write_end(sb, now);
		/* holds no flow-table reference across loops: endpoints deleted before now may go
		 */
		rte_rcu_qsbr_quiescent(rcu, lc->rcu_id);
		if (sleep_us)
			dp_sleep_us(sleep_us);
		else if (!work)
			rte_pause();
	}
	rte_rcu_qsbr_thread_offline(rcu, lc->rcu_id);
	TG_LOG(DP, INFO, "worker lcore %u stopped", lc->lcore_id);
	return 0;
}
