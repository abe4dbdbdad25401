// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Table parsing: every kind of malformed table gets one error line naming
 * the field, no key in it, and the backing file stays as it was; valid
 * tables print back in the kernel's format.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "udmcrypt.h"

#define KEY32 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define KEY64 KEY32 KEY32

static char image[] = "/tmp/udm-table-XXXXXX";

struct bad_case {
	const char *name;
	const char *table;	/* IMG is replaced by the image path */
	const char *message;	/* a substring the error must contain */
	int error;		/* expected errno, 0 for any */
};

static const struct bad_case bad_cases[] = {
	{ "unknown cipher", "0 16 crypt foo-cbc-plain64 " KEY32 " 0 IMG 0", "unknown cipher 'foo'" },
	{ "unknown chain mode", "0 16 crypt aes-cfb-plain64 " KEY32 " 0 IMG 0",
	  "unknown chain mode 'cfb'" },
	{ "unknown IV generator", "0 16 crypt aes-cbc-bogus " KEY32 " 0 IMG 0",
	  "unknown IV generator 'bogus'" },
	{ "missing IV generator", "0 16 crypt aes-cbc " KEY32 " 0 IMG 0", "has no IV generator" },
	{ "essiv without hash", "0 16 crypt aes-cbc-essiv " KEY32 " 0 IMG 0", "needs a hash" },
	{ "unknown essiv hash", "0 16 crypt aes-cbc-essiv:nohash " KEY32 " 0 IMG 0",
	  "unknown ESSIV hash 'nohash'" },
	{ "wrong key length", "0 16 crypt aes-cbc-plain64 0011223344556677889900112233445566778899 "
	  "0 IMG 0", "invalid key length 20 bytes" },
	{ "xts odd key", "0 16 crypt aes-xts-plain64 " KEY32 "00 0 IMG 0", "invalid key length 33" },
	{ "odd hex key", "0 16 crypt aes-cbc-plain64 " KEY32 "0 0 IMG 0", "even number of hex" },
	{ "non-hex key", "0 16 crypt aes-cbc-plain64 zz112233445566778899aabbccddeeff 0 IMG 0",
	  "not hex digits" },
	{ "empty key for aes", "0 16 crypt aes-cbc-plain64 - 0 IMG 0", "invalid key length 0" },
	{ "keyring key", "0 16 crypt aes-cbc-plain64 :32:logon:foo 0 IMG 0", "kernel keyring" },
	{ "key count 3", "0 16 crypt aes:3-cbc-plain64 " KEY32 " 0 IMG 0", "invalid key count '3'" },
	{ "capi without prefix", "0 16 crypt cbc(aes)-plain64 " KEY32 " 0 IMG 0", "capi: prefix" },
	{ "capi nested", "0 16 crypt capi:essiv(cbc(aes),sha256)-plain64 " KEY32 " 0 IMG 0",
	  "MODE(CIPHER)" },
	{ "bad sector size", "0 16 crypt aes-cbc-plain64 " KEY32 " 0 IMG 0 1 sector_size:3000",
	  "invalid sector_size '3000'" },
	{ "length not multiple", "0 12 crypt aes-cbc-plain64 " KEY32 " 0 IMG 0 1 sector_size:4096",
	  "invalid length 12" },
	{ "iv_offset not multiple", "0 16 crypt aes-cbc-plain64 " KEY32 " 3 IMG 0 1 "
	  "sector_size:4096", "invalid iv_offset 3" },
	{ "iv_offset not a number", "0 16 crypt aes-cbc-plain64 " KEY32 " x1 IMG 0",
	  "invalid iv_offset 'x1'" },
	{ "unknown option", "0 16 crypt aes-cbc-plain64 " KEY32 " 0 IMG 0 1 turbo",
	  "unknown optional parameter 'turbo'" },
	{ "option count", "0 16 crypt aes-cbc-plain64 " KEY32 " 0 IMG 0 2 allow_discards",
	  "invalid number of optional parameters" },
	{ "integrity", "0 16 crypt aes-cbc-plain64 " KEY32 " 0 IMG 0 1 integrity:28:aead",
	  "dm-integrity is not supported", -ENOTSUP },
	{ "random IV", "0 16 crypt aes-cbc-random " KEY32 " 0 IMG 0", "needs dm-integrity" },
	{ "lmk large sectors", "0 16 crypt aes-cbc-lmk " KEY32 " 0 IMG 0 1 sector_size:4096",
	  "lmk works only with 512-byte sectors" },
	{ "too few crypt args", "0 16 crypt aes-cbc-plain64 " KEY32 " 0 IMG", "crypt needs" },
	{ "missing device", "0 16 crypt aes-cbc-plain64 " KEY32 " 0 /nonexistent/dev 0",
	  "cannot open device /nonexistent/dev", -ENOENT },
	{ "device too small", "0 8192 crypt aes-cbc-plain64 " KEY32 " 0 IMG 0", "too small",
	  -ENOSPC },
	{ "offset past device", "0 16 crypt aes-cbc-plain64 " KEY32 " 0 IMG 4090", "too small",
	  -ENOSPC },
	{ "gap", "0 16 zero\n32 16 zero", "gap in table" },
	{ "overlap", "0 16 zero\n8 16 zero", "targets overlap" },
	{ "first not at zero", "8 16 zero", "the first target must start at 0" },
	{ "key in cipher field", "0 16 crypt " KEY32 " aes-cbc-plain64 0 IMG 0",
	  "hex digits not shown" },
	{ "key in iv_offset field", "0 16 crypt aes-cbc-plain64 0 " KEY32 " IMG 0",
	  "hex digits not shown" },
	{ "lmk key too short", "0 16 crypt aes:64-cbc-lmk " KEY32 KEY32 " 0 IMG 0",
	  "split into 64 parts of 1 bytes" },
	{ "zero length", "0 0 zero", "invalid length '0'" },
	{ "bad start", "x 16 zero", "invalid start 'x'" },
	{ "unknown target", "0 16 mirror IMG 0", "unknown target type 'mirror'" },
	{ "linear args", "0 16 linear IMG", "linear needs" },
	{ "zero args", "0 16 zero IMG", "zero takes no arguments" },
	{ "empty table", "# nothing\n\n", "empty table" },
	{ "misaligned target", "0 4 zero\n4 16 crypt aes-cbc-plain64 " KEY32 " 0 IMG 0 1 "
	  "sector_size:4096", "not aligned" },
};

static void substitute(const char *table, char *out, size_t size)
{
	size_t pos = 0;

	for (const char *p = table; *p && pos + 1 < size; p++) {
		if (!strncmp(p, "IMG", 3)) {
			pos += (size_t)snprintf(out + pos, size - pos, "%s", image);
			p += 2;
		} else {
			out[pos++] = *p;
		}
	}
	out[pos] = '\0';
}

static void test_bad_tables(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct udm_device *dev = NULL;
		struct udm_error err = { { 0 } };
		char table[1024];
		int r;

		substitute(c->table, table, sizeof(table));
		r = udm_device_open(&dev, table, 0, &err);
		if (!r) {
			udm_device_close(dev);
			test_result(c->name, false, "table accepted");
			continue;
		}
		test_result(c->name, strstr(err.msg, c->message) && !strchr(err.msg, '\n') &&
			    !strstr(err.msg, "00112233445566778899") && (!c->error || r == c->error),
			    "got %d '%s', expected '%s'", r, err.msg, c->message);
	}
}

static void test_table_output(void)
{
	char table[1024], expected[1024];
	struct udm_device *dev = NULL;
	struct udm_error err;
	char *shown, *masked;
	int r;

	snprintf(table, sizeof(table), "0 8 zero\n8 16 crypt aes:2-xts-plain64 %s 8 %s 16 3 "
		 "sector_size:4096 allow_discards iv_large_sectors\n24 8 linear %s 0\n32 8 error\n",
		 KEY64 KEY64, image, image);
	r = udm_device_open(&dev, table, 0, &err);
	test_result("multi-target table opens", !r, "%s", err.msg);
	if (r)
		return;
	snprintf(expected, sizeof(expected), "0 8 zero\n8 16 crypt aes:2-xts-plain64 %s 8 %s 16 3 "
		 "allow_discards sector_size:4096 iv_large_sectors\n24 8 linear %s 0\n32 8 error\n",
		 KEY64 KEY64, image, image);
	shown = udm_device_table(dev, true);
	test_result("table with keys in kernel order", shown && !strcmp(shown, expected),
		    "got:\n%s", shown ? shown : "(null)");
	masked = udm_device_table(dev, false);
	test_result("table without keys masks them", masked && !strstr(masked, "0011223344") &&
		    strstr(masked, " 0000000000"), "got:\n%s", masked ? masked : "(null)");
	test_result("device size", udm_device_size(dev) == 40 * 512, "size %llu",
		    (unsigned long long)udm_device_size(dev));
	test_result("block size", udm_device_block_size(dev) == 4096, "block size %u",
		    udm_device_block_size(dev));

	uint8_t buf[4096];
	memset(buf, 0xff, sizeof(buf));
	r = udm_device_pread(dev, buf, 4096, 0);
	test_result("zero target reads zeros", !r && buf[0] == 0 && buf[4095] == 0, "r=%d", r);
	r = udm_device_pread(dev, buf, 512, 32 * 512);
	test_result("error target fails reads", r == -EIO, "r=%d", r);
	r = udm_device_pwrite(dev, buf, 512, 32 * 512);
	test_result("error target fails writes", r == -EIO, "r=%d", r);
	r = udm_device_pread(dev, buf, 16, 40 * 512);
	test_result("read past end", r == -EINVAL, "r=%d", r);

	udm_secure_free(shown);
	free(masked);
	udm_device_close(dev);
}

static void test_readonly(void)
{
	char table[512];
	struct udm_device *dev = NULL;
	struct udm_error err;
	uint8_t buf[512] = { 0 };
	int r;

	snprintf(table, sizeof(table), "0 16 crypt aes-cbc-essiv:sha256 %s 0 %s 0", KEY32, image);
	r = udm_device_open(&dev, table, UDM_OPEN_READONLY, &err);
	test_result("read-only open", !r, "%s", err.msg);
	if (r)
		return;
	r = udm_device_pwrite(dev, buf, sizeof(buf), 0);
	test_result("read-only write fails", r == -EROFS, "r=%d", r);
	r = udm_device_pread(dev, buf, sizeof(buf), 0);
	test_result("read-only read works", r == 0, "r=%d", r);
	udm_device_close(dev);
}

int main(void)
{
	int fd = mkstemp(image);

	if (fd < 0 || ftruncate(fd, 1024 * 1024 * 2))
		return 2;
	close(fd);
	udm_set_log(NULL, UDM_LOG_ERROR);

	test_bad_tables();
	test_table_output();
	test_readonly();

	unlink(image);
	return test_failures ? 1 : 0;
}
