// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS header backup and restore. A backup contains the first header_size()
 * bytes of the device (binary headers, metadata and key slots), like
 * cryptsetup's luksHeaderBackup. Restore writes only a backup that loads as
 * a valid LUKS header and, when the device still has a readable header,
 * belongs to the same volume. It then writes in the order volume_restore.c
 * describes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "restore.h"
#include "secmem.h"
#include "volume_internal.h"

#define COPY_CHUNK (1024 * 1024)

/* Copies len bytes; bytes past the end of a shorter source are written as
 * zeros, as cryptsetup fills a backup of a header file that ends at its
 * last key slot. */
static int copy_range(int from, int to, uint64_t len)
{
	uint8_t *buf = malloc(COPY_CHUNK);
	uint64_t from_size = 0;
	int r = buf ? udm_fd_size(from, &from_size) : -ENOMEM;

	for (uint64_t off = 0; !r && off < len; off += COPY_CHUNK) {
		size_t n = len - off < COPY_CHUNK ? (size_t)(len - off) : COPY_CHUNK;
		size_t have = off >= from_size ? 0 :
			      from_size - off < n ? (size_t)(from_size - off) : n;

		memset(buf + have, 0, n - have);
		r = have ? udm_read_at(from, buf, have, off) : 0;
		if (!r)
			r = udm_write_at(to, buf, n, off);
	}
	if (!r && fsync(to))
		r = -errno;
	/* Key slots are encrypted, but wipe the copy anyway. */
	if (buf)
		udm_wipe(buf, COPY_CHUNK);
	free(buf);
	return r;
}

int udm_luks_header_backup(const char *header_path, const char *backup_path,
			   struct udm_error *err)
{
	struct udm_volume *vol = NULL;
	int fd = -1, r;

	r = udm_luks_load(&vol, header_path, UDM_VOLUME_ANY, false, err);
	if (r)
		return r;
	fd = open(backup_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		udm_error_set(err, "cannot create header backup file %s: %s", backup_path,
			      strerror(errno));
		goto out;
	}
	r = copy_range(vol->fd, fd, vol->ops->header_size(vol));
	if (r) {
		udm_error_set(err, "cannot write header backup %s: %s", backup_path, strerror(-r));
		unlink(backup_path);
	}
out:
	if (fd >= 0)
		close(fd);
	udm_volume_free(vol);
	return r;
}

int udm_luks_header_restore(const char *header_path, const char *backup_path,
			    struct udm_error *err)
{
	struct udm_volume *backup = NULL, *current = NULL;
	struct udm_error ignored;
	uint64_t backup_bytes, device_bytes, header_bytes;
	int fd = -1, r;

	/* The loader's message explains why a file is not a valid header. */
	r = udm_luks_load(&backup, backup_path, UDM_VOLUME_ANY, false, err);
	if (r)
		return r;
	header_bytes = backup->ops->header_size(backup);
	r = udm_fd_size(backup->fd, &backup_bytes);
	if (!r && backup_bytes < header_bytes)
		r = udm_error_set(err, "header backup %s has %llu bytes, its header needs %llu",
				  backup_path, (unsigned long long)backup_bytes,
				  (unsigned long long)header_bytes);
	if (r)
		goto out;

	fd = open(header_path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || udm_fd_size(fd, &device_bytes)) {
		r = udm_error_set(err, "cannot open %s: %s", header_path, strerror(errno));
		goto out;
	}
	if (device_bytes < header_bytes) {
		r = udm_error_set(err, "device %s is smaller than the header in %s", header_path,
				  backup_path);
		goto out;
	}
	/* A readable header must be the same volume; a damaged one is what
	 * restore is for. */
	if (!udm_luks_load(&current, header_path, UDM_VOLUME_ANY, true, &ignored)) {
		if (current->ops != backup->ops || strcmp(current->uuid, backup->uuid) ||
		    current->ops->header_size(current) != header_bytes)
			r = udm_error_set(err, "header backup %s (%s, UUID %s) does not belong to "
					  "the volume on %s (%s, UUID %s)", backup_path,
					  backup->ops->name, backup->uuid, header_path,
					  current->ops->name, current->uuid);
		else
			r = udm_restore_ordered(current, backup, header_bytes, err);
		goto out;
	}
	/* No passphrase opens a damaged header, so the order of the writes
	 * cannot lose one. */
	r = copy_range(backup->fd, fd, header_bytes);
	if (r)
		udm_error_set(err, "cannot write the header to %s: %s", header_path, strerror(-r));
out:
	if (fd >= 0)
		close(fd);
	udm_volume_free(current);
	udm_volume_free(backup);
	return r;
}
