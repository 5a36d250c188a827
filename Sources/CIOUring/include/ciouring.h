// A small C layer over liburing (Debian's liburing-dev) for the disk probe. liburing's header
// is included only by the .c file: imported into Swift directly, its system headers clash with
// Glibc's module (fd_set defined twice), and most of its API is static inline.
#ifndef CIOURING_H
#define CIOURING_H

#include <stdint.h>

/// 1 if the kernel lets this process create an io_uring, else 0 (seccomp, old kernel).
int ciouring_available(void);

#endif
