/* SPDX-License-Identifier: BSD-3-Clause */
/* libosip2's transaction state machines on the control plane's loop (see cp_sip_txn.h). */
#include "cp_sip_txn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osip2/osip.h>
#include <osipparser2/osip_port.h>

#include "cp_sip_write.h"
#include "cp_txn_pool.h"
#include "tg_hmap.h"
#include "tg_log.h"
#include "tg_time.h"

/* What the state machine told the TU during one event, delivered once it has returned. */
enum pending {
	PEND_NONE,
	PEND_REQUEST,
	PEND_RESPONSE,
	PEND_TIMEOUT,
};

struct cp_txn {
	struct tg_hnode node; /* first: the hash chain points here */
	struct cp_txn_layer *layer;
	osip_transaction_t *tr;
	char *key;
	struct cp_sip_peer peer; /* server: where the request came from; client: the next hop */
	struct cp_timer timer;
	void *owner;
	enum pending pend;
	osip_message_t *pend_msg;
	int final_status;
	unsigned busy; /* running an event: freeing waits until it returns */
	bool dead;     /* libosip2 killed it */
	bool no_send;  /* failed for a transport error, not a timer */
	bool ended;    /* end() delivered */
	/* NIST: the final response sent; ICT: the ACK sent (what a completed record resends);
	 * malloc'd */
	char *resend;
	size_t resend_len;
};

/*
 * A transaction that has only to absorb retransmissions until its last timer (J, K, D or I:
 * up to 32 s over UDP) lives on as a completed record: its key, where it answers, and the
 * bytes a retransmission gets back. libosip2's transaction is some 15 KB and a BYE's server
 * transaction outlives its call by Timer J, so at thousands of calls per second keeping them
 * would hold hundreds of MB and fault fresh pages in for every new transaction. Records of a
 * kind all live the same time, so each kind is a FIFO in expiry order and one loop timer
 * serves it.
 */
struct done_txn {
	struct tg_hnode node; /* first: the hash chain points here */
	struct done_txn *next;
	char *key;
	char *resend; /* sent again for each retransmission (NULL: absorbed silently) */
	size_t resend_len;
	uint64_t expires_ns;
	struct cp_sip_peer peer;
};

struct done_fifo {
	struct done_txn *head, *tail;
	struct cp_timer timer;
	struct cp_txn_layer *layer;
};

struct cp_txn_layer {
	struct cp_loop *loop;
	struct cp_sip_transport *transport;
	struct cp_txn_ops ops;
	void *arg;
	osip_t *osip;
	struct tg_hmap txns;
	struct tg_hmap done;
	struct done_fifo fifo[4]; /* by osip_fsm_type_t: ICT, IST, NICT, NIST */
	struct cp_txn_counters c;
	char *scratch; /* CP_SIP_WRITE_MAX bytes: every message is serialized here to be sent */
};

/* ---- keys ---------------------------------------------------------------------------------- */

static const char *branch_of(const osip_message_t *m)
{
	osip_via_t *via = osip_list_get(&m->vias, 0);
	osip_generic_param_t *b = NULL;

	if (!via || osip_via_param_get_byname(via, "branch", &b) != 0 || !b || !b->gvalue)
		return NULL;
	return b->gvalue;
}

/*
 * §17.2.3: a request matches a server transaction by branch, sent-by and method (ACK matches
 * the INVITE). §17.1.3: a response matches a client transaction by branch and CSeq method. A
 * request without a branch (RFC 2543 peers) is keyed by Call-ID, CSeq number and From tag.
 * method, when not NULL, stands for the CSeq method (a CANCEL looks for its INVITE).
 */
/* parts[0..n) end to end, in one allocation (keys are made for every message: no printf) */
static char *concat(const char *const *parts, unsigned n)
{
	size_t len[10], total = 1;
	char *key, *p;

	for (unsigned i = 0; i < n; i++)
		total += len[i] = strlen(parts[i]);
	key = p = malloc(total);
	if (!key)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		memcpy(p, parts[i], len[i]);
		p += len[i];
	}
	*p = '\0';
	return key;
}

static char *make_key(const osip_message_t *m, bool server, const char *method)
{
	if (!method)
		method = m->cseq && m->cseq->method ? m->cseq->method : "";
	const char *branch = branch_of(m);

	if (server && !strcmp(method, "ACK"))
		method = "INVITE";
	if (!server) {
		const char *k[] = {"C|", method, "|", branch ? branch : ""};

		return concat(k, 4);
	}
	if (branch && !strncmp(branch, "z9hG4bK", 7)) {
		osip_via_t *via = osip_list_get(&m->vias, 0);
		const char *k[] = {"S|", method, "|", branch, "|", via->host ? via->host : "", ":",
			via->port ? via->port : "5060"};

		return concat(k, 8);
	}
	osip_generic_param_t *tag = NULL;

	if (m->from)
		osip_from_get_tag(m->from, &tag);
	const char *k[] = {"O|", method, "|",
		m->call_id && m->call_id->number ? m->call_id->number : "", "|",
		m->cseq && m->cseq->number ? m->cseq->number : "", "|",
		tag && tag->gvalue ? tag->gvalue : ""};

	return concat(k, 8);
}

static struct cp_txn *find_hashed(struct cp_txn_layer *x, const char *key, uint64_t h)
{
	for (struct tg_hnode *n = tg_hmap_first(&x->txns, h); n; n = tg_hmap_next(n, h)) {
		struct cp_txn *tx = (struct cp_txn *)n;

		if (!tx->dead && !strcmp(tx->key, key))
			return tx;
	}
	return NULL;
}

static struct cp_txn *find(struct cp_txn_layer *x, const char *key)
{
	return find_hashed(x, key, tg_hash_str(TG_HASH_SEED, key));
}

static struct done_txn *find_done(struct cp_txn_layer *x, const char *key, uint64_t h)
{
	for (struct tg_hnode *n = tg_hmap_first(&x->done, h); n; n = tg_hmap_next(n, h)) {
		struct done_txn *d = (struct done_txn *)n;

		if (!strcmp(d->key, key))
			return d;
	}
	return NULL;
}

/* ---- timers: libosip2 keeps the deadlines, the loop wakes each transaction for its own ----- */

/* A timer libosip2 armed: a start time that is not -1 */
static bool armed(const struct timeval *tv)
{
	return tv->tv_sec != -1;
}

/* The earliest deadline among the timers that can fire in the transaction's state. */
static bool next_deadline(const osip_transaction_t *tr, struct timeval *out)
{
	const struct timeval *c[3];
	unsigned n = 0;

	switch (tr->ctx_type) {
	case ICT:
		if (tr->state == ICT_CALLING) {
			c[n++] = &tr->ict_context->timer_a_start;
			c[n++] = &tr->ict_context->timer_b_start;
		} else if (tr->state == ICT_COMPLETED) {
			c[n++] = &tr->ict_context->timer_d_start;
		}
		break;
	case IST:
		if (tr->state == IST_COMPLETED) {
			c[n++] = &tr->ist_context->timer_g_start;
			c[n++] = &tr->ist_context->timer_h_start;
		} else if (tr->state == IST_CONFIRMED) {
			c[n++] = &tr->ist_context->timer_i_start;
		}
		break;
	case NICT:
		if (tr->state == NICT_TRYING || tr->state == NICT_PROCEEDING) {
			c[n++] = &tr->nict_context->timer_e_start;
			c[n++] = &tr->nict_context->timer_f_start;
		} else if (tr->state == NICT_COMPLETED) {
			c[n++] = &tr->nict_context->timer_k_start;
		}
		break;
	case NIST:
		if (tr->state == NIST_COMPLETED)
			c[n++] = &tr->nist_context->timer_j_start;
		break;
	}
	bool any = false;

	for (unsigned i = 0; i < n; i++) {
		if (!armed(c[i]))
			continue;
		if (!any || osip_timercmp(c[i], out, <))
			*out = *c[i];
		any = true;
	}
	return any;
}

/* The first timer due now, as the event libosip2 expects, or UNKNOWN_EVT. */
static type_t due_event(const osip_transaction_t *tr, const struct timeval *now)
{
#define DUE(st, tv, ev)                                                                            \
	do {                                                                                       \
		if (tr->state == (st) && armed(tv) && !osip_timercmp(now, tv, <))                  \
			return ev;                                                                 \
	} while (0)
	switch (tr->ctx_type) {
	case ICT:
		DUE(ICT_CALLING, &tr->ict_context->timer_b_start, TIMEOUT_B);
		DUE(ICT_CALLING, &tr->ict_context->timer_a_start, TIMEOUT_A);
		DUE(ICT_COMPLETED, &tr->ict_context->timer_d_start, TIMEOUT_D);
		break;
	case IST:
		DUE(IST_COMPLETED, &tr->ist_context->timer_h_start, TIMEOUT_H);
		DUE(IST_COMPLETED, &tr->ist_context->timer_g_start, TIMEOUT_G);
		DUE(IST_CONFIRMED, &tr->ist_context->timer_i_start, TIMEOUT_I);
		break;
	case NICT:
		DUE(NICT_TRYING, &tr->nict_context->timer_f_start, TIMEOUT_F);
		DUE(NICT_PROCEEDING, &tr->nict_context->timer_f_start, TIMEOUT_F);
		DUE(NICT_TRYING, &tr->nict_context->timer_e_start, TIMEOUT_E);
		DUE(NICT_PROCEEDING, &tr->nict_context->timer_e_start, TIMEOUT_E);
		DUE(NICT_COMPLETED, &tr->nict_context->timer_k_start, TIMEOUT_K);
		break;
	case NIST:
		DUE(NIST_COMPLETED, &tr->nist_context->timer_j_start, TIMEOUT_J);
		break;
	}
#undef DUE
	return UNKNOWN_EVT;
}

static void rearm(struct cp_txn *tx)
{
	struct timeval dl = {0}, now;
	int64_t us;

	if (tx->dead || !next_deadline(tx->tr, &dl)) {
		cp_timer_stop(tx->layer->loop, &tx->timer);
		return;
	}
	osip_gettimeofday(&now, NULL);
	us = (int64_t)(dl.tv_sec - now.tv_sec) * 1000000 + (dl.tv_usec - now.tv_usec);
	cp_timer_start(tx->layer->loop, &tx->timer, us > 0 ? (uint64_t)us * 1000 + 1000 : 0);
}

/* ---- running events -------------------------------------------------------------------- */

static void txn_free(struct cp_txn *tx)
{
	struct cp_txn_layer *x = tx->layer;

	cp_timer_stop(x->loop, &tx->timer);
	tg_hmap_remove(&x->txns, &tx->node);
	osip_transaction_free(tx->tr);
	free(tx->key);
	free(tx->resend);
	free(tx);
	x->c.freed++;
}

/* ---- completed records ------------------------------------------------------------------- */

static void done_free(struct cp_txn_layer *x, struct done_txn *d)
{
	tg_hmap_remove(&x->done, &d->node);
	free(d->key);
	free(d->resend);
	free(d);
}

static void fifo_arm(struct done_fifo *q)
{
	uint64_t now = cp_loop_now(q->layer->loop);

	if (q->head)
		cp_timer_start(q->layer->loop, &q->timer,
			q->head->expires_ns > now ? q->head->expires_ns - now : 0);
}

static void on_fifo_timer(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct done_fifo *q = arg;
	uint64_t now = cp_loop_now(l);

	while (q->head && q->head->expires_ns <= now) {
		struct done_txn *d = q->head;

		q->head = d->next;
		if (!q->head)
			q->tail = NULL;
		done_free(q->layer, d);
	}
	fifo_arm(q);
}

/* The state in which a transaction only absorbs retransmissions until a timer ends it. */
static bool lingering(const osip_transaction_t *tr)
{
	switch (tr->ctx_type) {
	case ICT:
		return tr->state == ICT_COMPLETED;
	case IST:
		return tr->state == IST_CONFIRMED;
	case NICT:
		return tr->state == NICT_COMPLETED;
	case NIST:
		return tr->state == NIST_COMPLETED;
	}
	return false;
}

/*
 * Replaces a lingering transaction by a completed record (the TU hears end() now: nothing it
 * does can reach the transaction any more). false: not lingering, or out of memory (it stays
 * a transaction, which is correct, only heavier).
 */
static bool retire(struct cp_txn *tx)
{
	struct cp_txn_layer *x = tx->layer;
	struct timeval dl, now;
	struct done_txn *d;
	struct done_fifo *q;
	int64_t us;

	if (!lingering(tx->tr) || !next_deadline(tx->tr, &dl) || (unsigned)tx->tr->ctx_type >= 4 ||
		!(d = calloc(1, sizeof(*d))))
		return false;
	osip_gettimeofday(&now, NULL);
	us = (int64_t)(dl.tv_sec - now.tv_sec) * 1000000 + (dl.tv_usec - now.tv_usec);
	d->expires_ns = cp_loop_now(x->loop) + (us > 0 ? (uint64_t)us * 1000 : 0);
	d->key = tx->key;
	d->peer = tx->peer;
	d->resend = tx->resend;
	d->resend_len = tx->resend_len;
	tx->key = NULL;
	tx->resend = NULL;
	tg_hmap_insert(&x->done, &d->node, tg_hash_str(TG_HASH_SEED, d->key));
	q = &x->fifo[tx->tr->ctx_type];
	if (q->tail)
		q->tail->next = d;
	else
		q->head = d;
	q->tail = d;
	if (!cp_timer_armed(&q->timer))
		fifo_arm(q);
	x->c.retired++;
	tx->ended = true;
	x->ops.end(x->arg, tx);
	txn_free(tx);
	return true;
}

/* A retransmission for a completed transaction: answered again (NIST: its final; ICT: its ACK
 * for a final response again) or dropped. */
static void echo(struct cp_txn_layer *x, struct done_txn *d, const osip_message_t *m)
{
	x->c.retransmissions_absorbed++;
	if (!d->resend || MSG_IS_ACK(m) || (MSG_IS_RESPONSE(m) && m->status_code < 200))
		return;
	if (cp_sip_send(x->transport, d->resend, d->resend_len, &d->peer) < 0)
		x->c.send_errors++;
}

/* Hands the TU what the state machine produced, then frees a dead transaction nobody runs. */
static void settle(struct cp_txn *tx)
{
	struct cp_txn_layer *x = tx->layer;
	enum pending p = tx->pend;
	osip_message_t *m = tx->pend_msg;

	tx->pend = PEND_NONE;
	tx->pend_msg = NULL;
	tx->busy++;
	switch (p) {
	case PEND_REQUEST:
		x->ops.request(x->arg, tx, m, &tx->peer);
		break;
	case PEND_RESPONSE:
		x->ops.response(x->arg, tx, m);
		break;
	case PEND_TIMEOUT:
		x->c.timeouts++;
		x->ops.timeout(x->arg, tx);
		break;
	case PEND_NONE:
		break;
	}
	tx->busy--;
	if (tx->dead && !tx->ended && !tx->busy) {
		tx->ended = true;
		x->ops.end(x->arg, tx);
	}
	if (tx->dead && tx->ended && !tx->busy)
		txn_free(tx);
	else if (tx->dead || tx->busy || tx->pend != PEND_NONE || !retire(tx))
		rearm(tx);
}

static void run(struct cp_txn *tx, osip_event_t *evt)
{
	tx->busy++;
	evt->transactionid = tx->tr->transactionid;
	osip_transaction_execute(tx->tr, evt);
	tx->busy--;
	settle(tx);
}

static osip_event_t *new_event(type_t type, osip_message_t *sip)
{
	osip_event_t *e = osip_malloc(sizeof(*e));

	if (e) {
		e->type = type;
		e->transactionid = 0;
		e->sip = sip;
	}
	return e;
}

static void on_timer(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct cp_txn *tx = arg;

	/* several timers may be due at once: run them one by one (each may change the state) */
	for (int i = 0; i < 4 && !tx->dead; i++) {
		struct timeval now;
		type_t ev;
		osip_event_t *e;

		osip_gettimeofday(&now, NULL);
		ev = due_event(tx->tr, &now);
		if (ev == UNKNOWN_EVT)
			break;
		e = new_event(ev, NULL);
		if (!e)
			break;
		tx->busy++;
		e->transactionid = tx->tr->transactionid;
		osip_transaction_execute(tx->tr, e);
		tx->busy--;
		if (tx->pend != PEND_NONE || tx->dead)
			break;
	}
	settle(tx);
}

/* ---- libosip2's callbacks (inside its state machine: record, never act) ------------------ */

static struct cp_txn *txn_of(osip_transaction_t *tr)
{
	return osip_transaction_get_your_instance(tr);
}

static void on_message(int type, osip_transaction_t *tr, osip_message_t *m)
{
	struct cp_txn *tx = txn_of(tr);

	if (!tx)
		return;
	switch (type) {
	case OSIP_IST_INVITE_RECEIVED:
	case OSIP_NIST_REGISTER_RECEIVED:
	case OSIP_NIST_BYE_RECEIVED:
	case OSIP_NIST_OPTIONS_RECEIVED:
	case OSIP_NIST_INFO_RECEIVED:
	case OSIP_NIST_CANCEL_RECEIVED:
	case OSIP_NIST_NOTIFY_RECEIVED:
	case OSIP_NIST_SUBSCRIBE_RECEIVED:
	case OSIP_NIST_UNKNOWN_REQUEST_RECEIVED:
		tx->pend = PEND_REQUEST;
		tx->pend_msg = m;
		break;
	case OSIP_ICT_STATUS_1XX_RECEIVED:
	case OSIP_NICT_STATUS_1XX_RECEIVED:
		tx->pend = PEND_RESPONSE;
		tx->pend_msg = m;
		break;
	case OSIP_ICT_STATUS_2XX_RECEIVED:
	case OSIP_ICT_STATUS_3XX_RECEIVED:
	case OSIP_ICT_STATUS_4XX_RECEIVED:
	case OSIP_ICT_STATUS_5XX_RECEIVED:
	case OSIP_ICT_STATUS_6XX_RECEIVED:
	case OSIP_NICT_STATUS_2XX_RECEIVED:
	case OSIP_NICT_STATUS_3XX_RECEIVED:
	case OSIP_NICT_STATUS_4XX_RECEIVED:
	case OSIP_NICT_STATUS_5XX_RECEIVED:
	case OSIP_NICT_STATUS_6XX_RECEIVED:
		tx->final_status = m ? m->status_code : 0;
		tx->pend = PEND_RESPONSE;
		tx->pend_msg = m;
		break;
	case OSIP_ICT_STATUS_TIMEOUT:
	case OSIP_NICT_STATUS_TIMEOUT:
		tx->pend = PEND_TIMEOUT;
		break;
	case OSIP_IST_INVITE_RECEIVED_AGAIN:
	case OSIP_IST_ACK_RECEIVED_AGAIN:
	case OSIP_NIST_REQUEST_RECEIVED_AGAIN:
	case OSIP_ICT_STATUS_2XX_RECEIVED_AGAIN:
	case OSIP_ICT_STATUS_3456XX_RECEIVED_AGAIN:
	case OSIP_NICT_STATUS_2XX_RECEIVED_AGAIN:
	case OSIP_NICT_STATUS_3456XX_RECEIVED_AGAIN:
		tx->layer->c.retransmissions_absorbed++;
		break;
	case OSIP_IST_STATUS_2XX_SENT:
	case OSIP_IST_STATUS_3XX_SENT:
	case OSIP_IST_STATUS_4XX_SENT:
	case OSIP_IST_STATUS_5XX_SENT:
	case OSIP_IST_STATUS_6XX_SENT:
	case OSIP_NIST_STATUS_2XX_SENT:
	case OSIP_NIST_STATUS_3XX_SENT:
	case OSIP_NIST_STATUS_4XX_SENT:
	case OSIP_NIST_STATUS_5XX_SENT:
	case OSIP_NIST_STATUS_6XX_SENT:
		tx->final_status = m ? m->status_code : 0;
		break;
	default:
		break;
	}
}

static void on_kill(int type, osip_transaction_t *tr)
{
	struct cp_txn *tx = txn_of(tr);

	if (tx)
		tx->dead = true;
}

static void on_transport_error(int type, osip_transaction_t *tr, int error)
{
	struct cp_txn *tx = txn_of(tr);

	if (!tx)
		return;
	tx->layer->c.send_errors++;
	/* a client transaction that cannot send fails like one nobody answered */
	if ((type == OSIP_ICT_TRANSPORT_ERROR || type == OSIP_NICT_TRANSPORT_ERROR) &&
		tx->pend == PEND_NONE) {
		tx->pend = PEND_TIMEOUT;
		tx->no_send = true;
	}
}

/*
 * Sends m to to; a transaction's own peer (keep) follows the connection its message went on.
 * With bytes, the serialized message is handed there (malloc'd) once sent; the caller frees it.
 *
 * m is written into the layer's scratch buffer (no allocation: neither cp_sip_send() nor the
 * TCP queue keeps the pointer, the queue copies, and the transport never calls back into this
 * layer from inside a send, so the buffer is free again on return). A message over
 * CP_SIP_WRITE_MAX (64 KiB: no UDP datagram carries it, our receive side refuses it) is
 * written into a buffer of its own size instead: rare, and sent all the same, as before.
 */
static int send_msg(struct cp_txn_layer *x, const osip_message_t *m, const struct cp_sip_peer *to,
	struct cp_sip_peer *keep, char **bytes, size_t *bytes_len)
{
	char *buf = x->scratch, *big = NULL;
	size_t len = 0;
	int rc;

	rc = cp_sip_write(m, buf, CP_SIP_WRITE_MAX, &len);
	if (rc == -ENOSPC) {
		buf = big = malloc(len);
		rc = big ? cp_sip_write(m, big, len, &len) : -ENOMEM;
	}
	if (rc < 0) {
		/* a message libosip2 could not print either: ours to fix, not the peer's */
		TG_LOG(SIP, WARN, "message not serialized: %s", strerror(-rc));
		free(big);
		return rc;
	}
	rc = keep ? cp_sip_send_update(x->transport, buf, len, keep)
		  : cp_sip_send(x->transport, buf, len, to);
	if (rc >= 0 && bytes) {
		char *copy = big;

		if (!copy && (copy = malloc(len)))
			memcpy(copy, buf, len);
		big = NULL;
		/* without memory the completed record absorbs retransmissions silently */
		free(*bytes);
		*bytes = copy;
		*bytes_len = copy ? len : 0;
	}
	free(big);
	if (rc < 0)
		x->c.send_errors++;
	return rc;
}

static int on_send(osip_transaction_t *tr, osip_message_t *m, char *host, int port, int sock)
{
	struct cp_txn *tx = txn_of(tr);
	bool keep;

	if (!tx)
		return -1;
	/* what a completed record answers retransmissions with (see retire()) */
	keep = (tr->ctx_type == NIST && MSG_IS_RESPONSE(m) && m->status_code >= 200) ||
	       (tr->ctx_type == ICT && MSG_IS_ACK(m));
	return send_msg(tx->layer, m, NULL, &tx->peer, keep ? &tx->resend : NULL, &tx->resend_len) <
			       0
		       ? -1
		       : 0;
}

/* A client transaction whose request may be among what a connection lost: nothing heard yet */
static bool waits_on(const struct cp_txn *tx, uint32_t conn)
{
	const osip_transaction_t *tr = tx->tr;

	return !tx->dead && !tx->busy && tx->peer.stream && tx->peer.conn == conn &&
	       ((tr->ctx_type == ICT && tr->state == ICT_CALLING) ||
		       (tr->ctx_type == NICT && tr->state == NICT_TRYING));
}

/*
 * The transport lost what it had queued on a connection (connect refused or timed out, reset,
 * a peer that did not read). RFC 3261 §17.1.4: a client transaction that could not send is told
 * so and terminates; the TU hears timeout() at once (§8.1.3.1) instead of after Timer B or F.
 * One that had a provisional response got its request through: its final response may still
 * come on another connection. The matching transactions are found by a walk (a rare event) and
 * failed by key, since failing one runs the TU, which may create or end others.
 */
static void on_conn_error(struct cp_sip_transport *t, uint32_t conn, int err, void *arg)
{
	struct cp_txn_layer *x = arg;
	char **keys = NULL;
	size_t n = 0, cap = 0;

	for (size_t b = 0; b < x->txns.nbuckets; b++) {
		for (struct tg_hnode *h = x->txns.buckets[b]; h; h = h->next) {
			struct cp_txn *tx = (struct cp_txn *)h;
			char **k;

			if (!waits_on(tx, conn))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				k = realloc(keys, cap * sizeof(*keys));
				if (!k)
					goto run;
				keys = k;
			}
			if (!(keys[n] = strdup(tx->key)))
				goto run;
			n++;
		}
	}
run:
	for (size_t i = 0; i < n; i++) {
		struct cp_txn *tx = find(x, keys[i]);

		if (tx && waits_on(tx, conn)) {
			TG_LOG(SIP, INFO, "transaction %s: connection lost (%s)", tx->key,
				strerror(-err));
			x->c.send_errors++;
			tx->dead = true;
			tx->no_send = true;
			tx->pend = PEND_TIMEOUT;
			settle(tx);
		}
		free(keys[i]);
	}
	free(keys);
}

/* ---- the layer ---------------------------------------------------------------------------- */

struct cp_txn_layer *cp_txn_layer_new(
	struct cp_loop *l, struct cp_sip_transport *t, const struct cp_txn_ops *ops, void *arg)
{
	struct cp_txn_layer *x = calloc(1, sizeof(*x));
	int rc = cp_txn_pool_install();

	if (rc < 0)
		TG_LOG(SIP, WARN, "transaction pool: %s (libosip2 stays on malloc)", strerror(-rc));

	if (!x || !(x->scratch = malloc(CP_SIP_WRITE_MAX)) || tg_hmap_init(&x->txns, 1024) < 0 ||
		tg_hmap_init(&x->done, 1024) < 0 || osip_init(&x->osip) != 0) {
		if (x) {
			tg_hmap_fini(&x->txns);
			tg_hmap_fini(&x->done);
			free(x->scratch);
		}
		free(x);
		errno = ENOMEM;
		return NULL;
	}
	x->loop = l;
	x->transport = t;
	x->ops = *ops;
	x->arg = arg;
	for (unsigned i = 0; i < 4; i++) {
		x->fifo[i].layer = x;
		cp_timer_init(&x->fifo[i].timer, on_fifo_timer, &x->fifo[i]);
	}
	osip_set_application_context(x->osip, x);
	osip_set_cb_send_message(x->osip, on_send);
	for (int i = 0; i < OSIP_MESSAGE_CALLBACK_COUNT; i++)
		osip_set_message_callback(x->osip, i, on_message);
	for (int i = 0; i < OSIP_KILL_CALLBACK_COUNT; i++)
		osip_set_kill_transaction_callback(x->osip, i, on_kill);
	for (int i = 0; i < OSIP_TRANSPORT_ERROR_CALLBACK_COUNT; i++)
		osip_set_transport_error_callback(x->osip, i, on_transport_error);
	cp_sip_transport_on_error(t, on_conn_error, x);
	return x;
}

void cp_txn_layer_free(struct cp_txn_layer *x)
{
	if (!x)
		return;
	cp_sip_transport_on_error(x->transport, NULL, NULL);
	for (size_t b = 0; b < x->txns.nbuckets; b++) {
		while (x->txns.buckets[b])
			txn_free((struct cp_txn *)x->txns.buckets[b]);
	}
	for (unsigned i = 0; i < 4; i++) {
		cp_timer_stop(x->loop, &x->fifo[i].timer);
		while (x->fifo[i].head) {
			struct done_txn *d = x->fifo[i].head;

			x->fifo[i].head = d->next;
			done_free(x, d);
		}
	}
	tg_hmap_fini(&x->txns);
	tg_hmap_fini(&x->done);
	osip_release(x->osip);
	free(x->scratch);
	free(x);
}

static struct cp_txn *txn_new(struct cp_txn_layer *x, osip_fsm_type_t type, osip_message_t *m,
	const struct cp_sip_peer *peer, char *key)
{
	struct cp_txn *tx = calloc(1, sizeof(*tx));

	if (!tx || osip_transaction_init(&tx->tr, type, x->osip, m) != 0) {
		free(tx);
		free(key);
		return NULL;
	}
	/* detached from libosip2's lists (linear walks): our table and timers run it */
	osip_remove_transaction(x->osip, tx->tr);
	osip_transaction_set_your_instance(tx->tr, tx);
	tx->layer = x;
	tx->key = key;
	tx->peer = *peer;
	cp_timer_init(&tx->timer, on_timer, tx);
	tg_hmap_insert(&x->txns, &tx->node, tg_hash_str(TG_HASH_SEED, key));
	return tx;
}

static void rx_request(struct cp_txn_layer *x, osip_message_t *m, const struct cp_sip_peer *from)
{
	char *key = make_key(m, true, NULL);
	struct done_txn *d;
	struct cp_txn *tx;
	type_t type;
	uint64_t h;

	if (!key) {
		osip_message_free(m);
		return;
	}
	h = tg_hash_str(TG_HASH_SEED, key);
	tx = find_hashed(x, key, h);
	if (!tx && (d = find_done(x, key, h))) {
		free(key);
		echo(x, d, m);
		osip_message_free(m);
		return;
	}
	type = MSG_IS_INVITE(m) ? RCV_REQINVITE : MSG_IS_ACK(m) ? RCV_REQACK : RCV_REQUEST;
	if (!tx && type == RCV_REQINVITE && x->ops.absorb && x->ops.absorb(x->arg, m)) {
		free(key);
		x->c.retransmissions_absorbed++;
		osip_message_free(m);
		return;
	}
	if (!tx && type == RCV_REQACK) {
		/* the ACK for a 2xx is a transaction of its own: the dialog's business */
		free(key);
		x->c.stray_acks++;
		x->ops.ack(x->arg, m, from);
		return;
	}
	if (tx) {
		free(key);
		/* TCP: answers go back on the connection the request last came on */
		if (from->stream)
			tx->peer = *from;
	} else {
		tx = txn_new(x, type == RCV_REQINVITE ? IST : NIST, m, from, key);
		if (!tx) {
			osip_message_free(m);
			return;
		}
		x->c.server_created++;
	}
	osip_event_t *e = new_event(type, m);

	if (!e) {
		osip_message_free(m);
		return;
	}
	run(tx, e);
}

static void rx_response(struct cp_txn_layer *x, osip_message_t *m, const struct cp_sip_peer *from)
{
	char *key = make_key(m, false, NULL);
	uint64_t h = key ? tg_hash_str(TG_HASH_SEED, key) : 0;
	struct cp_txn *tx = key ? find_hashed(x, key, h) : NULL;
	struct done_txn *d = key && !tx ? find_done(x, key, h) : NULL;
	osip_event_t *e;

	free(key);
	if (d) {
		echo(x, d, m);
		osip_message_free(m);
		return;
	}
	if (!tx) {
		if (MSG_IS_RESPONSE_FOR(m, "INVITE") && m->status_code >= 200 &&
			m->status_code < 300) {
			x->ops.stray_2xx(x->arg, m, from);
			return;
		}
		x->c.stray_responses++;
		osip_message_free(m);
		return;
	}
	e = new_event(m->status_code < 200   ? RCV_STATUS_1XX
		      : m->status_code < 300 ? RCV_STATUS_2XX
					     : RCV_STATUS_3456XX,
		m);
	if (!e) {
		osip_message_free(m);
		return;
	}
	run(tx, e);
}

void cp_txn_layer_rx(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg)
{
	struct cp_txn_layer *x = arg;

	if (MSG_IS_RESPONSE(msg))
		rx_response(x, msg, from);
	else
		rx_request(x, msg, from);
}

int cp_txn_respond(struct cp_txn *tx, osip_message_t *resp)
{
	osip_event_t *e;

	if (tx->dead || tx->ended) {
		osip_message_free(resp);
		return -ESRCH;
	}
	e = osip_new_outgoing_sipmessage(resp);
	if (!e) {
		osip_message_free(resp);
		return -ENOMEM;
	}
	run(tx, e);
	return 0;
}

struct cp_txn *cp_txn_request(
	struct cp_txn_layer *x, osip_message_t *req, const struct cp_sip_peer *to, void *owner)
{
	char *key = make_key(req, false, NULL);
	struct cp_txn *tx;
	osip_event_t *e;

	if (!key || !branch_of(req)) {
		free(key);
		osip_message_free(req);
		errno = EINVAL;
		return NULL;
	}
	tx = txn_new(x, MSG_IS_INVITE(req) ? ICT : NICT, req, to, key);
	if (!tx) {
		osip_message_free(req);
		errno = ENOMEM;
		return NULL;
	}
	x->c.client_created++;
	tx->owner = owner;
	e = osip_new_outgoing_sipmessage(req);
	if (!e) {
		/* not handed over: the transaction does not own req yet */
		osip_message_free(req);
		tx->dead = tx->ended = true;
		txn_free(tx);
		errno = ENOMEM;
		return NULL;
	}
	/* run by hand: a first send that fails is this call's error, not a later timeout() */
	e->transactionid = tx->tr->transactionid;
	osip_transaction_execute(tx->tr, e);
	tx->pend = PEND_NONE;
	if (tx->dead) {
		tx->ended = true;
		txn_free(tx);
		errno = EIO;
		return NULL;
	}
	rearm(tx);
	return tx;
}

struct cp_txn *cp_txn_cancel_target(struct cp_txn_layer *x, struct cp_txn *cancel)
{
	osip_message_t *m = cp_txn_msg(cancel);
	const char *branch = m ? branch_of(m) : NULL;
	osip_via_t *via = m ? osip_list_get(&m->vias, 0) : NULL;
	char *key;
	struct cp_txn *tx;

	if (!branch || !via || !(key = make_key(m, true, "INVITE")))
		return NULL;
	tx = find(x, key);
	free(key);
	return tx;
}

void *cp_txn_owner(const struct cp_txn *tx)
{
	return tx->owner;
}

void cp_txn_set_owner(struct cp_txn *tx, void *owner)
{
	tx->owner = owner;
}

osip_message_t *cp_txn_msg(const struct cp_txn *tx)
{
	return tx->tr->orig_request;
}

const struct cp_sip_peer *cp_txn_peer(const struct cp_txn *tx)
{
	return &tx->peer;
}

bool cp_txn_is_invite(const struct cp_txn *tx)
{
	return tx->tr->ctx_type == ICT || tx->tr->ctx_type == IST;
}

bool cp_txn_transport_failed(const struct cp_txn *tx)
{
	return tx->no_send;
}

int cp_txn_final_status(const struct cp_txn *tx)
{
	return tx->final_status;
}

int cp_txn_send_stateless(
	struct cp_txn_layer *x, const osip_message_t *m, const struct cp_sip_peer *to)
{
	return send_msg(x, m, to, NULL, NULL, NULL);
}

const struct cp_txn_counters *cp_txn_counters(const struct cp_txn_layer *x)
{
	return &x->c;
}

size_t cp_txn_count(const struct cp_txn_layer *x)
{
	return x->txns.count;
}

size_t cp_txn_completed_count(const struct cp_txn_layer *x)
{
	return x->done.count;
}

struct cp_sip_transport *cp_txn_transport(const struct cp_txn_layer *x)
{
	return x->transport;
}
