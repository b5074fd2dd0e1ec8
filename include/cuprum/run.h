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
 * cancel): look at (*ret)->ok and the other fields. It returns a negative
 * CU_E* code when nothing ran or could be kept running (bad option, refused
 * program, spawn failure); then no child, fd or zombie is left behind and
 * *ret still holds a result carrying the error, the failing spawn step and errno
 * (unless the result itself could not be allocated: then *ret is NULL and
 * the code is CU_ENOMEM). Release it with cu_result_free().
 *
 * ABI (docs/design.md, "The ABI rule"): options structs begin with
 * `size_t size`, set with their INIT macro (CU_RUN_OPTS_INIT); the library
 * accepts older and newer layouts. Results are allocated by the library and
 * handed out by pointer; their fields are only ever appended, so never
 * allocate, copy or make arrays of a cu_result yourself.
 *
 * Thread-safety: any number of threads may call cu_run() at once.
 * cu_cancel_trigger() may be called from any thread.
 */
#ifndef CUPRUM_RUN_H
#define CUPRUM_RUN_H

#include "attrs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cmd.h"
#include "backend.h"
#include "confine.h"

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
  CU_STREAM_FD,          /**< child writes straight to `fd` (dup'd) */
} cu_stream_mode;

/**
 * Callback echo sink; return non-zero to stop echoing to it. It runs on
 * the thread driving the run's loop, in the middle of the loop's work: a
 * callback that blocks (a write to a slow reader, a lock, a sleep) blocks
 * the loop, and no timeout, grace or cancel fires until it returns. Echo to
 * an fd instead never blocks: the library writes it through a non-blocking
 * descriptor of its own and holds the child back while the fd is full.
 */
typedef int (*cu_sink_fn)(void *userdata, const void *data, size_t len);

/** Where one output stream goes. Frozen: this struct is embedded by value
 * in cu_run_opts and never grows; new per-stream settings are appended to
 * cu_run_opts instead. */
typedef struct cu_output_opts {
  cu_stream_mode mode;
  int fd;          /**< CU_STREAM_FD only: the child writes here (>= 0);
                        non-zero with another mode is CU_EINVAL */
  int echo_fd;     /**< TEE/ECHO (and CAPTURE, which the echo setting
                        `output` may turn into TEE): echo to this fd when
                        > 0 (0 = the parent's own fd 1 or 2); set with
                        another mode it is CU_EINVAL */
  cu_sink_fn sink; /**< TEE/ECHO: echo callback; overrides echo_fd */
  void *sink_data; /**< passed to sink */
} cu_output_opts;
/* Echo target (TEE and ECHO): sink if set, else echo_fd if > 0, else the
 * parent's own fd 1 (stdout) or 2 (stderr). An fd echo is never a blocking
 * write: a full fd stalls that stream (the child blocks on its pipe); if a
 * timeout or cancel ends the run meanwhile, the unsent bytes are dropped
 * once the command has exited. The fd's own flags are left alone (a pipe
 * or terminal is reopened through /proc/self/fd with O_NONBLOCK). An
 * echo_fd that cannot be used (not open) is CU_EINVAL. */

/**
 * Where the child's stdin comes from. Zero is the default: /dev/null. Not
 * the parent's stdin: every run has its own process group, which is never
 * a terminal's foreground group, so a child reading an inherited terminal
 * would be stopped by SIGTTIN for ever. Inheriting is explicit.
 */
typedef enum cu_stdin_mode {
  CU_STDIN_NULL = 0,    /**< /dev/null (default) */
  CU_STDIN_INHERIT,     /**< the parent's fd 0; only when that is not a
                             terminal, or the child will never read it
                             (a terminal stops it with SIGTTIN) */
  CU_STDIN_BYTES,       /**< the bytes in opts (fed through a pipe) */
  CU_STDIN_FILE,        /**< a file opened read-only in the parent */
  CU_STDIN_FD,          /**< a caller's fd (duplicated; caller keeps it) */
} cu_stdin_mode;

/** Where stdin comes from. Frozen like cu_output_opts: it never grows. */
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

/**
 * Kinds of resource limit (cu_limit). The first seven are setrlimit(2)
 * limits (POSIX.1-2008 getrlimit/setrlimit, with Linux's RLIMIT_NPROC),
 * set by the child on itself just before execve, soft = hard = value
 * (CPU: hard = value + 1, so SIGXCPU comes first and SIGKILL a second
 * later). The last three are cgroup v2 limits (Documentation/admin-guide/
 * cgroup-v2.rst) written into the run's cgroup before the child starts;
 * they need a contained run and the controller on this host.
 */
typedef enum cu_limit_kind {
  CU_LIMIT_CPU = 1,    /**< RLIMIT_CPU, seconds of CPU: SIGXCPU */
  CU_LIMIT_AS,         /**< RLIMIT_AS, bytes of address space: ENOMEM */
  CU_LIMIT_DATA,       /**< RLIMIT_DATA, bytes of data (brk, private
                            mappings): ENOMEM */
  CU_LIMIT_NOFILE,     /**< RLIMIT_NOFILE, highest fd + 1: EMFILE */
  CU_LIMIT_NPROC,      /**< RLIMIT_NPROC, processes of the real user id
                            (not enforced for root): EAGAIN from fork */
  CU_LIMIT_CORE,       /**< RLIMIT_CORE, bytes of core file (0 = none) */
  CU_LIMIT_FSIZE,      /**< RLIMIT_FSIZE, bytes of a written file: SIGXFSZ */
  CU_LIMIT_MEMORY_MAX, /**< cgroup memory.max, bytes (OOM kill) */
  CU_LIMIT_PIDS_MAX,   /**< cgroup pids.max, tasks: EAGAIN from fork */
  CU_LIMIT_CPU_MAX,    /**< cgroup cpu.max, thousandths of one CPU
                            (1000 = one CPU, 500 = half of one) */
} cu_limit_kind;

/** One resource limit. Frozen: never grows. */
typedef struct cu_limit {
  cu_limit_kind kind;
  uint64_t value; /**< unit per kind (above); must fit the kernel's type */
} cu_limit;

/** Whether a run is put in a cgroup of its own (containment). */
typedef enum cu_contain_mode {
  CU_CONTAIN_OFF = 0,     /**< the process group only (default) */
  CU_CONTAIN_REQUIRE,     /**< a cgroup or no run: CU_EUNSUPPORTED */
  CU_CONTAIN_BEST_EFFORT, /**< a cgroup where possible, else the process
                               group; the result says which and why */
} cu_contain_mode;

/**
 * Options for one run. A NULL pointer means every default; otherwise start
 * from CU_RUN_OPTS_INIT (every other field zero = its default):
 *
 *     cu_run_opts o = CU_RUN_OPTS_INIT;
 *     o.timeout_ms = 1000;
 *
 * or a designated initialiser with `.size = sizeof(cu_run_opts)`. Fields
 * are only ever appended (docs/design.md, "The ABI rule").
 */
typedef struct cu_run_opts {
  size_t size;                 /**< sizeof(cu_run_opts) the caller built
                                    with; set by CU_RUN_OPTS_INIT */
  cu_output_opts out;          /**< stdout; default capture */
  cu_output_opts err;          /**< stderr; default capture */
  cu_stdin_opts in;            /**< stdin; default /dev/null */
  const cu_env_var *env;       /**< overlay applied in order */
  size_t n_env;
  bool clear_env;              /**< start from an empty environment */
  const char *cwd;             /**< working directory; NULL = parent's */
  int64_t timeout_ms;          /**< 0 = the scope's timeout_ms (context.h),
                                    else none; else 1..CU_TIMEOUT_MAX_MS */
  int64_t grace_ms;            /**< 0 = the scope's grace_ms, else 500 ms;
                                    CU_GRACE_NONE = KILL now */
  size_t max_capture;          /**< per stream; 0 = unlimited */
  cu_overflow_policy overflow; /**< when max_capture is exceeded */
  const cu_tag *tags;          /**< copied into the result; keys and
                                    values non-NULL */
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
  cu_contain_mode contain;     /**< a cgroup of its own (docs/users-guide.md
                                    "Containment"): every process the
                                    command starts, daemons that called
                                    setsid() included, is killed
                                    (cgroup.kill) on timeout, cancel and
                                    at the end of the run. A pipeline
                                    shares one cgroup; a batch has one per
                                    item. Implied (REQUIRE) by a cgroup
                                    limit in `limits` when OFF. */
  const cu_limit *limits;      /**< n_limits resource limits (copied) */
  size_t n_limits;
  bool limits_best_effort;     /**< a cgroup limit whose controller this
                                    host lacks is skipped (named in the
                                    result's contain note) instead of
                                    failing the run with CU_EUNSUPPORTED */
  const char *cgroup_parent;   /**< a cgroup v2 directory to create the
                                    run's cgroups beneath; NULL = "cuprum"
                                    beneath this process's own v2 cgroup */
  const cu_confine *confine;   /**< no_new_privs and Landlock rules for
                                    every process of the run (cuprum/
                                    confine.h); NULL = none. Read while
                                    the run starts, not kept. Narrowed
                                    further by the program's project's
                                    rules. */
} cu_run_opts;

/** Initialiser of a cu_run_opts with every default. */
#define CU_RUN_OPTS_INIT {.size = sizeof(cu_run_opts)}

/** Which step of starting a run failed ("step", not "stage": a stage is
 * one command of a pipeline). */
typedef enum cu_spawn_step {
  CU_STEP_NONE = 0, /**< no spawn failure */
  CU_STEP_VALIDATE, /**< options or command rejected before spawning */
  CU_STEP_PIPES,    /**< creating pipes or opening stdin */
  CU_STEP_CWD,      /**< the working directory */
  CU_STEP_EXEC,     /**< execve() of the program */
  CU_STEP_SPAWN,    /**< posix_spawn or pidfd set-up */
  CU_STEP_CGROUP,   /**< creating or entering the run's cgroup */
  CU_STEP_LIMITS,   /**< a resource limit (setrlimit in the child, or a
                         cgroup limit file) */
  CU_STEP_CONFINE,  /**< a confinement step in the child (no_new_privs,
                         Landlock, seccomp) */
} cu_spawn_step;

/** A captured stream: binary-safe bytes, NUL-terminated for convenience.
 * Frozen: embedded by value in cu_result, it never grows. */
typedef struct cu_bytes {
  char *data;     /**< never NULL after a run ("" when empty) */
  size_t len;     /**< bytes captured */
  size_t total;   /**< bytes the child wrote (>= len when truncated) */
  bool truncated; /**< max_capture was hit */
} cu_bytes;

/**
 * The outcome of a run. Allocated by the library (cu_run(), a task) and
 * released with cu_result_free(); fields are only ever appended, so read it
 * through the pointer you were given and never allocate, copy by value or
 * make arrays of one.
 */
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
  cu_spawn_step spawn_step; /**< where a spawn failure happened */
  int spawn_errno;         /**< errno of that failure, or 0 */
  cu_tag *tags;            /**< copies of the run's tags */
  size_t n_tags;
  /* Accounting (every run; 0 when never spawned). From the kernel's rusage
   * of the reaped process (getrusage(2) RUSAGE_CHILDREN semantics: its own
   * time plus that of the descendants it waited for). */
  int64_t user_cpu_us;     /**< user CPU time, microseconds */
  int64_t sys_cpu_us;      /**< system CPU time, microseconds */
  int64_t max_rss_kb;      /**< peak resident set size, KiB */
  bool contained;          /**< ran in a cgroup of its own */
  int64_t cgroup_cpu_us;   /**< contained: CPU time of every process of the
                                cgroup (pipeline: of every stage), from
                                cpu.stat usage_usec; -1 otherwise */
  int64_t cgroup_mem_peak; /**< contained: memory.peak in bytes; -1 where
                                not available (no memory controller) */
  unsigned confined;       /**< CU_CONFINED_* bits: what was enforced on
                                every process of the run */
} cu_result;

/** Which output stream (for text views). */
typedef enum cu_stream_id { CU_STDOUT = 1, CU_STDERR = 2 } cu_stream_id;

/**
 * Run `cmd` to completion (see the return contract above). `opts` may be
 * NULL (every default). On return *ret is a new result owned by the caller
 * (release it with cu_result_free()), also when the run failed; *ret is
 * NULL only if allocating the result itself failed (CU_ENOMEM). `ret` NULL
 * is CU_EINVAL.
 * Errors: CU_EINVAL (bad option: message names the field; an options size
 * that is 0 or names fields this library does not know; a count with a
 * NULL array, e.g. n_tags > 0 and tags NULL, or a NULL tag key or value),
 * sticky command errors (and, for a NULL cmd, the thread's last constructor
 * failure: cuprum/cmd.h), CU_EFORBIDDEN, CU_EPOLICY (an unsafe command
 * while the policy denies it; an invalid CUPRUM_POLICY), CU_EVETO, CU_E2BIG,
 * CU_EBADENV, CU_ECWD, CU_ESTDIN, CU_EBACKEND (a forced backend this host
 * lacks; an invalid CUPRUM_STREAM_BACKEND), CU_EUNSUPPORTED (containment
 * or confinement required and not available: cuprum/confine.h),
 * CU_ENOTFOUND / CU_EACCES / CU_ENOEXEC (exec failed; result->spawn_errno),
 * CU_ECANCELED (o->cancel was already triggered: nothing was started),
 * CU_ESPAWN, CU_ESYS, CU_ENOMEM.
 */
int cu_run(const cu_cmd *cmd, const cu_run_opts *opts, cu_result **ret)
    CU_NODISCARD;

/**
 * The one-call form for the common case: run `program` from the default
 * catalogue with the arguments `args` (a NULL-terminated array of the
 * arguments after the program name; NULL = none) and hand back the result.
 *
 *     cu_result *res = NULL;
 *     if (cu_run_args(CU_UNAME, (const char *[]){"-s", NULL}, NULL, &res) == 0)
 *       fputs(res->out.data, stdout);
 *     res = cu_result_free(res);
 *
 * It is exactly cu_cmd_new(NULL, program) + cu_cmd_arg() per argument +
 * cu_run() + cu_cmd_free() (see its implementation in src/runtime/run.c),
 * so every safety property holds unchanged: the catalogue, the scope's
 * allowlist, the policy, hooks and events. The return contract and *ret
 * are cu_run()'s: *ret is set also on error, including a builder error
 * (then it carries the code and spawn_step CU_STEP_VALIDATE).
 * Errors: those of cu_cmd_new(), cu_cmd_arg() and cu_run().
 * Thread-safety: as cu_run().
 */
int cu_run_args(cu_program program, const char *const args[],
                const cu_run_opts *opts, cu_result **ret) CU_NODISCARD;

/**
 * A UTF-8 text view of a captured stream with invalid sequences replaced
 * by U+FFFD (as Python's bytes.decode("utf-8", "replace")). Computed on
 * first use and cached in the library's private part of the result (so it
 * takes a const result); the pointer is valid until cu_result_free().
 * Thread-safe: concurrent first calls on one result may each decode, but
 * one view wins and every caller gets that one.
 * Returns NULL when out of memory, `result` is NULL or `which` is unknown.
 */
const char *cu_result_text(const cu_result *result, cu_stream_id which);

/**
 * cu_result_text() with the view's length in *ret_len (the view may hold
 * NUL bytes of its own when the output did). ret_len may be NULL.
 */
const char *cu_result_text_len(const cu_result *result, cu_stream_id which,
                               size_t *ret_len);

/**
 * Why the run was or was not contained, for people: "" when containment
 * was not asked for; otherwise the cgroup's path, or the reason a
 * best-effort run fell back to the process group, plus any cgroup limit a
 * best-effort run skipped. Never NULL for a non-NULL result; valid until
 * cu_result_free(). Thread-safe (read only).
 */
const char *cu_result_contain_note(const cu_result *result);

/**
 * What confinement was enforced, for people: "" when none was asked for;
 * otherwise what was applied ("no_new_privs, landlock abi 7: fs, net") and
 * anything a best-effort request had to skip, with the reason. Never NULL
 * for a non-NULL result; valid until cu_result_free(). Thread-safe (read
 * only).
 */
const char *cu_result_confine_note(const cu_result *result);

/** Release a result the library handed out (NULL is ignored). Returns NULL,
 * so `res = cu_result_free(res);` leaves no dangling pointer. */
cu_result *cu_result_free(cu_result *result);

/** Create a cancellation token (eventfd-backed). Errors: CU_ESYS, CU_ENOMEM. */
int cu_cancel_new(cu_cancel **ret) CU_NODISCARD CU_NONNULL(1);

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
