/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The flow table and the endpoint life cycle (dp_flow.c) on a real rte_hash and RCU QSBR: even
 * RTP port allocation, idempotent creation, default local addresses (several media addresses,
 * filled in turn), updates and the remote's generation, the RTCP flow of non-muxed endpoints,
 * links, and deletion whose slot is held back until the worker's grace period has passed. EAL runs
 * once per process: no hugepages, no PCI, no shared files, and its runtime directory is removed at
 * the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include "dp_flow.h"
#include "tg_log.h"

#define PORT_MIN 10000
#define PORT_MAX 10006 /* four even ports: 10000, 10002, 10004, 10006 */
#define DIR_BOTH (TG_DIR_RECV | TG_DIR_SEND)

static struct dp_flows *flows;
static struct dp_ep *eps;
static struct dp_ep_local_default def;

static void flows_open(uint32_t max_eps, uint16_t port_min, uint16_t port_max)
{
	struct dp_flows_params p = {
		.max_endpoints = max_eps,
		.n_readers = 1,
		.port_min = port_min,
		.port_max = port_max,
		.socket = 0,
	};

	dp_flows_free(flows); /* the table's rte_hash names are fixed: one table at a time */
	flows = dp_flows_create(&p);
	assert_non_null(flows);
	eps = dp_flows_eps(flows);
	assert_non_null(eps);
}

/* Appends addr to a list of media addresses, as dataplane.media_address(6) would. */
static void media_add(struct dp_local_addrs *l, uint8_t family, const char *addr)
{
	assert_true(l->n < DP_MEDIA_ADDRS_MAX);
	memset(&l->a[l->n], 0, sizeof(l->a[l->n]));
	l->a[l->n].family = family;
	assert_int_equal(
		inet_pton(family == TG_AF_INET6 ? AF_INET6 : AF_INET, addr, l->a[l->n].a), 1);
	l->n++;
}

static int setup(void **state)
{
	memset(&def, 0, sizeof(def));
	media_add(&def.v4, TG_AF_INET, "192.0.2.10");
	flows_open(16, PORT_MIN, PORT_MAX);
	return 0;
}

static int teardown(void **state)
{
	dp_flows_free(flows);
	flows = NULL;
	eps = NULL;
	return 0;
}

static struct tg_msg_ep req_make(uint64_t key, uint8_t family, const char *addr, uint16_t port)
{
	struct tg_msg_ep r = {.key = key, .dir = DIR_BOTH, .pt_in = 0xff, .pt_out = 0xff};

	r.local.family = family;
	r.local.port = port;
	if (addr)
		assert_int_equal(
			inet_pton(family == TG_AF_INET6 ? AF_INET6 : AF_INET, addr, r.local.a), 1);
	return r;
}

/* An IPv4 endpoint on 10.0.0.1; port 0 = any. */
static int create4(uint64_t key, uint16_t port, uint8_t flags, uint32_t *id)
{
	struct tg_msg_ep r = req_make(key, TG_AF_INET, "10.0.0.1", port);

	r.flags = flags;
	return dp_ep_create(flows, &r, &def, id);
}

static void set_remote4(struct tg_msg_ep *r, const char *addr, uint16_t port)
{
	memset(&r->remote, 0, sizeof(r->remote));
	r->remote.family = TG_AF_INET;
	r->remote.port = port;
	assert_int_equal(inet_pton(AF_INET, addr, r->remote.a), 1);
}

/* The flow table's entry for (family, addr, port): >= 0 and its value, or -ENOENT. */
static int flow_get(uint8_t family, const uint8_t *addr, uint16_t port, uintptr_t *val)
{
	struct dp_flow_key k;
	void *data = NULL;
	int rc;

	dp_flow_key_set(&k, family, addr, port);
	rc = rte_hash_lookup_data(dp_flows_hash(flows), &k, &data);
	*val = (uintptr_t)data;
	return rc;
}

/* The endpoint's RTP flow and, unless muxed, its RTCP flow on port + 1. */
static void assert_flows(uint32_t id, bool rtcp_flow)
{
	const struct dp_ep_cfg *c = &eps[id].cfg;
	uintptr_t v;

	assert_true(flow_get(c->local.family, c->local.a, c->local.port, &v) >= 0);
	assert_int_equal(v, (uintptr_t)id << 1);
	if (rtcp_flow) {
		assert_true(flow_get(c->local.family, c->local.a, c->local.port + 1, &v) >= 0);
		assert_int_equal(v, ((uintptr_t)id << 1) | DP_FLOW_RTCP);
	} else {
		assert_int_equal(
			flow_get(c->local.family, c->local.a, c->local.port + 1, &v), -ENOENT);
	}
}

static void assert_no_flows(const struct tg_addr *local)
{
	uintptr_t v;

	assert_int_equal(flow_get(local->family, local->a, local->port, &v), -ENOENT);
	assert_int_equal(flow_get(local->family, local->a, local->port + 1, &v), -ENOENT);
}

/* The writer never leaves a configuration half-written. */
static void assert_cfg_stable(uint32_t id)
{
	assert_int_equal(eps[id].cfg_seq & 1, 0);
}

static void delete_now(uint64_t key)
{
	uint32_t id;

	assert_int_equal(dp_ep_delete(flows, key, &id), 0);
	/* no worker registered with the RCU: the grace period is already over */
	dp_flows_reclaim(flows);
	assert_int_equal(eps[id].state, DP_EP_FREE);
}

static void test_auto_ports_even_round_robin(void **state)
{
	const uint16_t expect[] = {10002, 10004, 10006, 10000};
	uint32_t id, ids[4];

	assert_int_equal(create4(1, 0, 0, &id), 0);
	assert_int_equal(eps[id].cfg.local.port, 10000);
	assert_int_equal(eps[id].state, DP_EP_ACTIVE);
	assert_flows(id, true);
	/* the port just freed is not handed out again at once: the next ones come first */
	delete_now(1);
	for (unsigned i = 0; i < 4; i++) {
		uint16_t port;

		assert_int_equal(create4(10 + i, 0, 0, &ids[i]), 0);
		port = eps[ids[i]].cfg.local.port;
		assert_int_equal(port, expect[i]);
		assert_int_equal(port & 1, 0);
		assert_true(port >= PORT_MIN && port <= PORT_MAX);
		assert_flows(ids[i], true);
		for (unsigned j = 0; j < i; j++)
			assert_int_not_equal(ids[j], ids[i]);
	}
	assert_int_equal(dp_flows_n_active(flows), 4);
	/* every port taken */
	assert_int_equal(create4(20, 0, 0, &id), -ENOSPC);
	assert_int_equal(dp_ep_find(flows, 20, &id), -ENOENT);
	assert_int_equal(dp_flows_n_active(flows), 4);
	/* one freed: that one, whatever the round-robin position */
	delete_now(12);
	assert_int_equal(create4(21, 0, 0, &id), 0);
	assert_int_equal(eps[id].cfg.local.port, 10006);
	assert_int_equal(create4(22, 0, 0, &id), -ENOSPC);
}

static void test_specific_port(void **state)
{
	const uint16_t bad[] = {10003, 10001, 9998, 10008, 1, 65535, 65534};
	uint32_t id, id2;

	assert_int_equal(create4(1, 10004, 0, &id), 0);
	assert_int_equal(eps[id].cfg.local.port, 10004);
	assert_flows(id, true);
	assert_int_equal(create4(2, 10004, 0, &id2), -EADDRINUSE);
	assert_int_equal(dp_ep_find(flows, 2, &id2), -ENOENT);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(create4(2, bad[i], 0, &id2), -EINVAL);
	assert_int_equal(dp_flows_n_active(flows), 1);
	/* automatic allocation steps around the port asked for */
	assert_int_equal(create4(3, 0, 0, &id2), 0);
	assert_int_equal(eps[id2].cfg.local.port, 10000);
	assert_int_equal(create4(4, 0, 0, &id2), 0);
	assert_int_equal(eps[id2].cfg.local.port, 10002);
	assert_int_equal(create4(5, 0, 0, &id2), 0);
	assert_int_equal(eps[id2].cfg.local.port, 10006);
	assert_int_equal(create4(6, 0, 0, &id2), -ENOSPC);
	/* and a port handed out automatically cannot be asked for */
	assert_int_equal(create4(6, 10000, 0, &id2), -EADDRINUSE);
	assert_int_equal(dp_flows_n_active(flows), 4);
	/* freed, it can */
	delete_now(1);
	assert_int_equal(create4(6, 10004, 0, &id2), 0);
	assert_int_equal(eps[id2].cfg.local.port, 10004);
}

static void test_create_is_idempotent(void **state)
{
	struct tg_msg_ep again;
	uint32_t id, id2;

	flows_open(16, PORT_MIN, PORT_MIN + 2); /* two ports */
	assert_int_equal(create4(7, 0, 0, &id), 0);
	assert_int_equal(eps[id].cfg.local.port, 10000);
	/* the same key again, even asking for something else, answers with what exists */
	again = req_make(7, TG_AF_INET, "10.0.0.2", 10002);
	again.flags = TG_EPF_RTCP_MUX;
	assert_int_equal(dp_ep_create(flows, &again, &def, &id2), 0);
	assert_int_equal(id2, id);
	assert_int_equal(eps[id].cfg.local.port, 10000);
	assert_int_equal(eps[id].cfg.flags, 0);
	assert_flows(id, true);
	assert_int_equal(dp_flows_n_active(flows), 1);
	/* no second port went to it: the other one is still free */
	assert_int_equal(create4(8, 0, 0, &id2), 0);
	assert_int_equal(eps[id2].cfg.local.port, 10002);
	assert_int_equal(create4(9, 0, 0, &id2), -ENOSPC);
}

static void test_create_defaults(void **state)
{
	static const uint8_t zero[16];
	struct tg_msg_ep r = req_make(1, TG_AF_INET, NULL, 0);
	uint8_t a4[4], a6[16];
	uint32_t id;
	uintptr_t v;

	r.dir = TG_DIR_RECV;
	r.flags = TG_EPF_LATCH;
	r.port_id = 3;
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), 0);
	inet_pton(AF_INET, "192.0.2.10", a4);
	assert_int_equal(eps[id].cfg.local.family, TG_AF_INET);
	assert_memory_equal(eps[id].cfg.local.a, a4, 4);
	assert_int_equal(eps[id].cfg.local.port, 10000);
	assert_int_equal(eps[id].cfg.key, 1);
	assert_int_equal(eps[id].cfg.port_id, 3);
	assert_int_equal(eps[id].cfg.dir, TG_DIR_RECV);
	assert_int_equal(eps[id].cfg.flags, TG_EPF_LATCH);
	assert_int_equal(eps[id].cfg.clock_rate, 8000);
	assert_int_equal(eps[id].cfg.peer, DP_EP_NONE);
	assert_int_equal(eps[id].cfg.gen, 1);
	assert_int_equal(eps[id].cfg.remote.family, TG_AF_NONE);
	assert_int_equal(eps[id].cfg.pt_in, 0xff);
	assert_int_equal(eps[id].cfg.pt_out, 0xff);
	assert_int_equal(eps[id].learned.latched, 0);
	assert_int_equal(eps[id].rx.rtp.packets, 0);
	assert_true(eps[id].rx.created_ns > 0);
	assert_cfg_stable(id);
	/* the flow is keyed on the default address, not on 0.0.0.0 */
	assert_flows(id, true);
	assert_int_equal(flow_get(TG_AF_INET, zero, eps[id].cfg.local.port, &v), -ENOENT);
	/* the default's ports are the default's: the next one there is the next port */
	r = req_make(5, TG_AF_INET, NULL, 0);
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), 0);
	assert_int_equal(eps[id].cfg.local.port, 10002);
	r = req_make(6, TG_AF_INET, "192.0.2.10", 0);
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), 0);
	assert_int_equal(eps[id].cfg.local.port, 10004);

	/* no IPv6 default: refused */
	r = req_make(2, TG_AF_INET6, NULL, 0);
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), -EADDRNOTAVAIL);
	assert_int_equal(dp_ep_find(flows, 2, &id), -ENOENT);
	media_add(&def.v6, TG_AF_INET6, "2001:db8::10");
	r.clock_rate = 48000;
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), 0);
	inet_pton(AF_INET6, "2001:db8::10", a6);
	assert_int_equal(eps[id].cfg.local.family, TG_AF_INET6);
	assert_memory_equal(eps[id].cfg.local.a, a6, 16);
	assert_int_equal(eps[id].cfg.local.port, 10000); /* its own address, its own ports */
	assert_int_equal(eps[id].cfg.clock_rate, 48000);
	assert_flows(id, true);

	/* an address given is kept */
	r = req_make(3, TG_AF_INET, "198.51.100.7", 0);
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), 0);
	inet_pton(AF_INET, "198.51.100.7", a4);
	assert_memory_equal(eps[id].cfg.local.a, a4, 4);
	assert_int_equal(eps[id].cfg.local.port, 10000);
	assert_flows(id, true);

	/* no IPv4 default either */
	def.v4.n = 0;
	r = req_make(4, TG_AF_INET, NULL, 0);
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), -EADDRNOTAVAIL);
	assert_int_equal(dp_flows_n_active(flows), 5);
}

/* Ports are allocated per local address: the same port on two addresses, each one's own
 * exhaustion, and a freed port comes back on its own address only. */
static void test_ports_per_local_address(void **state)
{
	const char *addrs[] = {"10.0.0.1", "10.0.0.2"};
	struct tg_msg_ep r;
	uint32_t id;
	uint64_t key = 1;

	for (unsigned a = 0; a < 2; a++) {
		for (unsigned i = 0; i < 4; i++) {
			r = req_make(key++, TG_AF_INET, addrs[a], 0);
			assert_int_equal(dp_ep_create(flows, &r, &def, &id), 0);
			assert_int_equal(eps[id].cfg.local.port, PORT_MIN + 2 * i);
			assert_flows(id, true);
		}
		r = req_make(key, TG_AF_INET, addrs[a], 0);
		assert_int_equal(dp_ep_create(flows, &r, &def, &id), -ENOSPC);
	}
	/* an IPv6 address whose bytes begin like 10.0.0.1 is another address */
	r = req_make(key, TG_AF_INET6, "a00:1::", 0);
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), 0);
	assert_int_equal(eps[id].cfg.local.port, PORT_MIN);
	assert_int_equal(dp_flows_n_active(flows), 9);
	/* 10.0.0.1's 10002 freed: 10.0.0.2 still has none, 10.0.0.1 gets it back */
	delete_now(2);
	r = req_make(20, TG_AF_INET, addrs[1], 0);
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), -ENOSPC);
	r = req_make(20, TG_AF_INET, addrs[1], 10002);
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), -EADDRINUSE);
	r = req_make(20, TG_AF_INET, addrs[0], 0);
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), 0);
	assert_int_equal(eps[id].cfg.local.port, 10002);
}

/* A request leaving its local address 0, for any port (0) or one port. */
static int create_any(uint64_t key, uint8_t family, uint16_t port, uint32_t *id)
{
	struct tg_msg_ep r = req_make(key, family, NULL, port);

	return dp_ep_create(flows, &r, &def, id);
}

/* Endpoint id's local address and port. */
static void assert_local(uint32_t id, const char *addr, uint16_t port)
{
	const bool v6 = strchr(addr, ':') != NULL;
	uint8_t a[16];

	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, addr, a), 1);
	assert_int_equal(eps[id].cfg.local.family, v6 ? TG_AF_INET6 : TG_AF_INET);
	assert_memory_equal(eps[id].cfg.local.a, a, v6 ? 16 : 4);
	assert_int_equal(eps[id].cfg.local.port, port);
	assert_flows(id, true);
}

/* Several media addresses, four ports each: the current one until it is full, then the next
 * with a free port (wrapping round to ports freed behind the cursor), -ENOSPC only when every
 * one is full; a request naming its address still gets that address or nothing. */
static void test_media_addresses_fill_in_turn(void **state)
{
	struct tg_msg_ep r;
	uint32_t id;

	media_add(&def.v4, TG_AF_INET, "192.0.2.11");
	media_add(&def.v4, TG_AF_INET, "192.0.2.12");
	for (uint64_t k = 1; k <= 4; k++) {
		assert_int_equal(create_any(k, TG_AF_INET, 0, &id), 0);
		assert_local(id, "192.0.2.10", (uint16_t)(PORT_MIN + 2 * (k - 1)));
	}
	/* the primary is full: the next address */
	assert_int_equal(create_any(5, TG_AF_INET, 0, &id), 0);
	assert_local(id, "192.0.2.11", 10000);
	/* a port freed on the primary waits: the current address has room */
	delete_now(2);
	for (uint64_t k = 6; k <= 8; k++) {
		assert_int_equal(create_any(k, TG_AF_INET, 0, &id), 0);
		assert_local(id, "192.0.2.11", (uint16_t)(PORT_MIN + 2 * (k - 5)));
	}
	/* .11 full: on to .12, not back to the primary */
	for (uint64_t k = 9; k <= 12; k++) {
		assert_int_equal(create_any(k, TG_AF_INET, 0, &id), 0);
		assert_local(id, "192.0.2.12", (uint16_t)(PORT_MIN + 2 * (k - 9)));
	}
	/* .12 full: round to the primary and the port freed there */
	assert_int_equal(create_any(13, TG_AF_INET, 0, &id), 0);
	assert_local(id, "192.0.2.10", 10002);
	/* every address full: refused, and nothing spent on it */
	assert_int_equal(create_any(14, TG_AF_INET, 0, &id), -ENOSPC);
	assert_int_equal(dp_ep_find(flows, 14, &id), -ENOENT);
	assert_int_equal(dp_flows_n_active(flows), 12);
	/* a named address is that address: full is full, another one has its own ports */
	assert_int_equal(create4(14, 0, 0, &id), 0);
	assert_int_equal(eps[id].cfg.local.port, 10000);
	r = req_make(15, TG_AF_INET, "192.0.2.11", 0);
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), -ENOSPC);
	/* a port freed past the cursor (on .12, the cursor on the primary): full ones skipped */
	delete_now(11);
	assert_int_equal(create_any(15, TG_AF_INET, 0, &id), 0);
	assert_local(id, "192.0.2.12", 10004);
	/* the IPv6 list is its own: empty here */
	assert_int_equal(create_any(16, TG_AF_INET6, 0, &id), -EADDRNOTAVAIL);
}

/* A request leaving the address 0 but asking for a port gets it on the first media address,
 * from the cursor, where that port is free; the cursor stays where it was. */
static void test_media_addresses_port_asked(void **state)
{
	uint32_t id;

	media_add(&def.v4, TG_AF_INET, "192.0.2.11");
	assert_int_equal(create_any(1, TG_AF_INET, 10002, &id), 0);
	assert_local(id, "192.0.2.10", 10002);
	assert_int_equal(create_any(2, TG_AF_INET, 10002, &id), 0);
	assert_local(id, "192.0.2.11", 10002);
	assert_int_equal(create_any(3, TG_AF_INET, 10002, &id), -EADDRINUSE);
	assert_int_equal(create_any(3, TG_AF_INET, 10001, &id), -EINVAL);
	assert_int_equal(create_any(3, TG_AF_INET, 0, &id), 0);
	assert_local(id, "192.0.2.10", 10000);
}

static void test_update(void **state)
{
	struct tg_msg_ep r = req_make(5, TG_AF_INET, "10.0.0.1", 10002);
	struct dp_ep_cfg before;
	uint32_t id, id2;
	uint8_t a[4];

	assert_int_equal(dp_ep_create(flows, &r, &def, &id), 0);
	assert_int_equal(eps[id].cfg.gen, 1);

	set_remote4(&r, "203.0.113.5", 40000);
	r.dir = TG_DIR_RECV;
	r.flags = TG_EPF_LATCH;
	r.out_ssrc = 0x12345678;
	r.pt_in = 96;
	r.pt_out = 101;
	r.te_pt = 100;
	r.clock_rate = 48000;
	r.local.port = 0; /* an update never moves the local side */
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_int_equal(id2, id);
	inet_pton(AF_INET, "203.0.113.5", a);
	assert_int_equal(eps[id].cfg.remote.family, TG_AF_INET);
	assert_memory_equal(eps[id].cfg.remote.a, a, 4);
	assert_int_equal(eps[id].cfg.remote.port, 40000);
	assert_int_equal(eps[id].cfg.remote_rtcp_port, 40001);
	assert_int_equal(eps[id].cfg.dir, TG_DIR_RECV);
	assert_int_equal(eps[id].cfg.flags, TG_EPF_LATCH);
	assert_int_equal(eps[id].cfg.out_ssrc, 0x12345678);
	assert_int_equal(eps[id].cfg.pt_in, 96);
	assert_int_equal(eps[id].cfg.pt_out, 101);
	assert_int_equal(eps[id].cfg.te_pt, 100);
	assert_int_equal(eps[id].cfg.clock_rate, 48000);
	assert_int_equal(eps[id].cfg.local.port, 10002);
	assert_int_equal(eps[id].cfg.key, 5);
	assert_int_equal(eps[id].cfg.gen, 2);
	assert_cfg_stable(id);

	/* same remote, other direction and flags: latching does not start over */
	r.dir = DIR_BOTH;
	r.flags = TG_EPF_LATCH | TG_EPF_REWRITE_RTP;
	r.remote_rtcp_port = 40011;
	r.clock_rate = 0; /* 0 keeps the clock rate */
	r.te_pt = 0;	  /* 0 (a sender that does not know the field) is none, as 0xff is */
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_int_equal(eps[id].cfg.te_pt, 0xff);
	r.te_pt = 0xff;
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_int_equal(eps[id].cfg.te_pt, 0xff);
	r.te_pt = 128;
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_int_equal(eps[id].cfg.te_pt, 0xff);
	r.te_pt = 127;
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_int_equal(eps[id].cfg.te_pt, 127);
	assert_int_equal(eps[id].cfg.gen, 2);
	assert_int_equal(eps[id].cfg.dir, DIR_BOTH);
	assert_int_equal(eps[id].cfg.flags, TG_EPF_LATCH | TG_EPF_REWRITE_RTP);
	assert_int_equal(eps[id].cfg.remote_rtcp_port, 40011);
	assert_int_equal(eps[id].cfg.clock_rate, 48000);

	/* a new port, a new address, no address: each one a new remote */
	r.remote.port = 40002;
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_int_equal(eps[id].cfg.gen, 3);
	set_remote4(&r, "203.0.113.6", 40002);
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_int_equal(eps[id].cfg.gen, 4);
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_int_equal(eps[id].cfg.gen, 4);
	memset(&r.remote, 0, sizeof(r.remote));
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_int_equal(eps[id].cfg.gen, 5);
	assert_int_equal(eps[id].cfg.remote.family, TG_AF_NONE);

	/* muxed: RTCP goes to the RTP port unless told otherwise */
	set_remote4(&r, "203.0.113.6", 40002);
	r.remote_rtcp_port = 0;
	r.flags = TG_EPF_RTCP_MUX;
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_int_equal(eps[id].cfg.remote_rtcp_port, 40002);
	assert_int_equal(eps[id].cfg.gen, 6);

	/* refused requests change nothing */
	before = eps[id].cfg;
	r.remote.family = 5;
	assert_int_equal(dp_ep_update(flows, &r, &id2), -EINVAL);
	r.remote.family = TG_AF_INET;
	r.dir = 0x4;
	assert_int_equal(dp_ep_update(flows, &r, &id2), -EINVAL);
	assert_memory_equal(&eps[id].cfg, &before, sizeof(before));
	assert_cfg_stable(id);
	r.dir = DIR_BOTH;
	r.key = 6;
	assert_int_equal(dp_ep_update(flows, &r, &id2), -ENOENT);
	r.key = 0;
	assert_int_equal(dp_ep_update(flows, &r, &id2), -ENOENT);
}

static void test_rtcp_mux_flow(void **state)
{
	struct tg_msg_ep r = req_make(1, TG_AF_INET, "10.0.0.1", 0);
	struct tg_addr local;
	uint32_t id, id2;

	assert_int_equal(dp_ep_create(flows, &r, &def, &id), 0);
	assert_flows(id, true);
	/* mux on: the RTCP flow goes; again: nothing changes */
	r.flags = TG_EPF_RTCP_MUX;
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_flows(id, false);
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_flows(id, false);
	/* mux off: it comes back, marked RTCP */
	r.flags = 0;
	assert_int_equal(dp_ep_update(flows, &r, &id2), 0);
	assert_flows(id, true);

	/* created muxed: no RTCP flow; deleted: nothing left */
	r = req_make(2, TG_AF_INET, "10.0.0.1", 0);
	r.flags = TG_EPF_RTCP_MUX;
	assert_int_equal(dp_ep_create(flows, &r, &def, &id2), 0);
	assert_flows(id2, false);
	local = eps[id2].cfg.local;
	delete_now(2);
	assert_no_flows(&local);
	/* the first endpoint's flows are untouched by its neighbour's */
	assert_flows(id, true);
	local = eps[id].cfg.local;
	delete_now(1);
	assert_no_flows(&local);
}

static void assert_peers(uint32_t a, uint32_t a_peer, uint32_t b, uint32_t b_peer)
{
	assert_int_equal(eps[a].cfg.peer, a_peer);
	assert_int_equal(eps[b].cfg.peer, b_peer);
	assert_cfg_stable(a);
	assert_cfg_stable(b);
}

static void test_link(void **state)
{
	uint32_t a, b, c, d;

	assert_int_equal(create4(1, 0, 0, &a), 0);
	assert_int_equal(create4(2, 0, 0, &b), 0);
	assert_int_equal(create4(3, 0, 0, &c), 0);
	assert_int_equal(create4(4, 0, 0, &d), 0);

	assert_int_equal(dp_ep_link(flows, 1, 2), 0);
	assert_peers(a, b, b, a);
	assert_int_equal(dp_ep_link(flows, 1, 2), 0); /* idempotent */
	assert_int_equal(dp_ep_link(flows, 2, 1), 0);
	assert_peers(a, b, b, a);
	/* A to C: A's old peer B is left alone */
	assert_int_equal(dp_ep_link(flows, 1, 3), 0);
	assert_peers(a, c, c, a);
	assert_int_equal(eps[b].cfg.peer, DP_EP_NONE);
	/* B to C: C's old peer A is left alone */
	assert_int_equal(dp_ep_link(flows, 2, 3), 0);
	assert_peers(b, c, c, b);
	assert_int_equal(eps[a].cfg.peer, DP_EP_NONE);
	/* relinking two linked endpoints to others unlinks both old pairs */
	assert_int_equal(dp_ep_link(flows, 1, 4), 0);
	assert_int_equal(dp_ep_link(flows, 2, 1), 0);
	assert_peers(a, b, b, a);
	assert_int_equal(eps[c].cfg.peer, DP_EP_NONE);
	assert_int_equal(eps[d].cfg.peer, DP_EP_NONE);
	/* peer_key 0 unlinks both sides */
	assert_int_equal(dp_ep_link(flows, 1, 0), 0);
	assert_peers(a, DP_EP_NONE, b, DP_EP_NONE);
	assert_int_equal(dp_ep_link(flows, 1, 0), 0);

	/* refusals change nothing */
	assert_int_equal(dp_ep_link(flows, 3, 4), 0);
	assert_int_equal(dp_ep_link(flows, 3, 3), -EINVAL);
	assert_int_equal(dp_ep_link(flows, 3, 99), -ENOENT);
	assert_int_equal(dp_ep_link(flows, 99, 3), -ENOENT);
	assert_int_equal(dp_ep_link(flows, 0, 3), -ENOENT);
	assert_peers(c, d, d, c);

	/* deleting one side unlinks the other */
	assert_int_equal(dp_ep_delete(flows, 3, &c), 0);
	assert_int_equal(eps[d].cfg.peer, DP_EP_NONE);
	assert_cfg_stable(d);
}

static void test_delete_waits_for_grace_period(void **state)
{
	struct rte_rcu_qsbr *rcu;
	struct tg_addr local;
	uint32_t a, b, c, id;

	/* eight slots (rte_hash's smallest table): A and six others leave one free */
	flows_open(8, PORT_MIN, PORT_MIN + 30);
	rcu = dp_flows_rcu(flows);
	assert_non_null(rcu);
	assert_int_equal(rte_rcu_qsbr_thread_register(rcu, 0), 0);
	rte_rcu_qsbr_thread_online(rcu, 0);

	assert_int_equal(create4(1, 0, 0, &a), 0);
	for (uint64_t k = 100; k < 106; k++)
		assert_int_equal(create4(k, 0, 0, &id), 0);
	assert_int_equal(dp_flows_n_active(flows), 7);
	local = eps[a].cfg.local;
	/* what a worker learned and counted for it, which its successor must not inherit */
	eps[a].rx.rtp.packets = 5;
	eps[a].rx.dropped = 2;
	eps[a].tx.tx_pkts = 3;
	eps[a].tx.rtp.mapped = 1;
	eps[a].tx.rtp.owned = 1;
	eps[a].tx.rtp.playing = 1;
	eps[a].det.state = DP_DTMF_DET_ON;
	eps[a].dtmf_req = 7;
	eps[a].learned.latched = 1;
	eps[a].learned.have_mac = 1;
	eps[a].timeout_reported = 1;

	assert_int_equal(dp_ep_delete(flows, 1, &id), 0);
	assert_int_equal(id, a);
	assert_int_equal(eps[a].state, DP_EP_DYING);
	assert_int_equal(eps[a].dtmf_req, 0); /* a string playing from it stops */
	assert_int_equal(dp_flows_n_active(flows), 6);
	assert_int_equal(dp_ep_find(flows, 1, &id), -ENOENT);
	assert_no_flows(&local);
	assert_int_equal(dp_ep_delete(flows, 1, &id), -ENOENT);

	/* the port is free at once (no packet can reach the old flow any more) */
	assert_int_equal(create4(2, local.port, 0, &b), 0);
	assert_int_not_equal(b, a);
	assert_int_equal(eps[b].cfg.local.port, local.port);
	assert_int_equal(dp_flows_n_active(flows), 7);
	/* ... but the slot is not: the worker may still hold its id from a lookup */
	assert_int_equal(create4(3, 0, 0, &c), -ENOSPC);
	dp_flows_reclaim(flows);
	assert_int_equal(eps[a].state, DP_EP_DYING);
	assert_int_equal(create4(3, 0, 0, &c), -ENOSPC);
	/* the worker passes a quiescent state: now the slot comes back */
	rte_rcu_qsbr_quiescent(rcu, 0);
	assert_int_equal(eps[a].state, DP_EP_DYING);
	dp_flows_reclaim(flows);
	assert_int_equal(eps[a].state, DP_EP_FREE);
	assert_int_equal(create4(3, 0, 0, &c), 0);
	assert_int_equal(c, a);
	assert_int_equal(eps[c].state, DP_EP_ACTIVE);
	assert_int_equal(dp_flows_n_active(flows), 8);
	/* a fresh endpoint in the old slot */
	assert_int_equal(eps[c].cfg.key, 3);
	assert_int_equal(eps[c].cfg.peer, DP_EP_NONE);
	assert_int_equal(eps[c].rx.rtp.packets, 0);
	assert_int_equal(eps[c].rx.dropped, 0);
	assert_int_equal(eps[c].tx.tx_pkts, 0);
	assert_int_equal(eps[c].tx.rtp.mapped, 0);
	assert_int_equal(eps[c].tx.rtp.owned, 0);
	assert_int_equal(eps[c].tx.rtp.playing, 0);
	assert_int_equal(eps[c].det.state, DP_DTMF_DET_IDLE);
	assert_int_equal(eps[c].dtmf_req, 0);
	assert_int_equal(eps[c].cfg.te_pt, 0xff);
	assert_int_equal(eps[c].learned.latched, 0);
	assert_int_equal(eps[c].learned.have_mac, 0);
	assert_int_equal(eps[c].timeout_reported, 0);
	assert_int_equal(eps[c].learn_seq & 1, 0);
	assert_int_equal(eps[c].rx_seq & 1, 0);
	assert_cfg_stable(c);
	assert_flows(c, true);
	assert_flows(b, true);

	/* the hash's own deferred slots come back too: churn well past its size */
	for (uint64_t k = 10; k < 40; k++) {
		assert_int_equal(dp_ep_delete(flows, k == 10 ? 3 : k - 1, &id), 0);
		rte_rcu_qsbr_quiescent(rcu, 0);
		dp_flows_reclaim(flows);
		assert_int_equal(create4(k, 0, 0, &id), 0);
		assert_flows(id, true);
	}
	assert_int_equal(dp_flows_n_active(flows), 8);

	/* an offline worker holds nothing: no need to wait for it */
	rte_rcu_qsbr_thread_offline(rcu, 0);
	assert_int_equal(dp_ep_delete(flows, 39, &id), 0);
	dp_flows_reclaim(flows);
	assert_int_equal(eps[id].state, DP_EP_FREE);
	assert_int_equal(dp_flows_n_active(flows), 7);
	assert_int_equal(rte_rcu_qsbr_thread_unregister(rcu, 0), 0);
}

static void test_max_endpoints(void **state)
{
	uint32_t id;

	flows_open(8, PORT_MIN, 10998);
	for (uint64_t k = 1; k <= 8; k++)
		assert_int_equal(create4(k, 0, 0, &id), 0);
	assert_int_equal(dp_flows_n_active(flows), 8);
	assert_int_equal(create4(9, 10500, 0, &id), -ENOSPC);
	assert_int_equal(create4(9, 0, 0, &id), -ENOSPC);
	assert_int_equal(dp_ep_find(flows, 9, &id), -ENOENT);
	assert_int_equal(dp_flows_n_active(flows), 8);
	/* the refused request took no port */
	delete_now(2);
	assert_int_equal(dp_flows_n_active(flows), 7);
	assert_int_equal(create4(9, 10500, 0, &id), 0);
	assert_int_equal(dp_flows_n_active(flows), 8);
}

static void test_bad_requests(void **state)
{
	struct tg_msg_ep r;
	struct dp_flows_params p = {
		.max_endpoints = 4, .n_readers = 1, .port_min = PORT_MIN, .port_max = PORT_MAX};
	uint32_t id;

	r = req_make(0, TG_AF_INET, "10.0.0.1", 0);
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), -EINVAL);
	r = req_make(1, TG_AF_NONE, NULL, 0);
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), -EINVAL);
	r = req_make(1, TG_AF_INET, "10.0.0.1", 0);
	r.local.family = 5;
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), -EINVAL);
	r = req_make(1, TG_AF_INET, "10.0.0.1", 0);
	r.dir = 0x4;
	assert_int_equal(dp_ep_create(flows, &r, &def, &id), -EINVAL);
	assert_int_equal(dp_flows_n_active(flows), 0);
	/* nothing was spent on them: all four ports are still there */
	for (uint64_t k = 1; k <= 4; k++)
		assert_int_equal(create4(k, 0, 0, &id), 0);

	assert_int_equal(dp_ep_find(flows, 0, &id), -ENOENT);
	assert_int_equal(dp_ep_find(flows, 42, &id), -ENOENT);
	assert_int_equal(dp_ep_delete(flows, 42, &id), -ENOENT);
	assert_int_equal(dp_ep_delete(flows, 0, &id), -ENOENT);
	assert_int_equal(dp_ep_link(flows, 42, 0), -ENOENT);
	r = req_make(42, TG_AF_INET, "10.0.0.1", 0);
	assert_int_equal(dp_ep_update(flows, &r, &id), -ENOENT);
	assert_int_equal(dp_ep_find(flows, 4, &id), 0);
	assert_int_equal(eps[id].cfg.key, 4);

	/* a table that cannot work is refused before anything is allocated */
	p.max_endpoints = 0;
	errno = 0;
	assert_null(dp_flows_create(&p));
	assert_int_equal(errno, EINVAL);
	p.max_endpoints = 4;
	p.n_readers = 0;
	assert_null(dp_flows_create(&p));
	p.n_readers = 1;
	p.port_min = PORT_MAX + 2;
	assert_null(dp_flows_create(&p));
	p.port_min = PORT_MIN + 1;
	assert_null(dp_flows_create(&p));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	char prefix[32], runtime_dir[PATH_MAX];
	char *eal[] = {"dp_flow_test", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
		"--no-telemetry", "--file-prefix", prefix, "-l", "0", "--log-level=error", NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_auto_ports_even_round_robin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_specific_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_is_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports_per_local_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_media_addresses_fill_in_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_media_addresses_port_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtcp_mux_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_delete_waits_for_grace_period, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_endpoints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
	};
	int rc;

	/* --in-memory would be tidier, but DPDK 22.11 refuses it with --no-huge (legacy memory) */
	snprintf(prefix, sizeof(prefix), "dpflow%d", (int)getpid());
	tg_log_set_level("all", "err");
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "dp_flow_test: EAL init failed\n");
		return 1;
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	rc = cmocka_run_group_tests_name("dp_flow", tests, NULL, NULL);
	rte_eal_cleanup();
	rmdir(runtime_dir); /* empty without shared config and telemetry */
	return rc;
}
