/* SPDX-License-Identifier: MIT */
/*
 * cuprum._native: the CPython extension module under the Python package.
 *
 * It is deliberately thin: catalogues, a loop wrapping cu_loop, tasks
 * wrapping cu_task (one command or one pipeline), and batches (a whole
 * run_concurrent handed to cu_parallel_stream on worker threads, see
 * "batches" below). Everything Python-shaped
 * (SafeCmd, contexts, asyncio) lives in the pure-Python package above it
 * (docs/design.md "The Python package").
 *
 * GIL: cu_loop_step() runs with the GIL released. The library calls back
 * into us on that same thread (observers, echo sinks, task completion);
 * observer and sink callbacks take the GIL with PyGILState_Ensure() before
 * touching any Python object, the completion callback touches none (it
 * only records the finished task in a C array the loop drains afterwards).
 *
 * An observer or sink that raises does not break the run's cleanup: the
 * exception is kept on the task, the task is cancelled (TERM, grace, KILL
 * of its group) and the Python side raises it once the run has ended, so no
 * child is left running behind an exception.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <cuprum/cuprum.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ------------------------------------------------------------ errors */

static PyObject *NativeError; /* cuprum._native.Error(code, name, message) */

/* Raise NativeError for a negative CU_E* code with the thread's message. */
static PyObject *raise_cu(int rc) {
  const char *msg = cu_last_error();
  PyObject *args = Py_BuildValue("(iss)", rc, cu_err_name(rc),
                                 msg && *msg ? msg : cu_strerror(rc));
  if (args) {
    PyErr_SetObject(NativeError, args);
    Py_DECREF(args);
  }
  return NULL;
}

/* The current exception, normalised, as one object (3.11 and 3.12+). */
static PyObject *take_exception(void) {
#if PY_VERSION_HEX >= 0x030C0000
  return PyErr_GetRaisedException();
#else
  PyObject *t, *v, *tb;
  PyErr_Fetch(&t, &v, &tb);
  PyErr_NormalizeException(&t, &v, &tb);
  if (v && tb)
    PyException_SetTraceback(v, tb);
  Py_XDECREF(t);
  Py_XDECREF(tb);
  return v;
#endif
}

/* ---------------------------------------------------------- catalogue */

typedef struct {
  PyObject_HEAD
  cu_catalogue *owned;      /* NULL for the default catalogue */
  const cu_catalogue *view; /* what lookups use */
} CatalogueObject;

static PyTypeObject CatalogueType;

static int catalogue_init(CatalogueObject *self, PyObject *args,
                          PyObject *kw) {
  if (!PyArg_ParseTuple(args, ""))
    return -1;
  cu_catalogue *cat = NULL;
  int rc = cu_catalogue_new(&cat);
  if (rc < 0) {
    raise_cu(rc);
    return -1;
  }
  self->owned = cu_catalogue_unref(self->owned);
  self->owned = cat;
  self->view = cat;
  return 0;
}

static void catalogue_dealloc(CatalogueObject *self) {
  self->owned = cu_catalogue_unref(self->owned);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* PyUnicode_AsUTF8 that refuses an embedded NUL (ValueError, as os and
 * subprocess do) instead of letting C see a silently shortened string: an
 * env name "A\0B" must not set A. */
static const char *utf8_nonul(PyObject *s) {
  Py_ssize_t len;
  const char *u = PyUnicode_AsUTF8AndSize(s, &len);
  if (u && strlen(u) != (size_t)len) {
    PyErr_Format(PyExc_ValueError, "embedded null character in %R", s);
    return NULL;
  }
  return u;
}

/* A tuple of str as a NULL-free C array of borrowed UTF-8 pointers. */
static const char **str_array(PyObject *seq, size_t *n) {
  Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
  const char **a = PyMem_Calloc((size_t)len + 1, sizeof(*a));
  if (!a)
    return (const char **)PyErr_NoMemory();
  for (Py_ssize_t i = 0; i < len; i++) {
    a[i] = utf8_nonul(PySequence_Fast_GET_ITEM(seq, i));
    if (!a[i]) {
      PyMem_Free(a);
      return NULL;
    }
  }
  *n = (size_t)len;
  return a;
}

/* programs: sequence of (name, path or None). */
static cu_program_entry *program_array(PyObject *seq, size_t *n) {
  Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
  cu_program_entry *a = PyMem_Calloc((size_t)len + 1, sizeof(*a));
  if (!a)
    return (cu_program_entry *)PyErr_NoMemory();
  for (Py_ssize_t i = 0; i < len; i++) {
    PyObject *name, *path;
    if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "UO", &name,
                          &path)) {
      PyMem_Free(a);
      return NULL;
    }
    a[i].program = CU_PROGRAM(utf8_nonul(name));
    a[i].path = path == Py_None ? NULL : utf8_nonul(path);
    if (!a[i].program.name || (path != Py_None && !a[i].path)) {
      PyMem_Free(a);
      return NULL;
    }
  }
  *n = (size_t)len;
  return a;
}

static PyObject *catalogue_add_project(CatalogueObject *self, PyObject *args) {
  const char *name;
  PyObject *progs, *docs, *noise;
  if (!PyArg_ParseTuple(args, "sOOO", &name, &progs, &docs, &noise))
    return NULL;
  if (!self->owned)
    return PyErr_Format(PyExc_ValueError, "the default catalogue is frozen");
  PyObject *fp = PySequence_Fast(progs, "programs must be a sequence");
  PyObject *fd = fp ? PySequence_Fast(docs, "docs must be a sequence") : NULL;
  PyObject *fn = fd ? PySequence_Fast(noise, "noise must be a sequence") : NULL;
  cu_project_spec spec = CU_PROJECT_SPEC_INIT;
  cu_program_entry *pe = NULL;
  const char **da = NULL, **na = NULL;
  PyObject *ret = NULL;
  spec.name = name;
  if (fn && (pe = program_array(fp, &spec.n_programs)) &&
      (da = str_array(fd, &spec.n_docs)) &&
      (na = str_array(fn, &spec.n_noise_rules))) {
    spec.programs = pe;
    spec.docs = da;
    spec.noise_rules = na;
    int rc = cu_catalogue_add_project(self->owned, &spec);
    ret = rc < 0 ? raise_cu(rc) : Py_NewRef(Py_None);
  }
  PyMem_Free(pe);
  PyMem_Free(da);
  PyMem_Free(na);
  Py_XDECREF(fp);
  Py_XDECREF(fd);
  Py_XDECREF(fn);
  return ret;
}

/* lookup(name) -> (project, absolute path); resolves the program. */
static PyObject *catalogue_lookup(CatalogueObject *self, PyObject *args) {
  const char *name;
  if (!PyArg_ParseTuple(args, "s", &name))
    return NULL;
  const cu_project *proj = NULL;
  const char *path = NULL;
  int rc = cu_catalogue_lookup(self->view, CU_PROGRAM(name), &proj, &path);
  if (rc < 0)
    return raise_cu(rc);
  return Py_BuildValue("(ss)", cu_project_name(proj), path);
}

static PyObject *catalogue_contains(CatalogueObject *self, PyObject *args) {
  const char *name;
  if (!PyArg_ParseTuple(args, "s", &name))
    return NULL;
  return PyBool_FromLong(cu_catalogue_contains(self->view, CU_PROGRAM(name)));
}

/* entries() -> [(program, project)] in the catalogue's order, unresolved. */
static PyObject *catalogue_entries(CatalogueObject *self,
                                   PyObject *Py_UNUSED(ignored)) {
  size_t n = cu_catalogue_count(self->view);
  PyObject *list = PyList_New(0);
  for (size_t i = 0; list && i < n; i++) {
    cu_catalogue_entry e;
    if (cu_catalogue_entry_at(self->view, i, &e) < 0)
      continue;
    PyObject *t = Py_BuildValue("(ss)", e.program, e.project);
    if (!t || PyList_Append(list, t) < 0)
      Py_CLEAR(list);
    Py_XDECREF(t);
  }
  return list;
}

/* project(name) -> (name, docs, noise rules) or None. */
static PyObject *catalogue_project(CatalogueObject *self, PyObject *args) {
  const char *name;
  if (!PyArg_ParseTuple(args, "s", &name))
    return NULL;
  const cu_project *p = cu_catalogue_project(self->view, name);
  if (!p)
    Py_RETURN_NONE;
  size_t nd = cu_project_docs_count(p), nn = cu_project_noise_count(p);
  PyObject *docs = PyTuple_New((Py_ssize_t)nd);
  PyObject *noise = PyTuple_New((Py_ssize_t)nn);
  for (size_t i = 0; docs && i < nd; i++)
    PyTuple_SET_ITEM(docs, (Py_ssize_t)i,
                     PyUnicode_FromString(cu_project_doc(p, i)));
  for (size_t i = 0; noise && i < nn; i++)
    PyTuple_SET_ITEM(noise, (Py_ssize_t)i,
                     PyUnicode_FromString(cu_project_noise_rule(p, i)));
  PyObject *ret = docs && noise
                      ? Py_BuildValue("(sOO)", cu_project_name(p), docs, noise)
                      : NULL;
  Py_XDECREF(docs);
  Py_XDECREF(noise);
  return ret;
}

static PyMethodDef catalogue_methods[] = {
    {"add_project", (PyCFunction)catalogue_add_project, METH_VARARGS,
     "add_project(name, [(program, path|None)], docs, noise_rules)"},
    {"lookup", (PyCFunction)catalogue_lookup, METH_VARARGS,
     "lookup(program) -> (project, path)"},
    {"contains", (PyCFunction)catalogue_contains, METH_VARARGS,
     "contains(program) -> bool"},
    {"entries", (PyCFunction)catalogue_entries, METH_NOARGS,
     "entries() -> [(program, project)]"},
    {"project", (PyCFunction)catalogue_project, METH_VARARGS,
     "project(name) -> (name, docs, noise) or None"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject CatalogueType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cuprum._native.Catalogue",
    .tp_basicsize = sizeof(CatalogueObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A libcuprum catalogue (cu_catalogue).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)catalogue_init,
    .tp_dealloc = (destructor)catalogue_dealloc,
    .tp_methods = catalogue_methods,
};

static PyObject *default_catalogue(PyObject *mod, PyObject *Py_UNUSED(x)) {
  const cu_catalogue *def = NULL;
  int rc = cu_catalogue_default(&def);
  if (rc < 0)
    return raise_cu(rc);
  CatalogueObject *c = PyObject_New(CatalogueObject, &CatalogueType);
  if (c) {
    c->owned = NULL;
    c->view = def;
  }
  return (PyObject *)c;
}

/* -------------------------------------------------------- loop, tasks */

typedef struct TaskObject TaskObject;

typedef struct {
  PyObject_HEAD
  cu_loop *loop;
  PyObject *running; /* dict id(task) -> task: keeps running tasks alive */
  TaskObject **done; /* completed during one step (no GIL needed) */
  size_t n_done, cap_done;
  int oom;           /* the done array could not grow: rescan running */
  PyObject *weakrefs; /* the package tracks loops weakly, to close at exit */
} LoopObject;

struct TaskObject {
  PyObject_HEAD
  LoopObject *loop;      /* strong */
  cu_task *task;
  cu_cmd **cmds;
  size_t n_cmds;
  cu_pipeline *pipe;
  cu_hook *hook;         /* the observer registration, or NULL */
  PyObject *observer;    /* callable(tuple) or NULL */
  PyObject *line_hooks;  /* tuple of callables for line events, or NULL */
  PyObject *templates;   /* exec_id -> the ExecEvent of its start */
  PyObject *pending;     /* what line hooks returned that is not None */
  PyObject *sinks[2];    /* echo callables for stdout, stderr, or NULL */
  PyObject *stdin_bytes; /* kept alive while the run may read it */
  PyObject *exc;         /* first exception a callback raised */
  int cancel_pending;    /* a callback raised before the task existed */
  int finished;
};

static PyTypeObject LoopType, TaskType;

static int loop_init(LoopObject *self, PyObject *args, PyObject *kw) {
  if (!PyArg_ParseTuple(args, ""))
    return -1;
  if (self->loop)
    return 0;
  int rc = cu_loop_new(&self->loop);
  if (rc < 0) {
    raise_cu(rc);
    return -1;
  }
  self->running = PyDict_New();
  return self->running ? 0 : -1;
}

/* Detach every running task's callbacks, then free the loop: cu_loop_free
 * cancels and reaps whatever still runs, so nothing outlives it. */
static void loop_shutdown(LoopObject *self) {
  if (!self->loop)
    return;
  if (self->running) {
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(self->running, &pos, &k, &v))
      cu_hook_detach(((TaskObject *)v)->hook);
  }
  Py_BEGIN_ALLOW_THREADS
  self->loop = cu_loop_free(self->loop);
  Py_END_ALLOW_THREADS
  if (self->running) {
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(self->running, &pos, &k, &v))
      ((TaskObject *)v)->finished = 1;
    PyDict_Clear(self->running);
  }
  self->n_done = 0; /* those tasks were finished above */
  self->oom = 0;
}

static void loop_dealloc(LoopObject *self) {
  if (self->weakrefs)
    PyObject_ClearWeakRefs((PyObject *)self);
  loop_shutdown(self);
  Py_CLEAR(self->running);
  free(self->done);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *loop_close(LoopObject *self, PyObject *Py_UNUSED(x)) {
  loop_shutdown(self);
  Py_RETURN_NONE;
}

static PyObject *loop_fd(LoopObject *self, PyObject *Py_UNUSED(x)) {
  return PyLong_FromLong(cu_loop_fd(self->loop));
}

static PyObject *loop_active(LoopObject *self, PyObject *Py_UNUSED(x)) {
  return PyLong_FromUnsignedLong(self->loop ? cu_loop_active(self->loop) : 0);
}

/* The completion callback: runs inside cu_loop_step without the GIL, so it
 * only records the task; loop_step() hands the list to Python. */
static void on_task_done(void *userdata, cu_task *task,
                         const cu_result *result) {
  TaskObject *t = userdata;
  LoopObject *l = t->loop;
  t->finished = 1;
  if (l->n_done == l->cap_done) {
    size_t cap = l->cap_done ? l->cap_done * 2 : 16;
    TaskObject **d = realloc(l->done, cap * sizeof(*d));
    if (!d) {
      l->oom = 1;
      return;
    }
    l->done = d;
    l->cap_done = cap;
  }
  l->done[l->n_done++] = t;
}

/* Move finished tasks out of `running` into a list for the caller. */
static PyObject *collect_done(LoopObject *self) {
  PyObject *list = PyList_New(0);
  for (size_t i = 0; list && i < self->n_done; i++)
    if (PyList_Append(list, (PyObject *)self->done[i]) < 0)
      Py_CLEAR(list);
  if (list && self->oom) { /* rare: find the finished ones by scanning */
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(self->running, &pos, &k, &v))
      if (((TaskObject *)v)->finished &&
          !PySequence_Contains(list, v) && PyList_Append(list, v) < 0) {
        Py_CLEAR(list);
        break;
      }
  }
  self->n_done = 0;
  self->oom = 0;
  for (Py_ssize_t i = 0; list && i < PyList_GET_SIZE(list); i++) {
    PyObject *key = PyLong_FromVoidPtr(PyList_GET_ITEM(list, i));
    if (!key || PyDict_DelItem(self->running, key) < 0)
      PyErr_Clear();
    Py_XDECREF(key);
  }
  return list;
}

/* step(timeout_ms) -> [finished tasks]. Blocks at most timeout_ms (-1:
 * until something happens) with the GIL released. A signal interrupting
 * the wait runs the Python signal handlers (KeyboardInterrupt raises). */
static PyObject *loop_step(LoopObject *self, PyObject *args) {
  int timeout = 0;
  if (!PyArg_ParseTuple(args, "|i", &timeout))
    return NULL;
  if (!self->loop)
    return PyErr_Format(PyExc_RuntimeError, "loop is closed");
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = cu_loop_step(self->loop, timeout);
  Py_END_ALLOW_THREADS
  PyObject *done = collect_done(self);
  if (rc < 0) {
    Py_XDECREF(done);
    return raise_cu(rc);
  }
  if (done && PyErr_CheckSignals() < 0)
    Py_CLEAR(done); /* the finished tasks stay finished: Task.done() */
  return done;
}

static PyMethodDef loop_methods[] = {
    {"fd", (PyCFunction)loop_fd, METH_NOARGS, "the pollable epoll fd"},
    {"step", (PyCFunction)loop_step, METH_VARARGS,
     "step(timeout_ms=0) -> [finished tasks]"},
    {"active", (PyCFunction)loop_active, METH_NOARGS, "running tasks"},
    {"close", (PyCFunction)loop_close, METH_NOARGS,
     "cancel and reap every running task, free the loop"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject LoopType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cuprum._native.Loop",
    .tp_basicsize = sizeof(LoopObject),
    .tp_weaklistoffset = offsetof(LoopObject, weakrefs),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A libcuprum event loop (cu_loop).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)loop_init,
    .tp_dealloc = (destructor)loop_dealloc,
    .tp_methods = loop_methods,
};

/* Keep the first exception a callback raised and cancel the run. Called
 * with the GIL held and an exception set. */
static void task_fail(TaskObject *t) {
  PyObject *e = take_exception();
  if (!t->exc)
    t->exc = e;
  else
    Py_XDECREF(e);
  if (t->task)
    cu_task_cancel(t->task);
  else
    t->cancel_pending = 1;
}

static void task_dealloc(TaskObject *t) {
  cu_hook_detach(t->hook);
  t->hook = cu_hook_unref(t->hook);
  t->task = cu_task_free(t->task);
  t->pipe = cu_pipeline_free(t->pipe);
  for (size_t i = 0; i < t->n_cmds; i++)
    cu_cmd_free(t->cmds[i]);
  PyMem_Free(t->cmds);
  Py_CLEAR(t->observer);
  Py_CLEAR(t->line_hooks);
  Py_CLEAR(t->templates);
  Py_CLEAR(t->pending);
  Py_CLEAR(t->sinks[0]);
  Py_CLEAR(t->sinks[1]);
  Py_CLEAR(t->stdin_bytes);
  Py_CLEAR(t->exc);
  Py_CLEAR(t->loop);
  Py_TYPE(t)->tp_free((PyObject *)t);
}

/* ------------------------------------------------------------- events */

static PyObject *str_or_none(const char *s) {
  return s ? PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace")
           : Py_NewRef(Py_None);
}

static PyObject *argv_tuple(const char *const *argv, size_t n) {
  PyObject *t = PyTuple_New((Py_ssize_t)n);
  for (size_t i = 0; t && i < n; i++) {
    PyObject *s = str_or_none(argv[i]);
    if (!s) {
      Py_CLEAR(t);
      break;
    }
    PyTuple_SET_ITEM(t, (Py_ssize_t)i, s);
  }
  return t;
}

/* ((k, v), ...) from the event's env overlay or tags. */
static PyObject *pairs_tuple(const char *const *kv, size_t n, size_t stride) {
  PyObject *t = PyTuple_New((Py_ssize_t)n);
  for (size_t i = 0; t && i < n; i++) {
    const char *const *p = kv + i * stride;
    PyObject *pair = Py_BuildValue("(NN)", str_or_none(p[0]),
                                   str_or_none(p[1]));
    if (!pair) {
      Py_CLEAR(t);
      break;
    }
    PyTuple_SET_ITEM(t, (Py_ssize_t)i, pair);
  }
  return t;
}

static const char *project_of(const cu_event *e) {
  return e->project ? cu_project_name(e->project) : NULL;
}

/* The event as a flat tuple (cuprum/_events.py names the fields). A line
 * event leaves argv, env and tags out (None): the Python side keeps them
 * from the run's plan event, so a line costs one small tuple. */
static PyObject *event_tuple(const cu_event *e) {
  int line = e->phase == CU_EV_STDOUT_LINE || e->phase == CU_EV_STDERR_LINE;
  double wall = (double)e->wall.tv_sec + (double)e->wall.tv_nsec / 1e9;
  PyObject *argv = line ? Py_NewRef(Py_None) : argv_tuple(e->argv, e->n_argv);
  PyObject *env = line ? Py_NewRef(Py_None)
                       : pairs_tuple((const char *const *)(const void *)e->env,
                                     e->n_env, 2);
  PyObject *tags = line ? Py_NewRef(Py_None)
                        : pairs_tuple((const char *const *)(const void *)e->tags,
                                      e->n_tags, 2);
  PyObject *text = line ? PyUnicode_DecodeUTF8(e->line, (Py_ssize_t)e->line_len,
                                               "replace")
                        : Py_NewRef(Py_None);
  if (!argv || !env || !tags || !text) {
    Py_XDECREF(argv);
    Py_XDECREF(env);
    Py_XDECREF(tags);
    Py_XDECREF(text);
    return NULL;
  }
  return Py_BuildValue("(sKNNNNidNiLNiiKiiN)", cu_event_phase_name(e->phase),
                       (unsigned long long)e->exec_id, str_or_none(e->program),
                       argv, str_or_none(e->cwd), env, (int)e->pid, wall, text,
                       e->exit_code, (long long)e->duration_ns, tags,
                       e->stage_index, e->n_stages,
                       (unsigned long long)e->bytes, e->error, e->term_signal,
                       str_or_none(project_of(e)));
}

/* Line events at the speed of output: the ExecEvent class's slots are
 * written directly (the frozen dataclass's __init__ costs more than ten
 * times as much, per line), copying the run's start event and replacing
 * phase, line and time. set_event_type() records where each slot lives. */
enum { EV_PHASE, EV_PID = 5, EV_TIME = 6, EV_LINE = 7, EV_NFIELDS = 16 };
static PyTypeObject *event_type;
static Py_ssize_t event_off[EV_NFIELDS];
static PyObject *phase_stdout, *phase_stderr;

static PyObject *set_event_type(PyObject *m, PyObject *args) {
  PyTypeObject *type;
  PyObject *names;
  if (!PyArg_ParseTuple(args, "O!O!", &PyType_Type, &type, &PyTuple_Type,
                        &names))
    return NULL;
  if (PyTuple_GET_SIZE(names) != EV_NFIELDS)
    return PyErr_Format(PyExc_ValueError, "expected %d fields", EV_NFIELDS);
  for (Py_ssize_t i = 0; i < EV_NFIELDS; i++) {
    PyObject *d = PyDict_GetItemWithError(type->tp_dict,
                                          PyTuple_GET_ITEM(names, i));
    if (!d || !Py_IS_TYPE(d, &PyMemberDescr_Type))
      return PyErr_Occurred() ? NULL
                              : PyErr_Format(PyExc_TypeError,
                                             "field %zd is not a slot", i);
    PyMemberDef *md = ((PyMemberDescrObject *)d)->d_member;
    if (md->type != T_OBJECT_EX && md->type != T_OBJECT)
      return PyErr_Format(PyExc_TypeError, "field %zd is not an object", i);
    event_off[i] = md->offset;
  }
  Py_XSETREF(event_type, (PyTypeObject *)Py_NewRef(type));
  Py_RETURN_NONE;
}

static PyObject **slot(PyObject *o, int i) {
  return (PyObject **)(void *)((char *)o + event_off[i]);
}

/* A copy of `tpl` (an ExecEvent) for one line; NULL with an exception. */
static PyObject *line_event(PyObject *tpl, const cu_event *e) {
  PyObject *line = PyUnicode_DecodeUTF8(e->line, (Py_ssize_t)e->line_len,
                                        "replace");
  PyObject *ts = PyFloat_FromDouble((double)e->wall.tv_sec +
                                    (double)e->wall.tv_nsec / 1e9);
  PyObject *ev = line && ts ? event_type->tp_alloc(event_type, 0) : NULL;
  if (!ev) {
    Py_XDECREF(line);
    Py_XDECREF(ts);
    return NULL;
  }
  for (int i = 0; i < EV_NFIELDS; i++)
    *slot(ev, i) = Py_XNewRef(*slot(tpl, i));
  Py_XSETREF(*slot(ev, EV_PHASE), Py_NewRef(e->phase == CU_EV_STDOUT_LINE
                                                ? phase_stdout
                                                : phase_stderr));
  Py_XSETREF(*slot(ev, EV_LINE), line);
  Py_XSETREF(*slot(ev, EV_TIME), ts);
  return ev;
}

/* Deliver a line event to the line hooks; -1 with an exception. */
static int deliver_line(TaskObject *t, const cu_event *e) {
  PyObject *key = PyLong_FromUnsignedLongLong(e->exec_id);
  PyObject *tpl = key ? PyDict_GetItemWithError(t->templates, key) : NULL;
  Py_XDECREF(key);
  if (!tpl)
    return PyErr_Occurred() ? -1 : 0; /* no start seen: nothing to copy */
  PyObject *ev = line_event(tpl, e);
  if (!ev)
    return -1;
  int rc = 0;
  for (Py_ssize_t i = 0; rc == 0 && i < PyTuple_GET_SIZE(t->line_hooks); i++) {
    PyObject *r = PyObject_CallOneArg(PyTuple_GET_ITEM(t->line_hooks, i), ev);
    if (!r || (r != Py_None && PyList_Append(t->pending, r) < 0))
      rc = -1;
    Py_XDECREF(r);
  }
  Py_DECREF(ev);
  return rc;
}

/* Any other event: the Python observer builds and delivers the ExecEvent
 * and returns it; the start event's is kept as the run's line template. */
static int deliver_other(TaskObject *t, const cu_event *e) {
  PyObject *ev = event_tuple(e);
  PyObject *r = ev ? PyObject_CallOneArg(t->observer, ev) : NULL;
  Py_XDECREF(ev);
  if (!r)
    return -1;
  int rc = 0;
  if (t->templates && event_type && Py_IS_TYPE(r, event_type) &&
      (e->phase == CU_EV_PLAN || e->phase == CU_EV_START)) {
    PyObject *key = PyLong_FromUnsignedLongLong(e->exec_id);
    rc = key ? PyDict_SetItem(t->templates, key, r) : -1;
    Py_XDECREF(key);
  }
  Py_DECREF(r);
  return rc;
}

static int on_event(void *userdata, const cu_event *event) {
  TaskObject *t = userdata;
  PyGILState_STATE g = PyGILState_Ensure();
  int rc = 0;
  if (t->observer && !t->exc) {
    int line = event->phase == CU_EV_STDOUT_LINE ||
               event->phase == CU_EV_STDERR_LINE;
    rc = line && t->line_hooks ? deliver_line(t, event)
                               : deliver_other(t, event);
    if (rc < 0) {
      task_fail(t);
      rc = 1;
    }
  }
  PyGILState_Release(g);
  return rc;
}

/* Echo sinks: bytes to a Python callable (which decodes incrementally, so
 * a multi-byte character split across reads stays whole). */
static int on_sink(TaskObject *t, int which, const void *data, size_t len) {
  PyGILState_STATE g = PyGILState_Ensure();
  int rc = 0;
  if (!t->exc) {
    PyObject *r = PyObject_CallFunction(t->sinks[which], "y#",
                                        (const char *)data, (Py_ssize_t)len);
    if (!r) {
      task_fail(t);
      rc = 1;
    }
    Py_XDECREF(r);
  }
  PyGILState_Release(g);
  return rc;
}

static int on_sink_out(void *u, const void *d, size_t n) {
  return on_sink(u, 0, d, n);
}
static int on_sink_err(void *u, const void *d, size_t n) {
  return on_sink(u, 1, d, n);
}

/* ------------------------------------------------------------- results */

/* How result() hands out captured streams: bytes, or str decoded straight
 * from the library's buffer (one pass, no intermediate bytes copy). */
typedef struct {
  const char *encoding; /* NULL: bytes */
  const char *errors;
} text_mode;

/* Large captures decoded as UTF-8: most are ASCII, and for those CPython's
 * decoder costs more than a copy. So an ASCII capture is copied into a
 * fresh str, checking that every byte is ASCII in the same pass; anything
 * else goes to CPython's decoder. The str's pages are NOT advised huge
 * (MADV_HUGEPAGE): with the common THP setting defrag=madvise, a huge-page
 * fault may compact memory synchronously, and 100 MiB captures then took
 * 0.29 s or 0.70 s at random instead of a steady 0.30-0.36 s (measured
 * 2026-12-01, docs/performance.md). MADV_POPULATE_WRITE on the str gained
 * nothing measurable either. */
enum { BIG_TEXT = 4 << 20 };

static int is_utf8_name(const char *enc) {
  static const char *const names[] = {"utf-8", "utf8", "utf_8", "ascii"};
  for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
    if (strcasecmp(enc, names[i]) == 0)
      return 1;
  return 0;
}

/* Copy n bytes; returns non-zero when one of them is not ASCII. */
static int copy_ascii(char *dst, const char *src, size_t n) {
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, src + i, 8);
    memcpy(dst + i, &w, 8);
    acc |= w;
  }
  for (; i < n; i++) {
    dst[i] = src[i];
    acc |= (unsigned char)src[i];
  }
  return (acc & 0x8080808080808080ULL) != 0;
}

static PyObject *decode_big_utf8(const char *d, size_t len,
                                 const char *errors) {
  PyObject *s = PyUnicode_New((Py_ssize_t)len, 127);
  if (!s)
    return NULL;
  char *dst = PyUnicode_DATA(s);
  if (copy_ascii(dst, d, len)) {
    Py_DECREF(s); /* not ASCII: the real decoder */
    return PyUnicode_DecodeUTF8(d, (Py_ssize_t)len, errors);
  }
  return s;
}

static PyObject *bytes_of(const cu_bytes *b, const text_mode *tm) {
  const char *d = b->data ? b->data : "";
  if (tm->encoding && b->len >= BIG_TEXT && is_utf8_name(tm->encoding))
    return decode_big_utf8(d, b->len, tm->errors);
  if (tm->encoding)
    return PyUnicode_Decode(d, (Py_ssize_t)b->len, tm->encoding, tm->errors);
  return PyBytes_FromStringAndSize(d, (Py_ssize_t)b->len);
}

static PyObject *result_dict(const cu_result *r, const text_mode *tm) {
  if (!r)
    return PyErr_NoMemory();
  return Py_BuildValue(
      "{s:i,s:i,s:i,s:i,s:N,s:N,s:O,s:O,s:O,s:O,s:O,s:L,s:i,s:i}", "error",
      r->error, "exit_code", r->exit_code, "term_signal", r->term_signal, "pid",
      (int)r->pid, "stdout", bytes_of(&r->out, tm), "stderr",
      bytes_of(&r->err, tm),
      "ok", r->ok ? Py_True : Py_False, "timed_out",
      r->timed_out ? Py_True : Py_False, "cancelled",
      r->cancelled ? Py_True : Py_False, "truncated_out",
      r->out.truncated ? Py_True : Py_False, "terminated",
      r->terminated ? Py_True : Py_False, "duration_ns",
      (long long)r->duration_ns, "spawn_step", (int)r->spawn_step,
      "spawn_errno", r->spawn_errno);
}

static PyObject *pipeline_dict(const cu_pipeline_result *p,
                               const text_mode *tm) {
  if (!p)
    return PyErr_NoMemory();
  PyObject *stages = PyList_New(0);
  for (size_t i = 0; stages && i < p->n_stages; i++) {
    PyObject *d = result_dict(p->stages[i], tm);
    if (!d || PyList_Append(stages, d) < 0)
      Py_CLEAR(stages);
    Py_XDECREF(d);
  }
  if (!stages)
    return NULL;
  return Py_BuildValue("{s:N,s:i,s:i,s:O,s:O,s:O,s:L}", "stages", stages,
                       "fail_index", p->fail_index, "error", p->error, "ok",
                       p->ok ? Py_True : Py_False, "timed_out",
                       p->timed_out ? Py_True : Py_False, "cancelled",
                       p->cancelled ? Py_True : Py_False, "duration_ns",
                       (long long)p->duration_ns);
}

/* Task.result(encoding=None, errors="strict") -> dict; a pipeline's has
 * "stages". Captured streams are bytes, or str when `encoding` is given.
 * None before the end. */
static PyObject *task_result(TaskObject *t, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"encoding", "errors", NULL};
  text_mode tm = {NULL, "strict"};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|zs", kwl, &tm.encoding,
                                   &tm.errors))
    return NULL;
  if (!t->task || !cu_task_done(t->task))
    Py_RETURN_NONE;
  if (t->pipe)
    return pipeline_dict(cu_task_pipeline_result(t->task), &tm);
  return result_dict(cu_task_result(t->task), &tm);
}

static PyObject *task_done(TaskObject *t, PyObject *Py_UNUSED(x)) {
  return PyBool_FromLong(t->finished || !t->task || cu_task_done(t->task));
}

static PyObject *task_cancel(TaskObject *t, PyObject *Py_UNUSED(x)) {
  cu_task_cancel(t->task);
  Py_RETURN_NONE;
}

/* The exception an observer or sink raised (the run was cancelled), or
 * None; cleared by reading it. */
static PyObject *task_exception(TaskObject *t, PyObject *Py_UNUSED(x)) {
  PyObject *e = t->exc ? t->exc : Py_NewRef(Py_None);
  t->exc = NULL;
  return e;
}

/* What line hooks returned (awaitables to await), then forgotten. */
static PyObject *task_pending(TaskObject *t, PyObject *Py_UNUSED(x)) {
  PyObject *p = t->pending ? t->pending : PyList_New(0);
  t->pending = NULL;
  return p;
}

static PyMethodDef task_methods[] = {
    {"pending", (PyCFunction)task_pending, METH_NOARGS,
     "what line hooks returned that was not None"},
    {"result", (PyCFunction)(void (*)(void))task_result,
     METH_VARARGS | METH_KEYWORDS,
     "result(encoding=None, errors='strict'): the result dict once done"},
    {"done", (PyCFunction)task_done, METH_NOARGS, "whether the run ended"},
    {"cancel", (PyCFunction)task_cancel, METH_NOARGS,
     "TERM, grace, KILL of the run's group (idempotent)"},
    {"exception", (PyCFunction)task_exception, METH_NOARGS,
     "the exception a callback raised, once"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject TaskType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cuprum._native.Task",
    .tp_basicsize = sizeof(TaskObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One running command or pipeline (cu_task).",
    .tp_dealloc = (destructor)task_dealloc,
    .tp_methods = task_methods,
};

/* ------------------------------------------------------------- start */

/* Build one stage's command: (Catalogue, program, [args]). */
static int build_cmd(PyObject *stage, cu_cmd **ret) {
  CatalogueObject *cat;
  const char *name;
  PyObject *args;
  if (!PyArg_ParseTuple(stage, "O!sO", &CatalogueType, &cat, &name, &args))
    return -1;
  PyObject *fa = PySequence_Fast(args, "arguments must be a sequence");
  if (!fa)
    return -1;
  cu_cmd *cmd = NULL;
  int rc = cu_cmd_new(cat->view, CU_PROGRAM(name), &cmd);
  for (Py_ssize_t i = 0; rc >= 0 && i < PySequence_Fast_GET_SIZE(fa); i++) {
    /* A NUL in an argument is a ValueError, as in subprocess and the
     * pure-Python cuprum (libcuprum would refuse it too, as CuprumError). */
    const char *s = utf8_nonul(PySequence_Fast_GET_ITEM(fa, i));
    if (!s) {
      Py_DECREF(fa);
      cu_cmd_free(cmd);
      return -1;
    }
    rc = cu_cmd_arg(cmd, s);
  }
  Py_DECREF(fa);
  if (rc < 0) {
    cu_cmd_free(cmd);
    raise_cu(rc);
    return -1;
  }
  *ret = cmd;
  return 0;
}

static int build_cmds(TaskObject *t, PyObject *stages) {
  PyObject *fs = PySequence_Fast(stages, "stages must be a sequence");
  if (!fs)
    return -1;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(fs);
  t->cmds = n > 0 ? PyMem_Calloc((size_t)n, sizeof(*t->cmds)) : NULL;
  int rc = t->cmds ? 0 : -1;
  if (n <= 0)
    PyErr_SetString(PyExc_ValueError, "no stages");
  else if (!t->cmds)
    PyErr_NoMemory();
  for (Py_ssize_t i = 0; rc == 0 && i < n; i++) {
    rc = build_cmd(PySequence_Fast_GET_ITEM(fs, i), &t->cmds[i]);
    if (rc == 0)
      t->n_cmds++;
  }
  Py_DECREF(fs);
  return rc;
}

/* Everything cu_run_opts points to while start() runs (cu_loop_spawn
 * copies it, except the stdin bytes, which the task keeps). */
typedef struct {
  cu_env_var *env;
  cu_tag *tags;
  PyObject *fenv, *ftags;
} opts_mem;

static void opts_mem_free(opts_mem *m) {
  PyMem_Free(m->env);
  PyMem_Free(m->tags);
  Py_XDECREF(m->fenv);
  Py_XDECREF(m->ftags);
}

/* [(name, value|None)] into a cu_env_var / cu_tag array (same layout). */
static int pairs_array(PyObject *seq, PyObject **keep, cu_env_var **ret,
                       size_t *n) {
  if (seq == Py_None)
    return 0;
  *keep = PySequence_Fast(seq, "expected a sequence of pairs");
  if (!*keep)
    return -1;
  Py_ssize_t len = PySequence_Fast_GET_SIZE(*keep);
  cu_env_var *a = PyMem_Calloc((size_t)len + 1, sizeof(*a));
  if (!a)
    return PyErr_NoMemory(), -1;
  *ret = a;
  for (Py_ssize_t i = 0; i < len; i++) {
    PyObject *k, *v;
    if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(*keep, i), "UO", &k, &v))
      return -1;
    a[i].name = utf8_nonul(k);
    a[i].value = v == Py_None ? NULL : utf8_nonul(v);
    if (!a[i].name || (v != Py_None && !a[i].value))
      return -1;
  }
  *n = (size_t)len;
  return 0;
}

/* Observed but neither captured nor echoed: the parent still reads the
 * stream (line events come from what it reads) and drops the bytes here,
 * without the GIL. */
static int drop_sink(void *u, const void *d, size_t n) { return 0; }

static void set_output(cu_output_opts *o, int capture, int echo,
                       TaskObject *t, int which) {
  o->mode = capture ? (echo ? CU_STREAM_TEE : CU_STREAM_CAPTURE)
                    : (echo ? CU_STREAM_ECHO : CU_STREAM_DISCARD);
  if (echo && t->sinks[which]) {
    o->sink = which ? on_sink_err : on_sink_out;
    o->sink_data = t;
  } else if (!capture && !echo && t->observer) {
    o->mode = CU_STREAM_ECHO;
    o->sink = drop_sink;
  }
}

/* Spawn the task's command or pipeline inside a scope of its own that
 * carries the observer, so the run's snapshot has it and nothing else on
 * this thread does. */
static int spawn_task(TaskObject *t, cu_run_opts *o) {
  int rc = 0;
  if (t->observer) {
    if ((rc = cu_scope_push(NULL)) < 0)
      return rc;
    rc = cu_observe(on_event, t, CU_OBSERVE_LINES, &t->hook);
  }
  if (rc >= 0 && t->n_cmds == 1) {
    rc = cu_loop_spawn(t->loop->loop, t->cmds[0], o, &t->task);
  } else if (rc >= 0) {
    cu_pipeline_opts po = CU_PIPELINE_OPTS_INIT;
    po.run = o;
    rc = cu_pipeline_new(&t->pipe);
    for (size_t i = 0; rc >= 0 && i < t->n_cmds; i++)
      rc = cu_pipeline_add(t->pipe, t->cmds[i]);
    if (rc >= 0)
      rc = cu_loop_spawn_pipeline(t->loop->loop, t->pipe, &po, &t->task);
  }
  if (t->observer)
    (void)cu_scope_pop();
  return rc;
}

static int parse_io(PyObject *in, PyObject *env, PyObject *tags, opts_mem *m,
                    cu_run_opts *o, TaskObject *t) {
  if (in != Py_None) {
    char *data;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(in, &data, &len) < 0)
      return -1;
    t->stdin_bytes = Py_NewRef(in);
    o->in.mode = CU_STDIN_BYTES;
    o->in.data = data;
    o->in.len = (size_t)len;
  }
  if (pairs_array(env, &m->fenv, &m->env, &o->n_env) < 0 ||
      pairs_array(tags, &m->ftags, (cu_env_var **)&m->tags, &o->n_tags) < 0)
    return -1;
  o->env = m->env;
  o->tags = m->tags;
  return 0;
}

static char *start_kw[] = {"loop", "stages", "capture", "echo", "env",
                           "clear_env", "cwd", "stdin", "timeout_ms",
                           "grace_ms", "tags", "observer", "out_sink",
                           "err_sink", "backend", "max_capture", "line_hooks",
                           NULL};

/* start(loop, stages, **options) -> Task. Raises Error when nothing could
 * be started (then nothing is left running). */
static PyObject *start(PyObject *mod, PyObject *args, PyObject *kw) {
  LoopObject *loop;
  PyObject *stages, *env = Py_None, *in = Py_None, *tags = Py_None;
  PyObject *obs = Py_None, *os = Py_None, *es = Py_None, *lh = Py_None;
  int capture = 1, echo = 0, clear_env = 0, backend = 0;
  const char *cwd = NULL;
  long long timeout_ms = 0, grace_ms = 0;
  Py_ssize_t max_capture = 0;
  if (!PyArg_ParseTupleAndKeywords(
          args, kw, "O!O|$ppOpzOLLOOOOinO", start_kw, &LoopType, &loop,
          &stages, &capture, &echo, &env, &clear_env, &cwd, &in, &timeout_ms,
          &grace_ms, &tags, &obs, &os, &es, &backend, &max_capture, &lh))
    return NULL;
  if (!loop->loop)
    return PyErr_Format(PyExc_RuntimeError, "loop is closed");
  TaskObject *t = PyObject_New(TaskObject, &TaskType);
  if (!t)
    return NULL;
  memset((char *)t + sizeof(PyObject), 0, sizeof(*t) - sizeof(PyObject));
  t->loop = (LoopObject *)Py_NewRef(loop);
  t->observer = obs == Py_None ? NULL : Py_NewRef(obs);
  if (t->observer && lh != Py_None) {
    t->line_hooks = PySequence_Tuple(lh);
    t->templates = PyDict_New();
    t->pending = PyList_New(0);
    if (!t->line_hooks || !t->templates || !t->pending) {
      Py_DECREF(t);
      return NULL;
    }
  }
  t->sinks[0] = os == Py_None ? NULL : Py_NewRef(os);
  t->sinks[1] = es == Py_None ? NULL : Py_NewRef(es);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  opts_mem m = {0};
  set_output(&o.out, capture, echo, t, 0);
  set_output(&o.err, capture, echo, t, 1);
  o.clear_env = clear_env;
  o.cwd = cwd;
  o.timeout_ms = timeout_ms;
  o.grace_ms = grace_ms;
  o.backend = (cu_stream_backend)backend;
  o.max_capture = (size_t)max_capture;
  int rc = 0;
  if (build_cmds(t, stages) < 0 || parse_io(in, env, tags, &m, &o, t) < 0) {
    rc = -1;
  } else if ((rc = spawn_task(t, &o)) < 0) {
    raise_cu(rc);
  } else {
    cu_task_on_done(t->task, on_task_done, t);
    PyObject *key = PyLong_FromVoidPtr(t);
    if (!key || PyDict_SetItem(loop->running, key, (PyObject *)t) < 0)
      rc = -1;
    Py_XDECREF(key);
  }
  opts_mem_free(&m);
  if (rc < 0) {
    Py_DECREF(t); /* a started task is cancelled by cu_task_free */
    return NULL;
  }
  if (t->cancel_pending)
    cu_task_cancel(t->task);
  return (PyObject *)t;
}

/* --------------------------------------------------------- arguments */

/* safe_path(path, allow_relative=False) -> str: the checked path. */
static PyObject *safe_path(PyObject *mod, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"path", "allow_relative", NULL};
  const char *path;
  Py_ssize_t len;
  int rel = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "s#|$p", kwl, &path, &len, &rel))
    return NULL;
  cu_safe_path_opts o = CU_SAFE_PATH_OPTS_INIT;
  o.allow_relative = rel;
  cu_safe_path *p = NULL;
  int rc = cu_safe_path_newn(path, (size_t)len, &o, &p);
  if (rc < 0)
    return raise_cu(rc);
  PyObject *s = PyUnicode_FromString(cu_safe_path_str(p));
  cu_safe_path_free(p);
  return s;
}

/* git_ref(ref) -> str: the checked ref name. */
static PyObject *git_ref(PyObject *mod, PyObject *args) {
  const char *ref;
  if (!PyArg_ParseTuple(args, "s", &ref))
    return NULL;
  cu_git_ref *r = NULL;
  int rc = cu_git_ref_new(ref, NULL, &r);
  if (rc < 0)
    return raise_cu(rc);
  PyObject *s = PyUnicode_FromString(cu_git_ref_str(r));
  cu_git_ref_free(r);
  return s;
}

/* ------------------------------------------------------------ builders */

/* The builders of cuprum/builders.h, each returning the argv it built (the
 * program first) so the Python side makes a SafeCmd of it: the argv is
 * assembled and checked in one reviewed place, the C library. Typed values
 * are made here from str and freed before returning (the argv copies
 * them). */

enum { ARENA_MAX = 256 };
typedef struct {
  cu_safe_path *paths[ARENA_MAX];
  size_t n_paths;
  cu_git_ref *refs[4];
  size_t n_refs;
  int rel; /* allow relative paths */
} arena;

static void arena_free(arena *a) {
  for (size_t i = 0; i < a->n_paths; i++)
    cu_safe_path_free(a->paths[i]);
  for (size_t i = 0; i < a->n_refs; i++)
    cu_git_ref_free(a->refs[i]);
}

/* A cu_safe_path from a str (None -> NULL, no error). -1 with an
 * exception set on a bad path. */
static int a_path(arena *a, PyObject *o, cu_safe_path **ret) {
  *ret = NULL;
  if (o == Py_None)
    return 0;
  Py_ssize_t len;
  const char *s = PyUnicode_AsUTF8AndSize(o, &len);
  if (!s)
    return -1;
  if (a->n_paths == ARENA_MAX) {
    PyErr_SetString(PyExc_ValueError, "too many paths");
    return -1;
  }
  cu_safe_path_opts o2 = CU_SAFE_PATH_OPTS_INIT;
  o2.allow_relative = a->rel;
  int rc = cu_safe_path_newn(s, (size_t)len, &o2, ret);
  if (rc < 0)
    return raise_cu(rc), -1;
  a->paths[a->n_paths++] = *ret;
  return 0;
}

static int a_ref(arena *a, const char *s, cu_git_ref **ret) {
  *ret = NULL;
  if (!s)
    return 0;
  int rc = cu_git_ref_new(s, NULL, ret);
  if (rc < 0)
    return raise_cu(rc), -1;
  a->refs[a->n_refs++] = *ret;
  return 0;
}

/* A sequence of str as safe paths in `out` (at most ARENA_MAX / 2). */
static int a_paths(arena *a, PyObject *seq, const cu_safe_path **out,
                   size_t *n) {
  PyObject *f = PySequence_Fast(seq, "expected a sequence of paths");
  if (!f)
    return -1;
  Py_ssize_t len = PySequence_Fast_GET_SIZE(f);
  int rc = len > ARENA_MAX / 2 ? -1 : 0;
  if (rc < 0)
    PyErr_SetString(PyExc_ValueError, "too many paths");
  for (Py_ssize_t i = 0; rc == 0 && i < len; i++) {
    cu_safe_path *p;
    rc = a_path(a, PySequence_Fast_GET_ITEM(f, i), &p);
    out[i] = p;
  }
  Py_DECREF(f);
  *n = (size_t)len;
  return rc;
}

/* The built command's argv as a tuple; frees the command. */
static PyObject *argv_of(int rc, cu_cmd *cmd, arena *a) {
  arena_free(a);
  if (rc < 0)
    return PyErr_Occurred() ? NULL : raise_cu(rc);
  PyObject *t = argv_tuple(cu_cmd_argv(cmd), cu_cmd_argv_count(cmd));
  cu_cmd_free(cmd);
  return t;
}

static PyObject *b_git_checkout(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"ref", "create", "detach", "force", "start", "repo",
                        "allow_relative", NULL};
  const char *ref, *start = NULL;
  int create = 0, detach = 0, force = 0;
  PyObject *repo = Py_None;
  arena a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "s|$pppzOp", kwl, &ref, &create,
                                   &detach, &force, &start, &repo, &a.rel))
    return NULL;
  cu_git_checkout_opts o = CU_GIT_CHECKOUT_OPTS_INIT;
  cu_git_ref *r = NULL, *st = NULL;
  cu_safe_path *rp = NULL;
  cu_cmd *cmd = NULL;
  int rc = -1;
  if (a_ref(&a, ref, &r) == 0 && a_ref(&a, start, &st) == 0 &&
      a_path(&a, repo, &rp) == 0) {
    o.repo = rp;
    o.create = create;
    o.detach = detach;
    o.force = force;
    o.start = st;
    rc = cu_git_checkout(r, &o, &cmd);
  }
  return argv_of(rc, cmd, &a);
}

static PyObject *b_git_status(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"short", "branch", "porcelain", "repo",
                        "allow_relative", NULL};
  int sh = 0, br = 0, po = 0;
  PyObject *repo = Py_None;
  arena a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|$pppOp", kwl, &sh, &br, &po,
                                   &repo, &a.rel))
    return NULL;
  cu_git_status_opts o = CU_GIT_STATUS_OPTS_INIT;
  cu_safe_path *rp = NULL;
  cu_cmd *cmd = NULL;
  int rc = -1;
  if (a_path(&a, repo, &rp) == 0) {
    o.repo = rp;
    o.short_format = sh;
    o.branch = br;
    o.porcelain = po;
    rc = cu_git_status(&o, &cmd);
  }
  return argv_of(rc, cmd, &a);
}

static PyObject *b_git_commit(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"message", "all", "allow_empty", "quiet", "repo",
                        "allow_relative", NULL};
  const char *msg;
  int all = 0, empty = 0, quiet = 0;
  PyObject *repo = Py_None;
  arena a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "s|$pppOp", kwl, &msg, &all,
                                   &empty, &quiet, &repo, &a.rel))
    return NULL;
  cu_git_commit_opts o = CU_GIT_COMMIT_OPTS_INIT;
  cu_safe_path *rp = NULL;
  cu_cmd *cmd = NULL;
  int rc = -1;
  if (a_path(&a, repo, &rp) == 0) {
    o.repo = rp;
    o.all = all;
    o.allow_empty = empty;
    o.quiet = quiet;
    rc = cu_git_commit(msg, &o, &cmd);
  }
  return argv_of(rc, cmd, &a);
}

static PyObject *b_git_init(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"directory", "bare", "quiet", "initial_branch",
                        "allow_relative", NULL};
  PyObject *dir;
  const char *branch = NULL;
  int bare = 0, quiet = 0;
  arena a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$ppzp", kwl, &dir, &bare,
                                   &quiet, &branch, &a.rel))
    return NULL;
  cu_git_init_opts o = CU_GIT_INIT_OPTS_INIT;
  cu_safe_path *d = NULL;
  cu_git_ref *b = NULL;
  cu_cmd *cmd = NULL;
  int rc = -1;
  if (a_path(&a, dir, &d) == 0 && a_ref(&a, branch, &b) == 0) {
    o.bare = bare;
    o.quiet = quiet;
    o.initial_branch = b;
    rc = d ? cu_git_init(d, &o, &cmd) : (PyErr_SetString(PyExc_TypeError,
                                                         "directory"), -1);
  }
  return argv_of(rc, cmd, &a);
}

static PyObject *b_rsync(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"sources", "dest", "archive", "recursive", "delete",
                        "dry_run", "verbose", "compress", "include",
                        "exclude", "allow_relative", NULL};
  PyObject *src, *dest, *inc = Py_None, *exc = Py_None;
  int ar = 0, rec = 0, del = 0, dry = 0, verb = 0, comp = 0;
  arena a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|$ppppppOOp", kwl, &src, &dest,
                                   &ar, &rec, &del, &dry, &verb, &comp, &inc,
                                   &exc, &a.rel))
    return NULL;
  const cu_safe_path *srcs[ARENA_MAX / 2];
  cu_rsync_opts o = CU_RSYNC_OPTS_INIT;
  cu_safe_path *d = NULL;
  PyObject *empty = PyTuple_New(0);
  PyObject *fi = empty ? PySequence_Fast(inc == Py_None ? empty : inc,
                                         "include must be a sequence")
                       : NULL;
  PyObject *fe = fi ? PySequence_Fast(exc == Py_None ? empty : exc,
                                      "exclude must be a sequence")
                    : NULL;
  const char **ia = NULL, **ea = NULL;
  size_t n = 0;
  cu_cmd *cmd = NULL;
  int rc = -1;
  if (fe && a_paths(&a, src, srcs, &n) == 0 && a_path(&a, dest, &d) == 0 &&
      (ia = str_array(fi, &o.n_include)) && (ea = str_array(fe, &o.n_exclude))) {
    o.archive = ar;
    o.recursive = rec;
    o.delete_extraneous = del;
    o.dry_run = dry;
    o.verbose = verb;
    o.compress = comp;
    o.include = ia;
    o.exclude = ea;
    rc = cu_rsync(srcs, n, d, &o, &cmd);
  }
  PyMem_Free(ia);
  PyMem_Free(ea);
  Py_XDECREF(fi);
  Py_XDECREF(fe);
  Py_XDECREF(empty);
  return argv_of(rc, cmd, &a);
}

/* tar_create / tar_list / tar_extract share one entry point: `mode` is
 * "c", "t" or "x"; members for "c", dest for "x". */
static PyObject *b_tar(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"mode", "archive", "members", "dest", "compression",
                        "directory", "verbose", "allow_relative", NULL};
  const char *mode;
  PyObject *archive, *members = Py_None, *dest = Py_None, *dir = Py_None;
  int comp = 0, verb = 0;
  arena a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "sO|$OOiOpp", kwl, &mode, &archive,
                                   &members, &dest, &comp, &dir, &verb, &a.rel))
    return NULL;
  const cu_safe_path *mem[ARENA_MAX / 2];
  cu_tar_opts o = CU_TAR_OPTS_INIT;
  cu_safe_path *ar = NULL, *d = NULL, *cd = NULL;
  size_t n = 0;
  cu_cmd *cmd = NULL;
  int rc = -1;
  if (a_path(&a, archive, &ar) == 0 && a_path(&a, dest, &d) == 0 &&
      a_path(&a, dir, &cd) == 0 &&
      (members == Py_None || a_paths(&a, members, mem, &n) == 0)) {
    o.compression = (cu_tar_compression)comp;
    o.directory = cd;
    o.verbose = verb;
    if (!ar || (*mode == 'x' && !d))
      PyErr_SetString(PyExc_TypeError, "archive and dest are required");
    else if (*mode == 'c')
      rc = cu_tar_create(ar, mem, n, &o, &cmd);
    else if (*mode == 't')
      rc = cu_tar_list(ar, &o, &cmd);
    else
      rc = cu_tar_extract(ar, d, &o, &cmd);
  }
  return argv_of(rc, cmd, &a);
}

/* The rest of the git builders (issue 15): rev-parse, clone, fetch, log,
 * diff --stat and add, shaped as the ones above (keywords for the options,
 * `repo` a path, refs checked by cu_git_ref). */

static PyObject *b_git_rev_parse(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"ref", "quiet", "short_len", "abbrev_ref", "repo",
                        "allow_relative", NULL};
  const char *ref;
  int quiet = 0, abbrev = 0, short_len = 0;
  PyObject *repo = Py_None;
  arena a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "s|$pipOp", kwl, &ref, &quiet,
                                   &short_len, &abbrev, &repo, &a.rel))
    return NULL;
  cu_git_rev_parse_opts o = CU_GIT_REV_PARSE_OPTS_INIT;
  cu_git_ref *r = NULL;
  cu_safe_path *rp = NULL;
  cu_cmd *cmd = NULL;
  int rc = -1;
  if (short_len < 0)
    PyErr_SetString(PyExc_ValueError, "short_len must be 0 or 4..64");
  else if (a_ref(&a, ref, &r) == 0 && a_path(&a, repo, &rp) == 0) {
    o.repo = rp;
    o.quiet = quiet;
    o.short_len = (unsigned)short_len;
    o.abbrev_ref = abbrev;
    rc = cu_git_rev_parse(r, &o, &cmd);
  }
  return argv_of(rc, cmd, &a);
}

static PyObject *b_git_clone(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"url", "dest", "depth", "branch", "bare", "repo",
                        "allow_relative", NULL};
  const char *url, *branch = NULL;
  PyObject *dest, *repo = Py_None;
  int depth = 0, bare = 0;
  arena a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "sO|$izpOp", kwl, &url, &dest,
                                   &depth, &branch, &bare, &repo, &a.rel))
    return NULL;
  cu_git_clone_opts o = CU_GIT_CLONE_OPTS_INIT;
  cu_safe_path *d = NULL, *rp = NULL;
  cu_git_ref *b = NULL;
  cu_cmd *cmd = NULL;
  int rc = -1;
  if (a_path(&a, dest, &d) == 0 && a_ref(&a, branch, &b) == 0 &&
      a_path(&a, repo, &rp) == 0) {
    o.repo = rp;
    o.depth = depth;
    o.branch = b;
    o.bare = bare;
    rc = d ? cu_git_clone(url, d, &o, &cmd)
           : (PyErr_SetString(PyExc_TypeError, "dest is required"), -1);
  }
  return argv_of(rc, cmd, &a);
}

static PyObject *b_git_fetch(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"remote", "ref", "prune", "tags", "depth", "repo",
                        "allow_relative", NULL};
  const char *remote = NULL, *ref = NULL;
  int prune = 0, tags = 0, depth = 0;
  PyObject *repo = Py_None;
  arena a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|zz$ppiOp", kwl, &remote, &ref,
                                   &prune, &tags, &depth, &repo, &a.rel))
    return NULL;
  cu_git_fetch_opts o = CU_GIT_FETCH_OPTS_INIT;
  cu_git_ref *rm = NULL, *r = NULL;
  cu_safe_path *rp = NULL;
  cu_cmd *cmd = NULL;
  int rc = -1;
  if (a_ref(&a, remote, &rm) == 0 && a_ref(&a, ref, &r) == 0 &&
      a_path(&a, repo, &rp) == 0) {
    o.repo = rp;
    o.remote = rm;
    o.ref = r;
    o.prune = prune;
    o.tags = tags;
    o.depth = depth;
    rc = cu_git_fetch(&o, &cmd);
  }
  return argv_of(rc, cmd, &a);
}

static PyObject *b_git_log(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"ref", "format", "max_count", "repo",
                        "allow_relative", NULL};
  const char *ref = NULL, *format = NULL;
  int max_count = 0;
  PyObject *repo = Py_None;
  arena a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|z$ziOp", kwl, &ref, &format,
                                   &max_count, &repo, &a.rel))
    return NULL;
  cu_git_log_opts o = CU_GIT_LOG_OPTS_INIT;
  cu_git_ref *r = NULL;
  cu_safe_path *rp = NULL;
  cu_cmd *cmd = NULL;
  int rc = -1;
  if (a_ref(&a, ref, &r) == 0 && a_path(&a, repo, &rp) == 0) {
    o.repo = rp;
    o.ref = r;
    o.format = format;
    o.max_count = max_count;
    rc = cu_git_log(&o, &cmd);
  }
  return argv_of(rc, cmd, &a);
}

static PyObject *b_git_diff_stat(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"from_ref", "to_ref", "cached", "repo",
                        "allow_relative", NULL};
  const char *from = NULL, *to = NULL;
  int cached = 0;
  PyObject *repo = Py_None;
  arena a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|zz$pOp", kwl, &from, &to,
                                   &cached, &repo, &a.rel))
    return NULL;
  cu_git_diff_opts o = CU_GIT_DIFF_OPTS_INIT;
  cu_git_ref *f = NULL, *t = NULL;
  cu_safe_path *rp = NULL;
  cu_cmd *cmd = NULL;
  int rc = -1;
  if (a_ref(&a, from, &f) == 0 && a_ref(&a, to, &t) == 0 &&
      a_path(&a, repo, &rp) == 0) {
    o.repo = rp;
    o.cached = cached;
    o.from = f;
    o.to = t;
    rc = cu_git_diff_stat(&o, &cmd);
  }
  return argv_of(rc, cmd, &a);
}

static PyObject *b_git_add(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"paths", "all", "repo", "allow_relative", NULL};
  PyObject *paths, *repo = Py_None;
  int all = 0;
  arena a = {0};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$pOp", kwl, &paths, &all,
                                   &repo, &a.rel))
    return NULL;
  const cu_safe_path *ps[ARENA_MAX / 2];
  cu_git_add_opts o = CU_GIT_ADD_OPTS_INIT;
  cu_safe_path *rp = NULL;
  size_t n = 0;
  cu_cmd *cmd = NULL;
  int rc = -1;
  if (a_paths(&a, paths, ps, &n) == 0 && a_path(&a, repo, &rp) == 0) {
    o.repo = rp;
    o.all = all;
    rc = cu_git_add(ps, n, &o, &cmd);
  }
  return argv_of(rc, cmd, &a);
}

/* ----------------------------------------------------------- redaction */

/* A redactor from the Python-side rules (cu_redact_new copies them):
 * patterns and secret_names are sequences of str or NULL. NULL with a
 * Python exception set on failure. */
static cu_redact *redactor(PyObject *pats, PyObject *names, int nodef) {
  PyObject *fp = pats ? PySequence_Fast(pats, "patterns") : NULL;
  PyObject *fn = names ? PySequence_Fast(names, "secret_names") : NULL;
  cu_redact_opts o = CU_REDACT_OPTS_INIT;
  const char **pa = NULL, **na = NULL;
  cu_redact *r = NULL;
  if ((!pats || fp) && (!names || fn) &&
      (!fp || (pa = str_array(fp, &o.n_patterns))) &&
      (!fn || (na = str_array(fn, &o.n_secret_names)))) {
    o.patterns = pa;
    o.secret_names = na;
    o.no_default_names = nodef;
    int rc = cu_redact_new(&o, &r);
    if (rc < 0)
      raise_cu(rc);
  }
  PyMem_Free(pa);
  PyMem_Free(na);
  Py_XDECREF(fp);
  Py_XDECREF(fn);
  return r;
}

/* redact_argv(argv, patterns=(), secret_names=(), no_default_names=False)
 * -> tuple: libcuprum's redaction (cuprum/redact.h) for what the Python
 * adapters write about a run; the child always gets the real argv. */
static PyObject *redact_argv(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"argv", "patterns", "secret_names",
                        "no_default_names", NULL};
  PyObject *argv, *pats = NULL, *names = NULL;
  int nodef = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OOp", kwl, &argv, &pats,
                                   &names, &nodef))
    return NULL;
  PyObject *fa = PySequence_Fast(argv, "argv must be a sequence");
  const char **av = NULL;
  size_t n = 0;
  cu_redact *r = NULL;
  char **out = NULL;
  PyObject *ret = NULL;
  if (fa && (av = str_array(fa, &n)) && (r = redactor(pats, names, nodef))) {
    int rc = cu_redact_argv(r, av, n, &out);
    ret = rc < 0 ? raise_cu(rc) : argv_tuple((const char *const *)out, n);
  }
  free(out);
  cu_redact_free(r);
  PyMem_Free(av);
  Py_XDECREF(fa);
  return ret;
}

/* redact_env(pairs, patterns=(), secret_names=(), no_default_names=False)
 * -> tuple of bool: for each (name, value) of an environment overlay,
 * whether the value is to be hidden, by the same rules as redact_argv();
 * one redactor for the whole overlay. */
static PyObject *redact_env(PyObject *m, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"pairs", "patterns", "secret_names",
                        "no_default_names", NULL};
  PyObject *pairs, *pats = NULL, *names = NULL;
  int nodef = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OOp", kwl, &pairs, &pats,
                                   &names, &nodef))
    return NULL;
  PyObject *fp = PySequence_Fast(pairs, "pairs must be a sequence");
  cu_redact *r = fp ? redactor(pats, names, nodef) : NULL;
  Py_ssize_t n = r ? PySequence_Fast_GET_SIZE(fp) : 0;
  PyObject *ret = r ? PyTuple_New(n) : NULL;
  for (Py_ssize_t i = 0; ret && i < n; i++) {
    const char *name, *value;
    if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fp, i), "ss", &name,
                          &value))
      Py_CLEAR(ret);
    else
      PyTuple_SET_ITEM(ret, i,
                       PyBool_FromLong(cu_redact_env(r, name, value)));
  }
  cu_redact_free(r);
  Py_XDECREF(fp);
  return ret;
}

/* ------------------------------------------------------------ backends */

/* stream_backend(name="auto") -> (value, resolved name): the backend a run
 * asking for `name` gets (cuprum/backend.h: the CUPRUM_STREAM_BACKEND
 * environment variable applies to "auto"). Error for an unknown name or
 * an unavailable backend. */
static PyObject *stream_backend(PyObject *m, PyObject *args) {
  const char *name = "auto";
  if (!PyArg_ParseTuple(args, "|s", &name))
    return NULL;
  cu_stream_backend b, resolved;
  int rc = cu_stream_backend_parse(name, &b);
  if (rc >= 0)
    rc = cu_stream_backend_resolve(b, &resolved);
  if (rc < 0)
    return raise_cu(rc);
  return Py_BuildValue("(is)", (int)b, cu_stream_backend_name(resolved));
}

/* ------------------------------------------------------------ batches */

/* run_concurrent's fast path (docs/design.md "run_concurrent: the batch in
 * C"): a whole batch of commands handed to libcuprum at once and run with
 * no Python code per command. A spawn blocks its loop thread until the
 * child has exec'd (vfork), so one loop starts commands one after another;
 * the batch therefore runs on `threads` worker threads, each a
 * cu_parallel_stream() with its share of the limit, all pulling the next
 * command from one shared counter (at most `limit` run at once in all, and
 * a free slot on any thread takes the next command). The workers run
 * without the GIL and touch no Python object; the last one to end makes
 * an eventfd readable, which asyncio watches (add_reader) and wait()
 * polls. Results are kept in C, by submission index, until results()
 * turns them into Python values once, on the caller's thread. */

typedef struct BatchObject BatchObject;

typedef struct {
  BatchObject *b;
  pthread_t th;
  unsigned limit;
  size_t *map; /* this stream's item index -> the batch's index */
  size_t map_cap;
  int rc;      /* cu_parallel_stream's return */
  char *msg;   /* its cu_last_error() when rc < 0 */
} batch_worker;

struct BatchObject {
  PyObject_HEAD
  cu_cmd **cmds;
  size_t n;
  cu_run_opts opts; /* shared by every item */
  opts_mem mem;     /* what opts points to (Python-owned, kept alive) */
  char *cwd;
  int capture;
  int fail_fast;
  cu_cancel *cancel;
  atomic_size_t next;
  atomic_int stop;
  atomic_llong raise_index; /* first item that failed to start or timed out */
  cu_item_result **results; /* by batch index; NULL: never delivered */
  batch_worker *w;
  unsigned n_w;        /* workers allocated */
  unsigned n_workers;  /* threads started */
  atomic_uint running; /* workers not yet ended */
  int efd;
  int joined;
};

static PyTypeObject BatchType;

/* Stop pulling and terminate what runs (TERM, grace, KILL). Any thread. */
static void batch_stop(BatchObject *b) {
  atomic_store(&b->stop, 1);
  cu_cancel_trigger(b->cancel);
}

static int batch_source(void *user, size_t index, cu_batch_item *item) {
  batch_worker *w = user;
  BatchObject *b = w->b;
  if (atomic_load(&b->stop))
    return 0;
  if (index >= w->map_cap) { /* grows with what this thread pulled */
    size_t cap = w->map_cap * 2 > index ? w->map_cap * 2 : index + 1;
    size_t *m = PyMem_RawRealloc(w->map, cap * sizeof(*m));
    if (!m)
      return CU_ENOMEM; /* stops this stream; the caller raises */
    w->map = m;
    w->map_cap = cap;
  }
  size_t k = atomic_fetch_add(&b->next, 1);
  if (k >= b->n)
    return 0;
  w->map[index] = k;
  item->cmd = b->cmds[k];
  item->opts = &b->opts;
  return 1;
}

/* On a worker thread: keep the result; a command that could not start or
 * timed out stops the batch (the caller raises for it), and so does a
 * failure under fail-fast. */
static void batch_sink(void *user, cu_item_result *r) {
  batch_worker *w = user;
  BatchObject *b = w->b;
  size_t k = w->map[r->index];
  b->results[k] = r;
  int broken = r->state == CU_ITEM_FAILED_TO_START ||
               (r->state == CU_ITEM_DONE && !r->result) ||
               (r->state == CU_ITEM_DONE && r->result->timed_out);
  long long none = -1;
  if (broken &&
      atomic_compare_exchange_strong(&b->raise_index, &none, (long long)k))
    batch_stop(b);
  else if (b->fail_fast && r->state == CU_ITEM_DONE && !r->ok)
    batch_stop(b);
}

static void *batch_worker_main(void *arg) {
  batch_worker *w = arg;
  BatchObject *b = w->b;
  cu_parallel_stream_opts o = CU_PARALLEL_STREAM_OPTS_INIT;
  o.source = batch_source;
  o.source_user = w;
  o.sink = batch_sink;
  o.sink_user = w;
  o.limit = w->limit;
  o.cancel = b->cancel;
  cu_parallel_result *sum = NULL;
  w->rc = cu_parallel_stream(&o, &sum);
  if (w->rc < 0) {
    const char *m = cu_last_error();
    w->msg = strdup(m && *m ? m : cu_strerror(w->rc));
    batch_stop(b);
  }
  cu_parallel_result_free(sum);
  if (atomic_fetch_sub(&b->running, 1) == 1) {
    uint64_t one = 1;
    while (write(b->efd, &one, sizeof(one)) < 0 && errno == EINTR)
      ;
  }
  return NULL;
}

/* Join the workers once they have all ended (the eventfd said so, or the
 * caller waits here): without the GIL, it is at most their last steps. */
static void batch_join(BatchObject *b) {
  if (b->joined)
    return;
  Py_BEGIN_ALLOW_THREADS
  for (unsigned i = 0; i < b->n_workers; i++)
    pthread_join(b->w[i].th, NULL);
  Py_END_ALLOW_THREADS
  b->joined = 1;
}

static void batch_dealloc(BatchObject *b) {
  if (b->cancel && !b->joined) { /* dropped while running: end it first */
    batch_stop(b);
    batch_join(b);
  }
  for (size_t i = 0; b->results && i < b->n; i++)
    cu_item_result_free(b->results[i]);
  for (size_t i = 0; b->cmds && i < b->n; i++)
    cu_cmd_free(b->cmds[i]);
  for (unsigned i = 0; b->w && i < b->n_w; i++) {
    PyMem_RawFree(b->w[i].map);
    free(b->w[i].msg);
  }
  PyMem_RawFree(b->w);
  PyMem_RawFree(b->results);
  PyMem_RawFree(b->cmds);
  PyMem_RawFree(b->cwd);
  opts_mem_free(&b->mem);
  cu_cancel_free(b->cancel);
  if (b->efd >= 0)
    close(b->efd);
  Py_TYPE(b)->tp_free((PyObject *)b);
}

/* An eventfd, close-on-exec and non-blocking from birth, above 2. */
static int batch_eventfd(void) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd >= 0 && fd <= 2) {
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    fd = hi;
  }
  return fd;
}

/* The commands: a sequence of (Catalogue, program, [args]). */
static int batch_cmds(BatchObject *b, PyObject *cmds) {
  PyObject *f = PySequence_Fast(cmds, "commands must be a sequence");
  if (!f)
    return -1;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(f);
  b->cmds = PyMem_RawCalloc((size_t)n + 1, sizeof(*b->cmds));
  b->results = PyMem_RawCalloc((size_t)n + 1, sizeof(*b->results));
  int rc = b->cmds && b->results ? 0 : (PyErr_NoMemory(), -1);
  for (Py_ssize_t i = 0; rc == 0 && i < n; i++) {
    rc = build_cmd(PySequence_Fast_GET_ITEM(f, i), &b->cmds[i]);
    if (rc == 0)
      b->n++;
  }
  Py_DECREF(f);
  return rc;
}

/* Start `threads` workers sharing `limit` (0: every command at once). */
static int batch_spawn_workers(BatchObject *b, unsigned limit,
                               unsigned threads) {
  if (limit == 0 || limit > b->n)
    limit = b->n ? (unsigned)b->n : 1;
  if (threads == 0 || threads > limit)
    threads = limit;
  b->w = PyMem_RawCalloc(threads, sizeof(*b->w));
  if (!b->w)
    return PyErr_NoMemory(), -1;
  b->n_w = threads;
  for (unsigned i = 0; i < threads; i++) {
    b->w[i].b = b;
    b->w[i].limit = limit / threads + (i < limit % threads);
    b->w[i].map_cap = 64;
    b->w[i].map = PyMem_RawCalloc(b->w[i].map_cap, sizeof(size_t));
    if (!b->w[i].map)
      return PyErr_NoMemory(), -1;
  }
  atomic_store(&b->running, threads);
  /* The workers block every signal (they inherit the mask): a process-
   * directed signal such as Ctrl-C is then never taken by a worker, where
   * it would interrupt nothing, but by a Python thread. Children get an
   * empty mask from libcuprum whatever the spawning thread's. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = 0;
  for (unsigned i = 0; i < threads && !err; i++) {
    err = pthread_create(&b->w[i].th, NULL, batch_worker_main, &b->w[i]);
    if (!err)
      b->n_workers = i + 1;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err) { /* stop the ones started; the caller raises after joining */
    unsigned missing = threads - b->n_workers;
    batch_stop(b);
    if (atomic_fetch_sub(&b->running, missing) == missing) {
      uint64_t one = 1;
      (void)!write(b->efd, &one, sizeof(one));
    }
    batch_join(b);
    errno = err;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
  }
  return 0;
}

static char *batch_kw[] = {"commands", "limit", "threads", "fail_fast",
                           "capture", "env", "cwd", "timeout_ms", "grace_ms",
                           "tags", "backend", NULL};

/* batch_start(commands, *, limit=0, threads=1, fail_fast=False,
 * capture=True, env=None, cwd=None, timeout_ms=0, grace_ms=0, tags=None,
 * backend=0) -> Batch, already running. Each command is (Catalogue,
 * program, [args]); they share the options. Raises (with nothing started)
 * when a command cannot be built. */
static PyObject *batch_start(PyObject *mod, PyObject *args, PyObject *kw) {
  PyObject *cmds, *env = Py_None, *tags = Py_None;
  unsigned limit = 0, threads = 1;
  int fail_fast = 0, capture = 1, backend = 0;
  const char *cwd = NULL;
  long long timeout_ms = 0, grace_ms = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$IIppOzLLOi", batch_kw, &cmds,
                                   &limit, &threads, &fail_fast, &capture,
                                   &env, &cwd, &timeout_ms, &grace_ms, &tags,
                                   &backend))
    return NULL;
  BatchObject *b = PyObject_New(BatchObject, &BatchType);
  if (!b)
    return NULL;
  memset((char *)b + sizeof(PyObject), 0, sizeof(*b) - sizeof(PyObject));
  b->efd = -1;
  b->joined = 1; /* nothing to join until workers start */
  atomic_store(&b->raise_index, -1);
  b->capture = capture;
  b->fail_fast = fail_fast;
  cu_run_opts o = CU_RUN_OPTS_INIT;
  b->opts = o;
  b->opts.out.mode = capture ? CU_STREAM_CAPTURE : CU_STREAM_DISCARD;
  b->opts.err.mode = b->opts.out.mode;
  b->opts.timeout_ms = timeout_ms;
  b->opts.grace_ms = grace_ms;
  b->opts.backend = (cu_stream_backend)backend;
  int rc = cu_cancel_new(&b->cancel);
  if (rc < 0) {
    Py_DECREF(b);
    return raise_cu(rc);
  }
  if (cwd && !(b->cwd = PyMem_RawMalloc(strlen(cwd) + 1))) {
    Py_DECREF(b);
    return PyErr_NoMemory();
  }
  if (cwd)
    b->opts.cwd = strcpy(b->cwd, cwd);
  if (batch_cmds(b, cmds) < 0 ||
      pairs_array(env, &b->mem.fenv, &b->mem.env, &b->opts.n_env) < 0 ||
      pairs_array(tags, &b->mem.ftags, (cu_env_var **)&b->mem.tags,
                  &b->opts.n_tags) < 0) {
    Py_DECREF(b);
    return NULL;
  }
  b->opts.env = b->mem.env;
  b->opts.tags = b->mem.tags;
  if ((b->efd = batch_eventfd()) < 0) {
    Py_DECREF(b);
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  b->joined = 0;
  if (b->n == 0) { /* nothing to run: done at once */
    uint64_t one = 1;
    (void)!write(b->efd, &one, sizeof(one));
    b->joined = 1;
    return (PyObject *)b;
  }
  if (batch_spawn_workers(b, limit, threads) < 0) {
    Py_DECREF(b);
    return NULL;
  }
  return (PyObject *)b;
}

static PyObject *batch_fd(BatchObject *b, PyObject *Py_UNUSED(x)) {
  return PyLong_FromLong(b->efd);
}

static PyObject *batch_done(BatchObject *b, PyObject *Py_UNUSED(x)) {
  return PyBool_FromLong(b->joined || atomic_load(&b->running) == 0);
}

static PyObject *batch_cancel(BatchObject *b, PyObject *Py_UNUSED(x)) {
  batch_stop(b);
  Py_RETURN_NONE;
}

/* wait(): until every worker has ended, without the GIL. A signal runs the
 * Python handlers; one that raises (Ctrl-C) cancels the batch, which is
 * still waited for (nothing left running) before the exception leaves. */
static PyObject *batch_wait(BatchObject *b, PyObject *Py_UNUSED(x)) {
  int raised = 0;
  while (!b->joined && atomic_load(&b->running) != 0) {
    struct pollfd p = {.fd = b->efd, .events = POLLIN};
    int rc, err;
    Py_BEGIN_ALLOW_THREADS
    rc = poll(&p, 1, -1);
    err = errno;
    Py_END_ALLOW_THREADS
    if (rc < 0 && err != EINTR) {
      errno = err;
      return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (rc < 0 && !raised && PyErr_CheckSignals() < 0) {
      raised = 1;
      batch_stop(b);
    }
  }
  batch_join(b);
  if (raised)
    return NULL;
  Py_RETURN_NONE;
}

/* One delivered item as Python values: (code, pid, stdout, stderr,
 * timed_out) for a command that ran (code: the exit status, or -signal),
 * an Error for one that could not start. */
static PyObject *batch_item(const BatchObject *b, const cu_item_result *ir,
                            const text_mode *tm) {
  const cu_result *r = ir->result;
  if (ir->state == CU_ITEM_FAILED_TO_START || !r) {
    int code = ir->error ? ir->error : CU_ENOMEM;
    return PyObject_CallFunction(NativeError, "iss", code, cu_err_name(code),
                                 ir->message ? ir->message
                                             : cu_strerror(code));
  }
  PyObject *out = b->capture ? bytes_of(&r->out, tm) : Py_NewRef(Py_None);
  PyObject *err = b->capture ? bytes_of(&r->err, tm) : Py_NewRef(Py_None);
  if (!out || !err) {
    Py_XDECREF(out);
    Py_XDECREF(err);
    return NULL;
  }
  return Py_BuildValue("(iiNNO)",
                       r->term_signal ? -r->term_signal : r->exit_code,
                       (int)r->pid, out, err,
                       r->timed_out ? Py_True : Py_False);
}

/* results(encoding=None, errors="strict") -> (items, raise_index): items
 * in submission order, each a tuple (see batch_item), an Error, or None
 * for a command the batch stopped (terminated or never started);
 * raise_index is the first command that could not start or timed out, or
 * -1. Joins the workers; RuntimeError before the batch has ended. */
static PyObject *batch_results(BatchObject *b, PyObject *args, PyObject *kw) {
  static char *kwl[] = {"encoding", "errors", NULL};
  text_mode tm = {NULL, "strict"};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|zs", kwl, &tm.encoding,
                                   &tm.errors))
    return NULL;
  if (!b->joined && atomic_load(&b->running) != 0)
    return PyErr_Format(PyExc_RuntimeError, "the batch is still running");
  batch_join(b);
  for (unsigned i = 0; i < b->n_workers; i++) {
    const batch_worker *w = &b->w[i];
    if (w->rc < 0) {
      PyObject *e = Py_BuildValue("(iss)", w->rc, cu_err_name(w->rc),
                                  w->msg ? w->msg : cu_strerror(w->rc));
      if (e)
        PyErr_SetObject(NativeError, e);
      Py_XDECREF(e);
      return NULL;
    }
  }
  PyObject *items = PyList_New((Py_ssize_t)b->n);
  for (size_t i = 0; items && i < b->n; i++) {
    const cu_item_result *ir = b->results[i];
    PyObject *v = !ir || ir->state == CU_ITEM_TERMINATED ||
                          ir->state == CU_ITEM_SKIPPED
                      ? Py_NewRef(Py_None)
                      : batch_item(b, ir, &tm);
    if (!v)
      Py_CLEAR(items);
    else
      PyList_SET_ITEM(items, (Py_ssize_t)i, v);
  }
  if (!items)
    return NULL;
  return Py_BuildValue("(NL)", items, (long long)atomic_load(&b->raise_index));
}

static PyMethodDef batch_methods[] = {
    {"fd", (PyCFunction)batch_fd, METH_NOARGS,
     "an eventfd, readable once every command has ended"},
    {"done", (PyCFunction)batch_done, METH_NOARGS, "whether the batch ended"},
    {"cancel", (PyCFunction)batch_cancel, METH_NOARGS,
     "start no more; TERM, grace, KILL of the running ones"},
    {"wait", (PyCFunction)batch_wait, METH_NOARGS,
     "wait (GIL released) until the batch has ended"},
    {"results", (PyCFunction)(void (*)(void))batch_results,
     METH_VARARGS | METH_KEYWORDS,
     "results(encoding=None, errors='strict') -> (items, raise_index)"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cuprum._native.Batch",
    .tp_basicsize = sizeof(BatchObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A batch of commands running on libcuprum's worker threads.",
    .tp_dealloc = (destructor)batch_dealloc,
    .tp_methods = batch_methods,
};

/* ------------------------------------------------------------- module */

static PyMethodDef module_methods[] = {
    {"start", (PyCFunction)(void (*)(void))start, METH_VARARGS | METH_KEYWORDS,
     "start(loop, stages, **options) -> Task"},
    {"default_catalogue", default_catalogue, METH_NOARGS,
     "the libcuprum default catalogue"},
    {"safe_path", (PyCFunction)(void (*)(void))safe_path,
     METH_VARARGS | METH_KEYWORDS, "safe_path(path, *, allow_relative) -> str"},
    {"git_ref", git_ref, METH_VARARGS, "git_ref(ref) -> str"},
    {"set_event_type", set_event_type, METH_VARARGS,
     "set_event_type(ExecEvent, field names): line events built in C"},
    {"stream_backend", stream_backend, METH_VARARGS,
     "stream_backend(name='auto') -> (value, resolved name)"},
    {"redact_argv", (PyCFunction)(void (*)(void))redact_argv,
     METH_VARARGS | METH_KEYWORDS, "redact_argv(argv, ...) -> tuple"},
    {"redact_env", (PyCFunction)(void (*)(void))redact_env,
     METH_VARARGS | METH_KEYWORDS, "redact_env(name, value, ...) -> bool"},
    {"git_checkout", (PyCFunction)(void (*)(void))b_git_checkout,
     METH_VARARGS | METH_KEYWORDS, "cu_git_checkout -> argv"},
    {"git_status", (PyCFunction)(void (*)(void))b_git_status,
     METH_VARARGS | METH_KEYWORDS, "cu_git_status -> argv"},
    {"git_commit", (PyCFunction)(void (*)(void))b_git_commit,
     METH_VARARGS | METH_KEYWORDS, "cu_git_commit -> argv"},
    {"git_init", (PyCFunction)(void (*)(void))b_git_init,
     METH_VARARGS | METH_KEYWORDS, "cu_git_init -> argv"},
    {"git_rev_parse", (PyCFunction)(void (*)(void))b_git_rev_parse,
     METH_VARARGS | METH_KEYWORDS, "cu_git_rev_parse -> argv"},
    {"git_clone", (PyCFunction)(void (*)(void))b_git_clone,
     METH_VARARGS | METH_KEYWORDS, "cu_git_clone -> argv"},
    {"git_fetch", (PyCFunction)(void (*)(void))b_git_fetch,
     METH_VARARGS | METH_KEYWORDS, "cu_git_fetch -> argv"},
    {"git_log", (PyCFunction)(void (*)(void))b_git_log,
     METH_VARARGS | METH_KEYWORDS, "cu_git_log -> argv"},
    {"git_diff_stat", (PyCFunction)(void (*)(void))b_git_diff_stat,
     METH_VARARGS | METH_KEYWORDS, "cu_git_diff_stat -> argv"},
    {"git_add", (PyCFunction)(void (*)(void))b_git_add,
     METH_VARARGS | METH_KEYWORDS, "cu_git_add -> argv"},
    {"rsync", (PyCFunction)(void (*)(void))b_rsync,
     METH_VARARGS | METH_KEYWORDS, "cu_rsync -> argv"},
    {"tar", (PyCFunction)(void (*)(void))b_tar, METH_VARARGS | METH_KEYWORDS,
     "cu_tar_create/list/extract -> argv"},
    {"batch_start", (PyCFunction)(void (*)(void))batch_start,
     METH_VARARGS | METH_KEYWORDS,
     "batch_start(commands, **options) -> Batch (run_concurrent's fast path)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, .m_name = "cuprum._native",
    .m_doc = "libcuprum for the cuprum Python package.", .m_size = -1,
    .m_methods = module_methods};

PyMODINIT_FUNC PyInit__native(void);
PyMODINIT_FUNC PyInit__native(void) {
  if (PyType_Ready(&CatalogueType) < 0 || PyType_Ready(&LoopType) < 0 ||
      PyType_Ready(&TaskType) < 0 || PyType_Ready(&BatchType) < 0)
    return NULL;
  PyObject *m = PyModule_Create(&native_module);
  if (!m)
    return NULL;
  phase_stdout = PyUnicode_InternFromString("stdout");
  phase_stderr = PyUnicode_InternFromString("stderr");
  if (!phase_stdout || !phase_stderr)
    return NULL;
  NativeError = PyErr_NewException("cuprum._native.Error", NULL, NULL);
  if (!NativeError || PyModule_AddObjectRef(m, "Error", NativeError) < 0 ||
      PyModule_AddObjectRef(m, "Catalogue", (PyObject *)&CatalogueType) < 0 ||
      PyModule_AddObjectRef(m, "Loop", (PyObject *)&LoopType) < 0 ||
      PyModule_AddObjectRef(m, "Task", (PyObject *)&TaskType) < 0 ||
      PyModule_AddObjectRef(m, "Batch", (PyObject *)&BatchType) < 0 ||
      PyModule_AddStringConstant(m, "version", cu_version()) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
