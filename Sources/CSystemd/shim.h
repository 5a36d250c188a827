#ifndef NODEAGENT_CSYSTEMD_SHIM_H
#define NODEAGENT_CSYSTEMD_SHIM_H
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

/// stdout is block-buffered under a pipe or the journal; line buffering makes every line
/// appear when it is written. (Swift 6 cannot touch the C global `stdout` safely.)
static inline void nodeagent_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
#endif
