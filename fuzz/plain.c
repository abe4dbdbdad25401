// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the plain-mode options. The input is up to eight lines: the
 * cipher, the hash ("sha256", "sha256:16" or "plain"), the key size in
 * bytes, the offset, skip and size in 512-byte sectors, the sector size,
 * and the passphrase, which takes the rest of the input. The data device
 * is a 1 MiB memfd. A table that builds is opened and its first sector read.
 */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

#define DATA_SIZE (1u << 20)

static char data_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd = memfd_create("fuzz-plain-data", MFD_CLOEXEC);

	fuzz_setup();
	if (fd < 0 || ftruncate(fd, DATA_SIZE))
		abort();
	snprintf(data_path, sizeof(data_path), "/proc/self/fd/%d", fd);
	return 0;
}

/* Splits off the next line of *text; the last field takes the rest. */
static char *next_field(char **text, bool last)
{
	char *field = *text, *newline = last ? NULL : strchr(field, '\n');

	if (newline) {
		*newline = '\0';
		*text = newline + 1;
	} else {
		*text = field + strlen(field);
	}
	return field;
}

static uint64_t number(const char *text)
{
	return strtoull(text, NULL, 0);
}

static void open_table(const char *table)
{
	struct udm_error err = { .msg = "" };
	struct udm_device *dev = NULL;
	uint8_t sector[512];

	if (udm_device_open(&dev, table, UDM_OPEN_READONLY, &err))
		return;
	udm_device_pread(dev, sector, sizeof(sector), 0);
	udm_device_close(dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udm_error err = { .msg = "" };
	struct udm_plain_params params;
	char *input, *text, *field[8], *table;

	if (size > 4096)
		return -1;
	input = fuzz_strndup(data, size);
	if (!input)
		return 0;
	text = input;
	for (int i = 0; i < 8; i++)
		field[i] = next_field(&text, i == 7);
	params = (struct udm_plain_params){
		.cipher = *field[0] ? field[0] : NULL,
		.hash = *field[1] ? field[1] : NULL,
		.key_size = (unsigned)number(field[2]),
		.offset = number(field[3]),
		.skip = number(field[4]),
		.size = number(field[5]),
		.sector_size = (unsigned)number(field[6]),
	};
	table = udm_plain_table(data_path, &params, field[7], strlen(field[7]), &err);
	if (table) {
		open_table(table);
		udm_secure_free(table);
	}
	free(input);
	return 0;
}
