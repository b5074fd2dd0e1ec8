/* SPDX-License-Identifier: MIT */
/*
 * Building structured events for a job's stages. Nothing here runs unless
 * the captured context has observers (job->observed), so unobserved runs
 * pay nothing for events.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "catalogue/cmd_int.h"
#include "context/tags.h"
#include "runtime/job_internal.h"

/* A process-wide counter is the one piece of shared mutable state here: ids
 * must be unique across threads, and an atomic needs no lock. */
static atomic_uint_fast64_t exec_counter;

uint64_t cu__next_exec_id(void) {
  return (uint64_t)atomic_fetch_add_explicit(&exec_counter, 1,
                                             memory_order_relaxed) +
         1;
}

/* Event tags per stage: scope and call tags, then project, then the
 * pipeline position when there is more than one stage. */
int cu__job_build_event_tags(cu__job *job) {
  if (!job->observed)
    return 0;
  for (size_t i = 0; i < job->n; i++) {
    cu__stage *st = &job->stages[i];
    const cu_project *p = st->cmd->project;
    char idx[24], cnt[24];
    snprintf(idx, sizeof idx, "%zu", i);
    snprintf(cnt, sizeof cnt, "%zu", job->n);
    cu_tag extra[3];
    size_t n_extra = 0;
    if (p)
      extra[n_extra++] = (cu_tag){"project", cu_project_name(p)};
    if (job->n > 1) {
      extra[n_extra++] = (cu_tag){"stage", idx};
      extra[n_extra++] = (cu_tag){"stages", cnt};
    }
    int rc = cu__tags_copy(job->tags, job->n_tags, extra, n_extra,
                           &st->ev_tags, &st->n_ev_tags);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static void base_event_at(const cu__job *job, const cu__stage *st,
                          cu_event_phase phase, struct timespec wall,
                          struct timespec mono, cu_event *ev) {
  const cu_cmd *cmd = st->cmd;
  *ev = (cu_event){
      .phase = phase,
      .exec_id = st->exec_id,
      .program = cmd->program.name,
      .path = cmd->path,
      .argv = (const char *const *)cmd->argv,
      .n_argv = cmd->argc,
      .cwd = job->cwd,
      .env = job->env,
      .n_env = job->n_env,
      .pid = st->pid,
      .wall = wall,
      .mono = mono,
      .exit_code = st->exit_code,
      .term_signal = st->term_signal,
      .tags = st->ev_tags,
      .n_tags = st->n_ev_tags,
      .project = cmd->project,
      .unsafe = cmd->unsafe,
      .stage_index = (int)(st - job->stages),
      .n_stages = (int)job->n,
      .run_id = job->stages[0].exec_id,
      .batch_id = job->batch_id,
      .batch_index = job->batch_index,
  };
}

static void base_event(const cu__job *job, const cu__stage *st,
                       cu_event_phase phase, cu_event *ev) {
  base_event_at(job, st, phase, cu__now(CLOCK_REALTIME),
                cu__now(CLOCK_MONOTONIC), ev);
}

void cu__job_stage_event(const cu__job *job, const cu__stage *st,
                         cu_event_phase phase, cu_event *ev) {
  base_event(job, st, phase, ev);
}

void cu__job_emit_simple(cu__job *job, cu__stage *st, cu_event_phase phase) {
  if (!job->observed)
    return;
  cu_event ev;
  base_event(job, st, phase, &ev);
  cu__ctx_emit(job->ctx, &ev);
}

void cu__job_emit_plan(cu__job *job) {
  for (size_t i = 0; job->observed && i < job->n; i++)
    cu__job_emit_simple(job, &job->stages[i], CU_EV_PLAN);
}

void cu__job_emit_start(cu__job *job) {
  for (size_t i = 0; job->observed && i < job->n; i++)
    cu__job_emit_simple(job, &job->stages[i], CU_EV_START);
}

void cu__job_emit_spawn_failed(cu__job *job, cu__stage *st, int rc,
                               int err_no) {
  if (!job->observed)
    return;
  cu_event ev;
  base_event(job, st, CU_EV_SPAWN_FAILED, &ev);
  ev.pid = 0;
  ev.error = rc;
  ev.err_no = err_no;
  cu__ctx_emit(job->ctx, &ev);
}

void cu__job_emit_exit(cu__job *job, cu__stage *st) {
  st->exit_emitted = true;
  if (!job->observed)
    return;
  cu_event ev;
  base_event(job, st, CU_EV_EXIT, &ev);
  ev.duration_ns = cu__ts_ns(st->end_mono) - cu__ts_ns(st->start_mono);
  ev.user_cpu_us = (int64_t)st->ru.ru_utime.tv_sec * 1000000 +
                   st->ru.ru_utime.tv_usec;
  ev.sys_cpu_us = (int64_t)st->ru.ru_stime.tv_sec * 1000000 +
                  st->ru.ru_stime.tv_usec;
  ev.max_rss_kb = st->ru.ru_maxrss;
  ev.contained = job->contained;
  ev.cgroup_cpu_us = job->contained ? job->cg_cpu_us : -1;
  ev.cgroup_mem_peak = job->contained ? job->cg_mem_peak : -1;
  cu__ctx_emit(job->ctx, &ev);
}

void cu__job_emit_stdin(cu__job *job, int error, int err_no) {
  if (!job->observed)
    return;
  cu_event ev;
  base_event(job, &job->stages[0], error ? CU_EV_STDIN_ERROR : CU_EV_STDIN,
             &ev);
  ev.bytes = job->stdin_bytes;
  ev.error = error;
  ev.err_no = err_no;
  cu__ctx_emit(job->ctx, &ev);
}

void cu__job_emit_stopped(cu__job *job, cu__stage *st, int sig) {
  if (!job->observed)
    return;
  cu_event ev;
  base_event(job, st, CU_EV_STOPPED, &ev);
  ev.term_signal = sig; /* the signal that stopped it */
  cu__ctx_emit(job->ctx, &ev);
}

static void emit_line(cu__stage *st, cu_event_phase phase, const char *line,
                      size_t len, unsigned flags) {
  cu__job *job = st->w_pid.job;
  /* Lines of one read share one clock reading: two clock_gettime calls per
   * line were a measurable share of observing 100 MiB of short lines. */
  if (!job->stamp_ok) {
    job->stamp_wall = cu__now(CLOCK_REALTIME);
    job->stamp_mono = cu__now(CLOCK_MONOTONIC);
    job->stamp_ok = true;
  }
  /* The constant fields are filled once per stage; a line only changes
   * these few (filling the whole struct per line was a third of the
   * per-line cost). */
  cu_event *ev = &st->line_ev;
  if (!st->line_ev_ready) {
    base_event_at(job, st, phase, job->stamp_wall, job->stamp_mono, ev);
    st->line_ev_ready = true;
  }
  ev->phase = phase;
  ev->wall = job->stamp_wall;
  ev->mono = job->stamp_mono;
  ev->line = line;
  ev->line_len = len;
  ev->line_flags = flags;
  ev->noise = job->wants_noise &&
              cu_project_is_noise(st->cmd->project, line, len);
  cu__ctx_emit(job->ctx, ev);
}

void cu__job_stdout_line(void *stage, const char *line, size_t len,
                         unsigned flags) {
  emit_line(stage, CU_EV_STDOUT_LINE, line, len, flags);
}

void cu__job_stderr_line(void *stage, const char *line, size_t len,
                         unsigned flags) {
  emit_line(stage, CU_EV_STDERR_LINE, line, len, flags);
}
