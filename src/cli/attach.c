/* Attaching to a container's streams, and waiting for its exit, as docker's
 * run and start -a do: the attach connection is hijacked first, the wait
 * request is in flight before the start, so no output and no exit is lost. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "stream.h"
#include "term.h"

struct attachment {
  struct client_conn conn;
  struct attach_opts o;
  struct detach_keys keys;
  int signal_fd;
  sigset_t old_mask;
  bool mask_changed;
  struct cli *cli;
  const char *id;
};

/* Signals docker's --sig-proxy forwards. */
static const int proxied[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

/* Proxied signals and, with a tty, SIGWINCH (a resize) come through a
 * signalfd that the stream loop polls. */
static int setup_signals(struct attachment *a, skiff_error_t **err)
{
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; a->o.proxy_signals && i < sizeof(proxied) / sizeof(*proxied); i++)
    sigaddset(&set, proxied[i]);
  if (a->o.tty)
    sigaddset(&set, SIGWINCH);
  /* Blocked before the waiter thread exists, so every thread has them blocked
   * and they all arrive through the signalfd. */
  if (pthread_sigmask(SIG_BLOCK, &set, &a->old_mask) != 0)
    return skiff_error_errno(err, "block signals");
  a->mask_changed = true;
  a->signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
  if (a->signal_fd < 0)
    return skiff_error_errno(err, "signalfd");
  return 0;
}

const char *cli_config_detach_keys(void)
{
  static char keys[256];
  const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
  cleanup_free char *path = NULL;
  if ((dir && *dir ? asprintf(&path, "%s/config.json", dir)
                   : asprintf(&path, "%s/.docker/config.json", home ? home : "")) < 0)
    return NULL;
  cleanup_json json_t *config = json_load_file(path, 0, NULL);
  const char *value = json_string_value(json_object_get(config, "detachKeys"));
  if (value == NULL || strlen(value) >= sizeof keys)
    return NULL;
  return strcpy(keys, value);
}

void run_attach_close(struct attachment *a)
{
  if (a == NULL)
    return;
  term_restore();
  if (a->signal_fd >= 0)
    close(a->signal_fd);
  if (a->mask_changed)
    pthread_sigmask(SIG_SETMASK, &a->old_mask, NULL);
  client_conn_close(&a->conn);
  free(a);
}

struct attachment *run_attach_open(struct cli *cli, const char *id,
                                   const struct attach_opts *o, skiff_error_t **err)
{
  struct attachment *a = calloc(1, sizeof(*a));
  if (a == NULL) {
    skiff_error_errno(err, "attach");
    return NULL;
  }
  a->o = *o;
  a->signal_fd = -1;
  a->conn.fd = -1;
  a->cli = cli;
  cleanup_free char *base = cli_path("/containers/%s/attach", id);
  cleanup_free char *path = NULL;
  cleanup_free char *keys_query = NULL;
  const char *keys = o->detach_keys ? o->detach_keys : cli_config_detach_keys();
  if (keys && *keys && client_query_add(&keys_query, "detachKeys", keys) < 0)
    keys_query = NULL;
  if (base == NULL || asprintf(&path, "%s?stream=1&stdin=%d&stdout=%d&stderr=%d%s%s",
                               base, o->in, o->out, o->err, keys_query ? "&" : "",
                               keys_query ? keys_query + 1 : "") < 0) {
    skiff_error_errno(err, "attach");
    run_attach_close(a);
    return NULL;
  }
  /* The daemon refused invalid keys already; docker's CLI then falls back
   * to the default ones, and so do we. */
  if (detachkeys_parse(keys, &a->keys, NULL) < 0)
    detachkeys_parse(NULL, &a->keys, NULL);
  if (client_hijack(cli->client, "POST", path, NULL, &a->conn, err) < 0 ||
      ((o->proxy_signals || o->tty) && setup_signals(a, err) < 0)) {
    run_attach_close(a);
    return NULL;
  }
  return a;
}

static void resize_to(struct attachment *a, unsigned rows, unsigned cols)
{
  cleanup_free char *path = cli_path("/containers/%s/resize", a->id);
  if (path)
    term_send_size(a->cli->client, path, rows, cols);
}

static void resize_tty(struct attachment *a)
{
  unsigned rows, cols;
  if (term_size(STDOUT_FILENO, &rows, &cols))
    resize_to(a, rows, cols);
}

static void forward_signal(int signo, void *arg)
{
  struct attachment *a = arg;
  if (signo == SIGWINCH) {
    resize_tty(a);
    return;
  }
  cleanup_free char *base = cli_path("/containers/%s/kill", a->id);
  cleanup_free char *path = NULL;
  if (base && asprintf(&path, "%s?signal=%d", base, signo) >= 0) {
    skiff_error_t *e = NULL;
    if (client_simple(a->cli->client, "POST", path, NULL, NULL, &e) < 0)
      fprintf(stderr, "skiff: failed to forward signal %d: %s\n", signo, e->msg);
    skiff_error_free(&e);
  }
}

int run_attach_pump(struct cli *cli, struct attachment *a, const char *id,
                    skiff_error_t **err)
{
  (void)cli;
  a->id = id;
  bool raw = a->o.tty && a->o.in && term_make_raw(STDIN_FILENO);
  if (a->o.tty) {
    /* docker's attach first sets a size one larger: a shell that already
     * runs redraws its prompt only when the size really changes. */
    unsigned rows, cols;
    if (a->o.redraw && term_size(STDOUT_FILENO, &rows, &cols))
      resize_to(a, rows + 1, cols + 1);
    resize_tty(a);
  }
  fflush(stdout);
  struct stream_pump p = {
      .sock = a->conn.fd,
      .early = a->conn.early,
      .early_len = a->conn.early_len,
      .tty = a->o.tty,
      .in_fd = a->o.in ? STDIN_FILENO : -1,
      .out_fd = STDOUT_FILENO,
      .err_fd = STDERR_FILENO,
      .signal_fd = a->signal_fd,
      .on_signal = forward_signal,
      .arg = a,
      .detach_keys = raw ? &a->keys : NULL,
  };
  int r = stream_pump_run(&p, err);
  term_restore(); /* before anything is printed */
  if (r < 0)
    return -1;
  return p.detached ? ATTACH_DETACHED : 0;
}

/* ------------------------------------------------------------ waiting */

struct waiter {
  pthread_t thread;
  struct client *client;
  char *path;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool headers, done;
  volatile bool cancel;
  int status;
  skiff_error_t *err;
};

static void waiter_headers(void *arg)
{
  struct waiter *w = arg;
  pthread_mutex_lock(&w->lock);
  w->headers = true;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

/* {"StatusCode": N, "Error": {"Message": "..."}} */
static void waiter_result(struct waiter *w, struct client_reply *r)
{
  if (r->status >= 400) {
    client_error_from_reply(r, &w->err);
    return;
  }
  json_error_t jerr;
  cleanup_json json_t *body = json_loadb(r->body ? r->body : "", r->len, 0, &jerr);
  json_t *code = json_object_get(body, "StatusCode");
  const char *msg =
      json_string_value(json_object_get(json_object_get(body, "Error"), "Message"));
  if (msg && *msg)
    skiff_error_invalid(&w->err, "Error waiting for container: %s", msg);
  else if (!json_is_integer(code))
    skiff_error_invalid(
        &w->err, "Error waiting for container: unexpected answer from the daemon");
  else
    w->status = (int)json_integer_value(code);
}

static void *waiter_main(void *arg)
{
  struct waiter *w = arg;
  struct client_call call = {.method = "POST",
                             .path = w->path,
                             .body_fd = -1,
                             .on_headers = waiter_headers,
                             .arg = w,
                             .cancel = &w->cancel};
  struct client_reply reply;
  if (client_do(w->client, &call, &reply, &w->err) == 0) {
    waiter_result(w, &reply);
    client_reply_clear(&reply);
  }
  pthread_mutex_lock(&w->lock);
  w->done = true;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

static void waiter_free(struct waiter *w)
{
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->cond);
  skiff_error_free(&w->err);
  free(w->path);
  free(w);
}

/* Until the daemon has answered with headers (dockerd sends them at once, so
 * the wait is registered) or 2 s have passed for a daemon that does not. */
static void waiter_sync(struct waiter *w)
{
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 2;
  pthread_mutex_lock(&w->lock);
  while (!w->headers && !w->done)
    if (pthread_cond_timedwait(&w->cond, &w->lock, &deadline) == ETIMEDOUT)
      break;
  pthread_mutex_unlock(&w->lock);
}

struct waiter *run_wait_begin(struct cli *cli, const char *id, const char *condition,
                              skiff_error_t **err)
{
  /* Negotiate now: the thread must only read the client. */
  if (client_api_version(cli->client, err) == NULL)
    return NULL;
  struct waiter *w = calloc(1, sizeof(*w));
  if (w == NULL) {
    skiff_error_errno(err, "wait");
    return NULL;
  }
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->cond, NULL);
  w->client = cli->client;
  cleanup_free char *base = cli_path("/containers/%s/wait", id);
  if (base == NULL || asprintf(&w->path, "%s?condition=%s", base, condition) < 0) {
    w->path = NULL;
    skiff_error_errno(err, "wait");
    waiter_free(w);
    return NULL;
  }
  int r = pthread_create(&w->thread, NULL, waiter_main, w);
  if (r != 0) {
    skiff_error_set(err, r, "wait: start a thread");
    waiter_free(w);
    return NULL;
  }
  waiter_sync(w);
  return w;
}

int run_wait_end(struct waiter *w, skiff_error_t **err)
{
  pthread_join(w->thread, NULL);
  int status = w->status;
  if (w->err) {
    *err = steal_pointer(&w->err);
    status = -1;
  }
  waiter_free(w);
  return status;
}

bool run_wait_settle(struct waiter *w, int seconds)
{
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += seconds;
  pthread_mutex_lock(&w->lock);
  while (!w->done)
    if (pthread_cond_timedwait(&w->cond, &w->lock, &deadline) == ETIMEDOUT)
      break;
  bool done = w->done;
  pthread_mutex_unlock(&w->lock);
  return done;
}

/* Abandon the wait (the container could not start). */
void run_wait_cancel(struct waiter *w)
{
  w->cancel = true;
  pthread_join(w->thread, NULL);
  waiter_free(w);
}
