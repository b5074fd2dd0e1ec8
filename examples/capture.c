/* SPDX-License-Identifier: MIT */
/* capture: run `uname -s -r` from the default catalogue, capture its output
 * and print the result's fields. */
#include <stdio.h>

#include <cuprum/cuprum.h>

int main(void) {
  cu_cmd *cmd = NULL;
  cu_result *res = NULL;
  int rc = cu_cmd_new(NULL, CU_UNAME, &cmd); /* NULL: default catalogue */
  if (rc == 0)
    rc = cu_cmd_args(cmd, "-s", "-r", NULL);
  if (rc == 0)
    rc = cu_run(cmd, NULL, &res); /* NULL options: capture both streams */
  if (rc != 0)
    fprintf(stderr, "capture: %s\n", cu_last_error());
  else
    printf("exit code: %d\nsignal:    %d\nduration:  %.3f ms\nstdout:    %s"
           "ok:        %s\n",
           res->exit_code, res->term_signal, (double)res->duration_ns / 1e6,
           cu_result_text(res, CU_STDOUT), res->ok ? "true" : "false");
  int status = rc == 0 && res->ok ? 0 : 1;
  res = cu_result_free(res); /* always: cu_run initialises it even on error */
  cu_cmd_free(cmd);
  return status;
}
