// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cryptsetup-style verbs that work on a LUKS header without changing key
 * slots: luksFormat, luksDump, isLuks, luksUUID, luksHeaderBackup and
 * luksHeaderRestore. Prompts and confirmations follow cryptsetup 2.6.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "volume.h"
#include "../fuse/frontend.h"

#define LUKS1_KEYSLOTS 8
#define LUKS2_KEYSLOTS 32
#define CIPHER_NAME_MAX 64
/* A dump with the volume key contains a few header fields and the key. */
#define KEY_DUMP_MAX (64 * 1024)

static const char luks_magic[] = "LUKS\xba\xbe";

static void print_aborted(void)
{
	fflush(stdout);
	fputs("Operation aborted.\n\n", stderr);
}

int volume_load(struct udm_volume **volp, const struct volume_options *opts, bool writable)
{
	const char *path = opts->header ? opts->header : opts->device;
	struct udm_error err = { .msg = "" };
	int ret;

	*volp = NULL;
	ret = device_check(opts->device);
	if (!ret && opts->header)
		ret = device_check(opts->header);
	if (ret)
		return ret;
	if (opts->type == UDM_VOLUME_PLAIN) {
		print_error("%s works on LUKS devices only, not with --type plain", opts->verb);
		return -EINVAL;
	}
	ret = udm_luks_load(volp, path, opts->type, writable, &err);
	if (ret)
		print_library_error(&err, ret, "cannot read the LUKS header of %s", path);
	return ret;
}

/*
 * Splits a cipher specification such as "aes-xts-plain64" into the cipher
 * and its mode. Without a mode, cryptsetup uses "cbc-plain".
 */
static int split_cipher(const char *spec, char *cipher, const char **mode)
{
	const char *dash = strchr(spec, '-');
	size_t len = dash ? (size_t)(dash - spec) : strlen(spec);

	if (len == 0 || len >= CIPHER_NAME_MAX || (dash && dash[1] == '\0')) {
		print_error("invalid cipher '%s': expected CIPHER-MODE, such as aes-xts-plain64",
			    spec);
		return -EINVAL;
	}
	memcpy(cipher, spec, len);
	cipher[len] = '\0';
	*mode = dash ? dash + 1 : "cbc-plain";
	return 0;
}

/* Checks the options that depend on the LUKS version of luksFormat. */
static int check_format_options(const struct volume_options *opts, enum udm_volume_type type)
{
	int slots = type == UDM_VOLUME_LUKS1 ? LUKS1_KEYSLOTS : LUKS2_KEYSLOTS;

	if (opts->key_slot >= slots) {
		print_error("invalid key slot %d: accepted are 0 to %d", opts->key_slot, slots - 1);
		return -EINVAL;
	}
	if (type != UDM_VOLUME_LUKS1)
		return 0;
	if (opts->sector_size && opts->sector_size != 512) {
		print_error("invalid sector size %u for LUKS1: it supports only 512",
			    opts->sector_size);
		return -EINVAL;
	}
	if (opts->label || opts->subsystem || opts->metadata_size || opts->keyslots_size) {
		print_error("options --label, --subsystem and --luks2-*-size need LUKS2, "
			    "not LUKS1");
		return -EINVAL;
	}
	return 0;
}

/* Prints cryptsetup's notice when the header location already contains a
 * LUKS header. */
static void warn_existing_luks(const char *path)
{
	char magic[sizeof(luks_magic) - 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return;
	got = pread(fd, magic, sizeof(magic), 0);
	close(fd);
	if (got == (ssize_t)sizeof(magic) && memcmp(magic, luks_magic, sizeof(magic)) == 0)
		printf("WARNING: Device %s already contains a 'crypto_LUKS' superblock "
		       "signature.\n", path);
}

/*
 * Asks before writing: creates a missing detached header file, or confirms
 * overwriting the existing header location. Sets *created when it made the
 * file, which the caller removes on failure.
 */
static int confirm_format(const struct volume_options *opts, const char *path, bool *created)
{
	char warning[PATH_MAX + 64];
	struct stat st;
	int fd;

	*created = false;
	if (opts->header && lstat(path, &st) && errno == ENOENT) {
		if (!confirm("Header file does not exist, do you want to create it?",
			     opts->batch)) {
			print_aborted();
			return -EPERM;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			print_error("cannot create header file %s: %s", path, strerror(errno));
			return -EINVAL;
		}
		close(fd);
		*created = true;
		return 0;
	}

	if (!opts->batch)
		warn_existing_luks(path);
	snprintf(warning, sizeof(warning), "This will overwrite data on %s irrevocably.", path);
	if (!confirm(warning, opts->batch)) {
		print_aborted();
		return -EINVAL;
	}
	return 0;
}

static void format_params_init(struct udm_format_params *params,
			       const struct volume_options *opts, enum udm_volume_type type)
{
	memset(params, 0, sizeof(*params));
	params->type = type;
	params->key_size = opts->key_size_bits / 8;
	params->hash = opts->hash;
	params->sector_size = opts->sector_size;
	params->data_offset = opts->offset;
	/* With --header the payload starts at --offset on the data device, 0
	 * unless given, as in cryptsetup. */
	params->detached_header = opts->header != NULL;
	params->metadata_size = opts->metadata_size;
	params->keyslots_size = opts->keyslots_size;
	params->label = opts->label;
	params->subsystem = opts->subsystem;
	params->uuid = opts->uuid;
	params->keyslot = opts->key_slot;
	params->pbkdf = opts->pbkdf;
}

/* Reads the volume key of a new volume from --volume-key-file. */
static int read_new_volume_key(const struct volume_options *opts, const char *mode,
			       struct udm_key **keyp)
{
	size_t size = opts->key_size_bits / 8;

	/* The library's default: two keys for XTS. */
	if (!size)
		size = strncmp(mode, "xts", 3) == 0 ? 64 : 32;
	return key_file_read(keyp, opts->volume_key_file, 0, size, size);
}

static int format_volume(struct volume_options *opts, struct udm_format_params *params,
			 const char *mode, const char *path)
{
	struct udm_error err = { .msg = "" };
	struct udm_key *pass = NULL, *volume_key = NULL;
	char prompt[PATH_MAX + 32];
	int ret = 0;

	if (opts->volume_key_file)
		ret = read_new_volume_key(opts, mode, &volume_key);
	snprintf(prompt, sizeof(prompt), "Enter passphrase for %s: ", path);
	if (!ret)
		ret = passphrase_read(&pass, &opts->key, prompt, true);
	if (ret)
		goto exit;

	params->volume_key = volume_key;
	ret = udm_luks_format(path, params, (const char *)pass->data, pass->size, NULL, &err);
	if (ret) {
		print_library_error(&err, ret, "cannot format %s", path);
		goto exit;
	}
	print_verbose(opts, "Key slot %d created.", opts->key_slot >= 0 ? opts->key_slot : 0);
exit:
	udm_key_free(pass);
	udm_key_free(volume_key);
	return ret;
}

int cmd_luks_format(struct volume_options *opts)
{
	enum udm_volume_type type = opts->type == UDM_VOLUME_LUKS1 ? UDM_VOLUME_LUKS1 :
				    UDM_VOLUME_LUKS2;
	const char *path = opts->header ? opts->header : opts->device;
	struct udm_format_params params;
	char cipher[CIPHER_NAME_MAX];
	const char *mode = "xts-plain64";
	bool created;
	int ret;

	if (opts->type == UDM_VOLUME_PLAIN) {
		print_error("luksFormat writes LUKS headers only: accepted types are luks, luks1 "
			    "and luks2");
		return 1;
	}
	format_params_init(&params, opts, type);
	ret = check_format_options(opts, type);
	if (!ret && opts->cipher) {
		ret = split_cipher(opts->cipher, cipher, &mode);
		params.cipher = cipher;
		params.cipher_mode = mode;
	}
	if (!ret)
		ret = device_check(opts->device);
	if (!ret)
		ret = confirm_format(opts, path, &created);
	if (ret)
		return volume_exit_status(ret);

	ret = format_volume(opts, &params, mode, path);
	if (ret && created)
		unlink(path);
	return volume_exit_status(ret);
}

/* Writes the dump with the volume key through locked memory, not stdio buffers. */
static int dump_with_key(struct udm_volume *vol, const struct udm_key *key)
{
	struct udm_error err = { .msg = "" };
	char *text = udm_secure_alloc(KEY_DUMP_MAX);
	FILE *out = text ? fmemopen(text, KEY_DUMP_MAX, "w") : NULL;
	size_t len, done = 0;
	ssize_t written;
	int ret = -ENOMEM;

	if (!out)
		goto exit;
	/* Unbuffered, so that fprintf writes straight into text. */
	setvbuf(out, NULL, _IONBF, 0);
	ret = udm_volume_dump(vol, out, key, false, &err);
	fclose(out);
	if (ret) {
		print_library_error(&err, ret, "cannot dump the header");
		goto exit;
	}
	len = strnlen(text, KEY_DUMP_MAX);
	fflush(stdout);
	while (done < len) {
		written = write(STDOUT_FILENO, text + done, len - done);
		if (written < 0 && errno == EINTR)
			continue;
		if (written < 0) {
			ret = -errno;
			print_error("cannot write the dump: %s", strerror(errno));
			break;
		}
		done += (size_t)written;
	}
exit:
	if (ret == -ENOMEM)
		print_error("cannot allocate locked memory for the dump");
	udm_secure_free(text);
	return ret;
}

static int dump_volume_key(struct udm_volume *vol, struct volume_options *opts)
{
	struct udm_key *key = NULL;
	char prompt[PATH_MAX + 32];
	int ret;

	if (!confirm("The header dump with volume key is sensitive information\n"
		     "that allows access to encrypted partition without a passphrase.\n"
		     "This dump should be stored encrypted in a safe place.", opts->batch)) {
		print_aborted();
		return -EPERM;
	}
	snprintf(prompt, sizeof(prompt), "Enter passphrase for %s: ", opts->device);
	ret = volume_unlock_interactive(vol, opts, &opts->key, prompt, 1, opts->key_slot, &key);
	if (ret < 0)
		return ret;
	ret = dump_with_key(vol, key);
	udm_key_free(key);
	return ret;
}

int cmd_luks_dump(struct volume_options *opts)
{
	struct udm_error err = { .msg = "" };
	struct udm_volume *vol;
	int ret;

	if (opts->volume_key_file) {
		print_error("luksDump cannot write the volume key to --volume-key-file; use "
			    "--dump-volume-key to print it");
		return 1;
	}
	ret = volume_load(&vol, opts, false);
	if (ret)
		return volume_exit_status(ret);
	if (opts->dump_volume_key) {
		ret = dump_volume_key(vol, opts);
	} else {
		ret = udm_volume_dump(vol, stdout, NULL, opts->dump_json, &err);
		if (ret)
			print_library_error(&err, ret, "cannot dump the header of %s",
					    opts->device);
	}
	udm_volume_free(vol);
	return volume_exit_status(ret);
}

int cmd_is_luks(struct volume_options *opts)
{
	const char *path = opts->header ? opts->header : opts->device;
	struct udm_error err = { .msg = "" };
	struct udm_volume *vol = NULL;
	int ret;

	ret = device_check(path);
	if (ret)
		return volume_exit_status(ret);
	if (opts->type == UDM_VOLUME_PLAIN) {
		print_error("isLuks checks for LUKS headers only, not with --type plain");
		return 1;
	}
	/* Silent unless -v, so that scripts can test the exit status alone. */
	ret = udm_luks_load(&vol, path, opts->type, false, &err);
	if (ret && opts->verbose)
		print_library_error(&err, ret, "cannot read the LUKS header of %s", path);
	udm_volume_free(vol);
	return ret ? 1 : 0;
}

int cmd_luks_uuid(struct volume_options *opts)
{
	struct udm_error err = { .msg = "" };
	struct udm_volume *vol;
	int ret;

	ret = volume_load(&vol, opts, opts->uuid != NULL);
	if (ret)
		return volume_exit_status(ret);
	if (opts->uuid) {
		ret = udm_volume_set_uuid(vol, opts->uuid, &err);
		if (ret)
			print_library_error(&err, ret, "cannot set the UUID of %s", opts->device);
	} else {
		printf("%s\n", udm_volume_uuid(vol));
	}
	udm_volume_free(vol);
	return volume_exit_status(ret);
}

static int require_backup_file(const struct volume_options *opts)
{
	if (opts->header_backup_file)
		return 0;
	print_error("%s needs the option --header-backup-file FILE", opts->verb);
	return -EINVAL;
}

int cmd_header_backup(struct volume_options *opts)
{
	const char *path = opts->header ? opts->header : opts->device;
	struct udm_error err = { .msg = "" };
	struct stat st;
	int ret;

	ret = require_backup_file(opts);
	if (!ret)
		ret = device_check(path);
	if (ret)
		return volume_exit_status(ret);
	/* cryptsetup exits 1, not 5, for an existing backup file. */
	if (lstat(opts->header_backup_file, &st) == 0) {
		print_error("header backup file %s already exists", opts->header_backup_file);
		return 1;
	}
	ret = udm_luks_header_backup(path, opts->header_backup_file, &err);
	if (ret) {
		print_library_error(&err, ret, "cannot back up the header of %s", path);
		return ret == -EEXIST ? 1 : volume_exit_status(ret);
	}
	return 0;
}

/* Describes what restoring replaces, for the confirmation. */
static void restore_warning(const char *path, char *warning, size_t size)
{
	struct udm_error err = { .msg = "" };
	struct udm_volume *current = NULL;

	if (udm_luks_load(&current, path, UDM_VOLUME_ANY, false, &err) == 0) {
		snprintf(warning, size, "Device %s already contains LUKS%d header. "
			 "Replacing header will destroy existing keyslots.", path,
			 udm_volume_type(current) == UDM_VOLUME_LUKS1 ? 1 : 2);
		udm_volume_free(current);
	} else {
		snprintf(warning, size, "Device %s has no valid LUKS header. Writing the header "
			 "backup over it can destroy data on it.", path);
	}
}

int cmd_header_restore(struct volume_options *opts)
{
	const char *path = opts->header ? opts->header : opts->device;
	struct udm_error err = { .msg = "" };
	struct udm_volume *backup = NULL;
	char warning[2 * PATH_MAX];
	int fd, ret;

	ret = require_backup_file(opts);
	if (!ret)
		ret = device_check(path);
	if (ret)
		return volume_exit_status(ret);
	fd = open(opts->header_backup_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		print_error("cannot open header backup file %s: %s", opts->header_backup_file,
			    strerror(errno));
		return 1;
	}
	close(fd);
	if (udm_luks_load(&backup, opts->header_backup_file, UDM_VOLUME_ANY, false, &err)) {
		print_error("header backup file %s does not contain a valid LUKS header",
			    opts->header_backup_file);
		return 1;
	}
	udm_volume_free(backup);

	restore_warning(path, warning, sizeof(warning));
	if (!confirm(warning, opts->batch)) {
		print_aborted();
		return 1;
	}
	ret = udm_luks_header_restore(path, opts->header_backup_file, &err);
	if (ret) {
		print_library_error(&err, ret, "cannot restore the header of %s", path);
		return 1;
	}
	return 0;
}
