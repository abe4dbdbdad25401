// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The format-independent volume layer: probing past a damaged primary
 * LUKS2 header, detached headers with the payload at offset 0, and plain
 * mode tables.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "udmcrypt.h"

static char dir[] = "/tmp/udm-volume-XXXXXX";

static void make_file(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || ftruncate(fd, size))
		perror(path);
	if (fd >= 0)
		close(fd);
}

static const struct udm_format_params fast_luks2 = {
	.type = UDM_VOLUME_LUKS2,
	.keyslot = -1,
	.pbkdf = { .type = "pbkdf2", .force_iterations = 1000 },
};

static void test_damaged_primary_magic(void)
{
	char path[256];
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	struct udm_error err;
	int fd, r;

	snprintf(path, sizeof(path), "%s/damaged.img", dir);
	make_file(path, 32 << 20);
	r = udm_luks_format(path, &fast_luks2, "secret", 6, NULL, &err);
	test_result("format luks2", !r, "%s", err.msg);
	fd = open(path, O_WRONLY);
	r = fd >= 0 && pwrite(fd, "XXXX", 4, 0) == 4 ? 0 : -EIO;
	if (fd >= 0)
		close(fd);

	r = r ? r : udm_luks_load(&vol, path, UDM_VOLUME_ANY, false, &err);
	test_result("load with damaged primary magic", !r, "%d %s", r, err.msg);
	if (r)
		return;
	r = udm_volume_unlock(vol, -1, "secret", 6, &key, &err);
	test_result("unlock from the secondary header", r >= 0, "%d %s", r, err.msg);
	udm_key_free(key);
	udm_volume_free(vol);
}

static void test_detached_header(void)
{
	struct udm_format_params params = fast_luks2;
	char header[256], data[256], *table;
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	struct udm_error err;
	int r;

	snprintf(header, sizeof(header), "%s/detached.hdr", dir);
	snprintf(data, sizeof(data), "%s/data.img", dir);
	make_file(data, 8 << 20);
	params.detached_header = true;
	params.type = UDM_VOLUME_LUKS1;
	params.data_offset = 0;
	r = udm_luks_format(header, &params, "pw", 2, &vol, &err);
	test_result("format detached luks1 creates the header", !r && !access(header, F_OK),
		    "%d %s", r, err.msg);
	if (r)
		return;
	r = udm_volume_unlock(vol, -1, "pw", 2, &key, &err);
	table = r >= 0 ? udm_volume_table(vol, key, data, &err) : NULL;
	test_result("detached luks1 payload at offset 0", table && strstr(table, " 0\n") == NULL &&
		    strstr(table, data) && !strcmp(strstr(table, data) + strlen(data), " 0"),
		    "table '%s'", table ? "(hidden)" : err.msg);
	udm_secure_free(table);
	udm_key_free(key);
	udm_volume_free(vol);

	unlink(header);
	params.type = UDM_VOLUME_LUKS2;
	vol = NULL;
	key = NULL;
	r = udm_luks_format(header, &params, "pw", 2, &vol, &err);
	test_result("format detached luks2", !r, "%d %s", r, err.msg);
	if (r)
		return;
	r = udm_volume_unlock(vol, -1, "pw", 2, &key, &err);
	table = r >= 0 ? udm_volume_table(vol, key, data, &err) : NULL;
	test_result("detached luks2 payload at offset 0", table && strstr(table, data) &&
		    !strcmp(strstr(table, data) + strlen(data), " 0"), "%s",
		    table ? "offset is not 0" : err.msg);
	udm_secure_free(table);
	udm_key_free(key);
	udm_volume_free(vol);
}

static void test_plain_table(void)
{
	struct udm_plain_params params = { .hash = "sha256", .key_size = 32, .offset = 8,
					   .skip = 16 };
	char data[256], *table;
	struct udm_error err;

	snprintf(data, sizeof(data), "%s/plain.img", dir);
	make_file(data, 1 << 20);
	/* sha256("abc") is ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c
	 * b410ff61 f20015ad (FIPS 180-2 example). */
	table = udm_plain_table(data, &params, "abc", 3, &err);
	test_result("plain table hashes the passphrase", table &&
		    strstr(table, "crypt aes-cbc-essiv:sha256 ba7816bf8f01cfea414140de5dae2223"
			   "b00361a396177a9cb410ff61f20015ad 16 ") &&
		    !strncmp(table, "0 2040 ", 7), "%s", table ? table : err.msg);
	udm_secure_free(table);

	params.hash = "plain";
	table = udm_plain_table(data, &params, "short", 5, &err);
	test_result("plain hash needs a long passphrase", !table && strstr(err.msg, "too short"),
		    "%s", err.msg);
	udm_secure_free(table);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 2;
	udm_set_log(NULL, UDM_LOG_ERROR);
	test_damaged_primary_magic();
	test_detached_header();
	test_plain_table();

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
	return test_failures ? 1 : 0;
}
