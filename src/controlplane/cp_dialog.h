/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One SIP dialog (RFC 3261 §12) seen from the appliance: its identity (Call-ID, our tag, the
 * peer's tag), the two URIs as they appear in From/To, the peer's target (Contact, refreshed by
 * target-refresh requests and their 2xx), the route set from Record-Route, both CSeq counters,
 * and where the peer is reached. It builds the requests the appliance sends inside the dialog
 * (BYE, re-INVITE, ACK for a 2xx, CANCEL of the initial INVITE) and the responses it sends to
 * the peer's requests, always from the appliance's own addresses: nothing of the other leg
 * appears here (topology hiding is a property of what this module writes).
 */
#ifndef TG_CP_DIALOG_H
#define TG_CP_DIALOG_H

#include <stdbool.h>
#include <stdint.h>

#include <osipparser2/osip_message.h>

#include "cp_sip_transport.h"

#define CP_DIALOG_MAX_ROUTES 8

struct cp_dialog {
	char *call_id;
	char *local_tag;
	char *remote_tag;    /* NULL until the peer's tag is known (UAC before a response) */
	char *local_uri;     /* our From (UAC) or To (UAS) header value, without the tag */
	char *remote_uri;    /* theirs, without the tag */
	char *remote_target; /* the peer's Contact URI: the Request-URI of our requests */
	char *routes[CP_DIALOG_MAX_ROUTES]; /* Route headers we send, in order */
	unsigned nroutes;
	uint32_t local_cseq;
	uint32_t remote_cseq; /* 0: none seen yet */
	bool uac;
	bool confirmed;		 /* a 2xx made it a dialog (else early, or nothing yet) */
	struct cp_sip_peer peer; /* where requests and responses go */
	char local_hostport[72]; /* our "ADDR:PORT" on this leg: Via sent-by and Contact */
	const char *user_agent;	 /* not owned */
};

/*
 * UAS side from a dialog-creating request (the INVITE on the caller's leg): Call-ID, the
 * peer's tag, URIs, target and routes copied from it; our tag generated. 0 or -ENOMEM/-EINVAL.
 */
int cp_dialog_init_uas(struct cp_dialog *d, const osip_message_t *req,
	const struct cp_sip_peer *peer, const char *local_hostport, const char *user_agent);
/*
 * UAC side for a new dialog: a fresh Call-ID and tag, our URI "sip:<from_user>@<local host>",
 * the target's URI as Request-URI and To. peer is the next hop.
 */
int cp_dialog_init_uac(struct cp_dialog *d, const char *from_user, const char *from_display,
	const char *ruri, const struct cp_sip_peer *peer, const char *local_hostport,
	const char *user_agent);
void cp_dialog_fini(struct cp_dialog *d);

/* "Call-ID|our tag": the key under which an incoming in-dialog request finds its dialog */
char *cp_dialog_key(const struct cp_dialog *d);
/* The same key computed from an incoming request (Call-ID and To tag); NULL if no To tag. */
char *cp_dialog_key_of_request(const osip_message_t *req);
/* ... and from a response to a request we sent (Call-ID and From tag); NULL if no From tag. */
char *cp_dialog_key_of_response(const osip_message_t *resp);

/*
 * A response on the UAC side: learns the peer's tag (first one wins), its Contact as the target
 * and, for a 2xx to the INVITE, the route set (Record-Route reversed) and confirms the dialog.
 */
void cp_dialog_uac_response(struct cp_dialog *d, const osip_message_t *resp);
/* A request the peer sent inside the dialog: -1 if its CSeq is lower than the last one (answer
 * 500), else 0; a target refresh (re-INVITE, UPDATE) updates the target. */
int cp_dialog_uas_request(struct cp_dialog *d, const osip_message_t *req);

/*
 * A new request inside the dialog (BYE, INVITE, UPDATE, ...): Request-URI the target, Route
 * set, our Via with a new branch, From/To with tags, next CSeq (method), Max-Forwards 70, our
 * Contact for target-refresh methods. NULL on error.
 */
osip_message_t *cp_dialog_request(struct cp_dialog *d, const char *method);
/* The ACK for a 2xx to the INVITE with CSeq number cseq (a new transaction, §13.2.2.4). */
osip_message_t *cp_dialog_ack(struct cp_dialog *d, uint32_t cseq);
/* The CANCEL of the initial INVITE sent as invite (same Request-URI, Via, Call-ID, From, To
 * without tag, CSeq number; §9.1). */
osip_message_t *cp_dialog_cancel(const osip_message_t *invite);

/*
 * A response to req, a request the peer sent on this dialog's leg: its Via list, From, Call-ID
 * and CSeq, To with our tag, and for 101-299 to INVITE/UPDATE our Contact. reason NULL = the
 * standard phrase.
 */
osip_message_t *cp_dialog_response(
	const struct cp_dialog *d, const osip_message_t *req, int code, const char *reason);
/* A response outside any dialog (no Contact): To gets tag when it has none. */
osip_message_t *cp_sip_make_response(
	const osip_message_t *req, int code, const char *reason, const char *tag);

/* Sets body with Content-Type (NULL body: none). 0 or -ENOMEM. */
int cp_sip_set_body(osip_message_t *m, const char *type, const char *body, size_t len);
/* Adds "Name: value". 0 or -ENOMEM. */
int cp_sip_add_header(osip_message_t *m, const char *name, const char *value);

/* Random hex token of n chars (n < 64) into out[n + 1]: tags, branches, Call-IDs. */
void cp_sip_token(char *out, unsigned n);
/* A random number from the same generator (seeded from the kernel): back-off timers. */
uint64_t cp_sip_random(void);

#endif
