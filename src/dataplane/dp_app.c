/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dataplane bring-up and teardown: EAL, mbuf pool, ports, the lcore map (queues and command
 * rings), the channel and the stats segment, then the workers' launch. Everything the workers
 * read is fixed here before they start.
 */
#include "dp_app.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

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

/* Exception TAPs are named net_tapx<n> (the driver matches the "net_tap" prefix). */
#define EXC_VDEV_PREFIX "net_tapx"

/*
 * The EAL's vdev list: cfg.vdevs split on ';' ("auto" = one net_tap media port named
 * tg-<instance>), then one exception TAP per media port when cfg.exception is on.
 */
static unsigned vdev_list(
	struct dp_app *app, char *buf, size_t len, const char **out, unsigned n_pci)
{
	unsigned n = 0, n_media;
	char *save = NULL;
	size_t used = 0;

	if (strcmp(app->cfg.vdevs, "auto") == 0) {
		/* IFNAMSIZ is 16: "tg-" and at most 12 characters of the instance */
		snprintf(buf, len, "net_tap0,iface=tg-%.12s", app->instance);
		out[n++] = buf;
		used = strlen(buf) + 1;
	} else {
		snprintf(buf, len, "%s", app->cfg.vdevs);
		used = strlen(buf) + 1;
		for (char *t = strtok_r(buf, ";", &save); t && n < DPK_MAX_VDEVS / 2;
			t = strtok_r(NULL, ";", &save))
			if (*t)
				out[n++] = t;
	}
	/* every media port, virtual or PCI, gets its exception TAP */
	n_media = n + n_pci;
	for (unsigned i = 0; app->cfg.exception && i < n_media && used < len && n < DPK_MAX_VDEVS;
		i++) {
		int w = snprintf(buf + used, len - used, EXC_VDEV_PREFIX "%u,iface=tgx%u-%.10s", i,
			i, app->instance);

		out[n++] = buf + used;
		used += (size_t)w + 1;
	}
	return n;
}

static int init_port(struct dp_app *app, uint16_t pid, unsigned n_workers)
{
	struct rte_eth_dev_info dev;
	struct dpk_port_conf pc = {
		.rx_desc = (uint16_t)app->cfg.rx_desc,
		.tx_desc = (uint16_t)app->cfg.tx_desc,
		.promiscuous = true,
		.no_csum_offload = !app->cfg.checksum_offload,
	};
	struct dp_port *p = &app->ports[app->n_ports];
	unsigned max_q;
	int rc;

	if (rte_eth_dev_info_get(pid, &dev) < 0)
		return -ENODEV;
	/* one RX and one TX queue per worker (some drivers, net_tap among them, insist on equal
	 * counts); the main lcore never transmits, so no TX queue is shared */
	max_q = dev.max_rx_queues < dev.max_tx_queues ? dev.max_rx_queues : dev.max_tx_queues;
	pc.n_rxq = (uint16_t)(n_workers < max_q ? n_workers : max_q);
	pc.n_txq = pc.n_rxq;
	p->port_id = pid;
	p->exception = -1;
	rc = dpk_port_init(pid, &pc, app->pool, &p->info);
	if (rc < 0)
		return rc;
	p->is_tap = strncmp(p->info.name, EXC_VDEV_PREFIX, strlen(EXC_VDEV_PREFIX)) == 0;
	if (app->cfg.next_hop_mac[0])
		p->have_next_hop =
			rte_ether_unformat_addr(app->cfg.next_hop_mac, &p->next_hop) == 0;
	/* RX queue q goes to worker q % n_workers; worker w sends on (w - 1) % n_txq */
	for (uint16_t q = 0; q < pc.n_rxq; q++) {
		struct dp_lcore *lc = &app->lcores[1 + q % n_workers];

		lc->rxq[lc->n_rxq].port = (uint16_t)app->n_ports;
		lc->rxq[lc->n_rxq++].queue = q;
	}
	for (unsigned i = 1; i < app->n_lcores; i++)
		app->lcores[i].txq[app->n_ports] = (uint16_t)((i - 1) % pc.n_txq);
	app->n_ports++;
	return 0;
}

/* Pairs each exception TAP with its media port and gives it the port's MAC, so the kernel
 * answers ARP with the address the wire knows. */
static int pair_exception_ports(struct dp_app *app)
{
	unsigned media = 0;

	for (unsigned i = 0; i < app->n_ports; i++) {
		struct dp_port *t = &app->ports[i];
		unsigned n;

		if (!t->is_tap)
			continue;
		n = (unsigned)atoi(t->info.name + strlen(EXC_VDEV_PREFIX));
		media = 0;
		for (unsigned j = 0; j < app->n_ports; j++) {
			if (app->ports[j].is_tap)
				continue;
			if (media++ == n) {
				t->exception = (int)j;
				app->ports[j].exception = (int)i;
				break;
			}
		}
		if (t->exception < 0) {
			TG_LOG(DP, ERR,
				"exception TAP %s has no media port: a device in "
				"dataplane.pci_devices or dataplane.vdevs did not come up",
				t->info.name);
			return -ENODEV;
		}
		rte_eth_dev_default_mac_addr_set(t->port_id, &app->ports[t->exception].info.mac);
		TG_LOG(DP, INFO, "exception path: %s (%s) carries what %s's relay does not own",
			t->info.name, t->info.driver, app->ports[t->exception].info.name);
	}
	return 0;
}

static int setup_ports(struct dp_app *app, unsigned n_workers)
{
	uint16_t pid;
	int rc;

	RTE_ETH_FOREACH_DEV(pid)
	{
		if (app->n_ports == DP_MAX_PORTS) {
			TG_LOG(DP, ERR, "more than %d ports", DP_MAX_PORTS);
			return -E2BIG;
		}
		rc = init_port(app, pid, n_workers);
		if (rc < 0)
			return rc;
	}
	if (app->n_ports == 0) {
		TG_LOG(DP, ERR, "no ports: configure dataplane.vdevs or bind a NIC");
		return -ENODEV;
	}
	return pair_exception_ports(app);
}

/* dataplane.<key> into the addresses endpoints take when a request leaves theirs 0. */
static int media_addrs(
	const char *key, const char *text, uint8_t family, struct dp_local_addrs *out)
{
	char err[160];
	int n = dp_media_addrs_parse(text, family, out->a, err, sizeof(err));

	if (n < 0) {
		TG_LOG(DP, ERR, "dataplane.%s = '%s': %s", key, text, err);
		return n;
	}
	out->n = (uint32_t)n;
	out->cur = 0;
	return 0;
}

static int setup_flows(struct dp_app *app)
{
	struct dp_flows_params fp = {
		.max_endpoints = app->cfg.max_endpoints,
		.n_readers = app->n_lcores - 1,
		.port_min = (uint16_t)app->cfg.port_min,
		.port_max = (uint16_t)app->cfg.port_max,
		.socket = (int)rte_socket_id(),
	};
	int rc;

	rc = media_addrs("media_address", app->cfg.media_address, TG_AF_INET, &app->local_addr.v4);
	if (rc == 0)
		rc = media_addrs("media_address6", app->cfg.media_address6, TG_AF_INET6,
			&app->local_addr.v6);
	if (rc < 0)
		return rc;
	if (fp.port_min > fp.port_max) {
		TG_LOG(DP, ERR, "dataplane.port_min %u is above port_max %u", fp.port_min,
			fp.port_max);
		return -EINVAL;
	}
	/* what an operator sizes the lists by: a call takes two endpoints */
	TG_LOG(DP, INFO,
		"media addresses: IPv4 %s; IPv6 %s; %u endpoints (RTP ports %u-%u) on each",
		app->local_addr.v4.n ? app->cfg.media_address : "none",
		app->local_addr.v6.n ? app->cfg.media_address6 : "none",
		(fp.port_max - fp.port_min) / 2 + 1, fp.port_min, fp.port_max);
	app->flows = dp_flows_create(&fp);
	if (!app->flows) {
		TG_LOG(DP, ERR, "flow table for %u endpoints: %s", fp.max_endpoints,
			strerror(errno));
		return -errno;
	}
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	app->realtime_offset_ns = ((int64_t)rt.tv_sec - mono.tv_sec) * (int64_t)TG_NS_PER_S +
				  (rt.tv_nsec - mono.tv_nsec);
	app->media_timeout_ns = app->cfg.media_timeout_ms * TG_NS_PER_MS;
	app->neigh = dp_neigh_create(app->cfg.max_endpoints, fp.socket);
	if (!app->neigh)
		return -ENOMEM;
	app->flow_hash = dp_flows_hash(app->flows);
	app->eps = dp_flows_eps(app->flows);
	for (unsigned i = 1; i < app->n_lcores; i++) {
		app->lcores[i].rcu_id = i - 1;
		rte_rcu_qsbr_thread_register(dp_flows_rcu(app->flows), i - 1);
	}
	return 0;
}

/* Each worker's DTMF job ring (the main lcore enqueues, the worker dequeues) and players. */
static int setup_dtmf(struct dp_app *app)
{
	for (unsigned i = 1; i < app->n_lcores; i++) {
		struct dp_lcore *lc = &app->lcores[i];
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof(name), "tg_dtmf%u", i);
		lc->dtmf_jobs = rte_ring_create_elem(name, sizeof(struct dp_dtmf_player),
			DP_DTMF_JOBS, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
		lc->players = rte_zmalloc_socket("tg_dtmf_players",
			sizeof(*lc->players) * DP_DTMF_PLAYERS, RTE_CACHE_LINE_SIZE,
			(int)rte_socket_id());
		if (!lc->dtmf_jobs || !lc->players) {
			TG_LOG(DP, ERR, "DTMF players of lcore %u: no memory", lc->lcore_id);
			return -ENOMEM;
		}
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

	char pci_buf[sizeof(app->cfg.pci_devices)], *save = NULL;

	snprintf(pci_buf, sizeof(pci_buf), "%s", app->cfg.pci_devices);
	for (char *t = strtok_r(pci_buf, ";", &save); t && ep.n_pci < DPK_MAX_VDEVS;
		t = strtok_r(NULL, ";", &save))
		if (*t)
			ep.pci_allow[ep.n_pci++] = t;
	ep.n_vdevs = vdev_list(app, vdev_buf, sizeof(vdev_buf), ep.vdevs, ep.n_pci);
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
	if (rc == 0)
		rc = setup_flows(app);
	if (rc == 0)
		rc = setup_dtmf(app);
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
	dp_flows_free(app->flows);
	dp_neigh_free(app->neigh);
	for (unsigned i = 1; i < app->n_lcores; i++) {
		rte_ring_free(app->lcores[i].dtmf_jobs);
		rte_free(app->lcores[i].players);
		app->lcores[i].dtmf_jobs = NULL;
		app->lcores[i].players = NULL;
	}
	app->flows = NULL;
	app->neigh = NULL;
	tg_chan_destroy(app->chan);
	tg_stats_destroy(app->stats);
	app->chan = NULL;
	app->stats = NULL;
	if (app->eal_up)
		dpk_env_cleanup();
	app->eal_up = false;
}
