// SPDX-License-Identifier: GPL-2.0-or-later
/* The table and status of a mapped device, in the formats dmsetup prints. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"
#include "secmem.h"

static const char *const type_names[] = {
	[TARGET_CRYPT] = "crypt", [TARGET_LINEAR] = "linear",
	[TARGET_ZERO] = "zero", [TARGET_ERROR] = "error",
};

/* Writes one target line into out (size bytes, secure memory); returns the
 * length written or -ENOMEM. */
static int format_target(const struct target *t, bool show_keys, char *out, size_t size)
{
	char *head = NULL, *tail = NULL;
	int n;

	if (t->type == TARGET_CRYPT) {
		if (udm_crypt_table_args(t->crypt, show_keys, &head, &tail))
			return -ENOMEM;
		n = snprintf(out, size, "%" PRIu64 " %" PRIu64 " crypt %s %s %" PRIu64 "%s\n",
			     t->start, t->length, head, t->dev_name, t->offset, tail);
		udm_secure_free(head);
		free(tail);
	} else if (t->type == TARGET_LINEAR) {
		n = snprintf(out, size, "%" PRIu64 " %" PRIu64 " linear %s %" PRIu64 "\n",
			     t->start, t->length, t->dev_name, t->offset);
	} else {
		n = snprintf(out, size, "%" PRIu64 " %" PRIu64 " %s\n", t->start, t->length,
			     type_names[t->type]);
	}
	return n < 0 || (size_t)n >= size ? -ENOMEM : n;
}

char *udm_device_table(const struct udm_device *dev, bool show_keys)
{
	size_t size = 64 * 1024, pos = 0;
	char *out = udm_secure_alloc(size);

	if (!out)
		return NULL;
	for (unsigned i = 0; i < dev->n_targets; i++) {
		int n = format_target(&dev->targets[i], show_keys, out + pos, size - pos);

		if (n < 0) {
			udm_secure_free(out);
			return NULL;
		}
		pos += (size_t)n;
	}
	if (show_keys)
		return out;

	/* Without keys the text needs no protection: hand back plain memory,
	 * so that callers free it with free(). */
	char *plain = strdup(out);
	udm_secure_free(out);
	return plain;
}

char *udm_device_status(const struct udm_device *dev)
{
	size_t size = 64 * (size_t)dev->n_targets + 1, pos = 0;
	char *out = calloc(1, size);

	if (!out)
		return NULL;
	for (unsigned i = 0; i < dev->n_targets; i++) {
		const struct target *t = &dev->targets[i];
		int n = snprintf(out + pos, size - pos, "%" PRIu64 " %" PRIu64 " %s\n", t->start,
				 t->length, type_names[t->type]);

		if (n > 0)
			pos += (size_t)n;
	}
	return out;
}
