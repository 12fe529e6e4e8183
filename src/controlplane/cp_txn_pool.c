/* SPDX-License-Identifier: BSD-3-Clause */
/* Resident blocks for libosip2's transactions (see cp_txn_pool.h). */
#include "cp_txn_pool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>

#include <osip2/osip.h>
#include <osipparser2/osip_port.h>

#if defined(__SANITIZE_ADDRESS__)
#define POOL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_SANITIZED 1
#endif
#endif
#ifndef POOL_SANITIZED
#define POOL_SANITIZED 0
#endif

/* Address space only (MAP_NORESERVE): a block costs memory once it is first used. Past the
 * region (more live transactions than this), blocks come from malloc like the rest. */
#define POOL_BLOCKS (1u << 17)

struct block {
	struct block *next;
};

static struct {
	char *base;
	size_t block;  /* sizeof(osip_transaction_t), rounded to 64 */
	size_t cap;    /* blocks in the region */
	size_t carved; /* blocks touched so far: [0, carved) */
	size_t in_use;
	struct block *free; /* LIFO: the warmest block first */
} pool;

static bool in_pool(const void *p)
{
	return pool.base && (uintptr_t)p - (uintptr_t)pool.base < pool.cap * pool.block;
}

static void *pool_malloc(size_t size)
{
	struct block *b;

	if (size != sizeof(osip_transaction_t))
		return malloc(size);
	if ((b = pool.free)) {
		pool.free = b->next;
	} else if (pool.carved < pool.cap) {
		b = (struct block *)(pool.base + pool.carved++ * pool.block);
	} else {
		return malloc(size);
	}
	pool.in_use++;
	return b;
}

static void pool_free(void *p)
{
	struct block *b = p;

	if (!in_pool(p)) {
		free(p);
		return;
	}
	b->next = pool.free;
	pool.free = b;
	pool.in_use--;
}

static void *pool_realloc(void *p, size_t size)
{
	/* libosip2 never resizes a transaction; a pool block is moved out all the same */
	if (in_pool(p)) {
		void *n = malloc(size);

		if (!n)
			return NULL;
		memcpy(n, p, size < pool.block ? size : pool.block);
		pool_free(p);
		return n;
	}
	return realloc(p, size);
}

int cp_txn_pool_install(void)
{
	void *base;

	if (POOL_SANITIZED || pool.base)
		return 0;
	pool.block = (sizeof(osip_transaction_t) + 63) & ~(size_t)63;
	base = mmap(NULL, POOL_BLOCKS * pool.block, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	pool.base = base;
	pool.cap = POOL_BLOCKS;
	osip_set_allocators(pool_malloc, pool_realloc, pool_free);
	return 0;
}

bool cp_txn_pool_active(void)
{
	return pool.base != NULL;
}

size_t cp_txn_pool_in_use(void)
{
	return pool.in_use;
}

size_t cp_txn_pool_resident(void)
{
	return pool.carved;
}
