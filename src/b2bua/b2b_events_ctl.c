/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `events` command (see b2b_events_ctl.h): one bus subscription per stream, its eventfd on
 * the loop, its events turned into JSON lines on the stream. A stream whose client is behind
 * stops taking from its queue (the eventfd is taken off the loop) until cp_ctl says the client
 * has read, so a slow reader costs a full queue and the bus's drop counter, not JSON nobody
 * reads.
 */
#include "b2b_events_ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "b2b_cdr.h"
#include "b2b_state.h"
#include "tg_log.h"
#include "tg_shm.h"

struct ev_stream {
	struct b2b_events_ctl *ec;
	struct ev_stream *next;
	struct cp_ctl_req *req;
	struct b2b_ev_sub *sub;
	int fd;		  /* the subscription's eventfd, watched on the loop */
	uint32_t kinds;	  /* what the client asked for (the subscription may take more) */
	uint64_t call;	  /* --call: the stream ends with that call */
	uint64_t dropped; /* the subscription's drops already told */
	bool paused;	  /* the client is behind: the eventfd is off the loop until on_room */
};

struct b2b_events_ctl {
	struct cp_loop *loop;
	struct b2b_events *bus;
	struct b2b *b;
	struct ev_stream *streams;
	unsigned n_streams;
	bool stopped;
	struct cp_ctl_cmd row;
};

/* ---- JSON of an event --------------------------------------------------------------------- */

/* A string field of an event: NUL-terminated within its array whoever wrote it */
static json_t *field_str(const char *s, size_t size)
{
	char buf[128];
	size_t n = strnlen(s, size);

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return cp_ctl_json_str(buf);
}

static const char *leg_name(char leg)
{
	return leg == 'a' ? "caller" : leg == 'b' ? "callee" : "?";
}

static int set(json_t *o, const char *key, json_t *v)
{
	return v ? json_object_set_new(o, key, v) : -1;
}

static int add_fields(json_t *o, const struct b2b_ev *ev)
{
	static const char *const transfer_states[] = {"trying", "ringing", "succeeded", "failed"};
	static const char *const bridge_what[] = {"added", "removed", "destroyed"};
	char digit[2];
	int rc = 0;

	switch (ev->kind) {
	case B2B_EVK_STATE:
		rc |= set(o, "from", json_string(b2b_state_name(ev->u.state.from)));
		rc |= set(o, "to", json_string(b2b_state_name(ev->u.state.to)));
		rc |= set(o, "event", json_string(b2b_event_name(ev->u.state.event)));
		break;
	case B2B_EVK_INCOMING:
		rc |= set(o, "from", field_str(ev->u.call.from, sizeof(ev->u.call.from)));
		rc |= set(o, "to", field_str(ev->u.call.to, sizeof(ev->u.call.to)));
		break;
	case B2B_EVK_ENDED:
		rc |= set(o, "reason", json_string(b2b_cdr_reason_name(ev->u.ended.reason)));
		rc |= set(o, "sip_code", json_integer(ev->u.ended.sip_code));
		rc |= set(o, "duration_ms", json_integer(ev->u.ended.duration_ms));
		break;
	case B2B_EVK_DTMF:
		digit[0] = ev->u.dtmf.digit;
		digit[1] = '\0';
		rc |= set(o, "digit", cp_ctl_json_str(digit));
		rc |= set(o, "leg", json_string(leg_name(ev->u.dtmf.leg)));
		rc |= set(o, "method", json_string(ev->u.dtmf.method ? "info" : "rtp"));
		rc |= set(o, "direction", json_string(ev->u.dtmf.outgoing ? "sent" : "received"));
		rc |= set(o, "duration_ms",
			ev->u.dtmf.duration_ms ? json_integer(ev->u.dtmf.duration_ms)
					       : json_null());
		break;
	case B2B_EVK_MEDIA_QUALITY:
		rc |= set(o, "stream", json_integer(ev->u.quality.stream));
		rc |= set(o, "leg", json_string(leg_name(ev->u.quality.leg)));
		/* the E-model never scores below 1: 0 means not computed */
		rc |= set(o, "mos",
			ev->u.quality.mos_x100 ? json_real(ev->u.quality.mos_x100 / 100.0)
					       : json_null());
		rc |= set(o, "jitter_ms", json_real(ev->u.quality.jitter_us / 1000.0));
		rc |= set(o, "rtt_ms",
			ev->u.quality.rtt_us ? json_real(ev->u.quality.rtt_us / 1000.0)
					     : json_null());
		rc |= set(o, "lost", json_integer(ev->u.quality.lost));
		rc |= set(o, "packets", json_integer((json_int_t)ev->u.quality.packets));
		break;
	case B2B_EVK_TRANSFER:
		rc |= set(o, "state",
			json_string(ev->u.transfer.state < 4 ? transfer_states[ev->u.transfer.state]
							     : "?"));
		rc |= set(o, "sip_code",
			ev->u.transfer.sip_code ? json_integer(ev->u.transfer.sip_code)
						: json_null());
		rc |= set(o, "target",
			field_str(ev->u.transfer.target, sizeof(ev->u.transfer.target)));
		break;
	case B2B_EVK_BRIDGE:
		rc |= set(o, "bridge", json_integer((json_int_t)ev->u.bridge.bridge));
		rc |= set(o, "what",
			json_string(ev->u.bridge.what < 3 ? bridge_what[ev->u.bridge.what] : "?"));
		break;
	default: /* established, and kinds a newer bus may add: the common fields say it */
		break;
	}
	return rc;
}

json_t *b2b_ev_json(const struct b2b_ev *ev)
{
	char tbuf[B2B_CDR_TIME_LEN];
	const char *t = b2b_cdr_time(ev->time_ms, tbuf, sizeof(tbuf));
	json_t *o = json_object();

	if (!o || set(o, "time", t ? json_string(t) : json_null()) < 0 ||
		set(o, "call", ev->call ? json_integer((json_int_t)ev->call) : json_null()) < 0 ||
		set(o, "kind", json_string(b2b_ev_kind_name(ev->kind))) < 0 ||
		add_fields(o, ev) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- arguments ---------------------------------------------------------------------------- */

/* "--opt VALUE" or "--opt=VALUE" at args[*i]: the value; NULL when it is not opt (or, with
 * *missing set, when the value is missing) */
static const char *opt_value(
	const char *const *args, unsigned n, unsigned *i, const char *opt, bool *missing)
{
	size_t len = strlen(opt);
	const char *a = args[*i];

	if (strncmp(a, opt, len) != 0)
		return NULL;
	if (a[len] == '=')
		return a + len + 1;
	if (a[len] != '\0')
		return NULL;
	if (*i + 1 >= n) {
		*missing = true;
		return NULL;
	}
	return args[++*i];
}

static void kinds_list(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned k = 0; k < B2B_EVK__COUNT && off < len; k++) {
		int w = snprintf(buf + off, len - off, "%s%s", k ? ", " : "",
			b2b_ev_kind_name((enum b2b_ev_kind)k));

		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/* The first kind of list that is none, into buf */
static void unknown_kind(const char *list, char *buf, size_t len)
{
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");
		uint32_t mask;
		char one[64];

		snprintf(one, sizeof(one), "%.*s", (int)(n < 63 ? n : 63), p);
		if (!one[0] || b2b_ev_kinds_parse(one, &mask) < 0) {
			snprintf(buf, len, "%s", one);
			return;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	snprintf(buf, len, "%s", "");
}

int b2b_events_ctl_args(
	const char *const *args, unsigned n, struct b2b_ev_filter *f, char *err, size_t errlen)
{
	bool have_call = false, have_kinds = false;

	memset(f, 0, sizeof(*f));
	for (unsigned i = 0; i < n; i++) {
		bool missing = false;
		const char *v;

		if ((v = opt_value(args, n, &i, "--call", &missing))) {
			char *end;

			if (have_call) {
				tg_errf(err, errlen, "--call: given twice");
				return -EINVAL;
			}
			have_call = true;
			errno = 0;
			f->call = (*v >= '0' && *v <= '9') ? strtoull(v, &end, 10) : 0;
			if (!f->call || errno || *end) {
				tg_errf(err, errlen, "--call '%.64s': not a call number", v);
				return -EINVAL;
			}
		} else if ((v = opt_value(args, n, &i, "--kinds", &missing))) {
			char known[256], bad[64];

			if (have_kinds) {
				tg_errf(err, errlen, "--kinds: given twice");
				return -EINVAL;
			}
			have_kinds = true;
			if (b2b_ev_kinds_parse(v, &f->kinds) < 0) {
				kinds_list(known, sizeof(known));
				unknown_kind(v, bad, sizeof(bad));
				if (bad[0])
					tg_errf(err, errlen,
						"--kinds '%.64s': unknown kind '%s' (kinds: %s)", v,
						bad, known);
				else
					tg_errf(err, errlen,
						"--kinds '%.64s': an empty kind (kinds: %s)", v,
						known);
				return -EINVAL;
			}
		} else if (missing) {
			tg_errf(err, errlen, "%s needs a value", args[i]);
			return -EINVAL;
		} else {
			tg_errf(err, errlen,
				"unknown argument '%.64s' (expected --call ID, --kinds KIND,...)",
				args[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- streams ------------------------------------------------------------------------------ */

static void stream_unlink(struct ev_stream *st)
{
	struct b2b_events_ctl *ec = st->ec;

	for (struct ev_stream **p = &ec->streams; *p; p = &(*p)->next) {
		if (*p == st) {
			*p = st->next;
			break;
		}
	}
	ec->n_streams--;
	cp_loop_del_fd(ec->loop, st->fd);
	b2b_events_unsubscribe(st->sub);
}

/* The handler ends it (with its last line); st is gone after */
static void stream_end(struct ev_stream *st, const char *reason)
{
	stream_unlink(st);
	cp_ctl_stream_end(st->req, reason);
	free(st);
}

/* Lines the subscription's queue lost: told before the next line */
static void tell_drops(struct ev_stream *st)
{
	uint64_t d = b2b_ev_sub_dropped(st->sub);

	if (d > st->dropped) {
		cp_ctl_stream_lost(st->req, d - st->dropped);
		st->dropped = d;
	}
}

/* Takes from the queue while the client keeps up; st may be gone after */
static void drain(struct ev_stream *st)
{
	struct b2b_ev ev;

	while (!st->paused) {
		if (cp_ctl_stream_full(st->req)) {
			/* leave them queued: the bus drops (and counts) what does not fit */
			if (cp_loop_mod_fd(st->ec->loop, st->fd, 0) == 0)
				st->paused = true;
			break;
		}
		if (!b2b_ev_sub_next(st->sub, &ev))
			break;
		tell_drops(st);
		if (st->kinds & B2B_EVK_BIT(ev.kind))
			cp_ctl_stream_send(st->req, b2b_ev_json(&ev));
		if (st->call && ev.kind == B2B_EVK_ENDED) {
			char why[64];

			snprintf(why, sizeof(why), "call %" PRIu64 " ended", st->call);
			stream_end(st, why);
			return;
		}
	}
	tell_drops(st);
}

static void on_ready(struct cp_loop *l, int fd, uint32_t events, void *arg)
{
	drain(arg);
}

/* The client read its backlog down: take from the queue again */
static void on_room(void *arg, struct cp_ctl_req *req)
{
	struct ev_stream *st = arg;

	if (st->paused && cp_loop_mod_fd(st->ec->loop, st->fd, EPOLLIN) == 0)
		st->paused = false;
	drain(st);
}

/* The client went: nothing more to tell it */
static void on_close(void *arg, struct cp_ctl_req *req)
{
	struct ev_stream *st = arg;

	stream_unlink(st);
	free(st);
}

static void cmd_events(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned n)
{
	struct b2b_events_ctl *ec = arg;
	struct b2b_ev_filter f, sf;
	struct b2b_call_view v;
	struct ev_stream *st;
	char err[512];
	int rc;

	if (b2b_events_ctl_args(args, n, &f, err, sizeof(err)) < 0) {
		cp_ctl_fail(req, EINVAL, "events: %s", err);
		return;
	}
	if (ec->stopped || !ec->bus) {
		cp_ctl_fail(req, ESHUTDOWN, "events: the control plane is stopping");
		return;
	}
	if (f.call && ec->b && b2b_call_get(ec->b, f.call, &v) < 0) {
		cp_ctl_fail(req, ENOENT, "events: no call %" PRIu64 " (or it is ending)", f.call);
		return;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		cp_ctl_fail(req, ENOMEM, "events: out of memory");
		return;
	}
	st->ec = ec;
	st->req = req;
	st->kinds = f.kinds ? f.kinds : B2B_EVK_ALL;
	st->call = f.call;
	sf = f;
	sf.kinds = st->kinds;
	if (f.call)
		sf.kinds |= B2B_EVK_BIT(B2B_EVK_ENDED); /* to know when it is over */
	st->sub = b2b_events_subscribe(ec->bus, &sf, B2B_EVENTS_CTL_DEPTH);
	if (!st->sub) {
		rc = errno;
		free(st);
		cp_ctl_fail(req, rc, "events: cannot subscribe: %s", strerror(rc));
		return;
	}
	st->fd = b2b_ev_sub_fd(st->sub);
	rc = cp_loop_add_fd(ec->loop, st->fd, EPOLLIN, on_ready, st);
	if (rc < 0) {
		b2b_events_unsubscribe(st->sub);
		free(st);
		cp_ctl_fail(req, -rc, "events: %s", strerror(-rc));
		return;
	}
	st->next = ec->streams;
	ec->streams = st;
	ec->n_streams++;
	TG_LOG(B2B, INFO, "control: events stream (kinds 0x%x, call %" PRIu64 ")", st->kinds,
		st->call);
	cp_ctl_stream_begin(req, on_close, on_room, st);
}

/* ---- the module ---------------------------------------------------------------------------- */

struct b2b_events_ctl *b2b_events_ctl_new(
	struct cp_ctl *ctl, struct cp_loop *l, struct b2b_events *bus, struct b2b *b)
{
	struct b2b_events_ctl *ec = calloc(1, sizeof(*ec));
	int rc;

	if (!ec)
		return NULL;
	ec->loop = l;
	ec->bus = bus;
	ec->b = b;
	ec->row = (struct cp_ctl_cmd){
		.words = "events",
		.usage = "[--call ID] [--kinds KIND,...]",
		.min_args = 0,
		.max_args = 4,
		.help = "Streams the session layer's events as they happen, one JSON object per "
			"line: time, call, kind and the kind's fields (state: from, to, event; "
			"incoming: from, to; established; ended: reason, sip_code, duration_ms; "
			"dtmf: digit, leg, method, direction, duration_ms; media-quality every "
			"b2bua.quality_interval: stream, leg, mos, jitter_ms, rtt_ms, lost, "
			"packets). --call: one call's only (the stream ends with it); --kinds: "
			"those kinds only (state, incoming, established, ended, dtmf, "
			"media-quality, transfer, bridge). Events a slow client could not take are "
			"counted and reported as {\"dropped\": N}. tgctl events stops after "
			"--count N events or --for SECONDS.",
		.fn = cmd_events,
		.arg = ec,
	};
	rc = cp_ctl_register(ctl, &ec->row, 1);
	if (rc < 0) {
		free(ec);
		errno = -rc;
		return NULL;
	}
	return ec;
}

void b2b_events_ctl_stop(struct b2b_events_ctl *ec)
{
	if (!ec)
		return;
	ec->stopped = true;
	while (ec->streams)
		stream_end(ec->streams, "the control plane is stopping");
}

void b2b_events_ctl_free(struct b2b_events_ctl *ec)
{
	if (!ec)
		return;
	b2b_events_ctl_stop(ec);
	free(ec);
}

unsigned b2b_events_ctl_streams(const struct b2b_events_ctl *ec)
{
	return ec->n_streams;
}
