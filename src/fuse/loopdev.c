// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Loop devices over the device file, set up with the ioctls of
 * linux/loop.h as losetup(8) does: LOOP_CTL_GET_FREE, then LOOP_CONFIGURE
 * (Linux 5.8 and later) or LOOP_SET_FD, LOOP_SET_STATUS64 and
 * LOOP_SET_BLOCK_SIZE. Backing files are found in
 * /sys/block/loopN/loop/backing_file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "frontend.h"

/* Another process can take the device LOOP_CTL_GET_FREE returned. */
#define ATTACH_ATTEMPTS 8

static void loop_info_init(struct loop_info64 *info, const char *path, bool readonly)
{
	memset(info, 0, sizeof(*info));
	/* lo_file_name is informational and may be truncated. */
	snprintf((char *)info->lo_file_name, sizeof(info->lo_file_name), "%s", path);
	if (readonly)
		info->lo_flags = LO_FLAGS_READ_ONLY;
}

/* The steps LOOP_CONFIGURE does in one call, for kernels before 5.8. */
static int loop_configure_legacy(int loop_fd, int file_fd, const struct loop_info64 *info,
				 unsigned block_size, const char **failed_step)
{
	struct loop_info64 status = *info;
	int ret = 0;

	/* The read-only flag follows the open mode of file_fd here. */
	status.lo_flags = 0;
	if (ioctl(loop_fd, LOOP_SET_FD, file_fd)) {
		*failed_step = "LOOP_SET_FD";
		return -errno;
	}
	if (ioctl(loop_fd, LOOP_SET_STATUS64, &status)) {
		*failed_step = "LOOP_SET_STATUS64";
		ret = -errno;
	} else if (ioctl(loop_fd, LOOP_SET_BLOCK_SIZE, (unsigned long)block_size)) {
		*failed_step = "LOOP_SET_BLOCK_SIZE";
		ret = -errno;
	}
	if (ret)
		ioctl(loop_fd, LOOP_CLR_FD, 0);
	return ret;
}

static int loop_configure(int loop_fd, int file_fd, const char *path, unsigned block_size,
			  bool readonly, const char **failed_step)
{
	struct loop_config config;

	memset(&config, 0, sizeof(config));
	config.fd = (unsigned)file_fd;
	config.block_size = block_size;
	loop_info_init(&config.info, path, readonly);
	if (ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0)
		return 0;
	/* Kernels without LOOP_CONFIGURE fail with ENOTTY or EINVAL. */
	if (errno != ENOTTY && errno != EINVAL) {
		*failed_step = "LOOP_CONFIGURE";
		return -errno;
	}
	return loop_configure_legacy(loop_fd, file_fd, &config.info, block_size, failed_step);
}

/* Takes a free loop device and configures it; -EBUSY if another process was faster. */
static int loop_attach_free(int control_fd, int file_fd, const char *path, unsigned block_size,
			    bool readonly, char *loop_path, size_t loop_path_size,
			    const char **failed_step)
{
	int number, loop_fd, ret;

	number = ioctl(control_fd, LOOP_CTL_GET_FREE);
	if (number < 0) {
		*failed_step = "LOOP_CTL_GET_FREE";
		return -errno;
	}
	snprintf(loop_path, loop_path_size, "/dev/loop%d", number);
	loop_fd = open(loop_path, O_RDWR | O_CLOEXEC);
	if (loop_fd < 0) {
		*failed_step = "open of the loop device";
		return -errno;
	}
	ret = loop_configure(loop_fd, file_fd, path, block_size, readonly, failed_step);
	close(loop_fd);
	return ret;
}

int loop_attach(const char *path, unsigned block_size, bool readonly, char *loop_path,
		size_t loop_path_size, const char **failed_step)
{
	int file_fd, control_fd = -1, attempt, ret;

	file_fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (file_fd < 0) {
		*failed_step = "open of the device file";
		return -errno;
	}
	control_fd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (control_fd < 0) {
		*failed_step = "open of /dev/loop-control";
		ret = -errno;
		goto exit;
	}
	for (attempt = 0; attempt < ATTACH_ATTEMPTS; attempt++) {
		ret = loop_attach_free(control_fd, file_fd, path, block_size, readonly, loop_path,
				       loop_path_size, failed_step);
		if (ret != -EBUSY)
			break;
	}
exit:
	if (control_fd >= 0)
		close(control_fd);
	close(file_fd);
	return ret;
}

/* Reads /sys/block/NAME/loop/backing_file without its newline. */
static int read_backing_file(const char *device, char *out, size_t size)
{
	char sys_path[PATH_MAX];
	size_t len;
	FILE *file;

	snprintf(sys_path, sizeof(sys_path), "/sys/block/%s/loop/backing_file", device);
	file = fopen(sys_path, "re");
	if (!file)
		return -errno;
	if (!fgets(out, (int)size, file))
		out[0] = '\0';
	fclose(file);
	len = strlen(out);
	if (len && out[len - 1] == '\n')
		out[len - 1] = '\0';
	return 0;
}

static int compare_ints(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int loop_find(const char *path, int *numbers, int max)
{
	char backing[PATH_MAX + 16];
	struct dirent *entry;
	int count = 0, number;
	char *end;
	DIR *block;

	block = opendir("/sys/block");
	if (!block)
		return -errno;
	while ((entry = readdir(block))) {
		if (strncmp(entry->d_name, "loop", 4) != 0)
			continue;
		number = (int)strtol(entry->d_name + 4, &end, 10);
		if (end == entry->d_name + 4 || *end != '\0')
			continue;
		if (read_backing_file(entry->d_name, backing, sizeof(backing)))
			continue;
		/* A deleted backing file reads "PATH (deleted)" and does not match. */
		if (strcmp(backing, path) != 0)
			continue;
		if (count < max)
			numbers[count] = number;
		count++;
	}
	closedir(block);
	qsort(numbers, (size_t)(count < max ? count : max), sizeof(*numbers), compare_ints);
	return count;
}

int loop_open_exclusive(int number)
{
	char loop_path[32];
	int fd;

	snprintf(loop_path, sizeof(loop_path), "/dev/loop%d", number);
	fd = open(loop_path, O_RDONLY | O_EXCL | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int loop_detach(int fd)
{
	if (ioctl(fd, LOOP_CLR_FD, 0) == 0)
		return 0;
	/* ENXIO: the device was detached in the meantime. */
	return errno == ENXIO ? 0 : -errno;
}
