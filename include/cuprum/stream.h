/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/stream.h
 * @brief The stream engine: backend selection, the blocking pump, consume,
 *        the incremental UTF-8 decoder and the incremental line splitter.
 *
 * Every place where the parent moves bytes (capture, echo/tee, an observed
 * pipeline stage, feeding stdin) goes through this engine. Two backends move
 * the bytes:
 *
 *  - `splice`: Linux splice(2)/tee(2)/vmsplice(2), zero-copy between pipes;
 *    falls back to read/write per fd pair when the kernel refuses a file
 *    type, without losing or duplicating a byte.
 *  - `readwrite`: a portable read(2)/write(2) loop.
 *
 * Selection: the API (a per-call choice or a thread-local override), else
 * the environment variable CUPRUM_STREAM_BACKEND = auto | splice | readwrite
 * (read once per process and cached; case-insensitive; surrounding
 * whitespace ignored; empty means auto). `auto` picks splice when the kernel
 * supports it and the library was built with it, else readwrite.
 *
 * Thread-safety: every function is thread-safe. Decoder and splitter objects
 * are not: use one per thread (or lock).
 */
#ifndef CUPRUM_STREAM_H
#define CUPRUM_STREAM_H

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
                              cu_stream_backend *ret);

/** "auto", "splice" or "readwrite" ("unknown" for anything else). */
const char *cu_stream_backend_name(cu_stream_backend b);

/**
 * Parse a backend name: case-insensitive, surrounding whitespace ignored,
 * empty (or only whitespace) means "auto".
 * Errors: CU_EINVAL (NULL argument); CU_EBACKEND for an unknown value, with
 * a message listing the valid values ("auto, splice, readwrite").
 */
int cu_stream_backend_parse(const char *text, cu_stream_backend *ret);

/**
 * Set this thread's override: AUTO requests resolved on this thread use `b`
 * instead of the environment. CU_BACKEND_AUTO clears the override. The
 * override is not checked for availability here; resolving reports that.
 * Errors: CU_EINVAL (`b` out of range).
 */
int cu_stream_backend_set_override(cu_stream_backend b);

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
int cu_stream_backend_active(cu_stream_backend_info *ret);

/**
 * Whether the splice backend is usable: compiled in and accepted by the
 * kernel (probed once per process with a pair of pipes, then cached).
 * When not, cu_stream_splice_why() says why.
 */
bool cu_stream_splice_available(void);

/** Why splice is unavailable ("" when it is available). Static string. */
const char *cu_stream_splice_why(void);

/* ------------------------------------------------------------------ pump */

/** Options for cu_pump(); NULL = defaults, else start from
 * CU_PUMP_OPTS_INIT (size-versioned like cu_run_opts). */
typedef struct cu_pump_opts {
  size_t size;               /**< sizeof(cu_pump_opts); set by the INIT */
  cu_stream_backend backend; /**< AUTO = resolve as documented above */
  size_t buffer_size;        /**< readwrite buffer; 0 = 64 KiB */
  size_t pipe_size;          /**< >0: raise pipe fds' buffers to this
                                  (F_SETPIPE_SZ) up front; best effort */
  bool keep_pipe_size;       /**< never resize pipes (see below) */
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
            uint64_t *ret_bytes);

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
               size_t *ret_len, uint64_t *ret_total);

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
void cu_utf8_init(cu_utf8_decoder *d);

/**
 * Decode `len` bytes into `out`, which must hold CU_UTF8_MAX_OUT(len) bytes.
 * An incomplete sequence at the end is kept for the next call. Returns the
 * bytes written (no NUL is added). `in` may be NULL when `len` is 0. Never
 * fails; one decoder per stream, used by one thread at a time.
 */
size_t cu_utf8_decode(cu_utf8_decoder *d, const void *in, size_t len,
                      char *out);

/** End of input: writes U+FFFD (3 bytes) into `out` if a sequence was left
 * incomplete; returns bytes written (0 or 3); resets the decoder. */
size_t cu_utf8_finish(cu_utf8_decoder *d, char *out);

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
                         cu_line_splitter **ret);

/** Feed bytes; calls fn for every completed line. Errors: CU_ENOMEM (the
 * splitter stays usable; the bytes of the failed call are dropped). */
int cu_line_splitter_feed(cu_line_splitter *s, const void *data, size_t len);

/** End of input: deliver the pending partial line, if any. The splitter can
 * be fed again afterwards as a fresh stream. */
void cu_line_splitter_finish(cu_line_splitter *s);

/** Release (NULL ignored). */
void cu_line_splitter_free(cu_line_splitter *s);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_STREAM_H */
