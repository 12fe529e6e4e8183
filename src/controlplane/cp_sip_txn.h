/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP transactions (RFC 3261 §17): libosip2's four state machines (ICT, IST, NICT, NIST) with
 * their timers A-K and retransmissions, driven from the control plane's loop. libosip2's own
 * transaction lists are walked linearly on every lookup, removal and timer pass; here each
 * transaction is detached from them as soon as it exists, found through a hash table (branch,
 * sent-by, method: §17.2.3 for requests, §17.1.3 for responses) and woken by its own loop timer
 * set from the deadlines libosip2 keeps in it, so the cost per message stays flat whatever the
 * number of transactions. Once a transaction only has retransmissions to absorb, a completed
 * record of ~0.5 KB takes its place until its last timer (Timer J keeps a BYE's server
 * transaction 32 s past its call over UDP; libosip2's transaction is 15 KB).
 *
 * The transaction user (the B2BUA) is called after libosip2 has finished with an event, never
 * from inside its state machine, so it may answer or send at once.
 */
#ifndef TG_CP_SIP_TXN_H
#define TG_CP_SIP_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include <osipparser2/osip_message.h>

#include "cp_loop.h"
#include "cp_sip_transport.h"

struct cp_txn_layer;
struct cp_txn;

struct cp_txn_ops {
	/* A new server transaction. req belongs to it (valid until end()); from is the peer it
	 * came from (answers go there). CANCEL arrives here too: see cp_txn_cancel_target(). */
	void (*request)(
		void *arg, struct cp_txn *tx, osip_message_t *req, const struct cp_sip_peer *from);
	/* An ACK that matched no INVITE server transaction (the ACK for a 2xx): the callee owns ack
	 * and frees it. */
	void (*ack)(void *arg, osip_message_t *ack, const struct cp_sip_peer *from);
	/* A response on a client transaction (retransmissions absorbed). resp belongs to the
	 * transaction and is valid during the call only. */
	void (*response)(void *arg, struct cp_txn *tx, osip_message_t *resp);
	/* A 2xx to an INVITE whose client transaction is gone (a retransmitted 2xx: send the ACK
	 * again). The callee owns resp. */
	void (*stray_2xx)(void *arg, osip_message_t *resp, const struct cp_sip_peer *from);
	/* A client transaction got no final response (timer B or F): a 408; or it could not
	 * send (cp_txn_transport_failed(): the connection was refused, reset or overran): RFC
	 * 3261 §8.1.3.1 treats that as a 503. */
	void (*timeout)(void *arg, struct cp_txn *tx);
	/* The transaction is about to be freed: forget every pointer to it. That is as soon as
	 * nothing but absorbing retransmissions is left to do (a final response sent or received
	 * on a non-INVITE, a non-2xx received, the ACK of our non-2xx received): a small
	 * completed record does that until the last timer, so after cp_txn_respond() with a final
	 * response the transaction may be gone. */
	void (*end)(void *arg, struct cp_txn *tx);
	/* Optional: an INVITE that matches no transaction is shown here first; true drops it as a
	 * retransmission (RFC 6026: the INVITE of a call the TU already answered 2xx, whose
	 * server transaction ended with that 2xx; the TU's own 2xx retransmissions answer it). */
	bool (*absorb)(void *arg, const osip_message_t *invite);
};

struct cp_txn_counters {
	uint64_t server_created;
	uint64_t client_created;
	uint64_t retransmissions_absorbed; /* requests or responses matching a transaction again */
	uint64_t stray_responses;	   /* no client transaction, not a 2xx to an INVITE */
	uint64_t stray_acks;		   /* ACK with no INVITE transaction, handed to the TU */
	uint64_t timeouts;
	uint64_t send_errors;
	uint64_t freed;
	uint64_t retired; /* lingering ones turned into completed records (see cp_txn_count) */
};

struct cp_txn_layer *cp_txn_layer_new(
	struct cp_loop *l, struct cp_sip_transport *t, const struct cp_txn_ops *ops, void *arg);
/* Frees every transaction without calling end(). */
void cp_txn_layer_free(struct cp_txn_layer *x);

/* The cp_sip_rx_fn the transport calls (arg = the layer): takes msg. */
void cp_txn_layer_rx(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg);

/* Sends a response on a server transaction; takes resp (freed on error). 0 or -errno. */
int cp_txn_respond(struct cp_txn *tx, osip_message_t *resp);
/* A client transaction for req (its top Via carries our branch) toward to, req sent at once;
 * takes req (freed on error). owner is cp_txn_owner()'s value. NULL with errno on error (EIO:
 * the first send failed). */
struct cp_txn *cp_txn_request(
	struct cp_txn_layer *x, osip_message_t *req, const struct cp_sip_peer *to, void *owner);
/* For a CANCEL's server transaction: the INVITE server transaction it cancels, or NULL. */
struct cp_txn *cp_txn_cancel_target(struct cp_txn_layer *x, struct cp_txn *cancel);

void *cp_txn_owner(const struct cp_txn *tx);
void cp_txn_set_owner(struct cp_txn *tx, void *owner);
/* The request that created it (owned by the transaction). */
osip_message_t *cp_txn_msg(const struct cp_txn *tx);
const struct cp_sip_peer *cp_txn_peer(const struct cp_txn *tx);
bool cp_txn_is_invite(const struct cp_txn *tx);
/* The last final status sent or received (0: none yet) */
int cp_txn_final_status(const struct cp_txn *tx);
/* The transaction failed because its request could not be sent (see timeout()). */
bool cp_txn_transport_failed(const struct cp_txn *tx);

/* Serializes m and sends it outside any transaction (ACK for a 2xx, a retransmitted 2xx). */
int cp_txn_send_stateless(
	struct cp_txn_layer *x, const osip_message_t *m, const struct cp_sip_peer *to);

const struct cp_txn_counters *cp_txn_counters(const struct cp_txn_layer *x);
/* Live transactions; completed records (retransmission absorbers until their last timer,
 * some 0.5 KB each instead of libosip2's 15 KB) are counted apart. */
size_t cp_txn_count(const struct cp_txn_layer *x);
size_t cp_txn_completed_count(const struct cp_txn_layer *x);
struct cp_sip_transport *cp_txn_transport(const struct cp_txn_layer *x);

#endif
