/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The statistics segment: layout, creation by the dataplane, validated read-only opening by any
 * reader, and seqlock snapshots. Like the channel, the layout is recomputed from the header's
 * counts and a header that disagrees is refused, so a corrupt segment cannot send a reader
 * outside the mapping.
 */
#include "tg_stats.h"

#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "tg_log.h"
#include "tg_shm.h"
#include "tg_time.h"

#define BLOCK_ALIGN 64u
#define READ_RETRIES 1000

struct tg_stats_kind_hdr {
	uint32_t n_blocks;
	uint32_t n_counters;
	uint64_t names_off;  /* n_counters * TG_STATS_NAME_LEN bytes */
	uint64_t blocks_off; /* n_blocks * stride bytes */
	uint64_t stride;
};

struct tg_stats_hdr {
	uint64_t magic;
	uint32_t layout_version;
	uint32_t generation;
	uint64_t seg_size;
	int32_t dp_pid;
	volatile uint32_t closed; /* set when the dataplane stops cleanly */
	char instance[TG_INSTANCE_MAX];
	struct tg_stats_kind_hdr kind[TG_STATS__KINDS];
};

struct tg_stats_seg {
	struct tg_shm shm;
	struct tg_stats_hdr *hdr;
	uint32_t generation;
};

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

int tg_stats_shm_name(const char *instance, char *buf, size_t len)
{
	return tg_shm_name(instance, "stats", buf, len);
}

static size_t block_stride(unsigned n_counters)
{
	return align_up(sizeof(struct tg_stats_block) + n_counters * sizeof(uint64_t), BLOCK_ALIGN);
}

/* Fills every kind's offsets from its counts; returns the total size or 0 if impossible. */
static size_t stats_layout(struct tg_stats_kind_hdr kinds[TG_STATS__KINDS])
{
	size_t off = align_up(sizeof(struct tg_stats_hdr), BLOCK_ALIGN);

	for (int k = 0; k < TG_STATS__KINDS; k++) {
		struct tg_stats_kind_hdr *kh = &kinds[k];

		if (kh->n_blocks > TG_STATS_MAX_BLOCKS || kh->n_counters > TG_STATS_MAX_COUNTERS)
			return 0;
		kh->names_off = off;
		off = align_up(off + (size_t)kh->n_counters * TG_STATS_NAME_LEN, BLOCK_ALIGN);
		kh->stride = block_stride(kh->n_counters);
		kh->blocks_off = off;
		off += kh->n_blocks * kh->stride;
	}
	return off;
}

struct tg_stats_seg *tg_stats_create(
	const char *instance, const struct tg_stats_kind_params kinds[TG_STATS__KINDS])
{
	struct tg_stats_kind_hdr kh[TG_STATS__KINDS] = {0};
	struct tg_stats_seg *s;
	struct tg_stats_hdr *h;
	char name[TG_SHM_NAME_MAX];
	size_t total;
	int rc;

	for (int k = 0; k < TG_STATS__KINDS; k++) {
		kh[k].n_blocks = kinds[k].n_blocks;
		kh[k].n_counters = kinds[k].n_counters;
	}
	total = stats_layout(kh);
	if (tg_stats_shm_name(instance, name, sizeof(name)) < 0 || total == 0) {
		TG_LOG(STATS, ERR, "bad stats segment parameters for instance '%s'",
			instance ? instance : "(null)");
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	rc = tg_shm_create(&s->shm, name, total);
	if (rc < 0) {
		TG_LOG(STATS, ERR, "creating %s: %s", name, strerror(-rc));
		free(s);
		errno = -rc;
		return NULL;
	}
	h = s->hdr = s->shm.base;
	h->layout_version = TG_STATS_LAYOUT_VERSION;
	if (getrandom(&h->generation, sizeof(h->generation), 0) != sizeof(h->generation))
		h->generation = (uint32_t)tg_now_ns();
	h->generation |= 1; /* never 0 */
	h->seg_size = total;
	h->dp_pid = (int32_t)getpid();
	snprintf(h->instance, sizeof(h->instance), "%s", instance);
	memcpy(h->kind, kh, sizeof(kh));
	for (int k = 0; k < TG_STATS__KINDS; k++) {
		char *names = (char *)h + kh[k].names_off;

		for (unsigned c = 0; c < kh[k].n_counters; c++)
			snprintf(names + c * TG_STATS_NAME_LEN, TG_STATS_NAME_LEN, "%s",
				kinds[k].names[c]);
	}
	s->generation = h->generation;
	/* the magic goes last: a reader that sees it sees a complete header */
	__atomic_store_n(&h->magic, TG_STATS_MAGIC, __ATOMIC_RELEASE);
	return s;
}

void tg_stats_destroy(struct tg_stats_seg *s)
{
	if (!s)
		return;
	__atomic_store_n(&s->hdr->closed, 1, __ATOMIC_RELEASE);
	tg_shm_close(&s->shm);
	free(s);
}

struct tg_stats_block *tg_stats_block(struct tg_stats_seg *s, enum tg_stats_kind k, unsigned i)
{
	const struct tg_stats_kind_hdr *kh = &s->hdr->kind[k];

	if ((unsigned)k >= TG_STATS__KINDS || i >= kh->n_blocks)
		return NULL;
	return (struct tg_stats_block *)((char *)s->hdr + kh->blocks_off + i * kh->stride);
}

uint32_t tg_stats_generation(const struct tg_stats_seg *s)
{
	return s->generation;
}

int tg_stats_validate(const void *seg, size_t size, char *err, size_t errlen)
{
	const struct tg_stats_hdr *h = seg;
	struct tg_stats_kind_hdr kh[TG_STATS__KINDS];
	size_t total;

	if (size < sizeof(*h)) {
		tg_errf(err, errlen, "stats segment is %zu bytes, smaller than its header", size);
		return -EPROTO;
	}
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != TG_STATS_MAGIC) {
		tg_errf(err, errlen, "bad magic 0x%016llx: not a tollgate stats segment",
			(unsigned long long)h->magic);
		return -EPROTO;
	}
	if (h->layout_version != TG_STATS_LAYOUT_VERSION) {
		tg_errf(err, errlen, "stats layout version %u, this build reads %u",
			h->layout_version, TG_STATS_LAYOUT_VERSION);
		return -EPROTONOSUPPORT;
	}
	memcpy(kh, h->kind, sizeof(kh));
	total = stats_layout(kh);
	if (total == 0) {
		tg_errf(err, errlen, "impossible block or counter counts in the header");
		return -EPROTO;
	}
	if (memcmp(kh, h->kind, sizeof(kh)) != 0) {
		tg_errf(err, errlen, "block offsets in the header disagree with the layout");
		return -EPROTO;
	}
	if (h->seg_size != size || total != size) {
		tg_errf(err, errlen, "segment is %zu bytes, header says %llu, layout needs %zu",
			size, (unsigned long long)h->seg_size, total);
		return -EPROTO;
	}
	for (int k = 0; k < TG_STATS__KINDS; k++) {
		const char *names = (const char *)h + kh[k].names_off;

		for (unsigned c = 0; c < kh[k].n_counters; c++) {
			if (!memchr(names + c * TG_STATS_NAME_LEN, '\0', TG_STATS_NAME_LEN)) {
				tg_errf(err, errlen, "counter name %u of kind %d is not terminated",
					c, k);
				return -EPROTO;
			}
		}
	}
	return 0;
}

int tg_stats_open(const char *instance, struct tg_stats_seg **out, char *err, size_t errlen)
{
	struct tg_stats_seg *s;
	char name[TG_SHM_NAME_MAX];
	int rc;

	*out = NULL;
	if (tg_stats_shm_name(instance, name, sizeof(name)) < 0) {
		tg_errf(err, errlen, "bad instance name '%s'", instance ? instance : "(null)");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = tg_shm_open(&s->shm, name, false, err, errlen);
	if (rc == 0)
		rc = tg_stats_validate(s->shm.base, s->shm.size, err, errlen);
	if (rc < 0) {
		tg_shm_close(&s->shm);
		free(s);
		return rc;
	}
	s->hdr = s->shm.base;
	s->generation = s->hdr->generation;
	*out = s;
	return 0;
}

void tg_stats_close(struct tg_stats_seg *s)
{
	if (!s)
		return;
	tg_shm_close(&s->shm);
	free(s);
}

unsigned tg_stats_n_blocks(const struct tg_stats_seg *s, enum tg_stats_kind k)
{
	return (unsigned)k < TG_STATS__KINDS ? s->hdr->kind[k].n_blocks : 0;
}

unsigned tg_stats_n_counters(const struct tg_stats_seg *s, enum tg_stats_kind k)
{
	return (unsigned)k < TG_STATS__KINDS ? s->hdr->kind[k].n_counters : 0;
}

const char *tg_stats_counter_name(const struct tg_stats_seg *s, enum tg_stats_kind k, unsigned c)
{
	if ((unsigned)k >= TG_STATS__KINDS || c >= s->hdr->kind[k].n_counters)
		return NULL;
	return (const char *)s->hdr + s->hdr->kind[k].names_off + c * TG_STATS_NAME_LEN;
}

bool tg_stats_stale(const struct tg_stats_seg *s)
{
	return __atomic_load_n(&s->hdr->closed, __ATOMIC_ACQUIRE) || tg_shm_replaced(&s->shm);
}

int tg_stats_read(const struct tg_stats_seg *s, enum tg_stats_kind k, unsigned i,
	struct tg_stats_snapshot *out)
{
	const struct tg_stats_kind_hdr *kh;
	const struct tg_stats_block *b;

	if ((unsigned)k >= TG_STATS__KINDS || i >= s->hdr->kind[k].n_blocks)
		return -EINVAL;
	kh = &s->hdr->kind[k];
	b = (const struct tg_stats_block *)((const char *)s->hdr + kh->blocks_off + i * kh->stride);
	for (int tries = 0; tries < READ_RETRIES; tries++) {
		uint64_t s1 = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE), s2;

		if (s1 & 1)
			continue;
		out->id = b->id;
		out->updated_ns = b->updated_ns;
		memcpy(out->label, b->label, sizeof(out->label));
		out->label[sizeof(out->label) - 1] = '\0';
		for (unsigned c = 0; c < kh->n_counters; c++)
			out->v[c] = __atomic_load_n(&b->v[c], __ATOMIC_RELAXED);
		/* the copies above must complete before the second look at seq */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&b->seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			return 0;
	}
	return -EAGAIN;
}

int tg_stats_sum(const struct tg_stats_seg *s, enum tg_stats_kind k, unsigned c, uint64_t *out)
{
	struct tg_stats_snapshot snap;
	uint64_t sum = 0;
	int rc;

	if (c >= tg_stats_n_counters(s, k))
		return -EINVAL;
	for (unsigned i = 0; i < tg_stats_n_blocks(s, k); i++) {
		rc = tg_stats_read(s, k, i, &snap);
		if (rc < 0)
			return rc;
		sum += snap.v[c];
	}
	*out = sum;
	return 0;
}

int tg_stats_find(const struct tg_stats_seg *s, enum tg_stats_kind k, const char *name)
{
	for (unsigned c = 0; c < tg_stats_n_counters(s, k); c++)
		if (strcmp(tg_stats_counter_name(s, k, c), name) == 0)
			return (int)c;
	return -ENOENT;
}
