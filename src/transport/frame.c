/* Stream reassembly for the TCP transport. The reader is one fixed buffer
 * with two indices: bytes in [start, end) have been received and not yet
 * handed out. frame_reader_next() hands out frames in place (no copy) and
 * moves start; the bytes of an incomplete frame are moved to the front only
 * when the caller asks for space, so the cost is at most one frame's worth
 * of memmove per read from the socket.
 *
 * States: DETECT until the first bytes decide, then FRAMED or STUN for the
 * rest of the stream, and `failed` (sticky) after a violation, because a
 * byte stream whose length field lied cannot be resynchronised. Detection
 * (frame_peek) looks at the top bits of byte 0, then compares stream bytes
 * 4..7 with the cookie as they arrive, and settles on FRAMED at the first
 * byte that rules STUN out, so a peer whose first datagram is only a few
 * bytes long is still served once byte 4 is in. */
#include "transport/frame.h"

#include <errno.h>
#include <string.h>

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void frame_reader_init(struct frame_reader *r, enum frame_mode mode)
{
	r->mode = mode;
	r->failed = false;
	r->start = 0;
	r->end = 0;
	r->frames = 0;
}

uint8_t *frame_reader_space(struct frame_reader *r, size_t *len)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	*len = sizeof(r->buf) - r->end;
	return r->buf + r->end;
}

int frame_reader_commit(struct frame_reader *r, size_t n)
{
	if (n > sizeof(r->buf) - r->end)
		return -EINVAL;
	r->end += n;
	return 0;
}

size_t frame_reader_push(struct frame_reader *r, const uint8_t *data, size_t len)
{
	size_t room;
	uint8_t *p = frame_reader_space(r, &room);

	if (len > room)
		len = room;
	memcpy(p, data, len);
	r->end += len;
	return len;
}

size_t frame_reader_pending(const struct frame_reader *r)
{
	return r->end - r->start;
}

/* DETECT: decide as soon as the bytes allow. Returns false while undecided. */
static bool detect(const uint8_t *p, size_t n, enum frame_mode *mode)
{
	static const uint8_t cookie[4] = {0x21, 0x12, 0xa4, 0x42};

	if (n >= 1 && (p[0] & 0xc0)) {
		*mode = FRAME_MODE_FRAMED;
		return true;
	}
	for (size_t i = 4; i < 8 && i < n; i++) {
		if (p[i] != cookie[i - 4]) {
			*mode = FRAME_MODE_FRAMED;
			return true;
		}
	}
	if (n < 8)
		return false;
	*mode = FRAME_MODE_STUN;
	return true;
}

static enum frame_verdict peek_stun(const uint8_t *p, size_t n, const struct frame_rules *rules,
				    size_t *need)
{
	size_t mlen;

	/* RFC 8489 section 5: the top two bits are zero, the length is a
	 * multiple of 4, and every message carries the cookie. Anything else
	 * means we lost the message boundaries. */
	if (n >= 1 && (p[0] & 0xc0))
		return FRAME_NOT_STUN;
	if (n < 4) {
		*need = 4;
		return FRAME_MORE;
	}
	mlen = be16(p + 2);
	if (FRAME_STUN_HEADER_LEN + mlen > rules->stun_max)
		return FRAME_STUN_TOO_LONG;
	if (mlen % 4)
		return FRAME_NOT_STUN;
	if (n >= 8 && (p[4] != 0x21 || p[5] != 0x12 || p[6] != 0xa4 || p[7] != 0x42))
		return FRAME_NOT_STUN;
	*need = FRAME_STUN_HEADER_LEN + mlen;
	return n >= *need ? FRAME_WHOLE : FRAME_MORE;
}

static enum frame_verdict peek_framed(const uint8_t *p, size_t n, const struct frame_rules *rules,
				      size_t *need)
{
	size_t flen;

	if (n < FRAME_PREFIX_LEN) {
		*need = FRAME_PREFIX_LEN;
		return FRAME_MORE;
	}
	flen = be16(p);
	/* proto.h section 4: lengths are 1..65535. An empty frame carries
	 * nothing and only a broken or hostile sender makes one. */
	if (flen == 0)
		return FRAME_EMPTY;
	if (rules->frame_max) {
		if (n < FRAME_PREFIX_LEN + 1) {
			*need = FRAME_PREFIX_LEN + 1;
			return FRAME_MORE;
		}
		if (flen > rules->frame_max(rules->ctx, p[FRAME_PREFIX_LEN]))
			return FRAME_TOO_LONG;
	}
	*need = FRAME_PREFIX_LEN + flen;
	return n >= *need ? FRAME_WHOLE : FRAME_MORE;
}

enum frame_verdict frame_peek(const uint8_t *buf, size_t len, enum frame_mode *mode,
			      const struct frame_rules *rules, size_t *need)
{
	if (*mode == FRAME_MODE_DETECT && !detect(buf, len, mode)) {
		*need = 8;
		return FRAME_MORE;
	}
	if (*mode == FRAME_MODE_STUN)
		return peek_stun(buf, len, rules, need);
	return peek_framed(buf, len, rules, need);
}

const char *frame_verdict_str(enum frame_verdict v)
{
	switch (v) {
	case FRAME_EMPTY:
		return "empty frame";
	case FRAME_TOO_LONG:
		return "frame too long for its type";
	case FRAME_NOT_STUN:
		return "not a STUN message";
	case FRAME_STUN_TOO_LONG:
		return "STUN message too long";
	default:
		return "";
	}
}

static int fail(struct frame_reader *r)
{
	r->failed = true;
	return -EBADMSG;
}

static int take(struct frame_reader *r, size_t skip, size_t total, const uint8_t **frame,
		size_t *len)
{
	*frame = r->buf + r->start + skip;
	*len = total - skip;
	r->start += total;
	if (r->start == r->end) {
		/* The bytes stay where they are until the next space/push. */
		r->start = 0;
		r->end = 0;
	}
	r->frames++;
	return 1;
}

int frame_reader_next(struct frame_reader *r, const uint8_t **frame, size_t *len)
{
	/* Every type may use the whole buffer. */
	static const struct frame_rules rules = {.stun_max =
						     FRAME_STUN_HEADER_LEN + FRAME_STUN_MAX};
	enum frame_verdict v;
	size_t need;

	if (r->failed)
		return -EBADMSG;
	v = frame_peek(r->buf + r->start, r->end - r->start, &r->mode, &rules, &need);
	if (v < 0)
		return fail(r);
	if (v == FRAME_MORE)
		return 0;
	return take(r, r->mode == FRAME_MODE_STUN ? 0 : FRAME_PREFIX_LEN, need, frame, len);
}

size_t frame_encode_header(uint8_t hdr[FRAME_PREFIX_LEN], size_t len)
{
	if (len == 0 || len > FRAME_MAX)
		return 0;
	hdr[0] = (uint8_t)(len >> 8);
	hdr[1] = (uint8_t)len;
	return FRAME_PREFIX_LEN;
}
