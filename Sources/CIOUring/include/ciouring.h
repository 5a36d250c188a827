// A small C layer over liburing (Debian's liburing-dev) for the disk probe. liburing's header
// is included only by the .c file: imported into Swift directly, its system headers clash with
// Glibc's module (fd_set defined twice), and most of its API is static inline.
//
// A ring here is one io_uring used by one thread (it is created with SINGLE_ISSUER and
// DEFER_TASKRUN when the kernel has them), working on one file descriptor (registered as fixed
// file 0 when the kernel allows it) and on buffers registered once (fixed buffers).
#ifndef CIOURING_H
#define CIOURING_H

#include <stddef.h>
#include <stdint.h>

/// 1 if the kernel lets this process create an io_uring, else 0 (seccomp, old kernel).
int ciouring_available(void);

/// An io_uring with its file and buffers (opaque).
typedef struct ciouring ciouring;

/// Operations a request can carry.
enum {
    CIOURING_OP_READ = 0,
    CIOURING_OP_WRITE = 1,
    CIOURING_OP_FSYNC = 2,
    CIOURING_OP_FDATASYNC = 3,
};

/// Setup flags the ring was created with (`ciouring_setup_flags`).
enum {
    CIOURING_SETUP_SINGLE_ISSUER = 1u << 0,
    CIOURING_SETUP_DEFER_TASKRUN = 1u << 1,
    CIOURING_SETUP_COOP_TASKRUN = 1u << 2,
};

/// One I/O to queue. `buffer_index` is the index of a registered buffer that contains
/// [buffer, buffer + length), or -1 for an unregistered buffer. fsync ignores buffer, length
/// and offset.
typedef struct {
    void *buffer;
    uint64_t offset;
    uint64_t user_data;
    uint32_t length;
    int32_t buffer_index;
    uint8_t opcode;
} ciouring_request;

/// One completion: the request's user_data and its result (bytes transferred, or -errno).
typedef struct {
    uint64_t user_data;
    int32_t result;
} ciouring_completion;

/// Creates a ring with room for `entries` submissions (rounded up to a power of two by the
/// kernel) on `fd`. Returns NULL and sets *error to -errno on failure.
ciouring *ciouring_create(unsigned entries, int fd, int *error);

/// Closes the ring (not the file descriptor) and frees it. NULL is ignored.
void ciouring_destroy(ciouring *ring);

/// CIOURING_SETUP_* flags the ring was created with.
unsigned ciouring_setup_flags(const ciouring *ring);

/// 1 if the file descriptor is registered (fixed file), else 0.
int ciouring_file_is_registered(const ciouring *ring);

/// Registers `count` buffers (`buffers[i]`, each `length` bytes) as fixed buffers 0..<count.
/// Returns 0 or -errno (e.g. -ENOMEM when RLIMIT_MEMLOCK is too small).
int ciouring_register_buffers(ciouring *ring, void *const *buffers, size_t length, unsigned count);

/// Queues up to `count` requests (not yet submitted). Returns how many were queued: fewer than
/// `count` when the submission queue is full.
unsigned ciouring_queue(ciouring *ring, const ciouring_request *requests, unsigned count);

/// Submits everything queued and waits until at least `wait_nr` completions are available or
/// `timeout_ns` nanoseconds passed (timeout_ns <= 0: no timeout). Returns the number of
/// requests submitted, -ETIME on timeout, or another -errno.
int ciouring_submit_and_wait(ciouring *ring, unsigned wait_nr, int64_t timeout_ns);

/// Copies up to `max` available completions to `out` and marks them seen. Returns the count.
unsigned ciouring_reap(ciouring *ring, ciouring_completion *out, unsigned max);

/// Size in bytes of the block device open as `fd` (BLKGETSIZE64). Returns 0 or -errno.
int ciouring_block_device_size(int fd, uint64_t *bytes);

/// Logical block size of the block device open as `fd` (BLKSSZGET). Returns 0 or -errno.
int ciouring_block_device_logical_block_size(int fd, uint32_t *bytes);

/// The open(2) flag O_DIRECT (not exported by Swift's Glibc module; its value is per architecture).
int ciouring_o_direct_flag(void);

#endif
