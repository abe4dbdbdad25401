// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The table the nbdkit filter serves: a table file as given, a LUKS volume
 * unlocked with its passphrase, or a plain volume. The device field of every
 * crypt and linear target becomes PLUGIN_DEVICE, so that each connection
 * maps the table on its own plugin context.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <nbdkit-filter.h>

#include "filter.h"

/* A size stand-in for the plugin: a memfd file as large as the plugin. */
struct stand_in {
	int fd;
	char path[64];
};

/*
 * NOTE: udm_plain_table() and udm_volume_table() with a detached header
 * read the data device's size from a file path only. The filter hands them
 * a memfd as large as the plugin and replaces its path in the table (and in
 * error messages) with PLUGIN_DEVICE. No data is read from the memfd.
 */
static int stand_in_open(struct stand_in *s, const struct udm_blockdev *plugin)
{
	uint64_t bytes;
	int r = plugin->ops->get_size(plugin->ctx, &bytes);

	s->fd = -1;
	if (r) {
		nbdkit_error("cannot read the size of the plugin: %s", strerror(-r));
		return -1;
	}
	s->fd = memfd_create("udmcrypt-plugin-size", MFD_CLOEXEC);
	if (s->fd < 0 || ftruncate(s->fd, (off_t)bytes)) {
		nbdkit_error("cannot create a memfd of the plugin's size (%llu bytes): %m",
			     (unsigned long long)bytes);
		return -1;
	}
	snprintf(s->path, sizeof(s->path), "/proc/self/fd/%d", s->fd);
	return 0;
}

static void stand_in_close(struct stand_in *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Replaces the stand-in's path in a library message by PLUGIN_DEVICE. */
static const char *plugin_message(struct udm_error *err, const struct stand_in *s)
{
	char copy[UDM_ERROR_MAX];
	char *at;

	if (s->fd < 0 || !(at = strstr(err->msg, s->path)))
		return err->msg;
	snprintf(copy, sizeof(copy), "%.*s%s%s", (int)(at - err->msg), err->msg, PLUGIN_DEVICE,
		 at + strlen(s->path));
	memcpy(err->msg, copy, sizeof(copy));
	return err->msg;
}

/* Appends len bytes of text at out + *pos; the caller sized out. */
static void append(char *out, size_t *pos, const char *text, size_t len)
{
	memcpy(out + *pos, text, len);
	*pos += len;
}

/*
 * Copies table with the device field of every crypt line (the 7th field)
 * and linear line (the 4th) replaced by PLUGIN_DEVICE, and fields joined by
 * one space. Comment and blank lines stay as empty lines, so the library's
 * line numbers are those of the file. Returns locked memory or NULL.
 */
static char *rewrite_devices(const char *table)
{
	size_t len = strlen(table), lines = 1, cap, pos = 0;
	char *work, *out;

	for (const char *p = table; *p; p++)
		lines += *p == '\n';
	cap = len + lines * (sizeof(PLUGIN_DEVICE) + 1) + 1;
	work = udm_secure_alloc(len + 1);
	out = udm_secure_alloc(cap);
	if (!work || !out) {
		udm_secure_free(work);
		udm_secure_free(out);
		return NULL;
	}
	memcpy(work, table, len + 1);

	for (char *line = work, *next; line; line = next) {
		char *save = NULL, *field;
		int device_index = -1;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		field = strtok_r(line, " \t\r", &save);
		if (field && field[0] == '#')
			field = NULL;
		for (int i = 0; field; i++) {
			if (i == 2 && !strcmp(field, "crypt"))
				device_index = 6;
			else if (i == 2 && !strcmp(field, "linear"))
				device_index = 3;
			if (i)
				append(out, &pos, " ", 1);
			if (i == device_index)
				append(out, &pos, PLUGIN_DEVICE, strlen(PLUGIN_DEVICE));
			else
				append(out, &pos, field, strlen(field));
			field = strtok_r(NULL, " \t\r", &save);
		}
		append(out, &pos, "\n", 1);
	}
	out[pos] = '\0';
	udm_secure_free(work);
	return out;
}

static const char *volume_kind(enum udm_volume_type type)
{
	switch (type) {
	case UDM_VOLUME_LUKS1:
		return "LUKS1";
	case UDM_VOLUME_LUKS2:
		return "LUKS2";
	default:
		return "LUKS";
	}
}

static struct udm_volume *luks_load(const struct filter_options *opts,
				    const struct udm_blockdev *plugin)
{
	struct udm_error err = { .msg = "" };
	struct udm_volume *vol = NULL;
	char where[PATH_MAX + 32];
	int r;

	if (opts->header_file) {
		snprintf(where, sizeof(where), "in header file %s", opts->header_file);
		r = udm_luks_load(&vol, opts->header_file, opts->type, false, &err);
	} else {
		snprintf(where, sizeof(where), "on the plugin");
		r = udm_luks_load_blockdev(&vol, plugin, opts->type, false, &err);
	}
	if (r == -ENODEV)
		nbdkit_error("no %s header found %s", volume_kind(opts->type), where);
	else if (r)
		nbdkit_error("cannot load the %s header %s: %s", volume_kind(opts->type), where,
			     err.msg[0] ? err.msg : strerror(-r));
	return r ? NULL : vol;
}

static char *luks_table(const struct filter_options *opts, const struct udm_key *pass,
			const struct udm_blockdev *plugin)
{
	struct udm_error err = { .msg = "" };
	struct stand_in data = { .fd = -1 };
	struct udm_volume *vol = luks_load(opts, plugin);
	struct udm_key *key = NULL;
	char *table = NULL;
	int slot;

	if (!vol)
		return NULL;
	slot = udm_volume_unlock(vol, -1, (const char *)pass->data, pass->size, &key, &err);
	if (slot == -EPERM) {
		nbdkit_error("cannot unlock the %s volume: no key slot accepts the passphrase in %s",
			     volume_kind(udm_volume_type(vol)), opts->passphrase_file);
		goto out;
	}
	if (slot < 0) {
		nbdkit_error("cannot unlock the %s volume: %s", volume_kind(udm_volume_type(vol)),
			     err.msg[0] ? err.msg : strerror(-slot));
		goto out;
	}
	nbdkit_debug("udmcrypt: key slot %d unlocks the %s volume %s", slot,
		     volume_kind(udm_volume_type(vol)), udm_volume_uuid(vol));

	/* With a detached header the payload is on the plugin, whose size the
	 * library reads from a file path only. */
	if (opts->header_file && stand_in_open(&data, plugin))
		goto out;
	table = udm_volume_table(vol, key, opts->header_file ? data.path : plugin->name, &err);
	if (!table)
		nbdkit_error("cannot build the table of the %s volume: %s",
			     volume_kind(udm_volume_type(vol)), plugin_message(&err, &data));
out:
	stand_in_close(&data);
	udm_key_free(key);
	udm_volume_free(vol);
	return table;
}

/*
 * Without udmcrypt-hash the input is the key itself, as cryptsetup reads a
 * plain key file. With it the input is a passphrase, hashed as cryptsetup
 * hashes one read from standard input.
 */
static char *plain_build(const struct filter_options *opts, const struct udm_key *input,
			 const struct udm_blockdev *plugin)
{
	struct udm_plain_params params = {
		.cipher = opts->cipher,
		.hash = opts->hash ? opts->hash : "plain",
		.key_size = opts->key_size_bits / 8,
		.offset = opts->offset,
		.skip = opts->skip,
		.size = opts->size,
		.sector_size = opts->sector_size,
	};
	struct udm_error err = { .msg = "" };
	struct stand_in data;
	char *table;

	if (stand_in_open(&data, plugin)) {
		stand_in_close(&data);
		return NULL;
	}
	table = udm_plain_table(data.path, &params, (const char *)input->data, input->size, &err);
	if (!table)
		nbdkit_error("cannot build the plain table: %s", plugin_message(&err, &data));
	stand_in_close(&data);
	return table;
}

char *table_build(const struct filter_options *opts, const struct udm_key *secret,
		  const struct udm_blockdev *plugin)
{
	char *table = NULL, *served;

	if (opts->table_file && memchr(secret->data, '\0', secret->size)) {
		nbdkit_error("invalid table file %s: it contains a NUL byte", opts->table_file);
		return NULL;
	}
	if (opts->type == UDM_VOLUME_PLAIN)
		table = plain_build(opts, secret, plugin);
	else if (!opts->table_file)
		table = luks_table(opts, secret, plugin);
	if (!opts->table_file && !table)
		return NULL;

	served = rewrite_devices(table ? table : (const char *)secret->data);
	udm_secure_free(table);
	if (!served)
		nbdkit_error("cannot allocate locked memory for the table");
	return served;
}
