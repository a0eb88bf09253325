/* rdv-load: registers N distinct peers with a p2pvpn-rendezvous from one
 * process and prints what that costs the rendezvous: its resident memory
 * (VmRSS, VmHWM from /proc/PID/status) and CPU seconds (utime + stime from
 * /proc/PID/stat), before and after registration and while every peer
 * re-registers every 10 s as p2pvpnd does. Each peer has its own key and its
 * own UDP socket (its own source port, as separate hosts would), makes a
 * real handshake (support/rdv_sim.h: the handshake and session code of
 * p2pvpnd) and sends REGISTER; a peer counts once REGISTERED came back.
 *
 *   rdv-load [-n N]                     start a rendezvous (open = yes) on
 *                                       127.0.0.1 and measure it
 *   rdv-load -s IP:PORT -k PUBKEY [-p PID] [-n N] [-K PRIVKEY]
 *                                       use a running one (PID to measure)
 *
 * It prints figures, not verdicts; the exit status is 0 when every peer
 * registered, 1 otherwise (so a script can check a single registration
 * with -n 1 -K KEY, or that a key not admitted gets no answer). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "config/parse.h"
#include "crypto/keys.h"
#include "rdvproto/proto.h"
#include "stun/stun.h"
#include "support/rdv_sim.h"
#include "util/time.h"
#include "wire/wire.h"

enum {
	RETRY_MS = 1000,
	TRIES = 3,
	REFRESH_MS = 10 * 1000, /* p2pvpnd's REGISTER interval */
	BUF = 2048,
};

enum state { IDLE, INIT_SENT, REGISTER_SENT, REGISTERED, FAILED };

struct peer {
	struct rdv_sim sim;
	int fd;
	enum state st;
	unsigned tries;
	uint64_t sent_ms;
};

struct load {
	struct sockaddr_storage server;
	uint8_t server_pub[32];
	pid_t pid;     /* the rendezvous measured, 0: none */
	pid_t spawned; /* the one we started, 0: none */
	size_t n, window, in_flight, done, failed;
	unsigned hold_s;
	unsigned rate; /* new handshakes a second: the rendezvous's flood gate
			* puts it under load above 2048/s (rendezvous/core.h) */
	struct peer *peers;
	int epfd;
	uint64_t answered; /* handshake responses */
	uint64_t cookies;  /* cookie replies accepted (the rendezvous was under load) */
};

struct usage {
	long rss_kb, hwm_kb;
	double cpu_s;
};

static int die(const char *what)
{
	fprintf(stderr, "rdv-load: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void read_usage(pid_t pid, struct usage *u)
{
	char path[64], line[256];
	unsigned long utime = 0, stime = 0;
	FILE *f;

	memset(u, 0, sizeof(*u));
	if (!pid)
		return;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", &u->rss_kb);
		sscanf(line, "VmHWM: %ld", &u->hwm_kb);
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f && fgets(line, sizeof(line), f)) {
		/* Fields 14 and 15, counted after the ")" that ends field 2. */
		char *p = strrchr(line, ')');

		if (p)
			sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
			       &stime);
	}
	if (f)
		fclose(f);
	u->cpu_s = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void send_pkt(struct load *l, struct peer *p, const void *data, size_t len)
{
	socklen_t alen = l->server.ss_family == AF_INET ? sizeof(struct sockaddr_in)
							: sizeof(struct sockaddr_in6);

	(void)sendto(p->fd, data, len, 0, (struct sockaddr *)&l->server, alen);
}

static void send_init(struct load *l, struct peer *p, uint64_t now)
{
	uint8_t init[WIRE_INIT_LEN];

	if (rdv_sim_initiation(&p->sim, init) < 0)
		return;
	send_pkt(l, p, init, sizeof(init));
	p->st = INIT_SENT;
	p->sent_ms = now;
	p->tries++;
}

static void send_register(struct load *l, struct peer *p, uint64_t now)
{
	struct rdv_register reg = {.nat_mapping = RDV_MAPPING_INDEPENDENT, .n_host = 1};
	struct sockaddr_in *host = (struct sockaddr_in *)&reg.host[0];
	uint8_t msg[64], pkt[BUF];
	size_t len, plen;

	/* One LAN candidate, as a typical peer has. */
	host->sin_family = AF_INET;
	host->sin_port = htons(51820);
	host->sin_addr.s_addr = htonl(0x0a000000u | (uint32_t)(p - l->peers + 2));
	len = rdv_encode_register(&reg, msg, sizeof(msg));
	if (rdv_sim_seal(&p->sim, msg, len, pkt, sizeof(pkt), &plen, now) == 0)
		send_pkt(l, p, pkt, plen);
	if (p->st != REGISTERED)
		p->st = REGISTER_SENT;
	p->sent_ms = now;
}

static void finish(struct load *l, struct peer *p, enum state st)
{
	if (p->st == REGISTERED || p->st == FAILED)
		return;
	p->st = st;
	l->in_flight--;
	if (st == REGISTERED)
		l->done++;
	else
		l->failed++;
}

static void receive(struct load *l, struct peer *p, uint64_t now)
{
	uint8_t buf[BUF], *inner;
	size_t inner_len;
	ssize_t n;

	while ((n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if (p->st == INIT_SENT && n == WIRE_COOKIE_REPLY_LEN) {
			/* Under load: the next initiation carries mac2. */
			if (rdv_sim_cookie(&p->sim, buf, (size_t)n, now) == 0) {
				l->cookies++;
				send_init(l, p, now);
			}
		} else if (p->st == INIT_SENT && n == WIRE_RESP_LEN) {
			if (rdv_sim_response(&p->sim, buf, (size_t)n, now) == 0) {
				l->answered++;
				send_register(l, p, now);
			}
		} else if (rdv_sim_open(&p->sim, buf, (size_t)n, now, &inner, &inner_len) == 0 &&
			   rdv_msg_type_of(inner, inner_len) == RDV_REGISTERED) {
			finish(l, p, REGISTERED);
		}
	}
}

static void open_peer(struct load *l, struct peer *p, const uint8_t *priv)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct sockaddr_storage any;

	memset(&any, 0, sizeof(any));
	any.ss_family = l->server.ss_family;
	if (rdv_sim_init(&p->sim, priv, l->server_pub) < 0) {
		errno = EINVAL;
		die("peer key");
	}
	p->fd = socket(l->server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		die("socket (raise the open file limit?)");
	if (bind(p->fd, (struct sockaddr *)&any,
		 any.ss_family == AF_INET ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6)) < 0)
		die("bind");
	ev.data.ptr = p;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, p->fd, &ev) < 0)
		die("epoll_ctl");
}

/* Handshake and REGISTER for every peer, window at a time. */
static void register_all(struct load *l)
{
	size_t next = 0;
	struct epoll_event ev[256];
	uint64_t start = time_now_ms();

	while (l->done + l->failed < l->n) {
		uint64_t now = time_now_ms();
		int k;

		while (next < l->n && l->in_flight < l->window &&
		       next < 1 + (now - start) * l->rate / 1000) {
			send_init(l, &l->peers[next++], now);
			l->in_flight++;
		}
		k = epoll_wait(l->epfd, ev, 256, next < l->n ? 1 : 50);
		now = time_now_ms();
		for (int i = 0; i < k; i++)
			receive(l, ev[i].data.ptr, now);
		/* Retries for what got no answer, as a daemon would retry. */
		for (size_t i = 0; i < next; i++) {
			struct peer *p = &l->peers[i];

			if ((p->st != INIT_SENT && p->st != REGISTER_SENT) ||
			    now - p->sent_ms < RETRY_MS)
				continue;
			if (p->tries >= TRIES)
				finish(l, p, FAILED);
			else if (p->st == INIT_SENT)
				send_init(l, p, now);
			else
				send_register(l, p, now), p->tries++;
		}
	}
}

/* Every registered peer re-registers every REFRESH_MS, spread evenly. */
static void hold(struct load *l)
{
	uint64_t start = time_now_ms(), end = start + (uint64_t)l->hold_s * 1000;
	size_t sent = 0;
	struct epoll_event ev[256];

	while (time_now_ms() < end) {
		uint64_t now = time_now_ms();
		size_t due = (size_t)((now - start) * l->n / REFRESH_MS);
		int k;

		for (; sent < due; sent++) {
			struct peer *p = &l->peers[sent % l->n];

			if (p->st == REGISTERED)
				send_register(l, p, now);
		}
		k = epoll_wait(l->epfd, ev, 256, 10);
		for (int i = 0; i < k; i++) {
			struct peer *p = ev[i].data.ptr;
			uint8_t buf[BUF];

			while (recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
		}
	}
}

/* ---- a rendezvous of our own ---- */

static bool stun_answers(const struct sockaddr_storage *server)
{
	struct stun_builder b;
	uint8_t id[STUN_ID_LEN], buf[256];
	size_t len;
	int fd = socket(server->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_usec = 100000};
	bool ok;

	stun_id_new(id);
	if (fd < 0 ||
	    stun_builder_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, id) ||
	    stun_builder_finish(&b, false, &len))
		return false;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sendto(fd, buf, len, 0, (const struct sockaddr *)server, sizeof(struct sockaddr_in));
	ok = recv(fd, buf, sizeof(buf), 0) > 0;
	close(fd);
	return ok;
}

static void spawn(struct load *l, const char *binary)
{
	uint8_t priv[32];
	char b64[KEY_B64_LEN + 1], conf[] = "/tmp/rdv-load.XXXXXX";
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->server;
	int fd = mkstemp(conf);
	unsigned port = 20000 + randombytes_uniform(40000);
	FILE *f;

	if (fd < 0)
		die("mkstemp");
	key_generate(priv);
	if (!key_public(priv, l->server_pub))
		die("key");
	key_to_base64(priv, b64);
	f = fdopen(fd, "w");
	fprintf(f, "[rendezvous]\nlisten = 127.0.0.1:%u\nprivate_key = %s\nopen = yes\n", port,
		b64);
	fclose(f);
	memset(&l->server, 0, sizeof(l->server));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->spawned = fork();
	if (l->spawned < 0)
		die("fork");
	if (l->spawned == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execl(binary, binary, "-f", "-c", conf, (char *)NULL);
		_exit(127);
	}
	l->pid = l->spawned;
	for (int i = 0; i < 50 && !stun_answers(&l->server); i++)
		usleep(100000);
	unlink(conf);
	if (!stun_answers(&l->server)) {
		errno = ETIMEDOUT;
		die(binary);
	}
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: rdv-load [-n N] [-w WINDOW] [-r RATE] [-H SECONDS] [-b BINARY]\n"
		"       rdv-load -s IP:PORT -k PUBKEY [-p PID] [-n N] [-K PRIVKEY] [-H SECONDS]\n"
		"  -n N        peers to register (default 10000)\n"
		"  -w WINDOW   handshakes in flight at once (default 256)\n"
		"  -r RATE     new handshakes a second at most (default 1000; above 2048 the\n"
		"              rendezvous is under load and answers with cookies)\n"
		"  -H SECONDS  then hold: every peer re-registers every 10 s (default 20, 0: no)\n"
		"  -b BINARY   the rendezvous to start (default: p2pvpn-rendezvous beside us)\n"
		"  -s, -k      a running rendezvous and its public key; -p its PID to measure\n"
		"  -K PRIVKEY  the (single) peer's private key, e.g. one listed in its config\n");
}

static void report(const char *what, const struct usage *a, const struct usage *b, size_t n,
		   double secs)
{
	printf("%s: %.1f s, rendezvous RSS %.1f -> %.1f MiB (peak %.1f MiB), CPU %.2f s", what,
	       secs, a->rss_kb / 1024.0, b->rss_kb / 1024.0, b->hwm_kb / 1024.0,
	       b->cpu_s - a->cpu_s);
	if (n)
		printf(", %.0f us CPU per peer", (b->cpu_s - a->cpu_s) * 1e6 / (double)n);
	printf("\n");
}

int main(int argc, char **argv)
{
	struct load l = {.n = 10000, .window = 256, .hold_s = 20, .rate = 1000};
	const char *server = NULL, *pubkey = NULL, *privkey = NULL;
	char binary[4096];
	uint8_t priv[32];
	struct usage u0, u1, u2;
	struct rlimit rl;
	uint64_t t0, t1;
	int c;

	{
		char *self = strdup(argv[0]);

		snprintf(binary, sizeof(binary), "%s/p2pvpn-rendezvous",
			 self ? dirname(self) : ".");
		free(self);
	}
	while ((c = getopt(argc, argv, "n:w:r:H:b:s:k:p:K:h")) != -1) {
		switch (c) {
		case 'n':
			l.n = strtoul(optarg, NULL, 10);
			break;
		case 'w':
			l.window = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			l.rate = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'H':
			l.hold_s = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			snprintf(binary, sizeof(binary), "%s", optarg);
			break;
		case 's':
			server = optarg;
			break;
		case 'k':
			pubkey = optarg;
			break;
		case 'p':
			l.pid = (pid_t)atoi(optarg);
			break;
		case 'K':
			privkey = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!l.n || !l.window || !l.rate || (!server != !pubkey) || (privkey && l.n != 1) ||
	    sodium_init() < 0) {
		usage(stderr);
		return 2;
	}
	if (privkey && !key_from_base64(privkey, priv)) {
		fprintf(stderr, "rdv-load: bad private key\n");
		return 2;
	}
	/* One socket per peer. */
	rl.rlim_cur = rl.rlim_max = l.n + 64;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (server) {
		if (!cfg_parse_endpoint(server, &l.server) ||
		    !key_from_base64(pubkey, l.server_pub)) {
			fprintf(stderr, "rdv-load: bad -s IP:PORT or -k key\n");
			return 2;
		}
	} else {
		spawn(&l, binary);
	}
	l.epfd = epoll_create1(EPOLL_CLOEXEC);
	l.peers = calloc(l.n, sizeof(*l.peers));
	if (l.epfd < 0 || !l.peers)
		die("setup");
	for (size_t i = 0; i < l.n; i++)
		open_peer(&l, &l.peers[i], privkey ? priv : NULL);
	read_usage(l.pid, &u0);
	t0 = time_now_ms();
	register_all(&l);
	t1 = time_now_ms();
	read_usage(l.pid, &u1);
	printf("peers registered: %zu of %zu (%zu failed), handshakes answered: %llu, cookie "
	       "replies: %llu\n",
	       l.done, l.n, l.failed, (unsigned long long)l.answered,
	       (unsigned long long)l.cookies);
	if (l.pid) {
		report("registration", &u0, &u1, l.done, (double)(t1 - t0) / 1000.0);
		if (l.hold_s && l.done) {
			hold(&l);
			read_usage(l.pid, &u2);
			report("hold (each peer re-registers every 10 s)", &u1, &u2, 0, l.hold_s);
			printf("hold: %.3f CPU seconds per second for %zu registered peers\n",
			       (u2.cpu_s - u1.cpu_s) / l.hold_s, l.done);
		}
	}
	if (l.spawned) {
		kill(l.spawned, SIGTERM);
		waitpid(l.spawned, NULL, 0);
	}
	for (size_t i = 0; i < l.n; i++) {
		close(l.peers[i].fd);
		rdv_sim_cleanup(&l.peers[i].sim);
	}
	free(l.peers);
	sodium_memzero(priv, sizeof(priv));
	return l.done == l.n ? 0 : 1;
}
