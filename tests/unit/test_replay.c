/* Replay window tests: every scenario of WireGuard's counter self-test
 * (vectors/replay-window-wireguard.json, read by the small JSON reader below),
 * then the edges the vectors do not reach: the counter limit from a fresh
 * window, far jumps that recycle the whole ring, and that replay_check()
 * never writes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session/replay.h"

#define VECTORS P2PVPN_VECTORS_DIR "/replay-window-wireguard.json"

enum { MAX_SCENARIOS = 16, MAX_STEPS = 64, MAX_STR = 96 };

/* One step: a single counter, or a range walked from..to by inc. */
struct step {
	bool is_range;
	bool counter_is_string; /* written as a string: relative to the file's limit */
	uint64_t counter;
	int64_t from, to, inc;
	bool expect;
};

struct scenario {
	char name[MAX_STR];
	struct step steps[MAX_STEPS];
	size_t n_steps;
};

struct vectors {
	uint64_t window;
	uint64_t reject_after;
	struct scenario scenarios[MAX_SCENARIOS];
	size_t n_scenarios;
};

/* ---- a JSON reader for exactly this file's shapes ---- */

struct json {
	const char *p;
	const char *end;
};

enum jtype { J_NONE, J_NUM, J_STR, J_BOOL };

struct jvalue {
	enum jtype type;
	int64_t num;
	bool b;
	char str[MAX_STR];
};

static void ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static bool eat(struct json *j, char c)
{
	ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	return false;
}

static bool parse_string(struct json *j, char *out, size_t cap)
{
	size_t n = 0;

	if (!eat(j, '"'))
		return false;
	while (j->p < j->end && *j->p != '"') {
		if (*j->p == '\\' && j->p + 1 < j->end)
			j->p++; /* keep the escaped character as is */
		if (n + 1 < cap)
			out[n++] = *j->p;
		j->p++;
	}
	out[n] = '\0';
	return eat(j, '"');
}

static bool skip_value(struct json *j);

/* Parses a scalar into v, or skips an object/array (v->type = J_NONE). */
static bool parse_value(struct json *j, struct jvalue *v)
{
	memset(v, 0, sizeof(*v));
	ws(j);
	if (j->p >= j->end)
		return false;
	if (*j->p == '"') {
		v->type = J_STR;
		return parse_string(j, v->str, sizeof(v->str));
	}
	if (*j->p == '{' || *j->p == '[')
		return skip_value(j);
	if ((size_t)(j->end - j->p) >= 4 && !strncmp(j->p, "true", 4)) {
		v->type = J_BOOL, v->b = true, j->p += 4;
		return true;
	}
	if ((size_t)(j->end - j->p) >= 5 && !strncmp(j->p, "false", 5)) {
		v->type = J_BOOL, v->b = false, j->p += 5;
		return true;
	}
	{
		char *e;
		long long n = strtoll(j->p, &e, 10);

		if (e == j->p)
			return false;
		v->type = J_NUM, v->num = n, j->p = e;
		return true;
	}
}

static bool skip_value(struct json *j)
{
	struct jvalue v;
	char key[MAX_STR];

	if (eat(j, '{')) {
		if (eat(j, '}'))
			return true;
		do {
			if (!parse_string(j, key, sizeof(key)) || !eat(j, ':') ||
			    !parse_value(j, &v))
				return false;
		} while (eat(j, ','));
		return eat(j, '}');
	}
	if (eat(j, '[')) {
		if (eat(j, ']'))
			return true;
		do {
			if (!parse_value(j, &v))
				return false;
		} while (eat(j, ','));
		return eat(j, ']');
	}
	return parse_value(j, &v);
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *e;

	errno = 0;
	*out = strtoull(s, &e, 10);
	return errno == 0 && *s && !*e;
}

static bool parse_step(struct json *j, struct step *st)
{
	char key[MAX_STR];
	struct jvalue v;

	memset(st, 0, sizeof(*st));
	if (!eat(j, '{'))
		return false;
	do {
		if (!parse_string(j, key, sizeof(key)) || !eat(j, ':') || !parse_value(j, &v))
			return false;
		if (!strcmp(key, "counter") && v.type == J_NUM) {
			st->counter = (uint64_t)v.num;
		} else if (!strcmp(key, "counter") && v.type == J_STR) {
			st->counter_is_string = true;
			if (!parse_u64(v.str, &st->counter))
				return false;
		} else if (!strcmp(key, "range_from")) {
			st->is_range = true, st->from = v.num;
		} else if (!strcmp(key, "range_to_inclusive")) {
			st->to = v.num;
		} else if (!strcmp(key, "step")) {
			st->inc = v.num;
		} else if (!strcmp(key, "expect_accept") && v.type == J_BOOL) {
			st->expect = v.b;
		}
	} while (eat(j, ','));
	return eat(j, '}') && (!st->is_range || st->inc == 1 || st->inc == -1);
}

static bool parse_scenario(struct json *j, struct scenario *sc)
{
	char key[MAX_STR];
	struct jvalue v;

	if (!eat(j, '{'))
		return false;
	do {
		if (!parse_string(j, key, sizeof(key)) || !eat(j, ':'))
			return false;
		if (!strcmp(key, "name")) {
			if (!parse_string(j, sc->name, sizeof(sc->name)))
				return false;
		} else if (!strcmp(key, "steps")) {
			if (!eat(j, '['))
				return false;
			do {
				if (sc->n_steps == MAX_STEPS ||
				    !parse_step(j, &sc->steps[sc->n_steps++]))
					return false;
			} while (eat(j, ','));
			if (!eat(j, ']'))
				return false;
		} else if (!parse_value(j, &v)) {
			return false;
		}
	} while (eat(j, ','));
	return eat(j, '}');
}

static bool parse_constants(struct json *j, struct vectors *vec)
{
	char key[MAX_STR];
	struct jvalue v;

	if (!eat(j, '{'))
		return false;
	do {
		if (!parse_string(j, key, sizeof(key)) || !eat(j, ':') || !parse_value(j, &v))
			return false;
		if (!strcmp(key, "COUNTER_WINDOW_SIZE") && v.type == J_NUM)
			vec->window = (uint64_t)v.num;
		else if (!strcmp(key, "REJECT_AFTER_MESSAGES") && v.type == J_STR &&
			 !parse_u64(v.str, &vec->reject_after))
			return false;
	} while (eat(j, ','));
	return eat(j, '}');
}

static bool parse_vectors(const char *text, size_t len, struct vectors *vec)
{
	struct json j = {text, text + len};
	char key[MAX_STR];
	struct jvalue v;

	memset(vec, 0, sizeof(*vec));
	if (!eat(&j, '{'))
		return false;
	do {
		if (!parse_string(&j, key, sizeof(key)) || !eat(&j, ':'))
			return false;
		if (!strcmp(key, "constants")) {
			if (!parse_constants(&j, vec))
				return false;
		} else if (!strcmp(key, "scenarios")) {
			if (!eat(&j, '['))
				return false;
			do {
				if (vec->n_scenarios == MAX_SCENARIOS ||
				    !parse_scenario(&j, &vec->scenarios[vec->n_scenarios++]))
					return false;
			} while (eat(&j, ','));
			if (!eat(&j, ']'))
				return false;
		} else if (!parse_value(&j, &v)) {
			return false;
		}
	} while (eat(&j, ','));
	return eat(&j, '}') && (ws(&j), j.p == j.end);
}

static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* ---- running the vectors ---- */

/* Counters the file writes relative to its limit R (R-3 .. R+2) are moved to
 * ours, as the file's note asks; small literal counters stay. */
static uint64_t our_counter(const struct vectors *vec, const struct step *st)
{
	uint64_t d = st->counter - vec->reject_after;

	if (st->counter_is_string && (d <= 16 || -d <= 16))
		return REPLAY_REJECT_AFTER_MESSAGES + d;
	return st->counter;
}

/* Feeds one counter: the pre-check must agree and must not write. */
static void feed(struct replay_window *w, uint64_t counter, bool expect, const char *name,
		 size_t step)
{
	struct replay_window before = *w;
	bool checked = replay_check(w, counter);
	bool accepted;

	if (memcmp(&before, w, sizeof(before)) != 0)
		fail_msg("%s step %zu: replay_check wrote the window", name, step);
	accepted = replay_accept(w, counter);
	if (checked != expect || accepted != expect)
		fail_msg("%s step %zu: counter %llu: check %d accept %d, expected %d", name, step,
			 (unsigned long long)counter, checked, accepted, expect);
	if (!expect && memcmp(&before, w, sizeof(before)) != 0)
		fail_msg("%s step %zu: a rejected counter changed the window", name, step);
}

static size_t run_scenario(const struct vectors *vec, const struct scenario *sc)
{
	struct replay_window w;
	size_t fed = 0;

	replay_init(&w);
	for (size_t i = 0; i < sc->n_steps; i++) {
		const struct step *st = &sc->steps[i];

		if (!st->is_range) {
			feed(&w, our_counter(vec, st), st->expect, sc->name, i + 1);
			fed++;
			continue;
		}
		for (int64_t c = st->from;; c += st->inc) {
			feed(&w, (uint64_t)c, st->expect, sc->name, i + 1);
			fed++;
			if (c == st->to)
				break;
		}
	}
	return fed;
}

static void test_replay_accept_vectors(void **state)
{
	struct vectors *vec = malloc(sizeof(*vec));
	size_t len = 0, total = 0;
	char *text = read_text(VECTORS, &len);

	assert_non_null(vec);
	assert_non_null(text);
	assert_true(parse_vectors(text, len, vec));
	/* The file's window and limit are ours, so no step needs rewriting
	 * beyond the limit substitution. */
	assert_int_equal(vec->window, REPLAY_WINDOW_SIZE);
	assert_true(vec->reject_after == REPLAY_REJECT_AFTER_MESSAGES);
	assert_true(REPLAY_REJECT_AFTER_MESSAGES == 18446744073709543486ull);
	assert_int_equal(vec->n_scenarios, 7);
	assert_int_equal(vec->scenarios[0].n_steps, 34);

	for (size_t i = 0; i < vec->n_scenarios; i++) {
		size_t fed = run_scenario(vec, &vec->scenarios[i]);

		print_message("  %-48s %5zu counters\n", vec->scenarios[i].name, fed);
		total += fed;
	}
	/* 34 steps plus the six whole-window loops. */
	assert_true(total > 34 + 6 * REPLAY_WINDOW_SIZE);

	/* The reader refuses a truncated file rather than running half of it. */
	assert_false(parse_vectors(text, len / 2, vec));
	free(text);
	free(vec);
}

static void test_replay_accept_counter_limit(void **state)
{
	const uint64_t r = REPLAY_REJECT_AFTER_MESSAGES;
	struct replay_window w, fresh;

	replay_init(&w);
	replay_init(&fresh);
	/* At and over the limit: refused, even from a fresh window, and the
	 * window is not moved (a wrap would reopen every old counter). */
	assert_false(replay_accept(&w, r));
	assert_false(replay_accept(&w, r + 1));
	assert_false(replay_accept(&w, UINT64_MAX));
	assert_false(replay_check(&w, UINT64_MAX));
	assert_memory_equal(&w, &fresh, sizeof(w));

	/* limit - 1 is the last counter a sender may use. */
	assert_true(replay_accept(&w, r - 1));
	assert_false(replay_accept(&w, r - 1));
	assert_true(replay_accept(&w, r - 1 - REPLAY_WINDOW_SIZE));
	assert_false(replay_accept(&w, r - 2 - REPLAY_WINDOW_SIZE));
	assert_false(replay_accept(&w, 0));
	assert_false(replay_accept(&w, UINT64_MAX));
}

static void test_replay_accept_far_jump(void **state)
{
	const uint64_t far = 200 + 3ull * REPLAY_BITS_TOTAL;
	struct replay_window w;

	replay_init(&w);
	for (uint64_t c = 0; c <= 200; c++)
		assert_true(replay_accept(&w, c));
	/* Jump by whole ring turns: bits left from counters 0..200 sit where
	 * counters below far now map; all must read as unseen. */
	assert_true(replay_accept(&w, far));
	for (uint64_t k = 1; k <= REPLAY_WINDOW_SIZE; k++)
		assert_true(replay_check(&w, far - k));
	/* One further back is outside the window. */
	assert_false(replay_check(&w, far - REPLAY_WINDOW_SIZE - 1));
	assert_false(replay_accept(&w, 200));
	assert_false(replay_accept(&w, far));

	/* A jump of 2^40 forgets everything behind the window. */
	assert_true(replay_accept(&w, far + (1ull << 40)));
	assert_false(replay_accept(&w, far + 1));
	assert_true(replay_accept(&w, far + (1ull << 40) - REPLAY_WINDOW_SIZE));
	assert_false(replay_accept(&w, far + (1ull << 40) - REPLAY_WINDOW_SIZE - 1));
}

static void test_replay_check_read_only(void **state)
{
	struct replay_window w, copy;

	replay_init(&w);
	assert_true(replay_check(&w, 0));
	assert_true(replay_check(&w, 0)); /* a check records nothing */
	assert_true(replay_accept(&w, 0));
	assert_false(replay_check(&w, 0));
	assert_true(replay_accept(&w, 5000));
	copy = w;
	assert_true(replay_check(&w, 9000));
	assert_false(replay_check(&w, 5000));
	assert_memory_equal(&w, &copy, sizeof(w));

	/* replay_init forgets everything. */
	replay_init(&w);
	assert_true(replay_accept(&w, 0));
	assert_true(replay_accept(&w, 5000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replay_accept_vectors),
	    cmocka_unit_test(test_replay_accept_counter_limit),
	    cmocka_unit_test(test_replay_accept_far_jump),
	    cmocka_unit_test(test_replay_check_read_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
