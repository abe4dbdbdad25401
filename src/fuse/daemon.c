// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon of one mapping, forked by "create" or "open". It reads the
 * table (or takes the one "open" built in memory), opens
 * the device, mounts the device file with FUSE and reports to the parent
 * through the startup pipe. Then libfuse's multithreaded loop serves the file
 * while a second thread serves the control socket. A "remove" request or
 * SIGTERM, SIGINT or SIGHUP stops it: it unmounts, removes the device file
 * and the socket, and closes the device.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "udmcrypt.h"
#include "daemon.h"

#define TABLE_MAX (1u << 20)
#define ERROR_MAX 1024
/* Mount options: the fstype becomes fuse.udmcrypt, the kernel checks the
 * file mode, and reads may be as large as writes (1 MiB). */
#define MOUNT_OPTIONS "fsname=udmcrypt,subtype=udmcrypt,default_permissions,max_read=1048576"
#define RELEASE_WAIT_MS 500
#define UNMOUNT_ATTEMPTS 3
#define RETRY_MS 50

struct daemon {
	const struct daemon_config *config;
	const struct mapping_paths *paths;
	struct fs_state fs;
	struct fuse *fuse;
	struct control_server *control;
	pthread_t main_thread;
	bool file_created;
	bool mounted;		/* by fuse_mount, until the loop ends */
	int unmounting;		/* a "remove" request is unmounting */
	int stopping;		/* set once, with __atomic builtins */
	int stop_signal;	/* 0 for a "remove" request */
	char error[ERROR_MAX];	/* startup error for the parent */
};

static void set_error(struct daemon *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(struct daemon *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->error, sizeof(d->error), fmt, ap);
	va_end(ap);
}

/* Reads the table, which contains keys, into locked memory. */
static int read_table(struct daemon *d, struct udm_key **tablep)
{
	const char *source = d->config->table_file ? d->config->table_file : "standard input";
	int fd = STDIN_FILENO, ret;

	if (d->config->table_file) {
		fd = open(d->config->table_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			ret = -errno;
			set_error(d, "cannot open table file %s: %s", source, strerror(errno));
			return ret;
		}
	}
	ret = udm_key_read(tablep, fd, 0, 0, TABLE_MAX, 0);
	if (fd != STDIN_FILENO)
		close(fd);

	if (ret == -EFBIG) {
		set_error(d, "table from %s is larger than 1 MiB", source);
	} else if (ret < 0) {
		set_error(d, "cannot read the table from %s: %s", source, strerror(-ret));
	} else if (memchr((*tablep)->data, '\0', (*tablep)->size)) {
		set_error(d, "table from %s contains a NUL byte", source);
		ret = -EINVAL;
	}
	if (ret) {
		udm_key_free(*tablep);
		*tablep = NULL;
	}
	return ret;
}

/*
 * Copies the table that the command built before the fork. Locks on memory
 * are not inherited across fork(2), so the copy goes to fresh locked memory
 * and the inherited pages are wiped.
 */
static int copy_table(struct daemon *d, struct udm_key **tablep)
{
	char *inherited = d->config->table;
	size_t len = strlen(inherited);

	*tablep = udm_key_new(len + 1);
	if (*tablep) {
		memcpy((*tablep)->data, inherited, len + 1);
		(*tablep)->size = len;
	}
	udm_secure_free(inherited);
	if (!*tablep) {
		set_error(d, "cannot allocate locked memory for the table: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	return 0;
}

static int open_device(struct daemon *d, const char *table)
{
	struct udm_error err = { .msg = "" };
	unsigned flags = d->config->readonly ? UDM_OPEN_READONLY : 0;
	int ret;

	ret = udm_device_open(&d->fs.dev, table, flags, &err);
	if (ret) {
		if (err.msg[0])
			set_error(d, "%s", err.msg);
		else
			set_error(d, "cannot open device %s: %s", d->paths->name, strerror(-ret));
		return ret;
	}

	d->fs.size = udm_device_size(d->fs.dev);
	d->fs.block_size = udm_device_block_size(d->fs.dev);
	d->fs.readonly = udm_device_readonly(d->fs.dev);
	d->fs.uid = getuid();
	d->fs.gid = getgid();
	clock_gettime(CLOCK_REALTIME, &d->fs.start_time);
	return 0;
}

static int create_files(struct daemon *d)
{
	const struct mapping_paths *paths = d->paths;
	int fd, ret;

	if (mkdir(paths->state_dir, 0700) && errno != EEXIST) {
		ret = -errno;
		set_error(d, "cannot create directory %s: %s", paths->state_dir, strerror(-ret));
		return ret;
	}
	ret = daemon_log_open(paths->log);
	if (ret) {
		set_error(d, "cannot open log %s: %s", paths->log, strerror(-ret));
		return ret;
	}
	/* The mount hides this file's mode; fusermount3 needs it writable. */
	fd = open(paths->file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		set_error(d, "cannot create %s: %s", paths->file, strerror(-ret));
		return ret;
	}
	close(fd);
	d->file_created = true;
	return 0;
}

static int mount_file(struct daemon *d)
{
	char arg0[] = "udmcrypt", arg1[] = "-o", arg2[] = MOUNT_OPTIONS;
	char *argv[] = { arg0, arg1, arg2, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	const char *reason;

	d->fuse = fuse_new(&args, &fs_operations, sizeof(fs_operations), &d->fs);
	fuse_opt_free_args(&args);
	if (!d->fuse || fuse_mount(d->fuse, d->paths->file)) {
		/* libfuse logs the cause; fusermount3 writes its own to the log. */
		reason = daemon_log_fuse_error();
		if (reason[0])
			set_error(d, "cannot mount %s: %s", d->paths->file, reason);
		else
			set_error(d, "cannot mount %s: see %s", d->paths->file, d->paths->log);
		return -EIO;
	}
	d->mounted = true;
	return 0;
}

static unsigned daemon_open_count(void *ctx)
{
	struct daemon *d = ctx;

	return __atomic_load_n(&d->fs.open_count, __ATOMIC_SEQ_CST);
}

/*
 * Control hook: unmounts unless the file is in use. A release reaches the
 * daemon shortly after close(2), and the kernel drops its reference to the
 * mount just after sending it, so both get a moment before the verdict.
 */
static int daemon_unmount(void *ctx)
{
	struct daemon *d = ctx;
	int waited, attempt, attempts, ret = -EBUSY;

	for (waited = 0; daemon_open_count(d) > 0 && waited < RELEASE_WAIT_MS;
	     waited += RETRY_MS)
		usleep(RETRY_MS * 1000);
	/* Retries help only against the lag, not against a file still open. */
	attempts = daemon_open_count(d) > 0 ? 1 : UNMOUNT_ATTEMPTS;

	/* A successful unmount can end the FUSE loop before umount2() returns. */
	__atomic_store_n(&d->unmounting, 1, __ATOMIC_SEQ_CST);
	for (attempt = 0; attempt < attempts && ret == -EBUSY; attempt++) {
		if (attempt)
			usleep(RETRY_MS * 1000);
		ret = mapping_unmount(d->paths->file, false);
	}
	if (ret)
		__atomic_store_n(&d->unmounting, 0, __ATOMIC_SEQ_CST);
	return ret;
}

/*
 * Control hook: ends the FUSE loop. In fuse_loop_mt() the main thread waits
 * in a futex (sem_wait() with libfuse 3.14), which SIGUSR1 interrupts. A signal sent just before the main thread starts
 * waiting would be lost, so the control thread calls this again every 100 ms
 * until the loop has ended.
 */
static void daemon_stop(void *ctx, int signo)
{
	struct daemon *d = ctx;
	int expected = 0;

	if (__atomic_compare_exchange_n(&d->stopping, &expected, 1, false, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST))
		d->stop_signal = signo;
	fuse_exit(d->fuse);
	pthread_kill(d->main_thread, SIGUSR1);
}

static void wake_handler(int signo)
{
}

/* Blocks the stop signals in every thread (they go to the control thread's
 * signalfd) and lets SIGUSR1 interrupt the main thread. */
static int setup_signals(void)
{
	struct sigaction wake = { .sa_handler = wake_handler };
	struct sigaction ignore = { .sa_handler = SIG_IGN };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_UNBLOCK, &set, NULL))
		return -errno;
	/* No SA_RESTART, so that sem_wait() returns. */
	sigemptyset(&wake.sa_mask);
	if (sigaction(SIGUSR1, &wake, NULL) || sigaction(SIGPIPE, &ignore, NULL))
		return -errno;
	return 0;
}

static int start_control(struct daemon *d)
{
	struct control_hooks hooks = {
		.unmount = daemon_unmount,
		.stop = daemon_stop,
		.open_count = daemon_open_count,
		.ctx = d,
	};
	int ret;

	ret = control_server_start(&d->control, d->paths, d->fs.dev, &hooks);
	if (ret)
		set_error(d, "cannot create control socket %s: %s", d->paths->control,
			  strerror(-ret));
	return ret;
}

/*
 * Closes descriptors inherited from the command's caller except stdio and
 * keep_fd, because a pipe the daemon kept open would never reach end of file.
 */
static void close_inherited_fds(int keep_fd)
{
	if (keep_fd > 3)
		close_range(3, (unsigned)keep_fd - 1, 0);
	close_range((unsigned)keep_fd + 1, ~0u, 0);
}

/*
 * Reads the table while SIGINT still reaches this process, in the process
 * group of the command, so that Ctrl-C ends an interactive "create". Then
 * blocks the stop signals before the library or libfuse start threads, and
 * leaves the command's session.
 */
static int prepare_device(struct daemon *d)
{
	struct udm_key *table = NULL;
	int ret;

	/* Key memory of the library is locked and left out of core dumps, but
	 * OpenSSL and libgcrypt keep expanded keys in their own heap. So the
	 * daemon writes no core dump at all, and only root can ptrace it. */
	prctl(PR_SET_DUMPABLE, 0);
	if (d->config->table)
		ret = copy_table(d, &table);
	else
		ret = read_table(d, &table);
	if (ret)
		return ret;
	/* After the table, which may come from /dev/fd/N, and before the library opens files. */
	close_inherited_fds(d->config->status_fd);
	ret = setup_signals();
	if (ret) {
		set_error(d, "cannot set up signal handling: %s", strerror(-ret));
		goto exit;
	}
	setsid();
	ret = open_device(d, (const char *)table->data);
exit:
	udm_key_free(table);
	return ret;
}

/* Starts the daemon step by step. On failure d->error contains the reason. */
static int daemon_start(struct daemon *d)
{
	int ret;

	ret = prepare_device(d);
	if (ret)
		return ret;
	ret = create_files(d);
	if (ret)
		return ret;
	/* From here on, stderr of libfuse and fusermount3 goes to the log. */
	dup2(daemon_log_fd(), STDERR_FILENO);
	ret = mount_file(d);
	if (ret)
		return ret;
	ret = start_control(d);
	if (ret)
		return ret;
	daemon_log(DAEMON_LOG_INFO, "started: %s, %llu bytes, block size %u%s",
		   d->paths->file, (unsigned long long)d->fs.size, d->fs.block_size,
		   d->fs.readonly ? ", read-only" : "");
	return 0;
}

static void redirect_stdio(void)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null_fd < 0)
		return;
	dup2(null_fd, STDIN_FILENO);
	dup2(null_fd, STDOUT_FILENO);
	if (daemon_log_fd() < 0)
		dup2(null_fd, STDERR_FILENO);
	close(null_fd);
}

static void report_startup(struct daemon *d, bool ok)
{
	int fd = d->config->status_fd;
	ssize_t written;

	if (ok)
		written = write(fd, "", 1);
	else
		written = write(fd, d->error, strlen(d->error));
	if (written < 0 && ok)
		daemon_log(DAEMON_LOG_WARN, "cannot report the startup: %s", strerror(errno));
	close(fd);
}

static int serve(struct daemon *d)
{
	struct fuse_loop_config *loop;
	int ret;

	loop = fuse_loop_cfg_create();
	if (!loop)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(loop, 0);
	ret = fuse_loop_mt(d->fuse, loop);
	fuse_loop_cfg_destroy(loop);
	return ret;
}

static void log_stop(struct daemon *d)
{
	unsigned open_count = daemon_open_count(d);

	fs_report_suppressed_errors();
	if (__atomic_load_n(&d->unmounting, __ATOMIC_SEQ_CST))
		daemon_log(DAEMON_LOG_INFO, "removed on request");
	else if (!__atomic_load_n(&d->stopping, __ATOMIC_SEQ_CST))
		daemon_log(DAEMON_LOG_WARN, "%s was unmounted by someone else", d->paths->file);
	else if (d->stop_signal)
		daemon_log(DAEMON_LOG_INFO, "stopping on signal %s", strsignal(d->stop_signal));
	if (open_count)
		daemon_log(DAEMON_LOG_WARN, "%s is still open %u times; those users get I/O errors",
			   d->paths->file, open_count);
}

/* Undoes what daemon_start did, in reverse order; safe after a partial start. */
static void daemon_cleanup(struct daemon *d)
{
	int ret;

	control_server_stop(d->control);
	d->control = NULL;
	if (d->mounted)
		fuse_unmount(d->fuse);
	if (d->fuse)
		fuse_destroy(d->fuse);
	if (d->file_created && unlink(d->paths->file))
		daemon_log(DAEMON_LOG_WARN, "cannot remove %s: %s", d->paths->file,
			   strerror(errno));
	if (d->fs.dev) {
		ret = udm_device_flush(d->fs.dev);
		if (ret)
			daemon_log(DAEMON_LOG_ERR, "final flush failed: %s", strerror(-ret));
		udm_device_close(d->fs.dev);
	}
}

int daemon_main(const struct daemon_config *config)
{
	struct daemon d = {
		.config = config,
		.paths = config->paths,
		.main_thread = pthread_self(),
	};
	int ret;

	umask(077);
	ret = daemon_start(&d);
	if (ret) {
		report_startup(&d, false);
		daemon_log(DAEMON_LOG_ERR, "startup failed: %s", d.error);
		goto exit;
	}
	if (chdir("/"))
		daemon_log(DAEMON_LOG_WARN, "cannot change to /: %s", strerror(errno));
	redirect_stdio();
	report_startup(&d, true);

	ret = serve(&d);
	if (ret)
		daemon_log(DAEMON_LOG_ERR, "FUSE loop failed: %s",
			   ret < 0 ? strerror(-ret) : "see the messages above");
	log_stop(&d);
exit:
	daemon_cleanup(&d);
	if (d.fuse)
		daemon_log(DAEMON_LOG_INFO, "stopped");
	daemon_log_close();
	return ret ? 1 : 0;
}
