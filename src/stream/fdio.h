/* SPDX-License-Identifier: MIT */
/*
 * fd primitives shared by the stream engine's files and by the runtime's
 * event loop (the SIGPIPE guard), implemented in fdio.c. Not installed.
 */
#ifndef CUPRUM_FDIO_H
#define CUPRUM_FDIO_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Whether fd is a pipe or FIFO. */
bool cu__fd_is_pipe(int fd);

/* Block until fd is ready for `events` (POLLIN/POLLOUT); 0 or -errno. */
int cu__wait_fd(int fd, short events);

/* Write all n bytes (EINTR retried, EAGAIN polled, short writes resumed).
 * Returns 0 or -errno; *ret_done (may be NULL) = bytes written either way. */
int cu__write_all(int fd, const void *p, size_t n, size_t *ret_done);

/* SIGPIPE is blocked around writes the engine does, so a closed reader
 * shows up as EPIPE instead of killing the process; a SIGPIPE the engine
 * caused is consumed before the old mask returns. */
typedef struct cu__sigpipe_guard {
  sigset_t old;
  bool was_pending;
} cu__sigpipe_guard;

void cu__sigpipe_block(cu__sigpipe_guard *g);
void cu__sigpipe_restore(cu__sigpipe_guard *g, bool got_epipe);

/* splice(2) wrapper: -errno on failure (-ENOSYS when compiled out). */
ssize_t cu__splice(int in, int out, size_t len, unsigned flags);

/* Errors that mean "this fd pair cannot be spliced", as opposed to an I/O
 * failure: fall back to read/write for this pair. */
bool cu__splice_refused(int err);

#endif /* CUPRUM_FDIO_H */
