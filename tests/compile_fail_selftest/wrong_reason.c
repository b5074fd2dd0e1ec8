/* SPDX-License-Identifier: MIT */
/* Self-test of scripts/compile-fail.sh: the misuse fails to compile, but
 * not for the reason the expect line names, so the script must report
 * failure (the test is registered WILL_FAIL). */
/* expect: missing sentinel */
#include <cuprum/cuprum.h>

int main(void) {
#ifdef CU_MISUSE
  return undeclared_identifier;
#else
  return 0;
#endif
}
