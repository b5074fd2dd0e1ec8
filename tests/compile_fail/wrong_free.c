/* SPDX-License-Identifier: MIT */
/* Every handle has its own release function; each takes its own opaque
 * type, so releasing a result with the command's function (or the other
 * way round) does not compile. */
/* expect: incompatible pointer type */
#include <cuprum/cuprum.h>

int main(void) {
  cu_cmd *cmd = NULL;
  cu_cmd_new(NULL, CU_TRUE, &cmd);
  cu_result *r = NULL;
  int rc = cu_run(cmd, NULL, &r);
#ifdef CU_MISUSE
  cu_cmd_free(r);
#else
  r = cu_result_free(r);
#endif
  cmd = cu_cmd_free(cmd);
  return rc == 0 ? 0 : 1;
}
