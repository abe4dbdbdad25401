// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The crypt target, following the constructor and the per-sector conversion
 * of drivers/md/dm-crypt.c and Documentation/admin-guide/device-mapper/
 * dm-crypt.rst: cipher specification, key split over keycount transforms,
 * IV generator, sector size, IV offset.
 */
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypt_internal.h"
#include "log.h"
#include "parse.h"
#include "secmem.h"
#include "workers.h"

/* Bytes of one part of a conversion that worker threads share: a multiple
 * of every sector size, large enough that claiming it costs nothing. */
#define CONVERT_PART (64 * 1024)

static bool is_power_of_2(unsigned v)
{
	return v && !(v & (v - 1));
}

/* "capi:MODE(CIPHER)-ivmode:ivopts"; the IV options may hold '-'. */
static int parse_capi_spec(struct udm_crypt *cc, char *spec, struct udm_error *err)
{
	char *api = spec + strlen("capi:");
	char *colon = strrchr(api, ':');
	char *dash, *open, *close;

	if (colon) {
		*colon = '\0';
		cc->ivopts = strdup(colon + 1);
	}
	dash = strrchr(api, '-');
	if (dash) {
		*dash = '\0';
		cc->ivmode = strdup(dash + 1);
	}
	open = strchr(api, '(');
	close = strrchr(api, ')');
	if (!open || !close || close[1] || open == api || strchr(open + 1, '(') ||
	    close == open + 1)
		return udm_error_set(err, "unsupported crypto API cipher '%s': udmcrypt accepts "
				     "MODE(CIPHER), for example capi:xts(aes)-plain64", api);
	*close = '\0';
	cc->chain_mode = strndup(api, (size_t)(open - api));
	cc->cipher_name = strdup(open + 1);
	cc->tfms_count = 1;
	if (cc->ivmode && !strcmp(cc->ivmode, "lmk"))
		cc->tfms_count = 64;
	return 0;
}

/* "cipher[:keycount]-chainmode-ivmode[:ivopts]", where a bare cipher name
 * (or "cipher-plain") means cbc-plain, as in the first dm-crypt. */
static int parse_legacy_spec(struct udm_crypt *cc, char *spec, struct udm_error *err)
{
	char *rest = spec;
	char *cipher_part = strsep(&rest, "-");
	char *keycount = cipher_part;
	char *cipher = strsep(&keycount, ":");
	char *chain = strsep(&rest, "-");
	char *ivmode = strsep(&rest, ":");

	if (strchr(cc->cipher_string, '('))
		return udm_error_set(err, "invalid cipher '%s': a crypto API name needs the "
				     "capi: prefix", cc->cipher_string);
	cc->tfms_count = 1;
	if (keycount && (udm_parse_uint(keycount, &cc->tfms_count) ||
			 !is_power_of_2(cc->tfms_count) || cc->tfms_count > 64))
		return udm_error_set(err, "invalid key count '%s' in cipher '%s': it must be a "
				     "power of two up to 64", keycount, cc->cipher_string);

	if (!chain || (!strcmp(chain, "plain") && !ivmode)) {
		chain = "cbc";
		ivmode = "plain";
	}
	if (strcmp(chain, "ecb") && !ivmode)
		return udm_error_set(err, "cipher '%s' has no IV generator: chain mode %s needs "
				     "one of %s", cc->cipher_string, chain, udm_ivgen_names());
	cc->cipher_name = strdup(cipher);
	cc->chain_mode = strdup(chain);
	if (ivmode)
		cc->ivmode = strdup(ivmode);
	if (rest)
		cc->ivopts = strdup(rest);
	return 0;
}

static int parse_cipher(struct udm_crypt *cc, const char *spec, struct udm_error *err)
{
	char *copy = strdup(spec);
	struct udm_skcipher *probe = NULL;
	int r;

	cc->cipher_string = strdup(spec);
	if (!copy || !cc->cipher_string) {
		r = -ENOMEM;
		goto out;
	}
	if (!strncmp(spec, "capi:", 5))
		r = parse_capi_spec(cc, copy, err);
	else
		r = parse_legacy_spec(cc, copy, err);
	if (r)
		goto out;
	if (!cc->cipher_name || !cc->chain_mode) {
		r = -ENOMEM;
		goto out;
	}

	r = udm_skcipher_alloc(&probe, cc->cipher_name, cc->chain_mode, err);
	if (r)
		goto out;
	cc->block_size = udm_skcipher_blocksize(probe);
	cc->iv_size = udm_skcipher_ivsize(probe);
	if (cc->iv_size && cc->iv_size < 8)
		cc->iv_size = 8;
out:
	udm_skcipher_free(probe);
	free(copy);
	return r;
}

static int setup_ivmode(struct udm_crypt *cc, struct udm_error *err)
{
	cc->key_parts = cc->tfms_count;
	if (!cc->iv_size && cc->ivmode) {
		log_warn("cipher %s takes no IV: IV generator %s ignored", cc->cipher_string,
			 cc->ivmode);
		free(cc->ivmode);
		cc->ivmode = NULL;
	}
	if (!cc->ivmode)
		return 0;

	if (!strcmp(cc->ivmode, "random"))
		return udm_error_set(err, "IV generator random needs dm-integrity metadata, "
				     "which udmcrypt does not support");
	cc->iv_ops = udm_ivgen_find(cc->ivmode);
	if (!cc->iv_ops)
		return udm_error_set(err, "unknown IV generator '%s' in cipher '%s': accepted "
				     "generators are %s", cc->ivmode, cc->cipher_string,
				     udm_ivgen_names());
	if (!strcmp(cc->ivmode, "essiv") && !cc->ivopts)
		return udm_error_set(err, "IV generator essiv needs a hash, as in essiv:sha256");
	return cc->iv_ops->ctr ? cc->iv_ops->ctr(cc, err) : 0;
}

static int parse_key(struct udm_crypt *cc, const char *key, struct udm_error *err)
{
	size_t len = strlen(key);

	if (key[0] == ':')
		return udm_error_set(err, "keys in the kernel keyring are not supported: give the "
				     "key in hex");
	if (!strcmp(key, "-")) {
		cc->key_size = 0;
		return 0;
	}
	if (len == 0 || len % 2)
		return udm_error_set(err, "invalid key: expected an even number of hex digits, "
				     "or - for no key, got %zu characters", len);
	cc->key_size = (unsigned)(len / 2);
	cc->key = udm_secure_alloc(cc->key_size);
	if (!cc->key)
		return -ENOMEM;
	if (udm_parse_hex(key, cc->key, cc->key_size))
		return udm_error_set(err, "invalid key: it holds characters that are not hex "
				     "digits");
	return 0;
}

static int parse_sector_size(struct udm_crypt *cc, const char *value, struct udm_error *err)
{
	unsigned size;

	if (udm_parse_uint(value, &size) || size < 512 || size > 4096 || !is_power_of_2(size))
		return udm_error_set(err, "invalid sector_size '%s': accepted values are 512, 1024, "
				     "2048 and 4096", value);
	cc->sector_size = size;
	cc->sector_shift = 0;
	while ((512u << cc->sector_shift) < size)
		cc->sector_shift++;
	return 0;
}

static int parse_option(struct udm_crypt *cc, const char *opt, struct udm_error *err)
{
	static const struct {
		const char *name;
		size_t offset;
	} flags[] = {
		{ "allow_discards", offsetof(struct udm_crypt, allow_discards) },
		{ "same_cpu_crypt", offsetof(struct udm_crypt, same_cpu_crypt) },
		{ "submit_from_crypt_cpus", offsetof(struct udm_crypt, submit_from_crypt_cpus) },
		{ "no_read_workqueue", offsetof(struct udm_crypt, no_read_workqueue) },
		{ "no_write_workqueue", offsetof(struct udm_crypt, no_write_workqueue) },
		{ "high_priority", offsetof(struct udm_crypt, high_priority) },
		{ "iv_large_sectors", offsetof(struct udm_crypt, iv_large_sectors) },
	};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (!strcasecmp(opt, flags[i].name)) {
			*(bool *)((char *)cc + flags[i].offset) = true;
			return 0;
		}
	}
	if (!strncmp(opt, "sector_size:", 12))
		return parse_sector_size(cc, opt + 12, err);
	if (!strncmp(opt, "integrity:", 10)) {
		udm_error_set(err, "optional parameter '%s': dm-integrity is not supported", opt);
		return -ENOTSUP;
	}
	return udm_error_set(err, "unknown optional parameter '%s': accepted are allow_discards, "
			     "same_cpu_crypt, submit_from_crypt_cpus, no_read_workqueue, "
			     "no_write_workqueue, high_priority, sector_size:N, iv_large_sectors",
			     opt);
}

static void slot_free(struct udm_crypt *cc, struct crypt_slot *slot)
{
	if (!slot)
		return;
	for (unsigned i = 0; i < cc->tfms_count; i++) {
		if (slot->tfms)
			udm_skcipher_free(slot->tfms[i]);
		if (slot->essiv)
			udm_skcipher_free(slot->essiv[i]);
	}
	udm_skcipher_free(slot->elephant);
	free(slot->tfms);
	free(slot->essiv);
	free(slot);
}

/* Keys a new set of transforms: subkey i of crypt_subkey_size() bytes for
 * transform i; extra key parts (IV seeds) are left to the IV generator. */
static int slot_new(struct udm_crypt *cc, struct crypt_slot **slotp, struct udm_error *err)
{
	unsigned subkey_size = crypt_subkey_size(cc);
	struct crypt_slot *slot = calloc(1, sizeof(*slot));
	int r = -ENOMEM;

	if (!slot)
		return -ENOMEM;
	slot->tfms = calloc(cc->tfms_count, sizeof(*slot->tfms));
	slot->essiv = calloc(cc->tfms_count, sizeof(*slot->essiv));
	if (!slot->tfms || !slot->essiv)
		goto fail;
	for (unsigned i = 0; i < cc->tfms_count; i++) {
		/* cipher_null with the key "-" has no key buffer at all. */
		const uint8_t *subkey = cc->key ? cc->key + i * subkey_size : NULL;

		r = udm_skcipher_alloc(&slot->tfms[i], cc->cipher_name, cc->chain_mode, err);
		if (!r)
			r = udm_skcipher_setkey(slot->tfms[i], subkey, subkey_size, err);
		if (r)
			goto fail;
	}
	if (cc->iv_ops && cc->iv_ops->init_slot) {
		r = cc->iv_ops->init_slot(cc, slot, err);
		if (r)
			goto fail;
	}
	*slotp = slot;
	return 0;
fail:
	slot_free(cc, slot);
	return r;
}

static int check_geometry(struct udm_crypt *cc, const struct udm_crypt_args *args,
			  struct udm_error *err)
{
	uint64_t step = cc->sector_size / 512;

	if (args->length % step)
		return udm_error_set(err, "invalid length %" PRIu64 ": it must be a multiple of "
				     "the sector size (%u bytes, %" PRIu64 " sectors of 512)",
				     args->length, cc->sector_size, step);
	if (args->iv_offset % step)
		return udm_error_set(err, "invalid iv_offset %" PRIu64 ": it must be a multiple "
				     "of %" PRIu64 " with sector_size:%u", args->iv_offset, step,
				     cc->sector_size);
	return 0;
}

int udm_crypt_new(struct udm_crypt **ccp, const struct udm_crypt_args *args,
		  struct udm_error *err)
{
	struct udm_crypt *cc = calloc(1, sizeof(*cc));
	struct crypt_slot *slot = NULL;
	int r;

	if (!cc)
		return -ENOMEM;
	pthread_mutex_init(&cc->slot_lock, NULL);
	cc->sector_size = 512;
	cc->iv_offset = args->iv_offset;
	cc->length = args->length;

	/* The kernel reads the optional parameters first: sector_size changes
	 * what the IV generators accept. */
	for (unsigned i = 0; i < args->n_options; i++) {
		r = parse_option(cc, args->options[i], err);
		if (r)
			goto fail;
	}
	r = parse_cipher(cc, args->cipher, err);
	if (!r)
		r = parse_key(cc, args->key, err);
	if (!r)
		r = setup_ivmode(cc, err);
	if (!r)
		r = check_geometry(cc, args, err);
	if (r)
		goto fail;
	if (cc->key_size < cc->key_extra_size) {
		r = udm_error_set(err, "invalid key length %u bytes for cipher '%s': the IV "
				  "generator alone takes %u bytes", cc->key_size, cc->cipher_string,
				  cc->key_extra_size);
		goto fail;
	}
	if (cc->iv_ops && cc->iv_ops->init) {
		r = cc->iv_ops->init(cc, err);
		if (r)
			goto fail;
	}

	/* Key the first slot now, so that a bad key fails here. */
	r = slot_new(cc, &slot, err);
	if (r && err && cc->key_parts > 1) {
		size_t len = strlen(err->msg);

		snprintf(err->msg + len, sizeof(err->msg) - len, " (the %u-byte key is split into "
			 "%u parts of %u bytes)", cc->key_size, cc->key_parts,
			 cc->key_size / cc->key_parts);
	}
	if (r)
		goto fail;
	cc->all_slots[cc->n_slots++] = slot;
	cc->free_slots = slot;
	*ccp = cc;
	return 0;
fail:
	udm_crypt_free(cc);
	return r;
}

void udm_crypt_free(struct udm_crypt *cc)
{
	if (!cc)
		return;
	for (unsigned i = 0; i < cc->n_slots; i++)
		slot_free(cc, cc->all_slots[i]);
	udm_secure_free(cc->key);
	udm_secure_free(cc->lmk_seed);
	udm_secure_free(cc->tcw_iv_seed);
	udm_secure_free(cc->tcw_whitening);
	free(cc->cipher_string);
	free(cc->cipher_name);
	free(cc->chain_mode);
	free(cc->ivmode);
	free(cc->ivopts);
	pthread_mutex_destroy(&cc->slot_lock);
	free(cc);
}

/* Takes a keyed slot from the pool, or keys a new one. The pool grows to
 * the number of threads that convert at the same time (at most 64). */
static struct crypt_slot *slot_get(struct udm_crypt *cc)
{
	struct crypt_slot *slot;

	pthread_mutex_lock(&cc->slot_lock);
	slot = cc->free_slots;
	if (slot) {
		cc->free_slots = slot->next;
	} else if (cc->n_slots < sizeof(cc->all_slots) / sizeof(cc->all_slots[0])) {
		if (slot_new(cc, &slot, NULL) == 0)
			cc->all_slots[cc->n_slots++] = slot;
		else
			slot = NULL;
	}
	pthread_mutex_unlock(&cc->slot_lock);
	return slot;
}

static void slot_put(struct udm_crypt *cc, struct crypt_slot *slot)
{
	pthread_mutex_lock(&cc->slot_lock);
	slot->next = cc->free_slots;
	cc->free_slots = slot;
	pthread_mutex_unlock(&cc->slot_lock);
}

static int convert_sector(struct udm_crypt *cc, struct sector_request *req, const uint8_t *src,
			  uint64_t cc_sector)
{
	int r = 0;

	req->iv_sector = cc->iv_large_sectors ? cc_sector >> cc->sector_shift : cc_sector;
	/* The kernel picks the subkey from the 512-byte sector number, also
	 * for larger sectors. */
	req->key_index = (unsigned)(cc_sector & (cc->tfms_count - 1));

	/* IV generators with a post step read or change the sector's data
	 * around the cipher, so they work on it in place. */
	if (src != req->data && cc->iv_ops && cc->iv_ops->post) {
		memcpy(req->data, src, cc->sector_size);
		src = req->data;
	}
	if (cc->iv_ops) {
		r = cc->iv_ops->generate(cc, req);
		if (r)
			return r;
	}
	r = udm_skcipher_crypt_to(req->slot->tfms[req->key_index], req->iv, src, req->data,
				  cc->sector_size, req->write);
	if (!r && cc->iv_ops && cc->iv_ops->post)
		r = cc->iv_ops->post(cc, req);
	return r;
}

/* Converts whole sectors with one slot, in the calling thread. */
static int convert_range(struct udm_crypt *cc, uint64_t sector, const uint8_t *src,
			 uint8_t *dst, size_t len, bool write)
{
	struct sector_request req = { .write = write };
	uint64_t cc_sector = sector + cc->iv_offset;
	uint64_t step = cc->sector_size / 512;
	int r = 0;

	req.slot = slot_get(cc);
	if (!req.slot)
		return -ENOMEM;
	for (size_t off = 0; off < len; off += cc->sector_size, cc_sector += step) {
		req.data = dst + off;
		r = convert_sector(cc, &req, src + off, cc_sector);
		if (r) {
			log_error("%s of sector %" PRIu64 " failed", write ? "encryption" :
				  "decryption", sector + off / 512);
			r = -EIO;
			break;
		}
	}
	udm_wipe(req.iv, sizeof(req.iv));
	slot_put(cc, req.slot);
	return r;
}

/* A conversion split into parts of CONVERT_PART bytes for the workers. */
struct convert_job {
	struct udm_crypt *cc;
	uint64_t sector;
	const uint8_t *src;
	uint8_t *dst;
	size_t len;
	bool write;
};

static int convert_part(void *arg, unsigned part)
{
	struct convert_job *job = arg;
	size_t off = (size_t)part * CONVERT_PART;
	size_t len = job->len - off < CONVERT_PART ? job->len - off : CONVERT_PART;

	return convert_range(job->cc, job->sector + off / 512, job->src + off, job->dst + off,
			     len, job->write);
}

int udm_crypt_convert_to(struct udm_crypt *cc, uint64_t sector, const uint8_t *src,
			 uint8_t *dst, size_t len, bool write)
{
	struct convert_job job = { cc, sector, src, dst, len, write };

	if (len < 2 * CONVERT_PART)
		return convert_range(cc, sector, src, dst, len, write);
	return udm_workers_run((unsigned)((len + CONVERT_PART - 1) / CONVERT_PART), convert_part,
			       &job);
}

int udm_crypt_convert(struct udm_crypt *cc, uint64_t sector, uint8_t *data, size_t len,
		      bool write)
{
	return udm_crypt_convert_to(cc, sector, data, data, len, write);
}

unsigned udm_crypt_sector_size(const struct udm_crypt *cc)
{
	return cc->sector_size;
}

bool udm_crypt_allow_discards(const struct udm_crypt *cc)
{
	return cc->allow_discards;
}

static void append(char *buf, size_t size, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, size - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

/* Options in the order the kernel's crypt_status() prints them. */
static char *format_options(const struct udm_crypt *cc)
{
	const char *names[9];
	char sector_size[32];
	unsigned n = 0;
	size_t size = 256, pos = 0;
	char *out;

	if (cc->allow_discards)
		names[n++] = "allow_discards";
	if (cc->same_cpu_crypt)
		names[n++] = "same_cpu_crypt";
	if (cc->submit_from_crypt_cpus)
		names[n++] = "submit_from_crypt_cpus";
	if (cc->no_read_workqueue)
		names[n++] = "no_read_workqueue";
	if (cc->no_write_workqueue)
		names[n++] = "no_write_workqueue";
	if (cc->high_priority)
		names[n++] = "high_priority";
	if (cc->sector_size != 512) {
		snprintf(sector_size, sizeof(sector_size), "sector_size:%u", cc->sector_size);
		names[n++] = sector_size;
	}
	if (cc->iv_large_sectors)
		names[n++] = "iv_large_sectors";

	out = calloc(1, size);
	if (!out || !n)
		return out;
	append(out, size, &pos, " %u", n);
	for (unsigned i = 0; i < n; i++)
		append(out, size, &pos, " %s", names[i]);
	return out;
}

int udm_crypt_table_args(const struct udm_crypt *cc, bool show_keys, char **head, char **tail)
{
	size_t size = strlen(cc->cipher_string) + 2 * cc->key_size + 64;
	size_t pos = 0;
	char *h = udm_secure_alloc(size);

	*head = *tail = NULL;
	if (!h)
		return -ENOMEM;
	append(h, size, &pos, "%s ", cc->cipher_string);
	if (!cc->key_size)
		append(h, size, &pos, "-");
	for (unsigned i = 0; i < cc->key_size; i++) {
		if (show_keys)
			append(h, size, &pos, "%02x", cc->key[i]);
		else
			append(h, size, &pos, "00");
	}
	append(h, size, &pos, " %" PRIu64, cc->iv_offset);

	*tail = format_options(cc);
	if (!*tail) {
		udm_secure_free(h);
		return -ENOMEM;
	}
	*head = h;
	return 0;
}
