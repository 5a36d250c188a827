#include "ciouring.h"

#include <liburing.h>

int ciouring_available(void) {
    struct io_uring ring;
    if (io_uring_queue_init(2, &ring, 0) < 0) return 0;
    io_uring_queue_exit(&ring);
    return 1;
}
