// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzzes the LUKS2 JSON metadata without the binary header: the input is
 * the JSON area of one metadata copy, parsed and validated as the header
 * loader does for a 16 KiB copy on a 32 MiB device. Valid metadata is
 * also read as the unlock code reads it: every key slot and digest.
 */
#include "fuzz.h"
#include "luks2.h"

#define HDR_SIZE 0x4000u
#define DEVICE_SIZE (32u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

/* Reads each luks2 key slot and the digest that lists it, as an unlock
 * does, and the digest of segment 0, as mapping does. */
static void read_sections(json_object *jobj)
{
	struct udm_error err = { .msg = "" };
	struct luks2_keyslot ks;
	struct luks2_digest dg;
	int digest;

	for (int id = 0; id < LUKS2_KEYSLOTS_MAX; id++) {
		json_object *keyslot = luks2_numbered(luks2_section(jobj, "keyslots"), id);
		const char *type = keyslot ? luks2_string(keyslot, "type") : NULL;

		if (!type || strcmp(type, "luks2") || luks2_keyslot_read(jobj, id, &ks, &err))
			continue;
		digest = luks2_digest_of(jobj, "keyslots", id);
		if (digest >= 0)
			luks2_digest_read(jobj, digest, &dg, &err);
	}
	digest = luks2_digest_of(jobj, "segments", 0);
	if (digest >= 0)
		luks2_digest_read(jobj, digest, &dg, &err);
	luks2_json_text(jobj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udm_error err = { .msg = "" };
	size_t area_len = HDR_SIZE - LUKS2_HDR_BIN_LEN;
	json_object *jobj = NULL;
	char *area;

	if (size >= area_len)
		return -1;
	/* The area is the text followed by NUL bytes, as on disk. */
	area = calloc(1, area_len);
	if (!area)
		return 0;
	memcpy(area, data, size);
	if (!luks2_json_parse(area, area_len, &jobj, &err)) {
		if (!luks2_json_validate(jobj, HDR_SIZE, DEVICE_SIZE, &err))
			read_sections(jobj);
		json_object_put(jobj);
	}
	free(area);
	return 0;
}
