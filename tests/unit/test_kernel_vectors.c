// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Known-answer tests against Linux dm-crypt, both directions: for every
 * vector in tests/vectors/kernel.tsv, the ciphertext udmcrypt writes must
 * equal what the kernel wrote, and udmcrypt must decrypt the kernel's
 * ciphertext to the plaintext. Tables the kernel rejected must be rejected,
 * leaving the backing file untouched.
 *
 * LMK in chain modes other than CBC does not read back what it wrote in
 * Linux either; the header line of kernel.tsv lists those vectors, and
 * only their encryption is checked.
 *
 * Usage: test_kernel_vectors VECTOR_DIR
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

#define VECTOR_BYTES 8192

struct vector {
	char name[128];
	bool ok;
	char table[4096];
};

static uint8_t plaintext[VECTOR_BYTES];
static char no_round_trip[16384];	/* names from the header, space-separated */
static char backing[] = "/tmp/udm-kat-XXXXXX";

static int read_file(const char *path, uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, len, f);
	fclose(f);
	return n == len ? 0 : -EIO;
}

/* Replaces the word DEV with the backing file and reads the offset field. */
static void make_table(const struct vector *v, char *out, size_t size, uint64_t *offset)
{
	const char *dev = strstr(v->table, " DEV ");
	size_t head = (size_t)(dev - v->table);

	snprintf(out, size, "%.*s %s %s", (int)head, v->table, backing, dev + 5);
	*offset = strtoull(dev + 5, NULL, 10);
}

static bool parse_line(char *line, struct vector *v)
{
	char *name = strtok(line, "\t"), *result = strtok(NULL, "\t"), *table = strtok(NULL, "\n");

	if (!name || !result || !table || name[0] == '#')
		return false;
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->ok = !strcmp(result, "ok");
	snprintf(v->table, sizeof(v->table), "%s", table);
	return true;
}

static void reset_backing(uint64_t offset)
{
	int fd = open(backing, O_RDWR | O_TRUNC);

	if (fd >= 0) {
		if (ftruncate(fd, (off_t)(offset * 512 + VECTOR_BYTES)))
			perror("ftruncate");
		close(fd);
	}
}

static void check_ok_vector(const struct vector *v, const uint8_t *expected)
{
	uint8_t disk[VECTOR_BYTES], out[VECTOR_BYTES];
	char table[4200], name[160];
	struct udm_device *dev = NULL;
	struct udm_error err;
	uint64_t offset;
	int fd, r;

	make_table(v, table, sizeof(table), &offset);
	reset_backing(offset);
	r = udm_device_open(&dev, table, 0, &err);
	snprintf(name, sizeof(name), "%s encrypt", v->name);
	if (r) {
		test_result(name, false, "open failed: %s", err.msg);
		return;
	}
	r = udm_device_pwrite(dev, plaintext, VECTOR_BYTES, 0);
	fd = open(backing, O_RDWR);
	if (!r && pread(fd, disk, VECTOR_BYTES, (off_t)(offset * 512)) != VECTOR_BYTES)
		r = -EIO;
	test_result(name, !r && !memcmp(disk, expected, VECTOR_BYTES),
		    r ? "write failed (%d)" : "ciphertext differs from the kernel's", r);

	snprintf(name, sizeof(name), " %s ", v->name);
	if (strstr(no_round_trip, name))
		goto out;
	snprintf(name, sizeof(name), "%s decrypt", v->name);
	r = pwrite(fd, expected, VECTOR_BYTES, (off_t)(offset * 512)) == VECTOR_BYTES ? 0 : -EIO;
	if (!r)
		r = udm_device_pread(dev, out, VECTOR_BYTES, 0);
	test_result(name, !r && !memcmp(out, plaintext, VECTOR_BYTES),
		    r ? "read failed (%d)" : "plaintext differs", r);
out:
	close(fd);
	udm_device_close(dev);
}

static void check_rejected_vector(const struct vector *v)
{
	struct udm_device *dev = NULL;
	struct udm_error err;
	char table[4200], name[160];
	uint64_t offset;
	int r;

	make_table(v, table, sizeof(table), &offset);
	reset_backing(offset);
	r = udm_device_open(&dev, table, 0, &err);
	snprintf(name, sizeof(name), "%s rejected", v->name);
	test_result(name, r < 0 && err.msg[0], "udmcrypt accepted a table the kernel rejects");
	udm_device_close(r ? NULL : dev);
}

int main(int argc, char **argv)
{
	char path[4096], line[20000];
	uint8_t *ciphertext = NULL;
	size_t n_ok = 0;
	FILE *list;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTOR_DIR\n", argv[0]);
		return 2;
	}
	udm_set_log(NULL, UDM_LOG_ERROR);	/* ECB tables warn that the IV is ignored */
	fd = mkstemp(backing);
	if (fd < 0)
		return 2;
	close(fd);

	snprintf(path, sizeof(path), "%s/plaintext.bin", argv[1]);
	if (read_file(path, plaintext, sizeof(plaintext))) {
		fprintf(stderr, "cannot read %s\n", path);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/kernel-ciphertext.bin", argv[1]);
	FILE *cf = fopen(path, "rb");
	snprintf(path, sizeof(path), "%s/kernel.tsv", argv[1]);
	list = fopen(path, "r");
	if (!cf || !list) {
		fprintf(stderr, "cannot open the vectors in %s\n", argv[1]);
		return 2;
	}
	ciphertext = malloc(VECTOR_BYTES);

	while (fgets(line, sizeof(line), list)) {
		struct vector v;

		const char *marker = strstr(line, "different data than it wrote for: ");

		if (line[0] == '#' && marker) {
			snprintf(no_round_trip, sizeof(no_round_trip), " %s",
				 marker + strlen("different data than it wrote for: "));
			for (char *p = no_round_trip; *p; p++)
				if (*p == '.' || *p == '\n')
					*p = ' ';
			strcat(no_round_trip, " ");
			continue;
		}
		if (!parse_line(line, &v))
			continue;
		if (!v.ok) {
			check_rejected_vector(&v);
			continue;
		}
		if (fread(ciphertext, 1, VECTOR_BYTES, cf) != VECTOR_BYTES) {
			test_result(v.name, false, "ciphertext file too short");
			break;
		}
		check_ok_vector(&v, ciphertext);
		n_ok++;
	}
	fclose(list);
	fclose(cf);
	free(ciphertext);
	unlink(backing);
	return test_failures ? 1 : 0;
}
