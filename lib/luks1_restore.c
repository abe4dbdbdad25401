// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS1 part of the ordered header restore (volume_restore.c explains the
 * steps). The intermediate header is the current one with every changed
 * backup key slot in an entry that is inactive in the current header. A
 * key slot keeps its own entry when that one is inactive and its area is
 * free. Otherwise it moves to an entry whose area neither header uses,
 * takes that entry's key material offset, and the driver copies its key
 * material there.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "luks1_internal.h"
#include "restore.h"

static struct restore_area slot_area(const struct luks1_header *h, int slot)
{
	return (struct restore_area){
		.offset = (uint64_t)h->slots[slot].material_offset * LUKS1_SECTOR,
		.size = luks1_material_sectors(h->key_bytes) * LUKS1_SECTOR,
	};
}

/* Whether both headers hold the same volume key for the same cipher, so
 * that a key slot of one opens the volume of the other. */
static bool same_volume_key(const struct luks1_header *a, const struct luks1_header *b)
{
	return a->key_bytes == b->key_bytes && a->mk_iterations == b->mk_iterations &&
	       !memcmp(a->mk_digest, b->mk_digest, LUKS1_DIGEST_BYTES) &&
	       !memcmp(a->mk_salt, b->mk_salt, LUKS1_SALT_BYTES) &&
	       !strcmp(a->cipher_name, b->cipher_name) &&
	       !strcmp(a->cipher_mode, b->cipher_mode) && !strcmp(a->hash_spec, b->hash_spec);
}

static bool same_slot(const struct luks1_keyslot *a, const struct luks1_keyslot *b)
{
	return a->active == b->active && a->iterations == b->iterations &&
	       a->material_offset == b->material_offset && a->stripes == b->stripes &&
	       !memcmp(a->salt, b->salt, LUKS1_SALT_BYTES);
}

static int luks1_list_slots(struct restore_ctx *ctx, char *reason, size_t reason_len)
{
	const struct luks1_header *cur = luks1_hdr(ctx->current);
	const struct luks1_header *bak = luks1_hdr(ctx->backup);
	bool same_key = same_volume_key(cur, bak);

	for (int i = 0; i < LUKS1_SLOTS; i++) {
		struct restore_slot *s = &ctx->slots[ctx->n_slots];

		if (cur->slots[i].active)
			ctx->current_areas[ctx->n_current++] = slot_area(cur, i);
		if (!bak->slots[i].active)
			continue;
		s->id = i;
		s->area = slot_area(bak, i);
		s->changed = !same_key || !same_slot(&cur->slots[i], &bak->slots[i]);
		ctx->n_slots++;
	}
	return 0;
}

/* Whether entry slot of the current header can take a moved key slot:
 * inactive, not taken yet, and with an area that no key slot of either
 * header uses. */
static bool entry_free(const struct restore_ctx *ctx, int slot, const bool taken[])
{
	const struct luks1_header *cur = luks1_hdr(ctx->current);
	struct restore_area area = slot_area(cur, slot);

	if (cur->slots[slot].active || taken[slot] || restore_overlaps_current(ctx, area))
		return false;
	for (int i = 0; i < ctx->n_slots; i++)
		if (restore_overlaps(area, ctx->slots[i].area))
			return false;
	return true;
}

static int luks1_plan(struct restore_ctx *ctx, char *reason, size_t reason_len)
{
	const struct luks1_header *cur = luks1_hdr(ctx->current);
	const struct luks1_header *bak = luks1_hdr(ctx->backup);
	bool taken[LUKS1_SLOTS] = { false };

	if (!same_volume_key(cur, bak)) {
		snprintf(reason, reason_len, "the backup holds another volume key or cipher");
		return -ENOTSUP;
	}
	/* First the key slots that can stay in their own entry and area. */
	for (int i = 0; i < ctx->n_slots; i++) {
		struct restore_slot *s = &ctx->slots[i];
		int id = s->id;

		s->temp_id = -1;
		if (!s->changed || s->collides || cur->slots[id].active ||
		    cur->slots[id].material_offset != bak->slots[id].material_offset)
			continue;
		s->temp_id = id;
		s->temp_area = s->area;
		taken[id] = true;
	}
	for (int i = 0; i < ctx->n_slots; i++) {
		struct restore_slot *s = &ctx->slots[i];
		int k = 0;

		if (!s->changed || s->temp_id >= 0)
			continue;
		while (k < LUKS1_SLOTS && !entry_free(ctx, k, taken))
			k++;
		if (k == LUKS1_SLOTS) {
			snprintf(reason, reason_len, "no key slot is inactive in both headers with a "
				 "free area for a copy of key slot %d", s->id);
			return -ENOSPC;
		}
		s->temp_id = k;
		s->temp_area = slot_area(cur, k);
		taken[k] = true;
	}
	return 0;
}

static int luks1_write_intermediate(struct restore_ctx *ctx, struct udm_error *err)
{
	struct luks1_header *cur = luks1_hdr(ctx->current);
	const struct luks1_header *bak = luks1_hdr(ctx->backup);

	for (int i = 0; i < ctx->n_slots; i++) {
		const struct restore_slot *s = &ctx->slots[i];
		uint32_t offset;

		if (!s->changed)
			continue;
		offset = cur->slots[s->temp_id].material_offset;
		cur->slots[s->temp_id] = bak->slots[s->id];
		cur->slots[s->temp_id].material_offset = offset;
	}
	return luks1_write_header(ctx->current, err);
}

/* Writes the backup's header bytes as they are in the file. The 592 bytes
 * span two 512-byte blocks, so restore_copy() writes them in one write. */
static int luks1_write_backup_header(struct restore_ctx *ctx, struct udm_error *err)
{
	int r = restore_copy(ctx, 0, 0, LUKS1_HEADER_BYTES);

	if (!r)
		r = restore_sync(ctx);
	if (r)
		udm_error_set(err, "cannot write the LUKS1 header to %s: %s", ctx->current->path,
			      strerror(-r));
	return r;
}

const struct restore_format luks1_restore_format = {
	.list_slots = luks1_list_slots,
	.plan = luks1_plan,
	.write_intermediate = luks1_write_intermediate,
	.write_header = luks1_write_backup_header,
};
