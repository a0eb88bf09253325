/* Control socket discovery. Only socket files named *.sock count, so a
 * leftover regular file or a directory in /run/p2pvpn/ is not mistaken for
 * a daemon; the order is by name, so output is the same on every run. */
#include "ctl/socket.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_sock_name(const char *name)
{
	size_t len = strlen(name);

	return len > 5 && strcmp(name + len - 5, ".sock") == 0;
}

int ctl_socket_list(const char *dir, char ***paths, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **list = NULL;
	size_t count = 0, cap = 0;
	int ret = 0;

	*paths = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		struct stat st;
		char *path;

		if (!is_sock_name(de->d_name))
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			ret = -ENOMEM;
			break;
		}
		if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			free(path);
			continue;
		}
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **p = realloc(list, ncap * sizeof(*p));
			if (!p) {
				free(path);
				ret = -ENOMEM;
				break;
			}
			list = p;
			cap = ncap;
		}
		list[count++] = path;
	}
	closedir(d);
	if (ret < 0) {
		ctl_socket_free(list, count);
		return ret;
	}
	if (count)
		qsort(list, count, sizeof(*list), by_name);
	*paths = list;
	*n = count;
	return 0;
}

void ctl_socket_free(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}
