/* SPDX-License-Identifier: MIT */
/*
 * The ABI rule for options structs (docs/design.md, "The ABI rule"): every
 * public options struct starts with `size_t size`, set by the caller to the
 * sizeof it compiled against. The library copies the caller's bytes into a
 * zeroed copy of its own layout, so an older caller's missing tail reads as
 * zero (every default), and a newer caller's tail is accepted only when it
 * is all zero (it asks for nothing this library would ignore).
 */
#include <string.h>

#include "base/internal.h"

int cu__opts_load(void *dst, size_t dst_size, const void *src, const char *type,
                  const char *init) {
  memset(dst, 0, dst_size);
  if (!src) {
    memcpy(dst, &dst_size, sizeof dst_size); /* NULL: every default */
    return 0;
  }
  size_t size;
  memcpy(&size, src, sizeof size);
  if (size < CU__OPTS_MIN_SIZE)
    return cu__fail(CU_EINVAL,
                    "%s.size is %zu: initialise it with %s (or set .size = "
                    "sizeof(%s))",
                    type, size, init, type);
  const unsigned char *tail = (const unsigned char *)src + dst_size;
  for (size_t i = 0; size > dst_size && i < size - dst_size; i++)
    if (tail[i] != 0)
      return cu__fail(CU_EINVAL,
                      "%s has fields this libcuprum does not know (built "
                      "against a newer cuprum): byte %zu of %zu is set",
                      type, dst_size + i, size);
  memcpy(dst, src, size < dst_size ? size : dst_size);
  memcpy(dst, &dst_size, sizeof dst_size); /* the copy is in our layout */
  return 0;
}
