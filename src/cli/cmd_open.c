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
/* Largest volume key a --volume-key-file may contain (LUKS2 allows 512 bytes). */
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

/* Starts the FUSE daemon of the mapping, or its NBD export with --nbd. */
static int start_mapping(const struct mapping_paths *paths, const struct volume_options *opts,
			 char *table)
{
	if (opts->nbd)
		return cli_nbd_start(paths, opts->nbd, opts->readonly, NULL, table);
	return cli_mapping_start(paths, opts->readonly, NULL, table);
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
	const char *option = NULL;

	if (opts->sector_size)
		option = "--sector-size";
	else if (opts->offset)
		option = "--offset";
	else if (opts->skip)
		option = "--skip";
	else if (opts->size)
		option = "--size";
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
	/* The forked daemon needs only the table, not a copy of these. */
	udm_key_free(key);
	udm_volume_free(vol);
	status = start_mapping(&paths, opts, table);
	udm_secure_free(table);
	return status;
exit:
	udm_key_free(key);
	udm_volume_free(vol);
	return volume_exit_status(ret);
}

/* Copies bytes into a new key of key_size bytes, cut or zero-filled. */
static int raw_key(const struct udm_key *bytes, size_t key_size, struct udm_key **keyp)
{
	*keyp = udm_key_new(key_size);
	if (!*keyp) {
		print_error("cannot allocate locked memory for the key");
		return -ENOMEM;
	}
	memcpy((*keyp)->data, bytes->data, bytes->size < key_size ? bytes->size : key_size);
	return 0;
}

/*
 * Reads the input of a plain mapping as cryptsetup 2.6 does. A key file
 * other than standard input is the key itself: key_size bytes after
 * --keyfile-offset, never hashed, and --keyfile-size is ignored. --hash plain
 * also uses the input as the key, cut or zero-filled to key_size. Everything
 * else is a passphrase for the library to hash. Sets *raw for a key.
 */
static int plain_input(struct volume_options *opts, size_t key_size, struct udm_key **inputp,
		       bool *raw)
{
	bool key_file = opts->key.file && strcmp(opts->key.file, "-");
	struct udm_key *input = NULL;
	char prompt[PATH_MAX + 32];
	int ret;

	*raw = key_file || (opts->hash && strcmp(opts->hash, "plain") == 0);
	if (key_file) {
		if (opts->hash && !opts->batch)
			print_error("warning: --hash is ignored in plain mode with a key file");
		if (opts->key.size && !opts->batch)
			print_error("warning: --keyfile-size is ignored in plain mode with a key "
				    "file: the key size is read");
		return key_file_read(inputp, opts->key.file, opts->key.offset, key_size, key_size);
	}

	snprintf(prompt, sizeof(prompt), "Enter passphrase for %s: ", opts->device);
	ret = passphrase_read(&input, &opts->key, prompt, opts->verify_passphrase);
	if (ret || !*raw) {
		*inputp = input;
		return ret;
	}
	ret = raw_key(input, key_size, inputp);
	udm_key_free(input);
	return ret;
}

/* Builds the plain table from a passphrase, or from a key given directly. */
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
	struct udm_key *input = NULL;
	char *table = NULL;
	bool raw;

	*retp = plain_input(opts, params.key_size, &input, &raw);
	if (*retp)
		return NULL;
	if (raw)
		params.hash = "plain";
	table = udm_plain_table(device, &params, (const char *)input->data, input->size, &err);
	udm_key_free(input);
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
	status = start_mapping(&paths, opts, table);
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
