/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * POSIX shared-memory objects named after the instance ("/tollgate.<instance>.<what>"): creation
 * by their one owner, mapping by others, and noticing that the owner replaced the object (a
 * restarted dataplane makes a new one under the same name).
 */
#ifndef TG_SHM_H
#define TG_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TG_INSTANCE_MAX 32
#define TG_SHM_NAME_MAX (TG_INSTANCE_MAX + 24)

struct tg_shm {
	void *base;
	size_t size;
	int fd;
	bool owner;
	dev_t dev;
	ino_t ino;
	char name[TG_SHM_NAME_MAX];
};

/* An instance name is [A-Za-z0-9_-]{1,31}: it ends up in file names. */
bool tg_instance_name_ok(const char *instance);
int tg_shm_name(const char *instance, const char *what, char *buf, size_t len);

/* Owner: replaces any stale object of that name; the memory starts zeroed. 0 or -errno. */
int tg_shm_create(struct tg_shm *m, const char *name, size_t size);
/* Others: maps the whole object. 0 or -errno, with a one-line reason in err. */
int tg_shm_open(struct tg_shm *m, const char *name, bool writable, char *err, size_t errlen);
/* Unmaps; the owner also unlinks the name if it still refers to this object. */
void tg_shm_close(struct tg_shm *m);
/* True when the name no longer refers to the mapped object. One stat(2). */
bool tg_shm_replaced(const struct tg_shm *m);

/* snprintf into an optional error buffer */
void tg_errf(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
