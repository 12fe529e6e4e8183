/* SPDX-License-Identifier: BSD-3-Clause */
/* The logging facade: level specs all-or-nothing, names, and whole lines with call context. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tg_log.h"

static void test_spec_all_or_nothing(void **state)
{
	assert_int_equal(tg_log_apply_spec("info"), 0);
	assert_int_equal(tg_log_levels[TG_LOG_CHAN], TG_LOG_INFO);
	assert_int_equal(tg_log_apply_spec("warn,chan=debug,sip=err"), 0);
	assert_int_equal(tg_log_levels[TG_LOG_CHAN], TG_LOG_DEBUG);
	assert_int_equal(tg_log_levels[TG_LOG_SIP], TG_LOG_ERR);
	assert_int_equal(tg_log_levels[TG_LOG_CP], TG_LOG_WARN);
	/* one bad part: nothing applied */
	assert_int_equal(tg_log_apply_spec("debug,nosuch=info"), -EINVAL);
	assert_int_equal(tg_log_levels[TG_LOG_CP], TG_LOG_WARN);
	assert_int_equal(tg_log_apply_spec("chan=loud"), -EINVAL);
	assert_int_equal(tg_log_apply_spec(""), 0);
	char big[400];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(tg_log_apply_spec(big), -EINVAL);
	assert_int_equal(tg_log_set_level("all", "notice"), 0);
	assert_int_equal(tg_log_levels[TG_LOG_SIP], TG_LOG_NOTICE);
	assert_int_equal(tg_log_set_level("dp", "nonsense"), -EINVAL);
	assert_string_equal(tg_log_subsys_name(TG_LOG_B2B), "b2b");
	assert_string_equal(tg_log_level_name(TG_LOG_WARN), "warn");
}

static void test_line_format(void **state)
{
	int fds[2], saved = dup(STDERR_FILENO);
	char buf[4096] = "";
	char longmsg[3000];
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	tg_log_set_ident("tg-test");
	tg_log_set_level("all", "info");
	TG_LOG(SIP, DEBUG, "not shown %d", 1);
	TG_LOG_CALL(B2B, INFO, "abc@host", "b", "leg answered %d", 200);
	TG_LOG_CALL(SIP, INFO, "evil\n2026 fake line\x1b[2J", "a", "from %s", "x\ry");
	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	TG_LOG(CP, WARN, "%s", longmsg);
	dup2(saved, STDERR_FILENO);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_true(n > 0);
	assert_null(strstr(buf, "not shown"));
	assert_non_null(strstr(buf, "tg-test["));
	assert_non_null(strstr(buf, "info b2b: [abc@host/b] leg answered 200\n"));
	/* hostile values cannot forge a line or an escape sequence */
	assert_non_null(strstr(buf, "[evil?2026 fake line?[2J/a] from x?y\n"));
	/* an over-long message is cut but still one line ending in a newline */
	char *second = strchr(strchr(buf, '\n') + 1, '\n') + 1;
	char *end = strchr(second, '\n');
	assert_non_null(end);
	assert_true(end - second < 1024);
	assert_int_equal(end[1], '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_all_or_nothing),
		cmocka_unit_test(test_line_format),
	};

	return cmocka_run_group_tests_name("tg_log", tests, NULL, NULL);
}
