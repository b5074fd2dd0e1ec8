/* SPDX-License-Identifier: MIT */
/* The Slurm executor of `cuprum parallel`: see executor_slurm.h. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalogue_file.h"
#include "executor_slurm.h"
#include "run.h"

int slurm_opts_extra(slurm_opts *so, const char *value) {
  const char **v = realloc(so->extra, (so->n_extra + 1) * sizeof *v);
  if (!v) {
    cli_error("out of memory");
    return CLI_EXIT_FAILURE;
  }
  v[so->n_extra++] = value;
  so->extra = v;
  return 0;
}

int slurm_opts_node_arg(slurm_opts *so, const char *name, const char *arg) {
  char **v = realloc(so->node_args, (so->n_node_args + 1) * sizeof *v);
  char *text = NULL;
  if (v) {
    so->node_args = v;
    size_t n = strlen(name) + (arg ? strlen(arg) : 0) + 4;
    text = malloc(n);
    if (text)
      snprintf(text, n, arg ? "--%s=%s" : "--%s", name, arg);
  }
  if (!text) {
    cli_error("out of memory");
    return CLI_EXIT_FAILURE;
  }
  v[so->n_node_args++] = text;
  return 0;
}

void slurm_opts_free(slurm_opts *so) {
  free(so->extra);
  so->extra = NULL;
  so->n_extra = 0;
  for (size_t i = 0; i < so->n_node_args; i++)
    free(so->node_args[i]);
  free(so->node_args);
  so->node_args = NULL;
  so->n_node_args = 0;
}

/* What one item needs between make_cmd and result_fields. */
typedef struct slot {
  char *item;       /* item JSON: srun's stdin */
  cu_run_opts opts; /* item->opts with that stdin */
} slot;

typedef struct slurm_state {
  cli_executor ex;       /* first: ex->state points back here */
  const slurm_opts *so;
  cu_catalogue *cat;     /* srun, scancel, squeue: the executor's project */
  char job_name[96];     /* unique per batch */
  char cuprum[PATH_MAX]; /* absolute path of cuprum on the nodes */
  int64_t grace_ms;
  slot *slots;           /* by item index */
  size_t n_slots;
  json_t *current;       /* the decoded result whose streams are lent */
} slurm_state;

/* srun, scancel and squeue are programs like any other: the executor has a
 * project of its own, resolved in this process, used for nothing else (the
 * batch's catalogue never needs to allow them). */
static int executor_catalogue(cu_catalogue **ret) {
  static const cu_program_entry programs[] = {
      {.program = CU_PROGRAM("srun")},
      {.program = CU_PROGRAM("scancel")},
      {.program = CU_PROGRAM("squeue")},
  };
  cu_project_spec spec = CU_PROJECT_SPEC_INIT;
  spec.name = "slurm-executor";
  spec.programs = programs;
  spec.n_programs = sizeof programs / sizeof *programs;
  int rc = cu_catalogue_new(ret);
  if (rc == 0)
    rc = cu_catalogue_add_project(*ret, &spec);
  for (size_t i = 0; rc == 0 && i < spec.n_programs; i++)
    rc = cu_catalogue_lookup(*ret, programs[i].program, NULL, NULL);
  if (rc != 0) {
    cli_error("--executor slurm: %s (install slurm-client)", cu_last_error());
    *ret = cu_catalogue_unref(*ret);
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

static int self_path(const slurm_opts *so, char *buf, size_t size) {
  if (so->cuprum) {
    if (so->cuprum[0] != '/' || strlen(so->cuprum) >= size) {
      cli_error("--slurm-cuprum: '%s' is not an absolute path", so->cuprum);
      return CLI_EXIT_FAILURE;
    }
    strcpy(buf, so->cuprum);
    return 0;
  }
  ssize_t n = readlink("/proc/self/exe", buf, size - 1);
  if (n <= 0 || (size_t)n >= size - 1) {
    cli_error("--executor slurm: cannot find cuprum's own path (%s); give "
              "--slurm-cuprum", n < 0 ? strerror(errno) : "too long");
    return CLI_EXIT_FAILURE;
  }
  buf[n] = '\0';
  return 0;
}

/* The item handed to `cuprum exec-item` on the node (cmd_exec_item.c),
 * with the confinement of the command's project in the catalogue file's
 * own form (the node's pinned catalogue keeps it). NULL with *status set
 * when it cannot be written. */
static char *item_json(const slurm_state *s, const cli_item *item,
                       const cu_cmd *local, const char *where, int *status) {
  *status = CLI_EXIT_FAILURE;
  json_t *o = json_pack("{s:i, s:O, s:s, s:O, s:I, s:I}", "v", 2, "program",
                        json_array_get(item->argv, 0), "path",
                        cu_cmd_path(local), "argv", item->argv, "timeout_ms",
                        (json_int_t)item->timeout_ms, "max_output",
                        (json_int_t)s->so->max_output);
  if (o && s->so->grace_ms >= 0 &&
      json_object_set_new(o, "grace_ms", json_integer(s->so->grace_ms)) != 0) {
    json_decref(o);
    o = NULL;
  }
  const cu_project *project = cu_cmd_project(local);
  const cu_confine *c = project ? cu_project_confine(project) : NULL;
  if (o && c) {
    const char *why = NULL;
    json_t *cj = catalogue_file_confine_json(c, &why);
    if (!cj && why) {
      cli_error("%s--executor slurm: project '%s': its confinement %s", where,
                cu_project_name(project), why);
      json_decref(o);
      return NULL;
    }
    if (!cj || json_object_set_new(o, "confine", cj) != 0) {
      json_decref(o);
      o = NULL;
    }
  }
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (!text)
    cli_error("out of memory");
  else
    *status = 0;
  return text;
}

/* Slurm's --time: whole minutes, a backstop well past the item's own
 * timeout and grace, never the timeout itself. */
static int64_t backstop_minutes(const slurm_state *s, int64_t timeout_ms) {
  if (s->so->time_min > 0)
    return s->so->time_min;
  if (timeout_ms <= 0)
    return 0;
  return (timeout_ms + s->grace_ms + 59999) / 60000 + 1;
}

static slot *slot_at(slurm_state *s, size_t index) {
  if (index >= s->n_slots) {
    size_t n = s->n_slots ? s->n_slots : 64;
    while (n <= index)
      n *= 2;
    slot *v = realloc(s->slots, n * sizeof *v);
    if (!v)
      return NULL;
    memset(v + s->n_slots, 0, (n - s->n_slots) * sizeof *v);
    s->slots = v;
    s->n_slots = n;
  }
  return &s->slots[index];
}

static int slurm_make_cmd(cli_executor *ex, const cu_catalogue *cat,
                          const cli_item *item, const char *where,
                          cu_cmd **ret) {
  slurm_state *s = ex->state;
  /* The allowlist decides here, before anything is submitted; the node
   * gets the absolute path resolved now, pinned. */
  size_t argc = json_array_size(item->argv);
  const char *argv[argc ? argc : 1];
  for (size_t k = 0; k < argc; k++)
    argv[k] = json_string_value(json_array_get(item->argv, k));
  cu_cmd *local = NULL;
  int status = cli_build_command(cat, argv, (int)argc, where, &local);
  if (status != 0)
    return status;
  slot *sl = slot_at(s, item->index);
  if (sl) {
    free(sl->item);
    sl->item = item_json(s, item, local, where ? where : "", &status);
  } else {
    cli_error("out of memory");
    status = CLI_EXIT_FAILURE;
  }
  cu_cmd_free(local);
  if (status != 0)
    return status;
  int rc = cu_cmd_new(s->cat, CU_PROGRAM("srun"), ret);
  if (rc == 0) {
    cu_cmd_args(*ret, "--quiet", "--nodes=1", "--ntasks=1", NULL);
    cu_cmd_argf(*ret, "--job-name=%s", s->job_name);
    if (s->so->partition)
      cu_cmd_argf(*ret, "--partition=%s", s->so->partition);
    int64_t minutes = backstop_minutes(s, item->timeout_ms);
    if (minutes > 0)
      cu_cmd_argf(*ret, "--time=%lld", (long long)minutes);
    for (size_t i = 0; i < s->so->n_extra; i++)
      cu_cmd_arg(*ret, s->so->extra[i]);
    cu_cmd_args(*ret, s->cuprum, "exec-item", NULL);
    /* Containment and confinement are the item's, applied on the node;
     * srun itself runs with neither. */
    for (size_t i = 0; i < s->so->n_node_args; i++)
      cu_cmd_arg(*ret, s->so->node_args[i]);
    rc = cu_cmd_status(*ret);
  }
  if (rc != 0) {
    cli_error("%s--executor slurm: %s", where ? where : "", cu_last_error());
    *ret = cu_cmd_free(*ret);
    return cli_exit_for_error(rc);
  }
  return 0;
}

static const cu_run_opts *slurm_run_opts(cli_executor *ex,
                                         const cli_item *item) {
  slurm_state *s = ex->state;
  slot *sl = slot_at(s, item->index);
  if (!sl || !sl->item)
    return item->opts;
  sl->opts = *item->opts;
  sl->opts.in = (cu_stdin_opts){.mode = CU_STDIN_BYTES,
                                .data = sl->item,
                                .len = strlen(sl->item)};
  /* srun's stdout is the one result line: room for the item's capture
   * escaped (at most 6 bytes a byte, two streams) and the other keys. */
  size_t max = s->so->max_output;
  sl->opts.max_capture =
      max == 0 || max > SIZE_MAX / 16 ? 0 : max * 12 + 64 * 1024;
  return &sl->opts;
}

static json_t *int_or_null(bool present, int value) {
  return present ? json_integer(value) : json_null();
}

/* The node's figures of the item itself (result_fields.c): its streams'
 * truncation and byte counts, and the rusage and cgroup figures measured
 * by cuprum exec-item, not srun's. Null when no result line came back:
 * not known, rather than 0. */
static const char *const figures[] = {
    "stdout_truncated", "stderr_truncated", "stdout_total", "stderr_total",
    "user_cpu_us",      "sys_cpu_us",       "max_rss_kb",   "contained",
    "cgroup_cpu_us"};
#define N_FIGURES (sizeof figures / sizeof *figures)

/* Copy `key` from the node's result when it is there. */
static int copy(json_t *to, const json_t *node, const char *key) {
  json_t *v = json_object_get(node, key);
  return v ? json_object_set(to, key, v) : 0;
}

static void lend(cli_streams *streams, const json_t *node) {
  const json_t *out = json_object_get(node, "stdout");
  const json_t *err = json_object_get(node, "stderr");
  *streams = (cli_streams){
      .out = json_is_string(out) ? json_string_value(out) : "",
      .out_len = json_is_string(out) ? json_string_length(out) : 0,
      .err = json_is_string(err) ? json_string_value(err) : "",
      .err_len = json_is_string(err) ? json_string_length(err) : 0,
  };
}

/* The node's result line, decoded; the driver decides the state: Slurm
 * signals a step's processes all at once, so an item the driver stopped is
 * "terminated" whatever the node saw. */
static int slurm_result_fields(cli_executor *ex, const cli_item *item,
                               const cu_item_result *ir, json_t *o,
                               cli_streams *streams) {
  slurm_state *s = ex->state;
  json_decref(s->current);
  s->current = NULL;
  slot *sl = item->index < s->n_slots ? &s->slots[item->index] : NULL;
  if (sl) {
    free(sl->item);
    sl->item = NULL;
  }
  static const cu_result none;
  const cu_result *res = ir->result ? ir->result : &none;
  json_t *node = res->out.len > 0
                     ? json_loadb(res->out.data, res->out.len,
                                  JSON_ALLOW_NUL, NULL)
                     : NULL;
  if (!json_is_object(node)) {
    json_decref(node);
    node = NULL;
  }
  bool ran = node && json_is_true(json_object_get(node, "ran"));
  /* Only the items the driver stopped are "terminated". One the node saw
   * cancelled otherwise (an operator's scancel, Slurm's --time backstop)
   * was ended from outside, as a local item killed by someone's kill(1):
   * "done", its signal, not ok, and an "error" saying so. */
  bool cancelled_outside = ir->state != CU_ITEM_TERMINATED &&
                           json_is_true(json_object_get(node, "cancelled"));
  const char *state =
      ir->state == CU_ITEM_SKIPPED           ? "skipped"
      : ir->state == CU_ITEM_FAILED_TO_START ? "failed_to_start"
      : ir->state == CU_ITEM_TERMINATED      ? "terminated"
      : node && !ran                         ? "failed_to_start"
                                             : "done";
  bool done = strcmp(state, "done") == 0;
  double start = (double)res->start_wall.tv_sec +
                 round((double)res->start_wall.tv_nsec / 1e3) / 1e6;
  int bad = 0;
  bad |= json_object_set_new(o, "state", json_string(state));
  if (node) {
    /* In the local executor's order, the node's own keys last. */
    bad |= copy(o, node, "exit_code");
    bad |= copy(o, node, "signal");
    bad |= json_object_set_new(
        o, "ok", json_boolean(done && ir->ok &&
                              json_is_true(json_object_get(node, "ok"))));
    bad |= copy(o, node, "timed_out");
    bad |= copy(o, node, "duration_ms");
    for (size_t k = 0; k < N_FIGURES; k++)
      bad |= copy(o, node, figures[k]);
    if (cancelled_outside && !json_object_get(node, "error"))
      bad |= json_object_set_new(
          o, "error",
          json_string("cancelled on the node from outside cuprum (scancel, "
                      "Slurm's --time backstop, preemption)"));
    static const char *const last[] = {"error", "host", "slurm_job_id"};
    for (size_t k = 0; k < sizeof last / sizeof *last; k++)
      bad |= copy(o, node, last[k]);
  } else {
    /* No result line: srun failed, or the step was killed before cuprum
     * on the node could write one. srun's own exit is no item's. */
    bad |= json_object_set_new(o, "exit_code",
                               int_or_null(done && res->exit_code >= 0,
                                           res->exit_code));
    bad |= json_object_set_new(o, "signal", json_null());
    bad |= json_object_set_new(o, "ok", json_false());
    bad |= json_object_set_new(o, "timed_out", json_false());
    bad |= json_object_set_new(o, "duration_ms", json_null());
    for (size_t k = 0; k < N_FIGURES; k++)
      bad |= json_object_set_new(o, figures[k], json_null());
    bad |= json_object_set_new(o, "host", json_null());
    bad |= json_object_set_new(o, "slurm_job_id", json_null());
    if (ir->state == CU_ITEM_FAILED_TO_START)
      bad |= json_object_set_new(
          o, "error",
          json_string(ir->message ? ir->message : cu_strerror(ir->error)));
    else if (done)
      bad |= json_object_set_new(o, "error",
                                 json_string("srun printed no result line "
                                             "(its stderr is the item's)"));
  }
  bad |= json_object_set_new(
      o, "start_time",
      ir->result && ir->state != CU_ITEM_SKIPPED ? json_real(start)
                                                  : json_null());
  /* srun exits with cuprum exec-item's status, which is the item's. */
  int status = ir->state == CU_ITEM_FAILED_TO_START
                   ? cli_exit_for_error(ir->error)
               : ir->result ? cli_status_of(ir->result)
                            : CLI_EXIT_FAILURE;
  bad |= json_object_set_new(o, "status", json_integer(status));
  if (node) {
    lend(streams, node);
    /* Not run on the node: what cuprum exec-item said about why is on
     * srun's stderr. */
    if (!ran && streams->err_len == 0 && res->err.data) {
      streams->err = res->err.data;
      streams->err_len = res->err.len;
    }
    s->current = node;
  } else {
    *streams = (cli_streams){
        .out = "",
        .err = res->err.data ? res->err.data : "",
        .err_len = res->err.data ? res->err.len : 0,
    };
  }
  return bad ? -1 : 0;
}

/* Run a Slurm client; its output is kept in the result (caller frees). */
static cu_result *client(const slurm_state *s, const char *prog,
                         const char *const *args) {
  cu_cmd *cmd = NULL;
  if (cu_cmd_new(s->cat, CU_PROGRAM(prog), &cmd) != 0)
    return NULL;
  for (size_t i = 0; args[i]; i++)
    cu_cmd_arg(cmd, args[i]);
  cu_run_opts o = {.size = sizeof(cu_run_opts), .timeout_ms = 30000,
                   .new_session = true};
  cu_result *r = NULL;
  if (cu_run(cmd, &o, &r) != 0) {
    /* The result (when allocated) carries the code in r->error, and the
     * callers read it there. */
  }
  cu_cmd_free(cmd);
  return r;
}

static void scancel(const slurm_state *s, const char *signal) {
  char name[128], sig[32];
  snprintf(name, sizeof name, "--name=%s", s->job_name);
  const char *args[3] = {name, NULL, NULL};
  if (signal) {
    snprintf(sig, sizeof sig, "--signal=%s", signal);
    args[1] = sig;
  }
  cu_result_free(client(s, "scancel", args));
}

/* Whether Slurm still lists a job of this batch (any state). */
static bool jobs_left(const slurm_state *s) {
  char name[128];
  snprintf(name, sizeof name, "--name=%s", s->job_name);
  const char *args[] = {"--noheader", "--format=%i", name, NULL};
  cu_result *r = client(s, "squeue", args);
  bool left = r && r->ok && r->out.len > 0;
  cu_result_free(r);
  return left;
}

static void sleep_ms(int64_t ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* TERM every remaining step of the batch, KILL after the grace, cancel the
 * jobs, and wait (at most 10 s) until Slurm lists none. */
static void slurm_finish(cli_executor *ex, bool stopped) {
  slurm_state *s = ex->state;
  if (!stopped || !jobs_left(s))
    return;
  scancel(s, "TERM");
  sleep_ms(s->grace_ms);
  scancel(s, "KILL");
  scancel(s, NULL);
  for (int i = 0; i < 100 && jobs_left(s); i++)
    sleep_ms(100);
}

int cli_executor_slurm_new(const slurm_opts *so, cli_executor **ret) {
  slurm_state *s = calloc(1, sizeof *s);
  if (!s) {
    cli_error("out of memory");
    return CLI_EXIT_FAILURE;
  }
  s->so = so;
  int status = executor_catalogue(&s->cat);
  if (status == 0)
    status = self_path(so, s->cuprum, sizeof s->cuprum);
  if (status != 0) {
    cli_executor_slurm_free(&s->ex);
    return status;
  }
  char host[64] = "host";
  gethostname(host, sizeof host - 1);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  /* One name per batch: one scancel reaches every item's job. */
  snprintf(s->job_name, sizeof s->job_name, "cuprum-%.40s-%ld-%lld%03ld",
           host, (long)getpid(), (long long)now.tv_sec,
           now.tv_nsec / 1000000);
  s->grace_ms = so->grace_ms < 0 ? CU_GRACE_DEFAULT_MS : so->grace_ms;
  s->ex = (cli_executor){.name = "slurm",
                         .make_cmd = slurm_make_cmd,
                         .result_fields = slurm_result_fields,
                         .state = s,
                         .run_opts = slurm_run_opts,
                         .finish = slurm_finish,
                         .remote_timeout = true,
                         .remote_streams = true};
  *ret = &s->ex;
  return 0;
}

cli_executor *cli_executor_slurm_free(cli_executor *ex) {
  if (!ex)
    return NULL;
  slurm_state *s = ex->state ? ex->state : (slurm_state *)ex;
  for (size_t i = 0; i < s->n_slots; i++)
    free(s->slots[i].item);
  free(s->slots);
  json_decref(s->current);
  cu_catalogue_unref(s->cat);
  free(s);
  return NULL;
}
