/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The in-tree benchmark harness: no framework, explicit registration, one executable per area.
 * A benchmark is a row of struct bench_def; bench_main() parses the options, runs every selected
 * row with an iteration count doubled until one run lasts at least --min-time, prints a human
 * table and, as the very last line of stdout, every figure as key=value so scripts (perf/run, CI)
 * need to parse exactly one line.
 *
 * Figures a benchmark named "foo" produces (the name is also the key prefix, so keep it
 * [a-z0-9_]):
 *   throughput rows:  foo_ns (ns per op) and foo_<k|m|><unit>s (rate, e.g. foo_mmsgs, foo_kops);
 *   latency rows:     foo_p50_ns, foo_p99_ns, foo_p999_ns, foo_max_ns from per-op samples;
 *   extras:           whatever the benchmark passes to bench_report();
 *   ratios:           rows of struct bench_ratio, num / den, computed after every row has run.
 *
 * Thread affinity: everything here runs on the calling thread; a run function may fork or start
 * threads of its own but calls bench_record_ns()/bench_report()/bench_error() from the caller.
 */
#ifndef TG_BENCH_H
#define TG_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_DEFAULT_MIN_TIME_S 1.0
#define BENCH_QUICK_MIN_TIME_S 0.1
/* Latency rows keep every sample of the final run: cap the buffer (8 bytes a sample). */
#define BENCH_MAX_SAMPLES (1u << 24)
/* Doubling stops here whatever the clock says, so a run function that does nothing ends. */
#define BENCH_MAX_ITERS (1ULL << 40)
#define BENCH_MAX_FIGURES 128
#define BENCH_MAX_EXTRAS 8
#define BENCH_KEY_MAX 48
#define BENCH_ERR_MAX 160

/* bench_def.flags */
#define BENCH_F_LATENCY 0x1 /* run records one sample per op with bench_record_ns() */

enum bench_scale {
	BENCH_SCALE_1 = 0, /* foo_ops: ops/s */
	BENCH_SCALE_K,	   /* foo_kops: thousands of ops/s */
	BENCH_SCALE_M,	   /* foo_mops: millions of ops/s */
};

struct bench_ctx;

struct bench_def {
	const char *name; /* table row and figure-key prefix, [a-z0-9_]+ */
	const char *unit; /* what one op is, for the table and rate key: "op", "msg"; NULL = op */
	enum bench_scale scale; /* scale of the rate figure */
	unsigned flags;		/* BENCH_F_* */
	/* optional, once before the first run: 0 or -errno (the row then fails) */
	int (*setup)(struct bench_ctx *ctx);
	/* n ops: 0 or -errno; must not allocate per op if it wants honest numbers */
	int (*run)(struct bench_ctx *ctx, uint64_t n);
	/* optional, once after the last run, also after a failed setup or run */
	void (*teardown)(struct bench_ctx *ctx);
	void *arg; /* for the benchmark, see bench_arg() */
};

/* A figure derived from two others once every row has run; skipped if either is missing. */
struct bench_ratio {
	const char *key;
	const char *num;
	const char *den;
};

struct bench_suite {
	const char *name; /* executable name, for --help and the table title */
	const struct bench_def *defs;
	unsigned n_defs;
	const struct bench_ratio *ratios;
	unsigned n_ratios;
};

struct bench_opts {
	double min_time_s;    /* a run must last at least this long */
	const char *filter;   /* substring of the names to run; NULL = all */
	FILE *out;	      /* table and key=value line; NULL = stdout */
	FILE *err;	      /* failures; NULL = stderr */
	uint64_t start_iters; /* first n tried; 0 = 1 */
	/* clock for the run durations; NULL = CLOCK_MONOTONIC. The tests inject a fake one. */
	uint64_t (*clock_ns)(void *clock_arg);
	void *clock_arg;
};

/* Order statistics of a latency row's samples, nearest-rank definition. */
struct bench_pct {
	uint64_t n;
	uint64_t min, p50, p99, p999, max;
	double mean;
};

struct bench_figure {
	char key[BENCH_KEY_MAX];
	double value;
};

/* The outcome of one row. */
struct bench_result {
	uint64_t iters; /* n of the final run */
	uint64_t elapsed_ns;
	double ns_per_op;
	double ops_per_s;
	unsigned runs; /* how many runs the scaling took */
	bool has_pct;
	struct bench_pct pct;
	struct bench_figure extras[BENCH_MAX_EXTRAS]; /* from bench_report() */
	unsigned n_extras;
	int rc;			   /* 0 or the failing -errno */
	char error[BENCH_ERR_MAX]; /* from bench_error(), or the harness's own reason */
};

/* --- for benchmarks, inside setup/run/teardown ------------------------------------------- */

void *bench_arg(const struct bench_ctx *ctx);
/* The benchmark's own state between setup, runs and teardown. */
void bench_set_priv(struct bench_ctx *ctx, void *priv);
void *bench_priv(const struct bench_ctx *ctx);
/* The --min-time in force, so a benchmark can size its own deadlines. */
double bench_min_time_s(const struct bench_ctx *ctx);

/*
 * One latency sample for the current op. The buffer holds n samples for a run of n ops and is
 * sized before the run starts, so this is a store and an increment; extra samples are dropped.
 */
void bench_record_ns(struct bench_ctx *ctx, uint64_t ns);

/* An extra figure, printed under the row and on the key=value line; the last value wins. */
void bench_report(struct bench_ctx *ctx, const char *key, double value);

/* Why the row failed, printed with the row; the run or setup then returns a -errno. */
void bench_error(struct bench_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- for mains and tests ------------------------------------------------------------------ */

void bench_opts_init(struct bench_opts *o);

/*
 * Parses the harness options (--filter SUBSTR, --min-time SECONDS, --quick, --list, --help).
 * Options it does not know are left for the caller: *argc/argv are compacted to them, argv[0]
 * kept. Returns 0, 1 when the caller should exit 0 (--help/--list printed), or -EINVAL.
 */
int bench_parse_args(const struct bench_suite *s, struct bench_opts *o, int *argc, char **argv);

/*
 * Sorts samples[0..n-1] in place and fills *out. Nearest rank: pXX is the smallest sample with
 * at least XX% of the samples at or below it. 0 or -EINVAL for n == 0.
 */
int bench_percentiles(uint64_t *samples, size_t n, struct bench_pct *out);

/* Runs one row with auto-scaling: setup, runs of 1, 2, 4, ... ops, teardown. Returns res->rc. */
int bench_run_one(const struct bench_def *d, const struct bench_opts *o, struct bench_result *res);

/*
 * Runs every row of the suite that matches the filter, prints the table and the key=value line.
 * 0 if all selected rows succeeded, -ENOENT if the filter matched none, else the first -errno.
 */
int bench_run_suite(const struct bench_suite *s, const struct bench_opts *o);

/* parse_args + run_suite; the exit status for main(). */
int bench_main(const struct bench_suite *s, int argc, char **argv);

/* Writes v the way the key=value line does: integers plainly, otherwise up to 3 decimals. */
void bench_format_value(double v, char *buf, size_t len);

#endif
