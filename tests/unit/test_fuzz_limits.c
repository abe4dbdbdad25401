// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Limits that the fuzz harnesses rely on or that their findings added.
 * PBKDF cost ceilings stop a header from making an unlock run for hours or
 * allocate more memory than allowed. Argon2 lanes beyond the thread cap
 * give the same key. Plain mode checks its sector size and offset.
 */
#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pbkdf.h"
#include "test.h"
#include "udmcrypt.h"

static char dir[] = "/tmp/udm-fuzz-limits-XXXXXX";

static const struct udm_pbkdf_limits default_limits = {
	.max_iterations = UINT32_MAX,
	.max_time = UINT32_MAX,
	.max_memory_kb = UDM_ARGON2_MAX_MEMORY_KB,
};

static void make_file(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || ftruncate(fd, size))
		perror(path);
	if (fd >= 0)
		close(fd);
}

static void test_derive_limits(void)
{
	struct udm_pbkdf pbkdf2 = { .type = "pbkdf2", .hash = "sha256", .iterations = 1000 };
	struct udm_pbkdf argon = { .type = "argon2id", .iterations = 4, .memory_kb = 64,
				   .parallel = 1 };
	static const uint8_t salt[32];
	struct udm_error err = { .msg = "" };
	uint8_t out[32];
	int r;

	udm_pbkdf_set_limits(&(struct udm_pbkdf_limits){ 999, 3, 32 });
	r = udm_pbkdf_derive(&pbkdf2, "pw", 2, salt, sizeof(salt), out, sizeof(out));
	test_result("pbkdf2 above iteration limit", r == -E2BIG, "got %d", r);
	r = udm_pbkdf_check_limits(&pbkdf2, "key slot 3", &err);
	test_result("pbkdf2 limit message", r == -E2BIG && !strcmp(err.msg,
		    "key slot 3: PBKDF2 iteration count 1000 is above the limit of 999"),
		    "%d '%s'", r, err.msg);
	r = udm_pbkdf_derive(&argon, "pw", 2, salt, sizeof(salt), out, sizeof(out));
	test_result("argon2 above time limit", r == -E2BIG, "got %d", r);
	argon.iterations = 3;
	r = udm_pbkdf_check_limits(&argon, "key slot 0", &err);
	test_result("argon2 memory limit message", r == -E2BIG && !strcmp(err.msg,
		    "key slot 0: Argon2 memory cost 64 KiB is above the limit of 32 KiB"),
		    "%d '%s'", r, err.msg);

	udm_pbkdf_set_limits(&default_limits);
	argon.memory_kb = UDM_ARGON2_MAX_MEMORY_KB + 1;
	r = udm_pbkdf_derive(&argon, "pw", 2, salt, sizeof(salt), out, sizeof(out));
	test_result("argon2 memory above 4 GiB by default", r == -E2BIG, "got %d", r);
}

/* Lanes beyond UDM_ARGON2_MAX_PARALLEL run on fewer threads and give the
 * key that libargon2 computes with one thread per lane. */
static void test_argon2_many_lanes(void)
{
	struct udm_pbkdf argon = { .type = "argon2id", .iterations = 1, .memory_kb = 8 * 64,
				   .parallel = 64 };
	static const uint8_t salt[16] = { 1, 2, 3 };
	uint8_t out[32], expected[32];
	int r, ref;

	r = udm_pbkdf_derive(&argon, "pw", 2, salt, sizeof(salt), out, sizeof(out));
	ref = argon2id_hash_raw(1, 8 * 64, 64, "pw", 2, salt, sizeof(salt), expected,
				sizeof(expected));
	test_result("argon2 with 64 lanes", !r && ref == ARGON2_OK &&
		    !memcmp(out, expected, sizeof(out)), "derive %d, reference %d", r, ref);
}

static void test_unlock_limits(enum udm_volume_type type, const char *name,
			       const char *expected)
{
	struct udm_format_params params = {
		.type = type,
		.keyslot = -1,
		.pbkdf = { .type = "pbkdf2", .force_iterations = 1000 },
	};
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	struct udm_error err = { .msg = "" };
	char path[256], test[64];
	int r;

	snprintf(path, sizeof(path), "%s/%s.img", dir, name);
	make_file(path, 32 << 20);
	r = udm_luks_format(path, &params, "pw", 2, &vol, &err);
	snprintf(test, sizeof(test), "format %s", name);
	test_result(test, !r, "%d %s", r, err.msg);
	if (r)
		return;
	udm_pbkdf_set_limits(&(struct udm_pbkdf_limits){ 999, 4, 1024 });
	r = udm_volume_unlock(vol, -1, "pw", 2, &key, &err);
	udm_pbkdf_set_limits(&default_limits);
	snprintf(test, sizeof(test), "%s unlock above the limit", name);
	test_result(test, r == -E2BIG, "got %d '%s'", r, err.msg);
	snprintf(test, sizeof(test), "%s limit message", name);
	test_result(test, !strcmp(err.msg, expected), "'%s'", err.msg);
	udm_key_free(key);
	key = NULL;
	r = udm_volume_unlock(vol, -1, "pw", 2, &key, &err);
	snprintf(test, sizeof(test), "%s unlock within the limit", name);
	test_result(test, r == 0, "got %d '%s'", r, err.msg);
	udm_key_free(key);
	udm_volume_free(vol);
}

static void test_plain_sector_size(void)
{
	struct udm_plain_params params = { .hash = "sha256", .sector_size = 1 };
	struct udm_error err = { .msg = "" };
	char path[256];
	char *table;

	snprintf(path, sizeof(path), "%s/plain.img", dir);
	make_file(path, 1 << 20);
	table = udm_plain_table(path, &params, "pw", 2, &err);
	test_result("plain sector size 1", !table && !strcmp(err.msg,
		    "invalid sector size 1: accepted are 512, 1024, 2048 and 4096 bytes"),
		    "'%s'", err.msg);
	udm_secure_free(table);

	params.sector_size = 0;
	params.offset = UINT64_MAX - 1;
	params.size = 16;
	table = udm_plain_table(path, &params, "pw", 2, &err);
	test_result("plain offset plus size overflows", !table, "a table was built");
	udm_secure_free(table);
}

int main(void)
{
	char cmd[300];

	if (!mkdtemp(dir))
		return 2;
	udm_set_log(NULL, UDM_LOG_ERROR);
	test_derive_limits();
	test_argon2_many_lanes();
	test_unlock_limits(UDM_VOLUME_LUKS1, "luks1",
			   "key slot 0: PBKDF2 iteration count 1000 is above the limit of 999");
	test_unlock_limits(UDM_VOLUME_LUKS2, "luks2",
			   "key slot 0: PBKDF2 iteration count 1000 is above the limit of 999");
	test_plain_sector_size();

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
	return test_failures ? 1 : 0;
}
