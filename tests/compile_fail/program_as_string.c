/* SPDX-License-Identifier: MIT */
/* A program is a cu_program value (a catalogue key), never a bare string:
 * a path or name typed by hand, or read from input, does not compile. */
/* expect: incompatible type */
#include <cuprum/cuprum.h>

int main(void) {
  cu_cmd *cmd = NULL;
#ifdef CU_MISUSE
  cu_cmd_new(NULL, "/bin/ls", &cmd);
#else
  cu_cmd_new(NULL, CU_LS, &cmd);
#endif
  cmd = cu_cmd_free(cmd);
  return 0;
}
