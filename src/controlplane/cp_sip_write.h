/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Serializes a libosip2 message into one caller buffer, with no allocation: the text
 * osip_message_to_str() would give, byte for byte (start line, the typed headers in libosip2's
 * fixed order, the other headers as they are kept, Content-Length computed from the bodies,
 * multipart boundaries, the bodies), so a message sent either way is the same on the wire.
 * osip_message_to_str() builds each header in a string of its own and concatenates them: some
 * 20 allocations per message and as many copies, 13% of the control plane's CPU at full load.
 *
 * libosip2's quirks are reproduced on purpose, since the peer sees them either way: header
 * names other than the typed ones get their first letter upper-cased ("Max-forwards"),
 * Content-Length is right-aligned in five columns when there is a body ("Content-Length:   129"),
 * a typed single header (From, To, Call-ID, CSeq, Content-Type, Mime-Version) that libosip2
 * cannot print leaves its bare name in the text, and URI parts are %-escaped as libosip2 does.
 *
 * The cached text: osip_message_to_str() keeps what it produced in m->message and returns a
 * copy of it while m->message_property is 1, i.e. until a libosip2 setter (osip_message_set_*,
 * osip_message_force_update) marks the message changed; a message changed directly through its
 * fields after a serialization gets the stale text. cp_sip_write() does the same (it copies
 * m->message when the property is 1), so it is a drop-in replacement, but it never fills that
 * cache itself: a message only ever written by cp_sip_write() is serialized from its fields
 * every time.
 *
 * Thread affinity: none; m is only read.
 */
#ifndef TG_CP_SIP_WRITE_H
#define TG_CP_SIP_WRITE_H

#include <errno.h>
#include <stddef.h>

#include <osipparser2/osip_message.h>

/* The largest message the control plane sends from its scratch buffer (larger: see
 * cp_sip_write()'s -ENOSPC, which says how much is needed). */
#define CP_SIP_WRITE_MAX 65536

/*
 * Writes m into buf[0..cap): *len is the message's length; the text is not NUL-terminated.
 * Returns:
 *   0        written, *len bytes;
 *   -ENOSPC  cap is too small: *len is the length needed, nothing past buf[cap) was touched
 *            (buf may be NULL with cap 0 to measure);
 *   -EINVAL  libosip2 would refuse to serialize m (osip_message_to_str() fails: no start line,
 *            a Via without a host, a list header it cannot print, a body of length 0, a
 *            multipart boundary over 70 characters...), or m holds a NULL libosip2 would
 *            crash on; *len is 0.
 * There is no fallback case: every message osip_message_to_str() serializes is written here.
 */
int cp_sip_write(const osip_message_t *m, char *buf, size_t cap, size_t *len);

/* The length cp_sip_write() would give m, without writing: 0 or -EINVAL. */
static inline int cp_sip_measure(const osip_message_t *m, size_t *len)
{
	int rc = cp_sip_write(m, NULL, 0, len);

	return rc == -ENOSPC ? 0 : rc;
}

#endif
