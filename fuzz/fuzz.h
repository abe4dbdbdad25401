/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the libFuzzer harnesses: an in-memory backing device,
 * a log sink that drops every line, and the PBKDF cost ceilings that keep
 * one input to a few milliseconds.
 */
#ifndef UDM_FUZZ_H
#define UDM_FUZZ_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pbkdf.h"
#include "udmcrypt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * A backing device in memory: size bytes, of which the first len are data
 * and the rest read as zeros. Reads past size fail with -EIO, as a short
 * read of a file does in the library; writes go only to the data.
 */
struct memdev {
	uint8_t *data;
	size_t len;
	size_t size;
	bool writable;
};

static inline int memdev_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct memdev *m = ctx;
	size_t backed = 0;

	if (off > m->size || len > m->size - off)
		return -EIO;
	if (off < m->len) {
		backed = len < m->len - off ? len : m->len - (size_t)off;
		memcpy(buf, m->data + off, backed);
	}
	memset((uint8_t *)buf + backed, 0, len - backed);
	return 0;
}

static inline int memdev_pwrite(void *ctx, const void *buf, size_t len, uint64_t off)
{
	struct memdev *m = ctx;

	if (!m->writable)
		return -EROFS;
	if (off > m->len || len > m->len - off)
		return -ENOSPC;
	memcpy(m->data + off, buf, len);
	return 0;
}

static inline int memdev_flush(void *ctx)
{
	return 0;
}

static inline int memdev_discard(void *ctx, uint64_t off, uint64_t len)
{
	struct memdev *m = ctx;

	if (off > m->len || len > m->len - off)
		return -EINVAL;
	memset(m->data + off, 0, len);
	return 0;
}

static inline int memdev_get_size(void *ctx, uint64_t *bytes)
{
	*bytes = ((struct memdev *)ctx)->size;
	return 0;
}

static const struct udm_blockdev_ops memdev_ops = {
	.pread = memdev_pread,
	.pwrite = memdev_pwrite,
	.flush = memdev_flush,
	.discard = memdev_discard,
	.get_size = memdev_get_size,
};

static inline void fuzz_log_drop(enum udm_log_level level, const char *msg)
{
	(void)level;
	(void)msg;
}

/*
 * Routes the library's log to nowhere, but at debug level, so that every
 * message is still formatted. Lowers the PBKDF ceilings: a header may ask
 * for 2^32 PBKDF2 iterations or 4 GiB of Argon2 memory, which a real
 * unlock may take but a fuzzer cannot wait for.
 */
static inline void fuzz_setup(void)
{
	static const struct udm_pbkdf_limits limits = {
		.max_iterations = 20000,
		.max_time = 4,
		.max_memory_kb = 1024,
	};

	udm_set_log(fuzz_log_drop, UDM_LOG_DEBUG);
	udm_pbkdf_set_limits(&limits);
}

/* Copies data into a new NUL-terminated string; NULL on no memory. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
	}
	return text;
}

#endif /* UDM_FUZZ_H */
