/* Stream reassembly for TCP (rdvproto/proto.h section 4), with no I/O:
 * the caller reads from its socket straight into the reader's free space,
 * commits what it got, and takes complete frames out one by one.
 *
 * Framed mode: each datagram is preceded by its length, u16 big-endian,
 * 1..FRAME_MAX; a length of 0 is a protocol violation and the connection
 * must be closed. STUN mode (RFC 8489 section 6.2.2): STUN messages back to
 * back, each 20 bytes of header plus its length field (bytes 2..3). Detect
 * mode starts undecided and settles on the first bytes: the magic cookie at
 * stream offset 4 means STUN, anything else means framed (a framed stream
 * has the p2pvpn header's reserved zeros there, never 0x21 0x12), and so
 * does a first byte with either of its top two bits set (a STUN type never
 * has them, a length prefix of 16384 or more does).
 *
 * These rules are frame_peek, a pure function over the bytes received so
 * far, shared by the reader below and by the rendezvous's TCP connections
 * (which keep a growing buffer each and a maximum per frame type).
 *
 * The buffer is fixed (FRAME_BUF_SIZE, one largest frame with its prefix):
 * nothing is allocated per frame, and a sender cannot make the reader hold
 * more than one frame. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	FRAME_PREFIX_LEN = 2,
	FRAME_MAX = 65535, /* RDV_FRAME_MAX */
	FRAME_BUF_SIZE = FRAME_PREFIX_LEN + FRAME_MAX,
	FRAME_STUN_HEADER_LEN = 20,
	/* A STUN message must fit the buffer: 20 + a length field of at most
	 * 65516 (a multiple of 4). A Binding request is far smaller. */
	FRAME_STUN_MAX = FRAME_BUF_SIZE - FRAME_STUN_HEADER_LEN - 1,
};

/* Same value as STUN_COOKIE in stun/stun.h (RFC 8489 section 5); kept here so
 * the transport does not depend on the STUN module. */
#define FRAME_STUN_COOKIE 0x2112A442u

enum frame_mode {
	FRAME_MODE_DETECT = 0, /* undecided: the first bytes pick FRAMED or STUN */
	FRAME_MODE_FRAMED,     /* u16 length-prefixed datagrams */
	FRAME_MODE_STUN,       /* STUN messages delimited by their own length */
};

/* What frame_peek makes of the bytes at the start of a stream. */
enum frame_verdict {
	FRAME_MORE = 0,		  /* incomplete: see frame_peek's *need */
	FRAME_WHOLE = 1,	  /* the first message is complete */
	FRAME_EMPTY = -1,	  /* framed: a length of 0 */
	FRAME_TOO_LONG = -2,	  /* framed: longer than its type's maximum */
	FRAME_NOT_STUN = -3,	  /* STUN: type's top bits set, length not a multiple of 4,
				   * or no cookie */
	FRAME_STUN_TOO_LONG = -4, /* STUN: longer than stun_max */
};

/* The limits frame_peek applies. */
struct frame_rules {
	size_t stun_max; /* largest STUN message, its 20-byte header included */
	/* Largest datagram (prefix not counted) for the type in its first byte,
	 * asked once that byte is in; 0 refuses the type. NULL: FRAME_MAX for
	 * every type, judged on the prefix alone. */
	size_t (*frame_max)(void *ctx, uint8_t type);
	void *ctx;
};

/* Judges the first message of a stream from the len bytes received so far
 * (buf may be NULL when len is 0). In FRAME_MODE_DETECT it first settles
 * *mode if the bytes allow (else FRAME_MORE, *need = 8). Then:
 * FRAME_WHOLE: the message is buf[0..*need): framed, the datagram follows
 * its FRAME_PREFIX_LEN prefix; STUN, the whole message, header included.
 * FRAME_MORE: *need (> len) is the stream length to wait for: the whole
 * message once its length is known, else the bytes that carry it.
 * Negative: a protocol violation, judged as soon as the bytes that prove it
 * are in (more bytes never change the answer); the stream cannot be
 * resynchronised. STUN: type's top bits (1 byte), too long (4), length not
 * a multiple of 4 (4), cookie (8). Framed: 0 (2 bytes), too long (2, or 3
 * with frame_max). */
enum frame_verdict frame_peek(const uint8_t *buf, size_t len, enum frame_mode *mode,
			      const struct frame_rules *rules, size_t *need);
/* The violation as a log phrase ("empty frame", "frame too long for its
 * type", "not a STUN message", "STUN message too long"); "" otherwise. */
const char *frame_verdict_str(enum frame_verdict v);

struct frame_reader {
	enum frame_mode mode;
	bool failed;  /* a framing violation was seen: -EBADMSG from now on */
	size_t start; /* first byte not yet returned as (part of) a frame */
	size_t end;   /* one past the last byte received */
	uint64_t frames;
	uint8_t buf[FRAME_BUF_SIZE];
};

/* Empties r and sets its mode (FRAME_MODE_DETECT on the rendezvous's TCP
 * port, FRAME_MODE_FRAMED between peers). */
void frame_reader_init(struct frame_reader *r, enum frame_mode mode);
/* Free space to read into; *len is its size. Call after frame_reader_next
 * returned 0: then *len >= 1 (the buffer holds at most an incomplete frame).
 * Frames returned earlier by frame_reader_next become invalid. */
uint8_t *frame_reader_space(struct frame_reader *r, size_t *len);
/* Records that n bytes were written into the space; 0, or -EINVAL when n is
 * more than the space frame_reader_space reported. */
int frame_reader_commit(struct frame_reader *r, size_t n);
/* Copies up to len bytes of data in (for callers that already hold bytes);
 * returns how many fit. Call frame_reader_next until it returns 0 before
 * pushing the rest. Frames returned earlier become invalid. */
size_t frame_reader_push(struct frame_reader *r, const uint8_t *data, size_t len);
/* Takes the next complete frame: 1 with *frame and *len set (framed: the
 * datagram without its prefix; STUN: the whole message, header included),
 * 0 when more bytes are needed, -EBADMSG on a framing violation (length 0,
 * a STUN message without the cookie, not a multiple of 4 or over
 * FRAME_STUN_MAX): the stream cannot be resynchronised, close it. The frame
 * stays valid until the next space/push call. */
int frame_reader_next(struct frame_reader *r, const uint8_t **frame, size_t *len)
    __attribute__((warn_unused_result));
/* Bytes received but not yet returned as a frame (a partial frame). */
size_t frame_reader_pending(const struct frame_reader *r);
/* Writes the u16 big-endian prefix for a datagram of len bytes; returns
 * FRAME_PREFIX_LEN, or 0 when len is 0 or above FRAME_MAX. */
size_t frame_encode_header(uint8_t hdr[FRAME_PREFIX_LEN], size_t len);
