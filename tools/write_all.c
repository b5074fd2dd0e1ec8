/* SPDX-License-Identifier: MIT */
/* Complete writes on any descriptor, and stdio streams that use them. */
#include "write_all.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n == 0)
      return EIO;
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return errno;
    /* Non-blocking and full: wait for the reader, however slow. */
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
      return errno;
  }
  return 0;
}

#ifdef __GLIBC__
static ssize_t cookie_write(void *cookie, const char *buf, size_t len) {
  int fd = (int)(intptr_t)cookie;
  int err = cli_write_all(fd, buf, len);
  if (err != 0) {
    errno = err;
    return 0; /* fopencookie: 0 is the error; the stream's flag is set */
  }
  return (ssize_t)len;
}

static FILE *wrap(int fd, int mode) {
  cookie_io_functions_t io = {.write = cookie_write};
  FILE *f = fopencookie((void *)(intptr_t)fd, "w", io);
  if (f && setvbuf(f, NULL, mode, mode == _IONBF ? 0 : BUFSIZ) != 0) {
    fclose(f);
    f = NULL;
  }
  return f;
}
#endif

int cli_stdio_init(void) {
#ifndef __GLIBC__
  /* Only glibc documents stdout and stderr as assignable variables; musl
   * declares them `FILE *const`. There the original streams stay: a write
   * to a descriptor someone else left O_NONBLOCK can fail with EAGAIN
   * (reported as a write error). docs/portability.md. */
  return -1;
#else
  FILE *out = wrap(STDOUT_FILENO, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF);
  FILE *err = out ? wrap(STDERR_FILENO, _IONBF) : NULL;
  if (!out || !err) {
    if (out)
      fclose(out);
    return -1;
  }
  /* glibc's stdout and stderr are ordinary variables (documented as such):
   * the originals stay open, unused, so fds 1 and 2 are not closed. */
  stdout = out;
  stderr = err;
  return 0;
#endif
}

int cli_write_error(int err) {
  cli_error("write error: %s", strerror(err ? err : EIO));
  return CLI_EXIT_FAILURE;
}
