/* Stand-alone driver for the libFuzzer harnesses, used when the build is not
 * made with -fsanitize=fuzzer: it feeds every file of the seed corpus, then a
 * fixed number of deterministic mutations of each (bit flips, truncations,
 * byte insertions), so CTest runs every parser on hostile input on every
 * build. The mutations share a fixed budget, so that a corpus grown by
 * tools/fuzz still replays in seconds: every file runs as it is, and as
 * many mutations of each as the budget allows (between MUTATIONS_MIN and
 * MUTATIONS). Exit status 0 means no crash; sanitizer builds turn memory
 * errors into crashes. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	FUZZ_INPUT_MAX = 65536,
	MUTATIONS = 2000,
	MUTATIONS_MIN = 20,
	MUTATION_BUDGET = 100000,
};

static int mutations = MUTATIONS;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void mutate_and_run(const uint8_t *seed, size_t len)
{
	static uint8_t buf[FUZZ_INPUT_MAX + 16];

	for (int i = 0; i < mutations; i++) {
		size_t n = len;
		memcpy(buf, seed, len);
		switch (rng() % 4) {
		case 0: /* flip bits */
			for (int k = 0; k < 1 + (int)(rng() % 4) && n; k++)
				buf[rng() % n] ^= (uint8_t)(1u << (rng() % 8));
			break;
		case 1: /* truncate */
			n = n ? rng() % n : 0;
			break;
		case 2: /* overwrite a byte with an edge value */
			if (n)
				buf[rng() % n] = (uint8_t[]){ 0, 1, 0x7f, 0x80, 0xff }[rng() % 5];
			break;
		case 3: /* grow with random bytes */
			for (int k = 0; k < 8 && n < FUZZ_INPUT_MAX; k++)
				buf[n++] = (uint8_t)rng();
			break;
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
}

static int run_file(const char *path)
{
	static uint8_t buf[FUZZ_INPUT_MAX];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	mutate_and_run(buf, n);
	return 0;
}

/* Files the arguments name (a directory counts its entries). */
static int count_inputs(int argc, char **argv)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *de;

		if (!d) {
			n++;
			continue;
		}
		while ((de = readdir(d)))
			n += de->d_name[0] != '.';
		closedir(d);
	}
	return n;
}

int main(int argc, char **argv)
{
	int files = 0, inputs = count_inputs(argc, argv);
	int share = inputs > 0 ? MUTATION_BUDGET / inputs : MUTATIONS;

	if (share < MUTATIONS)
		mutations = share > MUTATIONS_MIN ? share : MUTATIONS_MIN;
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *de;

		if (!d) {
			if (run_file(argv[i]) == 0)
				files++;
			continue;
		}
		while ((de = readdir(d))) {
			char path[4096];
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
			if (run_file(path) == 0)
				files++;
		}
		closedir(d);
	}
	/* An empty input is a case of its own. */
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	printf("%d seed files, %d runs each: no crash\n", files, mutations + 1);
	return files > 0 ? 0 : 1;
}
