// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The format-independent volume layer: probing past a damaged primary
 * LUKS2 header, detached headers with the payload at offset 0, plain mode
 * tables, and volumes on a blockdev that is not a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
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

/* A blockdev over a buffer in memory, as a frontend over another block
 * layer (an nbdkit plugin, say) would provide one. */
struct memory_disk {
	uint8_t *data;
	size_t size;
};

static int memory_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct memory_disk *disk = ctx;

	if (off > disk->size || len > disk->size - off)
		return -EIO;
	memcpy(buf, disk->data + off, len);
	return 0;
}

static int memory_pwrite(void *ctx, const void *buf, size_t len, uint64_t off)
{
	struct memory_disk *disk = ctx;

	if (off > disk->size || len > disk->size - off)
		return -EIO;
	memcpy(disk->data + off, buf, len);
	return 0;
}

static int memory_flush(void *ctx)
{
	return 0;
}

static int memory_size(void *ctx, uint64_t *bytes)
{
	*bytes = ((struct memory_disk *)ctx)->size;
	return 0;
}

static const struct udm_blockdev_ops memory_ops = {
	.pread = memory_pread, .pwrite = memory_pwrite, .flush = memory_flush,
	.get_size = memory_size,
};

/* Formats a LUKS2 file, copies it into memory, and maps it through the
 * blockdev: the plaintext written there must be what the file mapping
 * reads from the same ciphertext. */
static void test_blockdev_volume(void)
{
	struct memory_disk disk = { .size = 20 << 20 };
	struct udm_blockdev bdev = { .name = "memory", .ops = &memory_ops, .ctx = &disk };
	struct udm_volume *vol = NULL, *file_vol = NULL;
	struct udm_device *dev = NULL, *file_dev = NULL;
	struct udm_key *key = NULL;
	struct udm_error err;
	char path[256], *table = NULL, *file_table = NULL;
	uint8_t block[4096], back[4096];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "%s/blockdev.img", dir);
	make_file(path, (off_t)disk.size);
	r = udm_luks_format(path, &fast_luks2, "pw", 2, NULL, &err);
	disk.data = calloc(1, disk.size);
	f = fopen(path, "rb");
	if (r || !disk.data || !f || fread(disk.data, 1, disk.size, f) != disk.size) {
		test_result("blockdev setup", false, "%s", err.msg);
		goto out;
	}

	r = udm_luks_load_blockdev(&vol, &bdev, UDM_VOLUME_ANY, false, &err);
	test_result("load luks2 from a blockdev", !r, "%s", err.msg);
	r = r ? r : udm_volume_unlock(vol, -1, "pw", 2, &key, &err);
	table = r < 0 ? NULL : udm_volume_table(vol, key, "memory", &err);
	r = table ? udm_device_open_with(&dev, table, 0, &bdev, 1, &err) : -EINVAL;
	test_result("map a blockdev volume", !r, "%s", err.msg);
	if (r)
		goto out;
	memset(block, 0x5a, sizeof(block));
	r = udm_device_pwrite(dev, block, sizeof(block), 8192);

	/* The same ciphertext, written back to the file, reads the same. */
	fclose(f);
	f = fopen(path, "r+b");
	if (!r && (!f || fwrite(disk.data, 1, disk.size, f) != disk.size || fflush(f)))
		r = -EIO;
	r = r ? r : udm_luks_load(&file_vol, path, UDM_VOLUME_ANY, false, &err);
	file_table = r ? NULL : udm_volume_table(file_vol, key, path, &err);
	r = file_table ? udm_device_open(&file_dev, file_table, 0, &err) : -EINVAL;
	r = r ? r : udm_device_pread(file_dev, back, sizeof(back), 8192);
	test_result("blockdev writes what the file mapping reads", !r &&
		    !memcmp(block, back, sizeof(back)), "%d %s", r, err.msg);
out:
	if (f)
		fclose(f);
	udm_device_close(dev);
	udm_device_close(file_dev);
	udm_secure_free(table);
	udm_secure_free(file_table);
	udm_key_free(key);
	udm_volume_free(vol);
	udm_volume_free(file_vol);
	free(disk.data);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 2;
	udm_set_log(NULL, UDM_LOG_ERROR);
	test_damaged_primary_magic();
	test_detached_header();
	test_plain_table();
	test_blockdev_volume();

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
	return test_failures ? 1 : 0;
}
