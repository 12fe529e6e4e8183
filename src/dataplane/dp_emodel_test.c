/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The E-model at known points: the G.711 ceiling (R 93.2, MOS 4.41), Ie,eff at 1/5/20 % loss
 * for G.711 with and without PLC and G.729A (hand-computed below), BurstR, G.107 Idd on both
 * sides of mT = 100 ms, the simplified Id on both sides of 177.3 ms, and the MOS mapping.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dp_emodel.h"

#define EPS 1e-4

static void near(double got, double want, double eps)
{
	if (!(fabs(got - want) <= eps))
		fail_msg("got %.9f, want %.9f (+/- %g)", got, want, eps);
}

static void test_codec_table(void **state)
{
	const struct dp_emodel_codec *c;

	c = dp_emodel_codec_find("PCMU", true);
	assert_non_null(c);
	near(c->ie, 0.0, 0);
	near(c->bpl, 25.1, 0);
	c = dp_emodel_codec_find("pcma", false);
	assert_non_null(c);
	near(c->bpl, 4.3, 0);
	/* G.729 conceals by itself: the same row whatever 'plc' says */
	c = dp_emodel_codec_find("G729", false);
	assert_non_null(c);
	near(c->ie, 11.0, 0);
	near(c->bpl, 19.0, 0);
	assert_ptr_equal(c, dp_emodel_codec_find("g729", true));
	/* wideband codecs have no narrowband G.113 value */
	assert_null(dp_emodel_codec_find("G722", true));
	assert_null(dp_emodel_codec_find("opus", true));
	assert_null(dp_emodel_codec_find("", true));
	assert_null(dp_emodel_codec_find(NULL, true));
}

static void test_perfect_g711(void **state)
{
	struct dp_emodel_in in = {.ie = 0, .bpl = 25.1, .burst_r = 1};
	double r = dp_emodel_r(&in);

	near(r, 93.2, 1e-12);
	/* 1 + 0.035 * 93.2 + 93.2 * 33.2 * 6.8 * 7e-6 = 1 + 3.262 + 0.147286 = 4.409286 */
	near(dp_emodel_mos(r), 4.409286, 1e-6);
	near(dp_emodel_mos(93.2), 4.41, 0.005);
	/* the same with the simplified delay model */
	in.delay = DP_EMODEL_DELAY_SIMPLE;
	near(dp_emodel_r(&in), 93.2, 1e-12);
}

/*
 * Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl), random loss (BurstR = 1):
 *	G.711 + PLC (Bpl 25.1):	1 %: 95/26.1 = 3.639847	 5 %: 475/30.1 = 15.780731
 *				20 %: 1900/45.1 = 42.128603
 *	G.711, no PLC (4.3):	1 %: 95/5.3 = 17.924528	 5 %: 475/9.3 = 51.075269
 *				20 %: 1900/24.3 = 78.189300
 *	G.729A (11, 19.0):	1 %: 11 + 84/20 = 15.2	 5 %: 11 + 420/24 = 28.5
 *				20 %: 11 + 1680/39 = 54.076923
 *	G.711 + PLC, BurstR 2:	5 %: 475/(2.5 + 25.1) = 17.210145
 */
static void test_ie_eff(void **state)
{
	near(dp_emodel_ie_eff(0, 25.1, 0, 1), 0.0, 1e-12);
	near(dp_emodel_ie_eff(0, 25.1, 1, 1), 3.639847, EPS);
	near(dp_emodel_ie_eff(0, 25.1, 5, 1), 15.780731, EPS);
	near(dp_emodel_ie_eff(0, 25.1, 20, 1), 42.128603, EPS);
	near(dp_emodel_ie_eff(0, 4.3, 1, 1), 17.924528, EPS);
	near(dp_emodel_ie_eff(0, 4.3, 5, 1), 51.075269, EPS);
	near(dp_emodel_ie_eff(0, 4.3, 20, 1), 78.189300, EPS);
	near(dp_emodel_ie_eff(11, 19, 1, 1), 15.2, 1e-9);
	near(dp_emodel_ie_eff(11, 19, 5, 1), 28.5, 1e-9);
	near(dp_emodel_ie_eff(11, 19, 20, 1), 54.076923, EPS);
	near(dp_emodel_ie_eff(0, 25.1, 5, 2), 17.210145, EPS);
	/* out-of-range inputs: BurstR <= 0 is random loss, loss is clamped, NaN is no loss */
	near(dp_emodel_ie_eff(0, 25.1, 5, 0), 15.780731, EPS);
	near(dp_emodel_ie_eff(0, 25.1, 250, 1), dp_emodel_ie_eff(0, 25.1, 100, 1), 1e-12);
	near(dp_emodel_ie_eff(11, 19, -3, 1), 11.0, 1e-12);
	near(dp_emodel_ie_eff(11, 19, NAN, 1), 11.0, 1e-12);
	/* all lost: Ie,eff = Ie + (95 - Ie) * 100 / (100 + Bpl) */
	near(dp_emodel_ie_eff(0, 25.1, 100, 1), 9500.0 / 125.1, EPS);
}

/*
 * G.107 Idd, X = log2(Ta / 100):
 *	Ta <= 100: 0
 *	Ta = 200: X = 1, 25 * (2^(1/6) - 3 * (1 + 3^-6)^(1/6) + 2)
 *		= 25 * (1.122462 - 3.000685 + 2) = 3.044414
 *	Ta = 400: X = 2, 25 * (65^(1/6) - 3 * (1 + (2/3)^6)^(1/6) + 2)
 *		= 25 * (2.005175 - 3.042371 + 2) = 24.070089
 *	Ta = 150: 0.163531
 */
static void test_idd(void **state)
{
	near(dp_emodel_idd(0), 0.0, 0);
	near(dp_emodel_idd(50), 0.0, 0);
	near(dp_emodel_idd(100), 0.0, 0);
	near(dp_emodel_idd(150), 0.163531, EPS);
	near(dp_emodel_idd(200), 3.044414, EPS);
	near(dp_emodel_idd(400), 24.070089, EPS);
	near(dp_emodel_idd(-5), 0.0, 0);
	near(dp_emodel_idd(NAN), 0.0, 0);
	/* grows with Ta past 100 ms */
	for (double t = 101; t < 1000; t += 7)
		assert_true(dp_emodel_idd(t + 7) > dp_emodel_idd(t));
}

/* Id = 0.024 Ta + 0.11 (Ta - 177.3) H(Ta - 177.3): 100 ms -> 2.4, 177.3 -> 4.2552,
 * 200 -> 4.8 + 0.11 * 22.7 = 7.297, 400 -> 9.6 + 0.11 * 222.7 = 34.097 */
static void test_id_simple(void **state)
{
	near(dp_emodel_id_simple(0), 0.0, 0);
	near(dp_emodel_id_simple(100), 2.4, 1e-9);
	near(dp_emodel_id_simple(177.3), 4.2552, 1e-9);
	near(dp_emodel_id_simple(200), 7.297, 1e-9);
	near(dp_emodel_id_simple(400), 34.097, 1e-9);
}

static void test_r_combined(void **state)
{
	/* G.711 + PLC, 1 % random loss, 200 ms: 93.2 - 3.044414 - 3.639847 = 86.515739 */
	struct dp_emodel_in in = {.ie = 0, .bpl = 25.1, .ppl = 1, .burst_r = 1, .ta_ms = 200};

	near(dp_emodel_r(&in), 86.515739, EPS);
	near(dp_emodel_mos(dp_emodel_r(&in)), 4.244584, EPS);
	/* simplified delay: 93.2 - 7.297 - 3.639847 = 82.263153 */
	in.delay = DP_EMODEL_DELAY_SIMPLE;
	near(dp_emodel_r(&in), 82.263153, EPS);
	/* G.729A, 5 %, no delay: 93.2 - 28.5 = 64.7, MOS 3.339641 */
	in = (struct dp_emodel_in){.ie = 11, .bpl = 19, .ppl = 5, .burst_r = 1};
	near(dp_emodel_r(&in), 64.7, 1e-9);
	near(dp_emodel_mos(64.7), 3.339641, EPS);
	/* the advantage factor adds straight to R */
	in.a = 5;
	near(dp_emodel_r(&in), 69.7, 1e-9);
}

static void test_mos(void **state)
{
	near(dp_emodel_mos(-10), 1.0, 0);
	near(dp_emodel_mos(0), 1.0, 0);
	near(dp_emodel_mos(NAN), 1.0, 0);
	/* 1 + 1.75 + 50 * -10 * 50 * 7e-6 = 2.575 */
	near(dp_emodel_mos(50), 2.575, 1e-9);
	near(dp_emodel_mos(100), 4.5, 1e-12);
	near(dp_emodel_mos(120), 4.5, 0);
	/* the polynomial dips to 0.989 for 0 < R < 6.5: held at 1, the scale's floor */
	near(dp_emodel_mos(1.5), 1.0, 0);
	near(dp_emodel_mos(6.4), 1.0, 0);
	assert_true(dp_emodel_mos(6.6) > 1.0);
	/* monotonic over the whole range */
	for (double r = 0; r < 100; r += 0.5)
		assert_true(dp_emodel_mos(r + 0.5) >= dp_emodel_mos(r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_table),
		cmocka_unit_test(test_perfect_g711),
		cmocka_unit_test(test_ie_eff),
		cmocka_unit_test(test_idd),
		cmocka_unit_test(test_id_simple),
		cmocka_unit_test(test_r_combined),
		cmocka_unit_test(test_mos),
	};

	return cmocka_run_group_tests_name("dp_emodel", tests, NULL, NULL);
}
