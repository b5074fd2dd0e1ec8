/* SPDX-License-Identifier: MIT */
/* An argument string is never NULL (a NULL would only ever mean a bug,
 * e.g. an unchecked getenv()). */
/* expect: non-null */
#include <cuprum/cuprum.h>

int main(void) {
  cu_cmd *cmd = NULL;
  cu_cmd_new(NULL, CU_ECHO, &cmd);
#ifdef CU_MISUSE
  cu_cmd_arg(cmd, NULL);
#else
  cu_cmd_arg(cmd, "x");
#endif
  cmd = cu_cmd_free(cmd);
  return 0;
}
