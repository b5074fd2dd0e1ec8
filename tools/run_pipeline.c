/* SPDX-License-Identifier: MIT */
/* `cuprum run A ARGS '|' B ARGS ...`: a pipeline of allowlisted programs,
 * joined child to child by kernel pipes (the bytes never cross cuprum). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

#define SUB "run"

/* The stages of one pipeline, all built before anything runs. */
typedef struct stages {
  size_t n;
  int *begin;     /* index in a->command of each stage's PROGRAM */
  cu_cmd **cmds;
  cu_pipeline *pipeline;
  char *name;     /* "a | b | c", for messages */
} stages;

bool cli_is_pipeline(const run_args *a) {
  for (int i = 0; i < a->n_command; i++)
    if (strcmp(a->command[i], a->pipe_token) == 0)
      return true;
  return false;
}

static bool is_token(const run_args *a, int i) {
  return i == a->n_command || strcmp(a->command[i], a->pipe_token) == 0;
}

/* Where each stage starts; an empty stage is a usage error, found before
 * the catalogue is asked about any program. */
static int split(const run_args *a, stages *s) {
  size_t n = 1;
  for (int i = 0; i < a->n_command; i++)
    n += strcmp(a->command[i], a->pipe_token) == 0;
  s->begin = calloc(n, sizeof *s->begin);
  s->cmds = calloc(n, sizeof *s->cmds);
  if (!s->begin || !s->cmds) {
    cli_error("out of memory");
    return CLI_EXIT_FAILURE;
  }
  int begin = 0;
  for (int i = 0; i <= a->n_command; i++) {
    if (!is_token(a, i))
      continue;
    if (i == begin)
      return cli_usage_error(SUB, "stage %zu of the pipeline is empty (a "
                             "'%s' at the start or end, or two in a row)",
                             s->n + 1, a->pipe_token);
    s->begin[s->n++] = begin;
    begin = i + 1;
  }
  return 0;
}

static int stage_argc(const run_args *a, const stages *s, size_t k) {
  int end = k + 1 < s->n ? s->begin[k + 1] - 1 : a->n_command;
  return end - s->begin[k];
}

static int describe(const run_args *a, stages *s) {
  size_t len = 0;
  FILE *f = open_memstream(&s->name, &len);
  if (!f) {
    cli_error("out of memory");
    return CLI_EXIT_FAILURE;
  }
  for (size_t k = 0; k < s->n; k++)
    fprintf(f, "%s%s", k ? " | " : "", a->command[s->begin[k]]);
  return fclose(f) == 0 ? 0 : CLI_EXIT_FAILURE;
}

static int build(const run_args *a, const cu_catalogue *cat, stages *s) {
  int status = split(a, s);
  for (size_t k = 0; status == 0 && k < s->n; k++)
    status = cli_build_command(cat, a->command + s->begin[k],
                               stage_argc(a, s, k), NULL, &s->cmds[k]);
  if (status == CLI_EXIT_FAILURE && s->n > 0 && s->cmds[0])
    /* A later stage was refused: perhaps the '|' was meant as an argument
     * (`grep '|' FILE`). */
    cli_error("(a lone '%s' argument separates pipeline stages; "
              "--pipe-token TOKEN makes it an ordinary argument)",
              a->pipe_token);
  if (status != 0)
    return status;
  int rc = cu_pipeline_new(&s->pipeline);
  for (size_t k = 0; rc == 0 && k < s->n; k++)
    rc = cu_pipeline_add(s->pipeline, s->cmds[k]);
  if (rc != 0) {
    cli_error("%s", cu_last_error());
    return CLI_EXIT_FAILURE;
  }
  return describe(a, s);
}

static void stages_free(stages *s) {
  for (size_t k = 0; s->cmds && k < s->n; k++)
    cu_cmd_free(s->cmds[k]);
  cu_pipeline_free(s->pipeline);
  free(s->cmds);
  free(s->begin);
  free(s->name);
}

static bool any_killed(const cu_pipeline_result *r) {
  for (size_t k = 0; k < r->n_stages; k++)
    if (r->stages[k]->sent_kill)
      return true;
  return false;
}

/* Fail-fast: the failing stage's status (the others were stopped because
 * of it). Wait-all, or no failure: the last stage's, as a shell without
 * pipefail reports it. A failing earlier stage is named on stderr, since
 * the status alone does not say which stage it came from. */
static int pipeline_status(const run_args *a, const stages *s,
                           const cu_pipeline_result *r,
                           const echo_sink sinks[2]) {
  if (r->timed_out) {
    cli_error("pipeline '%s' timed out after %s s; its process group was %s",
              s->name, a->timeout_text,
              any_killed(r) ? "killed" : "terminated");
    return CLI_EXIT_TIMEOUT;
  }
  int status = cli_status_stopped(r->cancelled, sinks);
  if (status >= 0)
    return status;
  size_t last = r->n_stages - 1, idx = last;
  if (!a->wait_all && r->fail_index >= 0)
    idx = (size_t)r->fail_index;
  status = cli_status_of(r->stages[idx]);
  if (r->fail_index >= 0 && (size_t)r->fail_index != last) {
    size_t f = (size_t)r->fail_index;
    cli_error("stage %zu of %zu ('%s') failed with status %d%s", f + 1,
              r->n_stages, a->command[s->begin[f]], cli_status_of(r->stages[f]),
              a->wait_all ? "" : "; the other stages were stopped");
  }
  return status;
}

int cli_run_pipeline(const run_args *a, const cu_catalogue *cat) {
  stages s = {0};
  int status = build(a, cat, &s);
  if (status == 0) {
    echo_sink sinks[2] = {{.fd = STDOUT_FILENO}, {.fd = STDERR_FILENO}};
    cu_run_opts run = cli_make_run_opts(a, sinks);
    cu_pipeline_opts o = {
        .size = sizeof(cu_pipeline_opts),
        .run = &run,
        .policy = a->wait_all ? CU_FAIL_WAIT_ALL : CU_FAIL_FAST,
        .sigpipe_is_failure = a->sigpipe_fails,
    };
    cu_pipeline_result *r = NULL;
    int rc = cu_pipeline_run(s.pipeline, &o, &r);
    status = rc == 0
                 ? pipeline_status(a, &s, r, sinks)
                 : cli_status_not_run(rc, r ? r->spawn_step : CU_STEP_NONE);
    r = cu_pipeline_result_free(r);
  }
  stages_free(&s);
  return status;
}
