/* The C baseline for the daemon's writes: the rate raw LMDB reaches on this machine when nothing but
 * LMDB runs. A fresh environment (no MDB_WRITEMAP, like shmkvd) is preloaded with KEYS keys of 100-byte
 * values, then random keys are overwritten in batches of B puts per write transaction, for each batch
 * size and each sync mode shmkvd offers:
 *   volatile  MDB_NOSYNC          (the OS writes the pages back when it likes)
 *   vol+wmap  MDB_NOSYNC | MDB_WRITEMAP (pages changed in place in the map: shmkvd's volatile mode)
 *   fast      MDB_NOMETASYNC      (data pages synced at each commit, the meta page at the next)
 *   durable   (neither)           (both synced at each commit: what survives power loss)
 *   dur+log   MDB_NOMETASYNC, each commit's puts also written to a preallocated log file synced by a
 *             second thread while LMDB commits (shmkvd's durable mode: one sync's latency per commit)
 * and, at B=1, volatile with a child transaction around each put (what the writer did before).
 *   cc -O2 -o mdb_put_bench mdb_put_bench.c -llmdb -lpthread && ./mdb_put_bench DIR [KEYS] [SECONDS] [B,B,...]
 * Prints one line per measurement: mode, B, puts/s, commits/s. Numbers, never pass or fail. */
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"

static MDB_env *open_env(const char *dir, unsigned flags) {
    MDB_env *env;
    CHECK(mdb_env_create(&env));
    CHECK(mdb_env_set_maxdbs(env, 8));
    CHECK(mdb_env_set_mapsize(env, (size_t)1 << 30));
    CHECK(mdb_env_open(env, dir, MDB_NOTLS | flags, 0600));
    return env;
}

/* dur+log: the log file, and a thread that writes and syncs one record per commit while LMDB commits. */
#define LOG_SIZE (8 << 20)
static int log_fd = -1;
static char log_record[1 << 20];
static size_t log_length, log_offset;
static sem_t log_start, log_done;
static void *log_writer(void *unused) {
    (void)unused;
    for (;;) {
        sem_wait(&log_start);
        if (log_offset + log_length > LOG_SIZE) log_offset = 0;
        if (pwrite(log_fd, log_record, log_length, (off_t)log_offset) != (ssize_t)log_length || fdatasync(log_fd) != 0) {
            perror("log write");
            exit(1);
        }
        log_offset += log_length;
        sem_post(&log_done);
    }
    return NULL;
}
static void open_log(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/redo.log", dir);
    log_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (log_fd < 0) { perror(path); exit(1); }
    /* Written once with zeros, so that each record later overwrites allocated blocks. */
    static char zeros[1 << 20];
    for (int i = 0; i < LOG_SIZE / (1 << 20); i++) if (write(log_fd, zeros, sizeof zeros) != sizeof zeros) { perror("log"); exit(1); }
    fsync(log_fd);
    sem_init(&log_start, 0, 0);
    sem_init(&log_done, 0, 0);
    pthread_t thread;
    pthread_create(&thread, NULL, log_writer, NULL);
}

/* Overwrites random keys for `seconds`, `batch` puts per transaction (each in a child when `nested`). */
static void measure(const char *dir, const char *mode, unsigned flags, long keys, int batch, int nested, double seconds) {
    int logged = strcmp(mode, "dur+log") == 0;
    MDB_env *env = open_env(dir, flags);
    MDB_txn *txn, *child;
    MDB_dbi dbi;
    CHECK(mdb_txn_begin(env, NULL, 0, &txn));
    CHECK(mdb_dbi_open(txn, "kv", MDB_CREATE, &dbi));
    CHECK(mdb_txn_commit(txn));
    char key[13] = "key:00000000", value[100];
    memset(value, 'v', sizeof value);
    long puts = 0, commits = 0;
    double start = now(), elapsed = 0;
    while ((elapsed = now() - start) < seconds) {
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        log_length = 0;
        for (int i = 0; i < batch; i++) {
            write_key((long)(next_random() % (uint64_t)keys), key);
            value[0] = (char)('a' + puts % 26);
            MDB_val k = { 12, key }, v = { sizeof value, value };
            if (nested) {
                CHECK(mdb_txn_begin(env, txn, 0, &child));
                CHECK(mdb_put(child, dbi, &k, &v, 0));
                CHECK(mdb_txn_commit(child));
            } else {
                CHECK(mdb_put(txn, dbi, &k, &v, 0));
            }
            if (logged && log_length + 128 <= sizeof log_record) {
                memcpy(log_record + log_length, key, 12);
                memcpy(log_record + log_length + 12, value, sizeof value);
                log_length += 128;
            }
            puts++;
        }
        if (logged) {
            log_length = (log_length + 40 + 511) & ~(size_t)511;
            sem_post(&log_start);
        }
        CHECK(mdb_txn_commit(txn));
        if (logged) sem_wait(&log_done);
        commits++;
    }
    printf("%-8s %-6s B=%-5d %9.0f puts/s %8.0f commits/s\n", mode, nested ? "child" : "", batch, puts / elapsed, commits / elapsed);
    fflush(stdout);
    mdb_env_sync(env, 1);
    mdb_env_close(env);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s DIR [KEYS] [SECONDS] [B,B,...]\n", argv[0]); return 64; }
    const char *dir = argv[1];
    long keys = argc > 2 ? atol(argv[2]) : 100000;
    double seconds = argc > 3 ? atof(argv[3]) : 2;
    const char *sizes = argc > 4 ? argv[4] : "1,16,50,800";
    mkdir(dir, 0700);
    /* Preload every key once, in large transactions. */
    MDB_env *env = open_env(dir, MDB_NOSYNC);
    MDB_txn *txn;
    MDB_dbi dbi;
    char key[13] = "key:00000000", value[100];
    memset(value, 'v', sizeof value);
    for (long i = 0; i < keys; i += 10000) {
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        CHECK(mdb_dbi_open(txn, "kv", MDB_CREATE, &dbi));
        for (long j = i; j < i + 10000 && j < keys; j++) {
            write_key(j, key);
            MDB_val k = { 12, key }, v = { sizeof value, value };
            CHECK(mdb_put(txn, dbi, &k, &v, 0));
        }
        CHECK(mdb_txn_commit(txn));
    }
    CHECK(mdb_env_sync(env, 1));
    mdb_env_close(env);
    printf("raw %s: %ld keys of 100 bytes, random overwrites, %.0f s per line\n", mdb_version(NULL, NULL, NULL), keys, seconds);
    struct { const char *name; unsigned flags; } modes[] = {
        { "volatile", MDB_NOSYNC }, { "vol+wmap", MDB_NOSYNC | MDB_WRITEMAP }, { "fast", MDB_NOMETASYNC }, { "durable", 0 },
        { "dur+log", MDB_NOMETASYNC } };
    open_log(dir);
    for (int m = 0; m < 5; m++) {
        char list[256];
        snprintf(list, sizeof list, "%s", sizes);
        for (char *b = strtok(list, ","); b; b = strtok(NULL, ",")) measure(dir, modes[m].name, modes[m].flags, keys, atoi(b), 0, seconds);
    }
    measure(dir, "volatile", MDB_NOSYNC, keys, 1, 1, seconds);
    return 0;
}
