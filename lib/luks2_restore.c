// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS2 part of the ordered header restore (volume_restore.c explains the
 * steps). The intermediate metadata is the current JSON plus a copy of
 * every changed backup key slot, under a key slot number free in the
 * current metadata, listed in the current digest that equals the backup's.
 * A copy whose own area collides with a current key slot gets a free area
 * outside every area of both headers. The intermediate metadata goes
 * through the normal two-copy commit, with the next seqid. The backup's
 * metadata is then copied byte for byte, seqid included, as cryptsetup's
 * LUKS2_hdr_restore() writes the backup file, so the restored device
 * equals the backup file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "luks2.h"
#include "parse.h"
#include "restore.h"

#define AREA_ALIGN 4096

static struct luks2_hdr *hdr_of(const struct udm_volume *vol)
{
	return &((struct luks2_volume *)vol->priv)->hdr;
}

static json_object *keyslot_of(const struct udm_volume *vol, int id)
{
	return luks2_numbered(luks2_section(hdr_of(vol)->jobj, "keyslots"), id);
}

static int read_area(json_object *keyslot, struct restore_area *area)
{
	json_object *obj;

	if (!json_object_object_get_ex(keyslot, "area", &obj) ||
	    luks2_string_u64(obj, "offset", &area->offset) ||
	    luks2_string_u64(obj, "size", &area->size))
		return -EINVAL;
	return 0;
}

/* Whether digest a of ja and digest b of jb check the same volume key. */
static bool same_digest(json_object *ja, int a, json_object *jb, int b)
{
	static const char *const fields[] = { "type", "hash", "iterations", "salt", "digest" };
	json_object *da = luks2_numbered(luks2_section(ja, "digests"), a);
	json_object *db = luks2_numbered(luks2_section(jb, "digests"), b);

	if (!da || !db)
		return false;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_object *fa = NULL, *fb = NULL;

		json_object_object_get_ex(da, fields[i], &fa);
		json_object_object_get_ex(db, fields[i], &fb);
		if (!json_object_equal(fa, fb))
			return false;
	}
	return true;
}

/* The current digest that equals the digest listing backup key slot id,
 * or -ENOENT. */
static int current_digest(const struct restore_ctx *ctx, int id)
{
	json_object *cur = hdr_of(ctx->current)->jobj, *bak = hdr_of(ctx->backup)->jobj;
	int digest = luks2_digest_of(bak, "keyslots", id);

	if (digest < 0)
		return -ENOENT;
	json_object_object_foreach(luks2_section(cur, "digests"), key, val) {
		unsigned n;

		(void)val;
		if (!udm_parse_uint(key, &n) && same_digest(cur, (int)n, bak, digest))
			return (int)n;
	}
	return -ENOENT;
}

static bool same_keyslot(const struct restore_ctx *ctx, int id)
{
	json_object *cur = keyslot_of(ctx->current, id);

	return cur && json_object_equal(cur, keyslot_of(ctx->backup, id)) &&
	       current_digest(ctx, id) == luks2_digest_of(hdr_of(ctx->current)->jobj, "keyslots", id);
}

static int luks2_list_slots(struct restore_ctx *ctx, char *reason, size_t reason_len)
{
	const struct luks2_hdr *cur = hdr_of(ctx->current), *bak = hdr_of(ctx->backup);

	if (cur->hdr_size != bak->hdr_size) {
		snprintf(reason, reason_len, "its metadata copies are %" PRIu64 " bytes and the backup's "
			 "%" PRIu64, cur->hdr_size, bak->hdr_size);
		return -ENOTSUP;
	}
	json_object_object_foreach(luks2_section(cur->jobj, "keyslots"), ckey, cval) {
		(void)ckey;
		if (ctx->n_current == RESTORE_MAX_SLOTS ||
		    read_area(cval, &ctx->current_areas[ctx->n_current]))
			return -EINVAL;
		ctx->n_current++;
	}
	json_object_object_foreach(luks2_section(bak->jobj, "keyslots"), bkey, bval) {
		struct restore_slot *s = &ctx->slots[ctx->n_slots];
		unsigned id;

		if (ctx->n_slots == RESTORE_MAX_SLOTS || udm_parse_uint(bkey, &id) ||
		    id >= RESTORE_MAX_SLOTS || read_area(bval, &s->area))
			return -EINVAL;
		s->id = (int)id;
		s->changed = !same_keyslot(ctx, s->id);
		ctx->n_slots++;
	}
	return 0;
}

/* Raises *end to the end of a when a overlaps candidate. */
static void note_overlap(struct restore_area candidate, struct restore_area a, uint64_t *end)
{
	if (restore_overlaps(candidate, a) && a.offset + a.size > *end)
		*end = a.offset + a.size;
}

/* Whether candidate overlaps an area of either header or a copy placed
 * already. Sets *end to the end of the last such area. */
static bool area_taken(const struct restore_ctx *ctx, struct restore_area candidate,
		       uint64_t *end)
{
	*end = 0;
	for (int i = 0; i < ctx->n_current; i++)
		note_overlap(candidate, ctx->current_areas[i], end);
	for (int i = 0; i < ctx->n_slots; i++) {
		note_overlap(candidate, ctx->slots[i].area, end);
		if (ctx->slots[i].temp_id >= 0)
			note_overlap(candidate, ctx->slots[i].temp_area, end);
	}
	return *end != 0;
}

/* Finds size free bytes, aligned as cryptsetup aligns key slot areas, in
 * the key slots area of the current metadata. */
static int find_free_area(const struct restore_ctx *ctx, uint64_t size, uint64_t *offset)
{
	const struct luks2_hdr *cur = hdr_of(ctx->current);
	uint64_t pos = 2 * cur->hdr_size, end = pos + luks2_keyslots_size(cur->jobj);

	while (pos + size <= end) {
		uint64_t taken_end;

		if (!area_taken(ctx, (struct restore_area){ pos, size }, &taken_end)) {
			*offset = pos;
			return 0;
		}
		pos = (taken_end + AREA_ALIGN - 1) / AREA_ALIGN * AREA_ALIGN;
	}
	return -ENOSPC;
}

/* A key slot number free in the current metadata and not given to another
 * copy: the slot's own when possible. */
static int free_slot_number(const struct restore_ctx *ctx, int id)
{
	for (int n = -1; n < LUKS2_KEYSLOTS_MAX; n++) {
		int candidate = n < 0 ? id : n;
		bool used = keyslot_of(ctx->current, candidate) != NULL;

		for (int i = 0; i < ctx->n_slots && !used; i++)
			used = ctx->slots[i].temp_id == candidate;
		if (!used)
			return candidate;
	}
	return -ENOSPC;
}

static int place_slot(struct restore_ctx *ctx, struct restore_slot *s, char *reason, size_t reason_len)
{
	const char *type = luks2_string(keyslot_of(ctx->backup, s->id), "type");
	int number;

	if (current_digest(ctx, s->id) < 0) {
		snprintf(reason, reason_len, "the backup's key slot %d holds another volume key", s->id);
		return -ENOTSUP;
	}
	if (!type || strcmp(type, "luks2")) {
		snprintf(reason, reason_len, "the backup's key slot %d has type %s", s->id,
			 type ? type : "(none)");
		return -ENOTSUP;
	}
	number = free_slot_number(ctx, s->id);
	if (number < 0) {
		snprintf(reason, reason_len, "no key slot number is free for a copy of key slot %d",
			 s->id);
		return -ENOSPC;
	}
	s->temp_area = s->area;
	if (s->collides && find_free_area(ctx, s->area.size, &s->temp_area.offset)) {
		snprintf(reason, reason_len, "the key slots area has no %" PRIu64 " free bytes for a "
			 "copy of key slot %d", s->area.size, s->id);
		return -ENOSPC;
	}
	s->temp_id = number;
	return 0;
}

static int luks2_plan(struct restore_ctx *ctx, char *reason, size_t reason_len)
{
	for (int i = 0; i < ctx->n_slots; i++)
		ctx->slots[i].temp_id = -1;
	for (int i = 0; i < ctx->n_slots; i++) {
		int r;

		if (!ctx->slots[i].changed)
			continue;
		r = place_slot(ctx, &ctx->slots[i], reason, reason_len);
		if (r)
			return r;
	}
	return 0;
}

/* Adds the copy of backup key slot s to jobj, at its temporary number and
 * area, and lists it in the current digest of the same volume key. */
static int add_copy(const struct restore_ctx *ctx, json_object *jobj,
		    const struct restore_slot *s)
{
	json_object *copy = NULL, *area, *offset, *list;
	char name[16], text[24];
	int digest = current_digest(ctx, s->id);

	if (json_object_deep_copy(keyslot_of(ctx->backup, s->id), &copy, NULL))
		return -ENOMEM;
	snprintf(text, sizeof(text), "%" PRIu64, s->temp_area.offset);
	offset = json_object_new_string(text);
	if (!offset || !json_object_object_get_ex(copy, "area", &area) ||
	    json_object_object_add(area, "offset", offset)) {
		json_object_put(offset);
		json_object_put(copy);
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "%d", s->temp_id);
	if (json_object_object_add(luks2_section(jobj, "keyslots"), name, copy)) {
		json_object_put(copy);
		return -ENOMEM;
	}
	if (!json_object_object_get_ex(luks2_numbered(luks2_section(jobj, "digests"), digest),
				       "keyslots", &list))
		return -EINVAL;
	return luks2_array_add(list, s->temp_id);
}

static int luks2_write_intermediate(struct restore_ctx *ctx, struct udm_error *err)
{
	json_object *jobj = NULL;
	int r = 0;

	if (json_object_deep_copy(hdr_of(ctx->current)->jobj, &jobj, NULL))
		return -ENOMEM;
	for (int i = 0; i < ctx->n_slots && !r; i++)
		if (ctx->slots[i].changed)
			r = add_copy(ctx, jobj, &ctx->slots[i]);
	if (r) {
		json_object_put(jobj);
		udm_error_set(err, "cannot build the intermediate LUKS2 metadata: %s",
			      strerror(-r));
		return r;
	}
	return luks2_commit(ctx->current, jobj, err);
}

/*
 * Copies the backup's two metadata copies as they are, the primary first,
 * each flushed. Until the secondary is written, the loader takes the
 * device's secondary copy whenever its seqid is the higher. That copy still
 * opens, because the copies of the changed key slots in the intermediate
 * metadata stay until the last step. Without an intermediate, step 3 wrote
 * nothing, unless the driver warned that it could not build one.
 */
static int luks2_write_backup_header(struct restore_ctx *ctx, struct udm_error *err)
{
	uint64_t hdr_size = hdr_of(ctx->backup)->hdr_size;
	int r = restore_copy(ctx, 0, 0, hdr_size);

	if (!r)
		r = restore_sync(ctx);
	if (!r)
		r = restore_copy(ctx, hdr_size, hdr_size, hdr_size);
	if (!r)
		r = restore_sync(ctx);
	if (r)
		udm_error_set(err, "cannot write the LUKS2 header to %s: %s", ctx->current->path,
			      strerror(-r));
	return r;
}

const struct restore_format luks2_restore_format = {
	.list_slots = luks2_list_slots,
	.plan = luks2_plan,
	.write_intermediate = luks2_write_intermediate,
	.write_header = luks2_write_backup_header,
};
