/* SPDX-License-Identifier: BSD-3-Clause */
/* The session coordinator: calls as two dialogs with anchored media (see b2b_call.h). */
#include "b2b_call.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "b2b_events.h"
#include "b2b_state.h"
#include "cp_dialog.h"
#include "cp_sdp.h"
#include "cp_sip_txn.h"
#include "cp_sip_write.h"
#include "tg_hmap.h"
#include "tg_log.h"
#include "tg_sockaddr.h"
#include "tg_time.h"

#define B2B_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REFER"
#define T1_NS (500ull * TG_NS_PER_MS)
#define T2_NS (4000ull * TG_NS_PER_MS)
#define MAX_CODECS 32
#define KEY_SHIFT 4 /* ep key = call id << 4 | stream << 1 | leg (B = 1) */

/* ---- calls ------------------------------------------------------------------------------- */

struct b2b_call;

struct b2b_leg {
	struct cp_dialog dlg;
	struct tg_hnode node; /* the dialog table: Call-ID|our tag */
	char *key;
	struct b2b_call *call; /* NULL once retired */
	struct b2b *co;
	bool is_b;
	bool xfer;    /* the leg a transfer sets up (c->xfer), not yet one of the call's two */
	bool retired; /* a party no longer in any call, being let go (b->retired) */
	struct b2b_leg *next_retired;
	struct cp_txn *invite_tx;   /* A: the IST until its final; B: the ICT until it ends */
	struct cp_txn *bye_tx;	    /* our BYE in flight */
	struct cp_txn *reinvite_tx; /* B: a re-INVITE we relay; A: the one being relayed */
	/* an INFO: on the far leg ours (relayed or the operator's DTMF), on the near leg the
	 * party's, waiting for the far leg's answer */
	struct cp_txn *info_tx;
	struct cp_sdp_origin origin; /* our o= toward this leg */
	osip_message_t *ok2xx;	     /* A: our 2xx, retransmitted until the ACK */
	osip_message_t *ack;	     /* B: our ACK to its 2xx, re-sent on a retransmitted 2xx */
	struct cp_timer rtx;
	uint64_t rtx_ns;
	uint64_t rtx_give_up;
	uint32_t invite_cseq;
	bool bye_received;
	bool bye_sent;
	uint8_t op;  /* enum leg_op: this leg's part of the operator's hold or resume */
	int op_code; /* LEG_OP_FAILED: the status it answered (408: none) */
	/* the SDP the appliance last sent on this leg: hold and resume re-offer from it */
	char *sdp;
	size_t sdp_len;
};

/* One leg's part of a hold or resume the appliance itself offers (b2b_call_hold). */
enum leg_op {
	LEG_OP_IDLE,
	LEG_OP_SENT,	/* our re-INVITE is in flight (l->reinvite_tx) */
	LEG_OP_BACKOFF, /* it got 491: sent again when c->op_retry fires */
	LEG_OP_OK,	/* 2xx, ACKed, the endpoint updated */
	LEG_OP_FAILED,
};

/* The appliance's own offer/answer in progress on a call */
enum own_op {
	OP_NONE,
	OP_HOLD,
	OP_RESUME,
	/* an offer the state does not follow: a leg going back after the other refused (undo_hold:
	 * back on hold), or the transferee's re-offer after a transfer */
	OP_REOFFER,
};

/* What an endpoint needs of one side's SDP stream (a cp_sdp_stream without its codec list,
 * which would make every call kilobytes larger) */
struct b2b_remote {
	struct tg_addr remote;
	uint16_t rtcp_port;
	uint8_t dir;
	uint8_t flags;
	uint8_t reject;
	uint8_t te_pt; /* the telephone-event payload type in its SDP, 0: none */
	uint32_t clock_rate;
};

/* The telephone-event payload type among a stream's codecs, 0: none */
static uint8_t te_pt_of(const struct cp_sdp_codec *codecs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (codecs[i].flags & CP_SDP_CF_DTMF)
			return codecs[i].pt;
	return 0;
}

static struct b2b_remote remote_of(const struct cp_sdp_stream *st)
{
	struct b2b_remote r = {
		.remote = st->remote,
		.rtcp_port = st->remote_rtcp.port,
		.dir = st->dir,
		.flags = st->flags,
		.reject = st->reject,
		.clock_rate = st->clock_rate,
		.te_pt = te_pt_of(st->codecs, st->ncodecs),
	};

	return r;
}

struct b2b_media {
	uint64_t key_a, key_b;
	struct tg_addr local_a, local_b;
	/* from the initial offer: where its author (A; B for a late offer) wants media, in which
	 * direction, rtcp-mux */
	struct b2b_remote offerer;
	bool active;
	bool created_a, created_b;
	struct tg_msg_ep_stats stats_a, stats_b;
	bool have_a, have_b;
};

enum dp_step {
	STEP_NONE,
	STEP_SEND_INVITE,  /* endpoints created: send the B leg's INVITE */
	STEP_OFFER_A,	   /* late offer: endpoints created for B's offer, send it to A in a 2xx */
	STEP_FINALIZE,	   /* endpoints deleted: write the record, free */
	STEP_ANSWER_LOCAL, /* the caller's endpoints created: the appliance answers */
	STEP_ORIGINATE,	   /* the callee's endpoint created: our INVITE goes out */
};

struct b2b_call {
	struct tg_hnode node;	     /* calls by id */
	struct tg_hnode invite_node; /* calls by A's Call-ID and From tag (b->invites) */
	bool invite_indexed;
	uint64_t id;
	struct b2b *co; /* the coordinator */
	struct b2b_leg a, b;
	struct b2b_state_machine sm;
	/* The offer in progress as its author sent it (A's INVITE, or a relayed re-INVITE's): the
	 * rewrite of the answer needs it. Kept as text and parsed when needed (offer()): a parsed
	 * SDP is ~30 KB, the text a few hundred bytes. */
	char *offer_a;
	size_t offer_len;
	uint64_t offer_gen; /* which keep_offer() offer_a is from (offer() parses it once) */
	struct cp_route_target target;
	char ruri_user[128];
	char from_user[128];
	char from_display[128];
	int max_forwards;
	unsigned redirects; /* 3xx followed so far */
	struct b2b_media media[CP_SDP_MAX_MEDIA];
	unsigned nmedia;
	unsigned dp_pending;
	int dp_error;
	enum dp_step dp_next;
	struct cp_timer no_answer;
	struct cp_timer max_dur;
	int64_t setup_ms, answer_ms, end_ms;
	enum b2b_cdr_reason reason;
	int sip_code;
	const char *reason_hdr; /* Reason header for the BYEs we send, NULL: none */
	bool terminating;
	bool a_final_sent;
	bool answered;
	bool finalizing;
	bool orphan;	    /* freed by the coordinator while dataplane replies were due */
	struct source *src; /* its caller's address, counted while the call is active */
	bool b_final;	    /* B's INVITE got its final response (nothing left to CANCEL) */
	bool b_tcp; /* the B leg over TCP though its route says UDP: the INVITE was too big */
	/* Late offer (RFC 3261 §13.2.1: A's INVITE had no SDP): B offers in its 2xx, A answers in
	 * its ACK, and B's ACK carries that answer, so it waits for A's (ack_due_b). */
	bool late;
	bool ack_due_b;
	/* hold and resume: the operator's (op, on both legs at once; held once confirmed) and a
	 * relayed one a party asked for (peer_op, until the far leg's final response) */
	uint8_t op; /* enum own_op */
	bool undo_hold;
	bool held;
	uint8_t peer_op;	  /* enum b2b_pending */
	struct cp_timer op_retry; /* 491: the RFC 3261 section 14.1 back-off */
	b2b_op_fn op_done;	  /* the operator's answer, called once */
	void *op_arg;
	struct b2b_xfer *xfer; /* a transfer in progress */
	/* One party only: answered by the appliance (b2bua.incoming = accept, call answer) or
	 * called by it (originated: the party is on B, A is unused). Its media ends in the
	 * dataplane, or in another such call's party (bridged: that call's id). */
	bool local;
	bool originated;
	bool party_b;  /* a local call's party is on B (originated, or what a transfer left) */
	bool deferred; /* ringing until b2b_call_decide() */
	uint64_t bridged;
	b2b_op_fn setup_done; /* b2b_call_originate()'s answer */
	void *setup_arg;
	bool rewrite_rtp; /* since a transfer: the endpoints rewrite SSRC/sequence/timestamp */
	/* the operator's DTMF as SIP INFO: the digits left, sent one INFO at a time */
	char dtmf[B2B_DTMF_MAX + 1];
	uint8_t dtmf_next;
	uint16_t dtmf_ms;
	struct b2b_leg *dtmf_leg;
	b2b_op_fn dtmf_done;
	void *dtmf_arg;
};

struct b2b {
	struct b2b_params p;
	struct cp_txn_layer *txn;
	struct tg_hmap dialogs;
	struct tg_hmap calls;
	/* calls by their initial INVITE (Call-ID, From tag): one that comes again after our 2xx
	 * ended its transaction is the same call (RFC 6026), never a new one */
	struct tg_hmap invites;
	struct tg_hmap sources; /* struct source: active calls per caller address */
	uint64_t next_id;
	unsigned active;
	unsigned in_memory;
	struct b2b_counters c;
	const char *codecs[MAX_CODECS];
	unsigned ncodecs;
	char codec_buf[512];
	struct cp_sdp_out out; /* scratch: one rewrite at a time on this thread */
	char out_buf[CP_SDP_MAX_BODY];
	struct cp_sdp scratch_sdp; /* the SDP just received */
	struct cp_sdp offer_sdp;   /* the call's offer in progress, parsed (offer()) */
	struct cp_sdp own_sdp;	   /* what we sent a leg, parsed: base of a hold/resume offer */
	uint64_t offer_gens;	   /* keep_offer()s so far */
	uint64_t offer_parsed;	   /* the offer_gen offer_sdp holds (0: none) */
	bool shutting_down;
	struct b2b_events *events;
	struct b2b_leg *retired; /* transferors and abandoned transfer legs, winding down */
};

static const char *call_id_of(const struct b2b_call *c)
{
	return c->a.dlg.call_id ? c->a.dlg.call_id : "-";
}

static int keep_offer(struct b2b *b, struct b2b_call *c, const char *text, size_t len)
{
	free(c->offer_a);
	c->offer_a = malloc(len + 1);
	c->offer_len = len;
	c->offer_gen = ++b->offer_gens;
	if (!c->offer_a)
		return -ENOMEM;
	memcpy(c->offer_a, text, len);
	c->offer_a[len] = '\0';
	return 0;
}

/*
 * The call's offer in progress, parsed into the coordinator's scratch; NULL: none (or bad).
 * Setting a call up reads its offer three or four times (planning, the offer to B, B's answer):
 * the scratch still holding this very text is not parsed again.
 */
static const struct cp_sdp *offer(struct b2b_call *c)
{
	struct b2b *b = c->co;

	if (!c->offer_a)
		return NULL;
	if (b->offer_parsed != c->offer_gen) {
		b->offer_parsed = 0;
		if (cp_sdp_parse(&b->offer_sdp, c->offer_a, c->offer_len, NULL, 0) < 0)
			return NULL;
		b->offer_parsed = c->offer_gen;
	}
	return &b->offer_sdp;
}

static void apply(struct b2b_call *c, enum b2b_event ev)
{
	b2b_state_apply(&c->sm, ev, call_id_of(c));
}

/* An event for the bus about call c, its time set (the caller fills kind and u) */
static struct b2b_ev event_of(const struct b2b_call *c, enum b2b_ev_kind kind)
{
	struct b2b_ev e;

	memset(&e, 0, sizeof(e));
	e.call = c->id;
	e.kind = (uint16_t)kind;
	e.time_ms = tg_wall_ms();
	return e;
}

static void observe(void *ctx, const struct b2b_state_machine *sm, enum b2b_state old,
	enum b2b_state new_state, enum b2b_event ev, const char *callid)
{
	const struct b2b_call *c = ctx;
	struct b2b_ev e;

	TG_LOG_CALL(B2B, DEBUG, callid, "-", "%s -> %s on %s", b2b_state_name(old),
		b2b_state_name(new_state), b2b_event_name(ev));
	if (!b2b_events_wanted(c->co->events, B2B_EVK_STATE, c->id))
		return;
	e = event_of(c, B2B_EVK_STATE);
	e.u.state.from = (uint8_t)old;
	e.u.state.to = (uint8_t)new_state;
	e.u.state.event = (uint8_t)ev;
	b2b_events_publish(c->co->events, &e);
}

/* A DTMF digit seen or sent on leg l (method 0: RFC 4733, 1: INFO) */
static void publish_dtmf(const struct b2b_call *c, const struct b2b_leg *l, char digit,
	unsigned method, bool outgoing, unsigned duration_ms)
{
	struct b2b_ev e;

	if (!b2b_events_wanted(c->co->events, B2B_EVK_DTMF, c->id))
		return;
	e = event_of(c, B2B_EVK_DTMF);
	e.u.dtmf.digit = digit;
	e.u.dtmf.leg = l->is_b ? 'b' : 'a';
	e.u.dtmf.method = (uint8_t)method;
	e.u.dtmf.outgoing = outgoing;
	e.u.dtmf.duration_ms = (uint16_t)(duration_ms > UINT16_MAX ? UINT16_MAX : duration_ms);
	b2b_events_publish(c->co->events, &e);
}

static void maybe_finalize(struct b2b_call *c);
static void on_op_retry(struct cp_loop *lp, struct cp_timer *t, void *arg);
static void op_finish(struct b2b_call *c, int status, int code, const struct b2b_leg *l);
static void dtmf_finish(struct b2b_call *c, int status, int code);
static void xfer_abort(struct b2b_call *c);
static void unbridge(struct b2b_call *c);
static void attended_transfer(struct b2b_call *c1, struct b2b_leg *x1, struct cp_txn *tx,
	osip_message_t *req, const char *refer_to);
static void end_call(
	struct b2b_call *c, enum b2b_cdr_reason reason, int code, const struct b2b_leg *hung_up);

/* ---- tables ----------------------------------------------------------------------------- */

static int leg_register(struct b2b *b, struct b2b_leg *l)
{
	l->key = cp_dialog_key(&l->dlg);
	if (!l->key)
		return -ENOMEM;
	tg_hmap_insert(&b->dialogs, &l->node, tg_hash_str(TG_HASH_SEED, l->key));
	return 0;
}

static struct b2b_leg *leg_find(struct b2b *b, const char *key)
{
	uint64_t h = tg_hash_str(TG_HASH_SEED, key);

	for (struct tg_hnode *n = tg_hmap_first(&b->dialogs, h); n; n = tg_hmap_next(n, h)) {
		struct b2b_leg *l = (struct b2b_leg *)((char *)n - offsetof(struct b2b_leg, node));

		if (!strcmp(l->key, key))
			return l;
	}
	return NULL;
}

static void respond_plain(struct b2b *b, struct cp_txn *tx, int code, const char *reason,
	const char *hname, const char *hvalue);

static uint64_t invite_hash(const char *call_id, const char *from_tag)
{
	return tg_hash_str(tg_hash_str(tg_hash_str(TG_HASH_SEED, call_id), "|"), from_tag);
}

static void invite_index(struct b2b *b, struct b2b_call *c)
{
	if (!c->a.dlg.call_id || !c->a.dlg.remote_tag)
		return;
	tg_hmap_insert(
		&b->invites, &c->invite_node, invite_hash(c->a.dlg.call_id, c->a.dlg.remote_tag));
	c->invite_indexed = true;
}

static void invite_unindex(struct b2b *b, struct b2b_call *c)
{
	if (c->invite_indexed)
		tg_hmap_remove(&b->invites, &c->invite_node);
	c->invite_indexed = false;
}

/* The call an INVITE without a To tag already started (same Call-ID and From tag), or NULL */
static struct b2b_call *invite_seen(struct b2b *b, osip_message_t *req)
{
	osip_generic_param_t *tag = NULL;
	char *call_id = NULL;
	struct b2b_call *found = NULL;
	uint64_t h;

	if (!b->invites.count || osip_from_get_tag(req->from, &tag) != 0 || !tag || !tag->gvalue ||
		osip_call_id_to_str(req->call_id, &call_id) != 0 || !call_id) {
		osip_free(call_id);
		return NULL;
	}
	h = invite_hash(call_id, tag->gvalue);
	for (struct tg_hnode *n = tg_hmap_first(&b->invites, h); n && !found;
		n = tg_hmap_next(n, h)) {
		struct b2b_call *c =
			(struct b2b_call *)((char *)n - offsetof(struct b2b_call, invite_node));

		if (!strcmp(c->a.dlg.call_id, call_id) && !strcmp(c->a.dlg.remote_tag, tag->gvalue))
			found = c;
	}
	osip_free(call_id);
	return found;
}

/*
 * The transaction layer's absorb(): the INVITE of a call that exists, with its CSeq, after its
 * transaction ended with our 2xx (RFC 6026: the caller did not get the 2xx yet). Our own 2xx
 * retransmissions (on_rtx) answer it; answering each copy as well would echo with a peer that
 * resends its INVITE on every retransmitted 2xx.
 */
static bool absorb_invite(void *arg, const osip_message_t *req)
{
	struct b2b *b = arg;
	struct b2b_call *c = invite_seen(b, (osip_message_t *)req);

	if (!c || !req->cseq || !req->cseq->number ||
		(uint32_t)strtoul(req->cseq->number, NULL, 10) != c->a.invite_cseq)
		return false;
	b->c.invite_retransmissions++;
	return true;
}

/* The INVITE of a call that exists, by another path (another branch, the same CSeq): a merged
 * request (RFC 3261 section 8.2.2.2), 482. */
static void invite_again(struct b2b *b, struct cp_txn *tx)
{
	b->c.merged_requests++;
	respond_plain(b, tx, 482, "Loop Detected", NULL, NULL);
}

static uint64_t id_hash(uint64_t id)
{
	return tg_hash_bytes(TG_HASH_SEED, &id, sizeof(id));
}

static struct b2b_call *call_find(struct b2b *b, uint64_t id)
{
	uint64_t h = id_hash(id);

	for (struct tg_hnode *n = tg_hmap_first(&b->calls, h); n; n = tg_hmap_next(n, h)) {
		struct b2b_call *c = (struct b2b_call *)n;

		if (c->id == id)
			return c;
	}
	return NULL;
}

/* ---- active calls, in all and per caller address ---------------------------------------- */

struct source {
	struct tg_hnode node;
	struct sockaddr_storage addr; /* the IP, port 0 */
	unsigned calls;
};

static void source_key(const struct sockaddr_storage *from, struct sockaddr_storage *key)
{
	*key = *from;
	tg_sockaddr_set_port((struct sockaddr *)key, 0);
}

static struct source *source_find(struct b2b *b, const struct sockaddr_storage *from)
{
	struct sockaddr_storage key;
	uint64_t h;

	source_key(from, &key);
	h = tg_sockaddr_hash((const struct sockaddr *)&key);
	for (struct tg_hnode *n = tg_hmap_first(&b->sources, h); n; n = tg_hmap_next(n, h)) {
		struct source *s = (struct source *)n;

		if (tg_sockaddr_equal(
			    (const struct sockaddr *)&s->addr, (const struct sockaddr *)&key))
			return s;
	}
	return NULL;
}

/* A call becomes active: counted in all and for its caller's address. */
static void count_call(struct b2b *b, struct b2b_call *c, const struct sockaddr_storage *from)
{
	struct source *s = source_find(b, from);

	b->active++;
	if (!s && (s = calloc(1, sizeof(*s)))) {
		source_key(from, &s->addr);
		tg_hmap_insert(
			&b->sources, &s->node, tg_sockaddr_hash((const struct sockaddr *)&s->addr));
	}
	if (s)
		s->calls++;
	c->src = s;
}

/* The call is no longer active (ending, or freed before it ended). */
static void uncount_call(struct b2b *b, struct b2b_call *c)
{
	struct source *s = c->src;

	b->active--;
	c->src = NULL;
	if (s && --s->calls == 0) {
		tg_hmap_remove(&b->sources, &s->node);
		free(s);
	}
}

/* Drops a leg's reference to a transaction, and the transaction's to the leg (a transaction can
 * outlive the call: its end() must not reach freed memory). */
static void forget(struct cp_txn **slot)
{
	if (*slot)
		cp_txn_set_owner(*slot, NULL);
	*slot = NULL;
}

/* ---- sending ---------------------------------------------------------------------------- */

static void respond(struct cp_txn *tx, osip_message_t *m)
{
	if (m)
		cp_txn_respond(tx, m);
}

/* A response outside any call (no route, limits, OPTIONS...) with optional extra header. */
static void respond_plain(struct b2b *b, struct cp_txn *tx, int code, const char *reason,
	const char *hname, const char *hvalue)
{
	char tag[17];
	osip_message_t *m;

	cp_sip_token(tag, 16);
	m = cp_sip_make_response(cp_txn_msg(tx), code, reason, tag);
	if (!m)
		return;
	if (hname)
		cp_sip_add_header(m, hname, hvalue);
	if (b->p.user_agent)
		cp_sip_add_header(m, "Server", b->p.user_agent);
	respond(tx, m);
}

/* The final response on A's INVITE (not 2xx: those go through answer_a). */
static void final_to_a(
	struct b2b_call *c, int code, const char *reason, const char *hname, const char *hvalue)
{
	osip_message_t *m;

	if (c->a_final_sent || !c->a.invite_tx)
		return;
	c->a_final_sent = true;
	m = cp_dialog_response(&c->a.dlg, cp_txn_msg(c->a.invite_tx), code, reason);
	if (m && hname)
		cp_sip_add_header(m, hname, hvalue);
	respond(c->a.invite_tx, m);
	/* libosip2 retransmits the final and absorbs the ACK: the call need not wait for that */
	forget(&c->a.invite_tx);
}

/* m's body becomes o's SDP, sent on leg l, which keeps a copy: a hold or resume offer is the
 * last SDP sent on the leg with its directions changed (RFC 3264 section 8.4). */
static int set_sdp(struct b2b_leg *l, osip_message_t *m, const struct cp_sdp_out *o)
{
	char *keep = realloc(l->sdp, o->len + 1);

	if (keep) {
		memcpy(keep, o->buf, o->len);
		keep[o->len] = '\0';
		l->sdp = keep;
		l->sdp_len = o->len;
	}
	return cp_sip_set_body(m, "application/sdp", o->buf, o->len);
}

/* ---- the dataplane ------------------------------------------------------------------------ */

static void dp_step_done(struct b2b_call *c);

static void on_ep_reply(struct cp_dp *dp, const struct tg_msg *r, int status, void *arg)
{
	struct b2b_call *c = arg;

	if (c->orphan) {
		/* the coordinator is gone (shutdown): only the memory is left to free */
		if (--c->dp_pending == 0)
			free(c);
		return;
	}
	if (status < 0 && !c->dp_error)
		c->dp_error = status;
	if (r && status == 0) {
		bool del = r->type == TG_MSG_EP_DELETE || r->type == TG_MSG_EP_STATS;
		uint64_t key = del ? r->u.ep_stats.key : r->u.ep.key;
		struct b2b_media *md = &c->media[(key >> 1) & 7];
		bool leg_b = key & 1;

		if (r->type == TG_MSG_EP_CREATE) {
			*(leg_b ? &md->local_b : &md->local_a) = r->u.ep.local;
			*(leg_b ? &md->created_b : &md->created_a) = true;
		} else if (r->type == TG_MSG_EP_DELETE) {
			*(leg_b ? &md->stats_b : &md->stats_a) = r->u.ep_stats;
			*(leg_b ? &md->have_b : &md->have_a) = true;
		}
	}
	if (c->dp_pending && --c->dp_pending == 0)
		dp_step_done(c);
}

/* A request whose reply a step waits for (dp_pending); the call outlives it. */
static void ep_request(struct b2b_call *c, struct tg_msg *m)
{
	c->dp_pending++;
	if (cp_dp_request(c->co->p.dp, 0, m, on_ep_reply, c) < 0) {
		if (!c->dp_error)
			c->dp_error = -ENOBUFS;
		c->dp_pending--;
	}
}

static void on_ep_reply_uncounted(struct cp_dp *dp, const struct tg_msg *r, int status, void *arg)
{
	(void)dp;
	(void)r;
	(void)arg;
	if (status < 0)
		TG_LOG(B2B, WARN, "dataplane refused an endpoint update: %s", strerror(-status));
}

static void ep_send(struct b2b_call *c, uint16_t type, uint64_t key, uint64_t peer,
	const struct b2b_remote *st, const struct tg_addr *local, bool counted)
{
	struct tg_msg m = {.type = type};

	m.u.ep.key = key;
	m.u.ep.peer_key = peer;
	m.u.ep.pt_in = m.u.ep.pt_out = 0xff;
	m.u.ep.dir = TG_DIR_RECV | TG_DIR_SEND;
	if (local)
		m.u.ep.local = *local;
	if (st) {
		m.u.ep.remote = st->remote;
		m.u.ep.remote_rtcp_port = st->rtcp_port;
		m.u.ep.dir = st->dir;
		m.u.ep.flags = st->flags & TG_EPF_RTCP_MUX;
		m.u.ep.clock_rate = st->clock_rate;
		/* its RFC 4733 digits are reported (b2b_dp_event), besides being relayed */
		m.u.ep.te_pt = st->te_pt;
	}
	if (c->co->p.cfg->latch)
		m.u.ep.flags |= TG_EPF_LATCH;
	/* after a transfer the stream a party gets comes from someone else: keep it continuous */
	if (c->rewrite_rtp)
		m.u.ep.flags |= TG_EPF_REWRITE_RTP;
	if (counted) {
		ep_request(c, &m);
	} else if (cp_dp_request(c->co->p.dp, 0, &m, on_ep_reply_uncounted, NULL) < 0) {
		TG_LOG_CALL(B2B, WARN, call_id_of(c), "-", "endpoint update not sent");
	}
}

static struct tg_addr family_only(int family)
{
	struct tg_addr a = {.family = (uint8_t)family};

	return a;
}

static int tg_family_of(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? TG_AF_INET6 : TG_AF_INET;
}

/* ---- setup ------------------------------------------------------------------------------ */

/* The 2xx got where it was going (its ACK, or another request in the dialog): stop resending */
static void stop_2xx_rtx(struct b2b_leg *l)
{
	cp_timer_stop(l->co->p.loop, &l->rtx);
	if (l->ok2xx)
		osip_message_free(l->ok2xx);
	l->ok2xx = NULL;
}

static void leg_free_msgs(struct b2b_leg *l)
{
	stop_2xx_rtx(l);
	if (l->ack)
		osip_message_free(l->ack);
	l->ack = NULL;
	free(l->sdp);
	l->sdp = NULL;
}

static void call_free(struct b2b_call *c)
{
	struct b2b *b = c->co;
	struct b2b_leg *legs[2] = {&c->a, &c->b};

	for (int i = 0; i < 2; i++) {
		struct b2b_leg *l = legs[i];

		/* transactions that outlive the call must not point at it */
		forget(&l->invite_tx);
		forget(&l->bye_tx);
		forget(&l->reinvite_tx);
		forget(&l->info_tx);
		if (l->key) {
			tg_hmap_remove(&b->dialogs, &l->node);
			free(l->key);
		}
		leg_free_msgs(l);
		cp_dialog_fini(&l->dlg);
	}
	cp_timer_stop(b->p.loop, &c->no_answer);
	cp_timer_stop(b->p.loop, &c->max_dur);
	cp_timer_stop(b->p.loop, &c->op_retry);
	op_finish(c, -ECONNRESET, 0, NULL);
	dtmf_finish(c, -ECONNRESET, 0);
	xfer_abort(c);
	tg_hmap_remove(&b->calls, &c->node);
	invite_unindex(b, c);
	if (!c->terminating)
		uncount_call(b, c);
	b->in_memory--;
	free(c->offer_a);
	c->offer_a = NULL;
	if (c->dp_pending)
		c->orphan = true; /* its last replies free it (cp_dp fails them at the latest) */
	else
		free(c);
}

static void write_record(struct b2b_call *c)
{
	struct b2b *b = c->co;
	struct b2b_cdr_record r = {0};
	const struct b2b_media *md = c->nmedia ? &c->media[0] : NULL;

	b->c.calls_ended++;
	if (b2b_events_wanted(b->events, B2B_EVK_ENDED, c->id)) {
		struct b2b_ev e = event_of(c, B2B_EVK_ENDED);

		e.u.ended.reason = (uint8_t)c->reason;
		e.u.ended.sip_code = (int16_t)c->sip_code;
		if (c->answer_ms > 0)
			e.u.ended.duration_ms =
				(c->end_ms ? c->end_ms : tg_wall_ms()) - c->answer_ms;
		b2b_events_publish(b->events, &e);
	}
	if (!b->p.cdr)
		return;
	r.a.call_id = c->a.dlg.call_id;
	r.a.from_uri = c->a.dlg.remote_uri;
	r.a.to_uri = c->a.dlg.local_uri;
	r.a.remote = (const struct sockaddr *)&c->a.dlg.peer.addr;
	if (c->b.dlg.call_id) {
		r.b.call_id = c->b.dlg.call_id;
		r.b.from_uri = c->b.dlg.local_uri;
		r.b.to_uri = c->b.dlg.remote_uri;
		r.b.remote = (const struct sockaddr *)&c->b.dlg.peer.addr;
	}
	r.setup_ms = c->setup_ms;
	r.answer_ms = c->answer_ms;
	r.end_ms = c->end_ms ? c->end_ms : tg_wall_ms();
	r.reason = c->reason;
	r.sip_code = c->sip_code;
	r.media_a = md && md->have_a ? &md->stats_a : NULL;
	r.media_b = md && md->have_b ? &md->stats_b : NULL;
	if (b2b_cdr_write(b->p.cdr, &r) < 0) {
		b->c.cdr_errors++;
		TG_LOG_CALL(B2B, ERR, call_id_of(c), "-", "call record refused by the writer");
	}
}

static void finalize(struct b2b_call *c)
{
	write_record(c);
	call_free(c);
}

static void send_b_invite(struct b2b_call *c);
static void offer_to_a(struct b2b_call *c);
static void view_of(const struct b2b_call *c, struct b2b_call_view *v);
static int parse_target(
	const char *text, char *user, size_t ulen, char *host, size_t hlen, bool *replaces);
static void forward(struct b2b_call *c);
static void incoming(struct b2b_call *c);
static void answer_local(struct b2b_call *c);
static void answer_a(struct b2b_call *c, osip_message_t *m, int code);
static void originate_invite(struct b2b_call *c);
static void originated_response(struct b2b_call *c, osip_message_t *resp);

static void dp_step_done(struct b2b_call *c)
{
	enum dp_step s = c->dp_next;

	c->dp_next = STEP_NONE;
	if (s == STEP_SEND_INVITE)
		send_b_invite(c);
	else if (s == STEP_OFFER_A)
		offer_to_a(c);
	else if (s == STEP_FINALIZE)
		finalize(c);
	else if (s == STEP_ANSWER_LOCAL)
		answer_local(c);
	else if (s == STEP_ORIGINATE)
		originate_invite(c);
}

/* Deletes the endpoints (their statistics go into the record), then finalizes. */
static void release_media(struct b2b_call *c)
{
	if (c->finalizing)
		return;
	c->finalizing = true;
	c->dp_next = STEP_FINALIZE;
	for (unsigned i = 0; i < c->nmedia; i++) {
		struct b2b_media *md = &c->media[i];

		if (md->created_a)
			ep_send(c, TG_MSG_EP_DELETE, md->key_a, 0, NULL, NULL, true);
		if (md->created_b)
			ep_send(c, TG_MSG_EP_DELETE, md->key_b, 0, NULL, NULL, true);
	}
	if (!c->dp_pending) {
		c->dp_next = STEP_NONE;
		finalize(c);
	}
}

/* A terminating call goes once nothing it started is still running. */
static void maybe_finalize(struct b2b_call *c)
{
	if (!c->terminating || c->finalizing || c->dp_pending)
		return;
	if (c->a.invite_tx || c->b.invite_tx || c->a.bye_tx || c->b.bye_tx || c->a.reinvite_tx ||
		c->b.reinvite_tx || c->a.info_tx || c->b.info_tx)
		return;
	if (c->a.ok2xx && cp_timer_armed(&c->a.rtx))
		return;
	if (!c->end_ms)
		c->end_ms = tg_wall_ms();
	/* a setup refused or rejected is already Terminated: nothing was left to release */
	if (c->sm.state == B2B_ST_TERMINATING)
		apply(c, B2B_EV_TERMINATED);
	release_media(c);
}

/* BYE on leg l's confirmed dialog, unless one was sent or received already; true if sent */
static bool leg_bye(struct b2b *b, struct b2b_leg *l, const char *reason)
{
	osip_message_t *m;

	if (l->bye_sent || l->bye_received || !l->dlg.confirmed)
		return false;
	m = cp_dialog_request(&l->dlg, "BYE");
	if (!m)
		return false;
	if (reason)
		cp_sip_add_header(m, "Reason", reason);
	l->bye_sent = true;
	l->bye_tx = cp_txn_request(b->txn, m, &l->dlg.peer, l);
	return true;
}

static void send_bye(struct b2b_call *c, struct b2b_leg *l)
{
	if (leg_bye(c->co, l, c->reason_hdr))
		apply(c, B2B_EV_BYE_SENT);
}

/* Our ACK to B's 2xx (with A's answer in it for a late offer), kept for B's retransmissions. */
static void ack_b(struct b2b_call *c, const struct cp_sdp_out *answer)
{
	osip_message_t *ack = cp_dialog_ack(&c->b.dlg, c->b.invite_cseq);

	c->ack_due_b = false;
	if (!ack)
		return;
	if (answer)
		set_sdp(&c->b, ack, answer);
	cp_txn_send_stateless(c->co->txn, ack, &c->b.dlg.peer);
	if (c->b.ack)
		osip_message_free(c->b.ack);
	c->b.ack = ack;
}

static void send_cancel_b(struct b2b_call *c)
{
	osip_message_t *m;

	if (!c->b.invite_tx)
		return;
	m = cp_dialog_cancel(cp_txn_msg(c->b.invite_tx));
	if (m)
		cp_txn_request(c->co->txn, m, &c->b.dlg.peer, NULL);
}

/*
 * Ends the call for reason: BYE on every confirmed leg that did not hang up itself, CANCEL on
 * a B leg still ringing, the final response (code) on an A leg never answered. The record
 * and the release follow once the legs are done (maybe_finalize).
 */
static void end_call(
	struct b2b_call *c, enum b2b_cdr_reason reason, int code, const struct b2b_leg *hung_up)
{
	struct b2b *b = c->co;

	if (c->terminating) {
		maybe_finalize(c);
		return;
	}
	c->terminating = true;
	uncount_call(b, c);
	unbridge(c);
	if (c->setup_done) {
		b2b_op_fn fn = c->setup_done;

		c->setup_done = NULL;
		fn(c->setup_arg, c->id, -ECONNRESET, code, 'b');
	}
	c->reason = reason;
	if (!c->answered && code)
		c->sip_code = code;
	c->end_ms = tg_wall_ms();
	cp_timer_stop(b->p.loop, &c->no_answer);
	cp_timer_stop(b->p.loop, &c->max_dur);
	cp_timer_stop(b->p.loop, &c->op_retry);
	/* a hold, resume, DTMF or transfer in flight will not be decided: the operator hears so */
	op_finish(c, -ECONNRESET, 0, NULL);
	dtmf_finish(c, -ECONNRESET, 0);
	xfer_abort(c);
	free(c->offer_a);
	c->offer_a = NULL;
	if (c->ack_due_b)
		ack_b(c, NULL); /* a late offer's 2xx still owed its ACK: the BYE comes after it */
	if (!c->answered) {
		if (c->b.invite_tx && !c->b_final)
			send_cancel_b(c);
		if (code)
			final_to_a(c, code, NULL, NULL, NULL);
	}
	if (&c->a != hung_up)
		send_bye(c, &c->a);
	if (&c->b != hung_up)
		send_bye(c, &c->b);
	maybe_finalize(c);
}

static void on_no_answer(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct b2b_call *c = arg;

	c->co->c.no_answer++;
	TG_LOG_CALL(B2B, INFO, call_id_of(c), "a", "no answer: cancelled");
	apply(c, B2B_EV_TIMEOUT);
	end_call(c, B2B_CDR_NO_ANSWER, 408, NULL);
}

static void on_max_duration(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct b2b_call *c = arg;

	c->co->c.max_duration++;
	c->reason_hdr = "SIP;cause=200;text=\"max call duration\"";
	TG_LOG_CALL(B2B, INFO, call_id_of(c), "-", "max call duration reached: ending");
	apply(c, B2B_EV_TERMINATE_REQUESTED);
	end_call(c, B2B_CDR_MAX_DURATION, 0, NULL);
}

/* 2xx retransmission on an unreliable A leg until its ACK (RFC 3261 §13.3.1.4) */
static void on_rtx(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct b2b_leg *leg = arg;
	struct b2b_call *c = leg->call;

	if (!leg->ok2xx)
		return;
	if (cp_loop_now(l) >= leg->rtx_give_up) {
		TG_LOG_CALL(B2B, WARN, call_id_of(c), "a", "no ACK for the 2xx: ending the call");
		stop_2xx_rtx(leg);
		end_call(c, B2B_CDR_ERROR, 0, NULL);
		return;
	}
	cp_txn_send_stateless(c->co->txn, leg->ok2xx, &leg->dlg.peer);
	leg->rtx_ns = leg->rtx_ns * 2 > T2_NS ? T2_NS : leg->rtx_ns * 2;
	cp_timer_start(l, &leg->rtx, leg->rtx_ns);
}

/* Sends a 2xx on A's INVITE transaction (initial or re-INVITE) and keeps it for retransmission. */
static void send_2xx_a(struct b2b_call *c, struct cp_txn *tx, osip_message_t *m)
{
	struct b2b_leg *a = &c->a;
	osip_message_t *copy = NULL;

	if (!a->dlg.peer.stream && osip_message_clone(m, &copy) == 0) {
		if (a->ok2xx)
			osip_message_free(a->ok2xx);
		a->ok2xx = copy;
		a->rtx_ns = T1_NS;
		a->rtx_give_up = cp_loop_now(c->co->p.loop) + 64 * T1_NS;
		cp_timer_start(c->co->p.loop, &a->rtx, T1_NS);
	}
	respond(tx, m);
}

/*
 * The initial offer (A's; B's for a late offer) -> endpoints: plan the streams (codec filter,
 * rejections), then create one endpoint facing each leg per active stream: the offerer's in its
 * media's family, the other in the family that leg signals from (A) or is routed to (B).
 */
static int plan_media(struct b2b_call *c, char *why, size_t whylen)
{
	struct b2b *b = c->co;
	struct cp_sdp_rewrite rw = {
		.role = CP_SDP_OFFER,
		.codecs = b->ncodecs ? b->codecs : NULL,
		.ncodecs = b->ncodecs,
	};
	unsigned active = 0;

	if (cp_sdp_plan(offer(c), &rw, &b->out) < 0) {
		snprintf(why, whylen, "%s", b->out.why);
		return -EINVAL;
	}
	c->nmedia = b->out.nstreams;
	for (unsigned i = 0; i < c->nmedia; i++) {
		struct b2b_media *md = &c->media[i];

		md->offerer = remote_of(&b->out.streams[i]);
		md->key_a = c->id << KEY_SHIFT | (uint64_t)i << 1;
		md->key_b = md->key_a | 1;
		md->active = md->offerer.reject == CP_SDP_REJ_NONE;
		active += md->active;
	}
	if (!active) {
		snprintf(why, whylen, "no stream the appliance can relay");
		return -EINVAL;
	}
	c->dp_next = c->local ? STEP_ANSWER_LOCAL : c->late ? STEP_OFFER_A : STEP_SEND_INVITE;
	for (unsigned i = 0; i < c->nmedia; i++) {
		struct b2b_media *md = &c->media[i];
		struct tg_addr la = family_only(
			c->late ? tg_family_of(&c->a.dlg.peer.addr) : md->offerer.remote.family);
		struct tg_addr lb = family_only(
			c->late ? md->offerer.remote.family : tg_family_of(&c->target.addr));

		if (!md->active)
			continue;
		ep_send(c, TG_MSG_EP_CREATE, md->key_a, 0, NULL, &la, true);
		if (!c->local)
			ep_send(c, TG_MSG_EP_CREATE, md->key_b, 0, NULL, &lb, true);
	}
	return 0;
}

static void fill_endpoints(
	struct b2b_call *c, bool toward_b, struct cp_sdp_endpoint *ep, struct tg_addr *local)
{
	bool have = false;

	for (unsigned i = 0; i < c->nmedia; i++) {
		const struct b2b_media *md = &c->media[i];

		memset(&ep[i], 0, sizeof(ep[i]));
		if (!md->active)
			continue;
		ep[i].rtp = toward_b ? md->local_b : md->local_a;
		if (!have) {
			*local = ep[i].rtp;
			have = true;
		}
	}
}

/* The initial offer rewritten for leg 'to' (its endpoints, its o=) into b->out. */
static int rewrite_offer(struct b2b_call *c, struct b2b_leg *to)
{
	struct b2b *b = c->co;
	struct cp_sdp_endpoint ep[CP_SDP_MAX_MEDIA];
	struct cp_sdp_rewrite rw = {
		.role = CP_SDP_OFFER,
		.ep = ep,
		.nep = c->nmedia,
		.codecs = b->ncodecs ? b->codecs : NULL,
		.ncodecs = b->ncodecs,
		.session_name = "tollgate",
	};

	fill_endpoints(c, to->is_b, ep, &rw.local);
	return cp_sdp_rewrite(offer(c), &rw, &to->origin, &b->out);
}

/* The offerer's endpoints learn where it wants media, in the direction it offered. */
static void point_at_offerer(struct b2b_call *c)
{
	if (c->originated)
		return; /* the offer is ours: the endpoint learns the callee from its answer */
	for (unsigned i = 0; i < c->nmedia; i++) {
		const struct b2b_media *md = &c->media[i];

		if (md->active)
			ep_send(c, TG_MSG_EP_UPDATE, c->late ? md->key_b : md->key_a, 0,
				&md->offerer, NULL, false);
	}
}

/* After a dataplane step: false if the call cannot go on (ending; media refused: 503). */
static bool media_step_ok(struct b2b_call *c)
{
	if (c->terminating) {
		maybe_finalize(c);
		return false;
	}
	if (c->dp_error) {
		c->co->c.rejected_media++;
		TG_LOG_CALL(B2B, WARN, call_id_of(c), "-", "media not anchored (%s): 503",
			strerror(-c->dp_error));
		apply(c, B2B_EV_REJECTED);
		end_call(c, B2B_CDR_ERROR, 503, NULL);
		return false;
	}
	return true;
}

static void copy_user(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/* Forgets the B leg's dialog (never confirmed) so that a new INVITE can start another. */
static void reset_b_leg(struct b2b_call *c)
{
	if (c->b.key) {
		tg_hmap_remove(&c->co->dialogs, &c->b.node);
		free(c->b.key);
		c->b.key = NULL;
	}
	leg_free_msgs(&c->b);
	cp_dialog_fini(&c->b.dlg);
	memset(&c->b.dlg, 0, sizeof(c->b.dlg));
}

/*
 * RFC 3261 §18.1.1: a request larger than 1300 bytes (the path MTU being unknown) goes over a
 * congestion-controlled transport, TCP. Our headers take some 600 bytes, so only an INVITE
 * with a large body is measured to know.
 */
#define UDP_REQUEST_MAX 1300
static bool too_big_for_udp(const osip_message_t *m, size_t body_len)
{
	size_t len = 0;

	if (body_len + 600 <= UDP_REQUEST_MAX)
		return false;
	return cp_sip_measure(m, &len) == 0 && len > UDP_REQUEST_MAX;
}

static void send_b_invite(struct b2b_call *c)
{
	struct b2b *b = c->co;
	struct cp_sip_peer peer;
	char local[72], ruri[320], mf[16];
	osip_message_t *m;
	osip_header_t *h = NULL;

	if (!media_step_ok(c))
		return;
	if (cp_sip_transport_route(b->p.transport, (const struct sockaddr *)&c->target.addr,
		    c->target.len, c->target.tcp || c->b_tcp, &peer, local, sizeof(local)) < 0) {
		TG_LOG_CALL(
			B2B, WARN, call_id_of(c), "b", "cannot send to %s: 503", c->target.text);
		end_call(c, B2B_CDR_ERROR, 503, NULL);
		return;
	}
	{
		char host[64];
		const char *t = c->target.text, *slash = strrchr(t, '/');
		size_t n = slash ? (size_t)(slash - t) : strlen(t);

		snprintf(host, sizeof(host), "%.*s", (int)n, t);
		/* RFC 3261 §19.1.1: the transport the route chose, for the far end's routing */
		snprintf(ruri, sizeof(ruri), "sip:%s%s%s%s", c->ruri_user,
			c->ruri_user[0] ? "@" : "", host, c->target.tcp ? ";transport=tcp" : "");
	}
	if (cp_dialog_init_uac(&c->b.dlg, c->from_user, c->from_display[0] ? c->from_display : NULL,
		    ruri, &peer, local, b->p.user_agent) < 0 ||
		leg_register(b, &c->b) < 0) {
		end_call(c, B2B_CDR_ERROR, 500, NULL);
		return;
	}
	cp_sdp_origin_init(&c->b.origin, c->id, 1);
	if (!c->late && rewrite_offer(c, &c->b) < 0) {
		TG_LOG_CALL(B2B, WARN, call_id_of(c), "a", "offer not rewritten: %s", b->out.why);
		b->c.rejected_sdp++;
		end_call(c, B2B_CDR_ERROR, 488, NULL);
		return;
	}
	m = cp_dialog_request(&c->b.dlg, "INVITE");
	if (!m || (!c->late && set_sdp(&c->b, m, &b->out) < 0)) {
		if (m)
			osip_message_free(m);
		end_call(c, B2B_CDR_ERROR, 500, NULL);
		return;
	}
	if (osip_message_get_max_forwards(m, 0, &h) >= 0 && h) {
		snprintf(mf, sizeof(mf), "%d", c->max_forwards);
		osip_free(h->hvalue);
		h->hvalue = osip_strdup(mf);
	}
	if (!peer.stream && too_big_for_udp(m, c->late ? 0 : b->out.len)) {
		/* the same target over TCP: a new dialog whose Via and Contact say so */
		TG_LOG_CALL(B2B, INFO, call_id_of(c), "b",
			"INVITE over %d bytes: to %s over TCP (RFC 3261 18.1.1)", UDP_REQUEST_MAX,
			c->target.text);
		osip_message_free(m);
		reset_b_leg(c);
		c->b_tcp = true;
		b->c.udp_to_tcp++;
		send_b_invite(c);
		return;
	}
	c->b.invite_cseq = c->b.dlg.local_cseq - 1;
	point_at_offerer(c);
	c->b.invite_tx = cp_txn_request(b->txn, m, &peer, &c->b);
	if (!c->b.invite_tx) {
		TG_LOG_CALL(B2B, WARN, call_id_of(c), "b", "INVITE not sent to %s: 503",
			c->target.text);
		end_call(c, B2B_CDR_ERROR, 503, NULL);
		return;
	}
	apply(c, B2B_EV_OUTGOING_INVITE_SENT);
	cp_timer_start(b->p.loop, &c->no_answer, b->p.cfg->no_answer_ms * TG_NS_PER_MS);
}

static void new_call(
	struct b2b *b, struct cp_txn *tx, osip_message_t *req, const struct cp_sip_peer *from)
{
	const struct cp_route_target *rt;
	struct b2b_call *c;
	osip_header_t *mfh = NULL;
	osip_body_t *body = NULL;
	osip_content_type_t *ct;
	char local[72], why[CP_SDP_WHY_LEN], ra[16];
	struct source *src;
	int mf = 70;
	bool late, routed;

	if (b->shutting_down || b->active >= b->p.cfg->max_calls) {
		b->c.rejected_limit++;
		snprintf(ra, sizeof(ra), "%u", b->p.cfg->retry_after_s);
		respond_plain(b, tx, 503, "Service Unavailable",
			b->p.cfg->retry_after_s ? "Retry-After" : NULL, ra);
		return;
	}
	if (b->p.cfg->max_calls_per_source && (src = source_find(b, &from->addr)) &&
		src->calls >= b->p.cfg->max_calls_per_source) {
		char who[TG_SOCKADDR_STRLEN];

		b->c.rejected_source_limit++;
		TG_LOG_CALL(SIP, INFO, req->call_id->number, "a",
			"%u calls from %s already (b2bua.max_calls_per_source): 503", src->calls,
			tg_sockaddr_ip((const struct sockaddr *)&from->addr, who, sizeof(who)));
		snprintf(ra, sizeof(ra), "%u", b->p.cfg->retry_after_s);
		respond_plain(b, tx, 503, "Service Unavailable (too many calls from this address)",
			b->p.cfg->retry_after_s ? "Retry-After" : NULL, ra);
		return;
	}
	if (osip_message_get_max_forwards(req, 0, &mfh) >= 0 && mfh && mfh->hvalue)
		mf = atoi(mfh->hvalue);
	if (mf <= 0) {
		respond_plain(b, tx, 483, "Too Many Hops", NULL, NULL);
		return;
	}
	/* the routing table decides here only when nothing else may (the fast path: an
	 * unroutable INVITE costs no call) */
	routed = b->p.cfg->incoming == B2B_INCOMING_ROUTE && !b->p.incoming;
	rt = routed ? cp_route_lookup(b->p.routes, req->req_uri ? req->req_uri->username : NULL,
			      req->req_uri ? req->req_uri->host : NULL,
			      (const struct sockaddr *)&from->addr)
		    : NULL;
	if (routed && !rt) {
		b->c.rejected_no_route++;
		TG_LOG_CALL(SIP, INFO, req->call_id->number, "a", "no route for %s@%s: 404",
			req->req_uri && req->req_uri->username ? req->req_uri->username : "",
			req->req_uri && req->req_uri->host ? req->req_uri->host : "");
		respond_plain(b, tx, 404, "Not Found", NULL, NULL);
		return;
	}
	if (!cp_dp_is_up(b->p.dp)) {
		b->c.rejected_media++;
		respond_plain(b, tx, 503, "Media Unavailable", NULL, NULL);
		return;
	}
	osip_message_get_body(req, 0, &body);
	ct = osip_message_get_content_type(req);
	late = !body || !body->body || !body->length;
	if (!late && (!ct || !ct->type || !ct->subtype || strcasecmp(ct->type, "application") ||
			     strcasecmp(ct->subtype, "sdp"))) {
		b->c.rejected_sdp++;
		respond_plain(b, tx, 415, "Unsupported Media Type (only application/sdp)", "Accept",
			"application/sdp");
		return;
	}
	b->offer_parsed = 0;
	if (!late && cp_sdp_parse(&b->offer_sdp, body->body, body->length, why, sizeof(why)) < 0) {
		b->c.rejected_sdp++;
		TG_LOG_CALL(SIP, INFO, req->call_id->number, "a", "bad SDP offer: %s", why);
		respond_plain(b, tx, 488, "Not Acceptable Here (bad SDP)", NULL, NULL);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || (!late && keep_offer(b, c, body->body, body->length) < 0)) {
		if (c)
			free(c->offer_a);
		free(c);
		respond_plain(b, tx, 500, "Server Internal Error", NULL, NULL);
		return;
	}
	c->co = b;
	if (!late)
		b->offer_parsed = c->offer_gen; /* offer_sdp holds this very text, parsed above */
	c->id = ++b->next_id;
	c->a.call = c;
	c->a.co = b;
	c->b.call = c;
	c->b.co = b;
	c->b.is_b = true;
	c->late = late;
	if (rt)
		c->target = *rt;
	c->max_forwards = mf - 1;
	c->setup_ms = tg_wall_ms();
	copy_user(c->ruri_user, sizeof(c->ruri_user), req->req_uri->username);
	copy_user(c->from_user, sizeof(c->from_user),
		req->from->url ? req->from->url->username : NULL);
	copy_user(c->from_display, sizeof(c->from_display), req->from->displayname);
	cp_timer_init(&c->no_answer, on_no_answer, c);
	cp_timer_init(&c->max_dur, on_max_duration, c);
	cp_timer_init(&c->op_retry, on_op_retry, c);
	cp_timer_init(&c->a.rtx, on_rtx, &c->a);
	cp_timer_init(&c->b.rtx, on_rtx, &c->b);
	b2b_state_init(&c->sm, observe, c);
	tg_hmap_insert(&b->calls, &c->node, id_hash(c->id));
	count_call(b, c, &from->addr);
	b->in_memory++;
	b->c.calls_offered++;
	cp_sip_transport_local(b->p.transport, from, local, sizeof(local));
	if (cp_dialog_init_uas(&c->a.dlg, req, from, local, b->p.user_agent) < 0 ||
		leg_register(b, &c->a) < 0) {
		c->terminating = true;
		uncount_call(b, c);
		respond_plain(b, tx, 500, "Server Internal Error", NULL, NULL);
		call_free(c);
		return;
	}
	c->a.invite_tx = tx;
	c->a.invite_cseq =
		req->cseq && req->cseq->number ? (uint32_t)strtoul(req->cseq->number, NULL, 10) : 0;
	cp_txn_set_owner(tx, &c->a);
	invite_index(b, c);
	if (b2b_events_wanted(b->events, B2B_EVK_INCOMING, c->id)) {
		struct b2b_ev e = event_of(c, B2B_EVK_INCOMING);

		snprintf(e.u.call.from, sizeof(e.u.call.from), "%s",
			c->a.dlg.remote_uri ? c->a.dlg.remote_uri : "");
		snprintf(e.u.call.to, sizeof(e.u.call.to), "%s",
			c->a.dlg.local_uri ? c->a.dlg.local_uri : "");
		b2b_events_publish(b->events, &e);
	}
	apply(c, B2B_EV_INCOMING_INVITE);
	respond(tx, cp_sip_make_response(req, 100, "Trying", NULL));
	cp_sdp_origin_init(&c->a.origin, c->id, 1);
	if (routed) {
		forward(c);
		return;
	}
	incoming(c);
}

/* Endpoints for the caller's offer (plan_media), then next(c); 488 for an offer we cannot take */
static void plan_then(struct b2b_call *c, void (*next)(struct b2b_call *c))
{
	char why[CP_SDP_WHY_LEN];

	if (plan_media(c, why, sizeof(why)) < 0) {
		c->co->c.rejected_sdp++;
		if (c->late) /* B's offer, in its 2xx */
			TG_LOG_CALL(B2B, INFO, call_id_of(c), "b", "late offer refused: %s", why);
		else
			TG_LOG_CALL(SIP, INFO, call_id_of(c), "a", "offer refused: %s", why);
		end_call(c, B2B_CDR_REJECTED, 488, NULL);
		return;
	}
	if (!c->dp_pending) {
		/* every request refused at once (channel backlog full): next sees dp_error */
		c->dp_next = STEP_NONE;
		next(c);
	}
}

/* The call goes on toward c->target: endpoints for the offer, then the B leg's INVITE. */
static void forward(struct b2b_call *c)
{
	if (c->late) {
		/* no offer: B makes it in its 2xx; the endpoints wait for that */
		send_b_invite(c);
		return;
	}
	plan_then(c, send_b_invite);
}

/* ---- deciding: forward, accept, reject, defer -------------------------------------------- */

/* The appliance answers the call itself: the caller's endpoints, then our 200 (answer_local) */
static void accept_local(struct b2b_call *c)
{
	if (c->late) {
		/* we would have to offer: the appliance answers offers only */
		c->co->c.rejected_sdp++;
		end_call(c, B2B_CDR_REJECTED, 488, NULL);
		return;
	}
	c->local = true;
	c->rewrite_rtp = true; /* a bridge may give its party another call's stream */
	plan_then(c, answer_local);
}

/* Our 200 to the caller: its offer answered with the appliance's endpoints, every codec kept */
static void answer_local(struct b2b_call *c)
{
	struct b2b *b = c->co;
	struct cp_sdp_endpoint ep[CP_SDP_MAX_MEDIA];
	struct cp_sdp_rewrite rw = {
		.role = CP_SDP_ANSWER,
		.offer = offer(c),
		.ep = ep,
		.nep = c->nmedia,
		.session_name = "tollgate",
	};
	osip_message_t *m;

	if (!media_step_ok(c))
		return;
	fill_endpoints(c, false, ep, &rw.local);
	if (!rw.offer || cp_sdp_rewrite(rw.offer, &rw, &c->a.origin, &b->out) < 0) {
		TG_LOG_CALL(
			SIP, INFO, call_id_of(c), "a", "no answer to the offer: %s", b->out.why);
		end_call(c, B2B_CDR_REJECTED, 488, NULL);
		return;
	}
	m = cp_dialog_response(&c->a.dlg, cp_txn_msg(c->a.invite_tx), 200, NULL);
	if (!m || set_sdp(&c->a, m, &b->out) < 0) {
		if (m)
			osip_message_free(m);
		end_call(c, B2B_CDR_ERROR, 500, NULL);
		return;
	}
	point_at_offerer(c);
	free(c->offer_a);
	c->offer_a = NULL;
	b->c.answered_locally++;
	TG_LOG_CALL(B2B, INFO, call_id_of(c), "a", "answered by the appliance");
	answer_a(c, m, 200);
}

/* Applies a decision to a call that has not been decided yet (new, or deferred). */
static void decide(struct b2b_call *c, const struct b2b_decision *d)
{
	struct b2b *b = c->co;
	const struct cp_route_target *rt;
	char user[128], host[128];
	bool replaces;
	int code;

	switch (d->kind) {
	case B2B_DECIDE_REJECT:
		code = d->code >= 300 && d->code <= 699 ? d->code : 603;
		b->c.rejected_by_decision++;
		apply(c, B2B_EV_REJECTED);
		final_to_a(c, code, d->reason, NULL, NULL);
		end_call(c, B2B_CDR_REJECTED, code, NULL);
		return;
	case B2B_DECIDE_DEFER:
		if (c->deferred)
			return;
		c->deferred = true;
		b->c.deferred++;
		respond(c->a.invite_tx,
			cp_dialog_response(&c->a.dlg, cp_txn_msg(c->a.invite_tx), 180, NULL));
		apply(c, B2B_EV_PROVISIONAL);
		cp_timer_start(b->p.loop, &c->no_answer, b->p.cfg->no_answer_ms * TG_NS_PER_MS);
		return;
	case B2B_DECIDE_ACCEPT:
		accept_local(c);
		return;
	case B2B_DECIDE_FORWARD:
		break;
	}
	/* forward: to the target given, or where the Request-URI leads; the routing table
	 * decides either way (never an open relay) */
	if (d->target) {
		if (parse_target(d->target, user, sizeof(user), host, sizeof(host), &replaces) < 0)
			user[0] = host[0] = '\0';
	} else {
		osip_uri_t *u = cp_txn_msg(c->a.invite_tx)->req_uri;

		copy_user(user, sizeof(user), u ? u->username : NULL);
		copy_user(host, sizeof(host), u ? u->host : NULL);
	}
	rt = cp_route_lookup(b->p.routes, user, host[0] ? host : NULL,
		(const struct sockaddr *)&c->a.dlg.peer.addr);
	if (!rt) {
		b->c.rejected_no_route++;
		TG_LOG_CALL(SIP, INFO, call_id_of(c), "a", "no route for %s@%s: 404", user, host);
		apply(c, B2B_EV_REJECTED);
		final_to_a(c, 404, "Not Found", NULL, NULL);
		end_call(c, B2B_CDR_REJECTED, 404, NULL);
		return;
	}
	c->target = *rt;
	copy_user(c->ruri_user, sizeof(c->ruri_user), user);
	forward(c);
}

/* A new call the routing table does not simply take: the application's handler, else the
 * operator's choice (b2bua.incoming) decides. */
static void incoming(struct b2b_call *c)
{
	struct b2b *b = c->co;
	struct b2b_decision d = {.kind = B2B_DECIDE_FORWARD};
	struct b2b_call_view v;

	if (b->p.cfg->incoming == B2B_INCOMING_ACCEPT)
		d.kind = B2B_DECIDE_ACCEPT;
	else if (b->p.cfg->incoming == B2B_INCOMING_DEFER)
		d.kind = B2B_DECIDE_DEFER;
	if (b->p.incoming) {
		view_of(c, &v);
		b->p.incoming(b->p.incoming_arg, &v, &d);
	}
	decide(c, &d);
}

int b2b_call_decide(struct b2b *b, uint64_t id, const struct b2b_decision *d)
{
	struct b2b_call *c = call_find(b, id);

	if (!c || c->terminating)
		return -ENOENT;
	if (!c->deferred)
		return -EPERM;
	if (d->kind == B2B_DECIDE_DEFER)
		return -EINVAL;
	c->deferred = false;
	cp_timer_stop(b->p.loop, &c->no_answer);
	decide(c, d);
	return 0;
}

/* ---- answers from B --------------------------------------------------------------------- */

/*
 * The SDP answer in resp, from the leg opposite 'to': the answerer's endpoints learn where it
 * wants media (and are linked to to's when link is set), and b->out holds the answer rewritten
 * for 'to', against the offer 'to' made (c->offer_a). -ENOENT without SDP, -EINVAL unusable.
 */
static int take_answer(
	struct b2b_call *c, const osip_message_t *resp, struct b2b_leg *to, bool link)
{
	struct b2b *b = c->co;
	struct cp_sdp_endpoint ep[CP_SDP_MAX_MEDIA];
	struct cp_sdp_rewrite rw = {
		.role = CP_SDP_ANSWER,
		.offer = offer(c),
		.ep = ep,
		.nep = c->nmedia,
		.session_name = "tollgate",
	};
	osip_body_t *body = NULL;
	char why[CP_SDP_WHY_LEN];

	if (!rw.offer || osip_message_get_body(resp, 0, &body) < 0 || !body || !body->body)
		return -ENOENT;
	if (cp_sdp_parse(&b->scratch_sdp, body->body, body->length, why, sizeof(why)) < 0) {
		TG_LOG_CALL(
			SIP, WARN, call_id_of(c), to->is_b ? "a" : "b", "bad SDP answer: %s", why);
		return -EINVAL;
	}
	fill_endpoints(c, to->is_b, ep, &rw.local);
	if (cp_sdp_rewrite(&b->scratch_sdp, &rw, &to->origin, &b->out) < 0) {
		TG_LOG_CALL(SIP, WARN, call_id_of(c), to->is_b ? "a" : "b", "answer not usable: %s",
			b->out.why);
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->nmedia && i < b->out.nstreams; i++) {
		struct b2b_media *md = &c->media[i];
		const struct b2b_remote st = remote_of(&b->out.streams[i]);

		if (!md->active || st.reject != CP_SDP_REJ_NONE)
			continue;
		ep_send(c, TG_MSG_EP_UPDATE, to->is_b ? md->key_a : md->key_b, 0, &st, NULL, false);
		if (link)
			ep_send(c, TG_MSG_EP_LINK, md->key_a, md->key_b, NULL, NULL, false);
	}
	return 0;
}

/* A's INVITE gets its 2xx m (SDP set): the call is connected. */
/* The call is connected (code: the 2xx): counted, timed, published, its setup's waiter told */
static void mark_answered(struct b2b_call *c, int code)
{
	struct b2b *b = c->co;
	b2b_op_fn fn = c->setup_done;

	c->answered = true;
	c->sip_code = code;
	c->answer_ms = tg_wall_ms();
	b->c.calls_answered++;
	apply(c, B2B_EV_ANSWERED);
	if (b2b_events_wanted(b->events, B2B_EVK_ESTABLISHED, c->id))
		b2b_events_publish(b->events, &(struct b2b_ev){.call = c->id,
						      .kind = B2B_EVK_ESTABLISHED,
						      .time_ms = c->answer_ms});
	cp_timer_stop(b->p.loop, &c->no_answer);
	if (b->p.cfg->max_duration_ms)
		cp_timer_start(b->p.loop, &c->max_dur, b->p.cfg->max_duration_ms * TG_NS_PER_MS);
	c->setup_done = NULL;
	if (fn)
		fn(c->setup_arg, c->id, 0, code, c->originated ? 'b' : 'a');
}

static void answer_a(struct b2b_call *c, osip_message_t *m, int code)
{
	c->a_final_sent = true;
	c->a.dlg.confirmed = true;
	mark_answered(c, code);
	send_2xx_a(c, c->a.invite_tx, m);
}

/*
 * Late offer: B's 2xx carries the offer. Endpoints are made for it (offer_to_a follows), and
 * B's ACK waits for A's answer. A 2xx without a usable offer ends the call (ACK, then BYE).
 */
static void late_offer_from_b(struct b2b_call *c, const osip_message_t *resp)
{
	osip_body_t *body = NULL;

	c->ack_due_b = true;
	if (osip_message_get_body(resp, 0, &body) < 0 || !body || !body->body ||
		keep_offer(c->co, c, body->body, body->length) < 0 || !offer(c)) {
		TG_LOG_CALL(B2B, WARN, call_id_of(c), "b", "late offer: the 2xx has no usable SDP");
		c->co->c.rejected_sdp++;
		end_call(c, B2B_CDR_ERROR, 502, NULL);
		return;
	}
	plan_then(c, offer_to_a);
}

/* Late offer, endpoints made: B's offer goes to A in the 2xx, pointing at the appliance. */
static void offer_to_a(struct b2b_call *c)
{
	struct b2b *b = c->co;
	osip_message_t *m;

	if (!media_step_ok(c))
		return;
	m = cp_dialog_response(&c->a.dlg, cp_txn_msg(c->a.invite_tx), 200, "OK");
	if (!m || rewrite_offer(c, &c->a) < 0 || set_sdp(&c->a, m, &b->out) < 0) {
		if (m)
			osip_message_free(m);
		TG_LOG_CALL(
			B2B, WARN, call_id_of(c), "b", "late offer not rewritten: %s", b->out.why);
		end_call(c, B2B_CDR_ERROR, 500, NULL);
		return;
	}
	point_at_offerer(c);
	answer_a(c, m, 200);
}

/* Late offer: A's ACK carries the answer; rewritten, it goes to B in B's ACK. */
static void late_answer_from_a(struct b2b_call *c, const osip_message_t *ack)
{
	if (take_answer(c, ack, &c->b, true) < 0) {
		TG_LOG_CALL(
			B2B, WARN, call_id_of(c), "a", "late offer: the ACK has no usable answer");
		c->co->c.rejected_sdp++;
		end_call(c, B2B_CDR_ERROR, 0, NULL);
		return;
	}
	ack_b(c, &c->co->out);
	free(c->offer_a);
	c->offer_a = NULL;
}

/* ---- redirects (3xx) ----------------------------------------------------------------------- */

/* A Contact's q (RFC 3261 §20.10) in thousandths; 1000 without one. */
static int contact_q(osip_contact_t *ct)
{
	osip_generic_param_t *q = NULL;

	if (osip_contact_param_get_byname(ct, "q", &q) != 0 || !q || !q->gvalue)
		return 1000;
	return (int)(strtod(q->gvalue, NULL) * 1000);
}

/* The 3xx and its Contacts to A, as the callee sent them (the operator chose to relay). */
static void relay_redirect(struct b2b_call *c, const osip_message_t *resp)
{
	osip_message_t *m;

	if (c->a_final_sent || !c->a.invite_tx)
		return;
	c->a_final_sent = true;
	m = cp_dialog_response(
		&c->a.dlg, cp_txn_msg(c->a.invite_tx), resp->status_code, resp->reason_phrase);
	for (int i = 0; m && i < osip_list_size(&resp->contacts); i++) {
		char *text = NULL;

		if (osip_contact_to_str(osip_list_get(&resp->contacts, i), &text) == 0) {
			osip_message_set_contact(m, text);
			osip_free(text);
		}
	}
	respond(c->a.invite_tx, m);
	forget(&c->a.invite_tx);
	c->co->c.redirects_relayed++;
}

/*
 * b2bua.redirect = follow: the B leg starts again toward the best Contact of the 3xx (highest
 * q first, then in order) that the routing table routes, from A's source, to a target of the
 * same address family as the first (the B-facing media endpoints already have theirs). The
 * Contact only picks a rule: the INVITE goes where that rule says, so a redirect cannot make
 * the appliance an open relay. -ENOENT: nothing to follow (or b2bua.max_redirects reached).
 */
static int follow_redirect(struct b2b_call *c, const osip_message_t *resp)
{
	struct b2b *b = c->co;
	const struct cp_route_target *best = NULL;
	const char *best_user = NULL;
	int best_q = -1;

	if (c->redirects >= b->p.cfg->max_redirects)
		return -ENOENT;
	for (int i = 0; i < osip_list_size(&resp->contacts); i++) {
		osip_contact_t *ct = osip_list_get(&resp->contacts, i);
		const struct cp_route_target *rt;
		int q;

		if (!ct || !ct->url || !ct->url->host || !ct->url->scheme ||
			strcasecmp(ct->url->scheme, "sip"))
			continue;
		rt = cp_route_lookup(b->p.routes, ct->url->username, ct->url->host,
			(const struct sockaddr *)&c->a.dlg.peer.addr);
		q = contact_q(ct);
		if (!rt || rt->addr.ss_family != c->target.addr.ss_family || q <= best_q)
			continue;
		best = rt;
		best_user = ct->url->username;
		best_q = q;
	}
	if (!best)
		return -ENOENT;
	TG_LOG_CALL(B2B, INFO, call_id_of(c), "b", "%d from %s: following to %s@%s",
		resp->status_code, c->target.text, best_user ? best_user : "", best->text);
	copy_user(c->ruri_user, sizeof(c->ruri_user), best_user);
	c->target = *best;
	c->redirects++;
	b->c.redirects_followed++;
	/* the old B dialog (at most early) is over: its transaction already ACKed the 3xx */
	reset_b_leg(c);
	c->b_final = false;
	c->b_tcp = false; /* the new target's INVITE is measured anew */
	send_b_invite(c);
	return 0;
}

static void b_invite_response(struct b2b_call *c, osip_message_t *resp)
{
	struct b2b *b = c->co;
	int code = resp->status_code;
	osip_message_t *m;

	cp_dialog_uac_response(&c->b.dlg, resp);
	if (code < 101)
		return;
	if (code >= 200) {
		/* libosip2 ACKs a non-2xx and absorbs retransmissions: the call is done with it */
		c->b_final = true;
		forget(&c->b.invite_tx);
	}
	if (c->originated) {
		originated_response(c, resp);
		return;
	}
	if (code < 200) {
		if (c->terminating || c->a_final_sent)
			return;
		apply(c, B2B_EV_PROVISIONAL);
		m = cp_dialog_response(
			&c->a.dlg, cp_txn_msg(c->a.invite_tx), code, resp->reason_phrase);
		if (m && take_answer(c, resp, &c->a, true) == 0)
			set_sdp(&c->a, m, &b->out);
		respond(c->a.invite_tx, m);
		return;
	}
	if (code < 300) {
		if (c->terminating || c->a_final_sent) {
			/* the 2xx crossed our CANCEL or A's departure: release B */
			ack_b(c, NULL);
			apply(c, B2B_EV_ANSWERED);
			send_bye(c, &c->b);
			return;
		}
		if (c->late) {
			late_offer_from_b(c, resp);
			return;
		}
		/* the B2BUA acknowledges B's 2xx itself: the B leg is a dialog of its own */
		ack_b(c, NULL);
		m = cp_dialog_response(
			&c->a.dlg, cp_txn_msg(c->a.invite_tx), code, resp->reason_phrase);
		if (!m || take_answer(c, resp, &c->a, true) < 0) {
			if (m)
				osip_message_free(m);
			TG_LOG_CALL(B2B, WARN, call_id_of(c), "b", "2xx without a usable answer");
			end_call(c, B2B_CDR_ERROR, 502, NULL);
			return;
		}
		set_sdp(&c->a, m, &b->out);
		free(c->offer_a);
		c->offer_a = NULL;
		answer_a(c, m, code);
		return;
	}
	/* >= 300: the call failed on B (libosip2 sent the ACK); A hears the same status */
	if (code < 400 && !c->terminating && !c->a_final_sent) {
		if (b->p.cfg->redirect == B2B_REDIRECT_RELAY) {
			apply(c, B2B_EV_REJECTED);
			relay_redirect(c, resp);
			end_call(c, B2B_CDR_REJECTED, code, NULL);
			return;
		}
		if (follow_redirect(c, resp) == 0)
			return;
		TG_LOG_CALL(B2B, INFO, call_id_of(c), "b",
			"%d not followed (no routable Contact%s)", code,
			c->redirects ? " or too many redirects" : "");
		apply(c, B2B_EV_REJECTED);
		final_to_a(c, 480, "Temporarily Unavailable", NULL, NULL);
		end_call(c, B2B_CDR_REJECTED, 480, NULL);
		return;
	}
	if (!c->terminating) {
		apply(c, B2B_EV_REJECTED);
		final_to_a(c, code, resp->reason_phrase, NULL, NULL);
		end_call(c, B2B_CDR_REJECTED, code, NULL);
		return;
	}
	/* the final answer to our CANCEL (487) was what the ending call still waited for */
	maybe_finalize(c);
}

/* ---- hold and resume by the operator ------------------------------------------------------- */

/*
 * The appliance offers on both legs at once: the SDP it last sent each leg, sendonly for a hold
 * and sendrecv for a resume (RFC 3264 section 8.4). The state changes only when both legs
 * answered 2xx; a leg that refuses (or never answers) rolls the other back, and 491 is retried
 * after the RFC 3261 section 14.1 back-off. Each 2xx's answer programs the endpoint facing that
 * leg, so during a hold the dataplane relays nothing either way whatever the phones send.
 */

static void own_ack(struct b2b_call *c, struct b2b_leg *l, const osip_message_t *resp)
{
	osip_message_t *ack = cp_dialog_ack(&l->dlg, (uint32_t)atoi(resp->cseq->number));

	if (!ack)
		return;
	cp_txn_send_stateless(c->co->txn, ack, &l->dlg.peer);
	/* a retransmitted 2xx (our ACK lost) gets this one again (on_stray_2xx) */
	if (l->ack)
		osip_message_free(l->ack);
	l->ack = ack;
}

/* What the appliance last sent leg l, parsed into b->own_sdp: -EINVAL when there is none */
static int parse_sent(struct b2b *b, const struct b2b_leg *l)
{
	if (!l->sdp || cp_sdp_parse(&b->own_sdp, l->sdp, l->sdp_len, NULL, 0) < 0)
		return -EINVAL;
	return 0;
}

/* The endpoints facing leg l follow the streams in b->out (its remote's address, direction) */
static void follow_streams(struct b2b_call *c, const struct b2b_leg *l)
{
	struct b2b *b = c->co;

	for (unsigned i = 0; i < c->nmedia && i < b->out.nstreams; i++) {
		const struct b2b_remote st = remote_of(&b->out.streams[i]);

		if (c->media[i].active && st.reject == CP_SDP_REJ_NONE)
			ep_send(c, TG_MSG_EP_UPDATE,
				l->is_b ? c->media[i].key_b : c->media[i].key_a, 0, &st, NULL,
				false);
	}
}

/* 200 with the SDP in b->out to a party's re-INVITE or UPDATE the appliance answers itself */
static void answer_with_out(
	struct b2b_call *c, struct b2b_leg *from, struct cp_txn *tx, osip_message_t *req)
{
	osip_message_t *m = cp_dialog_response(&from->dlg, req, 200, NULL);

	if (!m)
		return;
	set_sdp(from, m, &c->co->out);
	if (MSG_IS_INVITE(req) && !from->is_b)
		send_2xx_a(c, tx, m);
	else
		respond(tx, m);
}

/* An INVITE in leg l's dialog carrying the SDP in o (kept as what l last got); NULL: no memory */
static osip_message_t *invite_with_sdp(struct b2b_leg *l, const struct cp_sdp_out *o)
{
	osip_message_t *m = cp_dialog_request(&l->dlg, "INVITE");

	if (m && set_sdp(l, m, o) < 0) {
		osip_message_free(m);
		return NULL;
	}
	return m;
}

/* Sends leg l a hold (or resume) offer built from the SDP it last got from us. */
static int own_offer(struct b2b_call *c, struct b2b_leg *l, bool hold)
{
	struct b2b *b = c->co;
	osip_message_t *m;
	int rc;

	if (parse_sent(b, l) < 0)
		return -EINVAL;
	rc = hold ? cp_sdp_hold_offer(&b->own_sdp, &l->origin, &b->out)
		  : cp_sdp_resume_offer(&b->own_sdp, &l->origin, &b->out);
	if (rc < 0)
		return rc;
	m = invite_with_sdp(l, &b->out);
	if (!m)
		return -ENOMEM;
	l->reinvite_tx = cp_txn_request(b->txn, m, &l->dlg.peer, l);
	if (!l->reinvite_tx)
		return -EIO;
	l->op = LEG_OP_SENT;
	return 0;
}

/* Leg l's answer to our offer programs the endpoint facing it (address, direction). */
static void own_answer(struct b2b_call *c, struct b2b_leg *l, const osip_message_t *resp)
{
	struct b2b *b = c->co;
	struct cp_sdp_endpoint ep[CP_SDP_MAX_MEDIA];
	struct cp_sdp_rewrite rw = {
		.role = CP_SDP_ANSWER,
		.offer = &b->own_sdp,
		.ep = ep,
		.nep = c->nmedia,
		.session_name = "tollgate",
	};
	/* the rewrite is run for its stream decisions only: nothing is sent, o= must not move */
	struct cp_sdp_origin unused = l->origin;
	osip_body_t *body = NULL;
	char why[CP_SDP_WHY_LEN];

	if (osip_message_get_body(resp, 0, &body) < 0 || !body || !body->body)
		return;
	if (parse_sent(b, l) < 0)
		return;
	if (cp_sdp_parse(&b->scratch_sdp, body->body, body->length, why, sizeof(why)) < 0) {
		TG_LOG_CALL(
			SIP, WARN, call_id_of(c), l->is_b ? "b" : "a", "bad SDP answer: %s", why);
		return;
	}
	fill_endpoints(c, l->is_b, ep, &rw.local);
	if (cp_sdp_rewrite(&b->scratch_sdp, &rw, &unused, &b->out) < 0) {
		TG_LOG_CALL(SIP, WARN, call_id_of(c), l->is_b ? "b" : "a", "answer not usable: %s",
			b->out.why);
		return;
	}
	follow_streams(c, l);
}

static void op_finish(struct b2b_call *c, int status, int code, const struct b2b_leg *l)
{
	b2b_op_fn fn = c->op_done;

	c->op_done = NULL;
	if (fn)
		fn(c->op_arg, c->id, status, code, l ? (l->is_b ? 'b' : 'a') : 0);
}

/* After each leg's news: once neither leg waits, the operation is decided. */
static void op_settle(struct b2b_call *c)
{
	struct b2b_leg *legs[2] = {&c->a, &c->b};
	struct b2b_leg *failed = NULL;
	bool hold = c->op == OP_HOLD;
	unsigned undo = 0;

	if (c->op == OP_NONE)
		return;
	for (int i = 0; i < 2; i++) {
		if (legs[i]->op == LEG_OP_SENT || legs[i]->op == LEG_OP_BACKOFF)
			return;
		if (legs[i]->op == LEG_OP_FAILED && !failed)
			failed = legs[i];
	}
	if (c->op == OP_REOFFER || c->terminating) {
		if (c->op == OP_REOFFER && failed)
			TG_LOG_CALL(B2B, WARN, call_id_of(c), failed->is_b ? "b" : "a",
				"could not go back %s: %d", c->undo_hold ? "on hold" : "off hold",
				failed->op_code);
		c->a.op = c->b.op = LEG_OP_IDLE;
		c->op = OP_NONE;
		return;
	}
	if (!failed) {
		apply(c, hold ? B2B_EV_HOLD_CONFIRMED : B2B_EV_RESUME_CONFIRMED);
		c->held = hold;
		c->a.op = c->b.op = LEG_OP_IDLE;
		c->op = OP_NONE;
		TG_LOG_CALL(B2B, NOTICE, call_id_of(c), "-", "%s by the operator",
			hold ? "held" : "resumed");
		op_finish(c, 0, 200, NULL);
		return;
	}
	apply(c, hold ? B2B_EV_HOLD_FAILED : B2B_EV_RESUME_FAILED);
	TG_LOG_CALL(B2B, NOTICE, call_id_of(c), failed->is_b ? "b" : "a", "%s refused: %d",
		hold ? "hold" : "resume", failed->op_code);
	op_finish(c, failed->op_code == 408 ? -ETIMEDOUT : -EREMOTEIO, failed->op_code, failed);
	/* the leg that took the change goes back to where both were */
	c->op = OP_REOFFER;
	c->undo_hold = !hold;
	for (int i = 0; i < 2; i++) {
		struct b2b_leg *l = legs[i];
		bool back = l->op == LEG_OP_OK;

		l->op = LEG_OP_IDLE;
		if (back && own_offer(c, l, c->undo_hold) == 0)
			undo++;
	}
	if (!undo)
		c->op = OP_NONE;
}

static void on_op_retry(struct cp_loop *lp, struct cp_timer *t, void *arg)
{
	struct b2b_call *c = arg;
	bool hold = c->op == OP_REOFFER ? c->undo_hold : c->op == OP_HOLD;
	struct b2b_leg *legs[2] = {&c->a, &c->b};

	(void)lp;
	(void)t;
	for (int i = 0; i < 2; i++) {
		if (legs[i]->op != LEG_OP_BACKOFF)
			continue;
		if (c->terminating || own_offer(c, legs[i], hold) < 0) {
			legs[i]->op = LEG_OP_FAILED;
			legs[i]->op_code = 500;
		}
	}
	op_settle(c);
}

/* The final response to our own re-INVITE on leg l. */
static void own_reinvite_response(struct b2b_call *c, struct b2b_leg *l, osip_message_t *resp)
{
	int code = resp->status_code;

	if (code < 200)
		return;
	if (code < 300) {
		own_ack(c, l, resp);
		own_answer(c, l, resp);
		l->op = LEG_OP_OK;
	} else if (code == 491 && !c->terminating) {
		/* RFC 3261 section 14.1: the Call-ID's owner (us on B) waits 2.1-4 s, else 0-2 s */
		uint64_t ms = l->is_b ? 2100 + cp_sip_random() % 1900 : cp_sip_random() % 2000;

		l->op = LEG_OP_BACKOFF;
		if (!cp_timer_armed(&c->op_retry))
			cp_timer_start(c->co->p.loop, &c->op_retry, ms * TG_NS_PER_MS);
	} else {
		l->op = LEG_OP_FAILED;
		l->op_code = code;
	}
	op_settle(c);
}

/*
 * While the operator holds the call, a party's re-INVITE or UPDATE is answered here, not
 * relayed (that would take the other party off hold): 200 with the hold SDP it already has.
 * An offer that itself holds or stops media cannot take that answer (RFC 3264 section 6.1):
 * 488, the session stays as it is.
 */
static void answer_while_held(
	struct b2b_call *c, struct b2b_leg *from, struct cp_txn *tx, osip_message_t *req)
{
	struct b2b *b = c->co;
	osip_body_t *body = NULL;

	if (osip_message_get_body(req, 0, &body) >= 0 && body && body->body) {
		bool ok = cp_sdp_parse(&b->scratch_sdp, body->body, body->length, NULL, 0) == 0 &&
			  b->scratch_sdp.nmedia == c->nmedia;

		for (unsigned i = 0; ok && i < b->scratch_sdp.nmedia; i++) {
			enum cp_sdp_dir d = b->scratch_sdp.media[i].dir;

			if (b->scratch_sdp.media[i].port && d != CP_SDP_SENDRECV &&
				d != CP_SDP_RECVONLY)
				ok = false;
		}
		if (!ok) {
			respond(tx,
				cp_dialog_response(&from->dlg, req, 488, "Not Acceptable Here"));
			return;
		}
	}
	if (parse_sent(b, from) < 0 || cp_sdp_hold_offer(&b->own_sdp, &from->origin, &b->out) < 0) {
		respond(tx, cp_dialog_response(&from->dlg, req, 500, NULL));
		return;
	}
	answer_with_out(c, from, tx, req);
}

int b2b_call_hold(struct b2b *b, uint64_t id, bool hold, b2b_op_fn fn, void *arg)
{
	struct b2b_call *c = call_find(b, id);
	struct b2b_leg *legs[2];

	if (!c || c->terminating)
		return -ENOENT;
	if (c->op != OP_NONE || c->a.reinvite_tx || c->b.reinvite_tx || c->peer_op)
		return -EBUSY;
	if (hold ? c->held : c->sm.state == B2B_ST_CONNECTED)
		return -EALREADY;
	/* a party's own hold is theirs to lift */
	if (!hold && !c->held)
		return -EPERM;
	if (b2b_state_peek(&c->sm, hold ? B2B_EV_HOLD_REQUESTED : B2B_EV_RESUME_REQUESTED, NULL) <
		0)
		return -EPERM;
	apply(c, hold ? B2B_EV_HOLD_REQUESTED : B2B_EV_RESUME_REQUESTED);
	c->op = hold ? OP_HOLD : OP_RESUME;
	c->op_done = fn;
	c->op_arg = arg;
	legs[0] = &c->a;
	legs[1] = &c->b;
	for (int i = 0; i < 2; i++) {
		if (!legs[i]->dlg.confirmed)
			continue; /* a local call's empty side */
		if (own_offer(c, legs[i], hold) < 0) {
			legs[i]->op = LEG_OP_FAILED;
			legs[i]->op_code = 500;
		}
	}
	op_settle(c);
	return 0;
}

/* A party's re-INVITE or UPDATE holds when every stream it keeps stops what it receives. */
static enum b2b_pending offer_kind(const struct b2b_call *c, const struct cp_sdp *s)
{
	bool any = false, hold = true;

	for (unsigned i = 0; i < s->nmedia; i++) {
		if (!s->media[i].port)
			continue;
		any = true;
		if (s->media[i].dir != CP_SDP_SENDONLY && s->media[i].dir != CP_SDP_INACTIVE)
			hold = false;
	}
	if (!any)
		return B2B_PENDING_NONE;
	if (hold && c->sm.state == B2B_ST_CONNECTED)
		return B2B_PENDING_HOLD;
	if (!hold && c->sm.state == B2B_ST_ON_HOLD)
		return B2B_PENDING_RESUME;
	return B2B_PENDING_NONE;
}

/* The relayed hold or resume got its final answer (code; 408: none) */
static void peer_op_done(struct b2b_call *c, int code)
{
	bool hold = c->peer_op == B2B_PENDING_HOLD;

	if (c->peer_op == B2B_PENDING_NONE)
		return;
	c->peer_op = B2B_PENDING_NONE;
	if (c->terminating)
		return;
	if (code < 300)
		apply(c, hold ? B2B_EV_HOLD_CONFIRMED : B2B_EV_RESUME_CONFIRMED);
	else
		apply(c, hold ? B2B_EV_HOLD_FAILED : B2B_EV_RESUME_FAILED);
}

/* ---- calls the appliance places, and bridges ---------------------------------------------- */

/* The endpoint facing a local call's one party */
static uint64_t party_key(const struct b2b_call *c)
{
	return c->party_b ? c->media[0].key_b : c->media[0].key_a;
}

static void publish_bridge(const struct b2b_call *c, uint64_t other, unsigned what)
{
	struct b2b_ev e;

	if (!b2b_events_wanted(c->co->events, B2B_EVK_BRIDGE, c->id))
		return;
	e = event_of(c, B2B_EVK_BRIDGE);
	e.u.bridge.bridge = other;
	e.u.bridge.what = (uint8_t)what;
	b2b_events_publish(c->co->events, &e);
}

/* Takes call c out of its bridge (its peer keeps its call, its media ending again) */
static void unbridge(struct b2b_call *c)
{
	struct b2b_call *o = c->bridged ? call_find(c->co, c->bridged) : NULL;

	if (!c->bridged)
		return;
	if (!c->terminating)
		ep_send(c, TG_MSG_EP_LINK, party_key(c), 0, NULL, NULL, false);
	publish_bridge(c, c->bridged, 1);
	c->bridged = 0;
	if (o && o->bridged == c->id) {
		if (!o->terminating)
			ep_send(o, TG_MSG_EP_LINK, party_key(o), 0, NULL, NULL, false);
		publish_bridge(o, c->id, 1);
		o->bridged = 0;
	}
}

int b2b_bridge(struct b2b *b, uint64_t id1, uint64_t id2)
{
	struct b2b_call *c1 = call_find(b, id1), *c2 = call_find(b, id2);

	if (!c1 || !c2 || c1->terminating || c2->terminating)
		return -ENOENT;
	if (c1 == c2 || !c1->local || !c2->local || !c1->answered || !c2->answered || !c1->nmedia ||
		!c2->nmedia || !c1->media[0].active || !c2->media[0].active)
		return -EPERM;
	if (c1->bridged || c2->bridged)
		return -EBUSY;
	/* the two parties' endpoints relay to each other, as a B2BUA call's two legs do */
	ep_send(c1, TG_MSG_EP_LINK, party_key(c1), party_key(c2), NULL, NULL, false);
	c1->bridged = id2;
	c2->bridged = id1;
	b->c.bridges++;
	TG_LOG_CALL(B2B, INFO, call_id_of(c1), "-", "bridged with call %" PRIu64, id2);
	publish_bridge(c1, id2, 0);
	publish_bridge(c2, id1, 0);
	return 0;
}

int b2b_unbridge(struct b2b *b, uint64_t id)
{
	struct b2b_call *c = call_find(b, id);

	if (!c || c->terminating)
		return -ENOENT;
	if (!c->bridged)
		return -EPERM;
	unbridge(c);
	return 0;
}

/* Responses to the INVITE of a call the appliance placed: nobody to relay them to. */
static void originated_response(struct b2b_call *c, osip_message_t *resp)
{
	int code = resp->status_code;
	b2b_op_fn fn;

	if (code < 200) {
		if (!c->terminating)
			apply(c, B2B_EV_PROVISIONAL);
		return;
	}
	if (code < 300) {
		ack_b(c, NULL);
		if (c->terminating) {
			apply(c, B2B_EV_ANSWERED);
			send_bye(c, &c->b);
			return;
		}
		own_answer(c, &c->b, resp);
		free(c->offer_a);
		c->offer_a = NULL;
		mark_answered(c, code);
		return;
	}
	if (c->terminating) {
		maybe_finalize(c);
		return;
	}
	fn = c->setup_done;
	c->setup_done = NULL;
	if (fn)
		fn(c->setup_arg, c->id, -EREMOTEIO, code, 'b');
	apply(c, B2B_EV_REJECTED);
	end_call(c, B2B_CDR_REJECTED, code, NULL);
}

/* An offer of the appliance's own, on the endpoint facing the callee (rewritten for B by
 * send_b_invite like any caller's) */
static int own_offer_text(struct b2b_call *c, char *buf, size_t len)
{
	const struct tg_addr *a = &c->media[0].local_b;
	char ip[INET6_ADDRSTRLEN];
	const char *v = a->family == TG_AF_INET6 ? "6" : "4";
	int n;

	if (!inet_ntop(a->family == TG_AF_INET6 ? AF_INET6 : AF_INET, a->a, ip, sizeof(ip)))
		return -EINVAL;
	n = snprintf(buf, len,
		"v=0\r\no=- %" PRIu64 " 1 IN IP%s %s\r\ns=tollgate\r\nc=IN IP%s %s\r\nt=0 0\r\n"
		"m=audio %u RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n"
		"a=sendrecv\r\n",
		c->id, v, ip, v, ip, a->port);
	return n > 0 && (size_t)n < len ? n : -ENOSPC;
}

/* The callee's endpoint exists: the INVITE goes out with our offer */
static void originate_invite(struct b2b_call *c)
{
	struct b2b *b = c->co;
	char text[512];
	int n;

	if (!media_step_ok(c))
		return;
	n = own_offer_text(c, text, sizeof(text));
	if (n < 0 || keep_offer(b, c, text, (size_t)n) < 0) {
		end_call(c, B2B_CDR_ERROR, 0, NULL);
		return;
	}
	send_b_invite(c);
}

int b2b_call_originate(
	struct b2b *b, const char *from_user, const char *to, b2b_op_fn fn, void *arg, uint64_t *id)
{
	const struct cp_route_target *rt;
	struct b2b_call *c;
	struct sockaddr_storage none = {0};
	char user[128], host[128];
	bool replaces;

	if (parse_target(to, user, sizeof(user), host, sizeof(host), &replaces) < 0 || replaces ||
		!from_user || strcspn(from_user, "@:;<> \t\"") != strlen(from_user))
		return -EINVAL;
	rt = cp_route_lookup(b->p.routes, user, host[0] ? host : NULL, NULL);
	if (!rt)
		return -EHOSTUNREACH;
	if (b->shutting_down || b->active >= b->p.cfg->max_calls)
		return -EBUSY;
	if (!cp_dp_is_up(b->p.dp))
		return -EAGAIN;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->co = b;
	c->id = ++b->next_id;
	c->a.call = c->b.call = c;
	c->a.co = c->b.co = b;
	c->b.is_b = true;
	c->local = c->originated = c->party_b = true;
	c->rewrite_rtp = true;
	c->target = *rt;
	c->max_forwards = 70;
	c->setup_ms = tg_wall_ms();
	copy_user(c->ruri_user, sizeof(c->ruri_user), user);
	copy_user(c->from_user, sizeof(c->from_user), from_user);
	cp_timer_init(&c->no_answer, on_no_answer, c);
	cp_timer_init(&c->max_dur, on_max_duration, c);
	cp_timer_init(&c->op_retry, on_op_retry, c);
	cp_timer_init(&c->a.rtx, on_rtx, &c->a);
	cp_timer_init(&c->b.rtx, on_rtx, &c->b);
	b2b_state_init(&c->sm, observe, c);
	tg_hmap_insert(&b->calls, &c->node, id_hash(c->id));
	count_call(b, c, &none);
	b->in_memory++;
	b->c.originated++;
	c->setup_done = fn;
	c->setup_arg = arg;
	c->nmedia = 1;
	c->media[0].key_a = c->id << KEY_SHIFT;
	c->media[0].key_b = c->media[0].key_a | 1;
	c->media[0].active = true;
	c->dp_next = STEP_ORIGINATE;
	{
		struct tg_addr lb = family_only(tg_family_of(&c->target.addr));

		ep_send(c, TG_MSG_EP_CREATE, c->media[0].key_b, 0, NULL, &lb, true);
	}
	TG_LOG(B2B, INFO, "call %" PRIu64 ": %s calling %s@%s", c->id, from_user, user, rt->text);
	*id = c->id;
	if (!c->dp_pending) {
		c->dp_next = STEP_NONE;
		originate_invite(c);
	}
	return 0;
}

/*
 * A re-INVITE or UPDATE from the one party of a local call: the appliance is its peer and
 * answers the offer itself (as answer_local did the first), the party's endpoint following its
 * new address and direction. Without SDP we offer what we last sent.
 */
static void answer_reinvite_local(
	struct b2b_call *c, struct b2b_leg *from, struct cp_txn *tx, osip_message_t *req)
{
	struct b2b *b = c->co;
	struct cp_sdp_endpoint ep[CP_SDP_MAX_MEDIA];
	struct cp_sdp_rewrite rw = {
		.role = CP_SDP_ANSWER,
		.offer = &b->scratch_sdp,
		.ep = ep,
		.nep = c->nmedia,
		.session_name = "tollgate",
	};
	osip_body_t *body = NULL;

	if (osip_message_get_body(req, 0, &body) >= 0 && body && body->body) {
		if (cp_sdp_parse(&b->scratch_sdp, body->body, body->length, NULL, 0) < 0 ||
			b->scratch_sdp.nmedia != c->nmedia) {
			respond(tx,
				cp_dialog_response(&from->dlg, req, 488, "Not Acceptable Here"));
			return;
		}
		fill_endpoints(c, from->is_b, ep, &rw.local);
		if (cp_sdp_rewrite(&b->scratch_sdp, &rw, &from->origin, &b->out) < 0) {
			respond(tx,
				cp_dialog_response(&from->dlg, req, 488, "Not Acceptable Here"));
			return;
		}
		follow_streams(c, from);
	} else if (parse_sent(b, from) < 0 ||
		   cp_sdp_resume_offer(&b->own_sdp, &from->origin, &b->out) < 0) {
		respond(tx, cp_dialog_response(&from->dlg, req, 500, NULL));
		return;
	}
	answer_with_out(c, from, tx, req);
}

/* ---- re-INVITE relay ------------------------------------------------------------------- */

/* A re-INVITE or UPDATE from one leg goes to the other with its SDP rewritten; its answer comes
 * back the same way. One offer/answer in flight per call (491 otherwise). */
static void relay_reinvite(
	struct b2b_call *c, struct b2b_leg *from, struct cp_txn *tx, osip_message_t *req)
{
	struct b2b *b = c->co;
	struct b2b_leg *to = from->is_b ? &c->a : &c->b;
	struct cp_sdp_endpoint ep[CP_SDP_MAX_MEDIA];
	struct cp_sdp_rewrite rw = {
		.role = CP_SDP_OFFER,
		.ep = ep,
		.nep = c->nmedia,
		.session_name = "tollgate",
	};
	osip_body_t *body = NULL;
	osip_message_t *m;
	char why[CP_SDP_WHY_LEN];

	enum b2b_pending kind = B2B_PENDING_NONE;

	if (from->reinvite_tx || to->reinvite_tx || c->terminating || c->op != OP_NONE) {
		respond(tx, cp_dialog_response(&from->dlg, req, 491, "Request Pending"));
		return;
	}
	b->c.reinvites++;
	if (c->held) {
		answer_while_held(c, from, tx, req);
		return;
	}
	if (c->local && !to->dlg.call_id) {
		answer_reinvite_local(c, from, tx, req);
		return;
	}
	m = cp_dialog_request(&to->dlg, req->sip_method);
	if (!m) {
		respond(tx, cp_dialog_response(&from->dlg, req, 500, NULL));
		return;
	}
	if (osip_message_get_body(req, 0, &body) >= 0 && body && body->body) {
		if (cp_sdp_parse(&b->scratch_sdp, body->body, body->length, why, sizeof(why)) < 0 ||
			b->scratch_sdp.nmedia != c->nmedia) {
			osip_message_free(m);
			respond(tx,
				cp_dialog_response(&from->dlg, req, 488, "Not Acceptable Here"));
			return;
		}
		kind = offer_kind(c, &b->scratch_sdp);
		fill_endpoints(c, to->is_b, ep, &rw.local);
		if (cp_sdp_rewrite(&b->scratch_sdp, &rw, &to->origin, &b->out) < 0) {
			osip_message_free(m);
			respond(tx,
				cp_dialog_response(&from->dlg, req, 488, "Not Acceptable Here"));
			return;
		}
		/* the offerer's endpoints take its new address and direction now */
		follow_streams(c, from);
		set_sdp(to, m, &b->out);
		/* the far leg's answer is rewritten against this offer, as the offerer sent it
		 * (its spans point into its own copy of the text) */
		if (keep_offer(c->co, c, body->body, body->length) < 0) {
			free(c->offer_a);
			c->offer_a = NULL;
		}
	}
	from->reinvite_tx = tx;
	cp_txn_set_owner(tx, from);
	to->reinvite_tx = cp_txn_request(b->txn, m, &to->dlg.peer, to);
	if (!to->reinvite_tx) {
		forget(&from->reinvite_tx);
		respond(tx, cp_dialog_response(&from->dlg, req, 500, NULL));
		return;
	}
	if (kind != B2B_PENDING_NONE) {
		c->peer_op = kind;
		apply(c,
			kind == B2B_PENDING_HOLD ? B2B_EV_HOLD_REQUESTED : B2B_EV_RESUME_REQUESTED);
	}
}

/* The far leg answered the relayed re-INVITE: ACK it, answer the offerer with the SDP rewritten. */
static void reinvite_response(struct b2b_call *c, struct b2b_leg *to, osip_message_t *resp)
{
	struct b2b *b = c->co;
	struct b2b_leg *from = to->is_b ? &c->a : &c->b;
	int code = resp->status_code;
	struct cp_txn *otx = from->reinvite_tx;
	osip_message_t *m;

	bool invite = resp->cseq && resp->cseq->method && !strcmp(resp->cseq->method, "INVITE");

	if (code < 200)
		return;
	peer_op_done(c, code);
	if (code < 300 && invite)
		own_ack(c, to, resp);
	if (!otx)
		return;
	from->reinvite_tx = NULL;
	cp_txn_set_owner(otx, NULL);
	m = cp_dialog_response(&from->dlg, cp_txn_msg(otx), code, resp->reason_phrase);
	if (!m)
		return;
	if (code < 300 && take_answer(c, resp, from, false) == 0)
		set_sdp(from, m, &b->out);
	free(c->offer_a);
	c->offer_a = NULL;
	if (code < 300 && invite && !from->is_b)
		send_2xx_a(c, otx, m);
	else
		respond(otx, m);
}

/* ---- INFO and the operator's DTMF ------------------------------------------------------------ */

/* A party's INFO (DTMF as application/dtmf-relay, or anything else) goes to the other party with
 * its body; the answer comes back the same way. One at a time per call. */
/* A digit in a party's INFO (application/dtmf-relay "Signal=5"): counted and published */
static void info_dtmf(struct b2b_call *c, const struct b2b_leg *from, osip_message_t *req)
{
	osip_content_type_t *ct = osip_message_get_content_type(req);
	osip_body_t *body = NULL;
	const char *sig, *dur;

	if (!ct || !ct->subtype || strcasecmp(ct->subtype, "dtmf-relay") ||
		osip_message_get_body(req, 0, &body) < 0 || !body || !body->body)
		return;
	sig = strcasestr(body->body, "Signal=");
	dur = strcasestr(body->body, "Duration=");
	if (sig && sig[7] && strchr("0123456789*#ABCDabcd", sig[7])) {
		c->co->c.dtmf_received++;
		publish_dtmf(c, from, (char)toupper((unsigned char)sig[7]), 1, false,
			dur ? (unsigned)strtoul(dur + 9, NULL, 10) : 0);
	}
}

static void relay_info(
	struct b2b_call *c, struct b2b_leg *from, struct cp_txn *tx, osip_message_t *req)
{
	struct b2b *b = c->co;
	struct b2b_leg *to = from->is_b ? &c->a : &c->b;
	osip_content_type_t *ct = osip_message_get_content_type(req);
	osip_body_t *body = NULL;
	osip_message_t *m;
	char *type = NULL;

	if (c->local && !to->dlg.call_id) {
		/* one party, and the appliance is its peer: the INFO ends here */
		info_dtmf(c, from, req);
		respond(tx, cp_dialog_response(&from->dlg, req, 200, NULL));
		return;
	}
	if (from->info_tx || to->info_tx || c->terminating || !to->dlg.confirmed) {
		/* RFC 3261 section 21.5.1: 500 with Retry-After, as for an overlapping request */
		m = cp_dialog_response(&from->dlg, req, 500, "Request Pending");
		if (m)
			cp_sip_add_header(m, "Retry-After", "1");
		respond(tx, m);
		return;
	}
	m = cp_dialog_request(&to->dlg, "INFO");
	if (!m) {
		respond(tx, cp_dialog_response(&from->dlg, req, 500, NULL));
		return;
	}
	if (osip_message_get_body(req, 0, &body) >= 0 && body && body->body && ct &&
		osip_content_type_to_str(ct, &type) == 0 && type &&
		cp_sip_set_body(m, type, body->body, body->length) < 0) {
		osip_free(type);
		osip_message_free(m);
		respond(tx, cp_dialog_response(&from->dlg, req, 500, NULL));
		return;
	}
	osip_free(type);
	b->c.info_relayed++;
	info_dtmf(c, from, req);
	from->info_tx = tx;
	cp_txn_set_owner(tx, from);
	to->info_tx = cp_txn_request(b->txn, m, &to->dlg.peer, to);
	if (!to->info_tx) {
		forget(&from->info_tx);
		respond(tx, cp_dialog_response(&from->dlg, req, 500, NULL));
	}
}

/* The far leg's final answer (code; 408: none) to a relayed INFO goes back to its sender. */
static void info_answered(struct b2b_call *c, struct b2b_leg *to, int code, const char *reason)
{
	struct b2b_leg *from = to->is_b ? &c->a : &c->b;
	struct cp_txn *otx = from->info_tx;

	if (!otx)
		return;
	from->info_tx = NULL;
	cp_txn_set_owner(otx, NULL);
	respond(otx, cp_dialog_response(&from->dlg, cp_txn_msg(otx), code, reason));
}

static void dtmf_finish(struct b2b_call *c, int status, int code)
{
	b2b_op_fn fn = c->dtmf_done;
	const struct b2b_leg *l = c->dtmf_leg;

	c->dtmf_done = NULL;
	c->dtmf_leg = NULL;
	if (fn)
		fn(c->dtmf_arg, c->id, status, code, l && l->is_b ? 'b' : 'a');
}

/* The next digit as an INFO (application/dtmf-relay, the body most equipment reads) */
static void dtmf_send_next(struct b2b_call *c)
{
	struct b2b_leg *l = c->dtmf_leg;
	char body[64];
	osip_message_t *m;
	int n;

	if (!c->dtmf[c->dtmf_next]) {
		dtmf_finish(c, 0, 200);
		return;
	}
	n = snprintf(body, sizeof(body), "Signal=%c\r\nDuration=%u\r\n", c->dtmf[c->dtmf_next],
		c->dtmf_ms);
	m = cp_dialog_request(&l->dlg, "INFO");
	if (!m || cp_sip_set_body(m, "application/dtmf-relay", body, (size_t)n) < 0) {
		if (m)
			osip_message_free(m);
		dtmf_finish(c, -ENOMEM, 500);
		return;
	}
	publish_dtmf(c, l, c->dtmf[c->dtmf_next], 1, true, c->dtmf_ms);
	c->dtmf_next++;
	l->info_tx = cp_txn_request(c->co->txn, m, &l->dlg.peer, l);
	if (!l->info_tx)
		dtmf_finish(c, -EIO, 500);
}

bool b2b_dtmf_digits_ok(const char *digits)
{
	size_t n = strlen(digits);

	if (!n || n > B2B_DTMF_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789*#ABCD", digits[i]))
			return false;
	return true;
}

/* The telephone-event payload type leg l agreed to (what we offered or answered it), 0: none */
static uint8_t leg_te_pt(struct b2b_call *c, const struct b2b_leg *l)
{
	struct b2b *b = c->co;

	if (!c->nmedia || parse_sent(b, l) < 0 || !b->own_sdp.nmedia)
		return 0;
	return te_pt_of(b->own_sdp.media[0].codecs, b->own_sdp.media[0].ncodecs);
}

static void on_dtmf_reply(struct cp_dp *dp, const struct tg_msg *r, int status, void *arg)
{
	struct b2b_call *c = arg;

	(void)dp;
	if (c->orphan) {
		if (--c->dp_pending == 0)
			free(c);
		return;
	}
	if (status == 0 && c->dtmf_leg) {
		for (const char *p = c->dtmf; *p; p++)
			publish_dtmf(c, c->dtmf_leg, *p, 0, true, c->dtmf_ms);
		c->co->c.dtmf_sent += strlen(c->dtmf);
	}
	dtmf_finish(c, status, 0);
	if (c->dp_pending && --c->dp_pending == 0)
		dp_step_done(c);
}

/* RFC 4733 events from the endpoint facing leg l, generated by the dataplane */
static int dtmf_rtp(struct b2b_call *c, struct b2b_leg *l, uint8_t pt)
{
	struct cp_dp_dtmf d = {
		.key = l->is_b ? c->media[0].key_b : c->media[0].key_a,
		.digits = c->dtmf,
		.pt = pt,
		.duration_ms = c->dtmf_ms,
	};
	int rc;

	c->dp_pending++;
	rc = cp_dp_ep_dtmf(c->co->p.dp, &d, on_dtmf_reply, c);
	if (rc < 0)
		c->dp_pending--;
	return rc;
}

int b2b_call_dtmf(struct b2b *b, uint64_t id, bool to_b, const char *digits,
	enum b2b_dtmf_method method, unsigned duration_ms, b2b_op_fn fn, void *arg)
{
	struct b2b_call *c = call_find(b, id);
	struct b2b_leg *l;
	uint8_t pt = 0;
	int rc;

	if (!c || c->terminating)
		return -ENOENT;
	if (!b2b_dtmf_digits_ok(digits))
		return -EINVAL;
	if (c->sm.state != B2B_ST_CONNECTED && c->sm.state != B2B_ST_ON_HOLD)
		return -EPERM;
	if (c->local)
		to_b = c->party_b; /* its one party, whichever was asked for */
	l = to_b ? &c->b : &c->a;
	if (c->dtmf_done || l->info_tx || (to_b ? c->a.info_tx : c->b.info_tx))
		return -EBUSY;
	if (method != B2B_DTMF_INFO) {
		pt = c->media[0].active && cp_dp_is_up(b->p.dp) ? leg_te_pt(c, l) : 0;
		if (!pt && method == B2B_DTMF_RTP)
			return -EPROTONOSUPPORT;
	}
	snprintf(c->dtmf, sizeof(c->dtmf), "%s", digits);
	c->dtmf_next = 0;
	c->dtmf_ms = (uint16_t)(duration_ms ? duration_ms : 100);
	c->dtmf_leg = l;
	c->dtmf_done = fn;
	c->dtmf_arg = arg;
	if (pt) {
		rc = dtmf_rtp(c, l, pt);
		if (rc < 0) {
			c->dtmf_done = NULL;
			c->dtmf_leg = NULL;
		}
		return rc;
	}
	snprintf(c->dtmf, sizeof(c->dtmf), "%s", digits);
	c->dtmf_next = 0;
	c->dtmf_ms = (uint16_t)(duration_ms ? duration_ms : 100);
	c->dtmf_leg = l;
	c->dtmf_done = fn;
	b->c.dtmf_sent += strlen(digits);
	dtmf_send_next(c);
	return 0;
}

/* The answer to one of the operator's INFOs: the next digit, or the end. */
static void dtmf_answered(struct b2b_call *c, int code)
{
	if (code < 300 && !c->terminating)
		dtmf_send_next(c);
	else
		dtmf_finish(c, code == 408 ? -ETIMEDOUT : -EREMOTEIO, code);
}

/* ---- transfer ---------------------------------------------------------------------------------
 */

/*
 * A transfer replaces one party of a call with a new leg toward a target while the other party
 * (the transferee) stays: the party itself asks with REFER (RFC 3515: 202, then NOTIFYs with the
 * target's progress as message/sipfrag), or the operator does (b2b_call_transfer). The target
 * is found through the routing table like any call (the Refer-To host is never a destination:
 * no open relay), the new leg offers the SDP the replaced party last got from us, and it takes
 * over that party's endpoints: once the target answers, the endpoint follows the target, and
 * the endpoints rewrite SSRC, sequence and timestamp so the transferee's phone sees one stream;
 * the transferee gets a re-offer (sendrecv: it is taken off hold if it was). The replaced party
 * is retired: its dialog is let go (its BYE answered, or ours after a while).
 */

#define RETIRED_BYE_WAIT_NS (5000ull * TG_NS_PER_MS) /* for the transferor's own BYE */
#define RETIRED_GIVE_UP_NS (32000ull * TG_NS_PER_MS)

struct b2b_xfer {
	struct b2b_leg leg; /* toward the target, a UAC leg like B */
	bool gone_b;	    /* the party replaced is B's (else A's) */
	bool by_refer;	    /* the party asked with REFER: it gets NOTIFYs */
	char user[128];	    /* the target's user, as the Request-URI says it */
	struct cp_route_target target;
	b2b_op_fn done; /* the operator's answer */
	void *arg;
};

static void retired_timer(struct cp_loop *lp, struct cp_timer *t, void *arg);

static void leg_unregister(struct b2b *b, struct b2b_leg *l)
{
	if (l->key) {
		tg_hmap_remove(&b->dialogs, &l->node);
		free(l->key);
		l->key = NULL;
	}
}

/* Every transaction a leg started, forgotten (they end on their own, telling nobody) */
static void leg_forget_all(struct b2b_leg *l)
{
	forget(&l->invite_tx);
	forget(&l->bye_tx);
	forget(&l->reinvite_tx);
	forget(&l->info_tx);
}

/*
 * Moves leg src into dst (another place: a call's position, or the heap): its dialog stays
 * registered under the same key, its transactions now name dst.
 */
static void leg_move(struct b2b *b, struct b2b_leg *dst, struct b2b_leg *src)
{
	struct cp_txn **txs[] = {&dst->invite_tx, &dst->bye_tx, &dst->reinvite_tx, &dst->info_tx};

	struct b2b_call *call = src->call;
	bool is_b = src->is_b;

	cp_timer_stop(b->p.loop, &src->rtx);
	if (src->key)
		tg_hmap_remove(&b->dialogs, &src->node);
	*dst = *src;
	/* what is left is an empty leg of its call (a position a transfer emptied), still
	 * safe to release with the call */
	memset(src, 0, sizeof(*src));
	src->call = call;
	src->co = b;
	src->is_b = is_b;
	memset(&dst->node, 0, sizeof(dst->node));
	if (dst->key)
		tg_hmap_insert(&b->dialogs, &dst->node, tg_hash_str(TG_HASH_SEED, dst->key));
	for (size_t i = 0; i < sizeof(txs) / sizeof(txs[0]); i++)
		if (*txs[i])
			cp_txn_set_owner(*txs[i], dst);
}

static void retired_free(struct b2b *b, struct b2b_leg *l)
{
	for (struct b2b_leg **p = &b->retired; *p; p = &(*p)->next_retired) {
		if (*p == l) {
			*p = l->next_retired;
			break;
		}
	}
	cp_timer_stop(b->p.loop, &l->rtx);
	leg_forget_all(l);
	leg_unregister(b, l);
	leg_free_msgs(l);
	cp_dialog_fini(&l->dlg);
	free(l);
}

/* A retired leg goes once nothing of it runs and its dialog is over (or never was). */
static void retired_check(struct b2b *b, struct b2b_leg *l)
{
	if (l->invite_tx || l->bye_tx)
		return;
	if (l->dlg.confirmed && !l->bye_sent && !l->bye_received)
		return;
	retired_free(b, l);
}

/*
 * Takes leg src out of its call into the retired list. wait_ns > 0: the party may hang up
 * itself until then (a transferor does, after the final NOTIFY); then we send BYE.
 */
static struct b2b_leg *retire(struct b2b *b, struct b2b_leg *src, uint64_t wait_ns)
{
	struct b2b_leg *l = calloc(1, sizeof(*l));

	stop_2xx_rtx(src);
	if (!l) {
		/* no memory for the wind-down: the dialog is dropped, its party times out */
		leg_forget_all(src);
		leg_unregister(b, src);
		leg_free_msgs(src);
		cp_dialog_fini(&src->dlg);
		memset(&src->dlg, 0, sizeof(src->dlg));
		return NULL;
	}
	leg_move(b, l, src);
	l->call = NULL;
	l->co = b;
	l->xfer = false;
	l->retired = true;
	l->next_retired = b->retired;
	b->retired = l;
	cp_timer_init(&l->rtx, retired_timer, l);
	l->rtx_give_up = cp_loop_now(b->p.loop) + RETIRED_GIVE_UP_NS;
	cp_timer_start(b->p.loop, &l->rtx, wait_ns ? wait_ns : RETIRED_GIVE_UP_NS);
	return l;
}

static void retired_timer(struct cp_loop *lp, struct cp_timer *t, void *arg)
{
	struct b2b_leg *l = arg;
	struct b2b *b = l->co;

	if (cp_loop_now(lp) >= l->rtx_give_up) {
		retired_free(b, l);
		return;
	}
	leg_bye(b, l, NULL);
	cp_timer_start(lp, t, l->rtx_give_up - cp_loop_now(lp));
	retired_check(b, l);
}

/* A request on a retired party's dialog: its BYE is what we wait for. */
static void retired_request(
	struct b2b *b, struct b2b_leg *l, struct cp_txn *tx, osip_message_t *req)
{
	if (cp_dialog_uas_request(&l->dlg, req) < 0) {
		respond(tx, cp_dialog_response(&l->dlg, req, 500, "CSeq Out of Order"));
		return;
	}
	if (MSG_IS_BYE(req)) {
		respond(tx, cp_dialog_response(&l->dlg, req, 200, NULL));
		l->bye_received = true;
		retired_check(b, l);
		return;
	}
	respond(tx, cp_dialog_response(&l->dlg, req, 481, "Call/Transaction Does Not Exist"));
}

/* Responses on a retired leg: our BYE's, or an abandoned transfer's INVITE (2xx: ACK, BYE). */
static void retired_response(
	struct b2b *b, struct b2b_leg *l, struct cp_txn *tx, osip_message_t *resp)
{
	int code = resp->status_code;

	if (code < 200)
		return;
	if (tx == l->invite_tx) {
		forget(&l->invite_tx);
		if (code < 300) {
			cp_dialog_uac_response(&l->dlg, resp);
			l->invite_cseq = (uint32_t)atoi(resp->cseq->number);
			osip_message_t *ack = cp_dialog_ack(&l->dlg, l->invite_cseq);

			if (ack) {
				cp_txn_send_stateless(b->txn, ack, &l->dlg.peer);
				l->ack = ack;
			}
			leg_bye(b, l, NULL);
		}
	} else if (tx == l->bye_tx) {
		forget(&l->bye_tx);
	}
	retired_check(b, l);
}

static void retired_gone(struct b2b *b, struct b2b_leg *l, struct cp_txn *tx)
{
	if (l->invite_tx == tx)
		forget(&l->invite_tx);
	if (l->bye_tx == tx) {
		forget(&l->bye_tx);
		l->bye_received = true; /* no answer to our BYE: the dialog is over all the same */
	}
	retired_check(b, l);
}

/* A NOTIFY of the transfer's progress to the transferor (RFC 3515 section 2.4.5): its body is
 * the target's status line. Nobody waits for its answer. */
static void xfer_notify(
	struct b2b_call *c, struct b2b_leg *to, int code, const char *reason, bool final)
{
	char body[96];
	osip_message_t *m;
	int n;

	if (!to || !to->dlg.confirmed)
		return;
	m = cp_dialog_request(&to->dlg, "NOTIFY");
	if (!m)
		return;
	n = snprintf(body, sizeof(body), "SIP/2.0 %d %s\r\n", code, reason ? reason : "");
	if (cp_sip_add_header(m, "Event", "refer") < 0 ||
		cp_sip_add_header(m, "Subscription-State",
			final ? "terminated;reason=noresource" : "active;expires=60") < 0 ||
		cp_sip_set_body(m, "message/sipfrag;version=2.0", body, (size_t)n) < 0) {
		osip_message_free(m);
		return;
	}
	cp_txn_request(c->co->txn, m, &to->dlg.peer, NULL);
}

static void publish_xfer(const struct b2b_call *c, unsigned state, int code)
{
	struct b2b_ev e;

	if (!c->xfer || !b2b_events_wanted(c->co->events, B2B_EVK_TRANSFER, c->id))
		return;
	e = event_of(c, B2B_EVK_TRANSFER);
	e.u.transfer.state = (uint8_t)state;
	e.u.transfer.sip_code = (int16_t)code;
	/* cut to fit: an event has no pointers */
	snprintf(e.u.transfer.target, sizeof(e.u.transfer.target), "%.40s@%.50s", c->xfer->user,
		c->xfer->target.text);
	b2b_events_publish(c->co->events, &e);
}

static void xfer_finish(struct b2b_call *c, int status, int code)
{
	struct b2b_xfer *x = c->xfer;
	b2b_op_fn fn = x->done;

	c->xfer = NULL;
	if (fn)
		fn(x->arg, c->id, status, code, x->gone_b ? 'b' : 'a');
	free(x);
}

/* The transfer failed (the target refused with code, or could not be reached): the call goes
 * on as it was, the transferor hears the status. */
static void xfer_failed(struct b2b_call *c, int code, const char *reason)
{
	struct b2b *b = c->co;
	struct b2b_xfer *x = c->xfer;
	struct b2b_leg *gone = x->gone_b ? &c->b : &c->a;

	TG_LOG_CALL(B2B, NOTICE, call_id_of(c), x->gone_b ? "b" : "a", "transfer to %s failed: %d",
		x->target.text, code);
	b->c.transfers_failed++;
	publish_xfer(c, 3, code);
	if (x->by_refer)
		xfer_notify(c, gone, code, reason ? reason : "Failed", true);
	leg_forget_all(&x->leg);
	leg_unregister(b, &x->leg);
	leg_free_msgs(&x->leg);
	cp_dialog_fini(&x->leg.dlg);
	if (!c->terminating)
		apply(c, B2B_EV_TRANSFER_FAILED);
	xfer_finish(c, code == 408 ? -ETIMEDOUT : -EREMOTEIO, code);
}

/* The call ends during a transfer: the target's leg is cancelled (or, answered, let go). */
static void xfer_abort(struct b2b_call *c)
{
	struct b2b *b = c->co;
	struct b2b_xfer *x = c->xfer;
	struct b2b_leg *l;

	if (!x)
		return;
	if (x->leg.invite_tx) {
		osip_message_t *m = cp_dialog_cancel(cp_txn_msg(x->leg.invite_tx));

		if (m)
			cp_txn_request(b->txn, m, &x->leg.dlg.peer, NULL);
	}
	l = retire(b, &x->leg, 0);
	if (l)
		retired_check(b, l);
	xfer_finish(c, -ECONNRESET, 0);
}

/* The target answered: it takes the replaced party's place. */
static void xfer_succeeded(struct b2b_call *c, osip_message_t *resp)
{
	struct b2b *b = c->co;
	struct b2b_xfer *x = c->xfer;
	struct b2b_leg *pos = x->gone_b ? &c->b : &c->a;
	struct b2b_leg *keep = x->gone_b ? &c->a : &c->b;
	struct b2b_leg *old;

	cp_dialog_uac_response(&x->leg.dlg, resp);
	x->leg.dlg.confirmed = true;
	own_ack(c, &x->leg, resp);
	b->c.transfers++;
	TG_LOG_CALL(B2B, NOTICE, call_id_of(c), x->gone_b ? "b" : "a", "transferred to %s@%s",
		x->user, x->target.text);
	publish_xfer(c, 2, resp->status_code);
	/* the replaced party: told (REFER), then let go */
	if (x->by_refer)
		xfer_notify(c, pos, resp->status_code, resp->reason_phrase, true);
	if (!x->gone_b)
		invite_unindex(b, c); /* the caller's INVITE is not this call's any more */
	old = retire(b, pos, x->by_refer ? RETIRED_BYE_WAIT_NS : 0);
	if (old && !x->by_refer)
		leg_bye(b, old, "SIP;cause=200;text=\"transferred by the operator\"");
	if (old)
		retired_check(b, old);
	/* the target in its place, on the same endpoints */
	leg_move(b, pos, &x->leg);
	pos->is_b = x->gone_b;
	pos->xfer = false;
	pos->call = c;
	cp_timer_init(&pos->rtx, on_rtx, pos);
	c->rewrite_rtp = true;
	own_answer(c, pos, resp);
	apply(c, B2B_EV_TRANSFER_SUCCEEDED);
	/* the transferee: a fresh offer (it may have been on hold for the transfer) */
	c->held = false;
	if (c->op == OP_NONE && !keep->reinvite_tx) {
		c->op = OP_REOFFER;
		if (own_offer(c, keep, false) < 0)
			c->op = OP_NONE;
	}
	xfer_finish(c, 0, resp->status_code);
}

static void xfer_response(struct b2b_call *c, struct b2b_leg *l, osip_message_t *resp)
{
	int code = resp->status_code;

	if (code < 101)
		return;
	if (code < 200) {
		cp_dialog_uac_response(&l->dlg, resp);
		if (code == 180 || code == 183) {
			apply(c, B2B_EV_PROVISIONAL);
			publish_xfer(c, 1, code);
			if (c->xfer->by_refer)
				xfer_notify(c, c->xfer->gone_b ? &c->b : &c->a, code,
					resp->reason_phrase, false);
		}
		return;
	}
	forget(&l->invite_tx);
	if (code < 300)
		xfer_succeeded(c, resp);
	else
		xfer_failed(c, code, resp->reason_phrase);
}

/* Starts the new leg toward x's target, offering what the replaced party last got from us. */
static int xfer_start(struct b2b_call *c)
{
	struct b2b *b = c->co;
	struct b2b_xfer *x = c->xfer;
	struct b2b_leg *gone = x->gone_b ? &c->b : &c->a;
	struct b2b_leg *keep = x->gone_b ? &c->a : &c->b;
	struct b2b_leg *l = &x->leg;
	struct cp_sip_peer peer;
	char local[72], ruri[320], host[64], from_user[128];
	const char *t = x->target.text, *slash = strrchr(t, '/');
	size_t n = slash ? (size_t)(slash - t) : strlen(t);
	osip_message_t *m;

	if (parse_sent(b, gone) < 0)
		return -EINVAL;
	if (cp_sip_transport_route(b->p.transport, (const struct sockaddr *)&x->target.addr,
		    x->target.len, x->target.tcp, &peer, local, sizeof(local)) < 0)
		return -EHOSTUNREACH;
	snprintf(host, sizeof(host), "%.*s", (int)n, t);
	snprintf(ruri, sizeof(ruri), "sip:%s%s%s%s", x->user, x->user[0] ? "@" : "", host,
		x->target.tcp ? ";transport=tcp" : "");
	/* the target sees the transferee calling: its user, never its address */
	copy_user(from_user, sizeof(from_user), keep->is_b ? c->ruri_user : c->from_user);
	l->call = c;
	l->co = b;
	l->is_b = true;
	l->xfer = true;
	if (cp_dialog_init_uac(&l->dlg, from_user,
		    !keep->is_b && c->from_display[0] ? c->from_display : NULL, ruri, &peer, local,
		    b->p.user_agent) < 0 ||
		leg_register(b, l) < 0)
		return -ENOMEM;
	cp_sdp_origin_init(&l->origin, c->id ^ 0x5a5a5a5aull, 1);
	if (cp_sdp_resume_offer(&b->own_sdp, &l->origin, &b->out) < 0)
		return -EINVAL;
	m = invite_with_sdp(l, &b->out);
	if (!m)
		return -ENOMEM;
	l->invite_cseq = l->dlg.local_cseq - 1;
	l->invite_tx = cp_txn_request(b->txn, m, &peer, l);
	if (!l->invite_tx)
		return -EIO;
	publish_xfer(c, 0, 0);
	return 0;
}

/*
 * Sets up a transfer of call c replacing the party on leg 'gone' with a call to user@host
 * (routed from the source address 'from'). Returns 0 (the transfer runs), -EBUSY, -EPERM
 * (state), -ENOENT (no route), or what starting it failed with.
 */
static int xfer_begin(struct b2b_call *c, bool gone_b, const char *user, const char *host,
	bool by_refer, b2b_op_fn fn, void *arg)
{
	struct b2b *b = c->co;
	struct b2b_leg *keep = gone_b ? &c->a : &c->b;
	const struct cp_route_target *rt;
	int rc;

	if (c->terminating)
		return -ENOENT;
	if (c->xfer || c->op != OP_NONE || c->peer_op || c->a.reinvite_tx || c->b.reinvite_tx)
		return -EBUSY;
	if (b2b_state_peek(&c->sm, B2B_EV_TRANSFER_REQUESTED, NULL) < 0)
		return -EPERM;
	rt = cp_route_lookup(
		b->p.routes, user, host, (const struct sockaddr *)&keep->dlg.peer.addr);
	if (!rt)
		return -ENOENT;
	c->xfer = calloc(1, sizeof(*c->xfer));
	if (!c->xfer)
		return -ENOMEM;
	c->xfer->gone_b = gone_b;
	c->xfer->by_refer = by_refer;
	c->xfer->target = *rt;
	c->xfer->done = fn;
	c->xfer->arg = arg;
	copy_user(c->xfer->user, sizeof(c->xfer->user), user);
	apply(c, B2B_EV_TRANSFER_REQUESTED);
	TG_LOG_CALL(B2B, INFO, call_id_of(c), gone_b ? "b" : "a", "transfer to %s@%s (%s)",
		user ? user : "", rt->text, by_refer ? "REFER" : "operator");
	rc = xfer_start(c);
	if (rc < 0) {
		/* the caller hears rc instead (a REFER has not even been answered yet) */
		c->xfer->done = NULL;
		c->xfer->by_refer = false;
		xfer_failed(c, 503, "Service Unavailable");
		return rc;
	}
	return 0;
}

/* The user and host of a Refer-To or a target ("sip:2001@example.com", "<sip:...>", "2001"). */
static int parse_target(
	const char *text, char *user, size_t ulen, char *host, size_t hlen, bool *replaces)
{
	char buf[512];
	const char *p = text, *e;
	osip_uri_t *u = NULL;
	int rc = -EINVAL;

	*replaces = false;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '<') {
		p++;
		e = strchr(p, '>');
	} else {
		e = p + strcspn(p, ";");
	}
	if (!e || (size_t)(e - p) >= sizeof(buf) || e == p)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%.*s", (int)(e - p), p);
	if (!strchr(buf, ':')) {
		/* a bare user: digits and the like */
		if (strcspn(buf, "@;?<> \t") != strlen(buf) || strlen(buf) >= ulen)
			return -EINVAL;
		memcpy(user, buf, strlen(buf) + 1);
		host[0] = '\0';
		return 0;
	}
	if (osip_uri_init(&u) != 0)
		return -ENOMEM;
	if (osip_uri_parse(u, buf) == 0 && u->scheme &&
		(!strcasecmp(u->scheme, "sip") || !strcasecmp(u->scheme, "sips")) && u->host) {
		snprintf(user, ulen, "%s", u->username ? u->username : "");
		snprintf(host, hlen, "%s", u->host);
		for (int i = 0; i < osip_list_size(&u->url_headers); i++) {
			osip_uri_header_t *h = osip_list_get(&u->url_headers, i);

			if (h && h->gname && !strcasecmp(h->gname, "Replaces"))
				*replaces = true;
		}
		rc = 0;
	}
	osip_uri_free(u);
	return rc;
}

/* The Replaces header of a Refer-To URI ("call-id;to-tag=x;from-tag=y"), unescaped */
static int refer_replaces(const char *text, char *out, size_t len)
{
	const char *p = strchr(text, '<'), *e;
	char buf[512];
	osip_uri_t *u = NULL;
	int rc = -EINVAL;

	p = p ? p + 1 : text;
	e = strchr(p, '>');
	if (!e)
		e = p + strlen(p);
	if ((size_t)(e - p) >= sizeof(buf) || osip_uri_init(&u) != 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%.*s", (int)(e - p), p);
	if (osip_uri_parse(u, buf) == 0) {
		for (int i = 0; i < osip_list_size(&u->url_headers); i++) {
			osip_uri_header_t *h = osip_list_get(&u->url_headers, i);

			if (h && h->gname && h->gvalue && !strcasecmp(h->gname, "Replaces") &&
				strlen(h->gvalue) < len) {
				memcpy(out, h->gvalue, strlen(h->gvalue) + 1);
				__osip_uri_unescape(out);
				rc = 0;
			}
		}
	}
	osip_uri_free(u);
	return rc;
}

/* The leg a Replaces value names: its Call-ID with our tag as either of its tags */
static struct b2b_leg *replaced_leg(struct b2b *b, char *rep)
{
	char *semi = strchr(rep, ';'), *tags[2] = {NULL, NULL};
	char key[512];

	if (!semi)
		return NULL;
	*semi = '\0';
	for (char *p = semi + 1; p && *p;) {
		char *next = strchr(p, ';');

		if (next)
			*next++ = '\0';
		while (*p == ' ')
			p++;
		if (!strncasecmp(p, "to-tag=", 7))
			tags[0] = p + 7;
		else if (!strncasecmp(p, "from-tag=", 9))
			tags[1] = p + 9;
		p = next;
	}
	for (int i = 0; i < 2; i++) {
		struct b2b_leg *l;

		if (!tags[i] ||
			(size_t)snprintf(key, sizeof(key), "%s|%s", rep, tags[i]) >= sizeof(key))
			continue;
		l = leg_find(b, key);
		if (l)
			return l;
	}
	return NULL;
}

/* A local call's one party is the one on leg l, the other side emptied by a transfer */
static void make_local(struct b2b_call *c, const struct b2b_leg *party)
{
	c->local = true;
	c->party_b = party->is_b;
	c->rewrite_rtp = true;
}

/*
 * Attended transfer (RFC 5589 section 7): party X, in this call (c1, on leg x1) with Y and in
 * another (c2, on the leg the Replaces names) with Z, asks that Y and Z talk. Both calls go
 * through the appliance, so nothing is dialled: X's legs are let go, the two calls keep their
 * remaining party each, bridged in the dataplane (the streams rewritten for the phones), and
 * Y and Z are re-offered sendrecv (both were likely held while X consulted).
 */
static void attended_transfer(struct b2b_call *c1, struct b2b_leg *x1, struct cp_txn *tx,
	osip_message_t *req, const char *refer_to)
{
	struct b2b *b = c1->co;
	char rep[512];
	struct b2b_leg *x2 =
		refer_replaces(refer_to, rep, sizeof(rep)) == 0 ? replaced_leg(b, rep) : NULL;
	struct b2b_call *c2 = x2 && !x2->retired && !x2->xfer ? x2->call : NULL;
	struct b2b_leg *y, *z;
	struct b2b_leg *old;

	if (!c2 || c2 == c1) {
		respond(tx, cp_dialog_response(&x1->dlg, req, 403,
				    "Forbidden (Replaces names no other call here)"));
		return;
	}
	y = x1->is_b ? &c1->a : &c1->b;
	z = x2->is_b ? &c2->a : &c2->b;
	if (c1->terminating || c2->terminating || c1->local || c2->local || !c2->answered ||
		c1->xfer || c2->xfer || c1->op != OP_NONE || c2->op != OP_NONE || c1->peer_op ||
		c2->peer_op || c1->a.reinvite_tx || c1->b.reinvite_tx || c2->a.reinvite_tx ||
		c2->b.reinvite_tx || b2b_state_peek(&c1->sm, B2B_EV_TRANSFER_REQUESTED, NULL) < 0) {
		respond(tx, cp_dialog_response(&x1->dlg, req, 491, "Request Pending"));
		return;
	}
	respond(tx, cp_dialog_response(&x1->dlg, req, 202, "Accepted"));
	xfer_notify(c1, x1, 100, "Trying", false);
	apply(c1, B2B_EV_TRANSFER_REQUESTED);
	b->c.transfers++;
	TG_LOG_CALL(B2B, NOTICE, call_id_of(c1), x1->is_b ? "b" : "a",
		"attended transfer: its party joins call %" PRIu64 "'s", c2->id);
	/* X leaves both calls: told on c1 (it hangs up itself), let go on c2 */
	xfer_notify(c1, x1, 200, "OK", true);
	if (!x1->is_b)
		invite_unindex(b, c1);
	if (!x2->is_b)
		invite_unindex(b, c2);
	old = retire(b, x1, RETIRED_BYE_WAIT_NS);
	if (old)
		retired_check(b, old);
	old = retire(b, x2, 0);
	if (old) {
		leg_bye(b, old, "SIP;cause=200;text=\"call transferred\"");
		retired_check(b, old);
	}
	make_local(c1, y);
	make_local(c2, z);
	apply(c1, B2B_EV_TRANSFER_SUCCEEDED);
	/* Y and Z hear each other */
	ep_send(c1, TG_MSG_EP_LINK, party_key(c1), party_key(c2), NULL, NULL, false);
	c1->bridged = c2->id;
	c2->bridged = c1->id;
	publish_bridge(c1, c2->id, 0);
	publish_bridge(c2, c1->id, 0);
	/* fresh offers: off hold, and the endpoints take the rewrite with the answers */
	c1->held = c2->held = false;
	c1->op = OP_REOFFER;
	if (own_offer(c1, y, false) < 0)
		c1->op = OP_NONE;
	c2->op = OP_REOFFER;
	if (own_offer(c2, z, false) < 0)
		c2->op = OP_NONE;
}

/* REFER from a party (RFC 3515): the other party goes to the Refer-To target. */
static void on_refer(struct b2b_call *c, struct b2b_leg *l, struct cp_txn *tx, osip_message_t *req)
{
	osip_header_t *h = NULL;
	char user[128], host[128];
	bool replaces;
	osip_message_t *m;
	int rc;

	osip_message_header_get_byname(req, "refer-to", 0, &h);
	if (!h) /* the compact form */
		osip_message_header_get_byname(req, "r", 0, &h);
	if (!h || !h->hvalue ||
		parse_target(h->hvalue, user, sizeof(user), host, sizeof(host), &replaces) < 0) {
		respond(tx, cp_dialog_response(&l->dlg, req, 400, "Bad Refer-To"));
		return;
	}
	if (replaces) {
		attended_transfer(c, l, tx, req, h->hvalue);
		return;
	}
	rc = xfer_begin(c, l->is_b, user, host[0] ? host : NULL, true, NULL, NULL);
	if (rc == -ENOENT) {
		respond(tx, cp_dialog_response(&l->dlg, req, 403,
				    "Forbidden (no route to the transfer target)"));
		return;
	}
	if (rc == -EBUSY) {
		respond(tx, cp_dialog_response(&l->dlg, req, 491, "Request Pending"));
		return;
	}
	if (rc < 0) {
		respond(tx, cp_dialog_response(&l->dlg, req, rc == -EPERM ? 403 : 503, NULL));
		return;
	}
	m = cp_dialog_response(&l->dlg, req, 202, "Accepted");
	respond(tx, m);
	/* RFC 3515 section 2.4.4: the implicit subscription's first NOTIFY */
	xfer_notify(c, l, 100, "Trying", false);
}

int b2b_call_transfer(
	struct b2b *b, uint64_t id, const char *target, bool keep_a, b2b_op_fn fn, void *arg)
{
	struct b2b_call *c = call_find(b, id);
	char user[128], host[128];
	bool replaces;
	int rc;

	if (!c || c->terminating)
		return -ENOENT;
	if (parse_target(target, user, sizeof(user), host, sizeof(host), &replaces) < 0 || replaces)
		return -EINVAL;
	if (!c->answered || c->local)
		return -EPERM;
	rc = xfer_begin(c, keep_a, user, host[0] ? host : NULL, false, fn, arg);
	return rc == -ENOENT ? -EHOSTUNREACH : rc;
}

/* ---- the transaction user --------------------------------------------------------------- */

static void in_dialog_request(struct b2b *b, struct cp_txn *tx, osip_message_t *req)
{
	char *key = cp_dialog_key_of_request(req);
	struct b2b_leg *l = key ? leg_find(b, key) : NULL;
	struct b2b_call *c;

	free(key);
	if (!l) {
		b->c.no_dialog++;
		respond_plain(b, tx, 481, "Call/Transaction Does Not Exist", NULL, NULL);
		return;
	}
	if (l->retired) {
		retired_request(b, l, tx, req);
		return;
	}
	if (l->xfer) {
		/* the transfer target's dialog is early: nothing of it is handled before its 2xx */
		respond(tx, cp_dialog_response(&l->dlg, req, 481, NULL));
		return;
	}
	c = l->call;
	if (cp_dialog_uas_request(&l->dlg, req) < 0) {
		respond(tx, cp_dialog_response(&l->dlg, req, 500, "CSeq Out of Order"));
		return;
	}
	/* a request inside the dialog proves our 2xx arrived even if its ACK was lost:
	 * retransmitting it further would only confuse the peer */
	stop_2xx_rtx(l);
	if (MSG_IS_BYE(req)) {
		respond(tx, cp_dialog_response(&l->dlg, req, 200, NULL));
		l->bye_received = true;
		apply(c, B2B_EV_BYE_RECEIVED);
		TG_LOG_CALL(B2B, DEBUG, call_id_of(c), l->is_b ? "b" : "a", "BYE");
		end_call(c, l->is_b ? B2B_CDR_NORMAL_B : B2B_CDR_NORMAL_A, 0, l);
		return;
	}
	if (MSG_IS_INVITE(req) || MSG_IS_UPDATE(req)) {
		relay_reinvite(c, l, tx, req);
		return;
	}
	if (MSG_IS_INFO(req)) {
		relay_info(c, l, tx, req);
		return;
	}
	if (MSG_IS_REFER(req)) {
		on_refer(c, l, tx, req);
		return;
	}
	if (MSG_IS_OPTIONS(req)) {
		respond(tx, cp_dialog_response(&l->dlg, req, 200, NULL));
		return;
	}
	respond(tx, cp_dialog_response(&l->dlg, req, 501, NULL));
}

static void on_cancel(struct b2b *b, struct cp_txn *tx)
{
	struct cp_txn *inv = cp_txn_cancel_target(b->txn, tx);
	struct b2b_leg *l = inv ? cp_txn_owner(inv) : NULL;
	struct b2b_call *c;

	if (!inv) {
		respond_plain(b, tx, 481, "Call/Transaction Does Not Exist", NULL, NULL);
		return;
	}
	respond_plain(b, tx, 200, "OK", NULL, NULL);
	if (!l || l->is_b)
		return;
	c = l->call;
	if (c->a_final_sent)
		return;
	b->c.cancelled++;
	apply(c, B2B_EV_CANCELLED);
	end_call(c, B2B_CDR_CANCELLED, 487, NULL);
}

/* SIP methods the appliance knows but does not serve outside a call (405, not 501) */
static bool known_method(const char *m)
{
	static const char *const known[] = {"REGISTER", "SUBSCRIBE", "NOTIFY", "MESSAGE", "REFER",
		"PUBLISH", "INFO", "UPDATE", "PRACK"};

	for (size_t i = 0; m && i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(m, known[i]))
			return true;
	return false;
}

static void on_request(
	void *arg, struct cp_txn *tx, osip_message_t *req, const struct cp_sip_peer *from)
{
	struct b2b *b = arg;
	osip_generic_param_t *tag = NULL;

	if (MSG_IS_CANCEL(req)) {
		on_cancel(b, tx);
		return;
	}
	osip_to_get_tag(req->to, &tag);
	if (tag && tag->gvalue) {
		in_dialog_request(b, tx, req);
		return;
	}
	if (MSG_IS_INVITE(req)) {
		struct b2b_call *c = invite_seen(b, req);

		/* the same request by another path; a higher CSeq is a new one (a retry with
		 * credentials after a 401 the callee sent, RFC 3261 section 22.2) */
		if (c && req->cseq && req->cseq->number &&
			(uint32_t)strtoul(req->cseq->number, NULL, 10) == c->a.invite_cseq)
			invite_again(b, tx);
		else
			new_call(b, tx, req, from);
	} else if (MSG_IS_OPTIONS(req)) {
		b->c.options++;
		respond_plain(b, tx, 200, "OK", "Allow", B2B_ALLOW);
	} else if (MSG_IS_BYE(req)) {
		b->c.no_dialog++;
		respond_plain(b, tx, 481, "Call/Transaction Does Not Exist", NULL, NULL);
	} else if (known_method(req->sip_method)) {
		respond_plain(b, tx, 405, "Method Not Allowed", "Allow", B2B_ALLOW);
	} else {
		/* RFC 3261 section 8.2.1: a method the appliance does not know at all */
		respond_plain(b, tx, 501, "Not Implemented", "Allow", B2B_ALLOW);
	}
}

static void on_ack(void *arg, osip_message_t *ack, const struct cp_sip_peer *from)
{
	struct b2b *b = arg;
	char *key = cp_dialog_key_of_request(ack);
	struct b2b_leg *l = key ? leg_find(b, key) : NULL;

	free(key);
	if (l && (l->retired || l->xfer))
		l = NULL;
	if (l && !l->is_b && l->call->ack_due_b && !l->call->terminating)
		late_answer_from_a(l->call, ack);
	if (l && l->ok2xx) {
		stop_2xx_rtx(l);
		if (l->call->terminating)
			maybe_finalize(l->call);
	}
	osip_message_free(ack);
}

static void on_response(void *arg, struct cp_txn *tx, osip_message_t *resp)
{
	struct b2b_leg *l = cp_txn_owner(tx);
	struct b2b_call *c;

	if (!l)
		return;
	if (l->retired) {
		retired_response(l->co, l, tx, resp);
		return;
	}
	c = l->call;
	if (l->xfer && tx == l->invite_tx) {
		xfer_response(c, l, resp);
	} else if (tx == l->invite_tx && l->is_b) {
		b_invite_response(c, resp);
	} else if (tx == l->reinvite_tx) {
		if (resp->status_code >= 200)
			forget(&l->reinvite_tx);
		if (c->op != OP_NONE)
			own_reinvite_response(c, l, resp);
		else
			reinvite_response(c, l, resp);
	} else if (tx == l->info_tx) {
		if (resp->status_code < 200)
			return;
		forget(&l->info_tx);
		if (c->dtmf_leg == l && c->dtmf_done)
			dtmf_answered(c, resp->status_code);
		else
			info_answered(c, l, resp->status_code, resp->reason_phrase);
		maybe_finalize(c);
	} else if (tx == l->bye_tx) {
		/* any final answer ends our BYE's business */
		if (resp->status_code >= 200)
			forget(&l->bye_tx);
		maybe_finalize(c);
	}
}

static void on_stray_2xx(void *arg, osip_message_t *resp, const struct cp_sip_peer *from)
{
	struct b2b *b = arg;
	char *key = cp_dialog_key_of_response(resp);
	struct b2b_leg *l = key ? leg_find(b, key) : NULL;

	free(key);
	if (l && l->ack)
		cp_txn_send_stateless(b->txn, l->ack, &l->dlg.peer);
	osip_message_free(resp);
}

static void on_timeout(void *arg, struct cp_txn *tx)
{
	struct b2b_leg *l = cp_txn_owner(tx);
	struct b2b_call *c;

	if (!l)
		return;
	if (l->retired) {
		retired_gone(l->co, l, tx);
		return;
	}
	c = l->call;
	if (l->xfer && tx == l->invite_tx) {
		forget(&l->invite_tx);
		xfer_failed(c, cp_txn_transport_failed(tx) ? 503 : 408, NULL);
	} else if (tx == l->invite_tx && l->is_b) {
		int code = cp_txn_transport_failed(tx) ? 503 : 408;

		TG_LOG_CALL(B2B, INFO, call_id_of(c), "b", "%s %s: %d",
			code == 503 ? "could not reach" : "no response from", c->target.text, code);
		forget(&l->invite_tx);
		if (!c->terminating)
			apply(c, B2B_EV_REJECTED);
		end_call(c, B2B_CDR_REJECTED, code, NULL);
	} else if (tx == l->reinvite_tx && c->op != OP_NONE) {
		forget(&l->reinvite_tx);
		l->op = LEG_OP_FAILED;
		l->op_code = 408;
		op_settle(c);
	} else if (tx == l->reinvite_tx) {
		/* the far leg never answered the relayed re-INVITE: the offerer hears 408 */
		struct b2b_leg *from = l->is_b ? &c->a : &c->b;
		struct cp_txn *otx = from->reinvite_tx;

		forget(&l->reinvite_tx);
		peer_op_done(c, 408);
		if (otx) {
			from->reinvite_tx = NULL;
			cp_txn_set_owner(otx, NULL);
			respond(otx, cp_dialog_response(&from->dlg, cp_txn_msg(otx), 408, NULL));
		}
	} else if (tx == l->info_tx) {
		forget(&l->info_tx);
		if (c->dtmf_leg == l && c->dtmf_done)
			dtmf_answered(c, 408);
		else
			info_answered(c, l, 408, NULL);
		maybe_finalize(c);
	} else if (tx == l->bye_tx) {
		forget(&l->bye_tx);
		maybe_finalize(c);
	}
}

static void on_end(void *arg, struct cp_txn *tx)
{
	struct b2b_leg *l = cp_txn_owner(tx);

	if (!l)
		return;
	if (l->retired) {
		retired_gone(l->co, l, tx);
		return;
	}
	if (l->invite_tx == tx)
		forget(&l->invite_tx);
	if (l->bye_tx == tx)
		forget(&l->bye_tx);
	if (l->reinvite_tx == tx)
		forget(&l->reinvite_tx);
	if (l->info_tx == tx)
		forget(&l->info_tx);
	maybe_finalize(l->call);
}

static const struct cp_txn_ops txn_ops = {
	.request = on_request,
	.ack = on_ack,
	.response = on_response,
	.stray_2xx = on_stray_2xx,
	.timeout = on_timeout,
	.end = on_end,
	.absorb = absorb_invite,
};

/* ---- the object -------------------------------------------------------------------------- */

static void parse_codecs(struct b2b *b)
{
	char *save = NULL;

	snprintf(b->codec_buf, sizeof(b->codec_buf), "%s", b->p.cfg->codecs);
	for (char *s = strtok_r(b->codec_buf, ", ", &save); s && b->ncodecs < MAX_CODECS;
		s = strtok_r(NULL, ", ", &save))
		b->codecs[b->ncodecs++] = s;
}

struct b2b *b2b_new(const struct b2b_params *p)
{
	struct b2b *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->p = *p;
	/* the rewrites' scratch output: cp_sdp never moves buf or size */
	b->out.buf = b->out_buf;
	b->out.size = sizeof(b->out_buf);
	if (tg_hmap_init(&b->dialogs, 1024) < 0 || tg_hmap_init(&b->calls, 1024) < 0 ||
		tg_hmap_init(&b->invites, 1024) < 0 || tg_hmap_init(&b->sources, 256) < 0) {
		b2b_free(b);
		return NULL;
	}
	b->events = b2b_events_new();
	if (!b->events) {
		b2b_free(b);
		return NULL;
	}
	b->txn = cp_txn_layer_new(p->loop, p->transport, &txn_ops, b);
	if (!b->txn) {
		b2b_free(b);
		return NULL;
	}
	parse_codecs(b);
	return b;
}

/*
 * Calls end(c) on every call not already terminating; returns how many. The ids are taken
 * first: ending a call can free it and reshape the table under the walk.
 */
static size_t end_live_calls(struct b2b *b, void (*end)(struct b2b_call *c))
{
	uint64_t *ids = malloc(sizeof(*ids) * (b->calls.count + 1));
	size_t n = 0, ended = 0;

	if (!ids)
		return 0;
	for (size_t i = 0; i < b->calls.nbuckets; i++)
		for (struct tg_hnode *nd = b->calls.buckets[i]; nd; nd = nd->next)
			ids[n++] = ((struct b2b_call *)nd)->id;
	for (size_t i = 0; i < n; i++) {
		struct b2b_call *c = call_find(b, ids[i]);

		if (!c || c->terminating)
			continue;
		end(c);
		ended++;
	}
	free(ids);
	return ended;
}

static void end_for_shutdown(struct b2b_call *c)
{
	c->reason_hdr = "SIP;cause=503;text=\"appliance shutting down\"";
	apply(c, B2B_EV_TERMINATE_REQUESTED);
	end_call(c, B2B_CDR_SHUTDOWN, 503, NULL);
}

/* ---- what the operator sees and does ------------------------------------------------------ */

static void view_of(const struct b2b_call *c, struct b2b_call_view *v)
{
	memset(v, 0, sizeof(*v));
	v->id = c->id;
	v->state = c->sm.state;
	v->a.call_id = c->a.dlg.call_id;
	v->a.from_uri = c->a.dlg.remote_uri;
	v->a.to_uri = c->a.dlg.local_uri;
	v->a.remote = (const struct sockaddr *)&c->a.dlg.peer.addr;
	if (c->b.dlg.call_id) {
		v->b.call_id = c->b.dlg.call_id;
		v->b.from_uri = c->b.dlg.local_uri;
		v->b.to_uri = c->b.dlg.remote_uri;
		v->b.remote = (const struct sockaddr *)&c->b.dlg.peer.addr;
	}
	v->target = c->target.text;
	v->setup_ms = c->setup_ms;
	v->answer_ms = c->answer_ms;
	v->operator_hold = c->held;
	v->local = c->local;
	v->originated = c->originated;
	v->deferred = c->deferred;
	v->bridged = c->bridged;
	v->ruri_user = c->ruri_user;
	v->nmedia = c->nmedia;
	for (unsigned i = 0; i < c->nmedia; i++) {
		v->media[i].key_a = c->media[i].key_a;
		v->media[i].key_b = c->media[i].key_b;
		v->media[i].local_a = c->media[i].local_a;
		v->media[i].local_b = c->media[i].local_b;
		v->media[i].active = c->media[i].active;
	}
}

int b2b_call_get(struct b2b *b, uint64_t id, struct b2b_call_view *out)
{
	struct b2b_call *c = call_find(b, id);

	if (!c || c->terminating)
		return -ENOENT;
	view_of(c, out);
	return 0;
}

void b2b_calls_each(struct b2b *b, bool (*fn)(void *arg, const struct b2b_call_view *v), void *arg)
{
	struct b2b_call_view v;

	/* fn only reads: the table does not change under the walk */
	for (size_t i = 0; i < b->calls.nbuckets; i++) {
		for (struct tg_hnode *nd = b->calls.buckets[i]; nd; nd = nd->next) {
			const struct b2b_call *c = (const struct b2b_call *)nd;

			if (c->terminating)
				continue;
			view_of(c, &v);
			if (!fn(arg, &v))
				return;
		}
	}
}

int b2b_call_hangup(struct b2b *b, uint64_t id)
{
	struct b2b_call *c = call_find(b, id);

	if (!c || c->terminating)
		return -ENOENT;
	TG_LOG_CALL(B2B, NOTICE, call_id_of(c), "-", "ended by the operator");
	c->reason_hdr = "SIP;cause=200;text=\"ended by the operator\"";
	apply(c, B2B_EV_TERMINATE_REQUESTED);
	end_call(c, B2B_CDR_OPERATOR, 480, NULL);
	return 0;
}

void b2b_set_routes(struct b2b *b, const struct cp_route_table *routes)
{
	b->p.routes = routes;
}

unsigned b2b_drain(struct b2b *b)
{
	size_t ended;

	if (b->shutting_down)
		return b->in_memory;
	b->shutting_down = true;
	ended = end_live_calls(b, end_for_shutdown);
	TG_LOG(B2B, NOTICE, "shutting down: %zu call(s) ended, %u still finishing", ended,
		b->in_memory);
	return b->in_memory;
}

void b2b_free(struct b2b *b)
{
	if (!b)
		return;
	b->shutting_down = true;
	/* records first: the calls still up end as "shutdown" */
	while (b->calls.count) {
		for (size_t i = 0; i < b->calls.nbuckets; i++) {
			struct b2b_call *c = (struct b2b_call *)b->calls.buckets[i];

			if (!c)
				continue;
			if (!c->terminating) {
				c->terminating = true;
				uncount_call(b, c);
				c->reason = B2B_CDR_SHUTDOWN;
				c->end_ms = tg_wall_ms();
			}
			write_record(c);
			call_free(c);
			break;
		}
	}
	while (b->retired)
		retired_free(b, b->retired);
	cp_txn_layer_free(b->txn);
	b2b_events_free(b->events);
	tg_hmap_fini(&b->dialogs);
	tg_hmap_fini(&b->calls);
	tg_hmap_fini(&b->invites);
	tg_hmap_fini(&b->sources); /* empty: each call's end took its count away */
	free(b);
}

void b2b_sip_rx(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg)
{
	struct b2b *b = arg;

	cp_txn_layer_rx(t, msg, from, b->txn);
}

void b2b_dp_event(struct b2b *b, const struct tg_msg *ev)
{
	const struct tg_msg_dtmf *d = cp_dp_event_dtmf(ev);
	struct b2b_call *c;

	if (d) {
		/* a digit a party sent in its RTP (the dataplane relayed it too) */
		c = call_find(b, d->key >> KEY_SHIFT);
		if (!c || c->terminating)
			return;
		b->c.dtmf_received++;
		TG_LOG_CALL(B2B, INFO, call_id_of(c), d->key & 1 ? "b" : "a",
			"DTMF %c (%u ms, RTP)", d->digit, d->duration_ms);
		publish_dtmf(c, d->key & 1 ? &c->b : &c->a, d->digit, 0, false, d->duration_ms);
		return;
	}
	if (ev->type != TG_MSG_MEDIA_TIMEOUT)
		return;
	c = call_find(b, ev->u.ep_stats.key >> KEY_SHIFT);
	if (!c || c->terminating)
		return;
	b->c.media_timeouts++;
	c->reason_hdr = "SIP;cause=200;text=\"media timeout\"";
	TG_LOG_CALL(B2B, INFO, call_id_of(c), "-", "media timeout: ending the call");
	apply(c, B2B_EV_TIMEOUT);
	end_call(c, B2B_CDR_MEDIA_TIMEOUT, 408, NULL);
}

/* The dataplane's restart took the endpoints with it: nothing to delete, the call ends. */
static void end_for_media_lost(struct b2b_call *c)
{
	for (unsigned s = 0; s < c->nmedia; s++)
		c->media[s].created_a = c->media[s].created_b = false;
	c->reason_hdr = "SIP;cause=500;text=\"media lost\"";
	end_call(c, B2B_CDR_ERROR, 503, NULL);
}

void b2b_dp_restarted(struct b2b *b)
{
	size_t ended = end_live_calls(b, end_for_media_lost);

	if (ended)
		TG_LOG(B2B, WARN, "dataplane restarted: %zu calls lost their media and were ended",
			ended);
}

struct b2b_events *b2b_events_of(struct b2b *b)
{
	return b->events;
}

const struct b2b_counters *b2b_counters(const struct b2b *b)
{
	return &b->c;
}

unsigned b2b_active_calls(const struct b2b *b)
{
	return b->active;
}

unsigned b2b_calls_in_memory(const struct b2b *b)
{
	return b->in_memory;
}

unsigned b2b_dialog_count(const struct b2b *b)
{
	return (unsigned)b->dialogs.count;
}

unsigned b2b_source_count(const struct b2b *b)
{
	return (unsigned)b->sources.count;
}

const struct cp_txn_counters *b2b_txn_counters(const struct b2b *b)
{
	return cp_txn_counters(b->txn);
}

size_t b2b_txn_live(const struct b2b *b)
{
	return cp_txn_count(b->txn);
}

size_t b2b_txn_completed(const struct b2b *b)
{
	return cp_txn_completed_count(b->txn);
}
