/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the control socket's request parser (what any local client can send)
 * and its socket path template. Beyond "no crash, no undefined behaviour, no leak" it aborts
 * when a promise breaks: a refusal is EINVAL or EMSGSIZE with a message starting "request: " and
 * no words; an accepted request has 1..CP_CTL_MAX_WORDS words, each within CP_CTL_WORD_MAX bytes
 * and free of control characters, and the words sent again as a JSON array (as tgctl does) parse
 * back to the same words; a path is either refused as too long or fits a Unix socket address.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cp_ctl_proto.h"

static struct cp_ctl_words w, again;

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool clean(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return false;
	return true;
}

static void check_words(const struct cp_ctl_words *x)
{
	check(x->n >= 1 && x->n <= CP_CTL_MAX_WORDS);
	for (unsigned i = 0; i < x->n; i++) {
		check(x->w[i] >= x->buf && x->w[i] < x->buf + sizeof(x->buf));
		check(strlen(x->w[i]) <= CP_CTL_WORD_MAX);
		check(clean(x->w[i]));
	}
}

static void roundtrip(void)
{
	json_t *a = json_array();
	char *line, err[256];

	for (unsigned i = 0; i < w.n; i++)
		check(json_array_append_new(a, json_string(w.w[i])) == 0);
	line = json_dumps(a, JSON_COMPACT);
	check(line != NULL);
	json_decref(a);
	/* escapes can make the line longer than the one parsed: then it is refused as such */
	if (cp_ctl_parse(line, strlen(line), &again, err, sizeof(err)) == 0) {
		check(again.n == w.n);
		for (unsigned i = 0; i < w.n; i++)
			check(strcmp(again.w[i], w.w[i]) == 0);
	} else {
		check(strlen(line) >= CP_CTL_LINE_MAX);
	}
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], path[CP_CTL_PATH_MAX], *tmpl;
	int rc;

	err[0] = '\0';
	rc = cp_ctl_parse((const char *)data, size, &w, err, sizeof(err));
	if (rc == 0) {
		check_words(&w);
		roundtrip();
	} else {
		check(rc == -EINVAL || rc == -EMSGSIZE);
		check(rc != -EMSGSIZE || size >= CP_CTL_LINE_MAX);
		check(w.n == 0);
		check(memchr(err, '\0', sizeof(err)) && strncmp(err, "request: ", 9) == 0);
	}

	tmpl = malloc(size + 1);
	check(tmpl != NULL);
	memcpy(tmpl, data, size);
	tmpl[size] = '\0';
	rc = cp_ctl_socket_path(tmpl, "edge-01", path, sizeof(path));
	check(rc == 0 || rc == -ENAMETOOLONG);
	if (rc == 0)
		check(strlen(path) < CP_CTL_PATH_MAX);
	free(tmpl);
	return 0;
}
