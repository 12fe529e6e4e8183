/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An intrusive chained hash table for the control plane's lookups by string key (transactions
 * by branch, dialogs by Call-ID and tags, calls by id). The caller embeds a tg_hnode in its
 * object, computes the hash (tg_hash_str) and compares keys itself; the table only chains and
 * grows (doubling at load 1, so a lookup stays O(1) from ten entries to a million). No
 * allocation per insert except when the bucket array grows. One thread.
 */
#ifndef TG_HMAP_H
#define TG_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tg_hnode {
	struct tg_hnode *next;
	uint64_t hash;
};

struct tg_hmap {
	struct tg_hnode **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
};

/* FNV-1a over len bytes, continuing from h (start with TG_HASH_SEED). */
#define TG_HASH_SEED 0xcbf29ce484222325ull
static inline uint64_t tg_hash_bytes(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
uint64_t tg_hash_str(uint64_t h, const char *s);

/* 0 or -ENOMEM */
int tg_hmap_init(struct tg_hmap *m, size_t nbuckets_hint);
/* Frees the buckets only: the nodes are the caller's. */
void tg_hmap_fini(struct tg_hmap *m);
/* Inserts n (never a duplicate check: the caller looked first). Growing may fail silently:
 * the table still works, only slower. */
void tg_hmap_insert(struct tg_hmap *m, struct tg_hnode *n, uint64_t hash);
void tg_hmap_remove(struct tg_hmap *m, struct tg_hnode *n);

/* Iterates the nodes with this hash: for (n = tg_hmap_first(m, h); n; n = tg_hmap_next(n, h)) */
static inline struct tg_hnode *tg_hmap_next(struct tg_hnode *n, uint64_t hash)
{
	for (n = n->next; n && n->hash != hash; n = n->next)
		;
	return n;
}
static inline struct tg_hnode *tg_hmap_first(const struct tg_hmap *m, uint64_t hash)
{
	struct tg_hnode *n = m->buckets[hash & (m->nbuckets - 1)];

	while (n && n->hash != hash)
		n = n->next;
	return n;
}

#endif
