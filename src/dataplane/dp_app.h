/* SPDX-License-Identifier: BSD-3-Clause */
/* Dataplane process bring-up and teardown. */
#ifndef TG_DP_APP_H
#define TG_DP_APP_H

#include "dp.h"

/* app->cfg and app->instance set; starts everything and launches the workers. 0 or -errno. */
int dp_app_start(struct dp_app *app, const char *prog, int eal_argc, char **eal_argv);
/* Stops the workers, removes the channel and stats segment, releases the EAL. Idempotent. */
void dp_app_stop(struct dp_app *app);

#endif
