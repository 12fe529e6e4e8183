/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The option table and its interpreter. Each row names its field and bounds, so adding an option
 * is one row (plus a setter for the few that are not plain numbers or strings), and --help can
 * never drift from what the parser accepts. Setters return NULL or a reason; the interpreter adds
 * the option name and value, so every error names what was wrong.
 */
#include "pg_args.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tg_log.h"

#define PG_DEFAULT_DURATION_MS 10000ULL
#define PG_MAX_DURATION_MS (86400ULL * 1000) /* one day: a bound, not a use case */
#define PG_COUNT_SLACK_MS 10000ULL	     /* time bound added to what --count should take */

enum pg_opt_type {
	PG_T_FLAG, /* bool, no argument */
	PG_T_UINT, /* unsigned, decimal */
	PG_T_U64,  /* uint64_t, decimal with an optional k/M/G multiplier */
	PG_T_MS,   /* uint64_t milliseconds from seconds ("2", "0.5", "2s") or "200ms" */
	PG_T_STR,  /* char[size] */
	PG_T_FN,   /* the row's setter */
};

struct pg_opt {
	const char *name; /* without the leading "--" */
	const char *arg;  /* argument name shown by --help; NULL for a flag */
	enum pg_opt_type type;
	size_t off;
	size_t size;	   /* PG_T_STR: the buffer's size */
	uint64_t min, max; /* numbers: inclusive bounds (milliseconds for PG_T_MS) */
	const char *(*set)(struct pg_args *a, const char *arg);
	const char *section; /* --help prints it above this row */
	const char *help;    /* lines after the first are indented by --help */
};

static const char *set_dst(struct pg_args *a, const char *arg);
static const char *set_src(struct pg_args *a, const char *arg);
static const char *set_dst_mac(struct pg_args *a, const char *arg);
static const char *set_src_mac(struct pg_args *a, const char *arg);
static const char *set_huge(struct pg_args *a, const char *arg);
static const char *set_log(struct pg_args *a, const char *arg);

#define F(field) offsetof(struct pg_args, field)

static const struct pg_opt pg_opts[PG_O__COUNT] = {
	[PG_O_DST] = {"dst", "IP:PORT[,IP:PORT...]", PG_T_FN, .set = set_dst, .section = "Traffic",
		.help = "where to send: one endpoint is a base (stream i goes to PORT + 2i),\n"
			"a list gives one per stream; [IPv6]:PORT; repeatable"},
	[PG_O_SRC] = {"src", "IP:PORT[,IP:PORT...]", PG_T_FN, .set = set_src,
		.help = "source, same rules (default 198.18.0.1:10000 or [2001:db8::1]:10000)"},
	[PG_O_DST_MAC] = {"dst-mac", "MAC", PG_T_FN, .set = set_dst_mac,
		.help = "destination MAC (default ff:ff:ff:ff:ff:ff)"},
	[PG_O_SRC_MAC] = {"src-mac", "MAC", PG_T_FN, .set = set_src_mac,
		.help = "source MAC (default: the port's)"},
	[PG_O_STREAMS] = {"streams", "K", PG_T_UINT, F(n_streams), 0, 1, PG_MAX_STREAMS,
		.help = "RTP streams, sent round-robin (default 1, or the --dst list's length)"},
	[PG_O_PPS] = {"pps", "N", PG_T_U64, F(pps), 0, 0, 100000000,
		.help = "total packets per second, paced with the TSC; 0 = as fast as possible\n"
			"(default: streams x 1000 / ptime, i.e. real-time RTP); k/M suffixes"},
	[PG_O_DURATION] = {"duration", "SECONDS", PG_T_MS, F(duration_ms), 0, 1, PG_MAX_DURATION_MS,
		.help = "stop sending after this long; when paced, after exactly this long's\n"
			"packets at --pps (default 10 s without --count, else what --count\n"
			"needs at --pps plus 10 s)"},
	[PG_O_COUNT] = {"count", "N", PG_T_U64, F(count), 0, 1, 1ULL << 48,
		.help = "stop sending after N packets (--rx-only: after N received)"},
	[PG_O_PTIME] = {"ptime", "MS", PG_T_UINT, F(ptime_ms), 0, 1, 1000,
		.help = "packetisation time: RTP timestamp step at 8 kHz, default rate (20)"},
	[PG_O_PT] = {"pt", "N", PG_T_UINT, F(pt), 0, 0, 127,
		.help = "RTP payload type (default 0, PCMU)"},
	[PG_O_PAYLOAD] = {"payload-size", "BYTES", PG_T_UINT, F(payload_size), 0, PG_MIN_PAYLOAD,
		PG_MAX_PAYLOAD_V4,
		.help = "UDP payload: 12-byte RTP header + 24-byte tag + filler (default 172,\n"
			"G.711 at 20 ms; at most 1452 for IPv6)"},
	[PG_O_RX_ONLY] = {"rx-only", NULL, PG_T_FLAG, F(rx_only), .section = "Modes",
		.help = "only receive and measure (give --streams to match the sender)"},
	[PG_O_TX_ONLY] = {"tx-only", NULL, PG_T_FLAG, F(tx_only), .help = "only send"},
	[PG_O_GRACE] = {"grace", "SECONDS", PG_T_MS, F(grace_ms), 0, 0, 60000,
		.help = "after sending, keep receiving until this long passes with nothing\n"
			"coming back (default 0.2)"},
	[PG_O_PORT] = {"port", "N", PG_T_UINT, F(port), 0, 0, 1023, .section = "Port and EAL",
		.help = "DPDK port id (default 0)"},
	[PG_O_LCORES] = {"lcores", "LIST", PG_T_STR, F(lcores),
		sizeof(((struct pg_args *)0)->lcores),
		.help = "EAL lcores: one sends and receives; with two, the second receives\n"
			"(default 0)"},
	[PG_O_FILE_PREFIX] = {"file-prefix", "NAME", PG_T_STR, F(file_prefix),
		sizeof(((struct pg_args *)0)->file_prefix),
		.help = "EAL runtime file prefix, unique per process (default pg<pid>)"},
	[PG_O_HUGE] = {"huge", "auto|on|off", PG_T_FN, .set = set_huge,
		.help = "hugepages: when enough are free, required, or never (default auto)"},
	[PG_O_MEMORY] = {"memory", "MB", PG_T_UINT, F(memory_mb), 0, 16, 65536,
		.help = "EAL memory (default 128)"},
	[PG_O_MBUFS] = {"mbufs", "N", PG_T_UINT, F(mbufs), 0, 1023, 1 << 24,
		.help = "mbufs in the pool (default 8191)"},
	[PG_O_RX_DESC] = {"rx-desc", "N", PG_T_UINT, F(rx_desc), 0, 32, 32768,
		.help = "RX descriptors (default 1024)"},
	[PG_O_TX_DESC] = {"tx-desc", "N", PG_T_UINT, F(tx_desc), 0, 32, 32768,
		.help = "TX descriptors (default 1024)"},
	[PG_O_LINK_WAIT] = {"link-wait", "SECONDS", PG_T_MS, F(link_wait_ms), 0, 0, 600000,
		.help = "wait this long for the link to come up (default 10)"},
	[PG_O_LOG] = {"log", "SPEC", PG_T_FN, .set = set_log,
		.help = "log levels, e.g. 'info' or 'dpdk=debug' (default info)"},
	[PG_O_HELP] = {"help", NULL, PG_T_FLAG, .help = "this text (also -h)"},
};

#undef F

/* Decimal digits only: strtoull alone would take signs, spaces and hex. */
static int parse_u64(const char *s, bool multipliers, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p && multipliers && !p[1]) {
		switch (*p) {
		case 'k':
		case 'K':
			mult = 1000;
			break;
		case 'M':
			mult = 1000000;
			break;
		case 'G':
			mult = 1000000000;
			break;
		default:
			return -EINVAL;
		}
		p++;
	}
	if (*p)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

/* Seconds ("2", "0.25", "2s") or milliseconds ("200ms") into milliseconds. */
static int parse_ms(const char *s, uint64_t *out)
{
	char *end;
	double v;

	if (!isdigit((unsigned char)*s) && *s != '.')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		;
	else if (!*end || !strcmp(end, "s"))
		v *= 1000.0;
	else
		return -EINVAL;
	if (v > (double)(1ULL << 53))
		return -ERANGE;
	*out = (uint64_t)llround(v);
	return 0;
}

int pg_parse_endpoint(const char *s, struct pg_endpoint *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h = s;
	size_t hlen;
	uint64_t port;

	memset(out, 0, sizeof(*out));
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		out->family = AF_INET6;
	} else {
		colon = strchr(s, ':');
		/* a bare IPv6 address: the port would be ambiguous */
		if (!colon || strchr(colon + 1, ':'))
			return -EINVAL;
		hlen = (size_t)(colon - s);
		out->family = AF_INET;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (inet_pton(out->family, host, out->addr) != 1)
		return -EINVAL;
	if (parse_u64(colon + 1, false, &port) < 0 || port == 0 || port > 65535)
		return -EINVAL;
	out->port = (uint16_t)port;
	return 0;
}

int pg_parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		int hi, lo;

		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -EINVAL;
		hi = isdigit((unsigned char)s[0]) ? s[0] - '0' : (tolower(s[0]) - 'a' + 10);
		lo = isdigit((unsigned char)s[1]) ? s[1] - '0' : (tolower(s[1]) - 'a' + 10);
		mac[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i < 5 && *s++ != ':')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

const char *pg_endpoint_str(const struct pg_endpoint *e, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(e->family, e->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, e->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, e->port);
	return buf;
}

void pg_args_stream_endpoint(
	const struct pg_endpoint *list, unsigned n, unsigned i, struct pg_endpoint *out)
{
	if (n > 1) {
		*out = list[i < n ? i : n - 1];
		return;
	}
	*out = list[0];
	out->port = (uint16_t)(list[0].port + 2 * i); /* RTP on even ports, RTCP between */
}

static const char *add_endpoints(struct pg_endpoint *list, unsigned *n, const char *arg)
{
	const char *reason = NULL;
	char *buf, *save, *tok;

	if (!*arg || *arg == ',' || arg[strlen(arg) - 1] == ',' || strstr(arg, ",,"))
		return "empty endpoint: expected IP:PORT or [IPv6]:PORT";
	buf = strdup(arg);
	if (!buf)
		return "out of memory";
	for (tok = strtok_r(buf, ",", &save); tok && !reason; tok = strtok_r(NULL, ",", &save)) {
		if (*n == PG_MAX_ENDPOINTS)
			reason = "more than 1024 endpoints";
		else if (pg_parse_endpoint(tok, &list[*n]) < 0)
			reason = "expected IP:PORT or [IPv6]:PORT with a port from 1 to 65535";
		else
			(*n)++;
	}
	free(buf);
	return reason;
}

static const char *set_dst(struct pg_args *a, const char *arg)
{
	return add_endpoints(a->dst, &a->n_dst, arg);
}

static const char *set_src(struct pg_args *a, const char *arg)
{
	return add_endpoints(a->src, &a->n_src, arg);
}

static const char *set_dst_mac(struct pg_args *a, const char *arg)
{
	return pg_parse_mac(arg, a->dst_mac) < 0 ? "expected a MAC like 02:00:00:00:00:01" : NULL;
}

static const char *set_src_mac(struct pg_args *a, const char *arg)
{
	return pg_parse_mac(arg, a->src_mac) < 0 ? "expected a MAC like 02:00:00:00:00:01" : NULL;
}

static const char *set_huge(struct pg_args *a, const char *arg)
{
	static const char *const names[] = {
		[PG_HUGE_AUTO] = "auto", [PG_HUGE_ON] = "on", [PG_HUGE_OFF] = "off"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(arg, names[i])) {
			a->huge = i;
			return NULL;
		}
	return "expected auto, on or off";
}

/* Applied at once (all or nothing): the levels matter from the first log line of bring-up. */
static const char *set_log(struct pg_args *a, const char *arg)
{
	if (strlen(arg) >= sizeof(a->log) || tg_log_apply_spec(arg) < 0)
		return "not a log spec (e.g. 'info' or 'dpdk=debug,perf=notice')";
	snprintf(a->log, sizeof(a->log), "%s", arg);
	return NULL;
}

static void set_defaults(struct pg_args *a)
{
	memset(a, 0, sizeof(*a));
	memset(a->dst_mac, 0xff, sizeof(a->dst_mac));
	a->n_streams = 1;
	a->ptime_ms = 20;
	a->payload_size = PG_RTP_HDR_LEN + 160;
	a->grace_ms = 200;
	snprintf(a->lcores, sizeof(a->lcores), "0");
	snprintf(a->file_prefix, sizeof(a->file_prefix), "pg%d", (int)getpid());
	a->huge = PG_HUGE_AUTO;
	a->memory_mb = 128;
	a->mbufs = 8191;
	a->rx_desc = 1024;
	a->tx_desc = 1024;
	a->link_wait_ms = 10000;
	snprintf(a->log, sizeof(a->log), "info");
}

static const struct pg_opt *find_opt(const char *name, size_t len)
{
	for (unsigned i = 0; i < PG_O__COUNT; i++)
		if (strlen(pg_opts[i].name) == len && !strncmp(pg_opts[i].name, name, len))
			return &pg_opts[i];
	return NULL;
}

static const char *set_number(
	const struct pg_opt *o, struct pg_args *a, const char *arg, char *why, size_t whylen)
{
	uint64_t v;
	int rc = o->type == PG_T_MS ? parse_ms(arg, &v) : parse_u64(arg, o->type == PG_T_U64, &v);

	if (rc < 0)
		return o->type == PG_T_MS ? "not a number of seconds (e.g. 2, 0.5 or 200ms)"
					  : "not a non-negative whole number";
	if (v < o->min || v > o->max) {
		if (o->type == PG_T_MS)
			snprintf(why, whylen, "must be between %g and %g seconds",
				(double)o->min / 1000.0, (double)o->max / 1000.0);
		else
			snprintf(why, whylen, "must be between %llu and %llu",
				(unsigned long long)o->min, (unsigned long long)o->max);
		return why;
	}
	if (o->type == PG_T_UINT)
		*(unsigned *)((char *)a + o->off) = (unsigned)v;
	else
		*(uint64_t *)((char *)a + o->off) = v;
	return NULL;
}

static const char *apply_opt(
	const struct pg_opt *o, struct pg_args *a, const char *arg, char *why, size_t whylen)
{
	switch (o->type) {
	case PG_T_FLAG:
		*(bool *)((char *)a + o->off) = true;
		return NULL;
	case PG_T_UINT:
	case PG_T_U64:
	case PG_T_MS:
		return set_number(o, a, arg, why, whylen);
	case PG_T_STR:
		if (!*arg)
			return "must not be empty";
		if (strlen(arg) >= o->size)
			return "too long";
		memcpy((char *)a + o->off, arg, strlen(arg) + 1);
		return NULL;
	case PG_T_FN:
		return o->set(a, arg);
	}
	return "unknown option type";
}

static bool same_family(const struct pg_endpoint *l, unsigned n, uint8_t family)
{
	for (unsigned i = 0; i < n; i++)
		if (l[i].family != family)
			return false;
	return true;
}

/* Relations between options, and the values that default from others. */
static int check(struct pg_args *a, char *err, size_t errlen)
{
	uint8_t family;

	if (a->rx_only && a->tx_only) {
		snprintf(err, errlen, "--rx-only and --tx-only exclude each other");
		return -EINVAL;
	}
	if (!a->rx_only && a->n_dst == 0) {
		snprintf(err, errlen, "--dst is required (where to send), unless --rx-only");
		return -EINVAL;
	}
	if (a->n_dst > 1) {
		if (pg_args_given(a, PG_O_STREAMS) && a->n_streams != a->n_dst) {
			snprintf(err, errlen, "--streams %u but --dst lists %u endpoints",
				a->n_streams, a->n_dst);
			return -EINVAL;
		}
		a->n_streams = a->n_dst;
	}
	if (a->n_src > 1 && a->n_src != a->n_streams) {
		snprintf(err, errlen, "--src lists %u endpoints for %u streams", a->n_src,
			a->n_streams);
		return -EINVAL;
	}
	if (a->n_dst) {
		family = a->dst[0].family;
		if (!same_family(a->dst, a->n_dst, family) ||
			!same_family(a->src, a->n_src, family)) {
			snprintf(err, errlen, "--dst and --src mix IPv4 and IPv6");
			return -EINVAL;
		}
		if (a->n_src == 0) {
			a->n_src = 1;
			pg_parse_endpoint(
				family == AF_INET ? "198.18.0.1:10000" : "[2001:db8::1]:10000",
				&a->src[0]);
		}
		if ((a->n_dst == 1 && a->dst[0].port + 2ULL * (a->n_streams - 1) > 65535) ||
			(a->n_src == 1 && a->src[0].port + 2ULL * (a->n_streams - 1) > 65535)) {
			snprintf(err, errlen, "%u streams at port + 2i run past port 65535",
				a->n_streams);
			return -EINVAL;
		}
		if (family == AF_INET6 && a->payload_size > PG_MAX_PAYLOAD_V6) {
			snprintf(err, errlen, "--payload-size %u: at most %u with IPv6",
				a->payload_size, PG_MAX_PAYLOAD_V6);
			return -EINVAL;
		}
	}
	for (const char *p = a->file_prefix; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') {
			snprintf(err, errlen,
				"--file-prefix '%s': letters, digits, '_' and '-' only",
				a->file_prefix);
			return -EINVAL;
		}
	if (!pg_args_given(a, PG_O_PPS)) {
		a->pps = (uint64_t)a->n_streams * 1000 / a->ptime_ms;
		if (a->pps == 0)
			a->pps = 1;
	}
	/* every run is bounded in time, whatever else bounds it */
	if (!pg_args_given(a, PG_O_DURATION)) {
		if (!a->count)
			a->duration_ms = PG_DEFAULT_DURATION_MS;
		else if (a->pps && !a->rx_only)
			a->duration_ms =
				(a->count * 1000 + a->pps - 1) / a->pps + PG_COUNT_SLACK_MS;
		else
			a->duration_ms = PG_DEFAULT_DURATION_MS + PG_COUNT_SLACK_MS;
		if (a->duration_ms > PG_MAX_DURATION_MS)
			a->duration_ms = PG_MAX_DURATION_MS;
	}
	return 0;
}

enum pg_args_result pg_args_parse(
	struct pg_args *a, int argc, char **argv, char *err, size_t errlen)
{
	char why[96];
	int i;

	set_defaults(a);
	for (i = 1; i < argc; i++) {
		const char *s = argv[i], *eq, *arg = NULL, *reason;
		const struct pg_opt *o;
		size_t len;

		if (!strcmp(s, "--")) {
			a->eal_argc = argc - i - 1;
			a->eal_argv = argv + i + 1;
			break;
		}
		if (!strcmp(s, "-h"))
			return PG_ARGS_EXIT;
		if (strncmp(s, "--", 2) != 0) {
			snprintf(err, errlen,
				"unexpected argument '%s' (EAL options go after '--')", s);
			return PG_ARGS_ERROR;
		}
		s += 2;
		eq = strchr(s, '=');
		len = eq ? (size_t)(eq - s) : strlen(s);
		o = find_opt(s, len);
		if (!o) {
			snprintf(err, errlen, "unknown option '%s' (see --help)", argv[i]);
			return PG_ARGS_ERROR;
		}
		if (o == &pg_opts[PG_O_HELP])
			return PG_ARGS_EXIT;
		if (o->arg && eq) {
			arg = eq + 1;
		} else if (o->arg) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "--%s needs an argument (%s)", o->name,
					o->arg);
				return PG_ARGS_ERROR;
			}
			arg = argv[++i];
		} else if (eq) {
			snprintf(err, errlen, "--%s takes no argument", o->name);
			return PG_ARGS_ERROR;
		}
		reason = apply_opt(o, a, arg, why, sizeof(why));
		if (reason) {
			/* a long value is cut: the reason must fit in the message */
			snprintf(err, errlen, "--%s '%.48s%s': %s", o->name, arg ? arg : "",
				arg && strlen(arg) > 48 ? "..." : "", reason);
			return PG_ARGS_ERROR;
		}
		a->given |= 1ULL << (o - pg_opts);
	}
	return check(a, err, errlen) < 0 ? PG_ARGS_ERROR : PG_ARGS_RUN;
}

void pg_args_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [options] [-- EAL options]\n"
		"RTP traffic generator: sends K RTP streams through one DPDK port, receives what\n"
		"comes back (matched by the stream id in the payload, not by address) and reports\n"
		"loss, reordering, duplicates and one-way latency. The last line of output is\n"
		"machine-readable key=value pairs.\n",
		prog);
	for (unsigned i = 0; i < PG_O__COUNT; i++) {
		const struct pg_opt *o = &pg_opts[i];
		char left[64];
		const char *h = o->help, *nl;

		if (o->section)
			fprintf(out, "\n%s:\n", o->section);
		snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "",
			o->arg ? o->arg : "");
		/* long names get the help on their own line: the column stays readable */
		if (strlen(left) > 26)
			fprintf(out, "  %s\n%30s", left, "");
		else
			fprintf(out, "  %-26s  ", left);
		for (; (nl = strchr(h, '\n')); h = nl + 1)
			fprintf(out, "%.*s\n%30s", (int)(nl - h), h, "");
		fprintf(out, "%s\n", h);
	}
	fprintf(out, "\nAfter '--', EAL options: the port, e.g.\n"
		     "  -- --vdev net_memif0,role=client,socket=/tmp/tg.sock\n"
		     "  -- --vdev net_ring0      (a loopback: what is sent comes back)\n");
}
