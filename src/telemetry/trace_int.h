/* SPDX-License-Identifier: MIT */
/* The tracer's parts: span building (trace.c) and the export queue and
 * thread (trace_export.c). Not installed. */
#ifndef CUPRUM_TRACE_INT_H
#define CUPRUM_TRACE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cuprum/trace.h"

struct cu_trace_deadline {
  _Atomic int64_t at_ns; /* CLOCK_MONOTONIC */
};

typedef struct cu__exporter {
  struct cu_trace_deadline deadline; /* of the request in flight */
  pthread_mutex_t mu;
  pthread_cond_t wake;    /* the thread: spans queued, flush, stop */
  pthread_cond_t settled; /* flush waiters: a batch was finished */
  char **q;               /* ring of encoded spans (JSON objects) */
  size_t cap, head, n;
  size_t batch;
  int64_t delay_ns;
  int64_t export_timeout_ms;
  int64_t flush_deadline_ns; /* 0 = none: a flush's remaining time bounds
                                 each request while it waits */
  uint64_t enqueued, settled_count; /* spans handed over / finished */
  bool flush_req, stop, running;
  pthread_t thread;
  atomic_uint_fast64_t dropped, exported;
  int fd;                 /* OTLP JSON lines file, or -1 */
  cu_trace_export_fn fn;
  void *fn_data;
  char *prefix;           /* request body up to the spans array */
} cu__exporter;

/* W3C Trace Context level 1 traceparent (section 3.2): version 00 exactly
 * 55 characters "00-<trace-id>-<parent-id>-<flags>", lower-case hex, ids
 * not all zero; a higher version (never ff) read by the same 55-character
 * prefix, followed by the end or '-'. On success fills trace, parent and
 * flags and returns true; on failure writes nothing. Pure; thread-safe. */
#define CU__TRACEPARENT_LEN 55
bool cu__traceparent_parse(const char *s, uint8_t trace[16],
                           uint8_t parent[8], uint8_t *flags);
/* The version-00 form of the ids and flags, NUL-terminated. */
void cu__traceparent_format(char out[CU__TRACEPARENT_LEN + 1],
                            const uint8_t trace[16], const uint8_t id[8],
                            uint8_t flags);

/* W3C Trace Context level 1 tracestate (section 3.3.1): a list of at most
 * 32 "key=value" members with unique keys, separated by "," with optional
 * blanks (SP, HTAB) around members; empty members allowed. When s is
 * valid, writes its canonical form to out (members joined by "," without
 * blanks or empty members; when that does not fit in cap - 1 characters,
 * members over 128 characters are dropped first, then members from the
 * end, as section 3.3.1.5 asks) and returns true. Otherwise (or s NULL)
 * out is "" and returns false: a tracestate that cannot be parsed is not
 * passed on. cap >= 1. Pure; thread-safe. */
bool cu__tracestate_normalize(const char *s, char *out, size_t cap);

/* Start the thread; prefix is taken over. Errors: CU_ESYS, CU_ENOMEM. */
int cu__exporter_start(cu__exporter *e, char *prefix);
/* Hand over one encoded span (taken over; freed when dropped). Never
 * blocks beyond the queue's mutex. */
void cu__exporter_push(cu__exporter *e, char *span);
/* Wait until everything pushed so far is settled, at most timeout_ms.
 * Returns 0 or CU_ETIMEDOUT. */
int cu__exporter_flush(cu__exporter *e, int64_t timeout_ms);
/* Stop the thread (after a flush by the caller); drop what is left. */
void cu__exporter_stop(cu__exporter *e);
void cu__exporter_destroy(cu__exporter *e);

#endif /* CUPRUM_TRACE_INT_H */
