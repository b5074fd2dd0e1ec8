/* SPDX-License-Identifier: MIT */
/* Event helpers: phase names. */
#include "context/ctx.h"
#include "base/internal.h"

static const char *const phase_names[] = {
    [CU_EV_PLAN] = "plan",
    [CU_EV_START] = "start",
    [CU_EV_STDOUT_LINE] = "stdout_line",
    [CU_EV_STDERR_LINE] = "stderr_line",
    [CU_EV_STDIN] = "stdin",
    [CU_EV_STDIN_ERROR] = "stdin_error",
    [CU_EV_EXIT] = "exit",
    [CU_EV_TIMEOUT] = "timeout",
    [CU_EV_CANCEL] = "cancel",
    [CU_EV_TERM_SENT] = "term_sent",
    [CU_EV_KILL_SENT] = "kill_sent",
    [CU_EV_SPAWN_FAILED] = "spawn_failed",
    [CU_EV_STOPPED] = "stopped",
};

const char *cu_event_phase_name(cu_event_phase phase) {
  if ((unsigned)phase < CU__ARRAY_LEN(phase_names) && phase_names[phase])
    return phase_names[phase];
  return "unknown";
}
