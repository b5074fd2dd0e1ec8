/* SPDX-License-Identifier: MIT */
/* Self-test of scripts/compile-fail.sh: the "misuse" here is valid code,
 * so the script must report failure (the test is registered WILL_FAIL). */
/* expect: error */
#include <cuprum/cuprum.h>

int main(void) {
#ifdef CU_MISUSE
  return cu_version()[0] == '\0';
#else
  return 0;
#endif
}
