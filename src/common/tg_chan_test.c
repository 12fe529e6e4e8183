/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The channel between two real processes: messages in order, request/reply, back-pressure,
 * a restarted dataplane, version mismatch, garbage in the segment, a second control plane.
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

#include "tg_chan.h"
#include "tg_log.h"
#include "tg_time.h"

static char instance[32];

static int setup(void **state)
{
	snprintf(instance, sizeof(instance), "t%d", (int)getpid());
	return 0;
}

static struct tg_chan *make_chan(unsigned rings, unsigned size)
{
	struct tg_chan_params p = {.instance = instance, .n_cmd_rings = rings, .ring_size = size};
	struct tg_chan *ch = tg_chan_create(&p);

	assert_non_null(ch);
	return ch;
}

static int wait_child(pid_t pid)
{
	int st = 0;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The child plays the control plane: attaches, sends numbered PINGs, checks every reply. */
static int child_cp(unsigned n)
{
	struct tg_chan *ch;
	struct tg_msg m[32], r[32];
	unsigned sent = 0, got = 0;
	uint64_t deadline = tg_now_ns() + 10 * TG_NS_PER_S;
	char err[128];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (tg_chan_attach(instance, &ch, err, sizeof(err)) < 0)
		return 10;
	while (got < n && tg_now_ns() < deadline) {
		unsigned k = n - sent < 32 ? n - sent : 32, done;

		for (unsigned i = 0; i < k; i++) {
			memset(&m[i], 0, sizeof(m[i]));
			m[i].type = TG_MSG_PING;
			m[i].req_id = sent + i + 1;
			m[i].u.ping.seq = sent + i;
		}
		done = tg_chan_cmd_send(ch, 0, m, k);
		sent += done;
		done = tg_chan_evt_recv(ch, r, 32);
		for (unsigned i = 0; i < done; i++, got++) {
			if (!(r[i].flags & TG_MSGF_REPLY) || r[i].req_id != got + 1 ||
				r[i].u.ping.seq != got)
				return 11; /* lost, duplicated or reordered */
		}
	}
	tg_chan_detach(ch);
	return got == n ? 0 : 12;
}

static void test_two_processes_request_reply(void **state)
{
	struct tg_chan *ch = make_chan(2, 256);
	const unsigned n = 100000;
	struct tg_msg m[32];
	unsigned handled = 0;
	uint64_t deadline = tg_now_ns() + 10 * TG_NS_PER_S;
	pid_t pid = fork();

	if (pid == 0)
		_exit(child_cp(n));
	while (handled < n && tg_now_ns() < deadline) {
		unsigned k = tg_chan_cmd_recv(ch, 0, m, 32), sent = 0;

		for (unsigned i = 0; i < k; i++) {
			assert_int_equal(m[i].type, TG_MSG_PING);
			m[i].flags |= TG_MSGF_REPLY;
			m[i].dp_gen = tg_chan_generation(ch);
		}
		/* the dataplane never blocks; in this test it may wait for the reply to fit */
		while (sent < k)
			sent += tg_chan_evt_send(ch, m + sent, k - sent);
		handled += k;
	}
	assert_int_equal(handled, n);
	assert_int_equal(wait_child(pid), 0);
	assert_int_equal(tg_chan_counters(ch)->cmd_recv[0], n);
	tg_chan_destroy(ch);
}

static void test_ring_full_is_backpressure(void **state)
{
	struct tg_chan *ch = make_chan(1, 64), *cp;
	struct tg_msg m[100] = {0}, out[100];
	unsigned done, total;
	char err[128];

	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 100; i++)
		m[i].req_id = i + 1;
	done = tg_chan_cmd_send(cp, 0, m, 100);
	/* a ring of 64 slots holds 63: the rest stays with the sender, and is counted */
	assert_int_equal(done, 63);
	assert_int_equal(tg_chan_counters(cp)->cmd_full[0], 37);
	assert_int_equal(tg_chan_cmd_free(cp, 0), 0);
	total = tg_chan_cmd_recv(ch, 0, out, 100);
	assert_int_equal(total, 63);
	done = tg_chan_cmd_send(cp, 0, m + 63, 37);
	assert_int_equal(done, 37);
	total += tg_chan_cmd_recv(ch, 0, out + 63, 37);
	assert_int_equal(total, 100);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(out[i].req_id, i + 1);
	/* a ring index beyond the segment's is refused, not followed */
	assert_int_equal(tg_chan_cmd_send(cp, 5, m, 1), 0);
	tg_chan_detach(cp);
	tg_chan_destroy(ch);
}

static void test_dataplane_restart_is_seen(void **state)
{
	struct tg_chan *cp, *cp2;
	char err[128];
	uint32_t gen1;
	int ready[2], go[2];
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	if (pid == 0) {
		/* first dataplane: create, signal, wait to be told to exit */
		struct tg_chan *ch = make_chan(1, 64);
		char c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		tg_chan_destroy(ch);
		_exit(0);
	}
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), 0);
	gen1 = tg_chan_generation(cp);
	assert_false(tg_chan_replaced(cp));
	assert_int_equal(tg_chan_state(cp), TG_CHAN_STATE_READY);
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(wait_child(pid), 0);
	/* clean stop: the old mapping says CLOSED and the name is gone */
	assert_int_equal(tg_chan_state(cp), TG_CHAN_STATE_CLOSED);
	assert_true(tg_chan_replaced(cp));
	assert_int_equal(tg_chan_attach(instance, &cp2, err, sizeof(err)), -ENOENT);

	/* a new dataplane under the same name: new generation, the old handle sees it */
	struct tg_chan *ch2 = make_chan(1, 64);
	assert_true(tg_chan_replaced(cp));
	assert_int_equal(tg_chan_attach(instance, &cp2, err, sizeof(err)), 0);
	assert_int_not_equal(tg_chan_generation(cp2), gen1);
	tg_chan_detach(cp);
	tg_chan_detach(cp2);
	tg_chan_destroy(ch2);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

static void test_crashed_dataplane_is_replaced(void **state)
{
	struct tg_chan *cp, *ch;
	char err[128];
	pid_t pid = fork();

	if (pid == 0) {
		make_chan(1, 64);
		_exit(0); /* "crash": no destroy, the segment stays READY with a stale heartbeat */
	}
	assert_int_equal(wait_child(pid), 0);
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), 0);
	uint64_t age = tg_now_ns() - tg_chan_dp_heartbeat_ns(cp);
	assert_true(age < 60 * TG_NS_PER_S); /* sane clock domain */
	/* the restarted dataplane replaces the stale segment instead of failing */
	ch = make_chan(1, 64);
	assert_true(tg_chan_replaced(cp));
	tg_chan_detach(cp);
	tg_chan_destroy(ch);
}

static void *map_raw(const char *what, size_t *size)
{
	char name[64];
	int fd;
	void *p;

	assert_int_equal(tg_chan_shm_name(instance, name, sizeof(name)), 0);
	(void)what;
	fd = shm_open(name, O_RDWR, 0);
	assert_true(fd >= 0);
	*size = (size_t)lseek(fd, 0, SEEK_END);
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	close(fd);
	return p;
}

static void test_version_mismatch(void **state)
{
	struct tg_chan *ch = make_chan(1, 64), *cp;
	char err[160] = "";
	size_t size;
	uint32_t *seg = map_raw("chan", &size);

	seg[2] = TG_CHAN_LAYOUT_VERSION + 1; /* layout_version follows the 8-byte magic */
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "layout version"));
	seg[2] = TG_CHAN_LAYOUT_VERSION;
	seg[3] = TG_MSG_SIZE * 2; /* msg_size */
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "message size"));
	munmap(seg, size);
	tg_chan_destroy(ch);
}

static void test_garbage_segment(void **state)
{
	struct tg_chan *ch = make_chan(2, 128), *cp;
	char err[160] = "";
	size_t size;
	uint8_t *seg = map_raw("chan", &size);
	uint8_t *copy = malloc(size);

	memcpy(copy, seg, size);
	/* random bytes everywhere */
	srand(1234);
	for (size_t i = 0; i < size; i++)
		seg[i] = (uint8_t)rand();
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "magic"));

	/* a valid header whose ring geometry is impossible */
	memcpy(seg, copy, size);
	((uint32_t *)seg)[8] = 3; /* ring_size: not a power of two */
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "geometry"));

	/* a valid header with a corrupt ring inside */
	memcpy(seg, copy, size);
	memset(seg + 4096, 0xff, 256);
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "ring"));

	/* an unknown state value is corruption, not a start-up race (state follows instance[]) */
	memcpy(seg, copy, size);
	assert_int_equal(*(uint32_t *)(seg + 208), TG_CHAN_STATE_READY);
	*(uint32_t *)(seg + 208) = 7;
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "unknown state"));
	*(uint32_t *)(seg + 208) = TG_CHAN_STATE_INIT;
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), -EAGAIN);

	/* every single corrupted byte of the header is either refused or harmless */
	for (size_t i = 0; i < 512; i++) {
		memcpy(seg, copy, 4096);
		seg[i] ^= 0x5a;
		if (tg_chan_attach(instance, &cp, err, sizeof(err)) == 0) {
			struct tg_msg m = {.type = TG_MSG_PING};
			tg_chan_cmd_send(cp, 0, &m, 1);
			tg_chan_evt_recv(cp, &m, 1);
			tg_chan_detach(cp);
		}
	}
	memcpy(seg, copy, size);
	free(copy);
	munmap(seg, size);
	tg_chan_destroy(ch);
}

static void test_truncated_and_missing(void **state)
{
	struct tg_chan *cp;
	char name[64], err[160] = "";
	int fd;

	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "tollgate"));
	assert_int_equal(tg_chan_attach("bad/name", &cp, err, sizeof(err)), -EINVAL);
	assert_int_equal(tg_chan_shm_name(instance, name, sizeof(name)), 0);
	fd = shm_open(name, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 100), 0);
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), -EPROTO);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), -EAGAIN);
	close(fd);
	shm_unlink(name);
}

static void test_second_control_plane_refused(void **state)
{
	struct tg_chan *ch = make_chan(1, 64), *cp;
	char err[160] = "";
	pid_t pid;

	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), 0);
	tg_chan_cp_announce(cp, 42, (int32_t)getpid());
	pid = fork();
	if (pid == 0) {
		struct tg_chan *other;
		_exit(tg_chan_attach(instance, &other, err, sizeof(err)) == -EBUSY ? 0 : 1);
	}
	assert_int_equal(wait_child(pid), 0);
	/* the dataplane reads the control plane's generation from the header */
	assert_int_equal(tg_chan_cp_generation(ch), 42);
	tg_chan_detach(cp);
	/* once it is gone, a new control plane may attach */
	assert_int_equal(tg_chan_attach(instance, &cp, err, sizeof(err)), 0);
	tg_chan_detach(cp);
	tg_chan_destroy(ch);
}

static void test_bad_parameters(void **state)
{
	struct tg_chan_params p = {.instance = instance, .n_cmd_rings = 0, .ring_size = 64};

	assert_null(tg_chan_create(&p));
	p.n_cmd_rings = TG_CHAN_MAX_CMD_RINGS + 1;
	assert_null(tg_chan_create(&p));
	p.n_cmd_rings = 1;
	p.ring_size = 100;
	assert_null(tg_chan_create(&p));
	p.ring_size = 64;
	p.instance = "has space";
	assert_null(tg_chan_create(&p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_two_processes_request_reply, setup),
		cmocka_unit_test_setup(test_ring_full_is_backpressure, setup),
		cmocka_unit_test_setup(test_dataplane_restart_is_seen, setup),
		cmocka_unit_test_setup(test_crashed_dataplane_is_replaced, setup),
		cmocka_unit_test_setup(test_version_mismatch, setup),
		cmocka_unit_test_setup(test_garbage_segment, setup),
		cmocka_unit_test_setup(test_truncated_and_missing, setup),
		cmocka_unit_test_setup(test_second_control_plane_refused, setup),
		cmocka_unit_test_setup(test_bad_parameters, setup),
	};

	tg_log_set_level("all", "err");
	return cmocka_run_group_tests_name("tg_chan", tests, NULL, NULL);
}
