/* skiffd: the daemon. Parses its configuration, takes the data root's lock,
 * opens the stores and the API sockets, then waits for SIGTERM/SIGINT.
 * Containers outlive it: each has its own skiff-shim, so shutting down only
 * stops serving the API. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api_system.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "config.h"
#include "containers.h"
#include "daemon.h"
#include "events.h"
#include "execs.h"
#include "http_server.h"
#include "image/image.h"
#include "listeners.h"
#include "networks.h"
#include "runtime/runtime.h"

/* How long shutdown waits for connections and handlers to end before it
 * exits anyway (hijacked attach sessions can last for ever). */
#define SHUTDOWN_GRACE_SECONDS 5

struct skiffd {
  struct daemon d;
  struct config_options opts;
  int lock_fd;
  bool wrote_pidfile;
  struct listener *listeners;
  struct http_server **servers;
  size_t n_listeners;
  char *shim_path;
};

/* ---------------------------------------------------------------- startup */

/* One daemon per data root, as dockerd: an flock held for the process's
 * life (the kernel drops it when the process dies, so nothing goes stale). */
static int lock_data_root(struct skiffd *s, skiff_error_t **err)
{
  const char *root = s->d.config.data_root;
  if (fs_mkdir_p(root, 0711, err) < 0)
    return skiff_error_wrap(err, "data root");
  cleanup_free char *path = NULL;
  if (asprintf(&path, "%s/skiffd.lock", root) < 0)
    return skiff_error_set(err, ENOMEM, "lock");
  s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (s->lock_fd < 0)
    return skiff_error_errno(err, "open %s", path);
  if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
    return skiff_error_set(err, errno == EWOULDBLOCK ? EBUSY : errno,
                           "another skiffd is already running with data root %s "
                           "(it holds %s)",
                           root, path);
  return 0;
}

/* A pidfile naming a live process other than us means another daemon
 * shares the exec root; one naming a dead process is left from a crash. */
static int write_pidfile(struct skiffd *s, skiff_error_t **err)
{
  const char *path = s->d.config.pidfile;
  cleanup_free char *old = fs_read_file(path, NULL, NULL);
  long pid = old ? strtol(old, NULL, 10) : 0;
  if (pid > 0 && pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
    return skiff_error_set(err, EEXIST,
                           "pid file %s names running process %ld: is another skiffd "
                           "running? (delete the file if not)",
                           path, pid);
  cleanup_free char *dir = strdup(path);
  char *slash = dir ? strrchr(dir, '/') : NULL;
  if (slash && slash != dir) {
    *slash = '\0';
    if (fs_mkdir_p(dir, 0755, err) < 0)
      return -1;
  }
  char text[32];
  int n = snprintf(text, sizeof text, "%d\n", (int)getpid());
  if (fs_write_file_atomic(path, text, (size_t)n, 0644, 0, err) < 0)
    return skiff_error_wrap(err, "pid file");
  s->wrote_pidfile = true;
  return 0;
}

static char *read_pem(const char *what, const char *path, skiff_error_t **err)
{
  if (path == NULL) {
    skiff_error_invalid(err, "TLS needs --%s", what);
    return NULL;
  }
  char *pem = fs_read_file(path, NULL, err);
  if (pem == NULL)
    skiff_error_wrap(err, "--%s", what);
  return pem;
}

/* A tcp:// socket hands root to whoever can reach it: TLS, or an explicit
 * --insecure-tcp (dockerd has refused plain tcp since 27.0, too). */
static int check_tcp_policy(struct skiffd *s, skiff_error_t **err)
{
  for (char **h = s->d.config.hosts; *h; h++) {
    if (!listener_is_tcp(*h) || s->opts.tls.enabled)
      continue;
    if (!s->opts.insecure_tcp)
      return skiff_error_invalid(err,
                                 "refusing to listen on %s without TLS: anyone who can "
                                 "connect would be root on this host. Use --tlsverify "
                                 "--tlscacert --tlscert --tlskey, or --insecure-tcp",
                                 *h);
    log_warn(
        "listening on %s WITHOUT TLS (--insecure-tcp): anyone who can connect to it "
        "is root on this host",
        *h);
  }
  return 0;
}

static int open_listeners(struct skiffd *s, skiff_error_t **err)
{
  size_t n = 0;
  while (s->d.config.hosts[n])
    n++;
  s->listeners = calloc(n, sizeof *s->listeners);
  s->servers = calloc(n, sizeof *s->servers);
  if (s->listeners == NULL || s->servers == NULL)
    return skiff_error_set(err, ENOMEM, "listeners");
  for (size_t i = 0; i < n; i++) {
    if (listener_open(s->d.config.hosts[i], &s->listeners[i], err) < 0)
      return skiff_error_wrap(err, "-H %s", s->d.config.hosts[i]);
    s->n_listeners = i + 1;
  }
  return 0;
}

static int start_servers(struct skiffd *s, skiff_error_t **err)
{
  const struct config_tls *t = &s->opts.tls;
  cleanup_free char *cert = NULL, *key = NULL, *ca = NULL;
  bool any_tcp = false;
  for (size_t i = 0; i < s->n_listeners; i++)
    any_tcp |= s->listeners[i].tcp;
  if (any_tcp && t->enabled &&
      (!(cert = read_pem("tlscert", t->cert, err)) ||
       !(key = read_pem("tlskey", t->key, err)) ||
       (t->verify && !(ca = read_pem("tlscacert", t->cacert, err)))))
    return -1;
  struct http_tls_pem pem = {cert, key, ca};
  for (size_t i = 0; i < s->n_listeners; i++) {
    struct listener *l = &s->listeners[i];
    bool tls = l->tcp && t->enabled;
    s->servers[i] = http_server_start(&s->d, steal_fd(&l->fd), tls ? &pem : NULL, err);
    if (s->servers[i] == NULL)
      return skiff_error_wrap(err, "serve %s", l->host);
    const char *mode = !tls ? ""
                       : ca ? " (TLS, client certificates verified)"
                            : " (TLS)";
    log_info("API listening on %s%s", l->host, mode);
  }
  return 0;
}

static char *sibling_binary(const char *name)
{
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return strdup(name);
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash)
    *slash = '\0';
  char *path = NULL;
  return asprintf(&path, "%s/%s", self, name) < 0 ? NULL : path;
}

static int open_stores(struct skiffd *s, skiff_error_t **err)
{
  s->d.events = events_new();
  s->shim_path = sibling_binary("skiff-shim");
  s->d.shim_path = s->shim_path;
  if (s->d.events == NULL || s->shim_path == NULL)
    return skiff_error_set(err, ENOMEM, "daemon state");
  /* One copy for all shims: each starts protected (CVE-2019-5736) without
   * copying and re-executing itself, and they share its pages. */
  s->d.shim_fd = runtime_sealed_copy(s->shim_path, "skiff-shim", err);
  if (s->d.shim_fd < 0)
    return -1;
  s->d.networks = networks_open(s->d.config.data_root, err);
  if (s->d.networks == NULL)
    return skiff_error_wrap(err, "open the networks in %s", s->d.config.data_root);
  s->d.images = image_store_open(s->d.config.data_root, err);
  if (s->d.images == NULL)
    return skiff_error_wrap(err, "open the image store in %s", s->d.config.data_root);
  s->d.containers = containers_open(&s->d, err);
  if (s->d.containers == NULL)
    return skiff_error_wrap(err, "open the containers in %s", s->d.config.data_root);
  s->d.execs = execs_open(&s->d);
  if (s->d.execs == NULL)
    return skiff_error_set(err, ENOMEM, "daemon state");
  return 0;
}

static int start(struct skiffd *s, skiff_error_t **err)
{
  if (check_tcp_policy(s, err) < 0 || lock_data_root(s, err) < 0 ||
      fs_mkdir_p(s->d.config.exec_root, 0700, err) < 0 || write_pidfile(s, err) < 0 ||
      open_stores(s, err) < 0 || open_listeners(s, err) < 0 ||
      start_servers(s, err) < 0)
    return -1;
  log_info("skiffd %s started (data root %s, exec root %s)", SKIFF_VERSION,
           s->d.config.data_root, s->d.config.exec_root);
  return 0;
}

/* ---------------------------------------------------------------- shutdown */

/* SIGHUP, as dockerd: read daemon.json again and apply what can change
 * while running (here: debug), then publish docker's "daemon reload"
 * event. Settings that need a restart (roots, hosts) are left alone. */
static void reload_config(struct skiffd *s)
{
  skiff_error_t *err = NULL;
  const char *path = s->opts.config_file;
  json_t *file =
      access(path, F_OK) == 0 ? jsonutil_load_file(path, &err) : json_object();
  bool debug = s->d.config.debug;
  if (file == NULL || jsonutil_opt_bool(file, "debug", &debug, path, &err) < 0) {
    log_error("reload: %s; keeping the running configuration", err ? err->msg : path);
    skiff_error_free(&err);
    json_decref(file);
    return;
  }
  s->d.config.debug = debug;
  log_open(NULL, false, debug);
  json_decref(file);
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  cleanup_free char *id = system_engine_id(s->d.config.data_root);
  events_publish(s->d.events, "daemon", "reload", id,
                 json_pack("{s:s, s:s, s:s}", "name", host, "debug",
                           debug ? "true" : "false", "config-file", path));
  log_info("configuration reloaded from %s (debug %s)", path, debug ? "on" : "off");
}

static int wait_for_stop_signal(struct skiffd *s, const sigset_t *set)
{
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(set, &info);
    if (sig < 0 && errno == EINTR)
      continue;
    if (sig == SIGHUP) {
      reload_config(s);
      continue;
    }
    log_info("%s received: shutting down (containers keep running)", strsignal(sig));
    return sig;
  }
}

struct stopper {
  struct skiffd *s;
  pthread_mutex_t lock;
  pthread_cond_t done_cond;
  bool done;
};

static void *stop_servers_main(void *arg)
{
  struct stopper *st = arg;
  for (size_t i = 0; i < st->s->n_listeners; i++) {
    http_server_stop(st->s->servers[i]);
    st->s->servers[i] = NULL;
  }
  pthread_mutex_lock(&st->lock);
  st->done = true;
  pthread_cond_signal(&st->done_cond);
  pthread_mutex_unlock(&st->lock);
  return NULL;
}

/* Close the connections, giving them SHUTDOWN_GRACE_SECONDS; true when
 * every connection and handler ended (so the stores may be closed). */
static bool stop_servers(struct skiffd *s)
{
  static struct stopper st = {.lock = PTHREAD_MUTEX_INITIALIZER,
                              .done_cond = PTHREAD_COND_INITIALIZER};
  st.s = s;
  pthread_t thread;
  if (pthread_create(&thread, NULL, stop_servers_main, &st) != 0)
    return false;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += SHUTDOWN_GRACE_SECONDS;
  pthread_mutex_lock(&st.lock);
  while (!st.done && pthread_cond_timedwait(&st.done_cond, &st.lock, &deadline) == 0)
    ;
  bool done = st.done;
  pthread_mutex_unlock(&st.lock);
  if (!done) {
    log_warn("connections still open after %d s; exiting without them",
             SHUTDOWN_GRACE_SECONDS);
    pthread_detach(thread);
    return false;
  }
  pthread_join(thread, NULL);
  log_debug("connections closed; waiting for %u handlers", http_handlers_running());
  while (http_handlers_running() > 0 && time(NULL) < deadline.tv_sec)
    usleep(20000);
  unsigned left = http_handlers_running();
  if (left)
    log_warn("%u API handlers still running after %d s; exiting without them", left,
             SHUTDOWN_GRACE_SECONDS);
  return left == 0;
}

static void shutdown_daemon(struct skiffd *s)
{
  for (size_t i = 0; i < s->n_listeners; i++)
    if (s->servers[i])
      http_server_quiesce(s->servers[i]);
  for (size_t i = 0; i < s->n_listeners; i++)
    listener_close(&s->listeners[i]);
  if (s->d.events)
    events_close(s->d.events);
  execs_shutdown(s->d.execs);
  if (stop_servers(s)) {
    if (s->d.containers)
      containers_close(s->d.containers);
    if (s->d.images)
      image_store_close(s->d.images);
    events_free(s->d.events);
    networks_free(s->d.networks);
  }
  if (s->wrote_pidfile)
    unlink(s->d.config.pidfile);
  if (s->lock_fd >= 0)
    close(s->lock_fd);
  if (s->d.shim_fd >= 0)
    close(s->d.shim_fd);
  free(s->listeners);
  free(s->servers);
  free(s->shim_path);
}

/* ---------------------------------------------------------------- main */

static int block_signals(sigset_t *set)
{
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGHUP);
  /* Blocked before any thread starts, so that every thread inherits the
   * mask and only sigwaitinfo in main sees them. */
  signal(SIGPIPE, SIG_IGN);
  return pthread_sigmask(SIG_BLOCK, set, NULL);
}

static int run(struct skiffd *s, skiff_error_t **err)
{
  sigset_t set;
  if (block_signals(&set) != 0)
    return skiff_error_set(err, errno, "block signals");
  int ret = start(s, err);
  if (ret == 0)
    wait_for_stop_signal(s, &set);
  shutdown_daemon(s);
  return ret;
}

int main(int argc, char **argv)
{
  struct skiffd s = {.lock_fd = -1, .d.shim_fd = -1};
  skiff_error_t *err = NULL;
  int status = 0;
  if (config_load(argc, argv, &s.d.config, &s.opts, &err) < 0) {
    fprintf(stderr, "skiffd: %s\n", err && err->msg ? err->msg : "invalid arguments");
    if (s.opts.usage_error)
      fprintf(stderr, "See 'skiffd --help'.\n");
    status = 1;
  } else if (s.opts.show_help) {
    fputs(config_usage(), stdout);
  } else if (s.opts.show_version) {
    printf("skiffd version %s\n", SKIFF_VERSION);
  } else {
    log_open(NULL, false, s.d.config.debug);
    if (run(&s, &err) < 0) {
      log_error("%s", err && err->msg ? err->msg : "failed to start");
      status = 1;
    }
  }
  skiff_error_free(&err);
  config_free(&s.d.config, &s.opts);
  return status;
}
