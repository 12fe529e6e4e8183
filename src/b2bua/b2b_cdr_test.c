/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Call detail records: each line parses back, with a strict JSON parser written here, to every
 * field written; hostile header values come back byte-exact (or U+FFFD for invalid UTF-8) and
 * never break a line; the fsync policy (counted through the hook, with a fake clock); rotation by
 * rename + reopen; and a disk that fills up (ENOSPC mid-line) or fails a sync: records wait in
 * the backlog and land exactly once, in order, when the disk comes back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b2b_cdr.h"
#include "tg_log.h"

/* ---- a strict JSON parser, flattening a document to (path, type, value) ---- */

struct jval {
	char path[64];
	char type; /* 's' string, 'n' number, 't', 'f', '0' null, 'o' object, 'a' array */
	char val[20000];
	size_t len;
};

struct jdoc {
	struct jval v[64];
	int n;
};

struct jp {
	const unsigned char *s, *end;
	struct jdoc *d;
	int depth;
};

static void jws(struct jp *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
		p->s++;
}

static struct jval *jadd(struct jp *p, const char *path, char type)
{
	struct jval *v;

	for (int i = 0; i < p->d->n; i++)
		if (strcmp(p->d->v[i].path, path) == 0)
			return NULL; /* duplicate key */
	if (p->d->n >= (int)(sizeof(p->d->v) / sizeof(p->d->v[0])))
		return NULL;
	v = &p->d->v[p->d->n++];
	snprintf(v->path, sizeof(v->path), "%s", path);
	v->type = type;
	v->len = 0;
	v->val[0] = '\0';
	return v;
}

static int jput(char *out, size_t *len, size_t cap, uint32_t cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = 0xc0 | (cp >> 6);
		b[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = 0xe0 | (cp >> 12);
		b[1] = 0x80 | ((cp >> 6) & 0x3f);
		b[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		b[0] = 0xf0 | (cp >> 18);
		b[1] = 0x80 | ((cp >> 12) & 0x3f);
		b[2] = 0x80 | ((cp >> 6) & 0x3f);
		b[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	if (*len + n >= cap)
		return -1;
	memcpy(out + *len, b, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

static int jhex4(struct jp *p, uint32_t *out)
{
	*out = 0;
	if (p->end - p->s < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int c = *p->s++, d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		*out = *out << 4 | (uint32_t)d;
	}
	return 0;
}

/* One raw UTF-8 character: decoded by its own rules (shortest form, no surrogates). */
static int jutf8(struct jp *p, uint32_t *cp)
{
	unsigned c = *p->s++, n;
	uint32_t min;

	if (c < 0x80) {
		*cp = c;
		return 0;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 1, *cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2, *cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3, *cp = c & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		if (p->s >= p->end || (*p->s & 0xc0) != 0x80)
			return -1;
		*cp = *cp << 6 | (*p->s++ & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return -1;
	return 0;
}

static int jstring(struct jp *p, char *out, size_t cap, size_t *len)
{
	*len = 0;
	out[0] = '\0';
	if (p->s >= p->end || *p->s != '"')
		return -1;
	p->s++;
	while (p->s < p->end && *p->s != '"') {
		uint32_t cp;

		if (*p->s < 0x20)
			return -1; /* raw control character */
		if (*p->s == '\\') {
			p->s++;
			if (p->s >= p->end)
				return -1;
			switch (*p->s++) {
			case '"':
				cp = '"';
				break;
			case '\\':
				cp = '\\';
				break;
			case '/':
				cp = '/';
				break;
			case 'b':
				cp = '\b';
				break;
			case 'f':
				cp = '\f';
				break;
			case 'n':
				cp = '\n';
				break;
			case 'r':
				cp = '\r';
				break;
			case 't':
				cp = '\t';
				break;
			case 'u':
				if (jhex4(p, &cp) < 0)
					return -1;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					uint32_t lo;

					if (p->end - p->s < 2 || p->s[0] != '\\' || p->s[1] != 'u')
						return -1;
					p->s += 2;
					if (jhex4(p, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
						return -1;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				} else if (cp >= 0xdc00 && cp <= 0xdfff) {
					return -1;
				}
				break;
			default:
				return -1;
			}
		} else if (jutf8(p, &cp) < 0) {
			return -1;
		}
		if (jput(out, len, cap, cp) < 0)
			return -1;
	}
	if (p->s >= p->end)
		return -1;
	p->s++;
	return 0;
}

static int jvalue(struct jp *p, const char *path);

static int jobject(struct jp *p, const char *path)
{
	char key[256], sub[64];
	size_t klen;

	p->s++;
	jws(p);
	if (p->s < p->end && *p->s == '}') {
		p->s++;
		return 0;
	}
	for (;;) {
		jws(p);
		if (jstring(p, key, sizeof(key), &klen) < 0 || strlen(key) != klen)
			return -1;
		if (snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", key) >=
			(int)sizeof(sub))
			return -1;
		jws(p);
		if (p->s >= p->end || *p->s++ != ':')
			return -1;
		if (jvalue(p, sub) < 0)
			return -1;
		jws(p);
		if (p->s >= p->end)
			return -1;
		if (*p->s == '}') {
			p->s++;
			return 0;
		}
		if (*p->s++ != ',')
			return -1;
	}
}

static int jarray(struct jp *p, const char *path)
{
	char sub[64];

	p->s++;
	jws(p);
	if (p->s < p->end && *p->s == ']') {
		p->s++;
		return 0;
	}
	for (int i = 0;; i++) {
		if (snprintf(sub, sizeof(sub), "%s[%d]", path, i) >= (int)sizeof(sub))
			return -1;
		if (jvalue(p, sub) < 0)
			return -1;
		jws(p);
		if (p->s >= p->end)
			return -1;
		if (*p->s == ']') {
			p->s++;
			return 0;
		}
		if (*p->s++ != ',')
			return -1;
	}
}

static int jdigits(struct jp *p)
{
	const unsigned char *start = p->s;

	while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
		p->s++;
	return p->s > start ? 0 : -1;
}

static int jnumber(struct jp *p, struct jval *v)
{
	const unsigned char *start = p->s;

	if (*p->s == '-')
		p->s++;
	if (p->s < p->end && *p->s == '0')
		p->s++;
	else if (jdigits(p) < 0)
		return -1;
	if (p->s < p->end && *p->s == '.') {
		p->s++;
		if (jdigits(p) < 0)
			return -1;
	}
	if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
		p->s++;
		if (p->s < p->end && (*p->s == '+' || *p->s == '-'))
			p->s++;
		if (jdigits(p) < 0)
			return -1;
	}
	v->len = (size_t)(p->s - start);
	if (v->len >= sizeof(v->val))
		return -1;
	memcpy(v->val, start, v->len);
	v->val[v->len] = '\0';
	return 0;
}

static int jword(struct jp *p, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(p->end - p->s) < n || memcmp(p->s, w, n) != 0)
		return -1;
	p->s += n;
	return 0;
}

static int jvalue(struct jp *p, const char *path)
{
	struct jval *v;
	int rc;

	jws(p);
	if (p->s >= p->end || ++p->depth > 16)
		return -1;
	switch (*p->s) {
	case '{':
		rc = jadd(p, path, 'o') ? jobject(p, path) : -1;
		break;
	case '[':
		rc = jadd(p, path, 'a') ? jarray(p, path) : -1;
		break;
	case '"':
		v = jadd(p, path, 's');
		rc = v ? jstring(p, v->val, sizeof(v->val), &v->len) : -1;
		break;
	case 't':
		rc = jadd(p, path, 't') ? jword(p, "true") : -1;
		break;
	case 'f':
		rc = jadd(p, path, 'f') ? jword(p, "false") : -1;
		break;
	case 'n':
		rc = jadd(p, path, '0') ? jword(p, "null") : -1;
		break;
	default:
		v = jadd(p, path, 'n');
		rc = v ? jnumber(p, v) : -1;
		break;
	}
	p->depth--;
	return rc;
}

/* Parses one line (without its '\n'); the whole of it must be one JSON object. */
static int jparse(const char *line, size_t len, struct jdoc *d)
{
	struct jp p = {(const unsigned char *)line, (const unsigned char *)line + len, d, 0};

	d->n = 0;
	jws(&p);
	if (p.s >= p.end || *p.s != '{' || jvalue(&p, "") < 0)
		return -1;
	jws(&p);
	return p.s == p.end ? 0 : -1;
}

static const struct jval *jget(const struct jdoc *d, const char *path)
{
	for (int i = 0; i < d->n; i++)
		if (strcmp(d->v[i].path, path) == 0)
			return &d->v[i];
	fail_msg("no field %s", path);
	return NULL;
}

static const char *jstr(const struct jdoc *d, const char *path)
{
	const struct jval *v = jget(d, path);

	if (v->type != 's')
		fail_msg("%s is not a string", path);
	return v->val;
}

static long long jint(const struct jdoc *d, const char *path)
{
	const struct jval *v = jget(d, path);
	char *end;
	long long x;

	if (v->type != 'n')
		fail_msg("%s is not a number", path);
	x = strtoll(v->val, &end, 10);
	assert_int_equal(*end, '\0');
	return x;
}

static const char *jnum(const struct jdoc *d, const char *path)
{
	const struct jval *v = jget(d, path);

	if (v->type != 'n')
		fail_msg("%s is not a number", path);
	return v->val;
}

static void jnull(const struct jdoc *d, const char *path)
{
	if (jget(d, path)->type != '0')
		fail_msg("%s is not null", path);
}

/* The parser itself rejects what it must. */
static void test_parser_is_strict(void **state)
{
	static struct jdoc d;
	static const char *const bad[] = {
		"{\"a\":\"x\ny\"}",	  /* raw newline in a string */
		"{\"a\":\"\\x\"}",	  /* unknown escape */
		"{\"a\":\"\xff\"}",	  /* invalid UTF-8 */
		"{\"a\":\"\xc0\xaf\"}",	  /* overlong */
		"{\"a\":\"\\ud800\"}",	  /* lone surrogate */
		"{\"a\":1,\"a\":2}",	  /* duplicate key */
		"{\"a\":01}",		  /* leading zero */
		"{\"a\":1} x",		  /* trailing garbage */
		"{\"a\":\"unterminated}", /* */
		"{\"a\" 1}",
	};
	static const char good[] = "{\"a\":{\"b\":[1,-2.5e3,true,false,null]},\"c\":\"\\u00e9\\"
				   "ud83d\\ude00\\\"\"}";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (jparse(bad[i], strlen(bad[i]), &d) == 0)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(jparse(good, strlen(good), &d), 0);
	assert_string_equal(jstr(&d, "c"), "\xc3\xa9\xf0\x9f\x98\x80\"");
	assert_string_equal(jnum(&d, "a.b[1]"), "-2.5e3");
	jnull(&d, "a.b[4]");
}

/* ---- fixtures ---- */

struct fake {
	int fail_write;	     /* errno to fail writes with; 0: really write */
	size_t partial;	     /* with fail_write: bytes really written by the first failing call */
	unsigned fail_fsync; /* this many next syncs fail with EIO */
	unsigned writes, fsyncs;
	uint64_t now;
};

static ssize_t fake_write(void *ctx, int fd, const void *buf, size_t len)
{
	struct fake *f = ctx;

	f->writes++;
	if (f->fail_write) {
		if (f->partial) {
			ssize_t n = write(fd, buf, len < f->partial ? len : f->partial);

			f->partial = 0;
			return n;
		}
		errno = f->fail_write;
		return -1;
	}
	return write(fd, buf, len);
}

static int fake_fsync(void *ctx, int fd)
{
	struct fake *f = ctx;

	f->fsyncs++;
	if (f->fail_fsync) {
		f->fail_fsync--;
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

static uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

struct fx {
	char dir[64];
	char path[128];
	struct b2b_cdr_config cfg;
	struct fake fake;
	struct b2b_cdr_hooks hooks;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/b2b_cdr_test.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	/* two directory levels that do not exist yet */
	snprintf(fx->path, sizeof(fx->path), "%s/log/tollgate/cdr.jsonl", fx->dir);
	snprintf(fx->cfg.path, sizeof(fx->cfg.path), "%s", fx->path);
	fx->cfg.fsync = B2B_CDR_FSYNC_ALWAYS;
	fx->cfg.sync_interval_ms = 1000;
	fx->cfg.backlog_max = 100;
	fx->hooks = (struct b2b_cdr_hooks){fake_write, fake_fsync, fake_now, &fx->fake};
	fx->fake.now = 1000000000ull;
	tg_log_set_level("b2b", "err");
	*state = fx;
	return 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* The file's lines; each must end in '\n'. Returns the count (at most max). */
static int read_lines(const char *path, char **buf, char **lines, size_t *lens, int max)
{
	FILE *f = fopen(path, "r");
	size_t cap = 1 << 20, len;
	int n = 0;

	assert_non_null(f);
	*buf = malloc(cap);
	assert_non_null(*buf);
	len = fread(*buf, 1, cap - 1, f);
	fclose(f);
	(*buf)[len] = '\0';
	assert_int_equal(strlen(*buf), len); /* no NUL byte in the file */
	for (char *p = *buf; *p;) {
		char *nl = strchr(p, '\n');

		assert_non_null(nl); /* no broken last line */
		assert_true(n < max);
		lines[n] = p;
		lens[n] = (size_t)(nl - p);
		n++;
		p = nl + 1;
	}
	return n;
}

/* The call-ids of a file's records, in order, as one string "c1,c2,". */
static void ids_of(const char *path, char *out, size_t cap)
{
	static struct jdoc d;
	char *buf, *lines[256];
	size_t lens[256], used = 0;
	int n = read_lines(path, &buf, lines, lens, 256);

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		assert_int_equal(jparse(lines[i], lens[i], &d), 0);
		used += (size_t)snprintf(out + used, cap - used, "%s,", jstr(&d, "a.call_id"));
		assert_true(used < cap);
	}
	free(buf);
}

static struct b2b_cdr_record simple(const char *callid)
{
	return (struct b2b_cdr_record){
		.a = {.call_id = callid, .from_uri = "sip:a@x", .to_uri = "sip:b@y"},
		.b = {.call_id = "b-leg", .from_uri = "sip:a@x", .to_uri = "sip:b@gw"},
		.setup_ms = 1700000000000,
		.answer_ms = 1700000001000,
		.end_ms = 1700000061500,
		.reason = B2B_CDR_NORMAL_A,
		.sip_code = 200,
	};
}

/* ---- tests ---- */

static void test_config(void **state)
{
	struct tg_cfg *cfg = tg_cfg_new();
	struct b2b_cdr_config cc;
	char err[256], buf[256];

	assert_non_null(cfg);
	memset(&cc, 0x5a, sizeof(cc));
	assert_int_equal(b2b_cdr_config_register(cfg, &cc), 0);
	assert_int_equal(tg_cfg_apply_defaults(cfg, err, sizeof(err)), 0);
	assert_string_equal(cc.path, "/var/log/tollgate/cdr.jsonl");
	/* batch by default: "always" would stall the control plane's loop on every call */
	assert_int_equal(cc.fsync, B2B_CDR_FSYNC_BATCH);
	assert_int_equal(cc.sync_interval_ms, 1000);
	assert_int_equal(cc.backlog_max, 10000);
	assert_int_equal(tg_cfg_set(cfg, "cdr.fsync", "always", false, err, sizeof(err)), 0);
	assert_int_equal(cc.fsync, B2B_CDR_FSYNC_ALWAYS);
	assert_int_equal(tg_cfg_set(cfg, "cdr.fsync", "batch", false, err, sizeof(err)), 0);
	assert_int_equal(cc.fsync, B2B_CDR_FSYNC_BATCH);
	assert_int_equal(
		tg_cfg_set(cfg, "cdr.fsync", "sometimes", false, err, sizeof(err)), -EINVAL);
	assert_int_equal(
		tg_cfg_set(cfg, "cdr.path", "relative.jsonl", false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "absolute"));
	assert_int_equal(
		tg_cfg_set(cfg, "cdr.path", "/var/log/", false, err, sizeof(err)), -EINVAL);
	assert_int_equal(tg_cfg_set(cfg, "cdr.sync_interval", "250ms", false, err, sizeof(err)), 0);
	assert_int_equal(cc.sync_interval_ms, 250);
	/* boot-only: a running daemon refuses them */
	assert_int_equal(tg_cfg_set(cfg, "cdr.fsync", "always", true, err, sizeof(err)), -EPERM);
	assert_int_equal(tg_cfg_get(cfg, "cdr.fsync", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "batch");
	assert_int_equal(b2b_cdr_config_register(cfg, &cc), -EEXIST);
	tg_cfg_free(cfg);
	assert_string_equal(b2b_cdr_reason_name(B2B_CDR_NORMAL_B), "normal-clearing-b");
	assert_string_equal(b2b_cdr_reason_name(B2B_CDR_REASON__COUNT), "?");
}

static void test_record_fields(void **state)
{
	struct fx *fx = *state;
	static struct jdoc d;
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(5060)};
	struct sockaddr_in6 b6 = {.sin6_family = AF_INET6, .sin6_port = htons(5080)};
	struct tg_msg_ep_stats ma = {.rx_pkts = 3000,
		.rx_bytes = 516000,
		.lost = 12,
		.jitter_us = 1875,
		.rtt_us = 42000,
		.mos_x100 = 441};
	struct tg_msg_ep_stats mb = {.rx_pkts = 2990,
		.rx_bytes = 514280,
		.lost = -1,
		.jitter_us = 250,
		.rtt_us = 0,
		.mos_x100 = 0};
	struct b2b_cdr_record rec = {
		.a = {"a-leg-1@10.0.0.1", "sip:alice@example.com;tag=1", "sip:bob@example.net",
			(const struct sockaddr *)&a4},
		.b = {"b-leg-1@tollgate", "sip:alice@tollgate", "sip:bob@gw.example.net:5080",
			(const struct sockaddr *)&b6},
		.setup_ms = 1714566896789,  /* 2024-05-01T12:34:56.789Z */
		.answer_ms = 1714566900005, /* 12:35:00.005 */
		.end_ms = 1714566960105,
		.reason = B2B_CDR_NORMAL_B,
		.sip_code = 200,
		.media_a = &ma,
		.media_b = &mb,
	};
	struct b2b_cdr_record rej = {
		.a = {"a-leg-2", "sip:x@y", "sip:z@w", NULL},
		.b = {NULL, NULL, NULL, NULL},
		.setup_ms = 1714566896000,
		.end_ms = 1714566897250,
		.reason = B2B_CDR_REJECTED,
		.sip_code = 486,
	};
	char *buf, *lines[4];
	size_t lens[4];
	struct stat sb;
	struct b2b_cdr *w;

	inet_pton(AF_INET, "192.0.2.10", &a4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::7", &b6.sin6_addr);
	w = b2b_cdr_open(&fx->cfg, &fx->hooks, NULL, 0);
	assert_non_null(w);
	/* created with its missing directories */
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(b2b_cdr_write(w, &rec), 0);
	assert_int_equal(b2b_cdr_write(w, &rej), 0);
	assert_int_equal(b2b_cdr_pending(w), 0);
	assert_int_equal(b2b_cdr_close(w), 0);

	assert_int_equal(read_lines(fx->path, &buf, lines, lens, 4), 2);
	assert_int_equal(jparse(lines[0], lens[0], &d), 0);
	assert_int_equal(jint(&d, "version"), 1);
	assert_string_equal(jstr(&d, "a.call_id"), "a-leg-1@10.0.0.1");
	assert_string_equal(jstr(&d, "a.from"), "sip:alice@example.com;tag=1");
	assert_string_equal(jstr(&d, "a.to"), "sip:bob@example.net");
	assert_string_equal(jstr(&d, "a.remote"), "192.0.2.10:5060");
	assert_string_equal(jstr(&d, "b.call_id"), "b-leg-1@tollgate");
	assert_string_equal(jstr(&d, "b.from"), "sip:alice@tollgate");
	assert_string_equal(jstr(&d, "b.to"), "sip:bob@gw.example.net:5080");
	assert_string_equal(jstr(&d, "b.remote"), "[2001:db8::7]:5080");
	assert_string_equal(jstr(&d, "setup_time"), "2024-05-01T12:34:56.789Z");
	assert_string_equal(jstr(&d, "answer_time"), "2024-05-01T12:35:00.005Z");
	assert_string_equal(jstr(&d, "end_time"), "2024-05-01T12:36:00.105Z");
	assert_int_equal(jint(&d, "duration_ms"), 60100);
	assert_string_equal(jstr(&d, "end_reason"), "normal-clearing-b");
	assert_int_equal(jint(&d, "sip_code"), 200);
	assert_int_equal(jint(&d, "media.from_a.packets"), 3000);
	assert_int_equal(jint(&d, "media.from_a.bytes"), 516000);
	assert_int_equal(jint(&d, "media.from_a.lost"), 12);
	assert_int_equal(jint(&d, "media.from_a.jitter_us"), 1875);
	assert_int_equal(jint(&d, "media.from_a.rtt_us"), 42000);
	assert_string_equal(jnum(&d, "media.from_a.mos"), "4.41");
	assert_int_equal(jint(&d, "media.from_b.packets"), 2990);
	assert_int_equal(jint(&d, "media.from_b.bytes"), 514280);
	assert_int_equal(jint(&d, "media.from_b.lost"), -1);
	assert_int_equal(jint(&d, "media.from_b.jitter_us"), 250);
	assert_int_equal(jint(&d, "media.from_b.rtt_us"), 0);
	jnull(&d, "media.from_b.mos");
	/* nothing else: 6 objects, 7 top-level values, 2 x 4 leg fields, 2 x 6 media fields */
	assert_int_equal(d.n, 6 + 7 + 2 * 4 + 2 * 6);

	assert_int_equal(jparse(lines[1], lens[1], &d), 0);
	assert_string_equal(jstr(&d, "a.call_id"), "a-leg-2");
	jnull(&d, "a.remote");
	jnull(&d, "b.call_id");
	jnull(&d, "b.from");
	jnull(&d, "b.to");
	jnull(&d, "b.remote");
	jnull(&d, "answer_time");
	assert_int_equal(jint(&d, "duration_ms"), 0);
	assert_string_equal(jstr(&d, "end_reason"), "rejected");
	assert_int_equal(jint(&d, "sip_code"), 486);
	jnull(&d, "media.from_a");
	jnull(&d, "media.from_b");
	free(buf);
}

static void test_escaping(void **state)
{
	struct fx *fx = *state;
	static struct jdoc d;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"\"quoted\" \\back\\slash", "\"quoted\" \\back\\slash"},
		{"line\r\nbreak\ttab\x01\x1f\x7f end", "line\r\nbreak\ttab\x01\x1f\x7f end"},
		{"sip:\"},{\"x\":1}@evil", "sip:\"},{\"x\":1}@evil"},
		/* valid multibyte kept as is */
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
			"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
		/* invalid: stray byte, overlong, surrogate, above U+10FFFF, truncated */
		{"a\xff"
		 "b",
			"a\xef\xbf\xbd"
			"b"},
		{"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},
		{"x\xed\xa0\x80y", "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy"},
		{"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"end\xe2\x82", "end\xef\xbf\xbd"},
		{"\xe2\x82(", "\xef\xbf\xbd("},
		/* line separators survive, escaped */
		{"a\xe2\x80\xa8"
		 "b\xe2\x80\xa9",
			"a\xe2\x80\xa8"
			"b\xe2\x80\xa9"},
		{"", ""},
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	char *buf, *lines[32];
	size_t lens[32];
	struct b2b_cdr *w = b2b_cdr_open(&fx->cfg, &fx->hooks, NULL, 0);

	assert_non_null(w);
	for (size_t i = 0; i < n; i++) {
		struct b2b_cdr_record rec = simple(cases[i].in);

		rec.a.from_uri = cases[i].in;
		rec.b.to_uri = cases[i].in;
		assert_int_equal(b2b_cdr_write(w, &rec), 0);
	}
	assert_int_equal(b2b_cdr_close(w), 0);
	assert_int_equal((size_t)read_lines(fx->path, &buf, lines, lens, 32), n);
	for (size_t i = 0; i < n; i++) {
		/* nothing raw that could split or confuse a line */
		for (size_t j = 0; j < lens[i]; j++)
			assert_true((unsigned char)lines[i][j] >= 0x20 && lines[i][j] != 0x7f);
		assert_null(memmem(lines[i], lens[i], "\xe2\x80\xa8", 3));
		if (jparse(lines[i], lens[i], &d) != 0)
			fail_msg("case %zu: not JSON: %.*s", i, (int)lens[i], lines[i]);
		assert_string_equal(jstr(&d, "a.call_id"), cases[i].out);
		assert_string_equal(jstr(&d, "a.from"), cases[i].out);
		assert_string_equal(jstr(&d, "b.to"), cases[i].out);
	}
	free(buf);

	/* an oversized value is cut, and still one valid line */
	char *big = malloc(3 * B2B_CDR_STR_MAX);
	struct b2b_cdr_record rec = simple("big");
	size_t len;
	char *line;

	assert_non_null(big);
	for (size_t i = 0; i + 2 < 3 * B2B_CDR_STR_MAX; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[3 * B2B_CDR_STR_MAX - 1] = '\0';
	rec.a.to_uri = big;
	line = b2b_cdr_format(&rec, &len);
	assert_non_null(line);
	assert_int_equal(line[len - 1], '\n');
	assert_int_equal(jparse(line, len - 1, &d), 0);
	assert_int_equal(strlen(jstr(&d, "a.to")), B2B_CDR_STR_MAX);
	free(line);
	free(big);
}

static void test_fsync_always(void **state)
{
	struct fx *fx = *state;
	struct b2b_cdr_record rec = simple("c");
	struct b2b_cdr_stats st;
	struct b2b_cdr *w = b2b_cdr_open(&fx->cfg, &fx->hooks, NULL, 0);

	assert_non_null(w);
	assert_int_equal(fx->fake.fsyncs, 0);
	for (int i = 1; i <= 5; i++) {
		assert_int_equal(b2b_cdr_write(w, &rec), 0);
		assert_int_equal(fx->fake.fsyncs, (unsigned)i);
		assert_int_equal(b2b_cdr_pending(w), 0);
	}
	/* nothing to sync: no sync */
	assert_int_equal(b2b_cdr_tick(w), 0);
	assert_int_equal(b2b_cdr_flush(w), 0);
	assert_int_equal(fx->fake.fsyncs, 5);
	assert_int_equal(b2b_cdr_tick_due_ms(w), UINT64_MAX);
	b2b_cdr_get_stats(w, &st);
	assert_int_equal(st.accepted, 5);
	assert_int_equal(st.durable, 5);
	assert_int_equal(st.syncs, 5);
	assert_int_equal(b2b_cdr_close(w), 0);
	assert_int_equal(fx->fake.fsyncs, 5);
}

static void test_fsync_batch(void **state)
{
	struct fx *fx = *state;
	struct b2b_cdr_record rec = simple("c");
	char ids[256];
	struct b2b_cdr *w;

	fx->cfg.fsync = B2B_CDR_FSYNC_BATCH;
	fx->cfg.sync_interval_ms = 500;
	fx->cfg.backlog_max = 8;
	w = b2b_cdr_open(&fx->cfg, &fx->hooks, NULL, 0);
	assert_non_null(w);
	/* the first sync is not held back */
	assert_int_equal(b2b_cdr_write(w, &rec), 0);
	assert_int_equal(fx->fake.fsyncs, 1);
	assert_int_equal(b2b_cdr_pending(w), 0);
	/* within the interval: written (readable in the file), not synced, counted as pending */
	for (int i = 1; i <= 3; i++) {
		fx->fake.now += 100 * 1000000ull;
		assert_int_equal(b2b_cdr_write(w, &rec), 0);
		assert_int_equal(fx->fake.fsyncs, 1);
		assert_int_equal(b2b_cdr_pending(w), (size_t)i);
	}
	ids_of(fx->path, ids, sizeof(ids));
	assert_string_equal(ids, "c,c,c,c,");
	/* 300 ms since the sync: the timer comes back in 200 */
	assert_int_equal(b2b_cdr_tick_due_ms(w), 200);
	assert_int_equal(b2b_cdr_tick(w), 0);
	assert_int_equal(fx->fake.fsyncs, 1);
	fx->fake.now += 200 * 1000000ull;
	assert_int_equal(b2b_cdr_tick_due_ms(w), 0);
	assert_int_equal(b2b_cdr_tick(w), 0);
	assert_int_equal(fx->fake.fsyncs, 2);
	assert_int_equal(b2b_cdr_pending(w), 0);
	assert_int_equal(b2b_cdr_tick_due_ms(w), UINT64_MAX);
	/* a write after the interval syncs by itself */
	fx->fake.now += 600 * 1000000ull;
	assert_int_equal(b2b_cdr_write(w, &rec), 0);
	assert_int_equal(fx->fake.fsyncs, 3);
	/* a full backlog syncs early rather than grow */
	for (int i = 1; i <= 8; i++)
		assert_int_equal(b2b_cdr_write(w, &rec), 0);
	assert_int_equal(fx->fake.fsyncs, 4);
	assert_int_equal(b2b_cdr_pending(w), 0);
	/* flush syncs now */
	assert_int_equal(b2b_cdr_write(w, &rec), 0);
	assert_int_equal(b2b_cdr_pending(w), 1);
	assert_int_equal(b2b_cdr_flush(w), 0);
	assert_int_equal(fx->fake.fsyncs, 5);
	assert_int_equal(b2b_cdr_pending(w), 0);
	/* close syncs what is left */
	assert_int_equal(b2b_cdr_write(w, &rec), 0);
	assert_int_equal(b2b_cdr_close(w), 0);
	assert_int_equal(fx->fake.fsyncs, 6);
}

static void test_rotation(void **state)
{
	struct fx *fx = *state;
	struct b2b_cdr_record r1 = simple("one"), r2 = simple("two"), r3 = simple("three");
	char rotated[160], ids[256];
	struct b2b_cdr_stats st;
	struct b2b_cdr *w = b2b_cdr_open(&fx->cfg, &fx->hooks, NULL, 0);

	assert_non_null(w);
	assert_int_equal(b2b_cdr_write(w, &r1), 0);
	snprintf(rotated, sizeof(rotated), "%s.1", fx->path);
	assert_int_equal(rename(fx->path, rotated), 0);
	/* until the reopen, records follow the renamed file */
	assert_int_equal(b2b_cdr_write(w, &r2), 0);
	assert_int_equal(b2b_cdr_reopen(w), 0);
	assert_int_equal(b2b_cdr_write(w, &r3), 0);
	b2b_cdr_get_stats(w, &st);
	assert_int_equal(st.reopens, 1);
	assert_int_equal(b2b_cdr_close(w), 0);
	ids_of(rotated, ids, sizeof(ids));
	assert_string_equal(ids, "one,two,");
	ids_of(fx->path, ids, sizeof(ids));
	assert_string_equal(ids, "three,");

	/* records held by a failing disk at rotation time go to the new file, once */
	fx->cfg.fsync = B2B_CDR_FSYNC_ALWAYS;
	w = b2b_cdr_open(&fx->cfg, &fx->hooks, NULL, 0);
	assert_non_null(w);
	fx->fake.fail_write = ENOSPC;
	fx->fake.partial = 10;
	assert_int_equal(b2b_cdr_write(w, &r1), -ENOSPC);
	assert_int_equal(rename(fx->path, rotated), 0);
	/* the last try on the old file leaves half a line there too */
	fx->fake.partial = 20;
	assert_int_equal(b2b_cdr_reopen(w), -ENOSPC);
	assert_int_equal(b2b_cdr_pending(w), 1);
	fx->fake.fail_write = 0;
	assert_int_equal(b2b_cdr_flush(w), 0);
	assert_int_equal(b2b_cdr_pending(w), 0);
	assert_int_equal(b2b_cdr_close(w), 0);
	ids_of(rotated, ids, sizeof(ids)); /* the partial line was cut before it was left */
	assert_string_equal(ids, "three,");
	ids_of(fx->path, ids, sizeof(ids));
	assert_string_equal(ids, "one,");
}

/* Counts lines of captured stderr that contain needle. */
static int count(const char *log, const char *needle)
{
	int n = 0;

	for (const char *p = log; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

struct capture {
	int fds[2], saved;
};

static void capture_start(struct capture *c)
{
	assert_int_equal(pipe(c->fds), 0);
	c->saved = dup(STDERR_FILENO);
	dup2(c->fds[1], STDERR_FILENO);
}

static void capture_end(struct capture *c, char *buf, size_t cap)
{
	ssize_t n;

	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	close(c->fds[1]);
	n = read(c->fds[0], buf, cap - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(c->fds[0]);
}

static void test_disk_full(void **state)
{
	struct fx *fx = *state;
	struct b2b_cdr_record r;
	struct b2b_cdr_stats st;
	struct capture cap;
	char ids[512], log[8192];
	struct b2b_cdr *w = b2b_cdr_open(&fx->cfg, &fx->hooks, NULL, 0);

	assert_non_null(w);
	r = simple("c1");
	assert_int_equal(b2b_cdr_write(w, &r), 0);

	tg_log_set_level("b2b", "info");
	capture_start(&cap);
	/* the disk fills in the middle of a line */
	fx->fake.fail_write = ENOSPC;
	fx->fake.partial = 37;
	r = simple("c2");
	assert_int_equal(b2b_cdr_write(w, &r), -ENOSPC);
	assert_int_equal(b2b_cdr_pending(w), 1);
	r = simple("c3");
	assert_int_equal(b2b_cdr_write(w, &r), -ENOSPC);
	r = simple("c4");
	assert_int_equal(b2b_cdr_write(w, &r), -ENOSPC);
	assert_int_equal(b2b_cdr_tick(w), -ENOSPC);
	assert_int_equal(b2b_cdr_flush(w), -ENOSPC);
	assert_int_equal(b2b_cdr_pending(w), 3);
	/* while failing, the timer retries every interval instead of spinning */
	assert_int_equal(b2b_cdr_tick_due_ms(w), fx->cfg.sync_interval_ms);
	/* the disk comes back: the held records go first, in order, then the new one */
	fx->fake.fail_write = 0;
	r = simple("c5");
	assert_int_equal(b2b_cdr_write(w, &r), 0);
	assert_int_equal(b2b_cdr_pending(w), 0);
	capture_end(&cap, log, sizeof(log));
	tg_log_set_level("b2b", "err");

	/* one error line for the whole burst, one line when it ends */
	assert_int_equal(count(log, "failed: No space left on device"), 1);
	assert_int_equal(count(log, "writable again"), 1);
	b2b_cdr_get_stats(w, &st);
	assert_int_equal(st.accepted, 5);
	assert_int_equal(st.durable, 5);
	assert_true(st.write_errors >= 5);
	assert_int_equal(b2b_cdr_close(w), 0);
	ids_of(fx->path, ids, sizeof(ids));
	assert_string_equal(ids, "c1,c2,c3,c4,c5,");

	/* recovery by the timer alone, in batch mode */
	assert_int_equal(unlink(fx->path), 0);
	fx->cfg.fsync = B2B_CDR_FSYNC_BATCH;
	w = b2b_cdr_open(&fx->cfg, &fx->hooks, NULL, 0);
	assert_non_null(w);
	fx->fake.fail_write = EIO;
	r = simple("d1");
	assert_int_equal(b2b_cdr_write(w, &r), -EIO);
	r = simple("d2");
	assert_int_equal(b2b_cdr_write(w, &r), -EIO);
	fx->fake.fail_write = 0;
	assert_int_equal(b2b_cdr_tick(w), 0);
	assert_int_equal(b2b_cdr_close(w), 0);
	ids_of(fx->path, ids, sizeof(ids));
	assert_string_equal(ids, "d1,d2,");
}

static void test_sync_failure(void **state)
{
	struct fx *fx = *state;
	struct b2b_cdr_record r;
	char ids[512];
	struct b2b_cdr *w;

	fx->cfg.fsync = B2B_CDR_FSYNC_BATCH;
	fx->cfg.sync_interval_ms = 1000;
	w = b2b_cdr_open(&fx->cfg, &fx->hooks, NULL, 0);
	assert_non_null(w);
	r = simple("s1");
	assert_int_equal(b2b_cdr_write(w, &r), 0); /* synced: the first one */
	r = simple("s2");
	assert_int_equal(b2b_cdr_write(w, &r), 0);
	r = simple("s3");
	assert_int_equal(b2b_cdr_write(w, &r), 0);
	assert_int_equal(b2b_cdr_pending(w), 2);
	/* the sync fails: s2 and s3 are no longer trusted, cut and rewritten */
	fx->fake.fail_fsync = 1;
	assert_int_equal(b2b_cdr_flush(w), -EIO);
	assert_int_equal(b2b_cdr_pending(w), 2);
	ids_of(fx->path, ids, sizeof(ids));
	assert_string_equal(ids, "s1,s2,s3,");
	assert_int_equal(b2b_cdr_flush(w), 0);
	assert_int_equal(b2b_cdr_pending(w), 0);
	ids_of(fx->path, ids, sizeof(ids));
	assert_string_equal(ids, "s1,s2,s3,");
	/* same in always mode: the record is rewritten once, by the next write */
	assert_int_equal(b2b_cdr_close(w), 0);
	fx->cfg.fsync = B2B_CDR_FSYNC_ALWAYS;
	w = b2b_cdr_open(&fx->cfg, &fx->hooks, NULL, 0);
	assert_non_null(w);
	fx->fake.fail_fsync = 2;
	r = simple("s4");
	assert_int_equal(b2b_cdr_write(w, &r), -EIO);
	r = simple("s5");
	assert_int_equal(b2b_cdr_write(w, &r), -EIO);
	assert_int_equal(b2b_cdr_pending(w), 2);
	r = simple("s6");
	assert_int_equal(b2b_cdr_write(w, &r), 0);
	assert_int_equal(b2b_cdr_pending(w), 0);
	assert_int_equal(b2b_cdr_close(w), 0);
	ids_of(fx->path, ids, sizeof(ids));
	assert_string_equal(ids, "s1,s2,s3,s4,s5,s6,");
}

static void test_backlog_full(void **state)
{
	struct fx *fx = *state;
	struct b2b_cdr_record r;
	struct b2b_cdr_stats st;
	char ids[512], id[16];
	struct b2b_cdr *w;

	fx->cfg.backlog_max = 3;
	w = b2b_cdr_open(&fx->cfg, &fx->hooks, NULL, 0);
	assert_non_null(w);
	fx->fake.fail_write = ENOSPC;
	for (int i = 1; i <= 3; i++) {
		snprintf(id, sizeof(id), "k%d", i);
		r = simple(id);
		assert_int_equal(b2b_cdr_write(w, &r), -ENOSPC);
	}
	/* not taken: the caller knows, the backlog is unchanged */
	r = simple("k4");
	assert_int_equal(b2b_cdr_write(w, &r), -ENOBUFS);
	assert_int_equal(b2b_cdr_pending(w), 3);
	b2b_cdr_get_stats(w, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.accepted, 3);
	/* the caller retries once the disk is back */
	fx->fake.fail_write = 0;
	assert_int_equal(b2b_cdr_write(w, &r), 0);
	assert_int_equal(b2b_cdr_pending(w), 0);
	assert_int_equal(b2b_cdr_close(w), 0);
	ids_of(fx->path, ids, sizeof(ids));
	assert_string_equal(ids, "k1,k2,k3,k4,");
}

static void test_close_reports_loss(void **state)
{
	struct fx *fx = *state;
	struct b2b_cdr_record r = simple("lost");
	struct b2b_cdr *w = b2b_cdr_open(&fx->cfg, &fx->hooks, NULL, 0);

	assert_non_null(w);
	fx->fake.fail_write = EIO;
	assert_int_equal(b2b_cdr_write(w, &r), -EIO);
	assert_int_equal(b2b_cdr_close(w), -EIO);
	assert_int_equal(b2b_cdr_close(NULL), 0);
}

static void test_open_errors(void **state)
{
	struct fx *fx = *state;
	struct b2b_cdr_config cfg = fx->cfg;
	char err[512], file[128];
	int fd;

	/* a path component that is a file */
	snprintf(file, sizeof(file), "%s/plain", fx->dir);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cfg.path, sizeof(cfg.path), "%s/sub/cdr.jsonl", file);
	errno = 0;
	assert_null(b2b_cdr_open(&cfg, NULL, err, sizeof(err)));
	assert_int_equal(errno, ENOTDIR);
	assert_non_null(strstr(err, "cdr.path"));
	assert_non_null(strstr(err, file));
	/* the path is a directory */
	snprintf(cfg.path, sizeof(cfg.path), "%s", fx->dir);
	assert_null(b2b_cdr_open(&cfg, NULL, err, sizeof(err)));
	assert_int_equal(errno, EISDIR);
	assert_non_null(strstr(err, "cannot open"));
	/* bad config */
	snprintf(cfg.path, sizeof(cfg.path), "relative");
	assert_null(b2b_cdr_open(&cfg, NULL, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err, "cdr.path: must be an absolute path");
	cfg = fx->cfg;
	cfg.fsync = 7;
	assert_null(b2b_cdr_open(&cfg, NULL, NULL, 0));
	assert_int_equal(errno, EINVAL);
	/* real syscalls (no hooks) work too, and append to what is there */
	cfg = fx->cfg;
	struct b2b_cdr *w = b2b_cdr_open(&cfg, NULL, err, sizeof(err));
	struct b2b_cdr_record r = simple("real1");
	char ids[128];

	assert_non_null(w);
	assert_int_equal(b2b_cdr_write(w, &r), 0);
	assert_int_equal(b2b_cdr_close(w), 0);
	w = b2b_cdr_open(&cfg, NULL, err, sizeof(err));
	assert_non_null(w);
	r = simple("real2");
	assert_int_equal(b2b_cdr_write(w, &r), 0);
	assert_int_equal(b2b_cdr_close(w), 0);
	ids_of(fx->path, ids, sizeof(ids));
	assert_string_equal(ids, "real1,real2,");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser_is_strict),
		cmocka_unit_test(test_config),
		cmocka_unit_test_setup_teardown(test_record_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_always, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_reports_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};

	return cmocka_run_group_tests_name("b2b_cdr", tests, NULL, NULL);
}
