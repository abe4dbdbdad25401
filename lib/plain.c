// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Plain dm-crypt volumes, as cryptsetup open --type plain maps them: no
 * header, the key is a hash of the passphrase. For a key longer than the
 * digest, round i hashes i letters 'A' followed by the passphrase, and the
 * digests are concatenated (cryptsetup's lib/crypt_plain.c, after hashalot).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "parse.h"
#include "secmem.h"
#include "volume_internal.h"

#define PLAIN_MAX_KEY 256

static int hash_rounds(const char *hash, uint8_t *key, size_t key_len, const char *pass,
		       size_t pass_len)
{
	uint8_t *input = udm_secure_alloc(pass_len + key_len + 1);
	uint8_t digest[UDM_MAX_DIGEST];
	int r = 0;

	if (!input)
		return -ENOMEM;
	for (size_t round = 0, done = 0; done < key_len; round++) {
		int len;

		memset(input, 'A', round);
		memcpy(input + round, pass, pass_len);
		len = udm_hash(hash, input, round + pass_len, digest);
		if (len <= 0) {
			r = -EINVAL;
			break;
		}
		if ((size_t)len > key_len - done)
			len = (int)(key_len - done);
		memcpy(key + done, digest, (size_t)len);
		done += (size_t)len;
	}
	udm_wipe(digest, sizeof(digest));
	udm_secure_free(input);
	return r;
}

/* "hash" or "hash:bytes": bytes of digest, the rest of the key zero. */
static int plain_key(const char *spec, uint8_t *key, size_t key_len, const char *pass,
		     size_t pass_len, struct udm_error *err)
{
	char hash[64];
	const char *colon = strchr(spec, ':');
	unsigned hashed = (unsigned)key_len;

	snprintf(hash, sizeof(hash), "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec),
		 spec);
	if (colon && (udm_parse_uint(colon + 1, &hashed) || hashed > key_len))
		return udm_error_set(err, "invalid hash length in '%s': expected hash:N with N up "
				     "to the key size (%zu bytes)", spec, key_len);
	if (!strcmp(hash, "plain")) {
		if (pass_len < hashed)
			return udm_error_set(err, "passphrase too short for hash plain: it needs "
					     "%u bytes", hashed);
		memcpy(key, pass, hashed);
		return 0;
	}
	if (hash_rounds(hash, key, hashed, pass, pass_len))
		return udm_error_set(err, "unknown hash '%s': accepted are plain, %s", hash,
				     udm_hash_names());
	return 0;
}

static int data_sectors(const char *path, uint64_t *sectors, struct udm_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t bytes;
	int r;

	if (fd < 0)
		return udm_error_set(err, "cannot open device %s: %s", path, strerror(errno));
	r = udm_fd_size(fd, &bytes);
	close(fd);
	if (r)
		return udm_error_set(err, "cannot read the size of %s", path);
	*sectors = bytes / 512;
	return 0;
}

char *udm_plain_table(const char *data_path, const struct udm_plain_params *params,
		      const char *pass, size_t pass_len, struct udm_error *err)
{
	const char *cipher = params->cipher ? params->cipher : "aes-cbc-essiv:sha256";
	const char *hash = params->hash ? params->hash : "ripemd160";
	unsigned key_len = params->key_size ? params->key_size : 32;
	unsigned sector = params->sector_size ? params->sector_size : 512;
	uint64_t device = 0, size = params->size;
	size_t table_len = strlen(cipher) + strlen(data_path) + 2 * PLAIN_MAX_KEY + 160;
	uint8_t *key = udm_secure_alloc(PLAIN_MAX_KEY);
	char *table = udm_secure_alloc(table_len);
	size_t pos;

	if (!key || !table)
		goto fail;
	if (key_len > PLAIN_MAX_KEY) {
		udm_error_set(err, "invalid key size %u bytes: the maximum is %d", key_len,
			      PLAIN_MAX_KEY);
		goto fail;
	}
	if (sector < 512 || sector > 4096 || (sector & (sector - 1))) {
		udm_error_set(err, "invalid sector size %u: accepted are 512, 1024, 2048 and 4096 "
			      "bytes", sector);
		goto fail;
	}
	if (plain_key(hash, key, key_len, pass, pass_len, err) ||
	    data_sectors(data_path, &device, err))
		goto fail;
	if (!size)
		size = device > params->offset ? device - params->offset : 0;
	size -= size % (sector / 512);
	if (!size || params->offset > device || size > device - params->offset) {
		udm_error_set(err, "device %s is too small: %" PRIu64 " sectors, offset %" PRIu64
			      ", size %" PRIu64, data_path, device, params->offset, size);
		goto fail;
	}

	pos = (size_t)snprintf(table, table_len, "0 %" PRIu64 " crypt %s ", size, cipher);
	for (unsigned i = 0; i < key_len; i++)
		pos += (size_t)snprintf(table + pos, table_len - pos, "%02x", key[i]);
	pos += (size_t)snprintf(table + pos, table_len - pos, " %" PRIu64 " %s %" PRIu64,
				params->skip, data_path, params->offset);
	if (sector != 512)
		snprintf(table + pos, table_len - pos, " 1 sector_size:%u", sector);
	udm_secure_free(key);
	return table;
fail:
	udm_secure_free(key);
	udm_secure_free(table);
	return NULL;
}
