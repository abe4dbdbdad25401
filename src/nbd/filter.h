/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The udmcrypt nbdkit filter: its options, the secrets read at startup and
 * the crypt table built from them. filter.c is the nbdkit glue; options.c
 * parses the key=value parameters and reads the key files; table.c turns a
 * table file, a LUKS header or plain options into the table that every
 * connection maps on the plugin.
 */
#ifndef UDMCRYPT_NBD_FILTER_H
#define UDMCRYPT_NBD_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udmcrypt.h"

/* Every device field of the table served names the plugin by this word. */
#define PLUGIN_DEVICE "plugin"

/* The filter's parameters, as given after the filter on nbdkit's command
 * line. Strings are malloc'ed; paths are as given, except header_file,
 * which is absolute because nbdkit may change directory before it is read. */
struct filter_options {
	char *table_file;		/* udmcrypt-table */
	char *type_name;		/* udmcrypt-type as given, for messages */
	enum udm_volume_type type;	/* UDM_VOLUME_ANY for "luks" */
	char *passphrase_file;		/* udmcrypt-passphrase-file */
	uint64_t keyfile_offset;	/* bytes skipped at the start of the file */
	size_t keyfile_size;		/* bytes read; 0 reads the whole file */
	bool keyfile_offset_set, keyfile_size_set;
	char *header_file;		/* udmcrypt-header: detached LUKS header */
	bool readonly;			/* udmcrypt-readonly */
	/* Plain mode: udmcrypt-cipher, -hash, -key-size (bits), -offset,
	 * -skip, -size (512-byte sectors) and -sector-size (bytes). */
	char *cipher, *hash;
	unsigned key_size_bits;
	uint64_t offset, skip, size;
	unsigned sector_size;
	const char *plain_option;	/* the first plain option given, or NULL */
};

/* options.c */

/*
 * Stores one udmcrypt-* parameter in opts. Returns 1 when key is not one of
 * the filter's (it belongs to the plugin), 0 when stored, or -1 after
 * nbdkit_error for an invalid or repeated value.
 */
int options_set(struct filter_options *opts, const char *key, const char *value);

/* Checks that the parameters fit together. Returns 0 or -1 after nbdkit_error. */
int options_check(const struct filter_options *opts);

/*
 * Reads the secret input that opts names into *secretp, in locked memory:
 * the table file, or the passphrase or key file with the offset and size
 * of cryptsetup's --keyfile-offset and --keyfile-size. Returns 0 or -1
 * after nbdkit_error naming the file.
 */
int options_read_secret(const struct filter_options *opts, struct udm_key **secretp);

/* Frees the strings of opts and zeroes it. */
void options_free(struct filter_options *opts);

/* table.c */

/*
 * Builds the table to serve, in udm_secure_alloc memory, with every device
 * field set to PLUGIN_DEVICE: from the table file in secret, or by
 * unlocking the LUKS volume (its header on plugin, or in opts->header_file)
 * or hashing the plain passphrase. Runs the PBKDF of a LUKS key slot, which
 * may take seconds. plugin must be usable until the call returns. Returns
 * NULL after nbdkit_error.
 */
char *table_build(const struct filter_options *opts, const struct udm_key *secret,
		  const struct udm_blockdev *plugin);

#endif /* UDMCRYPT_NBD_FILTER_H */
