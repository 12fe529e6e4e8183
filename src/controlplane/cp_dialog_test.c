/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP dialogs: the UAS and UAC sides' identity from real parsed messages, the dialog keys, the
 * requests built inside a dialog (Request-URI, route set order, CSeq, fresh branches, tags,
 * Contact, nothing of the other leg), ACK for a 2xx, CANCEL, responses, the CSeq rule and
 * target refreshes, what a UAC learns from responses, and bodies. Every message built here is
 * serialized and parsed again.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "cp_dialog.h"

#define LOCAL "127.0.0.1:5070"

/* The caller's INVITE as it reaches the appliance through two proxies (Record-Route p1, p2) */
static const char invite_a[] = "INVITE sip:bob@127.0.0.1:5070 SIP/2.0\r\n"
			       "Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKproxy1hop\r\n"
			       "Via: SIP/2.0/UDP 10.1.1.1:5062;branch=z9hG4bKcallerbranch;rport\r\n"
			       "Max-Forwards: 68\r\n"
			       "Record-Route: <sip:p1.example.test;lr>\r\n"
			       "Record-Route: <sip:p2.example.test;lr>\r\n"
			       "From: \"Alice\" <sip:alice@example.test>;tag=alicetag1\r\n"
			       "To: <sip:bob@example.test>\r\n"
			       "Call-ID: a84b4c76e66710@pc33.example.test\r\n"
			       "CSeq: 314159 INVITE\r\n"
			       "Contact: <sip:alice@10.1.1.1:5062;transport=udp>\r\n"
			       "User-Agent: SecretPhone/1.0\r\n"
			       "Subject: secret-subject\r\n"
			       "Content-Type: application/sdp\r\n"
			       "Content-Length: 0\r\n"
			       "\r\n";

static osip_message_t *parse(const char *text)
{
	osip_message_t *m = NULL;

	assert_int_equal(osip_message_init(&m), 0);
	if (osip_message_parse(m, text, strlen(text)) != 0)
		fail_msg("does not parse:\n%s", text);
	return m;
}

/* m serialized and parsed again (the copy is what the tests look at); text keeps the string */
static osip_message_t *reparse(const osip_message_t *m, char **text)
{
	char *s = NULL;
	size_t len = 0;
	osip_message_t *back;

	assert_non_null(m);
	assert_int_equal(osip_message_to_str((osip_message_t *)m, &s, &len), 0);
	assert_non_null(s);
	assert_int_equal(osip_message_init(&back), 0);
	if (osip_message_parse(back, s, len) != 0)
		fail_msg("our message does not parse again:\n%s", s);
	if (text)
		*text = s;
	else
		osip_free(s);
	return back;
}

static void peer_v4(struct cp_sip_peer *p, const char *ip, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)&p->addr;

	memset(p, 0, sizeof(*p));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s->sin_addr);
	p->len = sizeof(*s);
	p->fd = 3;
}

static const char *tag_of(osip_from_t *h)
{
	osip_generic_param_t *t = NULL;

	if (!h || osip_from_get_tag(h, &t) != 0 || !t)
		return NULL;
	return t->gvalue;
}

static int tag_count(osip_from_t *h)
{
	int n = 0;

	for (int i = 0; i < osip_list_size(&h->gen_params); i++) {
		osip_generic_param_t *g = osip_list_get(&h->gen_params, i);

		n += g->gname && !strcmp(g->gname, "tag");
	}
	return n;
}

static const char *branch_of(const osip_message_t *m)
{
	osip_via_t *v = osip_list_get(&m->vias, 0);
	osip_generic_param_t *b = NULL;

	if (!v || osip_via_param_get_byname(v, "branch", &b) != 0 || !b)
		return NULL;
	return b->gvalue;
}

static char *ruri(const osip_message_t *m)
{
	char *s = NULL, *out;

	assert_int_equal(osip_uri_to_str(m->req_uri, &s), 0);
	out = strdup(s);
	osip_free(s);
	return out;
}

static void assert_route(const osip_message_t *m, int i, const char *want)
{
	osip_route_t *r = osip_list_get(&m->routes, i);
	char *s = NULL;

	assert_non_null(r);
	assert_int_equal(osip_route_to_str(r, &s), 0);
	if (!strstr(s, want))
		fail_msg("Route %d is '%s', expected '%s'", i, s, want);
	osip_free(s);
}

static bool has_contact(const osip_message_t *m)
{
	return osip_list_size(&m->contacts) > 0;
}

static void uas_dialog(struct cp_dialog *d)
{
	osip_message_t *inv = parse(invite_a);
	struct cp_sip_peer p;

	peer_v4(&p, "10.9.9.9", 5060);
	assert_int_equal(cp_dialog_init_uas(d, inv, &p, LOCAL, "tollgate-test"), 0);
	osip_message_free(inv);
}

/* ---- init ----------------------------------------------------------------------------------- */

static void test_init_uas(void **state)
{
	struct cp_dialog d;

	(void)state;
	uas_dialog(&d);
	assert_string_equal(d.call_id, "a84b4c76e66710@pc33.example.test");
	assert_non_null(d.local_tag);
	assert_int_equal(strlen(d.local_tag), 16);
	assert_string_equal(d.remote_tag, "alicetag1");
	assert_non_null(strstr(d.local_uri, "sip:bob@example.test"));
	assert_null(strstr(d.local_uri, "tag="));
	assert_non_null(strstr(d.remote_uri, "sip:alice@example.test"));
	assert_non_null(strstr(d.remote_uri, "Alice"));
	assert_null(strstr(d.remote_uri, "tag="));
	assert_string_equal(d.remote_target, "sip:alice@10.1.1.1:5062;transport=udp");
	assert_int_equal(d.remote_cseq, 314159);
	assert_int_equal(d.local_cseq, 1);
	assert_false(d.uac);
	assert_false(d.confirmed);
	/* §12.1.1: the UAS keeps Record-Route in order */
	assert_int_equal(d.nroutes, 2);
	assert_non_null(strstr(d.routes[0], "p1.example.test"));
	assert_non_null(strstr(d.routes[1], "p2.example.test"));
	assert_string_equal(d.local_hostport, LOCAL);
	assert_int_equal(ntohs(((struct sockaddr_in *)&d.peer.addr)->sin_port), 5060);
	cp_dialog_fini(&d);
	assert_null(d.call_id);
}

static void test_init_uas_refuses_incomplete(void **state)
{
	osip_message_t *m = parse("BYE sip:bob@127.0.0.1 SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKx\r\n"
				  "From: <sip:a@x>;tag=1\r\n"
				  "To: <sip:b@y>\r\n"
				  "CSeq: 1 BYE\r\n"
				  "\r\n");
	struct cp_dialog d;
	struct cp_sip_peer p;

	(void)state;
	peer_v4(&p, "10.1.1.1", 5060);
	assert_int_equal(cp_dialog_init_uas(&d, m, &p, LOCAL, NULL), -EINVAL);
	osip_message_free(m);
}

static void test_init_uac(void **state)
{
	struct cp_dialog d, e;
	struct cp_sip_peer p;

	(void)state;
	peer_v4(&p, "10.2.2.2", 5080);
	assert_int_equal(cp_dialog_init_uac(&d, "alice", "Alice", "sip:bob@10.2.2.2:5080", &p,
				 LOCAL, "tollgate-test"),
		0);
	assert_int_equal(strlen(d.call_id), 32);
	assert_int_equal(strlen(d.local_tag), 16);
	assert_null(d.remote_tag);
	assert_string_equal(d.local_uri, "\"Alice\" <sip:alice@" LOCAL ">");
	assert_string_equal(d.remote_uri, "<sip:bob@10.2.2.2:5080>");
	assert_string_equal(d.remote_target, "sip:bob@10.2.2.2:5080");
	assert_true(d.uac);
	assert_false(d.confirmed);
	assert_int_equal(d.nroutes, 0);
	assert_int_equal(d.local_cseq, 1);
	assert_int_equal(d.remote_cseq, 0);

	/* no user: anonymous; a display name already quoted is kept as it is; fresh identity */
	assert_int_equal(
		cp_dialog_init_uac(&e, NULL, "\"Bob B\"", "sip:x@10.2.2.2", &p, LOCAL, NULL), 0);
	assert_string_equal(e.local_uri, "\"Bob B\" <sip:anonymous@" LOCAL ">");
	assert_string_not_equal(e.call_id, d.call_id);
	assert_string_not_equal(e.local_tag, d.local_tag);
	cp_dialog_fini(&e);
	assert_int_equal(cp_dialog_init_uac(&e, "u", NULL, "sip:x@10.2.2.2", &p, LOCAL, NULL), 0);
	assert_string_equal(e.local_uri, "<sip:u@" LOCAL ">");
	cp_dialog_fini(&e);
	cp_dialog_fini(&d);
}

/* ---- keys ----------------------------------------------------------------------------------- */

static osip_message_t *bye_with_to_tag(const char *to_tag)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		"BYE sip:tollgate@" LOCAL " SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.1.1.1:5062;branch=z9hG4bKbye1\r\n"
		"From: <sip:alice@example.test>;tag=alicetag1\r\n"
		"To: <sip:bob@example.test>%s%s\r\n"
		"Call-ID: a84b4c76e66710@pc33.example.test\r\n"
		"CSeq: 314160 BYE\r\n"
		"Content-Length: 0\r\n\r\n",
		to_tag ? ";tag=" : "", to_tag ? to_tag : "");
	return parse(buf);
}

static void test_keys(void **state)
{
	struct cp_dialog d;
	char *k, *kr;
	osip_message_t *m;

	(void)state;
	uas_dialog(&d);
	k = cp_dialog_key(&d);
	assert_non_null(k);
	assert_non_null(strstr(k, d.call_id));
	assert_non_null(strstr(k, d.local_tag));

	/* the caller's BYE: our tag in To, theirs in From */
	m = bye_with_to_tag(d.local_tag);
	kr = cp_dialog_key_of_request(m);
	assert_non_null(kr);
	assert_string_equal(kr, k);
	free(kr);
	osip_message_free(m);

	/* another tag in To: another key; no tag: no key */
	m = bye_with_to_tag("alicetag1");
	kr = cp_dialog_key_of_request(m);
	assert_non_null(kr);
	assert_string_not_equal(kr, k);
	free(kr);
	osip_message_free(m);
	m = bye_with_to_tag(NULL);
	assert_null(cp_dialog_key_of_request(m));
	osip_message_free(m);
	free(k);
	cp_dialog_fini(&d);
}

/* ---- requests ------------------------------------------------------------------------------- */

static void test_request_uas(void **state)
{
	struct cp_dialog d;
	osip_message_t *m, *r, *r2;
	osip_contact_t *c;
	char *text = NULL, *u, b1[64];

	(void)state;
	uas_dialog(&d);
	m = cp_dialog_request(&d, "BYE");
	r = reparse(m, &text);
	assert_true(MSG_IS_BYE(r));
	u = ruri(r);
	assert_string_equal(u, d.remote_target);
	free(u);
	/* the UAS sends to the route set in Record-Route order */
	assert_int_equal(osip_list_size(&r->routes), 2);
	assert_route(r, 0, "p1.example.test");
	assert_route(r, 1, "p2.example.test");
	/* one Via: ours, a new branch with the magic cookie */
	assert_int_equal(osip_list_size(&r->vias), 1);
	assert_string_equal(((osip_via_t *)osip_list_get(&r->vias, 0))->host, "127.0.0.1");
	assert_string_equal(((osip_via_t *)osip_list_get(&r->vias, 0))->port, "5070");
	assert_non_null(branch_of(r));
	assert_memory_equal(branch_of(r), "z9hG4bK", 7);
	snprintf(b1, sizeof(b1), "%s", branch_of(r));
	/* From us with our tag, To them with theirs */
	assert_string_equal(tag_of(r->from), d.local_tag);
	assert_string_equal(r->from->url->username, "bob");
	assert_string_equal(tag_of(r->to), "alicetag1");
	assert_string_equal(r->to->url->username, "alice");
	assert_string_equal(r->call_id->number, "a84b4c76e66710");
	assert_string_equal(r->call_id->host, "pc33.example.test");
	assert_string_equal(r->cseq->number, "1");
	assert_string_equal(r->cseq->method, "BYE");
	assert_false(has_contact(r));
	/* nothing of the other side of the appliance: the hops and headers of the INVITE */
	assert_null(strstr(text, "10.9.9.9"));
	assert_null(strstr(text, "z9hG4bKproxy1hop"));
	assert_null(strstr(text, "z9hG4bKcallerbranch"));
	assert_null(strstr(text, "SecretPhone"));
	assert_null(strstr(text, "secret-subject"));
	assert_non_null(strstr(text, "User-Agent: tollgate-test"));
	osip_free(text);
	osip_message_free(r);
	osip_message_free(m);

	/* the next one: CSeq + 1, another branch, a Contact for a target refresh */
	m = cp_dialog_request(&d, "INVITE");
	r2 = reparse(m, NULL);
	assert_string_equal(r2->cseq->number, "2");
	assert_string_equal(r2->cseq->method, "INVITE");
	assert_memory_equal(branch_of(r2), "z9hG4bK", 7);
	assert_string_not_equal(branch_of(r2), b1);
	assert_true(has_contact(r2));
	c = osip_list_get(&r2->contacts, 0);
	assert_string_equal(c->url->host, "127.0.0.1");
	assert_string_equal(c->url->port, "5070");
	assert_int_equal(d.local_cseq, 3);
	osip_message_free(r2);
	osip_message_free(m);

	m = cp_dialog_request(&d, "UPDATE");
	r2 = reparse(m, NULL);
	assert_true(has_contact(r2));
	assert_string_equal(r2->cseq->number, "3");
	osip_message_free(r2);
	osip_message_free(m);
	m = cp_dialog_request(&d, "OPTIONS");
	r2 = reparse(m, NULL);
	assert_false(has_contact(r2));
	assert_string_equal(r2->cseq->number, "4");
	osip_message_free(r2);
	osip_message_free(m);
	cp_dialog_fini(&d);
}

/* A response on the B leg from the callee through two proxies (Record-Route: p2, then p1
 * nearest to us). */
static osip_message_t *b_response(
	const osip_message_t *inv, int code, const char *tag, const char *contact)
{
	char buf[2048], *cid = NULL;
	osip_message_t *m;

	osip_call_id_to_str(inv->call_id, &cid);
	snprintf(buf, sizeof(buf),
		"SIP/2.0 %d X\r\n"
		"Via: SIP/2.0/UDP " LOCAL ";branch=%s\r\n"
		"Record-Route: <sip:p2.example.test;lr>\r\n"
		"Record-Route: <sip:p1.example.test;lr>\r\n"
		"From: <sip:alice@" LOCAL ">;tag=%s\r\n"
		"To: <sip:bob@10.2.2.2:5080>;tag=%s\r\n"
		"Call-ID: %s\r\n"
		"CSeq: %s INVITE\r\n"
		"Contact: <%s>\r\n"
		"Content-Length: 0\r\n\r\n",
		code, branch_of(inv), tag_of(inv->from), tag, cid, inv->cseq->number, contact);
	osip_free(cid);
	m = parse(buf);
	return m;
}

/* A retransmitted 2xx finds the UAC dialog it belongs to: our tag is in its From. */
static void test_key_of_response(void **state)
{
	struct cp_dialog d;
	struct cp_sip_peer p;
	osip_message_t *inv, *r, *resp;
	char *k, *kr;

	(void)state;
	peer_v4(&p, "10.2.2.2", 5080);
	assert_int_equal(
		cp_dialog_init_uac(&d, "alice", NULL, "sip:bob@10.2.2.2:5080", &p, LOCAL, NULL), 0);
	inv = cp_dialog_request(&d, "INVITE");
	r = reparse(inv, NULL);
	resp = b_response(r, 200, "bobtag", "sip:bob@10.2.2.4:5090");
	k = cp_dialog_key(&d);
	kr = cp_dialog_key_of_response(resp);
	assert_non_null(kr);
	assert_string_equal(kr, k);
	free(kr);
	free(k);
	osip_message_free(resp);
	osip_message_free(r);
	osip_message_free(inv);
	cp_dialog_fini(&d);
}

static void test_uac_response_and_request(void **state)
{
	struct cp_dialog d;
	struct cp_sip_peer p;
	osip_message_t *inv, *r, *resp, *m;
	char *u, *text = NULL;

	(void)state;
	peer_v4(&p, "10.2.2.2", 5080);
	assert_int_equal(
		cp_dialog_init_uac(&d, "alice", NULL, "sip:bob@10.2.2.2:5080", &p, LOCAL, NULL), 0);
	inv = cp_dialog_request(&d, "INVITE");
	r = reparse(inv, NULL);
	/* the initial INVITE: no To tag yet, CSeq 1, Contact, our From */
	assert_null(tag_of(r->to));
	assert_string_equal(tag_of(r->from), d.local_tag);
	assert_string_equal(r->cseq->number, "1");
	assert_true(has_contact(r));
	assert_int_equal(osip_list_size(&r->routes), 0);

	/* 180 from one branch: its tag is learned, target refreshed, not confirmed; the early
	 * dialog's route set is its Record-Route reversed (a PRACK or UPDATE would use it) */
	resp = b_response(r, 180, "early1", "sip:bob@10.2.2.3:5080");
	cp_dialog_uac_response(&d, resp);
	osip_message_free(resp);
	assert_string_equal(d.remote_tag, "early1");
	assert_string_equal(d.remote_target, "sip:bob@10.2.2.3:5080");
	assert_false(d.confirmed);
	assert_int_equal(d.nroutes, 2);
	assert_non_null(strstr(d.routes[0], "p1.example.test"));

	/* 200: the first tag stays; the route set is Record-Route reversed; confirmed */
	resp = b_response(r, 200, "other2", "sip:bob@10.2.2.4:5090");
	cp_dialog_uac_response(&d, resp);
	osip_message_free(resp);
	assert_string_equal(d.remote_tag, "early1");
	assert_string_equal(d.remote_target, "sip:bob@10.2.2.4:5090");
	assert_true(d.confirmed);
	assert_int_equal(d.nroutes, 2);
	assert_non_null(strstr(d.routes[0], "p1.example.test"));
	assert_non_null(strstr(d.routes[1], "p2.example.test"));

	/* a 200 with other routes changes the route set no more once confirmed */
	resp = parse("SIP/2.0 200 OK\r\n"
		     "Via: SIP/2.0/UDP " LOCAL ";branch=z9hG4bKzz\r\n"
		     "Record-Route: <sip:p9.example.test;lr>\r\n"
		     "From: <sip:a@x>;tag=x\r\nTo: <sip:b@y>;tag=zz\r\nCall-ID: c\r\n"
		     "CSeq: 1 INVITE\r\n\r\n");
	cp_dialog_uac_response(&d, resp);
	osip_message_free(resp);
	assert_int_equal(d.nroutes, 2);
	assert_string_equal(d.remote_tag, "early1");

	/* in-dialog request: to the 2xx's Contact, through p1 then p2, with both tags */
	m = cp_dialog_request(&d, "BYE");
	osip_message_free(r);
	r = reparse(m, &text);
	u = ruri(r);
	assert_string_equal(u, "sip:bob@10.2.2.4:5090");
	free(u);
	assert_int_equal(osip_list_size(&r->routes), 2);
	assert_route(r, 0, "p1.example.test");
	assert_route(r, 1, "p2.example.test");
	assert_string_equal(tag_of(r->to), "early1");
	assert_string_equal(tag_of(r->from), d.local_tag);
	assert_string_equal(r->cseq->number, "2");
	assert_string_equal(r->call_id->number, d.call_id);
	assert_null(r->call_id->host);
	assert_false(has_contact(r));
	assert_null(strstr(text, "User-Agent"));
	osip_free(text);
	osip_message_free(r);
	osip_message_free(m);
	osip_message_free(inv);
	cp_dialog_fini(&d);
}

static void test_uac_response_without_tag(void **state)
{
	struct cp_dialog d;
	struct cp_sip_peer p;
	osip_message_t *resp;

	(void)state;
	peer_v4(&p, "10.2.2.2", 5080);
	assert_int_equal(
		cp_dialog_init_uac(&d, "alice", NULL, "sip:bob@10.2.2.2", &p, LOCAL, NULL), 0);
	/* a 100 has no tag and is no target refresh */
	resp = parse("SIP/2.0 100 Trying\r\n"
		     "Via: SIP/2.0/UDP " LOCAL ";branch=z9hG4bKzz\r\n"
		     "From: <sip:a@x>;tag=x\r\nTo: <sip:b@y>\r\nCall-ID: c\r\n"
		     "CSeq: 1 INVITE\r\nContact: <sip:b@10.7.7.7>\r\n\r\n");
	cp_dialog_uac_response(&d, resp);
	osip_message_free(resp);
	assert_null(d.remote_tag);
	assert_string_equal(d.remote_target, "sip:bob@10.2.2.2");
	assert_false(d.confirmed);
	cp_dialog_fini(&d);
}

/* ---- ACK, CANCEL ------------------------------------------------------------------------- */

static void test_ack(void **state)
{
	struct cp_dialog d;
	struct cp_sip_peer p;
	osip_message_t *inv, *m, *r, *ri;
	char *u;

	(void)state;
	peer_v4(&p, "10.2.2.2", 5080);
	assert_int_equal(
		cp_dialog_init_uac(&d, "alice", NULL, "sip:bob@10.2.2.2:5080", &p, LOCAL, NULL), 0);
	inv = cp_dialog_request(&d, "INVITE");
	ri = reparse(inv, NULL);
	m = b_response(ri, 200, "bobtag", "sip:bob@10.2.2.4:5090");
	cp_dialog_uac_response(&d, m);
	osip_message_free(m);

	m = cp_dialog_ack(&d, 1);
	r = reparse(m, NULL);
	assert_true(MSG_IS_ACK(r));
	assert_string_equal(r->cseq->number, "1");
	assert_string_equal(r->cseq->method, "ACK");
	/* §13.2.2.4: a transaction of its own (new branch), to the target through the routes */
	assert_memory_equal(branch_of(r), "z9hG4bK", 7);
	assert_string_not_equal(branch_of(r), branch_of(ri));
	u = ruri(r);
	assert_string_equal(u, "sip:bob@10.2.2.4:5090");
	free(u);
	assert_int_equal(osip_list_size(&r->routes), 2);
	assert_string_equal(tag_of(r->to), "bobtag");
	assert_string_equal(tag_of(r->from), d.local_tag);
	assert_false(has_contact(r));
	/* the ACK does not use up a CSeq */
	assert_int_equal(d.local_cseq, 2);
	osip_message_free(r);
	osip_message_free(m);
	osip_message_free(ri);
	osip_message_free(inv);
	cp_dialog_fini(&d);
}

static void test_cancel(void **state)
{
	struct cp_dialog d;
	struct cp_sip_peer p;
	osip_message_t *inv, *ri, *c, *r;
	char *u1, *u2;

	(void)state;
	peer_v4(&p, "10.2.2.2", 5080);
	assert_int_equal(
		cp_dialog_init_uac(&d, "alice", NULL, "sip:bob@10.2.2.2:5080", &p, LOCAL, NULL), 0);
	/* a Route on the INVITE travels with the CANCEL (§9.1) */
	d.routes[0] = strdup("<sip:p1.example.test;lr>");
	d.nroutes = 1;
	d.local_cseq = 7;
	inv = cp_dialog_request(&d, "INVITE");
	ri = reparse(inv, NULL);
	c = cp_dialog_cancel(ri);
	r = reparse(c, NULL);
	assert_true(MSG_IS_CANCEL(r));
	/* §9.1: same Request-URI, top Via (branch), Call-ID, From, To, CSeq number */
	u1 = ruri(ri);
	u2 = ruri(r);
	assert_string_equal(u1, u2);
	free(u1);
	free(u2);
	assert_int_equal(osip_list_size(&r->vias), 1);
	assert_string_equal(branch_of(r), branch_of(ri));
	assert_string_equal(r->call_id->number, d.call_id);
	assert_string_equal(tag_of(r->from), d.local_tag);
	assert_null(tag_of(r->to));
	assert_string_equal(r->cseq->number, "7");
	assert_string_equal(r->cseq->method, "CANCEL");
	assert_int_equal(osip_list_size(&r->routes), 1);
	assert_route(r, 0, "p1.example.test");
	assert_false(has_contact(r));
	assert_int_equal(osip_list_size(&r->bodies), 0);
	osip_message_free(r);
	osip_message_free(c);
	/* the CANCEL of the INVITE as we built it (never parsed): the same */
	c = cp_dialog_cancel(inv);
	r = reparse(c, NULL);
	assert_string_equal(branch_of(r), branch_of(ri));
	assert_string_equal(r->cseq->method, "CANCEL");
	osip_message_free(r);
	osip_message_free(c);
	osip_message_free(ri);
	osip_message_free(inv);
	cp_dialog_fini(&d);
}

/* ---- responses ------------------------------------------------------------------------------ */

static void test_response(void **state)
{
	struct cp_dialog d;
	osip_message_t *inv = parse(invite_a), *m, *r;
	osip_contact_t *c;
	char *text = NULL;

	(void)state;
	uas_dialog(&d);
	m = cp_dialog_response(&d, inv, 200, NULL);
	r = reparse(m, &text);
	assert_int_equal(r->status_code, 200);
	assert_string_equal(r->reason_phrase, "OK");
	/* To gets our tag; the Via list is copied as it came, in order */
	assert_string_equal(tag_of(r->to), d.local_tag);
	assert_string_equal(tag_of(r->from), "alicetag1");
	assert_int_equal(osip_list_size(&r->vias), 2);
	assert_string_equal(branch_of(r), "z9hG4bKproxy1hop");
	assert_string_equal(((osip_via_t *)osip_list_get(&r->vias, 1))->host, "10.1.1.1");
	assert_string_equal(r->call_id->number, "a84b4c76e66710");
	assert_string_equal(r->cseq->number, "314159");
	assert_string_equal(r->cseq->method, "INVITE");
	/* 2xx to INVITE: our Contact and the Record-Route back */
	assert_int_equal(osip_list_size(&r->contacts), 1);
	c = osip_list_get(&r->contacts, 0);
	assert_string_equal(c->url->host, "127.0.0.1");
	assert_string_equal(c->url->port, "5070");
	assert_int_equal(osip_list_size(&r->record_routes), 2);
	assert_null(strstr(text, "SecretPhone"));
	assert_non_null(strstr(text, "Server: tollgate-test"));
	osip_free(text);
	osip_message_free(r);
	osip_message_free(m);

	/* 180: Contact too; 486: none, and the reason as given */
	m = cp_dialog_response(&d, inv, 180, NULL);
	r = reparse(m, NULL);
	assert_int_equal(osip_list_size(&r->contacts), 1);
	assert_string_equal(tag_of(r->to), d.local_tag);
	osip_message_free(r);
	osip_message_free(m);
	m = cp_dialog_response(&d, inv, 486, "Busy Here Now");
	r = reparse(m, NULL);
	assert_int_equal(osip_list_size(&r->contacts), 0);
	assert_string_equal(r->reason_phrase, "Busy Here Now");
	assert_string_equal(tag_of(r->to), d.local_tag);
	osip_message_free(r);
	osip_message_free(m);
	/* 100: no tag */
	m = cp_dialog_response(&d, inv, 100, NULL);
	r = reparse(m, NULL);
	assert_null(tag_of(r->to));
	assert_int_equal(osip_list_size(&r->contacts), 0);
	osip_message_free(r);
	osip_message_free(m);
	osip_message_free(inv);
	cp_dialog_fini(&d);
}

static void test_response_to_bye(void **state)
{
	struct cp_dialog d;
	osip_message_t *bye, *m, *r;

	(void)state;
	uas_dialog(&d);
	bye = bye_with_to_tag(d.local_tag);
	m = cp_dialog_response(&d, bye, 200, NULL);
	r = reparse(m, NULL);
	/* the tag is there already: not added twice; no Contact outside INVITE/UPDATE */
	assert_string_equal(tag_of(r->to), d.local_tag);
	assert_int_equal(tag_count(r->to), 1);
	assert_int_equal(osip_list_size(&r->contacts), 0);
	assert_string_equal(r->cseq->method, "BYE");
	osip_message_free(r);
	osip_message_free(m);
	osip_message_free(bye);
	cp_dialog_fini(&d);
}

static void test_make_response_outside_dialog(void **state)
{
	osip_message_t *inv = parse(invite_a), *m, *r;

	(void)state;
	m = cp_sip_make_response(inv, 404, NULL, "ourtag");
	r = reparse(m, NULL);
	assert_string_equal(r->reason_phrase, "Not Found");
	assert_string_equal(tag_of(r->to), "ourtag");
	assert_int_equal(osip_list_size(&r->contacts), 0);
	assert_int_equal(osip_list_size(&r->vias), 2);
	osip_message_free(r);
	osip_message_free(m);
	m = cp_sip_make_response(inv, 503, "Busy", NULL);
	r = reparse(m, NULL);
	assert_null(tag_of(r->to));
	assert_string_equal(r->reason_phrase, "Busy");
	osip_message_free(r);
	osip_message_free(m);
	osip_message_free(inv);
}

/* ---- the peer's requests: CSeq and target refresh ------------------------------------------- */

static osip_message_t *a_request(
	const struct cp_dialog *d, const char *method, unsigned cseq, const char *contact)
{
	char buf[1024], ct[160] = "";

	if (contact)
		snprintf(ct, sizeof(ct), "Contact: <%s>\r\n", contact);
	snprintf(buf, sizeof(buf),
		"%s sip:tollgate@" LOCAL " SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.1.1.1:5062;branch=z9hG4bKr%u\r\n"
		"From: <sip:alice@example.test>;tag=alicetag1\r\n"
		"To: <sip:bob@example.test>;tag=%s\r\n"
		"Call-ID: a84b4c76e66710@pc33.example.test\r\n"
		"CSeq: %u %s\r\n%s\r\n",
		method, cseq, d->local_tag, cseq, method, ct);
	return parse(buf);
}

/* ---- the leg's transport in Via and Contact -------------------------------------------------- */

static const char *via_proto(const osip_message_t *m)
{
	osip_via_t *v = osip_list_get(&m->vias, 0);

	assert_non_null(v);
	return v->protocol;
}

/* The transport parameter of the message's Contact URI, NULL when it has none */
static const char *contact_transport(const osip_message_t *m)
{
	osip_contact_t *c = osip_list_get(&m->contacts, 0);
	osip_uri_param_t *p = NULL;

	assert_non_null(c);
	assert_non_null(c->url);
	if (osip_uri_uparam_get_byname(c->url, "transport", &p) != 0 || !p)
		return NULL;
	return p->gvalue;
}

/* Over TCP our Via says TCP (libosip2 then runs no Timer A/E/G) and our Contact transport=tcp;
 * over UDP they stay as they were. */
static void test_tcp_via_contact(void **state)
{
	static const struct {
		bool stream;
		const char *proto, *transport;
	} legs[] = {{false, "UDP", NULL}, {true, "TCP", "tcp"}};

	(void)state;
	for (size_t i = 0; i < sizeof(legs) / sizeof(legs[0]); i++) {
		struct cp_dialog d, u;
		struct cp_sip_peer p;
		osip_message_t *inv, *m, *r, *cancel, *req = parse(invite_a);
		osip_generic_param_t *g = NULL;
		osip_via_t *v;

		peer_v4(&p, "10.2.2.2", 5080);
		p.stream = legs[i].stream;
		p.conn = legs[i].stream ? 0x401 : 0;
		assert_int_equal(cp_dialog_init_uac(&d, "alice", NULL, "sip:bob@10.2.2.2:5080", &p,
					 LOCAL, NULL),
			0);
		assert_int_equal(d.peer.stream, legs[i].stream);
		assert_int_equal(d.peer.conn, p.conn);

		/* INVITE: Via and Contact; the Via keeps sent-by, branch and rport */
		m = cp_dialog_request(&d, "INVITE");
		inv = reparse(m, NULL);
		osip_message_free(m);
		assert_string_equal(via_proto(inv), legs[i].proto);
		v = osip_list_get(&inv->vias, 0);
		assert_string_equal(v->host, "127.0.0.1");
		assert_string_equal(v->port, "5070");
		assert_non_null(strstr(branch_of(inv), "z9hG4bK"));
		assert_int_equal(osip_via_param_get_byname(v, "rport", &g), 0);
		if (legs[i].transport)
			assert_string_equal(contact_transport(inv), legs[i].transport);
		else
			assert_null(contact_transport(inv));

		/* CANCEL copies the INVITE's Via; BYE and ACK get their own, the same transport */
		cancel = cp_dialog_cancel(inv);
		r = reparse(cancel, NULL);
		assert_string_equal(via_proto(r), legs[i].proto);
		osip_message_free(r);
		osip_message_free(cancel);
		m = cp_dialog_ack(&d, 1);
		r = reparse(m, NULL);
		assert_string_equal(via_proto(r), legs[i].proto);
		osip_message_free(r);
		osip_message_free(m);
		m = cp_dialog_request(&d, "BYE");
		r = reparse(m, NULL);
		assert_string_equal(via_proto(r), legs[i].proto);
		assert_false(has_contact(r));
		osip_message_free(r);
		osip_message_free(m);
		m = cp_dialog_request(&d, "UPDATE");
		r = reparse(m, NULL);
		if (legs[i].transport)
			assert_string_equal(contact_transport(r), legs[i].transport);
		else
			assert_null(contact_transport(r));
		osip_message_free(r);
		osip_message_free(m);
		osip_message_free(inv);
		cp_dialog_fini(&d);

		/* UAS: our 200's Contact; the Vias are the caller's, untouched */
		peer_v4(&p, "10.9.9.9", 5060);
		p.stream = legs[i].stream;
		assert_int_equal(cp_dialog_init_uas(&u, req, &p, LOCAL, NULL), 0);
		m = cp_dialog_response(&u, req, 200, NULL);
		r = reparse(m, NULL);
		if (legs[i].transport)
			assert_string_equal(contact_transport(r), legs[i].transport);
		else
			assert_null(contact_transport(r));
		assert_string_equal(via_proto(r), "UDP");
		osip_message_free(r);
		osip_message_free(m);
		/* a re-INVITE toward the caller goes on its leg's transport */
		m = cp_dialog_request(&u, "INVITE");
		r = reparse(m, NULL);
		assert_string_equal(via_proto(r), legs[i].proto);
		osip_message_free(r);
		osip_message_free(m);
		cp_dialog_fini(&u);
		osip_message_free(req);
	}
}

static void test_uas_request_cseq(void **state)
{
	struct cp_dialog d;
	osip_message_t *m;

	(void)state;
	uas_dialog(&d);
	/* lower than the INVITE's: -1 (answer 500), nothing changes */
	m = a_request(&d, "BYE", 314158, NULL);
	assert_int_equal(cp_dialog_uas_request(&d, m), -1);
	assert_int_equal(d.remote_cseq, 314159);
	osip_message_free(m);
	/* higher: accepted and remembered */
	m = a_request(&d, "INFO", 314170, NULL);
	assert_int_equal(cp_dialog_uas_request(&d, m), 0);
	assert_int_equal(d.remote_cseq, 314170);
	osip_message_free(m);
	m = a_request(&d, "BYE", 314160, NULL);
	assert_int_equal(cp_dialog_uas_request(&d, m), -1);
	osip_message_free(m);
	/* ACK carries the INVITE's number: never refused, nothing learned */
	m = a_request(&d, "ACK", 1, NULL);
	assert_int_equal(cp_dialog_uas_request(&d, m), 0);
	assert_int_equal(d.remote_cseq, 314170);
	osip_message_free(m);
	m = a_request(&d, "BYE", 314171, "sip:alice@10.6.6.6");
	assert_int_equal(cp_dialog_uas_request(&d, m), 0);
	/* a BYE is no target refresh */
	assert_string_equal(d.remote_target, "sip:alice@10.1.1.1:5062;transport=udp");
	osip_message_free(m);
	cp_dialog_fini(&d);
}

static void test_target_refresh(void **state)
{
	struct cp_dialog d;
	osip_message_t *m, *r, *req;
	char *u;

	(void)state;
	uas_dialog(&d);
	m = a_request(&d, "INVITE", 314160, "sip:alice@10.5.5.5:5064");
	assert_int_equal(cp_dialog_uas_request(&d, m), 0);
	assert_string_equal(d.remote_target, "sip:alice@10.5.5.5:5064");
	osip_message_free(m);
	/* a re-INVITE without Contact keeps the target */
	m = a_request(&d, "INVITE", 314161, NULL);
	assert_int_equal(cp_dialog_uas_request(&d, m), 0);
	assert_string_equal(d.remote_target, "sip:alice@10.5.5.5:5064");
	osip_message_free(m);
	m = a_request(&d, "UPDATE", 314162, "sip:alice@10.5.5.6");
	assert_int_equal(cp_dialog_uas_request(&d, m), 0);
	assert_string_equal(d.remote_target, "sip:alice@10.5.5.6");
	osip_message_free(m);
	/* our next request goes there */
	req = cp_dialog_request(&d, "BYE");
	r = reparse(req, NULL);
	u = ruri(r);
	assert_string_equal(u, "sip:alice@10.5.5.6");
	free(u);
	osip_message_free(r);
	osip_message_free(req);
	cp_dialog_fini(&d);
}

/* ---- bodies --------------------------------------------------------------------------------- */

static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
			  "t=0 0\r\nm=audio 20000 RTP/AVP 0\r\n";

static int count(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)); p++)
		n++;
	return n;
}

static void test_set_body(void **state)
{
	struct cp_dialog d;
	osip_message_t *m, *r, *inv, *resp;
	osip_body_t *b = NULL;
	char *text = NULL;

	(void)state;
	uas_dialog(&d);
	m = cp_dialog_request(&d, "INVITE");
	assert_int_equal(cp_sip_set_body(m, "application/sdp", sdp, strlen(sdp)), 0);
	r = reparse(m, &text);
	/* exactly one Content-Length, the body's */
	assert_int_equal(count(text, "Content-Length:"), 1);
	assert_non_null(r->content_length);
	assert_int_equal(atoi(r->content_length->value), (int)strlen(sdp));
	assert_int_equal(osip_message_get_body(r, 0, &b), 0);
	assert_int_equal(b->length, strlen(sdp));
	assert_memory_equal(b->body, sdp, strlen(sdp));
	assert_string_equal(r->content_type->type, "application");
	assert_string_equal(r->content_type->subtype, "sdp");
	osip_free(text);
	osip_message_free(r);
	osip_message_free(m);

	/* on a response built elsewhere */
	inv = parse(invite_a);
	resp = cp_dialog_response(&d, inv, 200, NULL);
	assert_int_equal(cp_sip_set_body(resp, "application/sdp", sdp, strlen(sdp)), 0);
	r = reparse(resp, &text);
	assert_int_equal(count(text, "Content-Length:"), 1);
	assert_int_equal(atoi(r->content_length->value), (int)strlen(sdp));
	assert_int_equal(osip_list_size(&r->bodies), 1);
	osip_free(text);
	osip_message_free(r);
	osip_message_free(resp);
	osip_message_free(inv);

	/* NULL: no body, Content-Length 0 */
	m = cp_dialog_request(&d, "BYE");
	assert_int_equal(cp_sip_set_body(m, NULL, NULL, 0), 0);
	r = reparse(m, &text);
	assert_int_equal(count(text, "Content-Length:"), 1);
	assert_string_equal(r->content_length->value, "0");
	assert_int_equal(osip_list_size(&r->bodies), 0);
	osip_free(text);
	osip_message_free(r);
	osip_message_free(m);
	cp_dialog_fini(&d);
}

/* A body set twice is replaced, not appended: one body, one Content-Type, the right length. */
static void test_set_body_twice(void **state)
{
	static const char other[] = "v=0\r\n";
	struct cp_dialog d;
	osip_message_t *m, *r;
	osip_body_t *b = NULL;
	char *text = NULL;

	(void)state;
	uas_dialog(&d);
	m = cp_dialog_request(&d, "INVITE");
	assert_int_equal(cp_sip_set_body(m, "application/sdp", sdp, strlen(sdp)), 0);
	assert_int_equal(cp_sip_set_body(m, "application/sdp", other, strlen(other)), 0);
	r = reparse(m, &text);
	assert_int_equal(count(text, "Content-Length:"), 1);
	assert_int_equal(count(text, "Content-Type:"), 1);
	assert_int_equal(atoi(r->content_length->value), (int)strlen(other));
	assert_int_equal(osip_list_size(&r->bodies), 1);
	assert_int_equal(osip_message_get_body(r, 0, &b), 0);
	assert_int_equal(b->length, strlen(other));
	osip_free(text);
	osip_message_free(r);
	/* and removed with NULL */
	assert_int_equal(cp_sip_set_body(m, NULL, NULL, 0), 0);
	r = reparse(m, &text);
	assert_int_equal(osip_list_size(&r->bodies), 0);
	assert_string_equal(r->content_length->value, "0");
	osip_free(text);
	osip_message_free(r);
	osip_message_free(m);
	cp_dialog_fini(&d);
}

static void test_add_header(void **state)
{
	struct cp_dialog d;
	osip_message_t *m, *r;
	char *text = NULL;

	(void)state;
	uas_dialog(&d);
	m = cp_dialog_request(&d, "BYE");
	assert_int_equal(cp_sip_add_header(m, "Reason", "Q.850;cause=16"), 0);
	r = reparse(m, &text);
	assert_non_null(strstr(text, "Reason: Q.850;cause=16"));
	osip_free(text);
	osip_message_free(r);
	osip_message_free(m);
	cp_dialog_fini(&d);
}

static void test_token(void **state)
{
	char a[33], b[33];

	(void)state;
	cp_sip_token(a, 32);
	cp_sip_token(b, 32);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_string_not_equal(a, b);
	cp_sip_token(a, 0);
	assert_string_equal(a, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_uas),
		cmocka_unit_test(test_init_uas_refuses_incomplete),
		cmocka_unit_test(test_init_uac),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_key_of_response),
		cmocka_unit_test(test_request_uas),
		cmocka_unit_test(test_uac_response_and_request),
		cmocka_unit_test(test_uac_response_without_tag),
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_response_to_bye),
		cmocka_unit_test(test_make_response_outside_dialog),
		cmocka_unit_test(test_tcp_via_contact),
		cmocka_unit_test(test_uas_request_cseq),
		cmocka_unit_test(test_target_refresh),
		cmocka_unit_test(test_set_body),
		cmocka_unit_test(test_set_body_twice),
		cmocka_unit_test(test_add_header),
		cmocka_unit_test(test_token),
	};

	parser_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
