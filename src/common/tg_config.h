/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one config engine: every module declares each of its keys once, as a typed table row that
 * points into the module's own config struct. The registry built from those rows parses the INI
 * file, applies defaults, answers `show config` and live `set KEY VALUE`, and writes the
 * reference documentation and an example file, so none of these can drift from the code.
 *
 * Threading: a registry has no locks. Create it, register tables, load and set from one thread
 * (the control thread that owns the registered structs). Workers never read a struct that
 * tg_cfg_set() may write; they get changed values by message.
 */
#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum tg_cfg_type {
	TG_CFG_BOOL,	 /* bool; true/false, yes/no, on/off, 1/0 */
	TG_CFG_INT,	 /* int64_t in [min, max]; decimal or 0x hex */
	TG_CFG_UINT,	 /* uint32_t in [min, max]; decimal or 0x hex */
	TG_CFG_STRING,	 /* char[size], NUL-terminated; too long is an error, not truncated */
	TG_CFG_ENUM,	 /* int: index into choices[] */
	TG_CFG_DURATION, /* uint64_t milliseconds; "250ms", "5s", "2m", "1h", bare number = ms */
	TG_CFG_ADDR,	 /* char[size]: an IPv4 or IPv6 literal, checked with inet_pton */
};

#define TG_CFG_LIVE 0x1	  /* may change while running, through tg_cfg_set(running = true) */
#define TG_CFG_SECRET 0x2 /* tg_cfg_show() prints "<hidden>" (tg_cfg_get() still returns it) */
/* STRING lists: a file may give the key on several lines (a config line is at most ~200
 * characters); each later line is appended to the value so far after ", ". */
#define TG_CFG_REPEAT 0x4
/* Boot-only for tg_cfg_set(running = true), but re-read from the config file by the control
 * plane's `reload`, whose owner rebuilds what depends on it (the routing table). */
#define TG_CFG_RELOAD 0x8

/* Longest section or key name; inih keeps section names in a 50-byte buffer. */
#define TG_CFG_NAME_MAX 47
/* Largest STRING or ADDR buffer (a value set from a file must also fit on one line). */
#define TG_CFG_STRING_MAX (64u << 10)

/*
 * One config key. Rows are read, never copied: the table must outlive the registry (a static
 * const array in the module).
 *
 * section, name: [A-Za-z0-9_-], at most TG_CFG_NAME_MAX characters; the key is "section.name".
 * offset, size:  where the value lives in the struct passed to tg_cfg_register(); fill both
 *                with TG_CFG_AT(). size must match the type (bool, int64_t, uint32_t, int,
 *                uint64_t), or be the buffer size for STRING and ADDR.
 * def:           the default as config-file text, parsed by the same rules as the file.
 *                Required except for STRING and ADDR, where NULL means "". An ADDR key whose
 *                default is empty is optional: it then accepts "" as "not set".
 * min, max:      bounds for INT, UINT (value) and DURATION (milliseconds). Both 0 means the
 *                type's full range. Unused by other types.
 * choices:       ENUM only: NULL-terminated names; the field stores the index.
 * flags:         TG_CFG_LIVE, TG_CFG_SECRET, TG_CFG_REPEAT, TG_CFG_RELOAD.
 * help:          one sentence or more for docs, the example file and the CLI.
 * validate:      optional; called with the parsed value (a pointer to the field's type, not yet
 *                committed) from load, set and register. Returns 0, or -errno with a reason in
 *                err (the caller adds file, line and key).
 * apply:         optional, TG_CFG_LIVE keys only: called by tg_cfg_set(running = true) with the
 *                new value once it is in the field, for a change that must act at once rather
 *                than be read at its next use (log levels). It cannot fail: validate refuses.
 */
struct tg_cfg_key {
	const char *section;
	const char *name;
	enum tg_cfg_type type;
	size_t offset;
	size_t size;
	const char *def;
	int64_t min;
	int64_t max;
	const char *const *choices;
	unsigned flags;
	const char *help;
	int (*validate)(const void *value, char *err, size_t errlen);
	void (*apply)(const void *value);
};

/* Designated-initializer helper: .offset and .size of a member of the module's config struct. */
#define TG_CFG_AT(type, member)                                                                    \
	.offset = offsetof(type, member), .size = sizeof(((type *)0)->member)

struct tg_cfg;

/* An empty registry, or NULL when out of memory. */
struct tg_cfg *tg_cfg_new(void);
/* Frees the registry only; the registered tables and structs stay the caller's. NULL is a no-op. */
void tg_cfg_free(struct tg_cfg *cfg);
/*
 * A registry with cfg's keys whose values live in memory of its own, at their defaults: a file
 * can be loaded into it and compared with the running values (tg_cfg_get on both) without
 * touching any module's struct. Free it with tg_cfg_free(). NULL with errno ENOMEM.
 */
struct tg_cfg *tg_cfg_detached(const struct tg_cfg *cfg);

/*
 * Adds a module's table; base is the struct its offsets point into. Every row is checked
 * (names, size for the type, bounds, default parses and passes validate) and the problem is
 * logged on the CONFIG subsystem. All rows are added or none.
 * Does not write base: call tg_cfg_apply_defaults() once every module has registered.
 * Returns 0, -EINVAL (bad row), -EEXIST (section.name already registered) or -ENOMEM.
 */
int tg_cfg_register(struct tg_cfg *cfg, const struct tg_cfg_key *keys, size_t n, void *base);

/* Writes every key's default into its struct. 0, or -errno with a message in err. */
int tg_cfg_apply_defaults(struct tg_cfg *cfg, char *err, size_t errlen);

/*
 * Loads an INI file: "[section]" headers, "key = value" lines, "#" or ";" comment lines, ";"
 * after a space starts an inline comment. Names are case-sensitive; bool and enum values are
 * not. Indentation is ignored (there are no continuation lines), a line may hold at most 198
 * characters besides its indentation (libinih's line buffer), and each key may appear once.
 * Only the keys present change (call tg_cfg_apply_defaults() first). Boot-only keys are
 * written too: this is the boot path.
 *
 * All or nothing: values are parsed into a scratch copy and committed only when every line is
 * valid, so a bad file leaves every registered struct untouched.
 *
 * Errors (the message in err names the place, "path:line: [section] key = 'value': reason"):
 * -EINVAL bad input (syntax, unknown section or key, duplicate key, bad value, NUL or control
 * byte, line too long), -ENOENT and other open/read errno with the path, -EFBIG beyond
 * TG_CFG_FILE_MAX, -ENOMEM.
 */
#define TG_CFG_FILE_MAX (16u << 20)
int tg_cfg_load_file(struct tg_cfg *cfg, const char *path, char *err, size_t errlen);
/* Same rules for text in memory; origin names it in messages ("cli", "tollgate.conf"). */
int tg_cfg_load_string(
	struct tg_cfg *cfg, const char *text, const char *origin, char *err, size_t errlen);
/* Same for a buffer that need not be NUL-terminated; a NUL byte inside it is an error. */
int tg_cfg_load_buf(struct tg_cfg *cfg, const char *buf, size_t len, const char *origin, char *err,
	size_t errlen);

/*
 * Sets one key from text: key is "section.name". running = true refuses keys without
 * TG_CFG_LIVE (boot-only) with -EPERM, and runs the row's apply hook after the change. Returns
 * 0, -ENOENT (unknown key), -EPERM, -EINVAL (bad value; the field is unchanged) or -ENOMEM,
 * with a message in err.
 */
int tg_cfg_set(struct tg_cfg *cfg, const char *key, const char *value, bool running, char *err,
	size_t errlen);

/*
 * Formats the current value of "section.name" as config-file text (SECRET values too).
 * Returns 0, -ENOENT (unknown key) or -ENOSPC (buf too small; buf holds a truncated string).
 */
int tg_cfg_get(const struct tg_cfg *cfg, const char *key, char *buf, size_t len);

/* "section.name = value", one line per key in registration order; SECRET values hidden. */
void tg_cfg_show(const struct tg_cfg *cfg, FILE *out);
/* Markdown reference: per section a table of key, type, default, range, live/boot, help. */
void tg_cfg_write_docs(const struct tg_cfg *cfg, FILE *out);
/* A loadable INI file with every key at its default, its help and range as comments. */
void tg_cfg_write_example(const struct tg_cfg *cfg, FILE *out);

/* The row of "section.name", or NULL. */
const struct tg_cfg_key *tg_cfg_find(const struct tg_cfg *cfg, const char *key);
/* Number of registered keys, and the i-th in registration order (NULL past the end): for CLI
 * completion and tests. */
size_t tg_cfg_count(const struct tg_cfg *cfg);
const struct tg_cfg_key *tg_cfg_key_at(const struct tg_cfg *cfg, size_t i);
/* "bool", "int", "uint", "string", "enum", "duration", "address". */
const char *tg_cfg_type_name(enum tg_cfg_type type);
/* How a key changes: "live" (set at run time), "reload" (the config file, re-read) or "boot". */
const char *tg_cfg_changes(const struct tg_cfg_key *k);

#endif
