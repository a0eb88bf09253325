/* Control socket server. p2pvpnd runs single-threaded around epoll, so every
 * client is served to the end inside ctl_server_handle(): accept, read one
 * request under a deadline, let the daemon write the reply into a memory
 * stream, send it, close. The deadline (CTL_TIMEOUT_MS for the whole
 * exchange) and the cap on clients per call bound how long the data path can
 * stall, whatever a local client does. The socket is root's alone (0600);
 * still, every request is parsed strictly and answered errno=22 when it
 * strays from the grammar in control.h, and the reply never echoes it. */
#include "control/control.h"

#include "util/log.h"
#include "util/time.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static_assert(CTL_PATH_MAX == sizeof(((struct sockaddr_un *)0)->sun_path), "sun_path size");

enum { LISTEN_BACKLOG = 16 };

static struct log_ratelimit accept_rl;

static bool is_command_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Values are free text (peer names) but never control bytes: a newline or a
 * NUL inside one would change how the line is framed or read back. */
static bool is_value_char(char c)
{
	return (unsigned char)c >= 0x20 && c != 0x7f;
}

static bool parse_pair(const char *line, size_t len, struct ctl_pair *p)
{
	const char *eq = memchr(line, '=', len);
	size_t klen, vlen;

	if (!eq)
		return false;
	klen = (size_t)(eq - line);
	vlen = len - klen - 1;
	if (klen == 0 || klen >= CTL_KEY_MAX || vlen >= CTL_VALUE_MAX)
		return false;
	for (size_t i = 0; i < klen; i++)
		if (!is_key_char(line[i]))
			return false;
	for (size_t i = 0; i < vlen; i++)
		if (!is_value_char(eq[1 + i]))
			return false;
	memcpy(p->key, line, klen);
	p->key[klen] = '\0';
	memcpy(p->value, eq + 1, vlen);
	p->value[vlen] = '\0';
	return true;
}

bool ctl_request_parse(const char *buf, size_t len, struct ctl_request *req)
{
	size_t pos = 0, n;
	const char *nl;

	if (len < 2 || len > CTL_REQUEST_MAX || buf[len - 1] != '\n' || buf[len - 2] != '\n')
		return false;
	nl = memchr(buf, '\n', len);
	n = (size_t)(nl - buf);
	if (n == 0 || n >= CTL_COMMAND_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_command_char(buf[i]))
			return false;
	memcpy(req->command, buf, n);
	req->command[n] = '\0';
	req->n_pairs = 0;
	pos = n + 1;
	/* Every line up to the final empty one is a pair; an empty line
	 * earlier would end the request before its last bytes. */
	while (pos < len - 1) {
		nl = memchr(buf + pos, '\n', len - pos);
		n = (size_t)(nl - (buf + pos));
		if (req->n_pairs == CTL_PAIRS_MAX ||
		    !parse_pair(buf + pos, n, &req->pairs[req->n_pairs]))
			return false;
		req->n_pairs++;
		pos += n + 1;
	}
	return pos == len - 1;
}

const char *ctl_request_get(const struct ctl_request *req, const char *key)
{
	for (size_t i = 0; i < req->n_pairs; i++)
		if (strcmp(req->pairs[i].key, key) == 0)
			return req->pairs[i].value;
	return NULL;
}

static int make_parent(const char *path)
{
	char dir[CTL_PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	/* mkdir -p: each prefix in turn, existing ones are fine. */
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = saved;
		if (saved == '\0')
			break;
	}
	return 0;
}

/* A socket file left by a daemon that died is removed; one that still
 * answers belongs to a live daemon (likely the same interface started
 * twice), and anything that is not a socket is not ours to delete. */
static int clear_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, ret;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Non-blocking: a live server with a full backlog answers EAGAIN,
	 * which still means someone listens. */
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 || errno == EAGAIN)
		ret = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		ret = unlink(sun->sun_path) < 0 && errno != ENOENT ? -errno : 0;
	else
		ret = -errno;
	close(fd);
	return ret;
}

int ctl_server_open(struct ctl_server *srv, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	mode_t old_mask;
	int ret, fd = -1;

	srv->fd = -1;
	srv->path[0] = '\0';
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);

	old_mask = umask(022);
	ret = make_parent(path);
	umask(old_mask);
	if (ret < 0)
		goto out;
	ret = clear_stale(&sun);
	if (ret < 0)
		goto out;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	/* The mode comes from the umask at bind(): set it so the file is
	 * never, even for an instant, reachable by anyone but root. */
	old_mask = umask(0177);
	ret = bind(fd, (const struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno : 0;
	umask(old_mask);
	if (ret < 0)
		goto out;
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		ret = -errno;
		unlink(path);
		goto out;
	}
	srv->fd = fd;
	strcpy(srv->path, path);
	return 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

void ctl_server_close(struct ctl_server *srv)
{
	if (srv->fd < 0)
		return;
	close(srv->fd);
	unlink(srv->path);
	srv->fd = -1;
	srv->path[0] = '\0';
}

/* Waits until fd is ready for events or the deadline passes: 0 or -ETIMEDOUT. */
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

/* Reads until the request's empty line: returns its length (terminator
 * included), or -EINVAL for anything that cannot become a request, however
 * it fails: EOF, overflow, a control byte, the deadline. */
static ssize_t read_request(int fd, char *buf, uint64_t deadline_ms)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = recv(fd, buf + len, CTL_REQUEST_MAX - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (wait_fd(fd, POLLIN, deadline_ms) < 0)
				return -EINVAL;
			continue;
		}
		if (n <= 0)
			return -EINVAL;
		/* A byte no request may hold (NUL, CR, any control but the
		 * newline) ends it now rather than at the deadline. */
		for (size_t i = len; i < len + (size_t)n; i++)
			if (buf[i] != '\n' && !is_value_char(buf[i]))
				return -EINVAL;
		/* A leading empty line is a request without a command; look no
		 * further. Otherwise the end is the first "\n\n". */
		if (buf[0] == '\n')
			return -EINVAL;
		for (size_t i = len ? len - 1 : 0; i + 1 < len + (size_t)n; i++)
			if (buf[i] == '\n' && buf[i + 1] == '\n')
				return (ssize_t)(i + 2);
		len += (size_t)n;
		if (len == CTL_REQUEST_MAX)
			return -EINVAL;
	}
}

static void send_all(int fd, const char *buf, size_t len, uint64_t deadline_ms)
{
	while (len) {
		/* MSG_NOSIGNAL: a client that hung up must not SIGPIPE the daemon. */
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (wait_fd(fd, POLLOUT, deadline_ms) < 0)
				return;
			continue;
		}
		if (n < 0)
			return; /* the client left; nothing more to tell it */
		buf += n;
		len -= (size_t)n;
	}
}

/* Runs fn into a memory stream; returns its errno (0 on success) and, on
 * success only, the body in *body (malloc'ed, *len bytes). */
static int run_request(const struct ctl_request *req, ctl_request_fn fn, void *ctx, char **body,
		       size_t *len)
{
	FILE *f = open_memstream(body, len);
	int ret;

	if (!f)
		return ENOMEM;
	ret = fn(ctx, req, f);
	if (fclose(f) != 0 && ret == 0)
		ret = -ENOMEM;
	if (ret < 0) {
		free(*body);
		*body = NULL;
		*len = 0;
		return -ret;
	}
	return 0;
}

/* The whole reply, body and status, in one malloc'ed buffer: parses the
 * request (req_len < 0: unreadable), calls fn when it is well formed. */
static char *build_reply(const char *req_buf, ssize_t req_len, ctl_request_fn fn, void *ctx,
			 size_t *out_len)
{
	struct ctl_request *req = malloc(sizeof(*req));
	char *body = NULL, *reply = NULL;
	size_t body_len = 0, cap;
	int err, n;

	if (!req)
		err = ENOMEM;
	else if (req_len < 0 || !ctl_request_parse(req_buf, (size_t)req_len, req))
		err = EINVAL;
	else
		err = run_request(req, fn, ctx, &body, &body_len);
	cap = body_len + 1 + sizeof("errno=2147483647\n\n");
	reply = malloc(cap);
	if (!reply)
		goto out;
	if (body_len)
		memcpy(reply, body, body_len);
	/* A body whose last line lacks its newline would swallow the status. */
	if (body_len && body[body_len - 1] != '\n')
		reply[body_len++] = '\n';
	n = snprintf(reply + body_len, cap - body_len, "errno=%d\n\n", err);
	*out_len = body_len + (size_t)n;
out:
	free(body);
	free(req);
	return reply;
}

static void serve(int fd, ctl_request_fn fn, void *ctx)
{
	static const char no_memory[] = "errno=12\n\n";
	uint64_t deadline_ms = time_now_ms() + CTL_TIMEOUT_MS;
	char *buf = malloc(CTL_REQUEST_MAX);
	char *reply = NULL;
	size_t reply_len = 0;

	if (buf)
		reply = build_reply(buf, read_request(fd, buf, deadline_ms), fn, ctx, &reply_len);
	if (reply)
		send_all(fd, reply, reply_len, deadline_ms);
	else
		send_all(fd, no_memory, sizeof(no_memory) - 1, deadline_ms);
	free(reply);
	free(buf);
}

void ctl_server_handle(struct ctl_server *srv, ctl_request_fn fn, void *ctx)
{
	for (int i = 0; i < CTL_CLIENTS_PER_CALL; i++) {
		int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EMFILE and the like leave the client queued and the fd
			 * readable, so the loop calls again at once: rate-limit. */
			if (errno != EAGAIN && log_ratelimit_ok(&accept_rl, time_now_ms()))
				log_errno(LOG_LEVEL_WARN, "control socket %s: accept", srv->path);
			return;
		}
		serve(fd, fn, ctx);
		close(fd);
	}
}
