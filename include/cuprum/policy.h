/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/policy.h
 * @brief Policy toggles: what the scoped context lets a program do.
 *
 * Five switches, each with a safe default:
 *
 * | switch        | default | meaning                                          |
 * |---------------|---------|--------------------------------------------------|
 * | narrow        | allow   | scopes may restrict the allowlist                |
 * | widen         | deny    | cu_allow() may widen the allowlist               |
 * | unsafe        | warn    | cu_unsafe_* commands: allow / warn / deny        |
 * | echo_cmd      | off     | print "+ <command>" before each run (`set -x`)   |
 * | echo_output   | off     | captured stdout/stderr is also echoed (tee)      |
 *
 * Where a policy lives: on the scope stack of cuprum/context.h. A policy set
 * with cu_policy_set() (or in a cu_scope_config) applies to the current scope
 * and every scope nested in it, and to runs submitted from them. The thread's
 * root scope starts from the defaults above. There is no process-wide mutable
 * policy: each thread's root is its own (set it at the start of every thread
 * that runs commands).
 *
 * Security switches (narrow, widen, unsafe) only tighten going inwards: a
 * nested scope may make them stricter than its parent, never looser (that is
 * CU_EPOLICY). The root scope may set them to anything the operator permits.
 *
 * The operator: the environment variable CUPRUM_POLICY, read once per
 * process, e.g. `CUPRUM_POLICY=unsafe=deny,widen=allow,echo_cmd=on`. Syntax:
 * comma-separated `key=value` items, blanks around items ignored, each key at
 * most once. Keys and values:
 *
 *   narrow=allow|deny  widen=allow|deny  unsafe=allow|warn|deny
 *   echo_cmd=on|off    echo_output=on|off
 *
 * (allow/on/yes/true/1 and deny/off/no/false/0 are synonyms for switches.)
 * How the operator's value and the program's combine:
 *  - security switches: the operator's value replaces the built-in default
 *    and is the loosest value the program can get; the program may still
 *    tighten it. So `unsafe=deny` cannot be undone by code, while
 *    `widen=allow` lets code widen unless it turns widening off itself.
 *  - echo switches: the operator's value wins outright (it is about what a
 *    person sees, not about what may run).
 * An invalid CUPRUM_POLICY fails closed: every run (and every cu_policy_*
 * call that consults it) fails with CU_EPOLICY and a message listing the
 * valid keys and values.
 *
 * Thread-safety: every function acts on the calling thread's scope stack only.
 */
#ifndef CUPRUM_POLICY_H
#define CUPRUM_POLICY_H

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

/** The switches. Zero fields mean "inherit". */
typedef struct cu_policy {
  cu_switch narrow;      /**< scopes may restrict the allowlist (default on) */
  cu_switch widen;       /**< cu_allow() permitted (default off) */
  cu_unsafe_mode unsafe; /**< unsafe commands (default warn) */
  cu_switch echo_cmd;    /**< `set -x` echo of commands (default off) */
  cu_switch echo_output; /**< tee captured output (default off) */
} cu_policy;

/** Name of the operator's environment variable. */
#define CU_POLICY_ENV "CUPRUM_POLICY"

/**
 * Change the current scope's policy (the thread's root scope when no scope
 * is pushed). Non-zero fields of `changes` replace the scope's own settings;
 * zero fields leave them. All or nothing: on error nothing changes.
 * Errors: CU_EINVAL (NULL or out-of-range value), CU_EPOLICY (a security
 * switch looser than the parent scope allows, or than CUPRUM_POLICY allows;
 * an invalid CUPRUM_POLICY), CU_ENOMEM.
 */
int cu_policy_set(const cu_policy *changes);

/**
 * The effective policy of the calling thread's current scope, every field
 * concrete (never INHERIT). Errors: CU_EINVAL, CU_EPOLICY (invalid
 * CUPRUM_POLICY).
 */
int cu_policy_get(cu_policy *ret);

/**
 * Parse a policy string in the CUPRUM_POLICY syntax. Fields not named stay
 * zero. Errors: CU_EINVAL with a message naming the bad item and listing the
 * valid keys and values. NULL or "" gives an all-zero policy.
 */
int cu_policy_parse(const char *spec, cu_policy *ret);

/**
 * The operator's policy, parsed from CUPRUM_POLICY on first use (the value
 * is cached for the life of the process). Errors: CU_EPOLICY when the
 * variable is invalid (message as for cu_policy_parse()).
 */
int cu_policy_operator(cu_policy *ret);

/** Canonical name of a switch value ("allow"/"deny"/"inherit"). */
const char *cu_switch_name(cu_switch value);

/** Canonical name of an unsafe mode ("allow"/"warn"/"deny"/"inherit"). */
const char *cu_unsafe_mode_name(cu_unsafe_mode mode);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_POLICY_H */
