/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading the dataplane's stats segment from the control plane or a tool: opened lazily,
 * re-opened when the dataplane restarts, summed over lcores by counter name.
 */
#ifndef TG_CP_DPSTATS_H
#define TG_CP_DPSTATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

struct cp_dpstats;

struct cp_dpstats *cp_dpstats_new(const char *instance);
void cp_dpstats_free(struct cp_dpstats *s);
/* Sum over every lcore of the named counter. 0, or -ENOENT (no segment / no such counter). */
int cp_dpstats_lcore_sum(struct cp_dpstats *s, const char *counter, uint64_t *out);
int cp_dpstats_port_sum(struct cp_dpstats *s, const char *counter, uint64_t *out);
/* Every block and counter as a table. 0, or -errno with the reason printed to err. */
int cp_dpstats_dump(struct cp_dpstats *s, FILE *out, FILE *err);
/*
 * The segment for `show stats`, without waiting (it runs on the loop): {"lcores": [...],
 * "ports": [...], "drops": {...}}, one object per block with its label and counters by name.
 * The drop_* counters of an lcore are summed into its "drops" and, per reason, into the
 * top-level "drops". A block its writer kept busy through every retry says "busy": true. NULL
 * with the reason in err when there is no segment (no dataplane) or no memory.
 */
json_t *cp_dpstats_json(struct cp_dpstats *s, char *err, size_t errlen);

#endif
