/* SPDX-License-Identifier: MIT */
/*
 * The fd primitives the whole stream engine shares (and the runtime's loop
 * uses for its SIGPIPE guard): pipe test, poll wait, write_all, the SIGPIPE
 * guard and the splice wrapper. They sit below the backend choice
 * (backend.c probes splice with cu__splice) and the pumps (pump.c,
 * outstream.c, relay.c), so none of those need each other for them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stream/fdio.h"

bool cu__fd_is_pipe(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

int cu__wait_fd(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events};
  for (;;) {
    int n = poll(&p, 1, -1);
    if (n > 0)
      return 0; /* ready, or POLLERR/POLLHUP: the next call reports it */
    if (n < 0 && errno != EINTR)
      return -errno;
  }
}

int cu__write_all(int fd, const void *p, size_t n, size_t *ret_done) {
  const char *c = p;
  size_t done = 0;
  int rc = 0;
  while (done < n) {
    ssize_t w = write(fd, c + done, n - done);
    if (w > 0) {
      done += (size_t)w;
    } else if (w < 0 && errno == EAGAIN) {
      if ((rc = cu__wait_fd(fd, POLLOUT)) != 0)
        break;
    } else if (!(w < 0 && errno == EINTR)) {
      rc = w < 0 ? -errno : -EIO;
      break;
    }
  }
  if (ret_done)
    *ret_done = done;
  return rc;
}

void cu__sigpipe_block(cu__sigpipe_guard *g) {
  sigset_t set, pending;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  g->was_pending =
      sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

void cu__sigpipe_restore(cu__sigpipe_guard *g, bool got_epipe) {
  if (got_epipe && !g->was_pending) {
    /* The write that failed with EPIPE queued a SIGPIPE for this thread;
     * take it so unblocking does not deliver it. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

ssize_t cu__splice(int in, int out, size_t len, unsigned flags) {
#ifdef CUPRUM_NO_SPLICE
  (void)in, (void)out, (void)len, (void)flags;
  return -ENOSYS;
#else
  ssize_t n = splice(in, NULL, out, NULL, len, flags);
  return n < 0 ? -errno : n;
#endif
}

bool cu__splice_refused(int err) {
  /* EINVAL: a file type without splice support or neither fd a pipe;
   * ENOSYS/EOPNOTSUPP/EPERM: the kernel or a filter said no. A failed
   * splice moved nothing, so falling back loses no byte. */
  return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP ||
         err == EPERM || err == EXDEV;
}
