/* SPDX-License-Identifier: MIT */
/* Shared by the typed arguments and the builders (catalogue layer). */
#ifndef CUPRUM_ARGS_INT_H
#define CUPRUM_ARGS_INT_H

#include <stdbool.h>
#include <stddef.h>

/* Fail with `code` and a message "WHAT: rule "RULE" failed for "INPUT"",
 * the input shown as a JSON string (control characters escaped, invalid
 * UTF-8 replaced), shortened past 160 bytes. Returns code. */
int cu__arg_fail(int code, const char *what, const char *rule, const char *s,
                 size_t n);

/* Whether s[0..n) holds a byte below 0x20 or 0x7f (newline and tab
 * allowed when allow_nl_tab). */
bool cu__text_has_control(const char *s, size_t n, bool allow_nl_tab);

#endif /* CUPRUM_ARGS_INT_H */
