/* SPDX-License-Identifier: MIT */
/* Self-test of scripts/compile-fail.sh: the control includes a header that
 * does not exist, so the misuse "fails" for the wrong reason and the script
 * must report failure (the test is registered WILL_FAIL). */
/* expect: ignoring return value */
#include <cuprum/no_such_header.h>

int main(void) {
#ifdef CU_MISUSE
  cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_DENY});
#endif
  return 0;
}
