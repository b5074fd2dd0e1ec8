/* SPDX-License-Identifier: MIT */
/* cu_run()'s return says whether the command ran at all (refused by the
 * allowlist, vetoed, not found...): dropping it hides that. */
/* expect: ignoring return value */
#include <cuprum/cuprum.h>

int main(void) {
  cu_cmd *cmd = NULL;
  cu_cmd_new(NULL, CU_TRUE, &cmd);
  cu_result *r = NULL;
#ifdef CU_MISUSE
  cu_run(cmd, NULL, &r);
#else
  if (cu_run(cmd, NULL, &r) != 0)
    return 1;
#endif
  r = cu_result_free(r);
  cmd = cu_cmd_free(cmd);
  return 0;
}
