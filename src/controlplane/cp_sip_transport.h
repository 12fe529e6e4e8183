/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP over UDP and TCP on the control plane's loop (IPv4 and IPv6; every listen address gets
 * both, RFC 3261 §18): datagrams read in batches, TCP streams framed by Content-Length (which a
 * stream must carry), each message parsed and checked (cp_sip_msg.h), malformed requests
 * answered 400 with the reason and malformed responses dropped, both counted; what passes goes
 * to the owner's callback with the source. Answers to a TCP request go back on its connection. RFC
 * 3581: every request's top Via gets received= and rport= as the transport saw them, so a response
 * finds its way back through NAT.
 */
#ifndef TG_CP_SIP_TRANSPORT_H
#define TG_CP_SIP_TRANSPORT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <osipparser2/osip_message.h>

#include "cp_loop.h"

struct cp_sip_transport;

struct cp_sip_peer {
	struct sockaddr_storage addr;
	socklen_t len;
	int fd;	     /* the socket it came in on (and the one to answer on) */
	bool stream; /* TCP: fd is the connection */
};

struct cp_sip_counters {
	uint64_t rx_msgs;
	uint64_t rx_bytes;
	uint64_t rx_bad_requests;  /* answered 400/416/505 */
	uint64_t rx_bad_responses; /* dropped */
	uint64_t rx_unanswerable;  /* so broken nobody could be told */
	uint64_t rx_too_big;
	uint64_t tx_msgs;
	uint64_t tx_errors;
	uint64_t tcp_accepted;
	uint64_t tcp_closed_bad; /* closed for bad framing: no Content-Length, too large */
	uint64_t tcp_closed_idle;
};

/* msg belongs to the callback (osip_message_free it); from is valid during the call. */
typedef void (*cp_sip_rx_fn)(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg);

/*
 * Binds UDP on each "ADDR:PORT" / "[ADDR6]:PORT" in listen (comma-separated). NULL with errno
 * and a logged reason on failure.
 */
struct cp_sip_transport *cp_sip_transport_new(
	struct cp_loop *l, const char *listen, cp_sip_rx_fn fn, void *arg);
void cp_sip_transport_free(struct cp_sip_transport *t);
/* Sends buf to peer (over the socket it came in on). 0 or -errno. */
int cp_sip_send(
	struct cp_sip_transport *t, const char *buf, size_t len, const struct cp_sip_peer *to);
const struct cp_sip_counters *cp_sip_transport_counters(const struct cp_sip_transport *t);
/* The bound address of listener i ("ADDR:PORT"), for logs and tests; NULL past the last. */
const char *cp_sip_transport_bound(const struct cp_sip_transport *t, unsigned i);

/*
 * Where a request we originate toward dst goes out: over UDP, the listener of dst's family
 * (so the far end sees the address it may answer to). local gets that listener's
 * "ADDR:PORT" / "[ADDR6]:PORT" for the Via sent-by and the Contact. 0, -EAFNOSUPPORT (no
 * listener of that family) or -EPROTONOSUPPORT (TCP toward a peer: not yet).
 */
int cp_sip_transport_route(struct cp_sip_transport *t, const struct sockaddr *dst, socklen_t len,
	bool tcp, struct cp_sip_peer *out, char *local, size_t local_len);
/* Our "ADDR:PORT" on the listener a peer talks to. 0 or -ENOENT. */
int cp_sip_transport_local(const struct cp_sip_transport *t, const struct cp_sip_peer *p,
	char *local, size_t local_len);

#endif
