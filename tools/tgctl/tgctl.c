/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tgctl: the operator's command line for a running tollgate-cp. One command per run, over the
 * control socket: the words go as a request, the answer is printed (tgctl_render.h, or JSON);
 * `events` prints a stream's lines as they come (tgctl_events.h).
 * Exit status: 0 done, 1 refused by the control plane, 2 a bad command line, 3 no answer.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tgctl_args.h"
#include "tgctl_client.h"
#include "tgctl_events.h"
#include "tgctl_render.h"

enum {
	EXIT_REFUSED = TGCTL_EXIT_REFUSED,
	EXIT_USAGE = TGCTL_EXIT_USAGE,
	EXIT_NO_ANSWER = TGCTL_EXIT_NO_ANSWER
};

int main(int argc, char **argv)
{
	struct tgctl_args a;
	json_t *answer;
	char err[512], *line;
	int rc;

	if (tgctl_args_parse(argc, argv, &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "tgctl: %s (try: tgctl --help)\n", err);
		return EXIT_USAGE;
	}
	if (a.help) {
		tgctl_usage(stdout);
		return 0;
	}
	if (tgctl_request(a.words, a.n_words, &line, err, sizeof(err)) < 0) {
		fprintf(stderr, "tgctl: %s\n", err);
		return EXIT_USAGE;
	}
	if (a.events) {
		/* a stream: its lines as they come */
		rc = tgctl_events(&a, line, stdout, stderr);
		free(line);
		return rc;
	}
	rc = tgctl_call(a.socket, line, a.timeout_ms, &answer, err, sizeof(err));
	free(line);
	if (rc < 0) {
		fprintf(stderr, "tgctl: %s\n", err);
		return EXIT_NO_ANSWER;
	}
	if (json_is_true(json_object_get(answer, "ok"))) {
		const json_t *result = json_object_get(answer, "result");

		if (a.json) {
			json_dumpf(result, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
			fputc('\n', stdout);
		} else {
			tgctl_render(result, stdout);
		}
		rc = 0;
	} else {
		if (a.json) {
			json_object_del(answer, "ok");
			json_dumpf(answer, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
		}
		fprintf(stderr, "tgctl: %s\n", json_string_value(json_object_get(answer, "error")));
		rc = EXIT_REFUSED;
	}
	json_decref(answer);
	return rc;
}
