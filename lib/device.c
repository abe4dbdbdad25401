// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * I/O on a mapped device. Byte ranges are split over the targets. Crypt
 * targets convert whole sectors in large batches, and read, modify and write
 * back partial sectors under a lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "device_internal.h"
#include "io.h"
#include "log.h"
#include "secmem.h"

/* Largest batch encrypted in one bounce buffer on writes. */
#define WRITE_BATCH (1024 * 1024)

int udm_device_open(struct udm_device **devp, const char *table, unsigned flags,
		    struct udm_error *err)
{
	return udm_device_open_with(devp, table, flags, NULL, 0, err);
}

int udm_device_open_with(struct udm_device **devp, const char *table, unsigned flags,
			 const struct udm_blockdev *blockdevs, unsigned n_blockdevs,
			 struct udm_error *err)
{
	struct udm_device *dev = calloc(1, sizeof(*dev));
	int r;

	if (!dev)
		return -ENOMEM;
	for (int i = 0; i < DEVICE_LOCK_STRIPES; i++)
		pthread_mutex_init(&dev->stripes[i], NULL);
	dev->readonly = flags & UDM_OPEN_READONLY;
	dev->blockdevs = blockdevs;
	dev->n_blockdevs = n_blockdevs;
	err->msg[0] = '\0';

	r = udm_table_parse(dev, table, err);
	dev->blockdevs = NULL;
	dev->n_blockdevs = 0;
	if (r) {
		if (!err->msg[0])
			snprintf(err->msg, sizeof(err->msg), "cannot set up the table: %s",
				 strerror(-r));
		udm_device_close(dev);
		return r;
	}
	*devp = dev;
	return 0;
}

void udm_device_close(struct udm_device *dev)
{
	if (!dev)
		return;
	udm_table_free(dev);
	for (int i = 0; i < DEVICE_LOCK_STRIPES; i++)
		pthread_mutex_destroy(&dev->stripes[i]);
	free(dev);
}

uint64_t udm_device_size(const struct udm_device *dev)
{
	return dev->size;
}

unsigned udm_device_block_size(const struct udm_device *dev)
{
	return dev->block_size;
}

bool udm_device_readonly(const struct udm_device *dev)
{
	return dev->readonly;
}

/* Reads or writes the backing device of a target at a byte offset. */
static int backing_read(const struct target *t, void *buf, size_t len, uint64_t off)
{
	if (t->blockdev)
		return t->blockdev->ops->pread(t->blockdev->ctx, buf, len, off);
	return udm_read_at(t->fd, buf, len, off);
}

static int backing_write(const struct target *t, const void *buf, size_t len, uint64_t off)
{
	if (t->blockdev)
		return t->blockdev->ops->pwrite(t->blockdev->ctx, buf, len, off);
	return udm_write_at(t->fd, buf, len, off);
}

static pthread_mutex_t *stripe_of(struct udm_device *dev, const struct target *t, uint64_t byte)
{
	uint64_t sector = t->start + byte / 512;

	return &dev->stripes[(sector / (dev->block_size / 512)) % DEVICE_LOCK_STRIPES];
}

/* Reads, decrypts, patches and (for writes) re-encrypts and writes one
 * sector of a crypt target; pos is the byte offset in the target. */
static int crypt_partial(struct udm_device *dev, struct target *t, uint64_t pos, uint8_t *buf,
			 size_t len, bool write)
{
	unsigned ss = udm_crypt_sector_size(t->crypt);
	uint64_t sector_pos = pos - pos % ss;
	uint64_t disk = t->offset * 512 + sector_pos;
	pthread_mutex_t *lock = stripe_of(dev, t, sector_pos);
	uint8_t sector[4096];
	int r;

	pthread_mutex_lock(lock);
	r = backing_read(t, sector, ss, disk);
	if (!r)
		r = udm_crypt_convert(t->crypt, sector_pos / 512, sector, ss, false);
	if (r)
		goto out;
	if (!write) {
		memcpy(buf, sector + pos % ss, len);
		goto out;
	}
	memcpy(sector + pos % ss, buf, len);
	r = udm_crypt_convert(t->crypt, sector_pos / 512, sector, ss, true);
	if (!r)
		r = backing_write(t, sector, ss, disk);
out:
	pthread_mutex_unlock(lock);
	udm_wipe(sector, sizeof(sector));
	return r;
}

static int crypt_read(struct udm_device *dev, struct target *t, uint8_t *buf, size_t len,
		      uint64_t pos)
{
	unsigned ss = udm_crypt_sector_size(t->crypt);
	int r = 0;

	while (len && !r) {
		size_t chunk;

		if (pos % ss || len < ss) {
			chunk = ss - pos % ss < len ? ss - pos % ss : len;
			r = crypt_partial(dev, t, pos, buf, chunk, false);
		} else {
			/* Decrypt in the caller's buffer: no copy. */
			chunk = len - len % ss;
			r = backing_read(t, buf, chunk, t->offset * 512 + pos);
			if (!r)
				r = udm_crypt_convert(t->crypt, pos / 512, buf, chunk, false);
		}
		buf += chunk;
		pos += chunk;
		len -= chunk;
	}
	return r;
}

static int crypt_write(struct udm_device *dev, struct target *t, const uint8_t *buf,
		       size_t len, uint64_t pos)
{
	unsigned ss = udm_crypt_sector_size(t->crypt);
	uint8_t *bounce = NULL;
	int r = 0;

	while (len && !r) {
		size_t chunk;

		if (pos % ss || len < ss) {
			chunk = ss - pos % ss < len ? ss - pos % ss : len;
			r = crypt_partial(dev, t, pos, (uint8_t *)buf, chunk, true);
		} else {
			chunk = len - len % ss;
			if (chunk > WRITE_BATCH)
				chunk = WRITE_BATCH;
			if (!bounce)
				bounce = malloc(chunk);
			if (!bounce)
				return -ENOMEM;
			/* The ciphertext goes to its own buffer, because the
			 * caller's plaintext must stay untouched. */
			r = udm_crypt_convert_to(t->crypt, pos / 512, buf, bounce, chunk, true);
			if (!r)
				r = backing_write(t, bounce, chunk, t->offset * 512 + pos);
		}
		buf += chunk;
		pos += chunk;
		len -= chunk;
	}
	free(bounce);
	return r;
}

static int target_io(struct udm_device *dev, struct target *t, uint8_t *buf, size_t len,
		     uint64_t pos, bool write)
{
	switch (t->type) {
	case TARGET_ZERO:
		if (!write)
			memset(buf, 0, len);
		return 0;
	case TARGET_ERROR:
		return -EIO;
	case TARGET_LINEAR:
		return write ? backing_write(t, buf, len, t->offset * 512 + pos)
			     : backing_read(t, buf, len, t->offset * 512 + pos);
	case TARGET_CRYPT:
		return write ? crypt_write(dev, t, buf, len, pos) : crypt_read(dev, t, buf, len, pos);
	}
	return -EIO;
}

static int device_io(struct udm_device *dev, uint8_t *buf, size_t len, uint64_t off, bool write)
{
	if (write && dev->readonly)
		return -EROFS;
	if (off > dev->size || len > dev->size - off)
		return -EINVAL;

	for (unsigned i = 0; i < dev->n_targets && len; i++) {
		struct target *t = &dev->targets[i];
		uint64_t t_begin = t->start * 512, t_end = t_begin + t->length * 512;
		size_t chunk;
		int r;

		if (off >= t_end)
			continue;
		chunk = t_end - off < len ? (size_t)(t_end - off) : len;
		r = target_io(dev, t, buf, chunk, off - t_begin, write);
		if (r) {
			log_debug("%s of %zu bytes at %" PRIu64 " failed: %s",
				  write ? "write" : "read", chunk, off, strerror(-r));
			return r;
		}
		buf += chunk;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

int udm_device_pread(struct udm_device *dev, void *buf, size_t len, uint64_t off)
{
	return device_io(dev, buf, len, off, false);
}

int udm_device_pwrite(struct udm_device *dev, const void *buf, size_t len, uint64_t off)
{
	return device_io(dev, (uint8_t *)buf, len, off, true);
}

int udm_device_flush(struct udm_device *dev)
{
	int r = 0;

	for (unsigned i = 0; i < dev->n_targets; i++) {
		const struct target *t = &dev->targets[i];
		int ret = 0;

		if (t->blockdev)
			ret = t->blockdev->ops->flush(t->blockdev->ctx);
		else if (t->fd >= 0 && fsync(t->fd))
			ret = -errno;
		if (ret && !r)
			r = ret;
	}
	return r;
}

static int discard_backing(const struct target *t, uint64_t pos, uint64_t len)
{
	uint64_t range[2] = { t->offset * 512 + pos, len };

	if (t->blockdev)
		return t->blockdev->ops->discard ?
		       t->blockdev->ops->discard(t->blockdev->ctx, range[0], len) : 0;
	if (t->dev_is_block)
		return ioctl(t->fd, BLKDISCARD, range) ? -errno : 0;
	if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)range[0],
		      (off_t)len))
		return errno == EOPNOTSUPP ? 0 : -errno;
	return 0;
}

bool udm_device_supports_discard(const struct udm_device *dev)
{
	for (unsigned i = 0; i < dev->n_targets; i++)
		if (dev->targets[i].crypt && !udm_crypt_allow_discards(dev->targets[i].crypt))
			return false;
	return true;
}

int udm_device_discard(struct udm_device *dev, uint64_t off, uint64_t len)
{
	if (!udm_device_supports_discard(dev))
		return -EOPNOTSUPP;
	if (dev->readonly)
		return -EROFS;
	if (off > dev->size || len > dev->size - off)
		return -EINVAL;

	for (unsigned i = 0; i < dev->n_targets; i++) {
		struct target *t = &dev->targets[i];
		uint64_t t_begin = t->start * 512, t_end = t_begin + t->length * 512;
		uint64_t begin = off > t_begin ? off : t_begin;
		uint64_t end = off + len < t_end ? off + len : t_end;
		unsigned ss = t->crypt ? udm_crypt_sector_size(t->crypt) : 512;
		int r;

		if (begin >= end || (t->fd < 0 && !t->blockdev))
			continue;
		/* Only whole sectors: a partial one still contains other data. */
		begin = (begin - t_begin + ss - 1) / ss * ss;
		end = (end - t_begin) / ss * ss;
		if (begin >= end)
			continue;
		r = discard_backing(t, begin, end - begin);
		if (r)
			return r;
	}
	return 0;
}
