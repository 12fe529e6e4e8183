/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The report side of the RTP receive statistics: expected, cumulative and interval loss
 * (RFC 3550 A.3), jitter in milliseconds, whole-direction loss for the E-model. Called once
 * per report, never per packet; the per-packet part is inline in dp_rtpstats.h.
 */
#include <string.h>

#include "dp_rtpstats.h"

void dp_rtpstats_reset(struct dp_rtpstats *s)
{
	memset(s, 0, sizeof(*s));
}

static uint32_t dp_rtpstats_expected(const struct dp_rtpstats *s)
{
	return s->cycles + s->max_seq - s->base_seq + 1;
}

void dp_rtpstats_get(const struct dp_rtpstats *s, struct dp_rtpstats_report *r)
{
	uint32_t exp_int, rcv_int;
	int64_t lost_int;

	memset(r, 0, sizeof(*r));
	r->ssrc = s->ssrc;
	r->valid = s->valid;
	r->jitter_max = s->jitter_max_q4 >> 4;
	r->packets = s->packets;
	r->bytes = s->bytes;
	r->out_of_order = s->out_of_order;
	r->duplicates = s->duplicates;
	r->last_ns = s->last_ns;
	r->ssrc_changes = s->ssrc_changes;
	r->seq_resets = s->seq_resets;
	r->expected_total = s->prev_expected;
	r->lost_total = s->prev_lost;
	if (!s->valid)
		return;

	r->ext_max_seq = s->cycles + s->max_seq;
	r->expected = dp_rtpstats_expected(s);
	r->received = s->received;
	r->lost = (int64_t)r->expected - s->received;
	r->jitter = s->jitter_q4 >> 4;
	r->expected_total += r->expected;
	r->lost_total += r->lost;

	/* A.3: loss over the interval; duplicates can make it negative, reported as 0 */
	exp_int = r->expected - s->expected_prior;
	rcv_int = s->received - s->received_prior;
	lost_int = (int64_t)exp_int - rcv_int;

	if (exp_int && lost_int > 0) {
		/* < 256 in practice (a new highest needs a received packet); clamp anyway */
		uint64_t f = ((uint64_t)lost_int << 8) / exp_int;

		r->fraction_lost = f > 255 ? 255 : (uint8_t)f;
	}
}

void dp_rtpstats_mark(struct dp_rtpstats *s)
{
	if (!s->valid)
		return;
	s->expected_prior = dp_rtpstats_expected(s);
	s->received_prior = s->received;
}

double dp_rtpstats_jitter_ms(const struct dp_rtpstats *s, uint32_t clock_rate)
{
	/* from J itself, not J >> 4: the scaled value keeps four more bits */
	return clock_rate ? s->jitter_q4 * 1000.0 / 16.0 / clock_rate : 0.0;
}

double dp_rtpstats_jitter_max_ms(const struct dp_rtpstats *s, uint32_t clock_rate)
{
	return clock_rate ? s->jitter_max_q4 * 1000.0 / 16.0 / clock_rate : 0.0;
}

uint64_t dp_rtpstats_units_to_us(uint32_t units, uint32_t clock_rate)
{
	return clock_rate ? (uint64_t)units * 1000000u / clock_rate : 0;
}

double dp_rtpstats_loss_pct(const struct dp_rtpstats_report *r)
{
	double pct;

	if (r->expected_total == 0 || r->lost_total <= 0)
		return 0.0;
	pct = 100.0 * (double)r->lost_total / (double)r->expected_total;
	return pct > 100.0 ? 100.0 : pct;
}
