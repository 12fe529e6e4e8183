/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker lcore: polls its RX queues in bursts of 32, hands each burst to the packet path,
 * polls its command ring between bursts and folds its counters into its stats block once per
 * loop. No lock, atomic, allocation, syscall or log line per packet; the only syscall is the
 * adaptive idle mode's sleep, taken only when every queue came back empty.
 *
 * The packet path owns no media flows yet (the flow table and relay come next), so every packet
 * is counted and dropped as drop_no_flow; the counters, stats segment and idle policy are the
 * ones the relay will use.
 */
#include <sys/prctl.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "dp.h"
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

static unsigned dp_rx_burst_drop(struct dp_lcore *lc, uint64_t *v)
{
	struct rte_mbuf *pkts[DP_BURST];
	unsigned total = 0;

	for (unsigned q = 0; q < lc->n_rxq; q++) {
		uint16_t n = rte_eth_rx_burst(lc->rxq[q].port, lc->rxq[q].queue, pkts, DP_BURST);
		uint64_t bytes = 0;

		if (!n)
			continue;
		for (uint16_t i = 0; i < n; i++)
			bytes += rte_pktmbuf_pkt_len(pkts[i]);
		v[TG_DPC_rx_pkts] += n;
		v[TG_DPC_rx_bytes] += bytes;
		v[TG_DPC_drop_no_flow] += n;
		rte_pktmbuf_free_bulk(pkts, n);
		total += n;
	}
	return total;
}

int dp_worker_main(void *arg)
{
	struct dp_lcore *lc = arg;
	struct dp_app *app = lc->app;
	struct tg_stats_block *sb = lc->stats;
	uint64_t loops = 0, now = tg_now_ns();

	/* sleeps of a few microseconds need a timer slack below the default 50 us */
	prctl(PR_SET_TIMERSLACK, 1000UL);
	TG_LOG(DP, INFO, "worker lcore %u: %u rx queue(s), command ring %u, idle %s", lc->lcore_id,
		lc->n_rxq, lc->cmd_ring, lc->idle.mode == DP_IDLE_BUSY ? "busy" : "adaptive");
	while (!__atomic_load_n(&app->stop, __ATOMIC_RELAXED)) {
		unsigned work, sleep_us;

		tg_stats_write_begin(sb);
		work = dp_rx_burst_drop(lc, sb->v);
		sb->v[TG_DPC_polls]++;
		if (!work)
			sb->v[TG_DPC_idle_polls]++;
		if (!work || (++loops % DP_CMD_POLL_EVERY) == 0) {
			work += dp_cmd_poll(lc);
			now = tg_now_ns(); /* vDSO, every few dozen loops: not per packet */
		}
		sleep_us = dp_idle_next_sleep(&lc->idle, work);
		if (sleep_us)
			sb->v[TG_DPC_sleeps]++;
		tg_stats_write_end(sb, now);
		if (sleep_us)
			dp_sleep_us(sleep_us);
		else if (!work)
			rte_pause();
	}
	TG_LOG(DP, INFO, "worker lcore %u stopped", lc->lcore_id);
	return 0;
}
