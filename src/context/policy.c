/* SPDX-License-Identifier: MIT */
/*
 * Policy rules: the built-in defaults, the operator's CUPRUM_POLICY and
 * CUPRUM_ECHO (each parsed once: set-once caches), the process-wide floor
 * (the one mutable process-wide setting: a lock and a generation counter,
 * see docs/design.md), and how a scope's requests combine with its parent's
 * policy, the operator's and the floor.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "context/scope.h"

static const cu_policy builtin = {
    .narrow = CU_SWITCH_ON,
    .widen = CU_SWITCH_OFF,
    .unsafe = CU_UNSAFE_WARN,
};

#define VALID_KEYS                                                             \
  "valid keys and values: narrow=allow|deny, widen=allow|deny, "               \
  "unsafe=allow|warn|deny"
#define VALID_ECHO_KEYS "valid keys and values: cmd=on|off, output=on|off"

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

/* One parser for both settings: a table of keys, each writing one field. */
typedef enum key_kind { KEY_SWITCH, KEY_UNSAFE } key_kind;

typedef struct key_def {
  const char *name;
  key_kind kind;
  size_t offset; /* of the field in the target struct */
} key_def;

static const key_def policy_keys[] = {
    {"narrow", KEY_SWITCH, offsetof(cu_policy, narrow)},
    {"widen", KEY_SWITCH, offsetof(cu_policy, widen)},
    {"unsafe", KEY_UNSAFE, offsetof(cu_policy, unsafe)},
};

static const key_def echo_keys[] = {
    {"cmd", KEY_SWITCH, offsetof(cu_echo, cmd)},
    {"output", KEY_SWITCH, offsetof(cu_echo, output)},
};

typedef struct grammar {
  const key_def *keys;
  size_t n;
  const char *valid; /* the sentence listing the keys */
} grammar;

static const grammar policy_grammar = {policy_keys, CU__ARRAY_LEN(policy_keys),
                                       VALID_KEYS};
static const grammar echo_grammar = {echo_keys, CU__ARRAY_LEN(echo_keys),
                                     VALID_ECHO_KEYS};

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

static int parse_value(const key_def *k, const char *v, void *target) {
  char *field = (char *)target + k->offset;
  if (k->kind == KEY_UNSAFE)
    return parse_unsafe(v, (cu_unsafe_mode *)(void *)field);
  return parse_switch(v, (cu_switch *)(void *)field);
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

/* The echo keys moved out of CUPRUM_POLICY: say where they went. */
static const char *moved_key(const grammar *g, const char *key) {
  if (g != &policy_grammar)
    return NULL;
  if (strcmp(key, "echo_cmd") == 0)
    return "cmd";
  if (strcmp(key, "echo_output") == 0)
    return "output";
  return NULL;
}

/* Parse one "key=value" item; `seen` guards against repeated keys. */
static int parse_item(const grammar *g, char *item, void *target,
                      unsigned *seen, char *msg, size_t len) {
  char *eq = strchr(item, '=');
  if (!eq) {
    snprintf(msg, len, "item '%s' is not key=value; %s", item, g->valid);
    return -1;
  }
  *eq = '\0';
  char *key = trim(item), *value = trim(eq + 1);
  for (unsigned k = 0; k < g->n; k++) {
    if (strcmp(key, g->keys[k].name) != 0)
      continue;
    if (*seen & (1u << k)) {
      snprintf(msg, len, "key '%s' is given twice", key);
      return -1;
    }
    *seen |= 1u << k;
    if (parse_value(&g->keys[k], value, target) == 0)
      return 0;
    snprintf(msg, len, "invalid value '%s' for '%s'; %s", value, key,
             g->valid);
    return -1;
  }
  const char *moved = moved_key(g, key);
  if (moved)
    snprintf(msg, len, "'%s' is not a security switch: echo settings are in "
             CU_ECHO_ENV " (%s=%s); %s", key, moved, value, g->valid);
  else
    snprintf(msg, len, "unknown key '%s'; %s", key, g->valid);
  return -1;
}

/* Parse `spec` into `target` (a zeroed struct of `size` bytes). */
static int parse(const grammar *g, const char *spec, void *ret, size_t size,
                 char *msg, size_t len) {
  union {
    cu_policy policy;
    cu_echo echo;
  } out; /* either, aligned for its fields */
  memset(&out, 0, sizeof out);
  if (!spec || !spec[0]) {
    memcpy(ret, &out, size);
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
      rc = parse_item(g, item, &out, &seen, msg, len);
  }
  free(copy);
  if (rc == 0)
    memcpy(ret, &out, size);
  return rc;
}

int cu_policy_parse(const char *spec, cu_policy *ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_policy_parse: ret is NULL");
  char msg[400];
  if (parse(&policy_grammar, spec, ret, sizeof *ret, msg, sizeof msg) != 0)
    return cu__fail(CU_EINVAL, "policy '%s': %s", spec, msg);
  return 0;
}

int cu_echo_parse(const char *spec, cu_echo *ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_echo_parse: ret is NULL");
  char msg[400];
  if (parse(&echo_grammar, spec, ret, sizeof *ret, msg, sizeof msg) != 0)
    return cu__fail(CU_EINVAL, "echo '%s': %s", spec, msg);
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
  op_rc = parse(&policy_grammar, spec, &op_policy, sizeof op_policy, op_msg,
                sizeof op_msg) == 0
              ? 0
              : CU_EPOLICY;
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

static cu_echo op_echo;
static int op_echo_rc;
static char op_echo_msg[400];
static pthread_once_t op_echo_once = PTHREAD_ONCE_INIT;

static void op_echo_load(void) {
  const char *spec = secure_getenv(CU_ECHO_ENV);
  op_echo_rc = parse(&echo_grammar, spec, &op_echo, sizeof op_echo,
                     op_echo_msg, sizeof op_echo_msg) == 0
                   ? 0
                   : CU_EINVAL;
}

int cu__echo_operator(const cu_echo **ret) {
  pthread_once(&op_echo_once, op_echo_load);
  if (op_echo_rc != 0)
    return cu__fail(op_echo_rc, "invalid " CU_ECHO_ENV ": %s", op_echo_msg);
  *ret = &op_echo;
  return 0;
}

/* ------------------------------------------------------------- floor */

/* Strictness ranks: higher is stricter. Narrowing permitted is stricter
 * (scopes can restrict), widening permitted is looser. 0 = not set. */
static int rank_narrow(cu_switch s) {
  return s == CU_SWITCH_OFF ? 1 : s == CU_SWITCH_ON ? 2 : 0;
}
static int rank_widen(cu_switch s) {
  return s == CU_SWITCH_ON ? 1 : s == CU_SWITCH_OFF ? 2 : 0;
}
static int rank_unsafe(cu_unsafe_mode m) { return (int)m; }

/* `dst` with each switch of `lim` applied where it is stricter. */
static void tighten(cu_policy *dst, const cu_policy *lim) {
  if (rank_narrow(lim->narrow) > rank_narrow(dst->narrow))
    dst->narrow = lim->narrow;
  if (rank_widen(lim->widen) > rank_widen(dst->widen))
    dst->widen = lim->widen;
  if (rank_unsafe(lim->unsafe) > rank_unsafe(dst->unsafe))
    dst->unsafe = lim->unsafe;
}

/*
 * What code added to the floor. A lock keeps the three switches one value
 * (a reader never sees half an update); the generation lets snapshot
 * caches notice a change with one atomic load, without the lock.
 */
static pthread_mutex_t floor_lock = PTHREAD_MUTEX_INITIALIZER;
static cu_policy floor_code;
static atomic_uint_fast64_t floor_generation;

uint64_t cu__policy_floor_gen(void) {
  return atomic_load_explicit(&floor_generation, memory_order_acquire);
}

int cu__policy_floor(cu_policy *ret) {
  const cu_policy *op = NULL;
  int rc = cu__policy_operator(&op);
  if (rc != 0)
    return rc;
  cu_policy f = *op;
  pthread_mutex_lock(&floor_lock);
  tighten(&f, &floor_code);
  pthread_mutex_unlock(&floor_lock);
  *ret = f;
  return 0;
}

int cu__policy_apply_floor(cu_policy *p) {
  cu_policy f;
  int rc = cu__policy_floor(&f);
  if (rc == 0)
    tighten(p, &f);
  return rc;
}

int cu_policy_floor(cu_policy *ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_policy_floor: ret is NULL");
  return cu__policy_floor(ret);
}

static int floor_refused(const char *key, const char *want,
                         const char *have) {
  return cu__fail(CU_EPOLICY, "cu_policy_floor_tighten: cannot set %s=%s: "
                              "the process-wide floor has %s=%s and only "
                              "tightens", key, want, key, have);
}

int cu_policy_floor_tighten(const cu_policy *req) {
  if (!req)
    return cu__fail(CU_EINVAL, "cu_policy_floor_tighten: floor is NULL");
  int rc = cu__policy_validate(req, "cu_policy_floor_tighten");
  cu_policy cur;
  if (rc == 0)
    rc = cu__policy_floor(&cur);
  if (rc != 0)
    return rc;
  pthread_mutex_lock(&floor_lock);
  /* Re-read under the lock: another thread may have tightened it since. */
  tighten(&cur, &floor_code);
  if (req->narrow && rank_narrow(req->narrow) < rank_narrow(cur.narrow))
    rc = floor_refused("narrow", cu_switch_name(req->narrow),
                       cu_switch_name(cur.narrow));
  else if (req->widen && rank_widen(req->widen) < rank_widen(cur.widen))
    rc = floor_refused("widen", cu_switch_name(req->widen),
                       cu_switch_name(cur.widen));
  else if (req->unsafe && rank_unsafe(req->unsafe) < rank_unsafe(cur.unsafe))
    rc = floor_refused("unsafe", cu_unsafe_mode_name(req->unsafe),
                       cu_unsafe_mode_name(cur.unsafe));
  if (rc == 0) {
    tighten(&floor_code, req);
    atomic_fetch_add_explicit(&floor_generation, 1, memory_order_acq_rel);
  }
  pthread_mutex_unlock(&floor_lock);
  return rc;
}

/* Which layer a refusing value comes from, for messages. */
const char *cu__policy_origin(cu__policy_key key) {
  const cu_policy *op = NULL;
  cu_policy code = {0};
  if (cu__policy_operator(&op) != 0)
    op = &code;
  pthread_mutex_lock(&floor_lock);
  code = floor_code;
  pthread_mutex_unlock(&floor_lock);
  bool by_op = key == CU__POLICY_NARROW ? op->narrow == CU_SWITCH_OFF
               : key == CU__POLICY_WIDEN ? op->widen == CU_SWITCH_OFF
                                          : op->unsafe == CU_UNSAFE_DENY;
  bool by_floor = key == CU__POLICY_NARROW ? false
                  : key == CU__POLICY_WIDEN ? code.widen == CU_SWITCH_OFF
                                            : code.unsafe == CU_UNSAFE_DENY;
  if (by_op)
    return "set by the operator's " CU_POLICY_ENV;
  if (by_floor)
    return "set by the process-wide floor (cu_policy_floor_tighten)";
  return "set by the program or the default";
}

/* ------------------------------------------------------------- resolving */

int cu__echo_validate(const cu_echo *e, const char *what) {
  if ((unsigned)e->cmd > CU_SWITCH_OFF)
    return cu__fail(CU_EINVAL, "%s: cmd has invalid value %d", what,
                    (int)e->cmd);
  if ((unsigned)e->output > CU_SWITCH_OFF)
    return cu__fail(CU_EINVAL, "%s: output has invalid value %d", what,
                    (int)e->output);
  return 0;
}

int cu__echo_resolve(const cu_echo *parent, const cu_echo *req,
                     cu_echo *ret) {
  const cu_echo *op = NULL;
  int rc = cu__echo_operator(&op);
  if (rc != 0)
    return rc;
  cu_echo out = parent ? *parent
                       : (cu_echo){.cmd = CU_SWITCH_OFF,
                                   .output = CU_SWITCH_OFF};
  /* The program's choice, unless the operator set one. */
  if (req->cmd)
    out.cmd = req->cmd;
  if (req->output)
    out.output = req->output;
  if (op->cmd)
    out.cmd = op->cmd;
  if (op->output)
    out.output = op->output;
  *ret = out;
  return 0;
}

int cu__policy_validate(const cu_policy *p, const char *what) {
  const cu_switch sw[] = {p->narrow, p->widen};
  static const char *const names[] = {"narrow", "widen"};
  for (size_t i = 0; i < CU__ARRAY_LEN(sw); i++)
    if ((unsigned)sw[i] > CU_SWITCH_OFF)
      return cu__fail(CU_EINVAL, "%s: %s has invalid value %d", what,
                      names[i], (int)sw[i]);
  if ((unsigned)p->unsafe > CU_UNSAFE_DENY)
    return cu__fail(CU_EINVAL, "%s: unsafe has invalid value %d", what,
                    (int)p->unsafe);
  return 0;
}

static int too_loose(const char *key, const char *want, const char *limit,
                     bool nested) {
  if (nested)
    return cu__fail(CU_EPOLICY, "policy: cannot loosen %s to %s in a nested "
                                "scope: the enclosing scope has %s=%s "
                                "(security switches only tighten inwards)",
                    key, want, key, limit);
  return cu__fail(CU_EPOLICY, "policy: cannot set %s=%s: the process-wide "
                              "floor (the operator's " CU_POLICY_ENV " and "
                              "cu_policy_floor_tighten) has %s=%s and the "
                              "program cannot loosen it", key, want, key,
                  limit);
}

/* A request is checked against the parent's effective value in a nested
 * scope (here) and against the floor (cu__policy_check_floor). */
static int check_limit(const cu_policy *lim, const cu_policy *req,
                       bool nested) {
  if (req->narrow && lim->narrow &&
      rank_narrow(req->narrow) < rank_narrow(lim->narrow))
    return too_loose("narrow", cu_switch_name(req->narrow),
                     cu_switch_name(lim->narrow), nested);
  if (req->widen && lim->widen &&
      rank_widen(req->widen) < rank_widen(lim->widen))
    return too_loose("widen", cu_switch_name(req->widen),
                     cu_switch_name(lim->widen), nested);
  if (req->unsafe && lim->unsafe &&
      rank_unsafe(req->unsafe) < rank_unsafe(lim->unsafe))
    return too_loose("unsafe", cu_unsafe_mode_name(req->unsafe),
                     cu_unsafe_mode_name(lim->unsafe), nested);
  return 0;
}

int cu__policy_check_floor(const cu_policy *changes) {
  cu_policy floor;
  int rc = cu__policy_floor(&floor);
  return rc ? rc : check_limit(&floor, changes, false);
}

int cu__policy_resolve(const cu_policy *parent, const cu_policy *req,
                       cu_policy *ret) {
  const cu_policy *op = NULL;
  int rc = cu__policy_operator(&op);
  if (rc != 0)
    return rc;
  if (parent && (rc = check_limit(parent, req, true)) != 0)
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
  if (req->narrow)
    out.narrow = req->narrow;
  if (req->widen)
    out.widen = req->widen;
  if (req->unsafe)
    out.unsafe = req->unsafe;
  *ret = out;
  return 0;
}
