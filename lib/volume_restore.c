// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Ordered LUKS header restore, for a device that still has a readable
 * header of the same volume. A crash at any moment leaves a volume that
 * opens with every passphrase whose key slot is the same in the current
 * header and in the backup. It also opens with all the changed passphrases
 * of the current header or with all those of the backup. The steps, each
 * flushed to the disk before the next starts:
 *
 * 1. The areas of changed backup key slots that no current key slot uses.
 *    The current header never reads them.
 * 2. Only when a changed backup key slot needs the area of a current key
 *    slot: an intermediate header, the current one plus every changed
 *    backup key slot. A key slot whose area is in use goes to a free slot
 *    number and area, with its key material copied there first. Key
 *    material is encrypted with sector numbers counted from the start of
 *    its own area, so it opens the same at any offset.
 * 3. The areas of the changed backup key slots that collide with current
 *    ones. The intermediate header contains copies of them elsewhere.
 * 4. The backup's header as it is in the file (LUKS2: the primary
 *    metadata copy, then the secondary).
 * 5. Every other byte of the header area: the temporary copies, the areas
 *    of key slots that the backup does not have, padding.
 *
 * Blocks that already equal the backup's are not rewritten. When the
 * intermediate header cannot be built (different volume key, no free key
 * slot or area), step 2 is skipped with a warning. The changed key slots
 * that collide may then open with neither passphrase between steps 3 and 4.
 * LUKS2 headers whose metadata copies differ in size get a plain copy in
 * file order, with the same warning.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "log.h"
#include "restore.h"
#include "secmem.h"

#define RESTORE_CHUNK (1024 * 1024)
#define RESTORE_BLOCK 512

bool restore_overlaps(struct restore_area a, struct restore_area b)
{
	return a.offset < b.offset + b.size && b.offset < a.offset + a.size;
}

bool restore_overlaps_current(const struct restore_ctx *ctx, struct restore_area a)
{
	for (int i = 0; i < ctx->n_current; i++)
		if (restore_overlaps(a, ctx->current_areas[i]))
			return true;
	return false;
}

/* Reads len bytes of the backup at src and of the device at dst. */
static int read_both(struct restore_ctx *ctx, uint64_t src, uint64_t dst, size_t len)
{
	int r = udm_volume_read(ctx->backup, ctx->backup_buf, len, src);

	return r ? r : udm_volume_read(ctx->current, ctx->device_buf, len, dst);
}

/* Bytes from pos on, in whole blocks, where the buffers differ (or, with
 * differ false, are equal). */
static size_t run_length(const struct restore_ctx *ctx, size_t pos, size_t len, bool differ)
{
	size_t end = pos;

	while (end < len) {
		size_t block = len - end < RESTORE_BLOCK ? len - end : RESTORE_BLOCK;
		bool differs = memcmp(ctx->device_buf + end, ctx->backup_buf + end, block) != 0;

		if (differs != differ)
			break;
		end += block;
	}
	return end - pos;
}

int restore_copy(struct restore_ctx *ctx, uint64_t src, uint64_t dst, uint64_t size)
{
	for (uint64_t done = 0; done < size;) {
		size_t len = size - done < RESTORE_CHUNK ? (size_t)(size - done) : RESTORE_CHUNK;
		int r = read_both(ctx, src + done, dst + done, len);

		if (r)
			return r;
		for (size_t pos = run_length(ctx, 0, len, false); pos < len;) {
			size_t run = run_length(ctx, pos, len, true);

			r = udm_volume_write(ctx->current, ctx->backup_buf + pos, run, dst + done + pos);
			if (r)
				return r;
			pos += run;
			pos += run_length(ctx, pos, len, false);
		}
		done += len;
	}
	return 0;
}

int restore_differs(struct restore_ctx *ctx, struct restore_area area)
{
	for (uint64_t done = 0; done < area.size;) {
		size_t len = area.size - done < RESTORE_CHUNK ? (size_t)(area.size - done) :
			     RESTORE_CHUNK;
		int r = read_both(ctx, area.offset + done, area.offset + done, len);

		if (r)
			return r;
		if (memcmp(ctx->device_buf, ctx->backup_buf, len))
			return 1;
		done += len;
	}
	return 0;
}

int restore_sync(struct restore_ctx *ctx)
{
	return udm_volume_sync(ctx->current);
}

static void warn_unordered(const struct restore_ctx *ctx, const char *reason)
{
	log_warn("restoring the header of %s without an intermediate header, because %s: a "
		 "crash before the restore completes may leave the key slots that it changes "
		 "opening with neither their current nor their backup passphrase",
		 ctx->current->path, reason);
}

/* Sets the error for a failed read, write or flush of the device. */
static int io_result(const struct restore_ctx *ctx, int r, struct udm_error *err)
{
	if (r)
		udm_error_set(err, "cannot write the header to %s: %s", ctx->current->path,
			      strerror(-r));
	return r;
}

/* Marks the backup key slots whose key material differs as changed, and
 * the changed ones that overlap a current key slot as colliding. */
static int classify_slots(struct restore_ctx *ctx)
{
	for (int i = 0; i < ctx->n_slots; i++) {
		struct restore_slot *s = &ctx->slots[i];

		if (!s->changed) {
			int r = restore_differs(ctx, s->area);

			if (r < 0)
				return r;
			s->changed = r;
		}
		s->collides = s->changed && restore_overlaps_current(ctx, s->area);
	}
	return 0;
}

/* Steps 1 and 3: the areas of the changed key slots that collide, or that
 * do not, then a flush. */
static int copy_slot_areas(struct restore_ctx *ctx, bool collides)
{
	for (int i = 0; i < ctx->n_slots; i++) {
		const struct restore_slot *s = &ctx->slots[i];
		int r;

		if (!s->changed || s->collides != collides)
			continue;
		r = restore_copy(ctx, s->area.offset, s->area.offset, s->area.size);
		if (r)
			return r;
	}
	return restore_sync(ctx);
}

/* Step 2, when a changed key slot collides. Warns and writes nothing when
 * the current header cannot hold the changed key slots. */
static int write_intermediate(struct restore_ctx *ctx, const struct restore_format *fmt,
			      struct udm_error *err)
{
	char reason[256] = "";
	bool needed = false;
	int r;

	for (int i = 0; i < ctx->n_slots; i++)
		needed |= ctx->slots[i].collides;
	if (!needed)
		return 0;
	r = fmt->plan(ctx, reason, sizeof(reason));
	if (r == -ENOSPC || r == -ENOTSUP) {
		warn_unordered(ctx, reason);
		return 0;
	}
	if (r)
		return io_result(ctx, r, err);

	for (int i = 0; i < ctx->n_slots && !r; i++) {
		const struct restore_slot *s = &ctx->slots[i];

		if (s->changed && s->temp_area.offset != s->area.offset)
			r = restore_copy(ctx, s->area.offset, s->temp_area.offset, s->area.size);
	}
	if (!r)
		r = restore_sync(ctx);
	if (r)
		return io_result(ctx, r, err);
	return fmt->write_intermediate(ctx, err);
}

static int run_steps(struct restore_ctx *ctx, const struct restore_format *fmt,
		     struct udm_error *err)
{
	char reason[256] = "";
	int r;

	r = fmt->list_slots(ctx, reason, sizeof(reason));
	if (r == -ENOTSUP) {
		warn_unordered(ctx, reason);
		r = restore_copy(ctx, 0, 0, ctx->header_bytes);
		return io_result(ctx, r ? r : restore_sync(ctx), err);
	}
	if (!r)
		r = classify_slots(ctx);
	if (!r)
		r = copy_slot_areas(ctx, false);
	if (r)
		return io_result(ctx, r, err);

	r = write_intermediate(ctx, fmt, err);
	if (r)
		return r;
	r = copy_slot_areas(ctx, true);
	if (r)
		return io_result(ctx, r, err);
	r = fmt->write_header(ctx, err);
	if (r)
		return r;

	r = restore_copy(ctx, 0, 0, ctx->header_bytes);
	return io_result(ctx, r ? r : restore_sync(ctx), err);
}

int udm_restore_ordered(struct udm_volume *current, struct udm_volume *backup,
			uint64_t header_bytes, struct udm_error *err)
{
	struct restore_ctx ctx = {
		.current = current,
		.backup = backup,
		.header_bytes = header_bytes,
	};
	const struct restore_format *fmt = current->ops->type == UDM_VOLUME_LUKS1 ?
					   &luks1_restore_format : &luks2_restore_format;
	int r;

	/* Other udmcrypt writers take the same lock before they change key
	 * slots. */
	if (current->fd >= 0 && flock(current->fd, LOCK_EX))
		return udm_error_set(err, "cannot lock %s: %s", current->path, strerror(errno));
	ctx.device_buf = malloc(RESTORE_CHUNK);
	ctx.backup_buf = malloc(RESTORE_CHUNK);
	if (ctx.device_buf && ctx.backup_buf) {
		r = run_steps(&ctx, fmt, err);
	} else {
		udm_error_set(err, "cannot restore the header of %s: %s", current->path,
			      strerror(ENOMEM));
		r = -ENOMEM;
	}
	/* Key slots are encrypted, but wipe the copies anyway. */
	if (ctx.device_buf)
		udm_wipe(ctx.device_buf, RESTORE_CHUNK);
	if (ctx.backup_buf)
		udm_wipe(ctx.backup_buf, RESTORE_CHUNK);
	free(ctx.device_buf);
	free(ctx.backup_buf);
	if (current->fd >= 0)
		flock(current->fd, LOCK_UN);
	return r;
}
