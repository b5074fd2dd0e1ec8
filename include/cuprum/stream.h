/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/stream.h
 * @brief The stream engine: backend selection (CUPRUM_STREAM_BACKEND).
 *
 * (Stub contract: the stream-engine work extends this header with the pump,
 * the UTF-8 decoder and the line splitter.)
 */
#ifndef CUPRUM_STREAM_H
#define CUPRUM_STREAM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** How the parent moves bytes between fds. */
typedef enum cu_stream_backend {
  CU_BACKEND_AUTO = 0,  /**< best available (splice on Linux) */
  CU_BACKEND_SPLICE,    /**< splice(2)/tee(2) zero-copy */
  CU_BACKEND_READWRITE, /**< portable read/write loop */
} cu_stream_backend;

/**
 * Resolve `requested` to a concrete backend (never AUTO). AUTO consults the
 * thread's override, then CUPRUM_STREAM_BACKEND (read once, cached).
 * Errors: CU_EBACKEND (splice unavailable, or an unrecognised env value;
 * cu_last_error() says why / lists the valid values).
 */
int cu_stream_backend_resolve(cu_stream_backend requested,
                              cu_stream_backend *ret);

/** Decode a whole buffer to a malloc'd NUL-terminated UTF-8 string with
 * U+FFFD replacement (stub contract; the stream engine defines it). */
int cu_utf8_decode_alloc(const void *data, size_t len, char **ret,
                         size_t *ret_len);

/** "auto", "splice" or "readwrite". */
const char *cu_stream_backend_name(cu_stream_backend b);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_STREAM_H */
