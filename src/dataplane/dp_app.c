/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dataplane bring-up and teardown: EAL, mbuf pool, ports, the lcore map (queues and command
 * rings), the channel and the stats segment, then the workers' launch. Everything the workers
 * read is fixed here before they start.
 */
#include "dp_app.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "tg_log.h"
#include "tg_stats_counters.h"
#include "tg_time.h"

static const char *const lcore_counter_names[] = {
#define TG_X(name, help) #name,
	TG_DP_LCORE_COUNTERS(TG_X)
#undef TG_X
#define TG_X(name, help) "drop_" #name,
		TG_DP_DROP_REASONS(TG_X)
#undef TG_X
};

static const char *const port_counter_names[] = {
#define TG_X(name, help) #name,
	TG_DP_PORT_COUNTERS(TG_X)
#undef TG_X
};

/* Splits cfg.vdevs on ';' into buf; "auto" becomes one net_tap named after the instance. */
static unsigned vdev_list(struct dp_app *app, char *buf, size_t len, const char **out)
{
	unsigned n = 0;
	char *save = NULL;

	if (strcmp(app->cfg.vdevs, "auto") == 0) {
		/* IFNAMSIZ is 16: "tg-" and at most 12 characters of the instance */
		snprintf(buf, len, "net_tap0,iface=tg-%.12s", app->instance);
		out[0] = buf;
		return 1;
	}
	snprintf(buf, len, "%s", app->cfg.vdevs);
	for (char *t = strtok_r(buf, ";", &save); t && n < DPK_MAX_VDEVS;
		t = strtok_r(NULL, ";", &save))
		if (*t)
			out[n++] = t;
	return n;
}

static int setup_ports(struct dp_app *app, unsigned n_workers)
{
	uint16_t pid;

	RTE_ETH_FOREACH_DEV(pid)
	{
		struct dp_port *p;
		struct rte_eth_dev_info dev;
		struct dpk_port_conf pc = {
			.rx_desc = (uint16_t)app->cfg.rx_desc,
			.tx_desc = (uint16_t)app->cfg.tx_desc,
			.promiscuous = true,
		};
		int rc;

		if (app->n_ports == DP_MAX_PORTS) {
			TG_LOG(DP, ERR, "more than %d ports", DP_MAX_PORTS);
			return -E2BIG;
		}
		if (rte_eth_dev_info_get(pid, &dev) < 0)
			return -ENODEV;
		/* one RX and one TX queue per worker (some drivers, net_tap among them, insist on
		 * equal counts); the main lcore never transmits, so no TX queue is shared */
		unsigned max_q = dev.max_rx_queues < dev.max_tx_queues ? dev.max_rx_queues
								       : dev.max_tx_queues;

		pc.n_rxq = (uint16_t)(n_workers < max_q ? n_workers : max_q);
		pc.n_txq = pc.n_rxq;
		p = &app->ports[app->n_ports];
		p->port_id = pid;
		rc = dpk_port_init(pid, &pc, app->pool, &p->info);
		if (rc < 0)
			return rc;
		/* RX queue q goes to worker q % n_workers; worker w sends on (w - 1) % n_txq */
		for (uint16_t q = 0; q < pc.n_rxq; q++) {
			struct dp_lcore *lc = &app->lcores[1 + q % n_workers];

			lc->rxq[lc->n_rxq].port = pid;
			lc->rxq[lc->n_rxq++].queue = q;
		}
		for (unsigned i = 1; i < app->n_lcores; i++)
			app->lcores[i].txq[app->n_ports] = (uint16_t)((i - 1) % pc.n_txq);
		app->n_ports++;
	}
	if (app->n_ports == 0) {
		TG_LOG(DP, ERR, "no ports: configure dataplane.vdevs or bind a NIC");
		return -ENODEV;
	}
	return 0;
}

static int setup_segments(struct dp_app *app)
{
	struct tg_chan_params cp = {
		.instance = app->instance,
		.n_cmd_rings = app->n_lcores,
		.ring_size = app->cfg.ring_size,
	};
	struct tg_stats_kind_params kinds[TG_STATS__KINDS] = {
		[TG_STATS_LCORE] = {app->n_lcores, TG_DPC__COUNT, lcore_counter_names},
		[TG_STATS_PORT] = {app->n_ports, TG_DPP__COUNT, port_counter_names},
	};

	static_assert(sizeof(lcore_counter_names) / sizeof(lcore_counter_names[0]) == TG_DPC__COUNT,
		"every lcore counter has a name");
	app->stats = tg_stats_create(app->instance, kinds);
	if (!app->stats)
		return -errno;
	for (unsigned i = 0; i < app->n_lcores; i++) {
		struct dp_lcore *lc = &app->lcores[i];

		lc->stats = tg_stats_block(app->stats, TG_STATS_LCORE, i);
		lc->stats->id = lc->lcore_id;
		snprintf(lc->stats->label, sizeof(lc->stats->label), "%s lcore %u",
			lc->is_main ? "main" : "worker", lc->lcore_id);
	}
	for (unsigned i = 0; i < app->n_ports; i++) {
		struct dp_port *p = &app->ports[i];

		p->stats = tg_stats_block(app->stats, TG_STATS_PORT, i);
		p->stats->id = p->port_id;
		snprintf(p->stats->label, sizeof(p->stats->label), "port %u %.20s", p->port_id,
			p->info.name);
	}
	/* the channel last: a control plane that attaches finds the stats already there */
	app->chan = tg_chan_create(&cp);
	return app->chan ? 0 : -errno;
}

int dp_app_start(struct dp_app *app, const char *prog, int eal_argc, char **eal_argv)
{
	struct dpk_env_params ep = {
		.prog = prog,
		.file_prefix = app->instance,
		.lcores = app->cfg.lcores,
		.huge = (enum dpk_huge_mode)app->cfg.hugepages,
		.memory_mb = app->cfg.memory_mb,
		.log_level = "lib.eal:warning",
		.n_extra = eal_argc,
		.extra = eal_argv,
	};
	struct dpk_env_info info;
	char vdev_buf[DP_VDEVS_LEN];
	unsigned lcore_id, n = 0;
	int rc;

	ep.n_vdevs = vdev_list(app, vdev_buf, sizeof(vdev_buf), ep.vdevs);
	rc = dpk_env_init(&ep, &info);
	if (rc < 0)
		return rc;
	app->eal_up = true;
	/* lcore map: index 0 is the main lcore, then the workers in EAL order */
	app->lcores[n].lcore_id = rte_get_main_lcore();
	app->lcores[n++].is_main = true;
	RTE_LCORE_FOREACH_WORKER(lcore_id)
	{
		if (n == DP_MAX_LCORES)
			break;
		app->lcores[n++].lcore_id = lcore_id;
	}
	if (n < 2) {
		TG_LOG(DP, ERR,
			"dataplane.lcores '%s' gives no worker lcore: list at least two "
			"(e.g. '0-1', or '0@0,1@0' on one CPU)",
			app->cfg.lcores);
		return -EINVAL;
	}
	app->n_lcores = n;
	for (unsigned i = 0; i < n; i++) {
		struct dp_lcore *lc = &app->lcores[i];

		lc->index = i;
		lc->cmd_ring = i;
		lc->app = app;
		lc->idle.mode = (enum dp_idle_mode)app->cfg.idle;
		lc->idle.max_sleep_us = app->cfg.idle_max_sleep_us;
	}
	app->pool = dpk_mbuf_pool_create("tg_mbufs", app->cfg.mbufs, (int)rte_socket_id());
	if (!app->pool)
		return -ENOMEM;
	rc = setup_ports(app, n - 1);
	if (rc < 0)
		return rc;
	rc = setup_segments(app);
	if (rc < 0)
		return rc;
	for (unsigned i = 1; i < n; i++) {
		rc = rte_eal_remote_launch(
			dp_worker_main, &app->lcores[i], app->lcores[i].lcore_id);
		if (rc < 0) {
			TG_LOG(DP, ERR, "launching lcore %u: %s", app->lcores[i].lcore_id,
				strerror(-rc));
			return rc;
		}
	}
	TG_LOG(DP, NOTICE,
		"dataplane '%s' up: %u worker lcore(s), %u port(s), %s, channel "
		"generation %08x",
		app->instance, n - 1, app->n_ports, info.hugepages ? "hugepages" : "no hugepages",
		tg_chan_generation(app->chan));
	return 0;
}

void dp_app_stop(struct dp_app *app)
{
	__atomic_store_n(&app->stop, true, __ATOMIC_RELAXED);
	if (app->eal_up)
		rte_eal_mp_wait_lcore();
	for (unsigned i = 0; i < app->n_ports; i++)
		dpk_port_close(app->ports[i].port_id);
	tg_chan_destroy(app->chan);
	tg_stats_destroy(app->stats);
	app->chan = NULL;
	app->stats = NULL;
	if (app->eal_up)
		dpk_env_cleanup();
	app->eal_up = false;
}
