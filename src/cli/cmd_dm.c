// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The dmsetup-style commands create, ls, table, status and info. They talk
 * to each mapping's daemon over its control socket; "create" forks the
 * daemon and attaches the loop device.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "udmcrypt.h"
#include "cli.h"
#include "../fuse/frontend.h"

const char *printable_name(const char *name)
{
	static char copy[UDMCRYPT_NAME_MAX + 1];
	size_t i;

	snprintf(copy, sizeof(copy), "%s", name);
	for (i = 0; copy[i]; i++) {
		if ((unsigned char)copy[i] < 0x20 || copy[i] == 0x7f)
			copy[i] = '?';
	}
	return copy;
}

int cli_mapping_paths(struct mapping_paths *paths, const struct cli_options *opts)
{
	const char *reason;
	int ret;

	if (mapping_name_check(opts->name, &reason)) {
		print_error("invalid device name \"%s\": %s", printable_name(opts->name), reason);
		return 1;
	}
	ret = mapping_paths_init(paths, opts->dir, opts->name);
	if (ret == -ENOENT) {
		print_error("device %s not found", opts->name);
		return 4;
	}
	if (ret) {
		print_error("cannot resolve directory %s: %s", opts->dir, strerror(-ret));
		return 1;
	}
	return 0;
}

/*
 * Writes text with each line prefixed by prefix (which may be NULL) using
 * write(2), so that no stdio buffer keeps a copy of a table with keys.
 */
static int print_lines(const char *prefix, const char *text, size_t len)
{
	const char *end = text + len, *next;
	struct iovec iov[3];
	int count;

	fflush(stdout);
	while (text < end) {
		next = memchr(text, '\n', (size_t)(end - text));
		next = next ? next + 1 : end;
		count = 0;
		if (prefix) {
			iov[count++] = (struct iovec){ (void *)prefix, strlen(prefix) };
			iov[count++] = (struct iovec){ (void *)": ", 2 };
		}
		iov[count++] = (struct iovec){ (void *)text, (size_t)(next - text) };
		if (writev(STDOUT_FILENO, iov, count) < 0)
			return -errno;
		if (next == end && next[-1] != '\n' && write(STDOUT_FILENO, "\n", 1) < 0)
			return -errno;
		text = next;
	}
	return 0;
}

/* Sends request to the daemon of paths; prints an error line on failure. */
static int request_checked(const struct mapping_paths *paths, const char *request,
			   struct control_reply *reply)
{
	int ret;

	if (!mapping_has_control(paths)) {
		print_error("device %s not found", paths->name);
		return 1;
	}
	ret = control_request(paths, request, reply);
	if (ret == -ECONNREFUSED) {
		print_error("device %s is stale: its daemon is not running; run \"udmcrypt remove %s\"",
			    paths->name, paths->name);
		return 1;
	}
	if (ret) {
		print_error("cannot reach the daemon of device %s: %s", paths->name,
			    strerror(-ret));
		return 1;
	}
	if (reply->status) {
		print_error("%s request for device %s failed: %s", request, paths->name,
			    strerror(-reply->status));
		control_reply_free(reply);
		return 1;
	}
	return 0;
}

/* Writes "/dev/loopA,/dev/loopB" for the loop devices over file, or "-". */
static void format_loops(const char *file, char *out, size_t size)
{
	int numbers[LOOP_LIST_MAX], count, i;
	size_t len = 0;

	count = loop_find(file, numbers, LOOP_LIST_MAX);
	if (count > LOOP_LIST_MAX)
		count = LOOP_LIST_MAX;
	snprintf(out, size, "-");
	for (i = 0; i < count && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s/dev/loop%d", i ? "," : "",
					numbers[i]);
}

/* create */

static int ensure_directory(const char *dir)
{
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	print_error("cannot create directory %s: %s", dir, strerror(errno));
	return 1;
}

static int check_new_mapping(const struct mapping_paths *paths)
{
	struct stat st;
	int ret;

	if (mapping_has_control(paths) || mapping_is_mounted(paths->file) ||
	    cli_nbd_exists(paths)) {
		print_error("device %s already exists", paths->name);
		return 5;
	}
	if (lstat(paths->file, &st) == 0) {
		print_error("cannot create %s: %s", paths->file, strerror(EEXIST));
		return 1;
	}
	ret = mapping_state_root_create(paths);
	if (ret) {
		print_error("cannot create directory %s/%s: %s", paths->dir,
			    UDMCRYPT_STATE_SUBDIR, strerror(-ret));
		return 1;
	}
	return 0;
}

/*
 * Waits for the daemon's startup report: one NUL byte, or an error line and
 * end of file. On failure, waits for the daemon to exit, so that it has
 * removed what it created before the command returns.
 */
static int wait_for_daemon(int fd, pid_t pid, const char *name)
{
	char report[1024];
	size_t len = 0;
	ssize_t got;
	int status;

	while (len < sizeof(report) - 1) {
		got = read(fd, report + len, sizeof(report) - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
		if (report[0] == '\0')
			return 0;
	}
	report[len] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (len)
		print_error("%s", report);
	else
		print_error("daemon of device %s exited during startup", name);
	return 1;
}

static int start_daemon(const struct mapping_paths *paths, bool readonly, const char *table_file,
			char *table)
{
	struct daemon_config config = {
		.paths = paths,
		.table_file = table_file,
		.table = table,
		.readonly = readonly,
	};
	int pipe_fds[2];
	pid_t pid;

	if (pipe2(pipe_fds, O_CLOEXEC)) {
		print_error("cannot create a pipe: %s", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		print_error("cannot fork the daemon of device %s: %s", paths->name,
			    strerror(errno));
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		return 1;
	}
	if (pid == 0) {
		close(pipe_fds[0]);
		config.status_fd = pipe_fds[1];
		exit(daemon_main(&config));
	}
	close(pipe_fds[1]);
	if (wait_for_daemon(pipe_fds[0], pid, paths->name)) {
		close(pipe_fds[0]);
		return 1;
	}
	close(pipe_fds[0]);
	return 0;
}

/* Attaches a loop device as root; on failure warns and prints the file instead. */
static void attach_loop(const struct mapping_paths *paths)
{
	struct control_reply reply;
	struct mapping_info info;
	char loop_path[64];
	const char *failed_step = "info request";
	int ret;

	ret = control_request(paths, "info", &reply);
	if (!ret)
		ret = reply.status ? reply.status : mapping_info_parse(reply.body, &info);
	if (reply.body)
		control_reply_free(&reply);
	if (!ret)
		ret = loop_attach(paths->file, info.block_size, info.readonly, loop_path,
				  sizeof(loop_path), &failed_step);
	if (ret) {
		print_error("warning: cannot attach a loop device to %s: %s: %s; "
			    "the mapping stays without one", paths->file, failed_step, strerror(-ret));
		printf("%s\n", paths->file);
		return;
	}
	printf("%s\n", loop_path);
}

int cli_mapping_prepare(struct mapping_paths *paths, const char *dir, const char *name)
{
	struct cli_options opts = { .dir = dir, .name = name };
	const char *reason;
	int status;

	if (mapping_name_check(name, &reason)) {
		print_error("invalid device name \"%s\": %s", printable_name(name), reason);
		return 1;
	}
	if (ensure_directory(dir))
		return 1;
	status = cli_mapping_paths(paths, &opts);
	if (status)
		return status;
	return check_new_mapping(paths);
}

int cli_mapping_start(const struct mapping_paths *paths, bool readonly, const char *table_file,
		      char *table)
{
	if (start_daemon(paths, readonly, table_file, table))
		return 1;

	if (geteuid() == 0)
		attach_loop(paths);
	else
		printf("%s\n", paths->file);
	return 0;
}

int cmd_create(const struct cli_options *opts)
{
	struct mapping_paths paths;

	if (cli_mapping_prepare(&paths, opts->dir, opts->name))
		return 1;
	if (opts->nbd)
		return cli_nbd_start(&paths, opts->nbd, opts->readonly, opts->table_file, NULL);
	return cli_mapping_start(&paths, opts->readonly, opts->table_file, NULL);
}

/* ls, table, status, info */

typedef int (*mapping_fn)(const struct mapping_paths *paths, const struct cli_options *opts,
			  bool all);

/* Runs fn for NAME, or for every mapping when no name was given. */
static int for_each_mapping(const struct cli_options *opts, mapping_fn fn)
{
	struct mapping_paths paths;
	char **names = NULL;
	size_t count = 0, i;
	int status = 0, ret;

	if (opts->name)
		return cli_mapping_paths(&paths, opts) || fn(&paths, opts, false);

	if (access(opts->dir, F_OK) == 0) {
		ret = mapping_names_list(opts->dir, &names, &count);
		if (ret) {
			print_error("cannot list mappings in %s: %s", opts->dir, strerror(-ret));
			return 1;
		}
	}
	if (count == 0)
		printf("No devices found\n");
	for (i = 0; i < count; i++) {
		if (mapping_paths_init(&paths, opts->dir, names[i]) == 0)
			status |= fn(&paths, opts, true);
	}
	mapping_names_free(names, count);
	return status;
}

static int show_table(const struct mapping_paths *paths, const struct cli_options *opts,
		      bool all)
{
	struct control_reply reply;

	if (request_checked(paths, opts->show_keys ? "table-keys" : "table", &reply))
		return 1;
	print_lines(all ? paths->name : NULL, reply.body, reply.len);
	control_reply_free(&reply);
	return 0;
}

static int show_status(const struct mapping_paths *paths, const struct cli_options *opts,
		       bool all)
{
	struct control_reply reply;

	if (request_checked(paths, "status", &reply))
		return 1;
	print_lines(all ? paths->name : NULL, reply.body, reply.len);
	control_reply_free(&reply);
	return 0;
}

static int show_info(const struct mapping_paths *paths, const struct cli_options *opts,
		     bool all)
{
	struct control_reply reply;
	struct mapping_info info;
	static bool first = true;
	char loops[256];

	if (request_checked(paths, "info", &reply))
		return 1;
	if (mapping_info_parse(reply.body, &info)) {
		print_error("invalid info reply from the daemon of device %s", paths->name);
		control_reply_free(&reply);
		return 1;
	}
	control_reply_free(&reply);
	format_loops(paths->file, loops, sizeof(loops));

	printf("%sName:              %s\n", first ? "" : "\n", paths->name);
	printf("State:             ACTIVE%s\n", info.readonly ? " (READ-ONLY)" : "");
	printf("Size:              %llu bytes\n", (unsigned long long)info.size);
	printf("Block size:        %u\n", info.block_size);
	printf("Open count:        %u\n", info.open_count);
	printf("Daemon PID:        %d\n", (int)info.pid);
	printf("File:              %s\n", paths->file);
	printf("Loop device:       %s\n", loops);
	first = false;
	return 0;
}

static int show_ls_line(const struct mapping_paths *paths, const struct cli_options *opts,
			bool all)
{
	struct control_reply reply;
	char loops[256];
	int ret;

	ret = control_request(paths, "info", &reply);
	if (reply.body)
		control_reply_free(&reply);
	if (ret == -ECONNREFUSED)
		print_error("warning: device %s is stale: its daemon is not running", paths->name);
	format_loops(paths->file, loops, sizeof(loops));
	printf("%s\t(%s)\n", paths->name, loops);
	return 0;
}

int cmd_ls(const struct cli_options *opts)
{
	return for_each_mapping(opts, show_ls_line);
}

int cmd_table(const struct cli_options *opts)
{
	return for_each_mapping(opts, show_table);
}

int cmd_status(const struct cli_options *opts)
{
	return for_each_mapping(opts, show_status);
}

int cmd_info(const struct cli_options *opts)
{
	return for_each_mapping(opts, show_info);
}
