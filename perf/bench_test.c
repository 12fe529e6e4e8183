/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the benchmark harness: the percentile math against hand-computed ranks, and the
 * auto-scaling, failure handling and output on fake benchmarks driven by a fake clock, so every
 * expectation is exact and nothing depends on how fast the machine is.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench.h"

/* ---- a fake clock that the fake benchmarks advance ---- */

static uint64_t fake_now;
static uint64_t fake_op_ns; /* what one op "costs" */
static unsigned n_setup, n_teardown, n_runs;
static uint64_t fail_at; /* run fails once n reaches this; 0 = never */

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static void fake_reset(uint64_t op_ns)
{
	fake_now = 1000;
	fake_op_ns = op_ns;
	n_setup = n_teardown = n_runs = 0;
	fail_at = 0;
}

static int fake_setup(struct bench_ctx *ctx)
{
	n_setup++;
	bench_set_priv(ctx, &n_setup);
	return 0;
}

static int fake_setup_fails(struct bench_ctx *ctx)
{
	n_setup++;
	bench_error(ctx, "no peer");
	return -ECONNREFUSED;
}

static void fake_teardown(struct bench_ctx *ctx)
{
	n_teardown++;
}

static int fake_run(struct bench_ctx *ctx, uint64_t n)
{
	assert_ptr_equal(bench_priv(ctx), &n_setup);
	n_runs++;
	if (fail_at && n >= fail_at) {
		bench_error(ctx, "lost message %llu", (unsigned long long)n);
		return -EIO;
	}
	fake_now += n * fake_op_ns;
	bench_report(ctx, "fake_extra", 42.5);
	return 0;
}

/* latency op i takes (i % 100) + 1 ns: every run's samples are 1..100 repeated */
static int fake_latency_run(struct bench_ctx *ctx, uint64_t n)
{
	n_runs++;
	for (uint64_t i = 0; i < n; i++) {
		bench_record_ns(ctx, i % 100 + 1);
		fake_now += fake_op_ns;
	}
	return 0;
}

static void opts_fake(struct bench_opts *o, double min_time_s)
{
	bench_opts_init(o);
	o->min_time_s = min_time_s;
	o->clock_ns = fake_clock;
	o->err = stderr;
}

/* ---- percentiles ---- */

static void test_pct_1_to_1000(void **state)
{
	uint64_t v[1000];
	struct bench_pct p;

	/* a fixed permutation of 1..1000: the function must sort */
	for (unsigned i = 0; i < 1000; i++)
		v[i] = (uint64_t)(i * 7919u % 1000u) + 1;
	assert_int_equal(bench_percentiles(v, 1000, &p), 0);
	assert_int_equal(p.n, 1000);
	assert_int_equal(p.min, 1);
	assert_int_equal(p.p50, 500);
	assert_int_equal(p.p99, 990);
	assert_int_equal(p.p999, 999);
	assert_int_equal(p.max, 1000);
	assert_true(p.mean > 500.49 && p.mean < 500.51);
	for (unsigned i = 1; i < 1000; i++)
		assert_true(v[i - 1] <= v[i]);
}

static void test_pct_small(void **state)
{
	uint64_t one[1] = {77};
	uint64_t ten[10] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
	uint64_t two[2] = {5, 3};
	struct bench_pct p;

	assert_int_equal(bench_percentiles(one, 1, &p), 0);
	assert_int_equal(p.min, 77);
	assert_int_equal(p.p50, 77);
	assert_int_equal(p.p999, 77);
	assert_int_equal(p.max, 77);

	/* nearest rank: p50 of 10 is the 5th, p99 and p999 round up to the 10th */
	assert_int_equal(bench_percentiles(ten, 10, &p), 0);
	assert_int_equal(p.p50, 5);
	assert_int_equal(p.p99, 10);
	assert_int_equal(p.p999, 10);

	assert_int_equal(bench_percentiles(two, 2, &p), 0);
	assert_int_equal(p.p50, 3);
	assert_int_equal(p.max, 5);
}

static void test_pct_tail(void **state)
{
	/* 10000 samples, the top 5 are outliers: p99 must not see them, p999 must */
	static uint64_t v[10000];
	struct bench_pct p;

	for (unsigned i = 0; i < 10000; i++)
		v[i] = i >= 9990 ? 1000000 : 100;
	assert_int_equal(bench_percentiles(v, 10000, &p), 0);
	assert_int_equal(p.p50, 100);
	assert_int_equal(p.p99, 100);
	assert_int_equal(p.p999, 100); /* rank 9990 is the last of the 100s */
	assert_int_equal(p.max, 1000000);
	v[9989] = 1000000; /* an 11th outlier takes rank 9990 */
	assert_int_equal(bench_percentiles(v, 10000, &p), 0);
	assert_int_equal(p.p999, 1000000);
}

static void test_pct_empty(void **state)
{
	uint64_t v[1] = {1};
	struct bench_pct p;

	assert_int_equal(bench_percentiles(v, 0, &p), -EINVAL);
	assert_int_equal(bench_percentiles(NULL, 1, &p), -EINVAL);
}

/* ---- auto-scaling ---- */

static void test_scaling_doubles_to_min_time(void **state)
{
	const struct bench_def d = {
		.name = "fake", .setup = fake_setup, .run = fake_run, .teardown = fake_teardown};
	struct bench_opts o;
	struct bench_result r;

	fake_reset(1000);
	opts_fake(&o, 0.01); /* 10 ms at 1 us an op: the first power of two >= 10000 */
	assert_int_equal(bench_run_one(&d, &o, &r), 0);
	assert_int_equal(r.iters, 16384);
	assert_int_equal(r.runs, 15); /* 1, 2, 4, ... 16384 */
	assert_int_equal(n_runs, 15);
	assert_int_equal(r.elapsed_ns, 16384 * 1000);
	assert_true(r.ns_per_op > 999.9 && r.ns_per_op < 1000.1);
	assert_true(r.ops_per_s > 999999 && r.ops_per_s < 1000001);
	assert_false(r.has_pct);
	assert_int_equal(n_setup, 1);
	assert_int_equal(n_teardown, 1);
	assert_int_equal(r.n_extras, 1);
	assert_string_equal(r.extras[0].key, "fake_extra");
}

static void test_scaling_exact_boundary(void **state)
{
	const struct bench_def d = {.name = "fake", .setup = fake_setup, .run = fake_run};
	struct bench_opts o;
	struct bench_result r;

	/* 1024 ops of 1 ms is exactly 1.024 s; 512 is short of 1 s: stop at 1024 */
	fake_reset(1000000);
	opts_fake(&o, 1.0);
	assert_int_equal(bench_run_one(&d, &o, &r), 0);
	assert_int_equal(r.iters, 1024);

	/* a run that lasts exactly min-time is long enough */
	fake_reset(1000000);
	opts_fake(&o, 0.512);
	assert_int_equal(bench_run_one(&d, &o, &r), 0);
	assert_int_equal(r.iters, 512);

	/* start_iters skips the small runs */
	fake_reset(1000000);
	opts_fake(&o, 1.0);
	o.start_iters = 256;
	assert_int_equal(bench_run_one(&d, &o, &r), 0);
	assert_int_equal(r.iters, 1024);
	assert_int_equal(r.runs, 3);
}

static void test_scaling_latency(void **state)
{
	const struct bench_def d = {
		.name = "lat", .flags = BENCH_F_LATENCY, .run = fake_latency_run};
	struct bench_opts o;
	struct bench_result r;

	fake_reset(100);
	opts_fake(&o, 0.001); /* 1 ms at 100 ns an op: 16384 ops */
	assert_int_equal(bench_run_one(&d, &o, &r), 0);
	assert_int_equal(r.iters, 16384);
	assert_true(r.has_pct);
	/* only the final run's samples count: 16384 of them, 1..100 repeated */
	assert_int_equal(r.pct.n, 16384);
	assert_int_equal(r.pct.min, 1);
	assert_int_equal(r.pct.max, 100);
	assert_int_equal(r.pct.p50, 50);
	assert_int_equal(r.pct.p99, 99);
	assert_int_equal(r.pct.p999, 100);
}

static int no_samples_run(struct bench_ctx *ctx, uint64_t n)
{
	fake_now += n * fake_op_ns;
	return 0;
}

static void test_latency_without_samples_fails(void **state)
{
	const struct bench_def d = {.name = "lat", .flags = BENCH_F_LATENCY, .run = no_samples_run};
	struct bench_opts o;
	struct bench_result r;

	fake_reset(1000);
	opts_fake(&o, 0.0001);
	assert_int_equal(bench_run_one(&d, &o, &r), -ENODATA);
}

static void test_run_failure(void **state)
{
	const struct bench_def d = {
		.name = "fake", .setup = fake_setup, .run = fake_run, .teardown = fake_teardown};
	struct bench_opts o;
	struct bench_result r;

	fake_reset(1000);
	fail_at = 8;
	opts_fake(&o, 1.0);
	assert_int_equal(bench_run_one(&d, &o, &r), -EIO);
	assert_int_equal(r.rc, -EIO);
	assert_int_equal(n_runs, 4); /* 1, 2, 4, then 8 fails */
	assert_int_equal(n_teardown, 1);
	assert_string_equal(r.error, "lost message 8");
}

static void test_setup_failure(void **state)
{
	const struct bench_def d = {.name = "fake",
		.setup = fake_setup_fails,
		.run = fake_run,
		.teardown = fake_teardown};
	struct bench_opts o;
	struct bench_result r;

	fake_reset(1000);
	opts_fake(&o, 1.0);
	assert_int_equal(bench_run_one(&d, &o, &r), -ECONNREFUSED);
	assert_int_equal(n_runs, 0);
	assert_int_equal(n_teardown, 1);
	assert_string_equal(r.error, "no peer");
}

/* ---- the suite's output ---- */

static char *last_line(char *text)
{
	size_t n = strlen(text);
	char *p;

	assert_true(n > 0 && text[n - 1] == '\n');
	text[n - 1] = '\0';
	p = strrchr(text, '\n');
	return p ? p + 1 : text;
}

static void test_suite_output(void **state)
{
	const struct bench_def defs[] = {
		{.name = "fast",
			.unit = "msg",
			.scale = BENCH_SCALE_M,
			.setup = fake_setup,
			.run = fake_run},
		{.name = "lat", .flags = BENCH_F_LATENCY, .run = fake_latency_run},
		{.name = "other", .scale = BENCH_SCALE_K, .setup = fake_setup, .run = fake_run},
	};
	const struct bench_ratio ratios[] = {
		{"fast_vs_other", "fast_mmsgs", "other_kops"},
		{"missing_ratio", "fast_mmsgs", "nope"},
	};
	const struct bench_suite s = {
		.name = "t", .defs = defs, .n_defs = 3, .ratios = ratios, .n_ratios = 2};
	struct bench_opts o;
	char *buf = NULL, *line;
	size_t len = 0;

	/* 2 M ops/s; the latency row runs 2048 ops: 1..48 21 times, 49..100 20 times */
	fake_reset(500);
	opts_fake(&o, 0.001);
	o.out = open_memstream(&buf, &len);
	assert_non_null(o.out);
	assert_int_equal(bench_run_suite(&s, &o), 0);
	fclose(o.out);
	line = last_line(buf);
	assert_string_equal(line,
		"fast_ns=500 fast_mmsgs=2 fake_extra=42.50 lat_p50_ns=49 lat_p99_ns=99 "
		"lat_p999_ns=100 lat_max_ns=100 other_ns=500 other_kops=2000 "
		"fast_vs_other=0.001");
	free(buf);

	/* the filter selects by substring; a filter matching nothing is an error */
	buf = NULL;
	o.out = open_memstream(&buf, &len);
	o.filter = "lat";
	assert_int_equal(bench_run_suite(&s, &o), 0);
	fclose(o.out);
	assert_string_equal(
		last_line(buf), "lat_p50_ns=49 lat_p99_ns=99 lat_p999_ns=100 lat_max_ns=100");
	free(buf);

	buf = NULL;
	o.out = open_memstream(&buf, &len);
	o.filter = "zzz";
	assert_int_equal(bench_run_suite(&s, &o), -ENOENT);
	fclose(o.out);
	free(buf);
}

static void test_suite_failure_exit(void **state)
{
	const struct bench_def defs[] = {
		{.name = "bad", .setup = fake_setup_fails, .run = fake_run},
		{.name = "good", .setup = fake_setup, .run = fake_run},
	};
	const struct bench_suite s = {.name = "t", .defs = defs, .n_defs = 2};
	struct bench_opts o;
	char *buf = NULL;
	size_t len = 0;

	fake_reset(1000);
	opts_fake(&o, 0.001);
	o.out = open_memstream(&buf, &len);
	/* the failing row makes the suite fail, but the others still run and report */
	assert_int_equal(bench_run_suite(&s, &o), -ECONNREFUSED);
	fclose(o.out);
	assert_non_null(strstr(buf, "\nbad "));
	assert_non_null(strstr(buf, " FAILED: no peer (Connection refused)\n"));
	assert_string_equal(last_line(buf), "good_ns=1000 good_ops=1000000 fake_extra=42.50");
	free(buf);
}

static void test_format_value(void **state)
{
	char b[32];

	bench_format_value(12345.678, b, sizeof(b));
	assert_string_equal(b, "12346");
	bench_format_value(450, b, sizeof(b));
	assert_string_equal(b, "450");
	bench_format_value(123.45, b, sizeof(b));
	assert_string_equal(b, "123.5");
	bench_format_value(12.345, b, sizeof(b));
	assert_string_equal(b, "12.35");
	bench_format_value(0.8512, b, sizeof(b));
	assert_string_equal(b, "0.851");
	bench_format_value(0, b, sizeof(b));
	assert_string_equal(b, "0");
}

static void test_parse_args(void **state)
{
	const struct bench_suite s = {.name = "t"};
	char a0[] = "prog", a1[] = "--quick", a2[] = "--fixture", a3[] = "x.sip", a4[] = "--filter",
	     a5[] = "chan", a6[] = "--min-time", a7[] = "2.5", bad[] = "-1";
	char *argv[] = {a0, a1, a2, a3, a4, a5, NULL};
	char *argv2[] = {a0, a6, a7, a1, NULL};
	char *argv3[] = {a0, a1, a6, a7, NULL};
	char *argv4[] = {a0, a6, bad, NULL};
	struct bench_opts o;
	int argc = 6;

	bench_opts_init(&o);
	assert_int_equal(bench_parse_args(&s, &o, &argc, argv), 0);
	assert_true(o.min_time_s == BENCH_QUICK_MIN_TIME_S);
	assert_string_equal(o.filter, "chan");
	/* what the harness does not know stays for the caller */
	assert_int_equal(argc, 3);
	assert_string_equal(argv[1], "--fixture");
	assert_string_equal(argv[2], "x.sip");

	/* the last of --min-time and --quick wins */
	argc = 4;
	bench_opts_init(&o);
	assert_int_equal(bench_parse_args(&s, &o, &argc, argv2), 0);
	assert_true(o.min_time_s == BENCH_QUICK_MIN_TIME_S);
	argc = 4;
	assert_int_equal(bench_parse_args(&s, &o, &argc, argv3), 0);
	assert_true(o.min_time_s == 2.5);
	assert_int_equal(argc, 1);

	argc = 3;
	assert_int_equal(bench_parse_args(&s, &o, &argc, argv4), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pct_1_to_1000),
		cmocka_unit_test(test_pct_small),
		cmocka_unit_test(test_pct_tail),
		cmocka_unit_test(test_pct_empty),
		cmocka_unit_test(test_scaling_doubles_to_min_time),
		cmocka_unit_test(test_scaling_exact_boundary),
		cmocka_unit_test(test_scaling_latency),
		cmocka_unit_test(test_latency_without_samples_fails),
		cmocka_unit_test(test_run_failure),
		cmocka_unit_test(test_setup_failure),
		cmocka_unit_test(test_suite_output),
		cmocka_unit_test(test_suite_failure_exit),
		cmocka_unit_test(test_format_value),
		cmocka_unit_test(test_parse_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
