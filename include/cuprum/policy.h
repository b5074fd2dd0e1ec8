/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/policy.h
 * @brief Security policy: what the scoped context lets a program do.
 *
 * Three switches, each with a safe default:
 *
 * | switch  | default | meaning                                          |
 * |---------|---------|--------------------------------------------------|
 * | narrow  | allow   | scopes may restrict the allowlist                |
 * | widen   | deny    | cu_allow() may widen the allowlist               |
 * | unsafe  | warn    | cu_unsafe_* commands: allow / warn / deny        |
 *
 * These are security switches. The convenience switches (the `set -x` echo
 * of commands and the tee of captured output) are a separate setting with
 * no floor: cuprum/echo.h.
 *
 * Where a policy lives, three layers, the strictest value of each switch
 * winning:
 *  1. The process-wide floor: the operator's CUPRUM_POLICY, tightened by
 *     code with cu_policy_floor_tighten(). It only tightens, applies on
 *     every thread (threads started before or after), and no scope can
 *     loosen it. This is where main() puts `unsafe = deny` for a whole
 *     process.
 *  2. The thread's root scope, set with cu_policy_set() when no scope is
 *     pushed (starts from the defaults above, or the operator's values).
 *  3. Scopes on the thread's stack (cuprum/context.h): a policy set with
 *     cu_policy_set() or in a cu_scope_config applies to that scope and
 *     every scope nested in it; a nested scope may make a switch stricter
 *     than its parent, never looser (that is CU_EPOLICY).
 * A run uses the effective policy of the scope it was submitted from, with
 * the floor as it was at submission applied on top.
 *
 * The operator: the environment variable CUPRUM_POLICY, read once per
 * process, e.g. `CUPRUM_POLICY=unsafe=deny,widen=allow`. Syntax:
 * comma-separated `key=value` items, blanks around items ignored, each key at
 * most once. Keys and values:
 *
 *   narrow=allow|deny  widen=allow|deny  unsafe=allow|warn|deny
 *
 * (allow/on/yes/true/1 and deny/off/no/false/0 are synonyms for switches.)
 * The operator's value replaces the built-in default and is part of the
 * floor: the program may tighten it, never loosen it. So `unsafe=deny`
 * cannot be undone by code, while `widen=allow` lets code widen unless it
 * turns widening off itself. An invalid CUPRUM_POLICY (the echo keys
 * included: they belong to CUPRUM_ECHO now) fails closed: every run (and
 * every cu_policy_* call that consults it) fails with CU_EPOLICY and a
 * message listing the valid keys and values.
 *
 * Thread-safety: cu_policy_set()/cu_policy_get() act on the calling
 * thread's scope stack only; cu_policy_floor_tighten() and
 * cu_policy_floor() may be called from any thread at any time (the floor is
 * guarded by a lock; a run captures it once, when it is submitted).
 */
#ifndef CUPRUM_POLICY_H
#define CUPRUM_POLICY_H

#include "attrs.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An on/off switch. Zero means "inherit" (leave as the parent has it). */
typedef enum cu_switch {
  CU_SWITCH_INHERIT = 0,
  CU_SWITCH_ON = 1,  /**< allow / on */
  CU_SWITCH_OFF = 2, /**< deny / off */
} cu_switch;

/** What happens when a command built by cu_unsafe_* is run. */
typedef enum cu_unsafe_mode {
  CU_UNSAFE_INHERIT = 0,
  CU_UNSAFE_ALLOW = 1, /**< run it; events still carry the unsafe flag */
  CU_UNSAFE_WARN = 2,  /**< run it and send one warning line to the sink */
  CU_UNSAFE_DENY = 3,  /**< refuse with CU_EPOLICY; nothing is spawned */
} cu_unsafe_mode;

/** The security switches. Zero fields mean "inherit" (or "not set"). */
typedef struct cu_policy {
  cu_switch narrow;      /**< scopes may restrict the allowlist (default on) */
  cu_switch widen;       /**< cu_allow() permitted (default off) */
  cu_unsafe_mode unsafe; /**< unsafe commands (default warn) */
} cu_policy;

/** Name of the operator's environment variable. */
#define CU_POLICY_ENV "CUPRUM_POLICY"

/**
 * Change the current scope's policy (the thread's root scope when no scope
 * is pushed). Non-zero fields of `changes` replace the scope's own settings;
 * zero fields leave them. All or nothing: on error nothing changes.
 * Errors: CU_EINVAL (NULL or out-of-range value), CU_EPOLICY (a switch
 * looser than the parent scope allows, or than the process-wide floor
 * allows; an invalid CUPRUM_POLICY), CU_ENOMEM.
 */
int cu_policy_set(const cu_policy *changes) CU_NODISCARD CU_NONNULL(1);

/**
 * The effective policy of the calling thread's current scope, the floor
 * applied, every field concrete (never INHERIT). Errors: CU_EINVAL,
 * CU_EPOLICY (invalid CUPRUM_POLICY).
 */
int cu_policy_get(cu_policy *ret) CU_NODISCARD CU_NONNULL(1);

/**
 * Tighten the process-wide floor: every non-zero field of `floor` becomes
 * the floor's value for that switch. A field may only keep or tighten the
 * current floor (narrow toward allow, widen toward deny, unsafe toward
 * deny); a looser one is CU_EPOLICY naming the switch, and then nothing
 * changes (all or nothing). Takes effect for every run submitted afterwards
 * on any thread; runs already submitted keep the floor they captured.
 * There is no way to loosen the floor within a process.
 * Errors: CU_EINVAL (NULL or out-of-range value), CU_EPOLICY (looser than
 * the floor; an invalid CUPRUM_POLICY). Thread-safe.
 */
int cu_policy_floor_tighten(const cu_policy *floor) CU_NODISCARD CU_NONNULL(1);

/**
 * The current process-wide floor: the operator's CUPRUM_POLICY and every
 * cu_policy_floor_tighten() so far, each switch at its strictest; INHERIT
 * where neither set it. Errors: CU_EINVAL, CU_EPOLICY (invalid
 * CUPRUM_POLICY). Thread-safe.
 */
int cu_policy_floor(cu_policy *ret) CU_NODISCARD CU_NONNULL(1);

/**
 * Parse a policy string in the CUPRUM_POLICY syntax. Fields not named stay
 * zero. Errors: CU_EINVAL with a message naming the bad item and listing the
 * valid keys and values (also when out of memory, with that message). NULL
 * or "" gives an all-zero policy.
 */
int cu_policy_parse(const char *spec, cu_policy *ret)
    CU_NODISCARD CU_NONNULL(2);

/**
 * The operator's policy, parsed from CUPRUM_POLICY on first use (the value
 * is cached for the life of the process). Errors: CU_EINVAL (ret NULL),
 * CU_EPOLICY when the variable is invalid (message as for
 * cu_policy_parse(); also when memory ran out on that first read, which is
 * cached too).
 */
int cu_policy_operator(cu_policy *ret) CU_NODISCARD CU_NONNULL(1);

/** Canonical name of a switch value ("allow"/"deny"/"inherit"). */
const char *cu_switch_name(cu_switch value);

/** Canonical name of an unsafe mode ("allow"/"warn"/"deny"/"inherit"). */
const char *cu_unsafe_mode_name(cu_unsafe_mode mode);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_POLICY_H */
