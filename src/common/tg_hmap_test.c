/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tg_hmap.h"

struct item {
	struct tg_hnode node;
	char key[32];
};

static struct item *find(struct tg_hmap *m, const char *key)
{
	uint64_t h = tg_hash_str(TG_HASH_SEED, key);

	for (struct tg_hnode *n = tg_hmap_first(m, h); n; n = tg_hmap_next(n, h)) {
		struct item *it = (struct item *)n;

		if (!strcmp(it->key, key))
			return it;
	}
	return NULL;
}

static void insert_find_remove_through_growth(void **state)
{
	enum { N = 100000 };
	struct tg_hmap m;
	struct item *items = calloc(N, sizeof(*items));

	assert_non_null(items);
	assert_int_equal(tg_hmap_init(&m, 0), 0);
	for (unsigned i = 0; i < N; i++) {
		snprintf(items[i].key, sizeof(items[i].key), "z9hG4bK-%u", i);
		tg_hmap_insert(&m, &items[i].node, tg_hash_str(TG_HASH_SEED, items[i].key));
	}
	assert_int_equal(m.count, N);
	assert_true(m.nbuckets >= N);
	for (unsigned i = 0; i < N; i += 7)
		assert_ptr_equal(find(&m, items[i].key), &items[i]);
	assert_null(find(&m, "z9hG4bK-absent"));
	for (unsigned i = 0; i < N; i += 2)
		tg_hmap_remove(&m, &items[i].node);
	assert_int_equal(m.count, N / 2);
	for (unsigned i = 0; i < N; i++)
		assert_ptr_equal(find(&m, items[i].key), i % 2 ? &items[i] : NULL);
	tg_hmap_fini(&m);
	free(items);
}

static void colliding_hashes_are_told_apart_by_key(void **state)
{
	struct tg_hmap m;
	struct item a = {.key = "a"}, b = {.key = "b"};
	unsigned seen = 0;

	assert_int_equal(tg_hmap_init(&m, 4), 0);
	/* same hash on purpose: the chain walk must still compare keys */
	tg_hmap_insert(&m, &a.node, 42);
	tg_hmap_insert(&m, &b.node, 42);
	for (struct tg_hnode *n = tg_hmap_first(&m, 42); n; n = tg_hmap_next(n, 42))
		seen++;
	assert_int_equal(seen, 2);
	tg_hmap_remove(&m, &a.node);
	assert_ptr_equal(tg_hmap_first(&m, 42), &b.node);
	assert_null(tg_hmap_next(&b.node, 42));
	tg_hmap_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(insert_find_remove_through_growth),
		cmocka_unit_test(colliding_hashes_are_told_apart_by_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
