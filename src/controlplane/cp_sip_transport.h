/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP over UDP and TCP on the control plane's loop (IPv4 and IPv6; every listen address gets
 * both, RFC 3261 §18): datagrams read in batches, TCP streams framed by Content-Length (which a
 * stream must carry), each message parsed and checked (cp_sip_msg.h), malformed requests
 * answered 400 with the reason and malformed responses dropped, both counted; what passes goes
 * to the owner's callback with the source. RFC 3581: every request's top Via gets received= and
 * rport= as the transport saw them, so a response finds its way back through NAT.
 *
 * TCP connections, accepted or opened toward a route's target, are one pool: a peer names its
 * connection by an id (slot and generation: an id comes back only after some four billion
 * connections, however often the kernel reuses file descriptor numbers), found in O(1) when
 * sending, and a connection to an address is found by that address, so a request toward a peer
 * that already has a connection with us, either way, goes on it. What the kernel does not take
 * at once waits in the connection's queue, in order, up to CP_SIP_TX_QUEUE_MAX; a connection
 * whose queue would grow past that, or that cannot be opened, is closed and its owner told, from
 * the loop (cp_sip_transport_on_error). Connections idle for two minutes are closed (RFC 5626
 * CRLF keep-alives count as traffic).
 *
 * One thread: everything here runs on the loop's thread.
 */
#ifndef TG_CP_SIP_TRANSPORT_H
#define TG_CP_SIP_TRANSPORT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <osipparser2/osip_message.h>

#include "cp_loop.h"

#define CP_SIP_TX_QUEUE_MAX (1u << 20) /* bytes waiting on one connection */

struct cp_sip_transport;

/* Where a message came from or goes to. A plain value: copy it, keep it as long as needed. */
struct cp_sip_peer {
	struct sockaddr_storage addr;
	socklen_t len;
	/* UDP: the socket it came in on (and the one to answer on). TCP: the connection's socket
	 * when this peer was made, for logs only: sends go by conn, never by this number. */
	int fd;
	bool stream; /* TCP */
	/* TCP, host order: where a new connection goes when this one has gone: addr with this port
	 * (RFC 3261 §18.2.2: the sent-by port of the top Via of the request that came on it), 0 =
	 * addr's own port. */
	uint16_t reconnect_port;
	uint32_t conn; /* TCP: the connection's id (never 0); UDP: 0 */
};

struct cp_sip_counters {
	uint64_t rx_msgs;
	uint64_t rx_bytes;
	uint64_t rx_bad_requests;  /* answered 400/416/505 */
	uint64_t rx_bad_responses; /* dropped */
	uint64_t rx_unanswerable;  /* so broken nobody could be told */
	uint64_t rx_too_big;
	uint64_t tx_msgs;   /* sent, or queued on a connection */
	uint64_t tx_errors; /* cp_sip_send() failed */
	uint64_t tx_queued; /* messages (whole or their tail) that waited for the socket */
	uint64_t tcp_accepted;
	uint64_t tcp_connected;	     /* connections we opened that came up */
	uint64_t tcp_connect_failed; /* refused, unreachable, not up within 10 s */
	uint64_t tcp_reconnected;    /* a send found its connection gone and opened another */
	uint64_t tcp_refused;	     /* accept or open turned down: too many connections, memory */
	uint64_t tcp_closed_bad;     /* closed for bad framing: no Content-Length, too large */
	uint64_t tcp_closed_idle;
	uint64_t tcp_closed_peer;     /* FIN or RST from the peer, or a send that failed */
	uint64_t tcp_closed_overflow; /* the peer did not read: CP_SIP_TX_QUEUE_MAX waiting */
	uint64_t tcp_lost;	      /* connections that went with output still queued */
};

/* msg belongs to the callback (osip_message_free it); from is valid during the call. */
typedef void (*cp_sip_rx_fn)(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg);

/*
 * What was queued toward connection conn is lost: err is -ECONNREFUSED, -ETIMEDOUT (not
 * connected in time, or idle with output waiting), -ENOBUFS (the peer did not read), or what
 * the socket reported (-ECONNRESET, -EPIPE, ...). Called from the loop, never from inside
 * cp_sip_send(); the connection is gone and the id will not come back. A connection that closes
 * with nothing queued is not reported: a peer may answer on a new one.
 */
typedef void (*cp_sip_error_fn)(struct cp_sip_transport *t, uint32_t conn, int err, void *arg);

/*
 * Binds UDP and TCP on each "ADDR:PORT" / "[ADDR6]:PORT" in listen (comma-separated; port 0:
 * any, the same for both). NULL with errno and a logged reason on failure.
 */
struct cp_sip_transport *cp_sip_transport_new(
	struct cp_loop *l, const char *listen, cp_sip_rx_fn fn, void *arg);
/* Closes every connection (no error callbacks) and the listeners. */
void cp_sip_transport_free(struct cp_sip_transport *t);
/* One error callback (a second call replaces it; fn NULL: none). cp_txn_layer_new() sets it. */
void cp_sip_transport_on_error(struct cp_sip_transport *t, cp_sip_error_fn fn, void *arg);

/*
 * Sends buf to peer. UDP: one datagram from the socket it names. TCP: on connection to->conn;
 * if that one has gone (closed by the peer, idle, reset), on a live connection to to->addr
 * (port to->reconnect_port when set), else on a new one opened to that address, the message
 * waiting until it is up. Bytes the kernel does not take wait in the connection's queue, after
 * what is already there. 0 (sent or queued) or -errno: -ENOBUFS (queue full: the connection is
 * closed and what it held reported), -ENOSPC (too many connections), or the socket's error.
 */
int cp_sip_send(
	struct cp_sip_transport *t, const char *buf, size_t len, const struct cp_sip_peer *to);
/*
 * cp_sip_send() for a caller that keeps the peer (a transaction): when the message goes on
 * another connection than to->conn, to->conn and to->fd name it afterwards, so that the next
 * send finds it at once and an error callback names an id the caller knows.
 */
int cp_sip_send_update(
	struct cp_sip_transport *t, const char *buf, size_t len, struct cp_sip_peer *to);

const struct cp_sip_counters *cp_sip_transport_counters(const struct cp_sip_transport *t);
/* The bound address of listener i ("ADDR:PORT"), for logs and tests; NULL past the last. */
const char *cp_sip_transport_bound(const struct cp_sip_transport *t, unsigned i);
/* Open or opening TCP connections. */
unsigned cp_sip_transport_conns(const struct cp_sip_transport *t);

/*
 * Where a request we originate toward dst goes out, from the listener of dst's family (so the
 * far end sees the address it may answer to). UDP: that listener's socket. TCP: a connection to
 * dst we already have (accepted or opened), else a new one from the listener's address (port
 * chosen by the kernel) whose connect() completes on the loop; what is sent before then waits.
 * local gets the listener's "ADDR:PORT" / "[ADDR6]:PORT" for the Via sent-by and the Contact
 * (the TCP listener has the UDP one's port). 0, -EAFNOSUPPORT (no listener of that family),
 * -ENOSPC (too many connections), -ENOMEM, or connect()'s own immediate error (-ENETUNREACH);
 * a connect that fails later is reported through the error callback.
 */
int cp_sip_transport_route(struct cp_sip_transport *t, const struct sockaddr *dst, socklen_t len,
	bool tcp, struct cp_sip_peer *out, char *local, size_t local_len);
/* Our "ADDR:PORT" on the listener a peer talks to. 0 or -ENOENT. */
int cp_sip_transport_local(const struct cp_sip_transport *t, const struct cp_sip_peer *p,
	char *local, size_t local_len);

#endif
