/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/attrs.h
 * @brief Compiler annotations on the public API, so misuse warns or fails
 *        to compile (with -Werror) instead of failing at run time.
 *
 * Every macro expands to a GCC/Clang `__attribute__` (GCC manual, "Common
 * Function Attributes"; Clang "Attributes in Clang") where the compiler in
 * use has it, and to nothing elsewhere, so the headers stay plain C17 for
 * any compiler. Detection uses `__has_attribute` (GCC 5+, every Clang);
 * the argument forms that `__has_attribute` cannot tell apart (GCC 11's
 * `malloc(deallocator)`) are checked by version.
 *
 *  - CU_NODISCARD: the returned error code must be looked at
 *    (-Wunused-result, on by default). Note that GCC, unlike Clang, is not
 *    silenced by a `(void)` cast: test the value instead.
 *  - CU_NONNULL(i, ...): the i-th arguments (1-based) must not be NULL
 *    (-Wnonnull, in -Wall). Applied only where NULL is never a meaningful
 *    value; where the documentation gives NULL a meaning ("NULL = defaults",
 *    "NULL is ignored", a NULL command carrying its constructor's failure)
 *    the argument is not annotated. The library itself is compiled with
 *    CUPRUM_BUILDING, which turns CU_NONNULL off: with it on, the compiler
 *    may delete the library's own NULL checks, and the documented CU_EINVAL
 *    for a NULL argument (tests/test_abi.c) would become undefined
 *    behaviour. Define CU_NO_NONNULL before including cuprum to turn it off
 *    in your code too (e.g. in a test that passes NULL on purpose).
 *  - CU_FORMAT_PRINTF(f, a): argument f is a printf format for the arguments from
 *    a on (-Wformat, in -Wall).
 *  - CU_SENTINEL: the variadic list must end with a NULL pointer
 *    (-Wformat, in -Wall).
 *  - CU_MALLOC_FREE(fn, i): the function returns new memory that must be
 *    released with fn's i-th argument (-Wmismatched-dealloc, GCC 11+).
 *  - CU_ACCESS_RO(p, n) / CU_ACCESS_WO(p): argument p is only read (n: the
 *    argument holding its size in elements) / only written; GCC 10+ checks
 *    sizes and uninitialised reads (-Wstringop-overflow,
 *    -Wmaybe-uninitialized, and -Wnonnull for a NULL pointer with a
 *    non-zero size, which is why CU_NO_NONNULL also turns these off).
 *  - CU_FD_READ(i) / CU_FD_WRITE(i): argument i is an open file descriptor
 *    read from / written to; GCC 13+'s -fanalyzer checks it
 *    (-Wanalyzer-fd-*). Nothing on older compilers.
 *
 * Thread-safety: not applicable (macros only).
 */
#ifndef CUPRUM_ATTRS_H
#define CUPRUM_ATTRS_H

#if defined(__has_attribute)
#define CU__HAS_ATTR(x) __has_attribute(x)
#else
#define CU__HAS_ATTR(x) 0
#endif

#if CU__HAS_ATTR(warn_unused_result)
#define CU_NODISCARD __attribute__((warn_unused_result))
#else
#define CU_NODISCARD
#endif

#if CU__HAS_ATTR(nonnull) && !defined(CUPRUM_BUILDING) &&                  \
    !defined(CU_NO_NONNULL)
#define CU_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#else
#define CU_NONNULL(...)
#endif

#if CU__HAS_ATTR(format)
#define CU_FORMAT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CU_FORMAT_PRINTF(f, a)
#endif

#if CU__HAS_ATTR(sentinel)
#define CU_SENTINEL __attribute__((sentinel))
#else
#define CU_SENTINEL
#endif

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define CU_MALLOC_FREE(fn, i) __attribute__((malloc, malloc(fn, i)))
#elif CU__HAS_ATTR(malloc)
#define CU_MALLOC_FREE(fn, i) __attribute__((malloc))
#else
#define CU_MALLOC_FREE(fn, i)
#endif

/* GCC's access attribute also rejects a NULL pointer with a non-zero size,
 * a NULL check: CU_NO_NONNULL turns it off with the rest. */
#if CU__HAS_ATTR(access) && !defined(CU_NO_NONNULL)
#define CU_ACCESS_RO(p, n) __attribute__((access(read_only, p, n)))
#define CU_ACCESS_WO(p) __attribute__((access(write_only, p)))
#else
#define CU_ACCESS_RO(p, n)
#define CU_ACCESS_WO(p)
#endif

#if CU__HAS_ATTR(fd_arg_read) && CU__HAS_ATTR(fd_arg_write)
#define CU_FD_READ(i) __attribute__((fd_arg_read(i)))
#define CU_FD_WRITE(i) __attribute__((fd_arg_write(i)))
#else
#define CU_FD_READ(i)
#define CU_FD_WRITE(i)
#endif

#endif /* CUPRUM_ATTRS_H */
