/* Segmentation offloads (offload = auto): what the TUN and the UDP socket
 * do for us, and what we do when the kernel refuses it.
 *
 * Sending: the TUN hands over TCP and UDP super-packets of up to 64 KiB
 * (TSO, USO) with the checksum left to us (send.c cuts them into segments);
 * the UDP socket takes runs of equal-sized ciphertexts to one destination
 * as one message (GSO, transport/udp.c). Receiving: the UDP socket hands
 * over runs of datagrams from one sender as one buffer (GRO); the decrypted
 * segments of one flow are merged into super-packets (tun/gro.c) that the
 * TUN takes in one write, checksum left to the kernel. Each end does one
 * system call per run instead of one per packet.
 *
 * Kernels have shipped bugs here (TUN GSO writes refused with EINVAL on some
 * 6.1 and 6.6 kernels, UDP GSO refused with EIO on some devices): a refused
 * write turns that offload off for good and the packets in hand go the
 * plain way, so nothing is lost; the UDP side does the same inside
 * transport/udp.c. Before the first packet a self-probe tries both (a merged
 * write the kernel drops after taking it; a GSO run over loopback checked
 * datagram by datagram) so a kernel known to be broken never sees traffic
 * the broken way. One line at start says what is on. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/offload.h"
#include "daemon/send.h"
#include "tun/gso.h"
#include "util/log.h"

void offload_describe(const struct daemon *d, char *buf, size_t len)
{
	unsigned t = d->tun.offloads, u = d->udp.offloads;

	snprintf(buf, len, "TUN %s%s%s%s%s, UDP %s%s%s", t ? "" : "off",
		 t & TUN_OFFLOAD_CSUM ? "csum" : "", t & TUN_OFFLOAD_TSO ? " tso" : "",
		 t & TUN_OFFLOAD_USO ? " uso" : "",
		 t && d->tun_merge_refused ? " (writes unmerged)" : "", u ? "" : "off",
		 u & UDP_OFFLOAD_GSO ? "gso" : "", u & UDP_OFFLOAD_GRO ? " gro" : "");
}

/* Writes one frame the kernel refused as a super-packet as its plain
 * segments: the iovec is gathered into the TUN read buffer (idle while we
 * receive) and each segment cut into the next tx slot (idle until a sender
 * builds there). */
static void write_segments(struct daemon *d, const struct virtio_net_hdr *h,
			   const struct iovec *iov, int n)
{
	size_t len = 0;
	int segs;

	for (int i = 0; i < n; i++) {
		if (iov[i].iov_len > TUN_PACKET_MAX - len)
			return;
		memcpy(d->tun_buf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	segs = tun_gso_segments(h, d->tun_buf, len);
	for (int k = 0; k < segs; k++) {
		uint8_t *out = send_slot(d);
		size_t out_len;

		if (tun_gso_split(h, d->tun_buf, len, (unsigned)k, &out, TUN_PACKET_MAX, &out_len,
				  1) != 1)
			return;
		if (tun_write(&d->tun, out, out_len) < 0 && errno != EAGAIN)
			log_errno(LOG_LEVEL_DEBUG, "%s: tun write", d->cfg.ifname);
	}
}

static int emit_to_tun(void *ctx, const struct virtio_net_hdr *h, const struct iovec *iov, int n)
{
	struct daemon *d = ctx;
	int err;

	if (tun_write_vnet(&d->tun, h, iov, n) >= 0 || errno == EAGAIN)
		return 0;
	err = errno;
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE || (err != EINVAL && err != EIO)) {
		log_errno(LOG_LEVEL_DEBUG, "%s: tun write", d->cfg.ifname);
		return -err;
	}
	/* The table is being flushed: it is set up again without merging
	 * once the flush is over (receive.c). */
	if (!d->tun_merge_refused) {
		log_warn("%s: the kernel refused a merged TUN write (%s): packets to the TUN "
			 "go one by one from now on",
			 d->cfg.ifname, strerror(err));
		d->tun_merge_refused = true;
		d->offload_fallbacks++;
	}
	write_segments(d, h, iov, n);
	return 0;
}

int offload_tun_open(struct daemon *d)
{
	int ret;

	if (d->cfg.offload) {
		ret = tun_open_offload(&d->tun, d->cfg.ifname,
				       TUN_OFFLOAD_CSUM | TUN_OFFLOAD_TSO | TUN_OFFLOAD_USO);
		/* A kernel without IFF_VNET_HDR for TUN refuses the flag: go
		 * without; a name clash or no permission stays an error. */
		if (ret != -EINVAL)
			goto opened;
		log_info("%s: TUN offloads not available (%s)", d->cfg.ifname, strerror(-ret));
	}
	ret = tun_open(&d->tun, d->cfg.ifname);
opened:
	if (ret == 0)
		offload_gro_reset(d);
	return ret;
}

void offload_gro_reset(struct daemon *d)
{
	unsigned flags = 0;

	if (d->tun_merge_refused)
		;
	else if (d->tun.offloads & TUN_OFFLOAD_TSO)
		flags |= TUN_GRO_TCP;
	if (!d->tun_merge_refused && d->tun.offloads & TUN_OFFLOAD_USO)
		flags |= TUN_GRO_UDP;
	d->gro_flags = flags;
	tun_gro_init(&d->gro, flags, emit_to_tun, d);
}

void offload_udp_enable(struct daemon *d)
{
	/* What the start-up probe saw fail stays off on every socket. */
	if (d->cfg.offload)
		(void)udp_enable_offload(&d->udp, (UDP_OFFLOAD_GSO | UDP_OFFLOAD_GRO) &
						      ~d->udp_probe_failed);
}

/* How long the UDP probe waits for its own datagrams over loopback: they
 * take microseconds; a broken kernel loses them, and costs this once. */
enum { UDP_PROBE_TIMEOUT_MS = 200 };

static void probe_tun(struct daemon *d)
{
	int ret = tun_probe_merged_write(&d->tun);

	if (ret == -EINVAL || ret == -EIO) {
		log_warn("%s: the kernel refused a merged TUN write at the start-up probe (%s): "
			 "packets to the TUN go one by one",
			 d->cfg.ifname, strerror(-ret));
		d->tun_merge_refused = true;
		d->offload_fallbacks++;
		offload_gro_reset(d);
	} else if (ret < 0) {
		log_debug("%s: TUN offload probe not made: %s", d->cfg.ifname, strerror(-ret));
	}
}

/* The UDP self-probe on its own sockets; the bits that passed, or -errno
 * when it could not be made. */
static int probe_udp(struct daemon *d)
{
	int passed = udp_offload_selftest(UDP_OFFLOAD_GSO | UDP_OFFLOAD_GRO, UDP_PROBE_TIMEOUT_MS);

	if (passed < 0)
		log_debug("%s: UDP offload probe not made (%s): the offloads stay on until the "
			  "kernel refuses one",
			  d->cfg.ifname, strerror(-passed));
	return passed;
}

/* What the probe saw fail among what the kernel took (broken, not
 * absent: a kernel without an offload fails the probe too, silently) is
 * turned off again and kept off on every later socket. */
static void drop_probe_failures(struct daemon *d, unsigned passed)
{
	d->udp_probe_failed = d->udp.offloads & ~passed;
	if (!d->udp_probe_failed)
		return;
	if (d->udp_probe_failed & UDP_OFFLOAD_GSO)
		log_warn("%s: UDP GSO failed the start-up probe (datagrams lost or altered over "
			 "loopback): off",
			 d->cfg.ifname);
	if (d->udp_probe_failed & UDP_OFFLOAD_GRO)
		log_warn("%s: UDP GRO failed the start-up probe (datagrams lost or altered over "
			 "loopback): off",
			 d->cfg.ifname);
	offload_udp_enable(d);
}

void offload_start(struct daemon *d)
{
	int passed = -1;

	/* Only the kernel's devices can be broken the probed way; a backend
	 * of our own (a test's) is not probed. */
	if (d->cfg.offload && d->tun.ifindex != 0)
		probe_tun(d);
	if (d->cfg.offload && !d->udp.ops)
		passed = probe_udp(d);
	/* One call turns on what the kernel has; only a failed probe needs a
	 * second, to turn the broken part off. */
	offload_udp_enable(d);
	if (passed >= 0)
		drop_probe_failures(d, (unsigned)passed);
	offload_log(d);
}

void offload_log(const struct daemon *d)
{
	char what[64];

	offload_describe(d, what, sizeof(what));
	log_info("%s: offloads: %s%s", d->cfg.ifname, what,
		 d->cfg.offload ? "" : " (offload = no)");
}
