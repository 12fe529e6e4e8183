/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the control plane checks in every SIP message it receives, and the stateless responses
 * it builds when a request cannot go further. libosip2 parses leniently; these checks are the
 * RFC 3261 §8.2 rules a B2BUA relies on before a message reaches a transaction. A request that
 * fails them gets a 400 whose reason phrase names the problem; a response that fails them is
 * dropped and counted. Nothing here keeps state.
 */
#ifndef TG_CP_SIP_MSG_H
#define TG_CP_SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include <osipparser2/osip_message.h>

#define CP_SIP_MAX_MSG 65535 /* larger messages are refused: UDP cannot carry them anyway */

/*
 * 0 if m may go on, else the SIP status to answer a request with (400, 416, 483, 505) and a
 * reason phrase naming the offending header or field. body_len is the body as received (the
 * Content-Length must agree with it).
 */
int cp_sip_check(const osip_message_t *m, size_t body_len, char *reason, size_t len);

/*
 * A response to req: Via (all of them), From, To (with to_tag added if it has none and to_tag
 * is not NULL), Call-ID and CSeq copied, Content-Length 0. *out is osip_malloc'd; 0 or -errno.
 * -EINVAL when the answer would not parse again (libosip2 echoes some oddities it accepted):
 * answer with cp_sip_raw_400() instead.
 */
int cp_sip_response(const osip_message_t *req, int code, const char *reason, const char *to_tag,
	char **out, size_t *out_len);

/*
 * A 400 for a request libosip2 could not parse at all, built from the raw text: the Via, From,
 * To, Call-ID and CSeq lines are copied as they came (full or compact names). -EINVAL when the
 * text is not a request or has no Via (then nobody can be answered: drop it).
 */
int cp_sip_raw_400(const char *buf, size_t len, const char *reason, char *out, size_t out_cap,
	size_t *out_len);

/* The offset of the body (after the blank line), or -1 if the header block never ends. */
long cp_sip_body_offset(const char *buf, size_t len);

#endif
