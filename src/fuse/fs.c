// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The FUSE filesystem of a mapping: its root node is a regular file, the
 * device file, whose reads and writes go to the mapped device. The file
 * behaves like a block device: its size is fixed, and writes past the end
 * fail with ENOSPC.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "udmcrypt.h"
#include "daemon.h"

/* Largest read and write request: 1 MiB, the kernel's default limit of 256 pages. */
#define FS_MAX_IO (1u << 20)
/* The size never changes, so the kernel may cache attributes for a day. */
#define FS_ATTR_TIMEOUT (24.0 * 3600)
/* At most IO_ERROR_BURST I/O errors are logged per IO_ERROR_WINDOW seconds. */
#define IO_ERROR_BURST 10
#define IO_ERROR_WINDOW 60
#define ZERO_CHUNK (64u << 10)

static const char zero_chunk[ZERO_CHUNK];

static struct fs_state *fs_state(void)
{
	return fuse_get_context()->private_data;
}

static bool is_root(const char *path)
{
	/* With nullpath_ok, calls on an open file may pass no path. */
	return !path || strcmp(path, "/") == 0;
}

static time_t monotonic_seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec;
}

static pthread_mutex_t io_error_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned io_errors_logged, io_errors_suppressed;
static time_t io_error_window_start;

static void report_suppressed_locked(void)
{
	if (io_errors_suppressed)
		daemon_log(DAEMON_LOG_WARN, "%u further I/O errors were not logged",
			   io_errors_suppressed);
	io_errors_suppressed = 0;
}

static void log_io_error(const char *op, uint64_t off, uint64_t len, int err)
{
	time_t now = monotonic_seconds();

	pthread_mutex_lock(&io_error_lock);
	if (io_error_window_start == 0 || now - io_error_window_start >= IO_ERROR_WINDOW) {
		report_suppressed_locked();
		io_error_window_start = now;
		io_errors_logged = 0;
	}
	if (io_errors_logged < IO_ERROR_BURST) {
		io_errors_logged++;
		daemon_log(DAEMON_LOG_ERR, "%s of %" PRIu64 " bytes at offset %" PRIu64
			   " failed: %s", op, len, off, strerror(-err));
	} else {
		io_errors_suppressed++;
	}
	pthread_mutex_unlock(&io_error_lock);
}

void fs_report_suppressed_errors(void)
{
	pthread_mutex_lock(&io_error_lock);
	report_suppressed_locked();
	pthread_mutex_unlock(&io_error_lock);
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	conn->max_write = FS_MAX_IO;
	conn->max_read = FS_MAX_IO;
	conn->max_readahead = FS_MAX_IO;
	cfg->entry_timeout = FS_ATTR_TIMEOUT;
	cfg->attr_timeout = FS_ATTR_TIMEOUT;
	cfg->negative_timeout = 0;
	cfg->nullpath_ok = 1;
	/* No direct I/O: reads and writes go through the kernel's page cache. */
	cfg->direct_io = 0;
	return fs_state();
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct fs_state *state = fs_state();

	if (!is_root(path))
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | (state->readonly ? 0400 : 0600);
	st->st_nlink = 1;
	st->st_uid = state->uid;
	st->st_gid = state->gid;
	st->st_size = (off_t)state->size;
	st->st_blksize = state->block_size;
	st->st_blocks = (blkcnt_t)(state->size / 512);
	st->st_atim = st->st_mtim = st->st_ctim = state->start_time;
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct fs_state *state = fs_state();

	if (!is_root(path))
		return -ENOENT;
	if (state->readonly && (fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	__atomic_add_fetch(&state->open_count, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	__atomic_sub_fetch(&fs_state()->open_count, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct fs_state *state = fs_state();
	uint64_t start = (uint64_t)off;
	int ret;

	if (off < 0)
		return -EINVAL;
	if (start >= state->size)
		return 0;
	if (size > state->size - start)
		size = state->size - start;
	ret = udm_device_pread(state->dev, buf, size, start);
	if (ret) {
		log_io_error("read", start, size, ret);
		return ret;
	}
	return (int)size;
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_state *state = fs_state();
	uint64_t start = (uint64_t)off;
	int ret;

	if (state->readonly)
		return -EROFS;
	if (off < 0)
		return -EINVAL;
	/* As on a block device: a write at the end fails, one across it is cut short. */
	if (start >= state->size)
		return size ? -ENOSPC : 0;
	if (size > state->size - start)
		size = state->size - start;
	ret = udm_device_pwrite(state->dev, buf, size, start);
	if (ret) {
		log_io_error("write", start, size, ret);
		return ret;
	}
	return (int)size;
}

static int fs_statfs(const char *path, struct statvfs *st)
{
	struct fs_state *state = fs_state();

	memset(st, 0, sizeof(*st));
	st->f_bsize = state->block_size;
	st->f_frsize = state->block_size;
	st->f_blocks = state->size / state->block_size;
	st->f_files = 1;
	st->f_namemax = 255;
	return 0;
}

/*
 * Called on every close(2). Data written is already in the backing files, so
 * this does not sync them: closing a block device does not flush it either.
 */
static int fs_flush(const char *path, struct fuse_file_info *fi)
{
	return 0;
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	int ret = udm_device_flush(fs_state()->dev);

	if (ret)
		log_io_error("flush", 0, 0, ret);
	return ret;
}

static int write_zeroes(struct fs_state *state, uint64_t off, uint64_t len)
{
	uint64_t chunk;
	int ret;

	while (len > 0) {
		chunk = len < ZERO_CHUNK ? len : ZERO_CHUNK;
		ret = udm_device_pwrite(state->dev, zero_chunk, chunk, off);
		if (ret) {
			log_io_error("write of zeroes", off, chunk, ret);
			return ret;
		}
		off += chunk;
		len -= chunk;
	}
	return 0;
}

/*
 * Supports what the loop driver sends: PUNCH_HOLE|KEEP_SIZE for discards
 * (and for write-zeroes requests that allow unmapping) and ZERO_RANGE for
 * write-zeroes requests. Allocation within the size is a no-op.
 *
 * Without allow_discards PUNCH_HOLE fails with EOPNOTSUPP, so the loop
 * driver stops offering discards and writes real zeroes instead, as for a
 * dm-crypt device without discards.
 * NOTE: with allow_discards a punched range reads back as the decryption of
 * the hole, as on dm-crypt, though fallocate(2) promises zeroes; the loop
 * driver sends write-zeroes requests that allow unmapping the same way.
 */
static int fs_fallocate(const char *path, int mode, off_t off, off_t len,
			struct fuse_file_info *fi)
{
	struct fs_state *state = fs_state();
	uint64_t start = (uint64_t)off, length = (uint64_t)len;
	int ret;

	if (state->readonly)
		return -EROFS;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (start >= state->size || length > state->size - start) {
		if (!(mode & FALLOC_FL_KEEP_SIZE))
			return -EPERM;
		if (start >= state->size)
			return 0;
		length = state->size - start;
	}

	switch (mode) {
	case 0:
	case FALLOC_FL_KEEP_SIZE:
		return 0;
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
		ret = udm_device_discard(state->dev, start, length);
		if (ret && ret != -EOPNOTSUPP)
			log_io_error("discard", start, length, ret);
		return ret;
	case FALLOC_FL_ZERO_RANGE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		return write_zeroes(state, start, length);
	default:
		return -EOPNOTSUPP;
	}
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	return (uint64_t)size == fs_state()->size ? 0 : -EPERM;
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return -EPERM;
}

static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	return -EPERM;
}

/* Accepted and ignored, so that touch(1) works; the times stay fixed. */
static int fs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	return 0;
}

const struct fuse_operations fs_operations = {
	.init = fs_init,
	.getattr = fs_getattr,
	.open = fs_open,
	.release = fs_release,
	.read = fs_read,
	.write = fs_write,
	.statfs = fs_statfs,
	.flush = fs_flush,
	.fsync = fs_fsync,
	.fallocate = fs_fallocate,
	.truncate = fs_truncate,
	.chmod = fs_chmod,
	.chown = fs_chown,
	.utimens = fs_utimens,
};
