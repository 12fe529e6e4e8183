/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ITU-T G.107 E-model (narrowband), reduced to what a media relay measures: codec, packet loss
 * (with BurstR) and one-way mouth-to-ear delay, everything else at the G.107 default values.
 * With those defaults Ro - Is - Id(T = 0) = 93.2 (Ro ~94.77, Is ~1.41, Id ~0.15: Idle alone,
 * Idte and Idd are 0 at T = 0), so
 *	R = 93.2 - Id(Ta) - Ie,eff + A
 * where Id(Ta) is how the delay impairment grows with Ta: by default G.107's full Idd formula,
 * with the echo terms kept at their T = 0 values (echo assumed controlled, as on a relayed VoIP
 * path with cancellers at the ends); optionally the Cole & Rosenbluth simplification, which
 * folds a default echo into a line. MOS comes from R by G.107 Annex B. Floating point: called
 * once per report, never per packet. Pure functions, any thread.
 */
#ifndef TG_DP_EMODEL_H
#define TG_DP_EMODEL_H

#include <stdbool.h>

/* Ro - Is - Id at T = 0 with every G.107 default: the R of a perfect G.711 call. */
#define DP_EMODEL_R_DEFAULT 93.2

/* Codec constants: Ie (equipment impairment) and Bpl (packet-loss robustness). */
struct dp_emodel_codec {
	const char *name; /* SDP encoding name (a=rtpmap), compared case-insensitively */
	bool plc;	  /* the row assumes packet-loss concealment at the receiver */
	double ie;
	double bpl;
};

/*
 * The row for an SDP encoding name: PCMU/PCMA (G.711, Bpl with or without PLC as 'plc' says),
 * G729 (the G.729A + VAD row), G723 (G.723.1 6.3 kbit/s + VAD), GSM-EFR; codecs with their own
 * concealment ignore 'plc'. Values: ITU-T G.113 Appendix I (Tables I.1 and I.3), the
 * provisional planning values. NULL for codecs without a narrowband G.113 value: G.722 and
 * Opus are wideband and belong to the wideband E-model (G.107.1, R up to 129, Ie,wb from G.113
 * Appendix IV), which is not implemented; a caller may still pass its own Ie/Bpl.
 */
const struct dp_emodel_codec *dp_emodel_codec_find(const char *name, bool plc);

/* How Id grows with the one-way delay Ta. */
enum dp_emodel_delay {
	/* G.107 Idd: 0 up to mT = 100 ms, then 25{(1+X^6)^(1/6) - 3(1+(X/3)^6)^(1/6) + 2},
	 * X = lg(Ta/100)/lg 2 (sT = 1, the default) */
	DP_EMODEL_DELAY_G107 = 0,
	/* Cole & Rosenbluth's fit of the whole Id (echo included) at G.107 defaults:
	 * 0.024 Ta + 0.11 (Ta - 177.3) H(Ta - 177.3) */
	DP_EMODEL_DELAY_SIMPLE,
};

struct dp_emodel_in {
	double ie;	/* codec impairment, from dp_emodel_codec_find() or the caller */
	double bpl;	/* packet-loss robustness */
	double ppl;	/* packet loss, percent, clamped to 0..100 */
	double burst_r; /* BurstR: 1 = random loss, > 1 bursty; <= 0 is taken as 1 */
	double ta_ms;	/* one-way mouth-to-ear delay, ms; < 0 taken as 0 */
	double a;	/* advantage factor A, 0 for wired access */
	enum dp_emodel_delay delay;
};

/* G.107 Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl). Ppl in percent. */
double dp_emodel_ie_eff(double ie, double bpl, double ppl, double burst_r);

/* G.107 Idd for the absolute delay Ta in ms (defaults mT = 100 ms, sT = 1). */
double dp_emodel_idd(double ta_ms);

/* The simplified Id (Cole & Rosenbluth, 2001) for a one-way delay in ms. */
double dp_emodel_id_simple(double ta_ms);

/* R = 93.2 - Id - Ie,eff + A. Not clamped: dp_emodel_mos() handles R < 0 and R > 100. */
double dp_emodel_r(const struct dp_emodel_in *in);

/* G.107 Annex B: 1 for R < 0, 4.5 for R > 100, else 1 + 0.035R + R(R-60)(100-R)7e-6, held at
 * 1 where that dips below it (0 < R < 6.5). */
double dp_emodel_mos(double r);

#endif
