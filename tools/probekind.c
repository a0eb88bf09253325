/* probekind: tells lab tests what a captured probe is. Probes are sealed
 * (punch/probe.h), so a capture shows only their type byte; a test that owns
 * both keys of a pair can open them with this tool and pick, say, the
 * replies out of a capture to replay them.
 *
 *   probekind PRIVATE_KEY_FILE PEER_PUBLIC_KEY < hex lines
 *
 * Each line of stdin is one UDP payload in hex; each line of stdout names
 * it: request, reply, heartbeat, heartbeat-reply, or invalid (not a probe of
 * this pair). A relay frame (WIRE_RELAY) is named by the probe it carries,
 * prefixed "relay:". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/keys.h"
#include "punch/probe.h"
#include "rdvproto/proto.h"
#include "wire/wire.h"

static bool read_key_file(const char *path, uint8_t key[KEY_LEN])
{
	char line[128];
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	if (!ok)
		return false;
	line[strcspn(line, "\r\n")] = 0;
	ok = key_from_base64(line, key);
	sodium_memzero(line, sizeof(line));
	return ok;
}

static const char *kind_name(enum probe_kind kind)
{
	switch (kind) {
	case PROBE_REQUEST:
		return "request";
	case PROBE_REPLY:
		return "reply";
	case PROBE_HEARTBEAT:
		return "heartbeat";
	case PROBE_HEARTBEAT_REPLY:
		return "heartbeat-reply";
	}
	return "invalid";
}

static const char *classify(const struct probe_key *k, const uint8_t *pkt, size_t len,
			    bool *relayed)
{
	struct probe_payload pl;

	*relayed = false;
	if (len > RDV_RELAY_HEADER_LEN && pkt[0] == WIRE_RELAY) {
		*relayed = true;
		pkt += RDV_RELAY_HEADER_LEN;
		len -= RDV_RELAY_HEADER_LEN;
	}
	if (!probe_open(k, pkt, len, &pl))
		return "invalid";
	return kind_name(pl.kind);
}

int main(int argc, char **argv)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN], their[KEY_LEN], pkt[2048];
	char line[2 * sizeof(pkt) + 4];
	struct probe_key k;

	if (argc != 3) {
		fprintf(stderr, "usage: probekind PRIVATE_KEY_FILE PEER_PUBLIC_KEY < hex lines\n");
		return 2;
	}
	if (sodium_init() < 0 || !read_key_file(argv[1], priv) || !key_public(priv, pub) ||
	    !key_from_base64(argv[2], their) || !probe_key_derive(priv, pub, their, &k)) {
		fprintf(stderr, "probekind: bad key file or peer key\n");
		return 2;
	}
	sodium_memzero(priv, sizeof(priv));
	while (fgets(line, sizeof(line), stdin)) {
		size_t len = 0;
		bool relayed;
		const char *name;

		line[strcspn(line, "\r\n")] = 0;
		if (sodium_hex2bin(pkt, sizeof(pkt), line, strlen(line), NULL, &len, NULL) != 0)
			len = 0;
		name = classify(&k, pkt, len, &relayed);
		printf("%s%s\n", relayed && strcmp(name, "invalid") ? "relay:" : "", name);
	}
	probe_key_cleanup(&k);
	return 0;
}
