/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemons' shared command line. Order matters and is fixed: defaults, then the file, then
 * --set overrides in the order given, so a test or an operator can always override one key of a
 * file without editing it.
 */
#include "tg_cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tg_log.h"
#include "tollgate/version.h"

static int validate_instance(const void *v, char *err, size_t errlen)
{
	if (!tg_instance_name_ok(v)) {
		tg_errf(err, errlen,
			"'%s' is not a valid instance name ([A-Za-z0-9_-], 1-%d chars)",
			(const char *)v, TG_INSTANCE_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

static int validate_log(const void *v, char *err, size_t errlen)
{
	uint8_t saved[TG_LOG__COUNT];
	int rc;

	/* parse by applying, then restore: the facade has one parser and we keep it that way */
	memcpy(saved, tg_log_levels, sizeof(saved));
	rc = tg_log_apply_spec(v);
	memcpy(tg_log_levels, saved, sizeof(saved));
	if (rc < 0)
		tg_errf(err, errlen,
			"'%s' is not a log spec: LEVEL or SUBSYS=LEVEL,... with levels "
			"err|warn|notice|info|debug",
			(const char *)v);
	return rc;
}

/* validated: the spec parses */
static void apply_log(const void *v)
{
	tg_log_apply_spec(v);
}

#define GC(member) TG_CFG_AT(struct tg_general_config, member)

static const struct tg_cfg_key general_keys[] = {
	{"general", "instance", TG_CFG_STRING, GC(instance), .def = "default",
		.validate = validate_instance,
		.help = "Instance name: names the shared-memory channel and stats segment "
			"(/dev/shm/tollgate.<instance>.*), so several appliances can share a "
			"host."},
	{"general", "log", TG_CFG_STRING, GC(log), .def = "info", .flags = TG_CFG_LIVE,
		.validate = validate_log, .apply = apply_log,
		.help = "Log levels: a level for all subsystems, or SUBSYS=LEVEL pairs separated "
			"by "
			"commas (e.g. 'info,chan=debug')."},
};

int tg_general_config_register(struct tg_cfg *cfg, struct tg_general_config *gc)
{
	return tg_cfg_register(
		cfg, general_keys, sizeof(general_keys) / sizeof(general_keys[0]), gc);
}

static void usage(const struct tg_cli *cli, FILE *out)
{
	fprintf(out, "usage: %s [options]%s\n%s\n\noptions:\n", cli->prog,
		cli->allow_rest ? " [-- EAL options]" : "", cli->summary);
	fprintf(out, "  --config FILE        load an INI config file (default: built-in defaults)\n"
		     "  --set KEY=VALUE      override one key, e.g. --set dataplane.idle=busy\n"
		     "  --instance NAME      same as --set general.instance=NAME\n"
		     "  --log SPEC           same as --set general.log=SPEC\n"
		     "  --show-config        print the effective configuration and exit\n"
		     "  --config-docs        print the config reference (Markdown) and exit\n"
		     "  --config-example     print an example config file and exit\n"
		     "  --version, --help\n");
	for (unsigned i = 0; i < cli->n_opts; i++) {
		char left[40];

		snprintf(left, sizeof(left), "%s%s%s", cli->opts[i].name,
			cli->opts[i].has_arg ? " " : "",
			cli->opts[i].has_arg ? cli->opts[i].arg_name : "");
		fprintf(out, "  %-20s %s\n", left, cli->opts[i].help);
	}
}

static const struct tg_cli_opt *find_opt(const struct tg_cli *cli, const char *name)
{
	for (unsigned i = 0; i < cli->n_opts; i++)
		if (strcmp(cli->opts[i].name, name) == 0)
			return &cli->opts[i];
	return NULL;
}

int tg_cli_load(const struct tg_cli *cli, struct tg_cfg *cfg, char *err, size_t errlen)
{
	char msg[512];
	int rc;

	if (cli->config_file) {
		rc = tg_cfg_load_file(cfg, cli->config_file, err, errlen);
		if (rc < 0)
			return rc;
	}
	for (unsigned s = 0; s < cli->n_sets; s++) {
		const char *opt = cli->set_opt[s], *val = cli->set_arg[s], *eq;
		char key[128];

		if (strcmp(opt, "--instance") == 0) {
			snprintf(key, sizeof(key), "general.instance");
		} else if (strcmp(opt, "--log") == 0) {
			snprintf(key, sizeof(key), "general.log");
		} else {
			eq = strchr(val, '=');
			if (!eq || eq == val || (size_t)(eq - val) >= sizeof(key)) {
				tg_errf(err, errlen, "%s '%s': expected KEY=VALUE", opt, val);
				return -EINVAL;
			}
			snprintf(key, sizeof(key), "%.*s", (int)(eq - val), val);
			val = eq + 1;
		}
		rc = tg_cfg_set(cfg, key, val, false, msg, sizeof(msg));
		if (rc < 0) {
			tg_errf(err, errlen, "%s %s: %s", opt, cli->set_arg[s], msg);
			return rc;
		}
	}
	return 0;
}

enum tg_cli_result tg_cli_parse(
	struct tg_cli *cli, struct tg_cfg *cfg, struct tg_general_config *gc, int argc, char **argv)
{
	enum { NONE, SHOW, DOCS, EXAMPLE } dump = NONE;
	char err[512];
	int i;

	cli->rest_argc = 0;
	cli->rest_argv = NULL;
	cli->config_file = NULL;
	cli->n_sets = 0;
	if (tg_cfg_apply_defaults(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: built-in defaults rejected: %s\n", cli->prog, err);
		return TG_CLI_ERROR;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct tg_cli_opt *o;
		bool needs = strcmp(a, "--config") == 0 || strcmp(a, "--set") == 0 ||
			     strcmp(a, "--instance") == 0 || strcmp(a, "--log") == 0;

		if (strcmp(a, "--") == 0 && cli->allow_rest) {
			cli->rest_argc = argc - i - 1;
			cli->rest_argv = argv + i + 1;
			break;
		}
		o = find_opt(cli, a);
		if ((needs || (o && o->has_arg)) && i + 1 >= argc) {
			fprintf(stderr, "%s: %s needs an argument\n", cli->prog, a);
			return TG_CLI_ERROR;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(cli, stdout);
			return TG_CLI_EXIT;
		} else if (strcmp(a, "--version") == 0) {
			printf("%s %s\n", cli->prog, TOLLGATE_VERSION);
			return TG_CLI_EXIT;
		} else if (strcmp(a, "--config") == 0) {
			cli->config_file = argv[++i];
		} else if (needs) {
			if (cli->n_sets == TG_CLI_MAX_SETS) {
				fprintf(stderr, "%s: more than %d overrides\n", cli->prog,
					TG_CLI_MAX_SETS);
				return TG_CLI_ERROR;
			}
			cli->set_opt[cli->n_sets] = a;
			cli->set_arg[cli->n_sets++] = argv[++i];
		} else if (strcmp(a, "--show-config") == 0) {
			dump = SHOW;
		} else if (strcmp(a, "--config-docs") == 0) {
			dump = DOCS;
		} else if (strcmp(a, "--config-example") == 0) {
			dump = EXAMPLE;
		} else if (o) {
			if (o->fn(cli->ctx, o->has_arg ? argv[++i] : NULL, err, sizeof(err)) < 0) {
				fprintf(stderr, "%s: %s: %s\n", cli->prog, a, err);
				return TG_CLI_ERROR;
			}
		} else {
			fprintf(stderr, "%s: unknown option '%s' (try --help)\n", cli->prog, a);
			return TG_CLI_ERROR;
		}
	}
	if (tg_cli_load(cli, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", cli->prog, err);
		return TG_CLI_ERROR;
	}
	switch (dump) {
	case SHOW:
		tg_cfg_show(cfg, stdout);
		return TG_CLI_EXIT;
	case DOCS:
		tg_cfg_write_docs(cfg, stdout);
		return TG_CLI_EXIT;
	case EXAMPLE:
		tg_cfg_write_example(cfg, stdout);
		return TG_CLI_EXIT;
	case NONE:
		break;
	}
	/* validated by the key's validator already */
	tg_log_apply_spec(gc->log);
	return TG_CLI_RUN;
}
