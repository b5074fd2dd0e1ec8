/* SPDX-License-Identifier: MIT */
/*
 * How an exec errno becomes a CU_E* code. Both spawners use it (proc.c for
 * posix_spawn, proc_fork.c for the fork + exec fallback); in its own file so
 * the fallback does not need the file that calls it.
 */
#include <errno.h>

#include "base/internal.h"
#include "spawn/proc.h"

int cu__spawn_errno_code(int err) {
  switch (err) {
  case ENOENT:
  case ENOTDIR:
    return CU_ENOTFOUND;
  case EACCES:
  case EPERM:
    return CU_EACCES;
  case ENOEXEC:
    return CU_ENOEXEC;
  case E2BIG:
    return CU_E2BIG;
  case ENOMEM:
    return CU_ENOMEM;
  default:
    return CU_ESPAWN;
  }
}
