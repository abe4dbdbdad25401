// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Volumes: the format-independent part. Probes the LUKS version, dispatches
 * to the format's ops, copies headers for backup and restore, and builds
 * plain dm-crypt tables the way cryptsetup hashes plain passphrases.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "io.h"
#include "log.h"
#include "pbkdf.h"
#include "secmem.h"
#include "volume_internal.h"

struct udm_key *udm_key_new(size_t size)
{
	struct udm_key *key = udm_secure_alloc(sizeof(*key) + size);

	if (key)
		key->size = size;
	return key;
}

void udm_key_free(struct udm_key *key)
{
	udm_secure_free(key);
}

int udm_volume_read(const struct udm_volume *vol, void *buf, size_t len, uint64_t off)
{
	if (vol->blockdev)
		return vol->blockdev->ops->pread(vol->blockdev->ctx, buf, len, off);
	return udm_read_at(vol->fd, buf, len, off);
}

int udm_volume_write(const struct udm_volume *vol, const void *buf, size_t len, uint64_t off)
{
	if (vol->blockdev)
		return vol->blockdev->ops->pwrite(vol->blockdev->ctx, buf, len, off);
	return udm_write_at(vol->fd, buf, len, off);
}

int udm_volume_size(const struct udm_volume *vol, uint64_t *bytes)
{
	if (vol->blockdev)
		return vol->blockdev->ops->get_size(vol->blockdev->ctx, bytes);
	return udm_fd_size(vol->fd, bytes);
}

int udm_volume_sync(const struct udm_volume *vol)
{
	if (vol->blockdev)
		return vol->blockdev->ops->flush(vol->blockdev->ctx);
	return fsync(vol->fd) ? -errno : 0;
}

bool udm_volume_same_device(const struct udm_volume *vol, const char *data_path)
{
	struct stat header, data;

	if (vol->blockdev)
		return !strcmp(data_path, vol->blockdev->name);
	if (fstat(vol->fd, &header) || stat(data_path, &data))
		return false;
	if (S_ISBLK(header.st_mode) && S_ISBLK(data.st_mode))
		return header.st_rdev == data.st_rdev;
	return header.st_dev == data.st_dev && header.st_ino == data.st_ino;
}

int udm_random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int udm_uuid_generate(char *uuid)
{
	uint8_t b[16];
	int r = udm_random_bytes(b, sizeof(b));

	if (r)
		return r;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);	/* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	snprintf(uuid, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

bool udm_uuid_valid(const char *uuid)
{
	if (strlen(uuid) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? uuid[i] != '-' : !strchr("0123456789abcdefABCDEF", uuid[i]))
			return false;
	}
	return true;
}

static long online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? n : 1;
}

/* cryptsetup caps Argon2 memory at half of the physical memory. */
static uint32_t argon2_memory_cap_kb(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
	uint64_t half_kb = pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size / 2048
						       : 1024 * 1024;

	return half_kb < 1024 * 1024 ? (uint32_t)half_kb : 1024 * 1024;
}

int udm_pbkdf_from_params(struct udm_pbkdf *out, const struct udm_pbkdf_params *params,
			  enum udm_volume_type type, size_t key_len, struct udm_error *err)
{
	const char *kind = params && params->type ? params->type :
			   type == UDM_VOLUME_LUKS1 ? "pbkdf2" : "argon2id";
	unsigned iter_time = params && params->iter_time_ms ? params->iter_time_ms : 2000;
	int r;

	memset(out, 0, sizeof(*out));
	snprintf(out->type, sizeof(out->type), "%s", kind);
	snprintf(out->hash, sizeof(out->hash), "%s",
		 params && params->hash ? params->hash : "sha256");
	if (type == UDM_VOLUME_LUKS1 && strcmp(out->type, "pbkdf2"))
		return udm_error_set(err, "invalid PBKDF '%s' for LUKS1: LUKS1 supports only pbkdf2",
				     out->type);
	out->memory_kb = params && params->memory_kb ? params->memory_kb : argon2_memory_cap_kb();
	out->parallel = params && params->parallel ? params->parallel :
			(uint32_t)(online_cpus() < 4 ? online_cpus() : 4);

	if (params && params->force_iterations) {
		out->iterations = params->force_iterations;
	} else {
		r = udm_pbkdf_benchmark(out, iter_time, key_len);
		if (r)
			return udm_error_set(err, "PBKDF benchmark of %s failed: %s", out->type,
					     strerror(-r));
	}
	if (strcmp(out->type, "pbkdf2"))
		out->hash[0] = '\0';
	return udm_pbkdf_check(out, err);
}

static const struct volume_ops *ops_of(enum udm_volume_type type)
{
	return type == UDM_VOLUME_LUKS1 ? &udm_luks1_ops : &udm_luks2_ops;
}

/* Reads the LUKS magic and version. Returns the type, or -ENODEV with
 * *version set to the unknown version, or to -1 when there is no magic. */
static int probe(const struct udm_volume *vol, int *version)
{
	uint8_t hdr[8];

	*version = -1;
	if (udm_volume_read(vol, hdr, sizeof(hdr), 0) || memcmp(hdr, LUKS_MAGIC, LUKS_MAGIC_LEN))
		return -ENODEV;
	*version = hdr[6] << 8 | hdr[7];
	if (*version == 1)
		return UDM_VOLUME_LUKS1;
	if (*version == 2)
		return UDM_VOLUME_LUKS2;
	return -ENODEV;
}

static int volume_new(struct udm_volume **volp, const char *path, bool writable, int flags,
		      struct udm_error *err)
{
	struct udm_volume *vol = calloc(1, sizeof(*vol));

	if (!vol)
		return -ENOMEM;
	vol->path = strdup(path);
	vol->writable = writable;
	vol->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | flags, 0600);
	if (!vol->path || vol->fd < 0) {
		int r = vol->path ? -errno : -ENOMEM;

		if (vol->path)
			udm_error_set(err, "cannot open %s: %s", path, strerror(errno));
		if (vol->fd >= 0)
			close(vol->fd);
		free(vol->path);
		free(vol);
		return r;
	}
	*volp = vol;
	return 0;
}

/*
 * A LUKS2 primary header whose version field was damaged to 1 looks like
 * LUKS1. When LUKS1 rejects it, a valid LUKS2 secondary header is used,
 * and the loader warns that the primary is damaged. Otherwise the LUKS1
 * error r is returned.
 */
static int load_luks2_instead(struct udm_volume *vol, int r)
{
	vol->ops->destroy(vol);
	vol->ops = &udm_luks2_ops;
	if (!vol->ops->load(vol, NULL))
		return 0;
	vol->ops->destroy(vol);
	vol->ops = NULL;
	return r;
}

/* Probes and loads the header of a new volume; frees it on failure. */
static int load_volume(struct udm_volume *vol, struct udm_volume **volp,
		       enum udm_volume_type type, struct udm_error *err)
{
	int version;
	int found = probe(vol, &version);
	int r;

	/* A damaged primary LUKS2 header may leave a valid secondary, which
	 * the LUKS2 loader finds at its known offsets. */
	if (found < 0 && (type == UDM_VOLUME_ANY || type == UDM_VOLUME_LUKS2)) {
		vol->ops = &udm_luks2_ops;
		if (!vol->ops->load(vol, NULL)) {
			*volp = vol;
			return 0;
		}
		vol->ops->destroy(vol);
		vol->ops = NULL;
	}
	if (found < 0 || (type != UDM_VOLUME_ANY && (int)type != found)) {
		const char *kind = type == UDM_VOLUME_LUKS1 ? "LUKS1" :
				   type == UDM_VOLUME_LUKS2 ? "LUKS2" : "LUKS";

		if (found < 0 && version >= 0)
			udm_error_set(err, "device %s is not a valid %s device: unsupported LUKS "
				      "version %d in the header, accepted are 1 and 2", vol->path,
				      kind, version);
		else
			udm_error_set(err, "device %s is not a valid %s device", vol->path, kind);
		udm_volume_free(vol);
		return -ENODEV;
	}
	vol->ops = ops_of(found);
	r = vol->ops->load(vol, err);
	if (r && found == UDM_VOLUME_LUKS1 && type == UDM_VOLUME_ANY)
		r = load_luks2_instead(vol, r);
	if (r) {
		udm_volume_free(vol);
		return r;
	}
	*volp = vol;
	return 0;
}

int udm_luks_load(struct udm_volume **volp, const char *header_path, enum udm_volume_type type,
		  bool writable, struct udm_error *err)
{
	struct udm_volume *vol;
	int r;

	r = volume_new(&vol, header_path, writable, 0, err);
	return r ? r : load_volume(vol, volp, type, err);
}

int udm_luks_load_blockdev(struct udm_volume **volp, const struct udm_blockdev *blockdev,
			   enum udm_volume_type type, bool writable, struct udm_error *err)
{
	struct udm_volume *vol = calloc(1, sizeof(*vol));

	if (!vol)
		return -ENOMEM;
	vol->path = strdup(blockdev->name);
	if (!vol->path) {
		free(vol);
		return -ENOMEM;
	}
	vol->fd = -1;
	vol->blockdev = blockdev;
	vol->writable = writable;
	return load_volume(vol, volp, type, err);
}

int udm_luks_format(const char *header_path, const struct udm_format_params *params,
		    const char *pass, size_t pass_len, struct udm_volume **volp,
		    struct udm_error *err)
{
	enum udm_volume_type type = params->type ? params->type : UDM_VOLUME_LUKS2;
	struct udm_volume *vol;
	int r;

	if (type != UDM_VOLUME_LUKS1 && type != UDM_VOLUME_LUKS2)
		return udm_error_set(err, "invalid volume type for format: accepted are luks1 and "
				     "luks2");
	r = volume_new(&vol, header_path, true, params->detached_header ? O_CREAT : 0, err);
	if (r)
		return r;
	vol->ops = ops_of(type);
	r = vol->ops->format(vol, params, pass, pass_len, err);
	if (r || !volp)
		udm_volume_free(vol);
	else
		*volp = vol;
	return r;
}

void udm_volume_free(struct udm_volume *vol)
{
	if (!vol)
		return;
	if (vol->ops && vol->ops->destroy)
		vol->ops->destroy(vol);
	if (vol->fd >= 0)
		close(vol->fd);
	free(vol->path);
	free(vol);
}

enum udm_volume_type udm_volume_type(const struct udm_volume *vol)
{
	return vol->ops->type;
}

const char *udm_volume_uuid(const struct udm_volume *vol)
{
	return vol->uuid;
}

int udm_volume_unlock(struct udm_volume *vol, int keyslot, const char *pass, size_t pass_len,
		      struct udm_key **keyp, struct udm_error *err)
{
	return vol->ops->unlock(vol, keyslot, pass, pass_len, keyp, err);
}

int udm_volume_verify_key(struct udm_volume *vol, const struct udm_key *key)
{
	return vol->ops->verify_key(vol, key);
}

char *udm_volume_table(struct udm_volume *vol, const struct udm_key *key, const char *data_path,
		       struct udm_error *err)
{
	uint64_t bytes;
	int fd, r;

	if (vol->blockdev && !strcmp(data_path, vol->blockdev->name)) {
		r = udm_volume_size(vol, &bytes);
		if (r) {
			udm_error_set(err, "cannot read the size of %s: %s", data_path,
				      strerror(-r));
			return NULL;
		}
		return vol->ops->table(vol, key, data_path, bytes / 512, err);
	}
	fd = open(data_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		udm_error_set(err, "cannot open device %s: %s", data_path, strerror(errno));
		return NULL;
	}
	r = udm_fd_size(fd, &bytes);
	close(fd);
	if (r) {
		udm_error_set(err, "cannot read the size of %s: %s", data_path, strerror(-r));
		return NULL;
	}
	return vol->ops->table(vol, key, data_path, bytes / 512, err);
}

static int require_writable(struct udm_volume *vol, struct udm_error *err)
{
	if (!vol->writable)
		return udm_error_set(err, "%s was opened read-only", vol->path);
	return 0;
}

int udm_volume_add_key(struct udm_volume *vol, int keyslot, const struct udm_key *key,
		       const char *pass, size_t pass_len, const struct udm_pbkdf_params *pbkdf,
		       struct udm_error *err)
{
	int r = require_writable(vol, err);

	return r ? r : vol->ops->add_key(vol, keyslot, key, pass, pass_len, pbkdf, err);
}

int udm_volume_kill_slot(struct udm_volume *vol, int keyslot, struct udm_error *err)
{
	int r = require_writable(vol, err);

	return r ? r : vol->ops->kill_slot(vol, keyslot, err);
}

int udm_volume_keyslot_count(const struct udm_volume *vol)
{
	return vol->ops->keyslot_count(vol);
}

bool udm_volume_keyslot_active(const struct udm_volume *vol, int keyslot)
{
	return vol->ops->keyslot_active(vol, keyslot);
}

int udm_volume_set_uuid(struct udm_volume *vol, const char *uuid, struct udm_error *err)
{
	int r = require_writable(vol, err);

	if (!r && uuid && !udm_uuid_valid(uuid))
		r = udm_error_set(err, "invalid UUID '%s': expected the form "
				  "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", uuid);
	return r ? r : vol->ops->set_uuid(vol, uuid, err);
}

int udm_volume_dump(struct udm_volume *vol, FILE *out, const struct udm_key *key,
		    bool json_only, struct udm_error *err)
{
	return vol->ops->dump(vol, out, key, json_only, err);
}
