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
#include <termios.h>
#include <unistd.h>

#include "volume.h"
#include "../fuse/frontend.h"

#define CONFIRM_MAX 64

/* The terminal whose echo is off, restored by a signal that ends the command. */
static volatile sig_atomic_t echo_off_fd = -1;
static struct termios echo_saved;

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
	int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int in = tty >= 0 ? tty : STDIN_FILENO, out = tty >= 0 ? tty : STDERR_FILENO;
	int ret;

	ret = echo_disable(in);
	if (ret) {
		print_error("cannot turn off echo on the terminal: %s", strerror(-ret));
		goto exit;
	}
	write_all(out, prompt);
	ret = udm_key_read(passp, in, 0, 0, PASSPHRASE_TTY_MAX, UDM_KEY_READ_LINE);
	echo_restore(in);
	write_all(out, "\n");

	if (ret == -EFBIG) {
		print_error("passphrase is longer than the maximum of %u characters",
			    PASSPHRASE_TTY_MAX);
		ret = -EINVAL;
	} else if (ret == -ENODATA) {
		print_error("no passphrase: the terminal input ended");
		ret = -EPIPE;
	} else if (ret < 0) {
		print_error("cannot read the passphrase from the terminal: %s", strerror(-ret));
	}
exit:
	if (tty >= 0)
		close(tty);
	return ret;
}

/* Reads one line of standard input, as cryptsetup does without --key-file. */
static int read_stdin_line(struct udm_key **passp)
{
	int ret = udm_key_read(passp, STDIN_FILENO, 0, 0, UDM_KEYFILE_MAX, UDM_KEY_READ_LINE);

	if (ret == -ENODATA) {
		print_error("nothing to read on standard input");
		return -EPIPE;
	}
	if (ret == -EFBIG) {
		print_error("passphrase on standard input is longer than %u bytes", UDM_KEYFILE_MAX);
		return -EINVAL;
	}
	if (ret < 0)
		print_error("cannot read the passphrase from standard input: %s", strerror(-ret));
	return ret;
}

int key_file_read(struct udm_key **keyp, const char *path, uint64_t offset, size_t size,
		  size_t max)
{
	bool is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "standard input" : path;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	*keyp = NULL;
	if (fd < 0) {
		print_error("cannot open key file %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	ret = udm_key_read(keyp, fd, offset, size, max, 0);
	if (ret == -ENODATA) {
		print_error("cannot skip to offset %llu in key file %s: the file is shorter",
			    (unsigned long long)offset, name);
		ret = -EINVAL;
	} else if (ret == -EFBIG) {
		print_error("key file %s is larger than the maximum of %zu bytes; limit it with "
			    "--keyfile-size", name, max);
		ret = -EINVAL;
	} else if (ret < 0) {
		print_error("cannot read key file %s: %s", name, strerror(-ret));
	} else if (size && (*keyp)->size < size) {
		print_error("cannot read %zu bytes from key file %s: it has only %zu", size, name,
			    (*keyp)->size);
		udm_key_free(*keyp);
		*keyp = NULL;
		ret = -EINVAL;
	}
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
		return key_file_read(passp, src->file, src->offset, src->size, UDM_KEYFILE_MAX);
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
	struct udm_key *answer = NULL;
	bool yes;

	if (batch || !isatty(STDIN_FILENO))
		return true;
	printf("\nWARNING!\n========\n%s\n\nAre you sure? (Type 'yes' in capital letters): ",
	       warning);
	fflush(stdout);
	yes = udm_key_read(&answer, STDIN_FILENO, 0, 0, CONFIRM_MAX, UDM_KEY_READ_LINE) == 0 &&
	      answer->size == 3 && memcmp(answer->data, "YES", 3) == 0;
	udm_key_free(answer);
	return yes;
}
