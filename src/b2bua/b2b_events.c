/* SPDX-License-Identifier: BSD-3-Clause */
/* The session layer's event bus (see b2b_events.h). */
#include "b2b_events.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

static_assert(sizeof(struct b2b_ev) % 4 == 0, "rte_ring elements are multiples of 4 bytes");

struct b2b_ev_sub {
	struct b2b_ev_sub *next; /* the bus's list */
	struct b2b_events *bus;
	struct b2b_ev_filter f;
	int efd;
	_Atomic uint64_t dropped; /* written by the loop thread, read anywhere */
	struct rte_ring *ring;	  /* single producer (the loop), single consumer */
};

struct b2b_events {
	struct b2b_ev_sub *subs;
	/* a bit per kind that some subscriber wants, for b2b_events_wanted() */
	uint32_t wanted;
	struct b2b_events_counters c;
};

static const char *const kind_names[] = {
#define B2B_X(id, name) [B2B_EVK_##id] = name,
	B2B_EV_KINDS(B2B_X)
#undef B2B_X
};

const char *b2b_ev_kind_name(enum b2b_ev_kind k)
{
	return (unsigned)k < B2B_EVK__COUNT ? kind_names[k] : "?";
}

int b2b_ev_kinds_parse(const char *list, uint32_t *mask)
{
	const char *p = list;

	*mask = 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		unsigned k;

		for (k = 0; k < B2B_EVK__COUNT; k++)
			if (strlen(kind_names[k]) == n && !strncasecmp(p, kind_names[k], n))
				break;
		if (k == B2B_EVK__COUNT)
			return -EINVAL;
		*mask |= B2B_EVK_BIT(k);
		p += n;
		if (*p == ',')
			p++;
	}
	return *mask ? 0 : -EINVAL;
}

struct b2b_events *b2b_events_new(void)
{
	return calloc(1, sizeof(struct b2b_events));
}

static void recompute_wanted(struct b2b_events *bus)
{
	bus->wanted = 0;
	for (struct b2b_ev_sub *s = bus->subs; s; s = s->next)
		bus->wanted |= s->f.kinds;
}

static bool matches(const struct b2b_ev_sub *s, enum b2b_ev_kind kind, uint64_t call)
{
	return (s->f.kinds & B2B_EVK_BIT(kind)) && (!s->f.call || s->f.call == call);
}

bool b2b_events_wanted(const struct b2b_events *bus, enum b2b_ev_kind kind, uint64_t call)
{
	if (!bus || !(bus->wanted & B2B_EVK_BIT(kind)))
		return false;
	for (const struct b2b_ev_sub *s = bus->subs; s; s = s->next)
		if (matches(s, kind, call))
			return true;
	return false;
}

void b2b_events_publish(struct b2b_events *bus, const struct b2b_ev *ev)
{
	static const uint64_t one = 1;

	if (!bus)
		return;
	bus->c.published++;
	for (struct b2b_ev_sub *s = bus->subs; s; s = s->next) {
		if (!matches(s, ev->kind, ev->call))
			continue;
		if (rte_ring_sp_enqueue_elem(s->ring, (void *)ev, sizeof(*ev)) != 0) {
			atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
			bus->c.dropped++;
			continue;
		}
		bus->c.delivered++;
		/* an eventfd counter only fails at 2^64 - 1 unread wakeups: nothing to do then */
		(void)!write(s->efd, &one, sizeof(one));
	}
}

struct b2b_ev_sub *b2b_events_subscribe(
	struct b2b_events *bus, const struct b2b_ev_filter *f, unsigned depth)
{
	struct b2b_ev_sub *s;
	ssize_t size;
	unsigned n = 1;

	if (!depth)
		depth = 1024;
	if (depth > (1u << 20)) {
		errno = EINVAL;
		return NULL;
	}
	/* an rte_ring of n slots holds n - 1 */
	while (n < depth + 1)
		n <<= 1;
	size = rte_ring_get_memsize_elem(sizeof(struct b2b_ev), n);
	if (size < 0) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ring = aligned_alloc(64, ((size_t)size + 63) & ~(size_t)63);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!s->ring || s->efd < 0 ||
		rte_ring_init(s->ring, "tg_events", n, RING_F_SP_ENQ | RING_F_SC_DEQ) < 0) {
		int e = s->efd < 0 || !s->ring ? errno : EINVAL;

		if (s->efd >= 0)
			close(s->efd);
		free(s->ring);
		free(s);
		errno = e;
		return NULL;
	}
	s->bus = bus;
	s->f = *f;
	if (!s->f.kinds)
		s->f.kinds = B2B_EVK_ALL;
	s->next = bus->subs;
	bus->subs = s;
	bus->c.subscribers++;
	recompute_wanted(bus);
	return s;
}

void b2b_events_unsubscribe(struct b2b_ev_sub *s)
{
	struct b2b_events *bus;

	if (!s)
		return;
	bus = s->bus;
	for (struct b2b_ev_sub **p = &bus->subs; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	bus->c.subscribers--;
	recompute_wanted(bus);
	close(s->efd);
	free(s->ring);
	free(s);
}

void b2b_events_free(struct b2b_events *bus)
{
	if (!bus)
		return;
	while (bus->subs)
		b2b_events_unsubscribe(bus->subs);
	free(bus);
}

int b2b_ev_sub_fd(const struct b2b_ev_sub *s)
{
	return s->efd;
}

bool b2b_ev_sub_next(struct b2b_ev_sub *s, struct b2b_ev *ev)
{
	uint64_t n;

	if (rte_ring_sc_dequeue_elem(s->ring, ev, sizeof(*ev)) == 0)
		return true;
	/* empty: clear the wakeups; an event published after this read signals again */
	(void)!read(s->efd, &n, sizeof(n));
	return rte_ring_sc_dequeue_elem(s->ring, ev, sizeof(*ev)) == 0;
}

uint64_t b2b_ev_sub_dropped(const struct b2b_ev_sub *s)
{
	return atomic_load_explicit(&s->dropped, memory_order_relaxed);
}

void b2b_events_counters(const struct b2b_events *bus, struct b2b_events_counters *out)
{
	*out = bus->c;
}
