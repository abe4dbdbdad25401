/* SPDX-License-Identifier: GPL-2.0-or-later */
/* State of a crypt target, shared by the target and its IV generators. */
#ifndef UDM_CRYPT_INTERNAL_H
#define UDM_CRYPT_INTERNAL_H

#include <pthread.h>

#include "crypt.h"
#include "skcipher.h"

#define UDM_MAX_IV 16

/*
 * One thread's keyed transforms. Contexts of the libraries are not safe to
 * share between threads, so each thread takes a slot from the pool for the
 * duration of a call. A slot is keyed once, when it is created.
 */
struct crypt_slot {
	struct udm_skcipher **tfms;	/* tfms_count transforms, one per subkey */
	struct udm_skcipher **essiv;	/* ECB keyed with the ESSIV salt of each subkey */
	struct udm_skcipher *elephant;	/* ecb(aes) with the Elephant key */
	struct crypt_slot *next;
};

/* A request to convert one sector, as the IV generators see it. */
struct sector_request {
	struct crypt_slot *slot;
	uint64_t iv_sector;	/* in sector_size units with iv_large_sectors */
	unsigned key_index;
	uint8_t *data;		/* sector_size bytes, converted in place */
	uint8_t iv[UDM_MAX_IV];
	bool write;
};

struct udm_crypt;

/* An IV generator, as the kernel's struct crypt_iv_operations. */
struct ivgen_ops {
	const char *name;
	/* Checks the target's geometry and sets key_parts and key_extra_size;
	 * runs before the key is split. */
	int (*ctr)(struct udm_crypt *cc, struct udm_error *err);
	/* Takes the IV key material from cc->key; runs after the split. */
	int (*init)(struct udm_crypt *cc, struct udm_error *err);
	/* Keys a new slot's private transforms. */
	int (*init_slot)(struct udm_crypt *cc, struct crypt_slot *slot, struct udm_error *err);
	int (*generate)(struct udm_crypt *cc, struct sector_request *req);
	int (*post)(struct udm_crypt *cc, struct sector_request *req);
};

struct udm_crypt {
	char *cipher_string;	/* as given in the table */
	char *cipher_name;	/* "aes" */
	char *chain_mode;	/* "cbc" */
	char *ivmode;		/* NULL without an IV generator */
	char *ivopts;
	const struct ivgen_ops *iv_ops;

	uint8_t *key;		/* secure memory, key_size bytes */
	unsigned key_size, key_parts, key_extra_size, tfms_count;
	unsigned iv_size, block_size;

	unsigned sector_size, sector_shift;
	bool iv_large_sectors;
	uint64_t iv_offset;
	uint64_t length;

	/* Optional parameters, kept to print the table back. */
	bool allow_discards, same_cpu_crypt, submit_from_crypt_cpus;
	bool no_read_workqueue, no_write_workqueue, high_priority;

	/* IV generator state, in secure memory where it is key material. */
	unsigned benbi_shift;
	uint8_t *lmk_seed;	/* 64 bytes, NULL for LMK version 2 */
	uint8_t *tcw_iv_seed;	/* iv_size bytes */
	uint8_t *tcw_whitening;	/* 16 bytes */
	uint8_t *elephant_key;	/* points into key */

	pthread_mutex_t slot_lock;
	struct crypt_slot *free_slots;
	struct crypt_slot *all_slots[64];
	unsigned n_slots;
};

const struct ivgen_ops *udm_ivgen_find(const char *name);
const char *udm_ivgen_names(void);

/* Subkey length each transform gets, as crypt_subkey_size() in the kernel. */
static inline unsigned crypt_subkey_size(const struct udm_crypt *cc)
{
	return (cc->key_size - cc->key_extra_size) / cc->tfms_count;
}

#endif
