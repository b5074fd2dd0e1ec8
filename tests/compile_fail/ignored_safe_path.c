/* SPDX-License-Identifier: MIT */
/* The validating constructor's verdict must be looked at: ignoring it
 * would go on with a NULL path whose rejection nobody saw. */
/* expect: ignoring return value */
#include <cuprum/cuprum.h>

int main(void) {
  cu_safe_path *p = NULL;
#ifdef CU_MISUSE
  cu_safe_path_new("/srv/../etc", NULL, &p);
#else
  if (cu_safe_path_new("/srv/data", NULL, &p) != 0)
    return 1;
#endif
  p = cu_safe_path_free(p);
  return 0;
}
