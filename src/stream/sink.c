/* SPDX-License-Identifier: MIT */
/*
 * Echo sinks that never block the loop (stream_internal.h).
 *
 * The echo target is usually the caller's stdout or stderr: a file
 * description shared with the shell and every other process on it, whose
 * O_NONBLOCK flag we must not change. So the sink writes through a
 * descriptor of its own:
 *  - already O_NONBLOCK: a dup; EAGAIN comes back as it should.
 *  - a pipe, FIFO or character device (terminal): reopen /proc/self/fd/N
 *    with O_NONBLOCK. That is a new open file description on the same pipe
 *    or terminal, so the flag is ours alone. A FIFO without a reader refuses
 *    the open with ENXIO: the reader has gone, as EPIPE would say.
 *  - a socket (cannot be reopened): a dup written with send(MSG_DONTWAIT),
 *    a per-call non-blocking write.
 *  - a regular file or block device: a dup; writing waits for the disk,
 *    never for a reader.
 *  - anything else, or a reopen that fails (no /proc, a pipe another user
 *    created): a dup written in steps of at most PIPE_BUF bytes, each only
 *    after poll() said the fd is writable. A pipe reports writable when a
 *    buffer slot is free, and PIPE_BUF bytes fit one slot, so such a write
 *    does not block unless another writer fills the slot in between.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "base/internal.h"
#include "stream/stream_internal.h"

static int dup_above_stdio(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 3); }

/* Reopen a pipe or device through /proc with O_NONBLOCK; -errno on
 * failure. */
static int reopen_nonblock(int fd) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int r = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (r < 0)
    return -errno;
  if (r < 3) { /* a closed 0-2 in the caller: keep ours above them */
    int moved = dup_above_stdio(r);
    int err = errno;
    close(r);
    return moved < 0 ? -err : moved;
  }
  return r;
}

int cu__sink_open(cu__sink *k, int target) {
  *k = (cu__sink){.fd = -1, .kind = CU__SINK_NONBLOCK};
  struct stat st;
  int fl = fcntl(target, F_GETFL);
  if (fl < 0 || fstat(target, &st) < 0)
    return -errno;
  if (fl & O_NONBLOCK) {
    k->kind = CU__SINK_NONBLOCK;
  } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
    int r = reopen_nonblock(target);
    if (r == -ENXIO && S_ISFIFO(st.st_mode))
      return -EPIPE; /* a FIFO nobody reads any more */
    if (r >= 0) {
      k->fd = r;
      k->is_pipe = S_ISFIFO(st.st_mode);
      return 0;
    }
    k->kind = CU__SINK_GATED;
  } else if (S_ISSOCK(st.st_mode)) {
    k->kind = CU__SINK_SOCKET;
  } else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
    k->kind = CU__SINK_FILE;
  } else {
    k->kind = CU__SINK_GATED;
  }
  k->is_pipe = S_ISFIFO(st.st_mode);
  k->fd = dup_above_stdio(target);
  return k->fd < 0 ? -errno : 0;
}

void cu__sink_close(cu__sink *k) { k->fd = cu__close(k->fd); }

bool cu__sink_can_splice(const cu__sink *k) {
  /* splice(2) honours O_NONBLOCK on the output file only: a socket or a
   * gated fd could block in it. */
  return k->fd >= 0 &&
         (k->kind == CU__SINK_NONBLOCK || k->kind == CU__SINK_FILE);
}

ssize_t cu__sink_write(cu__sink *k, const void *p, size_t n) {
  ssize_t w;
  switch (k->kind) {
  case CU__SINK_SOCKET:
    w = send(k->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    break;
  case CU__SINK_GATED: {
    struct pollfd pfd = {.fd = k->fd, .events = POLLOUT};
    int r = poll(&pfd, 1, 0);
    if (r < 0)
      return -errno;
    if (r == 0)
      return -EAGAIN;
    w = write(k->fd, p, n < PIPE_BUF ? n : PIPE_BUF);
    break;
  }
  default:
    w = write(k->fd, p, n);
    break;
  }
  return w < 0 ? -errno : w;
}

bool cu__sink_writable(const cu__sink *k) {
  struct pollfd pfd = {.fd = k->fd, .events = POLLOUT};
  return poll(&pfd, 1, 0) != 0; /* ready, an error, or poll failed: try */
}
