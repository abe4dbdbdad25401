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
 * accepted; it never contains key material.
 */
#ifndef UDMCRYPT_H
#define UDMCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UDM_ERROR_MAX 512

struct udm_error {
	char msg[UDM_ERROR_MAX];
};

/* Logging. The library prints nothing unless a level is set; keys never
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
 * Parses table (NUL-terminated, one target per line, '#' comments and blank
 * lines skipped), opens the backing devices and keys the ciphers. The table
 * text is not modified; the caller should wipe it after the call, since it
 * holds keys. On success *devp owns everything it needs.
 * Returns 0, -EINVAL for a malformed table (err says which field), -ENOENT or
 * another errno for a backing device that cannot be opened, -ENOSPC for a
 * backing device too small for its target, -ENOTSUP for a valid but
 * unsupported feature.
 */
int udm_device_open(struct udm_device **devp, const char *table, unsigned flags,
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

#endif /* UDMCRYPT_H */
