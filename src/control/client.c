/* Control protocol, client half: p2pvpnctl's one request and one reply per
 * connection, each step under a single deadline so a wedged daemon cannot
 * hang the operator's shell, and the reply parser. The parser trusts nothing:
 * a reply that is not key=value lines ending in "errno=N" and an empty line
 * (a daemon that died mid-reply, a foreign socket) is refused as a whole
 * rather than shown half-read. */
#include "control/client.h"

#include "control/control.h"
#include "util/time.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		uint64_t now = time_now_ms();
		int n;

		if (now >= deadline_ms)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)(deadline_ms - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* Blocking connect under SO_SNDTIMEO: for AF_UNIX that bounds the wait for
 * room in a busy server's backlog (a non-blocking connect would just fail). */
static int connect_to(const char *path, uint64_t timeout_ms)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = (time_t)(timeout_ms / 1000),
			     .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		goto fail;
	if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno == EAGAIN || errno == EINPROGRESS)
			errno = ETIMEDOUT;
		goto fail;
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

/* Sends the request. A server that refuses it (errno=22) may close before
 * taking all of it: EPIPE is then not an error, the reply says why. */
static int send_request(int fd, const char *buf, size_t len, uint64_t deadline_ms)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			int ret = wait_fd(fd, POLLOUT, deadline_ms);
			if (ret < 0)
				return ret;
			continue;
		}
		if (n < 0)
			return errno == EPIPE || errno == ECONNRESET ? 0 : -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_reply(int fd, char **out, size_t *out_len, uint64_t deadline_ms)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (cap - len < 2048) {
			char *p;
			if (cap > CTL_REPLY_MAX) {
				ret = -EMSGSIZE;
				break;
			}
			p = realloc(buf, cap * 2);
			if (!p) {
				ret = -ENOMEM;
				break;
			}
			buf = p;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ret = wait_fd(fd, POLLIN, deadline_ms);
			if (ret < 0)
				break;
			continue;
		}
		/* ECONNRESET: the server closed with part of our request
		 * unread (it refused it); what it sent before is the reply. */
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n < 0) {
			ret = -errno;
			break;
		}
		len += (size_t)n;
		if (len > CTL_REPLY_MAX) {
			ret = -EMSGSIZE;
			break;
		}
	}
	if (ret < 0) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

int ctl_client_request(const char *path, const char *request, char **reply, size_t *len)
{
	uint64_t deadline_ms = time_now_ms() + CTL_CLIENT_TIMEOUT_MS;
	size_t req_len = strlen(request);
	int fd, ret;

	if (req_len > CTL_REQUEST_MAX)
		return -EMSGSIZE;
	if (req_len < 2 || request[req_len - 1] != '\n' || request[req_len - 2] != '\n')
		return -EINVAL;
	fd = connect_to(path, CTL_CLIENT_TIMEOUT_MS);
	if (fd < 0)
		return fd;
	ret = send_request(fd, request, req_len, deadline_ms);
	if (ret == 0)
		ret = read_reply(fd, reply, len, deadline_ms);
	close(fd);
	return ret;
}

static bool is_key(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static bool is_block_key(const char *key, const char *const *block_keys)
{
	for (; block_keys && *block_keys; block_keys++)
		if (strcmp(key, *block_keys) == 0)
			return true;
	return false;
}

/* "errno=N" with N a decimal in 0..INT_MAX, nothing else. */
static bool parse_errno(const char *s, int *out)
{
	long v = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
		if (v > INT_MAX)
			return false;
	}
	*out = (int)v;
	return true;
}

/* Cuts buf into lines and pairs in place: after it, out->kvs holds every
 * pair before "errno=", and *n_kvs their count. */
static int split_pairs(struct ctl_reply *out, size_t len, size_t *n_kvs)
{
	char *p = out->buf, *end = out->buf + len;
	size_t n = 0, cap = 0;

	for (;;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *eq;

		if (!nl)
			return -EBADMSG;
		*nl = '\0';
		eq = strchr(p, '=');
		if (!eq || !is_key(p, (size_t)(eq - p)))
			return -EBADMSG;
		*eq = '\0';
		if (strcmp(p, "errno") == 0) {
			/* The status ends the reply: one empty line, then EOF. */
			if (!parse_errno(eq + 1, &out->err) || end - nl != 2 || nl[1] != '\n')
				return -EBADMSG;
			*n_kvs = n;
			return 0;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct ctl_kv *kvs = realloc(out->kvs, ncap * sizeof(*kvs));
			if (!kvs)
				return -ENOMEM;
			out->kvs = kvs;
			cap = ncap;
		}
		out->kvs[n].key = p;
		out->kvs[n].value = eq + 1;
		n++;
		p = nl + 1;
	}
}

static int group_blocks(struct ctl_reply *out, size_t n_kvs, const char *const *block_keys)
{
	size_t n = 0;

	for (size_t i = 0; i < n_kvs; i++)
		if (i == 0 || is_block_key(out->kvs[i].key, block_keys))
			n++;
	if (n == 0)
		return 0;
	out->blocks = calloc(n, sizeof(*out->blocks));
	if (!out->blocks)
		return -ENOMEM;
	for (size_t i = 0; i < n_kvs; i++) {
		if (i == 0 || is_block_key(out->kvs[i].key, block_keys))
			out->blocks[out->n_blocks++].kv = &out->kvs[i];
		out->blocks[out->n_blocks - 1].n++;
	}
	return 0;
}

int ctl_reply_parse(const char *text, size_t len, const char *const *block_keys,
		    struct ctl_reply *out)
{
	size_t n_kvs = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	/* NUL bytes would cut values short without anyone noticing. */
	if (memchr(text, '\0', len))
		return -EBADMSG;
	out->buf = malloc(len + 1);
	if (!out->buf)
		return -ENOMEM;
	memcpy(out->buf, text, len);
	out->buf[len] = '\0';
	ret = split_pairs(out, len, &n_kvs);
	if (ret == 0)
		ret = group_blocks(out, n_kvs, block_keys);
	if (ret < 0)
		ctl_reply_free(out);
	return ret;
}

void ctl_reply_free(struct ctl_reply *r)
{
	free(r->blocks);
	free(r->kvs);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

const char *ctl_block_get(const struct ctl_block *b, const char *key)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->kv[i].key, key) == 0)
			return b->kv[i].value;
	return NULL;
}
