/* SPDX-License-Identifier: MIT */
/*
 * Relaying a tapped pipeline stage: stage i's stdout reaches stage i+1
 * through the parent, so the parent can observe it (line events, capture).
 * With the splice backend the bytes are forwarded with tee(2), in the
 * kernel, and only a copy is read for observation; otherwise they are read
 * and written. Backpressure is kept: nothing more is read from stage i
 * while stage i+1 has not taken what is pending.
 */
#ifndef CUPRUM_RELAY_H
#define CUPRUM_RELAY_H

#include <stdbool.h>
#include <stddef.h>

#include "stream/outstream.h"

typedef struct cu__relay {
  int in_fd;  /* parent's read end of stage i's stdout (non-blocking) */
  int out_fd; /* parent's write end of stage i+1's stdin (non-blocking) */
  bool use_tee;
  bool in_eof;
  char *buf; /* pending bytes (read/write path), and the tee read buffer */
  size_t len, off;
  cu__outstream *obs; /* capture and/or lines; never echo */
} cu__relay;

enum {
  CU__RELAY_WANT_IN = 1,  /* wait for stage i's stdout to be readable */
  CU__RELAY_WANT_OUT = 2, /* wait for stage i+1's stdin to be writable */
  CU__RELAY_DONE = 3,     /* EOF forwarded, or stage i+1 stopped reading */
};

/* Set up; takes ownership of both fds and `obs`. Errors: CU_ENOMEM. */
int cu__relay_init(cu__relay *r, int in_fd, int out_fd, cu__outstream *obs,
                   cu_stream_backend backend);

/* Move what can be moved now. Returns a CU__RELAY_* value. */
int cu__relay_step(cu__relay *r);

/* Release buffers (not the fds or stream, which the job closes/frees). */
void cu__relay_free(cu__relay *r);

#endif /* CUPRUM_RELAY_H */
