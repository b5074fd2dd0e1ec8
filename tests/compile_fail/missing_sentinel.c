/* SPDX-License-Identifier: MIT */
/* cu_cmd_args() reads arguments until a NULL pointer: without it the
 * library would read past the list. */
/* expect: missing sentinel */
#include <cuprum/cuprum.h>

int main(void) {
  cu_cmd *cmd = NULL;
  cu_cmd_new(NULL, CU_ECHO, &cmd);
#ifdef CU_MISUSE
  cu_cmd_args(cmd, "a", "b");
#else
  cu_cmd_args(cmd, "a", "b", NULL);
#endif
  cmd = cu_cmd_free(cmd);
  return 0;
}
