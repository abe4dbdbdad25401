/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Declarations private to the daemon: its log, the FUSE operations and the
 * control socket server.
 */
#ifndef UDMCRYPT_DAEMON_H
#define UDMCRYPT_DAEMON_H

#include <stddef.h>
#include <time.h>

#include "frontend.h"

struct udm_device;
struct control_server;

/* Hooks the control server calls for requests that change the daemon. */
struct control_hooks {
	/* Unmounts the device file; returns 0 or a negative errno (-EBUSY). */
	int (*unmount)(void *ctx);
	/* Stops the daemon after a successful unmount or a signal. */
	void (*stop)(void *ctx, int signo);
	unsigned (*open_count)(void *ctx);
	void *ctx;
};

/*
 * Binds the control socket of paths and starts the thread that serves it.
 * The thread also receives SIGTERM, SIGINT and SIGHUP through a signalfd, so
 * the caller must have blocked them in every thread. Returns 0 or a negative
 * errno.
 */
int control_server_start(struct control_server **serverp, const struct mapping_paths *paths,
			 struct udm_device *dev, const struct control_hooks *hooks);
/* Stops the thread, closes and unlinks the socket. Takes NULL. */
void control_server_stop(struct control_server *server);

enum control_op {
	CONTROL_TABLE,
	CONTROL_TABLE_KEYS,
	CONTROL_STATUS,
	CONTROL_INFO,
	CONTROL_REMOVE,
};

/* Parses one request line of len bytes, without its newline: the name of
 * a request exactly, so a NUL byte or trailing text rejects it. Returns 0
 * or -EINVAL. */
int control_request_parse(const char *line, size_t len, enum control_op *op);

/* daemon_log.c */

enum daemon_log_level {
	DAEMON_LOG_ERR,
	DAEMON_LOG_WARN,
	DAEMON_LOG_INFO,
};

/* Appends one line to the mapping's log; never pass key material. */
void daemon_log(enum daemon_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Opens the log file (mode 0600, appended) and routes the messages of the
 * core library and of libfuse to it. Returns 0 or a negative errno.
 */
int daemon_log_open(const char *path);
/* Returns the log's descriptor, or -1 before daemon_log_open. */
int daemon_log_fd(void);
/* Returns the last error message of libfuse, or "". */
const char *daemon_log_fuse_error(void);
void daemon_log_close(void);

/* fs.c */

struct fuse_operations;

struct fs_state {
	struct udm_device *dev;
	uint64_t size;
	unsigned block_size;
	bool readonly;
	uid_t uid;
	gid_t gid;
	struct timespec start_time;	/* reported as every file time */
	unsigned open_count;	/* updated with __atomic builtins */
};

extern const struct fuse_operations fs_operations;

/* Logs how many I/O errors the rate limit kept out of the log, if any. */
void fs_report_suppressed_errors(void);

#endif /* UDMCRYPT_DAEMON_H */
