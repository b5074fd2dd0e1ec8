/* SPDX-License-Identifier: MIT */
/*
 * What every fuzz target shares: CHECK, which turns a broken property into
 * a crash libFuzzer records (abort, not assert: it stays in release-style
 * builds), and the redactor that redacts nothing, for the targets that
 * compare the encoders' output with their input.
 */
#ifndef CUPRUM_FUZZ_CHECK_H
#define CUPRUM_FUZZ_CHECK_H

#include <stdlib.h>

#include <cuprum/redact.h>

#define CHECK(c)                                                               \
  do {                                                                         \
    if (!(c))                                                                  \
      abort();                                                                 \
  } while (0)

/* A redactor with no rules at all (not even the default names), so the
 * encoders' output can be compared with the values fed in. For
 * LLVMFuzzerInitialize; kept for the whole run. */
static inline cu_redact *fuzz_redact_nothing(void) {
  cu_redact_opts o = CU_REDACT_OPTS_INIT;
  o.no_default_names = true;
  cu_redact *r = NULL;
  CHECK(cu_redact_new(&o, &r) == 0);
  return r;
}

#endif /* CUPRUM_FUZZ_CHECK_H */
