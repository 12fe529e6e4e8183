/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's own operator commands, rows of the control socket's table (cp_ctl.h):
 *   show config [KEY|SECTION]  every key, its value (secret ones hidden) and how it changes
 *   set KEY VALUE              a live key, through the same tg_cfg_set() as --set
 *   show stats                 calls, transactions and the event bus (the session layer's
 *                              hook), SIP, the channel, and the dataplane's counters from the
 *                              stats segment
 *   reload                     the config file again: routing swapped in, live keys set,
 *                              boot-only changes reported, calls kept
 * The session layer registers its own rows (calls) next to these.
 */
#ifndef TG_CP_CTL_CMDS_H
#define TG_CP_CTL_CMDS_H

#include "cp_app.h"
#include "cp_ctl.h"

/* Registers the rows on c; their handlers read and change app (which may be a bare struct for
 * --ctl-docs: nothing runs then). cp_ctl_register()'s codes. */
int cp_ctl_cmds_register(struct cp_ctl *c, struct cp_app *app);

#endif
