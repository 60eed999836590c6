/* skiffd's command line and daemon.json; see config.h. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"

/* The command line before merging: NULL/false means "not given", so that a
 * setting present in both places can be reported as dockerd does. */
struct flags {
  const char *data_root, *exec_root, *pidfile, *config_file;
  const char *tlscacert, *tlscert, *tlskey;
  char **hosts;
  size_t n_hosts;
  bool debug, tls, tlsverify;
};

static const char usage_text[] =
    "Usage: skiffd [OPTIONS]\n\n"
    "A container engine serving the Docker Engine API.\n\n"
    "Options:\n"
    "      --config-file FILE   daemon configuration file (default " CONFIG_DEFAULT_FILE
    ")\n"
    "      --data-root DIR      persistent state (default " CONFIG_DEFAULT_DATA_ROOT
    ")\n"
    "      --exec-root DIR      runtime state (default " CONFIG_DEFAULT_EXEC_ROOT ")\n"
    "  -p, --pidfile FILE       pid file (default <exec-root>/skiffd.pid)\n"
    "  -H, --host HOST          socket(s) to listen on: unix:///path or "
    "tcp://addr:port\n"
    "                           (default unix://<exec-root>/skiff.sock)\n"
    "  -D, --debug              debug output\n"
    "      --tls                serve tcp:// with TLS (--tlscert, --tlskey)\n"
    "      --tlsverify          TLS and require client certificates signed by "
    "--tlscacert\n"
    "      --tlscacert FILE     CA that signs client certificates\n"
    "      --tlscert FILE       server certificate\n"
    "      --tlskey FILE        server key\n"
    "      --insecure-tcp       allow tcp:// without TLS (anyone who can connect is "
    "root)\n"
    "  -v, --version            print the version\n"
    "  -h, --help               this help\n";

const char *config_usage(void)
{
  return usage_text;
}

static int add_host(struct flags *f, const char *host, skiff_error_t **err)
{
  char **grown = realloc(f->hosts, (f->n_hosts + 2) * sizeof(char *));
  if (grown == NULL)
    return skiff_error_set(err, ENOMEM, "-H %s", host);
  f->hosts = grown;
  f->hosts[f->n_hosts++] = (char *)host;
  f->hosts[f->n_hosts] = NULL;
  return 0;
}

static int parse_flags(int argc, char **argv, struct flags *f,
                       struct config_options *opts, skiff_error_t **err)
{
  enum {
    O_DATA = 256,
    O_EXEC,
    O_CONFIG,
    O_TLS,
    O_TLSVERIFY,
    O_CA,
    O_CERT,
    O_KEY,
    O_INSECURE
  };
  static const struct option options[] = {
      {"data-root", required_argument, NULL, O_DATA},
      {"exec-root", required_argument, NULL, O_EXEC},
      {"config-file", required_argument, NULL, O_CONFIG},
      {"pidfile", required_argument, NULL, 'p'},
      {"host", required_argument, NULL, 'H'},
      {"debug", no_argument, NULL, 'D'},
      {"tls", no_argument, NULL, O_TLS},
      {"tlsverify", no_argument, NULL, O_TLSVERIFY},
      {"tlscacert", required_argument, NULL, O_CA},
      {"tlscert", required_argument, NULL, O_CERT},
      {"tlskey", required_argument, NULL, O_KEY},
      {"insecure-tcp", no_argument, NULL, O_INSECURE},
      {"version", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {0, 0, 0, 0},
  };
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":p:H:Dvh", options, NULL)) != -1) {
    switch (c) {
    case O_DATA: f->data_root = optarg; break;
    case O_EXEC: f->exec_root = optarg; break;
    case O_CONFIG: f->config_file = optarg; break;
    case 'p': f->pidfile = optarg; break;
    case 'H':
      if (add_host(f, optarg, err) < 0)
        return -1;
      break;
    case 'D': f->debug = true; break;
    case O_TLS: f->tls = true; break;
    case O_TLSVERIFY: f->tlsverify = true; break;
    case O_CA: f->tlscacert = optarg; break;
    case O_CERT: f->tlscert = optarg; break;
    case O_KEY: f->tlskey = optarg; break;
    case O_INSECURE: opts->insecure_tcp = true; break;
    case 'v': opts->show_version = true; break;
    case 'h': opts->show_help = true; break;
    case ':':
      return skiff_error_invalid(err, "flag needs an argument: %s", argv[optind - 1]);
    default: return skiff_error_invalid(err, "unknown flag: %s", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return skiff_error_invalid(err, "skiffd takes no arguments, got \"%s\"",
                               argv[optind]);
  return 0;
}

/* Append "key: (from flag: A, from file: B)" to *conflicts. */
static void note_conflict(char **conflicts, const char *key, const char *flag,
                          const char *file)
{
  char *joined = NULL;
  if (asprintf(&joined, "%s%s%s: (from flag: %s, from file: %s)",
               *conflicts ? *conflicts : "", *conflicts ? ", " : "", key, flag,
               file) < 0)
    return;
  free(*conflicts);
  *conflicts = joined;
}

/* One string setting: the flag, else the file's key, else NULL. */
static int merge_string(const char *flag, json_t *file, const char *key, char **out,
                        char **conflicts, const char *path, skiff_error_t **err)
{
  const char *from_file = NULL;
  if (jsonutil_opt_string(file, key, &from_file, "", err) < 0)
    return skiff_error_wrap(err, "unable to configure the skiff daemon with file %s",
                            path);
  if (flag && from_file)
    note_conflict(conflicts, key, flag, from_file);
  const char *v = flag ? flag : from_file;
  if (v && (*out = strdup(v)) == NULL)
    return skiff_error_set(err, ENOMEM, "%s", key);
  return 0;
}

static int merge_bool(bool flag, json_t *file, const char *key, bool *out,
                      char **conflicts, const char *path, skiff_error_t **err)
{
  bool from_file = false;
  json_t *v = json_object_get(file, key);
  if (jsonutil_opt_bool(file, key, &from_file, "", err) < 0)
    return skiff_error_wrap(err, "unable to configure the skiff daemon with file %s",
                            path);
  if (flag && v)
    note_conflict(conflicts, key, "true", from_file ? "true" : "false");
  *out = flag || from_file;
  return 0;
}

static char *join_strv(char **v)
{
  char *s = strdup("[");
  for (size_t i = 0; s && v && v[i]; i++) {
    char *next = NULL;
    if (asprintf(&next, "%s%s%s", s, i ? " " : "", v[i]) < 0)
      next = NULL;
    free(s);
    s = next;
  }
  char *done = NULL;
  if (s && asprintf(&done, "%s]", s) < 0)
    done = NULL;
  free(s);
  return done;
}

static int merge_hosts(struct flags *f, json_t *file, struct daemon_config *cfg,
                       char **conflicts, const char *path, skiff_error_t **err)
{
  cleanup_strv char **from_file = NULL;
  if (jsonutil_opt_strv(file, "hosts", &from_file, "", err) < 0)
    return skiff_error_wrap(err, "unable to configure the skiff daemon with file %s",
                            path);
  if (f->n_hosts && from_file[0]) {
    cleanup_free char *a = join_strv(f->hosts);
    cleanup_free char *b = join_strv(from_file);
    note_conflict(conflicts, "hosts", a ? a : "?", b ? b : "?");
  }
  if (f->n_hosts == 0) {
    cfg->hosts = steal_pointer(&from_file);
    return 0;
  }
  cfg->hosts = calloc(f->n_hosts + 1, sizeof(char *));
  if (cfg->hosts == NULL)
    return skiff_error_set(err, ENOMEM, "hosts");
  for (size_t i = 0; i < f->n_hosts; i++)
    if ((cfg->hosts[i] = strdup(f->hosts[i])) == NULL)
      return skiff_error_set(err, ENOMEM, "hosts");
  return 0;
}

static int merge_log(json_t *file, struct daemon_config *cfg, const char *path,
                     skiff_error_t **err)
{
  const char *driver = "json-file";
  json_t *opts = NULL;
  if (jsonutil_opt_string(file, "log-driver", &driver, "", err) < 0 ||
      jsonutil_opt_object(file, "log-opts", &opts, "", err) < 0)
    return skiff_error_wrap(err, "unable to configure the skiff daemon with file %s",
                            path);
  if (strcmp(driver, "json-file") != 0 && strcmp(driver, "none") != 0)
    return skiff_error_invalid(
        err,
        "unable to configure the skiff daemon with file %s: log-driver "
        "\"%s\" is not supported (json-file, none)",
        path, driver);
  cfg->log_driver = strdup(driver);
  cfg->log_opts = opts ? json_incref(opts) : json_object();
  if (cfg->log_driver == NULL || cfg->log_opts == NULL)
    return skiff_error_set(err, ENOMEM, "log-driver");
  return 0;
}

static int merge_tls(struct flags *f, json_t *file, struct config_tls *tls,
                     char **conflicts, const char *path, skiff_error_t **err)
{
  if (merge_bool(f->tls, file, "tls", &tls->enabled, conflicts, path, err) < 0 ||
      merge_bool(f->tlsverify, file, "tlsverify", &tls->verify, conflicts, path, err) <
          0 ||
      merge_string(f->tlscacert, file, "tlscacert", &tls->cacert, conflicts, path,
                   err) < 0 ||
      merge_string(f->tlscert, file, "tlscert", &tls->cert, conflicts, path, err) < 0 ||
      merge_string(f->tlskey, file, "tlskey", &tls->key, conflicts, path, err) < 0)
    return -1;
  tls->enabled = tls->enabled || tls->verify;
  return 0;
}

/* "max-concurrent-uploads" and "-downloads" are read where a push or pull
 * starts (api_registry.c); refuse a bad one at start-up, as dockerd does (0
 * is allowed: no limit). what: "uploads" or "downloads". */
static int check_transfer_limit(json_t *file, const char *what, const char *path,
                                skiff_error_t **err)
{
  char key[48];
  snprintf(key, sizeof key, "max-concurrent-%s", what);
  int64_t n = 0;
  if (jsonutil_opt_int64(file, key, &n, "", err) < 0)
    return skiff_error_wrap(err, "unable to configure the skiff daemon with file %s",
                            path);
  if (n < 0 || n > INT_MAX)
    return skiff_error_invalid(err,
                               "unable to configure the skiff daemon with file %s: "
                               "invalid max concurrent %s: %lld",
                               path, what, (long long)n);
  return 0;
}

/* The file's settings under the flags'. */
static int merge(struct flags *f, json_t *file, const char *path,
                 struct daemon_config *cfg, struct config_options *opts,
                 skiff_error_t **err)
{
  cleanup_free char *conflicts = NULL;
  if (merge_string(f->data_root, file, "data-root", &cfg->data_root, &conflicts, path,
                   err) < 0 ||
      merge_string(f->exec_root, file, "exec-root", &cfg->exec_root, &conflicts, path,
                   err) < 0 ||
      merge_string(f->pidfile, file, "pidfile", &cfg->pidfile, &conflicts, path, err) <
          0 ||
      merge_bool(f->debug, file, "debug", &cfg->debug, &conflicts, path, err) < 0 ||
      merge_hosts(f, file, cfg, &conflicts, path, err) < 0 ||
      merge_tls(f, file, &opts->tls, &conflicts, path, err) < 0 ||
      merge_log(file, cfg, path, err) < 0 ||
      check_transfer_limit(file, "uploads", path, err) < 0 ||
      check_transfer_limit(file, "downloads", path, err) < 0)
    return -1;
  if (conflicts)
    return skiff_error_invalid(
        err,
        "unable to configure the skiff daemon with file %s: the "
        "following directives are specified both as a flag and in "
        "the configuration file: %s",
        path, conflicts);
  return 0;
}

static int set_default(char **field, const char *fmt, const char *arg,
                       skiff_error_t **err)
{
  if (*field)
    return 0;
  if (asprintf(field, fmt, arg) < 0) {
    *field = NULL;
    return skiff_error_set(err, ENOMEM, "defaults");
  }
  return 0;
}

static int apply_defaults(struct daemon_config *cfg, skiff_error_t **err)
{
  if (set_default(&cfg->data_root, "%s", CONFIG_DEFAULT_DATA_ROOT, err) < 0 ||
      set_default(&cfg->exec_root, "%s", CONFIG_DEFAULT_EXEC_ROOT, err) < 0 ||
      set_default(&cfg->pidfile, "%s/skiffd.pid", cfg->exec_root, err) < 0)
    return -1;
  for (size_t i = 0; cfg->hosts && cfg->hosts[i]; i++) {
    /* "-H unix://" means the default socket, as with dockerd. */
    char *socket = NULL;
    if (strcmp(cfg->hosts[i], "unix://") != 0)
      continue;
    if (set_default(&socket, "unix://%s/skiff.sock", cfg->exec_root, err) < 0)
      return -1;
    free(cfg->hosts[i]);
    cfg->hosts[i] = socket;
  }
  if (cfg->hosts && cfg->hosts[0])
    return 0;
  free(cfg->hosts);
  cfg->hosts = calloc(2, sizeof(char *));
  if (cfg->hosts == NULL)
    return skiff_error_set(err, ENOMEM, "defaults");
  return set_default(&cfg->hosts[0], "unix://%s/skiff.sock", cfg->exec_root, err);
}

/* daemon.json: a missing default file is an empty configuration; a missing
 * file named with --config-file is an error, as with dockerd. */
static json_t *load_file(const char *path, bool explicit, skiff_error_t **err)
{
  if (!explicit && access(path, F_OK) < 0 && errno == ENOENT)
    return json_object();
  json_t *file = jsonutil_load_file(path, err);
  if (file == NULL)
    return NULL;
  if (!json_is_object(file)) {
    json_decref(file);
    skiff_error_invalid(err, "%s: expected a JSON object", path);
    return NULL;
  }
  return file;
}

int config_load(int argc, char **argv, struct daemon_config *cfg,
                struct config_options *opts, skiff_error_t **err)
{
  struct flags f = {0};
  int ret = parse_flags(argc, argv, &f, opts, err);
  opts->usage_error = ret < 0;
  if (ret == 0 && !opts->show_help && !opts->show_version) {
    const char *path = f.config_file ? f.config_file : CONFIG_DEFAULT_FILE;
    opts->config_file = strdup(path);
    cfg->file = load_file(path, f.config_file != NULL, err);
    if (opts->config_file == NULL || cfg->file == NULL)
      ret = skiff_error_wrap(err, "unable to configure the skiff daemon");
    else if (merge(&f, cfg->file, path, cfg, opts, err) < 0 ||
             apply_defaults(cfg, err) < 0)
      ret = -1;
  }
  free(f.hosts); /* the strings belong to argv */
  return ret;
}

void config_free(struct daemon_config *cfg, struct config_options *opts)
{
  free(cfg->data_root);
  free(cfg->exec_root);
  free(cfg->pidfile);
  cleanup_strv_fn(&cfg->hosts);
  free(cfg->log_driver);
  json_decref(cfg->log_opts);
  json_decref(cfg->file);
  memset(cfg, 0, sizeof *cfg);
  free(opts->config_file);
  free(opts->tls.cacert);
  free(opts->tls.cert);
  free(opts->tls.key);
  memset(opts, 0, sizeof *opts);
}
