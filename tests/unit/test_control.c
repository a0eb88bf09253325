/* Control socket server and client (control/control.h, control/client.h):
 * the request grammar walked edge by edge, then a real server on a socket in
 * a temporary directory: its file mode, round trips through the client
 * library, a live daemon refused and a stale socket replaced, malformed
 * requests answered errno=22 without reaching the daemon, and the bound on
 * how long a silent client can hold the server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "control/client.h"
#include "control/control.h"
#include "util/time.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	char path[128];
	struct ctl_server srv;
};

struct calls {
	int n;
	struct ctl_request last;
	int ret;	  /* what the callback returns */
	const char *body; /* what it writes */
};

static int record(void *ctx, const struct ctl_request *req, FILE *reply)
{
	struct calls *c = ctx;

	c->n++;
	c->last = *req;
	if (c->body)
		fputs(c->body, reply);
	return c->ret;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/test_control.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/run/p2p0.sock", fx->dir);
	fx->srv.fd = -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[160];

	ctl_server_close(&fx->srv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static void wait_readable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	assert_int_equal(poll(&pfd, 1, 3000), 1);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sun.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Reads what the server sent until it closed; ECONNRESET (it closed with
 * part of our request unread) ends the reply as EOF does. */
static char *read_all(int fd)
{
	static char buf[8192];
	size_t len = 0;
	struct timeval tv = {.tv_sec = 3};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		assert_true(n > 0);
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* One exchange driven by hand: connect, send data (then half-close when
 * shut_wr, else stay silent), let the server handle it, return the reply
 * and the time the server spent. */
static char *raw_exchange(struct fixture *fx, const char *data, size_t len, bool shut_wr, void *ctx,
			  uint64_t *spent_ms)
{
	int fd = raw_connect(fx->path);
	uint64_t t0;
	char *reply;

	if (len)
		assert_int_equal(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
	if (shut_wr)
		shutdown(fd, SHUT_WR);
	wait_readable(fx->srv.fd);
	t0 = time_now_ms();
	ctl_server_handle(&fx->srv, record, ctx);
	if (spent_ms)
		*spent_ms = time_now_ms() - t0;
	reply = read_all(fd);
	close(fd);
	return reply;
}

struct client_job {
	const char *path;
	const char *request;
	int ret;
	char *reply;
	size_t len;
};

static void *client_thread(void *arg)
{
	struct client_job *job = arg;

	job->ret = ctl_client_request(job->path, job->request, &job->reply, &job->len);
	return NULL;
}

/* ctl_client_request() in a thread, the server in this one. */
static void client_exchange(struct fixture *fx, struct client_job *job, struct calls *calls)
{
	pthread_t t;

	job->path = fx->path;
	assert_int_equal(pthread_create(&t, NULL, client_thread, job), 0);
	wait_readable(fx->srv.fd);
	ctl_server_handle(&fx->srv, record, calls);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* The grammar, edge by edge: true = accepted. */
static void test_ctl_request_parse_table(void **state)
{
	static char long_value[CTL_VALUE_MAX + 16], max_value[CTL_VALUE_MAX + 16];
	static char many[1024], too_many[1024];
	const struct {
		const char *in;
		bool ok;
	} cases[] = {
	    /* 1 */ {"show\n\n", true},
	    /* 2 */ {"explain\npeer=bob\n\n", true},
	    /* 3 */ {"explain\npeer=\n\n", true},      /* empty value */
	    /* 4 */ {"explain\npeer=a=b c\n\n", true}, /* '=' in value */
	    /* 5 */ {"x\nk=1\nk=2\n\n", true},	       /* repeated key */
	    /* 6 */ {"\n\n", false},		       /* no command */
	    /* 7 */ {"\n", false},
	    /* 8 */ {"", false},
	    /* 9 */ {"show\n", false}, /* unterminated */
	    /* 10 */ {"show", false},
	    /* 11 */ {"SHOW\n\n", false}, /* command charset */
	    /* 12 */ {"show me\n\n", false},
	    /* 13 */ {"show\r\n\r\n", false}, /* CRLF is not a line end */
	    /* 14 */ {"show\nnoequals\n\n", false},
	    /* 15 */ {"show\n=v\n\n", false},	  /* empty key */
	    /* 16 */ {"show\nK=v\n\n", false},	  /* key charset */
	    /* 17 */ {"show\nk=\x01\n\n", false}, /* control byte */
	    /* 18 */ {"show\nk=\x7f\n\n", false},
	    /* 19 */ {"show\n\nk=v\n\n", false},		    /* empty line inside */
	    /* 20 */ {"show\nk=v\n\n\n", false},		    /* bytes after the end */
	    /* 21 */ {"0123456789012345678901234567890\n\n", true}, /* 31 bytes */
	    /* 22 */ {"01234567890123456789012345678901\n\n", false},
	    /* 23 */ {"x\nk234567890123456789012345678901=v\n\n", true}, /* key 31 */
	    /* 24 */ {"x\nk2345678901234567890123456789012=v\n\n", false},
	    /* 25 */ {max_value, true},	  /* value CTL_VALUE_MAX - 1 */
	    /* 26 */ {long_value, false}, /* value CTL_VALUE_MAX */
	    /* 27 */ {many, true},	  /* CTL_PAIRS_MAX pairs */
	    /* 28 */ {too_many, false},	  /* one more */
	};
	struct ctl_request req;
	int n;

	n = snprintf(max_value, sizeof(max_value), "x\nk=");
	memset(max_value + n, 'v', CTL_VALUE_MAX - 1);
	strcpy(max_value + n + CTL_VALUE_MAX - 1, "\n\n");
	n = snprintf(long_value, sizeof(long_value), "x\nk=");
	memset(long_value + n, 'v', CTL_VALUE_MAX);
	strcpy(long_value + n + CTL_VALUE_MAX, "\n\n");
	n = sprintf(many, "x\n");
	for (int i = 0; i < CTL_PAIRS_MAX; i++)
		n += sprintf(many + n, "k%d=%d\n", i, i);
	strcpy(too_many, many);
	strcat(many, "\n");
	strcat(too_many, "one=more\n\n");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = ctl_request_parse(cases[i].in, strlen(cases[i].in), &req);

		if (ok != cases[i].ok)
			fail_msg("case %zu: '%s' %s", i + 1, cases[i].in,
				 ok ? "accepted" : "refused");
	}
	/* NUL bytes, which strlen() above cannot carry. */
	assert_false(ctl_request_parse("sh\0w\n\n", 7, &req));
	assert_false(ctl_request_parse("show\nk=v\0\n\n", 11, &req));
	/* Over CTL_REQUEST_MAX in total, however well formed. */
	{
		char *big = malloc(CTL_REQUEST_MAX + 1);
		memset(big, 'a', CTL_REQUEST_MAX + 1);
		memcpy(big, "x\nk=", 4);
		memcpy(big + CTL_REQUEST_MAX - 1, "\n\n", 2);
		assert_false(ctl_request_parse(big, CTL_REQUEST_MAX + 1, &req));
		free(big);
	}
}

static void test_ctl_request_get_first_pair(void **state)
{
	const char *in = "explain\npeer=bob\nk=1\nk=2\n\n";
	struct ctl_request req;

	assert_true(ctl_request_parse(in, strlen(in), &req));
	assert_string_equal(req.command, "explain");
	assert_int_equal(req.n_pairs, 3);
	assert_string_equal(ctl_request_get(&req, "peer"), "bob");
	assert_string_equal(ctl_request_get(&req, "k"), "1");
	assert_null(ctl_request_get(&req, "missing"));
	assert_null(ctl_request_get(&req, "pee"));
}

static void test_ctl_server_open_mode_0600(void **state)
{
	struct fixture *fx = *state;
	struct ctl_server other;
	char parent[128], longpath[200];
	struct stat st;

	/* The parent directory does not exist yet: it is made, 0755. */
	assert_int_equal(ctl_server_open(&fx->srv, fx->path), 0);
	assert_true(fx->srv.fd >= 0);
	assert_int_equal(lstat(fx->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(parent, sizeof(parent), "%s/run", fx->dir);
	assert_int_equal(stat(parent, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_true(fcntl(fx->srv.fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fx->srv.fd, F_GETFD) & FD_CLOEXEC);

	/* Failure: a path longer than sun_path. */
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(ctl_server_open(&other, longpath), -ENAMETOOLONG);
	assert_int_equal(other.fd, -1);

	/* Closing removes the file. */
	ctl_server_close(&fx->srv);
	assert_int_equal(lstat(fx->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	ctl_server_close(&fx->srv); /* twice is harmless */
}

static void test_ctl_server_open_live_refused(void **state)
{
	struct fixture *fx = *state;
	struct ctl_server second;
	struct calls calls = {.body = "interface=p2p0\n"};
	struct client_job job = {.request = "show\n\n"};
	uint64_t t0;

	assert_int_equal(ctl_server_open(&fx->srv, fx->path), 0);
	assert_int_equal(ctl_server_open(&second, fx->path), -EADDRINUSE);
	assert_int_equal(second.fd, -1);

	/* The first server keeps its socket. Its backlog holds the second
	 * one's probe, which hung up at once and so costs no wait. */
	t0 = time_now_ms();
	ctl_server_handle(&fx->srv, record, &calls);
	assert_true(time_now_ms() - t0 < CTL_TIMEOUT_MS / 2);
	assert_int_equal(calls.n, 0);
	client_exchange(fx, &job, &calls);
	assert_int_equal(calls.n, 1);
	assert_int_equal(job.ret, 0);
	assert_string_equal(job.reply, "interface=p2p0\nerrno=0\n\n");
	free(job.reply);
}

static void test_ctl_server_open_stale_replaced(void **state)
{
	struct fixture *fx = *state;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char file[128];
	struct stat st;
	struct ctl_server other;
	int fd;

	/* A socket file whose owner died: bound, never listened, closed. */
	assert_int_equal(ctl_server_open(&fx->srv, fx->path), 0);
	close(fx->srv.fd);
	fx->srv.fd = -1;
	unlink(fx->path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sun.sun_path, fx->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(lstat(fx->path, &st), 0);

	assert_int_equal(ctl_server_open(&fx->srv, fx->path), 0);
	assert_int_equal(lstat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* Failure: a file that is not a socket is left alone. */
	snprintf(file, sizeof(file), "%s/plain", fx->dir);
	fd = open(file, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ctl_server_open(&other, file), -EEXIST);
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void test_ctl_server_handle_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct calls calls = {.body = "interface=p2p0\nlisten_port=51820\npeer=bob\n"};
	struct client_job job = {.request = "explain\npeer=bob\n\n"};

	assert_int_equal(ctl_server_open(&fx->srv, fx->path), 0);
	client_exchange(fx, &job, &calls);
	assert_int_equal(calls.n, 1);
	assert_string_equal(calls.last.command, "explain");
	assert_string_equal(ctl_request_get(&calls.last, "peer"), "bob");
	assert_int_equal(job.ret, 0);
	assert_string_equal(job.reply, "interface=p2p0\nlisten_port=51820\npeer=bob\nerrno=0\n\n");
	assert_int_equal(job.len, strlen(job.reply));
	free(job.reply);

	/* A body missing its last newline still leaves errno= on its own line. */
	calls.body = "peer=bob";
	client_exchange(fx, &job, &calls);
	assert_string_equal(job.reply, "peer=bob\nerrno=0\n\n");
	free(job.reply);

	/* Failure: the daemon's -errno drops the body, only the status goes. */
	calls.body = "partial=1\n";
	calls.ret = -ENOENT;
	client_exchange(fx, &job, &calls);
	assert_int_equal(calls.n, 3);
	assert_int_equal(job.ret, 0);
	assert_string_equal(job.reply, "errno=2\n\n");
	free(job.reply);
}

static void test_ctl_server_handle_request_size_edge(void **state)
{
	struct fixture *fx = *state;
	struct calls calls = {0};
	char *req = malloc(CTL_REQUEST_MAX + 1);
	char *reply;

	/* Exactly CTL_REQUEST_MAX bytes: served. */
	memset(req, 'v', CTL_REQUEST_MAX);
	memcpy(req, "x\nk=", 4);
	memcpy(req + CTL_REQUEST_MAX - 2, "\n\n", 2);
	assert_int_equal(ctl_server_open(&fx->srv, fx->path), 0);
	/* One value cannot hold that much: the parser refuses it, but only
	 * after the server read all of it and found the end. */
	reply = raw_exchange(fx, req, CTL_REQUEST_MAX, true, &calls, NULL);
	assert_string_equal(reply, "errno=22\n\n");
	assert_int_equal(calls.n, 0);
	/* Longest keys and values, the last pair cut to reach exactly the
	 * maximum: served. */
	{
		const size_t line = (CTL_KEY_MAX - 1) + 1 + (CTL_VALUE_MAX - 1) + 1;
		size_t n = (size_t)sprintf(req, "x\n");

		while (CTL_REQUEST_MAX - n - 1 > line) {
			memset(req + n, 'k', CTL_KEY_MAX - 1);
			req[n + CTL_KEY_MAX - 1] = '=';
			memset(req + n + CTL_KEY_MAX, 'v', CTL_VALUE_MAX - 1);
			n += line;
			req[n - 1] = '\n';
		}
		memcpy(req + n, "p=", 2);
		memset(req + n + 2, 'v', CTL_REQUEST_MAX - n - 4);
		memcpy(req + CTL_REQUEST_MAX - 2, "\n\n", 2);
		reply = raw_exchange(fx, req, CTL_REQUEST_MAX, true, &calls, NULL);
		assert_string_equal(reply, "errno=0\n\n");
		assert_int_equal(calls.n, 1);
		assert_true(calls.last.n_pairs <= CTL_PAIRS_MAX);
		assert_int_equal(strlen(ctl_request_get(&calls.last, "p")),
				 CTL_REQUEST_MAX - n - 4);
	}
	/* One byte more (a longer pad): refused before any parsing. */
	memmove(req + 3, req + 2, CTL_REQUEST_MAX - 2);
	reply = raw_exchange(fx, req, CTL_REQUEST_MAX + 1, true, &calls, NULL);
	assert_string_equal(reply, "errno=22\n\n");
	assert_int_equal(calls.n, 1);
	free(req);
}

static void test_ctl_server_handle_malformed(void **state)
{
	struct fixture *fx = *state;
	static char five_kib[5 * 1024];
	const struct {
		const char *data;
		size_t len;
		bool shut_wr;
	} cases[] = {
	    /* 1 */ {"", 0, true},    /* hangs up at once */
	    /* 2 */ {"\n", 1, false}, /* empty request */
	    /* 3 */ {"\n\n", 2, false},
	    /* 4 */ {"show", 4, true},			/* EOF mid-line */
	    /* 5 */ {"show\n", 5, true},		/* EOF before the empty line */
	    /* 6 */ {five_kib, sizeof(five_kib), true}, /* overlong */
	    /* 7 */ {"sh\0w\n\n", 7, false},		/* NUL byte */
	    /* 8 */ {"show\nk=\0\n\n", 10, false},
	    /* 9 */ {"\x80\xff\x01\n\n", 5, false}, /* binary */
	    /* 10 */ {"show\nbogus\n\n", 12, false},
	    /* 11 */ {"show\r\n\r\n", 8, false}, /* CR: refused before any end */
	    /* 12 */ {"show\n\x1b[2J", 9, false},
	};
	struct calls calls = {0};

	/* Printable throughout, so only its length can be what is wrong. */
	memset(five_kib, 'v', sizeof(five_kib));
	memcpy(five_kib, "show\nk=", 7);
	assert_int_equal(ctl_server_open(&fx->srv, fx->path), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t spent;
		char *reply =
		    raw_exchange(fx, cases[i].data, cases[i].len, cases[i].shut_wr, &calls, &spent);

		if (strcmp(reply, "errno=22\n\n") != 0)
			fail_msg("case %zu: reply '%s'", i + 1, reply);
		/* None of these needs the deadline: each fails on what it sent. */
		if (spent >= CTL_TIMEOUT_MS)
			fail_msg("case %zu: took %llu ms", i + 1, (unsigned long long)spent);
	}
	assert_int_equal(calls.n, 0);
}

static void test_ctl_server_handle_slow_client_bounded(void **state)
{
	struct fixture *fx = *state;
	struct calls calls = {0};
	struct client_job job = {.request = "show\n\n"};
	uint64_t spent;
	char *reply;

	assert_int_equal(ctl_server_open(&fx->srv, fx->path), 0);
	/* Connects and says nothing, connection held open. */
	reply = raw_exchange(fx, "", 0, false, &calls, &spent);
	assert_string_equal(reply, "errno=22\n\n");
	assert_true(spent >= CTL_TIMEOUT_MS - 10);
	assert_true(spent <= CTL_TIMEOUT_MS + 250);
	/* Starts a request and never ends it. */
	reply = raw_exchange(fx, "show\npeer=bob\n", 14, false, &calls, &spent);
	assert_string_equal(reply, "errno=22\n\n");
	assert_true(spent >= CTL_TIMEOUT_MS - 10);
	assert_true(spent <= CTL_TIMEOUT_MS + 250);
	assert_int_equal(calls.n, 0);
	/* The next client is served normally. */
	client_exchange(fx, &job, &calls);
	assert_int_equal(job.ret, 0);
	assert_string_equal(job.reply, "errno=0\n\n");
	assert_int_equal(calls.n, 1);
	free(job.reply);
}

static void test_ctl_server_handle_clients_per_call(void **state)
{
	struct fixture *fx = *state;
	struct calls calls = {0};
	int fds[CTL_CLIENTS_PER_CALL + 1];
	struct pollfd pfd;

	assert_int_equal(ctl_server_open(&fx->srv, fx->path), 0);
	for (int i = 0; i <= CTL_CLIENTS_PER_CALL; i++) {
		fds[i] = raw_connect(fx->path);
		assert_int_equal(send(fds[i], "show\n\n", 6, 0), 6);
	}
	ctl_server_handle(&fx->srv, record, &calls);
	assert_int_equal(calls.n, CTL_CLIENTS_PER_CALL);
	/* The last one waits its turn, and the fd still says so. */
	pfd = (struct pollfd){.fd = fx->srv.fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 0), 1);
	ctl_server_handle(&fx->srv, record, &calls);
	assert_int_equal(calls.n, CTL_CLIENTS_PER_CALL + 1);
	for (int i = 0; i <= CTL_CLIENTS_PER_CALL; i++) {
		assert_string_equal(read_all(fds[i]), "errno=0\n\n");
		close(fds[i]);
	}
	/* Nothing pending: the call returns at once. */
	ctl_server_handle(&fx->srv, record, &calls);
	assert_int_equal(calls.n, CTL_CLIENTS_PER_CALL + 1);
}

static void test_ctl_client_request_errors(void **state)
{
	struct fixture *fx = *state;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char big[CTL_REQUEST_MAX + 8];
	char *reply = NULL;
	size_t len;
	uint64_t t0;
	int fd;

	/* Nobody there. */
	assert_int_equal(ctl_client_request(fx->path, "show\n\n", &reply, &len), -ENOENT);
	/* The request must be whole and fit. */
	assert_int_equal(ctl_client_request(fx->path, "show\n", &reply, &len), -EINVAL);
	memset(big, 'a', sizeof(big) - 3);
	strcpy(big + sizeof(big) - 3, "\n\n");
	assert_int_equal(ctl_client_request(fx->path, big, &reply, &len), -EMSGSIZE);
	/* A stale socket file. */
	assert_int_equal(ctl_server_open(&fx->srv, fx->path), 0);
	ctl_server_close(&fx->srv);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sun.sun_path, fx->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(ctl_client_request(fx->path, "show\n\n", &reply, &len), -ECONNREFUSED);
	/* Listening, never answering: the client gives up on time. */
	assert_int_equal(listen(fd, 4), 0);
	t0 = time_now_ms();
	assert_int_equal(ctl_client_request(fx->path, "show\n\n", &reply, &len), -ETIMEDOUT);
	assert_true(time_now_ms() - t0 < CTL_CLIENT_TIMEOUT_MS + 500);
	assert_null(reply);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ctl_request_parse_table),
	    cmocka_unit_test(test_ctl_request_get_first_pair),
	    cmocka_unit_test_setup_teardown(test_ctl_server_open_mode_0600, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_server_open_live_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_server_open_stale_replaced, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_server_handle_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_server_handle_request_size_edge, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_server_handle_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_server_handle_slow_client_bounded, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_server_handle_clients_per_call, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_client_request_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
