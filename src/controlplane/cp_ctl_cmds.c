/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's own commands (see cp_ctl_cmds.h). They go through the calls the boot path
 * uses, so a value refused at start is refused here with the same message: tg_cfg_set() for
 * `set`, tg_cli_load() into a detached copy of the registry and cp_route_table_new() for
 * `reload`. Nothing here waits: every handler answers at once.
 */
#include "cp_ctl_cmds.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tg_log.h"
#include "tg_time.h"

#define VALUE_MAX (TG_CFG_STRING_MAX + 1)
#define HIDDEN "<hidden>"

static void key_name(const struct tg_cfg_key *k, char *buf, size_t len)
{
	snprintf(buf, len, "%s.%s", k->section, k->name);
}

/* ---- show config --------------------------------------------------------------------------- */

/* KEY is the key, SECTION every key of it */
static bool key_selected(const struct tg_cfg_key *k, const char *key, const char *sel)
{
	size_t n = strlen(k->section);

	return strcmp(key, sel) == 0 || (strncmp(sel, k->section, n) == 0 && sel[n] == '\0');
}

static void cmd_show_config(
	void *arg, struct cp_ctl_req *req, const char *const *args, unsigned nargs)
{
	const struct tg_cfg *cfg = ((struct cp_app *)arg)->registry;
	char *value = malloc(VALUE_MAX);
	json_t *rows = json_array();

	for (size_t i = 0; value && rows && i < tg_cfg_count(cfg); i++) {
		const struct tg_cfg_key *k = tg_cfg_key_at(cfg, i);
		char key[2 * TG_CFG_NAME_MAX + 2];

		key_name(k, key, sizeof(key));
		if (nargs && !key_selected(k, key, args[0]))
			continue;
		if (k->flags & TG_CFG_SECRET)
			snprintf(value, VALUE_MAX, HIDDEN);
		else
			tg_cfg_get(cfg, key, value, VALUE_MAX);
		json_array_append_new(
			rows, json_pack("{s:s, s:o, s:s}", "key", key, "value",
				      cp_ctl_json_str(value), "changes", tg_cfg_changes(k)));
	}
	free(value);
	if (rows && nargs && !json_array_size(rows)) {
		json_decref(rows);
		cp_ctl_fail(req, ENOENT, "show config: no key or section '%s'", args[0]);
		return;
	}
	cp_ctl_ok(req, rows);
}

/* ---- set ----------------------------------------------------------------------------------- */

static void cmd_set(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned nargs)
{
	struct tg_cfg *cfg = ((struct cp_app *)arg)->registry;
	const struct tg_cfg_key *k = tg_cfg_find(cfg, args[0]);
	char *was = malloc(VALUE_MAX), *now = malloc(VALUE_MAX), err[512];
	int rc;

	if (!was || !now) {
		cp_ctl_fail(req, ENOMEM, "set: out of memory");
		goto out;
	}
	tg_cfg_get(cfg, args[0], was, VALUE_MAX);
	rc = tg_cfg_set(cfg, args[0], args[1], true, err, sizeof(err));
	if (rc < 0) {
		cp_ctl_fail(req, -rc, "%s", err);
		goto out;
	}
	tg_cfg_get(cfg, args[0], now, VALUE_MAX);
	if (k->flags & TG_CFG_SECRET) {
		snprintf(was, VALUE_MAX, HIDDEN);
		snprintf(now, VALUE_MAX, HIDDEN);
	}
	TG_LOG(CP, NOTICE, "control: %s set to '%s' (was '%s')", args[0], now, was);
	cp_ctl_ok(req, json_pack("{s:s, s:o, s:o}", "key", args[0], "value", cp_ctl_json_str(now),
			       "was", cp_ctl_json_str(was)));
out:
	free(was);
	free(now);
}

/* ---- show stats ---------------------------------------------------------------------------- */

#define SIP(f) CP_CTL_COUNTER(struct cp_sip_counters, f)
static const struct cp_ctl_counter sip_counters[] = {
	SIP(rx_msgs),
	SIP(rx_bytes),
	SIP(rx_bad_requests),
	SIP(rx_bad_responses),
	SIP(rx_unanswerable),
	SIP(rx_too_big),
	SIP(tx_msgs),
	SIP(tx_errors),
	SIP(tx_queued),
	SIP(tcp_accepted),
	SIP(tcp_connected),
	SIP(tcp_connect_failed),
	SIP(tcp_reconnected),
	SIP(tcp_refused),
	SIP(tcp_closed_bad),
	SIP(tcp_closed_idle),
	SIP(tcp_closed_peer),
	SIP(tcp_closed_overflow),
	SIP(tcp_lost),
};

#define CHAN(f) CP_CTL_COUNTER(struct cp_dp_counters, f)
static const struct cp_ctl_counter chan_counters[] = {
	CHAN(requests),
	CHAN(replies),
	CHAN(timeouts),
	CHAN(resets),
	CHAN(backlogged),
	CHAN(backlog_peak),
	CHAN(refused),
	CHAN(stray_replies),
	CHAN(events),
	CHAN(restarts),
};

#define N(a) (unsigned)(sizeof(a) / sizeof((a)[0]))

static json_t *sip_json(const struct cp_app *app)
{
	json_t *o = cp_ctl_counters_json(
		cp_sip_transport_counters(app->sip), sip_counters, N(sip_counters));

	json_object_set_new(o, "tcp_open", json_integer(cp_sip_transport_conns(app->sip)));
	return o;
}

static json_t *channel_json(const struct cp_app *app)
{
	json_t *o = json_pack("{s:b, s:i}", "up", cp_dp_is_up(app->dp), "in_flight",
		(int)cp_dp_in_flight(app->dp));
	json_t *c = cp_ctl_counters_json(cp_dp_counters(app->dp), chan_counters, N(chan_counters));

	json_object_update(o, c);
	json_decref(c);
	return o;
}

/* The stats segment, and packet rates since the last `show stats` (0 the first time). */
static json_t *dataplane_json(struct cp_app *app)
{
	uint64_t now = tg_now_ns(), rx = 0, tx = 0;
	double secs = app->stats_ns ? (double)(now - app->stats_ns) / 1e9 : 0;
	char err[256];
	json_t *seg = cp_dpstats_json(app->stats, err, sizeof(err)), *o;

	if (!seg)
		return json_pack("{s:s}", "error", err);
	cp_dpstats_lcore_sum(app->stats, "rx_pkts", &rx);
	cp_dpstats_lcore_sum(app->stats, "tx_pkts", &tx);
	o = json_pack("{s:f, s:f, s:f}", "rx_pps",
		secs > 0 && rx >= app->stats_rx ? (double)(rx - app->stats_rx) / secs : 0.0,
		"tx_pps",
		secs > 0 && tx >= app->stats_tx ? (double)(tx - app->stats_tx) / secs : 0.0,
		"rate_interval_s", secs);
	app->stats_ns = now;
	app->stats_rx = rx;
	app->stats_tx = tx;
	json_object_update(o, seg);
	json_decref(seg);
	return o;
}

static void cmd_show_stats(
	void *arg, struct cp_ctl_req *req, const char *const *args, unsigned nargs)
{
	struct cp_app *app = arg;
	json_t *o = json_object();

	if (o && app->stats_json)
		app->stats_json(app->hook_arg, o);
	json_object_set_new(o, "sip", sip_json(app));
	json_object_set_new(o, "channel", channel_json(app));
	json_object_set_new(o, "dataplane", dataplane_json(app));
	cp_ctl_ok(req, o);
}

/* ---- reload -------------------------------------------------------------------------------- */

/* The new routing table from the file's values, or NULL with the reason in err. */
static struct cp_route_table *new_routes(const struct tg_cfg *fresh, char *err, size_t errlen)
{
	struct cp_route_config *rc = malloc(sizeof(*rc));
	struct cp_route_table *t = NULL;

	if (!rc)
		snprintf(err, errlen, "out of memory");
	else if (cp_route_config_get(fresh, rc) < 0)
		snprintf(err, errlen, "the routing keys are not registered");
	else
		t = cp_route_table_new(rc, err, errlen);
	free(rc);
	return t;
}

/*
 * The file is loaded whole into a detached copy of the registry (with the command line's
 * overrides after it, as at start), then compared key by key with the running values. A file
 * that does not load, or routes that do not build, change nothing. Otherwise the routing keys
 * (TG_CFG_RELOAD) take the file's values and the session layer the new table, live keys are set
 * as `set` would, and boot-only keys that differ are reported, not applied: they need a restart.
 */
static void cmd_reload(void *arg, struct cp_ctl_req *req, const char *const *args, unsigned nargs)
{
	struct cp_app *app = arg;
	struct tg_cfg *live = app->registry, *fresh = NULL;
	struct cp_route_table *routes = NULL;
	json_t *applied = json_array(), *boot = json_array();
	char *a = malloc(VALUE_MAX), *b = malloc(VALUE_MAX), err[512];
	bool routing = false;
	int rc;

	if (!app->cli || !app->cli->config_file) {
		cp_ctl_fail(req, ENOENT,
			"reload: tollgate-cp was started without --config: no file to re-read");
		goto out;
	}
	fresh = tg_cfg_detached(live);
	if (!fresh || !a || !b || !applied || !boot) {
		cp_ctl_fail(req, ENOMEM, "reload: out of memory");
		goto out;
	}
	rc = tg_cli_load(app->cli, fresh, err, sizeof(err));
	if (rc < 0) {
		cp_ctl_fail(req, -rc, "reload: %s (nothing changed)", err);
		goto out;
	}
	for (size_t i = 0; i < tg_cfg_count(live); i++) {
		const struct tg_cfg_key *k = tg_cfg_key_at(live, i);
		char key[2 * TG_CFG_NAME_MAX + 2];

		key_name(k, key, sizeof(key));
		tg_cfg_get(live, key, a, VALUE_MAX);
		tg_cfg_get(fresh, key, b, VALUE_MAX);
		if (strcmp(a, b) == 0)
			continue;
		if (k->flags & TG_CFG_RELOAD)
			routing = true;
		else if (!(k->flags & TG_CFG_LIVE))
			json_array_append_new(boot, json_string(key));
	}
	if (routing) {
		routes = new_routes(fresh, err, sizeof(err));
		if (!routes) {
			cp_ctl_fail(req, EINVAL, "reload: routing: %s (nothing changed)", err);
			goto out;
		}
	}
	/* everything checked: apply */
	for (size_t i = 0; i < tg_cfg_count(live); i++) {
		const struct tg_cfg_key *k = tg_cfg_key_at(live, i);
		char key[2 * TG_CFG_NAME_MAX + 2];

		if (!(k->flags & (TG_CFG_LIVE | TG_CFG_RELOAD)))
			continue;
		key_name(k, key, sizeof(key));
		tg_cfg_get(live, key, a, VALUE_MAX);
		tg_cfg_get(fresh, key, b, VALUE_MAX);
		if (strcmp(a, b) == 0)
			continue;
		/* validated in the copy by the same rules: cannot fail but for memory */
		if (tg_cfg_set(live, key, b, !(k->flags & TG_CFG_RELOAD), err, sizeof(err)) < 0)
			TG_LOG(CP, ERR, "reload: %s", err);
		else
			json_array_append_new(applied, json_string(key));
	}
	if (routes) {
		unsigned n = cp_route_count(routes);

		if (app->set_routes)
			app->set_routes(app->hook_arg, routes);
		else
			cp_route_table_free(routes);
		TG_LOG(CP, NOTICE, "reload of %s: new routing table, %u rule%s",
			app->cli->config_file, n, n == 1 ? "" : "s");
		routes = NULL;
	}
	TG_LOG(CP, NOTICE, "reload of %s: %zu key(s) applied, %zu boot-only key(s) differ",
		app->cli->config_file, json_array_size(applied), json_array_size(boot));
	cp_ctl_ok(req,
		json_pack("{s:s, s:b, s:O, s:O}", "file", app->cli->config_file, "routing_replaced",
			routing, "applied", applied, "not_applied_need_restart", boot));
out:
	json_decref(applied);
	json_decref(boot);
	tg_cfg_free(fresh);
	free(a);
	free(b);
}

static const struct cp_ctl_cmd cmds[] = {
	{"show config", "[KEY|SECTION]", 0, 1,
		"Every config key (or one key, or one section's keys) with its value (secret ones "
		"hidden) and how it changes: live (set), reload (the config file and reload) or "
		"boot (a restart).",
		cmd_show_config, NULL},
	{"set", "KEY VALUE", 2, 2,
		"Sets a live config key (show config says which are) and answers the new value; "
		"the value is checked as in the config file. Lost at a restart or a reload unless "
		"the file says the same.",
		cmd_set, NULL},
	{"show stats", "", 0, 0,
		"Counters: calls (active, in memory, calls per second since the last status line "
		"or show stats, offered, answered, ended, rejections), SIP transactions, the event "
		"bus (published, delivered, dropped for subscribers that fell behind, "
		"subscribers), the SIP transport, the channel to the dataplane, and the "
		"dataplane's lcores, ports and drops per reason from its stats segment (packets "
		"per second since the last show stats).",
		cmd_show_stats, NULL},
	{"reload", "", 0, 0,
		"Reads the config file again (with the command line's --set overrides after it): "
		"new routing rules take effect for new calls, calls in progress are kept, live "
		"keys are set; boot-only keys that differ are listed, not applied. A file that "
		"does not load changes nothing.",
		cmd_reload, NULL},
};

int cp_ctl_cmds_register(struct cp_ctl *c, struct cp_app *app)
{
	struct cp_ctl_cmd rows[N(cmds)];

	for (unsigned i = 0; i < N(cmds); i++) {
		rows[i] = cmds[i];
		rows[i].arg = app;
	}
	return cp_ctl_register(c, rows, N(rows));
}
