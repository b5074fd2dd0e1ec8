/* SPDX-License-Identifier: MIT */
/* Private to the job implementation (job*.c). */
#ifndef CUPRUM_JOB_INTERNAL_H
#define CUPRUM_JOB_INTERNAL_H

#include "runtime/job.h"

static inline const cu_run_opts *job_opts_of(const cu__job *job) {
  return &job->opts_copy;
}

/* job_events.c */
uint64_t cu__next_exec_id(void);
int cu__job_build_event_tags(cu__job *job);
void cu__job_emit_plan(cu__job *job);
void cu__job_emit_start(cu__job *job);
void cu__job_emit_spawn_failed(cu__job *job, cu__stage *st, int rc,
                               int err_no);
void cu__job_emit_exit(cu__job *job, cu__stage *st);
void cu__job_stage_event(const cu__job *job, const cu__stage *st,
                         cu_event_phase phase, cu_event *ev);
void cu__job_emit_simple(cu__job *job, cu__stage *st, cu_event_phase phase);
void cu__job_emit_stdin(cu__job *job, int error, int err_no);
void cu__job_emit_stopped(cu__job *job, cu__stage *st, int sig);
void cu__job_stdout_line(void *stage, const char *line, size_t len,
                         unsigned flags);
void cu__job_stderr_line(void *stage, const char *line, size_t len,
                         unsigned flags);

/* job.c */
int cu__job_arm(cu__job *job);
/* The job's private stdin snapshot buffer: allocate len bytes into
 * job->stdin_copy (CU_ENOMEM), and release it (idempotent). */
int cu__job_stdin_copy_alloc(cu__job *job, size_t len);
void cu__job_stdin_copy_free(cu__job *job);
/* Send `sig` to every process group of the job (only ever to a group whose
 * leader we have not reaped, so the id cannot have been reused). */
void cu__job_signal(cu__job *job, int sig);

#endif /* CUPRUM_JOB_INTERNAL_H */
