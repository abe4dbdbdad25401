// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading key files, passphrases and tables into locked memory. The
 * buffer grows by doubling, and each larger copy is made before the old
 * one is wiped and freed. Apart from single bytes on the stack, which are
 * wiped, the secret only ever sits in memory from udm_secure_alloc.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secmem.h"

struct secure_buf {
	uint8_t *data;
	size_t len, cap;
};

static int buf_reserve(struct secure_buf *buf, size_t need)
{
	size_t cap = buf->cap ? buf->cap : 256;
	uint8_t *grown;

	if (need <= buf->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	grown = udm_secure_alloc(cap);
	if (!grown)
		return -ENOMEM;
	if (buf->len)
		memcpy(grown, buf->data, buf->len);
	udm_secure_free(buf->data);
	buf->data = grown;
	buf->cap = cap;
	return 0;
}

static ssize_t read_retry(int fd, void *data, size_t len)
{
	ssize_t got;

	do {
		got = read(fd, data, len);
	} while (got < 0 && errno == EINTR);
	return got < 0 ? -errno : got;
}

/* Skips offset bytes. Returns 0, -ENODATA when the input ends first, or a
 * negative errno. */
static int skip_bytes(int fd, uint64_t offset)
{
	uint8_t scratch[4096];
	struct stat st;
	ssize_t got = 0;

	if (!offset)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size < offset)
			return -ENODATA;
		return lseek(fd, (off_t)offset, SEEK_SET) < 0 ? -errno : 0;
	}
	while (offset) {
		got = read_retry(fd, scratch, offset < sizeof(scratch) ? (size_t)offset :
					      sizeof(scratch));
		if (got <= 0)
			break;
		offset -= (uint64_t)got;
	}
	udm_wipe(scratch, sizeof(scratch));
	if (got < 0)
		return (int)got;
	return offset ? -ENODATA : 0;
}

/* Reads up to limit bytes. Returns 0, -EFBIG when probe is set and more
 * bytes follow the limit, or a negative errno. */
static int read_bytes(int fd, struct secure_buf *buf, size_t limit, bool probe)
{
	uint8_t extra;
	ssize_t got;

	while (buf->len < limit) {
		size_t want = limit - buf->len < 65536 ? limit - buf->len : 65536;

		if (buf_reserve(buf, buf->len + want))
			return -ENOMEM;
		got = read_retry(fd, buf->data + buf->len, want);
		if (got <= 0)
			return (int)got;
		buf->len += (size_t)got;
	}
	if (!probe)
		return 0;
	got = read_retry(fd, &extra, 1);
	udm_wipe(&extra, sizeof(extra));
	if (got < 0)
		return (int)got;
	return got ? -EFBIG : 0;
}

/* Reads one byte at a time, so that nothing after the newline is taken
 * from a pipe or terminal that the caller reads again. */
static int read_line(int fd, struct secure_buf *buf, size_t max)
{
	bool any = false;
	uint8_t byte = 0;
	ssize_t got;
	int r;

	for (;;) {
		got = read_retry(fd, &byte, 1);
		if (got < 0) {
			r = (int)got;
			break;
		}
		if (got == 0) {
			/* Input that ends without a newline still ends the line. */
			r = any ? 0 : -ENODATA;
			break;
		}
		any = true;
		if (byte == '\n') {
			r = 0;
			break;
		}
		if (buf->len == max) {
			r = -EFBIG;
			break;
		}
		r = buf_reserve(buf, buf->len + 1);
		if (r)
			break;
		buf->data[buf->len++] = byte;
	}
	udm_wipe(&byte, sizeof(byte));
	return r;
}

int udm_key_read(struct udm_key **keyp, int fd, uint64_t offset, size_t size, size_t max,
		 unsigned flags)
{
	struct secure_buf buf = { NULL, 0, 0 };
	size_t limit = size ? size : max;
	int r;

	*keyp = NULL;
	r = skip_bytes(fd, offset);
	if (!r)
		r = flags & UDM_KEY_READ_LINE ? read_line(fd, &buf, limit) :
						read_bytes(fd, &buf, limit, !size);
	if (!r) {
		*keyp = udm_key_new(buf.len + 1);
		if (*keyp) {
			if (buf.len)
				memcpy((*keyp)->data, buf.data, buf.len);
			(*keyp)->size = buf.len;
		} else {
			r = -ENOMEM;
		}
	}
	udm_secure_free(buf.data);
	return r;
}
