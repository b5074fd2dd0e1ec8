/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/stream.h
 * @brief The low-level stream engine: the blocking pump, consume, the
 *        incremental UTF-8 decoder and the incremental line splitter.
 *
 * Not included by cuprum/cuprum.h: applications that run commands do not
 * need it. Include it explicitly to move bytes between your own fds with
 * the same engine the runtime uses. Backend selection is in
 * cuprum/backend.h (included here).
 *
 * Thread-safety: every function is thread-safe. Decoder and splitter objects
 * are not: use one per thread (or lock).
 */
#ifndef CUPRUM_STREAM_H
#define CUPRUM_STREAM_H

#include "attrs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ pump */

/** Options for cu_pump(); NULL = defaults, else start from
 * CU_PUMP_OPTS_INIT (size-versioned like cu_run_opts). */
typedef struct cu_pump_opts {
  size_t size;               /**< sizeof(cu_pump_opts); set by the INIT */
  cu_stream_backend backend; /**< AUTO = resolve as documented above */
  size_t buffer_size;        /**< readwrite buffer; 0 = 64 KiB */
  size_t pipe_size;          /**< >0: raise pipe fds' buffers to this
                                  (F_SETPIPE_SZ) up front; best effort */
  bool keep_pipe_size;       /**< no automatic raise after 1 MiB (see
                                  below); an explicit pipe_size still
                                  applies */
} cu_pump_opts;

/** Initialiser of a cu_pump_opts with every default. */
#define CU_PUMP_OPTS_INIT {.size = sizeof(cu_pump_opts)}

/**
 * Move every byte from `in_fd` to `out_fd` until end of file on `in_fd`.
 * Blocks (non-blocking fds are polled). The splice backend falls back to
 * read/write for this fd pair when the kernel refuses it (e.g. neither fd is
 * a pipe); no byte is lost or duplicated. SIGPIPE is blocked on the calling
 * thread during the call (a pending SIGPIPE caused by the pump is consumed),
 * so a closed reader yields CU_EIO with EPIPE rather than a signal.
 * By default, once 1 MiB has moved, pipe fds are raised to 1 MiB buffers
 * (best effort): bulk transfers then need far fewer system calls, while
 * short messages pay nothing. `pipe_size` or `keep_pipe_size` turn that off.
 * `opts` NULL = defaults. On success `*ret_bytes` (may be NULL) = bytes
 * moved. Errors: CU_EINVAL, CU_EBACKEND, CU_ENOMEM, CU_EIO (operation and
 * errno in the message; bytes already moved stay moved).
 */
int cu_pump(int in_fd, int out_fd, const cu_pump_opts *opts,
            uint64_t *ret_bytes) CU_NODISCARD CU_FD_READ(1) CU_FD_WRITE(2);

/* --------------------------------------------------------------- consume */

/** Options for cu_consume(); NULL = defaults, else start from
 * CU_CONSUME_OPTS_INIT (size-versioned like cu_run_opts). */
typedef struct cu_consume_opts {
  size_t size;      /**< sizeof(cu_consume_opts); set by the INIT */
  bool decode_utf8; /**< replace invalid UTF-8 (see cu_utf8_decode) */
  size_t max_bytes; /**< 0 = unlimited; more input is read and discarded */
} cu_consume_opts;

/** Initialiser of a cu_consume_opts with every default. */
#define CU_CONSUME_OPTS_INIT {.size = sizeof(cu_consume_opts)}

/**
 * Read `fd` to end of file into memory. On success `*ret_data` is a new
 * NUL-terminated buffer (free() it), `*ret_len` its length (without the NUL;
 * may be NULL) and `*ret_total` (may be NULL) the raw bytes read, which
 * exceeds the kept bytes when max_bytes cut the capture. With decode_utf8
 * the kept raw bytes are decoded. Errors: CU_EINVAL, CU_ENOMEM, CU_EIO.
 */
int cu_consume(int fd, const cu_consume_opts *opts, char **ret_data,
               size_t *ret_len, uint64_t *ret_total) CU_NODISCARD CU_FD_READ(1);

/* ----------------------------------------------------------- UTF-8 decode */

/**
 * Incremental UTF-8 decoder. Invalid input is replaced by U+FFFD exactly as
 * Python's bytes.decode("utf-8", "replace") does (one U+FFFD per maximal
 * subpart of an ill-formed sequence), whatever the chunk boundaries.
 * Initialise with cu_utf8_init() (or zero it); plain data, no cleanup.
 */
typedef struct cu_utf8_decoder {
  unsigned char pend[4]; /**< bytes of an incomplete sequence */
  unsigned char npend;
} cu_utf8_decoder;

/** Worst-case output of decoding `len` more bytes (3 bytes per input byte
 * plus the pending ones). */
#define CU_UTF8_MAX_OUT(len) (3u * ((size_t)(len) + 4u))

/** Reset `d` to the start of a stream (same as zeroing it). */
void cu_utf8_init(cu_utf8_decoder *d) CU_NONNULL(1);

/**
 * Decode `len` bytes into `out`, which must hold CU_UTF8_MAX_OUT(len) bytes.
 * An incomplete sequence at the end is kept for the next call. Returns the
 * bytes written (no NUL is added). `in` may be NULL when `len` is 0. Never
 * fails; one decoder per stream, used by one thread at a time.
 */
size_t cu_utf8_decode(cu_utf8_decoder *d, const void *in, size_t len,
                      char *out) CU_NONNULL(1, 4) CU_ACCESS_RO(2, 3);

/** End of input: writes U+FFFD (3 bytes) into `out` if a sequence was left
 * incomplete; returns bytes written (0 or 3); resets the decoder. */
size_t cu_utf8_finish(cu_utf8_decoder *d, char *out) CU_NONNULL(1, 2);

/* ---------------------------------------------------------- line splitter */

/**
 * Called once per line: decoded UTF-8 without terminator, NUL-terminated,
 * borrowed for the call; `flags` are CU_LINE_SPLIT / CU_LINE_PARTIAL from
 * cuprum/events.h.
 */
typedef void (*cu_line_fn)(void *userdata, const char *line, size_t len,
                           unsigned flags);

/**
 * Incremental line splitter over raw bytes. Lines end at "\n" or "\r\n"
 * (a lone "\r" is content); a "\r\n" split across chunks is one terminator.
 * A line longer than CU_LINE_MAX decoded bytes is delivered in pieces of at
 * most CU_LINE_MAX bytes, cut on character boundaries, each cut piece flagged
 * CU_LINE_SPLIT. At cu_line_splitter_finish() an unterminated last line is
 * delivered flagged CU_LINE_PARTIAL. Not thread-safe (one per stream).
 */
typedef struct cu_line_splitter cu_line_splitter;

/** Create. Errors: CU_EINVAL (fn NULL), CU_ENOMEM. */
int cu_line_splitter_new(cu_line_fn fn, void *userdata,
                         cu_line_splitter **ret) CU_NODISCARD CU_NONNULL(1, 3);

/** Feed bytes; calls fn for every completed line. Never allocates.
 * Errors: CU_EINVAL (s NULL, or data NULL with len > 0). */
int cu_line_splitter_feed(cu_line_splitter *s, const void *data, size_t len)
    CU_NODISCARD CU_NONNULL(1) CU_ACCESS_RO(2, 3);

/** End of input: deliver the pending partial line, if any. The splitter can
 * be fed again afterwards as a fresh stream. */
void cu_line_splitter_finish(cu_line_splitter *s);

/** Release (NULL ignored). Returns NULL. */
cu_line_splitter *cu_line_splitter_free(cu_line_splitter *s);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_STREAM_H */
