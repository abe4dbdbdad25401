// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes device-mapper tables and the crypt target's cipher specification:
 * the input is the table text, whose device fields may name "fuzzdev", a
 * 64 KiB device in memory. A table that opens is read and written once,
 * and the table it prints must open again and print the same text.
 */
#include <stdio.h>

#include "fuzz.h"

#define FUZZDEV_SIZE (64 * 1024)

static uint8_t backing[FUZZDEV_SIZE];
static struct memdev fuzzdev = { backing, sizeof(backing), sizeof(backing), true };
static const struct udm_blockdev blockdevs[] = {
	{ "fuzzdev", &memdev_ops, &fuzzdev },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

/* Reads and writes back the first and the last block of the device. */
static void exercise_io(struct udm_device *dev)
{
	uint64_t size = udm_device_size(dev);
	uint8_t buf[4096];
	size_t len = size < sizeof(buf) ? (size_t)size : sizeof(buf);

	if (!len)
		return;
	if (!udm_device_pread(dev, buf, len, 0) && !udm_device_readonly(dev))
		udm_device_pwrite(dev, buf, len, 0);
	if (!udm_device_pread(dev, buf, len, size - len) && !udm_device_readonly(dev))
		udm_device_pwrite(dev, buf, len, size - len);
	udm_device_flush(dev);
	if (udm_device_supports_discard(dev))
		udm_device_discard(dev, 0, len);
}

/* The table a device prints must open again and print the same text. */
static void check_round_trip(struct udm_device *dev)
{
	struct udm_error err = { .msg = "" };
	struct udm_device *again = NULL;
	char *printed = udm_device_table(dev, true);
	char *reprinted;

	if (!printed)
		return;
	if (udm_device_open_with(&again, printed, UDM_OPEN_READONLY, blockdevs, 1, &err)) {
		fprintf(stderr, "printed table does not open again: %s\n", err.msg);
		abort();
	}
	reprinted = udm_device_table(again, true);
	if (reprinted && strcmp(printed, reprinted)) {
		fprintf(stderr, "printed table changes when opened again\n");
		abort();
	}
	udm_secure_free(reprinted);
	udm_device_close(again);
	udm_secure_free(printed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udm_error err = { .msg = "" };
	struct udm_device *dev = NULL;
	char *table, *status;

	if (size > 16384)
		return -1;
	table = fuzz_strndup(data, size);
	if (!table)
		return 0;
	memset(backing, 0, sizeof(backing));
	if (!udm_device_open_with(&dev, table, 0, blockdevs, 1, &err)) {
		exercise_io(dev);
		status = udm_device_status(dev);
		free(status);
		free(udm_device_table(dev, false));
		check_round_trip(dev);
		udm_device_close(dev);
	}
	free(table);
	return 0;
}
