/* SPDX-License-Identifier: MIT */
/* cu_pipeline_of() reads stages until a NULL pointer. */
/* expect: missing sentinel */
#include <cuprum/cuprum.h>

int main(void) {
  cu_cmd *a = NULL, *b = NULL;
  cu_cmd_new(NULL, CU_ECHO, &a);
  cu_cmd_new(NULL, CU_CAT, &b);
  cu_pipeline *p = NULL;
#ifdef CU_MISUSE
  int rc = cu_pipeline_of(&p, a, b);
#else
  int rc = cu_pipeline_of(&p, a, b, NULL);
#endif
  p = cu_pipeline_free(p);
  a = cu_cmd_free(a);
  b = cu_cmd_free(b);
  return rc == 0 ? 0 : 1;
}
