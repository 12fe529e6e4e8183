/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The call detail record writer: JSON formatting with hostile-input-proof string escaping, and
 * an append-only file that never holds a broken line. Records not yet durable live in one FIFO:
 * first those written since the last sync (kept so a failed sync can rewrite them), then those
 * not written yet. Offsets remembered across writes let a failed or partial write, or a failed
 * sync, be cut off the file before the retry.
 */
#include "b2b_cdr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tg_log.h"
#include "tg_time.h"

/* ---- names and config ---- */

static const char *const reason_names[B2B_CDR_REASON__COUNT] = {
#define B2B_X(id, name) [B2B_CDR_##id] = name,
	B2B_CDR_REASONS(B2B_X)
#undef B2B_X
};

const char *b2b_cdr_reason_name(enum b2b_cdr_reason r)
{
	return (unsigned)r < B2B_CDR_REASON__COUNT ? reason_names[r] : "?";
}

static const char *const fsync_modes[] = {"always", "batch", NULL};

static int validate_path(const void *value, char *err, size_t errlen)
{
	const char *p = value;
	size_t n = strlen(p);

	if (p[0] != '/') {
		snprintf(err, errlen, "must be an absolute path");
		return -EINVAL;
	}
	if (p[n - 1] == '/') {
		snprintf(err, errlen, "must name a file, not a directory");
		return -EINVAL;
	}
	return 0;
}

#define CDRC(member) TG_CFG_AT(struct b2b_cdr_config, member)

static const struct tg_cfg_key cdr_keys[] = {
	{"cdr", "path", TG_CFG_STRING, CDRC(path), .def = "/var/log/tollgate/cdr.jsonl",
		.validate = validate_path,
		.help = "Call detail records, one JSON object per line; missing directories are "
			"created. Rotate by renaming the file and asking for a reopen."},
	{"cdr", "fsync", TG_CFG_ENUM, CDRC(fsync), .def = "batch", .choices = fsync_modes,
		.help = "batch: each record is written before the call's resources are freed "
			"and synced at most every cdr.sync_interval (a power loss can lose that "
			"much; a crash of the process loses nothing). always: synced before the "
			"call is freed, which stalls the control plane's loop on every call."},
	{"cdr", "sync_interval", TG_CFG_DURATION, CDRC(sync_interval_ms), .def = "1s", .min = 1,
		.max = 60000,
		.help = "With cdr.fsync = batch, the longest a written record waits for its sync."},
	{"cdr", "backlog_max", TG_CFG_UINT, CDRC(backlog_max), .def = "10000", .min = 1,
		.max = 10000000,
		.help = "Records held in memory while the file cannot be written (disk full, I/O "
			"error) or waits for its sync; beyond that a record is refused to its "
			"caller, never dropped silently."},
};

int b2b_cdr_config_register(struct tg_cfg *cfg, struct b2b_cdr_config *cc)
{
	return tg_cfg_register(cfg, cdr_keys, sizeof(cdr_keys) / sizeof(cdr_keys[0]), cc);
}

/* ---- JSON formatting ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool sb_reserve(struct sbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + more <= b->cap)
		return true;
	cap = b->cap ? b->cap : 1024;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (sb_reserve(b, n)) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* only short numeric fields come through here */
	if (n > 0)
		sb_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0 when it is not one; then
 * *bad gets the length of its maximal ill-formed prefix (at least 1), which becomes one U+FFFD
 * (Unicode's "substitution of maximal subparts"). Ranges from Unicode Table 3-7: no overlongs,
 * no surrogates, nothing above U+10FFFF.
 */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		*bad = 1;
		return 0;
	}
	for (i = 1; i < need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

/* A JSON string: quotes, backslash and control bytes escaped, invalid UTF-8 -> U+FFFD. */
static void sb_json_str(struct sbuf *b, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t n, i = 0;

	if (!str) {
		sb_puts(b, "null");
		return;
	}
	n = strnlen(str, B2B_CDR_STR_MAX);
	sb_put(b, "\"", 1);
	while (i < n) {
		size_t run = i, len, bad;

		/* copy plain ASCII in runs */
		while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' &&
			s[run] != '\\')
			run++;
		sb_put(b, str + i, run - i);
		i = run;
		if (i >= n)
			break;
		if (s[i] == '"' || s[i] == '\\') {
			char esc[2] = {'\\', (char)s[i]};

			sb_put(b, esc, 2);
			i++;
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			char esc[6] = {'\\', 'u', '0', '0', hex[s[i] >> 4], hex[s[i] & 15]};

			sb_put(b, esc, 6);
			i++;
		} else if ((len = utf8_seq(s + i, n - i, &bad)) == 0) {
			sb_put(b, "\xef\xbf\xbd", 3);
			i += bad;
		} else if (len == 3 && s[i] == 0xe2 && s[i + 1] == 0x80 &&
			   (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
			/* U+2028/2029 are valid JSON but end lines in JavaScript and some tools */
			sb_puts(b, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
			i += 3;
		} else {
			sb_put(b, str + i, len);
			i += len;
		}
	}
	sb_put(b, "\"", 1);
}

/* RFC 3339, UTC, milliseconds: "2024-05-01T12:34:56.789Z"; null when it did not happen. */
const char *b2b_cdr_time(int64_t ms, char *buf, size_t len)
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&sec, &tm))
		return NULL;
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return buf;
}

static void sb_time(struct sbuf *b, int64_t ms)
{
	char t[B2B_CDR_TIME_LEN];

	if (!b2b_cdr_time(ms, t, sizeof(t))) {
		sb_puts(b, "null");
		return;
	}
	sb_printf(b, "\"%s\"", t);
}

static void sb_addr(struct sbuf *b, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN + 16];

	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, sizeof(out), "%s:%u", host, ntohs(in->sin_port));
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, sizeof(out), "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		sb_puts(b, "null");
		return;
	}
	sb_json_str(b, out);
}

static void sb_leg(struct sbuf *b, const struct b2b_cdr_leg *leg)
{
	sb_puts(b, "{\"call_id\":");
	sb_json_str(b, leg->call_id);
	sb_puts(b, ",\"from\":");
	sb_json_str(b, leg->from_uri);
	sb_puts(b, ",\"to\":");
	sb_json_str(b, leg->to_uri);
	sb_puts(b, ",\"remote\":");
	sb_addr(b, leg->remote);
	sb_puts(b, "}");
}

static void sb_media(struct sbuf *b, const struct tg_msg_ep_stats *st)
{
	if (!st) {
		sb_puts(b, "null");
		return;
	}
	sb_printf(b, "{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"lost\":%" PRId32,
		st->rx_pkts, st->rx_bytes, st->lost);
	sb_printf(b, ",\"jitter_us\":%" PRIu32 ",\"rtt_us\":%" PRIu32, st->jitter_us, st->rtt_us);
	/* the E-model never scores below 1: 0 means not computed */
	if (st->mos_x100)
		sb_printf(b, ",\"mos\":%u.%02u}", st->mos_x100 / 100u, st->mos_x100 % 100u);
	else
		sb_puts(b, ",\"mos\":null}");
}

char *b2b_cdr_format(const struct b2b_cdr_record *rec, size_t *len)
{
	struct sbuf b = {0};
	int64_t dur = 0;

	if (rec->answer_ms > 0 && rec->end_ms > rec->answer_ms)
		dur = rec->end_ms - rec->answer_ms;
	sb_puts(&b, "{\"version\":1,\"a\":");
	sb_leg(&b, &rec->a);
	sb_puts(&b, ",\"b\":");
	sb_leg(&b, &rec->b);
	sb_puts(&b, ",\"setup_time\":");
	sb_time(&b, rec->setup_ms);
	sb_puts(&b, ",\"answer_time\":");
	sb_time(&b, rec->answer_ms);
	sb_puts(&b, ",\"end_time\":");
	sb_time(&b, rec->end_ms);
	sb_printf(&b, ",\"duration_ms\":%" PRId64 ",\"end_reason\":", dur);
	sb_json_str(&b, b2b_cdr_reason_name(rec->reason));
	sb_printf(&b, ",\"sip_code\":%d,\"media\":{\"from_a\":", rec->sip_code);
	sb_media(&b, rec->media_a);
	sb_puts(&b, ",\"from_b\":");
	sb_media(&b, rec->media_b);
	sb_puts(&b, "}}\n");
	if (b.oom) {
		free(b.p);
		errno = ENOMEM;
		return NULL;
	}
	if (len)
		*len = b.len;
	return b.p;
}

/* ---- the writer ---- */

struct cdr_rec {
	struct cdr_rec *next;
	size_t len;
	char line[];
};

struct b2b_cdr {
	struct b2b_cdr_config cfg;
	struct b2b_cdr_hooks hooks;
	int fd;
	/* Offsets in the file, which only this writer appends to. */
	off_t end_off;	  /* after the last complete line written */
	off_t synced_off; /* durable up to here */
	off_t repair_off; /* -1, or cut the file back to here before writing more */
	/* FIFO: n_unsynced written-but-not-synced records, then the unwritten ones */
	struct cdr_rec *head, **tail;
	struct cdr_rec *unwritten; /* first record not yet written, NULL: none */
	size_t n_pending;
	size_t n_unsynced;
	bool synced_once;
	uint64_t last_sync_ns;
	bool failing;  /* in an error burst: logged once, a notice when it ends */
	bool refusing; /* in a burst of refused records */
	struct b2b_cdr_stats st;
};

static ssize_t sys_write(void *ctx, int fd, const void *buf, size_t len)
{
	return write(fd, buf, len);
}

static int sys_fsync(void *ctx, int fd)
{
	/* appends change the size, which fdatasync covers too */
	return fdatasync(fd);
}

static uint64_t sys_now(void *ctx)
{
	return tg_now_ns();
}

/* Creates each missing directory above path. 0 or -errno with the directory in err. */
static int make_parents(const char *path, char *err, size_t errlen)
{
	char dir[B2B_CDR_PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n + 1);
	for (char *p = dir + 1; *p; p++) {
		struct stat sb;
		int e = 0;

		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
			e = errno;
			snprintf(err, errlen, "cdr.path: cannot create directory '%s': %s", dir,
				strerror(e));
			return -e;
		}
		if (stat(dir, &sb) < 0)
			e = errno;
		else if (!S_ISDIR(sb.st_mode))
			e = ENOTDIR;
		if (e) {
			snprintf(err, errlen, "cdr.path: '%s' is not a directory: %s", dir,
				strerror(e));
			return -e;
		}
		*p = '/';
	}
	return 0;
}

/* Opens the file (and its directories); returns the fd or -errno with a reason in err. */
static int open_file(const char *path, char *err, size_t errlen)
{
	char dir[B2B_CDR_PATH_MAX];
	char *slash;
	int fd, dfd, rc;

	rc = make_parents(path, err, errlen);
	if (rc < 0)
		return rc;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cdr.path: cannot open '%s': %s", path, strerror(-rc));
		return rc;
	}
	/* the new file's directory entry must be durable too, or a crash can lose the file */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0)
			TG_LOG(B2B, WARN, "cdr: cannot sync directory '%s': %s", dir,
				strerror(errno));
		close(dfd);
	}
	return fd;
}

static off_t file_size(int fd)
{
	struct stat sb;

	return fstat(fd, &sb) == 0 ? sb.st_size : 0;
}

static void note_error(struct b2b_cdr *w, const char *what, int err)
{
	if (w->failing)
		return;
	w->failing = true;
	TG_LOG(B2B, ERR, "cdr: %s '%s' failed: %s; %zu record(s) held in memory and retried", what,
		w->cfg.path, strerror(err), w->n_pending);
}

static void note_ok(struct b2b_cdr *w)
{
	if (!w->failing || w->unwritten)
		return;
	w->failing = false;
	TG_LOG(B2B, NOTICE, "cdr: '%s' writable again, held records written", w->cfg.path);
}

/* Cuts a broken tail (partial line, or lines whose sync failed) off the file. 0 or -errno. */
static int repair(struct b2b_cdr *w)
{
	struct stat sb;

	if (w->repair_off < 0)
		return 0;
	if (fstat(w->fd, &sb) < 0)
		return -errno;
	if (sb.st_size > w->repair_off) {
		if (ftruncate(w->fd, w->repair_off) < 0)
			return -errno;
	} else if (sb.st_size < w->repair_off) {
		/* someone else truncated it (copytruncate): nothing of ours to cut */
		TG_LOG(B2B, NOTICE, "cdr: '%s' shrank to %lld bytes under us", w->cfg.path,
			(long long)sb.st_size);
	}
	w->end_off = sb.st_size < w->repair_off ? sb.st_size : w->repair_off;
	if (w->synced_off > w->end_off)
		w->synced_off = w->end_off;
	w->repair_off = -1;
	return 0;
}

/* Writes every unwritten record, in order. 0 or -errno (the rest stay unwritten). */
static int write_out(struct b2b_cdr *w)
{
	int rc;

	if (!w->unwritten)
		return 0;
	rc = repair(w);
	if (rc < 0) {
		w->st.write_errors++;
		note_error(w, "repairing", -rc);
		return rc;
	}
	while (w->unwritten) {
		struct cdr_rec *r = w->unwritten;
		size_t off = 0;

		while (off < r->len) {
			ssize_t n =
				w->hooks.write(w->hooks.ctx, w->fd, r->line + off, r->len - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				int e = n < 0 ? errno : EIO;

				/* part of the line may be in the file: cut it before the retry */
				w->repair_off = w->end_off;
				w->st.write_errors++;
				note_error(w, "writing", e);
				return -e;
			}
			off += (size_t)n;
		}
		w->end_off += (off_t)r->len;
		w->unwritten = r->next;
		w->n_unsynced++;
	}
	return 0;
}

/* Syncs what was written; on failure, everything since the last good sync is rewritten. */
static int sync_out(struct b2b_cdr *w)
{
	uint64_t now;
	int rc;

	if (!w->n_unsynced)
		return 0;
	do {
		rc = w->hooks.fsync(w->hooks.ctx, w->fd);
	} while (rc < 0 && errno == EINTR);
	now = w->hooks.now_ns(w->hooks.ctx);
	if (rc < 0) {
		int e = errno;

		/*
		 * After a failed sync the kernel may have dropped those pages and a retried sync
		 * can succeed without them: trust nothing past the last good sync.
		 */
		w->st.sync_errors++;
		w->unwritten = w->head;
		w->n_unsynced = 0;
		w->repair_off = w->synced_off;
		w->last_sync_ns = now;
		w->synced_once = true;
		note_error(w, "syncing", e);
		return -e;
	}
	while (w->n_unsynced) {
		struct cdr_rec *r = w->head;

		w->head = r->next;
		free(r);
		w->n_unsynced--;
		w->n_pending--;
		w->st.durable++;
	}
	if (!w->head)
		w->tail = &w->head;
	w->synced_off = w->end_off;
	w->last_sync_ns = now;
	w->synced_once = true;
	w->st.syncs++;
	return 0;
}

static bool sync_due(const struct b2b_cdr *w, uint64_t now)
{
	if (w->cfg.fsync == B2B_CDR_FSYNC_ALWAYS || !w->synced_once)
		return true;
	/* the memory bound beats the interval */
	if (w->n_pending >= w->cfg.backlog_max)
		return true;
	return tg_age_ns(now, w->last_sync_ns) >= w->cfg.sync_interval_ms * TG_NS_PER_MS;
}

/*
 * Writes the backlog, then syncs when forced or due, even after a write error: what did get
 * written should not wait for the disk to come back.
 */
static int commit(struct b2b_cdr *w, bool force)
{
	int wrc = write_out(w), src = 0;

	if (w->n_unsynced && (force || sync_due(w, w->hooks.now_ns(w->hooks.ctx))))
		src = sync_out(w);
	if (wrc == 0 && src == 0)
		note_ok(w);
	return wrc < 0 ? wrc : src;
}

struct b2b_cdr *b2b_cdr_open(const struct b2b_cdr_config *cfg, const struct b2b_cdr_hooks *hooks,
	char *err, size_t errlen)
{
	char msg[B2B_CDR_PATH_MAX + 128] = "", own[B2B_CDR_PATH_MAX + 128];
	struct b2b_cdr *w;
	int fd;

	if (!err || !errlen) {
		err = own;
		errlen = sizeof(own);
	}
	if (memchr(cfg->path, '\0', sizeof(cfg->path)) == NULL ||
		validate_path(cfg->path, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "cdr.path: %s", msg[0] ? msg : "not terminated");
		TG_LOG(B2B, ERR, "%s", err);
		errno = EINVAL;
		return NULL;
	}
	if (cfg->backlog_max == 0 ||
		(cfg->fsync != B2B_CDR_FSYNC_ALWAYS && cfg->fsync != B2B_CDR_FSYNC_BATCH)) {
		snprintf(err, errlen,
			"cdr: invalid configuration (cdr.fsync %d, cdr.backlog_max %u)", cfg->fsync,
			cfg->backlog_max);
		TG_LOG(B2B, ERR, "%s", err);
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "cdr: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	w->cfg = *cfg;
	if (hooks)
		w->hooks = *hooks;
	if (!w->hooks.write)
		w->hooks.write = sys_write;
	if (!w->hooks.fsync)
		w->hooks.fsync = sys_fsync;
	if (!w->hooks.now_ns)
		w->hooks.now_ns = sys_now;
	w->tail = &w->head;
	w->repair_off = -1;
	fd = open_file(w->cfg.path, err, errlen);
	if (fd < 0) {
		TG_LOG(B2B, ERR, "%s", err);
		free(w);
		errno = -fd;
		return NULL;
	}
	w->fd = fd;
	w->end_off = w->synced_off = file_size(fd);
	TG_LOG(B2B, INFO, "cdr: writing '%s' (fsync %s)", w->cfg.path, fsync_modes[w->cfg.fsync]);
	return w;
}

int b2b_cdr_write(struct b2b_cdr *w, const struct b2b_cdr_record *rec)
{
	struct cdr_rec *r;
	size_t len;
	char *line;
	int rc;

	if (w->n_pending >= w->cfg.backlog_max) {
		/* make room if the file has come back */
		commit(w, true);
		if (w->n_pending >= w->cfg.backlog_max) {
			w->st.refused++;
			if (!w->refusing)
				TG_LOG_CALL(B2B, ERR, rec->a.call_id, "a",
					"cdr: backlog full (%zu records): record refused to the "
					"caller",
					w->n_pending);
			w->refusing = true;
			return -ENOBUFS;
		}
	}
	line = b2b_cdr_format(rec, &len);
	r = line ? malloc(sizeof(*r) + len) : NULL;
	if (!r) {
		free(line);
		w->st.refused++;
		TG_LOG_CALL(B2B, ERR, rec->a.call_id, "a", "cdr: out of memory: record refused");
		return -ENOMEM;
	}
	r->next = NULL;
	r->len = len;
	memcpy(r->line, line, len);
	free(line);
	*w->tail = r;
	w->tail = &r->next;
	if (!w->unwritten)
		w->unwritten = r;
	w->n_pending++;
	w->st.accepted++;
	w->refusing = false;
	rc = commit(w, w->cfg.fsync == B2B_CDR_FSYNC_ALWAYS);
	if (rc < 0)
		TG_LOG_CALL(B2B, DEBUG, rec->a.call_id, "a", "cdr: record held (%zu pending): %s",
			w->n_pending, strerror(-rc));
	return rc;
}

int b2b_cdr_tick(struct b2b_cdr *w)
{
	return commit(w, false);
}

int b2b_cdr_flush(struct b2b_cdr *w)
{
	return commit(w, true);
}

uint64_t b2b_cdr_tick_due_ms(const struct b2b_cdr *w)
{
	uint64_t age, iv;

	if (!w->n_pending)
		return UINT64_MAX;
	/* a failing file is retried every interval, not in a loop */
	if (w->failing)
		return w->cfg.sync_interval_ms;
	if (w->unwritten || sync_due(w, w->hooks.now_ns(w->hooks.ctx)))
		return 0;
	age = tg_age_ns(w->hooks.now_ns(w->hooks.ctx), w->last_sync_ns);
	iv = w->cfg.sync_interval_ms * TG_NS_PER_MS;
	return (iv - age + TG_NS_PER_MS - 1) / TG_NS_PER_MS;
}

int b2b_cdr_reopen(struct b2b_cdr *w)
{
	char err[B2B_CDR_PATH_MAX + 128];
	int fd, rc;

	/* what can still go to the old file goes there */
	commit(w, true);
	fd = open_file(w->cfg.path, err, sizeof(err));
	if (fd < 0) {
		TG_LOG(B2B, ERR, "%s; still writing to the old file", err);
		return fd;
	}
	/* leave no broken tail behind; what was cut goes to the new file */
	rc = repair(w);
	if (rc < 0 && w->unwritten)
		TG_LOG(B2B, WARN,
			"cdr: cannot cut the unsynced tail of the rotated file (%s): it may end in "
			"a broken line or repeat records written to the new one",
			strerror(-rc));
	if (close(w->fd) < 0)
		TG_LOG(B2B, WARN, "cdr: closing the rotated file: %s", strerror(errno));
	w->fd = fd;
	w->end_off = w->synced_off = file_size(fd);
	w->repair_off = -1;
	/* nothing was written to the new file yet */
	w->unwritten = w->head;
	w->n_unsynced = 0;
	w->st.reopens++;
	TG_LOG(B2B, INFO, "cdr: reopened '%s'", w->cfg.path);
	return commit(w, w->cfg.fsync == B2B_CDR_FSYNC_ALWAYS);
}

size_t b2b_cdr_pending(const struct b2b_cdr *w)
{
	return w->n_pending;
}

void b2b_cdr_get_stats(const struct b2b_cdr *w, struct b2b_cdr_stats *out)
{
	*out = w->st;
	out->pending = w->n_pending;
}

int b2b_cdr_close(struct b2b_cdr *w)
{
	int rc;

	if (!w)
		return 0;
	rc = commit(w, true);
	if (w->n_pending)
		TG_LOG(B2B, ERR, "cdr: closing '%s' with %zu record(s) not durable: lost (%s)",
			w->cfg.path, w->n_pending, strerror(rc < 0 ? -rc : EIO));
	if (close(w->fd) < 0 && rc == 0)
		rc = -errno;
	while (w->head) {
		struct cdr_rec *r = w->head;

		w->head = r->next;
		free(r);
	}
	free(w);
	return rc;
}
