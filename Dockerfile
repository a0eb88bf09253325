# p2pvpn in a container: one image that runs either daemon.
#
#   docker build -t p2pvpn .
#
# The peer daemon (the default command: p2pvpnd -f -c /etc/p2pvpn.conf) needs
# CAP_NET_ADMIN and the TUN device. With --network host its p2p0 interface
# is the host's; without it, p2p0 lives in the container's own network
# namespace (useful as a sidecar). The key file keeps its mode 0600:
#
#   docker run -d --name p2pvpnd --network host \
#       --cap-drop ALL --cap-add NET_ADMIN --device /dev/net/tun \
#       -v /etc/p2pvpn.conf:/etc/p2pvpn.conf:ro \
#       -v /etc/p2pvpn/private.key:/etc/p2pvpn/private.key:ro \
#       p2pvpn
#   docker exec p2pvpnd p2pvpnctl show
#   docker kill -s HUP p2pvpnd        # re-read the config
#   docker stop p2pvpnd               # SIGTERM: p2p0 is removed
#
# The rendezvous server needs no capability at all. --network host lets it
# see its own public addresses (Docker's port mapping would hide them from
# STUN):
#
#   docker run -d --name rendezvous --network host --cap-drop ALL \
#       -v /etc/p2pvpn-rendezvous.conf:/etc/p2pvpn-rendezvous.conf:ro \
#       -v /etc/p2pvpn/rendezvous.key:/etc/p2pvpn/rendezvous.key:ro \
#       --entrypoint p2pvpn-rendezvous p2pvpn -f -c /etc/p2pvpn-rendezvous.conf
#
# (--entrypoint drops the default arguments, so give -f -c ... again.) Both
# daemons log to stderr: docker logs NAME.

# Build stage: compile and install into /staging with the real prefix.
FROM debian:bookworm AS build
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		build-essential cmake pkg-config \
		libsodium-dev libmnl-dev libinih-dev zlib1g-dev libcmocka-dev \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	&& cmake --build /build -j"$(nproc)" --target p2pvpnd p2pvpnctl p2pvpn-rendezvous \
	&& DESTDIR=/staging cmake --install /build

# Runtime stage: the shared libraries the binaries link, and iproute2 to look
# at the interface from inside (docker exec NAME ip addr).
FROM debian:bookworm-slim
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		libsodium23 libmnl0 libinih1 zlib1g iproute2 \
	&& rm -rf /var/lib/apt/lists/*
COPY --from=build /staging/ /
ENTRYPOINT ["/usr/sbin/p2pvpnd"]
CMD ["-f", "-c", "/etc/p2pvpn.conf"]
