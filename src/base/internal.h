/* SPDX-License-Identifier: MIT */
/*
 * The base layer's internals, which every other layer may use: error
 * recording, allocation, fd and clock helpers. Needs only the error codes
 * of the public API; each layer declares its own internals in its own
 * headers. Not installed.
 */
#ifndef CUPRUM_INTERNAL_H
#define CUPRUM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "cuprum/error.h"

#define CU__UNUSED __attribute__((unused))
#define CU__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define CU__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Record the detailed message for cu_last_error() and return `code`. */
int cu__fail(int code, const char *fmt, ...) CU__PRINTF(2, 3);
/* Same, appending ": strerror(err_no)". */
int cu__fail_errno(int code, int err_no, const char *fmt, ...)
    CU__PRINTF(3, 4);
/* Clear the thread's last error message. */
void cu__clear_error(void);

/* Allocation helpers that never return NULL silently to callers that check. */
char *cu__strdup(const char *s);
char *cu__asprintf(const char *fmt, ...) CU__PRINTF(1, 2);

/* Close an fd if >= 0, preserving errno; always returns -1. */
int cu__close(int fd);
/* __attribute__((cleanup)) helpers. */
void cu__closep(int *fd);
void cu__freep(void *ptr);
#define CU__AUTOCLOSE __attribute__((cleanup(cu__closep)))
#define CU__AUTOFREE __attribute__((cleanup(cu__freep)))

/* The ABI rule (abi.c): load a caller's size-versioned options struct
 * `src` (NULL = every default) into `dst`, this library's layout of
 * `dst_size` bytes. An older (smaller) size is zero-extended; a newer
 * (larger) one is accepted only when every byte past dst_size is zero.
 * dst->size is set to dst_size. Errors: CU_EINVAL naming `type` and the
 * `init` macro (size below CU__OPTS_MIN_SIZE), or saying the struct has
 * fields this library does not know. */
int cu__opts_load(void *dst, size_t dst_size, const void *src, const char *type,
                  const char *init);
/* Smallest accepted size: the size member itself. Every field's zero is
 * its default, so any longer prefix is a complete request; 0 is the
 * common mistake of a struct that was never initialised with its INIT. */
#define CU__OPTS_MIN_SIZE sizeof(size_t)
#define CU__OPTS_LOAD(dst, src, type, init)                                    \
  cu__opts_load((dst), sizeof(type), (src), #type, #init)

/* Clocks. */
struct timespec cu__now(clockid_t clock);
int64_t cu__ts_ns(struct timespec ts);
int64_t cu__mono_ns(void);

#endif /* CUPRUM_INTERNAL_H */
