/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared declarations of the command line and the FUSE daemon: where a mapping
 * keeps its files, the control socket protocol, loop devices and the daemon.
 *
 * A mapping NAME under the directory DIR consists of:
 *   DIR/NAME                  the device file, a FUSE mount on a regular file
 *   DIR/.udmcrypt/            state directory, mode 0700
 *   DIR/.udmcrypt/NAME/       the mapping's state, mode 0700
 *   DIR/.udmcrypt/NAME/control  the daemon's control socket, mode 0600
 *   DIR/.udmcrypt/NAME/log      the daemon's log, mode 0600, kept after removal
 * The control socket exists exactly while the daemon runs, unless the daemon
 * was killed; a socket that refuses connections marks a stale mapping.
 */
#ifndef UDMCRYPT_FRONTEND_H
#define UDMCRYPT_FRONTEND_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UDMCRYPT_VERSION "0.1.0"
#define UDMCRYPT_DEFAULT_DIR "/run/udmcrypt"
#define UDMCRYPT_STATE_SUBDIR ".udmcrypt"
/* The same limit as the kernel's DM_NAME_LEN, which counts the NUL. */
#define UDMCRYPT_NAME_MAX 127

/* Prints "udmcrypt: MESSAGE" as one line on standard error. */
void print_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* mapping.c */

struct mapping_paths {
	char name[UDMCRYPT_NAME_MAX + 1];
	char dir[PATH_MAX];		/* canonical absolute directory */
	char file[PATH_MAX];		/* DIR/NAME */
	char state_dir[PATH_MAX];	/* DIR/.udmcrypt/NAME */
	char control[PATH_MAX];		/* DIR/.udmcrypt/NAME/control */
	char log[PATH_MAX];		/* DIR/.udmcrypt/NAME/log */
};

/*
 * Checks a mapping name: not empty, at most UDMCRYPT_NAME_MAX bytes, no '/',
 * no control character, not starting with '.'. Returns 0, or -EINVAL with the
 * reason in *reason.
 */
int mapping_name_check(const char *name, const char **reason);

/*
 * Fills paths for name under dir, which must exist (it is resolved with
 * realpath). Returns 0, -ENAMETOOLONG, or the negative errno of realpath.
 */
int mapping_paths_init(struct mapping_paths *paths, const char *dir, const char *name);

/* Creates DIR/.udmcrypt (0700) if missing. Returns 0 or a negative errno. */
int mapping_state_root_create(const struct mapping_paths *paths);

/*
 * Lists the names of mappings under dir (every state directory that has a
 * control socket), sorted. On success *namesp is a malloc'ed array of *countp
 * malloc'ed strings; free it with mapping_names_free. A missing dir or state
 * directory gives an empty list.
 */
int mapping_names_list(const char *dir, char ***namesp, size_t *countp);
void mapping_names_free(char **names, size_t count);

/* Returns whether path is the mount point of a udmcrypt FUSE mount. */
bool mapping_is_mounted(const char *path);

/*
 * Unmounts the FUSE mount on path: with umount2(2) as root, otherwise with
 * fusermount3, which cannot tell the cause of a failure and gives -EBUSY.
 * lazy detaches the mount even while it is in use (MNT_DETACH).
 */
int mapping_unmount(const char *path, bool lazy);

/* Returns whether the control socket file of the mapping exists. */
bool mapping_has_control(const struct mapping_paths *paths);

/* control.c */

#define CONTROL_TIMEOUT_MS 10000

struct control_reply {
	int status;		/* 0 or the daemon's negative errno */
	char *body;		/* NUL-terminated, never NULL after success */
	size_t len;
	bool secure;		/* body is in udm_secure_alloc memory */
};

/*
 * Sends one request ("table", "table-keys", "status", "info", "remove") to
 * the daemon of a mapping and reads its reply. Returns 0 when a reply was read
 * (its status can still be an error), -ECONNREFUSED or -ENOENT when no daemon
 * listens, or another negative errno. Free the reply with control_reply_free.
 */
int control_request(const struct mapping_paths *paths, const char *request,
		    struct control_reply *reply);
void control_reply_free(struct control_reply *reply);

struct mapping_info {
	pid_t pid;
	uint64_t size;
	unsigned block_size;
	bool readonly;
	unsigned open_count;	/* open files of the device file */
};

/* Parses the body of an "info" reply. Returns 0 or -EPROTO. */
int mapping_info_parse(const char *body, struct mapping_info *info);

/* loopdev.c */

#define LOOP_LIST_MAX 16

/*
 * Attaches a free loop device to path with the given logical block size and
 * read-only flag; writes its path, such as /dev/loop3, to loop_path.
 * Returns 0 or a negative errno, with the failing step in *failed_step.
 */
int loop_attach(const char *path, unsigned block_size, bool readonly, char *loop_path,
		size_t loop_path_size, const char **failed_step);

/*
 * Finds the loop devices whose backing file is path. Writes up to max loop
 * numbers to numbers and returns how many there are, or a negative errno.
 */
int loop_find(const char *path, int *numbers, int max);

/*
 * Opens /dev/loopN exclusively, which fails with -EBUSY while it is mounted or
 * otherwise claimed. Returns the descriptor or a negative errno.
 */
int loop_open_exclusive(int number);

/* Detaches the loop device open at fd. Returns 0 or a negative errno. */
int loop_detach(int fd);

/* daemon.c */

struct daemon_config {
	const struct mapping_paths *paths;
	const char *table_file;		/* NULL for standard input */
	/*
	 * A table already built by the command (such as "open"), in
	 * udm_secure_alloc memory, or NULL to read table_file. The forked
	 * daemon copies it into its own locked memory and frees its inherited
	 * copy; the command keeps and frees its own.
	 */
	char *table;
	bool readonly;
	int status_fd;			/* write end of the startup pipe */
};

/*
 * Runs the daemon of one mapping in the forked child until it is removed or
 * signalled: reads or copies the table, opens the device, mounts the device file and
 * serves it. Startup ends by writing one NUL byte to status_fd, or an error
 * line and closing it. Returns the process exit status.
 */
int daemon_main(const struct daemon_config *config);

#endif /* UDMCRYPT_FRONTEND_H */
