/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/error.h
 * @brief One error vocabulary for the whole API.
 *
 * Every fallible libcuprum function returns 0 (or a non-negative count) on
 * success and one of the negative CU_E* codes below on failure.  The code
 * says what kind of failure it was; cu_last_error() gives a human-readable
 * sentence with the details (which program, which variable, which errno).
 *
 * Thread-safety: all functions here are thread-safe.  The message returned by
 * cu_last_error() is thread-local.
 */
#ifndef CUPRUM_ERROR_H
#define CUPRUM_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X-macro: name, value, default message. Values never change once released. */
#define CU_ERRNO_MAP(XX)                                                       \
  XX(EINVAL, -1, "invalid argument")                                           \
  XX(ENOMEM, -2, "out of memory")                                              \
  XX(EUNKNOWN_PROGRAM, -3, "program is not in the catalogue")                  \
  XX(EFORBIDDEN, -4, "program is forbidden by the current context")            \
  XX(EDUPLICATE_PROJECT, -5, "duplicate project name in catalogue")            \
  XX(EPROGRAM_CONFLICT, -6, "program is owned by two projects")                \
  XX(ENOTFOUND, -7, "executable not found")                                    \
  XX(EACCES, -8, "executable cannot be executed (permission denied)")          \
  XX(ENOEXEC, -9, "executable format error")                                   \
  XX(ECWD, -10, "working directory is not usable")                             \
  XX(E2BIG, -11, "argument list too long")                                     \
  XX(ENULARG, -12, "NUL byte in argument")                                     \
  XX(EBADENV, -13, "invalid environment variable name or value")               \
  XX(ESPAWN, -14, "spawning the child failed")                                 \
  XX(ESYS, -15, "system call failed")                                          \
  XX(EVETO, -16, "run vetoed by a before hook")                                \
  XX(EPOLICY, -17, "denied by policy")                                         \
  XX(EBACKEND, -18, "stream backend unavailable or invalid")                   \
  XX(ECATALOGUE, -19, "invalid catalogue")                                     \
  XX(ESTDIN, -20, "stdin source is not usable")                                \
  XX(EBUSY, -21, "object is busy")                                             \
  XX(ESTATE, -22, "operation not valid in the current state")                  \
  XX(EIO, -23, "I/O error while moving data")                                  \
  XX(ECANCELED, -24, "operation cancelled")                                    \
  XX(ETIMEDOUT, -25, "operation timed out")                                    \
  XX(EUNSUPPORTED, -26, "not available on this host")

/** Error codes. All are negative; 0 is success. */
typedef enum cu_errno {
  CU_OK = 0,
#define CU__ERR_ENUM(name, val, msg) CU_##name = (val),
  CU_ERRNO_MAP(CU__ERR_ENUM)
#undef CU__ERR_ENUM
} cu_errno;

/**
 * Static description of an error code ("program is not in the catalogue").
 * Never NULL; unknown codes give "unknown error".
 */
const char *cu_strerror(int err);

/** The code's name without prefix, e.g. "EUNKNOWN_PROGRAM". Never NULL. */
const char *cu_err_name(int err);

/**
 * The detailed message of the most recent failure on this thread, e.g.
 * "program 'bash' is not in the catalogue". Valid until the next libcuprum
 * call on the same thread. Never NULL (empty string if nothing failed yet).
 */
const char *cu_last_error(void);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_ERROR_H */
