/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Call detail records: one JSON object per line (JSON Lines) per call, appended to cdr.path and
 * made durable before the call's resources are freed, so no call is ever missing from the
 * records while the process lives.
 *
 * Durability: with cdr.fsync = always, b2b_cdr_write() returns 0 only once the record and every
 * record before it are written and fdatasync'ed. With cdr.fsync = batch, 0 means written to the
 * kernel; it becomes durable at the next sync, at most cdr.sync_interval later (b2b_cdr_tick()
 * from a timer, or the next write), or earlier when the backlog fills up.
 *
 * Failures (disk full, EIO): the record is kept in a bounded in-memory backlog and written, in
 * order, on the next write, tick or flush; b2b_cdr_write() then returns the -errno and the caller
 * may still free the call (the record is a copy). A partly written line is cut off the file
 * before the retry, and a failed sync rewrites everything since the last good one, so the file
 * never holds a broken line and a record is never lost or duplicated. Errors are logged once per
 * burst. b2b_cdr_pending() counts the records not yet durable.
 *
 * Rotation: rename the file, then b2b_cdr_reopen() (logrotate's postrotate); copytruncate is
 * tolerated but can lose what is written between its copy and its truncate.
 *
 * Threading: one writer per file, used from one thread (the control thread). write, tick, flush,
 * reopen and close block on write(2)/fdatasync(2): with "always", each call's end costs one sync.
 */
#ifndef TG_B2B_CDR_H
#define TG_B2B_CDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tg_config.h"
#include "tg_msg.h"

/* X(id, name) */
#define B2B_CDR_REASONS(X)                                                                         \
	X(NORMAL_A, "normal-clearing-a") /* the A party hung up */                                 \
	X(NORMAL_B, "normal-clearing-b") /* the B party hung up */                                 \
	X(CANCELLED, "cancelled")	 /* the caller cancelled before the answer */              \
	X(REJECTED, "rejected")		 /* a final >= 300; sip_code says which */                 \
	X(NO_ANSWER, "no-answer")	 /* our no-answer timer */                                 \
	X(MEDIA_TIMEOUT, "media-timeout")                                                          \
	X(MAX_DURATION, "max-duration")                                                            \
	X(ERROR, "error") /* internal error, session timer failure, lost transaction */            \
	X(SHUTDOWN, "shutdown")                                                                    \
	X(OPERATOR, "operator") /* tgctl call hangup */

enum b2b_cdr_reason {
#define B2B_X(id, name) B2B_CDR_##id,
	B2B_CDR_REASONS(B2B_X)
#undef B2B_X
		B2B_CDR_REASON__COUNT
};

/* Unix time in ms as the records write it ("2026-11-25T23:04:48.422Z", UTC) into buf; NULL
 * for ms <= 0 (did not happen). */
#define B2B_CDR_TIME_LEN 64
const char *b2b_cdr_time(int64_t ms, char *buf, size_t len);

/* "rejected", ...; "?" out of range */
const char *b2b_cdr_reason_name(enum b2b_cdr_reason r);

/* ---- config: [cdr] ---- */

enum b2b_cdr_fsync {
	B2B_CDR_FSYNC_ALWAYS, /* every record synced before b2b_cdr_write() returns */
	B2B_CDR_FSYNC_BATCH,  /* synced at most every sync_interval */
};

#define B2B_CDR_PATH_MAX 1024

struct b2b_cdr_config {
	char path[B2B_CDR_PATH_MAX]; /* cdr.path */
	int fsync;		     /* cdr.fsync: enum b2b_cdr_fsync */
	uint64_t sync_interval_ms;   /* cdr.sync_interval */
	uint32_t backlog_max;	     /* cdr.backlog_max: records held while the file fails */
};

/* Registers the [cdr] keys (all boot-only) pointing into cc. As tg_cfg_register(). */
int b2b_cdr_config_register(struct tg_cfg *cfg, struct b2b_cdr_config *cc);

/* ---- the record ---- */

struct b2b_cdr_leg {
	const char *call_id; /* any bytes: escaped, invalid UTF-8 replaced; NULL: JSON null */
	const char *from_uri;
	const char *to_uri;
	const struct sockaddr *remote; /* the leg's signalling peer (IPv4/IPv6); NULL: null */
};

/* Strings longer than this many bytes are cut (a character cut in half becomes U+FFFD). */
#define B2B_CDR_STR_MAX 4096

struct b2b_cdr_record {
	struct b2b_cdr_leg a; /* the caller's leg */
	struct b2b_cdr_leg b; /* the callee's leg */
	/* Unix time in ms (CLOCK_REALTIME); <= 0: did not happen (null in the record) */
	int64_t setup_ms; /* the A leg's INVITE */
	int64_t answer_ms;
	int64_t end_ms;
	enum b2b_cdr_reason reason;
	int sip_code; /* final status of the setup: 200 answered, the rejection code; 0: none */
	/*
	 * The endpoints' statistics from EP_DELETE: media_a is the A leg's endpoint (the RTP the A
	 * party sent, "from_a"), media_b the B leg's. NULL: no media on that leg (null).
	 */
	const struct tg_msg_ep_stats *media_a;
	const struct tg_msg_ep_stats *media_b;
};

/*
 * The record as one JSON line ending in '\n' (duration_ms = end - answer, 0 when unanswered),
 * in a malloc'd buffer the caller frees; *len (may be NULL) gets its length. NULL with errno
 * ENOMEM. Fields: version, a{call_id,from,to,remote}, b{...}, setup_time, answer_time, end_time
 * (RFC 3339 UTC with ms), duration_ms, end_reason, sip_code, media{from_a, from_b}, each
 * {packets, bytes, lost, jitter_us, rtt_us, mos} or null.
 */
char *b2b_cdr_format(const struct b2b_cdr_record *rec, size_t *len);

/* ---- the writer ---- */

/*
 * Test seams; NULL members (or hooks == NULL) mean write(2), fdatasync(2), the monotonic clock.
 * write and fsync return like the syscalls (-1 with errno).
 */
struct b2b_cdr_hooks {
	ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
	int (*fsync)(void *ctx, int fd);
	uint64_t (*now_ns)(void *ctx);
	void *ctx;
};

struct b2b_cdr;

/*
 * Opens (creates, mode 0640) cfg->path for appending, creating its missing directories (0750).
 * cfg is copied. Returns NULL with errno set and a one-line reason naming cdr.path in err (also
 * logged): the directory cannot be created, the file cannot be opened, -EINVAL config, -ENOMEM.
 */
struct b2b_cdr *b2b_cdr_open(const struct b2b_cdr_config *cfg, const struct b2b_cdr_hooks *hooks,
	char *err, size_t errlen);

/*
 * Appends one call's record after any backlog, in order. Returns:
 *   0         durable ("always") / written ("batch"); free the call;
 *   -ENOBUFS  the backlog is full (cdr.backlog_max): the record was NOT taken; keep it and
 *             call again later (or account for it: it is lost otherwise);
 *   -ENOMEM   not taken either (no memory to format it);
 *   other -errno (-ENOSPC, -EIO, ...): the file failed; the record is held in the backlog and
 *             retried by the next write, tick or flush; b2b_cdr_pending() tells how many wait.
 */
int b2b_cdr_write(struct b2b_cdr *w, const struct b2b_cdr_record *rec);

/* Writes the backlog and, in batch mode, syncs if the interval has passed. 0 or -errno. */
int b2b_cdr_tick(struct b2b_cdr *w);
/* Writes the backlog and syncs now, whatever the mode. 0 (nothing pending) or -errno. */
int b2b_cdr_flush(struct b2b_cdr *w);
/*
 * Milliseconds until b2b_cdr_tick() has work (0: now), UINT64_MAX when nothing is pending: for
 * arming the caller's timer.
 */
uint64_t b2b_cdr_tick_due_ms(const struct b2b_cdr *w);

/*
 * For rotation: flushes to the current file, opens cfg->path again (a new file after a rename)
 * and writes what remained there. On failure to open the new file, keeps writing to the old one
 * and returns its -errno (logged).
 */
int b2b_cdr_reopen(struct b2b_cdr *w);

/* Records accepted but not yet durable (backlog + written but not yet synced). */
size_t b2b_cdr_pending(const struct b2b_cdr *w);

struct b2b_cdr_stats {
	uint64_t accepted;     /* records taken by b2b_cdr_write() */
	uint64_t durable;      /* of which synced */
	uint64_t refused;      /* -ENOBUFS / -ENOMEM: not taken */
	uint64_t syncs;	       /* fdatasync calls that succeeded */
	uint64_t write_errors; /* failed write(2) attempts */
	uint64_t sync_errors;  /* failed fdatasync attempts (the records since were rewritten) */
	uint64_t reopens;
	size_t pending;
};
void b2b_cdr_get_stats(const struct b2b_cdr *w, struct b2b_cdr_stats *out);

/*
 * Flushes and closes. Returns 0, or -errno when records could not be made durable: they are
 * lost, and their number is logged at err. NULL is a no-op.
 */
int b2b_cdr_close(struct b2b_cdr *w);

#endif
