/* SPDX-License-Identifier: BSD-3-Clause */
#include "tg_hmap.h"

#include <errno.h>
#include <stdlib.h>

uint64_t tg_hash_str(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

int tg_hmap_init(struct tg_hmap *m, size_t hint)
{
	size_t n = 16;

	while (n < hint)
		n <<= 1;
	m->buckets = calloc(n, sizeof(*m->buckets));
	m->nbuckets = m->buckets ? n : 0;
	m->count = 0;
	return m->buckets ? 0 : -ENOMEM;
}

void tg_hmap_fini(struct tg_hmap *m)
{
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = m->count = 0;
}

static void grow(struct tg_hmap *m)
{
	size_t n = m->nbuckets * 2;
	struct tg_hnode **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct tg_hnode *x = m->buckets[i], *next;

		for (; x; x = next) {
			next = x->next;
			x->next = b[x->hash & (n - 1)];
			b[x->hash & (n - 1)] = x;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

void tg_hmap_insert(struct tg_hmap *m, struct tg_hnode *n, uint64_t hash)
{
	struct tg_hnode **b;

	if (m->count >= m->nbuckets)
		grow(m);
	b = &m->buckets[hash & (m->nbuckets - 1)];
	n->hash = hash;
	n->next = *b;
	*b = n;
	m->count++;
}

void tg_hmap_remove(struct tg_hmap *m, struct tg_hnode *n)
{
	struct tg_hnode **p = &m->buckets[n->hash & (m->nbuckets - 1)];

	for (; *p; p = &(*p)->next) {
		if (*p == n) {
			*p = n->next;
			n->next = NULL;
			m->count--;
			return;
		}
	}
}
