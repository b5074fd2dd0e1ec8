/* SPDX-License-Identifier: MIT */
/*
 * The runtime's side of the stream engine: how the event loop hands bytes
 * from a child's pipe to capture, echo and line observers, and feeds stdin.
 * Everything here runs on the loop's thread and nothing blocks: the child's
 * pipe is O_NONBLOCK, and an echo fd is written through a sink of the
 * stream's own that never waits for its reader (sink.c). Only an echo
 * callback, which is the caller's code, can block the loop.
 *
 * Implemented in outstream.c on top of the backends (pump.c, backend.c),
 * the UTF-8 decoder (utf8.c) and the line splitter (lines.c).
 */
#ifndef CUPRUM_OUTSTREAM_H
#define CUPRUM_OUTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cuprum/run.h"
#include "cuprum/stream.h"

/* Called once per complete line: UTF-8 (invalid bytes replaced by U+FFFD),
 * without terminator, NUL-terminated; flags are CU_LINE_*. */
typedef void (*cu__line_fn)(void *userdata, const char *line, size_t len,
                            unsigned flags);

typedef struct cu__outstream_cfg {
  bool capture;                /* collect into memory */
  size_t max_capture;          /* 0 = unlimited */
  cu_overflow_policy overflow; /* TRUNCATE keeps draining; FAIL flags it */
  int echo_fd;                 /* -1 = no fd echo */
  cu_sink_fn echo_cb;          /* NULL = none; overrides echo_fd */
  void *echo_data;
  cu__line_fn on_line;         /* NULL = no line splitting at all */
  void *line_data;
  cu_stream_backend backend;   /* SPLICE or READWRITE (AUTO is resolved) */
} cu__outstream_cfg;

typedef struct cu__outstream cu__outstream; /* opaque, heap-allocated */

/* Create. Errors: CU_ENOMEM, CU_EINVAL, CU_EBACKEND (backend unusable). */
int cu__outstream_new(const cu__outstream_cfg *cfg, cu__outstream **ret);

/* cu__outstream_drain(): the echo fd is full; wait until
 * cu__outstream_sink_fd() is writable, then drain again. */
#define CU__OUT_WAIT_SINK 3

/*
 * Move what is available on the non-blocking read end `fd` to the sinks.
 * Bounded work per call (about 1 MiB) so one busy stream cannot starve the
 * others; the loop is level-triggered and calls again.
 * Returns 1 at EOF, 0 when it stopped (EAGAIN or its budget),
 * CU__OUT_WAIT_SINK when the echo fd is full (the bytes already read are
 * kept, at most one read's worth, and nothing more is read until a drain
 * call has sent them: the caller stops watching `fd` and watches the sink
 * for writability), or a negative CU_E* code (CU_EIO with errno in the
 * message) on a read error.
 * Echo failures (EPIPE on the echo fd, a callback returning non-zero) stop
 * echoing but never stop draining.
 */
int cu__outstream_drain(cu__outstream *s, int fd);

/* Whether the last drain stopped on a full echo fd. */
bool cu__outstream_stalled(const cu__outstream *s);

/* The fd to watch for writability while stalled (-1 when no fd echo). */
int cu__outstream_sink_fd(const cu__outstream *s);

/* The run is over: drop the unsent echo bytes (returns how many). */
size_t cu__outstream_abandon(cu__outstream *s);

/* Bytes the caller read itself (a pipeline relay): capture and lines only,
 * no echo. */
void cu__outstream_feed(cu__outstream *s, const char *p, size_t n);

/* The errno of an echo write that failed for a reason other than EPIPE
 * (the reader leaving is its right), or 0: echo bytes were lost, which the
 * run must report. */
int cu__outstream_echo_errno(const cu__outstream *s);

/* True once max_capture was exceeded under CU_OVERFLOW_FAIL. */
bool cu__outstream_overflowed(const cu__outstream *s);

/* True when draining only reads into memory: no echo and no line
 * callbacks, so nothing on this stream can write and raise SIGPIPE. */
bool cu__outstream_quiet(const cu__outstream *s);

/* True when nobody wants the bytes any more: not capturing and the echo
 * failed (its reader went away, or the callback asked to stop); line
 * observers do not keep it alive. The runtime then closes its read end, so
 * the child gets SIGPIPE as in a shell pipeline. */
bool cu__outstream_unwanted(const cu__outstream *s);

/* At EOF (or when the run is torn down): deliver a final partial line. */
void cu__outstream_finish(cu__outstream *s);

/* Move the captured bytes into `out` ("" when nothing); total bytes seen. */
int cu__outstream_take(cu__outstream *s, cu_bytes *out);

/* Release (NULL ignored). */
void cu__outstream_free(cu__outstream *s);

/* Feeding a child's stdin from memory. */
typedef struct cu__feeder {
  const unsigned char *data; /* the runtime's private snapshot */
  size_t len;
  size_t off;
  cu_stream_backend backend; /* informational: both backends write(2) */
} cu__feeder;

/*
 * Write as much as the non-blocking pipe `fd` takes. Returns 1 when all
 * bytes are written (caller closes fd), 0 on EAGAIN, CU_EIO with *ret_errno
 * set on failure (EPIPE when the child closed its stdin early).
 */
int cu__feeder_pump(cu__feeder *f, int fd, int *ret_errno);

#endif /* CUPRUM_OUTSTREAM_H */
