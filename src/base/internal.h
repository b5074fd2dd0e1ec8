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

/* Clocks. */
struct timespec cu__now(clockid_t clock);
int64_t cu__ts_ns(struct timespec ts);
int64_t cu__mono_ns(void);

#endif /* CUPRUM_INTERNAL_H */
