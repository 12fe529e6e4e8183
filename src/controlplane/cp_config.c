/* SPDX-License-Identifier: BSD-3-Clause */
/* Each control-plane config key, declared once. */
#include "cp_config.h"

#include <errno.h>
#include <string.h>

#include "cp_ctl_proto.h"
#include "tg_shm.h"

#define CC(member) TG_CFG_AT(struct cp_config, member)

/* An absolute path that fits a Unix socket address with the longest instance name in it. */
static int validate_control_socket(const void *value, char *err, size_t errlen)
{
	static const char mark[] = "{instance}";
	const char *s = value;
	size_t len = strlen(s);

	if (!len)
		return 0;
	if (s[0] != '/') {
		tg_errf(err, errlen, "'%s' is not an absolute path", s);
		return -EINVAL;
	}
	for (const char *p = strstr(s, mark); p; p = strstr(p + 1, mark))
		len += TG_INSTANCE_MAX - 1 - (sizeof(mark) - 1);
	if (len >= CP_CTL_PATH_MAX) {
		tg_errf(err, errlen,
			"too long for a Unix socket: %zu characters with a %d-character instance "
			"name, at most %d",
			len, TG_INSTANCE_MAX - 1, CP_CTL_PATH_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

static const struct tg_cfg_key cp_keys[] = {
	{"controlplane", "dp_timeout", TG_CFG_DURATION, CC(dp_timeout_ms), .def = "2s", .min = 100,
		.max = 600000,
		.help = "The dataplane counts as gone when its heartbeat is older than this: "
			"requests in flight fail and the control plane waits for it to come back."},
	{"controlplane", "request_timeout", TG_CFG_DURATION, CC(request_timeout_ms), .def = "2s",
		.min = 10, .max = 600000,
		.help = "A command to the dataplane with no reply by then fails with a timeout."},
	{"controlplane", "check_interval", TG_CFG_DURATION, CC(check_interval_ms), .def = "100ms",
		.min = 10, .max = 10000,
		.help = "How often the control plane checks the dataplane's liveness, re-attaches "
			"and expires requests."},
	{"controlplane", "backlog_max", TG_CFG_UINT, CC(backlog_max), .def = "65536", .min = 1,
		.max = 16777216,
		.help = "Commands held per ring while the ring is full; beyond that a command is "
			"refused to its caller (never dropped silently)."},
	{"controlplane", "ping_interval", TG_CFG_DURATION, CC(ping_interval_ms), .def = "1s",
		.min = 0, .max = 3600000, .flags = TG_CFG_LIVE,
		.help = "How often every dataplane lcore is pinged over its command ring (0: "
			"never)."},
	{"controlplane", "status_interval", TG_CFG_DURATION, CC(status_interval_ms), .def = "5s",
		.min = 0, .max = 3600000, .flags = TG_CFG_LIVE,
		.help = "How often a status line is logged (0: never)."},
	{"controlplane", "shutdown_grace", TG_CFG_DURATION, CC(shutdown_grace_ms), .def = "5s",
		.min = 0, .max = 600000, .flags = TG_CFG_LIVE,
		.help = "On SIGTERM/SIGINT (or the end of --duration), new calls are refused 503 "
			"and "
			"every call in progress is ended with a BYE carrying a Reason; the process "
			"exits when they are all done, or after this long. A second signal exits "
			"at "
			"once. 0: exit at once (the calls' records are still written)."},
	{"controlplane", "control_socket", TG_CFG_STRING, CC(control_socket),
		.def = CP_CTL_SOCKET_DEFAULT, .validate = validate_control_socket,
		.help = "The operator's control socket, which tgctl talks to (docs/CLI.md): a Unix "
			"socket path where '{instance}' stands for general.instance. A missing "
			"directory is created (mode 0750), a stale socket file replaced, and the "
			"socket is made 0660: whoever may write to it may run every command. "
			"Empty: no control socket."},
	{"sip", "listen", TG_CFG_STRING, CC(sip_listen), .def = "127.0.0.1:5060",
		.help = "Where SIP is received, over UDP and TCP on the same port: ADDR:PORT or "
			"[ADDR6]:PORT, several separated by commas. Port 0 picks a free one "
			"(tests). Outbound TCP connections leave from the listener's address."},
	{"sip", "user_agent", TG_CFG_STRING, CC(sip_user_agent), .def = "tollgate",
		.help = "The Server / User-Agent header value the appliance sends."},
};

int cp_config_register(struct tg_cfg *cfg, struct cp_config *cc)
{
	return tg_cfg_register(cfg, cp_keys, sizeof(cp_keys) / sizeof(cp_keys[0]), cc);
}
