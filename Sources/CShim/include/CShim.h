#ifndef SHMKV_CSHIM_H
#define SHMKV_CSHIM_H

// Linux interfaces Swift's Glibc module does not export (epoll, eventfd, futex),
// and thin helpers for the parts Swift cannot call directly (variadic syscall, packed structs).

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <linux/futex.h>
#include <time.h>

/// epoll_event is packed on x86_64; Swift sees this plain struct instead.
typedef struct shim_epoll_event {
    uint32_t events;
    uint64_t data;
} shim_epoll_event;

int shim_epoll_create(void);
int shim_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// Waits like epoll_wait and unpacks up to `max` events into `out`.
int shim_epoll_wait(int epfd, shim_epoll_event *out, int max, int timeout_ms);

int shim_eventfd(unsigned int initval, int flags);

/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC (a GNU extension Swift does not see).
int shim_accept4(int fd);
/// Names the calling thread (pthread_setname_np, GNU).
void shim_set_thread_name(const char *name);

/// FUTEX_WAIT on a shared (not process-private) futex word, with an optional relative timeout.
int shim_futex_wait(uint32_t *addr, uint32_t expected, const struct timespec *timeout);
/// FUTEX_WAKE on a shared futex word; returns the number of waiters woken.
int shim_futex_wake(uint32_t *addr, int count);

/// The epoll flag constants, as plain values (some are macros Swift does not import).
static const uint32_t SHIM_EPOLLIN = EPOLLIN;
static const uint32_t SHIM_EPOLLOUT = EPOLLOUT;
static const uint32_t SHIM_EPOLLERR = EPOLLERR;
static const uint32_t SHIM_EPOLLHUP = EPOLLHUP;
static const uint32_t SHIM_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t SHIM_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;
static const int SHIM_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
static const int SHIM_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
static const int SHIM_EPOLL_CTL_DEL = EPOLL_CTL_DEL;
static const int SHIM_EFD_NONBLOCK = EFD_NONBLOCK;
static const int SHIM_EFD_CLOEXEC = EFD_CLOEXEC;

#endif
