/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket's request parser and socket path (see cp_ctl_proto.h). jansson decodes;
 * we check the shape. Decoded strings are never longer than their JSON text (an escape stands
 * for fewer bytes than it takes), so every word of a line shorter than CP_CTL_LINE_MAX fits
 * the words' buffer with its NUL (each string's two quotes pay for it).
 */
#include "cp_ctl_proto.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "tg_shm.h"

static const char *type_phrase(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/* The first control character (C0, DEL, or C1 as UTF-8 C2 80..9F) in s[0..len), or -1. A
 * word may end up in a log line or on an operator's terminal. */
static int control_char(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return c;
		if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
			(unsigned char)s[i + 1] <= 0x9f)
			return (unsigned char)s[i + 1];
	}
	return -1;
}

int cp_ctl_parse(const char *line, size_t len, struct cp_ctl_words *out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	size_t n, used = 0;
	int rc = -EINVAL;

	out->n = 0;
	if (len >= CP_CTL_LINE_MAX) {
		tg_errf(err, errlen, "request: longer than %u bytes", CP_CTL_LINE_MAX - 1);
		return -EMSGSIZE;
	}
	/* any JSON value, so that "5" is told it is not an array; \u0000 is refused (no
	 * JSON_ALLOW_NUL), and so is text after the value */
	root = json_loadb(line, len, JSON_DECODE_ANY, &jerr);
	if (!root) {
		tg_errf(err, errlen, "request: not JSON: %s (column %d)", jerr.text, jerr.column);
		return -EINVAL;
	}
	if (!json_is_array(root)) {
		tg_errf(err, errlen, "request: %s, not an array of strings", type_phrase(root));
		goto out;
	}
	n = json_array_size(root);
	if (n == 0) {
		tg_errf(err, errlen,
			"request: an empty array (expected [\"command\", \"arg\", ...])");
		goto out;
	}
	if (n > CP_CTL_MAX_WORDS) {
		tg_errf(err, errlen, "request: %zu elements, at most %d", n, CP_CTL_MAX_WORDS);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(root, i);
		const char *s;
		size_t slen;
		int c;

		if (!json_is_string(v)) {
			tg_errf(err, errlen, "request: element %zu is %s, not a string", i + 1,
				type_phrase(v));
			goto out;
		}
		s = json_string_value(v);
		slen = json_string_length(v);
		if (slen > CP_CTL_WORD_MAX) {
			tg_errf(err, errlen, "request: element %zu is longer than %d bytes", i + 1,
				CP_CTL_WORD_MAX);
			goto out;
		}
		c = control_char(s, slen);
		if (c >= 0) {
			tg_errf(err, errlen,
				"request: element %zu has a control character (0x%02x)", i + 1,
				(unsigned)c);
			goto out;
		}
		if (used + slen + 1 > sizeof(out->buf)) {
			/* cannot happen (see the top of the file); refuse rather than trust it */
			tg_errf(err, errlen, "request: longer than %u bytes", CP_CTL_LINE_MAX - 1);
			goto out;
		}
		memcpy(out->buf + used, s, slen + 1);
		out->w[i] = out->buf + used;
		used += slen + 1;
	}
	out->n = (unsigned)n;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int cp_ctl_socket_path(const char *tmpl, const char *instance, char *buf, size_t len)
{
	static const char mark[] = "{instance}";
	size_t ilen, off = 0;

	if (!tg_instance_name_ok(instance))
		return -EINVAL;
	ilen = strlen(instance);
	if (len > CP_CTL_PATH_MAX)
		len = CP_CTL_PATH_MAX;
	for (const char *p = tmpl; *p;) {
		bool at_mark = strncmp(p, mark, sizeof(mark) - 1) == 0;
		const char *piece = at_mark ? instance : p;
		size_t plen = at_mark ? ilen : 1;

		if (off + plen + 1 > len)
			return -ENAMETOOLONG;
		memcpy(buf + off, piece, plen);
		off += plen;
		p += at_mark ? sizeof(mark) - 1 : 1;
	}
	if (!len)
		return -ENAMETOOLONG;
	buf[off] = '\0';
	return 0;
}
