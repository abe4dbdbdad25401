/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A mapped device: its targets and backing devices. */
#ifndef UDM_DEVICE_INTERNAL_H
#define UDM_DEVICE_INTERNAL_H

#include <pthread.h>

#include "crypt.h"

enum target_type { TARGET_CRYPT, TARGET_LINEAR, TARGET_ZERO, TARGET_ERROR };

struct target {
	enum target_type type;
	uint64_t start, length;	/* 512-byte sectors of the mapped device */
	struct udm_crypt *crypt;
	char *dev_name;		/* as written in the table */
	int fd;			/* -1 for zero, error and blockdevs */
	const struct udm_blockdev *blockdev;
	bool dev_is_block;
	uint64_t offset;	/* 512-byte sectors on the backing device */
};

#define DEVICE_LOCK_STRIPES 64

struct udm_device {
	struct target *targets;
	unsigned n_targets;
	uint64_t size;		/* bytes */
	unsigned block_size;
	bool readonly;
	const struct udm_blockdev *blockdevs;	/* set only while the table is parsed */
	unsigned n_blockdevs;
	/* Serialize read-modify-write of partial sectors that hash alike. */
	pthread_mutex_t stripes[DEVICE_LOCK_STRIPES];
};

/* Parses the table text into dev->targets and opens the backing devices.
 * Returns 0 or a negative errno with err set. */
int udm_table_parse(struct udm_device *dev, const char *table, struct udm_error *err);

/* Frees the targets of dev and closes their devices. */
void udm_table_free(struct udm_device *dev);

#endif
