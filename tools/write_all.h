/* SPDX-License-Identifier: MIT */
/*
 * Writing what the user relies on: every byte reaches the fd, or the caller
 * learns why. Shared by every CLI output path (results, listings, relayed
 * output, diagnostics). Tool-internal.
 */
#ifndef CUPRUM_TOOLS_WRITE_ALL_H
#define CUPRUM_TOOLS_WRITE_ALL_H

#include <stddef.h>

/*
 * Write all `len` bytes of `buf` to `fd`: short writes continue, EINTR is
 * retried, and EAGAIN (an O_NONBLOCK descriptor we inherited, shared with
 * whoever opened it, so we must not change its flags) waits in poll() for
 * the fd to become writable. Returns 0, or the errno that stopped it (EIO
 * when write() returned 0). A reader that went away raises SIGPIPE as for
 * any filter.
 */
int cli_write_all(int fd, const void *buf, size_t len);

/*
 * Make the stdio streams stdout and stderr write through cli_write_all()
 * (fopencookie), so every printf/fputs of the tool survives a non-blocking
 * descriptor and a failed write sets the stream's error flag (checked at
 * exit: "cuprum: write error: ..."). stdout stays line-buffered on a
 * terminal and fully buffered elsewhere; stderr stays unbuffered. Call once,
 * first thing in main(). Returns 0, or -1 (the original streams stay).
 */
int cli_stdio_init(void);

/* Report a failed write of the results as coreutils does ("cuprum: write
 * error: REASON") and return CLI_EXIT_FAILURE. */
int cli_write_error(int err);

#endif /* CUPRUM_TOOLS_WRITE_ALL_H */
