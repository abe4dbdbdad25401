// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Names and files of a mapping: name rules, the paths of the device file and
 * of the state directory, the list of mappings and the mount table look-up.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frontend.h"

extern char **environ;

/* The fstype that /proc/self/mountinfo shows for the daemon's mounts. */
#define MOUNT_FSTYPE "fuse.udmcrypt"

int mapping_name_check(const char *name, const char **reason)
{
	const unsigned char *c;

	if (name[0] == '\0') {
		*reason = "the name is empty";
		return -EINVAL;
	}
	if (strlen(name) > UDMCRYPT_NAME_MAX) {
		*reason = "the name is longer than 127 bytes";
		return -EINVAL;
	}
	if (name[0] == '.') {
		*reason = "the name starts with '.'";
		return -EINVAL;
	}
	for (c = (const unsigned char *)name; *c; c++) {
		if (*c == '/') {
			*reason = "the name contains '/'";
			return -EINVAL;
		}
		/* Tabs and newlines would break the line format of "ls". */
		if (*c < 0x20 || *c == 0x7f) {
			*reason = "the name contains a control character";
			return -EINVAL;
		}
	}
	return 0;
}

static int path_join(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int path_join(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= size)
		return -ENAMETOOLONG;
	return 0;
}

int mapping_paths_init(struct mapping_paths *paths, const char *dir, const char *name)
{
	char *real;
	int ret;

	memset(paths, 0, sizeof(*paths));
	if (strlen(name) > UDMCRYPT_NAME_MAX)
		return -ENAMETOOLONG;
	strcpy(paths->name, name);

	real = realpath(dir, NULL);
	if (!real)
		return -errno;
	ret = path_join(paths->dir, sizeof(paths->dir), "%s", real);
	free(real);
	if (ret)
		return ret;

	/* The root directory is "/" and must not give "//NAME". */
	ret = path_join(paths->file, sizeof(paths->file), "%s/%s",
			strcmp(paths->dir, "/") ? paths->dir : "", name);
	if (!ret)
		ret = path_join(paths->state_dir, sizeof(paths->state_dir), "%s/%s/%s",
				strcmp(paths->dir, "/") ? paths->dir : "",
				UDMCRYPT_STATE_SUBDIR, name);
	if (!ret)
		ret = path_join(paths->control, sizeof(paths->control), "%s/control",
				paths->state_dir);
	if (!ret)
		ret = path_join(paths->log, sizeof(paths->log), "%s/log", paths->state_dir);
	return ret;
}

int mapping_state_root_create(const struct mapping_paths *paths)
{
	char root[PATH_MAX];
	int ret;

	ret = path_join(root, sizeof(root), "%s/%s", paths->dir, UDMCRYPT_STATE_SUBDIR);
	if (ret)
		return ret;
	if (mkdir(root, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

bool mapping_has_control(const struct mapping_paths *paths)
{
	struct stat st;

	return lstat(paths->control, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mapping_names_free(char **names, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

static int names_append(char ***namesp, size_t *countp, const char *name)
{
	char **grown;
	char *copy;

	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	grown = realloc(*namesp, (*countp + 1) * sizeof(*grown));
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	grown[(*countp)++] = copy;
	*namesp = grown;
	return 0;
}

int mapping_names_list(const char *dir, char ***namesp, size_t *countp)
{
	struct mapping_paths paths;
	char root[PATH_MAX];
	struct dirent *entry;
	DIR *state = NULL;
	int ret;

	*namesp = NULL;
	*countp = 0;
	ret = path_join(root, sizeof(root), "%s/%s", dir, UDMCRYPT_STATE_SUBDIR);
	if (ret)
		return ret;
	state = opendir(root);
	if (!state)
		return errno == ENOENT ? 0 : -errno;

	while ((entry = readdir(state))) {
		if (entry->d_name[0] == '.')
			continue;
		if (mapping_paths_init(&paths, dir, entry->d_name) || !mapping_has_control(&paths))
			continue;
		ret = names_append(namesp, countp, entry->d_name);
		if (ret)
			goto exit;
	}
	if (*countp > 1)
		qsort(*namesp, *countp, sizeof(**namesp), compare_names);
exit:
	closedir(state);
	if (ret) {
		mapping_names_free(*namesp, *countp);
		*namesp = NULL;
		*countp = 0;
	}
	return ret;
}

/* Decodes the octal escapes (\040 for a space) of a mountinfo field in place. */
static void mountinfo_unescape(char *field)
{
	char *in = field, *out = field;

	while (*in) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
		    in[3] >= '0' && in[3] <= '7') {
			*out++ = (char)((in[1] - '0') << 6 | (in[2] - '0') << 3 | (in[3] - '0'));
			in += 4;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
}

/* Returns whether one mountinfo line is a udmcrypt mount on path. */
static bool mountinfo_line_matches(char *line, const char *path)
{
	char *save = NULL, *field, *mount_point = NULL;
	int index = 0;

	/* Fields: id, parent, major:minor, root, mount point, options, optional
	 * fields, "-", fstype, source, super options. */
	for (field = strtok_r(line, " \n", &save); field; field = strtok_r(NULL, " \n", &save)) {
		if (index == 4)
			mount_point = field;
		index++;
		if (index > 6 && strcmp(field, "-") == 0)
			break;
	}
	field = strtok_r(NULL, " \n", &save);
	if (!mount_point || !field || strcmp(field, MOUNT_FSTYPE) != 0)
		return false;
	mountinfo_unescape(mount_point);
	return strcmp(mount_point, path) == 0;
}

bool mapping_is_mounted(const char *path)
{
	size_t size = 0;
	char *line = NULL;
	bool found = false;
	FILE *mounts;

	mounts = fopen("/proc/self/mountinfo", "re");
	if (!mounts)
		return false;
	while (!found && getline(&line, &size, mounts) > 0)
		found = mountinfo_line_matches(line, path);
	free(line);
	fclose(mounts);
	return found;
}

/* Runs fusermount3, which unmounts for users other than root. */
static int run_fusermount(const char *path, bool lazy)
{
	char arg0[] = "fusermount3", arg1[] = "-u", arg2[] = "-z", arg3[] = "--";
	char *argv[6] = { arg0, arg1 };
	posix_spawnattr_t attr;
	int status, ret, argc = 2;
	sigset_t empty;
	pid_t pid;

	if (lazy)
		argv[argc++] = arg2;
	argv[argc++] = arg3;
	argv[argc++] = (char *)path;
	argv[argc] = NULL;

	sigemptyset(&empty);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &empty);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	ret = -posix_spawnp(&pid, argv[0], NULL, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	if (ret)
		return ret;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	/* fusermount3 prints the reason on stderr; the usual one is a busy mount. */
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EBUSY;
}

int mapping_unmount(const char *path, bool lazy)
{
	if (geteuid() != 0)
		return run_fusermount(path, lazy);
	if (umount2(path, (lazy ? MNT_DETACH : 0) | UMOUNT_NOFOLLOW))
		return -errno;
	return 0;
}
