/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The call commands of the control socket (tgctl): `show calls`, `show call ID` (both legs, the
 * state, each stream's endpoints with their live statistics from the dataplane) and
 * `call hangup ID`. Rows of the control socket's table (cp_ctl.h), answered from the
 * coordinator's call views (b2b_call.h).
 */
#ifndef TG_B2B_CTL_H
#define TG_B2B_CTL_H

#include "b2b_call.h"
#include "cp_ctl.h"
#include "cp_dp.h"

struct b2b_ctl;

/* Registers the rows on ctl. Free it after ctl (the rows point into it). NULL with errno. */
struct b2b_ctl *b2b_ctl_new(struct cp_ctl *ctl, struct b2b *b, struct cp_dp *dp);
void b2b_ctl_free(struct b2b_ctl *bc);

#endif
