/* SPDX-License-Identifier: MIT */
/* cu_cmd_argf() is printf-checked: a format that does not match its
 * arguments would put garbage (or a crash) into the child's argv. */
/* expect: expects argument of type|format specifies type */
#include <cuprum/cuprum.h>

int main(void) {
  cu_cmd *cmd = NULL;
  cu_cmd_new(NULL, CU_ECHO, &cmd);
  const char *name = "build";
#ifdef CU_MISUSE
  cu_cmd_argf(cmd, "--jobs=%d", name);
#else
  cu_cmd_argf(cmd, "--target=%s", name);
#endif
  cmd = cu_cmd_free(cmd);
  return 0;
}
