/* SPDX-License-Identifier: MIT */
/* A builder takes a validated cu_safe_path, never a raw string: a path
 * with `..`, a NUL or a leading `-` cannot reach tar's argv unchecked. */
/* expect: incompatible pointer type|incompatible type */
#include <cuprum/cuprum.h>

int main(void) {
  cu_cmd *cmd = NULL;
#ifdef CU_MISUSE
  int rc = cu_tar_list("/tmp/backup.tar", NULL, &cmd);
#else
  cu_safe_path *archive = NULL;
  int rc = cu_safe_path_new("/tmp/backup.tar", NULL, &archive);
  if (rc == 0)
    rc = cu_tar_list(archive, NULL, &cmd);
  archive = cu_safe_path_free(archive);
#endif
  cmd = cu_cmd_free(cmd);
  return rc == 0 ? 0 : 1;
}
