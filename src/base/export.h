/* SPDX-License-Identifier: MIT */
/* Forced first include (`-include`) of every libcuprum source, compiled
 * with -fvisibility=hidden: the public headers are read here under default
 * visibility, so every cu_* function they declare keeps it in the shared
 * library, and everything else (cu__* internals, statics' helpers) is
 * hidden at compile time, before the version script (src/cuprum.map) has
 * its say. A public header must be included here (directly or through
 * cuprum/cuprum.h; otel.h is libcuprum-otel's); the `abi.exports` ctest
 * reads every header in include/cuprum and fails on any declared cu_
 * function missing from the shared library. docs/design.md "Symbols, soname and the ABI baseline". */
#ifndef CUPRUM_EXPORT_H
#define CUPRUM_EXPORT_H
#pragma GCC visibility push(default)
#include <cuprum/cuprum.h>
#include <cuprum/stream.h> /* the stream engine: not in cuprum.h */
#ifdef CUPRUM_EXPORT_OTEL
#include <cuprum/otel.h>
#endif
#pragma GCC visibility pop
#endif
