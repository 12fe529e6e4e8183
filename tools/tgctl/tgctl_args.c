/* SPDX-License-Identifier: BSD-3-Clause */
/* tgctl's options (see tgctl_args.h). */
#include "tgctl_args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tg_shm.h"

#define TIMEOUT_MAX_S 3600

void tgctl_usage(FILE *out)
{
	fputs("usage: tgctl [--instance NAME | --socket PATH] [--json] [--timeout SECONDS] "
	      "COMMAND [ARGS...]\n"
	      "       tgctl [...] events [--call ID] [--kinds KIND,...] [--json] [--count N] "
	      "[--for SECONDS]\n"
	      "Sends one command to a running tollgate-cp over its control socket and prints the "
	      "answer.\n"
	      "'events' prints the calls' events as they happen (state changes, incoming, "
	      "established,\n"
	      "ended, dtmf, media-quality), one line each, until --count N events or --for "
	      "SECONDS\n"
	      "(or Ctrl-C); --json prints them as JSON lines.\n\n"
	      "options:\n"
	      "  --instance NAME    the appliance's instance (general.instance): socket "
	      "/run/tollgate/NAME.ctl\n"
	      "                     (default: instance 'default')\n"
	      "  --socket PATH      the control socket (controlplane.control_socket) itself\n"
	      "  --json             print the result (or the error) as JSON\n"
	      "  --timeout SECONDS  wait at most this long for the answer (default 5)\n"
	      "  --count N          events: exit after N events\n"
	      "  --for SECONDS      events: exit after this long\n"
	      "  --help             this text; 'tgctl help' lists the commands\n\n"
	      "exit status: 0 done, 1 the command was refused, 2 a bad command line, 3 no answer\n"
	      "(cannot connect, or timed out). Commands: docs/CLI.md.\n",
		out);
}

/* "--opt VALUE" or "--opt=VALUE": the value, or NULL when opt is not this option */
static const char *opt_value(int argc, char *const *argv, int *i, const char *opt, bool *missing)
{
	size_t n = strlen(opt);
	const char *a = argv[*i];

	if (strncmp(a, opt, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

static int parse_timeout(const char *s, uint64_t *ms, char *err, size_t errlen)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > TIMEOUT_MAX_S) {
		tg_errf(err, errlen, "--timeout '%s': expected seconds, more than 0 and at most %d",
			s, TIMEOUT_MAX_S);
		return -EINVAL;
	}
	*ms = (uint64_t)(v * 1000 + 0.5);
	if (!*ms)
		*ms = 1;
	return 0;
}

static int parse_for(const char *s, uint64_t *ms, char *err, size_t errlen)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > TGCTL_FOR_MAX_S) {
		tg_errf(err, errlen, "--for '%s': expected seconds, more than 0 and at most %d", s,
			TGCTL_FOR_MAX_S);
		return -EINVAL;
	}
	*ms = (uint64_t)(v * 1000 + 0.5);
	if (!*ms)
		*ms = 1;
	return 0;
}

static int parse_count(const char *s, uint64_t *n, char *err, size_t errlen)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = (*s >= '0' && *s <= '9') ? strtoull(s, &end, 10) : 0;
	if (!v || errno || *end || v > TGCTL_COUNT_MAX) {
		tg_errf(err, errlen, "--count '%s': expected a number of events, 1 to %u", s,
			TGCTL_COUNT_MAX);
		return -EINVAL;
	}
	*n = v;
	return 0;
}

/* tgctl's own options among the words of `events`: taken out; the rest is the request */
static int events_words(struct tgctl_args *out, char *const *w, int n, char *err, size_t errlen)
{
	int k = 0;

	for (int i = 0; i < n; i++) {
		bool missing = false;
		const char *v;

		if (i > 0 && strcmp(w[i], "--json") == 0) {
			out->json = true;
			continue;
		}
		if (i > 0 && (v = opt_value(n, w, &i, "--count", &missing))) {
			if (parse_count(v, &out->count, err, errlen) < 0)
				return -EINVAL;
			continue;
		}
		if (i > 0 && (v = opt_value(n, w, &i, "--for", &missing))) {
			if (parse_for(v, &out->for_ms, err, errlen) < 0)
				return -EINVAL;
			continue;
		}
		if (missing) {
			tg_errf(err, errlen, "%s needs an argument", w[i]);
			return -EINVAL;
		}
		if (k + 2 > (int)(sizeof(out->ev_words) / sizeof(out->ev_words[0]))) {
			tg_errf(err, errlen, "events: too many arguments");
			return -EINVAL;
		}
		out->ev_words[k++] = w[i];
		/* the control plane's options keep their value, whatever it looks like */
		if ((strcmp(w[i], "--call") == 0 || strcmp(w[i], "--kinds") == 0) && i + 1 < n)
			out->ev_words[k++] = w[++i];
	}
	out->words = out->ev_words;
	out->n_words = k;
	return 0;
}

int tgctl_args_parse(int argc, char *const *argv, struct tgctl_args *out, char *err, size_t errlen)
{
	const char *instance = NULL, *socket = NULL, *v;
	int i;

	memset(out, 0, sizeof(*out));
	out->timeout_ms = TGCTL_TIMEOUT_MS;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool missing = false;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strncmp(a, "-", 1) != 0)
			break;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			out->help = true;
			return 0;
		} else if (strcmp(a, "--json") == 0) {
			out->json = true;
		} else if ((v = opt_value(argc, argv, &i, "--instance", &missing))) {
			instance = v;
		} else if ((v = opt_value(argc, argv, &i, "--socket", &missing))) {
			socket = v;
		} else if ((v = opt_value(argc, argv, &i, "--timeout", &missing))) {
			if (parse_timeout(v, &out->timeout_ms, err, errlen) < 0)
				return -EINVAL;
		} else if ((v = opt_value(argc, argv, &i, "--count", &missing))) {
			if (parse_count(v, &out->count, err, errlen) < 0)
				return -EINVAL;
		} else if ((v = opt_value(argc, argv, &i, "--for", &missing))) {
			if (parse_for(v, &out->for_ms, err, errlen) < 0)
				return -EINVAL;
		} else if (missing) {
			tg_errf(err, errlen, "%s needs an argument", a);
			return -EINVAL;
		} else {
			tg_errf(err, errlen, "unknown option '%s'", a);
			return -EINVAL;
		}
	}
	if (instance && socket) {
		tg_errf(err, errlen, "--instance and --socket name the same thing: give one");
		return -EINVAL;
	}
	if (socket) {
		if (!socket[0] || strlen(socket) >= sizeof(out->socket)) {
			tg_errf(err, errlen,
				"--socket '%s': expected a path of 1 to %zu characters", socket,
				sizeof(out->socket) - 1);
			return -EINVAL;
		}
		memcpy(out->socket, socket, strlen(socket) + 1);
	} else if (cp_ctl_socket_path(CP_CTL_SOCKET_DEFAULT, instance ? instance : "default",
			   out->socket, sizeof(out->socket)) < 0) {
		tg_errf(err, errlen,
			"--instance '%s': not an instance name ([A-Za-z0-9_-], 1-%d "
			"characters)",
			instance, TG_INSTANCE_MAX - 1);
		return -EINVAL;
	}
	if (i >= argc) {
		tg_errf(err, errlen, "no command given");
		return -EINVAL;
	}
	out->words = argv + i;
	out->n_words = argc - i;
	out->events = strcmp(argv[i], "events") == 0;
	if (out->events)
		return events_words(out, argv + i, argc - i, err, errlen);
	if (out->count || out->for_ms) {
		tg_errf(err, errlen, "--count and --for are for 'events' only");
		return -EINVAL;
	}
	return 0;
}
