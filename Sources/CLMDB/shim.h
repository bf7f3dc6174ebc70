#ifndef SHMKV_CLMDB_SHIM_H
#define SHMKV_CLMDB_SHIM_H
#include <lmdb.h>
#endif
