/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Receive accounting and the report. Per packet: one parse, one stream lookup by the id in the
 * tag (the relay rewrites addresses, so addresses cannot say which stream a packet is), a few
 * bit operations on the stream's window and one histogram increment; no allocation.
 */
#include "pg_rx.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pg_pkt.h"

void pg_hist_reset(struct pg_hist *h)
{
	memset(h, 0, sizeof(*h));
}

uint64_t pg_hist_bucket_low(unsigned idx)
{
	unsigned shift;

	if (idx < 2 * PG_HIST_SUB)
		return idx;
	shift = idx / PG_HIST_SUB - 1;
	return (uint64_t)(idx - shift * PG_HIST_SUB) << shift;
}

uint64_t pg_hist_bucket_high(unsigned idx)
{
	unsigned shift;

	if (idx < 2 * PG_HIST_SUB)
		return idx;
	shift = idx / PG_HIST_SUB - 1;
	return ((uint64_t)(idx - shift * PG_HIST_SUB + 1) << shift) - 1;
}

uint64_t pg_hist_quantile(const struct pg_hist *h, double q)
{
	uint64_t rank, cum = 0;

	if (h->count == 0)
		return 0;
	if (!(q > 0))
		return h->min;
	if (q >= 1)
		return h->max;
	rank = (uint64_t)ceil(q * (double)h->count);
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < PG_HIST_BUCKETS; i++) {
		cum += h->bucket[i];
		if (cum >= rank) {
			uint64_t v = pg_hist_bucket_high(i);

			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

int pg_rx_init(struct pg_rx *rx, unsigned n_streams)
{
	memset(rx, 0, sizeof(*rx));
	if (n_streams == 0)
		return -EINVAL;
	rx->st = calloc(n_streams, sizeof(*rx->st));
	if (!rx->st)
		return -ENOMEM;
	rx->n_streams = n_streams;
	return 0;
}

void pg_rx_fini(struct pg_rx *rx)
{
	free(rx->st);
	rx->st = NULL;
	rx->n_streams = 0;
}

/* Clears the window bits of sequences [from, to): their slots are about to be reused. */
static void window_clear(uint64_t *seen, uint64_t from, uint64_t to)
{
	if (to - from >= PG_RX_WINDOW) {
		memset(seen, 0, PG_RX_WINDOW / 8);
		return;
	}
	while (from < to) {
		unsigned bit = (unsigned)(from % PG_RX_WINDOW), w = bit / 64, b = bit % 64;
		uint64_t n = 64 - b < to - from ? 64 - b : to - from;
		uint64_t mask = n == 64 ? ~0ULL : ((1ULL << n) - 1) << b;

		seen[w] &= ~mask;
		from += n;
	}
}

void pg_rx_account(
	struct pg_rx *rx, uint32_t stream, uint64_t seq, uint64_t tx_tsc, uint64_t rx_tsc)
{
	struct pg_rx_stream *s;
	unsigned bit;
	uint64_t mask;

	if (stream >= rx->n_streams) {
		rx->foreign++;
		return;
	}
	s = &rx->st[stream];
	rx->pkts++;
	if (!rx->first_tsc)
		rx->first_tsc = rx_tsc;
	rx->last_tsc = rx_tsc;
	pg_hist_add(&rx->lat, rx_tsc > tx_tsc ? rx_tsc - tx_tsc : 0);
	bit = (unsigned)(seq % PG_RX_WINDOW);
	mask = 1ULL << (bit % 64);
	if (seq >= s->top) {
		/* the new top: sequences skipped on the way are missing until they turn up */
		window_clear(s->seen, s->top, seq);
		s->seen[bit / 64] |= mask;
		s->top = seq + 1;
	} else if (s->top - seq > PG_RX_WINDOW) {
		s->late++;
		s->reordered++;
	} else if (s->seen[bit / 64] & mask) {
		s->dups++;
		return;
	} else {
		s->seen[bit / 64] |= mask;
		s->reordered++;
	}
	s->unique++;
	rx->unique++;
}

void pg_rx_frame(struct pg_rx *rx, const uint8_t *frame, uint32_t len, uint64_t rx_tsc)
{
	struct pg_pkt_tag tag;

	if (pg_pkt_parse(frame, len, &tag))
		pg_rx_account(rx, tag.stream, tag.seq, tag.tsc, rx_tsc);
	else
		rx->other++;
}

void pg_rx_totals(const struct pg_rx *rx, bool sent_known, uint64_t sent, struct pg_rx_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < rx->n_streams; i++) {
		const struct pg_rx_stream *s = &rx->st[i];
		uint64_t exp = sent_known ? pg_sent_in_stream(sent, rx->n_streams, i) : s->top;

		t->expected += exp;
		t->unique += s->unique;
		/* a stale packet of an earlier run can exceed what this run sent: never negative */
		t->lost += exp > s->unique ? exp - s->unique : 0;
		t->dups += s->dups;
		t->reordered += s->reordered;
		t->late += s->late;
	}
}

static double ticks_us(uint64_t ticks, uint64_t hz)
{
	return (double)ticks * 1e6 / (double)hz;
}

void pg_report_fill_rx(
	struct pg_report *r, const struct pg_rx *rx, bool sent_known, uint64_t sent, uint64_t hz)
{
	const struct pg_hist *h = &rx->lat;

	r->n_streams = rx->n_streams;
	r->rx_pkts = rx->pkts;
	r->rx_foreign = rx->foreign;
	r->rx_other = rx->other;
	pg_rx_totals(rx, sent_known, sent, &r->t);
	r->loss_pct = r->t.expected ? 100.0 * (double)r->t.lost / (double)r->t.expected : NAN;
	if (h->count == 0 || hz == 0) {
		r->lat_min_us = r->lat_mean_us = r->p50_us = NAN;
		r->p99_us = r->p999_us = r->lat_max_us = NAN;
		return;
	}
	r->lat_min_us = ticks_us(h->min, hz);
	r->lat_mean_us = ticks_us(h->sum / h->count, hz);
	r->p50_us = ticks_us(pg_hist_quantile(h, 0.5), hz);
	r->p99_us = ticks_us(pg_hist_quantile(h, 0.99), hz);
	r->p999_us = ticks_us(pg_hist_quantile(h, 0.999), hz);
	r->lat_max_us = ticks_us(h->max, hz);
}

static double mpps(uint64_t pkts, double secs)
{
	return secs > 0 ? (double)pkts / secs / 1e6 : 0.0;
}

int pg_report_line(const struct pg_report *r, char *buf, size_t len)
{
	return snprintf(buf, len,
		"tx_pkts=%llu rx_pkts=%llu tx_mpps=%.6f rx_mpps=%.6f loss_pct=%.4f reordered=%llu "
		"p50_us=%.2f p99_us=%.2f p999_us=%.2f max_us=%.2f",
		(unsigned long long)r->tx_pkts, (unsigned long long)r->rx_pkts,
		mpps(r->tx_pkts, r->tx_secs), mpps(r->rx_pkts, r->rx_secs),
		r->rx_on ? r->loss_pct : NAN, (unsigned long long)r->t.reordered, r->p50_us,
		r->p99_us, r->p999_us, r->lat_max_us);
}

void pg_report_print(const struct pg_report *r, FILE *out)
{
	char line[512];

	fprintf(out, "%-22s %16s %16s\n", "", "tx", "rx");
	fprintf(out, "%-22s %16llu %16llu\n", "packets", (unsigned long long)r->tx_pkts,
		(unsigned long long)r->rx_pkts);
	fprintf(out, "%-22s %16.3f %16.3f\n", "seconds", r->tx_secs, r->rx_secs);
	fprintf(out, "%-22s %16.0f %16.0f\n", "packets/s",
		r->tx_secs > 0 ? (double)r->tx_pkts / r->tx_secs : 0.0,
		r->rx_secs > 0 ? (double)r->rx_pkts / r->rx_secs : 0.0);
	if (r->tx_on)
		fprintf(out, "%-22s %16llu   (port refused, sent again)\n%-22s %16llu\n",
			"tx refused", (unsigned long long)r->tx_refused, "tx no mbufs",
			(unsigned long long)r->tx_nombuf);
	if (r->rx_on) {
		fprintf(out, "%-22s %33llu   (%u streams)\n", "expected",
			(unsigned long long)r->t.expected, r->n_streams);
		fprintf(out, "%-22s %33llu   (%.4f %%)\n", "lost", (unsigned long long)r->t.lost,
			r->loss_pct);
		fprintf(out, "%-22s %33llu\n", "reordered", (unsigned long long)r->t.reordered);
		fprintf(out, "%-22s %33llu\n", "  of which too late",
			(unsigned long long)r->t.late);
		fprintf(out, "%-22s %33llu\n", "duplicates", (unsigned long long)r->t.dups);
		fprintf(out, "%-22s %33llu\n", "foreign stream ids",
			(unsigned long long)r->rx_foreign);
		fprintf(out, "%-22s %33llu\n", "not ours", (unsigned long long)r->rx_other);
		fprintf(out,
			"latency us: min %.2f  mean %.2f  p50 %.2f  p99 %.2f  p99.9 %.2f  max "
			"%.2f\n",
			r->lat_min_us, r->lat_mean_us, r->p50_us, r->p99_us, r->p999_us,
			r->lat_max_us);
	}
	if (r->interrupted)
		fprintf(out, "stopped by a signal: figures cover the run so far\n");
	pg_report_line(r, line, sizeof(line));
	fprintf(out, "%s\n", line);
	fflush(out);
}
