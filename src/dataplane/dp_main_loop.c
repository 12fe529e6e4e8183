/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The main lcore: the channel's heartbeat, command ring 0, noticing a control-plane restart, and
 * copying the ports' driver counters into the stats segment. It handles no packets, so it may
 * read the clock and sleep freely; it never blocks on the control plane.
 */
#include <inttypes.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "dp.h"
#include "tg_log.h"
#include "tg_stats_counters.h"
#include "tg_time.h"

/* the control plane is thought gone when its heartbeat is this old */
#define CP_STALE_NS (3 * TG_NS_PER_S)
/* how long the main lcore sleeps when it had nothing to do, in adaptive mode */
#define MAIN_IDLE_SLEEP_US 100

static void publish_port_stats(struct dp_app *app, uint64_t now)
{
	for (unsigned i = 0; i < app->n_ports; i++) {
		struct dp_port *p = &app->ports[i];
		struct rte_eth_stats st;

		if (rte_eth_stats_get(p->port_id, &st) < 0)
			continue;
		tg_stats_write_begin(p->stats);
		p->stats->v[TG_DPP_ipackets] = st.ipackets;
		p->stats->v[TG_DPP_opackets] = st.opackets;
		p->stats->v[TG_DPP_ibytes] = st.ibytes;
		p->stats->v[TG_DPP_obytes] = st.obytes;
		p->stats->v[TG_DPP_imissed] = st.imissed;
		p->stats->v[TG_DPP_ierrors] = st.ierrors;
		p->stats->v[TG_DPP_oerrors] = st.oerrors;
		p->stats->v[TG_DPP_rx_nombuf] = st.rx_nombuf;
		tg_stats_write_end(p->stats, now);
	}
}

static void watch_control_plane(struct dp_app *app, uint64_t now, bool *cp_alive)
{
	uint32_t gen = tg_chan_cp_generation(app->chan);
	uint64_t hb = tg_chan_cp_heartbeat_ns(app->chan);
	bool alive = gen != 0 && tg_age_ns(now, hb) < CP_STALE_NS;

	if (gen != app->cp_gen_seen) {
		if (app->cp_gen_seen)
			TG_LOG(DP, NOTICE, "control plane restarted: generation %08x -> %08x",
				app->cp_gen_seen, gen);
		else
			TG_LOG(DP, INFO, "control plane attached: generation %08x", gen);
		app->cp_gen_seen = gen;
	}
	if (alive != *cp_alive && gen != 0)
		TG_LOGL(DP, alive ? TG_LOG_INFO : TG_LOG_WARN, "control plane %s",
			alive ? "heartbeat resumed" : "heartbeat lost");
	*cp_alive = alive;
}

/* endpoints looked at per stats tick: bounds the main lcore's work with a million of them */
#define TIMEOUT_SCAN_PER_TICK 8192

/*
 * Media timeout: an endpoint silent for media_timeout (counted from its creation when it never
 * received anything) is reported once, with its statistics; packets arriving again re-arm it.
 */
static void scan_media_timeouts(struct dp_app *app, uint64_t now)
{
	const uint32_t max = app->cfg.max_endpoints;
	uint32_t n = max < TIMEOUT_SCAN_PER_TICK ? max : TIMEOUT_SCAN_PER_TICK;

	if (!app->media_timeout_ns)
		return;
	for (; n; n--) {
		struct dp_ep *ep = &app->eps[app->timeout_cursor];
		uint64_t last;

		app->timeout_cursor = (app->timeout_cursor + 1) % max;
		if (ep->state != DP_EP_ACTIVE)
			continue;
		last = __atomic_load_n(&ep->rx.last_ns, __ATOMIC_RELAXED);
		if (!last)
			last = ep->rx.created_ns;
		if (tg_age_ns(now, last) < app->media_timeout_ns) {
			ep->timeout_reported = 0;
			continue;
		}
		if (ep->timeout_reported)
			continue;
		struct tg_msg m = {
			.type = TG_MSG_MEDIA_TIMEOUT, .dp_gen = tg_chan_generation(app->chan)};

		dp_ep_stats_fill(ep, now, &m.u.ep_stats);
		/* a full event ring: try again next tick rather than lose the report */
		if (tg_chan_evt_send(app->chan, &m, 1) == 1)
			ep->timeout_reported = 1;
	}
}

static void send_event(struct dp_app *app, uint16_t type)
{
	struct tg_msg m = {.type = type, .dp_gen = tg_chan_generation(app->chan)};

	if (tg_chan_evt_send(app->chan, &m, 1) != 1)
		TG_LOG(DP, WARN, "event ring full: %s event not sent", tg_msg_type_name(type));
}

void dp_main_loop(struct dp_app *app)
{
	struct dp_lcore *lc = &app->lcores[0];
	uint64_t stats_every = app->cfg.port_stats_interval_ms * TG_NS_PER_MS;
	uint64_t next_stats = 0;
	bool cp_alive = false;

	send_event(app, TG_MSG_DP_STARTED);
	while (!__atomic_load_n(&app->stop, __ATOMIC_RELAXED)) {
		uint64_t now = tg_now_ns();
		unsigned work;

		tg_chan_dp_heartbeat(app->chan, now);
		watch_control_plane(app, now, &cp_alive);
		tg_stats_write_begin(lc->stats);
		work = dp_cmd_poll(lc);
		work += dp_neigh_apply(app->neigh);
		lc->stats->v[TG_DPC_polls]++;
		if (!work)
			lc->stats->v[TG_DPC_idle_polls]++;
		lc->stats->v[TG_DPC_endpoints] = dp_flows_n_active(app->flows);
		tg_stats_write_end(lc->stats, now);
		if (now >= next_stats) {
			publish_port_stats(app, now);
			dp_flows_reclaim(app->flows);
			scan_media_timeouts(app, now);
			next_stats = now + stats_every;
		}
		if (!work && lc->idle.mode == DP_IDLE_ADAPTIVE)
			dp_sleep_us(MAIN_IDLE_SLEEP_US);
	}
	send_event(app, TG_MSG_DP_STOPPING);
	publish_port_stats(app, tg_now_ns());
}
