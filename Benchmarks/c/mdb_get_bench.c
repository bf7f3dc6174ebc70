/* The C baseline for LocalStore reads: opens the same environment read-only (MDB_RDONLY | MDB_NOTLS)
 * and looks up random keys with mdb_get, one renewed read transaction per look-up (as LocalStore's
 * withValue does), then all look-ups in one transaction. Same key sequence as shmkv-shm-bench.
 *   cc -O2 -o mdb_get_bench mdb_get_bench.c -llmdb && ./mdb_get_bench DIR KEYS READS */
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_common.h"

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s DIR KEYS READS\n", argv[0]); return 64; }
    long keys = atol(argv[2]), reads = atol(argv[3]);
    MDB_env *env; MDB_txn *txn; MDB_dbi dbi;
    CHECK(mdb_env_create(&env));
    CHECK(mdb_env_set_maxdbs(env, 8));
    CHECK(mdb_env_open(env, argv[1], MDB_RDONLY | MDB_NOTLS, 0600));
    CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
    CHECK(mdb_dbi_open(txn, "kv", 0, &dbi));
    CHECK(mdb_txn_commit(txn));  /* keeps the handle open for later transactions */
    CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
    mdb_txn_reset(txn);
    char key[13] = "key:00000000";
    for (int round = 0; round < 2; round++) {  /* the first round warms the map */
        state = 0x9E3779B97F4A7C15ULL;
        size_t bytes = 0;
        double start = now();
        for (long r = 0; r < reads; r++) {
            write_key((long)(next_random() % (uint64_t)keys), key);
            MDB_val k = { 12, key }, v;
            CHECK(mdb_txn_renew(txn));
            int rc = mdb_get(txn, dbi, &k, &v);
            if (rc == 0) bytes += v.mv_size; else if (rc != MDB_NOTFOUND) CHECK(rc);
            mdb_txn_reset(txn);
        }
        double elapsed = now() - start;
        if (round == 1)
            printf("c mdb_get (renew/get/reset): %.0f reads/s (%.0f ns/read, %zu bytes)\n", reads / elapsed, elapsed / reads * 1e9, bytes);
    }
    state = 0x9E3779B97F4A7C15ULL;
    size_t bytes = 0;
    double start = now();
    CHECK(mdb_txn_renew(txn));
    for (long r = 0; r < reads; r++) {
        write_key((long)(next_random() % (uint64_t)keys), key);
        MDB_val k = { 12, key }, v;
        int rc = mdb_get(txn, dbi, &k, &v);
        if (rc == 0) bytes += v.mv_size; else if (rc != MDB_NOTFOUND) CHECK(rc);
    }
    double elapsed = now() - start;
    printf("c mdb_get (one txn): %.0f reads/s (%.0f ns/read, %zu bytes)\n", reads / elapsed, elapsed / reads * 1e9, bytes);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return 0;
}
