// GNU extensions behind the declarations in CSystemShims.h; the rest of the shims are static inline there.
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "CSystemShims.h"

int tw_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) { return accept4(fd, addr, len, flags); }

int tw_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

long tw_cpu_count(void) { return sysconf(_SC_NPROCESSORS_ONLN); }
