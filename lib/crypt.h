/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The crypt target: one "crypt" line of a device-mapper table, with the
 * semantics of the kernel's drivers/md/dm-crypt.c. Sectors are numbered in
 * 512-byte units from the start of the target, as the kernel numbers them.
 */
#ifndef UDM_CRYPT_H
#define UDM_CRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udmcrypt.h"

struct udm_crypt;

/* Arguments of a crypt line after "<start> <length> crypt". */
struct udm_crypt_args {
	const char *cipher;	/* cipher specification, legacy or "capi:" form */
	const char *key;	/* hex, or "-" for no key */
	uint64_t iv_offset;
	uint64_t length;	/* target length in 512-byte sectors */
	const char *const *options;	/* optional parameters */
	unsigned n_options;
};

/* Builds and keys a crypt target. Returns 0, -EINVAL with err set, -ENOTSUP
 * with err set for a kernel feature udmcrypt lacks, or -ENOMEM. */
int udm_crypt_new(struct udm_crypt **ccp, const struct udm_crypt_args *args,
		  struct udm_error *err);
void udm_crypt_free(struct udm_crypt *cc);

/* Encrypts (write) or decrypts len bytes in place; sector is the target's
 * 512-byte sector where data starts, aligned to the sector size, and len a
 * multiple of it. Safe to call from several threads at once. Returns 0 or
 * -EIO. */
int udm_crypt_convert(struct udm_crypt *cc, uint64_t sector, uint8_t *data, size_t len,
		      bool write);

/* As udm_crypt_convert, but reads src and writes dst, which are the same
 * buffer or do not overlap. Conversions of 128 KiB or more are split over
 * the worker threads. */
int udm_crypt_convert_to(struct udm_crypt *cc, uint64_t sector, const uint8_t *src,
			 uint8_t *dst, size_t len, bool write);

unsigned udm_crypt_sector_size(const struct udm_crypt *cc);
bool udm_crypt_allow_discards(const struct udm_crypt *cc);

/* Appends the crypt arguments in the kernel's table format ("cipher key
 * iv_offset", then the caller's device and offset, then the options) to the
 * two strings: head gets cipher, key and iv_offset; tail the options.
 * Returns malloc'ed strings (head in secure memory) or -ENOMEM. */
int udm_crypt_table_args(const struct udm_crypt *cc, bool show_keys, char **head, char **tail);

#endif
