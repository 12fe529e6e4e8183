/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One logging facade for every process: per-subsystem levels that can change at run time, the
 * level checked before any formatting, and call-id/leg context on call-related lines. Nothing on
 * a per-packet path may log.
 */
#ifndef TG_LOG_H
#define TG_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#define TG_LOG_SUBSYSTEMS(X)                                                                       \
	X(CORE, "core")                                                                            \
	X(CHAN, "chan")                                                                            \
	X(STATS, "stats")                                                                          \
	X(CONFIG, "config")                                                                        \
	X(DPDK, "dpdk")                                                                            \
	X(DP, "dp")                                                                                \
	X(CP, "cp")                                                                                \
	X(SIP, "sip")                                                                              \
	X(B2B, "b2b")                                                                              \
	X(PERF, "perf")

enum tg_log_subsys {
#define TG_X(id, name) TG_LOG_##id,
	TG_LOG_SUBSYSTEMS(TG_X)
#undef TG_X
		TG_LOG__COUNT
};

/* syslog numbering, so a later syslog sink needs no translation */
enum tg_log_level {
	TG_LOG_ERR = 3,
	TG_LOG_WARN = 4,
	TG_LOG_NOTICE = 5,
	TG_LOG_INFO = 6,
	TG_LOG_DEBUG = 7,
};

extern uint8_t tg_log_levels[TG_LOG__COUNT];

/* Name shown on every line ("tollgate-dp"); the string must outlive the process's logging. */
void tg_log_set_ident(const char *ident);
/* subsys is a subsystem name or "all"; level is err|warn|notice|info|debug. 0 or -EINVAL. */
int tg_log_set_level(const char *subsys, const char *level);
/* Parses "sub=level,sub=level" (or a bare level for all). 0 or -EINVAL, nothing applied then. */
int tg_log_apply_spec(const char *spec);
const char *tg_log_subsys_name(enum tg_log_subsys s);
const char *tg_log_level_name(enum tg_log_level l);

void tg_log_emit(enum tg_log_subsys s, enum tg_log_level l, const char *callid, const char *leg,
	const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define tg_log_enabled(sub, lvl) ((lvl) <= tg_log_levels[TG_LOG_##sub])

#define TG_LOG(sub, lvl, ...)                                                                      \
	do {                                                                                       \
		if (__builtin_expect(tg_log_enabled(sub, TG_LOG_##lvl), 0))                        \
			tg_log_emit(TG_LOG_##sub, TG_LOG_##lvl, NULL, NULL, __VA_ARGS__);          \
	} while (0)

/* The level chosen at run time (an enum tg_log_level expression) */
#define TG_LOGL(sub, level, ...)                                                                   \
	do {                                                                                       \
		enum tg_log_level lvl_ = (level);                                                  \
		if (__builtin_expect(lvl_ <= tg_log_levels[TG_LOG_##sub], 0))                      \
			tg_log_emit(TG_LOG_##sub, lvl_, NULL, NULL, __VA_ARGS__);                  \
	} while (0)

/* A line about one call leg: carries the call-id and leg ("a"/"b") */
#define TG_LOG_CALL(sub, lvl, callid, leg, ...)                                                    \
	do {                                                                                       \
		if (__builtin_expect(tg_log_enabled(sub, TG_LOG_##lvl), 0))                        \
			tg_log_emit(TG_LOG_##sub, TG_LOG_##lvl, callid, leg, __VA_ARGS__);         \
	} while (0)

#endif
