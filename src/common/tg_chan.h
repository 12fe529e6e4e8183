/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control/data channel: one POSIX shared-memory segment, created by the dataplane and named
 * after the instance, with a versioned header and rte_ring rings inside it. rte_ring_init() works
 * on any memory, so the control plane maps the segment and uses the rings without DPDK's EAL.
 *
 *  - command rings (control plane -> dataplane), one per consuming dataplane lcore, single
 *    producer / single consumer: each consumer owns its ring, nothing is contended;
 *  - one event ring (dataplane -> control plane), multi-producer / single consumer, for replies
 *    and unsolicited events.
 *
 * Liveness: the dataplane writes a monotonic heartbeat and a generation chosen at creation; the
 * control plane writes its own generation and heartbeat into its side of the header. A dataplane
 * restart makes a new segment under the same name with a new generation, so a control plane that
 * re-opens by name sees the change and re-sends its state.
 *
 * Thread affinity: one thread per side uses a given ring end; tg_chan_* calls on one handle are
 * not thread-safe unless stated.
 */
#ifndef TG_CHAN_H
#define TG_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_msg.h"

#define TG_CHAN_MAGIC 0x314e484343474f54ULL /* "TOGCCHN1" little-endian */
#define TG_CHAN_LAYOUT_VERSION 3
#define TG_CHAN_MAX_CMD_RINGS 16
#define TG_CHAN_NAME_MAX 32

enum tg_chan_state {
	TG_CHAN_STATE_INIT = 0,	  /* being built: attachers must wait */
	TG_CHAN_STATE_READY = 1,  /* rings usable */
	TG_CHAN_STATE_CLOSED = 2, /* the dataplane stopped cleanly */
};

struct tg_chan;

struct tg_chan_params {
	const char *instance; /* [A-Za-z0-9_-]{1,31} */
	unsigned n_cmd_rings; /* 1..TG_CHAN_MAX_CMD_RINGS */
	unsigned ring_size;   /* slots per ring, power of two >= 64 */
};

/* Counters in the header, each written by exactly one side. */
struct tg_chan_counters {
	uint64_t cmd_sent[TG_CHAN_MAX_CMD_RINGS]; /* cp */
	uint64_t cmd_full[TG_CHAN_MAX_CMD_RINGS]; /* cp: enqueue refused, sender kept the message */
	uint64_t cmd_recv[TG_CHAN_MAX_CMD_RINGS]; /* dp, consumer of that ring */
	uint64_t cmd_bad;			  /* dp: unknown type / wrong generation */
	uint64_t evt_sent;			  /* dp */
	uint64_t evt_full;			  /* dp: event ring full, sender kept or counted */
	uint64_t evt_recv;			  /* cp */
};

/* Shared-memory object name for an instance: "/tollgate.<instance>.chan". -EINVAL on a bad name. */
int tg_chan_shm_name(const char *instance, char *buf, size_t len);

/*
 * Dataplane side. Creates (replacing any stale one) and initialises the segment, then marks it
 * READY. Returns NULL with errno set; the reason is logged.
 */
struct tg_chan *tg_chan_create(const struct tg_chan_params *p);
/* Marks the segment CLOSED, unmaps and unlinks it. */
void tg_chan_destroy(struct tg_chan *ch);

/*
 * Control-plane side. Maps an existing segment and validates everything in it before touching a
 * ring: magic, layout version, message size, segment size, ring offsets and ring headers.
 * Takes an exclusive lock so only one control plane attaches. Returns 0 or:
 *   -ENOENT   no segment (dataplane not running)
 *   -EAGAIN   segment exists but is not READY yet
 *   -EPROTO   not a channel segment, or corrupt (message says which field)
 *   -EPROTONOSUPPORT  layout version / message size mismatch
 *   -EBUSY    another control plane holds the lock
 * err (may be NULL) receives a one-line explanation.
 */
int tg_chan_attach(const char *instance, struct tg_chan **out, char *err, size_t errlen);
void tg_chan_detach(struct tg_chan *ch);

/* Validation of a mapped segment of 'size' bytes; shared by attach and the tests. */
int tg_chan_validate(const void *seg, size_t size, char *err, size_t errlen);

/* Header accessors */
uint32_t tg_chan_generation(const struct tg_chan *ch);
unsigned tg_chan_n_cmd_rings(const struct tg_chan *ch);
enum tg_chan_state tg_chan_state(const struct tg_chan *ch);
int32_t tg_chan_dp_pid(const struct tg_chan *ch);
struct tg_chan_counters *tg_chan_counters(struct tg_chan *ch);

/* Liveness. Each side stamps its own heartbeat; the other reads its age. */
void tg_chan_dp_heartbeat(struct tg_chan *ch, uint64_t now_ns);
uint64_t tg_chan_dp_heartbeat_ns(const struct tg_chan *ch);
void tg_chan_cp_announce(struct tg_chan *ch, uint32_t cp_gen, int32_t cp_pid);
void tg_chan_cp_heartbeat(struct tg_chan *ch, uint64_t now_ns);
uint32_t tg_chan_cp_generation(const struct tg_chan *ch);
uint64_t tg_chan_cp_heartbeat_ns(const struct tg_chan *ch);

/*
 * True when the segment this handle maps is no longer the one under the instance's name (the
 * dataplane restarted or went away). One stat(2): call it from a timer, not per message.
 */
bool tg_chan_replaced(const struct tg_chan *ch);

/*
 * Rings. Both return how many messages moved (0..n). A short send is back-pressure: the caller
 * still owns msgs[ret..n-1] and decides to retry; the refusal is counted in the header.
 */
unsigned tg_chan_cmd_send(struct tg_chan *ch, unsigned ring, const struct tg_msg *msgs, unsigned n);
unsigned tg_chan_cmd_recv(struct tg_chan *ch, unsigned ring, struct tg_msg *msgs, unsigned n);
unsigned tg_chan_evt_send(struct tg_chan *ch, const struct tg_msg *msgs, unsigned n);
unsigned tg_chan_evt_recv(struct tg_chan *ch, struct tg_msg *msgs, unsigned n);
unsigned tg_chan_cmd_free(const struct tg_chan *ch, unsigned ring);

#endif
