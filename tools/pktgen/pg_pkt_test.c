/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames: the layout, header and incremental UDP checksums against a full recomputation, the
 * per-packet stamp, and the parser on good, relay-modified, truncated and foreign frames.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "pg_args.h"
#include "pg_pkt.h"

struct frame {
	struct pg_pkt_layout l;
	struct pg_tmpl t;
	uint8_t filler[PG_MAX_PAYLOAD_V4];
	uint8_t f[1600];
};

static void build(struct frame *fr, uint8_t family, unsigned payload, bool hw_csum, uint32_t stream)
{
	struct pg_pkt_params p = {
		.dst_mac = {0x02, 0, 0, 0, 0, 0x02},
		.src_mac = {0x02, 0, 0, 0, 0, 0x01},
		.pt = 8,
		.ssrc = 0x11223344,
		.seq_base = 65530, /* wraps within the test's sequences */
		.ts_base = 0xfffffe00,
		.hw_csum = hw_csum,
	};
	uint32_t fsum;

	assert_int_equal(
		pg_parse_endpoint(
			family == AF_INET ? "198.18.0.1:10000" : "[2001:db8::1]:10000", &p.src),
		0);
	assert_int_equal(
		pg_parse_endpoint(
			family == AF_INET ? "10.1.2.3:4000" : "[2001:db8:ffff::77]:4000", &p.dst),
		0);
	assert_int_equal(pg_pkt_layout_init(&fr->l, family, payload), 0);
	pg_pkt_filler(fr->filler, &fr->l, &fsum);
	pg_pkt_tmpl_build(&fr->t, &fr->l, &p, stream, fsum);
}

/* What the sender does per packet. */
static void emit(struct frame *fr, uint64_t seq, uint64_t tsc)
{
	memset(fr->f, 0xa5, sizeof(fr->f));
	memcpy(fr->f, fr->t.hdr, fr->l.hdr_len);
	memcpy(fr->f + fr->l.hdr_len, fr->filler, fr->l.filler_len);
	pg_pkt_stamp(fr->f, &fr->l, &fr->t, 160, seq, tsc);
}

static void test_layout(void **state)
{
	struct pg_pkt_layout l;

	assert_int_equal(pg_pkt_layout_init(&l, AF_INET, 172), 0);
	assert_int_equal(l.frame_len, 14 + 20 + 8 + 172);
	assert_int_equal(l.hdr_len, 14 + 20 + 8 + 12 + 24);
	assert_int_equal(l.filler_len, 160 - 24);
	assert_int_equal(pg_pkt_layout_init(&l, AF_INET6, 172), 0);
	assert_int_equal(l.frame_len, 14 + 40 + 8 + 172);
	assert_int_equal(l.hdr_len, 98);
	assert_true(l.hdr_len <= PG_TMPL_HDR_MAX);
	assert_int_equal(pg_pkt_layout_init(&l, AF_INET, PG_MIN_PAYLOAD), 0);
	assert_int_equal(l.filler_len, 0);
	assert_int_equal(pg_pkt_layout_init(&l, AF_INET, PG_MIN_PAYLOAD - 1), -EINVAL);
	assert_int_equal(pg_pkt_layout_init(&l, AF_INET, 1473), -EINVAL);
	assert_int_equal(pg_pkt_layout_init(&l, AF_INET6, 1452), 0);
	assert_int_equal(l.frame_len, 1514);
	assert_int_equal(pg_pkt_layout_init(&l, AF_INET6, 1453), -EINVAL);
	assert_int_equal(pg_pkt_layout_init(&l, 99, 172), -EINVAL);
	assert_int_equal(sizeof(struct pg_tmpl), 128);
}

static void check_frames(uint8_t family, unsigned payload)
{
	static struct frame fr;
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	build(&fr, family, payload, false, 7);
	for (uint64_t seq = 0; seq < 3000; seq++) {
		struct pg_pkt_tag tag;
		uint16_t rtp_seq;
		uint32_t ts;

		x ^= x << 13; /* xorshift: TSC values over the whole 64-bit range */
		x ^= x >> 7;
		x ^= x << 17;
		emit(&fr, seq * 977, x);
		if (pg_pkt_udp_verify(fr.f, &fr.l) != 0)
			fail_msg("bad UDP checksum: family %u, payload %u, seq %llu", family,
				payload, (unsigned long long)seq);
		assert_true(pg_pkt_parse(fr.f, fr.l.frame_len, &tag));
		assert_int_equal(tag.stream, 7);
		assert_int_equal(tag.seq, seq * 977);
		assert_int_equal(tag.tsc, x);
		rtp_seq = (uint16_t)(fr.f[fr.l.rtp_off + 2] << 8 | fr.f[fr.l.rtp_off + 3]);
		assert_int_equal(rtp_seq, (uint16_t)(65530 + seq * 977));
		ts = (uint32_t)fr.f[fr.l.rtp_off + 4] << 24 |
		     (uint32_t)fr.f[fr.l.rtp_off + 5] << 16 |
		     (uint32_t)fr.f[fr.l.rtp_off + 6] << 8 | fr.f[fr.l.rtp_off + 7];
		assert_int_equal(ts, (uint32_t)(0xfffffe00u + (uint32_t)(seq * 977) * 160));
	}
	assert_int_equal(fr.f[fr.l.rtp_off], 0x80);
	assert_int_equal(fr.f[fr.l.rtp_off + 1], 8);
	if (family == AF_INET) {
		/* the IPv4 header sums to 0xffff with its checksum in */
		assert_int_equal(pg_csum_fold(pg_csum_add(0, fr.f + 14, 20)), 0xffff);
		assert_int_equal(fr.f[14 + 1], 0xb8);
		assert_int_equal(fr.f[14 + 2] << 8 | fr.f[14 + 3], 20 + 8 + payload);
	} else {
		assert_int_equal(fr.f[14] >> 4, 6);
		assert_int_equal(fr.f[14 + 4] << 8 | fr.f[14 + 5], 8 + payload);
	}
}

static void test_checksums_and_roundtrip_v4(void **state)
{
	check_frames(AF_INET, 172);
	check_frames(AF_INET, 173); /* odd: the filler's last byte is padded */
	check_frames(AF_INET, PG_MIN_PAYLOAD);
	check_frames(AF_INET, PG_MAX_PAYLOAD_V4);
}

static void test_checksums_and_roundtrip_v6(void **state)
{
	check_frames(AF_INET6, 172);
	check_frames(AF_INET6, 37);
	check_frames(AF_INET6, PG_MAX_PAYLOAD_V6);
}

static void test_hw_csum_leaves_pseudo_header(void **state)
{
	static struct frame fr;
	uint8_t before[2];

	build(&fr, AF_INET, 172, true, 1);
	memcpy(before, fr.t.hdr + fr.l.l4_off + 6, 2);
	assert_true(before[0] || before[1]);
	emit(&fr, 12345, 678);
	assert_memory_equal(fr.f + fr.l.l4_off + 6, before, 2);
	/* the port adds the rest: with the field cleared, a full checksum must then verify */
	{
		uint16_t c;

		memset(fr.f + fr.l.l4_off + 6, 0, 2);
		c = pg_pkt_udp_verify(fr.f, &fr.l);
		memcpy(fr.f + fr.l.l4_off + 6, &c, 2);
		assert_int_equal(pg_pkt_udp_verify(fr.f, &fr.l), 0);
	}
}

static void test_parse_rejects_truncated_and_foreign(void **state)
{
	static struct frame fr;
	struct pg_pkt_tag tag;
	uint8_t *copy;

	build(&fr, AF_INET, 172, false, 3);
	emit(&fr, 1, 2);
	/* every truncation, in a buffer of exactly that size so ASan sees any over-read */
	for (uint32_t len = 0; len < fr.l.frame_len; len++) {
		copy = malloc(len ? len : 1);
		memcpy(copy, fr.f, len);
		assert_false(pg_pkt_parse(copy, len, &tag));
		free(copy);
	}
	/* Ethernet padding after the UDP payload is fine */
	assert_true(pg_pkt_parse(fr.f, fr.l.frame_len + 20, &tag));
	fr.f[fr.l.tag_off] ^= 1; /* magic */
	assert_false(pg_pkt_parse(fr.f, fr.l.frame_len, &tag));
	emit(&fr, 1, 2);
	fr.f[14 + 9] = 6; /* TCP */
	assert_false(pg_pkt_parse(fr.f, fr.l.frame_len, &tag));
	emit(&fr, 1, 2);
	fr.f[14 + 6] = 0x20; /* more fragments */
	assert_false(pg_pkt_parse(fr.f, fr.l.frame_len, &tag));
	emit(&fr, 1, 2);
	fr.f[12] = 0x08;
	fr.f[13] = 0x06; /* ARP */
	assert_false(pg_pkt_parse(fr.f, fr.l.frame_len, &tag));
	emit(&fr, 1, 2);
	fr.f[fr.l.rtp_off] = 0x40; /* RTP version 1 */
	assert_false(pg_pkt_parse(fr.f, fr.l.frame_len, &tag));
	emit(&fr, 1, 2);
	fr.f[fr.l.l4_off + 4] = 0x10; /* UDP length past the frame */
	assert_false(pg_pkt_parse(fr.f, fr.l.frame_len, &tag));
	emit(&fr, 1, 2);
	fr.f[fr.l.rtp_off] = 0x8f; /* 15 CSRCs claimed: no tag where it would then start */
	assert_false(pg_pkt_parse(fr.f, fr.l.frame_len, &tag));
	emit(&fr, 1, 2);
	fr.f[fr.l.rtp_off] = 0x90; /* an extension whose length runs past the payload */
	fr.f[fr.l.rtp_off + 14] = 0xff;
	assert_false(pg_pkt_parse(fr.f, fr.l.frame_len, &tag));
}

/* What a relay may do: a VLAN tag in front, CSRCs and a header extension in the RTP header. */
static void test_parse_relay_modified(void **state)
{
	static struct frame fr;
	static uint8_t g[1700];
	struct pg_pkt_tag tag;
	uint32_t n = 0, rtp;
	uint16_t udp_len;

	build(&fr, AF_INET6, 172, false, 42);
	emit(&fr, 99, 0x0123456789abcdefULL);
	memcpy(g, fr.f, 12);
	n = 12;
	g[n++] = 0x81; /* 802.1Q, VLAN 5 */
	g[n++] = 0x00;
	g[n++] = 0x00;
	g[n++] = 0x05;
	memcpy(g + n, fr.f + 12, fr.l.rtp_off - 12); /* ethertype, IPv6, UDP */
	n += fr.l.rtp_off - 12;
	rtp = n;
	memcpy(g + n, fr.f + fr.l.rtp_off, PG_RTP_HDR_LEN);
	g[rtp] = 0x80 | 0x10 | 2; /* extension, 2 CSRCs */
	n += PG_RTP_HDR_LEN;
	memset(g + n, 0x33, 8); /* CSRCs */
	n += 8;
	g[n++] = 0xbe; /* one-byte header extension, one 32-bit word */
	g[n++] = 0xde;
	g[n++] = 0x00;
	g[n++] = 0x01;
	memset(g + n, 0x44, 4);
	n += 4;
	memcpy(g + n, fr.f + fr.l.tag_off, fr.l.frame_len - fr.l.tag_off);
	n += fr.l.frame_len - fr.l.tag_off;
	udp_len = (uint16_t)(n - (fr.l.l4_off + 4));
	g[fr.l.l4_off + 4 + 4] = (uint8_t)(udp_len >> 8);
	g[fr.l.l4_off + 4 + 5] = (uint8_t)udp_len;
	assert_true(pg_pkt_parse(g, n, &tag));
	assert_int_equal(tag.stream, 42);
	assert_int_equal(tag.seq, 99);
	assert_int_equal(tag.tsc, 0x0123456789abcdefULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_checksums_and_roundtrip_v4),
		cmocka_unit_test(test_checksums_and_roundtrip_v6),
		cmocka_unit_test(test_hw_csum_leaves_pseudo_header),
		cmocka_unit_test(test_parse_rejects_truncated_and_foreign),
		cmocka_unit_test(test_parse_relay_modified),
	};

	return cmocka_run_group_tests_name("pg_pkt", tests, NULL, NULL);
}
