/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the control plane does with a SIP request that passed the transport's checks when no
 * session layer is hooked in (cp_app.h; tollgate-cp always hooks src/b2bua in): OPTIONS is
 * answered 200, ACK is absorbed, everything else is answered 501 Not Implemented, and responses
 * are counted and dropped. Stateless: no transaction exists here.
 */
#ifndef TG_CP_SIP_SERVER_H
#define TG_CP_SIP_SERVER_H

#include <stdint.h>

#include "cp_sip_transport.h"

struct cp_sip_server_counters {
	uint64_t options;
	uint64_t not_implemented;
	uint64_t stray_responses;
	uint64_t acks;
};

struct cp_sip_server {
	struct cp_sip_transport *transport;
	const char *user_agent;
	struct cp_sip_server_counters c;
};

/* The cp_sip_rx_fn for cp_sip_transport_new(); arg is the struct cp_sip_server. */
void cp_sip_server_rx(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg);

#endif
