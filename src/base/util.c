/* SPDX-License-Identifier: MIT */
/* Small shared helpers: strings, fds, clocks. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"

char *cu__strdup(const char *s) {
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p)
    memcpy(p, s, n);
  return p;
}

char *cu__asprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *out = NULL;
  int n = vasprintf(&out, fmt, ap);
  va_end(ap);
  return n < 0 ? NULL : out;
}

int cu__close(int fd) {
  if (fd >= 0) {
    int saved = errno;
    close(fd);
    errno = saved;
  }
  return -1;
}

int cu__fd_above2(int fd) {
  if (fd < 0 || fd > 2)
    return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int saved = errno;
  close(fd);
  errno = saved;
  return moved;
}

void cu__closep(int *fd) {
  if (fd && *fd >= 0)
    *fd = cu__close(*fd);
}

void cu__freep(void *ptr) {
  void **p = ptr;
  free(*p);
  *p = NULL;
}

struct timespec cu__now(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts;
}

int64_t cu__ts_ns(struct timespec ts) {
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t cu__mono_ns(void) { return cu__ts_ns(cu__now(CLOCK_MONOTONIC)); }
