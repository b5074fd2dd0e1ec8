/* SPDX-License-Identifier: MIT */
/*
 * Policy rules: the built-in defaults, the operator's CUPRUM_POLICY (parsed
 * once, the only process-wide state here: a set-once cache), and how a
 * scope's requests combine with its parent's policy and the operator's.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "context/scope.h"

static const cu_policy builtin = {
    .narrow = CU_SWITCH_ON,
    .widen = CU_SWITCH_OFF,
    .unsafe = CU_UNSAFE_WARN,
    .echo_cmd = CU_SWITCH_OFF,
    .echo_output = CU_SWITCH_OFF,
};

#define VALID_KEYS                                                             \
  "valid keys and values: narrow=allow|deny, widen=allow|deny, "               \
  "unsafe=allow|warn|deny, echo_cmd=on|off, echo_output=on|off"

const char *cu_switch_name(cu_switch value) {
  switch (value) {
  case CU_SWITCH_ON:
    return "allow";
  case CU_SWITCH_OFF:
    return "deny";
  default:
    return "inherit";
  }
}

const char *cu_unsafe_mode_name(cu_unsafe_mode mode) {
  switch (mode) {
  case CU_UNSAFE_ALLOW:
    return "allow";
  case CU_UNSAFE_WARN:
    return "warn";
  case CU_UNSAFE_DENY:
    return "deny";
  default:
    return "inherit";
  }
}

/* ------------------------------------------------------------- parsing */

typedef enum key_id { K_NARROW, K_WIDEN, K_UNSAFE, K_ECHO_CMD, K_ECHO_OUT } key_id;

static const char *const key_names[] = {"narrow", "widen", "unsafe",
                                        "echo_cmd", "echo_output"};

static int parse_switch(const char *v, cu_switch *ret) {
  static const char *const on[] = {"allow", "on", "yes", "true", "1"};
  static const char *const off[] = {"deny", "off", "no", "false", "0"};
  for (size_t i = 0; i < CU__ARRAY_LEN(on); i++) {
    if (strcmp(v, on[i]) == 0) {
      *ret = CU_SWITCH_ON;
      return 0;
    }
    if (strcmp(v, off[i]) == 0) {
      *ret = CU_SWITCH_OFF;
      return 0;
    }
  }
  return -1;
}

static int parse_unsafe(const char *v, cu_unsafe_mode *ret) {
  if (strcmp(v, "allow") == 0)
    *ret = CU_UNSAFE_ALLOW;
  else if (strcmp(v, "warn") == 0)
    *ret = CU_UNSAFE_WARN;
  else if (strcmp(v, "deny") == 0)
    *ret = CU_UNSAFE_DENY;
  else
    return -1;
  return 0;
}

static int parse_value(key_id key, const char *v, cu_policy *p) {
  switch (key) {
  case K_NARROW:
    return parse_switch(v, &p->narrow);
  case K_WIDEN:
    return parse_switch(v, &p->widen);
  case K_UNSAFE:
    return parse_unsafe(v, &p->unsafe);
  case K_ECHO_CMD:
    return parse_switch(v, &p->echo_cmd);
  default:
    return parse_switch(v, &p->echo_output);
  }
}

/* Trim blanks in place; returns the start. */
static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1]))
    s[--n] = '\0';
  return s;
}

/* Parse one "key=value" item; `seen` guards against repeated keys. */
static int parse_item(char *item, cu_policy *p, unsigned *seen, char *msg,
                      size_t len) {
  char *eq = strchr(item, '=');
  if (!eq) {
    snprintf(msg, len, "item '%s' is not key=value; " VALID_KEYS, item);
    return -1;
  }
  *eq = '\0';
  char *key = trim(item), *value = trim(eq + 1);
  for (unsigned k = 0; k < CU__ARRAY_LEN(key_names); k++) {
    if (strcmp(key, key_names[k]) != 0)
      continue;
    if (*seen & (1u << k)) {
      snprintf(msg, len, "key '%s' is given twice", key);
      return -1;
    }
    *seen |= 1u << k;
    if (parse_value((key_id)k, value, p) == 0)
      return 0;
    snprintf(msg, len, "invalid value '%s' for '%s'; " VALID_KEYS, value, key);
    return -1;
  }
  snprintf(msg, len, "unknown key '%s'; " VALID_KEYS, key);
  return -1;
}

static int parse(const char *spec, cu_policy *ret, char *msg, size_t len) {
  cu_policy p = {0};
  if (!spec || !spec[0]) {
    *ret = p;
    return 0;
  }
  char *copy = cu__strdup(spec);
  if (!copy) {
    snprintf(msg, len, "out of memory");
    return -1;
  }
  unsigned seen = 0;
  int rc = 0;
  char *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0;
       tok = strtok_r(NULL, ",", &save)) {
    char *item = trim(tok);
    if (item[0])
      rc = parse_item(item, &p, &seen, msg, len);
  }
  free(copy);
  if (rc == 0)
    *ret = p;
  return rc;
}

int cu_policy_parse(const char *spec, cu_policy *ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_policy_parse: ret is NULL");
  char msg[400];
  if (parse(spec, ret, msg, sizeof msg) != 0)
    return cu__fail(CU_EINVAL, "policy '%s': %s", spec, msg);
  return 0;
}

/* ------------------------------------------------------------- operator */

static cu_policy op_policy;
static int op_rc;
static char op_msg[400];
static pthread_once_t op_once = PTHREAD_ONCE_INIT;

static void op_load(void) {
  /* secure_getenv: a set-uid program must not take policy from its caller. */
  const char *spec = secure_getenv(CU_POLICY_ENV);
  op_rc = parse(spec, &op_policy, op_msg, sizeof op_msg) == 0 ? 0 : CU_EPOLICY;
}

int cu__policy_operator(const cu_policy **ret) {
  pthread_once(&op_once, op_load);
  if (op_rc != 0)
    return cu__fail(op_rc, "invalid " CU_POLICY_ENV ": %s", op_msg);
  *ret = &op_policy;
  return 0;
}

int cu_policy_operator(cu_policy *ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_policy_operator: ret is NULL");
  const cu_policy *op = NULL;
  int rc = cu__policy_operator(&op);
  if (rc == 0)
    *ret = *op;
  return rc;
}

const char *cu__policy_origin(bool operator_set) {
  return operator_set ? "set by the operator's " CU_POLICY_ENV
                      : "set by the program or the default";
}

/* ------------------------------------------------------------- resolving */

int cu__policy_validate(const cu_policy *p, const char *what) {
  const cu_switch sw[] = {p->narrow, p->widen, p->echo_cmd, p->echo_output};
  static const char *const names[] = {"narrow", "widen", "echo_cmd",
                                      "echo_output"};
  for (size_t i = 0; i < CU__ARRAY_LEN(sw); i++)
    if ((unsigned)sw[i] > CU_SWITCH_OFF)
      return cu__fail(CU_EINVAL, "%s: %s has invalid value %d", what,
                      names[i], (int)sw[i]);
  if ((unsigned)p->unsafe > CU_UNSAFE_DENY)
    return cu__fail(CU_EINVAL, "%s: unsafe has invalid value %d", what,
                    (int)p->unsafe);
  return 0;
}

/* Strictness ranks: higher is stricter. Narrowing permitted is stricter
 * (scopes can restrict), widening permitted is looser. */
static int rank_narrow(cu_switch s) { return s == CU_SWITCH_ON; }
static int rank_widen(cu_switch s) { return s == CU_SWITCH_OFF; }
static int rank_unsafe(cu_unsafe_mode m) { return (int)m; }

static int too_loose(const char *key, const char *want, const char *limit,
                     bool nested) {
  if (nested)
    return cu__fail(CU_EPOLICY, "policy: cannot loosen %s to %s in a nested "
                                "scope: the enclosing scope has %s=%s "
                                "(security switches only tighten inwards)",
                    key, want, key, limit);
  return cu__fail(CU_EPOLICY, "policy: cannot set %s=%s: the operator's "
                              CU_POLICY_ENV " sets %s=%s and the program "
                              "cannot loosen it", key, want, key, limit);
}

/* The limit a request is checked against: the parent's value in a nested
 * scope, the operator's (if any) at the root. 0 = no limit. */
static int resolve_security(const cu_policy *parent, const cu_policy *op,
                            const cu_policy *req, cu_policy *out) {
  const cu_policy *lim = parent ? parent : op;
  bool nested = parent != NULL;
  if (req->narrow) {
    if (lim->narrow && rank_narrow(req->narrow) < rank_narrow(lim->narrow))
      return too_loose("narrow", cu_switch_name(req->narrow),
                       cu_switch_name(lim->narrow), nested);
    out->narrow = req->narrow;
  }
  if (req->widen) {
    if (lim->widen && rank_widen(req->widen) < rank_widen(lim->widen))
      return too_loose("widen", cu_switch_name(req->widen),
                       cu_switch_name(lim->widen), nested);
    out->widen = req->widen;
  }
  if (req->unsafe) {
    if (lim->unsafe && rank_unsafe(req->unsafe) < rank_unsafe(lim->unsafe))
      return too_loose("unsafe", cu_unsafe_mode_name(req->unsafe),
                       cu_unsafe_mode_name(lim->unsafe), nested);
    out->unsafe = req->unsafe;
  }
  return 0;
}

int cu__policy_resolve(const cu_policy *parent, const cu_policy *req,
                       cu_policy *ret) {
  const cu_policy *op = NULL;
  int rc = cu__policy_operator(&op);
  if (rc != 0)
    return rc;
  cu_policy out = parent ? *parent : builtin;
  if (!parent) {
    /* The operator's values replace the built-in defaults at the root. */
    if (op->narrow)
      out.narrow = op->narrow;
    if (op->widen)
      out.widen = op->widen;
    if (op->unsafe)
      out.unsafe = op->unsafe;
  }
  rc = resolve_security(parent, op, req, &out);
  if (rc != 0)
    return rc;
  /* Echo switches: the program's choice, unless the operator set one. */
  if (req->echo_cmd)
    out.echo_cmd = req->echo_cmd;
  if (req->echo_output)
    out.echo_output = req->echo_output;
  if (op->echo_cmd)
    out.echo_cmd = op->echo_cmd;
  if (op->echo_output)
    out.echo_output = op->echo_output;
  *ret = out;
  return 0;
}
