/* SPDX-License-Identifier: BSD-3-Clause */
/* The stats segment seen from the control plane. */
#include "cp_dpstats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tg_shm.h"
#include "tg_stats.h"

#define DROP_PREFIX "drop_"

struct cp_dpstats {
	char instance[32];
	struct tg_stats_seg *seg;
	char err[160];
};

struct cp_dpstats *cp_dpstats_new(const char *instance)
{
	struct cp_dpstats *s = calloc(1, sizeof(*s));

	if (s)
		snprintf(s->instance, sizeof(s->instance), "%s", instance);
	return s;
}

void cp_dpstats_free(struct cp_dpstats *s)
{
	if (!s)
		return;
	tg_stats_close(s->seg);
	free(s);
}

static int ensure_open(struct cp_dpstats *s)
{
	if (s->seg && tg_stats_stale(s->seg)) {
		tg_stats_close(s->seg);
		s->seg = NULL;
	}
	if (!s->seg)
		return tg_stats_open(s->instance, &s->seg, s->err, sizeof(s->err));
	return 0;
}

static int sum(struct cp_dpstats *s, enum tg_stats_kind k, const char *counter, uint64_t *out)
{
	int rc = ensure_open(s), c;

	if (rc < 0)
		return rc;
	c = tg_stats_find(s->seg, k, counter);
	if (c < 0)
		return c;
	return tg_stats_sum(s->seg, k, (unsigned)c, out);
}

int cp_dpstats_lcore_sum(struct cp_dpstats *s, const char *counter, uint64_t *out)
{
	return sum(s, TG_STATS_LCORE, counter, out);
}

int cp_dpstats_port_sum(struct cp_dpstats *s, const char *counter, uint64_t *out)
{
	return sum(s, TG_STATS_PORT, counter, out);
}

int cp_dpstats_dump(struct cp_dpstats *s, FILE *out, FILE *err)
{
	static const char *const kind_names[TG_STATS__KINDS] = {"lcore", "port"};
	int rc = ensure_open(s);

	if (rc < 0) {
		fprintf(err, "no dataplane stats for instance '%s': %s\n", s->instance, s->err);
		return rc;
	}
	for (int k = 0; k < TG_STATS__KINDS; k++) {
		unsigned nb = tg_stats_n_blocks(s->seg, k), nc = tg_stats_n_counters(s->seg, k);

		for (unsigned b = 0; b < nb; b++) {
			struct tg_stats_snapshot snap;

			/* a writer preempted inside its update (two workers sharing a core) holds
			 * the block for a scheduler tick or more: this is the command line, not
			 * the loop, so wait for it (1 ms steps, up to a second) */
			rc = tg_stats_read(s->seg, k, b, &snap);
			for (int i = 0; rc == -EAGAIN && i < 1000; i++) {
				nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
				rc = tg_stats_read(s->seg, k, b, &snap);
			}
			if (rc < 0) {
				fprintf(err, "%s block %u stayed busy\n", kind_names[k], b);
				return rc;
			}
			fprintf(out, "[%s]\n", snap.label);
			for (unsigned c = 0; c < nc; c++)
				fprintf(out, "  %-24s %20" PRIu64 "\n",
					tg_stats_counter_name(s->seg, k, c), snap.v[c]);
		}
	}
	return 0;
}

/* One block's counters into o; the lcores' drop_* ones summed into its "drops" and the
 * appliance's drops[reason]. */
static void block_json(const struct tg_stats_seg *seg, enum tg_stats_kind k,
	const struct tg_stats_snapshot *snap, json_t *o, json_t *drops)
{
	unsigned nc = tg_stats_n_counters(seg, k);
	uint64_t sum = 0;

	for (unsigned c = 0; c < nc; c++) {
		const char *name = tg_stats_counter_name(seg, k, c);
		const char *reason = strncmp(name, DROP_PREFIX, sizeof(DROP_PREFIX) - 1) == 0
					     ? name + sizeof(DROP_PREFIX) - 1
					     : NULL;
		json_t *total;

		if (!reason) {
			json_object_set_new(o, name, json_integer((json_int_t)snap->v[c]));
			continue;
		}
		sum += snap->v[c];
		total = json_object_get(drops, reason);
		if (total)
			json_integer_set(total, json_integer_value(total) + (json_int_t)snap->v[c]);
		else
			json_object_set_new(drops, reason, json_integer((json_int_t)snap->v[c]));
	}
	if (k == TG_STATS_LCORE)
		json_object_set_new(o, "drops", json_integer((json_int_t)sum));
}

json_t *cp_dpstats_json(struct cp_dpstats *s, char *err, size_t errlen)
{
	static const char *const kind_names[TG_STATS__KINDS] = {"lcores", "ports"};
	json_t *out, *drops;
	int rc = ensure_open(s);

	if (rc < 0) {
		tg_errf(err, errlen, "no dataplane stats for instance '%s': %s", s->instance,
			s->err);
		return NULL;
	}
	out = json_object();
	drops = json_object();
	if (!out || !drops)
		goto nomem;
	for (int k = 0; k < TG_STATS__KINDS; k++) {
		unsigned nb = tg_stats_n_blocks(s->seg, k);
		json_t *blocks = json_array();

		if (!blocks || json_object_set_new(out, kind_names[k], blocks) < 0)
			goto nomem;
		for (unsigned b = 0; b < nb; b++) {
			struct tg_stats_snapshot snap;
			json_t *o = json_object();

			if (!o || json_array_append_new(blocks, o) < 0)
				goto nomem;
			rc = tg_stats_read(s->seg, k, b, &snap);
			snap.label[sizeof(snap.label) - 1] = '\0';
			json_object_set_new(o, k == TG_STATS_LCORE ? "lcore" : "port",
				json_string(rc == 0 ? snap.label : "?"));
			if (rc < 0)
				json_object_set_new(o, "busy", json_true());
			else
				block_json(s->seg, k, &snap, o, drops);
		}
	}
	json_object_set_new(out, "drops", drops);
	return out;
nomem:
	json_decref(out);
	json_decref(drops);
	tg_errf(err, errlen, "out of memory");
	return NULL;
}
