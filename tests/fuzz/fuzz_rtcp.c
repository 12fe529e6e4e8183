/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the media wire code: the input goes to the RTCP compound parser, to the
 * RTP header validator and the rtcp-mux test, and, read as a stream of (SSRC bit, sequence,
 * timestamp, arrival) records, through the RTP receive statistics, whose report is then built
 * into an SR and parsed back. Beyond "no crash, no undefined behaviour" it aborts when a
 * promise breaks: the parser returns 0 or -EINVAL and keeps its block counts in bounds; an
 * accepted RTP header's payload lies inside the packet; the statistics' counts are coherent;
 * and every packet the builder writes is one the parser accepts with the same blocks.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "dp_rtcp.h"
#include "dp_rtp.h"
#include "dp_rtpstats.h"

static void check_parse(const uint8_t *data, size_t size)
{
	struct dp_rtcp_info info;
	int rc = dp_rtcp_parse(data, size, &info);

	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc)
		return;
	if (info.nblocks > DP_RTCP_MAX_BLOCKS || info.nblocks > info.blocks_total ||
		info.npackets == 0 || size % 4 != 0)
		abort();
	/* RTT of whatever the blocks say: any value, never a crash */
	for (unsigned i = 0; i < info.nblocks; i++) {
		uint64_t us;

		dp_rtcp_rtt_us(
			dp_rtcp_ntp_mid(info.sr.ntp), info.blocks[i].lsr, info.blocks[i].dlsr, &us);
	}
}

static void check_rtp(const uint8_t *data, size_t size)
{
	size_t plen = 0;
	int off = dp_rtp_validate(data, size, &plen);

	if (off == -EINVAL)
		return;
	if (off < DP_RTP_HDR_LEN || (size_t)off + plen > size)
		abort();
	(void)dp_rtp_is_rtcp(data, size);
	(void)dp_rtp_seq(data);
	(void)dp_rtp_ts(data);
	(void)dp_rtp_ssrc(data);
}

/* 8-byte records: flags (bit 0 = second SSRC), 16-bit seq, 32-bit ts, 8-bit arrival step. */
static void check_stats(const uint8_t *data, size_t size)
{
	struct dp_rtpstats a = {0};
	struct dp_rtpstats *src[] = {&a};
	struct dp_rtpstats_report r;
	struct dp_rtcp_info info;
	struct dp_rtcp_sender_info si = {.ntp = 0xe9a2b3c440000000ull};
	uint8_t out[128];
	uint32_t arrival = 0;
	uint64_t n = 0;
	int len;

	for (size_t off = 0; off + 8 <= size; off += 8, n++) {
		const uint8_t *p = data + off;

		arrival += p[7] * 20u;
		dp_rtpstats_update(&a, (p[0] & 1) ? 0xbbbbbbbb : 0xaaaaaaaa, dp_rtp_rd16(p + 1),
			dp_rtp_rd32(p + 3), 172, arrival, n);
		if (p[0] & 2)
			dp_rtpstats_sr_received(&a, a.ssrc, si.ntp, n);
		if (p[0] & 4)
			dp_rtpstats_mark(&a);
	}
	dp_rtpstats_get(&a, &r);
	if (r.packets != n || r.bytes != n * 172 || r.received > r.packets ||
		r.duplicates + r.out_of_order > r.packets || r.jitter > r.jitter_max ||
		(!r.valid && (r.expected || r.received)))
		abort();
	(void)dp_rtpstats_loss_pct(&r);
	(void)dp_rtpstats_jitter_ms(&a, 8000);

	len = dp_rtcp_build(out, sizeof(out), 0x12345678, &si, src, 1, "fuzz@tollgate", n);
	if (len < 0 || dp_rtcp_parse(out, (size_t)len, &info) != 0 ||
		info.nblocks != (r.valid ? 1 : 0) || !info.has_sr)
		abort();
	if (r.valid &&
		(info.blocks[0].ssrc != r.ssrc || info.blocks[0].ext_max_seq != r.ext_max_seq ||
			info.blocks[0].jitter != r.jitter ||
			info.blocks[0].fraction_lost != r.fraction_lost))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parse(data, size);
	check_rtp(data, size);
	check_stats(data, size);
	return 0;
}
