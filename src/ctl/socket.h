/* Which daemons p2pvpnctl talks to: with no -s, every control socket in the
 * socket directory, as `wg show` shows every interface. */
#pragma once
#include <stddef.h>

/* Lists dir's "*.sock" entries that are sockets, as full paths sorted by
 * name, into a malloc'ed array *paths of *n malloc'ed strings (free with
 * ctl_socket_free). Returns 0 (maybe with *n == 0), or -errno; a missing
 * dir is 0 sockets, not an error. */
int ctl_socket_list(const char *dir, char ***paths, size_t *n);
/* Frees a list from ctl_socket_list(). */
void ctl_socket_free(char **paths, size_t n);
