// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The LUKS2 header as text, in the layout of cryptsetup 2.6 luksDump, so
 * that scripts reading one read the other. The dump has the binary header
 * fields, then the config, segments, key slots, tokens and digests sections.
 * The volume key section of --dump-volume-key and the JSON of
 * --dump-json-metadata replace it on request.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "luks2.h"
#include "secmem.h"

/* Bytes of a salt or digest, 16 to a line, as cryptsetup 2.6 prints them.
 * Prints nothing for invalid base64. */
static void print_base64(FILE *out, const char *text)
{
	uint8_t buf[256];
	size_t len;

	if (!text || luks2_base64_decode_max(text, buf, sizeof(buf), &len))
		return;
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%s%02x ", i && !(i % 16) ? "\n\t            " : "", buf[i]);
	fprintf(out, "\n");
}

static uint64_t member_u64(json_object *obj, const char *key)
{
	json_object *val;
	uint64_t v = 0;

	if (!json_object_object_get_ex(obj, key, &val))
		return 0;
	if (json_object_is_type(val, json_type_int))
		return (uint64_t)json_object_get_int64(val);
	luks2_string_u64(obj, key, &v);
	return v;
}

static const char *member_string(json_object *obj, const char *key)
{
	const char *s = luks2_string(obj, key);

	return s ? s : "";
}

static void dump_strings(FILE *out, json_object *array, const char *sep)
{
	for (size_t i = 0; array && i < json_object_array_length(array); i++)
		fprintf(out, "%s%s", json_object_get_string(json_object_array_get_idx(array, i)),
			sep);
}

static void dump_config(FILE *out, json_object *jobj)
{
	json_object *config = luks2_section(jobj, "config"), *reqs;
	json_object *flags = NULL, *mandatory = NULL;
	size_t n_flags, n_reqs;

	json_object_object_get_ex(config, "flags", &flags);
	if (json_object_object_get_ex(config, "requirements", &reqs))
		json_object_object_get_ex(reqs, "mandatory", &mandatory);
	n_flags = flags ? json_object_array_length(flags) : 0;
	n_reqs = mandatory ? json_object_array_length(mandatory) : 0;

	fprintf(out, "Flags:       \t");
	dump_strings(out, flags, " ");
	fprintf(out, "%s\n%s", n_flags ? "" : "(no flags)", n_reqs ? "" : "\n");
	if (n_reqs) {
		fprintf(out, "Requirements:\t");
		dump_strings(out, mandatory, " ");
		fprintf(out, "\n\n");
	}
}

static void dump_segments(FILE *out, json_object *jobj)
{
	json_object *segments = luks2_section(jobj, "segments"), *val, *flags;

	fprintf(out, "Data segments:\n");
	for (int i = 0; i < LUKS2_SEGMENTS_MAX; i++) {
		json_object *seg = luks2_numbered(segments, i);
		const char *size;

		if (!seg)
			continue;
		fprintf(out, "  %d: %s\n", i, member_string(seg, "type"));
		fprintf(out, "\toffset: %" PRIu64 " [bytes]\n", member_u64(seg, "offset"));
		size = member_string(seg, "size");
		if (!strcmp(size, "dynamic"))
			fprintf(out, "\tlength: (whole device)\n");
		else
			fprintf(out, "\tlength: %" PRIu64 " [bytes]\n", member_u64(seg, "size"));
		if (luks2_string(seg, "encryption"))
			fprintf(out, "\tcipher: %s\n", luks2_string(seg, "encryption"));
		if (json_object_object_get_ex(seg, "sector_size", NULL))
			fprintf(out, "\tsector: %" PRIu64 " [bytes]\n",
				member_u64(seg, "sector_size"));
		if (json_object_object_get_ex(seg, "integrity", &val) && luks2_string(val, "type"))
			fprintf(out, "\tintegrity: %s\n", luks2_string(val, "type"));
		if (json_object_object_get_ex(seg, "flags", &flags) &&
		    json_object_array_length(flags)) {
			fprintf(out, "\tflags : ");
			for (size_t j = 0; j < json_object_array_length(flags); j++) {
				json_object *flag = json_object_array_get_idx(flags, j);

				fprintf(out, "%s%s", j ? ", " : "", json_object_get_string(flag));
			}
			fprintf(out, "\n");
		}
		fprintf(out, "\n");
	}
}

static const char *priority_name(json_object *ks)
{
	uint32_t priority = 1;

	if (json_object_object_get_ex(ks, "priority", NULL) &&
	    luks2_int_u32(ks, "priority", &priority))
		return "invalid";
	return priority == 0 ? "ignored" : priority == 1 ? "normal" :
	       priority == 2 ? "preferred" : "invalid";
}

/* The lines of a luks2 key slot: area cipher, PBKDF, AF and area. */
static void dump_luks2_keyslot(FILE *out, json_object *ks)
{
	json_object *kdf, *af, *area;
	const char *type;

	if (!json_object_object_get_ex(ks, "kdf", &kdf) ||
	    !json_object_object_get_ex(ks, "af", &af) ||
	    !json_object_object_get_ex(ks, "area", &area))
		return;
	fprintf(out, "\tCipher:     %s\n", member_string(area, "encryption"));
	fprintf(out, "\tCipher key: %" PRIu64 " bits\n", member_u64(area, "key_size") * 8);
	type = member_string(kdf, "type");
	fprintf(out, "\tPBKDF:      %s\n", type);
	if (!strcmp(type, "pbkdf2")) {
		fprintf(out, "\tHash:       %s\n", member_string(kdf, "hash"));
		fprintf(out, "\tIterations: %" PRIu64 "\n", member_u64(kdf, "iterations"));
	} else {
		fprintf(out, "\tTime cost:  %" PRIu64 "\n", member_u64(kdf, "time"));
		fprintf(out, "\tMemory:     %" PRIu64 "\n", member_u64(kdf, "memory"));
		fprintf(out, "\tThreads:    %" PRIu64 "\n", member_u64(kdf, "cpus"));
	}
	fprintf(out, "\tSalt:       ");
	print_base64(out, luks2_string(kdf, "salt"));
	fprintf(out, "\tAF stripes: %" PRIu64 "\n", member_u64(af, "stripes"));
	fprintf(out, "\tAF hash:    %s\n", member_string(af, "hash"));
	fprintf(out, "\tArea offset:%" PRIu64 " [bytes]\n", member_u64(area, "offset"));
	fprintf(out, "\tArea length:%" PRIu64 " [bytes]\n", member_u64(area, "size"));
}

static void dump_keyslots(FILE *out, json_object *jobj)
{
	json_object *keyslots = luks2_section(jobj, "keyslots");
	int segment_digest = luks2_digest_of(jobj, "segments", 0);

	fprintf(out, "Keyslots:\n");
	for (int i = 0; i < LUKS2_KEYSLOTS_MAX; i++) {
		json_object *ks = luks2_numbered(keyslots, i);
		int digest = luks2_digest_of(jobj, "keyslots", i);
		const char *type;

		if (!ks)
			continue;
		type = member_string(ks, "type");
		fprintf(out, "  %d: %s%s\n", i, type,
			digest >= 0 && digest != segment_digest ? " (unbound)" : "");
		fprintf(out, "\tKey:        %" PRIu64 " bits\n", member_u64(ks, "key_size") * 8);
		fprintf(out, "\tPriority:   %s\n", priority_name(ks));
		if (!strcmp(type, "luks2"))
			dump_luks2_keyslot(out, ks);
		if (digest >= 0)
			fprintf(out, "\tDigest ID:  %d\n", digest);
	}
}

static void dump_tokens(FILE *out, json_object *jobj)
{
	json_object *tokens = luks2_section(jobj, "tokens"), *keyslots;

	fprintf(out, "Tokens:\n");
	for (int i = 0; i < LUKS2_TOKENS_MAX; i++) {
		json_object *token = luks2_numbered(tokens, i);
		const char *type;

		if (!token)
			continue;
		type = member_string(token, "type");
		fprintf(out, "  %d: %s\n", i, type);
		if (!strcmp(type, "luks2-keyring"))
			fprintf(out, "\tKey description: %s\n",
				member_string(token, "key_description"));
		if (json_object_object_get_ex(token, "keyslots", &keyslots)) {
			for (size_t j = 0; j < json_object_array_length(keyslots); j++)
				fprintf(out, "\tKeyslot:    %s\n", json_object_get_string(
					json_object_array_get_idx(keyslots, j)));
		}
	}
}

static void dump_digests(FILE *out, json_object *jobj)
{
	json_object *digests = luks2_section(jobj, "digests");

	fprintf(out, "Digests:\n");
	for (int i = 0; i < LUKS2_DIGESTS_MAX; i++) {
		json_object *dg = luks2_numbered(digests, i);
		const char *type;

		if (!dg)
			continue;
		type = member_string(dg, "type");
		fprintf(out, "  %d: %s\n", i, type);
		if (strcmp(type, "pbkdf2"))
			continue;
		fprintf(out, "\tHash:       %s\n", member_string(dg, "hash"));
		fprintf(out, "\tIterations: %" PRIu64 "\n", member_u64(dg, "iterations"));
		fprintf(out, "\tSalt:       ");
		print_base64(out, luks2_string(dg, "salt"));
		fprintf(out, "\tDigest:     ");
		print_base64(out, luks2_string(dg, "digest"));
	}
}

/* The section --dump-volume-key prints instead of the header. */
static void dump_volume_key(FILE *out, const struct udm_volume *vol, const struct udm_key *key)
{
	const struct luks2_volume *lv = vol->priv;
	json_object *seg = luks2_numbered(luks2_section(lv->hdr.jobj, "segments"), 0);
	const char *cipher = member_string(seg, "encryption"), *dash = strchr(cipher, '-');

	fprintf(out, "LUKS header information for %s\n", vol->path);
	/* cryptsetup splits the cipher specification at its first dash. */
	fprintf(out, "Cipher name:   \t%.*s\n", dash ? (int)(dash - cipher) : (int)strlen(cipher),
		cipher);
	fprintf(out, "Cipher mode:   \t%s\n", dash ? dash + 1 : "");
	fprintf(out, "Payload offset:\t%" PRIu64 "\n", member_u64(seg, "offset") / 512);
	fprintf(out, "UUID:          \t%s\n", vol->uuid);
	fprintf(out, "MK bits:       \t%zu\n", key->size * 8);
	fprintf(out, "MK dump:\t");
	for (size_t i = 0; i < key->size; i++)
		fprintf(out, "%s%02x ", i && !(i % 16) ? "\n\t\t" : "", key->data[i]);
	fprintf(out, "\n");
}

int luks2_dump(struct udm_volume *vol, FILE *out, const struct udm_key *key, bool json_only,
	       struct udm_error *err)
{
	const struct luks2_hdr *hdr = &((struct luks2_volume *)vol->priv)->hdr;

	if (json_only) {
		fprintf(out, "%s\n", json_object_to_json_string_ext(hdr->jobj,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		return ferror(out) ? -EIO : 0;
	}
	if (key) {
		dump_volume_key(out, vol, key);
		return ferror(out) ? -EIO : 0;
	}
	fprintf(out, "LUKS header information\n");
	fprintf(out, "Version:       \t2\n");
	fprintf(out, "Epoch:         \t%" PRIu64 "\n", hdr->seqid);
	fprintf(out, "Metadata area: \t%" PRIu64 " [bytes]\n", hdr->hdr_size);
	fprintf(out, "Keyslots area: \t%" PRIu64 " [bytes]\n", luks2_keyslots_size(hdr->jobj));
	fprintf(out, "UUID:          \t%s\n", *hdr->uuid ? hdr->uuid : "(no UUID)");
	fprintf(out, "Label:         \t%s\n", *hdr->label ? hdr->label : "(no label)");
	fprintf(out, "Subsystem:     \t%s\n", *hdr->subsystem ? hdr->subsystem : "(no subsystem)");
	dump_config(out, hdr->jobj);
	dump_segments(out, hdr->jobj);
	dump_keyslots(out, hdr->jobj);
	dump_tokens(out, hdr->jobj);
	dump_digests(out, hdr->jobj);
	if (ferror(out))
		return udm_error_set(err, "cannot write the dump of %s", vol->path);
	return 0;
}
