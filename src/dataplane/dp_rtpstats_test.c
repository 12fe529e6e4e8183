/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RTP receive statistics against RFC 3550 by hand: probation, loss across a sequence wrap,
 * reordering and duplicates (both words of the window), SSRC change, restart after a jump,
 * A.3 fraction lost per interval, A.8 jitter step by step, and the ns -> clock conversion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dp_rtp.h"
#include "dp_rtpstats.h"

#define SSRC_A 0x11111111u
#define SSRC_B 0x22222222u
#define PKT_LEN 172 /* 12-byte header + 160 bytes of PCMU */

/* One packet of a 20 ms PCMU stream: ts and arrival follow seq unless a test says otherwise. */
static enum dp_rtpstats_verdict feed(struct dp_rtpstats *s, uint32_t ssrc, uint16_t seq)
{
	uint32_t ts = (uint32_t)seq * 160;

	return dp_rtpstats_update(s, ssrc, seq, ts, PKT_LEN, ts + 1000, (uint64_t)seq * 20000000);
}

static void get(const struct dp_rtpstats *s, struct dp_rtpstats_report *r)
{
	dp_rtpstats_get(s, r);
}

static void test_probation(void **state)
{
	struct dp_rtpstats s = {0};
	struct dp_rtpstats_report r;

	/* A.1: MIN_SEQUENTIAL = 2, the first packet only arms probation */
	assert_int_equal(feed(&s, SSRC_A, 10), DP_RTPSTATS_PROBATION);
	get(&s, &r);
	assert_false(r.valid);
	assert_int_equal(r.expected, 0);
	assert_int_equal(r.packets, 1);
	/* not sequential: probation restarts from this one */
	assert_int_equal(feed(&s, SSRC_A, 12), DP_RTPSTATS_PROBATION);
	assert_int_equal(feed(&s, SSRC_A, 13), DP_RTPSTATS_IN_ORDER);
	get(&s, &r);
	assert_true(r.valid);
	assert_int_equal(r.ext_max_seq, 13);
	assert_int_equal(r.expected, 1);
	assert_int_equal(r.received, 1);
	assert_int_equal(r.lost, 0);
	assert_int_equal(r.packets, 3);
	assert_int_equal(r.bytes, 3 * PKT_LEN);

	/* probation across the wrap: A.1's int "max_seq + 1" would never match 0 */
	dp_rtpstats_reset(&s);
	assert_int_equal(feed(&s, SSRC_A, 65535), DP_RTPSTATS_PROBATION);
	assert_int_equal(feed(&s, SSRC_A, 0), DP_RTPSTATS_IN_ORDER);
	get(&s, &r);
	assert_int_equal(r.ext_max_seq, 0);
	assert_int_equal(r.expected, 1);
}

static void test_loss_across_wrap(void **state)
{
	struct dp_rtpstats s = {0};
	struct dp_rtpstats_report r;
	/* 65530 arms probation, 65531 starts counting; 65534, 2 and 3 never arrive */
	const uint16_t seqs[] = {65530, 65531, 65532, 65533, 65535, 0, 1, 4, 5, 6, 7, 8, 9};

	for (unsigned i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		feed(&s, SSRC_A, seqs[i]);
	get(&s, &r);
	/* extended max = 1 cycle (65536) + 9; expected = 65545 - 65531 + 1 = 15; received 12 */
	assert_int_equal(s.cycles, 65536);
	assert_int_equal(r.ext_max_seq, 65545);
	assert_int_equal(r.expected, 15);
	assert_int_equal(r.received, 12);
	assert_int_equal(r.lost, 3);
	/* A.3: 3 lost of 15 expected in the first interval: (3 << 8) / 15 = 51 */
	assert_int_equal(r.fraction_lost, 51);
	assert_int_equal(r.out_of_order, 0);
	assert_int_equal(r.duplicates, 0);

	/* a new interval: 10..19 arrive complete, so nothing lost in it */
	dp_rtpstats_mark(&s);
	for (uint16_t q = 10; q < 20; q++)
		feed(&s, SSRC_A, q);
	get(&s, &r);
	assert_int_equal(r.fraction_lost, 0);
	assert_int_equal(r.lost, 3);
	/* and one where 2 of 4 go missing: (2 << 8) / 4 = 128 */
	dp_rtpstats_mark(&s);
	feed(&s, SSRC_A, 21);
	feed(&s, SSRC_A, 23);
	get(&s, &r);
	assert_int_equal(r.fraction_lost, 128);
	assert_int_equal(r.lost, 5);
	assert_int_equal(r.lost_total, 5);
	assert_int_equal(r.expected_total, r.expected);
	assert_true(dp_rtpstats_loss_pct(&r) > 100.0 * 5 / 29 - 1e-9);
	assert_true(dp_rtpstats_loss_pct(&r) < 100.0 * 5 / 29 + 1e-9);
}

static void test_big_gap_is_loss(void **state)
{
	struct dp_rtpstats s = {0};
	struct dp_rtpstats_report r;

	feed(&s, SSRC_A, 100);
	feed(&s, SSRC_A, 101);
	/* 2999 ahead is still "in order, with permissible gap" (MAX_DROPOUT = 3000) */
	assert_int_equal(feed(&s, SSRC_A, 101 + 2999), DP_RTPSTATS_IN_ORDER);
	get(&s, &r);
	assert_int_equal(r.expected, 3000);
	assert_int_equal(r.lost, 2998);
	assert_int_equal(s.seen[0], 1); /* the window moved past everything it knew */
	assert_int_equal(s.seen[1], 0);
}

static void test_reordering(void **state)
{
	struct dp_rtpstats s = {0};
	struct dp_rtpstats_report r;
	const uint16_t seqs[] = {99, 100, 101, 102, 103, 104, 106, 107, 105, 108, 109, 110};

	for (unsigned i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		enum dp_rtpstats_verdict want = DP_RTPSTATS_IN_ORDER;

		if (i == 0)
			want = DP_RTPSTATS_PROBATION;
		else if (seqs[i] == 105)
			want = DP_RTPSTATS_LATE;
		assert_int_equal(feed(&s, SSRC_A, seqs[i]), want);
		if (i == 7) {
			/* between 107 and the late 105, 105 counts as lost */
			get(&s, &r);
			assert_int_equal(r.lost, 1);
		}
	}
	get(&s, &r);
	assert_int_equal(r.out_of_order, 1);
	assert_int_equal(r.duplicates, 0);
	assert_int_equal(r.ext_max_seq, 110);
	assert_int_equal(r.expected, 11);
	assert_int_equal(r.lost, 0);

	/* a packet across the wrap that arrives late keeps the cycle count right */
	dp_rtpstats_reset(&s);
	feed(&s, SSRC_A, 65533);
	feed(&s, SSRC_A, 65534);
	feed(&s, SSRC_A, 0);
	feed(&s, SSRC_A, 1);
	assert_int_equal(feed(&s, SSRC_A, 65535), DP_RTPSTATS_LATE);
	get(&s, &r);
	assert_int_equal(r.ext_max_seq, 65537);
	assert_int_equal(r.expected, 4);
	assert_int_equal(r.lost, 0);
}

static void test_duplicates(void **state)
{
	struct dp_rtpstats s = {0};
	struct dp_rtpstats_report r;

	for (uint16_t q = 1000; q <= 1010; q++)
		feed(&s, SSRC_A, q);
	/* a copy of the highest, then of an older one */
	assert_int_equal(feed(&s, SSRC_A, 1010), DP_RTPSTATS_DUPLICATE);
	assert_int_equal(feed(&s, SSRC_A, 1005), DP_RTPSTATS_DUPLICATE);
	get(&s, &r);
	assert_int_equal(r.duplicates, 2);
	assert_int_equal(r.out_of_order, 0);
	/* A.3: duplicates count as received, so loss goes negative; the interval says 0 */
	assert_int_equal(r.expected, 10);
	assert_int_equal(r.received, 12);
	assert_int_equal(r.lost, -2);
	assert_int_equal(r.fraction_lost, 0);
	assert_true(dp_rtpstats_loss_pct(&r) == 0.0);

	/* in the window's second word: 1020 skipped, 90 more packets, then it and a copy */
	for (uint16_t q = 1011; q <= 1110; q++)
		if (q != 1020)
			feed(&s, SSRC_A, q);
	assert_int_equal(feed(&s, SSRC_A, 1020), DP_RTPSTATS_LATE);
	assert_int_equal(feed(&s, SSRC_A, 1020), DP_RTPSTATS_DUPLICATE);
	assert_int_equal(feed(&s, SSRC_A, 1030), DP_RTPSTATS_DUPLICATE);
	get(&s, &r);
	assert_int_equal(r.out_of_order, 1);
	assert_int_equal(r.duplicates, 4);
	assert_int_equal(r.lost, -4);
}

static void test_ssrc_change(void **state)
{
	struct dp_rtpstats s = {0};
	struct dp_rtpstats_report r;

	/* A: 1000 arms, 1001..1010 counted with 1004 and 1007 lost: expected 10, lost 2 */
	for (uint16_t q = 1000; q <= 1010; q++)
		if (q != 1004 && q != 1007)
			feed(&s, SSRC_A, q);
	get(&s, &r);
	assert_int_equal(r.lost, 2);
	assert_int_equal(r.ssrc, SSRC_A);

	/* B takes over with unrelated numbers: back to probation, A's loss kept in the totals */
	assert_int_equal(feed(&s, SSRC_B, 40000), DP_RTPSTATS_PROBATION);
	get(&s, &r);
	assert_int_equal(r.ssrc, SSRC_B);
	assert_int_equal(r.ssrc_changes, 1);
	assert_false(r.valid);
	assert_int_equal(r.lost, 0);
	assert_int_equal(r.expected_total, 10);
	assert_int_equal(r.lost_total, 2);
	assert_int_equal(s.jitter_q4, 0);

	for (uint16_t q = 40001; q <= 40020; q++)
		if (q != 40010)
			feed(&s, SSRC_B, q);
	get(&s, &r);
	assert_true(r.valid);
	assert_int_equal(r.expected, 20);
	assert_int_equal(r.lost, 1);
	assert_int_equal(r.expected_total, 30);
	assert_int_equal(r.lost_total, 3);
	assert_int_equal(r.packets, 9 + 20);

	/* back to A: a new source again (its old state is gone), a second change counted */
	assert_int_equal(feed(&s, SSRC_A, 1011), DP_RTPSTATS_PROBATION);
	get(&s, &r);
	assert_int_equal(r.ssrc_changes, 2);
	assert_int_equal(r.expected_total, 30);
	assert_int_equal(r.lost_total, 3);
}

static void test_restart_after_jump(void **state)
{
	struct dp_rtpstats s = {0};
	struct dp_rtpstats_report r;

	for (uint16_t q = 100; q <= 110; q++)
		feed(&s, SSRC_A, q);
	/* one stray packet far ahead is held, not counted, and the stream goes on */
	assert_int_equal(feed(&s, SSRC_A, 30000), DP_RTPSTATS_JUMP);
	assert_int_equal(feed(&s, SSRC_A, 111), DP_RTPSTATS_IN_ORDER);
	get(&s, &r);
	assert_int_equal(r.expected, 11);
	assert_int_equal(r.lost, 0);
	assert_int_equal(r.seq_resets, 0);

	/* two sequential packets after a jump: the sender restarted, A.1 re-syncs */
	assert_int_equal(feed(&s, SSRC_A, 50000), DP_RTPSTATS_JUMP);
	assert_int_equal(feed(&s, SSRC_A, 50001), DP_RTPSTATS_IN_ORDER);
	get(&s, &r);
	assert_int_equal(r.seq_resets, 1);
	assert_int_equal(r.ext_max_seq, 50001);
	assert_int_equal(r.expected, 1);
	assert_int_equal(r.received, 1);
	assert_int_equal(r.expected_total, 12);
	assert_int_equal(r.lost_total, 0);
	/* a step back of MAX_MISORDER or more is a jump too (A.1: udelta <= 65536 - 100);
	 * up to 99 back is reordering */
	assert_int_equal(feed(&s, SSRC_A, 50001 - 101), DP_RTPSTATS_JUMP);
	assert_int_equal(feed(&s, SSRC_A, 50001 - 99), DP_RTPSTATS_LATE);
}

/*
 * RFC 3550 A.8 by hand, PCMU (8 kHz, 160 units per 20 ms packet), arrivals in clock units.
 * The first packet only arms probation; the second is the first counted one and gives the
 * first transit. Then, with J scaled by 16 and J += |D| - ((J + 8) >> 4):
 *
 *	ts	arrival	transit	|D|	J (x16)				J >> 4
 *	0	1000	1000	-	0 (first transit)		0
 *	160	1160	1000	0	0 + 0 - (8 >> 4 = 0) = 0	0
 *	320	1340	1020	20	0 + 20 - (8 >> 4 = 0) = 20	1
 *	480	1480	1000	20	20 + 20 - (28 >> 4 = 1) = 39	2
 *	640	1700	1060	60	39 + 60 - (47 >> 4 = 2) = 97	6
 *	800	1800	1000	60	97 + 60 - (105 >> 4 = 6) = 151	9
 *	960	1960	1000	0	151 + 0 - (159 >> 4 = 9) = 142	8
 *
 * (The floating-point A.8 gives 0, 0, 1.25, 2.42, 6.02, 9.39, 8.81.)
 */
static void test_jitter_table(void **state)
{
	static const struct {
		uint32_t ts, arrival, j_q4;
	} rows[] = {
		{0, 1000, 0},
		{160, 1160, 0},
		{320, 1340, 20},
		{480, 1480, 39},
		{640, 1700, 97},
		{800, 1800, 151},
		{960, 1960, 142},
	};
	struct dp_rtpstats s = {0};
	struct dp_rtpstats_report r;

	dp_rtpstats_update(&s, SSRC_A, 4, (uint32_t)-160, PKT_LEN, 840, 0);
	assert_int_equal(s.jitter_q4, 0);
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		dp_rtpstats_update(
			&s, SSRC_A, (uint16_t)(5 + i), rows[i].ts, PKT_LEN, rows[i].arrival, 0);
		assert_int_equal(s.jitter_q4, rows[i].j_q4);
	}
	get(&s, &r);
	assert_int_equal(r.jitter, 8);
	assert_int_equal(r.jitter_max, 9);
	/* 142 / 16 units at 8000 Hz = 1.109375 ms; max 151 / 16 = 1.1796875 ms */
	assert_true(dp_rtpstats_jitter_ms(&s, 8000) == 1.109375);
	assert_true(dp_rtpstats_jitter_max_ms(&s, 8000) == 1.1796875);
	assert_true(dp_rtpstats_jitter_ms(&s, 0) == 0.0);
	assert_int_equal(dp_rtpstats_units_to_us(8, 8000), 1000);
	assert_int_equal(dp_rtpstats_units_to_us(35, 48000), 729);

	/* a copy of the last packet, arriving 500 units later, leaves J alone */
	dp_rtpstats_update(&s, SSRC_A, 11, 960, PKT_LEN, 2460, 0);
	assert_int_equal(s.jitter_q4, 142);
	assert_int_equal(s.duplicates, 1);
}

/* Transit times and both clocks wrap modulo 2^32: a steady stream shows no jitter across it. */
static void test_jitter_wraps(void **state)
{
	struct dp_rtpstats s = {0};
	uint32_t ts = 0xffffff00u, arrival = 0xfffffff0u;

	for (uint16_t q = 0; q < 10; q++, ts += 160, arrival += 160)
		dp_rtpstats_update(&s, SSRC_A, q, ts, PKT_LEN, arrival, 0);
	assert_int_equal(s.jitter_q4, 0);
	/* early by 40 units: |D| = 40, negative D handled */
	dp_rtpstats_update(&s, SSRC_A, 10, ts, PKT_LEN, arrival - 40, 0);
	assert_int_equal(s.jitter_q4, 40);
}

/* A timestamp jump without SSRC change is clamped, so J (x16) cannot leave 32 bits. */
static void test_jitter_clamp(void **state)
{
	struct dp_rtpstats s = {0};
	uint32_t ts = 0;

	dp_rtpstats_update(&s, SSRC_A, 0, 0, PKT_LEN, 0, 0);
	dp_rtpstats_update(&s, SSRC_A, 1, 160, PKT_LEN, 160, 0);
	for (uint16_t q = 2; q < 2000; q++) {
		ts += 0x80000000u; /* the worst step there is, every packet */
		dp_rtpstats_update(&s, SSRC_A, q, ts, PKT_LEN, 0, 0);
		assert_true(s.jitter_q4 <= 16u * DP_RTPSTATS_JITTER_STEP_MAX + 16);
	}
	assert_true(s.jitter_q4 > 15u * DP_RTPSTATS_JITTER_STEP_MAX);
}

static void test_ns_to_clock(void **state)
{
	static const uint64_t ns[] = {0, 1, 124999, 125000, 20000000, 1000000000, 1999999999,
		86400ull * 1000000000 + 3, 1ull << 50, UINT64_MAX};
	static const uint32_t rates[] = {8000, 16000, 48000, 90000};

	assert_int_equal(dp_rtpstats_ns_to_clock(20000000, 8000), 160);
	assert_int_equal(dp_rtpstats_ns_to_clock(1000000000, 8000), 8000);
	assert_int_equal(dp_rtpstats_ns_to_clock(124999, 8000), 0);
	assert_int_equal(dp_rtpstats_ns_to_clock(125000, 8000), 1);
	/* exact against 128-bit arithmetic, modulo 2^32 */
	for (unsigned i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		for (unsigned j = 0; j < sizeof(rates) / sizeof(rates[0]); j++) {
			unsigned __int128 x = (unsigned __int128)ns[i] * rates[j] / 1000000000u;

			assert_int_equal(dp_rtpstats_ns_to_clock(ns[i], rates[j]), (uint32_t)x);
		}
}

/* The stats fed from a real header through the dp_rtp.h accessors. */
static void test_from_header(void **state)
{
	uint8_t pkt[PKT_LEN] = {
		0x80, 0x00, 0x12, 0x34, 0x00, 0x01, 0xe2, 0x40, 0xde, 0xad, 0xbe, 0xef};
	struct dp_rtpstats s = {0};
	size_t plen;

	assert_int_equal(dp_rtp_validate(pkt, sizeof(pkt), &plen), DP_RTP_HDR_LEN);
	assert_int_equal(plen, 160);
	for (int i = 0; i < 3; i++) {
		dp_rtpstats_update(&s, dp_rtp_ssrc(pkt), dp_rtp_seq(pkt), dp_rtp_ts(pkt),
			sizeof(pkt), dp_rtpstats_ns_to_clock(20000000ull * i, 8000),
			20000000ull * i);
		dp_rtp_wr16(pkt + 2, dp_rtp_seq(pkt) + 1);
		dp_rtp_wr32(pkt + 4, dp_rtp_ts(pkt) + 160);
	}
	assert_int_equal(s.ssrc, 0xdeadbeef);
	assert_int_equal(s.max_seq, 0x1236);
	assert_int_equal(s.received, 2);
	assert_int_equal(s.jitter_q4, 0);
	assert_int_equal(s.last_ns, 40000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probation),
		cmocka_unit_test(test_loss_across_wrap),
		cmocka_unit_test(test_big_gap_is_loss),
		cmocka_unit_test(test_reordering),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_ssrc_change),
		cmocka_unit_test(test_restart_after_jump),
		cmocka_unit_test(test_jitter_table),
		cmocka_unit_test(test_jitter_wraps),
		cmocka_unit_test(test_jitter_clamp),
		cmocka_unit_test(test_ns_to_clock),
		cmocka_unit_test(test_from_header),
	};

	return cmocka_run_group_tests_name("dp_rtpstats", tests, NULL, NULL);
}
