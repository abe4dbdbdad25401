/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The commands of the udmcrypt program, one function per verb. Each returns
 * the exit status: 0 on success, 1 after printing one error line.
 */
#ifndef UDMCRYPT_CLI_H
#define UDMCRYPT_CLI_H

#include <stdbool.h>

struct cli_options {
	const char *dir;	/* --dir, or the default */
	bool readonly;		/* --readonly */
	bool show_keys;		/* --showkeys */
	const char *name;	/* first operand, or NULL */
	const char *table_file;	/* second operand of create, or NULL */
};

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
 * directory does not exist. Returns 0 or 1 (the exit status).
 */
int cli_mapping_paths(struct mapping_paths *paths, const struct cli_options *opts);

/* Copies name with control characters replaced by '?', for messages. */
const char *printable_name(const char *name);

#endif /* UDMCRYPT_CLI_H */
