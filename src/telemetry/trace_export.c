/* SPDX-License-Identifier: MIT */
/*
 * The tracer's export path, off the hot path: observers push encoded spans
 * into a bounded ring (a full ring drops the span and counts it); one
 * background thread takes batches, wraps them in an OTLP/JSON
 * ExportTraceServiceRequest and sends each to the file and/or the
 * transport callback. Observers never wait for the thread.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fmt.h"
#include "telemetry/trace_int.h"

static struct timespec abs_time(int64_t mono_ns) {
  return (struct timespec){.tv_sec = mono_ns / 1000000000,
                           .tv_nsec = mono_ns % 1000000000};
}

void cu__exporter_push(cu__exporter *e, char *span) {
  pthread_mutex_lock(&e->mu);
  if (e->stop || e->n == e->cap) {
    pthread_mutex_unlock(&e->mu);
    atomic_fetch_add(&e->dropped, 1);
    free(span);
    return;
  }
  e->q[(e->head + e->n) % e->cap] = span;
  e->n++;
  e->enqueued++;
  if (e->n >= e->batch)
    pthread_cond_signal(&e->wake);
  pthread_mutex_unlock(&e->mu);
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int64_t cu_trace_deadline_left_ms(const cu_trace_deadline *d) {
  if (!d)
    return 0;
  int64_t left = atomic_load(&((cu_trace_deadline *)d)->at_ns) - cu__mono_ns();
  return left <= 0 ? 0 : (left + 999999) / 1000000;
}

/* Only ever moves earlier: flush and shutdown shorten, never extend. */
static void shorten(cu_trace_deadline *d, int64_t at_ns) {
  int64_t cur = atomic_load(&d->at_ns);
  while (at_ns < cur && !atomic_compare_exchange_weak(&d->at_ns, &cur, at_ns))
    ;
}

/* Build and send one request (mutex not held). Returns 0 when every
 * destination took it. */
static int send_batch(cu__exporter *e, char **spans, size_t k) {
  cu__sbuf b = {0};
  cu__sbuf_puts(&b, e->prefix);
  for (size_t i = 0; i < k; i++) {
    if (i)
      cu__sbuf_putc(&b, ',');
    cu__sbuf_puts(&b, spans[i]);
  }
  cu__sbuf_puts(&b, "]}]}]}\n");
  if (b.oom) {
    cu__sbuf_free(&b);
    return -1;
  }
  int rc = 0;
  if (e->fd >= 0 && write_all(e->fd, b.data, b.len) != 0)
    rc = -1;
  if (e->fn && e->fn(e->fn_data, b.data, b.len - 1, &e->deadline) != 0)
    rc = -1;
  cu__sbuf_free(&b);
  return rc;
}

/* Per-request deadline: the export timeout, cut to a flush's. Called
 * with the mutex held. */
static void request_deadline(cu__exporter *e) {
  int64_t at = cu__mono_ns() + e->export_timeout_ms * 1000000;
  if (e->flush_deadline_ns && e->flush_deadline_ns < at)
    at = e->flush_deadline_ns;
  if (e->stop)
    at = cu__mono_ns();
  atomic_store(&e->deadline.at_ns, at);
}

static void *export_main(void *arg) {
  cu__exporter *e = arg;
  char **spans = malloc(e->batch * sizeof *spans);
  pthread_mutex_lock(&e->mu);
  int64_t next = cu__mono_ns() + e->delay_ns;
  for (;;) {
    while (!e->stop && !e->flush_req && e->n < e->batch &&
           cu__mono_ns() < next) {
      struct timespec ts = abs_time(next);
      pthread_cond_timedwait(&e->wake, &e->mu, &ts);
    }
    if (e->n == 0) {
      e->flush_req = false;
      pthread_cond_broadcast(&e->settled);
      if (e->stop)
        break;
      next = cu__mono_ns() + e->delay_ns;
      continue;
    }
    size_t k = 0;
    for (; spans && k < e->batch && e->n > 0; k++, e->n--) {
      spans[k] = e->q[e->head];
      e->head = (e->head + 1) % e->cap;
    }
    if (!spans) { /* no memory for a batch: drop the oldest span */
      free(e->q[e->head]);
      e->head = (e->head + 1) % e->cap;
      e->n--;
      atomic_fetch_add(&e->dropped, 1);
      e->settled_count++;
      continue;
    }
    request_deadline(e);
    bool dropping = e->stop;
    pthread_mutex_unlock(&e->mu);
    int rc = dropping ? -1 : send_batch(e, spans, k);
    atomic_fetch_add(rc == 0 ? &e->exported : &e->dropped, k);
    for (size_t i = 0; i < k; i++)
      free(spans[i]);
    pthread_mutex_lock(&e->mu);
    e->settled_count += k;
    pthread_cond_broadcast(&e->settled);
    if (e->n < e->batch && !e->flush_req)
      next = cu__mono_ns() + e->delay_ns;
  }
  pthread_mutex_unlock(&e->mu);
  free(spans);
  return NULL;
}

int cu__exporter_start(cu__exporter *e, char *prefix) {
  e->prefix = prefix;
  e->q = calloc(e->cap, sizeof *e->q);
  if (!e->q)
    return cu__fail(CU_ENOMEM, "out of memory making the span queue");
  pthread_mutex_init(&e->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&e->wake, &ca);
  pthread_cond_init(&e->settled, &ca);
  pthread_condattr_destroy(&ca);
  /* The export thread must not take signals meant for the application. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&e->thread, NULL, export_main, e);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err != 0)
    return cu__fail_errno(CU_ESYS, err, "starting the span export thread");
  e->running = true;
  return 0;
}

int cu__exporter_flush(cu__exporter *e, int64_t timeout_ms) {
  int64_t deadline = cu__mono_ns() + timeout_ms * 1000000;
  pthread_mutex_lock(&e->mu);
  uint64_t target = e->enqueued;
  e->flush_req = true;
  e->flush_deadline_ns = deadline;
  shorten(&e->deadline, deadline); /* a request already in flight too */
  pthread_cond_signal(&e->wake);
  struct timespec ts = abs_time(deadline);
  while (e->running && e->settled_count < target && cu__mono_ns() < deadline)
    pthread_cond_timedwait(&e->settled, &e->mu, &ts);
  bool done = !e->running || e->settled_count >= target;
  e->flush_deadline_ns = 0;
  pthread_mutex_unlock(&e->mu);
  return done ? 0
              : cu__fail(CU_ETIMEDOUT, "spans still being exported after "
                         "%lld ms", (long long)timeout_ms);
}

void cu__exporter_stop(cu__exporter *e) {
  if (!e->running)
    return;
  pthread_mutex_lock(&e->mu);
  e->stop = true;
  shorten(&e->deadline, cu__mono_ns()); /* the request in flight gives up */
  pthread_cond_signal(&e->wake);
  pthread_mutex_unlock(&e->mu);
  /* The transport polls its deadline, now past, so this join is bounded
   * by its polling interval. */
  pthread_join(e->thread, NULL);
  e->running = false;
}

void cu__exporter_destroy(cu__exporter *e) {
  cu__exporter_stop(e);
  for (size_t i = 0; e->q && i < e->n; i++)
    free(e->q[(e->head + i) % e->cap]);
  free(e->q);
  free(e->prefix);
  if (e->fd >= 0)
    close(e->fd);
  if (e->q) {
    pthread_cond_destroy(&e->wake);
    pthread_cond_destroy(&e->settled);
    pthread_mutex_destroy(&e->mu);
  }
}
