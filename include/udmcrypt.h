/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * udmcrypt: the public interface of the core library.
 *
 * A mapped device is built from a device-mapper table, the text that
 * "dmsetup create" reads: one line per target, "crypt", "linear", "zero" or
 * "error". Reads and writes go to the backing devices through the targets,
 * encrypted as the Linux dm-crypt target does.
 *
 * Errors: every function returns 0 (or a count) on success and a negative
 * errno on failure. Functions that parse input also take a struct udm_error,
 * which receives one line for the user naming the field at fault and what is
 * accepted. It never contains key material.
 */
#ifndef UDMCRYPT_H
#define UDMCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define UDM_ERROR_MAX 512

struct udm_error {
	char msg[UDM_ERROR_MAX];
};

/* Logging. By default warnings and errors go to standard error; keys never
 * appear in log lines. */
enum udm_log_level {
	UDM_LOG_ERROR = 0,
	UDM_LOG_WARN = 1,
	UDM_LOG_INFO = 2,
	UDM_LOG_DEBUG = 3,
};
typedef void (*udm_log_fn)(enum udm_log_level level, const char *msg);
/* Sets the sink and the most verbose level passed to it; NULL means stderr. */
void udm_set_log(udm_log_fn fn, enum udm_log_level max_level);

/* Flags for udm_device_open(). */
#define UDM_OPEN_READONLY 0x1u

struct udm_device;

/*
 * A backing device that is not a file, such as the plugin below an nbdkit
 * filter. Tables and volumes refer to it by name in their device field.
 * Each operation returns 0 or a negative errno; discard may be NULL.
 */
struct udm_blockdev_ops {
	int (*pread)(void *ctx, void *buf, size_t len, uint64_t off);
	int (*pwrite)(void *ctx, const void *buf, size_t len, uint64_t off);
	int (*flush)(void *ctx);
	int (*discard)(void *ctx, uint64_t off, uint64_t len);
	int (*get_size)(void *ctx, uint64_t *bytes);
};

struct udm_blockdev {
	const char *name;
	const struct udm_blockdev_ops *ops;
	void *ctx;
};

/*
 * Parses table (NUL-terminated, one target per line, '#' comments and blank
 * lines skipped), opens the backing devices and keys the ciphers. The table
 * text is not modified. The caller should wipe it after the call, because it
 * contains keys. On success *devp owns everything it needs.
 * Returns 0, -EINVAL for a malformed table (err names the field), -ENOENT or
 * another errno for a backing device that cannot be opened, -ENOSPC for a
 * backing device too small for its target, -ENOTSUP for a valid but
 * unsupported feature.
 */
int udm_device_open(struct udm_device **devp, const char *table, unsigned flags,
		    struct udm_error *err);

/* As udm_device_open, but a device field equal to the name of one of the
 * n_blockdevs blockdevs uses it instead of a file. The blockdevs must
 * outlive the device. */
int udm_device_open_with(struct udm_device **devp, const char *table, unsigned flags,
			 const struct udm_blockdev *blockdevs, unsigned n_blockdevs,
			 struct udm_error *err);

/* Closes the backing devices and wipes all key material. Takes NULL. */
void udm_device_close(struct udm_device *dev);

/* Size of the mapped device in bytes. */
uint64_t udm_device_size(const struct udm_device *dev);

/* Largest encryption sector size of any target: the device's logical block
 * size, as the kernel reports it for the dm device. */
unsigned udm_device_block_size(const struct udm_device *dev);

bool udm_device_readonly(const struct udm_device *dev);

/*
 * Reads or writes len bytes at byte offset off; any offset and length within
 * the device. Partial encryption sectors are read, decrypted, modified,
 * encrypted and written back, under a lock for that sector. Safe to call from
 * several threads at once. Returns 0 or a negative errno: -EIO for an error
 * target or a failed backing read or write, -EROFS on a read-only device,
 * -EINVAL past the end.
 */
int udm_device_pread(struct udm_device *dev, void *buf, size_t len, uint64_t off);
int udm_device_pwrite(struct udm_device *dev, const void *buf, size_t len, uint64_t off);

/* Flushes every backing device (fsync). */
int udm_device_flush(struct udm_device *dev);

/*
 * Discards a byte range, as the kernel's dm device would: punches holes in
 * the backing files of crypt and linear targets (whole encryption sectors
 * only). A discarded sector reads back as undefined data, as in dm-crypt.
 * Returns 0, -EOPNOTSUPP when a crypt target lacks allow_discards (the
 * kernel then does not offer discards for the device), or a negative errno.
 */
bool udm_device_supports_discard(const struct udm_device *dev);
int udm_device_discard(struct udm_device *dev, uint64_t off, uint64_t len);

/*
 * Prints the table in the format "dmsetup table" uses. Keys are shown as hex
 * only with show_keys; otherwise each key is replaced by zeros of the same
 * length, as cryptsetup does without --showkeys. Returns a malloc'ed string
 * (in locked memory when show_keys is set: free it with udm_secure_free) or
 * NULL on no memory.
 */
char *udm_device_table(const struct udm_device *dev, bool show_keys);

/* One line per target for "status": start, length, target type and the
 * target's state. Returns a malloc'ed string or NULL on no memory. */
char *udm_device_status(const struct udm_device *dev);

/*
 * Memory for secrets: locked in RAM, excluded from core dumps, wiped on free.
 * udm_secure_alloc returns zeroed memory or NULL; udm_secure_free takes NULL.
 */
void *udm_secure_alloc(size_t size);
void udm_secure_free(void *ptr);

/*
 * Volumes: LUKS1, LUKS2 and plain dm-crypt, as cryptsetup 2.6 reads and
 * writes them. A struct udm_volume is a header read into memory; unlocking
 * it yields the volume key, from which udm_volume_table() builds the crypt
 * table that udm_device_open() maps.
 *
 * Errors beyond the device ones: -ENODEV for a device without a LUKS header
 * (of the requested type), -EINVAL for a damaged or invalid header (err
 * names the field), -EPERM for a wrong passphrase or key after every
 * candidate key slot was tried, -ENOTSUP for a header requirement or cipher
 * udmcrypt does not implement, -ENOENT for an inactive or missing key slot.
 * Writers never leave a volume that opens with neither the old nor the new
 * passphrase; a refused operation writes nothing.
 */

enum udm_volume_type {
	UDM_VOLUME_ANY = 0,	/* probe: LUKS1, then LUKS2 */
	UDM_VOLUME_LUKS1 = 1,
	UDM_VOLUME_LUKS2 = 2,
	UDM_VOLUME_PLAIN = 3,
};

/* A key in secure memory: udm_key_new zeroes it, udm_key_free wipes it. */
struct udm_key {
	size_t size;
	uint8_t data[];
};
struct udm_key *udm_key_new(size_t size);
void udm_key_free(struct udm_key *key);

/* cryptsetup 2.6's default maximum size of a key file: 8 MiB. */
#define UDM_KEYFILE_MAX (8192u * 1024u)

/* Flag of udm_key_read(): stop at the first newline, which is dropped. */
#define UDM_KEY_READ_LINE 0x1u

/*
 * Reads a secret from fd into a new key, as cryptsetup reads a key file or a
 * passphrase: skips offset bytes (lseek(2) on a regular file, reading on a
 * pipe or terminal), then reads size bytes, or with size 0 up to the end of
 * the input (or of the line), at most max bytes. Bytes go straight from
 * read(2) into locked memory. A NUL byte follows the key's data, so a text
 * secret is also a C string.
 * Returns 0, with key->size below size when the input ended first;
 * -ENODATA when the input ends within the offset or, for a line, before
 * any byte; -EFBIG when size is 0 and more than max bytes follow; -ENOMEM,
 * or the errno of a failed read.
 */
int udm_key_read(struct udm_key **keyp, int fd, uint64_t offset, size_t size, size_t max,
		 unsigned flags);

/* PBKDF costs of a new key slot. Zero fields take cryptsetup 2.6 defaults
 * ("argon2id", sha256, 2000 ms, 1 GiB capped at half of RAM, 4 threads
 * capped at the CPU count). force_iterations skips the benchmark. */
struct udm_pbkdf_params {
	const char *type;	/* "pbkdf2", "argon2i", "argon2id" */
	const char *hash;	/* PBKDF2 hash, default "sha256" */
	unsigned iter_time_ms;
	unsigned memory_kb;
	unsigned parallel;
	unsigned force_iterations;
};

struct udm_format_params {
	enum udm_volume_type type;	/* LUKS1 or LUKS2 (default LUKS2) */
	const char *cipher;		/* "aes" */
	const char *cipher_mode;	/* "xts-plain64" */
	unsigned key_size;		/* volume key bytes, default 64 */
	const char *hash;		/* LUKS1 header hash, LUKS2 digest hash */
	unsigned sector_size;		/* LUKS2 encryption sector, default 512 or 4096 */
	uint64_t data_offset;		/* payload start in 512-byte sectors, 0: default */
	bool detached_header;		/* the header file holds no payload: data_offset
					 * counts on the data device, default 0 */
	uint64_t metadata_size;		/* LUKS2 header area bytes, 0: 16 KiB */
	uint64_t keyslots_size;		/* LUKS2 key slot area bytes, 0: default */
	const char *label;		/* LUKS2 */
	const char *subsystem;		/* LUKS2 */
	const char *uuid;		/* NULL: random */
	int keyslot;			/* -1: the first free one */
	const struct udm_key *volume_key;	/* NULL: random */
	struct udm_pbkdf_params pbkdf;
};

struct udm_volume;

/*
 * Writes a new LUKS header to header_path (the device itself, or a detached
 * header file, created when missing) with one key slot for the passphrase. Returns 0 or a
 * negative errno; *volp (when not NULL) gets the loaded volume.
 */
int udm_luks_format(const char *header_path, const struct udm_format_params *params,
		    const char *pass, size_t pass_len, struct udm_volume **volp,
		    struct udm_error *err);

/* Reads and checks a LUKS header. type UDM_VOLUME_ANY probes. Opens the file
 * read-only unless writable is set (needed for key slot changes). */
int udm_luks_load(struct udm_volume **volp, const char *header_path, enum udm_volume_type type,
		  bool writable, struct udm_error *err);
void udm_volume_free(struct udm_volume *vol);

/* As udm_luks_load, reading the header from a blockdev, which must outlive
 * the volume. udm_volume_table() then takes the blockdev's name as its
 * data_path when the payload is on the same blockdev. */
int udm_luks_load_blockdev(struct udm_volume **volp, const struct udm_blockdev *blockdev,
			   enum udm_volume_type type, bool writable, struct udm_error *err);

enum udm_volume_type udm_volume_type(const struct udm_volume *vol);
const char *udm_volume_uuid(const struct udm_volume *vol);

/*
 * Unlocks with a passphrase: keyslot -1 tries every active slot (LUKS2 in
 * priority order, skipping those marked "ignore"). Returns the slot number
 * and sets *keyp, or -EPERM when no slot accepts the passphrase.
 */
int udm_volume_unlock(struct udm_volume *vol, int keyslot, const char *pass, size_t pass_len,
		      struct udm_key **keyp, struct udm_error *err);

/* Checks a volume key against the header's digest: 0 or -EPERM. */
int udm_volume_verify_key(struct udm_volume *vol, const struct udm_key *key);

/*
 * Builds the crypt table that maps the payload of data_path (the device,
 * which may differ from the header) with key. Returns the table in secure
 * memory (free with udm_secure_free), or NULL with err set.
 */
char *udm_volume_table(struct udm_volume *vol, const struct udm_key *key, const char *data_path,
		       struct udm_error *err);

/* Adds a key slot for pass holding key; keyslot -1 picks the first free.
 * Returns the slot number or a negative errno. */
int udm_volume_add_key(struct udm_volume *vol, int keyslot, const struct udm_key *key,
		       const char *pass, size_t pass_len, const struct udm_pbkdf_params *pbkdf,
		       struct udm_error *err);

/* Wipes a key slot's key material and marks it inactive. */
int udm_volume_kill_slot(struct udm_volume *vol, int keyslot, struct udm_error *err);

/* Number of key slots, and whether one is active. */
int udm_volume_keyslot_count(const struct udm_volume *vol);
bool udm_volume_keyslot_active(const struct udm_volume *vol, int keyslot);

/* Sets a new UUID (NULL: random) and writes the header. */
int udm_volume_set_uuid(struct udm_volume *vol, const char *uuid, struct udm_error *err);

/* Prints the header as cryptsetup luksDump does; with key, the volume key
 * section of --dump-volume-key instead; with json_only, the LUKS2 JSON area
 * only. */
int udm_volume_dump(struct udm_volume *vol, FILE *out, const struct udm_key *key,
		    bool json_only, struct udm_error *err);

/* Copies the header (binary areas and key slots) of header_path to a new
 * file backup_path (mode 0600, never overwriting), or back: restore checks
 * that backup_path is a valid LUKS header of the same type, UUID and size
 * before writing anything. */
int udm_luks_header_backup(const char *header_path, const char *backup_path,
			   struct udm_error *err);
int udm_luks_header_restore(const char *header_path, const char *backup_path,
			    struct udm_error *err);

/* Plain dm-crypt, as cryptsetup open --type plain: the key is the
 * passphrase hashed with hash ("plain" copies it; "sha256:32" gives the
 * key length in bytes). offset and skip are 512-byte sectors; size 0 maps
 * to the end of the device. Returns the table in secure memory or NULL. */
struct udm_plain_params {
	const char *cipher;	/* default "aes-cbc-essiv:sha256" */
	const char *hash;	/* default "ripemd160" */
	unsigned key_size;	/* bytes, default 32 */
	uint64_t offset, skip, size;
	unsigned sector_size;
};
char *udm_plain_table(const char *data_path, const struct udm_plain_params *params,
		      const char *pass, size_t pass_len, struct udm_error *err);

#endif /* UDMCRYPT_H */
