// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests of udm_key_read(): key files with offsets and sizes, from regular
 * files and pipes, the size limit, and lines as a passphrase is read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "udmcrypt.h"

/* Returns a pipe's read end after writing len bytes into it. */
static int pipe_with(const void *data, size_t len)
{
	int fds[2];

	if (pipe(fds))
		return -1;
	if (write(fds[1], data, len) != (ssize_t)len) {
		close(fds[0]);
		fds[0] = -1;
	}
	close(fds[1]);
	return fds[0];
}

/* Returns a regular file's descriptor, at offset 0, holding the data. */
static int file_with(const void *data, size_t len)
{
	char path[] = "/tmp/udmcrypt-keyread.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	if (write(fd, data, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET)) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool key_is(const struct udm_key *key, const char *text)
{
	size_t len = strlen(text);

	return key && key->size == len && !memcmp(key->data, text, len) && key->data[len] == 0;
}

/* Runs one read on a fresh file and on a fresh pipe with the same bytes. */
static void check_both(const char *name, const char *data, uint64_t offset, size_t size,
		       size_t max, unsigned flags, int expected_ret, const char *expected)
{
	for (int pass = 0; pass < 2; pass++) {
		int fd = pass ? pipe_with(data, strlen(data)) : file_with(data, strlen(data));
		struct udm_key *key = NULL;
		char full[160];
		int r;

		snprintf(full, sizeof(full), "%s, %s", name, pass ? "pipe" : "file");
		r = fd < 0 ? -EBADF : udm_key_read(&key, fd, offset, size, max, flags);
		if (expected_ret)
			test_result(full, r == expected_ret && !key, "returned %d, expected %d", r,
				    expected_ret);
		else
			test_result(full, r == 0 && key_is(key, expected),
				    "returned %d, key of %zu bytes", r, key ? key->size : 0);
		udm_key_free(key);
		if (fd >= 0)
			close(fd);
	}
}

/* A line read takes nothing after the newline, and a sized read takes
 * nothing after its size, so the rest stays for the next reader. */
static void test_rest_stays(void)
{
	struct udm_key *first = NULL, *second = NULL;
	int fd = pipe_with("one\ntwo", 7);
	int r1 = udm_key_read(&first, fd, 0, 0, 100, UDM_KEY_READ_LINE);
	int r2 = udm_key_read(&second, fd, 0, 0, 100, 0);

	test_result("line read leaves the rest", !r1 && !r2 && key_is(first, "one") &&
		    key_is(second, "two"), "returned %d and %d", r1, r2);
	udm_key_free(first);
	udm_key_free(second);
	close(fd);

	first = second = NULL;
	fd = pipe_with("abcdef", 6);
	r1 = udm_key_read(&first, fd, 0, 2, 100, 0);
	r2 = udm_key_read(&second, fd, 0, 0, 100, 0);
	test_result("sized read leaves the rest", !r1 && !r2 && key_is(first, "ab") &&
		    key_is(second, "cdef"), "returned %d and %d", r1, r2);
	udm_key_free(first);
	udm_key_free(second);
	close(fd);
}

int main(void)
{
	check_both("whole file", "secret\n", 0, 0, 100, 0, 0, "secret\n");
	check_both("offset and size", "JUNKsecretMORE", 4, 6, 100, 0, 0, "secret");
	check_both("offset at the end", "abc", 3, 0, 100, 0, 0, "");
	check_both("offset past the end", "abc", 4, 0, 100, 0, -ENODATA, NULL);
	check_both("size past the end", "abc", 1, 10, 100, 0, 0, "bc");
	check_both("file at the limit", "12345", 0, 0, 5, 0, 0, "12345");
	check_both("file over the limit", "123456", 0, 0, 5, 0, -EFBIG, NULL);
	check_both("size over the limit", "123456", 0, 6, 5, 0, 0, "123456");
	check_both("line without newline", "pass", 0, 0, 100, UDM_KEY_READ_LINE, 0, "pass");
	check_both("line drops the newline", "pass\nnext\n", 0, 0, 100, UDM_KEY_READ_LINE, 0,
		   "pass");
	check_both("empty line", "\n", 0, 0, 100, UDM_KEY_READ_LINE, 0, "");
	check_both("line of empty input", "", 0, 0, 100, UDM_KEY_READ_LINE, -ENODATA, NULL);
	check_both("line over the limit", "123456\n", 0, 0, 5, UDM_KEY_READ_LINE, -EFBIG, NULL);
	check_both("line after an offset", "xxpass\n", 2, 0, 100, UDM_KEY_READ_LINE, 0, "pass");
	test_rest_stays();
	return test_failures ? 1 : 0;
}
