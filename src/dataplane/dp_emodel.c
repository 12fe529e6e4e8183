/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The E-model arithmetic (ITU-T G.107) and the codec table (ITU-T G.113 Appendix I). See
 * dp_emodel.h for what is modelled and what is held at the defaults.
 */
#include <math.h>
#include <stddef.h>
#include <strings.h>

#include "dp_emodel.h"

/*
 * G.113 Appendix I, provisional planning values. Ie from Table I.1, Bpl from Table I.3 (random
 * loss). G.711's Bpl depends on concealment (G.711 Appendix I PLC: 25.1; none: 4.3); the other
 * codecs conceal by themselves. The G.729 row is G.729A + VAD, what deployments run.
 */
static const struct dp_emodel_codec dp_emodel_codecs[] = {
	{.name = "PCMU", .plc = true, .ie = 0.0, .bpl = 25.1},
	{.name = "PCMU", .plc = false, .ie = 0.0, .bpl = 4.3},
	{.name = "PCMA", .plc = true, .ie = 0.0, .bpl = 25.1},
	{.name = "PCMA", .plc = false, .ie = 0.0, .bpl = 4.3},
	{.name = "G729", .plc = true, .ie = 11.0, .bpl = 19.0},
	{.name = "G723", .plc = true, .ie = 15.0, .bpl = 16.1},
	{.name = "GSM-EFR", .plc = true, .ie = 5.0, .bpl = 10.0},
};

#define DP_EMODEL_NCODECS (sizeof(dp_emodel_codecs) / sizeof(dp_emodel_codecs[0]))

const struct dp_emodel_codec *dp_emodel_codec_find(const char *name, bool plc)
{
	const struct dp_emodel_codec *any = NULL;

	if (!name)
		return NULL;
	for (size_t i = 0; i < DP_EMODEL_NCODECS; i++) {
		const struct dp_emodel_codec *c = &dp_emodel_codecs[i];

		if (strcasecmp(c->name, name))
			continue;
		if (c->plc == plc)
			return c;
		any = c; /* a codec with one row conceals by itself: 'plc' does not apply */
	}
	return any;
}

double dp_emodel_ie_eff(double ie, double bpl, double ppl, double burst_r)
{
	if (!(ppl > 0.0)) /* also NaN */
		return ie;
	if (ppl > 100.0)
		ppl = 100.0;
	if (!(burst_r > 0.0))
		burst_r = 1.0;
	return ie + (95.0 - ie) * ppl / (ppl / burst_r + bpl);
}

double dp_emodel_idd(double ta_ms)
{
	double x;

	if (!(ta_ms > 100.0))
		return 0.0;
	x = log10(ta_ms / 100.0) / log10(2.0);
	return 25.0 * (pow(1.0 + pow(x, 6.0), 1.0 / 6.0) -
			      3.0 * pow(1.0 + pow(x / 3.0, 6.0), 1.0 / 6.0) + 2.0);
}

double dp_emodel_id_simple(double ta_ms)
{
	if (!(ta_ms > 0.0))
		return 0.0;
	return 0.024 * ta_ms + (ta_ms > 177.3 ? 0.11 * (ta_ms - 177.3) : 0.0);
}

double dp_emodel_r(const struct dp_emodel_in *in)
{
	double id = in->delay == DP_EMODEL_DELAY_SIMPLE ? dp_emodel_id_simple(in->ta_ms)
							: dp_emodel_idd(in->ta_ms);

	return DP_EMODEL_R_DEFAULT - id - dp_emodel_ie_eff(in->ie, in->bpl, in->ppl, in->burst_r) +
	       in->a;
}

double dp_emodel_mos(double r)
{
	double mos;

	if (!(r > 0.0)) /* also NaN: the worst score, never a garbage one */
		return 1.0;
	if (r > 100.0)
		return 4.5;
	mos = 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6;
	/* the polynomial dips to 0.989 for 0 < R < 6.5: keep to the scale's floor */
	return mos < 1.0 ? 1.0 : mos;
}
