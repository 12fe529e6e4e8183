/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tg-pktgen's command line. One table row per option (name, argument, type, field, bounds, help)
 * drives parsing, the checks between options and --help. Nothing here touches DPDK, so the
 * parser is unit-tested without an EAL; everything after "--" is handed to the EAL untouched.
 */
#ifndef TG_PG_ARGS_H
#define TG_PG_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PG_MAX_STREAMS 65536
#define PG_MAX_ENDPOINTS 1024 /* entries of an explicit --dst/--src list */
#define PG_RTP_HDR_LEN 12
#define PG_TAG_LEN 24
#define PG_MIN_PAYLOAD (PG_RTP_HDR_LEN + PG_TAG_LEN)
#define PG_MAX_PAYLOAD_V4 1472 /* 1500-byte MTU less IPv4 and UDP headers */
#define PG_MAX_PAYLOAD_V6 1452

struct pg_endpoint {
	uint8_t family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
	uint16_t port;	  /* host order */
};

/* Same values as enum dpk_huge_mode (checked where both are visible). */
enum pg_huge {
	PG_HUGE_AUTO = 0,
	PG_HUGE_ON = 1,
	PG_HUGE_OFF = 2,
};

/* One id per option: bit (1 << id) of pg_args.given says the option was on the command line. */
enum pg_opt_id {
	PG_O_DST,
	PG_O_SRC,
	PG_O_DST_MAC,
	PG_O_SRC_MAC,
	PG_O_STREAMS,
	PG_O_PPS,
	PG_O_DURATION,
	PG_O_COUNT,
	PG_O_PTIME,
	PG_O_PT,
	PG_O_PAYLOAD,
	PG_O_RX_ONLY,
	PG_O_TX_ONLY,
	PG_O_GRACE,
	PG_O_PORT,
	PG_O_LCORES,
	PG_O_FILE_PREFIX,
	PG_O_HUGE,
	PG_O_MEMORY,
	PG_O_MBUFS,
	PG_O_RX_DESC,
	PG_O_TX_DESC,
	PG_O_LINK_WAIT,
	PG_O_LOG,
	PG_O_HELP,
	PG_O__COUNT
};

struct pg_args {
	/* traffic */
	struct pg_endpoint dst[PG_MAX_ENDPOINTS]; /* one: a base, stream i at port + 2i */
	unsigned n_dst;
	struct pg_endpoint src[PG_MAX_ENDPOINTS];
	unsigned n_src;
	uint8_t dst_mac[6];
	uint8_t src_mac[6]; /* meaningful when given, else the port's MAC */
	unsigned n_streams;
	uint64_t pps;	      /* total packets per second, 0 = as fast as possible */
	uint64_t count;	      /* packets to send (rx-only: to receive), 0 = no count limit */
	uint64_t duration_ms; /* time bound; always set after pg_args_parse succeeds */
	unsigned ptime_ms;
	unsigned pt;
	unsigned payload_size; /* UDP payload bytes: RTP header + tag + filler */
	/* modes */
	bool rx_only;
	bool tx_only;
	unsigned grace_ms; /* receive this long after TX ends (idle time, see pg_app.c) */
	/* port and EAL */
	unsigned port;
	char lcores[64];
	char file_prefix[64];
	unsigned huge; /* enum pg_huge */
	unsigned memory_mb;
	unsigned mbufs;
	unsigned rx_desc;
	unsigned tx_desc;
	uint64_t link_wait_ms;
	char log[128];
	/* what follows "--": EAL arguments, pointers into argv */
	int eal_argc;
	char **eal_argv;
	uint64_t given; /* bit per enum pg_opt_id */
};

enum pg_args_result {
	PG_ARGS_RUN = 0,   /* go on */
	PG_ARGS_EXIT = 1,  /* --help was asked for: print pg_args_usage, exit 0 */
	PG_ARGS_ERROR = 2, /* err holds a one-line reason naming the option: exit 2 */
};

/*
 * Fills a with the defaults, then parses argv[1..] up to "--" (both "--opt value" and
 * "--opt=value"), then checks the options against each other and derives what depends on
 * others (stream count from a --dst list, default rate and time bound, default source).
 * Not thread-safe (uses nothing global, but a is written throughout).
 */
enum pg_args_result pg_args_parse(
	struct pg_args *a, int argc, char **argv, char *err, size_t errlen);

void pg_args_usage(FILE *out, const char *prog);

static inline bool pg_args_given(const struct pg_args *a, enum pg_opt_id id)
{
	return (a->given >> id) & 1;
}

/* Endpoint of stream i: entry i of an explicit list, or the base with port + 2i. */
void pg_args_stream_endpoint(
	const struct pg_endpoint *list, unsigned n, unsigned i, struct pg_endpoint *out);

/* "1.2.3.4:5" or "[::1]:5" into buf; returns buf. */
const char *pg_endpoint_str(const struct pg_endpoint *e, char *buf, size_t len);

/* Parsers shared with the tests: 0 or -EINVAL. */
int pg_parse_endpoint(const char *s, struct pg_endpoint *out);
int pg_parse_mac(const char *s, uint8_t mac[6]);

#endif
