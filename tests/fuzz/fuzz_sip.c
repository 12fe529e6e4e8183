/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SIP receive path as far as it exists: libosip2's parser, our checks, the stateless
 * response to a request, and the raw 400 for what does not parse. Aborts if an answer we build
 * does not itself parse and pass the checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "cp_sip_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	osip_message_t *m;
	char reason[160], raw[8192];
	size_t raw_len;

	if (!ready) {
		parser_init();
		osip_trace_initialize(TRACE_LEVEL0, NULL);
		for (int l = 0; l < END_TRACE_LEVEL; l++)
			osip_trace_disable_level((osip_trace_level_t)l);
		ready = 1;
	}
	if (size > CP_SIP_MAX_MSG || osip_message_init(&m) != 0)
		return 0;
	if (osip_message_parse(m, (const char *)data, size) == 0) {
		long body = cp_sip_body_offset((const char *)data, size);
		char *out = NULL;
		size_t out_len;

		if (cp_sip_check(m, body < 0 ? 0 : size - (size_t)body, reason, sizeof(reason)) ==
				0 &&
			MSG_IS_REQUEST(m) &&
			cp_sip_response(m, 400, "Fuzz", "t1", &out, &out_len) == 0) {
			osip_message_t *r;

			if (osip_message_init(&r) != 0)
				abort();
			/* what we send must be a message we would accept */
			if (getenv("FUZZ_SIP_DEBUG"))
				fprintf(stderr, "---\n%.*s---\n", (int)out_len, out);
			if (osip_message_parse(r, out, out_len) != 0) {
				fprintf(stderr, "our response does not parse:\n%.*s", (int)out_len,
					out);
				abort();
			}
			if (cp_sip_check(r, 0, reason, sizeof(reason)) != 0) {
				fprintf(stderr, "our response fails our check (%s):\n%.*s", reason,
					(int)out_len, out);
				abort();
			}
			osip_message_free(r);
			osip_free(out);
		}
	}
	osip_message_free(m);
	if (cp_sip_raw_400((const char *)data, size, "Bad Request", raw, sizeof(raw), &raw_len) ==
			0 &&
		(raw_len >= sizeof(raw) || strncmp(raw, "SIP/2.0 400 ", 12) != 0))
		abort();
	return 0;
}
