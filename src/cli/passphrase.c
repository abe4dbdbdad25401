// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Passphrase and key input, as cryptsetup 2.6 reads it (cryptsetup(8),
 * "NOTES ON PASSPHRASE PROCESSING"): from a terminal without echo, one line
 * from a pipe, or a key file taken whole. Every byte read lands in
 * udm_secure_alloc memory, read(2) by read(2) with no stdio buffer between.
 * Also the "Are you sure?" confirmation of the destructive verbs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "volume.h"
#include "../fuse/frontend.h"

#define CONFIRM_MAX 64

/* A growing buffer in locked memory. */
struct secure_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* The terminal whose echo is off, restored by a signal that ends the command. */
static volatile sig_atomic_t echo_off_fd = -1;
static struct termios echo_saved;

static int buf_reserve(struct secure_buf *buf, size_t need)
{
	size_t cap = buf->cap ? buf->cap : 256;
	uint8_t *grown;

	if (need <= buf->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	grown = udm_secure_alloc(cap);
	if (!grown)
		return -ENOMEM;
	if (buf->len)
		memcpy(grown, buf->data, buf->len);
	udm_secure_free(buf->data);
	buf->data = grown;
	buf->cap = cap;
	return 0;
}

static void buf_free(struct secure_buf *buf)
{
	udm_secure_free(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
}

/* Moves the contents into a new key of the exact length, and frees buf. */
static int buf_to_key(struct secure_buf *buf, struct udm_key **keyp)
{
	*keyp = udm_key_new(buf->len);
	if (*keyp && buf->len)
		memcpy((*keyp)->data, buf->data, buf->len);
	buf_free(buf);
	if (!*keyp) {
		print_error("cannot allocate locked memory for the passphrase");
		return -ENOMEM;
	}
	return 0;
}

/*
 * Reads bytes one read(2) at a time up to a newline, which is dropped, or
 * end of file, keeping at most max. Returns 0, 1 when input ended before any
 * byte, -E2BIG when the line is longer than max, or a negative errno.
 */
static int read_line(int fd, struct secure_buf *buf, size_t max)
{
	bool any = false;
	uint8_t byte;
	ssize_t got;

	for (;;) {
		got = read(fd, &byte, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return any ? 0 : 1;
		any = true;
		if (byte == '\n')
			return 0;
		if (buf->len == max)
			return -E2BIG;
		if (buf_reserve(buf, buf->len + 1))
			return -ENOMEM;
		buf->data[buf->len++] = byte;
	}
}

static void restore_echo_and_reraise(int signo)
{
	int fd = echo_off_fd;

	if (fd >= 0)
		tcsetattr(fd, TCSAFLUSH, &echo_saved);
	signal(signo, SIG_DFL);
	raise(signo);
}

/* Turns echo off on fd and makes the usual terminating signals turn it on. */
static int echo_disable(int fd)
{
	struct sigaction restore = { .sa_handler = restore_echo_and_reraise };
	struct termios quiet;

	if (tcgetattr(fd, &echo_saved))
		return -errno;
	quiet = echo_saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	sigemptyset(&restore.sa_mask);
	echo_off_fd = fd;
	sigaction(SIGINT, &restore, NULL);
	sigaction(SIGTERM, &restore, NULL);
	sigaction(SIGHUP, &restore, NULL);
	sigaction(SIGQUIT, &restore, NULL);
	if (tcsetattr(fd, TCSAFLUSH, &quiet)) {
		echo_off_fd = -1;
		return -errno;
	}
	return 0;
}

static void echo_restore(int fd)
{
	tcsetattr(fd, TCSAFLUSH, &echo_saved);
	echo_off_fd = -1;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
}

static void write_all(int fd, const char *text)
{
	size_t len = strlen(text);
	ssize_t done;

	while (len) {
		done = write(fd, text, len);
		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			return;
		text += done;
		len -= (size_t)done;
	}
}

/* Prompts on the controlling terminal and reads one line without echo. */
static int read_terminal(struct udm_key **passp, const char *prompt)
{
	struct secure_buf buf = { NULL, 0, 0 };
	int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int in = tty >= 0 ? tty : STDIN_FILENO, out = tty >= 0 ? tty : STDERR_FILENO;
	int ret;

	ret = echo_disable(in);
	if (ret) {
		print_error("cannot turn off echo on the terminal: %s", strerror(-ret));
		goto exit;
	}
	write_all(out, prompt);
	ret = read_line(in, &buf, PASSPHRASE_TTY_MAX);
	echo_restore(in);
	write_all(out, "\n");

	if (ret == -E2BIG)
		print_error("passphrase is longer than the maximum of %u characters",
			    PASSPHRASE_TTY_MAX);
	else if (ret == 1)
		print_error("no passphrase: the terminal input ended");
	else if (ret < 0)
		print_error("cannot read the passphrase from the terminal: %s", strerror(-ret));
	if (ret == 1)
		ret = -EPIPE;
	else if (ret == -E2BIG)
		ret = -EINVAL;
	if (ret)
		goto exit;
	ret = buf_to_key(&buf, passp);
exit:
	buf_free(&buf);
	if (tty >= 0)
		close(tty);
	return ret;
}

/* Reads one line of standard input, as cryptsetup does without --key-file. */
static int read_stdin_line(struct udm_key **passp)
{
	struct secure_buf buf = { NULL, 0, 0 };
	int ret = read_line(STDIN_FILENO, &buf, KEYFILE_MAX);

	if (ret == 1) {
		print_error("nothing to read on standard input");
		ret = -EPIPE;
	} else if (ret == -E2BIG) {
		print_error("passphrase on standard input is longer than %u bytes", KEYFILE_MAX);
		ret = -EINVAL;
	} else if (ret < 0) {
		print_error("cannot read the passphrase from standard input: %s", strerror(-ret));
	} else {
		return buf_to_key(&buf, passp);
	}
	buf_free(&buf);
	return ret;
}

/* Skips offset bytes: lseek(2) on a regular file, reading on a pipe. */
static int skip_bytes(int fd, const char *name, uint64_t offset)
{
	uint8_t scratch[4096];
	struct stat st;
	ssize_t got;

	if (!offset)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size < offset || lseek(fd, (off_t)offset, SEEK_SET) < 0)
			goto short_file;
		return 0;
	}
	while (offset) {
		size_t chunk = offset < sizeof(scratch) ? (size_t)offset : sizeof(scratch);

		got = read(fd, scratch, chunk);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			goto short_file;
		offset -= (uint64_t)got;
	}
	explicit_bzero(scratch, sizeof(scratch));
	return 0;
short_file:
	explicit_bzero(scratch, sizeof(scratch));
	print_error("cannot skip to offset %llu in key file %s: the file is shorter",
		    (unsigned long long)offset, name);
	return -EINVAL;
}

/*
 * Reads up to limit bytes of fd into buf. Returns 0, or 1 when more bytes
 * follow, or a negative errno.
 */
static int read_bytes(int fd, struct secure_buf *buf, size_t limit)
{
	uint8_t extra;
	ssize_t got;
	int ret;

	while (buf->len < limit) {
		ret = buf_reserve(buf, buf->len + 4096 < limit ? buf->len + 4096 : limit);
		if (ret)
			return ret;
		got = read(fd, buf->data + buf->len, buf->cap - buf->len < limit - buf->len ?
			   buf->cap - buf->len : limit - buf->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return 0;
		buf->len += (size_t)got;
	}
	do {
		got = read(fd, &extra, 1);
	} while (got < 0 && errno == EINTR);
	explicit_bzero(&extra, sizeof(extra));
	return got > 0 ? 1 : 0;
}

int key_file_read(struct udm_key **keyp, const char *path, uint64_t offset, size_t size,
		  size_t max)
{
	struct secure_buf buf = { NULL, 0, 0 };
	bool is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "standard input" : path;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0) {
		print_error("cannot open key file %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	ret = skip_bytes(fd, name, offset);
	if (ret)
		goto exit;
	ret = read_bytes(fd, &buf, size ? size : max);
	if (ret < 0) {
		print_error("cannot read key file %s: %s", name, strerror(-ret));
	} else if (size && buf.len < size) {
		print_error("cannot read %zu bytes from key file %s: it has only %zu", size, name,
			    buf.len);
		ret = -EINVAL;
	} else if (!size && ret == 1) {
		print_error("key file %s is larger than the maximum of %zu bytes; limit it with "
			    "--keyfile-size", name, max);
		ret = -EINVAL;
	} else {
		ret = buf_to_key(&buf, keyp);
	}
exit:
	buf_free(&buf);
	if (!is_stdin)
		close(fd);
	return ret;
}

bool passphrase_interactive(const struct key_source *src)
{
	return !src->file && isatty(STDIN_FILENO);
}

static bool keys_equal(const struct udm_key *a, const struct udm_key *b)
{
	uint8_t diff = 0;
	size_t i;

	if (a->size != b->size)
		return false;
	for (i = 0; i < a->size; i++)
		diff |= a->data[i] ^ b->data[i];
	return diff == 0;
}

int passphrase_read(struct udm_key **passp, const struct key_source *src, const char *prompt,
		    bool verify)
{
	struct udm_key *again = NULL;
	int ret;

	*passp = NULL;
	if (src->file)
		return key_file_read(passp, src->file, src->offset, src->size, KEYFILE_MAX);
	if (!isatty(STDIN_FILENO))
		return read_stdin_line(passp);

	ret = read_terminal(passp, prompt);
	if (ret || !verify)
		return ret;
	ret = read_terminal(&again, "Verify passphrase: ");
	if (!ret && !keys_equal(*passp, again)) {
		fflush(stdout);
		fputs("Passphrases do not match.\n", stderr);
		ret = -EPERM;
	}
	udm_key_free(again);
	if (ret) {
		udm_key_free(*passp);
		*passp = NULL;
	}
	return ret;
}

bool confirm(const char *warning, bool batch)
{
	struct secure_buf answer = { NULL, 0, 0 };
	bool yes;
	int ret;

	if (batch || !isatty(STDIN_FILENO))
		return true;
	printf("\nWARNING!\n========\n%s\n\nAre you sure? (Type 'yes' in capital letters): ",
	       warning);
	fflush(stdout);
	ret = read_line(STDIN_FILENO, &answer, CONFIRM_MAX);
	yes = ret == 0 && answer.len == 3 && memcmp(answer.data, "YES", 3) == 0;
	buf_free(&answer);
	return yes;
}
