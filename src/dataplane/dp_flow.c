/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Endpoint life cycle on the main lcore: port allocation, the flow table's entries, the control
 * plane's keys, links, and deferred reuse of a deleted endpoint's slot until every worker has
 * passed a quiescent state (a worker may still hold the endpoint's id from a lookup).
 */
#include "dp_flow.h"

#include <errno.h>
#include <stdio.h>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "tg_log.h"
#include "tg_time.h"

struct dying {
	uint32_t ep;
	uint64_t token;
};

/* Even RTP ports of one local address: one bit per port pair of the range, set = taken. */
struct port_space {
	uint8_t family;
	uint8_t addr[16];
	uint32_t hint;
	uint32_t n_taken; /* bits set: a full address is known without scanning its bits */
	uint64_t *bits;
};

#define MAX_LOCAL_ADDRS 1024

struct dp_flows {
	struct rte_hash *flows; /* (local addr, port) -> ep << 1 | rtcp; lock-free readers */
	struct rte_hash *keys;	/* control-plane key -> ep; main lcore only */
	struct rte_rcu_qsbr *rcu;
	struct dp_ep *eps;
	uint32_t max_eps;
	uint32_t *free_eps; /* stack of free slots */
	uint32_t n_free;
	struct dying *dying; /* FIFO: tokens increase, so the head is the oldest */
	uint32_t dying_head;
	uint32_t dying_len;
	struct port_space *spaces; /* one per local address: its ports are its own */
	uint32_t n_spaces;
	uint32_t n_pairs;
	uint16_t port_min;
	uint32_t n_active;
};

static int hash_create(const char *name, uint32_t entries, uint32_t key_len, uint8_t flags,
	int socket, struct rte_hash **out)
{
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = entries,
		.key_len = key_len,
		.hash_func = rte_hash_crc,
		.socket_id = socket,
		.extra_flag = flags,
	};

	*out = rte_hash_create(&hp);
	return *out ? 0 : -rte_errno;
}

struct dp_flows *dp_flows_create(const struct dp_flows_params *p)
{
	struct rte_hash_rcu_config rc = {0};
	struct dp_flows *f;
	char name[32];
	size_t sz;
	int rc_;

	if (p->max_endpoints == 0 || p->n_readers == 0 || p->port_min > p->port_max ||
		(p->port_min & 1)) {
		errno = EINVAL;
		return NULL;
	}
	f = rte_zmalloc_socket("dp_flows", sizeof(*f), 0, p->socket);
	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	f->max_eps = p->max_endpoints;
	f->port_min = p->port_min;
	f->n_pairs = (uint32_t)(p->port_max - p->port_min) / 2 + 1;
	f->eps = rte_zmalloc_socket(
		"dp_eps", sizeof(struct dp_ep) * f->max_eps, RTE_CACHE_LINE_SIZE, p->socket);
	f->free_eps = rte_malloc_socket("dp_free_eps", sizeof(uint32_t) * f->max_eps, 0, p->socket);
	f->dying = rte_malloc_socket("dp_dying", sizeof(struct dying) * f->max_eps, 0, p->socket);
	f->spaces =
		rte_zmalloc_socket("dp_ports", sizeof(*f->spaces) * MAX_LOCAL_ADDRS, 0, p->socket);
	sz = rte_rcu_qsbr_get_memsize(p->n_readers);
	f->rcu = rte_zmalloc_socket("dp_rcu", sz, RTE_CACHE_LINE_SIZE, p->socket);
	if (!f->eps || !f->free_eps || !f->dying || !f->spaces || !f->rcu)
		goto nomem;
	if (rte_rcu_qsbr_init(f->rcu, p->n_readers) < 0)
		goto nomem;
	snprintf(name, sizeof(name), "tg_flows");
	rc_ = hash_create(name, f->max_eps * 2, sizeof(struct dp_flow_key),
		RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF, p->socket, &f->flows);
	if (rc_ == 0)
		rc_ = hash_create(
			"tg_ep_keys", f->max_eps, sizeof(uint64_t), 0, p->socket, &f->keys);
	if (rc_ < 0) {
		TG_LOG(DP, ERR, "flow table for %u endpoints: %s", f->max_eps, rte_strerror(-rc_));
		dp_flows_free(f);
		errno = -rc_;
		return NULL;
	}
	/* deleted keys' slots come back once the workers have moved on */
	rc.v = f->rcu;
	rc.mode = RTE_HASH_QSBR_MODE_DQ;
	if (rte_hash_rcu_qsbr_add(f->flows, &rc) < 0)
		goto nomem;
	for (uint32_t i = 0; i < f->max_eps; i++)
		f->free_eps[i] = f->max_eps - 1 - i;
	f->n_free = f->max_eps;
	return f;
nomem:
	dp_flows_free(f);
	errno = ENOMEM;
	return NULL;
}

void dp_flows_free(struct dp_flows *f)
{
	if (!f)
		return;
	rte_hash_free(f->flows);
	rte_hash_free(f->keys);
	rte_free(f->rcu);
	rte_free(f->eps);
	rte_free(f->free_eps);
	rte_free(f->dying);
	for (uint32_t i = 0; f->spaces && i < f->n_spaces; i++)
		rte_free(f->spaces[i].bits);
	rte_free(f->spaces);
	rte_free(f);
}

struct rte_hash *dp_flows_hash(struct dp_flows *f)
{
	return f->flows;
}

struct rte_rcu_qsbr *dp_flows_rcu(struct dp_flows *f)
{
	return f->rcu;
}

struct dp_ep *dp_flows_eps(struct dp_flows *f)
{
	return f->eps;
}

uint32_t dp_flows_n_active(const struct dp_flows *f)
{
	return f->n_active;
}

static struct port_space *space_of(struct dp_flows *f, const struct tg_addr *a, bool create)
{
	const size_t alen = a->family == TG_AF_INET ? 4 : 16;
	struct port_space *sp;

	for (uint32_t i = 0; i < f->n_spaces; i++) {
		sp = &f->spaces[i];
		if (sp->family == a->family && memcmp(sp->addr, a->a, alen) == 0)
			return sp;
	}
	if (!create || f->n_spaces == MAX_LOCAL_ADDRS)
		return NULL;
	sp = &f->spaces[f->n_spaces];
	sp->bits = rte_zmalloc("dp_port_bits", ((f->n_pairs + 63) / 64) * 8, 0);
	if (!sp->bits)
		return NULL;
	sp->family = a->family;
	memcpy(sp->addr, a->a, alen);
	f->n_spaces++;
	return sp;
}

static bool port_taken(const struct port_space *sp, uint32_t pair)
{
	return sp->bits[pair / 64] & (1ULL << (pair % 64));
}

static void port_set(struct port_space *sp, uint32_t pair, bool taken)
{
	if (port_taken(sp, pair) == taken)
		return;
	if (taken) {
		sp->bits[pair / 64] |= 1ULL << (pair % 64);
		sp->n_taken++;
	} else {
		sp->bits[pair / 64] &= ~(1ULL << (pair % 64));
		sp->n_taken--;
	}
}

/* Even RTP port on 'local': the one asked for, or the next free one after the last handed out
 * (round-robin: a port just freed is not handed out again at once). */
static int port_alloc(struct dp_flows *f, const struct tg_addr *local, uint16_t want, uint16_t *out)
{
	struct port_space *sp;

	if (want && ((want & 1) || want < f->port_min ||
			    (uint32_t)(want - f->port_min) / 2 >= f->n_pairs))
		return -EINVAL;
	sp = space_of(f, local, true);
	if (!sp)
		return -ENOSPC;
	if (want) {
		uint32_t pair = (uint32_t)(want - f->port_min) / 2;

		if (port_taken(sp, pair))
			return -EADDRINUSE;
		port_set(sp, pair, true);
		*out = want;
		return 0;
	}
	if (sp->n_taken == f->n_pairs)
		return -ENOSPC;
	for (uint32_t i = 0; i < f->n_pairs; i++) {
		uint32_t pair = (sp->hint + i) % f->n_pairs;

		if (!port_taken(sp, pair)) {
			port_set(sp, pair, true);
			sp->hint = pair + 1;
			*out = (uint16_t)(f->port_min + pair * 2);
			return 0;
		}
	}
	return -ENOSPC;
}

/*
 * A port for a request that left the local address 0 (its port may be asked for all the same),
 * on one of the media addresses in 'media', whose address goes into local->a.
 *
 * Current address until full: endpoints take media->cur until it has no free port, then the
 * next address with one (after the last, the first again), which becomes the current one. A
 * create costs one look at the current address's count, a full address is passed over once
 * when the cursor moves rather than on every create, and the primary carries every call until
 * it first fills. Not the first address with room every time: on an address kept full, the port
 * just freed would be handed out again at once, which the per-address round-robin is there to
 * avoid (late packets of the old call would reach the new one). Not round-robin per endpoint:
 * a light load stays on one address. The price: after a peak, the cursor stays on a later
 * address until that one fills.
 */
static int media_port_alloc(
	struct dp_flows *f, struct dp_local_addrs *media, struct tg_addr *local, uint16_t *out)
{
	const uint32_t cur = media->cur < media->n ? media->cur : 0;
	int rc = -ENOSPC;

	for (uint32_t i = 0; i < media->n; i++) {
		const uint32_t k = (cur + i) % media->n;

		rc = port_alloc(f, &media->a[k], local->port, out);
		if (rc == -ENOSPC || rc == -EADDRINUSE)
			continue; /* full, or the port asked for is taken there */
		if (rc == 0) {
			memcpy(local->a, media->a[k].a, sizeof(local->a));
			if (!local->port)
				media->cur = k;
		}
		return rc;
	}
	return rc;
}

static void port_free(struct dp_flows *f, const struct tg_addr *local, uint16_t port)
{
	struct port_space *sp = space_of(f, local, false);

	if (sp)
		port_set(sp, (uint32_t)(port - f->port_min) / 2, false);
}

static void cfg_begin(struct dp_ep *ep)
{
	dp_seq_write_begin(&ep->cfg_seq);
}

static void cfg_end(struct dp_ep *ep)
{
	dp_seq_write_end(&ep->cfg_seq);
}

int dp_ep_find(struct dp_flows *f, uint64_t key, uint32_t *ep_id)
{
	void *data;

	if (key == 0 || rte_hash_lookup_data(f->keys, &key, &data) < 0)
		return -ENOENT;
	*ep_id = (uint32_t)(uintptr_t)data;
	return 0;
}

static int flow_add(
	struct dp_flows *f, const struct tg_addr *local, uint16_t port, uint32_t id, bool rtcp)
{
	struct dp_flow_key k;

	dp_flow_key_set(&k, local->family, local->a, port);
	return rte_hash_add_key_data(
		f->flows, &k, (void *)(uintptr_t)((id << 1) | (rtcp ? DP_FLOW_RTCP : 0)));
}

static void flow_del(struct dp_flows *f, const struct tg_addr *local, uint16_t port)
{
	struct dp_flow_key k;

	dp_flow_key_set(&k, local->family, local->a, port);
	rte_hash_del_key(f->flows, &k);
}

static bool addr_is_zero(const struct tg_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->a, zero, a->family == TG_AF_INET ? 4 : 16) == 0;
}

int dp_ep_create(struct dp_flows *f, const struct tg_msg_ep *req, struct dp_ep_local_default *def,
	uint32_t *ep_id)
{
	struct tg_addr local = req->local;
	struct dp_local_addrs *media = NULL;
	struct dp_ep *ep;
	uint32_t id;
	uint16_t port;
	int rc;

	if (dp_ep_find(f, req->key, ep_id) == 0)
		return 0; /* idempotent: the endpoint this key already has */
	if (req->key == 0 || (local.family != TG_AF_INET && local.family != TG_AF_INET6) ||
		(req->dir & ~(TG_DIR_RECV | TG_DIR_SEND)))
		return -EINVAL;
	if (addr_is_zero(&local)) {
		media = local.family == TG_AF_INET ? &def->v4 : &def->v6;
		if (media->n == 0)
			return -EADDRNOTAVAIL;
	}
	if (f->n_free == 0)
		return -ENOSPC;
	rc = media ? media_port_alloc(f, media, &local, &port)
		   : port_alloc(f, &local, local.port, &port);
	if (rc < 0)
		return rc;
	local.port = port;
	id = f->free_eps[--f->n_free];
	rc = flow_add(f, &local, port, id, false);
	if (rc == 0 && !(req->flags & TG_EPF_RTCP_MUX))
		rc = flow_add(f, &local, port + 1, id, true);
	if (rc == 0)
		rc = rte_hash_add_key_data(f->keys, &req->key, (void *)(uintptr_t)id);
	if (rc < 0) {
		flow_del(f, &local, port);
		flow_del(f, &local, port + 1);
		port_free(f, &local, port);
		f->free_eps[f->n_free++] = id;
		return rc == -ENOSPC ? -ENOSPC : -EINVAL;
	}
	ep = &f->eps[id];
	/* the slot's counters start from zero; its sequence numbers keep counting */
	dp_ep_rx_begin(ep);
	memset(&ep->rx, 0, sizeof(ep->rx));
	ep->rx.created_ns = tg_now_ns();
	dp_ep_rx_end(ep);
	memset(&ep->tx, 0, sizeof(ep->tx));
	memset(&ep->det, 0, sizeof(ep->det));
	/* a new incarnation: whatever a worker still plays for the slot's last one stops */
	__atomic_store_n(&ep->dtmf_req, 0, __ATOMIC_RELEASE);
	ep->timeout_reported = 0;
	dp_seq_write_begin(&ep->learn_seq);
	memset(&ep->learned, 0, sizeof(ep->learned));
	dp_seq_write_end(&ep->learn_seq);
	cfg_begin(ep);
	memset(&ep->cfg, 0, sizeof(ep->cfg));
	ep->cfg.key = req->key;
	ep->cfg.local = local;
	ep->cfg.port_id = req->port_id;
	ep->cfg.peer = DP_EP_NONE;
	ep->cfg.dir = req->dir;
	ep->cfg.flags = req->flags;
	ep->cfg.clock_rate = req->clock_rate ? req->clock_rate : 8000;
	ep->cfg.pt_in = ep->cfg.pt_out = ep->cfg.te_pt = 0xff;
	ep->cfg.gen = 1;
	cfg_end(ep);
	ep->state = DP_EP_ACTIVE;
	f->n_active++;
	*ep_id = id;
	return 0;
}

int dp_ep_update(struct dp_flows *f, const struct tg_msg_ep *req, uint32_t *ep_id)
{
	struct dp_ep *ep;
	bool mux_on, mux_was, remote_changed;
	int rc;

	rc = dp_ep_find(f, req->key, ep_id);
	if (rc < 0)
		return rc;
	if ((req->remote.family != TG_AF_NONE && req->remote.family != TG_AF_INET &&
		    req->remote.family != TG_AF_INET6) ||
		(req->dir & ~(TG_DIR_RECV | TG_DIR_SEND)))
		return -EINVAL;
	ep = &f->eps[*ep_id];
	mux_on = req->flags & TG_EPF_RTCP_MUX;
	mux_was = ep->cfg.flags & TG_EPF_RTCP_MUX;
	if (mux_on && !mux_was)
		flow_del(f, &ep->cfg.local, ep->cfg.local.port + 1);
	else if (!mux_on && mux_was &&
		 flow_add(f, &ep->cfg.local, ep->cfg.local.port + 1, *ep_id, true) < 0)
		return -ENOSPC;
	remote_changed = memcmp(&req->remote, &ep->cfg.remote, sizeof(req->remote)) != 0;
	cfg_begin(ep);
	ep->cfg.remote = req->remote;
	ep->cfg.remote_rtcp_port = req->remote_rtcp_port
					   ? req->remote_rtcp_port
					   : (uint16_t)(req->remote.port + (mux_on ? 0 : 1));
	ep->cfg.dir = req->dir;
	ep->cfg.flags = req->flags;
	ep->cfg.out_ssrc = req->out_ssrc;
	ep->cfg.pt_in = req->pt_in;
	ep->cfg.pt_out = req->pt_out;
	/* 0 (a sender that does not know the field) and 128+ (0xff) both mean none */
	ep->cfg.te_pt = req->te_pt >= 1 && req->te_pt <= 127 ? req->te_pt : 0xff;
	if (req->clock_rate)
		ep->cfg.clock_rate = req->clock_rate;
	if (remote_changed)
		ep->cfg.gen++;
	cfg_end(ep);
	return 0;
}

static void set_peer(struct dp_ep *ep, uint32_t peer)
{
	cfg_begin(ep);
	ep->cfg.peer = peer;
	cfg_end(ep);
}

static void unlink_ep(struct dp_flows *f, uint32_t id)
{
	uint32_t peer = f->eps[id].cfg.peer;

	if (peer != DP_EP_NONE && f->eps[peer].cfg.peer == id)
		set_peer(&f->eps[peer], DP_EP_NONE);
	set_peer(&f->eps[id], DP_EP_NONE);
}

int dp_ep_link(struct dp_flows *f, uint64_t key, uint64_t peer_key)
{
	uint32_t a, b = DP_EP_NONE; /* dp_ep_find leaves b alone when peer_key is unknown */

	if (dp_ep_find(f, key, &a) < 0)
		return -ENOENT;
	if (peer_key == 0) {
		unlink_ep(f, a);
		return 0;
	}
	if (dp_ep_find(f, peer_key, &b) < 0 || a == b)
		return a == b ? -EINVAL : -ENOENT;
	if (f->eps[a].cfg.peer == b && f->eps[b].cfg.peer == a)
		return 0;
	unlink_ep(f, a);
	unlink_ep(f, b);
	set_peer(&f->eps[a], b);
	set_peer(&f->eps[b], a);
	return 0;
}

int dp_ep_delete(struct dp_flows *f, uint64_t key, uint32_t *ep_id)
{
	struct dp_ep *ep;
	int rc;

	rc = dp_ep_find(f, key, ep_id);
	if (rc < 0)
		return rc;
	ep = &f->eps[*ep_id];
	unlink_ep(f, *ep_id);
	flow_del(f, &ep->cfg.local, ep->cfg.local.port);
	if (!(ep->cfg.flags & TG_EPF_RTCP_MUX))
		flow_del(f, &ep->cfg.local, ep->cfg.local.port + 1);
	rte_hash_del_key(f->keys, &key);
	port_free(f, &ep->cfg.local, ep->cfg.local.port);
	ep->state = DP_EP_DYING;
	/* a digit string playing from it stops at its next packet */
	__atomic_store_n(&ep->dtmf_req, 0, __ATOMIC_RELEASE);
	f->n_active--;
	/* the slot is reused only after every worker has been quiescent once */
	f->dying[(f->dying_head + f->dying_len++) % f->max_eps] =
		(struct dying){*ep_id, rte_rcu_qsbr_start(f->rcu)};
	return 0;
}

void dp_flows_reclaim(struct dp_flows *f)
{
	while (f->dying_len) {
		struct dying *d = &f->dying[f->dying_head];

		if (rte_rcu_qsbr_check(f->rcu, d->token, false) != 1)
			break;
		f->eps[d->ep].state = DP_EP_FREE;
		f->free_eps[f->n_free++] = d->ep;
		f->dying_head = (f->dying_head + 1) % f->max_eps;
		f->dying_len--;
	}
}

bool dp_ep_rx_read(const struct dp_ep *ep, struct dp_ep_rx *out)
{
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t s = dp_seq_read_begin(&ep->rx_seq);

		memcpy(out, (const void *)&ep->rx, sizeof(*out));
		if (!dp_seq_read_retry(&ep->rx_seq, s))
			return true;
	}
	return false;
}
