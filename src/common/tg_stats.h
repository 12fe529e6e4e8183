/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The statistics segment: a POSIX shared-memory object the dataplane writes and any process maps
 * read-only ("/tollgate.<instance>.stats"). It is self-describing: counter names live in the
 * segment, so tgctl or a monitoring agent need nothing compiled in but this header.
 *
 * Blocks: one per worker/main lcore (kind LCORE) and one per port (kind PORT). Each block has one
 * writer and a sequence number: odd while the writer updates, even when consistent. Writers bump
 * it twice per burst, never per packet; readers retry until they read the same even value before
 * and after copying, so a snapshot of a block is always consistent and never stops a writer.
 * The header's generation changes when the dataplane restarts: readers then re-open.
 */
#ifndef TG_STATS_H
#define TG_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TG_STATS_MAGIC 0x3141545347474f54ULL /* "TOGGSTA1" little-endian */
#define TG_STATS_LAYOUT_VERSION 1
#define TG_STATS_NAME_LEN 32
#define TG_STATS_MAX_BLOCKS 256
#define TG_STATS_MAX_COUNTERS 256

enum tg_stats_kind { TG_STATS_LCORE = 0, TG_STATS_PORT = 1, TG_STATS__KINDS };

struct tg_stats_block {
	volatile uint64_t seq; /* the block's writer: odd while updating */
	uint64_t updated_ns;   /* CLOCK_MONOTONIC of the last update */
	uint32_t id;	       /* lcore id or port id */
	uint32_t pad;
	char label[TG_STATS_NAME_LEN]; /* "worker 1", "port 0 net_tap0" */
	uint64_t v[];		       /* n_counters of the kind */
};

struct tg_stats_seg;

struct tg_stats_kind_params {
	unsigned n_blocks;
	unsigned n_counters;
	const char *const *names; /* n_counters names */
};

int tg_stats_shm_name(const char *instance, char *buf, size_t len);

/* Writer (dataplane). NULL with errno on failure. */
struct tg_stats_seg *tg_stats_create(
	const char *instance, const struct tg_stats_kind_params kinds[TG_STATS__KINDS]);
void tg_stats_destroy(struct tg_stats_seg *s);
struct tg_stats_block *tg_stats_block(struct tg_stats_seg *s, enum tg_stats_kind k, unsigned i);
uint32_t tg_stats_generation(const struct tg_stats_seg *s);

static inline void tg_stats_write_begin(struct tg_stats_block *b)
{
	__atomic_store_n(&b->seq, b->seq + 1, __ATOMIC_RELAXED);
	/* the odd value must be visible before any counter store */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void tg_stats_write_end(struct tg_stats_block *b, uint64_t now_ns)
{
	b->updated_ns = now_ns;
	__atomic_store_n(&b->seq, b->seq + 1, __ATOMIC_RELEASE);
}

/*
 * Reader (any process, read-only mapping). Returns 0 or -ENOENT (no dataplane), -EPROTO /
 * -EPROTONOSUPPORT (not a stats segment, corrupt, other layout) with the reason in err.
 */
int tg_stats_open(const char *instance, struct tg_stats_seg **out, char *err, size_t errlen);
void tg_stats_close(struct tg_stats_seg *s);
int tg_stats_validate(const void *seg, size_t size, char *err, size_t errlen);
unsigned tg_stats_n_blocks(const struct tg_stats_seg *s, enum tg_stats_kind k);
unsigned tg_stats_n_counters(const struct tg_stats_seg *s, enum tg_stats_kind k);
const char *tg_stats_counter_name(const struct tg_stats_seg *s, enum tg_stats_kind k, unsigned c);
/* True when the dataplane restarted or stopped since this reader opened the segment. */
bool tg_stats_stale(const struct tg_stats_seg *s);

struct tg_stats_snapshot {
	uint32_t id;
	uint64_t updated_ns;
	char label[TG_STATS_NAME_LEN];
	uint64_t v[TG_STATS_MAX_COUNTERS];
};

/* A consistent copy of one block. -EAGAIN if the writer kept it busy for every retry. */
int tg_stats_read(const struct tg_stats_seg *s, enum tg_stats_kind k, unsigned i,
	struct tg_stats_snapshot *out);
/* Sum of counter c over every block of kind k, each block read consistently. */
int tg_stats_sum(const struct tg_stats_seg *s, enum tg_stats_kind k, unsigned c, uint64_t *out);
/* Index of a counter by name, or -ENOENT. */
int tg_stats_find(const struct tg_stats_seg *s, enum tg_stats_kind k, const char *name);

#endif
