// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * "open" and "close": unlocks a LUKS volume, or hashes a plain dm-crypt
 * passphrase, builds the crypt table in locked memory and starts the mapping
 * as "create" does, with the table handed to the daemon in memory. The
 * passphrase is asked here, while the command still owns the terminal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "volume.h"
#include "../fuse/frontend.h"

/* The default key size of plain mode in cryptsetup 2.6 (256 bits). */
#define PLAIN_KEY_SIZE 32
/* Largest volume key a --volume-key-file may hold (LUKS2 allows 512 bytes). */
#define VOLUME_KEY_MAX 512

int volume_unlock_interactive(struct udm_volume *vol, const struct volume_options *opts,
			      const struct key_source *src, const char *prompt, unsigned tries,
			      int keyslot, struct udm_key **keyp)
{
	struct udm_error err = { .msg = "" };
	struct udm_key *pass = NULL;
	unsigned attempt, attempts = passphrase_interactive(src) ? tries : 1;
	int ret = -EPERM;

	for (attempt = 0; attempt < attempts; attempt++) {
		ret = passphrase_read(&pass, src, prompt, false);
		if (ret)
			return ret;
		ret = udm_volume_unlock(vol, keyslot, (const char *)pass->data, pass->size, keyp,
					&err);
		udm_key_free(pass);
		pass = NULL;
		if (ret >= 0) {
			print_verbose(opts, "Key slot %d unlocked.", ret);
			return ret;
		}
		if (ret != -EPERM) {
			print_library_error(&err, ret, "cannot unlock %s", opts->device);
			return ret;
		}
		fflush(stdout);
		fputs("No key available with this passphrase.\n", stderr);
		err.msg[0] = '\0';
	}
	return ret;
}

int volume_key_from_file(struct udm_volume *vol, const struct volume_options *opts,
			 struct udm_key **keyp)
{
	size_t size = opts->key_size_bits / 8;
	int ret;

	/* NOTE: the header's key size is not part of the library interface, so
	 * without --key-size the whole file is the key. */
	ret = key_file_read(keyp, opts->volume_key_file, 0, size, VOLUME_KEY_MAX);
	if (ret)
		return ret;
	ret = udm_volume_verify_key(vol, *keyp);
	if (ret) {
		print_error("volume key in %s does not match the volume", opts->volume_key_file);
		udm_key_free(*keyp);
		*keyp = NULL;
	}
	return ret;
}

/*
 * Resolves the data device to an absolute path for the table, which the
 * daemon opens and "table" prints.
 */
static int resolve_device(const char *device, char *path)
{
	if (!realpath(device, path)) {
		print_error("cannot resolve the path of device %s: %s", device, strerror(errno));
		return -ENOTBLK;
	}
	return 0;
}

static int check_keyslot_range(const struct udm_volume *vol, int keyslot)
{
	int count = udm_volume_keyslot_count(vol);

	if (keyslot >= count) {
		print_error("invalid key slot %d: accepted are 0 to %d", keyslot, count - 1);
		return -EINVAL;
	}
	return 0;
}

/* Rejects the layout options that only plain mode uses, as cryptsetup does. */
static int check_luks_open_options(const struct volume_options *opts)
{
	const char *option = opts->sector_size ? "--sector-size" : opts->offset ? "--offset" :
			     opts->skip ? "--skip" : opts->size ? "--size" : NULL;

	if (option) {
		print_error("option %s is supported only for open of plain devices", option);
		return -EINVAL;
	}
	if (!opts->name && !opts->test_passphrase) {
		print_error("%s takes <device> <name> as arguments", opts->verb);
		return -EINVAL;
	}
	return 0;
}

/* Unlocks the volume with the volume key file or a passphrase. */
static int unlock_for_open(struct udm_volume *vol, struct volume_options *opts,
			   struct udm_key **keyp)
{
	char prompt[PATH_MAX + 32];
	int ret;

	ret = check_keyslot_range(vol, opts->key_slot);
	if (ret)
		return ret;
	if (opts->volume_key_file)
		return volume_key_from_file(vol, opts, keyp);
	snprintf(prompt, sizeof(prompt), "Enter passphrase for %s: ", opts->device);
	ret = volume_unlock_interactive(vol, opts, &opts->key, prompt, opts->tries,
					opts->key_slot, keyp);
	return ret < 0 ? ret : 0;
}

static int open_luks(struct volume_options *opts)
{
	struct udm_error err = { .msg = "" };
	struct mapping_paths paths;
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	char *table = NULL, device[PATH_MAX];
	int ret, status;

	ret = check_luks_open_options(opts);
	if (!ret)
		ret = device_check(opts->device);
	if (!ret)
		ret = resolve_device(opts->device, device);
	if (ret)
		return volume_exit_status(ret);
	if (!opts->test_passphrase) {
		status = cli_mapping_prepare(&paths, opts->dir, opts->name);
		if (status)
			return status;
	}
	ret = volume_load(&vol, opts, false);
	if (!ret)
		ret = unlock_for_open(vol, opts, &key);
	if (ret || opts->test_passphrase)
		goto exit;

	table = udm_volume_table(vol, key, device, &err);
	if (!table) {
		print_library_error(&err, -EINVAL, "cannot build the table of %s", opts->device);
		ret = -EINVAL;
		goto exit;
	}
	status = cli_mapping_start(&paths, opts->readonly, NULL, table);
	udm_secure_free(table);
	udm_key_free(key);
	udm_volume_free(vol);
	return status;
exit:
	udm_key_free(key);
	udm_volume_free(vol);
	return volume_exit_status(ret);
}

/*
 * Reads a plain key file: cryptsetup uses its bytes as the key, without the
 * hash, reading the key size (or --keyfile-size) and zero-padding a shorter
 * --keyfile-size.
 */
static int plain_key_file(const struct volume_options *opts, size_t key_size,
			  struct udm_key **keyp)
{
	size_t size = opts->key.size ? opts->key.size : key_size;
	struct udm_key *read = NULL;
	int ret;

	ret = key_file_read(&read, opts->key.file, opts->key.offset, size, size);
	if (ret)
		return ret;
	*keyp = udm_key_new(key_size);
	if (!*keyp) {
		udm_key_free(read);
		print_error("cannot allocate locked memory for the key");
		return -ENOMEM;
	}
	memcpy((*keyp)->data, read->data, read->size < key_size ? read->size : key_size);
	udm_key_free(read);
	if (opts->hash && !opts->batch)
		print_error("warning: --hash is ignored in plain mode with a key file");
	return 0;
}

/* Builds the plain table from a passphrase, or from a key file's raw bytes. */
static char *plain_table(struct volume_options *opts, const char *device, int *retp)
{
	struct udm_plain_params params = {
		.cipher = opts->cipher,
		.hash = opts->hash,
		.key_size = opts->key_size_bits ? opts->key_size_bits / 8 : PLAIN_KEY_SIZE,
		.offset = opts->offset,
		.skip = opts->skip,
		.size = opts->size,
		.sector_size = opts->sector_size,
	};
	struct udm_error err = { .msg = "" };
	struct udm_key *pass = NULL;
	char prompt[PATH_MAX + 32];
	char *table = NULL;

	if (opts->key.file && strcmp(opts->key.file, "-")) {
		*retp = plain_key_file(opts, params.key_size, &pass);
		params.hash = "plain";
	} else {
		snprintf(prompt, sizeof(prompt), "Enter passphrase for %s: ", opts->device);
		*retp = passphrase_read(&pass, &opts->key, prompt, opts->verify_passphrase);
	}
	if (*retp)
		return NULL;
	table = udm_plain_table(device, &params, (const char *)pass->data, pass->size, &err);
	udm_key_free(pass);
	if (!table) {
		print_library_error(&err, -EINVAL, "cannot build the plain table of %s",
				    opts->device);
		*retp = -EINVAL;
	}
	return table;
}

static int open_plain(struct volume_options *opts)
{
	struct mapping_paths paths;
	char *table, device[PATH_MAX];
	int ret, status;

	if (opts->test_passphrase) {
		print_error("option --test-passphrase is supported only for LUKS devices: plain "
			    "mode has no passphrase check");
		return 1;
	}
	if (opts->volume_key_file || opts->header) {
		print_error("options --volume-key-file and --header are supported only for LUKS "
			    "devices");
		return 1;
	}
	if (!opts->name) {
		print_error("%s takes <device> <name> as arguments", opts->verb);
		return 1;
	}
	ret = device_check(opts->device);
	if (!ret)
		ret = resolve_device(opts->device, device);
	if (ret)
		return volume_exit_status(ret);
	status = cli_mapping_prepare(&paths, opts->dir, opts->name);
	if (status)
		return status;

	table = plain_table(opts, device, &ret);
	if (!table)
		return volume_exit_status(ret);
	status = cli_mapping_start(&paths, opts->readonly, NULL, table);
	udm_secure_free(table);
	return status;
}

int cmd_open(struct volume_options *opts)
{
	if (opts->type == UDM_VOLUME_PLAIN)
		return open_plain(opts);
	return open_luks(opts);
}

int cmd_close(struct volume_options *opts)
{
	struct cli_options close_opts = { .dir = opts->dir, .name = opts->name };

	return cli_mapping_remove(&close_opts);
}
