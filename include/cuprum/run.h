/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/run.h
 * @brief Running one command synchronously: options, results, cancellation.
 *
 * cu_run() spawns the command (posix_spawn, its own process group, only fds
 * 0-2 inherited, absolute path execve), drains stdout and stderr
 * concurrently while feeding stdin, enforces the timeout, and reaps the
 * child. It is the event loop of cuprum/loop.h driven privately, so a
 * synchronous and an asynchronous run of the same command give identical
 * results and errors.
 *
 * Return contract: cu_run() returns 0 when the command was started and has
 * ended, whatever way it ended (exit 0, non-zero exit, signal, timeout,
 * cancel): look at result->ok and the other fields. It returns a negative
 * CU_E* code when nothing ran or could be kept running (bad option, refused
 * program, spawn failure); then no child, fd or zombie is left behind and the
 * result carries the failing stage and errno where there is one. In every
 * case the result is initialised and must be released with cu_result_free().
 *
 * Thread-safety: any number of threads may call cu_run() at once.
 * cu_cancel_trigger() may be called from any thread.
 */
#ifndef CUPRUM_RUN_H
#define CUPRUM_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cmd.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What happens to the child's stdout or stderr. Zero is the default. */
typedef enum cu_stream_mode {
  CU_STREAM_CAPTURE = 0, /**< collect into the result (default) */
  CU_STREAM_TEE,         /**< collect and echo to the sink at once */
  CU_STREAM_ECHO,        /**< echo to the sink, do not collect */
  CU_STREAM_INHERIT,     /**< child writes to the parent's own fd */
  CU_STREAM_DISCARD,     /**< child writes to /dev/null */
  CU_STREAM_FD,          /**< child writes straight to opts fd (dup'd) */
} cu_stream_mode;

/** Callback echo sink; return non-zero to stop echoing to it. */
typedef int (*cu_sink_fn)(void *userdata, const void *data, size_t len);

/** Where one output stream goes. */
typedef struct cu_output_opts {
  cu_stream_mode mode;
  int fd;            /**< CU_STREAM_FD target; echo fd when >0 (see below) */
  cu_sink_fn sink;   /**< echo callback; overrides the echo fd when set */
  void *sink_data;   /**< passed to sink */
} cu_output_opts;
/* Echo target: sink if set, else `fd` if > 0, else the parent's own fd 1
 * (stdout) or 2 (stderr). */

/** Where the child's stdin comes from. Zero is the default (inherit). */
typedef enum cu_stdin_mode {
  CU_STDIN_INHERIT = 0, /**< the parent's fd 0 (a terminal there stops the
                             child with SIGTTIN: it runs in its own
                             process group) */
  CU_STDIN_NULL,        /**< /dev/null */
  CU_STDIN_BYTES,       /**< the bytes in opts (fed through a pipe) */
  CU_STDIN_FILE,        /**< a file opened read-only in the parent */
  CU_STDIN_FD,          /**< a caller's fd (duplicated; caller keeps it) */
} cu_stdin_mode;

typedef struct cu_stdin_opts {
  cu_stdin_mode mode;
  const void *data; /**< CU_STDIN_BYTES: copied when the run starts (the
                         child reads that snapshot; the buffer may be
                         reused as soon as the call returns) */
  size_t len;
  const char *path; /**< CU_STDIN_FILE */
  int fd;           /**< CU_STDIN_FD */
} cu_stdin_opts;

/** One environment change. value NULL = unset the variable. */
typedef struct cu_env_var {
  const char *name;
  const char *value;
} cu_env_var;

/** One tag carried to results and events. */
typedef struct cu_tag {
  const char *key;
  const char *value;
} cu_tag;

/** What to do when captured output exceeds max_capture. */
typedef enum cu_overflow_policy {
  CU_OVERFLOW_TRUNCATE = 0, /**< keep the first bytes, keep draining */
  CU_OVERFLOW_FAIL,         /**< terminate the run; result not ok */
} cu_overflow_policy;

typedef struct cu_cancel cu_cancel;

/** Grace value meaning "SIGKILL at once, no SIGTERM". */
#define CU_GRACE_NONE (-1)
/** Default TERM→KILL grace in milliseconds. */
#define CU_GRACE_DEFAULT_MS 500
/** Largest accepted timeout or grace: one year, in milliseconds. */
#define CU_TIMEOUT_MAX_MS (365LL * 24 * 3600 * 1000)

/** Options for one run. Zero (or a NULL pointer) means every default. */
typedef struct cu_run_opts {
  cu_output_opts out;          /**< stdout; default capture */
  cu_output_opts err;          /**< stderr; default capture */
  cu_stdin_opts in;            /**< stdin; default inherit */
  const cu_env_var *env;       /**< overlay applied in order */
  size_t n_env;
  bool clear_env;              /**< start from an empty environment */
  const char *cwd;             /**< working directory; NULL = parent's */
  int64_t timeout_ms;          /**< 0 = none; else 1..CU_TIMEOUT_MAX_MS */
  int64_t grace_ms;            /**< 0 = 500 ms; CU_GRACE_NONE = KILL now */
  size_t max_capture;          /**< per stream; 0 = unlimited */
  cu_overflow_policy overflow; /**< when max_capture is exceeded */
  const cu_tag *tags;          /**< copied into the result */
  size_t n_tags;
  cu_cancel *cancel;           /**< optional cancellation token */
  cu_stream_backend backend;   /**< AUTO = thread override / env / best */
  bool new_session;            /**< start each process in a session of its
                                    own (setsid): no controlling terminal,
                                    so a program that opens /dev/tty to
                                    prompt (git, ssh) fails at once instead
                                    of stopping on SIGTTIN for ever. Each
                                    pipeline stage then leads its own
                                    session and process group; timeouts and
                                    cancels signal every one of them. */
} cu_run_opts;

/** Where a spawn failed. */
typedef enum cu_spawn_stage {
  CU_STAGE_NONE = 0, /**< no spawn failure */
  CU_STAGE_VALIDATE, /**< options or command rejected before spawning */
  CU_STAGE_PIPES,    /**< creating pipes or opening stdin */
  CU_STAGE_CWD,      /**< the working directory */
  CU_STAGE_EXEC,     /**< execve() of the program */
  CU_STAGE_SPAWN,    /**< posix_spawn or pidfd set-up */
} cu_spawn_stage;

/** A captured stream: binary-safe bytes, NUL-terminated for convenience. */
typedef struct cu_bytes {
  char *data;     /**< never NULL after a run ("" when empty) */
  size_t len;     /**< bytes captured */
  size_t total;   /**< bytes the child wrote (>= len when truncated) */
  bool truncated; /**< max_capture was hit */
} cu_bytes;

/** The outcome of a run. Release with cu_result_free(). */
typedef struct cu_result {
  int error;               /**< 0, or the CU_E* code cu_run returned */
  int exit_code;           /**< exit status, or -1 if killed by a signal */
  int term_signal;         /**< signal that killed it, or 0 */
  pid_t pid;               /**< the child's pid (0 if never spawned) */
  cu_bytes out;            /**< captured stdout */
  cu_bytes err;            /**< captured stderr */
  struct timespec start_wall, end_wall; /**< CLOCK_REALTIME */
  struct timespec start_mono, end_mono; /**< CLOCK_MONOTONIC */
  int64_t duration_ns;     /**< end_mono - start_mono */
  bool ok;                 /**< exited 0, no timeout, cancel or overflow */
  bool timed_out;
  bool cancelled;
  bool overflowed;         /**< CU_OVERFLOW_FAIL fired */
  bool sent_term;          /**< SIGTERM was sent to the group */
  bool sent_kill;          /**< SIGKILL was sent to the group */
  bool terminated;         /**< the run (timeout, cancel, policy) signalled
                                this process before it exited */
  cu_spawn_stage spawn_stage; /**< where a spawn failure happened */
  int spawn_errno;         /**< errno of that failure, or 0 */
  cu_tag *tags;            /**< copies of the run's tags */
  size_t n_tags;
  char *text_cache[2];     /**< internal: cached UTF-8 views */
  size_t text_len[2];      /**< internal: their lengths */
} cu_result;

/** Which output stream (for text views). */
typedef enum cu_stream_id { CU_STDOUT = 1, CU_STDERR = 2 } cu_stream_id;

/**
 * Run `cmd` to completion (see the return contract above). `opts` may be
 * NULL. `result` is always initialised (release it with cu_result_free()).
 * Errors: CU_EINVAL (bad option: message names the field), sticky command
 * errors, CU_EFORBIDDEN, CU_EVETO, CU_E2BIG, CU_EBADENV, CU_ECWD, CU_ESTDIN,
 * CU_ENOTFOUND / CU_EACCES / CU_ENOEXEC (exec failed; result->spawn_errno),
 * CU_ESPAWN, CU_ESYS, CU_ENOMEM.
 */
int cu_run(const cu_cmd *cmd, const cu_run_opts *opts, cu_result *result);

/**
 * A UTF-8 text view of a captured stream with invalid sequences replaced
 * by U+FFFD (as Python's bytes.decode("utf-8", "replace")). Computed once
 * and cached in the result; the pointer is valid until cu_result_free().
 * Returns NULL only when out of memory.
 */
const char *cu_result_text(cu_result *result, cu_stream_id which);

/**
 * cu_result_text() with the view's length in *ret_len (the view may hold
 * NUL bytes of its own when the output did). ret_len may be NULL.
 */
const char *cu_result_text_len(cu_result *result, cu_stream_id which,
                               size_t *ret_len);

/** Release what a result owns and zero it (NULL is ignored). */
void cu_result_free(cu_result *result);

/** Create a cancellation token (eventfd-backed). Errors: CU_ESYS, CU_ENOMEM. */
int cu_cancel_new(cu_cancel **ret);

/**
 * Cancel every run using this token: TERM the group, wait the grace, KILL,
 * reap. Idempotent; safe from any thread and from a signal handler.
 */
void cu_cancel_trigger(cu_cancel *cancel);

/** Whether the token has been triggered. */
bool cu_cancel_triggered(const cu_cancel *cancel);

/** Release a token. It must not be in use by a running command. */
cu_cancel *cu_cancel_free(cu_cancel *cancel);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_RUN_H */
