/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bring-up, the loops and teardown. With one lcore, each loop turn sends what the pace allows
 * (at most a burst) and then receives a burst, so neither side starves the other. With two, the
 * main lcore sends and the first worker receives; the sender publishes the end of sending with
 * a release store, after which the receiver may read how many went out.
 *
 * The drain: after sending ends the receiver goes on until everything sent came back, or
 * --grace passes with nothing of ours arriving, or ten graces pass in all.
 */
#include "pg_app.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "tg_log.h"

static_assert((int)PG_HUGE_AUTO == (int)DPK_HUGE_AUTO && (int)PG_HUGE_ON == (int)DPK_HUGE_ON &&
		      (int)PG_HUGE_OFF == (int)DPK_HUGE_OFF,
	"pg_huge mirrors dpk_huge_mode");

static inline bool stopped(const struct pg_app *app)
{
	return __atomic_load_n(&app->stop, __ATOMIC_RELAXED);
}

void pg_app_request_stop(struct pg_app *app)
{
	__atomic_store_n(&app->stop, true, __ATOMIC_RELAXED);
}

static uint64_t ms_tsc(const struct pg_app *app, uint64_t ms)
{
	return (uint64_t)((unsigned __int128)ms * app->hz / 1000);
}

/* Whether the port is a memif client: its --vdev names it and does not say role=server. */
static bool memif_client(const struct pg_app *app)
{
	const struct pg_args *a = app->args;
	size_t len = strlen(app->info.name);

	if (strcmp(app->info.driver, "net_memif") != 0)
		return false;
	for (int i = 0; i < a->eal_argc; i++) {
		const char *v = a->eal_argv[i];

		if (!strcmp(v, "--vdev") && i + 1 < a->eal_argc)
			v = a->eal_argv[++i];
		else if (!strncmp(v, "--vdev=", 7))
			v += 7;
		else
			continue;
		if (!strncmp(v, app->info.name, len) && (v[len] == ',' || !v[len]))
			return !strstr(v + len, "role=server"); /* client is memif's default */
	}
	return false;
}

/*
 * Waits for the link. A memif client that reached its server before the server's port had
 * started is dropped and never retries by itself: restart such a port every second meanwhile.
 * Never a server: that would drop a client just as it connects, and most never come back.
 */
static int wait_link(struct pg_app *app)
{
	uint64_t t0 = rte_rdtsc(), deadline = t0 + ms_tsc(app, app->args->link_wait_ms);
	uint64_t next_restart = memif_client(app) ? t0 + app->hz : UINT64_MAX;
	struct rte_eth_link link;

	for (;;) {
		if (rte_rdtsc() >= next_restart) {
			TG_LOG(PERF, INFO, "port %u: link down, restarting it", app->port);
			rte_eth_dev_stop(app->port);
			rte_eth_dev_start(app->port); /* a failure shows as the link staying down */
			next_restart = rte_rdtsc() + app->hz;
		}
		memset(&link, 0, sizeof(link));
		if (rte_eth_link_get_nowait(app->port, &link) == 0 &&
			link.link_status == RTE_ETH_LINK_UP) {
			TG_LOG(PERF, INFO, "port %u link up after %.0f ms", app->port,
				(double)(rte_rdtsc() - t0) * 1e3 / (double)app->hz);
			return 0;
		}
		if (stopped(app))
			return -EINTR;
		if (rte_rdtsc() >= deadline) {
			TG_LOG(PERF, ERR,
				"port %u (%s): link still down after %.1f s (is the peer up?)",
				app->port, app->info.name, (double)app->args->link_wait_ms / 1e3);
			return -ETIMEDOUT;
		}
		rte_delay_us_sleep(10000);
	}
}

int pg_app_start(struct pg_app *app, const struct pg_args *a, const char *prog)
{
	struct dpk_env_params ep = {
		.prog = prog,
		.file_prefix = a->file_prefix,
		.lcores = a->lcores,
		.huge = (enum dpk_huge_mode)a->huge,
		.memory_mb = a->memory_mb,
		.log_level = "warning",
		.n_extra = a->eal_argc,
		.extra = a->eal_argv,
	};
	struct dpk_port_conf pc = {
		.n_rxq = 1,
		.n_txq = 1,
		.rx_desc = (uint16_t)a->rx_desc,
		.tx_desc = (uint16_t)a->tx_desc,
		/* the relay may write any destination MAC: take every frame */
		.promiscuous = true,
	};
	struct dpk_env_info info;
	bool stop = stopped(app); /* a signal may already have come */
	int rc;

	memset(app, 0, sizeof(*app));
	app->stop = stop;
	app->args = a;
	app->do_tx = !a->rx_only;
	app->do_rx = !a->tx_only;
	app->rx_lcore = RTE_MAX_LCORE;
	/*
	 * Runs are short and many, each with its own file prefix: hugepage files or shared config
	 * left behind would pile up (hugetlbfs files keep their pages). --in-memory leaves none,
	 * but the EAL refuses it with --no-huge, where --no-shconf does the same; so "auto" is
	 * decided here, as dpk_env would, to know which of the two to add.
	 */
	if (ep.huge == DPK_HUGE_AUTO) {
		unsigned free_mb = dpk_hugepages_free_mb();

		ep.huge = free_mb >= a->memory_mb ? DPK_HUGE_ON : DPK_HUGE_OFF;
		TG_LOG(PERF, INFO, "hugepages %s: %u MB free, %u MB needed",
			ep.huge == DPK_HUGE_ON ? "on" : "off", free_mb, a->memory_mb);
	}
	app->eal_argv = calloc((size_t)a->eal_argc + 3, sizeof(char *));
	if (!app->eal_argv)
		return -ENOMEM;
	app->eal_argv[0] = ep.huge == DPK_HUGE_ON ? "--in-memory" : "--no-shconf";
	app->eal_argv[1] = "--no-telemetry"; /* its socket would outlive our cleanup */
	memcpy(app->eal_argv + 2, a->eal_argv, (size_t)a->eal_argc * sizeof(char *));
	ep.extra = app->eal_argv;
	ep.n_extra = a->eal_argc + 2;
	rc = dpk_env_init(&ep, &info);
	if (rc < 0)
		return rc;
	app->eal_up = true;
	snprintf(app->runtime_dir, sizeof(app->runtime_dir), "%s", rte_eal_get_runtime_dir());
	app->hugepages = info.hugepages;
	app->hz = rte_get_tsc_hz();
	app->port = (uint16_t)a->port;
	if (!rte_eth_dev_is_valid_port(app->port)) {
		TG_LOG(PERF, ERR,
			"port %u does not exist (%u port(s)): name one after '--', e.g. "
			"-- --vdev net_ring0",
			a->port, rte_eth_dev_count_avail());
		return -ENODEV;
	}
	if (app->do_tx && app->do_rx) {
		unsigned w = rte_get_next_lcore(-1, 1, 0);

		app->rx_lcore = w;
		if (w < RTE_MAX_LCORE && rte_lcore_count() > 2)
			TG_LOG(PERF, WARN, "%u lcores: only the first two are used",
				rte_lcore_count());
	}
	app->mp = dpk_mbuf_pool_create("pg_mbufs", a->mbufs, (int)rte_socket_id());
	if (!app->mp)
		return -ENOMEM;
	rc = dpk_port_init(app->port, &pc, app->mp, &app->info);
	if (rc < 0) {
		/* the one failure everybody meets first */
		if (!strcmp(app->info.driver, "net_memif"))
			TG_LOG(PERF, ERR, "a memif client starts only once its server listens");
		return rc;
	}
	app->port_up = true;
	if (app->do_tx) {
		rc = pg_gen_init(&app->gen, a, app->port, app->mp, &app->info, app->hz);
		if (rc < 0)
			return rc;
	}
	if (app->do_rx) {
		rc = pg_rx_init(&app->rx, a->n_streams);
		if (rc < 0)
			return rc;
	}
	app->grace_tsc = ms_tsc(app, a->grace_ms);
	app->drain_cap_tsc = 10 * app->grace_tsc;
	app->rx_duration_tsc = ms_tsc(app, a->duration_ms);
	return wait_link(app);
}

/* One receive burst; the TSC is read once per burst, after the packets are in. */
static inline unsigned rx_poll(struct pg_app *app)
{
	struct rte_mbuf *pkts[PG_BURST];
	uint16_t n = rte_eth_rx_burst(app->port, 0, pkts, PG_BURST);
	uint64_t now;

	if (n == 0)
		return 0;
	now = rte_rdtsc();
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		/* a tag past the first segment counts as not ours: our frames fit one */
		pg_rx_frame(&app->rx, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, now);
	}
	rte_pktmbuf_free_bulk(pkts, n);
	return n;
}

static inline bool after(uint64_t now, uint64_t since, uint64_t span)
{
	return (int64_t)(now - since) >= (int64_t)span;
}

/* Whether the receiver is done; reads the TSC itself so it is never older than last_tsc. */
static bool rx_finished(const struct pg_app *app)
{
	const struct pg_args *a = app->args;
	uint64_t now, end, last;

	if (stopped(app))
		return true;
	now = rte_rdtsc();
	if (!app->do_tx)
		return (a->count && app->rx.pkts >= a->count) ||
		       after(now, app->rx_start_tsc, app->rx_duration_tsc);
	end = __atomic_load_n(&app->tx_end_tsc, __ATOMIC_ACQUIRE);
	if (!end)
		return false;
	if (app->rx.unique >= app->gen.sent)
		return true;
	last = app->rx.last_tsc > end ? app->rx.last_tsc : end;
	return after(now, last, app->grace_tsc) || after(now, end, app->drain_cap_tsc);
}

static void publish_tx_end(struct pg_app *app)
{
	__atomic_store_n(&app->tx_end_tsc, app->gen.end_tsc, __ATOMIC_RELEASE);
}

static int rx_lcore_main(void *arg)
{
	struct pg_app *app = arg;

	while (!rx_finished(app))
		rx_poll(app);
	return 0;
}

void pg_app_run(struct pg_app *app)
{
	uint64_t now = rte_rdtsc();

	app->rx_start_tsc = now;
	if (app->do_tx)
		pg_gen_start(&app->gen, now);
	if (app->rx_lcore < RTE_MAX_LCORE) {
		int rc = rte_eal_remote_launch(rx_lcore_main, app, app->rx_lcore);

		if (rc == 0) {
			app->rx_launched = true;
			while (pg_gen_poll(&app->gen, rte_rdtsc()))
				if (stopped(app))
					pg_gen_abort(&app->gen, rte_rdtsc());
			publish_tx_end(app);
			rte_eal_wait_lcore(app->rx_lcore);
			return;
		}
		TG_LOG(PERF, WARN, "lcore %u: %s; receiving on the main lcore", app->rx_lcore,
			strerror(-rc));
	}
	for (;;) {
		now = rte_rdtsc();
		if (stopped(app))
			break;
		if (app->do_tx && !app->gen.done && !pg_gen_poll(&app->gen, now))
			publish_tx_end(app);
		if (app->do_rx) {
			rx_poll(app);
			if (rx_finished(app))
				break;
		} else if (app->gen.done) {
			break;
		}
	}
	/* a stop request can end the loop before the sender saw it */
	if (app->do_tx)
		pg_gen_abort(&app->gen, rte_rdtsc());
}

void pg_app_report(const struct pg_app *app, FILE *out)
{
	const struct pg_args *a = app->args;
	struct pg_report r = {
		.tx_on = app->do_tx,
		.rx_on = app->do_rx,
		.interrupted = stopped(app),
		.n_streams = a->n_streams,
		.loss_pct = NAN,
		.lat_min_us = NAN,
		.lat_mean_us = NAN,
		.p50_us = NAN,
		.p99_us = NAN,
		.p999_us = NAN,
		.lat_max_us = NAN,
	};
	const struct pg_gen *g = &app->gen;
	char src[64], dst[64];

	if (app->do_tx) {
		r.tx_pkts = g->sent;
		r.tx_secs = (double)(g->end_tsc - g->start_tsc) / (double)app->hz;
		r.tx_refused = g->refused;
		r.tx_nombuf = g->nombuf;
	}
	if (app->do_rx) {
		uint64_t from = app->do_tx ? g->start_tsc : app->rx.first_tsc;

		pg_report_fill_rx(&r, &app->rx, app->do_tx, g->sent, app->hz);
		if (app->rx.last_tsc > from)
			r.rx_secs = (double)(app->rx.last_tsc - from) / (double)app->hz;
	}
	fprintf(out, "tg-pktgen: port %u %s (%s), %s, %u stream(s)", app->port, app->info.name,
		app->info.driver, app->hugepages ? "hugepages" : "no hugepages", a->n_streams);
	if (app->do_tx)
		fprintf(out, ", %s -> %s, %u-byte frames, %s pps %llu",
			pg_endpoint_str(&a->src[0], src, sizeof(src)),
			pg_endpoint_str(&a->dst[0], dst, sizeof(dst)), g->lay.frame_len,
			a->pps ? "paced at" : "unpaced, max", (unsigned long long)a->pps);
	fprintf(out, ", %s\n",
		app->rx_launched
			? "tx on main lcore, rx on a worker"
			: (app->do_tx && app->do_rx ? "tx and rx on one lcore"
						    : (app->do_tx ? "tx only" : "rx only")));
	if (app->do_tx && a->pps && !r.interrupted && r.tx_secs > 0 &&
		(double)r.tx_pkts / r.tx_secs < 0.99 * (double)a->pps)
		TG_LOG(PERF, WARN,
			"sent %.0f pps of the %llu asked for: the port or the CPU is the limit",
			(double)r.tx_pkts / r.tx_secs, (unsigned long long)a->pps);
	pg_report_print(&r, out);
}

void pg_app_stop(struct pg_app *app)
{
	pg_app_request_stop(app);
	if (app->rx_launched)
		rte_eal_wait_lcore(app->rx_lcore);
	app->rx_launched = false;
	if (app->port_up)
		dpk_port_close(app->port);
	app->port_up = false;
	pg_gen_fini(&app->gen);
	pg_rx_fini(&app->rx);
	if (app->mp)
		rte_mempool_free(app->mp);
	app->mp = NULL;
	if (app->eal_up) {
		dpk_env_cleanup();
		/* empty after a clean exit in either memory mode; left alone otherwise */
		if (app->runtime_dir[0])
			rmdir(app->runtime_dir);
	}
	app->eal_up = false;
	free(app->eal_argv);
	app->eal_argv = NULL;
}
