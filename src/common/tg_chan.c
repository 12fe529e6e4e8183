/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The channel segment: layout, creation by the dataplane, validated attach by the control plane,
 * and the ring operations. The layout is a pure function of (n_cmd_rings, ring_size), so an
 * attacher recomputes it and refuses a header whose offsets disagree instead of trusting them.
 */
#include "tg_chan.h"

#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "tg_log.h"
#include "tg_shm.h"
#include "tg_time.h"

#define RING_ALIGN 4096u
#define RING_SIZE_MIN 64u
#define RING_SIZE_MAX (1u << 20)

struct tg_chan_hdr {
	/* written once by the dataplane before state becomes READY */
	uint64_t magic;
	uint32_t layout_version;
	uint32_t msg_size;
	uint64_t seg_size;
	uint32_t generation;
	uint32_t n_cmd_rings;
	uint32_t ring_size;
	int32_t dp_pid;
	uint64_t cmd_ring_off[TG_CHAN_MAX_CMD_RINGS];
	uint64_t evt_ring_off;
	char instance[TG_CHAN_NAME_MAX];
	volatile uint32_t state; /* enum tg_chan_state, dataplane */

	/* dataplane liveness, own cache line */
	alignas(64) volatile uint64_t dp_heartbeat_ns;

	/* control-plane side, own cache line */
	alignas(64) volatile uint64_t cp_heartbeat_ns;
	volatile uint32_t cp_generation;
	volatile int32_t cp_pid;

	alignas(64) struct tg_chan_counters counters;
};

struct tg_chan {
	struct tg_chan_hdr *hdr;
	struct tg_shm shm;
	struct rte_ring *cmd[TG_CHAN_MAX_CMD_RINGS];
	struct rte_ring *evt;
};

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

int tg_chan_shm_name(const char *instance, char *buf, size_t len)
{
	return tg_shm_name(instance, "chan", buf, len);
}

/* Offsets of every ring and the total size; 0 on success, -EINVAL for impossible parameters. */
static int chan_layout(
	unsigned n_cmd, unsigned ring_size, uint64_t *cmd_off, uint64_t *evt_off, size_t *total)
{
	ssize_t rsz;
	size_t off;

	if (n_cmd < 1 || n_cmd > TG_CHAN_MAX_CMD_RINGS || ring_size < RING_SIZE_MIN ||
		ring_size > RING_SIZE_MAX || (ring_size & (ring_size - 1)))
		return -EINVAL;
	rsz = rte_ring_get_memsize_elem(sizeof(struct tg_msg), ring_size);
	if (rsz < 0)
		return -EINVAL;
	off = align_up(sizeof(struct tg_chan_hdr), RING_ALIGN);
	for (unsigned i = 0; i < n_cmd; i++) {
		cmd_off[i] = off;
		off = align_up(off + (size_t)rsz, RING_ALIGN);
	}
	*evt_off = off;
	*total = align_up(off + (size_t)rsz, RING_ALIGN);
	return 0;
}

static int check_ring(const struct rte_ring *r, unsigned size, bool multi_prod, const char *what,
	char *err, size_t errlen)
{
	enum rte_ring_sync_type prod = multi_prod ? RTE_RING_SYNC_MT : RTE_RING_SYNC_ST;

	if (r->size != size || r->mask != size - 1 || r->capacity != size - 1) {
		tg_errf(err, errlen, "%s ring: size %u/mask %u/capacity %u do not match %u slots",
			what, r->size, r->mask, r->capacity, size);
		return -EPROTO;
	}
	if (r->prod.sync_type != prod || r->cons.sync_type != RTE_RING_SYNC_ST) {
		tg_errf(err, errlen, "%s ring: unexpected sync types %d/%d", what,
			(int)r->prod.sync_type, (int)r->cons.sync_type);
		return -EPROTO;
	}
	return 0;
}

int tg_chan_validate(const void *seg, size_t size, char *err, size_t errlen)
{
	const struct tg_chan_hdr *h = seg;
	uint64_t cmd_off[TG_CHAN_MAX_CMD_RINGS], evt_off;
	size_t total;
	char ringname[24];
	int rc;

	if (size < sizeof(*h)) {
		tg_errf(err, errlen, "segment is %zu bytes, smaller than the %zu-byte header", size,
			sizeof(*h));
		return -EPROTO;
	}
	if (h->magic != TG_CHAN_MAGIC) {
		tg_errf(err, errlen, "bad magic 0x%016llx: not a tollgate channel segment",
			(unsigned long long)h->magic);
		return -EPROTO;
	}
	if (h->layout_version != TG_CHAN_LAYOUT_VERSION) {
		tg_errf(err, errlen, "layout version %u, this build speaks %u", h->layout_version,
			TG_CHAN_LAYOUT_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (h->msg_size != sizeof(struct tg_msg)) {
		tg_errf(err, errlen, "message size %u, this build uses %zu", h->msg_size,
			sizeof(struct tg_msg));
		return -EPROTONOSUPPORT;
	}
	if (chan_layout(h->n_cmd_rings, h->ring_size, cmd_off, &evt_off, &total) < 0) {
		tg_errf(err, errlen, "impossible ring geometry: %u command rings of %u slots",
			h->n_cmd_rings, h->ring_size);
		return -EPROTO;
	}
	if (h->seg_size != size || total != size) {
		tg_errf(err, errlen, "segment size %zu, header says %llu, layout needs %zu", size,
			(unsigned long long)h->seg_size, total);
		return -EPROTO;
	}
	for (unsigned i = 0; i < h->n_cmd_rings; i++) {
		if (h->cmd_ring_off[i] != cmd_off[i]) {
			tg_errf(err, errlen, "command ring %u at offset %llu, layout says %llu", i,
				(unsigned long long)h->cmd_ring_off[i],
				(unsigned long long)cmd_off[i]);
			return -EPROTO;
		}
		snprintf(ringname, sizeof(ringname), "command %u", i);
		rc = check_ring((const void *)((const char *)seg + cmd_off[i]), h->ring_size, false,
			ringname, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (h->evt_ring_off != evt_off) {
		tg_errf(err, errlen, "event ring at offset %llu, layout says %llu",
			(unsigned long long)h->evt_ring_off, (unsigned long long)evt_off);
		return -EPROTO;
	}
	rc = check_ring((const void *)((const char *)seg + evt_off), h->ring_size, true, "event",
		err, errlen);
	if (rc < 0)
		return rc;
	if (memchr(h->instance, '\0', sizeof(h->instance)) == NULL) {
		tg_errf(err, errlen, "instance name is not terminated");
		return -EPROTO;
	}
	return 0;
}

static void chan_bind_rings(struct tg_chan *ch)
{
	for (unsigned i = 0; i < ch->hdr->n_cmd_rings; i++)
		ch->cmd[i] = (struct rte_ring *)((char *)ch->hdr + ch->hdr->cmd_ring_off[i]);
	ch->evt = (struct rte_ring *)((char *)ch->hdr + ch->hdr->evt_ring_off);
}

static uint32_t new_generation(void)
{
	uint32_t g = 0;

	while (g == 0) {
		if (getrandom(&g, sizeof(g), 0) != sizeof(g))
			g = (uint32_t)tg_now_ns() ^ ((uint32_t)getpid() << 16);
	}
	return g;
}

struct tg_chan *tg_chan_create(const struct tg_chan_params *p)
{
	uint64_t cmd_off[TG_CHAN_MAX_CMD_RINGS], evt_off;
	struct tg_chan_hdr *h;
	struct tg_chan *ch;
	size_t total;
	char name[TG_SHM_NAME_MAX];
	int rc;

	if (tg_chan_shm_name(p->instance, name, sizeof(name)) < 0 ||
		chan_layout(p->n_cmd_rings, p->ring_size, cmd_off, &evt_off, &total) < 0) {
		TG_LOG(CHAN, ERR, "bad channel parameters: instance '%s', %u rings of %u slots",
			p->instance ? p->instance : "(null)", p->n_cmd_rings, p->ring_size);
		errno = EINVAL;
		return NULL;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch) {
		errno = ENOMEM;
		return NULL;
	}
	rc = tg_shm_create(&ch->shm, name, total);
	if (rc < 0) {
		TG_LOG(CHAN, ERR, "creating %s (%zu bytes): %s", name, total, strerror(-rc));
		free(ch);
		errno = -rc;
		return NULL;
	}
	h = ch->hdr = ch->shm.base;
	h->state = TG_CHAN_STATE_INIT;
	h->magic = TG_CHAN_MAGIC;
	h->layout_version = TG_CHAN_LAYOUT_VERSION;
	h->msg_size = sizeof(struct tg_msg);
	h->seg_size = total;
	h->generation = new_generation();
	h->n_cmd_rings = p->n_cmd_rings;
	h->ring_size = p->ring_size;
	h->dp_pid = (int32_t)getpid();
	memcpy(h->cmd_ring_off, cmd_off, sizeof(uint64_t) * p->n_cmd_rings);
	h->evt_ring_off = evt_off;
	snprintf(h->instance, sizeof(h->instance), "%s", p->instance);
	chan_bind_rings(ch);
	for (unsigned i = 0; i < p->n_cmd_rings && rc == 0; i++)
		rc = rte_ring_init(
			ch->cmd[i], "tg_cmd", p->ring_size, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (rc == 0)
		rc = rte_ring_init(ch->evt, "tg_evt", p->ring_size, RING_F_SC_DEQ);
	if (rc < 0) {
		TG_LOG(CHAN, ERR, "ring init in %s failed: %s", name, strerror(-rc));
		tg_shm_close(&ch->shm);
		free(ch);
		errno = -rc;
		return NULL;
	}
	h->dp_heartbeat_ns = tg_now_ns();
	/* everything above must be visible before an attacher sees READY */
	__atomic_store_n(&h->state, TG_CHAN_STATE_READY, __ATOMIC_RELEASE);
	TG_LOG(CHAN, INFO,
		"channel %s ready: generation %08x, %u command rings x %u slots, %zu bytes", name,
		h->generation, p->n_cmd_rings, p->ring_size, total);
	return ch;
}

void tg_chan_destroy(struct tg_chan *ch)
{
	if (!ch)
		return;
	__atomic_store_n(&ch->hdr->state, TG_CHAN_STATE_CLOSED, __ATOMIC_RELEASE);
	tg_shm_close(&ch->shm);
	free(ch);
}

int tg_chan_attach(const char *instance, struct tg_chan **out, char *err, size_t errlen)
{
	const struct tg_chan_hdr *h;
	struct tg_chan *ch;
	char name[TG_SHM_NAME_MAX];
	uint32_t state;
	int rc;

	*out = NULL;
	if (tg_chan_shm_name(instance, name, sizeof(name)) < 0) {
		tg_errf(err, errlen, "bad instance name '%s'", instance ? instance : "(null)");
		return -EINVAL;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	rc = tg_shm_open(&ch->shm, name, true, err, errlen);
	if (rc < 0) {
		free(ch);
		return rc;
	}
	if (flock(ch->shm.fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		tg_errf(err, errlen, "channel %s is held by another control plane", name);
		goto fail;
	}
	h = ch->shm.base;
	rc = -EPROTO;
	if (ch->shm.size < sizeof(*h)) {
		tg_errf(err, errlen, "channel %s is %zu bytes, smaller than its header", name,
			ch->shm.size);
		goto fail;
	}
	state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
	if (state != TG_CHAN_STATE_READY) {
		/* INIT or CLOSED under a valid magic is a start-up or shutdown race: retry later */
		if (h->magic == TG_CHAN_MAGIC &&
			(state == TG_CHAN_STATE_INIT || state == TG_CHAN_STATE_CLOSED)) {
			tg_errf(err, errlen, "channel %s is not ready (state %u)", name, state);
			rc = -EAGAIN;
		} else if (tg_chan_validate(h, ch->shm.size, err, errlen) == 0) {
			tg_errf(err, errlen, "channel %s has an unknown state %u", name, state);
		}
		goto fail;
	}
	rc = tg_chan_validate(h, ch->shm.size, err, errlen);
	if (rc < 0)
		goto fail;
	ch->hdr = ch->shm.base;
	chan_bind_rings(ch);
	*out = ch;
	return 0;
fail:
	tg_shm_close(&ch->shm); /* closing the descriptor drops the lock */
	free(ch);
	return rc;
}

void tg_chan_detach(struct tg_chan *ch)
{
	if (!ch)
		return;
	tg_shm_close(&ch->shm);
	free(ch);
}

uint32_t tg_chan_generation(const struct tg_chan *ch)
{
	return ch->hdr->generation;
}

unsigned tg_chan_n_cmd_rings(const struct tg_chan *ch)
{
	return ch->hdr->n_cmd_rings;
}

enum tg_chan_state tg_chan_state(const struct tg_chan *ch)
{
	return (enum tg_chan_state)__atomic_load_n(&ch->hdr->state, __ATOMIC_ACQUIRE);
}

int32_t tg_chan_dp_pid(const struct tg_chan *ch)
{
	return ch->hdr->dp_pid;
}

struct tg_chan_counters *tg_chan_counters(struct tg_chan *ch)
{
	return &ch->hdr->counters;
}

void tg_chan_dp_heartbeat(struct tg_chan *ch, uint64_t now_ns)
{
	__atomic_store_n(&ch->hdr->dp_heartbeat_ns, now_ns, __ATOMIC_RELAXED);
}

uint64_t tg_chan_dp_heartbeat_ns(const struct tg_chan *ch)
{
	return __atomic_load_n(&ch->hdr->dp_heartbeat_ns, __ATOMIC_RELAXED);
}

void tg_chan_cp_announce(struct tg_chan *ch, uint32_t cp_gen, int32_t cp_pid)
{
	ch->hdr->cp_pid = cp_pid;
	__atomic_store_n(&ch->hdr->cp_heartbeat_ns, tg_now_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&ch->hdr->cp_generation, cp_gen, __ATOMIC_RELEASE);
}

void tg_chan_cp_heartbeat(struct tg_chan *ch, uint64_t now_ns)
{
	__atomic_store_n(&ch->hdr->cp_heartbeat_ns, now_ns, __ATOMIC_RELAXED);
}

uint32_t tg_chan_cp_generation(const struct tg_chan *ch)
{
	return __atomic_load_n(&ch->hdr->cp_generation, __ATOMIC_ACQUIRE);
}

uint64_t tg_chan_cp_heartbeat_ns(const struct tg_chan *ch)
{
	return __atomic_load_n(&ch->hdr->cp_heartbeat_ns, __ATOMIC_RELAXED);
}

bool tg_chan_replaced(const struct tg_chan *ch)
{
	return tg_shm_replaced(&ch->shm);
}

unsigned tg_chan_cmd_send(struct tg_chan *ch, unsigned ring, const struct tg_msg *msgs, unsigned n)
{
	struct tg_chan_counters *c = &ch->hdr->counters;
	unsigned done;

	if (ring >= ch->hdr->n_cmd_rings)
		return 0;
	done = rte_ring_sp_enqueue_burst_elem(ch->cmd[ring], msgs, sizeof(struct tg_msg), n, NULL);
	c->cmd_sent[ring] += done;
	if (done < n)
		c->cmd_full[ring] += n - done;
	return done;
}

unsigned tg_chan_cmd_recv(struct tg_chan *ch, unsigned ring, struct tg_msg *msgs, unsigned n)
{
	unsigned done;

	if (ring >= ch->hdr->n_cmd_rings)
		return 0;
	done = rte_ring_sc_dequeue_burst_elem(ch->cmd[ring], msgs, sizeof(struct tg_msg), n, NULL);
	ch->hdr->counters.cmd_recv[ring] += done;
	return done;
}

unsigned tg_chan_evt_send(struct tg_chan *ch, const struct tg_msg *msgs, unsigned n)
{
	struct tg_chan_counters *c = &ch->hdr->counters;
	unsigned done;

	done = rte_ring_mp_enqueue_burst_elem(ch->evt, msgs, sizeof(struct tg_msg), n, NULL);
	/* several dataplane lcores produce events: their counters must not lose increments */
	__atomic_fetch_add(&c->evt_sent, done, __ATOMIC_RELAXED);
	if (done < n)
		__atomic_fetch_add(&c->evt_full, n - done, __ATOMIC_RELAXED);
	return done;
}

unsigned tg_chan_evt_recv(struct tg_chan *ch, struct tg_msg *msgs, unsigned n)
{
	unsigned done;

	done = rte_ring_sc_dequeue_burst_elem(ch->evt, msgs, sizeof(struct tg_msg), n, NULL);
	ch->hdr->counters.evt_recv += done;
	return done;
}

unsigned tg_chan_cmd_free(const struct tg_chan *ch, unsigned ring)
{
	if (ring >= ch->hdr->n_cmd_rings)
		return 0;
	return rte_ring_free_count(ch->cmd[ring]);
}
