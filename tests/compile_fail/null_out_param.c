/* SPDX-License-Identifier: MIT */
/* An out-parameter that must receive the answer cannot be NULL. */
/* expect: non-null */
#include <cuprum/cuprum.h>
#include <stdlib.h>

int main(void) {
  cu_cmd *cmd = NULL;
  cu_cmd_new(NULL, CU_ECHO, &cmd);
  char *line = NULL;
#ifdef CU_MISUSE
  int rc = cu_cmd_render(cmd, NULL);
#else
  int rc = cu_cmd_render(cmd, &line);
#endif
  free(line);
  cmd = cu_cmd_free(cmd);
  return rc == 0 ? 0 : 1;
}
