/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for RFC 4733 DTMF (dp_dtmf.c). The first byte picks the half.
 *
 * Even: the detector. The rest is a stream of records, each a time step and then a packet the
 * remote sent on the telephone-event PT, as dp_dtmf_rx() passes it (the whole RTP packet, in a
 * heap buffer of exactly its length so that ASan sees any read past it), or a bare time step; the
 * lcore's watch (dp_dtmf_det_expire) runs before packets when the record asks and after every
 * time step. A built packet takes its SSRC, timestamp, sequence number, PT and marker, event,
 * E/R/volume, duration, CSRC count, extension, padding, version and payload length from the
 * record; a raw one is bytes as they come. Promises checked: a packet refused (-EINVAL) is
 * exactly one the header rules refuse and changes nothing; otherwise 0..2 digits, a lost end
 * (end = 0) always first and for the event the detector held, an end report only for a packet
 * with the end bit, of its timestamp and event, never twice in a row for one event while the
 * source stays; an expiry only after DP_DTMF_DET_TIMEOUT_NS of silence of an unreported event;
 * the rate limit never lets more than DP_DTMF_DET_RATE reports through in one window.
 *
 * Odd: the generator. dp_dtmf_gen_init() with digits, duration, gap, volume, PT and clock rate
 * from the input (the documented bounds must be enforced), then stepped as play() does over time
 * steps from the input, every packet written with dp_dtmf_gen_write() onto an RTP stream whose
 * prior state comes from the input, relayed audio rewritten onto it between events as the relay
 * does. Promises checked per event: the marker on its first packet only, packet i due at
 * t0 + 20i ms saying min((i + 1) * 20 ms, D), a duration that never decreases, the end bit from
 * the packet reaching D on, exactly three end packets, the third flagged last, one timestamp and
 * t0 for all its packets, sequence numbers stepping by one across everything that leaves, events
 * in the string's order each starting 'gap' after D but not before its predecessor's last end
 * copy is 20 ms old, a late caller given at most the first packet, one update and the end copies
 * of each event, the last packet at dp_dtmf_gen_length_ns(). Then the packets that the input does
 * not drop go to a detector, which must report exactly the events one of whose packets arrived, in
 * order, with their timestamps, and end = 1 with duration D for every event none of whose packets
 * was lost.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_dtmf.h"
#include "dp_rtp.h"
#include "dp_rtptx.h"
#include "tg_msg.h"

#define MAX_RECORDS 4096

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* Big-endian (each read its own statement: the operands of | are unsequenced) */
static uint16_t u16(struct in *in)
{
	const unsigned hi = u8(in);

	return (uint16_t)(hi << 8 | u8(in));
}

static uint32_t u32(struct in *in)
{
	const uint32_t hi = u16(in);

	return hi << 16 | u16(in);
}

static uint64_t u64(struct in *in)
{
	const uint64_t hi = u32(in);

	return hi << 32 | u32(in);
}

/* A time step: 1 us to 8.5 s, in four scales. */
static uint64_t step_ns(uint8_t dt, unsigned scale)
{
	static const unsigned shift[4] = {10, 15, 20, 25};

	return (uint64_t)dt << shift[scale & 3];
}

static void check_digit(const struct dp_dtmf_digit *dg)
{
	if (dg->event > 15 || dg->end > 1 || dg->digit != tg_dtmf_digit(dg->event) ||
		dg->digit == '?' || tg_dtmf_event(dg->digit) != dg->event)
		abort();
}

/* ---- detector ---- */

struct det_run {
	struct dp_dtmf_det d;
	uint64_t now;
	uint32_t clock_rate;
	/* the rate limit, counted on the whole window number */
	uint64_t win;
	unsigned win_n;
	/* the last event reported (forgotten when the source changes) */
	bool have_rep;
	uint32_t rep_ssrc, rep_ts;
};

static void post(struct det_run *r, const struct dp_dtmf_digit *dg, uint32_t ssrc)
{
	const uint64_t w = r->now >> 30;

	check_digit(dg);
	if (r->have_rep && dg->ts == r->rep_ts && ssrc == r->rep_ssrc)
		abort(); /* the same event reported twice in a row from one source */
	r->have_rep = true;
	r->rep_ts = dg->ts;
	r->rep_ssrc = ssrc;
	if (w != r->win) {
		r->win = w;
		r->win_n = 0;
	}
	if (dp_dtmf_det_allow(&r->d, r->now)) {
		if (++r->win_n > DP_DTMF_DET_RATE)
			abort();
	}
	if (dp_dtmf_units_to_ms(dg->duration, r->clock_rate) > (uint32_t)UINT16_MAX * 1000)
		abort();
}

static void expire(struct det_run *r)
{
	const struct dp_dtmf_det before = r->d;
	struct dp_dtmf_digit dg;
	const int n = dp_dtmf_det_expire(&r->d, r->now, &dg);

	if (n == 0) {
		if (memcmp(&before, &r->d, sizeof(before)) != 0)
			abort();
		/* nothing left waiting past its time */
		if (before.state == DP_DTMF_DET_ON && r->now >= before.last_ns &&
			r->now - before.last_ns >= DP_DTMF_DET_TIMEOUT_NS)
			abort();
		return;
	}
	if (n != 1 || before.state != DP_DTMF_DET_ON || r->now < before.last_ns ||
		r->now - before.last_ns < DP_DTMF_DET_TIMEOUT_NS ||
		r->d.state != DP_DTMF_DET_DONE || dg.end != 0 || dg.ts != before.ts ||
		dg.event != before.event || dg.duration != before.duration)
		abort();
	post(r, &dg, before.ssrc);
}

static void det_packet(struct det_run *r, const uint8_t *pkt, size_t len)
{
	const struct dp_dtmf_det before = r->d;
	struct dp_dtmf_digit out[2];
	size_t plen = 0;
	const int off = dp_rtp_validate(pkt, len, &plen);
	const bool hdr_ok = off >= 0 && plen >= 4 && pkt[off] <= 15;
	const bool same_src =
		hdr_ok && before.state != DP_DTMF_DET_IDLE && dp_rtp_ssrc(pkt) == before.ssrc;
	const bool same_ev = same_src && dp_rtp_ts(pkt) == before.ts;
	const bool refuse = !hdr_ok || (same_ev && pkt[off] != before.event);
	const int n = dp_dtmf_det_packet(&r->d, pkt, len, r->now, out);

	if (n == -EINVAL) {
		if (!refuse || memcmp(&before, &r->d, sizeof(before)) != 0)
			abort();
		return;
	}
	if (refuse || n < 0 || n > 2)
		abort();

	const uint8_t *e = pkt + off;
	const uint32_t ts = dp_rtp_ts(pkt), ssrc = dp_rtp_ssrc(pkt);
	const uint8_t end = e[1] >> 7;
	const uint16_t dur = dp_rtp_rd16(e + 2);
	const bool late = same_src && !same_ev && (int32_t)(ts - before.ts) < 0;

	if (r->d.state == DP_DTMF_DET_IDLE || r->d.watched != before.watched ||
		r->d.win_id != before.win_id || r->d.win_n != before.win_n)
		abort();
	if (same_ev || late) {
		/* the current event goes on, or an older one's packet is ignored */
		if (r->d.ts != before.ts || r->d.ssrc != before.ssrc ||
			r->d.event != before.event || r->d.duration < before.duration)
			abort();
		if (late || before.state == DP_DTMF_DET_DONE) {
			if (n != 0 || memcmp(&before, &r->d, sizeof(before)) != 0)
				abort();
			return;
		}
		/* ON: the longest duration, reported at the first end packet */
		if (r->d.duration < dur || r->d.last_ns != r->now || n != (end ? 1 : 0) ||
			r->d.state != (end ? DP_DTMF_DET_DONE : DP_DTMF_DET_ON))
			abort();
		if (n && (out[0].end != 1 || out[0].ts != ts || out[0].event != e[0] ||
				 out[0].duration != r->d.duration))
			abort();
	} else {
		/* a new event: the old one first if it was not reported */
		const int lost = before.state == DP_DTMF_DET_ON;

		if (r->d.ts != ts || r->d.ssrc != ssrc || r->d.event != e[0] ||
			r->d.duration != dur || r->d.last_ns != r->now ||
			n != lost + (end ? 1 : 0) ||
			r->d.state != (end ? DP_DTMF_DET_DONE : DP_DTMF_DET_ON))
			abort();
		if (lost &&
			(out[0].end != 0 || out[0].ts != before.ts ||
				out[0].event != before.event || out[0].duration != before.duration))
			abort();
		if (end && (out[n - 1].end != 1 || out[n - 1].ts != ts ||
				   out[n - 1].event != e[0] || out[n - 1].duration != dur))
			abort();
		if (lost)
			post(r, &out[0], before.ssrc);
		if (before.state != DP_DTMF_DET_IDLE && ssrc != before.ssrc)
			r->have_rep = false; /* a new source may reuse any timestamp */
		if (end)
			post(r, &out[n - 1], ssrc);
		return;
	}
	for (int i = 0; i < n; i++)
		post(r, &out[i], ssrc);
}

/* A packet from a 12-byte record: the RTP header and telephone-event payload it describes. */
static size_t build(uint8_t *b, const uint8_t *rec, uint32_t ssrc, uint32_t ts, bool loose)
{
	static const uint8_t plens[8] = {4, 0, 1, 2, 3, 5, 8, 16};
	const uint8_t shape = rec[11];
	const unsigned cc = shape & 3, ext_words = rec[3] & 3;
	const unsigned pad = (shape & 8) ? 1 + ((rec[3] >> 4) & 3) : 0;
	const unsigned plen = plens[shape >> 5 & 7];
	uint8_t ev[4] = {loose ? rec[6] : (uint8_t)(rec[6] & 15), rec[7], rec[8], rec[9]};
	size_t n = 12;

	b[0] = (uint8_t)(((shape & 16) ? (rec[10] & 0xc0) : 0x80) | (pad ? 0x20 : 0) |
			 ((shape & 4) ? 0x10 : 0) | cc);
	b[1] = rec[5];
	dp_rtp_wr16(b + 2, (uint16_t)(rec[4] * 257u));
	dp_rtp_wr32(b + 4, ts);
	dp_rtp_wr32(b + 8, ssrc);
	memset(b + n, 0xcc, 4 * cc);
	n += 4 * cc;
	if (shape & 4) {
		dp_rtp_wr16(b + n, 0xbede);
		dp_rtp_wr16(b + n + 2, (uint16_t)ext_words);
		memset(b + n + 4, 0xee, 4 * ext_words);
		n += 4 + 4 * ext_words;
	}
	for (unsigned i = 0; i < plen; i++)
		b[n + i] = i < 4 ? ev[i] : 0;
	n += plen;
	if (pad) {
		memset(b + n, 0, pad);
		n += pad;
		/* a count past the payload when the record says so */
		b[n - 1] = (uint8_t)((rec[10] & 1) ? rec[10] : pad);
	}
	return n;
}

static void run_detector(struct in *in)
{
	static const uint32_t ssrcs[3] = {0x11223344, 0x55667788, 0x99aabbcc};
	struct det_run r;
	uint32_t ts = u32(in);

	memset(&r, 0, sizeof(r));
	r.clock_rate = u8(in) * 1000u;
	r.now = (uint64_t)u32(in) << 16;
	r.win = r.now >> 30;
	for (unsigned k = 0; k < MAX_RECORDS && in->n; k++) {
		const uint8_t op = u8(in);
		uint8_t *pkt;
		size_t len;

		r.now += step_ns(u8(in), op >> 2);
		if ((op & 3) == 3) {
			expire(&r);
			continue;
		}
		if (op & 0x80)
			expire(&r);
		if ((op & 3) == 2) {
			/* raw bytes */
			len = u8(in);
			if (len > in->n)
				len = in->n;
			pkt = malloc(len ? len : 1);
			if (!pkt)
				abort();
			memcpy(pkt, in->p, len);
			in->p += len;
			in->n -= len;
		} else {
			/* header, 3 CSRCs, extension of 3 words, 16 bytes of payload, padding */
			uint8_t rec[12] = {0}, b[12 + 12 + 16 + 16 + 4];
			uint32_t ssrc;

			for (unsigned i = 0; i < sizeof(rec); i++)
				rec[i] = u8(in);
			ssrc = (op & 0x30) == 0x30 ? rec[0] * 0x01010101u : ssrcs[(op >> 4) & 3];
			ts += (uint32_t)(int32_t)(int16_t)dp_rtp_rd16(rec + 1) *
			      ((op & 0x40) ? 65536u : 1u);
			len = build(b, rec, ssrc, ts, op & 1);
			pkt = malloc(len);
			if (!pkt)
				abort();
			memcpy(pkt, b, len);
		}
		det_packet(&r, pkt, len);
		free(pkt);
		expire(&r);
	}
	/* the watch's last look, much later */
	r.now += 10 * DP_DTMF_DET_TIMEOUT_NS;
	expire(&r);
	if (r.d.state == DP_DTMF_DET_ON)
		abort();
}

/* ---- generator ---- */

struct gen_ev {
	uint64_t t0, last_due;
	uint32_t ts;
	uint16_t duration;
	unsigned pkts, ends, delivered;
	bool lost, end_delivered, done;
};

struct gen_run {
	struct dp_dtmf_gen g;
	struct dp_rtp_tx t;
	struct dp_dtmf_det d;
	uint64_t start, now, rnd;
	uint32_t cfg_ssrc;
	bool cfg_rewrite;
	bool roundtrip; /* timestamps of consecutive events stay within 2^31 of each other */
	char digits[DP_DTMF_DIGITS_MAX];
	struct gen_ev ev[DP_DTMF_DIGITS_MAX];
	unsigned n_ev;	/* events begun */
	unsigned n_rep; /* the detector's reports so far */
	uint64_t last_due;
	bool have_pkt;
	/* relayed audio from the far leg */
	uint32_t a_ssrc, a_ts0;
	uint16_t a_seq;
};

static void gen_report(struct gen_run *r, const struct dp_dtmf_digit *dg)
{
	const struct gen_ev *e;

	check_digit(dg);
	if (!r->roundtrip)
		return;
	/* the next event one of whose packets arrived */
	while (r->n_rep < r->n_ev && !r->ev[r->n_rep].delivered)
		r->n_rep++;
	if (r->n_rep >= r->n_ev)
		abort(); /* a report of nothing sent */
	e = &r->ev[r->n_rep++];
	if (dg->ts != e->ts || dg->event != tg_dtmf_event(r->digits[e - r->ev]) ||
		(dg->end && (!e->end_delivered || dg->duration != r->g.dur_units)) ||
		(!dg->end && !e->lost))
		abort();
}

static void gen_deliver(struct gen_run *r, const uint8_t *pkt)
{
	struct dp_dtmf_digit out[2];
	const int n = dp_dtmf_det_packet(&r->d, pkt, DP_DTMF_PKT_LEN, r->now, out);

	if (n < 0 || n > 2)
		abort();
	for (int i = 0; i < n; i++)
		gen_report(r, &out[i]);
}

static void gen_expire(struct gen_run *r)
{
	struct dp_dtmf_digit dg;

	if (dp_dtmf_det_expire(&r->d, r->now, &dg))
		gen_report(r, &dg);
}

/* One packet out of dp_dtmf_gen_next(): the rules of its event, then onto the stream. */
static void gen_packet(struct gen_run *r, const struct dp_dtmf_pkt *p, bool drop)
{
	struct dp_dtmf_gen *g = &r->g;
	const struct dp_rtp_tx before = r->t;
	const uint8_t cur = g->cur;
	struct gen_ev *e;
	uint8_t pkt[DP_DTMF_PKT_LEN];
	/* K: packet K - 1 is the first whose (i + 1) * 20 ms reaches D */
	const uint64_t k_pkt = (g->dur_ns + DP_DTMF_PKT_NS - 1) / DP_DTMF_PKT_NS;
	uint64_t i;

	if (p->due_ns > r->now || p->due_ns < p->t0 || (p->due_ns - p->t0) % DP_DTMF_PKT_NS ||
		(r->have_pkt && p->due_ns < r->last_due))
		abort();
	i = (p->due_ns - p->t0) / DP_DTMF_PKT_NS;
	if (p->marker) {
		/* a new event: the previous one complete, the next one 'gap' after its D but not
		 * before its last end copy is a packet interval old */
		if (i != 0 || r->n_ev >= g->n_events)
			abort();
		if (r->n_ev == 0 && p->t0 != r->start)
			abort();
		if (r->n_ev) {
			const struct gen_ev *prev = &r->ev[r->n_ev - 1];
			const uint64_t a = prev->t0 + g->dur_ns + g->gap_ns;
			const uint64_t b = prev->last_due + DP_DTMF_PKT_NS;

			if (!prev->done || p->t0 != (a > b ? a : b))
				abort();
		}
		e = &r->ev[r->n_ev++];
		memset(e, 0, sizeof(*e));
		e->t0 = p->t0;
	} else {
		if (!r->n_ev || i == 0)
			abort();
		e = &r->ev[r->n_ev - 1];
		if (e->done || p->t0 != e->t0 || p->duration < e->duration ||
			(e->ends && !p->end) || p->due_ns <= e->last_due)
			abort();
	}
	/* (past an event's last packet the generator stands at the next event) */
	if (p->event != tg_dtmf_event(r->digits[r->n_ev - 1]) || cur != r->n_ev - (p->last ? 0 : 1))
		abort();
	/* packet i says min((i + 1) * 20 ms, D); the end bit from the one reaching D */
	if (((i + 1) * DP_DTMF_PKT_NS >= g->dur_ns) != (p->end || e->ends) ||
		(p->end && p->duration != g->dur_units) ||
		(!p->end && p->duration != (i + 1) * g->clock_rate / 50))
		abort();
	if (p->end) {
		if (++e->ends > DP_DTMF_END_COPIES || p->last != (e->ends == DP_DTMF_END_COPIES) ||
			i != k_pkt - 1 + e->ends - 1)
			abort();
	} else if (p->last) {
		abort();
	}
	e->duration = p->duration;
	e->last_due = p->due_ns;
	e->pkts++;
	r->last_due = p->due_ns;
	r->have_pkt = true;

	dp_dtmf_gen_write(g, p, &r->t, r->cfg_rewrite, r->cfg_ssrc, r->rnd, pkt);
	/* on the wire: what the packet says, continuing the stream */
	if (dp_rtp_validate(pkt, sizeof(pkt), NULL) != DP_RTP_HDR_LEN || pkt[0] != 0x80 ||
		dp_rtp_marker(pkt) != p->marker || dp_rtp_pt(pkt) != g->pt || pkt[12] != p->event ||
		(pkt[13] >> 7) != p->end || (pkt[13] & 0x40) || (pkt[13] & 0x3f) != g->volume ||
		dp_rtp_rd16(pkt + 14) != p->duration || !r->t.owned || r->t.playing != !p->last ||
		!r->t.have_last ||
		dp_rtp_ssrc(pkt) != (r->cfg_rewrite ? r->cfg_ssrc : r->t.own_ssrc) ||
		(before.have_last && dp_rtp_seq(pkt) != (uint16_t)(before.last_seq + 1)) ||
		(before.owned && r->t.own_ssrc != before.own_ssrc))
		abort();
	if (p->marker) {
		e->ts = dp_rtp_ts(pkt);
		/* a timestamp of its own (ahead of the last one, as long as they stay close) */
		if (r->n_ev > 1 && r->roundtrip && (int32_t)(e->ts - e[-1].ts) <= 0)
			abort();
	} else if (dp_rtp_ts(pkt) != e->ts) {
		abort();
	}
	if (p->last) {
		e->done = true;
		if (e->pkts < DP_DTMF_END_COPIES || e->pkts > k_pkt + DP_DTMF_END_COPIES - 1)
			abort();
		if (r->n_ev == g->n_events && p->due_ns - r->start != dp_dtmf_gen_length_ns(g))
			abort();
	}
	if (drop) {
		e->lost = true;
	} else {
		e->delivered++;
		if (p->end)
			e->end_delivered = true;
		gen_deliver(r, pkt);
	}
}

/* What play() does at now: packets until none is due (it goes again while one is). */
static void gen_poll(struct gen_run *r, uint8_t loss)
{
	struct dp_dtmf_pkt p;
	unsigned sent = 0, in_ev = 0, ev = r->n_ev;

	while (dp_dtmf_gen_next(&r->g, r->now, &p)) {
		/* bounded: per event at most its first packet, one update and the end copies */
		if (++sent > r->g.n_events * (2u + DP_DTMF_END_COPIES))
			abort();
		gen_packet(r, &p, loss & 1);
		if (r->n_ev != ev) {
			ev = r->n_ev;
			in_ev = 0;
		}
		if (++in_ev > 2u + DP_DTMF_END_COPIES)
			abort();
		loss = (uint8_t)(loss >> 1 | loss << 7);
	}
	if (!dp_dtmf_gen_done(&r->g) && r->g.next_ns <= r->now)
		abort();
	if (r->t.playing && dp_dtmf_gen_done(&r->g))
		abort();
}

/* A packet of the far leg's audio relayed toward the remote (the stream is owned, or rewritten
 * by configuration): its timestamps follow the wall clock. */
static void gen_audio(struct gen_run *r, bool new_src)
{
	uint8_t b[12 + 20];
	const struct dp_rtp_tx before = r->t;
	const uint32_t out_ssrc = dp_rtp_tx_ssrc(&r->t, r->cfg_rewrite, r->cfg_ssrc);

	if (new_src) {
		r->a_ssrc = r->a_ssrc * 2654435761u + 1;
		r->a_seq = (uint16_t)(r->a_seq * 31u + 7);
	}
	memset(b, 0, sizeof(b));
	b[0] = 0x80;
	dp_rtp_wr16(b + 2, r->a_seq++);
	dp_rtp_wr32(b + 4, r->a_ts0 + dp_rtp_tx_ticks(r->start, r->now, r->g.clock_rate));
	dp_rtp_wr32(b + 8, r->a_ssrc);
	dp_rtp_tx_rewrite(&r->t, r->g.clock_rate, out_ssrc, b, r->now);
	if (before.have_last && dp_rtp_seq(b) != (uint16_t)(before.last_seq + 1))
		abort();
}

static void run_generator(struct in *in)
{
	static const char digit_set[] = "0123456789*#ABCDabcd";
	static const uint32_t rates[8] = {0, 8000, 16000, 48000, 90000, 1, 50, 1000};
	struct gen_run *r = calloc(1, sizeof(*r));
	const uint8_t flags = u8(in);
	const size_t n = u8(in) & 63;
	unsigned duration_ms, gap_ms, volume, pt;
	uint32_t clock_rate;
	bool bad = false;
	int rc;

	if (!r)
		abort();
	for (size_t k = 0; k < n; k++) {
		const uint8_t c = u8(in);
		const char ch = (c & 0x80) ? (char)(c & 0x7f) : digit_set[c % 20];

		if (k < DP_DTMF_DIGITS_MAX)
			r->digits[k] = ch;
		bad |= k < DP_DTMF_DIGITS_MAX && tg_dtmf_event(ch) < 0;
	}
	duration_ms = (flags & 1) ? u32(in) : u16(in) % 9000;
	gap_ms = (flags & 2) ? u16(in) : u16(in) % 2000;
	volume = u8(in);
	if (!(flags & 4))
		volume &= 63;
	pt = u8(in);
	clock_rate = (flags & 8) ? u32(in) : rates[u8(in) & 7];
	r->cfg_rewrite = flags & 0x10;
	r->cfg_ssrc = u32(in);
	r->rnd = u64(in);
	if (flags & 0x20) {
		r->t.have_last = 1;
		r->t.last_seq = u16(in);
		r->t.last_ts = u32(in);
		r->t.last_ssrc = u32(in);
		r->t.owned = (flags & 0x40) != 0;
		r->t.own_ssrc = r->t.last_ssrc ^ u8(in);
	}
	r->a_ssrc = u32(in);
	r->a_ts0 = u32(in);
	r->a_seq = u16(in);
	r->start = ((uint64_t)u32(in) << 16) + DP_DTMF_DET_TIMEOUT_NS;
	if (r->t.have_last) {
		const uint64_t ago = (uint64_t)u16(in) << 20;

		r->t.last_ns = r->start > ago ? r->start - ago : 0;
	}

	rc = dp_dtmf_gen_init(&r->g, n > DP_DTMF_DIGITS_MAX ? NULL : r->digits, n, duration_ms,
		gap_ms, volume, pt, clock_rate);
	{
		const uint32_t rate = clock_rate ? clock_rate : 8000;
		const uint64_t units = (uint64_t)(duration_ms ? duration_ms : 100) * rate / 1000;

		bad |= n == 0 || n > DP_DTMF_DIGITS_MAX || pt == 0 || pt > 127 || units == 0 ||
		       units > UINT16_MAX || gap_ms > DP_DTMF_GAP_MAX_MS || volume > 63;
		if (rc != 0 && rc != -EINVAL)
			abort();
		if (bad && rc == 0)
			abort();
		/* what the control plane can ask (16-bit milliseconds) within the bounds works */
		if (!bad && duration_ms <= UINT16_MAX && rc != 0)
			abort();
	}
	if (rc) {
		if (!dp_dtmf_gen_done(&r->g) || dp_dtmf_gen_length_ns(&r->g) != 0)
			abort();
		free(r);
		return;
	}
	/* consecutive events' timestamps (and audio in between) stay well inside 2^31 units */
	r->roundtrip = (r->g.dur_ns + r->g.gap_ns + 4 * DP_DTMF_PKT_NS) / 1000 * r->g.n_events *
			       r->g.clock_rate / 1000000 <
		       (1u << 30);
	r->now = r->start;
	if ((flags & 0x80) && (r->cfg_rewrite || r->t.owned))
		gen_audio(r, true);
	dp_dtmf_gen_start(&r->g, r->start);
	if (dp_dtmf_gen_done(&r->g) || r->g.next_ns != r->start)
		abort();
	for (unsigned k = 0; k < MAX_RECORDS && in->n >= 3 && !dp_dtmf_gen_done(&r->g); k++) {
		const uint8_t op = u8(in), loss = u8(in);

		r->now += step_ns(u8(in), op);
		gen_poll(r, (op & 4) ? loss : 0);
		if ((op & 8) && !r->t.playing && (r->cfg_rewrite || r->t.owned))
			gen_audio(r, op & 16);
		gen_expire(r);
	}
	/* the rest, late, at once: lossless */
	if (!dp_dtmf_gen_done(&r->g)) {
		r->now = r->start + dp_dtmf_gen_length_ns(&r->g) + ((uint64_t)u8(in) << 20);
		gen_poll(r, 0);
		gen_expire(r);
	}
	if (!dp_dtmf_gen_done(&r->g) || r->n_ev != r->g.n_events || r->t.playing ||
		!r->ev[r->n_ev - 1].done)
		abort();
	r->now += DP_DTMF_DET_TIMEOUT_NS;
	gen_expire(r);
	if (r->roundtrip) {
		/* every event something of which arrived was reported */
		while (r->n_rep < r->n_ev && !r->ev[r->n_rep].delivered)
			r->n_rep++;
		if (r->n_rep != r->n_ev)
			abort();
	}
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};

	if (!size)
		return 0;
	if (u8(&in) & 1)
		run_generator(&in);
	else
		run_detector(&in);
	return 0;
}
