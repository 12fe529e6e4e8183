/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane process's state: one cache-aligned struct dp_lcore per lcore, each written only
 * by its own lcore after start-up (fields marked "main:" are set by the main lcore before the
 * workers launch and only read afterwards), and the process-wide struct dp_app.
 */
#ifndef TG_DP_H
#define TG_DP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dp_config.h"
#include "dp_flow.h"
#include "dp_neigh.h"
#include "dpk_env.h"
#include "dp_idle.h"
#include "tg_chan.h"
#include "tg_msg.h"
#include "tg_stats.h"

#define DP_BURST 32
#define DP_MAX_RXQ 16
#define DP_MAX_PORTS 8
#define DP_MAX_LCORES 64
/* replies an lcore holds while the event ring is full; it reads no new command meanwhile */
#define DP_REPLY_BACKLOG 32
/* packets an lcore buffers per TX port before it must send */
#define DP_TX_BUF (2 * DP_BURST)
/* DTMF, per worker: digit strings played at once, its job ring (a power of two, one slot
 * unused), received events waiting for their end (timeout list), DTMF events held until the
 * end of a loop pass */
#define DP_DTMF_PLAYERS 64
#define DP_DTMF_JOBS 64
#define DP_DTMF_WATCH 64
#define DP_EVT_OUTBOX 16

struct dp_app;

struct dp_rxq {
	uint16_t port; /* index into app->ports */
	uint16_t queue;
};

struct dp_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[DP_TX_BUF];
};

/* A digit string a worker plays: made by the main lcore (EP_DTMF), passed by value through the
 * worker's job ring, then the worker's until its last packet or until the endpoint's dtmf_req
 * is no longer 'job' (deleted, re-created). */
struct dp_dtmf_player {
	uint64_t key;
	uint32_t ep;
	uint32_t job;
	struct dp_dtmf_gen gen;
};

/* An endpoint whose received DTMF event has not ended yet (detection's timeout). */
struct dp_dtmf_watch {
	uint64_t key;
	uint32_t ep;
	uint32_t pad;
};

struct dp_lcore {
	/* main: fixed before launch */
	unsigned lcore_id;
	unsigned index;	   /* 0 = main lcore, 1.. = workers */
	unsigned cmd_ring; /* the channel command ring this lcore consumes */
	bool is_main;
	struct dp_rxq rxq[DP_MAX_RXQ];
	unsigned n_rxq;
	uint16_t txq[DP_MAX_PORTS];   /* this lcore's TX queue on each port */
	struct tg_stats_block *stats; /* this lcore is its only writer */
	struct dp_app *app;

	/* this lcore */
	unsigned rcu_id; /* workers: reader id in the flow table's RCU */
	struct dp_txbuf txb[DP_MAX_PORTS];
	struct dp_neigh_pending neigh_pending;
	struct dp_idle idle;
	struct tg_msg reply[DP_REPLY_BACKLOG];
	unsigned n_reply;

	/* DTMF (workers). dtmf_jobs and players are made by the main lcore before launch; the
	 * main lcore enqueues jobs, this lcore dequeues them and owns the rest */
	struct rte_ring *dtmf_jobs;
	struct dp_dtmf_player *players; /* DP_DTMF_PLAYERS */
	unsigned n_players;
	unsigned n_watch;
	struct dp_dtmf_watch watch[DP_DTMF_WATCH];
	uint64_t dtmf_due_tsc; /* the next player packet or detection timeout */
	uint64_t tsc_hz;
	unsigned n_evt_out;
	struct tg_msg evt_out[DP_EVT_OUTBOX]; /* DTMF events, sent once per loop pass */
} __rte_cache_aligned;

struct dp_port {
	uint16_t port_id; /* DPDK's port id */
	bool is_tap;	  /* an exception-path TAP, not a media port */
	int exception;	  /* media port: its TAP's index; TAP: its media port's; -1 */
	bool have_next_hop;
	struct rte_ether_addr next_hop; /* MAC for remotes not yet heard from */
	struct dpk_port_info info;
	struct tg_stats_block *stats; /* main lcore writes */
};

struct dp_app {
	struct dp_config cfg;
	const char *instance;
	struct tg_chan *chan;
	struct tg_stats_seg *stats;
	struct rte_mempool *pool;
	struct dp_port ports[DP_MAX_PORTS];
	unsigned n_ports;
	struct dp_flows *flows;
	struct rte_hash *flow_hash; /* read by workers */
	struct dp_ep *eps;	    /* read by workers; configured by the main lcore */
	/* media addresses; main lcore, whose dp_ep_create() moves their cursors */
	struct dp_ep_local_default local_addr;
	struct dp_neigh *neigh;
	int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC at start: RTCP's NTP */
	uint64_t media_timeout_ns;
	uint32_t timeout_cursor; /* main lcore: next endpoint the timeout scan looks at */
	struct dp_lcore lcores[DP_MAX_LCORES];
	unsigned n_lcores;	/* main + workers */
	uint32_t cp_gen_seen;	/* main lcore */
	uint32_t dtmf_next_job; /* main lcore: EP_DTMF jobs handed out, the last one's id */
	bool eal_up;
	volatile bool stop;
};

/* dp_cmd.c: an endpoint's statistics, as EP_STATS, EP_DELETE and MEDIA_TIMEOUT carry them */
void dp_ep_stats_fill(const struct dp_ep *ep, uint64_t now, struct tg_msg_ep_stats *st);
/* dp_cmd.c: handle one command on lcore lc; fills the reply (always one per command). */
void dp_cmd_handle(struct dp_lcore *lc, const struct tg_msg *cmd, struct tg_msg *reply);
/* Polls lc's command ring and sends replies, keeping them while the event ring is full. */
unsigned dp_cmd_poll(struct dp_lcore *lc);

/*
 * dp_dtmf_play.c: RFC 4733 DTMF on the lcores.
 * dp_dtmf_submit(): main lcore, EP_DTMF: checks the request and hands the digits to the worker
 * that sends toward the endpoint's remote; 0 with *play_ms, or -errno (tg_msg.h lists them).
 * dp_dtmf_take_jobs(): worker, a few times per millisecond: starts the digit strings handed to
 * it. dp_dtmf_poll(): worker, once per loop pass: when something is due (one TSC read), sends
 * the players' packets and reports detection timeouts; returns packets and reports made.
 * dp_dtmf_run(): what dp_dtmf_poll() does, at now_ns, unconditionally (tests); returns when
 * something is next due (UINT64_MAX: nothing left). dp_dtmf_rx(): relay, a telephone-event
 * packet from endpoint id's remote ('rtp': the RTP packet, len bytes). dp_dtmf_flush_events():
 * worker, once per loop pass: DTMF events to the control plane.
 */
int dp_dtmf_submit(struct dp_app *app, const struct tg_msg_ep_dtmf *req, uint32_t *play_ms);
unsigned dp_dtmf_take_jobs(struct dp_lcore *lc, uint64_t now_ns);
unsigned dp_dtmf_poll(struct dp_lcore *lc);
uint64_t dp_dtmf_run(struct dp_lcore *lc, uint64_t now_ns, unsigned *work);
void dp_dtmf_rx(struct dp_lcore *lc, uint32_t id, const uint8_t *rtp, uint16_t len,
	uint32_t clock_rate, uint64_t now_ns, uint64_t *v);
void dp_dtmf_flush_events(struct dp_lcore *lc);

/* dp_worker.c */
int dp_worker_main(void *arg);
/* dp_main_loop.c */
void dp_main_loop(struct dp_app *app);
void dp_sleep_us(uint32_t us);

#endif
