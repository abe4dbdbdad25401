/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * On-disk volume formats behind struct udm_volume: each format (LUKS1,
 * LUKS2) provides a const ops table, picked by the version in the header.
 */
#ifndef UDM_VOLUME_INTERNAL_H
#define UDM_VOLUME_INTERNAL_H

#include "io.h"
#include "udmcrypt.h"

#define LUKS_MAGIC "LUKS\xba\xbe"
#define LUKS_MAGIC_LEN 6
#define LUKS2_MAGIC_2ND "SKUL\xba\xbe"

struct udm_volume;

struct volume_ops {
	enum udm_volume_type type;
	const char *name;	/* "LUKS1" */

	/* Writes a new header through fd (open read-write on path). */
	int (*format)(struct udm_volume *vol, const struct udm_format_params *params,
		      const char *pass, size_t pass_len, struct udm_error *err);
	/* Reads and validates the header from vol->fd; fills vol->uuid. */
	int (*load)(struct udm_volume *vol, struct udm_error *err);
	/* Frees vol->priv, wiping key material. Takes a half-loaded volume. */
	void (*destroy)(struct udm_volume *vol);

	int (*unlock)(struct udm_volume *vol, int keyslot, const char *pass, size_t pass_len,
		      struct udm_key **keyp, struct udm_error *err);
	int (*verify_key)(struct udm_volume *vol, const struct udm_key *key);
	/* The crypt table for the payload of data_path; size in 512-byte
	 * sectors of data_path. */
	char *(*table)(struct udm_volume *vol, const struct udm_key *key, const char *data_path,
		       uint64_t data_sectors, struct udm_error *err);

	int (*add_key)(struct udm_volume *vol, int keyslot, const struct udm_key *key,
		       const char *pass, size_t pass_len, const struct udm_pbkdf_params *pbkdf,
		       struct udm_error *err);
	int (*kill_slot)(struct udm_volume *vol, int keyslot, struct udm_error *err);
	int (*keyslot_count)(const struct udm_volume *vol);
	bool (*keyslot_active)(const struct udm_volume *vol, int keyslot);
	int (*set_uuid)(struct udm_volume *vol, const char *uuid, struct udm_error *err);
	int (*dump)(struct udm_volume *vol, FILE *out, const struct udm_key *key, bool json_only,
		    struct udm_error *err);
	/* Bytes from the start of the device that hold the header and the key
	 * slots: what a header backup copies. */
	uint64_t (*header_size)(const struct udm_volume *vol);
};

struct udm_volume {
	const struct volume_ops *ops;
	char *path;		/* the header's file or device, or the blockdev's name */
	int fd;			/* -1 when the header is on a blockdev */
	const struct udm_blockdev *blockdev;
	bool writable;
	char uuid[40];		/* canonical text form, NUL-terminated */
	void *priv;		/* the format's own state */
};

extern const struct volume_ops udm_luks1_ops;
extern const struct volume_ops udm_luks2_ops;

/* Fills uuid (37 bytes with the NUL) with a random version 4 UUID. */
int udm_uuid_generate(char *uuid);
/* Checks the canonical 8-4-4-4-12 hex form. */
bool udm_uuid_valid(const char *uuid);


/* I/O on the volume's header device, a file or a blockdev: 0 or -errno. */
int udm_volume_read(const struct udm_volume *vol, void *buf, size_t len, uint64_t off);
int udm_volume_write(const struct udm_volume *vol, const void *buf, size_t len, uint64_t off);
int udm_volume_size(const struct udm_volume *vol, uint64_t *bytes);
int udm_volume_sync(const struct udm_volume *vol);
/* Whether data_path is the device that contains the volume's header, so
 * that a payload there must start after the header and key slots. */
bool udm_volume_same_device(const struct udm_volume *vol, const char *data_path);


/* Fills buf with bytes from the system's random generator. */
int udm_random_bytes(void *buf, size_t len);

/* Fills in the defaults of cryptsetup 2.6 for a new key slot's PBKDF and
 * runs the benchmark unless force_iterations is set. */
struct udm_pbkdf;
int udm_pbkdf_from_params(struct udm_pbkdf *out, const struct udm_pbkdf_params *params,
			  enum udm_volume_type type, size_t key_len, struct udm_error *err);

#endif
