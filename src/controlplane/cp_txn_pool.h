/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libosip2's transactions from a pool of resident blocks. osip_transaction_t is ~15 KB (it
 * embeds DNS SRV records it never uses here) and libosip2 clears all of it on every
 * transaction: freshly mapped pages each time made that clearing fault in four pages per
 * transaction (~7% of the control plane's CPU at 1,500 calls per second). The pool keeps the
 * freed blocks mapped and hands the most recently freed (cache-warm) one out first.
 *
 * It sits behind libosip2's allocator hooks: blocks of exactly the transaction's size come from
 * one reserved region, everything else goes to malloc. Sanitizer builds leave libosip2 on
 * malloc so that use-after-free of a transaction is still caught.
 */
#ifndef TG_CP_TXN_POOL_H
#define TG_CP_TXN_POOL_H

#include <stdbool.h>
#include <stddef.h>

/* Installs the hooks (once per process; later calls do nothing). 0 or -errno; on failure
 * libosip2 stays on malloc, which is correct, only slower. */
int cp_txn_pool_install(void);

/* Installed (not in sanitizer builds) */
bool cp_txn_pool_active(void);
/* Blocks handed out and blocks ever touched (resident), for the status line and tests. */
size_t cp_txn_pool_in_use(void);
size_t cp_txn_pool_resident(void);

#endif
