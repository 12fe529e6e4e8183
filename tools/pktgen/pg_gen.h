/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sending side: per-stream templates, TSC pacing and bursts of up to PG_BURST packets.
 * Packet k of a run goes to stream k % K with sequence k / K, so the packets each stream got
 * follow from the total, and a burst the port partly refuses is simply resumed at the first
 * refused packet (same stream, same sequence): no gap in any stream's sequence.
 *
 * Threading: set up by the main lcore before sending starts; then written only by the TX
 * lcore; read by others once TX has published its end (see pg_app.c).
 */
#ifndef TG_PG_GEN_H
#define TG_PG_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mempool.h>

#include "dpk_env.h"
#include "pg_args.h"
#include "pg_pkt.h"

#define PG_BURST 32

struct pg_gen {
	/* fixed before sending starts */
	uint16_t port;
	uint16_t queue;
	struct rte_mempool *mp;
	struct pg_pkt_layout lay;
	struct pg_tmpl *tmpl; /* one per stream */
	uint8_t *filler;
	unsigned n_streams;
	uint32_t ts_step;
	uint64_t ol_flags; /* mbuf offload flags when the port checksums UDP, else 0 */
	uint64_t pps;	   /* 0: as fast as the port takes them */
	uint64_t hz;
	uint64_t limit;	       /* packets; UINT64_MAX when only the time bounds the run */
	uint64_t duration_tsc; /* time bound */
	/* TX lcore */
	uint64_t start_tsc;
	uint64_t end_tsc; /* when sending ended: the limit or the time bound was reached */
	uint64_t sent;	  /* accepted by the port: also the index of the next packet */
	unsigned cur;	  /* stream of packet 'sent' */
	uint64_t cur_seq; /* and its sequence in that stream */
	uint64_t refused;
	uint64_t nombuf;
	bool done;
};

/*
 * Templates for every stream of a (the addresses, MACs, payload), checksums in software unless
 * info says the port offloads UDP checksums. 0, -EINVAL or -ENOMEM.
 */
int pg_gen_init(struct pg_gen *g, const struct pg_args *a, uint16_t port, struct rte_mempool *mp,
	const struct dpk_port_info *info, uint64_t hz);
void pg_gen_fini(struct pg_gen *g);

/* Sending starts now: pacing and the time bound count from here. */
void pg_gen_start(struct pg_gen *g, uint64_t now);

/* One step: sends what is due (at most a burst). false once sending is over (g->done). */
bool pg_gen_poll(struct pg_gen *g, uint64_t now);

/* Ends sending early (a signal). */
void pg_gen_abort(struct pg_gen *g, uint64_t now);

#endif
