// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS2 binary headers: reading both metadata copies and writing them back.
 * Each copy is checked in an order that keeps hostile input away from the
 * JSON parser: magic and version, then every size and offset against the
 * device, then the checksum, and only then the JSON. The checksum covers the
 * binary header, with the checksum field zeroed, and the whole JSON area.
 * The choice between the copies follows cryptsetup 2.6.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "luks2.h"
#include "secmem.h"

/* Where a secondary copy may start when the primary gives no usable size. */
static const uint64_t secondary_offsets[] = {
	0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000,
};

/* How far a copy got through the checks. */
enum copy_stage {
	STAGE_NONE,		/* no readable binary header */
	STAGE_BINARY,		/* magic, version, sizes and offsets are sane */
	STAGE_CHECKSUM,		/* the checksum matches */
	STAGE_VALID,		/* the JSON is valid too */
};

struct hdr_copy {
	const char *name;	/* "primary" or "secondary" */
	uint64_t offset;
	struct luks2_disk_hdr disk;
	json_object *jobj;
	enum copy_stage stage;
	int r;
	struct udm_error err;
};

static bool valid_hdr_size(uint64_t size)
{
	return size >= LUKS2_HDR_MIN_SIZE && size <= LUKS2_HDR_MAX_SIZE && !(size & (size - 1));
}

/* Magic, version, sizes and offsets of the binary header, before anything
 * else is read. */
static int check_binary(const struct hdr_copy *c, bool secondary, uint64_t device_size,
			struct udm_error *err)
{
	const struct luks2_disk_hdr *d = &c->disk;
	uint64_t hdr_size = be64toh(d->hdr_size);
	uint8_t digest[UDM_MAX_DIGEST];

	if (memcmp(d->magic, secondary ? LUKS2_MAGIC_2ND : LUKS_MAGIC, LUKS2_MAGIC_L)) {
		udm_error_set(err, "%s LUKS2 header at offset %" PRIu64 ": no LUKS2 magic",
			      c->name, c->offset);
		return -ENODEV;
	}
	if (be16toh(d->version) != 2)
		return udm_error_set(err, "%s LUKS2 header: unsupported version %u", c->name,
				     be16toh(d->version));
	if (be64toh(d->hdr_offset) != c->offset)
		return udm_error_set(err, "%s LUKS2 header: hdr_offset %" PRIu64 " does not match "
				     "its position %" PRIu64, c->name, be64toh(d->hdr_offset),
				     c->offset);
	if (!valid_hdr_size(hdr_size))
		return udm_error_set(err, "%s LUKS2 header: invalid hdr_size %" PRIu64 ": accepted "
				     "are powers of two from 16384 to 4194304", c->name, hdr_size);
	if (secondary && hdr_size != c->offset)
		return udm_error_set(err, "secondary LUKS2 header at offset %" PRIu64 " has "
				     "hdr_size %" PRIu64 ": they must be equal", c->offset,
				     hdr_size);
	if (c->offset + hdr_size > device_size)
		return udm_error_set(err, "%s LUKS2 header (%" PRIu64 " bytes at offset %" PRIu64
				     ") ends past the end of the device (%" PRIu64 " bytes)",
				     c->name, hdr_size, c->offset, device_size);
	if (!memchr(d->checksum_alg, '\0', sizeof(d->checksum_alg)) ||
	    udm_hash(d->checksum_alg, "", 0, digest) <= 0)
		return udm_error_set(err, "%s LUKS2 header: unknown checksum algorithm", c->name);
	return 0;
}

/* Reads one copy at c->offset and runs every check; c->stage records how far
 * it got and c->err why it stopped. */
static void read_copy(const struct udm_volume *vol, struct hdr_copy *c, bool secondary, uint64_t device_size)
{
	uint8_t digest[UDM_MAX_DIGEST];
	uint64_t hdr_size;
	uint8_t *buf = NULL;
	int len;

	c->stage = STAGE_NONE;
	c->jobj = NULL;
	if (c->offset + LUKS2_HDR_BIN_LEN > device_size) {
		c->r = udm_error_set(&c->err, "the device is too small for a %s LUKS2 header at "
				     "offset %" PRIu64, c->name, c->offset);
		return;
	}
	c->r = udm_volume_read(vol, &c->disk, sizeof(c->disk), c->offset);
	if (c->r) {
		udm_error_set(&c->err, "cannot read the %s LUKS2 header: %s", c->name,
			      strerror(-c->r));
		return;
	}
	c->r = check_binary(c, secondary, device_size, &c->err);
	if (c->r)
		return;
	c->stage = STAGE_BINARY;

	/* The checksum covers the binary header, with the checksum field
	 * zeroed, and the whole JSON area. */
	hdr_size = be64toh(c->disk.hdr_size);
	buf = malloc(hdr_size);
	c->r = buf ? udm_volume_read(vol, buf, hdr_size, c->offset) : -ENOMEM;
	if (c->r) {
		udm_error_set(&c->err, "cannot read the %s LUKS2 header: %s", c->name,
			      strerror(-c->r));
		goto out;
	}
	memset(buf + offsetof(struct luks2_disk_hdr, csum), 0, LUKS2_CHECKSUM_L);
	len = udm_hash(c->disk.checksum_alg, buf, hdr_size, digest);
	if (len <= 0 || memcmp(digest, c->disk.csum, (size_t)len)) {
		c->r = udm_error_set(&c->err, "%s LUKS2 header at offset %" PRIu64 ": checksum "
				     "mismatch", c->name, c->offset);
		goto out;
	}
	c->stage = STAGE_CHECKSUM;

	c->r = luks2_json_parse((char *)buf + LUKS2_HDR_BIN_LEN, hdr_size - LUKS2_HDR_BIN_LEN,
				&c->jobj, &c->err);
	if (!c->r)
		c->r = luks2_json_validate(c->jobj, hdr_size, device_size, &c->err);
	if (!c->r)
		c->stage = STAGE_VALID;
out:
	free(buf);
	if (c->r && c->jobj) {
		json_object_put(c->jobj);
		c->jobj = NULL;
	}
}

/* Finds the secondary copy: after the primary when its size is known, else
 * at each offset a secondary may have, keeping the copy that got furthest. */
static void read_secondary(const struct udm_volume *vol, const struct hdr_copy *primary, struct hdr_copy *secondary,
			   uint64_t device_size)
{
	struct hdr_copy probe = { .name = "secondary" };

	secondary->stage = STAGE_NONE;
	secondary->r = -ENODEV;
	snprintf(secondary->err.msg, sizeof(secondary->err.msg), "no secondary LUKS2 header found");
	if (primary->stage >= STAGE_BINARY) {
		secondary->offset = be64toh(primary->disk.hdr_size);
		read_copy(vol, secondary, true, device_size);
		if (secondary->stage >= STAGE_CHECKSUM || primary->stage == STAGE_VALID)
			return;
	}
	for (size_t i = 0; i < sizeof(secondary_offsets) / sizeof(secondary_offsets[0]); i++) {
		probe.offset = secondary_offsets[i];
		read_copy(vol, &probe, true, device_size);
		if (probe.stage > secondary->stage) {
			json_object_put(secondary->jobj);
			*secondary = probe;
			probe.jobj = NULL;
		}
		json_object_put(probe.jobj);
		probe.jobj = NULL;
		if (secondary->stage >= STAGE_CHECKSUM)
			return;
	}
}

static void copy_field(char *dst, const char *src, size_t size)
{
	memcpy(dst, src, size);
	dst[size - 1] = '\0';
}

static void hdr_from_copy(struct luks2_hdr *hdr, struct hdr_copy *used,
			  const struct hdr_copy *primary, const struct hdr_copy *secondary)
{
	const struct luks2_disk_hdr *d = &used->disk;

	hdr->hdr_size = be64toh(d->hdr_size);
	hdr->seqid = be64toh(d->seqid);
	copy_field(hdr->label, d->label, sizeof(hdr->label));
	copy_field(hdr->subsystem, d->subsystem, sizeof(hdr->subsystem));
	copy_field(hdr->checksum_alg, d->checksum_alg, sizeof(hdr->checksum_alg));
	copy_field(hdr->uuid, d->uuid, sizeof(hdr->uuid));

	/* A damaged copy keeps its salt when its binary header was readable, as
	 * in cryptsetup; else it gets a new one when it is rewritten. */
	if (primary->stage >= STAGE_BINARY)
		memcpy(hdr->salt[0], primary->disk.salt, LUKS2_SALT_L);
	else
		udm_random_bytes(hdr->salt[0], LUKS2_SALT_L);
	if (secondary->stage >= STAGE_BINARY)
		memcpy(hdr->salt[1], secondary->disk.salt, LUKS2_SALT_L);
	else
		udm_random_bytes(hdr->salt[1], LUKS2_SALT_L);
	hdr->jobj = used->jobj;
	used->jobj = NULL;
}

/* Picks the valid copy with the higher seqid and warns about the other. */
static struct hdr_copy *choose_copy(struct hdr_copy *p, struct hdr_copy *s)
{
	uint64_t pseq = be64toh(p->disk.seqid), sseq = be64toh(s->disk.seqid);

	if (p->stage == STAGE_VALID && s->stage == STAGE_VALID) {
		if (pseq >= sseq) {
			if (pseq > sseq)
				log_warn("the secondary LUKS2 header (seqid %" PRIu64 ") is older "
					 "than the primary (seqid %" PRIu64 "); using the primary",
					 sseq, pseq);
			return p;
		}
		log_warn("the primary LUKS2 header (seqid %" PRIu64 ") is older than the secondary "
			 "(seqid %" PRIu64 "); using the secondary", pseq, sseq);
		return s;
	}
	if (p->stage == STAGE_VALID) {
		log_warn("the secondary LUKS2 header is damaged (%s); using the primary",
			 s->err.msg);
		return p;
	}
	if (s->stage == STAGE_VALID) {
		log_warn("the primary LUKS2 header is damaged (%s); using the secondary",
			 p->err.msg);
		return s;
	}
	return NULL;
}

int luks2_disk_read(const struct udm_volume *vol, uint64_t device_size, struct luks2_hdr *hdr, struct udm_error *err)
{
	struct hdr_copy primary = { .name = "primary", .offset = 0 };
	struct hdr_copy secondary = { .name = "secondary" };
	const struct hdr_copy *best;
	struct hdr_copy *used;
	int r = 0;

	read_copy(vol, &primary, false, device_size);
	read_secondary(vol, &primary, &secondary, device_size);

	used = choose_copy(&primary, &secondary);
	if (used) {
		hdr_from_copy(hdr, used, &primary, &secondary);
		goto out;
	}
	if (primary.r == -ENODEV && secondary.stage == STAGE_NONE) {
		udm_error_set(err, "no LUKS2 header found");
		r = -ENODEV;
		goto out;
	}
	best = secondary.stage > primary.stage ? &secondary : &primary;
	udm_error_set(err, "both LUKS2 header copies are invalid: %s", best->err.msg);
	r = primary.r == -EIO && secondary.r == -EIO ? -EIO : -EINVAL;
out:
	json_object_put(primary.jobj);
	json_object_put(secondary.jobj);
	return r;
}

/* Fills the binary header of one copy, without its checksum. */
static void hdr_to_disk(const struct luks2_hdr *hdr, uint64_t seqid, bool secondary,
			struct luks2_disk_hdr *d)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->magic, secondary ? LUKS2_MAGIC_2ND : LUKS_MAGIC, LUKS2_MAGIC_L);
	d->version = htobe16(2);
	d->hdr_size = htobe64(hdr->hdr_size);
	d->seqid = htobe64(seqid);
	snprintf(d->label, sizeof(d->label), "%s", hdr->label);
	snprintf(d->checksum_alg, sizeof(d->checksum_alg), "%s", hdr->checksum_alg);
	memcpy(d->salt, hdr->salt[secondary], LUKS2_SALT_L);
	snprintf(d->uuid, sizeof(d->uuid), "%s", hdr->uuid);
	snprintf(d->subsystem, sizeof(d->subsystem), "%s", hdr->subsystem);
	d->hdr_offset = htobe64(secondary ? hdr->hdr_size : 0);
}

/*
 * Writes one copy: first its binary header without a checksum, so that a
 * copy torn by a crash never carries a valid one, then the JSON area, then
 * the binary header with the checksum, and flushes it to the disk.
 */
static int write_copy(const struct udm_volume *vol, const struct luks2_hdr *hdr, uint64_t seqid, bool secondary,
		      uint8_t *buf)
{
	struct luks2_disk_hdr *d = (struct luks2_disk_hdr *)buf;
	uint64_t offset = secondary ? hdr->hdr_size : 0;
	uint8_t digest[UDM_MAX_DIGEST];
	int len, r;

	hdr_to_disk(hdr, seqid, secondary, d);
	r = udm_volume_write(vol, buf, hdr->hdr_size, offset);
	if (r)
		return r;
	len = udm_hash(hdr->checksum_alg, buf, hdr->hdr_size, digest);
	if (len <= 0 || len > LUKS2_CHECKSUM_L)
		return -EINVAL;
	memcpy(d->csum, digest, (size_t)len);
	r = udm_volume_write(vol, buf, LUKS2_HDR_BIN_LEN, offset);
	if (!r && udm_volume_sync(vol))
		r = -errno;
	return r;
}

/*
 * Both copies get the same metadata and seqid + 1, the primary first, as
 * cryptsetup 2.6 writes them. A crash while the primary is written leaves
 * the old secondary valid, so the next load uses the old metadata. A crash
 * while the secondary is written leaves the new primary valid and with the
 * higher seqid, so the next load uses the new metadata. Callers write key
 * slot material before the metadata that refers to it.
 */
/* A damaged or older primary has a seqid no higher than ours; a primary
 * that another writer updated has a higher one. */
int luks2_disk_check_seqid(const struct udm_volume *vol, const struct luks2_hdr *hdr, struct udm_error *err)
{
	struct luks2_disk_hdr d;

	if (udm_volume_read(vol, &d, sizeof(d), 0) || memcmp(d.magic, LUKS_MAGIC, LUKS2_MAGIC_L) ||
	    be16toh(d.version) != 2 || be64toh(d.seqid) <= hdr->seqid)
		return 0;
	udm_error_set(err, "the LUKS2 header was updated by another writer (seqid %" PRIu64
		      ", this copy has %" PRIu64 "): load it again and retry", be64toh(d.seqid),
		      hdr->seqid);
	return -EBUSY;
}

int luks2_disk_write(const struct udm_volume *vol, struct luks2_hdr *hdr, struct udm_error *err)
{
	const char *text = luks2_json_text(hdr->jobj);
	size_t len = text ? strlen(text) : 0;
	uint64_t json_size = hdr->hdr_size - LUKS2_HDR_BIN_LEN;
	uint8_t *buf;
	int r;

	if (!text)
		return -ENOMEM;
	if (len >= json_size) {
		udm_error_set(err, "the LUKS2 metadata (%zu bytes of JSON) does not fit in the %"
			      PRIu64 "-byte JSON area", len, json_size);
		return -ENOSPC;
	}
	r = luks2_disk_check_seqid(vol, hdr, err);
	if (r)
		return r;
	buf = calloc(1, hdr->hdr_size);
	if (!buf)
		return -ENOMEM;
	memcpy(buf + LUKS2_HDR_BIN_LEN, text, len);

	r = write_copy(vol, hdr, hdr->seqid + 1, false, buf);
	if (!r)
		r = write_copy(vol, hdr, hdr->seqid + 1, true, buf);
	if (r)
		udm_error_set(err, "cannot write the LUKS2 header: %s", strerror(-r));
	else
		hdr->seqid++;
	free(buf);
	return r;
}
