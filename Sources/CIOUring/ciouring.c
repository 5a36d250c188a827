#define _GNU_SOURCE
#include "ciouring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <linux/fs.h>
#include <liburing.h>

int ciouring_available(void) {
    struct io_uring ring;
    if (io_uring_queue_init(2, &ring, 0) < 0) return 0;
    io_uring_queue_exit(&ring);
    return 1;
}

struct ciouring {
    struct io_uring ring;
    int fd;              // the fd, or 0 (the fixed-file index) when registered
    int fixed_file;
    unsigned setup_flags;
};

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif

ciouring *ciouring_create(unsigned entries, int fd, int *error) {
    ciouring *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        if (error) *error = -ENOMEM;
        return NULL;
    }
    // Newest first: completions processed only when this thread waits (fewest interrupts),
    // then cooperative task work, then a plain ring (older kernels).
    static const struct {
        unsigned kernel;
        unsigned ours;
    } attempts[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
         CIOURING_SETUP_SINGLE_ISSUER | CIOURING_SETUP_DEFER_TASKRUN},
        {IORING_SETUP_COOP_TASKRUN, CIOURING_SETUP_COOP_TASKRUN},
        {0, 0},
    };
    int ret = -EINVAL;
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        struct io_uring_params params = {0};
        params.flags = attempts[i].kernel;
        ret = io_uring_queue_init_params(entries, &r->ring, &params);
        if (ret == 0) {
            r->setup_flags = attempts[i].ours;
            break;
        }
        if (ret != -EINVAL) break;
    }
    if (ret < 0) {
        free(r);
        if (error) *error = ret;
        return NULL;
    }
    if (io_uring_register_files(&r->ring, &fd, 1) == 0) {
        r->fd = 0;
        r->fixed_file = 1;
    } else {
        r->fd = fd;
        r->fixed_file = 0;
    }
    if (error) *error = 0;
    return r;
}

void ciouring_destroy(ciouring *r) {
    if (r == NULL) return;
    io_uring_queue_exit(&r->ring);
    free(r);
}

unsigned ciouring_setup_flags(const ciouring *r) { return r->setup_flags; }

int ciouring_file_is_registered(const ciouring *r) { return r->fixed_file; }

int ciouring_register_buffers(ciouring *r, void *const *buffers, size_t length, unsigned count) {
    struct iovec *iov = calloc(count, sizeof(*iov));
    if (iov == NULL) return -ENOMEM;
    for (unsigned i = 0; i < count; i++) {
        iov[i].iov_base = buffers[i];
        iov[i].iov_len = length;
    }
    int ret = io_uring_register_buffers(&r->ring, iov, count);
    free(iov);
    return ret;
}

unsigned ciouring_queue(ciouring *r, const ciouring_request *requests, unsigned count) {
    unsigned queued = 0;
    for (; queued < count; queued++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
        if (sqe == NULL) break;
        const ciouring_request *q = &requests[queued];
        switch (q->opcode) {
        case CIOURING_OP_READ:
            if (q->buffer_index >= 0)
                io_uring_prep_read_fixed(sqe, r->fd, q->buffer, q->length, q->offset, q->buffer_index);
            else
                io_uring_prep_read(sqe, r->fd, q->buffer, q->length, q->offset);
            break;
        case CIOURING_OP_WRITE:
            if (q->buffer_index >= 0)
                io_uring_prep_write_fixed(sqe, r->fd, q->buffer, q->length, q->offset, q->buffer_index);
            else
                io_uring_prep_write(sqe, r->fd, q->buffer, q->length, q->offset);
            break;
        case CIOURING_OP_FSYNC:
            io_uring_prep_fsync(sqe, r->fd, 0);
            break;
        default:
            io_uring_prep_fsync(sqe, r->fd, IORING_FSYNC_DATASYNC);
            break;
        }
        if (r->fixed_file) sqe->flags |= IOSQE_FIXED_FILE;
        io_uring_sqe_set_data64(sqe, q->user_data);
    }
    return queued;
}

int ciouring_submit_and_wait(ciouring *r, unsigned wait_nr, int64_t timeout_ns) {
    if (timeout_ns <= 0) return io_uring_submit_and_wait(&r->ring, wait_nr);
    struct __kernel_timespec ts = {
        .tv_sec = timeout_ns / 1000000000,
        .tv_nsec = timeout_ns % 1000000000,
    };
    struct io_uring_cqe *cqe = NULL;
    int ret = io_uring_submit_and_wait_timeout(&r->ring, &cqe, wait_nr, &ts, NULL);
    return ret;
}

unsigned ciouring_reap(ciouring *r, ciouring_completion *out, unsigned max) {
    struct io_uring_cqe *cqes[64];
    unsigned total = 0;
    while (total < max) {
        unsigned want = max - total;
        if (want > 64) want = 64;
        unsigned n = io_uring_peek_batch_cqe(&r->ring, cqes, want);
        if (n == 0) break;
        for (unsigned i = 0; i < n; i++) {
            out[total + i].user_data = io_uring_cqe_get_data64(cqes[i]);
            out[total + i].result = cqes[i]->res;
        }
        io_uring_cq_advance(&r->ring, n);
        total += n;
    }
    return total;
}

int ciouring_block_device_size(int fd, uint64_t *bytes) {
    if (ioctl(fd, BLKGETSIZE64, bytes) < 0) return -errno;
    return 0;
}

int ciouring_block_device_logical_block_size(int fd, uint32_t *bytes) {
    int size = 0;
    if (ioctl(fd, BLKSSZGET, &size) < 0) return -errno;
    *bytes = (uint32_t)size;
    return 0;
}

int ciouring_o_direct_flag(void) { return O_DIRECT; }
