// GNU extensions behind the declarations in CSystemShims.h (and mallopt); the rest of the shims are static inline there.
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "CSystemShims.h"

int tw_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) { return accept4(fd, addr, len, flags); }

int tw_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

long tw_cpu_count(void) { return sysconf(_SC_NPROCESSORS_ONLN); }

int tw_fix_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }

// jemalloc's compiled-in options, read at its first allocation when the executable is linked with it (Package.swift's
// `allocatorSettings`); with glibc's malloc nothing reads them. Blocks of 256 KiB and more come from its arena for
// oversized blocks, which returns their pages to the system as soon as they are freed: what tw_fix_mmap_threshold
// makes glibc do (a burst of large requests leaves no resident memory behind).
const char *malloc_conf = "oversize_threshold:262144";

int tw_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int max, int64_t timeout_ns) {
    static int no_pwait2;  // Set once the kernel said ENOSYS; a benign race between loop threads.
    struct epoll_event evs[256];
    if (max <= 0 || max > 256) max = 256;
    int n = -1;
#ifdef SYS_epoll_pwait2
    if (!no_pwait2) {
        struct timespec timeout = { (time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000) };
        n = (int)syscall(SYS_epoll_pwait2, epfd, evs, max, timeout_ns < 0 ? NULL : &timeout, NULL, 0);
        if (n < 0 && errno == ENOSYS) no_pwait2 = 1;
    }
#else
    no_pwait2 = 1;
#endif
    if (no_pwait2) {
        int timeout_ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
        n = epoll_wait(epfd, evs, max, timeout_ms);
    }
    for (int i = 0; i < n; i++) {
        events[i] = evs[i].events;
        data[i] = evs[i].data.u64;
    }
    return n;
}
