// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * I/O through a mapped device at any offset and length, against a plain
 * reference copy: partial sectors, ranges across targets, concurrent
 * writers, discards and flush.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "udmcrypt.h"

#define KEY64 "8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677" \
	      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DEVICE_SECTORS 2048	/* 1 MiB */

static char image[] = "/tmp/udm-device-XXXXXX";
static uint8_t reference[DEVICE_SECTORS * 512];

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill_random(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)next_random();
}

static struct udm_device *open_text(const char *table)
{
	struct udm_device *dev = NULL;
	struct udm_error err;

	if (udm_device_open(&dev, table, 0, &err)) {
		printf("FAIL: open table: %s\n", err.msg);
		return NULL;
	}
	return dev;
}

/* Fills a table format with the keys and the image path, then opens it. */
#define open_table(format) ({ \
	char text_[2048]; \
	_Pragma("GCC diagnostic ignored \"-Wformat-extra-args\"") \
	snprintf(text_, sizeof(text_), format, KEY64, image, KEY64, image, image); \
	open_text(text_); \
})

/* Three crypt and linear targets with different sector sizes. */
#define MIXED_TABLE \
	"0 512 crypt aes-xts-plain64 %s 0 %s 0\n" \
	"512 1024 crypt serpent-cbc-essiv:sha256 %.64s 16 %s 512 1 sector_size:4096\n" \
	"1536 512 linear %s 1536\n"

static void test_random_io(void)
{
	struct udm_device *dev = open_table(MIXED_TABLE);
	uint8_t *buf = malloc(sizeof(reference));
	int failures = 0;

	if (!dev || !buf)
		goto out;
	memset(reference, 0, sizeof(reference));
	if (udm_device_pwrite(dev, reference, sizeof(reference), 0))
		failures++;

	for (int i = 0; i < 400 && !failures; i++) {
		uint64_t off = next_random() % sizeof(reference);
		size_t len = 1 + next_random() % (i % 4 == 0 ? 70000 : 1500);

		if (len > sizeof(reference) - off)
			len = sizeof(reference) - off;
		fill_random(buf, len);
		memcpy(reference + off, buf, len);
		if (udm_device_pwrite(dev, buf, len, off))
			failures++;

		off = next_random() % sizeof(reference);
		len = 1 + next_random() % 9000;
		if (len > sizeof(reference) - off)
			len = sizeof(reference) - off;
		if (udm_device_pread(dev, buf, len, off) || memcmp(buf, reference + off, len))
			failures++;
	}
	test_result("random partial writes and reads", !failures, "%d mismatches", failures);

	/* A fresh device from the same table reads the same data. */
	udm_device_close(dev);
	dev = open_table(MIXED_TABLE);
	failures = !dev || udm_device_pread(dev, buf, sizeof(reference), 0) ||
		   memcmp(buf, reference, sizeof(reference));
	test_result("data persists across reopen", !failures, "data differs after reopen");
out:
	udm_device_close(dev);
	free(buf);
}

struct writer {
	struct udm_device *dev;
	uint64_t begin, end;	/* byte range this thread owns */
	int failures;
};

/* Each thread writes odd-sized pieces inside its own range, so that
 * neighbours share partial sectors at the range boundaries. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint8_t buf[3000];
	uint64_t seed = w->begin * 2654435761u + 1;

	for (int i = 0; i < 300; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t off = w->begin + (seed >> 20) % (w->end - w->begin);
		size_t len = 1 + (size_t)((seed >> 8) % sizeof(buf));

		if (len > w->end - off)
			len = (size_t)(w->end - off);
		memset(buf, (int)(seed >> 56) | 1, len);
		memcpy(reference + off, buf, len);
		if (udm_device_pwrite(w->dev, buf, len, off))
			w->failures++;
	}
	return NULL;
}

static void test_concurrent_writers(void)
{
	struct udm_device *dev = open_table(MIXED_TABLE);
	struct writer writers[4];
	pthread_t threads[4];
	uint8_t *buf = malloc(sizeof(reference));
	int failures = 0;

	if (!dev || !buf)
		goto out;
	for (int i = 0; i < 4; i++) {
		/* Ranges end at odd bytes inside sectors. */
		writers[i] = (struct writer){ dev, i * 262144 + (i ? 333 : 0),
					      (i + 1) * 262144 + (i < 3 ? 333 : 0), 0 };
		pthread_create(&threads[i], NULL, writer_main, &writers[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(threads[i], NULL);
		failures += writers[i].failures;
	}
	if (udm_device_pread(dev, buf, sizeof(reference), 0) ||
	    memcmp(buf, reference, sizeof(reference)))
		failures++;
	test_result("concurrent writers keep their ranges", !failures, "%d failures", failures);
out:
	udm_device_close(dev);
	free(buf);
}

static long allocated_blocks(void)
{
	struct stat st;

	return stat(image, &st) ? -1 : (long)st.st_blocks;
}

static void test_discard(void)
{
	uint8_t buf[65536];
	struct udm_device *dev = open_table("0 2048 crypt aes-xts-plain64 %s 0 %s 0\n");
	long before, after;

	fill_random(buf, sizeof(buf));
	if (!dev || udm_device_pwrite(dev, buf, sizeof(buf), 0) || udm_device_flush(dev)) {
		test_result("discard setup", false, "write failed");
		udm_device_close(dev);
		return;
	}
	before = allocated_blocks();
	test_result("discard rejected without allow_discards",
		    udm_device_discard(dev, 0, sizeof(buf)) == -EOPNOTSUPP &&
		    allocated_blocks() == before,
		    "blocks %ld -> %ld", before, allocated_blocks());
	udm_device_close(dev);

	dev = open_table("0 2048 crypt aes-xts-plain64 %s 0 %s 0 1 allow_discards\n");
	if (!dev)
		return;
	before = allocated_blocks();
	after = udm_device_discard(dev, 100, sizeof(buf) - 200) ? -1 : allocated_blocks();
	test_result("discard punches whole sectors", after >= 0 && after < before,
		    "blocks %ld -> %ld", before, after);
	/* The partial sectors at both ends keep their data. */
	uint8_t head[100];
	test_result("discard keeps partial sectors", !udm_device_pread(dev, head, 100, 0) &&
		    !memcmp(head, buf, 100), "first bytes changed");
	udm_device_close(dev);
}

int main(void)
{
	int fd = mkstemp(image);

	if (fd < 0 || ftruncate(fd, DEVICE_SECTORS * 512))
		return 2;
	close(fd);

	test_random_io();
	test_concurrent_writers();
	test_discard();

	unlink(image);
	return test_failures ? 1 : 0;
}
