/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers of the hostile header tests: a valid image kept in memory, copies
 * of it damaged case by case in a temporary file, and the checks every case
 * shares. Loading, unlocking and building the table of a damaged image must
 * give one line of error that names the field and contains no secret, or
 * work with the expected warning. Every byte of the image must stay as it
 * was.
 */
#ifndef UDM_HOSTILE_H
#define UDM_HOSTILE_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "test.h"
#include "udmcrypt.h"

#define HOSTILE_PASS "hostile-pass-4711"
#define HOSTILE_KEY_BYTES 32

struct image {
	uint8_t *data;
	size_t len;
};

/* What a case expects at each step: load, unlock (when it loads) and table
 * (when it unlocks). 0 means the step works. */
struct expect {
	int load;		/* 0 or the negative errno of udm_luks_load */
	int unlock;		/* 0, or the negative errno of udm_volume_unlock */
	bool table_fails;	/* udm_volume_table returns NULL */
	bool no_unlock;		/* unlocking would take hours (huge PBKDF costs) */
	const char *message;	/* in the error of the failing step, or the warning */
};

static char hostile_dir[] = "/tmp/udm-hostile-XXXXXX";
static char hostile_warning[1024];
static unsigned hostile_warnings;
static uint8_t hostile_key[HOSTILE_KEY_BYTES];

static void hostile_log(enum udm_log_level level, const char *msg)
{
	if (level > UDM_LOG_WARN)
		return;
	hostile_warnings++;
	snprintf(hostile_warning, sizeof(hostile_warning), "%s", msg);
}

static inline void hostile_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", hostile_dir, name);
}

static inline int hostile_setup(void)
{
	udm_set_log(hostile_log, UDM_LOG_WARN);
	for (int i = 0; i < HOSTILE_KEY_BYTES; i++)
		hostile_key[i] = (uint8_t)(0xa5 ^ (i * 29));
	return mkdtemp(hostile_dir) ? 0 : -1;
}

static inline void hostile_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", hostile_dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", hostile_dir);
}

static inline bool image_read(const char *path, struct image *img)
{
	int fd = open(path, O_RDONLY);
	off_t size = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
	bool ok = false;

	img->data = NULL;
	img->len = 0;
	if (size >= 0) {
		img->data = malloc((size_t)size + 1);
		img->len = (size_t)size;
		ok = img->data && pread(fd, img->data, img->len, 0) == (ssize_t)img->len;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

static inline bool image_write(const char *path, const struct image *img)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bool ok = fd >= 0 && pwrite(fd, img->data, img->len, 0) == (ssize_t)img->len;

	if (fd >= 0)
		close(fd);
	return ok;
}

static inline bool image_copy(const struct image *from, struct image *to)
{
	to->len = from->len;
	to->data = malloc(from->len + 1);
	if (to->data)
		memcpy(to->data, from->data, from->len);
	return to->data != NULL;
}

/* The sha256 of the whole file, or all zeros when it cannot be read. */
static inline void file_digest(const char *path, uint8_t digest[UDM_MAX_DIGEST])
{
	struct image img;

	memset(digest, 0, UDM_MAX_DIGEST);
	if (image_read(path, &img))
		udm_hash("sha256", img.data, img.len, digest);
	free(img.data);
}

static inline void put_be(uint8_t *p, unsigned width, uint64_t value)
{
	for (unsigned i = 0; i < width; i++)
		p[i] = (uint8_t)(value >> (8 * (width - 1 - i)));
}

static inline uint64_t get_be(const uint8_t *p, unsigned width)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < width; i++)
		v = v << 8 | p[i];
	return v;
}

/* Whether text contains the 32 bytes of key as hex, even in part (16 hex
 * digits), or the passphrase. */
static inline bool contains_secret(const char *text)
{
	char hex[2 * HOSTILE_KEY_BYTES + 1];

	for (int i = 0; i < HOSTILE_KEY_BYTES; i++)
		sprintf(hex + 2 * i, "%02x", hostile_key[i]);
	for (int i = 0; i + 16 <= 2 * HOSTILE_KEY_BYTES; i += 8)
		if (memmem(text, strlen(text), hex + i, 16))
			return true;
	return strstr(text, HOSTILE_PASS) != NULL || memmem(text, strlen(text), hostile_key, 8);
}

/* Checks one error message: non-empty, one line, naming the expected field,
 * no secret. Appends the reason to reasons on failure. */
static inline bool message_ok(const char *msg, const char *expected, char *reasons, size_t size)
{
	const char *problem = NULL;

	if (getenv("HOSTILE_VERBOSE"))
		printf("  message: %s\n", msg);
	if (!msg[0])
		problem = "empty message";
	else if (strchr(msg, '\n'))
		problem = "message has more than one line";
	else if (contains_secret(msg))
		problem = "message contains the key or the passphrase";
	else if (expected && !strstr(msg, expected))
		problem = "message lacks the expected text";
	if (problem)
		snprintf(reasons + strlen(reasons), size - strlen(reasons), "%s: '%s' (expected '%s'); ",
			 problem, msg, expected ? expected : "");
	return !problem;
}

/*
 * Runs the steps on the damaged image at path: load (writable, so that a
 * write by mistake would show), unlock with HOSTILE_PASS, and build the
 * table of its own payload. Reports one result for the case.
 */
static inline void hostile_run(const char *name, const char *path, const struct expect *e)
{
	char reasons[2048] = "";
	uint8_t before[UDM_MAX_DIGEST], after[UDM_MAX_DIGEST];
	struct udm_error err = { .msg = "" };
	struct udm_volume *vol = NULL;
	struct udm_key *key = NULL;
	char *table = NULL;
	bool ok = true;
	int r;

	file_digest(path, before);
	hostile_warning[0] = '\0';
	hostile_warnings = 0;
	r = udm_luks_load(&vol, path, UDM_VOLUME_ANY, true, &err);
	if (r != e->load) {
		snprintf(reasons + strlen(reasons), sizeof(reasons) - strlen(reasons), "load returned %d (%s), "
			 "expected %d; ", r, err.msg, e->load);
		ok = false;
	}
	if (r) {
		ok &= message_ok(err.msg, e->message, reasons, sizeof(reasons));
		goto out;
	}

	/* A warning is expected exactly when the case loads with one. */
	if (e->message && !e->unlock && !e->table_fails) {
		ok &= message_ok(hostile_warning, e->message, reasons, sizeof(reasons));
	} else if (hostile_warnings) {
		snprintf(reasons + strlen(reasons), sizeof(reasons) - strlen(reasons), "unexpected warning '%s'; ",
			 hostile_warning);
		ok = false;
	}
	if (e->no_unlock)
		goto out;

	memset(&err, 0, sizeof(err));
	r = udm_volume_unlock(vol, -1, HOSTILE_PASS, strlen(HOSTILE_PASS), &key, &err);
	if (r >= 0 && (key->size != HOSTILE_KEY_BYTES ||
		       memcmp(key->data, hostile_key, HOSTILE_KEY_BYTES))) {
		snprintf(reasons + strlen(reasons), sizeof(reasons) - strlen(reasons), "unlock gave a wrong key; ");
		ok = false;
	}
	if ((r >= 0 ? 0 : r) != e->unlock) {
		snprintf(reasons + strlen(reasons), sizeof(reasons) - strlen(reasons), "unlock returned %d (%s), "
			 "expected %d; ", r, err.msg, e->unlock);
		ok = false;
	}
	if (r < 0) {
		ok &= message_ok(err.msg, e->message, reasons, sizeof(reasons));
		goto out;
	}

	memset(&err, 0, sizeof(err));
	table = udm_volume_table(vol, key, path, &err);

	if (!table != e->table_fails) {
		snprintf(reasons + strlen(reasons), sizeof(reasons) - strlen(reasons), "table %s (%s); ",
			 table ? "built" : "failed", err.msg);
		ok = false;
	}
	if (!table)
		ok &= message_ok(err.msg, e->message, reasons, sizeof(reasons));
	udm_secure_free(table);
out:
	udm_key_free(key);
	udm_volume_free(vol);
	file_digest(path, after);
	if (memcmp(before, after, sizeof(before))) {
		snprintf(reasons + strlen(reasons), sizeof(reasons) - strlen(reasons), "the image changed; ");
		ok = false;
	}
	test_result(name, ok, "%s", reasons);
}

#endif
