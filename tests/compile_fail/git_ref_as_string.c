/* SPDX-License-Identifier: MIT */
/* A git builder takes a validated cu_git_ref, never a raw string: a ref
 * read from input cannot reach git's argv without cu_git_ref_new()'s
 * check-ref-format rules (an "--upload-pack=..." would be an option). */
/* expect: incompatible pointer type|incompatible type */
#include <cuprum/cuprum.h>

int main(void) {
  cu_cmd *cmd = NULL;
#ifdef CU_MISUSE
  int rc = cu_git_checkout("main", NULL, &cmd);
#else
  cu_git_ref *ref = NULL;
  int rc = cu_git_ref_new("main", NULL, &ref);
  if (rc == 0)
    rc = cu_git_checkout(ref, NULL, &cmd);
  ref = cu_git_ref_free(ref);
#endif
  cmd = cu_cmd_free(cmd);
  return rc == 0 ? 0 : 1;
}
