/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dmsetup-style commands of the udmcrypt program, one function per verb.
 * Each returns the exit status: 0 on success, 1 after printing one error line.
 */
#ifndef UDMCRYPT_CLI_H
#define UDMCRYPT_CLI_H

#include <stdbool.h>
#include <stdio.h>

struct cli_options {
	const char *dir;	/* --dir, or the default */
	bool readonly;		/* --readonly */
	bool show_keys;		/* --showkeys */
	const char *name;	/* first operand, or NULL */
	const char *table_file;	/* second operand of create, or NULL */
	const char *nbd;	/* --nbd endpoint, or NULL */
};

/* Prints the help of every verb. */
void cli_print_usage(FILE *out);

int cmd_create(const struct cli_options *opts);
int cmd_remove(const struct cli_options *opts);
int cmd_ls(const struct cli_options *opts);
int cmd_table(const struct cli_options *opts);
int cmd_status(const struct cli_options *opts);
int cmd_info(const struct cli_options *opts);

/* cmd_dm.c helpers shared with cmd_remove.c */

struct mapping_paths;

/*
 * Checks the name and fills paths; prints "device NAME not found" when the
 * directory does not exist. Returns 0, 4 for a missing directory or 1 (the
 * exit status with cryptsetup's codes, which the dmsetup verbs turn into 1).
 */
int cli_mapping_paths(struct mapping_paths *paths, const struct cli_options *opts);

/*
 * Checks name, creates dir when it is missing, fills paths and checks that no
 * mapping NAME exists. Returns 0, or after one error line 5 when NAME exists,
 * 4 or 1.
 */
int cli_mapping_prepare(struct mapping_paths *paths, const char *dir, const char *name);

/*
 * Starts the daemon of a prepared mapping, which maps table (udm_secure_alloc
 * memory that stays the caller's), or table_file or standard input when table
 * is NULL. As root, attaches a loop device. Prints the loop device or the
 * file DIR/NAME. Returns 0 or 1 after an error line.
 */
int cli_mapping_start(const struct mapping_paths *paths, bool readonly, const char *table_file,
		      char *table);

/*
 * Removes a mapping as "remove" does. Returns 0, or after one error line
 * 4 when it does not exist, 5 when it is busy, or 1.
 */
int cli_mapping_remove(const struct cli_options *opts);

/* nbd_export.c */

/*
 * Starts an NBD export of a prepared mapping instead of a FUSE daemon:
 * nbdkit with its file plugin on the one backing file of the table and the
 * udmcrypt filter (found by $UDMCRYPT_NBDKIT_FILTER, beside this program, or
 * in nbdkit's filter directory). The table is table (the caller's locked
 * memory), or is read from table_file, or from standard input when both are
 * NULL. endpoint is a Unix socket path (any value with '/') or [HOST:]PORT,
 * HOST 127.0.0.1 by default. Prints the NBD URI. Returns 0, or 1 after an
 * error line with nbdkit stopped.
 */
int cli_nbd_start(const struct mapping_paths *paths, const char *endpoint, bool readonly,
		  const char *table_file, const char *table);

/* Returns whether the mapping is an NBD export started by cli_nbd_start. */
bool cli_nbd_exists(const struct mapping_paths *paths);

/* Stops the export's nbdkit, if it still runs, and removes its record and
 * Unix socket. Returns 0 or 1 after an error line. */
int cli_nbd_stop(const struct mapping_paths *paths);

/* Copies name with control characters replaced by '?', for messages. */
const char *printable_name(const char *name);

#endif /* UDMCRYPT_CLI_H */
