/* SPDX-License-Identifier: MIT */
/* `cuprum parallel`: result lines through a writer thread, the job log,
 * the progress line (see parallel_out.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "parallel_out.h"
#include "run.h"
#include "write_all.h"

/* ------------------------------------------------------------ buffers */

typedef struct sbuf {
  char *data;
  size_t len, cap;
  bool oom;
} sbuf;

static void put(sbuf *o, const char *buf, size_t len) {
  if (o->oom || len == 0) /* nothing to copy, maybe nowhere to copy it */
    return;
  if (o->len + len > o->cap) {
    size_t cap = o->cap ? o->cap : 256;
    while (cap < o->len + len)
      cap *= 2;
    char *d = realloc(o->data, cap);
    if (!d) {
      o->oom = true;
      return;
    }
    o->data = d;
    o->cap = cap;
  }
  if (!o->data) { /* cannot happen once cap > 0; says so to the analyzer */
    o->oom = true;
    return;
  }
  memcpy(o->data + o->len, buf, len);
  o->len += len;
}

/* Length of the valid UTF-8 sequence at p (at most `left` bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t left) {
  if (p[0] < 0x80)
    return 1;
  size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
  if (n == 0 || p[0] > 0xf4 || n > left)
    return 0;
  uint32_t cp = p[0] & (0x3f >> (n - 1));
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

/* Valid UTF-8 escaped into JSON string syntax (as jansson writes it). */
static void put_escaped(sbuf *o, const char *data, size_t len) {
  size_t run = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)data[i];
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    put(o, data + run, i - run);
    char esc[8];
    if (c == '"' || c == '\\')
      put(o, c == '"' ? "\\\"" : "\\\\", 2);
    else if (c == '\n' || c == '\t' || c == '\r')
      put(o, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r", 2);
    else
      put(o, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
    run = i + 1;
  }
  put(o, data + run, len - run);
}

/* Bytes as a JSON string: valid UTF-8 runs escaped straight from the
 * capture (no copy through jansson), each invalid byte as U+FFFD. */
static void put_stream(sbuf *o, const char *data, size_t len) {
  put(o, "\"", 1);
  const unsigned char *p = (const unsigned char *)data;
  size_t run = 0, i = 0;
  while (i < len) {
    size_t n = utf8_len(p + i, len - i);
    if (n) {
      i += n;
      continue;
    }
    put_escaped(o, data + run, i - run);
    put(o, "\xEF\xBF\xBD", 3);
    run = ++i;
  }
  put_escaped(o, data + run, len - run);
  put(o, "\"", 1);
}

/* Compact JSON text of `v` (borrowed); NULL when out of memory. 15
 * significant digits print a microsecond-rounded duration exactly. */
static char *dump(const json_t *v) {
  return json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15) |
                           JSON_ENCODE_ANY);
}

/* ------------------------------------------------------------ writer */

/* A result line and, when the batch keeps a job log, the log line that
 * may be appended only once the result line is on stdout. */
typedef struct chunk {
  struct chunk *next;
  int log_fd;   /* -1: no log line */
  size_t len, log_len;
  char *log;    /* owned */
  char data[];
} chunk;

struct cli_out {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;      /* queue changed */
  chunk *head, *tail;
  size_t queued;          /* bytes */
  bool closing;
  int err;                /* first write error */
};

static void *writer(void *arg) {
  cli_out *o = arg;
  pthread_mutex_lock(&o->mu);
  for (;;) {
    while (!o->head && !o->closing)
      pthread_cond_wait(&o->cv, &o->mu);
    chunk *c = o->head;
    if (!c)
      break;
    o->head = NULL;
    o->tail = NULL;
    pthread_mutex_unlock(&o->mu);
    /* Everything queued so far, in order, outside the lock. */
    size_t done = 0;
    int err = 0;
    while (c) {
      chunk *next = c->next;
      if (err == 0)
        err = cli_write_all(STDOUT_FILENO, c->data, c->len);
      /* The job log says "done" only after the result is out: a SIGKILL in
       * between leaves the item started but unlogged, which --resume
       * reports and runs again, rather than logged with its output lost.
       * A result that could not be written is not logged at all. */
      if (err == 0 && c->log)
        cli_write_all(c->log_fd, c->log, c->log_len);
      done += c->len;
      free(c->log);
      free(c);
      c = next;
    }
    pthread_mutex_lock(&o->mu);
    o->queued -= done;
    if (err && !o->err)
      o->err = err;
    pthread_cond_broadcast(&o->cv);
  }
  pthread_mutex_unlock(&o->mu);
  return NULL;
}

int cli_out_begin(cli_out **ret) {
  if (fflush(stdout) != 0)
    return cli_write_error(errno);
  cli_out *o = calloc(1, sizeof *o);
  if (!o) {
    cli_error("out of memory");
    return CLI_EXIT_FAILURE;
  }
  pthread_mutex_init(&o->mu, NULL);
  pthread_cond_init(&o->cv, NULL);
  /* The signals that cancel the batch (run_support.c) are taken by the
   * main thread only: the writer is born with them blocked, so the handler
   * never runs on it, beside the main thread that frees the cancel token
   * (ThreadSanitizer reported that race, and a handler run late on this
   * thread could lose the cancel). SIGPIPE stays with the writer: a reader
   * that went away ends cuprum, as for any filter. */
  sigset_t cancelling, old;
  cli_cancel_sigset(&cancelling);
  pthread_sigmask(SIG_BLOCK, &cancelling, &old);
  int rc = pthread_create(&o->thread, NULL, writer, o);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    cli_error("starting the output thread: %s", strerror(rc));
    free(o);
    return CLI_EXIT_FAILURE;
  }
  *ret = o;
  return 0;
}

static int enqueue(cli_out *o, const char *data, size_t len,
                   const cli_joblog *log, char *log_line) {
  chunk *c = malloc(sizeof *c + len);
  if (!c) {
    free(log_line);
    return -1;
  }
  c->next = NULL;
  c->len = len;
  c->log = log_line;
  c->log_len = log_line ? strlen(log_line) : 0;
  c->log_fd = log_line ? log->fd : -1;
  memcpy(c->data, data, len);
  pthread_mutex_lock(&o->mu);
  while (o->queued > CLI_OUT_QUEUE_MAX && !o->err)
    pthread_cond_wait(&o->cv, &o->mu);
  if (o->tail)
    o->tail->next = c;
  else
    o->head = c;
  o->tail = c;
  o->queued += len;
  pthread_cond_broadcast(&o->cv);
  pthread_mutex_unlock(&o->mu);
  return 0;
}

static char *joblog_format(const cli_joblog *j, size_t seq,
                           const json_t *argv, const json_t *fields,
                           unsigned retries);

int cli_out_item(cli_out *o, const cli_item *item, unsigned retries,
                 const json_t *fields, const cli_streams *st,
                 const cli_joblog *log) {
  char *log_line = NULL;
  if (log && log->fd >= 0 &&
      !(log_line = joblog_format(log, item->index + 1, item->argv, fields,
                                 retries)))
    return -1;
  char *argv = dump(item->argv);
  char *rest = dump(fields);
  sbuf b = {0};
  char head[96];
  int n = snprintf(head, sizeof head, "{\"index\":%zu,\"line\":%u,\"argv\":",
                   item->index, item->line);
  put(&b, head, (size_t)n);
  if (argv)
    put(&b, argv, strlen(argv));
  n = snprintf(head, sizeof head, ",\"retries\":%u,", retries);
  put(&b, head, (size_t)n);
  if (rest && strlen(rest) > 2) {
    put(&b, rest + 1, strlen(rest) - 2); /* without its braces */
    put(&b, ",", 1);
  }
  put(&b, "\"stdout\":", 9);
  put_stream(&b, st->out, st->out_len);
  put(&b, ",\"stderr\":", 10);
  put_stream(&b, st->err, st->err_len);
  put(&b, "}\n", 2);
  int rc = -1;
  if (!argv || !rest || b.oom)
    free(log_line);
  else
    rc = enqueue(o, b.data, b.len, log, log_line);
  free(argv);
  free(rest);
  free(b.data);
  return rc;
}

int cli_out_end(cli_out *o) {
  if (!o)
    return 0;
  pthread_mutex_lock(&o->mu);
  o->closing = true;
  pthread_cond_broadcast(&o->cv);
  pthread_mutex_unlock(&o->mu);
  pthread_join(o->thread, NULL);
  int err = o->err;
  pthread_cond_destroy(&o->cv);
  pthread_mutex_destroy(&o->mu);
  free(o);
  return err ? cli_write_error(err) : 0;
}

/* ------------------------------------------------------------ job log */

/* GNU parallel's nine columns; with --retries a tenth, Retries, after
 * Command (docs/design.md "The job log's retry count"). */
static const char joblog_header[] =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\t"
    "Command";
static const char retries_header[] = "\tRetries";

static bool bit(const unsigned char *bits, size_t n_bits, size_t i) {
  return bits && i < n_bits && (bits[i / 8] >> (i % 8) & 1);
}

static int set_bit(cli_joblog *j, unsigned char **bits, size_t i) {
  if (i >= j->n_bits) {
    size_t n = j->n_bits ? j->n_bits : 1024;
    while (n <= i)
      n *= 2;
    /* Each array is stored back as soon as it moved: a later failure
     * must not leave a freed pointer behind (fuzz_joblog checks it). */
    unsigned char **arrays[3] = {&j->logged, &j->ok, &j->started};
    for (int k = 0; k < 3; k++) {
      unsigned char *p = realloc(*arrays[k], n / 8);
      if (!p)
        return -1;
      memset(p + j->n_bits / 8, 0, (n - j->n_bits) / 8);
      *arrays[k] = p;
    }
    j->n_bits = n;
  }
  (*bits)[i / 8] |= (unsigned char)(1u << (i % 8));
  return 0;
}

/* Read FILE's complete lines (a torn last line, from a crash, is not
 * done). */
static int read_log(cli_joblog *j, const char *path, bool started) {
  FILE *f = fopen(path, "re");
  if (!f)
    return errno == ENOENT ? 0 : -1;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int rc = 0;
  bool first = true;
  while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] != '\n')
      break;
    if (first && !started && strncmp(line, "Seq\t", 4) == 0) {
      /* The header says whether the lines have a Retries column: a
       * resumed log keeps the shape it started with. */
      line[len - 1] = '\0';
      size_t n = strlen(retries_header);
      j->has_header = true;
      j->retries_column = (size_t)len - 1 >= n &&
                          strcmp(line + len - 1 - n, retries_header) == 0;
    }
    first = false;
    char *end = NULL;
    unsigned long long seq = line[0] >= '0' && line[0] <= '9'
                                 ? strtoull(line, &end, 10)
                                 : 0; /* no blanks or sign: we wrote it */
    if (seq == 0 || seq > CLI_JOBLOG_MAX_SEQ)
      continue; /* the header, or not ours */
    if (started) {
      rc = set_bit(j, &j->started, (size_t)seq);
      continue;
    }
    /* Exitval and Signal: the 7th and 8th tab-separated columns. */
    const char *p = line;
    for (int col = 1; col < 7 && p; col++)
      if ((p = strchr(p, '\t')))
        p++;
    long exitval = p ? strtol(p, &end, 10) : -1;
    long sig = p && *end == '\t' ? strtol(end + 1, NULL, 10) : -1;
    rc = set_bit(j, &j->logged, (size_t)seq);
    if (rc == 0 && exitval == 0 && sig == 0)
      rc = set_bit(j, &j->ok, (size_t)seq);
  }
  free(line);
  fclose(f);
  return rc;
}

int cli_joblog_open(cli_joblog *j, const char *path, bool resume,
                    bool retries) {
  *j = (cli_joblog){.fd = -1, .started_fd = -1, .retries_column = retries};
  size_t n = strlen(path);
  j->path = malloc(n + sizeof ".started");
  if (!j->path) {
    cli_error("out of memory");
    return CLI_EXIT_FAILURE;
  }
  memcpy(j->path, path, n);
  strcpy(j->path + n, ".started");
  if (resume && (read_log(j, path, false) != 0 ||
                 read_log(j, j->path, true) != 0)) {
    cli_error("--joblog %s: %s", path, errno ? strerror(errno) : "bad");
    cli_joblog_close(j);
    return CLI_EXIT_FAILURE;
  }
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (resume ? 0 : O_TRUNC);
  j->fd = open(path, flags, 0644);
  j->started_fd = j->fd >= 0 ? open(j->path, flags, 0644) : -1;
  if (j->fd < 0 || j->started_fd < 0) {
    cli_error("--joblog %s: %s", j->fd < 0 ? path : j->path, strerror(errno));
    cli_joblog_close(j);
    return CLI_EXIT_FAILURE;
  }
  struct stat st;
  if (fstat(j->fd, &st) == 0 && st.st_size == 0) {
    if (!j->has_header) /* a log emptied since it was read: ours again */
      j->retries_column = retries;
    char head[sizeof joblog_header + sizeof retries_header];
    int hn = snprintf(head, sizeof head, "%s%s\n", joblog_header,
                     j->retries_column ? retries_header : "");
    cli_write_all(j->fd, head, (size_t)hn);
  }
  return 0;
}

bool cli_joblog_done(const cli_joblog *j, size_t seq, bool only_ok) {
  return bit(only_ok ? j->ok : j->logged, j->n_bits, seq);
}

bool cli_joblog_unknown(const cli_joblog *j, size_t seq) {
  return bit(j->started, j->n_bits, seq) && !bit(j->logged, j->n_bits, seq);
}

void cli_joblog_started(cli_joblog *j, size_t seq) {
  if (j->started_fd < 0)
    return;
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%zu\n", seq);
  cli_write_all(j->started_fd, buf, (size_t)n);
}

/* The command as a reader would type it: each argv element quoted when it
 * holds anything but safe characters (display only: nothing runs it). */
static void put_command(sbuf *b, const json_t *argv) {
  for (size_t i = 0; i < json_array_size(argv); i++) {
    const char *s = json_string_value(json_array_get(argv, i));
    if (i)
      put(b, " ", 1);
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789_-+=.,/:@%") == strlen(s)) {
      put(b, s, strlen(s));
      continue;
    }
    put(b, "'", 1);
    for (; *s; s++) {
      if (*s == '\'')
        put(b, "'\\''", 4);
      else if (*s == '\n' || *s == '\t')
        put(b, *s == '\n' ? "\\n" : "\\t", 2); /* one line per job */
      else
        put(b, s, 1);
    }
    put(b, "'", 1);
  }
}

static double real_of(const json_t *fields, const char *key) {
  const json_t *v = json_object_get(fields, key);
  return json_is_number(v) ? json_number_value(v) : 0;
}

/* The job-log line of one item (NUL-terminated, malloc'd; NULL when out
 * of memory). */
static char *joblog_format(const cli_joblog *j, size_t seq,
                           const json_t *argv, const json_t *fields,
                           unsigned retries) {
  const json_t *code = json_object_get(fields, "exit_code");
  const json_t *sig = json_object_get(fields, "signal");
  const json_t *status = json_object_get(fields, "status");
  /* Exitval: the exit code; else the status it stands for (-1 for a
   * signal, as GNU parallel writes it). */
  long exitval = json_is_integer(code)  ? (long)json_integer_value(code)
                 : json_is_integer(sig) ? -1
                                        : (long)json_integer_value(status);
  char buf[256];
  int n = snprintf(buf, sizeof buf, "%zu\t:\t%.3f\t%.3f\t0\t%lld\t%ld\t%lld\t",
                   seq, real_of(fields, "start_time"),
                   real_of(fields, "duration_ms") / 1000.0,
                   (long long)json_integer_value(
                       json_object_get(fields, "stdout_total")),
                   exitval,
                   (long long)(json_is_integer(sig) ? json_integer_value(sig)
                                                    : 0));
  sbuf b = {0};
  put(&b, buf, (size_t)n);
  put_command(&b, argv); /* tab-free: tabs and newlines are escaped */
  if (j->retries_column) {
    n = snprintf(buf, sizeof buf, "\t%u", retries);
    put(&b, buf, (size_t)n);
  }
  put(&b, "\n", 1);
  put(&b, "", 1); /* the NUL */
  /* Written by the output thread with one write per line on an O_APPEND
   * descriptor: a SIGKILL leaves whole lines or a torn last one, which
   * resume ignores. */
  if (b.oom) {
    free(b.data);
    return NULL;
  }
  return b.data;
}

int cli_joblog_close(cli_joblog *j) {
  int rc = 0;
  if (j->fd >= 0 && fsync(j->fd) != 0)
    rc = -errno;
  if (j->fd >= 0)
    close(j->fd);
  if (j->started_fd >= 0)
    close(j->started_fd);
  free(j->path);
  free(j->logged);
  free(j->ok);
  free(j->started);
  *j = (cli_joblog){.fd = -1, .started_fd = -1};
  return rc;
}

/* ------------------------------------------------------------ progress */

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void cli_progress_draw(cli_progress *p, bool final) {
  if (!p->on)
    return;
  int64_t now = mono_ns();
  if (!p->start_ns)
    p->start_ns = now;
  if (!final && p->drawn_ns && now - p->drawn_ns < 100000000)
    return;
  p->drawn_ns = now;
  double secs = (double)(now - p->start_ns) / 1e9;
  double rate = secs > 0 ? (double)p->done / secs : 0;
  char eta[32] = "?";
  if (rate > 0 && p->total >= p->done)
    snprintf(eta, sizeof eta, "%.0fs", (double)(p->total - p->done) / rate);
  char line[200];
  int n = snprintf(line, sizeof line,
                   "\r\033[Kcuprum parallel: %zu/%zu done, %zu running, "
                   "%zu failed, %.1f/s, ETA %s%s",
                   p->done, p->total, p->running, p->failed, rate, eta,
                   final ? "\n" : "");
  cli_write_all(STDERR_FILENO, line, (size_t)n);
}
