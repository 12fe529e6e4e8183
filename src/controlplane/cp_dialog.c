/* SPDX-License-Identifier: BSD-3-Clause */
/* SIP dialogs: identity, targets, route sets, and the messages sent inside them. */
#include "cp_dialog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

/* splitmix64 seeded once from the kernel: tags and branches must not repeat or be guessed */
static uint64_t rng_state;

uint64_t cp_sip_random(void)
{
	uint64_t z;

	if (!rng_state && getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state))
		rng_state = (uint64_t)(uintptr_t)&rng_state ^ 0x9e3779b97f4a7c15ull;
	z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void cp_sip_token(char *out, unsigned n)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t r = 0;

	for (unsigned i = 0; i < n; i++) {
		if (i % 16 == 0)
			r = cp_sip_random();
		out[i] = hex[r & 15];
		r >>= 4;
	}
	out[n] = '\0';
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* The whole Call-ID ("number@host"): libosip2 keeps its two halves apart */
static char *call_id_text(const osip_call_id_t *c)
{
	char *s;

	if (!c || !c->number)
		return NULL;
	if (!c->host)
		return strdup(c->number);
	return asprintf(&s, "%s@%s", c->number, c->host) < 0 ? NULL : s;
}

/* A From/To header's value without its tag parameter, as text. */
static char *uri_header_text(const osip_from_t *h)
{
	osip_from_t *c = NULL;
	char *s = NULL, *out;

	if (!h || osip_from_clone(h, &c) != 0)
		return NULL;
	for (int i = osip_list_size(&c->gen_params) - 1; i >= 0; i--) {
		osip_generic_param_t *p = osip_list_get(&c->gen_params, i);

		if (p && p->gname && !strcasecmp(p->gname, "tag")) {
			osip_list_remove(&c->gen_params, i);
			osip_generic_param_free(p);
		}
	}
	osip_from_to_str(c, &s);
	osip_from_free(c);
	out = dup_or_null(s);
	osip_free(s);
	return out;
}

static const char *tag_of(const osip_from_t *h)
{
	osip_generic_param_t *tag = NULL;

	if (!h || osip_from_get_tag((osip_from_t *)h, &tag) != 0 || !tag)
		return NULL;
	return tag->gvalue;
}

static char *contact_uri(const osip_message_t *m)
{
	osip_contact_t *c = osip_list_get(&m->contacts, 0);
	char *s = NULL, *out;

	if (!c || !c->url || osip_uri_to_str(c->url, &s) != 0)
		return NULL;
	out = dup_or_null(s);
	osip_free(s);
	return out;
}

static void clear_routes(struct cp_dialog *d)
{
	for (unsigned i = 0; i < d->nroutes; i++)
		free(d->routes[i]);
	d->nroutes = 0;
}

/* Record-Route values in order (UAS) or reversed (UAC), §12.1.1 / §12.1.2 */
static void take_routes(struct cp_dialog *d, const osip_message_t *m, bool reverse)
{
	int n = osip_list_size(&m->record_routes);

	clear_routes(d);
	for (int i = 0; i < n && d->nroutes < CP_DIALOG_MAX_ROUTES; i++) {
		osip_record_route_t *rr = osip_list_get(&m->record_routes, reverse ? n - 1 - i : i);
		char *s = NULL;

		if (rr && osip_record_route_to_str(rr, &s) == 0 && s) {
			d->routes[d->nroutes++] = strdup(s);
			osip_free(s);
		}
	}
}

int cp_dialog_init_uas(struct cp_dialog *d, const osip_message_t *req,
	const struct cp_sip_peer *peer, const char *local_hostport, const char *user_agent)
{
	char tag[17];

	memset(d, 0, sizeof(*d));
	if (!req->call_id || !req->call_id->number || !req->from || !req->to || !req->cseq)
		return -EINVAL;
	cp_sip_token(tag, 16);
	d->call_id = call_id_text(req->call_id);
	d->local_tag = strdup(tag);
	d->remote_tag = dup_or_null(tag_of(req->from));
	d->local_uri = uri_header_text(req->to);
	d->remote_uri = uri_header_text(req->from);
	d->remote_target = contact_uri(req);
	d->remote_cseq = (uint32_t)strtoul(req->cseq->number, NULL, 10);
	d->local_cseq = 1;
	d->peer = *peer;
	d->user_agent = user_agent;
	snprintf(d->local_hostport, sizeof(d->local_hostport), "%s", local_hostport);
	take_routes(d, req, false);
	if (!d->call_id || !d->local_tag || !d->local_uri || !d->remote_uri) {
		cp_dialog_fini(d);
		return -ENOMEM;
	}
	return 0;
}

int cp_dialog_init_uac(struct cp_dialog *d, const char *from_user, const char *from_display,
	const char *ruri, const struct cp_sip_peer *peer, const char *local_hostport,
	const char *user_agent)
{
	char tag[17], cid[33], *from = NULL, *to = NULL;
	bool quote = from_display && *from_display && from_display[0] != '"';

	memset(d, 0, sizeof(*d));
	cp_sip_token(tag, 16);
	cp_sip_token(cid, 32);
	if (asprintf(&from, "%s%s%s%s<sip:%s@%s>", from_display ? (quote ? "\"" : "") : "",
		    from_display ? from_display : "", from_display ? (quote ? "\"" : "") : "",
		    from_display ? " " : "", from_user && *from_user ? from_user : "anonymous",
		    local_hostport) < 0)
		from = NULL;
	if (asprintf(&to, "<%s>", ruri) < 0)
		to = NULL;
	d->call_id = strdup(cid);
	d->local_tag = strdup(tag);
	d->local_uri = from;
	d->remote_uri = to;
	d->remote_target = strdup(ruri);
	d->local_cseq = 1;
	d->uac = true;
	d->peer = *peer;
	d->user_agent = user_agent;
	snprintf(d->local_hostport, sizeof(d->local_hostport), "%s", local_hostport);
	if (!d->call_id || !d->local_tag || !d->local_uri || !d->remote_uri || !d->remote_target) {
		cp_dialog_fini(d);
		return -ENOMEM;
	}
	return 0;
}

void cp_dialog_fini(struct cp_dialog *d)
{
	free(d->call_id);
	free(d->local_tag);
	free(d->remote_tag);
	free(d->local_uri);
	free(d->remote_uri);
	free(d->remote_target);
	clear_routes(d);
	memset(d, 0, sizeof(*d));
}

char *cp_dialog_key(const struct cp_dialog *d)
{
	char *k;

	return asprintf(&k, "%s|%s", d->call_id, d->local_tag) < 0 ? NULL : k;
}

static char *key_of(const osip_call_id_t *call_id, const char *our_tag)
{
	char *cid = call_id_text(call_id), *k = NULL;

	if (our_tag && cid && asprintf(&k, "%s|%s", cid, our_tag) < 0)
		k = NULL;
	free(cid);
	return k;
}

char *cp_dialog_key_of_request(const osip_message_t *req)
{
	return key_of(req->call_id, tag_of(req->to));
}

char *cp_dialog_key_of_response(const osip_message_t *resp)
{
	return key_of(resp->call_id, tag_of(resp->from));
}

void cp_dialog_uac_response(struct cp_dialog *d, const osip_message_t *resp)
{
	const char *tag = tag_of(resp->to);
	char *target;

	if (tag && !d->remote_tag)
		d->remote_tag = strdup(tag);
	if (resp->status_code > 100 && resp->status_code < 300 && (target = contact_uri(resp))) {
		free(d->remote_target);
		d->remote_target = target;
	}
	/* RFC 3261 12.1.2: the route set comes with the response that creates the (early) dialog
	 * and is taken again from the 2xx that confirms it, then never changes */
	if (resp->status_code > 100 && resp->status_code < 200 && tag && !d->confirmed)
		take_routes(d, resp, true);
	if (resp->status_code >= 200 && resp->status_code < 300 && !d->confirmed) {
		take_routes(d, resp, true);
		d->confirmed = true;
	}
}

int cp_dialog_uas_request(struct cp_dialog *d, const osip_message_t *req)
{
	uint32_t cseq = req->cseq ? (uint32_t)strtoul(req->cseq->number, NULL, 10) : 0;
	char *target;

	if (MSG_IS_ACK(req) || MSG_IS_CANCEL(req))
		return 0;
	if (d->remote_cseq && cseq < d->remote_cseq)
		return -1;
	d->remote_cseq = cseq;
	if ((MSG_IS_INVITE(req) || MSG_IS_UPDATE(req)) && (target = contact_uri(req))) {
		free(d->remote_target);
		d->remote_target = target;
	}
	return 0;
}

int cp_sip_add_header(osip_message_t *m, const char *name, const char *value)
{
	return osip_message_set_header(m, name, value) == 0 ? 0 : -ENOMEM;
}

int cp_sip_set_body(osip_message_t *m, const char *type, const char *body, size_t len)
{
	char cl[16];

	/* libosip2 refuses a second Content-Length: replace the one set when the message was made
	 */
	if (m->content_length) {
		osip_content_length_free(m->content_length);
		m->content_length = NULL;
	}
	/* a body set before is replaced, not appended: libosip2 keeps a list of bodies and refuses
	 * a second Content-Type */
	while (osip_list_size(&m->bodies) > 0) {
		osip_body_t *old = osip_list_get(&m->bodies, 0);

		osip_list_remove(&m->bodies, 0);
		osip_body_free(old);
	}
	if (m->content_type) {
		osip_content_type_free(m->content_type);
		m->content_type = NULL;
	}
	m->message_property = 2; /* serialize again: the cached text is stale */
	if (!body) {
		osip_message_set_content_length(m, "0");
		return 0;
	}
	if (osip_message_set_body(m, body, len) != 0 || osip_message_set_content_type(m, type) != 0)
		return -ENOMEM;
	snprintf(cl, sizeof(cl), "%zu", len);
	osip_message_set_content_length(m, cl);
	return 0;
}

/* Our Via names the leg's transport: libosip2 runs the retransmission timers (A, E, G) from it,
 * and they must not run over TCP (RFC 3261 §17.1.1.2, §17.1.2.2). */
static int set_via(osip_message_t *m, const struct cp_dialog *d, const char *branch)
{
	char via[160];

	snprintf(via, sizeof(via), "SIP/2.0/%s %s;branch=z9hG4bK%s;rport",
		d->peer.stream ? "TCP" : "UDP", d->local_hostport, branch);
	return osip_message_set_via(m, via);
}

/* Our Contact on this leg; over TCP it says so, for requests the peer sends us in the dialog */
static void set_contact(osip_message_t *m, const struct cp_dialog *d)
{
	char contact[128];

	snprintf(contact, sizeof(contact), "<sip:tollgate@%s%s>", d->local_hostport,
		d->peer.stream ? ";transport=tcp" : "");
	osip_message_set_contact(m, contact);
}

static osip_message_t *base_request(struct cp_dialog *d, const char *method, uint32_t cseq)
{
	osip_message_t *m = NULL;
	osip_uri_t *uri = NULL;
	char branch[25], buf[512];
	int rc = 0;

	if (osip_message_init(&m) != 0)
		return NULL;
	osip_message_set_method(m, osip_strdup(method));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	if (osip_uri_init(&uri) != 0 || osip_uri_parse(uri, d->remote_target) != 0) {
		osip_uri_free(uri);
		osip_message_free(m);
		return NULL;
	}
	osip_message_set_uri(m, uri);
	cp_sip_token(branch, 24);
	rc |= set_via(m, d, branch);
	for (unsigned i = 0; i < d->nroutes; i++)
		rc |= osip_message_set_route(m, d->routes[i]);
	snprintf(buf, sizeof(buf), "%s;tag=%s", d->local_uri, d->local_tag);
	rc |= osip_message_set_from(m, buf);
	if (d->remote_tag)
		snprintf(buf, sizeof(buf), "%s;tag=%s", d->remote_uri, d->remote_tag);
	else
		snprintf(buf, sizeof(buf), "%s", d->remote_uri);
	rc |= osip_message_set_to(m, buf);
	rc |= osip_message_set_call_id(m, d->call_id);
	snprintf(buf, sizeof(buf), "%u %s", cseq, method);
	rc |= osip_message_set_cseq(m, buf);
	rc |= osip_message_set_max_forwards(m, "70");
	if (rc) {
		osip_message_free(m);
		return NULL;
	}
	return m;
}

osip_message_t *cp_dialog_request(struct cp_dialog *d, const char *method)
{
	osip_message_t *m = base_request(d, method, d->local_cseq++);

	if (!m)
		return NULL;
	if (!strcmp(method, "INVITE") || !strcmp(method, "UPDATE"))
		set_contact(m, d);
	if (d->user_agent)
		cp_sip_add_header(m, "User-Agent", d->user_agent);
	osip_message_set_content_length(m, "0");
	return m;
}

osip_message_t *cp_dialog_ack(struct cp_dialog *d, uint32_t cseq)
{
	osip_message_t *m = base_request(d, "ACK", cseq);

	if (m)
		osip_message_set_content_length(m, "0");
	return m;
}

osip_message_t *cp_dialog_cancel(const osip_message_t *invite)
{
	osip_message_t *m = NULL;
	osip_via_t *via = NULL;
	char buf[64];

	if (osip_message_init(&m) != 0)
		return NULL;
	osip_message_set_method(m, osip_strdup("CANCEL"));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	osip_uri_clone(invite->req_uri, &m->req_uri);
	if (osip_via_clone(osip_list_get(&invite->vias, 0), &via) == 0)
		osip_list_add(&m->vias, via, -1);
	osip_from_clone(invite->from, &m->from);
	osip_to_clone(invite->to, &m->to);
	osip_call_id_clone(invite->call_id, &m->call_id);
	snprintf(buf, sizeof(buf), "%s CANCEL", invite->cseq->number);
	osip_message_set_cseq(m, buf);
	osip_list_clone(&invite->routes, &m->routes, (int (*)(void *, void **))osip_route_clone);
	osip_message_set_max_forwards(m, "70");
	osip_message_set_content_length(m, "0");
	if (!m->req_uri || !via || !m->from || !m->to || !m->call_id || !m->cseq) {
		osip_message_free(m);
		return NULL;
	}
	return m;
}

static const char *std_reason(int code)
{
	const char *r = osip_message_get_reason(code);

	return r ? r : "Unknown";
}

osip_message_t *cp_sip_make_response(
	const osip_message_t *req, int code, const char *reason, const char *tag)
{
	osip_message_t *m = NULL;
	osip_generic_param_t *have = NULL;

	if (osip_message_init(&m) != 0)
		return NULL;
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	osip_message_set_status_code(m, code);
	osip_message_set_reason_phrase(m, osip_strdup(reason ? reason : std_reason(code)));
	osip_list_clone(&req->vias, &m->vias, (int (*)(void *, void **))osip_via_clone);
	osip_from_clone(req->from, &m->from);
	osip_to_clone(req->to, &m->to);
	osip_call_id_clone(req->call_id, &m->call_id);
	osip_cseq_clone(req->cseq, &m->cseq);
	if (!m->from || !m->to || !m->call_id || !m->cseq) {
		osip_message_free(m);
		return NULL;
	}
	if (tag && code > 100 && (osip_to_get_tag(m->to, &have) != 0 || !have))
		osip_to_set_tag(m->to, osip_strdup(tag));
	osip_message_set_content_length(m, "0");
	return m;
}

osip_message_t *cp_dialog_response(
	const struct cp_dialog *d, const osip_message_t *req, int code, const char *reason)
{
	osip_message_t *m = cp_sip_make_response(req, code, reason, d->local_tag);

	if (!m)
		return NULL;
	if (code > 100 && code < 300 && (MSG_IS_INVITE(req) || MSG_IS_UPDATE(req))) {
		set_contact(m, d);
		for (int i = 0; i < osip_list_size(&req->record_routes); i++) {
			osip_record_route_t *rr = osip_list_get(&req->record_routes, i), *c = NULL;

			if (osip_record_route_clone(rr, &c) == 0)
				osip_list_add(&m->record_routes, c, -1);
		}
	}
	if (d->user_agent)
		cp_sip_add_header(m, "Server", d->user_agent);
	return m;
}
