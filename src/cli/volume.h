/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cryptsetup-style commands of udmcrypt (luksFormat, open, close,
 * luksDump, the key slot verbs and the header verbs): their options and the
 * passphrase input. They exit with the codes of cryptsetup 2.6:
 *   0 success, 1 wrong parameters or any other error, 2 no permission (wrong
 *   passphrase), 3 out of memory, 4 wrong device specified, 5 device already
 *   exists or busy.
 */
#ifndef UDMCRYPT_VOLUME_H
#define UDMCRYPT_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "udmcrypt.h"

/* cryptsetup 2.6's limit for a passphrase typed on a terminal, in
 * characters. Key files and standard input take UDM_KEYFILE_MAX bytes. */
#define PASSPHRASE_TTY_MAX 512u
#define TRIES_DEFAULT 3u

/* Source of a passphrase: a key file, or the terminal or one line of
 * standard input when file is NULL. */
struct key_source {
	const char *file;	/* "-" is standard input, read to its end */
	uint64_t offset;	/* bytes skipped at the start of file */
	size_t size;		/* bytes read from file; 0 reads it all */
};

struct volume_options {
	/* Operands, by meaning; which ones a verb takes is in its table entry. */
	const char *device;
	const char *name;		/* open, close */
	const char *slot_operand;	/* luksKillSlot */

	struct key_source key;		/* --key-file, --keyfile-offset, --keyfile-size */
	struct key_source new_key;	/* --new-keyfile or the key file operand */
	const char *dir;
	const char *nbd;		/* --nbd endpoint of open */
	const char *header;
	const char *header_backup_file;
	const char *volume_key_file;
	enum udm_volume_type type;	/* --type; UDM_VOLUME_ANY for "luks" or none */
	const char *cipher;
	const char *hash;
	const char *label;
	const char *subsystem;
	const char *uuid;
	unsigned key_size_bits;
	unsigned sector_size;
	int key_slot;			/* -1 when not given */
	struct udm_pbkdf_params pbkdf;	/* its hash is --hash */
	uint64_t metadata_size, keyslots_size;
	uint64_t offset, skip, size;	/* 512-byte sectors */
	unsigned tries;
	bool readonly;
	bool batch;
	bool verbose;
	bool debug;
	bool test_passphrase;
	bool dump_json;
	bool dump_volume_key;
	bool verify_passphrase;
	const char *verb;		/* the verb as typed, for messages */
};

/* volume_main.c */

/* Returns whether name is a cryptsetup-style verb. */
bool volume_verb_exists(const char *name);

/* Runs the cryptsetup-style verb argv[1]. Returns the exit status. */
int volume_main(int argc, char **argv);

/* Prints the help of the cryptsetup-style verbs and their defaults. */
void volume_print_usage(FILE *out);

/*
 * Turns a negative errno into cryptsetup's exit status: -EPERM 2, -ENOMEM 3,
 * -ENOTBLK 4 (the commands' code for a missing device), -EEXIST and -EBUSY
 * 5, anything else 1.
 */
int volume_exit_status(int ret);

/* Prints a library error: err->msg, or the formatted action with strerror(-ret). */
void print_library_error(const struct udm_error *err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prints line on standard output with -v (cryptsetup's verbose messages). */
void print_verbose(const struct volume_options *opts, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Checks that path exists and can be opened, as cryptsetup does before any
 * verb. Returns 0, or -ENOTBLK after printing "cannot open device PATH" and
 * the cause.
 */
int device_check(const char *path);

/* passphrase.c */

/*
 * Reads a passphrase into *passp (udm_secure_alloc memory, free with
 * udm_key_free; its size is the length). From a key file: src->size bytes
 * after src->offset, or the whole file, with no newline processing. Without
 * a key file: from a terminal, prompt on /dev/tty and no echo, twice with
 * verify; from a pipe, one line without its newline. Returns 0, or after an
 * error line -EPERM when the two entries differ, -EPIPE when standard input
 * is empty, -ENOMEM, or -EINVAL for an unreadable or oversized key file.
 */
int passphrase_read(struct udm_key **passp, const struct key_source *src, const char *prompt,
		    bool verify);

/* Returns whether a passphrase from src would be typed on a terminal. */
bool passphrase_interactive(const struct key_source *src);

/*
 * Reads exactly size bytes from path into *keyp, for --volume-key-file and
 * plain key files; size 0 reads the whole file (at most max bytes).
 * Returns 0 or a negative errno after an error line.
 */
int key_file_read(struct udm_key **keyp, const char *path, uint64_t offset, size_t size,
		  size_t max);

/*
 * Prints warning in cryptsetup's "WARNING!" frame and prompts "Are you
 * sure?" on a terminal. Returns true when the user typed YES, or without a
 * prompt in batch mode or when standard input is not a terminal.
 */
bool confirm(const char *warning, bool batch);

/* cmd_luks.c */

int cmd_luks_format(struct volume_options *opts);
int cmd_luks_dump(struct volume_options *opts);
int cmd_is_luks(struct volume_options *opts);
int cmd_luks_uuid(struct volume_options *opts);
int cmd_header_backup(struct volume_options *opts);
int cmd_header_restore(struct volume_options *opts);

/*
 * Loads the LUKS header of opts->header or opts->device, of the type that
 * --type requests. Returns 0, or after an error line -ENOTBLK for a missing
 * device or the library's negative errno.
 */
int volume_load(struct udm_volume **volp, const struct volume_options *opts, bool writable);

/* cmd_open.c */

int cmd_open(struct volume_options *opts);
int cmd_close(struct volume_options *opts);

/*
 * Unlocks vol with a passphrase from src, asking again on a terminal up to
 * tries times; keyslot -1 tries every slot. Prints "No key available with
 * this passphrase." after each wrong one. Returns the slot, or a negative
 * errno after an error line (-EPERM for a wrong passphrase).
 */
int volume_unlock_interactive(struct udm_volume *vol, const struct volume_options *opts,
			      const struct key_source *src, const char *prompt, unsigned tries,
			      int keyslot, struct udm_key **keyp);

/*
 * Reads the volume key from --volume-key-file and checks it against the
 * header. Returns 0 or a negative errno after an error line.
 */
int volume_key_from_file(struct udm_volume *vol, const struct volume_options *opts,
			 struct udm_key **keyp);

/* cmd_luks_keys.c */

int cmd_luks_add_key(struct volume_options *opts);
int cmd_luks_remove_key(struct volume_options *opts);
int cmd_luks_change_key(struct volume_options *opts);
int cmd_luks_kill_slot(struct volume_options *opts);

#endif /* UDMCRYPT_VOLUME_H */
