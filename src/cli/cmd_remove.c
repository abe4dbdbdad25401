// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * "udmcrypt remove NAME" and "close NAME": detaches the loop devices over
 * DIR/NAME (as root), requests the daemon to unmount and exit, and waits
 * until it has. As with "dmsetup remove", a device in use is left as it was
 * and reported busy.
 * A stale mapping, whose daemon was killed, is cleaned up here instead.
 * An NBD export (create --nbd, open --nbd) has its nbdkit stopped instead.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "../fuse/frontend.h"

/* Time for a detached loop device to drop the file, and for the daemon to exit. */
#define LOOP_RELEASE_MS 5000
#define DAEMON_EXIT_MS 10000
/* Time for a closed file to reach the daemon's release handler. */
#define RELEASE_LAG_MS 1000
#define POLL_MS 50

struct loop_set {
	int numbers[LOOP_LIST_MAX];
	int fds[LOOP_LIST_MAX];
	int count;
};

static void loop_set_close(struct loop_set *loops)
{
	int i;

	for (i = 0; i < loops->count; i++) {
		if (loops->fds[i] >= 0)
			close(loops->fds[i]);
	}
	loops->count = 0;
}

static int report_busy(const char *name)
{
	print_error("device %s is busy", name);
	return 5;
}

/*
 * Opens every loop device over file exclusively: this fails while one is
 * mounted or otherwise claimed, before anything was changed.
 *
 * NOTE: a process that has the loop device open without O_EXCL is not
 * detected. LOOP_CLR_FD then only marks the device for autoclear at its last
 * close, and remove reports busy with that change made.
 */
static int loop_set_open(struct loop_set *loops, const struct mapping_paths *paths)
{
	int count, i;

	loops->count = 0;
	count = loop_find(paths->file, loops->numbers, LOOP_LIST_MAX);
	if (count < 0) {
		print_error("cannot list loop devices: %s", strerror(-count));
		return 1;
	}
	if (count > LOOP_LIST_MAX) {
		print_error("device %s has %d loop devices, more than %d", paths->name, count,
			    LOOP_LIST_MAX);
		return 1;
	}
	for (i = 0; i < count; i++) {
		loops->fds[i] = loop_open_exclusive(loops->numbers[i]);
		loops->count = i + 1;
		if (loops->fds[i] == -EBUSY)
			return report_busy(paths->name);
		if (loops->fds[i] < 0) {
			print_error("cannot open /dev/loop%d: %s", loops->numbers[i],
				    strerror(-loops->fds[i]));
			return 1;
		}
	}
	return 0;
}

/* Detaches the opened loop devices and waits until none is left over file. */
static int loop_set_detach(struct loop_set *loops, const struct mapping_paths *paths)
{
	int numbers[LOOP_LIST_MAX], i, ret, waited;

	for (i = 0; i < loops->count; i++) {
		ret = loop_detach(loops->fds[i]);
		if (ret) {
			print_error("cannot detach /dev/loop%d: %s", loops->numbers[i],
				    strerror(-ret));
			return 1;
		}
	}
	/* LOOP_CLR_FD may only mark the device, which detaches at its last close. */
	loop_set_close(loops);
	for (waited = 0; loop_find(paths->file, numbers, LOOP_LIST_MAX) > 0; waited += POLL_MS) {
		if (waited >= LOOP_RELEASE_MS)
			return report_busy(paths->name);
		usleep(POLL_MS * 1000);
	}
	return 0;
}

/*
 * Fails when a process other than the loop devices has the file open. The
 * daemon counts opens minus releases, and a release arrives shortly after
 * close(2), so a count that is too high is read again for a while.
 */
static int check_file_unused(const struct mapping_paths *paths, unsigned loop_count)
{
	struct control_reply reply;
	struct mapping_info info;
	int waited, ret;

	for (waited = 0;; waited += POLL_MS) {
		ret = control_request(paths, "info", &reply);
		if (!ret)
			ret = reply.status ? reply.status : mapping_info_parse(reply.body, &info);
		if (reply.body)
			control_reply_free(&reply);
		if (ret) {
			print_error("cannot query the daemon of device %s: %s", paths->name,
				    strerror(-ret));
			return 1;
		}
		if (info.open_count <= loop_count)
			return 0;
		if (waited >= RELEASE_LAG_MS)
			return report_busy(paths->name);
		usleep(POLL_MS * 1000);
	}
}

static bool process_running(pid_t pid)
{
	char path[64], state = '?';
	FILE *stat_file;
	int matched;

	if (kill(pid, 0) && errno == ESRCH)
		return false;
	/* An exited daemon stays a zombie where PID 1 does not reap it. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	stat_file = fopen(path, "re");
	if (!stat_file)
		return false;
	matched = fscanf(stat_file, "%*d (%*[^)]) %c", &state);
	fclose(stat_file);
	return matched != 1 || state != 'Z';
}

static int wait_for_exit(const struct mapping_paths *paths, pid_t pid)
{
	struct stat st;
	int waited;

	for (waited = 0; waited < DAEMON_EXIT_MS; waited += POLL_MS) {
		if (!process_running(pid) && !mapping_has_control(paths) &&
		    lstat(paths->file, &st) && errno == ENOENT)
			return 0;
		usleep(POLL_MS * 1000);
	}
	print_error("device %s was unmounted, but its daemon (pid %d) did not exit within %d "
		    "seconds", paths->name, (int)pid, DAEMON_EXIT_MS / 1000);
	return 1;
}

/* Removes what a killed daemon left: the loop devices, the mount, the file, the socket. */
static int remove_stale(const struct mapping_paths *paths)
{
	struct loop_set loops = { .count = 0 };
	struct stat st;
	int ret, status = 1;

	if (geteuid() == 0) {
		status = loop_set_open(&loops, paths);
		if (!status)
			status = loop_set_detach(&loops, paths);
		if (status)
			goto exit;
		status = 1;
	}
	if (mapping_is_mounted(paths->file)) {
		ret = mapping_unmount(paths->file, true);
		if (ret) {
			print_error("cannot unmount %s: %s", paths->file, strerror(-ret));
			goto exit;
		}
	}
	/* Only the empty file the daemon created, never data someone put there. */
	if (lstat(paths->file, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 &&
	    unlink(paths->file)) {
		print_error("cannot remove %s: %s", paths->file, strerror(errno));
		goto exit;
	}
	if (unlink(paths->control) && errno != ENOENT) {
		print_error("cannot remove %s: %s", paths->control, strerror(errno));
		goto exit;
	}
	status = 0;
exit:
	loop_set_close(&loops);
	return status;
}

static int send_remove(const struct mapping_paths *paths)
{
	struct control_reply reply;
	int ret;

	ret = control_request(paths, "remove", &reply);
	if (!ret)
		ret = reply.status;
	if (reply.body)
		control_reply_free(&reply);
	if (ret == -EBUSY)
		return report_busy(paths->name);
	if (ret) {
		print_error("cannot remove device %s: %s", paths->name, strerror(-ret));
		return 1;
	}
	return 0;
}

static int remove_live(const struct mapping_paths *paths, const struct mapping_info *info)
{
	struct loop_set loops = { .count = 0 };
	int status = 0;

	if (geteuid() == 0) {
		status = loop_set_open(&loops, paths);
		if (!status)
			status = check_file_unused(paths, (unsigned)loops.count);
		if (!status)
			status = loop_set_detach(&loops, paths);
		if (status)
			goto exit;
	}
	status = send_remove(paths);
	if (status)
		goto exit;
	status = wait_for_exit(paths, info->pid);
exit:
	loop_set_close(&loops);
	return status;
}

int cli_mapping_remove(const struct cli_options *opts)
{
	struct mapping_paths paths;
	struct control_reply reply;
	struct mapping_info info;
	int ret;

	ret = cli_mapping_paths(&paths, opts);
	if (ret)
		return ret;
	if (cli_nbd_exists(&paths))
		return cli_nbd_stop(&paths);
	if (!mapping_has_control(&paths)) {
		if (mapping_is_mounted(paths.file))
			return remove_stale(&paths);
		print_error("device %s not found", paths.name);
		return 4;
	}

	ret = control_request(&paths, "info", &reply);
	if (ret == -ECONNREFUSED)
		return remove_stale(&paths);
	if (!ret)
		ret = reply.status ? reply.status : mapping_info_parse(reply.body, &info);
	if (reply.body)
		control_reply_free(&reply);
	if (ret) {
		print_error("cannot query the daemon of device %s: %s", paths.name,
			    strerror(-ret));
		return 1;
	}
	return remove_live(&paths, &info);
}

int cmd_remove(const struct cli_options *opts)
{
	return cli_mapping_remove(opts) ? 1 : 0;
}
