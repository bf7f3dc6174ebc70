/* What the C baselines share: the xorshift64* key sequence (the same as shmkv-shm-bench's), a monotonic
 * clock, keys "key:NNNNNNNN", and a check that stops on an LMDB error. */
#ifndef SHMKV_BENCH_COMMON_H
#define SHMKV_BENCH_COMMON_H
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t state = 0x9E3779B97F4A7C15ULL;
static uint64_t next_random(void) {
    state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
    return state * 2685821657736338717ULL;
}
static double now(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
static void write_key(long i, char *key) {
    for (int p = 11; p >= 4; p--) { key[p] = '0' + i % 10; i /= 10; }
}
#define CHECK(x) do { int rc_ = (x); if (rc_) { fprintf(stderr, "%s: %s\n", #x, mdb_strerror(rc_)); exit(1); } } while (0)
#endif
