/* SPDX-License-Identifier: MIT */
/* Cancellation tokens: an eventfd any thread (or signal handler) can poke. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/internal.h"
#include "runtime/job.h"

struct cu_cancel {
  int fd;
  atomic_bool triggered;
};

int cu_cancel_new(cu_cancel **ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_cancel_new: ret is NULL");
  cu_cancel *c = calloc(1, sizeof *c);
  if (!c)
    return cu__fail(CU_ENOMEM, "allocating a cancel token");
  c->fd = cu__fd_above2(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (c->fd < 0) {
    int err = errno;
    free(c);
    return cu__fail_errno(CU_ESYS, err, "eventfd");
  }
  atomic_init(&c->triggered, false);
  *ret = c;
  return 0;
}

void cu_cancel_trigger(cu_cancel *c) {
  if (!c || atomic_exchange(&c->triggered, true))
    return;
  /* Never read back: the fd stays readable, so every run watching a dup of
   * it sees the cancel, however late it started watching. */
  uint64_t one = 1;
  ssize_t n = write(c->fd, &one, sizeof one);
  (void)n;
}

bool cu_cancel_triggered(const cu_cancel *c) {
  return c && atomic_load(&((cu_cancel *)c)->triggered);
}

int cu__cancel_fd(const cu_cancel *c) { return c->fd; }

cu_cancel *cu_cancel_free(cu_cancel *c) {
  if (c) {
    cu__close(c->fd);
    free(c);
  }
  return NULL;
}
