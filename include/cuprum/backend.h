/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/backend.h
 * @brief Stream backend selection: which engine moves bytes in the parent.
 *
 * Every place where the parent moves bytes (capture, echo/tee, an observed
 * pipeline stage, feeding stdin) goes through the stream engine
 * (cuprum/stream.h). Two backends move the bytes:
 *
 *  - `splice`: Linux splice(2)/tee(2), zero-copy between pipes (stdin
 *    bytes are written with write(2), which copies: never vmsplice(2));
 *    falls back to read/write per fd pair when the kernel refuses a file
 *    type, without losing or duplicating a byte.
 *  - `readwrite`: a portable read(2)/write(2) loop.
 *
 * Selection: the API (a per-call choice, cu_run_opts.backend, or a
 * thread-local override), else the environment variable
 * CUPRUM_STREAM_BACKEND = auto | splice | readwrite (read once per process
 * and cached; case-insensitive; surrounding whitespace ignored; empty means
 * auto). `auto` picks splice when the kernel supports it and the library was
 * built with it, else readwrite.
 *
 * This header is part of the umbrella cuprum/cuprum.h (run options name a
 * backend); the low-level engine itself is in cuprum/stream.h, included
 * explicitly by the programs that need it.
 *
 * Thread-safety: every function is thread-safe.
 */
#ifndef CUPRUM_BACKEND_H
#define CUPRUM_BACKEND_H

#include "attrs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** How the parent moves bytes between fds. */
typedef enum cu_stream_backend {
  CU_BACKEND_AUTO = 0,  /**< best available (splice on Linux) */
  CU_BACKEND_SPLICE,    /**< splice(2)/tee(2) zero-copy */
  CU_BACKEND_READWRITE, /**< portable read/write loop */
} cu_stream_backend;

/** The environment variable the dispatcher reads. */
#define CU_STREAM_BACKEND_ENV "CUPRUM_STREAM_BACKEND"

/**
 * Resolve `requested` to a concrete backend (never AUTO). AUTO consults the
 * thread's override, then CUPRUM_STREAM_BACKEND (read once, cached), then
 * picks splice when available, else readwrite.
 * Errors: CU_EINVAL (`requested` out of range, `ret` NULL); CU_EBACKEND
 * (splice requested but unavailable or compiled out; or an unrecognised env
 * value): cu_last_error() says why or lists the valid values.
 */
int cu_stream_backend_resolve(cu_stream_backend requested,
                              cu_stream_backend *ret)
    CU_NODISCARD CU_NONNULL(2);

/** "auto", "splice" or "readwrite" ("unknown" for anything else). */
const char *cu_stream_backend_name(cu_stream_backend b);

/**
 * Parse a backend name: case-insensitive, surrounding whitespace ignored,
 * empty (or only whitespace) means "auto".
 * Errors: CU_EINVAL (NULL argument); CU_EBACKEND for an unknown value, with
 * a message listing the valid values ("auto, splice, readwrite").
 */
int cu_stream_backend_parse(const char *text, cu_stream_backend *ret)
    CU_NODISCARD CU_NONNULL(1, 2);

/**
 * Set this thread's override: AUTO requests resolved on this thread use `b`
 * instead of the environment. CU_BACKEND_AUTO clears the override. The
 * override is not checked for availability here; resolving reports that.
 * Errors: CU_EINVAL (`b` out of range).
 */
int cu_stream_backend_set_override(cu_stream_backend b) CU_NODISCARD;

/** This thread's override (CU_BACKEND_AUTO when none). */
cu_stream_backend cu_stream_backend_get_override(void);

/** What AUTO resolves to on this thread, and why. Frozen: the caller
 * allocates it for cu_stream_backend_active(), so it never grows. */
typedef struct cu_stream_backend_info {
  cu_stream_backend backend;   /**< concrete backend (valid when ok) */
  cu_stream_backend requested; /**< the value that decided it */
  const char *source;          /**< "override", "environment" or "default" */
  bool splice_available;       /**< kernel supports splice and it is built */
  char reason[256];            /**< one sentence, e.g. why splice is absent */
} cu_stream_backend_info;

/**
 * Report the backend AUTO resolves to on this thread and why. `ret` is
 * filled also on CU_EBACKEND (then `reason` holds the error).
 * Errors: CU_EINVAL (NULL); CU_EBACKEND as cu_stream_backend_resolve().
 */
int cu_stream_backend_active(cu_stream_backend_info *ret)
    CU_NODISCARD CU_NONNULL(1);

/**
 * Whether the splice backend is usable: compiled in and accepted by the
 * kernel (probed once per process with a pair of pipes, then cached).
 * When not, cu_stream_splice_why() says why.
 */
bool cu_stream_splice_available(void);

/** Why splice is unavailable ("" when it is available). Static string. */
const char *cu_stream_splice_why(void);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_BACKEND_H */
