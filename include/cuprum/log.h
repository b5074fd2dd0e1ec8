/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/log.h
 * @brief A ready logging hook, and the event serializer (JSON Lines etc.).
 *
 * cu_log_attach() registers, in the current scope, an observer plus an after
 * hook that write one record when a command starts and one when it ends
 * (program, argv, pid, exit code, signal, duration, CPU times and peak
 * RSS, output sizes), one when a spawn fails, one (warn) when a command is
 * stopped by a signal the run then waits on, and (at debug) one when a
 * command is planned.
 * Levels, each configurable per phase: plan and output lines debug, start
 * and a clean exit info; a non-zero exit / signal / timeout / cancel is at
 * least warn, a spawn failure error. Argv elements and environment values
 * the redactor hides (cuprum/redact.h; by default those of secret-looking
 * names) are written as `***`. Output lines matching a project noise
 * rule are dropped from output logging and counted in the exit record.
 *
 * Record fields (logfmt and JSON keys): level, event (plan|start|exit|
 * spawn_failed|stopped|stdout|stderr), exec_id, program, argv, pid,
 * exit_code, signal, duration_ms, user_cpu_ms, sys_cpu_ms, max_rss_kb
 * (getrusage(2) of the reaped process), contained and cgroup_cpu_ms (a
 * contained run's cgroup), stdout_bytes, stderr_bytes, timed_out,
 * cancelled, noise_dropped, error, errno, line, unsafe, tags.
 *
 * Thread-safety: the hook may be called concurrently from several runs; it
 * serialises its writes to the sink. cu_event_format() is reentrant.
 */
#ifndef CUPRUM_LOG_H
#define CUPRUM_LOG_H

#include "attrs.h"

#include <stdbool.h>
#include <stdio.h>

#include "context.h"
#include "events.h"
#include "redact.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Output formats of log records and serialized events. */
typedef enum cu_log_format {
  CU_LOG_HUMAN = 0, /**< "cuprum: info exit exec_id=1 program=true ..." */
  CU_LOG_LOGFMT,    /**< key=value pairs, values quoted when needed */
  CU_LOG_JSON,      /**< one JSON object per line (JSON Lines) */
} cu_log_format;

/** Record levels, in increasing severity. Zero means "default" (info). */
typedef enum cu_log_level {
  CU_LOG_DEFAULT = 0,
  CU_LOG_DEBUG = 1,
  CU_LOG_INFO = 2,
  CU_LOG_WARN = 3,
  CU_LOG_ERROR = 4,
} cu_log_level;

/** Callback sink: one record, no trailing newline. */
typedef void (*cu_log_fn)(void *userdata, cu_log_level level,
                          const char *record);

/** Where records go: exactly one of these (zero = stderr). */
typedef enum cu_log_sink {
  CU_LOG_SINK_STDERR = 0, /**< write(2) to fd 2, one line per record */
  CU_LOG_SINK_FILE,       /**< `file` (a FILE *, flushed per record) */
  CU_LOG_SINK_SYSLOG,     /**< syslog(3) with the level mapped */
  CU_LOG_SINK_CALLBACK,   /**< `fn` */
} cu_log_sink;

/** Logging options. NULL = human records of level info+ to stderr; else
 * start from CU_LOG_OPTS_INIT (size-versioned like cu_run_opts). */
typedef struct cu_log_opts {
  size_t size; /**< sizeof(cu_log_opts); set by the INIT */
  cu_log_format format;
  cu_log_level min_level;  /**< records below are dropped; 0 = info,
                                or debug when log_output is set */
  cu_log_sink sink;
  FILE *file;              /**< CU_LOG_SINK_FILE; borrowed, not closed */
  cu_log_fn fn;            /**< CU_LOG_SINK_CALLBACK */
  void *fn_data;
  int syslog_facility;     /**< CU_LOG_SINK_SYSLOG; 0 = LOG_USER */
  bool log_output;         /**< also log output lines (debug level) */
  /* Per-phase levels (0 = the default shown). A failed run (a non-zero
   * exit status, a signal, a timeout, a cancel) is logged at least at warn, a spawn failure
   * at error. */
  cu_log_level plan_level;   /**< "plan" record (accepted, about to spawn);
                                  default debug */
  cu_log_level start_level;  /**< "start"; default info */
  cu_log_level exit_level;   /**< a clean "exit"; default info */
  cu_log_level output_level; /**< "stdout"/"stderr" lines; default debug */
  const cu_redact *redact;   /**< argv/env redaction (cuprum/redact.h);
                                  borrowed; NULL = the default secret
                                  names (*TOKEN* *SECRET* *PASSWORD* *KEY*) */
} cu_log_opts;

/** Initialiser of a cu_log_opts with every default. */
#define CU_LOG_OPTS_INIT {.size = sizeof(cu_log_opts)}

/**
 * Attach the logging hook to the current scope. The options are copied (the
 * FILE * and callback are borrowed and must outlive the hook). Detach and
 * free through the returned handle (cuprum/context.h); `ret` may be NULL.
 * Errors: CU_EINVAL (bad option: message names it; bad size), CU_ENOMEM.
 */
int cu_log_attach(const cu_log_opts *opts, cu_hook **ret) CU_NODISCARD;

/** Noise lines dropped by a logging hook so far (0 for other hooks). */
unsigned long cu_log_noise_dropped(const cu_hook *hook);

/** Name of a level ("debug", "info", "warn", "error"). */
const char *cu_log_level_name(cu_log_level level);

/**
 * Serialize one event as one line (no trailing newline) in `fmt`, into a
 * malloc'd string the caller frees. The JSON form is the stable schema
 * documented in docs/users-guide.md ("v":1): strings are escaped
 * (control characters as \uXXXX or the short escapes, invalid UTF-8 as
 * U+FFFD), fields that do not apply to the phase are omitted.
 * Errors: CU_EINVAL, CU_ENOMEM.
 */
int cu_event_format(const cu_event *ev, cu_log_format fmt, char **ret)
    CU_NODISCARD CU_NONNULL(1, 3);

/**
 * cu_event_format() with the argv and environment overlay redacted by `r`
 * (cuprum/redact.h). cu_event_format() itself applies the default rules,
 * i.e. it is this function with `r` NULL.
 * Errors: CU_EINVAL, CU_ENOMEM.
 */
int cu_event_format_redacted(const cu_event *ev, cu_log_format fmt,
                             const cu_redact *r, char **ret)
    CU_NODISCARD CU_NONNULL(1, 4);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_LOG_H */
