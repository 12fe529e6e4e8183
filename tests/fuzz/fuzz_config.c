/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the config engine: the input is loaded as a config file (as a raw buffer
 * and as a C string) and also split into "key=value" for tg_cfg_set, against a registry with
 * keys of every type. Beyond "no crash, no leak" it checks the engine's promises and aborts
 * when one breaks: a refused load leaves every struct byte-for-byte unchanged, and any value
 * the engine holds formats to text that tg_cfg_set accepts back unchanged.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "tg_config.h"

struct fz_a {
	bool on;
	int64_t i;
	int64_t wide;
	uint32_t u;
	uint32_t port;
	char s[12];
	char big[200];
};

struct fz_b {
	int mode;
	int one;
	uint64_t wait;
	uint64_t any;
	char v4[INET6_ADDRSTRLEN];
	char opt[INET6_ADDRSTRLEN];
	char tiny[8];
};

static const char *const modes[] = {"busy", "adaptive", "off", NULL};
static const char *const only[] = {"only", NULL};

static int odd_only(const void *value, char *err, size_t errlen)
{
	uint32_t v;

	memcpy(&v, value, sizeof(v));
	if (!(v & 1)) {
		snprintf(err, errlen, "must be odd");
		return -22;
	}
	return 0;
}

static const struct tg_cfg_key keys_a[] = {
	{.section = "a",
		.name = "on",
		.type = TG_CFG_BOOL,
		TG_CFG_AT(struct fz_a, on),
		.def = "no",
		.flags = TG_CFG_LIVE,
		.help = "b"},
	{.section = "a",
		.name = "i",
		.type = TG_CFG_INT,
		TG_CFG_AT(struct fz_a, i),
		.def = "-5",
		.min = -1000,
		.max = 1000,
		.help = "i"},
	{.section = "a",
		.name = "wide",
		.type = TG_CFG_INT,
		TG_CFG_AT(struct fz_a, wide),
		.def = "0",
		.flags = TG_CFG_LIVE,
		.help = "w"},
	{.section = "a",
		.name = "u",
		.type = TG_CFG_UINT,
		TG_CFG_AT(struct fz_a, u),
		.def = "1",
		.validate = odd_only,
		.help = "u"},
	{.section = "a",
		.name = "port",
		.type = TG_CFG_UINT,
		TG_CFG_AT(struct fz_a, port),
		.def = "5060",
		.min = 1,
		.max = 65535,
		.help = "p"},
	{.section = "a",
		.name = "s",
		.type = TG_CFG_STRING,
		TG_CFG_AT(struct fz_a, s),
		.def = "x",
		.flags = TG_CFG_LIVE,
		.help = "s"},
	{.section = "a",
		.name = "big",
		.type = TG_CFG_STRING,
		TG_CFG_AT(struct fz_a, big),
		.flags = TG_CFG_SECRET,
		.help = "g"},
};

static const struct tg_cfg_key keys_b[] = {
	{.section = "b",
		.name = "mode",
		.type = TG_CFG_ENUM,
		TG_CFG_AT(struct fz_b, mode),
		.def = "busy",
		.choices = modes,
		.flags = TG_CFG_LIVE,
		.help = "m"},
	{.section = "b",
		.name = "one",
		.type = TG_CFG_ENUM,
		TG_CFG_AT(struct fz_b, one),
		.def = "only",
		.choices = only,
		.help = "o"},
	{.section = "b",
		.name = "wait",
		.type = TG_CFG_DURATION,
		TG_CFG_AT(struct fz_b, wait),
		.def = "250ms",
		.min = 1,
		.max = 86400000,
		.help = "w"},
	{.section = "b",
		.name = "any",
		.type = TG_CFG_DURATION,
		TG_CFG_AT(struct fz_b, any),
		.def = "0",
		.flags = TG_CFG_LIVE,
		.help = "a"},
	{.section = "b",
		.name = "v4",
		.type = TG_CFG_ADDR,
		TG_CFG_AT(struct fz_b, v4),
		.def = "127.0.0.1",
		.help = "v"},
	{.section = "b",
		.name = "opt",
		.type = TG_CFG_ADDR,
		TG_CFG_AT(struct fz_b, opt),
		.flags = TG_CFG_LIVE,
		.help = "o"},
	{.section = "b",
		.name = "tiny",
		.type = TG_CFG_ADDR,
		TG_CFG_AT(struct fz_b, tiny),
		.def = "::",
		.help = "t"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every value the registry holds must read back as text that sets the same bytes. */
static void check_roundtrip(struct tg_cfg *cfg, const struct fz_a *a, const struct fz_b *b)
{
	struct fz_a a0 = *a;
	struct fz_b b0 = *b;
	char key[128], val[256], err[256];

	for (size_t i = 0; i < tg_cfg_count(cfg); i++) {
		const struct tg_cfg_key *k = tg_cfg_key_at(cfg, i);

		snprintf(key, sizeof(key), "%s.%s", k->section, k->name);
		if (tg_cfg_get(cfg, key, val, sizeof(val)) != 0)
			abort();
		if (tg_cfg_set(cfg, key, val, false, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s = '%s' does not set back: %s\n", key, val, err);
			abort();
		}
	}
	if (memcmp(&a0, a, sizeof(a0)) || memcmp(&b0, b, sizeof(b0)))
		abort();
}

/* A refused load or set must not have touched anything. */
static void check_unchanged(int rc, const char *err, const struct fz_a *a0, const struct fz_a *a,
	const struct fz_b *b0, const struct fz_b *b)
{
	if (rc == 0)
		return;
	if (!err[0] || memcmp(a0, a, sizeof(*a)) || memcmp(b0, b, sizeof(*b))) {
		fprintf(stderr, "refused (%d: %s) but changed state\n", rc, err);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_a a, a0;
	struct fz_b b, b0;
	char err[256], *text, *eq;
	struct tg_cfg *cfg;
	FILE *out;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	cfg = tg_cfg_new();
	if (!cfg || tg_cfg_register(cfg, keys_a, N(keys_a), &a) ||
		tg_cfg_register(cfg, keys_b, N(keys_b), &b) ||
		tg_cfg_apply_defaults(cfg, err, sizeof(err)))
		abort();

	/* 1: the raw bytes, NULs and all */
	a0 = a;
	b0 = b;
	rc = tg_cfg_load_buf(cfg, (const char *)data, size, "fuzz", err, sizeof(err));
	check_unchanged(rc, err, &a0, &a, &b0, &b);
	if (rc == 0)
		check_roundtrip(cfg, &a, &b);

	/* 2: as a C string (cut at the first NUL), onto whatever step 1 left */
	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	a0 = a;
	b0 = b;
	rc = tg_cfg_load_string(cfg, text, "fuzz", err, sizeof(err));
	check_unchanged(rc, err, &a0, &a, &b0, &b);

	/* 3: "key=value" through set, as the CLI would pass it, running and at boot */
	eq = strchr(text, '=');
	if (eq) {
		*eq = '\0';
		for (int running = 0; running < 2; running++) {
			a0 = a;
			b0 = b;
			rc = tg_cfg_set(cfg, text, eq + 1, running, err, sizeof(err));
			check_unchanged(rc, err, &a0, &a, &b0, &b);
		}
		tg_cfg_get(cfg, text, err, sizeof(err));
	}
	check_roundtrip(cfg, &a, &b);

	/* the writers must cope with whatever values got in */
	out = fopen("/dev/null", "w");
	if (out) {
		tg_cfg_show(cfg, out);
		tg_cfg_write_docs(cfg, out);
		tg_cfg_write_example(cfg, out);
		fclose(out);
	}
	free(text);
	tg_cfg_free(cfg);
	return 0;
}
