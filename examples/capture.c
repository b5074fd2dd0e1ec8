/* SPDX-License-Identifier: MIT */
/* capture: run `uname -s -r` from the default catalogue and print what it
 * wrote, in the one-call form. */
#include <stdio.h>

#include <cuprum/cuprum.h>

int main(void) {
  cu_result *res = NULL;
  int rc =
      cu_run_args(CU_UNAME, (const char *[]){"-s", "-r", NULL}, NULL, &res);
  if (rc == 0)
    printf("%s", res->out.data); /* exit code, signal, timings: in res too */
  else
    fprintf(stderr, "capture: %s\n", cu_last_error());
  int status = rc == 0 && res->ok ? 0 : 1;
  res = cu_result_free(res); /* set even on error: always free it */
  return status;
}
