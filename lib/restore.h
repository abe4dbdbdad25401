/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ordered header restore, shared by the driver (volume_restore.c) and the
 * format code (luks1_restore.c, luks2_restore.c). volume_restore.c explains
 * the order of the writes.
 */
#ifndef UDM_RESTORE_H
#define UDM_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "volume_internal.h"

#define RESTORE_MAX_SLOTS 32	/* LUKS2 has the most key slots */

/* A byte range on the device. */
struct restore_area {
	uint64_t offset, size;
};

/* A key slot of the backup header and how the restore treats it. */
struct restore_slot {
	int id;
	struct restore_area area;
	/* The current header lacks this key slot with the same parameters,
	 * the same volume key and the same key material. */
	bool changed;
	/* Changed, and its area overlaps the area of a current key slot. */
	bool collides;
	/* Slot number and area of a changed key slot in the intermediate
	 * header. Its key material is copied there when temp_area differs
	 * from area. */
	int temp_id;
	struct restore_area temp_area;
};

struct restore_ctx {
	struct udm_volume *current;	/* loaded read-write from the device */
	struct udm_volume *backup;	/* loaded from the backup file */
	uint64_t header_bytes;		/* the backup's header_size() */
	/* Areas of the key slots active in the current header. */
	struct restore_area current_areas[RESTORE_MAX_SLOTS];
	int n_current;
	/* The key slots active in the backup header. */
	struct restore_slot slots[RESTORE_MAX_SLOTS];
	int n_slots;
	uint8_t *device_buf, *backup_buf;	/* RESTORE_CHUNK bytes each */
};

/* Format hooks of the driver. Each returns 0 or a negative errno with err
 * set, unless its comment states otherwise. */
struct restore_format {
	/* Fills current_areas and the slots' id, area and changed (the last
	 * from the parameters only; the driver compares the key material).
	 * Returns -ENOTSUP with reason set when the headers' layouts differ so
	 * much that only a plain copy can restore the backup. */
	int (*list_slots)(struct restore_ctx *ctx, char *reason, size_t reason_len);
	/* Sets temp_id and temp_area of every changed slot. Returns -ENOSPC
	 * or -ENOTSUP, with reason set and nothing written, when the current
	 * header cannot hold them all. */
	int (*plan)(struct restore_ctx *ctx, char *reason, size_t reason_len);
	/* Writes the current header plus the changed slots where plan put
	 * them. The driver has already copied their key material. */
	int (*write_intermediate)(struct restore_ctx *ctx, struct udm_error *err);
	/* Writes the backup's header (LUKS2: both metadata copies) as it is
	 * in the file, and flushes it. */
	int (*write_header)(struct restore_ctx *ctx, struct udm_error *err);
};

extern const struct restore_format luks1_restore_format;
extern const struct restore_format luks2_restore_format;

bool restore_overlaps(struct restore_area a, struct restore_area b);
/* Whether a overlaps the area of any current key slot. */
bool restore_overlaps_current(const struct restore_ctx *ctx, struct restore_area a);

/* Copies the backup's bytes at src to the device at dst, size bytes,
 * writing only the 512-byte blocks that differ. Does not flush. */
int restore_copy(struct restore_ctx *ctx, uint64_t src, uint64_t dst, uint64_t size);
/* Whether the device differs from the backup anywhere in area: 1, 0, or a
 * negative errno. */
int restore_differs(struct restore_ctx *ctx, struct restore_area area);
int restore_sync(struct restore_ctx *ctx);

/*
 * Restores the backup's first header_bytes bytes over the device of
 * current, a header of the same volume, in the order that volume_restore.c
 * explains. Returns 0 or a negative errno with err set.
 */
int udm_restore_ordered(struct udm_volume *current, struct udm_volume *backup,
			uint64_t header_bytes, struct udm_error *err);

#endif
