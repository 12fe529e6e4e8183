/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared command line as a reload sees it: what tg_cli_parse() keeps (the file and the
 * overrides in order) and tg_cli_load() applying them again to a detached copy of the registry,
 * so a changed file shows through while the command line's overrides still win; a bad override
 * named in the message; general.log applied at once by a running set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg_cli.h"
#include "tg_log.h"

static char path[128];

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_reload_path(void **state)
{
	struct tg_general_config gc;
	struct tg_cfg *cfg = tg_cfg_new(), *again;
	struct tg_cli cli = {.prog = "t", .summary = "test"};
	char *argv[] = {
		"t", "--config", path, "--set", "general.log=debug", "--instance", "i9", NULL};
	char buf[128], err[256];
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(path, sizeof(path), "%s/tg_cli_test.XXXXXX", tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file("[general]\ninstance = file\nlog = warn\n");
	assert_non_null(cfg);
	assert_int_equal(tg_general_config_register(cfg, &gc), 0);
	assert_int_equal(tg_cli_parse(&cli, cfg, &gc, 7, argv), TG_CLI_RUN);
	assert_string_equal(gc.instance, "i9");
	assert_string_equal(gc.log, "debug");
	assert_string_equal(cli.config_file, path);
	assert_int_equal(cli.n_sets, 2);
	assert_string_equal(cli.set_opt[1], "--instance");

	/* the file changes: its new value shows, the overrides still win */
	write_file("[general]\ninstance = file\nlog = info,sip=debug\n");
	again = tg_cfg_detached(cfg);
	assert_non_null(again);
	assert_int_equal(tg_cli_load(&cli, again, err, sizeof(err)), 0);
	assert_int_equal(tg_cfg_get(again, "general.instance", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "i9");
	assert_int_equal(tg_cfg_get(again, "general.log", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "debug");
	tg_cfg_free(again);

	cli.n_sets = 0;
	again = tg_cfg_detached(cfg);
	assert_int_equal(tg_cli_load(&cli, again, err, sizeof(err)), 0);
	assert_int_equal(tg_cfg_get(again, "general.log", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "info,sip=debug");
	tg_cfg_free(again);

	/* a file that no longer loads, and a bad override, say so */
	write_file("[general]\nlog = loud\n");
	again = tg_cfg_detached(cfg);
	assert_int_equal(tg_cli_load(&cli, again, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: [general] log = 'loud'"));
	cli.config_file = NULL;
	cli.set_opt[0] = "--set";
	cli.set_arg[0] = "general.log";
	cli.n_sets = 1;
	assert_int_equal(tg_cli_load(&cli, again, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--set 'general.log': expected KEY=VALUE");
	tg_cfg_free(again);

	/* general.log takes effect on a running set */
	assert_int_equal(tg_cfg_set(cfg, "general.log", "err,cp=debug", true, err, sizeof(err)), 0);
	assert_true(tg_log_enabled(CP, TG_LOG_DEBUG));
	assert_false(tg_log_enabled(SIP, TG_LOG_WARN));
	tg_log_apply_spec("info");
	tg_cfg_free(cfg);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
