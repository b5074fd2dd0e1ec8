/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/events.h
 * @brief Structured execution events delivered to observers.
 *
 * Every run emits events through the observers registered in the scoped
 * context that was current when the run was submitted (see
 * cuprum/context.h). An event and everything it points to is borrowed: valid
 * only during the observer call. Line events are produced only when at least
 * one observer asked for lines, so unobserved output costs nothing.
 */
#ifndef CUPRUM_EVENTS_H
#define CUPRUM_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "catalogue.h"
#include "run.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cu_event_phase {
  CU_EV_PLAN = 1,     /**< command accepted, about to spawn */
  CU_EV_START,        /**< child spawned (pid known) */
  CU_EV_STDOUT_LINE,  /**< one stdout line */
  CU_EV_STDERR_LINE,  /**< one stderr line */
  CU_EV_STDIN,        /**< bytes written to the child's stdin (at close) */
  CU_EV_STDIN_ERROR,  /**< writing stdin failed (e.g. EPIPE) */
  CU_EV_EXIT,         /**< child reaped: exit code or signal, duration */
  CU_EV_TIMEOUT,      /**< the timeout expired */
  CU_EV_CANCEL,       /**< cancellation was requested */
  CU_EV_TERM_SENT,    /**< SIGTERM sent to the process group */
  CU_EV_KILL_SENT,    /**< SIGKILL sent to the process group */
  CU_EV_SPAWN_FAILED, /**< spawn failed; error and errno set */
  CU_EV_STOPPED,      /**< a process was stopped by a signal (SIGTTIN,
                           SIGTTOU, SIGTSTP, SIGSTOP: term_signal says
                           which); the run waits until it is continued or
                           its timeout or cancel ends it. Looked for about
                           every 100 ms while a run is observed. */
} cu_event_phase;

/** Bit flags for line events. */
#define CU_LINE_SPLIT 0x1u   /**< line longer than CU_LINE_MAX, split here */
#define CU_LINE_PARTIAL 0x2u /**< final line without terminator (at EOF) */

/** Longest line delivered whole; longer lines arrive in pieces. */
#define CU_LINE_MAX (64u * 1024u)

typedef struct cu_event {
  cu_event_phase phase;
  uint64_t exec_id;         /**< unique per run (per stage in a pipeline) */
  const char *program;      /**< program name */
  const char *path;         /**< absolute executable path */
  const char *const *argv;  /**< full argv, NULL-terminated */
  size_t n_argv;            /**< entries in argv (argv[0] included) */
  const char *cwd;          /**< NULL = inherited */
  const cu_env_var *env;    /**< the overlay only, never the environment */
  size_t n_env;
  pid_t pid;                /**< 0 before START */
  struct timespec wall;     /**< CLOCK_REALTIME at the event */
  struct timespec mono;     /**< CLOCK_MONOTONIC at the event */
  const char *line;         /**< line events: UTF-8, U+FFFD-replaced */
  size_t line_len;          /**< without terminator */
  unsigned line_flags;      /**< CU_LINE_* */
  bool noise;               /**< line matches a project noise rule */
  uint64_t bytes;           /**< STDIN: bytes written */
  int exit_code;            /**< EXIT: code or -1 */
  int term_signal;          /**< EXIT: signal or 0; STOPPED: the stop
                                 signal */
  int64_t duration_ns;      /**< EXIT */
  int error;                /**< SPAWN_FAILED / STDIN_ERROR: CU_E* code */
  int err_no;               /**< and the errno behind it */
  const cu_tag *tags;       /**< scope, per-call, project, stage tags */
  size_t n_tags;
  const cu_project *project;/**< NULL for unsafe commands */
  bool unsafe;              /**< built by the unsafe namespace */
  int stage_index;          /**< pipeline stage (0 for single runs) */
  int n_stages;             /**< pipeline length (1 for single runs) */
  uint64_t run_id;          /**< exec_id of stage 0: one id per run or
                                 pipeline */
  uint64_t batch_id;        /**< cu_parallel_run() batch, 0 = none */
  int batch_index;          /**< item index in that batch */
  /* EXIT accounting (appended): the kernel's rusage of the exited process,
   * as in cu_result. */
  int64_t user_cpu_us;      /**< EXIT: user CPU time, microseconds */
  int64_t sys_cpu_us;       /**< EXIT: system CPU time, microseconds */
  int64_t max_rss_kb;       /**< EXIT: peak resident set size, KiB */
  bool contained;           /**< EXIT: the run had a cgroup of its own */
  int64_t cgroup_cpu_us;    /**< EXIT of a contained run: the cgroup's CPU
                                 time (every process, every stage), µs;
                                 -1 otherwise */
  int64_t cgroup_mem_peak;  /**< EXIT of a contained run: memory.peak,
                                 bytes; -1 where not available */
} cu_event;

/** Name of a phase ("plan", "start", "stdout_line", ...). */
const char *cu_event_phase_name(cu_event_phase phase);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_EVENTS_H */
