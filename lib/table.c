// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Device-mapper tables: "<start> <length> <target> <args...>" per line, with
 * the targets crypt, linear, zero and error. The checks follow the kernel's
 * drivers/md/dm-table.c: the first target starts at 0, targets adjoin
 * without gaps, and backing devices are large enough.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "device_internal.h"
#include "log.h"
#include "parse.h"
#include "secmem.h"

#define MAX_ARGS 64
#define MAX_CRYPT_OPTIONS 8

struct line {
	unsigned number;
	char *argv[MAX_ARGS];
	unsigned argc;
};

/* "major:minor" names a block device by number, as dmsetup accepts it. */
static int resolve_device(const char *name, char *path, size_t size)
{
	unsigned major_nr, minor_nr;
	char link[64], target[256];
	const char *colon = strchr(name, ':');
	ssize_t n;

	if (!colon || name[0] == '/')
		return snprintf(path, size, "%s", name) < (int)size ? 0 : -ENAMETOOLONG;

	char major_str[16];
	if ((size_t)(colon - name) >= sizeof(major_str))
		return -EINVAL;
	memcpy(major_str, name, (size_t)(colon - name));
	major_str[colon - name] = '\0';
	if (udm_parse_uint(major_str, &major_nr) || udm_parse_uint(colon + 1, &minor_nr))
		return snprintf(path, size, "%s", name) < (int)size ? 0 : -ENAMETOOLONG;

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major_nr, minor_nr);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -ENOENT;
	target[n] = '\0';
	return snprintf(path, size, "/dev/%s", strrchr(target, '/') + 1) < (int)size ?
	       0 : -ENAMETOOLONG;
}

static int device_size(int fd, bool *is_block, uint64_t *bytes)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	*is_block = S_ISBLK(st.st_mode);
	if (*is_block)
		return ioctl(fd, BLKGETSIZE64, bytes) ? -errno : 0;
	if (!S_ISREG(st.st_mode))
		return -ENOTBLK;
	*bytes = (uint64_t)st.st_size;
	return 0;
}

/* Opens "<device> <offset>" of a crypt or linear line and checks that the
 * target fits on the device. */
static int check_fits(const struct target *t, const struct line *l, const char *dev,
		      uint64_t bytes, struct udm_error *err);

static int open_backing(const struct udm_device *device, struct target *t, const struct line *l,
			const char *dev, const char *offset, struct udm_error *err)
{
	const struct udm_blockdev *dev_blockdevs = device->blockdevs;
	unsigned dev_blockdevs_count = device->n_blockdevs;
	bool readonly = device->readonly;
	char path[4096];
	uint64_t bytes;
	int r;

	if (udm_parse_u64(offset, &t->offset) || t->offset > UINT64_MAX / 512 - t->length)
		return udm_error_set(err, "line %u: invalid device offset '%s': expected a number "
				     "of 512-byte sectors", l->number, offset);
	t->dev_name = strdup(dev);
	if (!t->dev_name)
		return -ENOMEM;
	for (unsigned i = 0; i < dev_blockdevs_count; i++) {
		if (strcmp(dev_blockdevs[i].name, dev))
			continue;
		t->blockdev = &dev_blockdevs[i];
		r = t->blockdev->ops->get_size(t->blockdev->ctx, &bytes);
		if (r) {
			udm_error_set(err, "line %u: cannot read the size of %s: %s", l->number,
				      dev, strerror(-r));
			return r;
		}
		return check_fits(t, l, dev, bytes, err);
	}
	r = resolve_device(dev, path, sizeof(path));
	if (r) {
		udm_error_set(err, "line %u: device %s not found", l->number, dev);
		return r;
	}
	t->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (t->fd < 0) {
		r = -errno;
		udm_error_set(err, "line %u: cannot open device %s: %s", l->number, dev,
			      strerror(errno));
		return r;
	}
	r = device_size(t->fd, &t->dev_is_block, &bytes);
	if (r) {
		udm_error_set(err, "line %u: device %s is not a block device or regular file",
			      l->number, dev);
		return r;
	}
	return check_fits(t, l, dev, bytes, err);
}

static int check_fits(const struct target *t, const struct line *l, const char *dev,
		      uint64_t bytes, struct udm_error *err)
{
	if (bytes / 512 < t->offset + t->length) {
		udm_error_set(err, "line %u: device %s is too small for the target: it has %"
			      PRIu64 " sectors, the target needs %" PRIu64 " (offset %" PRIu64
			      " plus length %" PRIu64 ")", l->number, dev, bytes / 512,
			      t->offset + t->length, t->offset, t->length);
		return -ENOSPC;
	}
	return 0;
}

static int parse_crypt(const struct udm_device *dev, struct target *t, const struct line *l,
		       struct udm_error *err)
{
	struct udm_crypt_args args = { .length = t->length };
	char **argv = (char **)l->argv + 3;
	unsigned argc = l->argc - 3, n_options = 0;
	struct udm_error inner = { { 0 } };
	int r;

	if (argc < 5)
		return udm_error_set(err, "line %u: crypt needs <cipher> <key> <iv_offset> "
				     "<device> <offset> [<#options> <option>...]", l->number);
	if (argc > 5 && (udm_parse_uint(argv[5], &n_options) || n_options > MAX_CRYPT_OPTIONS ||
			 n_options != argc - 6))
		return udm_error_set(err, "line %u: invalid number of optional parameters '%s': "
				     "expected the count (up to %u) of the parameters that follow, "
				     "and %u follow", l->number, argv[5], MAX_CRYPT_OPTIONS,
				     argc - 6);
	if (udm_parse_u64(argv[2], &args.iv_offset))
		return udm_error_set(err, "line %u: invalid iv_offset '%s': expected a number of "
				     "sectors", l->number, argv[2]);
	args.cipher = argv[0];
	args.key = argv[1];
	args.options = (const char *const *)argv + 6;
	args.n_options = n_options;

	r = udm_crypt_new(&t->crypt, &args, &inner);
	if (r) {
		udm_error_set(err, "line %u: %s", l->number, inner.msg);
		return r;
	}
	return open_backing(dev, t, l, argv[3], argv[4], err);
}

static int parse_target(const struct udm_device *dev, struct target *t, const struct line *l,
			struct udm_error *err)
{
	const char *type = l->argv[2];
	unsigned nargs = l->argc - 3;

	t->fd = -1;
	if (!strcmp(type, "crypt")) {
		t->type = TARGET_CRYPT;
		return parse_crypt(dev, t, l, err);
	}
	if (!strcmp(type, "linear")) {
		t->type = TARGET_LINEAR;
		if (nargs != 2)
			return udm_error_set(err, "line %u: linear needs <device> <offset>",
					     l->number);
		return open_backing(dev, t, l, l->argv[3], l->argv[4], err);
	}
	if (!strcmp(type, "zero") || !strcmp(type, "error")) {
		t->type = !strcmp(type, "zero") ? TARGET_ZERO : TARGET_ERROR;
		if (nargs)
			return udm_error_set(err, "line %u: %s takes no arguments", l->number,
					     type);
		return 0;
	}
	return udm_error_set(err, "line %u: unknown target type '%s': accepted types are crypt, "
			     "linear, zero and error", l->number, type);
}

static int split_line(char *text, struct line *l, struct udm_error *err)
{
	char *save = NULL;

	l->argc = 0;
	for (char *tok = strtok_r(text, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
		if (l->argc == MAX_ARGS)
			return udm_error_set(err, "line %u: more than %d fields", l->number,
					     MAX_ARGS);
		l->argv[l->argc++] = tok;
	}
	return 0;
}

static int add_target(struct udm_device *dev, const struct line *l, struct udm_error *err)
{
	uint64_t expected = dev->n_targets ?
		dev->targets[dev->n_targets - 1].start + dev->targets[dev->n_targets - 1].length : 0;
	struct target *targets, *t;

	if (l->argc < 3)
		return udm_error_set(err, "line %u: expected <start> <length> <target type> "
				     "<arguments>", l->number);
	targets = realloc(dev->targets, (dev->n_targets + 1) * sizeof(*targets));
	if (!targets)
		return -ENOMEM;
	dev->targets = targets;
	t = &targets[dev->n_targets++];
	memset(t, 0, sizeof(*t));
	t->fd = -1;

	if (udm_parse_u64(l->argv[0], &t->start))
		return udm_error_set(err, "line %u: invalid start '%s': expected a number of "
				     "512-byte sectors", l->number, l->argv[0]);
	if (udm_parse_u64(l->argv[1], &t->length) || !t->length ||
	    t->length > UINT64_MAX / 512 - t->start)
		return udm_error_set(err, "line %u: invalid length '%s': expected a positive "
				     "number of 512-byte sectors", l->number, l->argv[1]);
	if (t->start != expected && dev->n_targets == 1)
		return udm_error_set(err, "line %u: invalid start %" PRIu64 ": the first target "
				     "must start at 0", l->number, t->start);
	if (t->start != expected)
		return udm_error_set(err, "line %u: %s: this target starts at %" PRIu64 ", the "
				     "previous one ends at %" PRIu64, l->number,
				     t->start > expected ? "gap in table" : "targets overlap",
				     t->start, expected);
	return parse_target(dev, t, l, err);
}

/* Every target boundary must fall on the device's logical block size,
 * which is the largest sector size of its crypt targets. */
static int check_alignment(struct udm_device *dev, struct udm_error *err)
{
	uint64_t step;

	dev->block_size = 512;
	for (unsigned i = 0; i < dev->n_targets; i++)
		if (dev->targets[i].crypt &&
		    udm_crypt_sector_size(dev->targets[i].crypt) > dev->block_size)
			dev->block_size = udm_crypt_sector_size(dev->targets[i].crypt);
	step = dev->block_size / 512;
	for (unsigned i = 0; i < dev->n_targets; i++) {
		const struct target *t = &dev->targets[i];

		if (t->start % step || t->length % step)
			return udm_error_set(err, "target %u (start %" PRIu64 ", length %" PRIu64
					     ") is not aligned to the device's logical block "
					     "size of %u bytes", i + 1, t->start, t->length,
					     dev->block_size);
	}
	return 0;
}

int udm_table_parse(struct udm_device *dev, const char *table, struct udm_error *err)
{
	char *text = udm_secure_strdup(table);
	struct line l = { 0 };
	int r = 0;

	if (!text)
		return -ENOMEM;
	for (char *p = text, *next; p; p = next) {
		next = strchr(p, '\n');
		if (next)
			*next++ = '\0';
		l.number++;
		r = split_line(p, &l, err);
		if (r)
			break;
		if (!l.argc || l.argv[0][0] == '#')
			continue;
		r = add_target(dev, &l, err);
		if (r)
			break;
	}
	if (!r && !dev->n_targets)
		r = udm_error_set(err, "empty table: expected at least one line <start> <length> "
				  "<target type> <arguments>");
	if (!r)
		r = check_alignment(dev, err);
	if (!r) {
		const struct target *last = &dev->targets[dev->n_targets - 1];

		dev->size = (last->start + last->length) * 512;
	}
	udm_secure_free(text);
	return r;
}

void udm_table_free(struct udm_device *dev)
{
	for (unsigned i = 0; i < dev->n_targets; i++) {
		struct target *t = &dev->targets[i];

		udm_crypt_free(t->crypt);
		if (t->fd >= 0)
			close(t->fd);
		free(t->dev_name);
	}
	free(dev->targets);
	dev->targets = NULL;
	dev->n_targets = 0;
}
