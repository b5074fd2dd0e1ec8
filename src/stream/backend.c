/* SPDX-License-Identifier: MIT */
/*
 * Backend selection: the thread-local override, CUPRUM_STREAM_BACKEND (read
 * once per process) and the splice probe (run once per process). Both caches
 * are set-once under pthread_once; the test hooks reset them.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/internal.h"
#include "stream/fdio.h"
#include "stream/stream_internal.h"

#define VALID_VALUES "auto, splice, readwrite"

static _Thread_local cu_stream_backend thread_override = CU_BACKEND_AUTO;

/* Set once by read_env() under env_once. */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static int env_status;
static cu_stream_backend env_value;
static bool env_set;
static char env_error[192];

/* Set once by probe_splice() under splice_once. */
static pthread_once_t splice_once = PTHREAD_ONCE_INIT;
static bool splice_ok;
static char splice_reason[160];
static const char *splice_forced; /* test hook */

static bool backend_valid(cu_stream_backend b) {
  return b == CU_BACKEND_AUTO || b == CU_BACKEND_SPLICE ||
         b == CU_BACKEND_READWRITE;
}

const char *cu_stream_backend_name(cu_stream_backend b) {
  switch (b) {
  case CU_BACKEND_AUTO:
    return "auto";
  case CU_BACKEND_SPLICE:
    return "splice";
  case CU_BACKEND_READWRITE:
    return "readwrite";
  }
  return "unknown";
}

/* Parse without touching the error message: 0, or -1 when unknown. */
static int parse_quiet(const char *text, cu_stream_backend *ret) {
  while (isspace((unsigned char)*text))
    text++;
  size_t n = strlen(text);
  while (n && isspace((unsigned char)text[n - 1]))
    n--;
  static const cu_stream_backend all[] = {
      CU_BACKEND_AUTO, CU_BACKEND_SPLICE, CU_BACKEND_READWRITE};
  if (n == 0) {
    *ret = CU_BACKEND_AUTO;
    return 0;
  }
  for (size_t i = 0; i < CU__ARRAY_LEN(all); i++) {
    const char *name = cu_stream_backend_name(all[i]);
    if (strlen(name) == n && strncasecmp(text, name, n) == 0) {
      *ret = all[i];
      return 0;
    }
  }
  return -1;
}

int cu_stream_backend_parse(const char *text, cu_stream_backend *ret) {
  if (!text || !ret)
    return cu__fail(CU_EINVAL, "stream backend name is NULL");
  if (parse_quiet(text, ret) != 0)
    return cu__fail(CU_EBACKEND,
                    "unknown stream backend '%.64s' (valid values: %s)", text,
                    VALID_VALUES);
  return 0;
}

static void read_env(void) {
  const char *v = getenv(CU_STREAM_BACKEND_ENV);
  env_set = v != NULL;
  env_value = CU_BACKEND_AUTO;
  env_status = 0;
  if (v && parse_quiet(v, &env_value) != 0) {
    env_status = CU_EBACKEND;
    snprintf(env_error, sizeof env_error,
             "%s='%.64s' is not a valid stream backend (valid values: %s)",
             CU_STREAM_BACKEND_ENV, v, VALID_VALUES);
  }
}

static void probe_splice(void) {
#ifdef CUPRUM_NO_SPLICE
  snprintf(splice_reason, sizeof splice_reason,
           "splice support was compiled out (built with CUPRUM_NO_SPLICE)");
#else
  /* Ask the kernel rather than trusting a version: seccomp filters and
   * some sandboxes (gVisor, old emulators) refuse splice on pipes. */
  int a[2] = {-1, -1}, b[2] = {-1, -1};
  int err = 0;
  if (pipe2(a, O_CLOEXEC | O_NONBLOCK) != 0 ||
      pipe2(b, O_CLOEXEC | O_NONBLOCK) != 0 || write(a[1], "x", 1) != 1) {
    err = errno;
  } else {
    ssize_t n = cu__splice(a[0], b[1], 1, 0);
    err = n == 1 ? 0 : n < 0 ? (int)-n : EIO;
  }
  for (int i = 0; i < 2; i++) {
    cu__close(a[i]);
    cu__close(b[i]);
  }
  splice_ok = err == 0;
  if (err)
    snprintf(splice_reason, sizeof splice_reason,
             "splice(2) between two pipes failed: %s", strerror(err));
#endif
}

bool cu_stream_splice_available(void) {
  if (splice_forced)
    return false;
  pthread_once(&splice_once, probe_splice);
  return splice_ok;
}

const char *cu_stream_splice_why(void) {
  if (splice_forced)
    return splice_forced;
  pthread_once(&splice_once, probe_splice);
  return splice_ok ? "" : splice_reason;
}

int cu_stream_backend_set_override(cu_stream_backend b) {
  if (!backend_valid(b))
    return cu__fail(CU_EINVAL, "invalid stream backend %d", (int)b);
  thread_override = b;
  return 0;
}

cu_stream_backend cu_stream_backend_get_override(void) {
  return thread_override;
}

/* Decide, explaining the choice in info; returns 0 or CU_EBACKEND (message
 * also in info->reason). */
static int decide(cu_stream_backend requested, cu_stream_backend_info *info,
                  const char *source) {
  memset(info, 0, sizeof *info);
  info->splice_available = cu_stream_splice_available();
  info->requested = requested;
  info->source = source;
  switch (requested) {
  case CU_BACKEND_READWRITE:
    info->backend = CU_BACKEND_READWRITE;
    snprintf(info->reason, sizeof info->reason, "readwrite requested (%s)",
             source);
    return 0;
  case CU_BACKEND_SPLICE:
    if (!info->splice_available) {
      snprintf(info->reason, sizeof info->reason,
               "stream backend 'splice' requested (%s) but unavailable: %s",
               source, cu_stream_splice_why());
      return CU_EBACKEND;
    }
    info->backend = CU_BACKEND_SPLICE;
    snprintf(info->reason, sizeof info->reason, "splice requested (%s)",
             source);
    return 0;
  case CU_BACKEND_AUTO:
    break;
  }
  info->backend =
      info->splice_available ? CU_BACKEND_SPLICE : CU_BACKEND_READWRITE;
  snprintf(info->reason, sizeof info->reason, "auto (%s): %s%s", source,
           info->splice_available ? "splice(2) is available"
                                  : "falling back to readwrite: ",
           cu_stream_splice_why());
  return 0;
}

/* AUTO: the thread's override, then the environment. */
static int decide_auto(cu_stream_backend_info *info) {
  if (thread_override != CU_BACKEND_AUTO)
    return decide(thread_override, info, "override");
  pthread_once(&env_once, read_env);
  if (env_status != 0) {
    memset(info, 0, sizeof *info);
    info->source = "environment";
    info->splice_available = cu_stream_splice_available();
    snprintf(info->reason, sizeof info->reason, "%s", env_error);
    return env_status;
  }
  return decide(env_value, info, env_set ? "environment" : "default");
}

int cu_stream_backend_active(cu_stream_backend_info *ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_stream_backend_active: NULL argument");
  int rc = decide_auto(ret);
  return rc ? cu__fail(rc, "%s", ret->reason) : 0;
}

int cu_stream_backend_resolve(cu_stream_backend requested,
                              cu_stream_backend *ret) {
  if (!ret || !backend_valid(requested))
    return cu__fail(CU_EINVAL, "invalid stream backend %d", (int)requested);
  cu_stream_backend_info info;
  int rc = requested == CU_BACKEND_AUTO ? decide_auto(&info)
                                        : decide(requested, &info, "API");
  if (rc)
    return cu__fail(rc, "%s", info.reason);
  *ret = info.backend;
  return 0;
}

void cu__backend_reset_for_tests(void) {
  pthread_once_t fresh = PTHREAD_ONCE_INIT;
  env_once = fresh;
}

void cu__splice_force_unavailable(const char *why) { splice_forced = why; }
