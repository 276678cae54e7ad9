// What Swift's Glibc module does not expose: epoll, eventfd and accept4.
// Thin wrappers only; errno is left for the Swift side to read.
#ifndef C_SYSTEM_SHIMS_H
#define C_SYSTEM_SHIMS_H


#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static inline int tw_errno(void) { return errno; }

/// accept4 and pthread_setname_np are GNU extensions: defined in shims.c, which asks for _GNU_SOURCE itself so
/// that this header sees the same libc declarations as Swift's Glibc module.
int tw_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int tw_set_thread_name(const char *name);
/// Online processors.
long tw_cpu_count(void);
/// Blocks of `bytes` and more are mapped for themselves and unmapped when freed (glibc's M_MMAP_THRESHOLD, fixed:
/// no longer raised to the largest block freed). 1 on success.
int tw_fix_mmap_threshold(int bytes);

static inline int tw_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static inline int tw_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = { .events = events, .data = { .u64 = data } };
    return epoll_ctl(epfd, op, fd, &ev);
}

/// Waits for events at most `timeout_ns` nanoseconds (negative: forever); writes up to `max` (events, data) pairs
/// into the two arrays. epoll_event is a packed struct on x86_64, so Swift never touches it directly. Uses
/// epoll_pwait2 (Linux 5.11), whose timeout is not rounded up to a millisecond; falls back to epoll_wait.
int tw_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int max, int64_t timeout_ns);

static inline int tw_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

static inline uint64_t tw_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
