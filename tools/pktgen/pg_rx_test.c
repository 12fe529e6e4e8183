/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Receive accounting without an EAL: histogram buckets and quantiles, loss/reorder/duplicate
 * bookkeeping per stream (including the window's edges), totals against what was sent, and the
 * report's machine-readable line.
 */
#include <math.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "pg_pkt.h"
#include "pg_rx.h"

static struct pg_hist hist;

static void test_hist_buckets_tile_the_range(void **state)
{
	for (unsigned i = 0; i + 1 < PG_HIST_BUCKETS; i++) {
		assert_true(pg_hist_bucket_low(i) <= pg_hist_bucket_high(i));
		assert_int_equal(pg_hist_bucket_high(i) + 1, pg_hist_bucket_low(i + 1));
		/* never wider than 1/64 of the values it holds */
		assert_true(pg_hist_bucket_high(i) - pg_hist_bucket_low(i) + 1 <=
			    (pg_hist_bucket_low(i) / PG_HIST_SUB > 1
					    ? pg_hist_bucket_low(i) / PG_HIST_SUB
					    : 1));
	}
	assert_int_equal(pg_hist_bucket_low(0), 0);
	assert_int_equal(pg_hist_bucket_high(PG_HIST_BUCKETS - 1), PG_HIST_MAX);
}

static void test_hist_index_matches_bounds(void **state)
{
	uint64_t x = 88172645463325252ULL;

	for (uint64_t v = 0; v < 100000; v++) {
		unsigned i = pg_hist_index(v);

		assert_true(pg_hist_bucket_low(i) <= v && v <= pg_hist_bucket_high(i));
	}
	for (int b = 0; b < 64; b++) {
		uint64_t vs[3] = {(1ULL << b) - 1, 1ULL << b, (1ULL << b) + 1};

		for (int k = 0; k < 3; k++) {
			unsigned i = pg_hist_index(vs[k]);

			assert_true(i < PG_HIST_BUCKETS);
			if (vs[k] <= PG_HIST_MAX)
				assert_true(pg_hist_bucket_low(i) <= vs[k] &&
					    vs[k] <= pg_hist_bucket_high(i));
			else
				assert_int_equal(i, PG_HIST_BUCKETS - 1);
		}
	}
	for (int n = 0; n < 100000; n++) {
		uint64_t v;
		unsigned i;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = x & PG_HIST_MAX;
		i = pg_hist_index(v);
		assert_true(pg_hist_bucket_low(i) <= v && v <= pg_hist_bucket_high(i));
	}
	assert_int_equal(pg_hist_index(UINT64_MAX), PG_HIST_BUCKETS - 1);
}

static void test_hist_quantiles(void **state)
{
	pg_hist_reset(&hist);
	assert_int_equal(pg_hist_quantile(&hist, 0.5), 0);
	pg_hist_add(&hist, 777);
	assert_int_equal(pg_hist_quantile(&hist, 0.0), 777);
	assert_int_equal(pg_hist_quantile(&hist, 0.5), 777); /* clamped to the exact maximum */
	assert_int_equal(pg_hist_quantile(&hist, 1.0), 777);

	/* exact below 128 */
	pg_hist_reset(&hist);
	for (uint64_t v = 1; v <= 100; v++)
		pg_hist_add(&hist, v);
	assert_int_equal(hist.count, 100);
	assert_int_equal(hist.min, 1);
	assert_int_equal(hist.max, 100);
	assert_int_equal(hist.sum, 5050);
	assert_int_equal(pg_hist_quantile(&hist, 0.5), 50);
	assert_int_equal(pg_hist_quantile(&hist, 0.99), 99);
	assert_int_equal(pg_hist_quantile(&hist, 0.001), 1);
	assert_int_equal(pg_hist_quantile(&hist, 1.0), 100);

	/* within one bucket (1/64) above, never below the true quantile */
	pg_hist_reset(&hist);
	for (uint64_t v = 1; v <= 1000000; v++)
		pg_hist_add(&hist, v * 1000);
	{
		const double qs[] = {0.5, 0.9, 0.99, 0.999, 0.9999};

		for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
			double exact = ceil(qs[i] * 1e6) * 1000,
			       got = (double)pg_hist_quantile(&hist, qs[i]);

			if (got < exact || got > exact * (1 + 1.0 / 64))
				fail_msg("q %g: %g, exact %g", qs[i], got, exact);
		}
	}
	assert_int_equal(pg_hist_quantile(&hist, 1.0), 1000000000ULL);

	/* a tail: 999 fast, 1 slow */
	pg_hist_reset(&hist);
	for (int i = 0; i < 999; i++)
		pg_hist_add(&hist, 3000);
	pg_hist_add(&hist, 5000000);
	assert_true(pg_hist_quantile(&hist, 0.99) < 3100);
	assert_true(pg_hist_quantile(&hist, 0.999) < 3100);
	assert_int_equal(pg_hist_quantile(&hist, 0.9995), 5000000);
	/* values past the range are counted in the last bucket, the maximum stays exact */
	pg_hist_add(&hist, UINT64_MAX / 2);
	assert_int_equal(hist.max, UINT64_MAX / 2);
	assert_int_equal(hist.bucket[PG_HIST_BUCKETS - 1], 1);
}

static void test_in_order_no_loss(void **state)
{
	struct pg_rx rx;
	struct pg_rx_totals t;

	assert_int_equal(pg_rx_init(&rx, 3), 0);
	for (uint64_t k = 0; k < 10000; k++)
		pg_rx_account(&rx, (uint32_t)(k % 3), k / 3, 1000 + k, 1500 + k);
	pg_rx_totals(&rx, true, 10000, &t);
	assert_int_equal(rx.pkts, 10000);
	assert_int_equal(rx.unique, 10000);
	assert_int_equal(t.expected, 10000);
	assert_int_equal(t.lost + t.dups + t.reordered + t.late, 0);
	assert_int_equal(rx.lat.min, 500);
	assert_int_equal(rx.lat.max, 500);
	/* 10000 over 3 streams: 3334, 3333, 3333 */
	assert_int_equal(pg_sent_in_stream(10000, 3, 0), 3334);
	assert_int_equal(pg_sent_in_stream(10000, 3, 2), 3333);
	/* had 10003 been sent, the last three were lost, one in each stream */
	pg_rx_totals(&rx, true, 10003, &t);
	assert_int_equal(t.lost, 3);
	/* without the sent count, the tail is invisible */
	pg_rx_totals(&rx, false, 0, &t);
	assert_int_equal(t.expected, 10000);
	assert_int_equal(t.lost, 0);
	pg_rx_fini(&rx);
}

static void test_loss_reorder_duplicates(void **state)
{
	static const uint64_t seqs[] = {0, 1, 3, 2, 2, 5, 4, 4, 9, 0};
	struct pg_rx rx;
	struct pg_rx_totals t;

	assert_int_equal(pg_rx_init(&rx, 1), 0);
	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		pg_rx_account(&rx, 0, seqs[i], 0, 1);
	pg_rx_totals(&rx, true, 10, &t);
	assert_int_equal(rx.pkts, 10);
	assert_int_equal(t.unique, 7);	  /* 0 1 2 3 4 5 9 */
	assert_int_equal(t.lost, 3);	  /* 6 7 8 */
	assert_int_equal(t.dups, 3);	  /* 2 4 0 */
	assert_int_equal(t.reordered, 2); /* 2 after 3, 4 after 5 */
	assert_int_equal(t.late, 0);
	assert_int_equal(rx.st[0].top, 10);
	/* an unknown sender: expected from the highest sequence, same answer here */
	pg_rx_totals(&rx, false, 0, &t);
	assert_int_equal(t.expected, 10);
	assert_int_equal(t.lost, 3);
	pg_rx_fini(&rx);
}

static void test_window_edges(void **state)
{
	struct pg_rx rx;
	struct pg_rx_totals t;

	assert_int_equal(pg_rx_init(&rx, 2), 0);
	/* stream 0: 0..4999 except 4500, then 4500 late but within the window */
	for (uint64_t s = 0; s < 5000; s++)
		if (s != 4500)
			pg_rx_account(&rx, 0, s, 0, 0);
	pg_rx_account(&rx, 0, 4500, 0, 0);
	pg_rx_account(&rx, 0, 4500, 0, 0);		      /* and again: a duplicate */
	pg_rx_account(&rx, 0, 5000 - PG_RX_WINDOW, 0, 0);     /* the oldest remembered: duplicate */
	pg_rx_account(&rx, 0, 5000 - PG_RX_WINDOW - 1, 0, 0); /* beyond: late, not checked */
	pg_rx_totals(&rx, true, 10000, &t);		      /* 5000 per stream */
	assert_int_equal(rx.st[0].unique, 5001);
	assert_int_equal(rx.st[0].dups, 2);
	assert_int_equal(rx.st[0].reordered, 2);
	assert_int_equal(rx.st[0].late, 1);
	/* stream 1: a jump far past the window forgets everything before it */
	pg_rx_account(&rx, 1, 10, 0, 0);
	pg_rx_account(&rx, 1, 10 + 5 * PG_RX_WINDOW, 0, 0);
	pg_rx_account(&rx, 1, 10 + 5 * PG_RX_WINDOW - 1, 0, 0); /* in the window, not seen */
	pg_rx_account(&rx, 1, 10 + 5 * PG_RX_WINDOW - 1, 0, 0); /* now seen */
	pg_rx_account(&rx, 1, 11 + 4 * PG_RX_WINDOW, 0, 0);	/* window's oldest slot, not seen */
	assert_int_equal(rx.st[1].unique, 4);
	assert_int_equal(rx.st[1].dups, 1);
	assert_int_equal(rx.st[1].reordered, 2);
	assert_int_equal(rx.st[1].late, 0);
	/* a gap smaller than the window, across the window's wrap */
	pg_rx_account(&rx, 1, 10 + 5 * PG_RX_WINDOW + 700, 0, 0);
	pg_rx_account(&rx, 1, 10 + 5 * PG_RX_WINDOW + 350, 0, 0);
	pg_rx_account(&rx, 1, 10 + 5 * PG_RX_WINDOW + 350, 0, 0);
	pg_rx_account(&rx, 1, 10 + 5 * PG_RX_WINDOW + 1, 0, 0);
	assert_int_equal(rx.st[1].unique, 7);
	assert_int_equal(rx.st[1].dups, 2);
	assert_int_equal(rx.st[1].reordered, 4);
	assert_int_equal(rx.unique, rx.st[0].unique + rx.st[1].unique);
	pg_rx_fini(&rx);
}

static void test_foreign_other_and_frames(void **state)
{
	static uint8_t f[256], filler[256];
	struct pg_pkt_layout l;
	struct pg_tmpl t;
	struct pg_pkt_params p = {.pt = 0};
	struct pg_rx rx;
	uint32_t fsum;

	assert_int_equal(pg_rx_init(&rx, 2), 0);
	pg_rx_account(&rx, 2, 0, 0, 0);
	pg_rx_account(&rx, 0xffffffff, 0, 0, 0);
	assert_int_equal(rx.foreign, 2);
	assert_int_equal(rx.pkts, 0);
	/* TSCs from two processes can disagree slightly: negative latency counts as zero */
	pg_rx_account(&rx, 1, 0, 2000, 1000);
	assert_int_equal(rx.lat.max, 0);
	assert_int_equal(rx.first_tsc, 1000);

	assert_int_equal(pg_parse_endpoint("10.0.0.1:4000", &p.dst), 0);
	assert_int_equal(pg_parse_endpoint("10.0.0.2:5000", &p.src), 0);
	assert_int_equal(pg_pkt_layout_init(&l, AF_INET, 172), 0);
	pg_pkt_filler(filler, &l, &fsum);
	pg_pkt_tmpl_build(&t, &l, &p, 1, fsum);
	memcpy(f, t.hdr, l.hdr_len);
	memcpy(f + l.hdr_len, filler, l.filler_len);
	pg_pkt_stamp(f, &l, &t, 160, 1, 5000);
	pg_rx_frame(&rx, f, l.frame_len, 5250);
	assert_int_equal(rx.pkts, 2);
	assert_int_equal(rx.st[1].top, 2);
	assert_int_equal(rx.lat.max, 250);
	assert_int_equal(rx.last_tsc, 5250);
	pg_rx_frame(&rx, f, 40, 6000);
	f[l.tag_off] = 0;
	pg_rx_frame(&rx, f, l.frame_len, 6000);
	assert_int_equal(rx.other, 2);
	assert_int_equal(rx.pkts, 2);
	pg_rx_fini(&rx);
	assert_int_equal(pg_rx_init(&rx, 0), -EINVAL);
}

static void test_report(void **state)
{
	struct pg_report r = {.tx_on = true, .rx_on = true};
	struct pg_rx rx;
	char line[512];

	assert_int_equal(pg_rx_init(&rx, 2), 0);
	/* 8 sent, 7 came back 2 to 9 us late (at 1 GHz: 1 tick = 1 ns), none reordered */
	for (uint64_t k = 0; k < 8; k++)
		if (k != 5)
			pg_rx_account(&rx, (uint32_t)(k % 2), k / 2, 0, 2000 + 1000 * k);
	pg_rx_account(&rx, 0, 1, 0, 2000); /* a duplicate of k = 2 */
	r.tx_pkts = 8;
	r.tx_secs = 2.0;
	pg_report_fill_rx(&r, &rx, true, 8, 1000000000);
	r.rx_secs = 4.0;
	assert_int_equal(r.t.lost, 1);
	assert_int_equal(r.t.dups, 1);
	assert_true(fabs(r.loss_pct - 12.5) < 1e-9);
	assert_true(fabs(r.lat_min_us - 2.0) < 1e-9);
	assert_true(fabs(r.lat_max_us - 9.0) < 1e-9);
	/* the median is 4000 ns, reported as its bucket's upper bound (4031 ns, within 1/64) */
	assert_true(fabs(r.p50_us - 4.031) < 1e-9);
	pg_report_line(&r, line, sizeof(line));
	assert_string_equal(line, "tx_pkts=8 rx_pkts=8 tx_mpps=0.000004 rx_mpps=0.000002 "
				  "loss_pct=12.5000 reordered=0 p50_us=4.03 p99_us=9.00 "
				  "p999_us=9.00 max_us=9.00");
	pg_rx_fini(&rx);

	/* nothing received: loss 100 %, latency undefined */
	assert_int_equal(pg_rx_init(&rx, 1), 0);
	memset(&r, 0, sizeof(r));
	r.tx_on = r.rx_on = true;
	r.tx_pkts = 10;
	r.tx_secs = 1;
	pg_report_fill_rx(&r, &rx, true, 10, 1000000000);
	pg_report_line(&r, line, sizeof(line));
	assert_string_equal(line, "tx_pkts=10 rx_pkts=0 tx_mpps=0.000010 rx_mpps=0.000000 "
				  "loss_pct=100.0000 reordered=0 p50_us=nan p99_us=nan "
				  "p999_us=nan max_us=nan");
	/* the table ends with the same line */
	{
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		pg_report_print(&r, f);
		fclose(f);
		assert_true(len > strlen(line) + 1);
		assert_memory_equal(text + len - strlen(line) - 1, line, strlen(line));
		assert_int_equal(text[len - 1], '\n');
		free(text);
	}
	pg_rx_fini(&rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_buckets_tile_the_range),
		cmocka_unit_test(test_hist_index_matches_bounds),
		cmocka_unit_test(test_hist_quantiles),
		cmocka_unit_test(test_in_order_no_loss),
		cmocka_unit_test(test_loss_reorder_duplicates),
		cmocka_unit_test(test_window_edges),
		cmocka_unit_test(test_foreign_other_and_frames),
		cmocka_unit_test(test_report),
	};

	return cmocka_run_group_tests_name("pg_rx", tests, NULL, NULL);
}
