/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 4733 DTMF in plain C (dp_dtmf.c, dp_rtptx.h), with a clock of the test's own:
 *  - generation: the whole packet sequence of "1#" (send times, timestamps, durations, marker
 *    and end bits, three end packets, sequence numbers), late callers, bounds and defaults;
 *  - the stream around it: SSRC, sequence numbers and timestamps continuous across
 *    audio -> DTMF -> audio, with and without TG_EPF_REWRITE_RTP, and from nothing;
 *  - detection: one report per digit whatever the repeats and end copies, lost ends (new
 *    event, timeout), late packets, a new SSRC, the rate limit, and hostile payloads (short,
 *    empty, event > 15, broken RTP headers, random bytes) refused without a change of state.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_dtmf.h"
#include "dp_rtp.h"
#include "dp_rtptx.h"
#include "tg_msg.h"

#define MS (1000ull * 1000)
#define T0 (1000 * MS) /* the test clock's start */
#define AUDIO_SSRC 0xa0d10a0du

/* ---- helpers ---- */

/* A generated packet as a receiver sees it. */
struct seen {
	uint64_t at;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint8_t pt;
	bool marker;
	uint8_t event;
	bool end;
	uint8_t volume;
	uint16_t duration;
	bool playing; /* the stream's hold flag right after the packet */
};

static void parse(const uint8_t *b, uint64_t at, const struct dp_rtp_tx *t, struct seen *s)
{
	assert_int_equal(b[0], 0x80);
	s->at = at;
	s->marker = b[1] & 0x80;
	s->pt = b[1] & 0x7f;
	s->seq = dp_rtp_rd16(b + 2);
	s->ts = dp_rtp_rd32(b + 4);
	s->ssrc = dp_rtp_rd32(b + 8);
	s->event = b[12];
	s->end = b[13] & 0x80;
	assert_int_equal(b[13] & 0x40, 0); /* the reserved bit */
	s->volume = b[13] & 0x3f;
	s->duration = dp_rtp_rd16(b + 14);
	s->playing = t->playing;
}

/*
 * Runs g from 'start', asking every 'step' ns until it is done (or 'until'), writing through t;
 * returns the packets seen.
 */
static unsigned run_gen(struct dp_dtmf_gen *g, struct dp_rtp_tx *t, uint64_t start, uint64_t step,
	bool cfg_rewrite, uint32_t cfg_ssrc, uint64_t rnd, struct seen *out, unsigned max)
{
	unsigned n = 0;

	dp_dtmf_gen_start(g, start);
	for (uint64_t now = start; !dp_dtmf_gen_done(g) && now < start + 60000 * MS; now += step) {
		struct dp_dtmf_pkt p;

		while (dp_dtmf_gen_next(g, now, &p)) {
			uint8_t b[DP_DTMF_PKT_LEN];

			assert_true(n < max);
			dp_dtmf_gen_write(g, &p, t, cfg_rewrite, cfg_ssrc, rnd, b);
			parse(b, now, t, &out[n++]);
		}
	}
	assert_true(dp_dtmf_gen_done(g));
	return n;
}

/* An audio packet (PCMU, 20 ms) as the far leg sends it. */
static void audio(uint8_t *b, uint32_t ssrc, uint16_t seq, uint32_t ts)
{
	memset(b, 0, 12);
	b[0] = 0x80;
	dp_rtp_wr16(b + 2, seq);
	dp_rtp_wr32(b + 4, ts);
	dp_rtp_wr32(b + 8, ssrc);
}

/* ---- digits ---- */

static void test_digit_codes(void **state)
{
	const char *all = "0123456789*#ABCD";

	for (unsigned e = 0; e < 16; e++) {
		assert_int_equal(tg_dtmf_event(all[e]), e);
		assert_int_equal(tg_dtmf_digit(e), all[e]);
	}
	assert_int_equal(tg_dtmf_event('a'), 12);
	assert_int_equal(tg_dtmf_event('d'), 15);
	assert_int_equal(tg_dtmf_event('E'), -1);
	assert_int_equal(tg_dtmf_event(' '), -1);
	assert_int_equal(tg_dtmf_event('\0'), -1);
	assert_int_equal(tg_dtmf_digit(16), '?');
	assert_int_equal(tg_dtmf_digit(255), '?');
}

/* ---- generation ---- */

static void test_gen_init_bounds(void **state)
{
	struct dp_dtmf_gen g;
	char many[DP_DTMF_DIGITS_MAX + 1];

	memset(many, '5', sizeof(many));
	assert_int_equal(dp_dtmf_gen_init(&g, "", 0, 0, 0, 0, 101, 8000), -EINVAL);
	assert_int_equal(dp_dtmf_gen_init(&g, NULL, 1, 0, 0, 0, 101, 8000), -EINVAL);
	assert_int_equal(dp_dtmf_gen_init(&g, many, sizeof(many), 0, 0, 0, 101, 8000), -EINVAL);
	assert_int_equal(dp_dtmf_gen_init(&g, many, DP_DTMF_DIGITS_MAX, 0, 0, 0, 101, 8000), 0);
	assert_int_equal(dp_dtmf_gen_init(&g, "12x", 3, 0, 0, 0, 101, 8000), -EINVAL);
	assert_int_equal(dp_dtmf_gen_init(&g, "1\0", 2, 0, 0, 0, 101, 8000), -EINVAL);
	assert_int_equal(dp_dtmf_gen_init(&g, "1", 1, 0, 0, 0, 0, 8000), -EINVAL);
	assert_int_equal(dp_dtmf_gen_init(&g, "1", 1, 0, 0, 0, 128, 8000), -EINVAL);
	assert_int_equal(dp_dtmf_gen_init(&g, "1", 1, 0, 0, 64, 101, 8000), -EINVAL);
	assert_int_equal(dp_dtmf_gen_init(&g, "1", 1, 0, 0, 63, 101, 8000), 0);
	assert_int_equal(dp_dtmf_gen_init(&g, "1", 1, 0, 10001, 0, 101, 8000), -EINVAL);
	/* the 16-bit duration field: 8191 ms at 8 kHz fits, 8192 does not; 1365 ms at 48 kHz */
	assert_int_equal(dp_dtmf_gen_init(&g, "1", 1, 8191, 0, 0, 101, 8000), 0);
	assert_int_equal(dp_dtmf_gen_init(&g, "1", 1, 8192, 0, 0, 101, 8000), -EINVAL);
	assert_int_equal(dp_dtmf_gen_init(&g, "1", 1, 1366, 0, 0, 101, 48000), -EINVAL);
	assert_int_equal(dp_dtmf_gen_init(&g, "1", 1, 1365, 0, 0, 101, 48000), 0);
	/* defaults: 100 ms, 50 ms, volume 10, 8 kHz */
	assert_int_equal(dp_dtmf_gen_init(&g, "1", 1, 0, 0, 0, 101, 0), 0);
	assert_int_equal(g.dur_units, 800);
	assert_int_equal(g.gap_ns, 50 * MS);
	assert_int_equal(g.volume, 10);
	assert_int_equal(g.clock_rate, 8000);
	assert_int_equal(g.n_pkt, 5);
	/* not started: nothing is due */
	assert_true(dp_dtmf_gen_done(&g));
}

/*
 * "1#" after audio, the defaults, asked every millisecond: each event 7 packets 20 ms apart
 * sharing the event's timestamp, durations 160..800 then 800 twice more, marker on the first,
 * end on the last three; '#' starts 150 ms after '1'; sequence numbers follow the audio's.
 */
static void test_gen_1_hash(void **state)
{
	static const uint16_t dur[7] = {160, 320, 480, 640, 800, 800, 800};
	struct dp_dtmf_gen g;
	struct dp_rtp_tx t = {0};
	struct seen s[32];
	uint8_t b[12];
	unsigned n;

	/* the audio the remote got last: seq 700, ts 56000 at T0 - 20 ms */
	audio(b, AUDIO_SSRC, 700, 56000);
	dp_rtp_tx_pass(&t, b, T0 - 20 * MS);
	assert_int_equal(dp_dtmf_gen_init(&g, "1#", 2, 0, 0, 0, 101, 8000), 0);
	assert_int_equal(dp_dtmf_gen_length_ns(&g), 270 * MS);
	n = run_gen(&g, &t, T0, MS, false, 0, 0xdeadbeefcafef00dull, s, 32);
	assert_int_equal(n, 14);
	for (unsigned i = 0; i < n; i++) {
		const unsigned j = i % 7, e = i / 7;

		assert_int_equal(s[i].at, T0 + e * 150 * MS + j * 20 * MS);
		assert_int_equal(s[i].pt, 101);
		assert_int_equal(s[i].ssrc, AUDIO_SSRC); /* the stream the remote knows */
		assert_int_equal(s[i].seq, 701 + i);
		/* the audio's timestamp plus the wall time at 8 kHz, the same for a whole event */
		assert_int_equal(s[i].ts, 56000 + 160 + e * 1200);
		assert_int_equal(s[i].event, e ? 11 : 1);
		assert_int_equal(s[i].marker, j == 0);
		assert_int_equal(s[i].end, j >= 4);
		assert_int_equal(s[i].duration, dur[j]);
		assert_int_equal(s[i].volume, 10);
		/* relayed audio is held back from an event's first packet to its last */
		assert_int_equal(s[i].playing, j != 6);
	}
	assert_true(t.owned);
	assert_int_equal(t.last_seq, 714);
}

/* Durations that are not a multiple of 20 ms, other rates and parameters. */
static void test_gen_shapes(void **state)
{
	struct dp_dtmf_gen g;
	struct dp_rtp_tx t = {0};
	struct seen s[64];
	unsigned n;

	/* 90 ms: packets at 0..60 say 20..80 ms, the one at 80 ms says 90 and ends */
	assert_int_equal(dp_dtmf_gen_init(&g, "9", 1, 90, 0, 33, 96, 8000), 0);
	n = run_gen(&g, &t, T0, MS, false, 0, 42, s, 64);
	assert_int_equal(n, 7);
	assert_int_equal(s[3].duration, 640);
	assert_true(!s[3].end);
	assert_int_equal(s[4].duration, 720);
	assert_true(s[4].end && s[5].end && s[6].end);
	assert_int_equal(s[6].at, T0 + 120 * MS);
	assert_int_equal(s[0].volume, 33);
	assert_int_equal(s[0].pt, 96);

	/* 10 ms: the first packet is already the end (marker and end), sent three times */
	assert_int_equal(dp_dtmf_gen_init(&g, "*", 1, 10, 0, 0, 101, 8000), 0);
	n = run_gen(&g, &t, T0, MS, false, 0, 42, s, 64);
	assert_int_equal(n, 3);
	assert_true(s[0].marker && s[0].end && s[0].duration == 80);
	assert_true(!s[1].marker && s[1].end && !s[2].marker && s[2].end);

	/* 16 kHz: 320 units a packet; a 5 ms gap is stretched past the end copies (60 ms) */
	assert_int_equal(dp_dtmf_gen_init(&g, "AB", 2, 40, 5, 0, 101, 16000), 0);
	n = run_gen(&g, &t, T0, MS, false, 0, 42, s, 64);
	assert_int_equal(n, 8);
	assert_int_equal(s[0].duration, 320);
	assert_int_equal(s[1].duration, 640);
	assert_true(s[1].end);
	assert_int_equal(s[4].at, T0 + 80 * MS); /* 'B' starts 20 ms after 'A''s last copy */
	assert_int_equal(s[4].ts - s[0].ts, 80 * 16);
	assert_int_equal(dp_dtmf_gen_length_ns(&g), 140 * MS);
	assert_int_equal(s[7].at, T0 + 140 * MS);

	/* a long gap: 1 s between two 100 ms digits */
	assert_int_equal(dp_dtmf_gen_init(&g, "00", 2, 100, 1000, 0, 101, 8000), 0);
	n = run_gen(&g, &t, T0, MS, false, 0, 42, s, 64);
	assert_int_equal(n, 14);
	assert_int_equal(s[7].at, T0 + 1100 * MS);
}

/* A caller that is late gets the newest of the overdue updates, and every end copy. */
static void test_gen_late(void **state)
{
	struct dp_dtmf_gen g;
	struct dp_dtmf_pkt p;

	assert_int_equal(dp_dtmf_gen_init(&g, "3", 1, 0, 0, 0, 101, 8000), 0);
	dp_dtmf_gen_start(&g, T0);
	assert_false(dp_dtmf_gen_next(&g, T0 - 1, &p));
	assert_true(dp_dtmf_gen_next(&g, T0, &p));
	assert_true(p.marker);
	assert_false(dp_dtmf_gen_next(&g, T0, &p));
	assert_int_equal(g.next_ns, T0 + 20 * MS);
	/* 75 ms on: the updates due at 20, 40 and 60 ms; only the 60 ms one goes */
	assert_true(dp_dtmf_gen_next(&g, T0 + 75 * MS, &p));
	assert_int_equal(p.due_ns, T0 + 60 * MS);
	assert_int_equal(p.duration, 640);
	assert_false(p.end);
	assert_false(dp_dtmf_gen_next(&g, T0 + 75 * MS, &p));
	/* far later: the end and its two copies, back to back, then nothing */
	for (int k = 0; k < 3; k++) {
		assert_true(dp_dtmf_gen_next(&g, T0 + 500 * MS, &p));
		assert_true(p.end);
		assert_int_equal(p.duration, 800);
		assert_int_equal(p.last, k == 2);
	}
	assert_false(dp_dtmf_gen_next(&g, T0 + 500 * MS, &p));
	assert_true(dp_dtmf_gen_done(&g));
}

/*
 * The stream the remote gets: audio passed through, a digit, audio again (now rewritten: the
 * dataplane owns the stream), a new far source, a second digit. One SSRC, sequence numbers
 * step by one, timestamps follow the wall clock.
 */
static void test_stream_audio_dtmf_audio(void **state)
{
	struct dp_dtmf_gen g;
	struct dp_rtp_tx t = {0};
	struct seen s[16];
	uint16_t prev_seq;
	uint32_t prev_ts;
	uint8_t b[12];
	uint64_t now = T0;
	unsigned n;

	/* 10 audio packets from the far leg, seq 5000.., every 20 ms: passed unchanged */
	for (int i = 0; i < 10; i++, now += 20 * MS) {
		audio(b, AUDIO_SSRC, (uint16_t)(5000 + i), 1000000u + 160u * i);
		dp_rtp_tx_pass(&t, b, now);
		assert_false(t.owned);
	}
	assert_int_equal(t.last_seq, 5009);
	/* a digit at now (20 ms after the last audio packet) */
	assert_int_equal(dp_dtmf_gen_init(&g, "5", 1, 0, 0, 0, 101, 8000), 0);
	n = run_gen(&g, &t, now, MS, false, 0, 0x1234, s, 16);
	assert_int_equal(n, 7);
	assert_int_equal(s[0].seq, 5010);
	assert_int_equal(s[0].ts, 1000000u + 160u * 9 + 160);
	assert_int_equal(s[6].seq, 5016);
	assert_int_equal(s[6].ssrc, AUDIO_SSRC);
	assert_false(t.playing);
	assert_true(t.owned);
	/* the far leg kept counting while its audio was held back: 8 packets it sent are gone;
	 * the next one, 140 ms after the event's start, continues our numbers */
	now += 140 * MS;
	audio(b, AUDIO_SSRC, 5017 + 1, 1000000u + 160u * 17);
	dp_rtp_tx_rewrite(&t, 8000, dp_rtp_tx_ssrc(&t, false, 0), b, now);
	assert_int_equal(dp_rtp_seq(b), 5017);
	assert_int_equal(dp_rtp_ts(b), s[0].ts + 140 * 8);
	assert_int_equal(dp_rtp_ssrc(b), AUDIO_SSRC);
	prev_seq = dp_rtp_seq(b);
	prev_ts = dp_rtp_ts(b);
	/* the next ones: the same offsets */
	now += 20 * MS;
	audio(b, AUDIO_SSRC, 5019, 1000000u + 160u * 18);
	dp_rtp_tx_rewrite(&t, 8000, dp_rtp_tx_ssrc(&t, false, 0), b, now);
	assert_int_equal(dp_rtp_seq(b), (uint16_t)(prev_seq + 1));
	assert_int_equal(dp_rtp_ts(b), prev_ts + 160);
	/* the far leg changes source (transfer): the remote still sees one stream */
	now += 20 * MS;
	audio(b, 0xbbbbbbbb, 42, 7);
	dp_rtp_tx_rewrite(&t, 8000, dp_rtp_tx_ssrc(&t, false, 0), b, now);
	assert_int_equal(dp_rtp_seq(b), (uint16_t)(prev_seq + 2));
	assert_int_equal(dp_rtp_ts(b), prev_ts + 320);
	assert_int_equal(dp_rtp_ssrc(b), AUDIO_SSRC);
	/* a second digit 20 ms later continues from there */
	now += 20 * MS;
	n = run_gen(&g, &t, now, MS, false, 0, 0x1234, s, 16);
	assert_int_equal(n, 7);
	assert_int_equal(s[0].seq, (uint16_t)(prev_seq + 3));
	assert_int_equal(s[0].ts, prev_ts + 480);
	assert_int_equal(s[0].ssrc, AUDIO_SSRC);
	/* the source already mapped goes on after it: the digit's numbers, not its old offsets */
	now += 140 * MS;
	audio(b, 0xbbbbbbbb, 42 + 30, 7 + 160 * 30); /* it counted on meanwhile */
	dp_rtp_tx_rewrite(&t, 8000, dp_rtp_tx_ssrc(&t, false, 0), b, now);
	assert_int_equal(dp_rtp_seq(b), (uint16_t)(s[6].seq + 1));
	assert_int_equal(dp_rtp_ts(b), s[0].ts + 140 * 8);
	assert_int_equal(dp_rtp_ssrc(b), AUDIO_SSRC);
}

/* With TG_EPF_REWRITE_RTP the configured SSRC carries audio and events alike. */
static void test_stream_rewrite_configured(void **state)
{
	struct dp_dtmf_gen g;
	struct dp_rtp_tx t = {0};
	struct seen s[16];
	uint8_t b[12];
	uint64_t now = T0;

	for (int i = 0; i < 3; i++, now += 20 * MS) {
		audio(b, AUDIO_SSRC, (uint16_t)(65534 + i), 500u + 160u * i);
		dp_rtp_tx_rewrite(&t, 8000, dp_rtp_tx_ssrc(&t, true, 0x5eed), b, now);
		assert_int_equal(dp_rtp_ssrc(b), 0x5eed);
	}
	assert_int_equal(t.last_seq, 0); /* 65534, 65535, 0: the first keeps its numbers */
	assert_int_equal(dp_dtmf_gen_init(&g, "#", 1, 0, 0, 0, 101, 8000), 0);
	assert_int_equal(run_gen(&g, &t, now, MS, true, 0x5eed, 99, s, 16), 7);
	assert_int_equal(s[0].seq, 1);
	assert_int_equal(s[0].ts, 500u + 320 + 160);
	for (int i = 0; i < 7; i++)
		assert_int_equal(s[i].ssrc, 0x5eed);
	now += 160 * MS;
	audio(b, AUDIO_SSRC, 3, 500u + 160u * 3);
	dp_rtp_tx_rewrite(&t, 8000, dp_rtp_tx_ssrc(&t, true, 0x5eed), b, now);
	assert_int_equal(dp_rtp_seq(b), 8);
	assert_int_equal(dp_rtp_ts(b), s[0].ts + 160 * 8);
	assert_int_equal(dp_rtp_ssrc(b), 0x5eed);
}

/* Nothing went toward the remote yet: SSRC, sequence number and timestamp from rnd. */
static void test_stream_from_nothing(void **state)
{
	struct dp_dtmf_gen g;
	struct dp_rtp_tx t = {0};
	struct seen s[16];
	const uint64_t rnd = 0x11223344aabbccddull;
	uint8_t b[12];

	assert_int_equal(dp_dtmf_gen_init(&g, "7", 1, 0, 0, 0, 101, 8000), 0);
	assert_int_equal(run_gen(&g, &t, T0, MS, false, 0, rnd, s, 16), 7);
	assert_int_equal(s[0].ssrc, 0xaabbccdd);
	assert_int_equal(s[0].seq, 0xaabb);
	assert_int_equal(s[0].ts, 0x11223344);
	assert_int_equal(s[6].seq, 0xaabb + 6);
	/* audio that follows joins that stream */
	audio(b, AUDIO_SSRC, 9, 9);
	dp_rtp_tx_rewrite(&t, 8000, dp_rtp_tx_ssrc(&t, false, 0), b, T0 + 200 * MS);
	assert_int_equal(dp_rtp_ssrc(b), 0xaabbccdd);
	assert_int_equal(dp_rtp_seq(b), 0xaabb + 7);
	assert_int_equal(dp_rtp_ts(b), 0x11223344 + 1600);
}

/* ---- detection ---- */

struct ev {
	uint32_t ssrc, ts;
	uint16_t seq, duration;
	uint8_t event, volume, pt;
	bool marker, end;
};

static size_t ev_pkt(uint8_t *b, const struct ev *e)
{
	b[0] = 0x80;
	b[1] = (uint8_t)((e->marker ? 0x80 : 0) | (e->pt ? e->pt : 101));
	dp_rtp_wr16(b + 2, e->seq);
	dp_rtp_wr32(b + 4, e->ts);
	dp_rtp_wr32(b + 8, e->ssrc ? e->ssrc : 0x5151);
	b[12] = e->event;
	b[13] = (uint8_t)((e->end ? 0x80 : 0) | e->volume);
	dp_rtp_wr16(b + 14, e->duration);
	return 16;
}

static int det(struct dp_dtmf_det *d, const struct ev *e, uint64_t now, struct dp_dtmf_digit *out)
{
	uint8_t b[16];

	return dp_dtmf_det_packet(d, b, ev_pkt(b, e), now, out);
}

/* What a sender's digit looks like: the RFC's 7 packets, the updates and the first end
 * repeated (duplicates on the path), then the end copies. */
static unsigned send_digit(struct dp_dtmf_det *d, uint8_t event, uint32_t ts, uint16_t *seq,
	uint64_t *now, bool with_end, struct dp_dtmf_digit *got, unsigned max)
{
	static const uint16_t dur[7] = {160, 320, 480, 640, 800, 800, 800};
	unsigned n = 0;

	for (int j = 0; j < 7; j++) {
		const struct ev e = {.ts = ts,
			.seq = (*seq)++,
			.duration = dur[j],
			.event = event,
			.volume = 7,
			.marker = j == 0,
			.end = j >= 4};
		struct dp_dtmf_digit out[2];
		int r;

		if (e.end && !with_end)
			continue;
		for (int rep = 0; rep < (j == 1 || j == 4 ? 2 : 1); rep++) {
			r = det(d, &e, *now, out);
			assert_true(r >= 0 && r <= 2);
			for (int k = 0; k < r; k++) {
				assert_true(n < max);
				got[n++] = out[k];
			}
		}
		*now += 20 * MS;
	}
	return n;
}

static void test_det_one_report_per_digit(void **state)
{
	struct dp_dtmf_det d = {0};
	struct dp_dtmf_digit got[8];
	uint16_t seq = 100;
	uint64_t now = T0;
	unsigned n;

	n = send_digit(&d, 5, 8000, &seq, &now, true, got, 8);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].digit, '5');
	assert_int_equal(got[0].event, 5);
	assert_int_equal(got[0].end, 1);
	assert_int_equal(got[0].duration, 800);
	assert_int_equal(got[0].volume, 7);
	assert_int_equal(got[0].ts, 8000);
	assert_int_equal(dp_dtmf_units_to_ms(got[0].duration, 8000), 100);
	assert_int_equal(d.state, DP_DTMF_DET_DONE);
	/* nothing to expire: it was reported */
	assert_int_equal(dp_dtmf_det_expire(&d, now + 10000 * MS, &got[0]), 0);
	/* '#' then 'D' */
	assert_int_equal(send_digit(&d, 11, 9200, &seq, &now, true, got, 8), 1);
	assert_int_equal(got[0].digit, '#');
	assert_int_equal(send_digit(&d, 15, 10400, &seq, &now, true, got, 8), 1);
	assert_int_equal(got[0].digit, 'D');
	/* a late end copy of '#' arrives after 'D' started: ignored */
	{
		const struct ev e = {.ts = 9200, .seq = 1, .duration = 800, .event = 11, .end = 1};

		assert_int_equal(det(&d, &e, now, got), 0);
	}
}

static void test_det_lost_end(void **state)
{
	struct dp_dtmf_det d = {0};
	struct dp_dtmf_digit got[8];
	uint16_t seq = 1;
	uint64_t now = T0;

	/* '*' loses its three ends: reported when '7' starts, before '7' itself */
	assert_int_equal(send_digit(&d, 10, 1000, &seq, &now, false, got, 8), 0);
	assert_int_equal(d.state, DP_DTMF_DET_ON);
	assert_int_equal(send_digit(&d, 7, 3000, &seq, &now, true, got, 8), 2);
	assert_int_equal(got[0].digit, '*');
	assert_int_equal(got[0].end, 0);
	assert_int_equal(got[0].duration, 640); /* the longest it said */
	assert_int_equal(got[0].ts, 1000);
	assert_int_equal(got[1].digit, '7');
	assert_int_equal(got[1].end, 1);

	/* a new event whose first packet is already an end, after an unreported one: both */
	{
		const struct ev a = {
			.ts = 5000, .seq = seq++, .duration = 160, .event = 1, .marker = 1};
		const struct ev b = {.ts = 5400,
			.seq = seq++,
			.duration = 80,
			.event = 2,
			.marker = 1,
			.end = 1};

		assert_int_equal(det(&d, &a, now, got), 0);
		assert_int_equal(det(&d, &b, now, got), 2);
		assert_int_equal(got[0].digit, '1');
		assert_int_equal(got[0].end, 0);
		assert_int_equal(got[1].digit, '2');
		assert_int_equal(got[1].end, 1);
	}

	/* '0' loses its ends and nothing follows: reported once 500 ms passed since its last */
	now += 1000 * MS;
	assert_int_equal(send_digit(&d, 0, 9000, &seq, &now, false, got, 8), 0);
	const uint64_t last = now - 20 * MS;

	assert_int_equal(dp_dtmf_det_expire(&d, last + DP_DTMF_DET_TIMEOUT_NS - 1, got), 0);
	assert_int_equal(dp_dtmf_det_expire(&d, last + DP_DTMF_DET_TIMEOUT_NS, got), 1);
	assert_int_equal(got[0].digit, '0');
	assert_int_equal(got[0].end, 0);
	assert_int_equal(dp_dtmf_det_expire(&d, last + 10 * DP_DTMF_DET_TIMEOUT_NS, got), 0);
	/* its ends arriving after all: nothing more */
	{
		const struct ev e = {
			.ts = 9000, .seq = seq++, .duration = 800, .event = 0, .end = 1};

		assert_int_equal(det(&d, &e, now, got), 0);
	}
}

/* A new SSRC starts over, even with a timestamp that reads as older. */
static void test_det_new_source(void **state)
{
	struct dp_dtmf_det d = {0};
	struct dp_dtmf_digit got[2];
	const struct ev a = {.ssrc = 1, .ts = 100000, .duration = 800, .event = 4, .end = 1};
	const struct ev b = {.ssrc = 2, .ts = 50, .duration = 800, .event = 6, .end = 1};
	const struct ev c = {.ssrc = 2, .ts = 30, .duration = 800, .event = 8, .end = 1};

	assert_int_equal(det(&d, &a, T0, got), 1);
	assert_int_equal(det(&d, &b, T0, got), 1);
	assert_int_equal(got[0].digit, '6');
	/* same source, older timestamp: a late packet */
	assert_int_equal(det(&d, &c, T0, got), 0);
}

static void test_det_rate_limit(void **state)
{
	struct dp_dtmf_det d = {0};
	const uint64_t w = 7ull << 30;

	for (int i = 0; i < DP_DTMF_DET_RATE; i++)
		assert_true(dp_dtmf_det_allow(&d, w + (uint64_t)i));
	assert_false(dp_dtmf_det_allow(&d, w + 100));
	assert_true(dp_dtmf_det_allow(&d, w + (1ull << 30)));
}

/* Hostile payloads: refused, counted by the caller, state unchanged, never a crash. */
static void test_det_hostile(void **state)
{
	struct dp_dtmf_det d = {0};
	struct dp_dtmf_digit got[2];
	const struct ev on = {.ts = 4000, .seq = 9, .duration = 160, .event = 3, .marker = 1};
	uint8_t b[64];
	size_t len;

	assert_int_equal(det(&d, &on, T0, got), 0);
	const struct dp_dtmf_det before = d;

	/* a header alone, or 1-3 bytes of payload */
	len = ev_pkt(b, &on);
	for (size_t l = 0; l < len; l++)
		assert_int_equal(dp_dtmf_det_packet(&d, b, l, T0, got), -EINVAL);
	/* event codes above 15: other tones (16 = flash), or garbage */
	for (unsigned code = 16; code < 256; code++) {
		struct ev e = on;

		e.event = (uint8_t)code;
		e.ts = 4000 + code; /* a new timestamp would otherwise start an event */
		assert_int_equal(det(&d, &e, T0, got), -EINVAL);
	}
	/* another event on the current event's timestamp */
	{
		struct ev e = on;

		e.event = 4;
		e.end = 1;
		assert_int_equal(det(&d, &e, T0, got), -EINVAL);
	}
	/* broken RTP headers: version 1, CSRCs past the end, an extension past the end, padding
	 * longer than the packet, padding of 0 */
	len = ev_pkt(b, &on);
	b[0] = 0x40;
	assert_int_equal(dp_dtmf_det_packet(&d, b, len, T0, got), -EINVAL);
	b[0] = 0x81;
	assert_int_equal(dp_dtmf_det_packet(&d, b, len, T0, got), -EINVAL);
	b[0] = 0x90;
	dp_rtp_wr16(b + 14, 40);
	assert_int_equal(dp_dtmf_det_packet(&d, b, len, T0, got), -EINVAL);
	len = ev_pkt(b, &on);
	b[0] = 0xa0;
	b[len - 1] = 200;
	assert_int_equal(dp_dtmf_det_packet(&d, b, len, T0, got), -EINVAL);
	b[len - 1] = 0;
	assert_int_equal(dp_dtmf_det_packet(&d, b, len, T0, got), -EINVAL);
	/* padding that leaves fewer than 4 bytes of event */
	b[len - 1] = 1;
	assert_int_equal(dp_dtmf_det_packet(&d, b, len, T0, got), -EINVAL);
	assert_memory_equal(&d, &before, sizeof(d));
	/* the event is still there: its end reports it, with what the valid packets said */
	{
		struct ev e = on;

		e.end = 1;
		e.duration = 800;
		assert_int_equal(det(&d, &e, T0, got), 1);
		assert_int_equal(got[0].digit, '3');
		assert_int_equal(got[0].duration, 800);
	}
	/* a CSRC and an extension are skipped, not read as the event; trailing bytes ignored */
	{
		uint8_t x[40] = {0x91, 101};

		dp_rtp_wr32(x + 4, 77777);
		dp_rtp_wr32(x + 8, 0x5151);
		dp_rtp_wr32(x + 12, 0xc5c5c5c5); /* CSRC */
		dp_rtp_wr16(x + 18, 1);		 /* extension: one word */
		x[24] = 9;			 /* event 9 */
		x[25] = 0x80 | 12;		 /* end, volume 12 */
		dp_rtp_wr16(x + 26, 400);
		assert_int_equal(dp_dtmf_det_packet(&d, x, 32, T0, got), 1);
		assert_int_equal(got[0].digit, '9');
		assert_int_equal(got[0].volume, 12);
		assert_int_equal(got[0].duration, 400);
	}
	/* random bytes: whatever comes back is in range and nothing breaks */
	srand(4733);
	for (int i = 0; i < 200000; i++) {
		const size_t l = (size_t)(rand() % 40);
		int r;

		for (size_t k = 0; k < l; k++)
			b[k] = (uint8_t)rand();
		if (i & 1)
			b[0] = (uint8_t)(0x80 | (b[0] & 0x3f)); /* version 2 half the time */
		r = dp_dtmf_det_packet(&d, b, l, T0 + (uint64_t)i * MS, got);
		assert_true(r == -EINVAL || (r >= 0 && r <= 2));
		for (int k = 0; k < r; k++)
			assert_true(got[k].event <= 15 && got[k].digit != '?');
		(void)dp_dtmf_det_expire(&d, T0 + (uint64_t)i * MS, got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digit_codes),
		cmocka_unit_test(test_gen_init_bounds),
		cmocka_unit_test(test_gen_1_hash),
		cmocka_unit_test(test_gen_shapes),
		cmocka_unit_test(test_gen_late),
		cmocka_unit_test(test_stream_audio_dtmf_audio),
		cmocka_unit_test(test_stream_rewrite_configured),
		cmocka_unit_test(test_stream_from_nothing),
		cmocka_unit_test(test_det_one_report_per_digit),
		cmocka_unit_test(test_det_lost_end),
		cmocka_unit_test(test_det_new_source),
		cmocka_unit_test(test_det_rate_limit),
		cmocka_unit_test(test_det_hostile),
	};

	return cmocka_run_group_tests_name("dp_dtmf", tests, NULL, NULL);
}
