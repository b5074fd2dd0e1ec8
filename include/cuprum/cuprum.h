/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/cuprum.h
 * @brief Umbrella header: include this one. Each concept has its own header.
 */
#ifndef CUPRUM_CUPRUM_H
#define CUPRUM_CUPRUM_H

#define CUPRUM_VERSION_MAJOR 0
#define CUPRUM_VERSION_MINOR 1
#define CUPRUM_VERSION_PATCH 0
#define CUPRUM_VERSION_STRING "0.1.0"

#include "attrs.h"     /* compiler annotations (CU_NODISCARD, CU_NONNULL...) */
#include "error.h"     /* error codes, cu_strerror, cu_last_error */
#include "program.h"   /* cu_program, CU_PROGRAM, curated constants */
#include "catalogue.h" /* allowlist: catalogues and projects */
#include "cmd.h"       /* typed command builder */
#include "args.h"      /* typed arguments: cu_safe_path, cu_git_ref */
#include "builders.h"  /* git, rsync and tar builders */
#include "sh.h"        /* opt-in registration sugar: cu_sh() */
#include "backend.h"   /* stream backend selection (engine: stream.h) */
#include "run.h"       /* cu_run, options, results, cancellation */
#include "confine.h"   /* no_new_privs and Landlock rules */
#include "loop.h"      /* event loop, tasks */
#include "events.h"    /* structured events */
#include "context.h"   /* scoped context, hooks, observers */
#include "policy.h"    /* security policy and its process-wide floor */
#include "echo.h"      /* echo settings (set -x, tee) */
#include "log.h"       /* logging hook */
#include "redact.h"    /* redaction of secrets in logs, events, metrics, spans */
#include "metrics.h"   /* Prometheus metrics */
#include "trace.h"     /* OpenTelemetry traces */
#include "unsafe.h"    /* cu_unsafe_*: arbitrary argv, policy-governed */
#include "pipeline.h"  /* pipelines */
#include "parallel.h"  /* concurrency helper */

#ifdef __cplusplus
extern "C" {
#endif

/** The library's version string, e.g. "0.1.0". */
const char *cu_version(void);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_CUPRUM_H */
