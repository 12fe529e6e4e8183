/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow-table lookups at 1, 1k, 100k and 1M installed flows: the relay's per-packet lookup is a
 * bulk rte_hash lookup of a burst of 32 keys, so that is what each op measures (then divided
 * per key). Keys are drawn at random from the installed set, so a large table also pays its
 * cache misses. The reference is the same lookup with one flow installed: `lookup_1m_ratio`
 * near 1 means the lookup stays flat as the table grows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_malloc.h>

#include "bench.h"
#include "dp_flow.h"
#include "tg_log.h"

#define BURST 32
#define PICKS (1u << 16)

struct flow_bench {
	struct dp_flows *flows;
	struct dp_flow_key *keys; /* PICKS random installed keys */
	const void *ptrs[PICKS];
};

static int flow_setup(struct bench_ctx *ctx)
{
	const uint32_t n = (uint32_t)(uintptr_t)bench_arg(ctx);
	struct dp_flows_params p = {
		.max_endpoints = n < 16 ? 16 : n,
		.n_readers = 1,
		.port_min = 2,
		/* 32767 ports per address: a million endpoints need 31 addresses */
		.port_max = 65534,
		.socket = 0,
	};
	struct dp_ep_local_default def = {0};
	struct flow_bench *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	bench_set_priv(ctx, b);
	b->flows = dp_flows_create(&p);
	b->keys = calloc(PICKS, sizeof(*b->keys));
	if (!b->flows || !b->keys)
		return -ENOMEM;
	srand(7);
	for (uint32_t i = 0; i < n; i++) {
		struct tg_msg_ep req = {.key = i + 1, .flags = TG_EPF_RTCP_MUX, .dir = 3};
		uint32_t id;
		int rc;

		req.local.family = TG_AF_INET;
		/* 32767 even ports per address, then the next address: 10.x.y.z */
		req.local.a[0] = 10;
		req.local.a[1] = (uint8_t)(i / 32767 >> 8);
		req.local.a[2] = (uint8_t)(i / 32767);
		req.local.a[3] = 1;
		req.local.port = (uint16_t)(2 + 2 * (i % 32767));
		rc = dp_ep_create(b->flows, &req, &def, &id);
		if (rc < 0) {
			bench_error(ctx, "installing flow %u: %s", i, strerror(-rc));
			return rc;
		}
	}
	for (uint32_t i = 0; i < PICKS; i++) {
		uint32_t f = (uint32_t)rand() % n;
		uint8_t a[4] = {10, (uint8_t)(f / 32767 >> 8), (uint8_t)(f / 32767), 1};

		dp_flow_key_set(&b->keys[i], TG_AF_INET, a, (uint16_t)(2 + 2 * (f % 32767)));
		b->ptrs[i] = &b->keys[i];
	}
	bench_report(ctx, "flows", n);
	return 0;
}

static int flow_run(struct bench_ctx *ctx, uint64_t n)
{
	struct flow_bench *b = bench_priv(ctx);
	struct rte_hash *h = dp_flows_hash(b->flows);
	void *data[BURST];
	uint64_t hits, total = 0;

	/* one op = one key; lookups go in bursts like the relay's */
	for (uint64_t i = 0; i < n; i += BURST) {
		uint32_t at = (uint32_t)(i % PICKS);

		rte_hash_lookup_bulk_data(h, &b->ptrs[at], BURST, &hits, data);
		total += (uint64_t)__builtin_popcountll(hits);
	}
	if (total < (n / BURST) * BURST) {
		bench_error(ctx, "%llu of %llu lookups missed", (unsigned long long)(n - total),
			(unsigned long long)n);
		return -ENOENT;
	}
	return 0;
}

static void flow_teardown(struct bench_ctx *ctx)
{
	struct flow_bench *b = bench_priv(ctx);

	if (!b)
		return;
	dp_flows_free(b->flows);
	free(b->keys);
	free(b);
}

#define FLOW_ROW(nm, count)                                                                        \
	{                                                                                          \
		.name = nm, .unit = "lookup", .scale = BENCH_SCALE_M, .setup = flow_setup,         \
		.run = flow_run, .teardown = flow_teardown, .arg = (void *)(uintptr_t)(count)      \
	}

static const struct bench_def flow_benches[] = {
	FLOW_ROW("lookup_1", 1),
	FLOW_ROW("lookup_1k", 1000),
	FLOW_ROW("lookup_100k", 100000),
	FLOW_ROW("lookup_1m", 1000000),
};

static const struct bench_ratio flow_ratios[] = {
	{"lookup_1k_ratio", "lookup_1k_ns", "lookup_1_ns"},
	{"lookup_100k_ratio", "lookup_100k_ns", "lookup_1_ns"},
	{"lookup_1m_ratio", "lookup_1m_ns", "lookup_1_ns"},
};

static const struct bench_suite flow_suite = {
	.name = "tg-bench-flow",
	.defs = flow_benches,
	.n_defs = sizeof(flow_benches) / sizeof(flow_benches[0]),
	.ratios = flow_ratios,
	.n_ratios = sizeof(flow_ratios) / sizeof(flow_ratios[0]),
};

int main(int argc, char **argv)
{
	char *eal[] = {argv[0], "--no-huge", "-m", "1536", "--no-pci", "--no-shconf", "-l", "0",
		"--log-level=lib.eal:error", NULL};
	int rc;

	tg_log_set_level("all", "warn");
	if (rte_eal_init(9, eal) < 0) {
		fprintf(stderr, "tg-bench-flow: EAL init failed\n");
		return 1;
	}
	rc = bench_main(&flow_suite, argc, argv);
	rte_eal_cleanup();
	return rc;
}
