/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 4733 DTMF generation and detection, plain C (the rules are in dp_dtmf.h). Called by the
 * lcores once per 20 ms per digit string played and once per telephone-event packet received:
 * no allocation, no clock, bounded loops.
 */
#include "dp_dtmf.h"

#include <errno.h>
#include <string.h>

#include "tg_msg.h"

/* ---- generation ---- */

int dp_dtmf_gen_init(struct dp_dtmf_gen *g, const char *digits, size_t n, unsigned duration_ms,
	unsigned gap_ms, unsigned volume, unsigned pt, uint32_t clock_rate)
{
	uint64_t units, n_pkt;

	memset(g, 0, sizeof(*g));
	g->next_ns = UINT64_MAX;
	if (!digits || n == 0 || n > DP_DTMF_DIGITS_MAX || pt == 0 || pt > 127)
		return -EINVAL;
	for (size_t k = 0; k < n; k++) {
		const int ev = tg_dtmf_event(digits[k]);

		if (ev < 0)
			return -EINVAL;
		g->events[k] = (uint8_t)ev;
	}
	duration_ms = duration_ms ? duration_ms : DP_DTMF_DEFAULT_DURATION_MS;
	gap_ms = gap_ms ? gap_ms : DP_DTMF_DEFAULT_GAP_MS;
	volume = volume ? volume : DP_DTMF_DEFAULT_VOLUME;
	clock_rate = clock_rate ? clock_rate : 8000;
	/* the duration field is 16 bits: longer digits would need RFC 4733 §2.5.1.3 segments */
	units = (uint64_t)duration_ms * clock_rate / 1000;
	/* and an event's packets are counted in 16 bits (n_pkt, g->i), its last end copy's index
	 * K + 1 included: at clock rates up to 50 Hz 65535 units last longer than 65534 packets */
	n_pkt = ((uint64_t)duration_ms * 1000 * 1000 + DP_DTMF_PKT_NS - 1) / DP_DTMF_PKT_NS;
	if (units == 0 || units > UINT16_MAX || n_pkt + DP_DTMF_END_COPIES - 2 > UINT16_MAX ||
		gap_ms > DP_DTMF_GAP_MAX_MS || volume > 63)
		return -EINVAL;
	g->n_events = (uint8_t)n;
	g->dur_ns = (uint64_t)duration_ms * 1000 * 1000;
	g->gap_ns = (uint64_t)gap_ms * 1000 * 1000;
	g->dur_units = (uint16_t)units;
	g->n_pkt = (uint16_t)n_pkt;
	g->clock_rate = clock_rate;
	g->volume = (uint8_t)volume;
	g->pt = (uint8_t)pt;
	return 0;
}

void dp_dtmf_gen_start(struct dp_dtmf_gen *g, uint64_t now_ns)
{
	g->cur = 0;
	g->i = 0;
	g->t0 = now_ns;
	g->next_ns = now_ns;
}

/* From one event's start to the next one's: the gap after its duration, but not before its
 * last end copy is a packet interval old. */
static uint64_t event_step_ns(const struct dp_dtmf_gen *g)
{
	const uint64_t after_ends = ((uint64_t)g->n_pkt + DP_DTMF_END_COPIES - 1) * DP_DTMF_PKT_NS;

	return g->dur_ns + g->gap_ns > after_ends ? g->dur_ns + g->gap_ns : after_ends;
}

uint64_t dp_dtmf_gen_length_ns(const struct dp_dtmf_gen *g)
{
	if (!g->n_events)
		return 0;
	return (uint64_t)(g->n_events - 1) * event_step_ns(g) +
	       ((uint64_t)g->n_pkt + DP_DTMF_END_COPIES - 2) * DP_DTMF_PKT_NS;
}

bool dp_dtmf_gen_next(struct dp_dtmf_gen *g, uint64_t now_ns, struct dp_dtmf_pkt *p)
{
	const unsigned k = g->n_pkt; /* packet k - 1 is the first with the end bit */
	const unsigned last = k + DP_DTMF_END_COPIES - 2;
	unsigned i;

	if (g->next_ns > now_ns || g->cur >= g->n_events)
		return false;
	/* late: of the updates already due, only the newest goes (it says what they would) */
	while (g->i >= 1 && g->i + 2u < k &&
		g->t0 + (uint64_t)(g->i + 1) * DP_DTMF_PKT_NS <= now_ns)
		g->i++;
	i = g->i++;
	p->t0 = g->t0;
	p->due_ns = g->t0 + (uint64_t)i * DP_DTMF_PKT_NS;
	p->event = g->events[g->cur];
	p->marker = i == 0;
	p->end = i + 1 >= k;
	p->last = i == last;
	if (p->end) {
		p->duration = g->dur_units;
	} else {
		const uint64_t u =
			(uint64_t)(i + 1) * g->clock_rate / (1000000000 / DP_DTMF_PKT_NS);

		p->duration = (uint16_t)(u < g->dur_units ? u : g->dur_units);
	}
	if (!p->last) {
		g->next_ns = g->t0 + (uint64_t)g->i * DP_DTMF_PKT_NS;
	} else if (++g->cur == g->n_events) {
		g->next_ns = UINT64_MAX;
	} else {
		g->t0 += event_step_ns(g);
		g->i = 0;
		g->next_ns = g->t0;
	}
	return true;
}

void dp_dtmf_gen_write(struct dp_dtmf_gen *g, const struct dp_dtmf_pkt *p, struct dp_rtp_tx *t,
	bool cfg_rewrite, uint32_t cfg_ssrc, uint64_t rnd, uint8_t *out)
{
	uint32_t ssrc;
	uint16_t seq;

	if (!t->owned) {
		/* from now on the dataplane keeps this stream: on the SSRC the remote knows */
		t->own_ssrc = t->have_last ? t->last_ssrc : (uint32_t)rnd;
		t->owned = 1;
	}
	ssrc = dp_rtp_tx_ssrc(t, cfg_rewrite, cfg_ssrc);
	if (p->marker) {
		g->ts = dp_rtp_tx_ts_at(t, g->clock_rate, p->t0, (uint32_t)(rnd >> 32));
		t->playing = 1;
	}
	seq = t->have_last ? (uint16_t)(t->last_seq + 1) : (uint16_t)(rnd >> 16);
	out[0] = 0x80;
	out[1] = (uint8_t)((p->marker ? 0x80 : 0) | g->pt);
	dp_rtp_wr16(out + 2, seq);
	dp_rtp_wr32(out + 4, g->ts);
	dp_rtp_wr32(out + 8, ssrc);
	out[12] = p->event;
	out[13] = (uint8_t)((p->end ? 0x80 : 0) | (g->volume & 0x3f));
	dp_rtp_wr16(out + 14, p->duration);
	/* the stream stands at the event's timestamp, at the event's start: relayed RTP after it
	 * continues from there plus the time since (a new mapping) */
	t->last_seq = seq;
	t->last_ts = g->ts;
	t->last_ns = p->t0;
	t->last_ssrc = ssrc;
	t->have_last = 1;
	t->mapped = 0;
	if (p->last)
		t->playing = 0;
}

/* ---- detection ---- */

static void digit_of(const struct dp_dtmf_det *d, uint8_t end, struct dp_dtmf_digit *out)
{
	out->ts = d->ts;
	out->duration = d->duration;
	out->event = d->event;
	out->volume = d->volume;
	out->end = end;
	out->digit = tg_dtmf_digit(d->event);
}

int dp_dtmf_det_packet(struct dp_dtmf_det *d, const uint8_t *rtp, size_t len, uint64_t now_ns,
	struct dp_dtmf_digit out[2])
{
	size_t plen;
	const int off = dp_rtp_validate(rtp, len, &plen);
	const uint8_t *e;
	uint32_t ts, ssrc;
	uint16_t dur;
	uint8_t ev, vol, end;
	bool same;
	int n = 0;

	if (off < 0 || plen < 4)
		return -EINVAL;
	e = rtp + off;
	ev = e[0];
	end = e[1] >> 7;
	vol = e[1] & 0x3f;
	dur = dp_rtp_rd16(e + 2);
	if (ev > 15)
		return -EINVAL; /* not DTMF: tones, flash, or garbage */
	ts = dp_rtp_ts(rtp);
	ssrc = dp_rtp_ssrc(rtp);
	same = d->state != DP_DTMF_DET_IDLE && ssrc == d->ssrc;
	if (same && ts == d->ts) {
		/* the current event: an update, a repeat, or an end copy */
		if (ev != d->event)
			return -EINVAL;
		if (d->state == DP_DTMF_DET_DONE)
			return 0;
		if (dur > d->duration)
			d->duration = dur;
		d->volume = vol;
		d->last_ns = now_ns;
		if (!end)
			return 0;
		d->state = DP_DTMF_DET_DONE;
		digit_of(d, 1, &out[0]);
		return 1;
	}
	if (same && (int32_t)(ts - d->ts) < 0)
		return 0; /* a late packet of an older event: that digit was dealt with */
	/* a new event; the previous one, if unreported, lost its end */
	if (d->state == DP_DTMF_DET_ON)
		digit_of(d, 0, &out[n++]);
	d->ssrc = ssrc;
	d->ts = ts;
	d->event = ev;
	d->volume = vol;
	d->duration = dur;
	d->last_ns = now_ns;
	d->state = DP_DTMF_DET_ON;
	if (end) {
		d->state = DP_DTMF_DET_DONE;
		digit_of(d, 1, &out[n++]);
	}
	return n;
}

int dp_dtmf_det_expire(struct dp_dtmf_det *d, uint64_t now_ns, struct dp_dtmf_digit *out)
{
	if (d->state != DP_DTMF_DET_ON || now_ns < d->last_ns ||
		now_ns - d->last_ns < DP_DTMF_DET_TIMEOUT_NS)
		return 0;
	d->state = DP_DTMF_DET_DONE;
	digit_of(d, 0, out);
	return 1;
}

bool dp_dtmf_det_allow(struct dp_dtmf_det *d, uint64_t now_ns)
{
	const uint8_t w = (uint8_t)(now_ns >> 30);

	if (w != d->win_id) {
		d->win_id = w;
		d->win_n = 0;
	}
	if (d->win_n >= DP_DTMF_DET_RATE)
		return false;
	d->win_n++;
	return true;
}

uint32_t dp_dtmf_units_to_ms(uint32_t units, uint32_t clock_rate)
{
	return (uint32_t)((uint64_t)units * 1000 / (clock_rate ? clock_rate : 8000));
}
