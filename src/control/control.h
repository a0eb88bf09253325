/* The control socket of p2pvpnd (DESIGN.md section 1, STYLE.md section 8):
 * a UNIX stream socket, mode 0600, under /run/p2pvpn/, speaking a text
 * protocol modelled on the wireguard-tools UAPI (src/ipc-uapi.h).
 *
 * One connection carries one exchange. The client sends a request:
 *
 *     command\n            "show" or "explain": [a-z0-9_-], under 32 bytes
 *     key=value\n          zero or more (CTL_PAIRS_MAX at most)
 *     \n                   the empty line that ends the request
 *
 * at most CTL_REQUEST_MAX bytes in all, within CTL_TIMEOUT_MS of connecting.
 * The server answers with key=value lines, then "errno=N" and an empty line,
 * and closes: N is 0 on success, else a positive errno, and then no other
 * lines come before it. A malformed request (no command, overlong, control
 * or NUL bytes, no terminating empty line in time) gets "errno=22" alone.
 * Replies may grow new keys; clients ignore keys they do not know. Only
 * public keys ever cross the socket.
 *
 * This module knows nothing of peers: the daemon passes a ctl_request_fn
 * that writes the reply body. The client half is in control/client.h. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CTL_SOCKET_DIR "/run/p2pvpn"

enum {
	CTL_REQUEST_MAX = 4096,	  /* bytes of one request, its empty line included */
	CTL_TIMEOUT_MS = 500,	  /* a client's whole exchange with the server */
	CTL_CLIENTS_PER_CALL = 4, /* accepted by one ctl_server_handle() call */
	CTL_COMMAND_MAX = 32,	  /* command length + NUL */
	CTL_KEY_MAX = 32,	  /* key length + NUL */
	CTL_VALUE_MAX = 256,	  /* value length + NUL */
	CTL_PAIRS_MAX = 16,	  /* key=value lines in one request */
	CTL_PATH_MAX = 108,	  /* sizeof(sun_path), NUL included */
};

struct ctl_pair {
	char key[CTL_KEY_MAX];
	char value[CTL_VALUE_MAX];
};

/* A parsed request: pairs in the order sent; a key may repeat. */
struct ctl_request {
	char command[CTL_COMMAND_MAX];
	size_t n_pairs;
	struct ctl_pair pairs[CTL_PAIRS_MAX];
};

/* Writes the reply body (key=value lines) to reply and returns 0, or returns
 * -errno: the body is then dropped and the client gets "errno=N" alone. */
typedef int (*ctl_request_fn)(void *ctx, const struct ctl_request *req, FILE *reply);

struct ctl_server {
	int fd; /* listening, non-blocking: watch it for EPOLLIN; -1 when closed */
	char path[CTL_PATH_MAX];
};

/* Parses one whole request, buf[0..len) ending in its empty line; false on
 * any deviation from the grammar above (req is then unspecified). */
bool ctl_request_parse(const char *buf, size_t len, struct ctl_request *req)
    __attribute__((warn_unused_result));
/* The value of the first pair named key, or NULL when there is none. */
const char *ctl_request_get(const struct ctl_request *req, const char *key);

/* Listens on path: creates its parent directory (0755) when missing,
 * replaces a stale socket, leaves the socket mode 0600. Returns 0, or
 * -EADDRINUSE when a live server answers there, -EEXIST when path is not a
 * socket, or another -errno; srv->fd is -1 on failure. */
int ctl_server_open(struct ctl_server *srv, const char *path);
/* Closes the socket and removes its file; safe on a closed server. */
void ctl_server_close(struct ctl_server *srv);
/* Call when srv->fd is readable: serves up to CTL_CLIENTS_PER_CALL pending
 * clients, one at a time, each within CTL_TIMEOUT_MS, calling fn for each
 * well-formed request. Others stay queued and keep the fd readable. */
void ctl_server_handle(struct ctl_server *srv, ctl_request_fn fn, void *ctx);
