/* SPDX-License-Identifier: MIT */
/*
 * One fault-injection scenario run: `fault_scenario NAME`, with CU_FAULT
 * naming the call to fail (tests/fault/fault_wrap.c). Prints one line and
 * exits with the outcome the driver (scripts/fault-drive.py) classifies:
 *   0  correct result
 *   3  clean error: cu_* failed with a message, or the result says the run
 *      failed and why (spawn step and errno, a failed stage, an item that
 *      failed to start), and no output was claimed that was not delivered
 *   4  the chosen call was never reached in this run (timing-dependent
 *      sites such as read counts differ from run to run)
 *   1  defect: a wrong result claimed as success, an error without a
 *      message, or fds / children / zombies left behind afterwards
 * A crash or a hang is a defect too; the driver sees those itself.
 *
 * Before the measured run the scenario runs once with injection suspended,
 * so one-time lazy set-up (probes, the default catalogue) is out of the
 * fd baseline; that set-up's own failure paths are covered by the unit
 * tests, not here.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cuprum/cuprum.h>

#include "fault_wrap.h"
#include "proc_census.h"

enum { OK = 0, DEFECT = 1, CLEAN = 3, UNREACHED = 4 };
#define INPUT_SIZE (256 * 1024)
static char input[INPUT_SIZE], upper[INPUT_SIZE];

static int defect(const char *what) {
  cu_fault_suspend(true);
  printf("DEFECT: %s\n", what);
  return DEFECT;
}

static int clean(const char *what) {
  cu_fault_suspend(true);
  const char *msg = cu_last_error();
  printf("CLEAN: %s: %s\n", what, msg ? msg : "");
  return CLEAN;
}

static int open_echo_file(void);

/* The outcome of a cu_run that failed: CLEAN when it says why, DEFECT when
 * it does not; -1 when it succeeded (the caller then checks the output). */
static int run_outcome(int rc, const cu_result *r) {
  if (rc < 0)
    return *cu_last_error() ? clean("cu_run") : defect("error, no message");
  if (r->ok)
    return -1;
  return r->error || r->spawn_errno || r->exit_code != 0 || r->term_signal
             ? clean("result not ok")
             : defect("result not ok and no reason");
}

static bool bytes_are(const cu_bytes *b, const char *want, size_t n) {
  return b->len == n && (n == 0 || memcmp(b->data, want, n) == 0);
}

static cu_cmd *make(cu_program prog, ...) {
  cu_cmd *cmd = NULL;
  if (cu_cmd_new(NULL, prog, &cmd) < 0)
    return cmd; /* may be NULL (malloc) or carry its error */
  va_list ap;
  va_start(ap, prog);
  (void)cu_cmd_vargs(cmd, ap);
  va_end(ap);
  return cmd;
}

/* cu_run of `cat` fed 256 KiB on stdin, both streams captured. */
static int sc_run(void) {
  cu_cmd *cmd = make(CU_CAT, (char *)NULL);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.in.mode = CU_STDIN_BYTES;
  o.in.data = input;
  o.in.len = INPUT_SIZE;
  cu_result *r = NULL;
  int rc = cmd ? cu_run(cmd, &o, &r) : CU_ENOMEM;
  int out = run_outcome(rc, r);
  if (out < 0) /* ok: check what was captured */
    out = bytes_are(&r->out, input, INPUT_SIZE) && !r->err.len
              ? OK
              : defect("ok result with wrong output");
  cu_fault_suspend(true);
  cu_result_free(r);
  cu_cmd_free(cmd);
  return out;
}

/* `cat` fed 256 KiB with stdout echoed (not captured) into a file: the
 * splice path where the backend has one, read/write elsewhere. */
static int sc_echo(void) {
  static int file = -1;
  bool was = cu_fault_suspend(true);
  if (file < 0)
    file = open_echo_file();
  if (file < 0 || ftruncate(file, 0) < 0 || lseek(file, 0, SEEK_SET) < 0)
    return defect("cannot prepare the echo file");
  cu_fault_suspend(was);
  cu_cmd *cmd = make(CU_CAT, (char *)NULL);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.in.mode = CU_STDIN_BYTES;
  o.in.data = input;
  o.in.len = INPUT_SIZE;
  o.out.mode = CU_STREAM_ECHO;
  o.out.echo_fd = file;
  cu_result *r = NULL;
  int rc = cmd ? cu_run(cmd, &o, &r) : CU_ENOMEM;
  int out = run_outcome(rc, r);
  if (out < 0) { /* ok: check what was echoed */
    cu_fault_suspend(true);
    static char got[INPUT_SIZE + 1];
    ssize_t n = pread(file, got, sizeof got, 0);
    out = n == INPUT_SIZE && !memcmp(got, input, INPUT_SIZE)
              ? OK
              : defect("ok result, echoed bytes differ");
  }
  cu_fault_suspend(true);
  cu_result_free(r);
  cu_cmd_free(cmd);
  return out;
}

/* The echo pipe's reader: a thread that reads with the unwrapped read(2)
 * (linked with --wrap=read, __real_read is libc's), so its calls are not
 * sites. */
ssize_t __real_read(int fd, void *buf, size_t n);
typedef struct drain {
  int fd;
  size_t len;
  char buf[INPUT_SIZE + 1];
} drain;
static void *drain_main(void *arg) {
  drain *d = arg;
  ssize_t n;
  while ((n = __real_read(d->fd, d->buf + d->len, sizeof d->buf - d->len)) > 0)
    d->len += (size_t)n;
  return NULL;
}

/* `cat` fed 256 KiB with stdout both captured and echoed into a pipe: the
 * tee(2) path where the backend has one. */
static int sc_tee(void) {
  static drain d;
  bool was = cu_fault_suspend(true);
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return defect("cannot make the echo pipe");
  int wfd = fcntl(p[1], F_DUPFD_CLOEXEC, 3), rfd = fcntl(p[0], F_DUPFD_CLOEXEC, 3);
  close(p[0]);
  close(p[1]);
  d.fd = rfd;
  d.len = 0;
  pthread_t th;
  if (wfd < 0 || rfd < 0 || pthread_create(&th, NULL, drain_main, &d) != 0)
    return defect("cannot start the echo reader");
  cu_fault_suspend(was);
  cu_cmd *cmd = make(CU_CAT, (char *)NULL);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.in.mode = CU_STDIN_BYTES;
  o.in.data = input;
  o.in.len = INPUT_SIZE;
  o.out.mode = CU_STREAM_TEE;
  o.out.echo_fd = wfd;
  cu_result *r = NULL;
  int rc = cmd ? cu_run(cmd, &o, &r) : CU_ENOMEM;
  cu_fault_suspend(true);
  close(wfd);
  pthread_join(th, NULL);
  close(rfd);
  int out = run_outcome(rc, r);
  if (out < 0) /* ok: check what was captured and what was echoed */
    out = !bytes_are(&r->out, input, INPUT_SIZE)
              ? defect("ok result with wrong capture")
          : d.len != INPUT_SIZE || memcmp(d.buf, input, INPUT_SIZE)
              ? defect("ok result, echoed bytes differ")
              : OK;
  cu_result_free(r);
  cu_cmd_free(cmd);
  return out;
}

/* cat | tr a-z A-Z | cat, fed 256 KiB. */
static int sc_pipeline(void) {
  cu_cmd *a = make(CU_CAT, (char *)NULL), *b = make(CU_TR, "a-z", "A-Z", (char *)NULL),
         *c = make(CU_CAT, (char *)NULL);
  cu_pipeline *p = NULL;
  int rc = a && b && c ? cu_pipeline_of(&p, a, b, c, (cu_cmd *)NULL) : CU_ENOMEM;
  cu_run_opts ro = CU_RUN_OPTS_INIT;
  ro.in.mode = CU_STDIN_BYTES;
  ro.in.data = input;
  ro.in.len = INPUT_SIZE;
  cu_pipeline_opts po = CU_PIPELINE_OPTS_INIT;
  po.run = &ro;
  cu_pipeline_result *r = NULL;
  if (rc >= 0)
    rc = cu_pipeline_run(p, &po, &r);
  int out;
  if (rc < 0)
    out = *cu_last_error() ? clean("cu_pipeline_run")
                           : defect("error, no message");
  else if (!r->ok)
    out = r->error || r->spawn_errno || r->fail_index >= 0
              ? clean("pipeline not ok")
              : defect("pipeline not ok and no reason");
  else if (!bytes_are(&r->stages[r->n_stages - 1]->out, upper, INPUT_SIZE))
    out = defect("ok pipeline with wrong output");
  else
    out = OK;
  cu_fault_suspend(true);
  cu_pipeline_result_free(r);
  cu_pipeline_free(p);
  cu_cmd_free(a);
  cu_cmd_free(b);
  cu_cmd_free(c);
  return out;
}

/* Four `echo item-N` through the concurrency helper at limit 2. */
static int sc_parallel(void) {
  enum { N = 4 };
  cu_cmd *cmds[N] = {0};
  cu_batch_item items[N];
  char want[N][16];
  memset(items, 0, sizeof items);
  for (int i = 0; i < N; i++) {
    snprintf(want[i], sizeof want[i], "item-%d\n", i);
    char arg[16];
    snprintf(arg, sizeof arg, "item-%d", i);
    cmds[i] = make(CU_ECHO, arg, (char *)NULL);
    items[i].cmd = cmds[i];
  }
  cu_parallel_opts po = CU_PARALLEL_OPTS_INIT;
  po.limit = 2;
  cu_parallel_result *r = NULL;
  int rc = CU_ENOMEM;
  bool built = true;
  for (int i = 0; i < N; i++)
    built = built && cmds[i];
  if (built)
    rc = cu_parallel_run(items, N, &po, &r);
  int out = OK;
  if (rc < 0) {
    out = *cu_last_error() ? clean("cu_parallel_run")
                           : defect("error, no message");
  } else {
    for (int i = 0; i < N && out != DEFECT; i++) {
      const cu_item_result *it = r->items[i];
      if (it->ok) {
        if (!it->result || !bytes_are(&it->result->out, want[i], strlen(want[i])))
          out = defect("ok item with wrong output");
      } else if (it->state == CU_ITEM_FAILED_TO_START) {
        if (!it->message || !*it->message)
          out = defect("item failed to start without a message");
        else
          out = CLEAN;
      } else if (it->error) {
        out = CLEAN; /* e.g. its result could not be allocated */
      } else if (!it->result ||
                 !(it->result->error || it->result->spawn_errno ||
                   it->result->exit_code != 0 || it->result->term_signal ||
                   it->state == CU_ITEM_SKIPPED)) {
        static char why[160];
        snprintf(why, sizeof why,
                 "item %d not ok and no reason (state %d, result %s, "
                 "ok %d)", i, (int)it->state, it->result ? "set" : "NULL",
                 (int)it->ok);
        out = defect(why);
      } else {
        out = CLEAN;
      }
    }
    if (out == OK && !r->ok)
      out = defect("batch not ok though every item was");
    if (out == CLEAN)
      out = clean("an item failed");
  }
  cu_fault_suspend(true);
  cu_parallel_result_free(r);
  for (int i = 0; i < N; i++)
    cu_cmd_free(cmds[i]);
  return out;
}

/* `sleep 30` with a 100 ms timeout: the kill path. */
static int sc_timeout(void) {
  cu_cmd *cmd = make(CU_SLEEP, "30", (char *)NULL);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.timeout_ms = 100;
  o.grace_ms = 100;
  cu_result *r = NULL;
  int rc = cmd ? cu_run(cmd, &o, &r) : CU_ENOMEM;
  int out;
  if (rc < 0)
    out = *cu_last_error() ? clean("cu_run") : defect("error, no message");
  else if (r->ok)
    out = defect("sleep 30 under a 100 ms timeout reported ok");
  else if (r->timed_out)
    out = OK;
  else
    out = r->error || r->spawn_errno ? clean("not timed out")
                                      : defect("not ok, no reason");
  cu_fault_suspend(true);
  cu_result_free(r);
  cu_cmd_free(cmd);
  return out;
}

static int open_echo_file(void) {
  char path[] = "/tmp/cu-fault-echo-XXXXXX";
  int fd = mkostemp(path, O_CLOEXEC);
  if (fd >= 0)
    unlink(path);
  return fd;
}

int main(int argc, char **argv) {
  cu_fault_suspend(true);
  if (argc != 2) {
    fprintf(stderr, "usage: fault_scenario run|echo|tee|pipeline|parallel|timeout\n");
    return 2;
  }
  for (size_t i = 0; i < INPUT_SIZE; i++) {
    input[i] = i % 61 == 60 ? '\n' : (char)('a' + i % 26);
    upper[i] = input[i] == '\n' ? '\n' : (char)('A' + i % 26);
  }
  int (*fn)(void) = !strcmp(argv[1], "run")        ? sc_run
                    : !strcmp(argv[1], "echo")     ? sc_echo
                    : !strcmp(argv[1], "tee")      ? sc_tee
                    : !strcmp(argv[1], "pipeline") ? sc_pipeline
                    : !strcmp(argv[1], "parallel") ? sc_parallel
                    : !strcmp(argv[1], "timeout")  ? sc_timeout
                                                   : NULL;
  if (!fn) {
    fprintf(stderr, "fault_scenario: unknown scenario '%s'\n", argv[1]);
    return 2;
  }
  if (fn() != OK) { /* warm-up, nothing injected: must be correct */
    printf("DEFECT: the warm-up run without injection failed\n");
    return DEFECT;
  }
  int fds = census_fds();
  cu_fault_suspend(false);
  int out = fn();
  cu_fault_suspend(true);
  cu_fault_write_counts();
  int fds_after = census_fds(), kids = census_children();
  if (fds_after != fds) {
    printf("DEFECT: %d fds before, %d after\n", fds, fds_after);
    return DEFECT;
  }
  if (kids != 0) {
    printf("DEFECT: %d children (running or zombie) left\n", kids);
    return DEFECT;
  }
  if (out == OK || out == CLEAN) {
    if (getenv("CU_FAULT") && !cu_fault_fired()) {
      printf("UNREACHED\n");
      return UNREACHED;
    }
    if (out == OK)
      printf("OK\n");
  }
  return out;
}
