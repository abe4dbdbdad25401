// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Chain-mode ciphers over OpenSSL and libgcrypt, named as the Linux crypto
 * API names them. The accepted key lengths follow the kernel's generic
 * implementations (crypto/aes_generic.c, serpent_generic.c and so on). A
 * length the kernel takes but neither library implements is reported as
 * not supported.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gcrypt.h>
#include <openssl/evp.h>

#include "hash.h"
#include "log.h"
#include "secmem.h"
#include "skcipher.h"
#include "skcipher_modes.h"

struct cipher_info {
	const char *name;
	unsigned block_size;
	unsigned min_key, max_key;	/* bytes, as the kernel accepts */
	const char *openssl_name;	/* NULL: not in OpenSSL's default provider */
	int gcry_algo[3];		/* for 16-, 24- and 32-byte keys */
	int gcry_other;			/* for any other key length, 0 if none */
};

static const struct cipher_info cipher_table[] = {
	{ "aes", 16, 16, 32, "AES",
	  { GCRY_CIPHER_AES128, GCRY_CIPHER_AES192, GCRY_CIPHER_AES256 }, 0 },
	{ "serpent", 16, 0, 32, NULL,
	  { GCRY_CIPHER_SERPENT128, GCRY_CIPHER_SERPENT192, GCRY_CIPHER_SERPENT256 }, 0 },
	{ "twofish", 16, 16, 32, NULL, { GCRY_CIPHER_TWOFISH128, 0, GCRY_CIPHER_TWOFISH }, 0 },
	{ "camellia", 16, 16, 32, "CAMELLIA",
	  { GCRY_CIPHER_CAMELLIA128, GCRY_CIPHER_CAMELLIA192, GCRY_CIPHER_CAMELLIA256 }, 0 },
	{ "cast5", 8, 5, 16, NULL, { GCRY_CIPHER_CAST5, 0, 0 }, 0 },
	{ "blowfish", 8, 4, 56, NULL, { GCRY_CIPHER_BLOWFISH, 0, 0 }, GCRY_CIPHER_BLOWFISH },
	{ "des", 8, 8, 8, NULL, { 0, 0, 0 }, GCRY_CIPHER_DES },
	{ "des3_ede", 8, 24, 24, NULL, { 0, GCRY_CIPHER_3DES, 0 }, 0 },
	{ "cipher_null", 1, 0, 0, NULL, { 0, 0, 0 }, 0 },
};

enum chain_mode { MODE_ECB, MODE_CBC, MODE_XTS, MODE_LRW, MODE_CTR, MODE_PCBC };

static const char *const mode_names[] = {
	[MODE_ECB] = "ecb", [MODE_CBC] = "cbc", [MODE_XTS] = "xts",
	[MODE_LRW] = "lrw", [MODE_CTR] = "ctr", [MODE_PCBC] = "pcbc",
};

struct udm_skcipher {
	const struct cipher_info *cipher;
	enum chain_mode mode;
	unsigned iv_size;
	/* Library transform: the mode itself, or ECB under a mode built here. */
	EVP_CIPHER_CTX *evp_enc, *evp_dec;
	gcry_cipher_hd_t gcry;
	bool mode_here;
	bool null_cipher;
	/* With both libraries keyed: whether libgcrypt is faster, indexed by
	 * [call larger than SMALL_SECTOR bytes][encrypt]. */
	bool use_gcrypt[2][2];
	uint8_t *lrw_table;	/* secure memory: tweak key times x^i */
};

const char *udm_skcipher_cipher_names(void)
{
	return "aes, serpent, twofish, camellia, cast5, blowfish, des, des3_ede, cipher_null";
}

const char *udm_skcipher_mode_names(void)
{
	return "ecb, cbc, xts, lrw, ctr, pcbc";
}

static const struct cipher_info *find_cipher(const char *name)
{
	for (size_t i = 0; i < sizeof(cipher_table) / sizeof(cipher_table[0]); i++)
		if (!strcmp(cipher_table[i].name, name))
			return &cipher_table[i];
	return NULL;
}

static int find_mode(const char *name)
{
	for (int i = 0; i < (int)(sizeof(mode_names) / sizeof(mode_names[0])); i++)
		if (!strcmp(mode_names[i], name))
			return i;
	return -1;
}

int udm_skcipher_alloc(struct udm_skcipher **skp, const char *cipher, const char *mode,
		       struct udm_error *err)
{
	const struct cipher_info *ci = find_cipher(cipher);
	int m = find_mode(mode);
	struct udm_skcipher *sk;

	if (!ci)
		return udm_error_set(err, "unknown cipher '%s': accepted ciphers are %s", cipher,
				     udm_skcipher_cipher_names());
	if (m < 0)
		return udm_error_set(err, "unknown chain mode '%s': accepted modes are %s", mode,
				     udm_skcipher_mode_names());
	if ((m == MODE_XTS || m == MODE_LRW) && ci->block_size != 16)
		return udm_error_set(err, "chain mode %s needs a cipher with 16-byte blocks, "
				     "%s has %u-byte blocks", mode, cipher, ci->block_size);
	if (ci->block_size == 1 && m != MODE_ECB)
		return udm_error_set(err, "cipher_null works only in chain mode ecb");

	udm_gcrypt_init();
	sk = calloc(1, sizeof(*sk));
	if (!sk)
		return -ENOMEM;
	sk->cipher = ci;
	sk->mode = m;
	sk->iv_size = m == MODE_ECB ? 0 : ci->block_size;
	sk->null_cipher = ci->block_size == 1;
	*skp = sk;
	return 0;
}

static void release_openssl(struct udm_skcipher *sk)
{
	EVP_CIPHER_CTX_free(sk->evp_enc);
	EVP_CIPHER_CTX_free(sk->evp_dec);
	sk->evp_enc = sk->evp_dec = NULL;
}

static void release_gcrypt(struct udm_skcipher *sk)
{
	if (sk->gcry)
		gcry_cipher_close(sk->gcry);
	sk->gcry = NULL;
}

static void release_backend(struct udm_skcipher *sk)
{
	release_openssl(sk);
	release_gcrypt(sk);
	udm_secure_free(sk->lrw_table);
	sk->lrw_table = NULL;
}

void udm_skcipher_free(struct udm_skcipher *sk)
{
	if (!sk)
		return;
	release_backend(sk);
	free(sk);
}

unsigned udm_skcipher_ivsize(const struct udm_skcipher *sk)
{
	return sk->iv_size;
}

unsigned udm_skcipher_blocksize(const struct udm_skcipher *sk)
{
	/* CTR turns the cipher into a stream: the kernel reports block size 1. */
	return sk->mode == MODE_CTR ? 1 : sk->cipher->block_size;
}

/* Keys an OpenSSL transform for the library mode, or ECB when mode_here.
 * Returns false when OpenSSL lacks it or refuses the key. */
static bool setkey_openssl(struct udm_skcipher *sk, const uint8_t *key, size_t len)
{
	const char *mode = sk->mode_here ? "ECB" : mode_names[sk->mode];
	size_t bits = (sk->mode == MODE_XTS ? len / 2 : len) * 8;
	char name[64];
	EVP_CIPHER *evp;
	bool ok = false;

	if (!sk->cipher->openssl_name)
		return false;
	snprintf(name, sizeof(name), "%s-%zu-%s", sk->cipher->openssl_name, bits, mode);
	evp = EVP_CIPHER_fetch(NULL, name, NULL);
	if (!evp || (size_t)EVP_CIPHER_get_key_length(evp) != len)
		goto out;

	sk->evp_enc = EVP_CIPHER_CTX_new();
	sk->evp_dec = EVP_CIPHER_CTX_new();
	if (!sk->evp_enc || !sk->evp_dec)
		goto out;
	/* OpenSSL rejects XTS keys whose halves are equal; the kernel takes
	 * them outside FIPS mode, so such keys fall through to libgcrypt. */
	if (EVP_CipherInit_ex2(sk->evp_enc, evp, key, NULL, 1, NULL) != 1 ||
	    EVP_CipherInit_ex2(sk->evp_dec, evp, key, NULL, 0, NULL) != 1)
		goto out;
	EVP_CIPHER_CTX_set_padding(sk->evp_enc, 0);
	EVP_CIPHER_CTX_set_padding(sk->evp_dec, 0);
	ok = true;
out:
	EVP_CIPHER_free(evp);
	if (!ok)
		release_openssl(sk);
	return ok;
}

static int gcry_mode_of(const struct udm_skcipher *sk)
{
	if (sk->mode_here)
		return GCRY_CIPHER_MODE_ECB;
	switch (sk->mode) {
	case MODE_CBC:
		return GCRY_CIPHER_MODE_CBC;
	case MODE_XTS:
		return GCRY_CIPHER_MODE_XTS;
	case MODE_CTR:
		return GCRY_CIPHER_MODE_CTR;
	default:
		return GCRY_CIPHER_MODE_ECB;
	}
}

static bool setkey_gcrypt(struct udm_skcipher *sk, const uint8_t *key, size_t len)
{
	size_t cipher_len = sk->mode == MODE_XTS ? len / 2 : len;
	const struct cipher_info *ci = sk->cipher;
	int algo = ci->gcry_other;

	if (cipher_len == 16 || cipher_len == 24 || cipher_len == 32)
		algo = ci->gcry_algo[(cipher_len - 16) / 8] ? ci->gcry_algo[(cipher_len - 16) / 8] :
							     ci->gcry_other;
	if (!algo)
		return false;
	if (gcry_cipher_open(&sk->gcry, algo, gcry_mode_of(sk), 0)) {
		sk->gcry = NULL;
		return false;
	}
	if (gcry_cipher_setkey(sk->gcry, key, len)) {
		release_gcrypt(sk);
		return false;
	}
	return true;
}

static int check_key_length(const struct udm_skcipher *sk, size_t len, struct udm_error *err)
{
	const struct cipher_info *ci = sk->cipher;
	size_t cipher_len = len;
	const char *extra = "";

	/* The kernel's null cipher takes a key of any length and ignores it. */
	if (ci->block_size == 1)
		return 0;

	if (sk->mode == MODE_XTS) {
		extra = " (xts takes two keys of that length)";
		if (len % 2)
			goto bad;
		cipher_len = len / 2;
	} else if (sk->mode == MODE_LRW) {
		extra = " (lrw takes that plus a 16-byte tweak key)";
		if (len < 16)
			goto bad;
		cipher_len = len - 16;
	}
	if (cipher_len < ci->min_key || cipher_len > ci->max_key)
		goto bad;
	if ((!strcmp(ci->name, "aes") || !strcmp(ci->name, "twofish") ||
	     !strcmp(ci->name, "camellia")) && cipher_len % 8)
		goto bad;
	return 0;
bad:
	if (ci->min_key == ci->max_key)
		return udm_error_set(err, "invalid key length %zu bytes for %s-%s: %s takes %u "
				     "bytes%s", len, ci->name, mode_names[sk->mode], ci->name,
				     ci->min_key, extra);
	return udm_error_set(err, "invalid key length %zu bytes for %s-%s: %s takes %u to %u "
			     "bytes%s%s", len, ci->name, mode_names[sk->mode], ci->name,
			     ci->min_key, ci->max_key,
			     ci->block_size == 16 && strcmp(ci->name, "serpent") ?
			     " in steps of 8" : "", extra);
}

static int crypt_library_mode(struct udm_skcipher *sk, const uint8_t *iv, const uint8_t *src,
			      uint8_t *dst, size_t len, bool encrypt);

/* Sector sizes up to this many bytes count as small when picking a library. */
#define SMALL_SECTOR 1024
#define CHOICE_CACHE 32

struct backend_choice {
	const struct cipher_info *cipher;
	enum chain_mode mode;
	size_t key_len;
	bool use_gcrypt[2][2];	/* as in struct udm_skcipher */
};

static struct backend_choice choices[CHOICE_CACHE];
static unsigned n_choices;
static pthread_mutex_t choices_lock = PTHREAD_MUTEX_INITIALIZER;

/* Seconds one library takes to encrypt or decrypt a 64 KiB buffer in calls
 * of sector bytes, the best of three runs. */
static double time_backend(struct udm_skcipher *sk, bool gcrypt, uint8_t *buf, size_t sector,
			   bool encrypt)
{
	uint8_t iv[UDM_MAX_BLOCK] = { 0 };
	double best = 1e9;

	memset(sk->use_gcrypt, gcrypt, sizeof(sk->use_gcrypt));
	for (int run = 0; run < 3; run++) {
		struct timespec start, end;

		clock_gettime(CLOCK_MONOTONIC, &start);
		for (size_t off = 0; off < 65536; off += sector) {
			iv[0] = (uint8_t)(off / sector);
			crypt_library_mode(sk, iv, buf + off, buf + off, sector, encrypt);
		}
		clock_gettime(CLOCK_MONOTONIC, &end);
		double t = (double)(end.tv_sec - start.tv_sec) +
			   (double)(end.tv_nsec - start.tv_nsec) / 1e9;
		if (t < best)
			best = t;
	}
	return best;
}

/*
 * Picks the faster library for small and large sectors, encrypting and
 * decrypting, by measuring both once per cipher, mode and key length in a
 * process (a few milliseconds). Every call sets its IV, so the trial runs
 * leave no state behind in the contexts.
 */
static void choose_backends(struct udm_skcipher *sk, size_t key_len)
{
	static uint8_t buf[65536];
	struct backend_choice *c = NULL;
	const char *forced = getenv("UDMCRYPT_CIPHER_LIBRARY");

	/* The tests run every known-answer vector through each library. */
	if (forced && (!strcmp(forced, "openssl") || !strcmp(forced, "libgcrypt"))) {
		memset(sk->use_gcrypt, !strcmp(forced, "libgcrypt"), sizeof(sk->use_gcrypt));
		return;
	}

	pthread_mutex_lock(&choices_lock);
	for (unsigned i = 0; i < n_choices && !c; i++)
		if (choices[i].cipher == sk->cipher && choices[i].mode == sk->mode &&
		    choices[i].key_len == key_len)
			c = &choices[i];
	if (!c && n_choices < CHOICE_CACHE) {
		c = &choices[n_choices++];
		c->cipher = sk->cipher;
		c->mode = sk->mode;
		c->key_len = key_len;
		for (int large = 0; large < 2; large++) {
			size_t sector = large ? 4096 : 512;

			for (int enc = 0; enc < 2; enc++)
				c->use_gcrypt[large][enc] =
					time_backend(sk, true, buf, sector, enc) <
					time_backend(sk, false, buf, sector, enc);
		}
		log_debug("%s-%s with a %zu-byte key: libgcrypt for small sectors %d/%d, for "
			  "large %d/%d (decrypt/encrypt)", sk->cipher->name, mode_names[sk->mode],
			  key_len, c->use_gcrypt[0][0], c->use_gcrypt[0][1], c->use_gcrypt[1][0],
			  c->use_gcrypt[1][1]);
	}
	if (c)
		memcpy(sk->use_gcrypt, c->use_gcrypt, sizeof(sk->use_gcrypt));
	else
		memset(sk->use_gcrypt, 0, sizeof(sk->use_gcrypt));
	pthread_mutex_unlock(&choices_lock);
}

int udm_skcipher_setkey(struct udm_skcipher *sk, const uint8_t *key, size_t len,
			struct udm_error *err)
{
	size_t cipher_len;
	int r;

	r = check_key_length(sk, len, err);
	if (r)
		return r;
	release_backend(sk);

	sk->mode_here = sk->mode == MODE_PCBC || sk->mode == MODE_LRW;
	if (sk->null_cipher)
		return 0;

	cipher_len = sk->mode == MODE_LRW ? len - 16 : len;
	if (sk->mode == MODE_LRW) {
		sk->lrw_table = udm_secure_alloc(128 * 16);
		if (!sk->lrw_table)
			return -ENOMEM;
		udm_lrw_table_init(sk->lrw_table, key + cipher_len);
	}

	/* Modes built here need one ECB transform; library modes get both
	 * libraries where both have them, and each call takes the faster. */
	if (sk->mode_here) {
		if (setkey_openssl(sk, key, cipher_len) || setkey_gcrypt(sk, key, cipher_len))
			return 0;
	} else {
		bool have_openssl = setkey_openssl(sk, key, cipher_len);
		bool have_gcrypt = setkey_gcrypt(sk, key, cipher_len);

		if (have_openssl && have_gcrypt)
			choose_backends(sk, cipher_len);
		if (have_openssl || have_gcrypt)
			return 0;
	}

	release_backend(sk);
	return udm_error_set(err, "key length %zu bytes for %s-%s is valid in Linux but not "
			     "supported by OpenSSL or libgcrypt", len, sk->cipher->name,
			     mode_names[sk->mode]);
}

/* Runs ECB over whole blocks with the library transform, without an IV. */
int udm_skcipher_ecb(struct udm_skcipher *sk, uint8_t *data, size_t len, bool encrypt)
{
	int outl;

	if (sk->null_cipher)
		return 0;
	if (sk->evp_enc) {
		EVP_CIPHER_CTX *ctx = encrypt ? sk->evp_enc : sk->evp_dec;

		if (EVP_CipherUpdate(ctx, data, &outl, data, (int)len) != 1)
			return -EIO;
		return 0;
	}
	if (encrypt ? gcry_cipher_encrypt(sk->gcry, data, len, NULL, 0)
		    : gcry_cipher_decrypt(sk->gcry, data, len, NULL, 0))
		return -EIO;
	return 0;
}

static int crypt_library_mode(struct udm_skcipher *sk, const uint8_t *iv, const uint8_t *src,
			      uint8_t *dst, size_t len, bool encrypt)
{
	bool use_gcrypt = sk->gcry && (!sk->evp_enc ||
				       sk->use_gcrypt[len > SMALL_SECTOR][encrypt]);
	gcry_error_t e;
	int outl;

	if (!use_gcrypt) {
		EVP_CIPHER_CTX *ctx = encrypt ? sk->evp_enc : sk->evp_dec;

		if (sk->iv_size && EVP_CipherInit_ex2(ctx, NULL, NULL, iv, -1, NULL) != 1)
			return -EIO;
		if (EVP_CipherUpdate(ctx, dst, &outl, src, (int)len) != 1)
			return -EIO;
		return 0;
	}

	if (sk->mode == MODE_CTR)
		e = gcry_cipher_setctr(sk->gcry, iv, sk->iv_size);
	else if (sk->iv_size)
		e = gcry_cipher_setiv(sk->gcry, iv, sk->iv_size);
	else
		e = 0;
	/* libgcrypt converts in place when given no input buffer. */
	if (src == dst)
		src = NULL;
	if (!e)
		e = encrypt ? gcry_cipher_encrypt(sk->gcry, dst, len, src, src ? len : 0)
			    : gcry_cipher_decrypt(sk->gcry, dst, len, src, src ? len : 0);
	return e ? -EIO : 0;
}

int udm_skcipher_crypt_to(struct udm_skcipher *sk, const uint8_t *iv, const uint8_t *src,
			  uint8_t *dst, size_t len, bool encrypt)
{
	if (!sk->null_cipher && !sk->mode_here)
		return crypt_library_mode(sk, iv, src, dst, len, encrypt);

	/* cipher_null and the modes built here work in place. */
	if (src != dst)
		memcpy(dst, src, len);
	if (sk->null_cipher)
		return 0;
	if (sk->mode == MODE_PCBC)
		return udm_pcbc_crypt(sk, iv, dst, len, encrypt);
	return udm_lrw_crypt(sk, sk->lrw_table, iv, dst, len, encrypt);
}

int udm_skcipher_crypt(struct udm_skcipher *sk, const uint8_t *iv, uint8_t *data, size_t len,
		       bool encrypt)
{
	return udm_skcipher_crypt_to(sk, iv, data, data, len, encrypt);
}
