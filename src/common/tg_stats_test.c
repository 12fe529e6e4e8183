/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stats segment across real processes: a writer updating two counters that must always be
 * equal, a reader checking every snapshot; self-description; restart; garbage.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tg_log.h"
#include "tg_stats.h"
#include "tg_time.h"

static char instance[32];
static const char *const lcore_names[] = {"rx_pkts", "rx_bytes", "tx_pkts"};
static const char *const port_names[] = {"ipackets", "imissed"};

static int setup(void **state)
{
	snprintf(instance, sizeof(instance), "s%d", (int)getpid());
	return 0;
}

static struct tg_stats_seg *make_seg(unsigned lcores, unsigned ports)
{
	struct tg_stats_kind_params k[TG_STATS__KINDS] = {
		[TG_STATS_LCORE] = {lcores, 3, lcore_names},
		[TG_STATS_PORT] = {ports, 2, port_names},
	};
	struct tg_stats_seg *s = tg_stats_create(instance, k);

	assert_non_null(s);
	return s;
}

static void test_self_describing(void **state)
{
	struct tg_stats_seg *w = make_seg(2, 1), *r;
	char err[128];

	struct tg_stats_block *b = tg_stats_block(w, TG_STATS_LCORE, 1);
	assert_non_null(b);
	assert_null(tg_stats_block(w, TG_STATS_LCORE, 2));
	tg_stats_write_begin(b);
	b->id = 7;
	snprintf(b->label, sizeof(b->label), "worker 7");
	b->v[0] = 5;
	b->v[2] = 9;
	tg_stats_write_end(b, tg_now_ns());

	assert_int_equal(tg_stats_open(instance, &r, err, sizeof(err)), 0);
	assert_int_equal(tg_stats_n_blocks(r, TG_STATS_LCORE), 2);
	assert_int_equal(tg_stats_n_blocks(r, TG_STATS_PORT), 1);
	assert_int_equal(tg_stats_n_counters(r, TG_STATS_PORT), 2);
	assert_string_equal(tg_stats_counter_name(r, TG_STATS_LCORE, 2), "tx_pkts");
	assert_string_equal(tg_stats_counter_name(r, TG_STATS_PORT, 1), "imissed");
	assert_null(tg_stats_counter_name(r, TG_STATS_PORT, 2));
	assert_int_equal(tg_stats_find(r, TG_STATS_LCORE, "tx_pkts"), 2);
	assert_int_equal(tg_stats_find(r, TG_STATS_LCORE, "nope"), -ENOENT);

	struct tg_stats_snapshot snap;
	assert_int_equal(tg_stats_read(r, TG_STATS_LCORE, 1, &snap), 0);
	assert_int_equal(snap.id, 7);
	assert_string_equal(snap.label, "worker 7");
	assert_int_equal(snap.v[0], 5);
	assert_int_equal(snap.v[2], 9);
	assert_int_equal(tg_stats_read(r, TG_STATS_LCORE, 2, &snap), -EINVAL);
	uint64_t sum;
	assert_int_equal(tg_stats_sum(r, TG_STATS_LCORE, 0, &sum), 0);
	assert_int_equal(sum, 5);
	assert_false(tg_stats_stale(r));
	tg_stats_close(r);
	tg_stats_destroy(w);
}

static void test_snapshots_consistent_across_processes(void **state)
{
	struct tg_stats_seg *w = make_seg(1, 0), *r;
	char err[128];
	int go[2];
	pid_t pid;

	assert_int_equal(pipe(go), 0);
	pid = fork();
	if (pid == 0) {
		/* the writer: bumps v[0] and v[1] together, burst by burst, for a bounded time */
		struct tg_stats_block *b = tg_stats_block(w, TG_STATS_LCORE, 0);
		uint64_t end = tg_now_ns() + 300 * TG_NS_PER_MS;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (write(go[1], "g", 1) != 1)
			_exit(2);
		while (tg_now_ns() < end) {
			tg_stats_write_begin(b);
			b->v[0] += 1;
			b->v[1] += 1;
			b->v[2] = b->v[0] * 3;
			tg_stats_write_end(b, 0);
		}
		_exit(0);
	}
	char c;
	assert_int_equal(read(go[0], &c, 1), 1);
	assert_int_equal(tg_stats_open(instance, &r, err, sizeof(err)), 0);
	uint64_t last = 0, reads = 0, torn = 0;
	int st;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		struct tg_stats_snapshot snap;

		if (tg_stats_read(r, TG_STATS_LCORE, 0, &snap) < 0)
			continue;
		reads++;
		if (snap.v[0] != snap.v[1] || snap.v[2] != snap.v[0] * 3 || snap.v[0] < last)
			torn++;
		last = snap.v[0];
	}
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(reads > 100);
	assert_true(last > 0);
	assert_int_equal(torn, 0);
	tg_stats_close(r);
	tg_stats_destroy(w);
	close(go[0]);
	close(go[1]);
}

static void test_restart_makes_reader_stale(void **state)
{
	struct tg_stats_seg *w = make_seg(1, 1), *r, *r2;
	char err[128];

	assert_int_equal(tg_stats_open(instance, &r, err, sizeof(err)), 0);
	tg_stats_destroy(w);
	assert_true(tg_stats_stale(r));
	assert_int_equal(tg_stats_open(instance, &r2, err, sizeof(err)), -ENOENT);
	w = make_seg(1, 1);
	assert_int_equal(tg_stats_open(instance, &r2, err, sizeof(err)), 0);
	assert_false(tg_stats_stale(r2));
	tg_stats_close(r);
	tg_stats_close(r2);
	tg_stats_destroy(w);
}

static void test_garbage_refused(void **state)
{
	struct tg_stats_seg *w = make_seg(2, 1), *r;
	char name[64], err[160];
	int fd;

	assert_int_equal(tg_stats_shm_name(instance, name, sizeof(name)), 0);
	fd = shm_open(name, O_RDWR, 0);
	assert_true(fd >= 0);
	size_t size = (size_t)lseek(fd, 0, SEEK_END);
	uint8_t *seg = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	uint8_t *copy = malloc(size);
	memcpy(copy, seg, size);

	for (size_t i = 0; i < size; i++)
		seg[i] = (uint8_t)(i * 131 + 7);
	assert_int_equal(tg_stats_open(instance, &r, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "magic"));
	memcpy(seg, copy, size);
	((uint32_t *)seg)[2] = TG_STATS_LAYOUT_VERSION + 9;
	assert_int_equal(tg_stats_open(instance, &r, err, sizeof(err)), -EPROTONOSUPPORT);
	/* any single flipped header byte: refused, or readable within bounds */
	for (size_t i = 8; i < 200; i++) {
		memcpy(seg, copy, size);
		seg[i] ^= 0xa5;
		if (tg_stats_open(instance, &r, err, sizeof(err)) == 0) {
			struct tg_stats_snapshot snap;
			for (int k = 0; k < TG_STATS__KINDS; k++)
				for (unsigned b = 0; b < tg_stats_n_blocks(r, k); b++)
					tg_stats_read(r, k, b, &snap);
			tg_stats_close(r);
		}
	}
	/* too big counts are refused before any layout is computed */
	struct tg_stats_kind_params k[TG_STATS__KINDS] = {
		[TG_STATS_LCORE] = {TG_STATS_MAX_BLOCKS + 1, 3, lcore_names},
	};
	assert_null(tg_stats_create("other", k));
	memcpy(seg, copy, size);
	free(copy);
	munmap(seg, size);
	close(fd);
	tg_stats_destroy(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_self_describing, setup),
		cmocka_unit_test_setup(test_snapshots_consistent_across_processes, setup),
		cmocka_unit_test_setup(test_restart_makes_reader_stale, setup),
		cmocka_unit_test_setup(test_garbage_refused, setup),
	};

	tg_log_set_level("all", "err");
	return cmocka_run_group_tests_name("tg_stats", tests, NULL, NULL);
}
