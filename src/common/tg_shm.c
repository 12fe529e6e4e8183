/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared-memory objects for the channel and the stats segment. */
#include "tg_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* where glibc's shm_open puts its objects; stat(2) on it tells whether a name was replaced */
#define SHM_DIR "/dev/shm"

void tg_errf(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

bool tg_instance_name_ok(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    c == '_' || c == '-'))
			return false;
	}
	return n > 0 && n < TG_INSTANCE_MAX;
}

int tg_shm_name(const char *instance, const char *what, char *buf, size_t len)
{
	if (!tg_instance_name_ok(instance))
		return -EINVAL;
	if ((size_t)snprintf(buf, len, "/tollgate.%s.%s", instance, what) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int shm_fill_identity(struct tg_shm *m)
{
	struct stat st;

	if (fstat(m->fd, &st) < 0)
		return -errno;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	return 0;
}

int tg_shm_create(struct tg_shm *m, const char *name, size_t size)
{
	int rc;

	memset(m, 0, sizeof(*m));
	if (strlen(name) >= sizeof(m->name))
		return -ENAMETOOLONG;
	/* A stale object from a crashed owner is replaced; readers of it keep their mapping. */
	shm_unlink(name);
	m->fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, (off_t)size) < 0 || (rc = shm_fill_identity(m)) < 0) {
		rc = -errno;
		goto fail;
	}
	m->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (m->base == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	m->size = size;
	m->owner = true;
	strcpy(m->name, name);
	return 0;
fail:
	close(m->fd);
	shm_unlink(name);
	m->fd = -1;
	return rc;
}

int tg_shm_open(struct tg_shm *m, const char *name, bool writable, char *err, size_t errlen)
{
	struct stat st;
	int rc;

	memset(m, 0, sizeof(*m));
	if (strlen(name) >= sizeof(m->name)) {
		tg_errf(err, errlen, "shared-memory name %s is too long", name);
		return -ENAMETOOLONG;
	}
	m->fd = shm_open(name, writable ? O_RDWR : O_RDONLY, 0);
	if (m->fd < 0) {
		rc = -errno;
		tg_errf(err, errlen, "cannot open %s: %s", name, strerror(-rc));
		return rc;
	}
	if (fstat(m->fd, &st) < 0) {
		rc = -errno;
		tg_errf(err, errlen, "fstat %s: %s", name, strerror(-rc));
		goto fail;
	}
	if (st.st_size == 0) {
		/* being created right now: the owner has not sized it yet */
		tg_errf(err, errlen, "%s is empty (its owner is still creating it)", name);
		rc = -EAGAIN;
		goto fail;
	}
	m->base = mmap(NULL, (size_t)st.st_size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		MAP_SHARED, m->fd, 0);
	if (m->base == MAP_FAILED) {
		rc = -errno;
		tg_errf(err, errlen, "mmap %s: %s", name, strerror(-rc));
		goto fail;
	}
	m->size = (size_t)st.st_size;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	strcpy(m->name, name);
	return 0;
fail:
	close(m->fd);
	m->fd = -1;
	return rc;
}

void tg_shm_close(struct tg_shm *m)
{
	if (!m->base)
		return;
	/* only unlink our own object, never a successor made under the same name */
	if (m->owner && !tg_shm_replaced(m))
		shm_unlink(m->name);
	munmap(m->base, m->size);
	close(m->fd);
	m->base = NULL;
	m->fd = -1;
}

bool tg_shm_replaced(const struct tg_shm *m)
{
	char path[sizeof(SHM_DIR) + TG_SHM_NAME_MAX];
	struct stat st;

	snprintf(path, sizeof(path), SHM_DIR "%s", m->name);
	if (stat(path, &st) < 0)
		return true;
	return st.st_ino != m->ino || st.st_dev != m->dev;
}
