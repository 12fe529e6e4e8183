/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The benchmark harness: option parsing, the doubling loop that sizes each row's final run, the
 * latency sample buffer and its percentiles, and the two outputs (a table for people, one
 * key=value line for scripts, always last). Nothing here knows about any subsystem under test.
 */
#include "bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bench_ctx {
	const struct bench_def *def;
	const struct bench_opts *opts;
	struct bench_result *res;
	void *priv;
	uint64_t *samples; /* latency rows: capacity for the current run, allocated before it */
	size_t cap;
	size_t n_samples;
	uint64_t dropped;
};

static uint64_t mono_ns(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void *bench_arg(const struct bench_ctx *ctx)
{
	return ctx->def->arg;
}

void bench_set_priv(struct bench_ctx *ctx, void *priv)
{
	ctx->priv = priv;
}

void *bench_priv(const struct bench_ctx *ctx)
{
	return ctx->priv;
}

double bench_min_time_s(const struct bench_ctx *ctx)
{
	return ctx->opts->min_time_s;
}

void bench_record_ns(struct bench_ctx *ctx, uint64_t ns)
{
	if (__builtin_expect(ctx->n_samples < ctx->cap, 1))
		ctx->samples[ctx->n_samples++] = ns;
	else
		ctx->dropped++;
}

static bool key_ok(const char *k)
{
	size_t n = 0;

	for (; k[n]; n++)
		if (!((k[n] >= 'a' && k[n] <= 'z') || (k[n] >= '0' && k[n] <= '9') || k[n] == '_'))
			return false;
	return n > 0 && n < BENCH_KEY_MAX;
}

static FILE *err_stream(const struct bench_opts *o)
{
	return o->err ? o->err : stderr;
}

static FILE *out_stream(const struct bench_opts *o)
{
	return o->out ? o->out : stdout;
}

void bench_report(struct bench_ctx *ctx, const char *key, double value)
{
	struct bench_result *r = ctx->res;
	unsigned i;

	if (!key_ok(key)) {
		fprintf(err_stream(ctx->opts),
			"%s: figure key '%s' is not [a-z0-9_]{1,%d}, dropped\n", ctx->def->name,
			key, BENCH_KEY_MAX - 1);
		return;
	}
	for (i = 0; i < r->n_extras; i++)
		if (!strcmp(r->extras[i].key, key))
			break;
	if (i == BENCH_MAX_EXTRAS) {
		fprintf(err_stream(ctx->opts), "%s: more than %d extra figures, '%s' dropped\n",
			ctx->def->name, BENCH_MAX_EXTRAS, key);
		return;
	}
	if (i == r->n_extras) {
		snprintf(r->extras[i].key, sizeof(r->extras[i].key), "%s", key);
		r->n_extras++;
	}
	r->extras[i].value = value;
}

void bench_error(struct bench_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->res->error, sizeof(ctx->res->error), fmt, ap);
	va_end(ap);
}

void bench_opts_init(struct bench_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->min_time_s = BENCH_DEFAULT_MIN_TIME_S;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* 1-based nearest rank of the num/den quantile of n samples, as an index */
static size_t rank_index(size_t n, uint64_t num, uint64_t den)
{
	uint64_t rank = ((uint64_t)n * num + den - 1) / den;

	return rank ? (size_t)rank - 1 : 0;
}

int bench_percentiles(uint64_t *samples, size_t n, struct bench_pct *out)
{
	long double sum = 0;

	if (!samples || !n || !out)
		return -EINVAL;
	qsort(samples, n, sizeof(*samples), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += samples[i];
	out->n = n;
	out->min = samples[0];
	out->p50 = samples[rank_index(n, 1, 2)];
	out->p99 = samples[rank_index(n, 99, 100)];
	out->p999 = samples[rank_index(n, 999, 1000)];
	out->max = samples[n - 1];
	out->mean = (double)(sum / n);
	return 0;
}

/* Grows the sample buffer to hold n samples; done between runs, never inside one. */
static int reserve_samples(struct bench_ctx *ctx, uint64_t n)
{
	uint64_t *p;

	ctx->n_samples = 0;
	ctx->dropped = 0;
	if (n <= ctx->cap)
		return 0;
	p = realloc(ctx->samples, (size_t)n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	ctx->samples = p;
	ctx->cap = (size_t)n;
	return 0;
}

static void fail(struct bench_result *res, int rc, const char *why)
{
	res->rc = rc < 0 ? rc : -EIO;
	if (!res->error[0])
		snprintf(res->error, sizeof(res->error), "%s", why);
}

int bench_run_one(const struct bench_def *d, const struct bench_opts *o, struct bench_result *res)
{
	uint64_t (*now)(void *) = o->clock_ns ? o->clock_ns : mono_ns;
	uint64_t min_ns = (uint64_t)(o->min_time_s * 1e9);
	bool latency = d->flags & BENCH_F_LATENCY;
	struct bench_ctx ctx = {.def = d, .opts = o, .res = res};
	uint64_t n = o->start_iters ? o->start_iters : 1;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!d->run || !d->name) {
		fail(res, -EINVAL, "no run function or name");
		return res->rc;
	}
	if (latency && n > BENCH_MAX_SAMPLES)
		n = BENCH_MAX_SAMPLES;
	if (d->setup) {
		rc = d->setup(&ctx);
		if (rc < 0) {
			fail(res, rc, "setup failed");
			goto out;
		}
	}
	for (;;) {
		uint64_t t0, t1;

		if (latency) {
			rc = reserve_samples(&ctx, n);
			if (rc < 0) {
				fail(res, rc, "cannot allocate the latency samples");
				break;
			}
		}
		t0 = now(o->clock_arg);
		rc = d->run(&ctx, n);
		t1 = now(o->clock_arg);
		res->runs++;
		if (rc < 0) {
			fail(res, rc, "run failed");
			break;
		}
		res->iters = n;
		res->elapsed_ns = t1 - t0;
		if (res->elapsed_ns >= min_ns || n >= BENCH_MAX_ITERS ||
			(latency && n * 2 > BENCH_MAX_SAMPLES))
			break;
		n *= 2;
	}
	if (!res->rc) {
		res->ns_per_op = (double)res->elapsed_ns / (double)res->iters;
		res->ops_per_s = res->elapsed_ns ? (double)res->iters * 1e9 / res->elapsed_ns : 0;
		if (latency) {
			rc = bench_percentiles(ctx.samples, ctx.n_samples, &res->pct);
			if (rc < 0)
				fail(res, -ENODATA, "latency row recorded no samples");
			else
				res->has_pct = true;
		}
	}
out:
	if (d->teardown)
		d->teardown(&ctx);
	free(ctx.samples);
	return res->rc;
}

void bench_format_value(double v, char *buf, size_t len)
{
	double a = v < 0 ? -v : v;

	if (v != v)
		snprintf(buf, len, "nan");
	else if (a >= 1000 || a == (double)(int64_t)a) /* the cast only sees |v| < 1000 */
		snprintf(buf, len, "%.0f", v);
	else if (a >= 100)
		snprintf(buf, len, "%.1f", v);
	else if (a >= 1)
		snprintf(buf, len, "%.2f", v);
	else
		snprintf(buf, len, "%.3f", v);
}

struct figures {
	struct bench_figure f[BENCH_MAX_FIGURES];
	unsigned n;
};

static struct bench_figure *fig_find(struct figures *fs, const char *key)
{
	for (unsigned i = 0; i < fs->n; i++)
		if (!strcmp(fs->f[i].key, key))
			return &fs->f[i];
	return NULL;
}

/* A key seen twice keeps its first place and its last value: the line never repeats a key. */
static void fig_add(struct figures *fs, const char *prefix, const char *suffix, double v)
{
	char key[BENCH_KEY_MAX];
	struct bench_figure *f;

	if ((size_t)snprintf(key, sizeof(key), "%s%s", prefix, suffix) >= sizeof(key))
		return;
	f = fig_find(fs, key);
	if (!f) {
		if (fs->n == BENCH_MAX_FIGURES)
			return;
		f = &fs->f[fs->n++];
		memcpy(f->key, key, sizeof(key));
	}
	f->value = v;
}

static const char *const scale_key[] = {"", "k", "m"};
static const char *const scale_label[] = {"", "K", "M"};
static const double scale_div[] = {1, 1e3, 1e6};

static void collect(struct figures *fs, const struct bench_def *d, const struct bench_result *r)
{
	const char *unit = d->unit ? d->unit : "op";
	unsigned sc = (unsigned)d->scale <= BENCH_SCALE_M ? (unsigned)d->scale : 0;
	char suffix[BENCH_KEY_MAX];

	if (r->has_pct) {
		fig_add(fs, d->name, "_p50_ns", (double)r->pct.p50);
		fig_add(fs, d->name, "_p99_ns", (double)r->pct.p99);
		fig_add(fs, d->name, "_p999_ns", (double)r->pct.p999);
		fig_add(fs, d->name, "_max_ns", (double)r->pct.max);
	} else {
		fig_add(fs, d->name, "_ns", r->ns_per_op);
		snprintf(suffix, sizeof(suffix), "_%s%ss", scale_key[sc], unit);
		fig_add(fs, d->name, suffix, r->ops_per_s / scale_div[sc]);
	}
	for (unsigned i = 0; i < r->n_extras; i++)
		fig_add(fs, r->extras[i].key, "", r->extras[i].value);
}

static void print_row(FILE *out, const struct bench_def *d, const struct bench_result *r)
{
	const char *unit = d->unit ? d->unit : "op";
	unsigned sc = (unsigned)d->scale <= BENCH_SCALE_M ? (unsigned)d->scale : 0;
	char rate[32], val[32];

	if (r->rc) {
		fprintf(out, "%-24s FAILED: %s (%s)\n", d->name, r->error[0] ? r->error : "error",
			strerror(-r->rc));
		return;
	}
	snprintf(rate, sizeof(rate), "%.2f %s%s/s", r->ops_per_s / scale_div[sc], scale_label[sc],
		unit);
	fprintf(out, "%-24s %12llu %10.1f %16s", d->name, (unsigned long long)r->iters,
		r->ns_per_op, rate);
	if (r->has_pct)
		fprintf(out, " %8llu %8llu %8llu %9llu", (unsigned long long)r->pct.p50,
			(unsigned long long)r->pct.p99, (unsigned long long)r->pct.p999,
			(unsigned long long)r->pct.max);
	fputc('\n', out);
	for (unsigned i = 0; i < r->n_extras; i++) {
		bench_format_value(r->extras[i].value, val, sizeof(val));
		fprintf(out, "    %s = %s\n", r->extras[i].key, val);
	}
}

static bool selected(const struct bench_def *d, const struct bench_opts *o)
{
	return !o->filter || strstr(d->name, o->filter);
}

int bench_run_suite(const struct bench_suite *s, const struct bench_opts *o)
{
	FILE *out = out_stream(o);
	struct figures *fs;
	unsigned n_run = 0;
	int first_rc = 0;
	char val[32];

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fprintf(out, "%s: min-time %.2f s%s%s\n", s->name, o->min_time_s,
		o->filter ? ", filter " : "", o->filter ? o->filter : "");
	fprintf(out, "%-24s %12s %10s %16s %8s %8s %8s %9s\n", "benchmark", "iters", "ns/op",
		"rate", "p50", "p99", "p999", "max");
	for (unsigned i = 0; i < s->n_defs; i++) {
		const struct bench_def *d = &s->defs[i];
		struct bench_result r;

		if (!selected(d, o))
			continue;
		n_run++;
		/* a row that forks must not hand our buffered table to its child */
		fflush(out);
		bench_run_one(d, o, &r);
		print_row(out, d, &r);
		if (r.rc) {
			fprintf(err_stream(o), "%s: %s: %s (%s)\n", s->name, d->name,
				r.error[0] ? r.error : "failed", strerror(-r.rc));
			if (!first_rc)
				first_rc = r.rc;
			continue;
		}
		collect(fs, d, &r);
	}
	for (unsigned i = 0; i < s->n_ratios; i++) {
		const struct bench_ratio *ra = &s->ratios[i];
		const struct bench_figure *num = fig_find(fs, ra->num),
					  *den = fig_find(fs, ra->den);

		if (!num || !den || den->value == 0)
			continue;
		fig_add(fs, ra->key, "", num->value / den->value);
		bench_format_value(num->value / den->value, val, sizeof(val));
		fprintf(out, "ratio %s = %s / %s = %s\n", ra->key, ra->num, ra->den, val);
	}
	if (!n_run) {
		fprintf(err_stream(o), "%s: no benchmark matches '%s'\n", s->name,
			o->filter ? o->filter : "");
		first_rc = -ENOENT;
	}
	/* the machine-readable line, always the last one on the stream */
	for (unsigned i = 0; i < fs->n; i++) {
		bench_format_value(fs->f[i].value, val, sizeof(val));
		fprintf(out, "%s%s=%s", i ? " " : "", fs->f[i].key, val);
	}
	fputc('\n', out);
	fflush(out);
	free(fs);
	return first_rc;
}

static void usage(const struct bench_suite *s, FILE *f)
{
	fprintf(f,
		"usage: %s [--filter SUBSTR] [--min-time SECONDS] [--quick] [--list]\n"
		"  --filter SUBSTR     run only the benchmarks whose name contains SUBSTR\n"
		"  --min-time SECONDS  the measured run lasts at least this long (default %.1f)\n"
		"  --quick             --min-time %.1f: exercises every row, rough numbers\n"
		"  --list              print the benchmark names and exit\n"
		"The last line of output holds every figure as key=value.\n",
		s->name, BENCH_DEFAULT_MIN_TIME_S, BENCH_QUICK_MIN_TIME_S);
}

int bench_parse_args(const struct bench_suite *s, struct bench_opts *o, int *argc, char **argv)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--quick")) {
			o->min_time_s = BENCH_QUICK_MIN_TIME_S;
		} else if (!strcmp(a, "--filter") || !strcmp(a, "--min-time")) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "%s: %s needs a value\n", s->name, a);
				return -EINVAL;
			}
			if (a[2] == 'f') {
				o->filter = argv[++i];
			} else {
				char *end;
				double v = strtod(argv[++i], &end);

				if (*end || end == argv[i] || !(v > 0 && v <= 3600)) {
					fprintf(stderr,
						"%s: --min-time wants seconds in (0, 3600]\n",
						s->name);
					return -EINVAL;
				}
				o->min_time_s = v;
			}
		} else if (!strcmp(a, "--list")) {
			for (unsigned k = 0; k < s->n_defs; k++)
				printf("%s\n", s->defs[k].name);
			return 1;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(s, stdout);
			return 1;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int bench_main(const struct bench_suite *s, int argc, char **argv)
{
	struct bench_opts o;
	int rc;

	bench_opts_init(&o);
	rc = bench_parse_args(s, &o, &argc, argv);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (argc > 1) {
		fprintf(stderr, "%s: unknown argument '%s'\n", s->name, argv[1]);
		usage(s, stderr);
		return 2;
	}
	return bench_run_suite(s, &o) ? 1 : 0;
}
