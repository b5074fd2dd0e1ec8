/* SPDX-License-Identifier: MIT */
/*
 * timeout: a timeout ends a whole process tree.
 *
 *   timeout                          runs `sleep 30` (default catalogue)
 *   timeout /abs/path/PROG [ARG...]  allows PROG explicitly, then runs it
 *
 * The run gets 0.5 s, then SIGTERM goes to its process group; whatever is
 * still alive 0.3 s later (a child ignoring SIGTERM, a grandchild) gets
 * SIGKILL. cu_run() returns with the partial output it captured.
 * `make demo` runs it on a test helper that forks a TERM-ignoring
 * grandchild.
 */
#include <stdio.h>
#include <string.h>

#include <cuprum/cuprum.h>

/* The command: `sleep 30`, or argv[1..] with argv[1] allowed explicitly in
 * a copy of the default catalogue (widening is always explicit). */
static int make_command(int argc, char **argv, cu_cmd **ret) {
  const cu_catalogue *def = NULL;
  cu_catalogue *cat = NULL;
  if (argc < 2) {
    int rc = cu_cmd_new(NULL, CU_SLEEP, ret);
    return rc == 0 ? cu_cmd_arg(*ret, "30") : rc;
  }
  const char *slash = strrchr(argv[1], '/');
  cu_program prog = CU_PROGRAM(slash ? slash + 1 : argv[1]);
  int rc = cu_catalogue_default(&def);
  if (rc == 0)
    rc = cu_catalogue_clone(def, &cat);
  if (rc == 0)
    rc = cu_catalogue_allow(cat, prog, argv[1]);
  if (rc == 0)
    rc = cu_cmd_new(cat, prog, ret);
  for (int i = 2; rc == 0 && i < argc; i++)
    rc = cu_cmd_arg(*ret, argv[i]);
  cu_catalogue_unref(cat); /* the command keeps what it needs */
  return rc;
}

int main(int argc, char **argv) {
  cu_cmd *cmd = NULL;
  cu_result *res = NULL;
  int rc = make_command(argc, argv, &cmd);
  cu_run_opts opts = {
      .size = sizeof(cu_run_opts), .timeout_ms = 500, .grace_ms = 300};
  if (rc == 0)
    rc = cu_run(cmd, &opts, &res);
  if (rc != 0)
    fprintf(stderr, "timeout: %s\n", cu_last_error());
  else
    printf("timed out:     %s\nSIGTERM sent:  %s\nSIGKILL sent:  %s\n"
           "ended by:      %s %d\nduration:      %.0f ms\n"
           "process group: %d\ncaptured:      %s",
           res->timed_out ? "yes" : "no", res->sent_term ? "yes" : "no",
           res->sent_kill ? "yes" : "no",
           res->term_signal ? "signal" : "exit code",
           res->term_signal ? res->term_signal : res->exit_code,
           (double)res->duration_ns / 1e6, (int)res->pid,
           res->out.len ? cu_result_text(res, CU_STDOUT) : "(nothing)\n");
  int status = rc == 0 && res->timed_out ? 0 : 1;
  res = cu_result_free(res);
  cu_cmd_free(cmd);
  return status;
}
