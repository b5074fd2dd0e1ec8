/* SPDX-License-Identifier: MIT */
/*
 * async: two commands at once on one cu_loop, one thread, no SIGCHLD.
 * `sleep 0.4` and `uname -s` start together; each completion callback
 * fires once, as its command ends, and the whole takes about as long as
 * the slower command rather than their sum.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <time.h>

#include <cuprum/cuprum.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_done(void *name, cu_task *task, const cu_result *res) {
  (void)task;
  printf("done: %-6s exit %d after %6.1f ms, stdout: %s", (const char *)name,
         res->exit_code, (double)res->duration_ns / 1e6,
         res->out.len ? res->out.data : "(empty)\n");
}

int main(void) {
  cu_loop *loop = NULL;
  cu_cmd *sleep_cmd = NULL, *uname_cmd = NULL;
  cu_task *t1 = NULL, *t2 = NULL;
  int rc = cu_loop_new(&loop);
  if (rc == 0 && (rc = cu_cmd_new(NULL, CU_SLEEP, &sleep_cmd)) == 0)
    rc = cu_cmd_arg(sleep_cmd, "0.4");
  if (rc == 0 && (rc = cu_cmd_new(NULL, CU_UNAME, &uname_cmd)) == 0)
    rc = cu_cmd_arg(uname_cmd, "-s");
  double t0 = now_ms();
  if (rc == 0 && (rc = cu_loop_spawn(loop, sleep_cmd, NULL, &t1)) == 0)
    cu_task_on_done(t1, on_done, "sleep");
  if (rc == 0 && (rc = cu_loop_spawn(loop, uname_cmd, NULL, &t2)) == 0)
    cu_task_on_done(t2, on_done, "uname");
  if (rc == 0)
    rc = cu_loop_run(loop); /* or poll cu_loop_fd() in your own loop */
  if (rc == 0)
    printf("both finished in %.1f ms\n", now_ms() - t0);
  else
    fprintf(stderr, "async: %s\n", cu_last_error());
  cu_task_free(t1);
  cu_task_free(t2);
  cu_loop_free(loop);
  cu_cmd_free(sleep_cmd);
  cu_cmd_free(uname_cmd);
  return rc == 0 ? 0 : 1;
}
