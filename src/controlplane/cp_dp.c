/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Request/reply over the channel, seen from the control plane. Request ids are sequential, so
 * the table of requests in flight is an array indexed by id: the oldest id is the head of a FIFO
 * whose deadlines are in order (every request has the same timeout), which makes expiry a walk
 * from the head instead of a scan. The array doubles when the window of ids outgrows it.
 */
#include "cp_dp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "tg_chan.h"
#include "tg_log.h"
#include "tg_time.h"
#include "tollgate/version.h"

#define EVT_BURST 64
#define EVT_ROUNDS 8
/* how soon the loop looks at the event ring again while requests are in flight */
#define IN_FLIGHT_POLL_NS (100 * TG_NS_PER_US)

struct pending {
	uint64_t req_id; /* 0 = free */
	uint64_t deadline_ns;
	cp_dp_reply_fn fn;
	void *arg;
};

struct backlog {
	struct tg_msg *q;
	unsigned head;
	unsigned len;
	unsigned cap;
};

struct cp_dp {
	struct cp_loop *loop;
	struct cp_dp_params p;
	char instance[32];
	cp_dp_state_fn on_state;
	cp_dp_event_fn on_event;
	void *arg;

	struct tg_chan *chan;
	bool up;
	bool ever_up;
	bool hello_sent;
	int last_attach_err;
	uint32_t cp_gen;
	struct cp_dp_info info;

	uint64_t next_id;
	uint64_t oldest;
	struct pending *pend;
	uint64_t pend_mask;
	unsigned in_flight;

	struct backlog backlog[TG_CHAN_MAX_CMD_RINGS];
	struct cp_timer check;
	struct cp_dp_counters c;
};

static void check_timer(struct cp_loop *l, struct cp_timer *t, void *arg);
static uint64_t dp_poll(struct cp_loop *l, void *arg);

struct cp_dp *cp_dp_new(struct cp_loop *l, const struct cp_dp_params *p, cp_dp_state_fn on_state,
	cp_dp_event_fn on_event, void *arg)
{
	struct cp_dp *dp = calloc(1, sizeof(*dp));

	if (!dp)
		return NULL;
	dp->loop = l;
	dp->p = *p;
	snprintf(dp->instance, sizeof(dp->instance), "%s", p->instance);
	dp->p.instance = dp->instance;
	dp->on_state = on_state;
	dp->on_event = on_event;
	dp->arg = arg;
	dp->next_id = dp->oldest = 1;
	dp->pend_mask = 1023;
	dp->pend = calloc(dp->pend_mask + 1, sizeof(*dp->pend));
	if (!dp->pend || getrandom(&dp->cp_gen, sizeof(dp->cp_gen), 0) != sizeof(dp->cp_gen)) {
		free(dp->pend);
		free(dp);
		return NULL;
	}
	dp->cp_gen |= 1;
	cp_timer_init(&dp->check, check_timer, dp);
	if (cp_loop_add_poller(l, dp_poll, dp) < 0) {
		free(dp->pend);
		free(dp);
		return NULL;
	}
	cp_timer_start(l, &dp->check, 0);
	return dp;
}

static void fail_all(struct cp_dp *dp, int status)
{
	for (uint64_t id = dp->oldest; id < dp->next_id; id++) {
		struct pending *pe = &dp->pend[id & dp->pend_mask];

		if (pe->req_id != id)
			continue;
		pe->req_id = 0;
		dp->in_flight--;
		if (status == -ECONNRESET)
			dp->c.resets++;
		pe->fn(dp, NULL, status, pe->arg);
	}
	dp->oldest = dp->next_id;
	for (unsigned r = 0; r < TG_CHAN_MAX_CMD_RINGS; r++)
		dp->backlog[r].head = dp->backlog[r].len = 0;
}

void cp_dp_free(struct cp_dp *dp)
{
	if (!dp)
		return;
	cp_timer_stop(dp->loop, &dp->check);
	fail_all(dp, -ECONNRESET);
	tg_chan_detach(dp->chan);
	for (unsigned r = 0; r < TG_CHAN_MAX_CMD_RINGS; r++)
		free(dp->backlog[r].q);
	free(dp->pend);
	free(dp);
}

static void go_down(struct cp_dp *dp, const char *why)
{
	bool was_up = dp->up;

	if (dp->chan)
		TG_LOG(CP, WARN, "dataplane %08x %s: detaching, %u request(s) in flight fail",
			dp->info.dp_gen, why, dp->in_flight);
	dp->up = false;
	dp->hello_sent = false;
	tg_chan_detach(dp->chan);
	dp->chan = NULL;
	fail_all(dp, -ECONNRESET);
	if (was_up && dp->on_state)
		dp->on_state(dp, CP_DP_DOWN, dp->arg);
}

static int grow_pending(struct cp_dp *dp)
{
	uint64_t mask = dp->pend_mask * 2 + 1;
	struct pending *np = calloc(mask + 1, sizeof(*np));

	if (!np)
		return -ENOMEM;
	for (uint64_t id = dp->oldest; id < dp->next_id; id++)
		if (dp->pend[id & dp->pend_mask].req_id == id)
			np[id & mask] = dp->pend[id & dp->pend_mask];
	free(dp->pend);
	dp->pend = np;
	dp->pend_mask = mask;
	return 0;
}

static int backlog_push(struct cp_dp *dp, unsigned ring, const struct tg_msg *m)
{
	struct backlog *b = &dp->backlog[ring];

	if (b->len == dp->p.backlog_max) {
		dp->c.refused++;
		return -ENOBUFS;
	}
	if (b->len == b->cap) {
		unsigned cap = b->cap ? b->cap * 2 : 64;
		struct tg_msg *q = malloc(cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		for (unsigned i = 0; i < b->len; i++)
			q[i] = b->q[(b->head + i) % b->cap];
		free(b->q);
		b->q = q;
		b->head = 0;
		b->cap = cap;
	}
	b->q[(b->head + b->len++) % b->cap] = *m;
	dp->c.backlogged++;
	if (b->len > dp->c.backlog_peak)
		dp->c.backlog_peak = b->len;
	return 0;
}

/* Sends what waits in ring's backlog, oldest first; true if it is now empty. */
static bool backlog_flush(struct cp_dp *dp, unsigned ring)
{
	struct backlog *b = &dp->backlog[ring];

	while (b->len) {
		unsigned run = b->cap - b->head < b->len ? b->cap - b->head : b->len;
		unsigned sent = tg_chan_cmd_send(dp->chan, ring, &b->q[b->head], run);

		b->head = (b->head + sent) % b->cap;
		b->len -= sent;
		if (sent < run)
			return false;
	}
	return true;
}

static int request(struct cp_dp *dp, unsigned ring, struct tg_msg *m, cp_dp_reply_fn fn, void *arg,
	bool internal)
{
	struct pending *pe;
	int rc;

	if (!dp->chan || (!dp->up && !internal))
		return -ENOTCONN;
	if (ring >= tg_chan_n_cmd_rings(dp->chan))
		return -EINVAL;
	if (dp->next_id - dp->oldest > dp->pend_mask && grow_pending(dp) < 0)
		return -ENOMEM;
	m->req_id = dp->next_id;
	m->cp_gen = dp->cp_gen;
	m->flags &= (uint16_t)~TG_MSGF_REPLY;
	/* order on a ring is kept: nothing jumps a non-empty backlog */
	if (dp->backlog[ring].len || tg_chan_cmd_send(dp->chan, ring, m, 1) != 1) {
		rc = backlog_push(dp, ring, m);
		if (rc < 0)
			return rc;
	}
	pe = &dp->pend[dp->next_id & dp->pend_mask];
	pe->req_id = dp->next_id++;
	pe->deadline_ns = cp_loop_now(dp->loop) + dp->p.request_timeout_ns;
	pe->fn = fn;
	pe->arg = arg;
	dp->in_flight++;
	dp->c.requests++;
	return 0;
}

int cp_dp_request(struct cp_dp *dp, unsigned ring, struct tg_msg *m, cp_dp_reply_fn fn, void *arg)
{
	return request(dp, ring, m, fn, arg, false);
}

static void on_hello(struct cp_dp *dp, const struct tg_msg *r, int status, void *arg)
{
	bool restarted;

	if (status < 0 || !r) {
		TG_LOG(CP, WARN, "HELLO to the dataplane failed: %s", strerror(-status));
		if (dp->chan)
			go_down(dp, "did not answer HELLO");
		return;
	}
	restarted = dp->ever_up && r->dp_gen != dp->info.dp_gen;
	dp->info.dp_gen = r->dp_gen;
	dp->info.dp_pid = r->u.hello.dp_pid;
	dp->info.n_lcores = r->u.hello.n_lcores;
	dp->info.n_ports = r->u.hello.n_ports;
	snprintf(dp->info.version, sizeof(dp->info.version), "%.31s", r->u.hello.version);
	dp->up = true;
	dp->ever_up = true;
	if (restarted)
		dp->c.restarts++;
	TG_LOG(CP, NOTICE, "dataplane %s: generation %08x, pid %u, %u lcore(s), %u port(s), %s",
		restarted ? "restarted" : "up", dp->info.dp_gen, dp->info.dp_pid, dp->info.n_lcores,
		dp->info.n_ports, dp->info.version);
	if (dp->on_state)
		dp->on_state(dp, restarted ? CP_DP_RESTARTED : CP_DP_UP, dp->arg);
}

static void try_attach(struct cp_dp *dp)
{
	struct tg_msg hello = {.type = TG_MSG_HELLO};
	struct tg_chan *ch;
	char err[256];
	int rc;

	rc = tg_chan_attach(dp->p.instance, &ch, err, sizeof(err));
	if (rc == 0 && tg_age_ns(cp_loop_now(dp->loop), tg_chan_dp_heartbeat_ns(ch)) >
			       dp->p.dp_timeout_ns) {
		/* a segment left by a dataplane that died: wait for its successor */
		snprintf(err, sizeof(err), "channel of instance '%s' has a stale heartbeat",
			dp->p.instance);
		tg_chan_detach(ch);
		rc = -ESTALE;
	}
	if (rc < 0) {
		if (rc != dp->last_attach_err)
			TG_LOGL(CP, rc == -ENOENT || rc == -EAGAIN ? TG_LOG_INFO : TG_LOG_ERR,
				"waiting for the dataplane: %s", err);
		dp->last_attach_err = rc;
		return;
	}
	dp->last_attach_err = 0;
	dp->chan = ch;
	tg_chan_cp_announce(ch, dp->cp_gen, (int32_t)getpid());
	hello.u.hello.cp_pid = (uint32_t)getpid();
	snprintf(hello.u.hello.version, sizeof(hello.u.hello.version), "%s", TOLLGATE_VERSION);
	if (request(dp, 0, &hello, on_hello, NULL, true) < 0)
		go_down(dp, "refused HELLO");
	else
		dp->hello_sent = true;
}

static void expire(struct cp_dp *dp, uint64_t now)
{
	while (dp->oldest < dp->next_id) {
		struct pending *pe = &dp->pend[dp->oldest & dp->pend_mask];

		if (pe->req_id == dp->oldest) {
			if (pe->deadline_ns > now)
				break;
			pe->req_id = 0;
			dp->in_flight--;
			dp->c.timeouts++;
			TG_LOG(CP, WARN, "request %llu to the dataplane timed out",
				(unsigned long long)dp->oldest);
			dp->oldest++;
			pe->fn(dp, NULL, -ETIMEDOUT, pe->arg);
			continue;
		}
		dp->oldest++;
	}
}

static void check_timer(struct cp_loop *l, struct cp_timer *t, void *arg)
{
	struct cp_dp *dp = arg;
	uint64_t now = cp_loop_now(l);

	if (dp->chan) {
		tg_chan_cp_heartbeat(dp->chan, now);
		if (tg_chan_state(dp->chan) != TG_CHAN_STATE_READY)
			go_down(dp, "stopped");
		else if (tg_chan_replaced(dp->chan))
			go_down(dp, "was replaced by a new channel");
		else if (tg_age_ns(now, tg_chan_dp_heartbeat_ns(dp->chan)) > dp->p.dp_timeout_ns)
			go_down(dp, "stopped its heartbeat");
	}
	if (!dp->chan)
		try_attach(dp);
	expire(dp, now);
	cp_timer_start(l, t, dp->p.check_interval_ns);
}

static void handle_msg(struct cp_dp *dp, const struct tg_msg *m)
{
	struct pending *pe;

	if (!(m->flags & TG_MSGF_REPLY)) {
		dp->c.events++;
		if (m->type == TG_MSG_DP_STOPPING) {
			go_down(dp, "is stopping");
			return;
		}
		if (dp->on_event)
			dp->on_event(dp, m, dp->arg);
		return;
	}
	pe = &dp->pend[m->req_id & dp->pend_mask];
	if (m->cp_gen != dp->cp_gen || pe->req_id != m->req_id || m->req_id == 0) {
		dp->c.stray_replies++;
		return;
	}
	pe->req_id = 0;
	dp->in_flight--;
	dp->c.replies++;
	pe->fn(dp, m, m->status, pe->arg);
}

static uint64_t dp_poll(struct cp_loop *l, void *arg)
{
	struct cp_dp *dp = arg;
	struct tg_msg msgs[EVT_BURST];
	bool backlog = false;

	(void)l;
	if (!dp->chan)
		return UINT64_MAX;
	for (unsigned r = 0; r < tg_chan_n_cmd_rings(dp->chan); r++)
		if (dp->backlog[r].len && !backlog_flush(dp, r))
			backlog = true;
	for (unsigned round = 0; round < EVT_ROUNDS && dp->chan; round++) {
		unsigned n = tg_chan_evt_recv(dp->chan, msgs, EVT_BURST);

		for (unsigned i = 0; i < n && dp->chan; i++)
			handle_msg(dp, &msgs[i]);
		if (n < EVT_BURST)
			break;
	}
	return dp->in_flight || backlog ? IN_FLIGHT_POLL_NS : UINT64_MAX;
}

void cp_dp_ep_update_msg(struct tg_msg *m, const struct cp_dp_ep_update *u)
{
	memset(m, 0, sizeof(*m));
	m->type = TG_MSG_EP_UPDATE;
	m->u.ep.key = u->key;
	m->u.ep.remote = u->remote;
	m->u.ep.remote_rtcp_port = u->remote_rtcp_port;
	m->u.ep.dir = u->dir;
	m->u.ep.flags = u->flags;
	m->u.ep.clock_rate = u->clock_rate;
	m->u.ep.out_ssrc = u->out_ssrc;
	m->u.ep.pt_in = u->pt_in;
	m->u.ep.pt_out = u->pt_out;
	m->u.ep.te_pt = u->te_pt;
}

int cp_dp_ep_update(struct cp_dp *dp, const struct cp_dp_ep_update *u, cp_dp_reply_fn fn, void *arg)
{
	struct tg_msg m;

	cp_dp_ep_update_msg(&m, u);
	return cp_dp_request(dp, 0, &m, fn, arg);
}

int cp_dp_ep_dtmf_msg(struct tg_msg *m, const struct cp_dp_dtmf *d)
{
	const size_t n = d->digits ? strnlen(d->digits, TG_DTMF_DIGITS_MAX + 1) : 0;

	memset(m, 0, sizeof(*m));
	if (n == 0 || n > TG_DTMF_DIGITS_MAX || d->pt == 0 || d->pt > 127 || d->volume > 63 ||
		d->duration_ms > UINT16_MAX || d->gap_ms > UINT16_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (tg_dtmf_event(d->digits[i]) < 0)
			return -EINVAL;
	m->type = TG_MSG_EP_DTMF;
	m->u.ep_dtmf.key = d->key;
	m->u.ep_dtmf.pt = d->pt;
	m->u.ep_dtmf.duration_ms = (uint16_t)d->duration_ms;
	m->u.ep_dtmf.gap_ms = (uint16_t)d->gap_ms;
	m->u.ep_dtmf.volume = (uint8_t)d->volume;
	m->u.ep_dtmf.n_digits = (uint8_t)n;
	memcpy(m->u.ep_dtmf.digits, d->digits, n);
	return 0;
}

int cp_dp_ep_dtmf(struct cp_dp *dp, const struct cp_dp_dtmf *d, cp_dp_reply_fn fn, void *arg)
{
	struct tg_msg m;
	int rc = cp_dp_ep_dtmf_msg(&m, d);

	return rc < 0 ? rc : cp_dp_request(dp, 0, &m, fn, arg);
}

const struct tg_msg_dtmf *cp_dp_event_dtmf(const struct tg_msg *ev)
{
	return ev->type == TG_MSG_DTMF && !(ev->flags & TG_MSGF_REPLY) ? &ev->u.dtmf : NULL;
}

bool cp_dp_is_up(const struct cp_dp *dp)
{
	return dp->up;
}

const struct cp_dp_info *cp_dp_info(const struct cp_dp *dp)
{
	return &dp->info;
}

const struct cp_dp_counters *cp_dp_counters(const struct cp_dp *dp)
{
	return &dp->c;
}

unsigned cp_dp_in_flight(const struct cp_dp *dp)
{
	return dp->in_flight;
}

uint32_t cp_dp_cp_generation(const struct cp_dp *dp)
{
	return dp->cp_gen;
}
