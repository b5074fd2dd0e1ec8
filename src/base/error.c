/* SPDX-License-Identifier: MIT */
/* Error vocabulary and the thread-local detailed message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"

/* The only mutable state here is thread-local (see docs/design.md). */
static _Thread_local char last_error[512];

const char *cu_strerror(int err) {
  switch (err) {
  case CU_OK:
    return "success";
#define CU__ERR_MSG(name, val, msg)                                            \
  case CU_##name:                                                              \
    return msg;
    CU_ERRNO_MAP(CU__ERR_MSG)
#undef CU__ERR_MSG
  default:
    return "unknown error";
  }
}

const char *cu_err_name(int err) {
  switch (err) {
  case CU_OK:
    return "OK";
#define CU__ERR_NAME(name, val, msg)                                           \
  case CU_##name:                                                              \
    return #name;
    CU_ERRNO_MAP(CU__ERR_NAME)
#undef CU__ERR_NAME
  default:
    return "UNKNOWN";
  }
}

const char *cu_last_error(void) { return last_error; }

void cu__clear_error(void) { last_error[0] = '\0'; }

CU__PRINTF(3, 0)
static int vfail(int code, int err_no, const char *fmt, va_list ap) {
  int n = vsnprintf(last_error, sizeof last_error, fmt, ap);
  if (n < 0)
    n = 0;
  size_t used = (size_t)n < sizeof last_error ? (size_t)n : sizeof last_error - 1;
  if (err_no != 0 && used < sizeof last_error - 1)
    snprintf(last_error + used, sizeof last_error - used, ": %s",
             strerror(err_no));
  return code;
}

int cu__fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(code, 0, fmt, ap);
  va_end(ap);
  return code;
}

int cu__fail_errno(int code, int err_no, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(code, err_no, fmt, ap);
  va_end(ap);
  return code;
}
