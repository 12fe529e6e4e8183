/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The wire: RTP header validation and rtcp-mux demultiplexing (dp_rtp.h), RTCP compound
 * parsing on captured-style SR and RR packets, every truncation of them, hostile lengths,
 * padding and counts, random and random-but-well-framed input (fixed seeds; the ASan build
 * catches any read outside the exact-size copies), RTT and NTP arithmetic, and the RR/SR
 * builder round-tripped through the parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_rtcp.h"
#include "dp_rtp.h"
#include "dp_rtpstats.h"

/* Fixtures one 32-bit word a line, as on the wire. */
/* clang-format off */

/* SR with two report blocks, then SDES with a CNAME: 76 + 20 bytes. */
static const uint8_t sr2[] = {
	/* SR: V=2, RC=2, PT=200, length 18 words + 1 = 76 bytes */
	0x82, 0xc8, 0x00, 0x12,
	0x5a, 0x1b, 0x3c, 0x4d, /* sender SSRC */
	0xe9, 0xa2, 0xb3, 0xc4, /* NTP seconds */
	0x40, 0x00, 0x00, 0x00, /* NTP fraction: .25 s */
	0x00, 0x01, 0xe2, 0x40, /* RTP timestamp 123456 */
	0x00, 0x00, 0x03, 0xe8, /* 1000 packets */
	0x00, 0x02, 0x71, 0x00, /* 160000 octets */
	/* block 1 */
	0x11, 0x22, 0x33, 0x44, /* SSRC */
	0x0c, 0x00, 0x00, 0x2a, /* fraction 12/256, cumulative lost 42 */
	0x00, 0x01, 0x00, 0x10, /* extended highest sequence 65552 */
	0x00, 0x00, 0x00, 0x23, /* jitter 35 */
	0xb3, 0xc4, 0x40, 0x00, /* LSR */
	0x00, 0x01, 0x80, 0x00, /* DLSR 1.5 s */
	/* block 2 */
	0x55, 0x66, 0x77, 0x88,
	0x00, 0xff, 0xff, 0xfe, /* fraction 0, cumulative lost -2 (duplicates) */
	0x00, 0x00, 0x0f, 0xa0, /* 4000 */
	0x00, 0x00, 0x00, 0x05,
	0x00, 0x00, 0x00, 0x00, /* no SR received yet */
	0x00, 0x00, 0x00, 0x00,
	/* SDES: SC=1, length 4 words + 1 = 20 bytes */
	0x81, 0xca, 0x00, 0x04,
	0x5a, 0x1b, 0x3c, 0x4d,
	0x01, 0x09, 'u', 's', 'e', 'r', '@', 'h', 'o', 's', 't', 0x00,
};

/* RR with one block (the RFC 3550 §6.4.1 LSR/DLSR example), then BYE: 32 + 8 bytes. */
static const uint8_t rr_bye[] = {
	0x81, 0xc9, 0x00, 0x07,
	0x11, 0x22, 0x33, 0x44, /* reporter */
	0x5a, 0x1b, 0x3c, 0x4d, /* source */
	0x19, 0x00, 0x01, 0x00, /* fraction 25/256, cumulative lost 256 */
	0x00, 0x00, 0xff, 0xff,
	0x00, 0x00, 0x01, 0x40, /* jitter 320 */
	0xb7, 0x05, 0x20, 0x00, /* LSR 46853.125 s */
	0x00, 0x05, 0x40, 0x00, /* DLSR 5.25 s */
	0x81, 0xcb, 0x00, 0x01,
	0x11, 0x22, 0x33, 0x44,
};

/* clang-format on */

/* Parse from an exact-size heap copy, so ASan sees any read past 'len'. */
static int parse_copy(const uint8_t *pkt, size_t len, struct dp_rtcp_info *info)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, pkt, len);
	rc = dp_rtcp_parse(copy, len, info);
	free(copy);
	return rc;
}

static void check_invariants(int rc, const struct dp_rtcp_info *info)
{
	assert_true(rc == 0 || rc == -EINVAL);
	if (rc)
		return;
	assert_true(info->nblocks <= DP_RTCP_MAX_BLOCKS);
	assert_true(info->nblocks <= info->blocks_total);
	assert_true(info->npackets >= 1);
	assert_true(info->seen & (DP_RTCP_SEEN_SR | DP_RTCP_SEEN_RR));
}

static void test_parse_sr(void **state)
{
	struct dp_rtcp_info info;

	assert_int_equal(parse_copy(sr2, sizeof(sr2), &info), 0);
	assert_true(info.has_sr);
	assert_int_equal(info.ssrc, 0x5a1b3c4d);
	assert_int_equal(info.sr.ntp, 0xe9a2b3c440000000ull);
	assert_int_equal(info.sr.rtp_ts, 123456);
	assert_int_equal(info.sr.packets, 1000);
	assert_int_equal(info.sr.octets, 160000);
	assert_int_equal(info.npackets, 2);
	assert_int_equal(info.seen, DP_RTCP_SEEN_SR | DP_RTCP_SEEN_SDES);
	assert_int_equal(info.nblocks, 2);
	assert_int_equal(info.blocks_total, 2);

	assert_int_equal(info.blocks[0].reporter, 0x5a1b3c4d);
	assert_int_equal(info.blocks[0].ssrc, 0x11223344);
	assert_int_equal(info.blocks[0].fraction_lost, 12);
	assert_int_equal(info.blocks[0].cum_lost, 42);
	assert_int_equal(info.blocks[0].ext_max_seq, 65552);
	assert_int_equal(info.blocks[0].jitter, 35);
	assert_int_equal(info.blocks[0].lsr, 0xb3c44000);
	assert_int_equal(info.blocks[0].dlsr, 0x18000);

	assert_int_equal(info.blocks[1].ssrc, 0x55667788);
	assert_int_equal(info.blocks[1].fraction_lost, 0);
	assert_int_equal(info.blocks[1].cum_lost, -2);
	assert_int_equal(info.blocks[1].ext_max_seq, 4000);
	assert_int_equal(info.blocks[1].jitter, 5);
	assert_int_equal(info.blocks[1].lsr, 0);
	assert_int_equal(info.blocks[1].dlsr, 0);

	/* the SR alone is a compound packet too */
	assert_int_equal(parse_copy(sr2, 76, &info), 0);
	assert_int_equal(info.npackets, 1);
	assert_int_equal(info.nblocks, 2);
}

static void test_parse_rr(void **state)
{
	struct dp_rtcp_info info;
	uint64_t us;

	assert_int_equal(parse_copy(rr_bye, sizeof(rr_bye), &info), 0);
	assert_false(info.has_sr);
	assert_int_equal(info.ssrc, 0x11223344);
	assert_int_equal(info.seen, DP_RTCP_SEEN_RR | DP_RTCP_SEEN_BYE);
	assert_int_equal(info.nblocks, 1);
	assert_int_equal(info.blocks[0].ssrc, 0x5a1b3c4d);
	assert_int_equal(info.blocks[0].fraction_lost, 25);
	assert_int_equal(info.blocks[0].cum_lost, 256);
	assert_int_equal(info.blocks[0].ext_max_seq, 65535);
	assert_int_equal(info.blocks[0].jitter, 320);
	/* RFC 3550 §6.4.1: A = 0xb710:8000 (46864.5 s) - LSR 0xb705:2000 - DLSR 0x0005:4000
	 * = 0x0006:2000, 6.125 s */
	assert_int_equal(
		dp_rtcp_rtt_us(0xb7108000, info.blocks[0].lsr, info.blocks[0].dlsr, &us), 0);
	assert_int_equal(us, 6125000);

	/* an RR without blocks, alone: the smallest compound packet */
	static const uint8_t rr0[] = {0x80, 0xc9, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04};

	assert_int_equal(parse_copy(rr0, sizeof(rr0), &info), 0);
	assert_int_equal(info.nblocks, 0);
	assert_int_equal(info.ssrc, 0x01020304);
}

/* Every prefix of a valid compound packet: valid only where a packet ends. */
static void test_truncations(void **state)
{
	struct dp_rtcp_info info;

	for (size_t len = 0; len <= sizeof(sr2); len++) {
		int rc = parse_copy(sr2, len, &info);

		check_invariants(rc, &info);
		assert_int_equal(rc, len == 76 || len == sizeof(sr2) ? 0 : -EINVAL);
	}
	for (size_t len = 0; len <= sizeof(rr_bye); len++) {
		int rc = parse_copy(rr_bye, len, &info);

		check_invariants(rc, &info);
		assert_int_equal(rc, len == 32 || len == sizeof(rr_bye) ? 0 : -EINVAL);
	}
	assert_int_equal(dp_rtcp_parse(NULL, 0, &info), -EINVAL);
}

/* One byte changed in sr2 (offset, value): each must be refused. */
static void test_hostile(void **state)
{
	static const struct {
		size_t off;
		uint8_t val;
		const char *why;
	} bad[] = {
		{3, 0x13, "SR length one word past the end"},
		{2, 0xff, "SR length far past the end"},
		{3, 0x11, "SR length one word short: the walk lands inside a block"},
		{0, 0x83, "RC 3 does not fit in 76 bytes"},
		{0, 0x9f, "RC 31"},
		{0, 0x42, "version 1"},
		{0, 0xc2, "version 3"},
		{0, 0x02, "version 0"},
		{1, 0xca, "first packet SDES"},
		{1, 0xcb, "first packet BYE"},
		{1, 0x00, "first packet of unknown type"},
		{76, 0x41, "second packet version 1"},
		{79, 0x05, "SDES length past the end"},
		{78, 0x80, "SDES length far past the end"},
		{79, 0x03, "SDES length short: 4 stray bytes at the end"},
		{76, 0x83, "SDES with 3 chunks in 16 bytes"},
		{0, 0xa2, "padding on the first of two packets"},
		{76, 0xa1, "padding count 0 on the last packet"},
	};
	uint8_t pkt[sizeof(sr2)];
	struct dp_rtcp_info info;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(pkt, sr2, sizeof(pkt));
		pkt[bad[i].off] = bad[i].val;
		if (parse_copy(pkt, sizeof(pkt), &info) != -EINVAL)
			fail_msg("accepted: %s", bad[i].why);
	}

	/* trailing bytes that are not a packet */
	uint8_t longer[sizeof(sr2) + 4];

	memcpy(longer, sr2, sizeof(sr2));
	for (size_t extra = 1; extra <= 4; extra++) {
		memset(longer + sizeof(sr2), 0, 4);
		assert_int_equal(parse_copy(longer, sizeof(sr2) + extra, &info), -EINVAL);
	}
	/* four zero bytes: a version-0 header */
	assert_int_equal(parse_copy(longer, sizeof(longer), &info), -EINVAL);
	/* an RR header whose length says 0 words: 4 bytes, no room for the SSRC */
	static const uint8_t rr_short[] = {0x80, 0xc9, 0x00, 0x00, 0x80, 0xc9, 0x00, 0x00};

	assert_int_equal(parse_copy(rr_short, sizeof(rr_short), &info), -EINVAL);
	/* a BYE of 0 words is legal (SC=0); with SC=1 it needs one more word */
	static const uint8_t rr_bye0[] = {
		0x80, 0xc9, 0x00, 0x01, 1, 2, 3, 4, 0x80, 0xcb, 0x00, 0x00};
	static const uint8_t rr_bye1[] = {
		0x80, 0xc9, 0x00, 0x01, 1, 2, 3, 4, 0x81, 0xcb, 0x00, 0x00};

	assert_int_equal(parse_copy(rr_bye0, sizeof(rr_bye0), &info), 0);
	assert_int_equal(parse_copy(rr_bye1, sizeof(rr_bye1), &info), -EINVAL);
	/* APP needs its name, feedback its media SSRC, XR its SSRC */
	static const uint8_t rr_app[] = {
		0x80, 0xc9, 0x00, 0x01, 1, 2, 3, 4, 0x80, 0xcc, 0x00, 0x01, 1, 2, 3, 4};
	static const uint8_t rr_fb[] = {
		0x80, 0xc9, 0x00, 0x01, 1, 2, 3, 4, 0x81, 0xcd, 0x00, 0x01, 1, 2, 3, 4};
	static const uint8_t rr_xr[] = {0x80, 0xc9, 0x00, 0x01, 1, 2, 3, 4, 0x80, 0xcf, 0x00, 0x00};

	assert_int_equal(parse_copy(rr_app, sizeof(rr_app), &info), -EINVAL);
	assert_int_equal(parse_copy(rr_fb, sizeof(rr_fb), &info), -EINVAL);
	assert_int_equal(parse_copy(rr_xr, sizeof(rr_xr), &info), -EINVAL);
}

static void test_padding(void **state)
{
	/* RR + BYE, the BYE padded by 4 (the count includes itself) */
	static const uint8_t ok[] = {
		0x80, 0xc9, 0x00, 0x01, 1, 2, 3, 4, 0xa1, 0xcb, 0x00, 0x02, 9, 9, 9, 9, 0, 0, 0, 4};
	/* an RR with one block and 24 bytes of padding: the block is gone, RC=1 no longer fits */
	uint8_t rr_pad[32 + 24];
	struct dp_rtcp_info info;
	uint8_t pkt[sizeof(ok)];

	assert_int_equal(parse_copy(ok, sizeof(ok), &info), 0);
	assert_int_equal(info.seen, DP_RTCP_SEEN_RR | DP_RTCP_SEEN_BYE);
	/* a count larger than the packet body, or covering the header */
	memcpy(pkt, ok, sizeof(pkt));
	pkt[sizeof(pkt) - 1] = 9;
	assert_int_equal(parse_copy(pkt, sizeof(pkt), &info), -EINVAL);
	pkt[sizeof(pkt) - 1] = 8; /* eats the SSRC of a BYE with SC=1 */
	assert_int_equal(parse_copy(pkt, sizeof(pkt), &info), -EINVAL);
	pkt[9 - 1] = 0xa0; /* SC=0: then 8 bytes of padding are fine */
	assert_int_equal(parse_copy(pkt, sizeof(pkt), &info), 0);

	memcpy(rr_pad, rr_bye, 32);
	memset(rr_pad + 32, 0, 24);
	rr_pad[0] = 0xa1;
	rr_pad[3] = 13;
	rr_pad[sizeof(rr_pad) - 1] = 24;
	assert_int_equal(parse_copy(rr_pad, sizeof(rr_pad), &info), 0);
	assert_int_equal(info.nblocks, 1);
	rr_pad[sizeof(rr_pad) - 1] = 28;
	assert_int_equal(parse_copy(rr_pad, sizeof(rr_pad), &info), -EINVAL);
}

/* More blocks than kept: the first DP_RTCP_MAX_BLOCKS stored, all counted, two reporters. */
static void test_many_blocks(void **state)
{
	uint8_t pkt[8 + 31 * 24 + 8 + 2 * 24];
	struct dp_rtcp_info info;
	uint8_t *p = pkt;

	memset(pkt, 0, sizeof(pkt));
	p[0] = 0x80 | 31;
	p[1] = DP_RTCP_RR;
	dp_rtp_wr16(p + 2, (8 + 31 * 24) / 4 - 1);
	dp_rtp_wr32(p + 4, 0xaaaa0000);
	for (unsigned i = 0; i < 31; i++)
		dp_rtp_wr32(p + 8 + 24 * i, 0x1000 + i);
	p += 8 + 31 * 24;
	p[0] = 0x80 | 2;
	p[1] = DP_RTCP_RR;
	dp_rtp_wr16(p + 2, (8 + 2 * 24) / 4 - 1);
	dp_rtp_wr32(p + 4, 0xbbbb0000);

	assert_int_equal(parse_copy(pkt, sizeof(pkt), &info), 0);
	assert_int_equal(info.npackets, 2);
	assert_int_equal(info.nblocks, DP_RTCP_MAX_BLOCKS);
	assert_int_equal(info.blocks_total, 33);
	assert_int_equal(info.ssrc, 0xaaaa0000);
	for (unsigned i = 0; i < DP_RTCP_MAX_BLOCKS; i++) {
		assert_int_equal(info.blocks[i].ssrc, 0x1000 + i);
		assert_int_equal(info.blocks[i].reporter, 0xaaaa0000);
	}
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Random bytes, some with a plausible first header so the walk goes further. */
static void test_random_bytes(void **state)
{
	uint8_t buf[300];
	struct dp_rtcp_info info;
	unsigned ok = 0;

	rng = 0x9e3779b97f4a7c15ull;
	for (int it = 0; it < 200000; it++) {
		size_t len = xorshift() % sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)xorshift();
		if (len >= 4 && (it & 1)) {
			buf[0] = (uint8_t)(0x80 | (buf[0] & 0x3f));
			buf[1] = (it & 2) ? DP_RTCP_SR : DP_RTCP_RR;
			dp_rtp_wr16(buf + 2, (uint16_t)(xorshift() % (len / 4 + 2)));
		}
		int rc = parse_copy(buf, len, &info);

		check_invariants(rc, &info);
		ok += rc == 0;
		size_t plen;
		int off = dp_rtp_validate(buf, len, &plen);

		assert_true(off == -EINVAL || (off >= DP_RTP_HDR_LEN && (size_t)off + plen <= len));
	}
	/* some made it through: the generator is not just feeding the first check */
	assert_true(ok > 0);
}

/* Random compound packets with consistent lengths and random types, counts and contents:
 * the per-type checks are what decides. */
static void test_random_framed(void **state)
{
	static const uint8_t types[] = {DP_RTCP_SR, DP_RTCP_RR, DP_RTCP_SDES, DP_RTCP_BYE,
		DP_RTCP_APP, DP_RTCP_RTPFB, DP_RTCP_PSFB, DP_RTCP_XR, 210};
	uint8_t buf[1024];
	struct dp_rtcp_info info;
	unsigned ok = 0, bad = 0;

	rng = 0x0123456789abcdefull;
	for (int it = 0; it < 50000; it++) {
		size_t len = 0;
		unsigned npkt = 1 + xorshift() % 4;

		for (unsigned k = 0; k < npkt; k++) {
			size_t words = xorshift() % 16;
			size_t size = (words + 1) * 4;

			if (len + size > sizeof(buf))
				break;
			for (size_t i = 0; i < size; i++)
				buf[len + i] = (uint8_t)xorshift();
			buf[len] = (uint8_t)(0x80 | (buf[len] & 0x1f) % 4);
			if (xorshift() % 8 == 0)
				buf[len] |= 0x20;
			buf[len + 1] = types[xorshift() % (k == 0 ? 2 : sizeof(types))];
			dp_rtp_wr16(buf + len + 2, (uint16_t)words);
			len += size;
		}
		int rc = parse_copy(buf, len, &info);

		check_invariants(rc, &info);
		ok += rc == 0;
		bad += rc != 0;
	}
	assert_true(ok > 1000);
	assert_true(bad > 1000);
}

static void test_rtt(void **state)
{
	uint32_t q16;
	uint64_t us;

	assert_int_equal(dp_rtcp_rtt(0xb7108000, 0xb7052000, 0x00054000, &q16), 0);
	assert_int_equal(q16, 0x00062000);
	assert_int_equal(dp_rtcp_q16_to_us(q16), 6125000);
	/* no SR of ours has reached the peer */
	assert_int_equal(dp_rtcp_rtt_us(0xb7108000, 0, 0, &us), -ENODATA);
	/* the 32-bit middle word wraps between our SR and the report: 0x2000 - 0x800 = 0x1800,
	 * 6144 / 65536 s = 93750 us */
	assert_int_equal(dp_rtcp_rtt_us(0x00001000, 0xfffff000, 0x800, &us), 0);
	assert_int_equal(us, 93750);
	/* truncation can make a round trip of ~0 come out a unit or two negative */
	assert_int_equal(dp_rtcp_rtt_us(0x1000, 0x0f00, 0x102, &us), 0);
	assert_int_equal(us, 0);
	/* beyond the slack it is inconsistent */
	assert_int_equal(
		dp_rtcp_rtt_us(0x1000, 0x0f00, 0x100 + DP_RTCP_RTT_SLACK + 1, &us), -ERANGE);
	/* an LSR after A (or more than 9.1 h before it) */
	assert_int_equal(dp_rtcp_rtt_us(0x1000, 0x2000, 0, &us), -ERANGE);
	assert_int_equal(dp_rtcp_rtt_us(0x80001000, 0x1000, 0, &us), -ERANGE);
	assert_int_equal(dp_rtcp_rtt_us(0x7fff1000, 0x1000, 0, &us), 0);
	assert_int_equal(us, dp_rtcp_q16_to_us(0x7fff0000));
}

static void test_ntp(void **state)
{
	uint64_t ntp;

	assert_int_equal(dp_rtcp_ntp_from_ns(0), DP_RTCP_NTP_UNIX_OFFSET << 32);
	/* 2023-01-01T00:00:00.5Z: Unix 1672531200, NTP 3881520000 = 0xe75b4b80 */
	ntp = dp_rtcp_ntp_from_ns(1672531200ull * 1000000000 + 500000000);
	assert_int_equal(ntp >> 32, 3881520000u);
	assert_int_equal((uint32_t)ntp, 0x80000000u);
	assert_int_equal(dp_rtcp_ntp_mid(ntp), 0x4b808000u);
	/* 1 ns is 4.29 fraction units, truncated */
	assert_int_equal((uint32_t)dp_rtcp_ntp_from_ns(1), 4);
	assert_int_equal((uint32_t)dp_rtcp_ntp_from_ns(999999999), 0xfffffffbu);
	/* era 0 ends 2036-02-07T06:28:16Z (Unix 2085978496): the seconds wrap to 0 */
	assert_int_equal(dp_rtcp_ntp_from_ns(2085978496ull * 1000000000), 0);
}

/* A PCMU stream with known loss and jitter, and an SR received from its sender. */
static void make_stream(struct dp_rtpstats *s, uint32_t ssrc)
{
	uint32_t arrival = 1000;

	dp_rtpstats_reset(s);
	for (uint16_t q = 65000; q != 100; q++) {
		if (q == 65100 || q == 5 || q == 6)
			continue;
		/* every tenth packet 80 units late */
		dp_rtpstats_update(s, ssrc, q, (uint32_t)q * 160, 172,
			arrival + (uint32_t)q * 160 + (q % 10 ? 0 : 80), 0);
	}
	dp_rtpstats_sr_received(s, ssrc, 0xe9a2b3c440000000ull, 1000000000);
}

static void test_build_roundtrip(void **state)
{
	struct dp_rtpstats a, b;
	struct dp_rtpstats_report ra, rb;
	struct dp_rtpstats *src[] = {&a, &b};
	struct dp_rtcp_sender_info si = {
		.ntp = 0xe9a2b3c5deadbeefull, .rtp_ts = 777, .packets = 12, .octets = 1920};
	struct dp_rtcp_info info;
	uint8_t buf[256];
	int n;

	make_stream(&a, 0xa0a0a0a0);
	make_stream(&b, 0xb0b0b0b0);
	/* b's SR came from another source: no LSR for b */
	dp_rtpstats_sr_received(&b, 0xcccccccc, 0xe9a2b3c440000000ull, 1000000000);
	dp_rtpstats_get(&a, &ra);
	dp_rtpstats_get(&b, &rb);
	assert_int_equal(ra.lost, 3);
	assert_true(ra.fraction_lost > 0);
	assert_true(ra.jitter > 0);

	n = dp_rtcp_build(buf, sizeof(buf), 0x12345678, &si, src, 2, "tollgate@sbc1", 2500000000);
	/* SR 28 + 2 blocks 48 + SDES 4 + (4 + 2 + 13 + 1 -> 20) = 100 */
	assert_int_equal(n, 100);
	assert_int_equal(parse_copy(buf, (size_t)n, &info), 0);
	assert_true(info.has_sr);
	assert_int_equal(info.ssrc, 0x12345678);
	assert_int_equal(info.sr.ntp, si.ntp);
	assert_int_equal(info.sr.rtp_ts, 777);
	assert_int_equal(info.sr.packets, 12);
	assert_int_equal(info.sr.octets, 1920);
	assert_int_equal(info.seen, DP_RTCP_SEEN_SR | DP_RTCP_SEEN_SDES);
	assert_int_equal(info.nblocks, 2);
	assert_int_equal(info.blocks[0].ssrc, 0xa0a0a0a0);
	assert_int_equal(info.blocks[0].fraction_lost, ra.fraction_lost);
	assert_int_equal(info.blocks[0].cum_lost, ra.lost);
	assert_int_equal(info.blocks[0].ext_max_seq, ra.ext_max_seq);
	assert_int_equal(info.blocks[0].jitter, ra.jitter);
	assert_int_equal(info.blocks[0].lsr, 0xb3c44000);
	assert_int_equal(info.blocks[0].dlsr, 0x18000); /* 2.5 s - 1 s */
	assert_int_equal(info.blocks[1].ssrc, 0xb0b0b0b0);
	assert_int_equal(info.blocks[1].lsr, 0);
	assert_int_equal(info.blocks[1].dlsr, 0);
	assert_memory_equal(buf + 86, "tollgate@sbc1", 13);

	/* the report started a new interval: nothing lost since */
	dp_rtpstats_get(&a, &ra);
	assert_int_equal(ra.fraction_lost, 0);
	assert_int_equal(ra.lost, 3);

	/* an RR without CNAME; a source on probation gets no block */
	struct dp_rtpstats fresh = {0};
	struct dp_rtpstats *one[] = {&fresh};

	dp_rtpstats_update(&fresh, 1, 1, 0, 172, 0, 0);
	n = dp_rtcp_build(buf, sizeof(buf), 0x12345678, NULL, one, 1, NULL, 0);
	assert_int_equal(n, 8);
	assert_int_equal(parse_copy(buf, (size_t)n, &info), 0);
	assert_false(info.has_sr);
	assert_int_equal(info.nblocks, 0);
	/* an empty CNAME still has its item and terminator */
	n = dp_rtcp_build(buf, sizeof(buf), 1, NULL, NULL, 0, "", 0);
	assert_int_equal(n, 8 + 12);
	assert_int_equal(parse_copy(buf, (size_t)n, &info), 0);
}

static void test_build_limits(void **state)
{
	struct dp_rtpstats a;
	struct dp_rtpstats_report r;
	struct dp_rtpstats *src[32];
	char cname[300];
	uint8_t buf[1024];
	struct dp_rtcp_info info;

	make_stream(&a, 0xa0a0a0a0);
	for (unsigned i = 0; i < 32; i++)
		src[i] = &a;
	/* does not fit: nothing written is promised, nothing is marked */
	for (size_t cap = 0; cap < 8 + 24; cap++)
		assert_int_equal(dp_rtcp_build(buf, cap, 1, NULL, src, 1, NULL, 0), -ENOSPC);
	dp_rtpstats_get(&a, &r);
	assert_true(r.fraction_lost > 0);
	assert_int_equal(dp_rtcp_build(buf, 8 + 24, 1, NULL, src, 1, NULL, 0), 32);
	assert_int_equal(dp_rtcp_build(buf, sizeof(buf), 1, NULL, src, 32, NULL, 0), -EINVAL);
	memset(cname, 'x', sizeof(cname) - 1);
	cname[sizeof(cname) - 1] = 0;
	assert_int_equal(dp_rtcp_build(buf, sizeof(buf), 1, NULL, src, 1, cname, 0), -EINVAL);
	cname[255] = 0;
	int n = dp_rtcp_build(buf, sizeof(buf), 1, NULL, src, 31, cname, 0);

	assert_int_equal(n, 8 + 31 * 24 + 4 + 264);
	assert_int_equal(parse_copy(buf, (size_t)n, &info), 0);
	assert_int_equal(info.blocks_total, 31);

	/* the cumulative loss is clamped to the 24-bit field, both ways */
	a.received = 0;
	a.cycles = 1000u << 16; /* 65.5M expected */
	n = dp_rtcp_build(buf, sizeof(buf), 1, NULL, src, 1, NULL, 0);
	assert_int_equal(parse_copy(buf, (size_t)n, &info), 0);
	assert_int_equal(info.blocks[0].cum_lost, DP_RTCP_LOST_MAX);
	a.received = 0xffffffff;
	a.cycles = 1u << 16; /* back to 635 expected */
	n = dp_rtcp_build(buf, sizeof(buf), 1, NULL, src, 1, NULL, 0);
	assert_int_equal(parse_copy(buf, (size_t)n, &info), 0);
	assert_int_equal(info.blocks[0].cum_lost, DP_RTCP_LOST_MIN);
}

static void test_rtp_validate(void **state)
{
	uint8_t p[64];
	size_t plen;

	memset(p, 0, sizeof(p));
	p[0] = 0x80;
	p[1] = 0x80 | 8; /* marker, PCMA */
	dp_rtp_wr16(p + 2, 0xfffe);
	dp_rtp_wr32(p + 4, 0x01020304);
	dp_rtp_wr32(p + 8, 0xcafef00d);
	assert_int_equal(dp_rtp_validate(p, 12, &plen), 12);
	assert_int_equal(plen, 0);
	assert_int_equal(dp_rtp_validate(p, 64, NULL), 12);
	assert_true(dp_rtp_marker(p));
	assert_int_equal(dp_rtp_pt(p), 8);
	assert_int_equal(dp_rtp_seq(p), 0xfffe);
	assert_int_equal(dp_rtp_ts(p), 0x01020304);
	assert_int_equal(dp_rtp_ssrc(p), 0xcafef00d);

	for (size_t len = 0; len < 12; len++)
		assert_int_equal(dp_rtp_validate(p, len, &plen), -EINVAL);
	p[0] = 0x40;
	assert_int_equal(dp_rtp_validate(p, 64, &plen), -EINVAL);

	/* two CSRCs */
	p[0] = 0x82;
	assert_int_equal(dp_rtp_csrc_count(p), 2);
	assert_int_equal(dp_rtp_validate(p, 20, &plen), 20);
	assert_int_equal(dp_rtp_validate(p, 19, &plen), -EINVAL);
	/* CSRCs + an extension of 2 words: 12 + 8 + 4 + 8 = 32 */
	p[0] = 0x92;
	dp_rtp_wr16(p + 20, 0xbede);
	dp_rtp_wr16(p + 22, 2);
	assert_int_equal(dp_rtp_validate(p, 40, &plen), 32);
	assert_int_equal(plen, 8);
	assert_int_equal(dp_rtp_validate(p, 32, &plen), 32);
	assert_int_equal(dp_rtp_validate(p, 31, &plen), -EINVAL);
	assert_int_equal(dp_rtp_validate(p, 23, &plen), -EINVAL); /* extension header cut */
	dp_rtp_wr16(p + 22, 0xffff);
	assert_int_equal(dp_rtp_validate(p, 64, &plen), -EINVAL);
	/* padding: 12 header + 10 payload + 2 padding */
	p[0] = 0xa0;
	p[23] = 2;
	assert_int_equal(dp_rtp_validate(p, 24, &plen), 12);
	assert_int_equal(plen, 10);
	p[23] = 12; /* padding only */
	assert_int_equal(dp_rtp_validate(p, 24, &plen), 12);
	assert_int_equal(plen, 0);
	p[23] = 13;
	assert_int_equal(dp_rtp_validate(p, 24, &plen), -EINVAL);
	p[23] = 0;
	assert_int_equal(dp_rtp_validate(p, 24, &plen), -EINVAL);
	p[11] = 1; /* the padding count is the last octet of the packet, wherever that is */
	assert_int_equal(dp_rtp_validate(p, 12, &plen), -EINVAL);
}

static void test_rtcp_mux(void **state)
{
	uint8_t p[12] = {0x80, 0};

	/* RFC 5761 §4: second octet 192..223 is RTCP (PT 64..95 with or without marker) */
	for (unsigned b = 0; b < 256; b++) {
		p[1] = (uint8_t)b;
		assert_int_equal(dp_rtp_is_rtcp(p, sizeof(p)),
			(b >= 64 && b <= 95) || (b >= 192 && b <= 223));
	}
	assert_true(dp_rtp_is_rtcp(sr2, sizeof(sr2)));
	assert_true(dp_rtp_is_rtcp(rr_bye, sizeof(rr_bye)));
	p[1] = 0;
	assert_false(dp_rtp_is_rtcp(p, sizeof(p)));
	p[1] = 200;
	assert_false(dp_rtp_is_rtcp(p, 1));
	p[0] = 0x40;
	assert_false(dp_rtp_is_rtcp(p, sizeof(p)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_sr),
		cmocka_unit_test(test_parse_rr),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_many_blocks),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_random_framed),
		cmocka_unit_test(test_rtt),
		cmocka_unit_test(test_ntp),
		cmocka_unit_test(test_build_roundtrip),
		cmocka_unit_test(test_build_limits),
		cmocka_unit_test(test_rtp_validate),
		cmocka_unit_test(test_rtcp_mux),
	};

	return cmocka_run_group_tests_name("dp_rtcp", tests, NULL, NULL);
}
