/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The body of the LUKS1 and LUKS2 harnesses: the input is the start of a
 * device of FUZZ_VOLUME_SIZE bytes whose rest reads as zeros. The header is
 * loaded, dumped and unlocked with the passphrase "fuzz", the passphrase of
 * the seeds that fuzz/make-corpus.sh formats; an unlocked volume is mapped.
 */
#ifndef UDM_FUZZ_VOLUME_H
#define UDM_FUZZ_VOLUME_H

#include <stdio.h>

#include "fuzz.h"

/* Large enough for the default LUKS2 header and key slots (16 MiB) and a
 * payload behind them. */
#define FUZZ_VOLUME_SIZE (32u << 20)
#define FUZZ_VOLUME_MAX_INPUT (1u << 20)
#define FUZZ_PASSPHRASE "fuzz"

static FILE *dump_sink;

static inline void fuzz_volume_setup(void)
{
	fuzz_setup();
	dump_sink = fopen("/dev/null", "w");
	if (!dump_sink)
		abort();
}

/* Maps the payload with the unlocked key and reads its first sector. */
static inline void map_volume(struct udm_volume *vol, const struct udm_key *key,
		       const struct udm_blockdev *blockdev)
{
	struct udm_error err = { .msg = "" };
	struct udm_device *dev = NULL;
	char *table = udm_volume_table(vol, key, blockdev->name, &err);
	uint8_t sector[512];

	if (!table)
		return;
	if (!udm_device_open_with(&dev, table, UDM_OPEN_READONLY, blockdev, 1, &err)) {
		udm_device_pread(dev, sector, sizeof(sector), 0);
		udm_device_close(dev);
	}
	udm_secure_free(table);
}

static inline void fuzz_volume(const uint8_t *data, size_t size, enum udm_volume_type type)
{
	struct memdev backing = { (uint8_t *)data, size, FUZZ_VOLUME_SIZE, false };
	const struct udm_blockdev blockdev = { "fuzzdev", &memdev_ops, &backing };
	struct udm_error err = { .msg = "" };
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	int slots, slot;

	if (udm_luks_load_blockdev(&vol, &blockdev, type, false, &err))
		return;
	slots = udm_volume_keyslot_count(vol);
	for (slot = -1; slot <= slots; slot++)
		udm_volume_keyslot_active(vol, slot);
	udm_volume_dump(vol, dump_sink, NULL, false, &err);
	udm_volume_dump(vol, dump_sink, NULL, true, &err);

	slot = udm_volume_unlock(vol, -1, FUZZ_PASSPHRASE, strlen(FUZZ_PASSPHRASE), &key, &err);
	if (slot >= 0) {
		if (udm_volume_verify_key(vol, key)) {
			fprintf(stderr, "key slot %d unlocks a key that its digest rejects\n", slot);
			abort();
		}
		udm_volume_dump(vol, dump_sink, key, false, &err);
		map_volume(vol, key, &blockdev);
		udm_key_free(key);
	}
	udm_volume_free(vol);
}

#endif /* UDM_FUZZ_VOLUME_H */
