/* SPDX-License-Identifier: MIT */
/* A policy change the floor refused must not go unnoticed: the program
 * would go on believing it is stricter (or looser) than it is. */
/* expect: ignoring return value */
#include <cuprum/cuprum.h>

int main(void) {
#ifdef CU_MISUSE
  cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_DENY});
#else
  if (cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_DENY}) != 0)
    return 1;
#endif
  return 0;
}
