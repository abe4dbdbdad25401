// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The udmcrypt-* parameters of the nbdkit filter, and the key files they
 * name. Key files follow cryptsetup 2.6 (cryptsetup(8), "NOTES ON
 * PASSPHRASE PROCESSING"): the whole file with no newline processing, or
 * --keyfile-size bytes after --keyfile-offset, at most 8 MiB. Secrets are
 * read with read(2) straight into locked memory; only file names are ever
 * printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nbdkit-filter.h>

#include "filter.h"

/* A table file contains a few lines; this limit only stops a wrong file early. */
#define TABLE_MAX (1024u * 1024u)
/* Default key size of plain mode in cryptsetup 2.6. */
#define PLAIN_KEY_BITS 256u

enum param_kind { PARAM_STRING, PARAM_HEADER, PARAM_TYPE, PARAM_BOOL, PARAM_U64, PARAM_SIZE,
		  PARAM_KEY_BITS, PARAM_SECTOR_SIZE };

struct param {
	const char *key;
	enum param_kind kind;
	size_t field;		/* offsetof in struct filter_options */
	bool plain_only;
};

#define FIELD(name) offsetof(struct filter_options, name)

static const struct param params[] = {
	{ "udmcrypt-table", PARAM_STRING, FIELD(table_file), false },
	{ "udmcrypt-type", PARAM_TYPE, FIELD(type_name), false },
	{ "udmcrypt-passphrase-file", PARAM_STRING, FIELD(passphrase_file), false },
	{ "udmcrypt-keyfile-offset", PARAM_U64, FIELD(keyfile_offset), false },
	{ "udmcrypt-keyfile-size", PARAM_SIZE, FIELD(keyfile_size), false },
	{ "udmcrypt-header", PARAM_HEADER, FIELD(header_file), false },
	{ "udmcrypt-readonly", PARAM_BOOL, FIELD(readonly), false },
	{ "udmcrypt-cipher", PARAM_STRING, FIELD(cipher), true },
	{ "udmcrypt-hash", PARAM_STRING, FIELD(hash), true },
	{ "udmcrypt-key-size", PARAM_KEY_BITS, FIELD(key_size_bits), true },
	{ "udmcrypt-offset", PARAM_U64, FIELD(offset), true },
	{ "udmcrypt-skip", PARAM_U64, FIELD(skip), true },
	{ "udmcrypt-size", PARAM_U64, FIELD(size), true },
	{ "udmcrypt-sector-size", PARAM_SECTOR_SIZE, FIELD(sector_size), true },
};

#define N_PARAMS (sizeof(params) / sizeof(params[0]))

/* Which parameters were given, to reject repeats. */
static bool seen[N_PARAMS];

static int set_type(struct filter_options *opts, const char *value)
{
	static const struct {
		const char *name;
		enum udm_volume_type type;
	} types[] = {
		{ "luks", UDM_VOLUME_ANY },
		{ "luks1", UDM_VOLUME_LUKS1 },
		{ "luks2", UDM_VOLUME_LUKS2 },
		{ "plain", UDM_VOLUME_PLAIN },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(value, types[i].name))
			continue;
		opts->type = types[i].type;
		opts->type_name = strdup(value);
		if (!opts->type_name) {
			nbdkit_error("cannot store parameter udmcrypt-type: %m");
			return -1;
		}
		return 0;
	}
	nbdkit_error("invalid udmcrypt-type '%s': accepted are luks, luks1, luks2 and plain",
		     value);
	return -1;
}

/* The header is read after nbdkit may have changed to "/", so keep it absolute. */
static int set_header(struct filter_options *opts, const char *value)
{
	opts->header_file = realpath(value, NULL);
	if (!opts->header_file) {
		nbdkit_error("cannot open udmcrypt-header file %s: %m", value);
		return -1;
	}
	return 0;
}

static int set_number(const struct param *p, void *field, const char *value)
{
	uint64_t number;
	unsigned bits, bytes;

	switch (p->kind) {
	case PARAM_U64:
		return nbdkit_parse_uint64_t(p->key, value, field);
	case PARAM_SIZE:
		if (nbdkit_parse_uint64_t(p->key, value, &number))
			return -1;
		if (!number || number > UDM_KEYFILE_MAX) {
			nbdkit_error("invalid %s %s: expected 1 to %u bytes", p->key, value,
				     UDM_KEYFILE_MAX);
			return -1;
		}
		*(size_t *)field = (size_t)number;
		return 0;
	case PARAM_KEY_BITS:
		if (nbdkit_parse_unsigned(p->key, value, &bits))
			return -1;
		if (!bits || bits % 8) {
			nbdkit_error("invalid %s %s: expected a positive number of bits divisible "
				     "by 8", p->key, value);
			return -1;
		}
		*(unsigned *)field = bits;
		return 0;
	case PARAM_SECTOR_SIZE:
		if (nbdkit_parse_unsigned(p->key, value, &bytes))
			return -1;
		if (bytes < 512 || bytes > 4096 || (bytes & (bytes - 1))) {
			nbdkit_error("invalid %s %s: accepted are 512, 1024, 2048 and 4096",
				     p->key, value);
			return -1;
		}
		*(unsigned *)field = bytes;
		return 0;
	default:
		return -1;
	}
}

static int set_value(struct filter_options *opts, const struct param *p, const char *value)
{
	void *field = (char *)opts + p->field;
	int flag;

	switch (p->kind) {
	case PARAM_STRING:
		*(char **)field = strdup(value);
		if (!*(char **)field) {
			nbdkit_error("cannot store parameter %s: %m", p->key);
			return -1;
		}
		return 0;
	case PARAM_HEADER:
		return set_header(opts, value);
	case PARAM_TYPE:
		return set_type(opts, value);
	case PARAM_BOOL:
		flag = nbdkit_parse_bool(value);
		if (flag < 0)
			return -1;
		*(bool *)field = flag;
		return 0;
	default:
		return set_number(p, field, value);
	}
}

int options_set(struct filter_options *opts, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < N_PARAMS; i++)
		if (!strcmp(key, params[i].key))
			break;
	if (i == N_PARAMS)
		return 1;
	if (seen[i]) {
		nbdkit_error("parameter %s is given twice", key);
		return -1;
	}
	if (!*value) {
		nbdkit_error("parameter %s has an empty value", key);
		return -1;
	}
	seen[i] = true;
	if (params[i].plain_only && !opts->plain_option)
		opts->plain_option = params[i].key;
	if (params[i].field == FIELD(keyfile_offset))
		opts->keyfile_offset_set = true;
	if (params[i].field == FIELD(keyfile_size))
		opts->keyfile_size_set = true;
	return set_value(opts, &params[i], value);
}

int options_check(const struct filter_options *opts)
{
	bool luks = opts->type_name && opts->type != UDM_VOLUME_PLAIN;

	if (!opts->table_file && !opts->type_name) {
		nbdkit_error("missing parameter: give udmcrypt-table=FILE, or "
			     "udmcrypt-type=luks|luks1|luks2|plain with udmcrypt-passphrase-file=FILE");
		return -1;
	}
	if (opts->table_file && opts->type_name) {
		nbdkit_error("parameters udmcrypt-table and udmcrypt-type cannot be used together: "
			     "a table file already contains the keys");
		return -1;
	}
	if (opts->table_file && opts->passphrase_file) {
		nbdkit_error("parameter udmcrypt-passphrase-file needs udmcrypt-type: a table file "
			     "contains the keys itself");
		return -1;
	}
	if (opts->type_name && !opts->passphrase_file) {
		nbdkit_error("parameter udmcrypt-type=%s needs udmcrypt-passphrase-file=FILE",
			     opts->type_name);
		return -1;
	}
	if ((opts->keyfile_offset_set || opts->keyfile_size_set) && !opts->passphrase_file) {
		nbdkit_error("parameters udmcrypt-keyfile-offset and udmcrypt-keyfile-size apply "
			     "only to udmcrypt-passphrase-file");
		return -1;
	}
	if (opts->header_file && !luks) {
		nbdkit_error("parameter udmcrypt-header applies only to LUKS volumes "
			     "(udmcrypt-type=luks, luks1 or luks2)");
		return -1;
	}
	if (opts->plain_option && opts->type != UDM_VOLUME_PLAIN) {
		nbdkit_error("parameter %s applies only to udmcrypt-type=plain", opts->plain_option);
		return -1;
	}
	if (opts->type == UDM_VOLUME_PLAIN && opts->keyfile_size_set && !opts->hash) {
		nbdkit_error("parameter udmcrypt-keyfile-size applies in plain mode only with "
			     "udmcrypt-hash: without it the key is the first udmcrypt-key-size bits "
			     "of the file");
		return -1;
	}
	return 0;
}

/*
 * Reads size bytes of path after offset, or with size 0 the rest of the
 * file, at most max bytes. kind names the file in messages.
 */
static struct udm_key *read_secret_file(const char *kind, const char *path, uint64_t offset,
					size_t size, size_t max)
{
	struct udm_key *key = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		nbdkit_error("cannot open %s %s: %m", kind, path);
		return NULL;
	}
	r = udm_key_read(&key, fd, offset, size, max, 0);
	close(fd);
	if (r == -ENODATA)
		nbdkit_error("cannot skip %llu bytes of %s %s: the file is shorter",
			     (unsigned long long)offset, kind, path);
	else if (r == -EFBIG)
		nbdkit_error("%s %s is larger than the maximum of %zu bytes", kind, path, max);
	else if (r < 0)
		nbdkit_error("cannot read %s %s: %s", kind, path, strerror(-r));
	else if (size && key->size < size)
		nbdkit_error("cannot read %zu bytes from %s %s: it has only %zu after the offset",
			     size, kind, path, key->size);
	else if (!key->size)
		nbdkit_error("%s %s is empty", kind, path);
	else
		return key;
	udm_key_free(key);
	return NULL;
}

int options_read_secret(const struct filter_options *opts, struct udm_key **secretp)
{
	unsigned key_bits = opts->key_size_bits ? opts->key_size_bits : PLAIN_KEY_BITS;

	if (opts->table_file) {
		*secretp = read_secret_file("table file", opts->table_file, 0, 0, TABLE_MAX);
		return *secretp ? 0 : -1;
	}
	/* cryptsetup reads a plain key file as the key itself, never hashed;
	 * only a passphrase (here: with udmcrypt-hash) is hashed. */
	if (opts->type == UDM_VOLUME_PLAIN && !opts->hash) {
		*secretp = read_secret_file("key file", opts->passphrase_file,
					    opts->keyfile_offset, key_bits / 8, UDM_KEYFILE_MAX);
		return *secretp ? 0 : -1;
	}
	*secretp = read_secret_file("passphrase file", opts->passphrase_file,
				    opts->keyfile_offset, opts->keyfile_size, UDM_KEYFILE_MAX);
	return *secretp ? 0 : -1;
}

void options_free(struct filter_options *opts)
{
	free(opts->table_file);
	free(opts->type_name);
	free(opts->passphrase_file);
	free(opts->header_file);
	free(opts->cipher);
	free(opts->hash);
	memset(opts, 0, sizeof(*opts));
	memset(seen, 0, sizeof(seen));
}
