/* SPDX-License-Identifier: BSD-3-Clause */
/* The call commands of the control socket (see b2b_ctl.h). */
#include "b2b_ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "tg_sockaddr.h"
#include "tg_time.h"

struct b2b_ctl {
	struct b2b *b;
	struct cp_dp *dp;
	struct cp_ctl_cmd rows[13];
};

/* ---- JSON of a call ---------------------------------------------------------------------- */

/* SIP gives any bytes: cp_ctl_json_str() keeps what is not UTF-8 printable */
static json_t *str_or_null(const char *s)
{
	return s ? cp_ctl_json_str(s) : json_null();
}

/* as in the call record */
static json_t *time_json(int64_t ms)
{
	char buf[B2B_CDR_TIME_LEN];

	return b2b_cdr_time(ms, buf, sizeof(buf)) ? json_string(buf) : json_null();
}

static json_t *sockaddr_json(const struct sockaddr *sa)
{
	char buf[64];

	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return json_null();
	return json_string(tg_sockaddr_fmt(sa, buf, sizeof(buf)));
}

static json_t *tg_addr_json(const struct tg_addr *a)
{
	char ip[INET6_ADDRSTRLEN], buf[INET6_ADDRSTRLEN + 8];

	if (a->family != TG_AF_INET && a->family != TG_AF_INET6)
		return json_null();
	if (!inet_ntop(a->family == TG_AF_INET ? AF_INET : AF_INET6, a->a, ip, sizeof(ip)))
		return json_null();
	snprintf(buf, sizeof(buf), a->family == TG_AF_INET ? "%s:%u" : "[%s]:%u", ip, a->port);
	return json_string(buf);
}

/* What the call is: two parties through the appliance, or one the appliance answered, called
 * or still holds ringing */
static const char *kind_of(const struct b2b_call_view *v)
{
	if (v->deferred)
		return "deferred";
	if (v->originated)
		return "originated";
	return v->local ? "answered" : "b2bua";
}

static json_t *leg_json(const struct b2b_cdr_leg *l)
{
	return json_pack("{s:o, s:o, s:o, s:o}", "call_id", str_or_null(l->call_id), "from",
		str_or_null(l->from_uri), "to", str_or_null(l->to_uri), "peer",
		sockaddr_json(l->call_id ? l->remote : NULL));
}

/* Seconds since the answer (0 before it) */
static json_t *up_json(const struct b2b_call_view *v)
{
	return json_integer(v->answer_ms > 0 ? (tg_wall_ms() - v->answer_ms) / 1000 : 0);
}

/* Field names as in the call record's media (b2b_cdr.c), and the rest of what EP_STATS has */
static json_t *stats_json(const struct tg_msg_ep_stats *st)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"packets", (json_int_t)st->rx_pkts, "bytes", (json_int_t)st->rx_bytes, "relayed",
		(json_int_t)st->tx_pkts, "rtcp_packets", (json_int_t)st->rtcp_pkts, "dropped",
		(json_int_t)st->dropped, "lost", (int)st->lost, "expected",
		(json_int_t)st->expected, "jitter_us", (json_int_t)st->jitter_us, "jitter_max_us",
		(json_int_t)st->jitter_max_us, "out_of_order", (json_int_t)st->out_of_order,
		"duplicates", (json_int_t)st->duplicates, "rtt_us", (json_int_t)st->rtt_us,
		"remote_lost", (json_int_t)st->remote_lost);

	if (!o)
		return NULL;
	json_object_set_new(o, "remote_jitter_us", json_integer(st->remote_jitter_us));
	json_object_set_new(o, "last_rx_ms_ago",
		st->last_rx_ms_ago == UINT32_MAX ? json_null() : json_integer(st->last_rx_ms_ago));
	/* the E-model never scores below 1: 0 means not computed */
	json_object_set_new(o, "mos", st->mos_x100 ? json_real(st->mos_x100 / 100.0) : json_null());
	return o;
}

static json_t *call_json(const struct b2b_call_view *v)
{
	json_t *media = json_array();

	for (unsigned i = 0; i < v->nmedia; i++) {
		const struct b2b_media_view *m = &v->media[i];

		json_array_append_new(
			media, json_pack("{s:i, s:b, s:{s:o, s:n}, s:{s:o, s:n}}", "stream", (int)i,
				       "active", m->active, "a", "local", tg_addr_json(&m->local_a),
				       "stats", "b", "local", tg_addr_json(&m->local_b), "stats"));
	}
	return json_pack("{s:I, s:s, s:s, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
		(json_int_t)v->id, "state", b2b_state_name(v->state), "kind", kind_of(v), "bridged",
		v->bridged ? json_integer((json_int_t)v->bridged) : json_null(), "operator_hold",
		v->operator_hold, "a", leg_json(&v->a), "b", leg_json(&v->b), "target",
		v->target && v->target[0] ? str_or_null(v->target) : json_null(), "setup_time",
		time_json(v->setup_ms), "answer_time", time_json(v->answer_ms), "up_s", up_json(v),
		"media", media);
}

/* ---- show calls ------------------------------------------------------------------------------ */

static bool list_one(void *arg, const struct b2b_call_view *v)
{
	/* an originated call's party is on its b leg */
	const struct b2b_cdr_leg *party = v->originated ? &v->b : &v->a;

	json_array_append_new(arg,
		json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)v->id,
			"state", b2b_state_name(v->state), "kind", kind_of(v), "from",
			str_or_null(party->from_uri), "to", str_or_null(party->to_uri), "peer",
			sockaddr_json(party->remote), "target",
			v->target && v->target[0] ? str_or_null(v->target) : json_null(), "bridged",
			v->bridged ? json_integer((json_int_t)v->bridged) : json_null(), "up_s",
			up_json(v)));
	return true;
}

static void show_calls(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	struct b2b_ctl *bc = arg;
	json_t *list = json_array();

	if (!list) {
		cp_ctl_fail(req, ENOMEM, "out of memory");
		return;
	}
	b2b_calls_each(bc->b, list_one, list);
	cp_ctl_ok(req, list);
}

/* ---- show call ID: the view, then each endpoint's statistics from the dataplane ------------- */

struct stats_query {
	struct cp_ctl_req *req;
	json_t *call;
	unsigned pending;
	unsigned nmedia;
	uint64_t keys[CP_SDP_MAX_MEDIA][2]; /* each stream's endpoints: A's, B's */
};

/* Where an endpoint's statistics go in the answer: its stream's "a" or "b" */
static json_t *endpoint_slot(const struct stats_query *q, uint64_t key)
{
	json_t *media = json_object_get(q->call, "media");

	for (unsigned i = 0; i < q->nmedia; i++) {
		for (unsigned leg = 0; leg < 2; leg++) {
			if (q->keys[i][leg] == key)
				return json_object_get(json_array_get(media, i), leg ? "b" : "a");
		}
	}
	return NULL;
}

static void query_done(struct stats_query *q)
{
	if (--q->pending)
		return;
	cp_ctl_ok(q->req, q->call);
	free(q);
}

static void on_stats(struct cp_dp *dp, const struct tg_msg *r, int status, void *arg)
{
	struct stats_query *q = arg;

	(void)dp;
	if (r && status == 0) {
		json_t *slot = endpoint_slot(q, r->u.ep_stats.key);

		if (slot)
			json_object_set_new(slot, "stats", stats_json(&r->u.ep_stats));
	}
	query_done(q);
}

static int parse_id(const char *s, uint64_t *id)
{
	char *end;

	errno = 0;
	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	*id = strtoull(s, &end, 10);
	return errno || *end || *id == 0 ? -EINVAL : 0;
}

static void ask(struct b2b_ctl *bc, struct stats_query *q, uint64_t key)
{
	struct tg_msg m = {.type = TG_MSG_EP_STATS};

	m.u.ep.key = key;
	q->pending++;
	if (cp_dp_request(bc->dp, 0, &m, on_stats, q) < 0)
		q->pending--; /* its stats stay null */
}

static void show_call(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	struct b2b_ctl *bc = arg;
	struct b2b_call_view v;
	struct stats_query *q;
	uint64_t id;

	if (parse_id(args[0], &id) < 0) {
		cp_ctl_fail(req, EINVAL, "call ID: '%s' is not a call number", args[0]);
		return;
	}
	if (b2b_call_get(bc->b, id, &v) < 0) {
		cp_ctl_fail(req, ENOENT, "no call %" PRIu64, id);
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q || !(q->call = call_json(&v))) {
		free(q);
		cp_ctl_fail(req, ENOMEM, "out of memory");
		return;
	}
	q->req = req;
	q->nmedia = v.nmedia;
	for (unsigned i = 0; i < v.nmedia; i++) {
		q->keys[i][0] = v.media[i].key_a;
		q->keys[i][1] = v.media[i].key_b;
	}
	q->pending = 1; /* held until every request is out: a reply cannot finish it early */
	for (unsigned i = 0; bc->dp && cp_dp_is_up(bc->dp) && i < v.nmedia; i++) {
		if (!v.media[i].active)
			continue;
		ask(bc, q, v.media[i].key_a);
		ask(bc, q, v.media[i].key_b);
	}
	query_done(q);
}

/* ---- call hangup ID ------------------------------------------------------------------------- */

static void call_hangup(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	struct b2b_ctl *bc = arg;
	uint64_t id;

	if (parse_id(args[0], &id) < 0) {
		cp_ctl_fail(req, EINVAL, "call ID: '%s' is not a call number", args[0]);
		return;
	}
	if (b2b_call_hangup(bc->b, id) < 0) {
		cp_ctl_fail(req, ENOENT, "no call %" PRIu64 " (or it is ending already)", id);
		return;
	}
	cp_ctl_ok(req, json_pack("{s:I, s:s}", "id", (json_int_t)id, "ending", "operator"));
}

/* ---- call hold|resume ID ------------------------------------------------------------------- */

static void op_answer(
	struct cp_ctl_req *req, uint64_t id, int status, int sip_code, char leg, const char *state)
{
	const char *who = leg == 'a' ? "the caller's leg" : "the callee's leg";

	switch (status) {
	case 0:
		cp_ctl_ok(req, json_pack("{s:I, s:s}", "id", (json_int_t)id, "state", state));
		break;
	case -EREMOTEIO:
		cp_ctl_fail(req, EREMOTEIO,
			"call %" PRIu64 ": %s answered %d; the call is back as it was", id, who,
			sip_code);
		break;
	case -ETIMEDOUT:
		cp_ctl_fail(req, ETIMEDOUT,
			"call %" PRIu64 ": %s did not answer; the call is back as it was", id, who);
		break;
	default:
		cp_ctl_fail(req, ECONNRESET, "call %" PRIu64 " ended meanwhile", id);
		break;
	}
}

static void held(void *arg, uint64_t id, int status, int sip_code, char leg)
{
	op_answer(arg, id, status, sip_code, leg, "on-hold");
}

static void resumed(void *arg, uint64_t id, int status, int sip_code, char leg)
{
	op_answer(arg, id, status, sip_code, leg, "connected");
}

static void hold_or_resume(struct b2b_ctl *bc, struct cp_ctl_req *req, const char *arg, bool hold)
{
	struct b2b_call_view v = {0};
	uint64_t id;
	int rc;

	if (parse_id(arg, &id) < 0) {
		cp_ctl_fail(req, EINVAL, "call ID: '%s' is not a call number", arg);
		return;
	}
	/* answered by held()/resumed() once both legs have answered */
	rc = b2b_call_hold(bc->b, id, hold, hold ? held : resumed, req);
	if (rc == 0)
		return;
	if (rc == -ENOENT) {
		cp_ctl_fail(req, ENOENT, "no call %" PRIu64 " (or it is ending)", id);
		return;
	}
	b2b_call_get(bc->b, id, &v);
	if (rc == -EBUSY)
		cp_ctl_fail(req, EBUSY,
			"call %" PRIu64 ": an offer/answer is in progress; try again", id);
	else if (rc == -EALREADY)
		cp_ctl_fail(req, EALREADY, "call %" PRIu64 " is %s already", id,
			hold ? "on hold" : "connected");
	else if (!hold && v.state == B2B_ST_ON_HOLD)
		cp_ctl_fail(req, EPERM,
			"call %" PRIu64 " was put on hold by a party, not by the operator", id);
	else
		cp_ctl_fail(req, EPERM, "call %" PRIu64 " is %s: %s", id, b2b_state_name(v.state),
			hold ? "only a connected call can be held" : "only a held call resumes");
}

static void call_hold(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	hold_or_resume(arg, req, args[0], true);
}

static void call_resume(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	hold_or_resume(arg, req, args[0], false);
}

/* ---- call dtmf ID DIGITS [caller|callee] -------------------------------------------------------
 */

static void dtmf_sent(void *arg, uint64_t id, int status, int sip_code, char leg)
{
	struct cp_ctl_req *req = arg;
	const char *who = leg == 'a' ? "the caller" : "the callee";

	switch (status) {
	case 0:
		cp_ctl_ok(req, json_pack("{s:I, s:s}", "id", (json_int_t)id, "to",
				       leg == 'a' ? "caller" : "callee"));
		break;
	case -EREMOTEIO:
		cp_ctl_fail(req, EREMOTEIO, "call %" PRIu64 ": %s answered %d to an INFO", id, who,
			sip_code);
		break;
	case -ETIMEDOUT:
		cp_ctl_fail(req, ETIMEDOUT, "call %" PRIu64 ": %s did not answer an INFO", id, who);
		break;
	case -ECONNRESET:
		cp_ctl_fail(req, ECONNRESET, "call %" PRIu64 " ended meanwhile", id);
		break;
	case -EBUSY:
		cp_ctl_fail(req, EBUSY, "call %" PRIu64 ": the dataplane still plays digits to %s",
			id, who);
		break;
	default:
		cp_ctl_fail(req, -status, "call %" PRIu64 ": the dataplane refused: %s", id,
			strerror(-status));
		break;
	}
}

static void call_dtmf(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	struct b2b_ctl *bc = arg;
	enum b2b_dtmf_method method = B2B_DTMF_AUTO;
	bool to_b = true;
	uint64_t id;
	int rc;

	if (parse_id(args[0], &id) < 0) {
		cp_ctl_fail(req, EINVAL, "call ID: '%s' is not a call number", args[0]);
		return;
	}
	if (!b2b_dtmf_digits_ok(args[1])) {
		cp_ctl_fail(req, EINVAL, "DIGITS: '%s' is not 1 to %d of 0-9 * # A-D", args[1],
			B2B_DTMF_MAX);
		return;
	}
	if (n > 2) {
		if (!strcmp(args[2], "caller")) {
			to_b = false;
		} else if (strcmp(args[2], "callee")) {
			cp_ctl_fail(req, EINVAL, "TO: '%s' is neither caller nor callee", args[2]);
			return;
		}
	}
	if (n > 3) {
		if (!strcmp(args[3], "rtp")) {
			method = B2B_DTMF_RTP;
		} else if (!strcmp(args[3], "info")) {
			method = B2B_DTMF_INFO;
		} else {
			cp_ctl_fail(req, EINVAL, "HOW: '%s' is neither rtp nor info", args[3]);
			return;
		}
	}
	rc = b2b_call_dtmf(bc->b, id, to_b, args[1], method, 0, dtmf_sent, req);
	if (rc == -ENOENT)
		cp_ctl_fail(req, ENOENT, "no call %" PRIu64 " (or it is ending)", id);
	else if (rc == -EBUSY)
		cp_ctl_fail(req, EBUSY, "call %" PRIu64 ": DTMF or an INFO is under way; try again",
			id);
	else if (rc == -EPERM)
		cp_ctl_fail(req, EPERM, "call %" PRIu64 " is not connected", id);
	else if (rc == -EPROTONOSUPPORT)
		cp_ctl_fail(req, EPROTONOSUPPORT,
			"call %" PRIu64 ": the %s did not agree to telephone-event (RFC 4733); "
			"use info",
			id, to_b ? "callee" : "caller");
	else if (rc < 0)
		cp_ctl_fail(req, -rc, "call %" PRIu64 ": %s", id, strerror(-rc));
}

/* ---- call transfer ID TARGET [caller|callee] ------------------------------------------------- */

static void transferred(void *arg, uint64_t id, int status, int sip_code, char leg)
{
	struct cp_ctl_req *req = arg;

	switch (status) {
	case 0:
		cp_ctl_ok(req, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "replaced",
				       leg == 'a' ? "caller" : "callee", "state", "connected"));
		break;
	case -EREMOTEIO:
		cp_ctl_fail(req, EREMOTEIO,
			"call %" PRIu64
			": the transfer target answered %d; the call goes on as it was",
			id, sip_code);
		break;
	case -ETIMEDOUT:
		cp_ctl_fail(req, ETIMEDOUT,
			"call %" PRIu64 ": the transfer target did not answer; the call goes on",
			id);
		break;
	default:
		cp_ctl_fail(req, ECONNRESET, "call %" PRIu64 " ended meanwhile", id);
		break;
	}
}

static void call_transfer(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	struct b2b_ctl *bc = arg;
	bool keep_a = true;
	uint64_t id;
	int rc;

	if (parse_id(args[0], &id) < 0) {
		cp_ctl_fail(req, EINVAL, "call ID: '%s' is not a call number", args[0]);
		return;
	}
	if (n > 2) {
		if (!strcmp(args[2], "callee")) {
			keep_a = false;
		} else if (strcmp(args[2], "caller")) {
			cp_ctl_fail(req, EINVAL, "WHO: '%s' is neither caller nor callee", args[2]);
			return;
		}
	}
	rc = b2b_call_transfer(bc->b, id, args[1], keep_a, transferred, req);
	if (rc == -ENOENT)
		cp_ctl_fail(req, ENOENT, "no call %" PRIu64 " (or it is ending)", id);
	else if (rc == -EINVAL)
		cp_ctl_fail(req, EINVAL, "TARGET: '%s' is neither a user nor a sip: URI", args[1]);
	else if (rc == -EHOSTUNREACH)
		cp_ctl_fail(req, EHOSTUNREACH, "TARGET: no routing rule matches '%s'", args[1]);
	else if (rc == -EBUSY)
		cp_ctl_fail(req, EBUSY,
			"call %" PRIu64 ": another operation is under way; try again", id);
	else if (rc == -EPERM)
		cp_ctl_fail(
			req, EPERM, "call %" PRIu64 " is not a connected call of two parties", id);
	else if (rc < 0)
		cp_ctl_fail(req, -rc, "call %" PRIu64 ": %s", id, strerror(-rc));
}

/* ---- deferred calls, calls the appliance places, bridges --------------------------------------
 */

static int id_arg(struct cp_ctl_req *req, const char *arg, uint64_t *id)
{
	if (parse_id(arg, id) == 0)
		return 0;
	cp_ctl_fail(req, EINVAL, "call ID: '%s' is not a call number", arg);
	return -EINVAL;
}

static void decided(struct cp_ctl_req *req, uint64_t id, int rc, const char *what)
{
	if (rc == 0)
		cp_ctl_ok(req, json_pack("{s:I, s:s}", "id", (json_int_t)id, "decided", what));
	else if (rc == -ENOENT)
		cp_ctl_fail(req, ENOENT, "no call %" PRIu64 " (or it is ending)", id);
	else
		cp_ctl_fail(req, EPERM, "call %" PRIu64 " is not waiting for a decision", id);
}

static void call_answer(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	struct b2b_ctl *bc = arg;
	struct b2b_decision d = {.kind = B2B_DECIDE_ACCEPT};
	uint64_t id;

	if (id_arg(req, args[0], &id) == 0)
		decided(req, id, b2b_call_decide(bc->b, id, &d), "answered");
}

static void call_reject(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	struct b2b_ctl *bc = arg;
	struct b2b_decision d = {.kind = B2B_DECIDE_REJECT, .code = 603};
	char *end = NULL;
	uint64_t id;

	if (id_arg(req, args[0], &id) < 0)
		return;
	if (n > 1) {
		long code = strtol(args[1], &end, 10);

		if (!*args[1] || *end || code < 300 || code > 699) {
			cp_ctl_fail(
				req, EINVAL, "CODE: '%s' is not a status from 300 to 699", args[1]);
			return;
		}
		d.code = (int)code;
	}
	decided(req, id, b2b_call_decide(bc->b, id, &d), "rejected");
}

static void call_forward(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	struct b2b_ctl *bc = arg;
	struct b2b_decision d = {.kind = B2B_DECIDE_FORWARD, .target = args[1]};
	uint64_t id;

	if (id_arg(req, args[0], &id) == 0)
		decided(req, id, b2b_call_decide(bc->b, id, &d), "forwarded");
}

static void originated(void *arg, uint64_t id, int status, int sip_code, char leg)
{
	struct cp_ctl_req *req = arg;

	if (status == 0)
		cp_ctl_ok(req, json_pack("{s:I, s:s}", "id", (json_int_t)id, "state", "connected"));
	else if (status == -EREMOTEIO)
		cp_ctl_fail(
			req, EREMOTEIO, "call %" PRIu64 ": the callee answered %d", id, sip_code);
	else
		cp_ctl_fail(req, ECONNRESET, "call %" PRIu64 " ended before it was answered", id);
}

static void call_originate(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	struct b2b_ctl *bc = arg;
	uint64_t id;
	int rc;

	/* answered once the callee answers (or refuses): tgctl waits up to its --timeout */
	rc = b2b_call_originate(bc->b, args[0], args[1], originated, req, &id);
	if (rc == -EINVAL)
		cp_ctl_fail(req, EINVAL,
			"FROM must be a user ('%s'), TO a user or a sip: URI ('%s')", args[0],
			args[1]);
	else if (rc == -EHOSTUNREACH)
		cp_ctl_fail(req, EHOSTUNREACH, "TO: no routing rule matches '%s'", args[1]);
	else if (rc == -EBUSY)
		cp_ctl_fail(req, EBUSY, "b2bua.max_calls reached (or shutting down)");
	else if (rc == -EAGAIN)
		cp_ctl_fail(req, EAGAIN, "the dataplane is not up");
	else if (rc < 0)
		cp_ctl_fail(req, -rc, "%s", strerror(-rc));
}

static void bridge(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	struct b2b_ctl *bc = arg;
	uint64_t id1, id2;
	int rc;

	if (id_arg(req, args[0], &id1) < 0 || id_arg(req, args[1], &id2) < 0)
		return;
	rc = b2b_bridge(bc->b, id1, id2);
	if (rc == 0)
		cp_ctl_ok(req, json_pack("{s:[I,I]}", "bridged", (json_int_t)id1, (json_int_t)id2));
	else if (rc == -ENOENT)
		cp_ctl_fail(req, ENOENT, "no call %" PRIu64 " or %" PRIu64 " (or it is ending)",
			id1, id2);
	else if (rc == -EBUSY)
		cp_ctl_fail(
			req, EBUSY, "call %" PRIu64 " or %" PRIu64 " is bridged already", id1, id2);
	else
		cp_ctl_fail(req, EPERM,
			"only two different answered calls of one party each (answered or "
			"originated by the appliance) can be bridged");
}

static void unbridge_cmd(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	struct b2b_ctl *bc = arg;
	uint64_t id;
	int rc;

	if (id_arg(req, args[0], &id) < 0)
		return;
	rc = b2b_unbridge(bc->b, id);
	if (rc == 0)
		cp_ctl_ok(req, json_pack("{s:I}", "unbridged", (json_int_t)id));
	else if (rc == -ENOENT)
		cp_ctl_fail(req, ENOENT, "no call %" PRIu64 " (or it is ending)", id);
	else
		cp_ctl_fail(req, EPERM, "call %" PRIu64 " is not bridged", id);
}

struct b2b_ctl *b2b_ctl_new(struct cp_ctl *ctl, struct b2b *b, struct cp_dp *dp)
{
	struct b2b_ctl *bc = calloc(1, sizeof(*bc));
	int rc;

	if (!bc)
		return NULL;
	bc->b = b;
	bc->dp = dp;
	bc->rows[0] = (struct cp_ctl_cmd){
		.words = "show calls",
		.usage = "",
		.help = "The calls in progress: id, state, the caller's From and To, the caller's "
			"address, the route's target and seconds since the answer.",
		.fn = show_calls,
		.arg = bc,
	};
	bc->rows[1] = (struct cp_ctl_cmd){
		.words = "show call",
		.usage = "ID",
		.min_args = 1,
		.max_args = 1,
		.help = "One call: both legs (Call-ID, From, To, signalling peer), its state, "
			"setup and answer times, and each stream's endpoints with their live "
			"statistics from the dataplane (packets, loss, jitter, RTT, MOS).",
		.fn = show_call,
		.arg = bc,
	};
	bc->rows[2] = (struct cp_ctl_cmd){
		.words = "call hangup",
		.usage = "ID",
		.min_args = 1,
		.max_args = 1,
		.help = "Ends a call: BYE on both legs with Reason: SIP;cause=200;text=\"ended by "
			"the operator\" once answered, CANCEL toward the callee and 480 to the "
			"caller before. Its record's end reason is \"operator\".",
		.fn = call_hangup,
		.arg = bc,
	};
	bc->rows[3] = (struct cp_ctl_cmd){
		.words = "call hold",
		.usage = "ID",
		.min_args = 1,
		.max_args = 1,
		.help = "Puts both parties on hold: a re-INVITE to each leg offering sendonly (RFC "
			"3264 section 8.4); the dataplane relays nothing until resumed. Answers "
			"once "
			"both legs accepted; if one refuses, the other is taken back and the error "
			"names the leg and its status. 491 is retried after the RFC 3261 back-off.",
		.fn = call_hold,
		.arg = bc,
	};
	bc->rows[4] = (struct cp_ctl_cmd){
		.words = "call resume",
		.usage = "ID",
		.min_args = 1,
		.max_args = 1,
		.help = "Takes a call the operator held off hold: a re-INVITE to each leg offering "
			"sendrecv; media flows again once both accepted. A hold one of the parties "
			"made is theirs to lift: refused.",
		.fn = call_resume,
		.arg = bc,
	};
	bc->rows[5] = (struct cp_ctl_cmd){
		.words = "call dtmf",
		.usage = "ID DIGITS [caller|callee] [rtp|info]",
		.min_args = 2,
		.max_args = 4,
		.help = "Sends DTMF digits (0-9 * # A-D, up to 32, 100 ms each) to one party, the "
			"callee unless told otherwise: as RFC 4733 events the dataplane plays in "
			"that party's RTP stream (when its leg agreed to telephone-event), else as "
			"SIP INFO (application/dtmf-relay), one per digit after the previous one's "
			"2xx. rtp or info forces the way. Answers once the digits are accepted.",
		.fn = call_dtmf,
		.arg = bc,
	};
	bc->rows[6] = (struct cp_ctl_cmd){
		.words = "call transfer",
		.usage = "ID TARGET [caller|callee]",
		.min_args = 2,
		.max_args = 3,
		.help = "Transfers a party (the caller unless told otherwise) to TARGET (a user or "
			"a "
			"sip: URI, routed by the routing table like a new call): the other party "
			"is "
			"replaced by a new leg to TARGET and gets BYE once TARGET answers; media "
			"stays anchored on the same endpoints. Answers once TARGET answered or "
			"refused.",
		.fn = call_transfer,
		.arg = bc,
	};
	bc->rows[7] = (struct cp_ctl_cmd){
		.words = "call answer",
		.usage = "ID",
		.min_args = 1,
		.max_args = 1,
		.help = "Answers a deferred call (b2bua.incoming = defer) with the appliance "
			"itself: "
			"200 with its offer answered, the media ending in the dataplane (measured) "
			"until bridged to another call.",
		.fn = call_answer,
		.arg = bc,
	};
	bc->rows[8] = (struct cp_ctl_cmd){
		.words = "call reject",
		.usage = "ID [CODE]",
		.min_args = 1,
		.max_args = 2,
		.help = "Rejects a deferred call with CODE (300-699; 603 Decline by default).",
		.fn = call_reject,
		.arg = bc,
	};
	bc->rows[9] = (struct cp_ctl_cmd){
		.words = "call forward",
		.usage = "ID TARGET",
		.min_args = 2,
		.max_args = 2,
		.help = "Sends a deferred call on to TARGET (a user or a sip: URI, routed by the "
			"routing table): a B2BUA call from there on.",
		.fn = call_forward,
		.arg = bc,
	};
	bc->rows[10] = (struct cp_ctl_cmd){
		.words = "call originate",
		.usage = "FROM TO",
		.min_args = 2,
		.max_args = 2,
		.help = "The appliance calls TO (a user or a sip: URI, routed by the routing "
			"table) "
			"as user FROM, offering PCMU, PCMA and telephone-event on a media endpoint "
			"of its own. Answers with the call's id once TO answers, or the status it "
			"refused with (tgctl waits up to --timeout).",
		.fn = call_originate,
		.arg = bc,
	};
	bc->rows[11] = (struct cp_ctl_cmd){
		.words = "bridge",
		.usage = "ID ID",
		.min_args = 2,
		.max_args = 2,
		.help = "Joins the media of two answered one-party calls (answered or originated "
			"by "
			"the appliance) in the dataplane, each stream rewritten so the phones take "
			"it. When one call ends, the other goes on unbridged.",
		.fn = bridge,
		.arg = bc,
	};
	bc->rows[12] = (struct cp_ctl_cmd){
		.words = "unbridge",
		.usage = "ID",
		.min_args = 1,
		.max_args = 1,
		.help = "Separates a bridged call from its peer: both go on, their media ending in "
			"the dataplane again.",
		.fn = unbridge_cmd,
		.arg = bc,
	};
	rc = cp_ctl_register(ctl, bc->rows, 13);
	if (rc < 0) {
		free(bc);
		errno = -rc;
		return NULL;
	}
	return bc;
}

void b2b_ctl_free(struct b2b_ctl *bc)
{
	free(bc);
}
