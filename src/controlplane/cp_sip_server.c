/* SPDX-License-Identifier: BSD-3-Clause */
/* The control plane's answers to requests no transaction owns yet (see cp_sip_server.h). */
#include "cp_sip_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "cp_sip_msg.h"
#include "tg_log.h"

#define CP_SIP_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REFER, NOTIFY"

static void answer(struct cp_sip_server *s, const osip_message_t *req, int code, const char *reason,
	const struct cp_sip_peer *to)
{
	char *out = NULL;
	size_t len;

	if (cp_sip_response(req, code, reason, "tg-oos", &out, &len) < 0)
		return;
	/* Allow and Server go after the mandatory headers: insert before Content-Length */
	char buf[8192];
	const char *cl = strstr(out, "Content-Length:");
	int w;

	if (!cl || len + sizeof(CP_SIP_ALLOW) + 64 + strlen(s->user_agent) > sizeof(buf)) {
		cp_sip_send(s->transport, out, len, to);
	} else {
		w = snprintf(buf, sizeof(buf), "%.*sAllow: " CP_SIP_ALLOW "\r\nServer: %s\r\n%s",
			(int)(cl - out), out, s->user_agent, cl);
		cp_sip_send(s->transport, buf, (size_t)w, to);
	}
	osip_free(out);
}

void cp_sip_server_rx(
	struct cp_sip_transport *t, osip_message_t *msg, const struct cp_sip_peer *from, void *arg)
{
	struct cp_sip_server *s = arg;

	if (MSG_IS_RESPONSE(msg)) {
		s->c.stray_responses++;
	} else if (MSG_IS_ACK(msg)) {
		s->c.acks++;
	} else if (MSG_IS_OPTIONS(msg)) {
		s->c.options++;
		answer(s, msg, 200, "OK", from);
	} else {
		s->c.not_implemented++;
		TG_LOG_CALL(SIP, INFO, msg->call_id ? msg->call_id->number : "-", "a",
			"%s answered 501: no session layer yet", msg->sip_method);
		answer(s, msg, 501, "Not Implemented", from);
	}
	osip_message_free(msg);
}
