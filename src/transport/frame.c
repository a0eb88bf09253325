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
 * compares stream bytes 4..7 with the cookie as they arrive and settles on
 * FRAMED at the first byte that differs, so a peer whose first datagram is
 * only a few bytes long is still served once byte 4 is in. */
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
static bool detect(struct frame_reader *r)
{
	static const uint8_t cookie[4] = {0x21, 0x12, 0xa4, 0x42};
	const uint8_t *p = r->buf + r->start;
	size_t n = r->end - r->start;

	for (size_t i = 4; i < 8 && i < n; i++) {
		if (p[i] != cookie[i - 4]) {
			r->mode = FRAME_MODE_FRAMED;
			return true;
		}
	}
	if (n < 8)
		return false;
	r->mode = FRAME_MODE_STUN;
	return true;
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

static int next_framed(struct frame_reader *r, const uint8_t **frame, size_t *len)
{
	const uint8_t *p = r->buf + r->start;
	size_t n = r->end - r->start, flen;

	if (n < FRAME_PREFIX_LEN)
		return 0;
	flen = be16(p);
	/* proto.h section 4: lengths are 1..65535. An empty frame carries
	 * nothing and only a broken or hostile sender makes one. */
	if (flen == 0)
		return fail(r);
	if (n < FRAME_PREFIX_LEN + flen)
		return 0;
	return take(r, FRAME_PREFIX_LEN, FRAME_PREFIX_LEN + flen, frame, len);
}

static int next_stun(struct frame_reader *r, const uint8_t **frame, size_t *len)
{
	const uint8_t *p = r->buf + r->start;
	size_t n = r->end - r->start, mlen;
	uint32_t cookie;

	if (n < 8)
		return 0;
	/* RFC 8489 section 5: the top two bits are zero, the length is a
	 * multiple of 4, and every message carries the cookie. Anything else
	 * means we lost the message boundaries. */
	cookie = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	mlen = be16(p + 2);
	if ((p[0] & 0xc0) || cookie != FRAME_STUN_COOKIE || mlen % 4 || mlen > FRAME_STUN_MAX)
		return fail(r);
	if (n < FRAME_STUN_HEADER_LEN + mlen)
		return 0;
	return take(r, 0, FRAME_STUN_HEADER_LEN + mlen, frame, len);
}

int frame_reader_next(struct frame_reader *r, const uint8_t **frame, size_t *len)
{
	if (r->failed)
		return -EBADMSG;
	if (r->mode == FRAME_MODE_DETECT && !detect(r))
		return 0;
	if (r->mode == FRAME_MODE_STUN)
		return next_stun(r, frame, len);
	return next_framed(r, frame, len);
}

size_t frame_encode_header(uint8_t hdr[FRAME_PREFIX_LEN], size_t len)
{
	if (len == 0 || len > FRAME_MAX)
		return 0;
	hdr[0] = (uint8_t)(len >> 8);
	hdr[1] = (uint8_t)len;
	return FRAME_PREFIX_LEN;
}
