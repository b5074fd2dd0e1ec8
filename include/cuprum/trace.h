/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/trace.h
 * @brief OpenTelemetry traces: one span per command, exported as OTLP JSON
 * off the hot path.
 *
 * A tracer is an observer (cuprum/context.h) that turns a run's events into
 * spans following OpenTelemetry's semantic conventions for running CLI
 * programs on the caller's side: span name = the executable's name, kind
 * CLIENT, attributes `process.executable.name`, `process.executable.path`,
 * `process.pid`, `process.exit.code`, `error.type` (the exit code, the
 * signal name, "timeout", "cancelled" or the spawn error's name) when it
 * failed, with status ERROR, and `process.command_args` only when
 * `command_args` is set (redacted, cuprum/redact.h). `cuprum.*` attributes
 * add what the conventions lack: cuprum.project, cuprum.tag.<key>,
 * cuprum.unsafe, cuprum.timed_out, cuprum.cancelled, cuprum.signal,
 * cuprum.errno (a failed spawn), cuprum.stage.index, cuprum.stage.count,
 * cuprum.exec_id, cuprum.batch.index (an item of a batch) and
 * cuprum.batch.size (on the batch span); and, from the kernel's rusage of
 * the reaped command (OpenTelemetry has process CPU time only as a
 * metric), cuprum.cpu.user_time and cuprum.cpu.system_time (seconds) and
 * cuprum.memory.max_rss (bytes), plus for a contained run cuprum.contained,
 * cuprum.cgroup.cpu_time (seconds) and cuprum.cgroup.memory_peak (bytes). A pipeline is a parent span
 * ("pipeline", INTERNAL) with one child span per stage; a cu_parallel_run()
 * batch is a parent span ("batch", INTERNAL) with one child per item.
 * Output lines become span events ("stdout"/"stderr", attribute `line`)
 * only when `line_events` is set, at most 128 per span (more are counted in
 * the span's dropped_events_count).
 *
 * W3C trace context: a run's root span is the child of the configured
 * parent (`traceparent`, else the TRACEPARENT/TRACESTATE environment
 * variables when the tracer is made), and every child process gets
 * TRACEPARENT (and TRACESTATE) naming its own span, so a traced child's
 * spans join the trace. A malformed parent is ignored (a new trace starts),
 * as the W3C specification requires. TRACESTATE (or `tracestate`) is kept
 * only with a valid parent and only when it is a valid list (section
 * 3.3.1: at most 32 members, unique keys); it is recorded and passed on
 * in its canonical form (no blanks or empty members), and one longer than
 * 511 characters loses whole members as section 3.3.1.5 says.
 *
 * Export: finished spans go to a bounded queue; a background thread batches
 * them into OTLP/JSON ExportTraceServiceRequest bodies and hands each to
 * the transport: the OTLP JSON file format (one request per line, `file`)
 * and/or a callback (`export_fn`, e.g. cu_otel_http_export() from
 * libcuprum-otel, cuprum/otel.h). A full queue drops the span (counted);
 * a failed export drops its batch (counted). Nothing the transport does can
 * slow or fail a run: observers only enqueue.
 *
 * Variables read by cu_tracer_new() when the matching option is zero:
 * OTEL_SERVICE_NAME, OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
 * OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT, TRACEPARENT, TRACESTATE.
 *
 * Thread-safety: every function may be called from any thread;
 * cu_tracer_free() must be the last call on a tracer.
 */
#ifndef CUPRUM_TRACE_H
#define CUPRUM_TRACE_H

#include "attrs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "redact.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cu_tracer cu_tracer;

/** How long a transport may still take (see cu_trace_deadline_left_ms()). */
typedef struct cu_trace_deadline cu_trace_deadline;

/**
 * Milliseconds a transport call may still take; 0 or less means give up
 * now. It starts at the export timeout and shrinks during the call when
 * the tracer is flushed or shut down, so a transport that polls it (the
 * OTLP/HTTP one does, every few ms) never holds up cu_tracer_free().
 * Thread-safe.
 */
int64_t cu_trace_deadline_left_ms(const cu_trace_deadline *d);

/**
 * A transport: send one OTLP/JSON request `body` (`len` bytes) before
 * `deadline` runs out. Called on the tracer's export thread only, one call
 * at a time. Return 0 when the collector accepted it, non-zero otherwise
 * (the batch is dropped and counted). A transport that ignores the
 * deadline can delay cu_tracer_free() by as long as it blocks.
 */
typedef int (*cu_trace_export_fn)(void *userdata, const char *body,
                                  size_t len,
                                  const cu_trace_deadline *deadline);

/** Tracer options. Versioned by `size`: start from CU_TRACER_OPTS_INIT. */
typedef struct cu_tracer_opts {
  size_t size;                 /**< sizeof(cu_tracer_opts) */
  const char *service_name;    /**< resource service.name; NULL =
                                    OTEL_SERVICE_NAME, else "cuprum" */
  const char *file;            /**< append OTLP JSON lines here; NULL = no */
  cu_trace_export_fn export_fn;/**< and/or call this; NULL = no */
  void *export_data;
  const char *traceparent;     /**< explicit parent; NULL = TRACEPARENT */
  const char *tracestate;      /**< with it; NULL = TRACESTATE */
  bool no_env_parent;          /**< ignore TRACEPARENT/TRACESTATE */
  bool no_propagate;           /**< do not set TRACEPARENT in children */
  bool command_args;           /**< record process.command_args */
  bool line_events;            /**< output lines as span events */
  size_t queue_size;           /**< spans; 0 = 2048 */
  size_t batch_size;           /**< spans per request; 0 = 512 */
  int64_t schedule_delay_ms;   /**< export at least this often; 0 = 1000 */
  int64_t export_timeout_ms;   /**< per request; 0 = 10000 */
  int64_t shutdown_timeout_ms; /**< cu_tracer_free()'s flush; 0 = 5000 */
  const cu_redact *redact;     /**< borrowed; NULL = default rules */
} cu_tracer_opts;

#define CU_TRACER_OPTS_INIT {.size = sizeof(cu_tracer_opts)}

/**
 * Make a tracer and start its export thread. At least one of `file` and
 * `export_fn` is required. Errors: CU_EINVAL (the message names the
 * option), CU_EIO (the file cannot be opened), CU_ESYS (no thread),
 * CU_ENOMEM. `*ret` is written only on success.
 */
int cu_tracer_new(const cu_tracer_opts *opts, cu_tracer **ret)
    CU_NODISCARD CU_NONNULL(2);

/**
 * Attach the tracer's observer to the current scope (cuprum/context.h).
 * The observer keeps the tracer's memory alive; spans finishing after
 * cu_tracer_free() are dropped and counted. Errors: CU_EINVAL, CU_ENOMEM.
 */
int cu_tracer_attach(cu_tracer *t, cu_hook **ret) CU_NODISCARD CU_NONNULL(1);

/**
 * Export everything queued, waiting at most `timeout_ms` (0 = the export
 * timeout). Errors: CU_ETIMEDOUT (some spans are still queued or being
 * sent when the time ran out; they go on in the background), CU_EINVAL.
 */
int cu_tracer_flush(cu_tracer *t, int64_t timeout_ms) CU_NODISCARD;

/** Spans dropped so far: queue full, export failed, or after shutdown. */
uint64_t cu_tracer_dropped(const cu_tracer *t);

/** Spans whose export the transport acknowledged. */
uint64_t cu_tracer_exported(const cu_tracer *t);

/**
 * Shut down: flush with the shutdown timeout, stop the export thread and
 * release the caller's reference. Returns within about the shutdown
 * timeout even when the transport hangs (the thread is then left to finish
 * its call and exits by itself). Returns NULL; NULL is ignored.
 */
cu_tracer *cu_tracer_free(cu_tracer *t);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_TRACE_H */
