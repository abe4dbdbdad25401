/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers of the LUKS1 tests: files in a temporary directory, the images
 * in tests/data/luks1, and cryptsetup run on them when it is installed.
 */
#ifndef UDM_LUKS1_UTIL_H
#define UDM_LUKS1_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "test.h"
#include "udmcrypt.h"

#define DATA "tests/data/luks1/"
#define PWD1 "93R4P4pIqAH8"
#define MiB (1024 * 1024)

static char tmpdir[] = "/tmp/udm-luks1-XXXXXX";
static bool have_cryptsetup;

/* Returns the path of name in the temporary directory: the same string for
 * the same name until luks1_test_cleanup(). */
static inline const char *tmp_path(const char *name)
{
	static char paths[64][256];
	static unsigned used;
	char want[256];

	snprintf(want, sizeof(want), "%s/%s", tmpdir, name);
	for (unsigned i = 0; i < used; i++)
		if (!strcmp(paths[i], want))
			return paths[i];
	if (used == 64) {
		fprintf(stderr, "too many temporary files\n");
		exit(2);
	}
	memcpy(paths[used], want, sizeof(want));
	return paths[used++];
}

static inline uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long size;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (size = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET)) {
		buf = malloc((size_t)size + 1);
		if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)size;
	}
	fclose(f);
	return buf;
}

static inline int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int r = fd >= 0 && write(fd, data, len) == (ssize_t)len ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return r;
}

static inline int copy_file(const char *from, const char *to)
{
	size_t len;
	uint8_t *data = read_file(from, &len);
	int r = data ? write_file(to, data, len) : -1;

	free(data);
	return r;
}

/* Decompresses DATA/name.xz into the temporary directory. */
static inline const char *unpack(const char *name)
{
	const char *out = tmp_path(name);
	char cmd[512];

	if (snprintf(cmd, sizeof(cmd), "xz -dc '" DATA "%s.xz' > '%s'", name, out) >=
	    (int)sizeof(cmd))
		return NULL;
	return system(cmd) == 0 ? out : NULL;
}

/* Hex of a file's sha256, or "" when unreadable. */
static inline void file_sha256(const char *path, char hex[65])
{
	uint8_t digest[UDM_MAX_DIGEST];
	size_t len;
	uint8_t *data = read_file(path, &len);

	hex[0] = '\0';
	if (data && udm_hash("sha256", data, len, digest) == 32)
		for (int i = 0; i < 32; i++)
			sprintf(hex + 2 * i, "%02x", digest[i]);
	free(data);
}

static inline void to_hex(const uint8_t *data, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", data[i]);
	out[2 * len] = '\0';
}

static inline double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static inline int cryptsetup(const char *input, char **output, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Runs cryptsetup with the arguments that fmt formats and input on its
 * standard input. Returns its exit status, or -1 when it cannot run; its
 * output and errors go to *output when output is set (malloc'ed, may be
 * NULL).
 */
static inline int cryptsetup(const char *input, char **output, const char *fmt, ...)
{
	const char *out = tmp_path("cryptsetup.out");
	char args[1024], cmd[2048];
	size_t len;
	va_list ap;
	FILE *p;
	int n, status;

	va_start(ap, fmt);
	n = vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(args) ||
	    snprintf(cmd, sizeof(cmd), "PATH=\"$PATH:/usr/sbin:/sbin\" cryptsetup %s > '%s' 2>&1",
		     args, out) >= (int)sizeof(cmd))
		return -1;
	p = popen(cmd, "w");
	if (!p)
		return -1;
	if (input)
		fputs(input, p);
	status = pclose(p);
	if (output)
		*output = (char *)read_file(out, &len);
	if (output && *output)
		(*output)[len] = '\0';
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The volume key that "cryptsetup luksDump --dump-volume-key" prints, in
 * hex, or "" on failure. */
static inline void cryptsetup_volume_key(const char *image, const char *pass, char *hex,
					 size_t size)
{
	char *out = NULL, *p;
	size_t pos = 0;

	hex[0] = '\0';
	if (cryptsetup(pass, &out, "luksDump --dump-volume-key --batch-mode --key-file=- '%s'",
		       image) || !out || !(p = strstr(out, "MK dump:"))) {
		free(out);
		return;
	}
	for (p += 8; *p && pos + 1 < size; p++) {
		if (p[0] == '\n' && p[1] != '\t')
			break;
		if (strchr("0123456789abcdef", *p))
			hex[pos++] = *p;
	}
	hex[pos] = '\0';
	free(out);
}

static inline bool cryptsetup_opens(const char *image, int slot, const char *pass)
{
	return cryptsetup(pass, NULL, "open --test-passphrase --key-slot %d --key-file=- '%s'",
			  slot, image) == 0;
}

/* Our dump of image, as udm_volume_dump() prints it. */
static inline char *dump_text(struct udm_volume *vol, const struct udm_key *key)
{
	struct udm_error err;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f) {
		udm_volume_dump(vol, f, key, false, &err);
		fclose(f);
	}
	return text;
}

static inline struct udm_format_params fast_params(void)
{
	struct udm_format_params p = { .type = UDM_VOLUME_LUKS1, .keyslot = -1 };

	p.pbkdf.force_iterations = 1000;
	return p;
}

static inline int make_file(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	int r = fd >= 0 && !ftruncate(fd, size) ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return r;
}

static inline int format_file(const char *path, off_t size, const struct udm_format_params *p,
			      const char *pass, struct udm_volume **volp, struct udm_error *err)
{
	if (make_file(path, size))
		return -EIO;
	return udm_luks_format(path, p, pass, strlen(pass), volp, err);
}

static inline int read_area(const char *path, uint64_t sector, uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	int r = fd >= 0 && pread(fd, buf, len, (off_t)(sector * 512)) == (ssize_t)len ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return r;
}

/* Makes the temporary directory and looks for cryptsetup. */
static inline int luks1_test_setup(void)
{
	udm_set_log(NULL, UDM_LOG_ERROR);
	if (!mkdtemp(tmpdir))
		return -1;
	have_cryptsetup = system("PATH=\"$PATH:/usr/sbin:/sbin\" command -v cryptsetup "
				 ">/dev/null 2>&1") == 0;
	if (!have_cryptsetup)
		printf("SKIP: cryptsetup is not installed: no checks against it\n");
	return 0;
}

static inline void luks1_test_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

#endif
