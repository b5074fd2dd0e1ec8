/* SPDX-License-Identifier: MIT */
/* STUB: replaced by the scoped-context work (issue 3). Root context only. */
#include <stdlib.h>

#include "ctx.h"
#include "internal.h"

struct cu__ctx {
  int unused;
};

static cu__ctx root_ctx;

int cu__ctx_capture(cu__ctx **ret) {
  *ret = &root_ctx;
  return 0;
}

void cu__ctx_release(cu__ctx *ctx) { (void)ctx; }

int cu__ctx_check(const cu__ctx *ctx, const cu_cmd *cmd) {
  (void)ctx;
  (void)cmd;
  return 0;
}

void cu__ctx_get_defaults(const cu__ctx *ctx, cu__ctx_defaults *ret) {
  (void)ctx;
  *ret = (cu__ctx_defaults){0};
}

int cu__ctx_before(const cu__ctx *ctx, const cu_cmd *cmd) {
  (void)ctx;
  (void)cmd;
  return 0;
}

void cu__ctx_after(const cu__ctx *ctx, const cu_cmd *cmd,
                   const cu_result *result) {
  (void)ctx;
  (void)cmd;
  (void)result;
}

bool cu__ctx_wants_lines(const cu__ctx *ctx) {
  (void)ctx;
  return false;
}

bool cu__ctx_has_observers(const cu__ctx *ctx) {
  (void)ctx;
  return false;
}

void cu__ctx_emit(const cu__ctx *ctx, const cu_event *ev) {
  (void)ctx;
  (void)ev;
}
