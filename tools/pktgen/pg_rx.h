/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Receive-side accounting: per-stream sequence tracking (loss, reordering, duplicates), a
 * latency histogram, and the final report (human table and the one machine-readable line).
 * Plain C without EAL calls: the RX lcore feeds it frames, the tests feed it numbers.
 *
 * Threading: one struct pg_rx is written by exactly one thread (the RX lcore) and read by
 * others only after that thread has finished.
 */
#ifndef TG_PG_RX_H
#define TG_PG_RX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Log-linear histogram (the HDR histogram's shape): values below 128 have a bucket each, above
 * that every power of two is split into 64 buckets, so a bucket is never wider than 1/64 of its
 * values (1.6 %). Values are TSC ticks; above PG_HIST_MAX they land in the last bucket (the
 * exact maximum is kept apart). 2304 counters, 18 KiB, no allocation per value.
 */
#define PG_HIST_SUB_BITS 6
#define PG_HIST_SUB (1U << PG_HIST_SUB_BITS)
#define PG_HIST_TOP_BIT 40 /* values up to 2^41 - 1: 12 minutes at 3 GHz */
#define PG_HIST_MAX ((2ULL << PG_HIST_TOP_BIT) - 1)
#define PG_HIST_BUCKETS ((PG_HIST_TOP_BIT - PG_HIST_SUB_BITS + 2) * PG_HIST_SUB)

struct pg_hist {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	uint64_t sum;
	uint64_t bucket[PG_HIST_BUCKETS];
};

static inline unsigned pg_hist_index(uint64_t v)
{
	unsigned shift;

	if (v < 2 * PG_HIST_SUB)
		return (unsigned)v;
	if (v > PG_HIST_MAX)
		v = PG_HIST_MAX;
	shift = (unsigned)(63 - __builtin_clzll(v)) - PG_HIST_SUB_BITS;
	return shift * PG_HIST_SUB + (unsigned)(v >> shift);
}

static inline void pg_hist_add(struct pg_hist *h, uint64_t v)
{
	h->bucket[pg_hist_index(v)]++;
	if (v < h->min || h->count == 0)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
}

void pg_hist_reset(struct pg_hist *h);
uint64_t pg_hist_bucket_low(unsigned idx);
uint64_t pg_hist_bucket_high(unsigned idx);
/*
 * The smallest value v with at least ceil(q * count) values <= v, reported as its bucket's
 * upper bound but never above the exact maximum. q in [0, 1]; 0 when the histogram is empty.
 */
uint64_t pg_hist_quantile(const struct pg_hist *h, double q);

/* Sequences remembered per stream to tell a duplicate from a late packet. */
#define PG_RX_WINDOW 1024

struct pg_rx_stream {
	uint64_t top;	    /* highest sequence received + 1; 0 before the first */
	uint64_t unique;    /* distinct sequences received */
	uint64_t dups;	    /* a sequence received again */
	uint64_t reordered; /* received after a higher sequence of the same stream */
	uint64_t late;	    /* older than the window: counted unique and reordered, unchecked */
	uint64_t seen[PG_RX_WINDOW / 64]; /* bit (seq % WINDOW) for seq in [top - WINDOW, top) */
};

struct pg_rx {
	unsigned n_streams;
	struct pg_rx_stream *st;
	uint64_t pkts;	    /* carrying our tag, for one of our streams (duplicates included) */
	uint64_t unique;    /* sum of st[].unique, kept running for the drain's early stop */
	uint64_t foreign;   /* our tag with a stream id at or beyond n_streams */
	uint64_t other;	    /* anything else */
	uint64_t first_tsc; /* 0 before the first of ours */
	uint64_t last_tsc;
	struct pg_hist lat; /* RX TSC - TX TSC, in ticks */
};

/* 0 or -ENOMEM (n_streams > 0). */
int pg_rx_init(struct pg_rx *rx, unsigned n_streams);
void pg_rx_fini(struct pg_rx *rx);

/* One received packet of ours. Latency below zero (TSCs of two processes) counts as 0. */
void pg_rx_account(
	struct pg_rx *rx, uint32_t stream, uint64_t seq, uint64_t tx_tsc, uint64_t rx_tsc);
/* One received frame: parsed, then accounted, or counted as other. */
void pg_rx_frame(struct pg_rx *rx, const uint8_t *frame, uint32_t len, uint64_t rx_tsc);

/* Packets of stream s when 'total' went out round-robin over n streams from stream 0. */
static inline uint64_t pg_sent_in_stream(uint64_t total, unsigned n, unsigned s)
{
	return total / n + (s < total % n ? 1 : 0);
}

struct pg_rx_totals {
	uint64_t expected;
	uint64_t unique;
	uint64_t lost;
	uint64_t dups;
	uint64_t reordered;
	uint64_t late;
};

/*
 * Sums the streams. With sent_known, stream s expected pg_sent_in_stream(sent, ...); without
 * (another process sent), its highest sequence + 1, so losses at the very end go unseen.
 */
void pg_rx_totals(const struct pg_rx *rx, bool sent_known, uint64_t sent, struct pg_rx_totals *t);

/* Everything the final report shows; NAN where a figure does not apply. */
struct pg_report {
	bool tx_on;
	bool rx_on;
	bool interrupted;
	unsigned n_streams;
	uint64_t tx_pkts;
	double tx_secs;
	uint64_t tx_refused; /* offered to the port and refused (sent again later) */
	uint64_t tx_nombuf;  /* bursts skipped for want of mbufs */
	uint64_t rx_pkts;
	double rx_secs;
	uint64_t rx_foreign;
	uint64_t rx_other;
	struct pg_rx_totals t;
	double loss_pct;
	double lat_min_us, lat_mean_us, p50_us, p99_us, p999_us, lat_max_us;
};

/* The receive side's half of a report; hz converts ticks to time. */
void pg_report_fill_rx(
	struct pg_report *r, const struct pg_rx *rx, bool sent_known, uint64_t sent, uint64_t hz);
/* The machine-readable line (no newline); returns what snprintf returns. */
int pg_report_line(const struct pg_report *r, char *buf, size_t len);
/* The table, then the machine-readable line last. */
void pg_report_print(const struct pg_report *r, FILE *out);

#endif
