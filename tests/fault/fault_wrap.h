/* SPDX-License-Identifier: MIT */
/* Test-only fault injection: see fault_wrap.c. */
#ifndef CU_FAULT_WRAP_H
#define CU_FAULT_WRAP_H
#include <stdbool.h>

/* Stop (true) or resume (false) counting and failing calls: the scenario's
 * own bookkeeping (building expected output, reading /proc) is not a site.
 * Returns the previous setting. */
bool cu_fault_suspend(bool on);
/* Whether the chosen call was reached in this run. */
bool cu_fault_fired(void);
/* Write the per-site call counts to $CU_FAULT_COUNTS (if set). */
void cu_fault_write_counts(void);

#endif
