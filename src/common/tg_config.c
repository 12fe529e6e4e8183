/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The config registry: module key tables, typed parsers that turn text into a field's value,
 * and the INI loader on top of libinih. Every write path (defaults, file, set) parses into
 * scratch storage first and copies into the modules' structs only once everything is valid;
 * that is what makes a load all-or-nothing.
 *
 * We drive inih through ini_parse_stream() with our own line reader rather than
 * ini_parse_string(): the reader counts lines (Debian's inih has no line number in the
 * handler), refuses NUL and control bytes and over-long lines (inih would otherwise split a long
 * line and parse its tail as a line of its own), strips indentation (so inih never treats an
 * indented line as a continuation of the previous value) and checks section headers, which
 * inih does not report to the handler.
 */
#include "tg_config.h"

#include "tg_shm.h" /* tg_errf */
#include "tg_log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

/* One registered key: the row, where its value lives, and its slot in scratch blobs. */
struct cfg_entry {
	const struct tg_cfg_key *key;
	void *field;
	size_t slot;
};

struct tg_cfg {
	struct cfg_entry *ents; /* registration order */
	size_t n;
	uint32_t *index;	 /* entry numbers sorted by (section, name), for bsearch */
	unsigned char *defaults; /* each key's parsed default at its slot */
	size_t blob_size;	 /* bytes of a defaults or scratch blob */
	unsigned char *own;	 /* tg_cfg_detached(): the values, at each entry's slot */
};

/* Longest value quoted back in an error message; the rest becomes "...". */
#define QUOTE_MAX 64

static const char *const type_names[] = {
	[TG_CFG_BOOL] = "bool",
	[TG_CFG_INT] = "int",
	[TG_CFG_UINT] = "uint",
	[TG_CFG_STRING] = "string",
	[TG_CFG_ENUM] = "enum",
	[TG_CFG_DURATION] = "duration",
	[TG_CFG_ADDR] = "address",
};

const char *tg_cfg_type_name(enum tg_cfg_type type)
{
	return (unsigned)type < sizeof(type_names) / sizeof(type_names[0]) ? type_names[type] : "?";
}

const char *tg_cfg_changes(const struct tg_cfg_key *k)
{
	return k->flags & TG_CFG_LIVE ? "live" : k->flags & TG_CFG_RELOAD ? "reload" : "boot";
}

static void err_clear(char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
}

static size_t align8(size_t v)
{
	return (v + 7) & ~(size_t)7;
}

/* --- typed parsers: text -> value, or a reason (the caller adds place and key) --- */

/* A field is full-range when the row leaves both bounds at 0. */
static bool unbounded(const struct tg_cfg_key *k)
{
	return k->min == 0 && k->max == 0;
}

static void bounds(const struct tg_cfg_key *k, int64_t *lo, int64_t *hi)
{
	if (!unbounded(k)) {
		*lo = k->min;
		*hi = k->max;
		return;
	}
	*lo = k->type == TG_CFG_INT ? INT64_MIN : 0;
	*hi = k->type == TG_CFG_UINT ? (int64_t)UINT32_MAX : INT64_MAX;
}

static int digit_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/*
 * Unsigned magnitude: decimal, or hex after 0x when hex_ok. Hand-rolled because strtoull
 * skips spaces, takes a sign, reads "010" as octal under base 0 and "0x0x5" as 5.
 * Returns 0, -EINVAL (not a number; *end says where it stopped) or -ERANGE.
 */
static int parse_mag(const char *s, bool hex_ok, uint64_t *out, const char **end)
{
	unsigned base = 10;
	uint64_t v = 0;
	bool over = false;
	int d;

	if (hex_ok && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (digit_val(*s) >= (int)base) {
		*end = s;
		return -EINVAL;
	}
	for (; (d = digit_val(*s)) < (int)base; s++) {
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			over = true;
		else
			v = v * base + (uint64_t)d;
	}
	*end = s;
	*out = v;
	return over ? -ERANGE : 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static void fmt_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms && ms % 3600000 == 0)
		snprintf(buf, len, "%" PRIu64 "h", ms / 3600000);
	else if (ms && ms % 60000 == 0)
		snprintf(buf, len, "%" PRIu64 "m", ms / 60000);
	else if (ms && ms % 1000 == 0)
		snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRIu64 "ms", ms);
}

/* "lo..hi" in the key's own notation, for messages and docs. */
static void fmt_bounds(const struct tg_cfg_key *k, char *buf, size_t len)
{
	char a[32], b[32];
	int64_t lo, hi;

	bounds(k, &lo, &hi);
	if (k->type == TG_CFG_DURATION) {
		fmt_duration((uint64_t)lo, a, sizeof(a));
		fmt_duration((uint64_t)hi, b, sizeof(b));
		snprintf(buf, len, "%s..%s", a, b);
	} else {
		snprintf(buf, len, "%" PRId64 "..%" PRId64, lo, hi);
	}
}

static int parse_duration(const char *s, uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	const char *end;
	uint64_t v;
	int rc;

	rc = parse_mag(s, false, &v, &end);
	if (rc == -EINVAL)
		return rc;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (rc || v > UINT64_MAX / units[i].ms)
			return -ERANGE;
		*out = v * units[i].ms;
		return 0;
	}
	return -EINVAL;
}

static size_t n_choices(const struct tg_cfg_key *k)
{
	size_t n = 0;

	while (k->choices[n])
		n++;
	return n;
}

/* "a|b|c" into msg after prefix; a long list is cut, never overflowed. */
static void fmt_choices(const struct tg_cfg_key *k, const char *sep, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; k->choices[i] && off < len; i++) {
		int r = snprintf(buf + off, len - off, "%s%s", i ? sep : "", k->choices[i]);

		if (r < 0)
			break;
		off += (size_t)r;
	}
}

/*
 * Text values must survive a trip through the INI file we write (tg_cfg_write_example): inih
 * strips surrounding whitespace and cuts at ';' after whitespace, and control bytes would let
 * `show config` write escape sequences to an operator's terminal.
 */
static const char *unsafe_text(const char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return "control characters are not allowed";
		if (c == ';' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t'))
			return "';' at the start or after a space would begin a comment";
	}
	if (len && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1])))
		return "leading or trailing whitespace would be lost in the config file";
	return NULL;
}

static bool addr_optional(const struct tg_cfg_key *k)
{
	return !k->def || !k->def[0];
}

/*
 * Parses text for key k into out (a buffer of k->size bytes), then runs the row's validate hook
 * on the parsed value. Returns 0, or -EINVAL (or the hook's -errno) with the reason in msg.
 */
static int parse_value(
	const struct tg_cfg_key *k, const char *s, void *out, char *msg, size_t msglen)
{
	char rb[80];
	int64_t lo, hi;
	const char *end, *why;
	uint64_t mag;
	int rc;

	bounds(k, &lo, &hi);
	fmt_bounds(k, rb, sizeof(rb));
	switch (k->type) {
	case TG_CFG_BOOL: {
		bool b;

		if (parse_bool(s, &b) < 0) {
			tg_errf(msg, msglen, "expected true|false (or yes|no, on|off, 1|0)");
			return -EINVAL;
		}
		memcpy(out, &b, sizeof(b));
		break;
	}
	case TG_CFG_INT: {
		bool neg = s[0] == '-';
		int64_t v;

		rc = parse_mag(s + (neg || s[0] == '+'), true, &mag, &end);
		if (rc == -EINVAL || *end) {
			tg_errf(msg, msglen, "expected an integer in %s (decimal or 0x hex)", rb);
			return -EINVAL;
		}
		if (rc || mag > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) {
			tg_errf(msg, msglen, "out of range: expected %s", rb);
			return -EINVAL;
		}
		/* -(2^63) has no positive int64 twin: negate in unsigned arithmetic */
		v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
		if (v < lo || v > hi) {
			tg_errf(msg, msglen, "out of range: expected %s", rb);
			return -EINVAL;
		}
		memcpy(out, &v, sizeof(v));
		break;
	}
	case TG_CFG_UINT: {
		uint32_t v;

		rc = parse_mag(s, true, &mag, &end);
		if (rc == -EINVAL || *end) {
			tg_errf(msg, msglen,
				"expected an unsigned integer in %s (decimal or 0x hex)", rb);
			return -EINVAL;
		}
		if (rc || mag < (uint64_t)lo || mag > (uint64_t)hi) {
			tg_errf(msg, msglen, "out of range: expected %s", rb);
			return -EINVAL;
		}
		v = (uint32_t)mag;
		memcpy(out, &v, sizeof(v));
		break;
	}
	case TG_CFG_DURATION:
		rc = parse_duration(s, &mag);
		if (rc == -EINVAL) {
			tg_errf(msg, msglen,
				"expected a duration in %s, like 250ms, 5s, 2m or 1h "
				"(a bare number is ms)",
				rb);
			return -EINVAL;
		}
		if (rc || mag < (uint64_t)lo || mag > (uint64_t)hi) {
			tg_errf(msg, msglen, "out of range: expected %s", rb);
			return -EINVAL;
		}
		memcpy(out, &mag, sizeof(mag));
		break;
	case TG_CFG_ENUM: {
		size_t n = n_choices(k);
		int i;

		for (i = 0; (size_t)i < n; i++)
			if (strcasecmp(s, k->choices[i]) == 0)
				break;
		if ((size_t)i == n) {
			char list[160];

			fmt_choices(k, "|", list, sizeof(list));
			tg_errf(msg, msglen, "expected one of %s", list);
			return -EINVAL;
		}
		memcpy(out, &i, sizeof(i));
		break;
	}
	case TG_CFG_STRING:
	case TG_CFG_ADDR: {
		size_t len = strlen(s);

		if (len >= k->size) {
			tg_errf(msg, msglen, "too long: %zu characters, at most %zu", len,
				k->size - 1);
			return -EINVAL;
		}
		if (k->type == TG_CFG_ADDR && (len || !addr_optional(k))) {
			unsigned char a[sizeof(struct in6_addr)];

			if (inet_pton(AF_INET, s, a) != 1 && inet_pton(AF_INET6, s, a) != 1) {
				tg_errf(msg, msglen, "expected an IPv4 or IPv6 address");
				return -EINVAL;
			}
		}
		why = unsafe_text(s);
		if (why) {
			tg_errf(msg, msglen, "%s", why);
			return -EINVAL;
		}
		memset(out, 0, k->size);
		memcpy(out, s, len);
		break;
	}
	default:
		tg_errf(msg, msglen, "key has an unknown type %d", (int)k->type);
		return -EINVAL;
	}
	if (k->validate) {
		msg[0] = '\0';
		rc = k->validate(out, msg, msglen);
		if (rc) {
			if (!msg[0])
				tg_errf(msg, msglen, "rejected by the module");
			return rc < 0 ? rc : -EINVAL;
		}
	}
	return 0;
}

/*
 * The text of a value at v for key k: points into tmp, into v (strings) or into choices[];
 * *len is its length. Reads through memcpy and unsigned char so a module that wrote garbage
 * into its struct gets garbage printed, not undefined behaviour.
 */
static const char *value_text(
	const struct tg_cfg_key *k, const void *v, char *tmp, size_t tmplen, size_t *len)
{
	const char *s = tmp;
	int64_t i64;
	uint64_t u64;
	uint32_t u32;
	int idx;

	switch (k->type) {
	case TG_CFG_BOOL:
		s = *(const unsigned char *)v ? "true" : "false";
		break;
	case TG_CFG_INT:
		memcpy(&i64, v, sizeof(i64));
		snprintf(tmp, tmplen, "%" PRId64, i64);
		break;
	case TG_CFG_UINT:
		memcpy(&u32, v, sizeof(u32));
		snprintf(tmp, tmplen, "%" PRIu32, u32);
		break;
	case TG_CFG_DURATION:
		memcpy(&u64, v, sizeof(u64));
		fmt_duration(u64, tmp, tmplen);
		break;
	case TG_CFG_ENUM:
		memcpy(&idx, v, sizeof(idx));
		if (idx >= 0 && (size_t)idx < n_choices(k))
			s = k->choices[idx];
		else
			snprintf(tmp, tmplen, "<invalid %d>", idx);
		break;
	case TG_CFG_STRING:
	case TG_CFG_ADDR:
		*len = strnlen(v, k->size);
		return v;
	default:
		s = "?";
		break;
	}
	*len = strlen(s);
	return s;
}

/* --- the registry --- */

static bool valid_name(const char *s)
{
	size_t n = 0;

	if (!s || !*s)
		return false;
	for (; s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_' && s[n] != '-')
			return false;
	return n <= TG_CFG_NAME_MAX;
}

static const char *check_row(const struct tg_cfg_key *k)
{
	int64_t lo, hi;

	if (!valid_name(k->section) || !valid_name(k->name))
		return "section and name need 1-47 characters of [A-Za-z0-9_-]";
	if (!k->help || !k->help[0])
		return "no help text: every key is documented";
	if (k->flags & ~(unsigned)(TG_CFG_LIVE | TG_CFG_SECRET | TG_CFG_REPEAT | TG_CFG_RELOAD))
		return "unknown flags";
	if ((k->flags & TG_CFG_LIVE) && (k->flags & TG_CFG_RELOAD))
		return "live and reload: a live key is set at once, reload only re-reads the file";
	if (k->apply && !(k->flags & TG_CFG_LIVE))
		return "an apply hook on a key that is not live would never run";
	if ((k->flags & TG_CFG_REPEAT) && k->type != TG_CFG_STRING)
		return "only a string can be repeated";
	if (!k->def && k->type != TG_CFG_STRING && k->type != TG_CFG_ADDR)
		return "no default";
	switch (k->type) {
	case TG_CFG_BOOL:
		return k->size == sizeof(bool) ? NULL : "field is not a bool";
	case TG_CFG_INT:
		if (k->size != sizeof(int64_t))
			return "field is not an int64_t";
		return k->min <= k->max ? NULL : "min > max";
	case TG_CFG_UINT:
		if (k->size != sizeof(uint32_t))
			return "field is not a uint32_t";
		bounds(k, &lo, &hi);
		return lo >= 0 && lo <= hi && hi <= UINT32_MAX ? NULL
							       : "bounds outside 0..UINT32_MAX";
	case TG_CFG_DURATION:
		if (k->size != sizeof(uint64_t))
			return "field is not a uint64_t";
		return k->min >= 0 && k->min <= k->max ? NULL : "bounds need 0 <= min <= max";
	case TG_CFG_ENUM:
		if (k->size != sizeof(int))
			return "field is not an int";
		if (!k->choices || !k->choices[0])
			return "no choices";
		for (size_t i = 0; k->choices[i]; i++)
			if (!valid_name(k->choices[i]))
				return "choices need 1-47 characters of [A-Za-z0-9_-]";
		return NULL;
	case TG_CFG_STRING:
	case TG_CFG_ADDR:
		/* the cap also keeps the scratch-blob arithmetic far from overflow */
		return k->size && k->size <= TG_CFG_STRING_MAX ? NULL : "buffer size not 1..64 KiB";
	}
	return "unknown type";
}

static int cmp_key(const struct tg_cfg_key *a, const struct tg_cfg_key *b)
{
	int c = strcmp(a->section, b->section);

	return c ? c : strcmp(a->name, b->name);
}

static int cmp_index(const void *a, const void *b, void *ents)
{
	const struct cfg_entry *e = ents;

	return cmp_key(e[*(const uint32_t *)a].key, e[*(const uint32_t *)b].key);
}

/* strcmp of a (alen bytes, not NUL-terminated) against the C string b */
static int cmp_n(const char *a, size_t alen, const char *b)
{
	int c = strncmp(a, b, alen);

	if (c)
		return c;
	return b[alen] ? -1 : 0;
}

/* First index position whose section is >= sect (name == NULL) or whose key is >= sect.name. */
static size_t lower_bound(
	const struct tg_cfg *cfg, const char *sect, size_t slen, const char *name, size_t nlen)
{
	size_t lo = 0, hi = cfg->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct tg_cfg_key *k = cfg->ents[cfg->index[mid]].key;
		int c = cmp_n(sect, slen, k->section); /* > 0: the target sorts after mid */

		if (!c && name)
			c = cmp_n(name, nlen, k->name);
		if (c > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool section_known(const struct tg_cfg *cfg, const char *sect, size_t slen)
{
	size_t i = lower_bound(cfg, sect, slen, NULL, 0);

	return i < cfg->n && cmp_n(sect, slen, cfg->ents[cfg->index[i]].key->section) == 0;
}

/* Entry number of section.name, or -1. */
static long find_key(
	const struct tg_cfg *cfg, const char *sect, size_t slen, const char *name, size_t nlen)
{
	size_t i = lower_bound(cfg, sect, slen, name, nlen);
	const struct tg_cfg_key *k;

	if (i >= cfg->n)
		return -1;
	k = cfg->ents[cfg->index[i]].key;
	if (cmp_n(sect, slen, k->section) || cmp_n(name, nlen, k->name))
		return -1;
	return (long)cfg->index[i];
}

/* "section.name" -> entry number, or -1 */
static long find_dotted(const struct tg_cfg *cfg, const char *key)
{
	const char *dot = key ? strchr(key, '.') : NULL;

	if (!dot)
		return -1;
	return find_key(cfg, key, (size_t)(dot - key), dot + 1, strlen(dot + 1));
}

struct tg_cfg *tg_cfg_new(void)
{
	return calloc(1, sizeof(struct tg_cfg));
}

void tg_cfg_free(struct tg_cfg *cfg)
{
	if (!cfg)
		return;
	free(cfg->ents);
	free(cfg->index);
	free(cfg->defaults);
	free(cfg->own);
	free(cfg);
}

struct tg_cfg *tg_cfg_detached(const struct tg_cfg *cfg)
{
	struct tg_cfg *d = calloc(1, sizeof(*d));

	if (!d)
		goto nomem;
	d->n = cfg->n;
	d->blob_size = cfg->blob_size;
	/* +1: malloc(0) may return NULL on an empty registry */
	d->ents = malloc(cfg->n * sizeof(*d->ents) + 1);
	d->index = malloc(cfg->n * sizeof(*d->index) + 1);
	d->defaults = malloc(cfg->blob_size + 1);
	d->own = malloc(cfg->blob_size + 1);
	if (!d->ents || !d->index || !d->defaults || !d->own)
		goto nomem;
	memcpy(d->index, cfg->index, cfg->n * sizeof(*d->index));
	memcpy(d->defaults, cfg->defaults, cfg->blob_size);
	/* each value sits at its entry's scratch slot: the blob has room for every key */
	for (size_t i = 0; i < cfg->n; i++) {
		d->ents[i] = cfg->ents[i];
		d->ents[i].field = d->own + cfg->ents[i].slot;
	}
	tg_cfg_apply_defaults(d, NULL, 0);
	return d;
nomem:
	tg_cfg_free(d);
	errno = ENOMEM;
	return NULL;
}

int tg_cfg_register(struct tg_cfg *cfg, const struct tg_cfg_key *keys, size_t n, void *base)
{
	size_t total = cfg->n + n, size = cfg->blob_size;
	struct cfg_entry *ents;
	unsigned char *blob;
	uint32_t *index;
	char msg[256];

	if (!keys || !base || n > UINT32_MAX - cfg->n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const char *why = check_row(&keys[i]);

		if (why) {
			TG_LOG(CONFIG, ERR, "config table row %zu ([%s] %s): %s", i,
				keys[i].section ? keys[i].section : "(null)",
				keys[i].name ? keys[i].name : "(null)", why);
			return -EINVAL;
		}
		size += align8(keys[i].size);
	}
	if (!n)
		return 0;

	/* Grow first: a failure past this point leaves larger arrays but an unchanged registry. */
	ents = realloc(cfg->ents, total * sizeof(*ents));
	if (!ents)
		return -ENOMEM;
	cfg->ents = ents;
	blob = realloc(cfg->defaults, size);
	if (!blob)
		return -ENOMEM;
	cfg->defaults = blob;
	index = malloc(total * sizeof(*index));
	if (!index)
		return -ENOMEM;

	size = cfg->blob_size;
	for (size_t i = 0; i < n; i++) {
		const struct tg_cfg_key *k = &keys[i];
		struct cfg_entry *e = &ents[cfg->n + i];

		e->key = k;
		e->field = (unsigned char *)base + k->offset;
		e->slot = size;
		size += align8(k->size);
		if (parse_value(k, k->def ? k->def : "", blob + e->slot, msg, sizeof(msg)) < 0) {
			TG_LOG(CONFIG, ERR, "config key [%s] %s: default '%s': %s", k->section,
				k->name, k->def ? k->def : "", msg);
			free(index);
			return -EINVAL;
		}
	}

	if (cfg->n)
		memcpy(index, cfg->index, cfg->n * sizeof(*index));
	for (size_t i = cfg->n; i < total; i++)
		index[i] = (uint32_t)i;
	qsort_r(index, total, sizeof(*index), cmp_index, ents);
	for (size_t i = 1; i < total; i++) {
		const struct tg_cfg_key *k = ents[index[i]].key;

		if (cmp_key(ents[index[i - 1]].key, k) == 0) {
			TG_LOG(CONFIG, ERR, "config key %s.%s registered twice", k->section,
				k->name);
			free(index);
			return -EEXIST;
		}
	}

	free(cfg->index);
	cfg->index = index;
	cfg->n = total;
	cfg->blob_size = size;
	return 0;
}

int tg_cfg_apply_defaults(struct tg_cfg *cfg, char *err, size_t errlen)
{
	/* defaults were parsed and validated at registration: nothing left to fail */
	err_clear(err, errlen);
	for (size_t i = 0; i < cfg->n; i++)
		memcpy(cfg->ents[i].field, cfg->defaults + cfg->ents[i].slot,
			cfg->ents[i].key->size);
	return 0;
}

const struct tg_cfg_key *tg_cfg_find(const struct tg_cfg *cfg, const char *key)
{
	long i = find_dotted(cfg, key);

	return i < 0 ? NULL : cfg->ents[i].key;
}

size_t tg_cfg_count(const struct tg_cfg *cfg)
{
	return cfg->n;
}

const struct tg_cfg_key *tg_cfg_key_at(const struct tg_cfg *cfg, size_t i)
{
	return i < cfg->n ? cfg->ents[i].key : NULL;
}

/* --- loading --- */

struct load {
	struct tg_cfg *cfg;
	const char *origin;
	const char *start, *p, *end; /* the whole input and what is left of it */
	int line;		     /* lines handed to inih so far */
	unsigned char *scratch;	     /* values parsed so far, at each entry's slot */
	int *set_line;		     /* per entry: line that set it, 0 = not set */
	char *err;
	size_t errlen;
	int rc;	      /* first error, or 0 */
	int err_line; /* its line */
};

static void __attribute__((format(printf, 2, 3))) load_fail(struct load *ld, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ld->rc)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tg_errf(ld->err, ld->errlen, "%s:%d: %s", ld->origin, ld->line, msg);
	ld->rc = -EINVAL;
	ld->err_line = ld->line;
}

/*
 * inih's fgets-style reader over our buffer: one input line per call, checked and with its
 * indentation and CR removed. Returning NULL ends the parse, which is how a bad line stops it.
 */
static char *load_read(char *buf, int num, void *stream)
{
	struct load *ld = stream;
	const char *s = ld->p, *nl, *e;
	size_t len;

	if (ld->rc || ld->p >= ld->end)
		return NULL;
	if (num < 3) {
		load_fail(ld, "parser line buffer too small");
		return NULL;
	}
	nl = memchr(s, '\n', (size_t)(ld->end - s));
	e = nl ? nl : ld->end;
	ld->p = nl ? nl + 1 : ld->end;
	ld->line++;

	if (e > s && e[-1] == '\r')
		e--;
	for (const char *c = s; c < e; c++) {
		unsigned char ch = (unsigned char)*c;

		if (!ch) {
			load_fail(ld, "NUL byte in line");
			return NULL;
		}
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			load_fail(ld, "control character 0x%02x in line", ch);
			return NULL;
		}
	}
	if (s == ld->start && e - s >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3; /* UTF-8 byte order mark */
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	len = (size_t)(e - s);
	if (len + 2 > (size_t)num) {
		load_fail(ld, "line longer than %d characters", num - 2);
		return NULL;
	}

	/* inih tells the handler nothing of headers: catch an unknown (even empty) section here */
	if (len && s[0] == '[') {
		const char *close = memchr(s + 1, ']', len - 1);

		if (close && !section_known(ld->cfg, s + 1, (size_t)(close - s - 1))) {
			load_fail(ld, "unknown section [%.*s]", (int)(close - s - 1), s + 1);
			return NULL;
		}
	}
	memcpy(buf, s, len);
	buf[len] = '\n';
	buf[len + 1] = '\0';
	return buf;
}

static int load_handler(void *user, const char *section, const char *name, const char *value)
{
	struct load *ld = user;
	const struct tg_cfg_key *k;
	char msg[256];
	size_t vlen;
	long i;

	if (ld->rc)
		return 0;
	/* Debian's inih has run-time switches any code in the process may flip: a bare name, or
	 * a section callback, must not reach the parsers as NULL */
	if (!name)
		return 1;
	if (!value) {
		load_fail(ld, "[%s] %s: expected key = value", section, name);
		return 0;
	}
	if (!section[0]) {
		load_fail(ld, "key '%s' outside any [section]", name);
		return 0;
	}
	if (!name[0]) {
		load_fail(ld, "[%s] missing key name before '='", section);
		return 0;
	}
	i = find_key(ld->cfg, section, strlen(section), name, strlen(name));
	if (i < 0) {
		load_fail(ld, "[%s] unknown key '%s'", section, name);
		return 0;
	}
	k = ld->cfg->ents[i].key;
	if (ld->set_line[i] && (k->flags & TG_CFG_REPEAT) && k->type == TG_CFG_STRING) {
		/* one more line of a list: the value so far, ", ", this line; checked whole */
		const char *so_far = (const char *)(ld->scratch + ld->cfg->ents[i].slot);
		char *joined = malloc(k->size + 1);

		if (!joined) {
			load_fail(ld, "out of memory");
			return 0;
		}
		if ((size_t)snprintf(joined, k->size + 1, "%s, %s", so_far, value) > k->size) {
			free(joined);
			load_fail(ld, "[%s] %s: the lines so far make more than %zu characters",
				section, name, k->size - 1);
			return 0;
		}
		if (parse_value(k, joined, ld->scratch + ld->cfg->ents[i].slot, msg, sizeof(msg)) <
			0) {
			free(joined);
			load_fail(ld, "[%s] %s (continued): %s", section, name, msg);
			return 0;
		}
		free(joined);
		return 1;
	}
	if (ld->set_line[i]) {
		load_fail(ld, "[%s] %s: duplicate key (first set on line %d)", section, name,
			ld->set_line[i]);
		return 0;
	}
	if (parse_value(k, value, ld->scratch + ld->cfg->ents[i].slot, msg, sizeof(msg)) < 0) {
		vlen = strlen(value);
		load_fail(ld, "[%s] %s = '%.*s%s': %s", section, name,
			(int)(vlen > QUOTE_MAX ? QUOTE_MAX : vlen), value,
			vlen > QUOTE_MAX ? "..." : "", msg);
		return 0;
	}
	ld->set_line[i] = ld->line;
	return 1;
}

/* Text of line n (1-based) of the input, for a syntax error message; *cut if shortened. */
static void line_text(const struct load *ld, int n, const char **s, int *len, bool *cut)
{
	const char *p = ld->start, *e;

	for (int i = 1; i < n && p < ld->end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(ld->end - p));

		p = nl ? nl + 1 : ld->end;
	}
	e = memchr(p, '\n', (size_t)(ld->end - p));
	e = e ? e : ld->end;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && isspace((unsigned char)e[-1]))
		e--;
	*s = p;
	*cut = e - p > QUOTE_MAX;
	*len = (int)(*cut ? QUOTE_MAX : e - p);
}

int tg_cfg_load_buf(struct tg_cfg *cfg, const char *buf, size_t len, const char *origin, char *err,
	size_t errlen)
{
	struct load ld = {
		.cfg = cfg,
		.origin = origin ? origin : "<string>",
		.start = buf,
		.p = buf,
		.end = buf + len,
		.err = err,
		.errlen = errlen,
	};
	int ret;

	err_clear(err, errlen);
	if (!buf && len)
		return -EINVAL;
	/* +1: malloc(0) may return NULL on an empty registry */
	ld.scratch = malloc(cfg->blob_size + 1);
	ld.set_line = calloc(cfg->n + 1, sizeof(*ld.set_line));
	if (!ld.scratch || !ld.set_line) {
		free(ld.scratch);
		free(ld.set_line);
		tg_errf(err, errlen, "%s: out of memory", ld.origin);
		return -ENOMEM;
	}

	ret = len ? ini_parse_stream(load_read, &ld, load_handler, &ld) : 0;
	if (ret == -2) {
		tg_errf(err, errlen, "%s: out of memory", ld.origin);
		ld.rc = -ENOMEM;
	} else if (ret > 0 && (!ld.rc || ret < ld.err_line)) {
		/* a line inih could not parse, before any error of ours */
		const char *s;
		bool cut;
		int n;

		line_text(&ld, ret, &s, &n, &cut);
		tg_errf(err, errlen, "%s:%d: cannot parse '%.*s%s': expected %s", ld.origin, ret, n,
			s, cut ? "..." : "", n && s[0] == '[' ? "[section]" : "key = value");
		ld.rc = -EINVAL;
	} else if (ret < 0 && !ld.rc) {
		tg_errf(err, errlen, "%s: parser error %d", ld.origin, ret);
		ld.rc = -EIO;
	}

	if (!ld.rc) {
		for (size_t i = 0; i < cfg->n; i++) {
			const struct cfg_entry *e = &cfg->ents[i];

			if (ld.set_line[i])
				memcpy(e->field, ld.scratch + e->slot, e->key->size);
		}
	}
	free(ld.scratch);
	free(ld.set_line);
	return ld.rc;
}

int tg_cfg_load_string(
	struct tg_cfg *cfg, const char *text, const char *origin, char *err, size_t errlen)
{
	if (!text) {
		tg_errf(err, errlen, "%s: no text", origin ? origin : "<string>");
		return -EINVAL;
	}
	return tg_cfg_load_buf(cfg, text, strlen(text), origin, err, errlen);
}

int tg_cfg_load_file(struct tg_cfg *cfg, const char *path, char *err, size_t errlen)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nb;
	struct stat st;
	int fd, rc;
	ssize_t r;

	err_clear(err, errlen);
	if (!path) {
		tg_errf(err, errlen, "no config file path");
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		tg_errf(err, errlen, "cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		tg_errf(err, errlen, "cannot read %s: %s", path, strerror(EISDIR));
		return -EISDIR;
	}
	/* read to EOF rather than trusting st_size: pipes and /proc files report 0 */
	for (;;) {
		if (len == cap) {
			if (cap > TG_CFG_FILE_MAX) {
				tg_errf(err, errlen, "%s: larger than %u bytes", path,
					TG_CFG_FILE_MAX);
				rc = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 64 * 1024;
			nb = realloc(buf, cap);
			if (!nb) {
				tg_errf(err, errlen, "%s: out of memory", path);
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			tg_errf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > TG_CFG_FILE_MAX) {
		tg_errf(err, errlen, "%s: larger than %u bytes", path, TG_CFG_FILE_MAX);
		rc = -EFBIG;
		goto out;
	}
	rc = tg_cfg_load_buf(cfg, buf, len, path, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}

/* --- set, get, show --- */

int tg_cfg_set(struct tg_cfg *cfg, const char *key, const char *value, bool running, char *err,
	size_t errlen)
{
	const struct tg_cfg_key *k;
	const struct cfg_entry *e;
	char msg[256];
	void *tmp;
	size_t vlen;
	long i;
	int rc;

	err_clear(err, errlen);
	i = find_dotted(cfg, key);
	if (i < 0) {
		tg_errf(err, errlen, "unknown key '%s' (expected section.name)", key ? key : "");
		return -ENOENT;
	}
	e = &cfg->ents[i];
	k = e->key;
	if (running && (k->flags & TG_CFG_RELOAD)) {
		tg_errf(err, errlen,
			"%s.%s is not live: change it in the config file and reload (tgctl reload)",
			k->section, k->name);
		return -EPERM;
	}
	if (running && !(k->flags & TG_CFG_LIVE)) {
		tg_errf(err, errlen, "%s.%s is boot-only: change it in the config file and restart",
			k->section, k->name);
		return -EPERM;
	}
	if (!value) {
		tg_errf(err, errlen, "%s.%s: no value", k->section, k->name);
		return -EINVAL;
	}
	tmp = malloc(k->size);
	if (!tmp) {
		tg_errf(err, errlen, "%s.%s: out of memory", k->section, k->name);
		return -ENOMEM;
	}
	rc = parse_value(k, value, tmp, msg, sizeof(msg));
	if (rc == 0) {
		memcpy(e->field, tmp, k->size);
		if (running && k->apply)
			k->apply(e->field);
	} else {
		vlen = strlen(value);
		tg_errf(err, errlen, "%s.%s = '%.*s%s': %s", k->section, k->name,
			(int)(vlen > QUOTE_MAX ? QUOTE_MAX : vlen), value,
			vlen > QUOTE_MAX ? "..." : "", msg);
	}
	free(tmp);
	return rc;
}

int tg_cfg_get(const struct tg_cfg *cfg, const char *key, char *buf, size_t len)
{
	char tmp[64];
	const char *s;
	size_t n;
	long i;

	i = find_dotted(cfg, key);
	if (i < 0)
		return -ENOENT;
	s = value_text(cfg->ents[i].key, cfg->ents[i].field, tmp, sizeof(tmp), &n);
	if (!len)
		return -ENOSPC;
	if (n >= len) {
		memcpy(buf, s, len - 1);
		buf[len - 1] = '\0';
		return -ENOSPC;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

void tg_cfg_show(const struct tg_cfg *cfg, FILE *out)
{
	for (size_t i = 0; i < cfg->n; i++) {
		const struct tg_cfg_key *k = cfg->ents[i].key;
		char tmp[64];
		const char *s;
		size_t n;

		if (k->flags & TG_CFG_SECRET) {
			s = "<hidden>";
			n = strlen(s);
		} else {
			s = value_text(k, cfg->ents[i].field, tmp, sizeof(tmp), &n);
		}
		fprintf(out, "%s.%s = %.*s\n", k->section, k->name, (int)n, s);
	}
}

/* --- documentation and example --- */

/* True if entry i is the first registered key of its section. */
static bool first_of_section(const struct tg_cfg *cfg, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(cfg->ents[j].key->section, cfg->ents[i].key->section) == 0)
			return false;
	return true;
}

/* The key's accepted values, in words, for docs and example comments. */
static void fmt_range(const struct tg_cfg_key *k, char *buf, size_t len)
{
	switch (k->type) {
	case TG_CFG_BOOL:
		snprintf(buf, len, "true, false");
		break;
	case TG_CFG_INT:
	case TG_CFG_UINT:
	case TG_CFG_DURATION:
		if (unbounded(k) && k->type != TG_CFG_UINT)
			snprintf(buf, len, "any"); /* 19-digit limits help nobody */
		else
			fmt_bounds(k, buf, len);
		break;
	case TG_CFG_ENUM:
		fmt_choices(k, ", ", buf, len);
		break;
	case TG_CFG_STRING:
		snprintf(buf, len, "up to %zu characters", k->size - 1);
		break;
	case TG_CFG_ADDR:
		snprintf(buf, len, "IPv4 or IPv6 address%s", addr_optional(k) ? ", or empty" : "");
		break;
	default:
		buf[0] = '\0';
		break;
	}
}

/* Markdown table cell text: '|' would end the cell and a newline the row. */
static void md_cell(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '|')
			fputs("\\|", out);
		else if (s[i] == '\n' || s[i] == '\r')
			fputc(' ', out);
		else
			fputc(s[i], out);
	}
}

void tg_cfg_write_docs(const struct tg_cfg *cfg, FILE *out)
{
	fputs("# Configuration reference\n\n"
	      "Generated from the key tables in the source. Keys marked *live* can be changed at "
	      "run time with `tgctl set section.key value`; *reload* keys are re-read from the "
	      "config file by `tgctl reload`; *boot* keys need a restart.\n",
		out);
	for (size_t i = 0; i < cfg->n; i++) {
		const char *sect = cfg->ents[i].key->section;

		if (!first_of_section(cfg, i))
			continue;
		fprintf(out, "\n## [%s]\n\n", sect);
		fputs("| Key | Type | Default | Range | Set | Description |\n", out);
		fputs("|-----|------|---------|-------|-----|-------------|\n", out);
		for (size_t j = i; j < cfg->n; j++) {
			const struct tg_cfg_key *k = cfg->ents[j].key;
			char tmp[64], range[256];
			const char *def;
			size_t n;

			if (strcmp(k->section, sect) != 0)
				continue;
			def = value_text(
				k, cfg->defaults + cfg->ents[j].slot, tmp, sizeof(tmp), &n);
			fmt_range(k, range, sizeof(range));
			fprintf(out, "| `%s` | %s | ", k->name, tg_cfg_type_name(k->type));
			if (n) {
				fputc('`', out);
				md_cell(out, def, n);
				fputc('`', out);
			} else {
				fputs("(empty)", out);
			}
			fputs(" | ", out);
			md_cell(out, range, strlen(range));
			fprintf(out, " | %s | ", tg_cfg_changes(k));
			md_cell(out, k->help, strlen(k->help));
			fputs(" |\n", out);
		}
	}
}

/* Help text as "# " comment lines wrapped before column 100. */
static void write_comment(FILE *out, const char *s)
{
	const size_t width = 96;

	while (*s) {
		size_t n = strcspn(s, "\n"), cut = n;

		if (n > width) {
			cut = width;
			while (cut > 0 && s[cut] != ' ')
				cut--;
			if (!cut)
				cut = width; /* one long word: break it */
		}
		fprintf(out, "# %.*s\n", (int)cut, s);
		s += cut;
		while (*s == ' ' || *s == '\n')
			s++;
	}
}

void tg_cfg_write_example(const struct tg_cfg *cfg, FILE *out)
{
	fputs("# tollgate configuration: every key at its default.\n"
	      "# Generated from the key tables in the source; lines starting with # or ; are "
	      "comments.\n",
		out);
	for (size_t i = 0; i < cfg->n; i++) {
		const char *sect = cfg->ents[i].key->section;

		if (!first_of_section(cfg, i))
			continue;
		fprintf(out, "\n[%s]\n", sect);
		for (size_t j = i; j < cfg->n; j++) {
			const struct tg_cfg_key *k = cfg->ents[j].key;
			char tmp[64], range[256];
			const char *def;
			size_t n;

			if (strcmp(k->section, sect) != 0)
				continue;
			def = value_text(
				k, cfg->defaults + cfg->ents[j].slot, tmp, sizeof(tmp), &n);
			fmt_range(k, range, sizeof(range));
			fputc('\n', out);
			write_comment(out, k->help);
			fprintf(out, "# %s: %s; %s\n", tg_cfg_type_name(k->type), range,
				k->flags & (TG_CFG_LIVE | TG_CFG_RELOAD) ? tg_cfg_changes(k)
									 : "boot-only");
			fprintf(out, "%s = %.*s\n", k->name, (int)n, def);
		}
	}
}
