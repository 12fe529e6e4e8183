/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tgctl's human form of any result, with no code per command: an array of objects is a table
 * (the keys as columns, in the first object's order, later objects' extra keys after them;
 * numbers right-aligned), an object is "key: value" lines with nested objects indented and
 * arrays of objects inside as tables, an array of scalars one per line (inside an object:
 * "a, b"), a scalar plainly, null nothing. Control characters in text are escaped, so a value
 * cannot move the cursor or break a table.
 */
#ifndef TG_TGCTL_RENDER_H
#define TG_TGCTL_RENDER_H

#include <stdio.h>

#include <jansson.h>

void tgctl_render(const json_t *result, FILE *out);

/*
 * One line of an `events` stream, human: an event as "TIME  call ID  KIND  key=value ..." (its
 * other fields in their order; null as "-"), {"dropped": N} as "-- N events lost (...)", and
 * {"end": true, "reason": R} as "-- end of the stream: R".
 */
void tgctl_render_event(const json_t *line, FILE *out);

#endif
