#define _GNU_SOURCE
#include "CShim.h"
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <pthread.h>

int shim_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int shim_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int shim_epoll_wait(int epfd, shim_epoll_event *out, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        out[i].events = evs[i].events;
        out[i].data = evs[i].data.u64;
    }
    return n;
}

int shim_eventfd(unsigned int initval, int flags) {
    return eventfd(initval, flags);
}

int shim_futex_wait(uint32_t *addr, uint32_t expected, const struct timespec *timeout) {
    return (int)syscall(SYS_futex, addr, FUTEX_WAIT, expected, timeout, NULL, 0);
}

int shim_futex_wake(uint32_t *addr, int count) {
    return (int)syscall(SYS_futex, addr, FUTEX_WAKE, count, NULL, NULL, 0);
}

int shim_accept4(int fd) {
    return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void shim_set_thread_name(const char *name) {
    pthread_setname_np(pthread_self(), name);
}
