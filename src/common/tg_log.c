/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The logging facade's sink: one line per call to stderr, formatted into a stack buffer and
 * written with a single write(2) so lines from several threads or processes never interleave.
 */
#include "tg_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

uint8_t tg_log_levels[TG_LOG__COUNT] = {
#define TG_X(id, name) [TG_LOG_##id] = TG_LOG_INFO,
	TG_LOG_SUBSYSTEMS(TG_X)
#undef TG_X
};

static const char *const subsys_names[TG_LOG__COUNT] = {
#define TG_X(id, name) [TG_LOG_##id] = name,
	TG_LOG_SUBSYSTEMS(TG_X)
#undef TG_X
};

static const struct {
	const char *name;
	enum tg_log_level level;
} level_names[] = {
	{"err", TG_LOG_ERR},
	{"warn", TG_LOG_WARN},
	{"notice", TG_LOG_NOTICE},
	{"info", TG_LOG_INFO},
	{"debug", TG_LOG_DEBUG},
};

static const char *log_ident = "tollgate";

void tg_log_set_ident(const char *ident)
{
	log_ident = ident;
}

const char *tg_log_subsys_name(enum tg_log_subsys s)
{
	return (unsigned)s < TG_LOG__COUNT ? subsys_names[s] : "?";
}

const char *tg_log_level_name(enum tg_log_level l)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i].level == l)
			return level_names[i].name;
	return "?";
}

static int parse_level(const char *s, enum tg_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i].name) == 0) {
			*out = level_names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_subsys(const char *s, int *out)
{
	if (strcasecmp(s, "all") == 0) {
		*out = -1;
		return 0;
	}
	for (int i = 0; i < TG_LOG__COUNT; i++) {
		if (strcasecmp(s, subsys_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

int tg_log_set_level(const char *subsys, const char *level)
{
	enum tg_log_level l;
	int s;

	if (parse_level(level, &l) < 0 || parse_subsys(subsys, &s) < 0)
		return -EINVAL;
	for (int i = 0; i < TG_LOG__COUNT; i++)
		if (s < 0 || s == i)
			tg_log_levels[i] = (uint8_t)l;
	return 0;
}

int tg_log_apply_spec(const char *spec)
{
	uint8_t levels[TG_LOG__COUNT];
	char buf[256];
	char *save = NULL;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	memcpy(levels, tg_log_levels, sizeof(levels));
	strcpy(buf, spec);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *sub = "all", *lvl = tok;
		enum tg_log_level l;
		int s;

		if (eq) {
			*eq = '\0';
			sub = tok;
			lvl = eq + 1;
		}
		if (parse_level(lvl, &l) < 0 || parse_subsys(sub, &s) < 0)
			return -EINVAL;
		for (int i = 0; i < TG_LOG__COUNT; i++)
			if (s < 0 || s == i)
				levels[i] = (uint8_t)l;
	}
	memcpy(tg_log_levels, levels, sizeof(levels));
	return 0;
}

void tg_log_emit(enum tg_log_subsys s, enum tg_log_level l, const char *callid, const char *leg,
	const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s[%d] %s %s: ", ts.tv_nsec / 1000000,
		log_ident, (int)getpid(), tg_log_level_name(l), tg_log_subsys_name(s));
	n += r > 0 ? (size_t)r : 0;
	if (callid && n < sizeof(line)) {
		r = snprintf(line + n, sizeof(line) - n, "[%s%s%s] ", callid, leg ? "/" : "",
			leg ? leg : "");
		n += r > 0 ? (size_t)r : 0;
	}
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		n += r > 0 ? (size_t)r : 0;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2; /* truncated: keep the newline */
	/* values from the network (Call-IDs, URIs) end up here: a control character must not
	 * forge a line or a terminal escape in the operator's log */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[n++] = '\n';
	/* one write so concurrent writers' lines stay whole; a failed log write has no remedy */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
