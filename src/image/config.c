/* Image configs: the config of an imported image, and the Dockerfile
 * instructions of `docker import --change` / `docker commit --change`
 * applied to a container config, with docker's parsing:
 *   CMD/ENTRYPOINT  JSON array (exec form) or text (["/bin/sh","-c",text])
 *   ENV/LABEL       k=v pairs with quotes, escapes and $VAR expansion, or
 *                   the legacy "ENV key the rest"
 *   EXPOSE          80 80/udp 8000-8002/tcp      VOLUME  JSON array or words
 *   USER, WORKDIR (relative to the previous one), STOPSIGNAL, ONBUILD
 *   HEALTHCHECK     NONE | [--interval=D --timeout=D --start-period=D
 *                   --start-interval=D --retries=N] CMD ... */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "common/proc.h"
#include "image_internal.h"

/* ---- words: quotes, escapes and $VAR as docker's shell lexer ---- */

struct buf {
  char *data;
  size_t len, cap;
};

static int buf_putc(struct buf *b, char c)
{
  if (b->len + 2 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    char *grown = realloc(b->data, cap);
    if (grown == NULL)
      return -1;
    b->data = grown;
    b->cap = cap;
  }
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
  return 0;
}

static int buf_puts(struct buf *b, const char *s)
{
  for (; s && *s; s++)
    if (buf_putc(b, *s) < 0)
      return -1;
  return 0;
}

static const char *env_lookup(json_t *env, const char *name, size_t n)
{
  size_t i;
  json_t *v;
  json_array_foreach(env, i, v)
  {
    const char *kv = json_string_value(v);
    if (kv && strncmp(kv, name, n) == 0 && kv[n] == '=')
      return kv + n + 1;
  }
  return NULL;
}

/* Expand $NAME, ${NAME}, ${NAME:-word}, ${NAME:+word} at *pp into b. */
static int expand_var(const char **pp, json_t *env, struct buf *b)
{
  const char *p = *pp + 1;
  bool braced = *p == '{';
  p += braced;
  const char *name = p;
  while (isalnum((unsigned char)*p) || *p == '_')
    p++;
  size_t n = (size_t)(p - name);
  if (n == 0) {
    *pp += 1;
    return buf_putc(b, '$');
  }
  const char *value = env_lookup(env, name, n);
  if (braced && p[0] == ':' && (p[1] == '-' || p[1] == '+')) {
    const char *word = p + 2, *end = strchr(word, '}');
    if (end == NULL)
      return -1;
    cleanup_free char *w = strndup(word, (size_t)(end - word));
    bool set = value && *value;
    value = p[1] == '-' ? (set ? value : w) : (set ? w : "");
    int r = buf_puts(b, value);
    *pp = end + 1;
    return r;
  }
  if (braced && *p++ != '}')
    return -1;
  *pp = p;
  return buf_puts(b, value);
}

/* Split text into words (split) or process it as one word, removing quotes
 * and escapes and expanding variables from env (NULL: no expansion).
 * Returns a new array of strings, NULL on a syntax error. */
static json_t *lex_words(const char *text, json_t *env, bool split)
{
  json_t *words = json_array();
  struct buf b = {0};
  bool in_word = false;
  char quote = 0;
  for (const char *p = text; *p;) {
    if (!quote && split && isspace((unsigned char)*p)) {
      if (in_word)
        json_array_append_new(words, json_string(b.data ? b.data : ""));
      b.len = 0, in_word = false, p++;
      continue;
    }
    in_word = true;
    if (!quote && (*p == '"' || *p == '\'')) {
      quote = *p++;
      if (b.data == NULL)
        buf_puts(&b, "");
      continue;
    }
    if (quote && *p == quote) {
      quote = 0, p++;
      continue;
    }
    if (*p == '\\' && quote != '\'' && p[1]) {
      buf_putc(&b, p[1]);
      p += 2;
      continue;
    }
    if (*p == '$' && quote != '\'' && env) {
      if (expand_var(&p, env, &b) < 0)
        goto fail;
      if (b.data == NULL)
        buf_puts(&b, "");
      continue;
    }
    buf_putc(&b, *p++);
  }
  if (quote)
    goto fail;
  if (in_word || !split)
    json_array_append_new(words, json_string(b.data ? b.data : ""));
  free(b.data);
  return words;
fail:
  free(b.data);
  json_decref(words);
  return NULL;
}

/* ---- instructions ---- */

static json_t *exec_or_shell(const char *rest)
{
  json_t *arr = json_loads(rest, JSON_DECODE_ANY, NULL);
  size_t i;
  json_t *v;
  bool strings = json_is_array(arr);
  json_array_foreach(arr, i, v) strings &= json_is_string(v);
  if (strings)
    return arr;
  json_decref(arr);
  return json_pack("[s,s,s]", "/bin/sh", "-c", rest);
}

static void env_set(json_t *cfg, const char *key, const char *value)
{
  json_t *env = json_object_get(cfg, "Env");
  if (!json_is_array(env)) {
    env = json_array();
    json_object_set_new(cfg, "Env", env);
  }
  size_t i, n = strlen(key);
  json_t *v;
  json_t *kv = json_sprintf("%s=%s", key, value);
  json_array_foreach(env, i, v)
  {
    const char *s = json_string_value(v);
    if (s && strncmp(s, key, n) == 0 && s[n] == '=') {
      json_array_set_new(env, i, kv);
      return;
    }
  }
  json_array_append_new(env, kv);
}

static void map_set(json_t *cfg, const char *field, const char *key, json_t *value)
{
  json_t *map = json_object_get(cfg, field);
  if (!json_is_object(map)) {
    map = json_object();
    json_object_set_new(cfg, field, map);
  }
  json_object_set_new(map, key, value);
}

/* ENV and LABEL: key=value words, or the legacy "key value". */
static int name_values(json_t *cfg, const char *inst, const char *rest, bool is_env,
                       skiff_error_t **err)
{
  json_t *env = json_object_get(cfg, "Env");
  cleanup_json json_t *words = lex_words(rest, env, true);
  if (words == NULL || json_array_size(words) == 0)
    return skiff_error_invalid(err, "%s requires at least one argument", inst);
  const char *first = json_string_value(json_array_get(words, 0));
  if (strchr(first, '=') == NULL) {
    const char *value = rest + strcspn(rest, " \t");
    value += strspn(value, " \t");
    cleanup_json json_t *v = lex_words(value, env, false);
    if (*value == '\0' || v == NULL)
      return skiff_error_invalid(err, "%s must have two arguments", inst);
    const char *val = json_string_value(json_array_get(v, 0));
    is_env ? env_set(cfg, first, val) : map_set(cfg, "Labels", first, json_string(val));
    return 0;
  }
  size_t i;
  json_t *w;
  json_array_foreach(words, i, w)
  {
    const char *kv = json_string_value(w), *eq = strchr(kv, '=');
    if (eq == NULL)
      return skiff_error_invalid(err,
                                 "Syntax error - can't find = in \"%s\". Must be of "
                                 "the form: name=value",
                                 kv);
    if (eq == kv)
      return skiff_error_invalid(err, "%s names can not be blank", inst);
    cleanup_free char *key = strndup(kv, (size_t)(eq - kv));
    is_env ? env_set(cfg, key, eq + 1)
           : map_set(cfg, "Labels", key, json_string(eq + 1));
  }
  return 0;
}

static bool parse_port(const char *s, long *out, const char **end)
{
  char *e;
  errno = 0;
  long v = strtol(s, &e, 10);
  if (e == s || errno || v < 1 || v > 65535)
    return false;
  *out = v;
  *end = e;
  return true;
}

static int expose_one(json_t *cfg, const char *spec, skiff_error_t **err)
{
  const char *slash = strchr(spec, '/');
  const char *proto = slash ? slash + 1 : "tcp";
  long lo, hi;
  const char *end;
  if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
      strcmp(proto, "sctp") != 0)
    return skiff_error_invalid(err, "invalid proto: %s", proto);
  if (!parse_port(spec, &lo, &end))
    return skiff_error_invalid(err, "invalid containerPort: %s", spec);
  hi = lo;
  if (*end == '-' && (!parse_port(end + 1, &hi, &end) || hi < lo))
    return skiff_error_invalid(err, "invalid containerPort: %s", spec);
  if (end != (slash ? slash : spec + strlen(spec)))
    return skiff_error_invalid(err, "invalid containerPort: %s", spec);
  for (long p = lo; p <= hi; p++) {
    char key[32];
    snprintf(key, sizeof key, "%ld/%s", p, proto);
    map_set(cfg, "ExposedPorts", key, json_object());
  }
  return 0;
}

static int cmd_expose(json_t *cfg, const char *rest, skiff_error_t **err)
{
  cleanup_json json_t *words = lex_words(rest, json_object_get(cfg, "Env"), true);
  if (words == NULL || json_array_size(words) == 0)
    return skiff_error_invalid(err, "EXPOSE requires at least one argument");
  size_t i;
  json_t *w;
  json_array_foreach(words, i, w)
  {
    if (expose_one(cfg, json_string_value(w), err) < 0)
      return -1;
  }
  return 0;
}

static int cmd_volume(json_t *cfg, const char *rest, skiff_error_t **err)
{
  cleanup_json json_t *list = json_loads(rest, JSON_DECODE_ANY, NULL);
  if (!json_is_array(list)) {
    json_decref(list);
    list = lex_words(rest, json_object_get(cfg, "Env"), true);
  }
  if (list == NULL || json_array_size(list) == 0)
    return skiff_error_invalid(err, "VOLUME requires at least one argument");
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v)
  {
    const char *path = json_string_value(v);
    if (path == NULL || *path == '\0')
      return skiff_error_invalid(err, "VOLUME specified can not be an empty string");
    map_set(cfg, "Volumes", path, json_object());
  }
  return 0;
}

/* Lexically clean an absolute path ("/a/./b/../c/" -> "/a/c"). */
static char *clean_abs(const char *path)
{
  char *out = malloc(strlen(path) + 2);
  if (out == NULL)
    return NULL;
  size_t len = 0;
  for (const char *p = path; *p;) {
    size_t n = strcspn(p, "/");
    if (n == 2 && strncmp(p, "..", 2) == 0) {
      while (len > 0 && out[--len] != '/')
        ;
    } else if (n > 0 && !(n == 1 && *p == '.')) {
      out[len++] = '/';
      memcpy(out + len, p, n);
      len += n;
    }
    p += n + (p[n] == '/');
  }
  if (len == 0)
    out[len++] = '/';
  out[len] = '\0';
  return out;
}

static int cmd_workdir(json_t *cfg, const char *rest, skiff_error_t **err)
{
  cleanup_json json_t *w = lex_words(rest, json_object_get(cfg, "Env"), false);
  const char *dir = json_string_value(json_array_get(w, 0));
  if (dir == NULL || *dir == '\0')
    return skiff_error_invalid(err, "WORKDIR requires exactly one argument");
  const char *prev = json_string_value(json_object_get(cfg, "WorkingDir"));
  cleanup_free char *joined = NULL;
  if (asprintf(&joined, "%s/%s", dir[0] == '/' ? "" : (prev ? prev : ""), dir) < 0)
    return skiff_error_set(err, ENOMEM, "WORKDIR");
  cleanup_free char *clean = clean_abs(joined);
  json_object_set_new(cfg, "WorkingDir", json_string(clean));
  return 0;
}

static int cmd_onbuild(json_t *cfg, const char *rest, skiff_error_t **err)
{
  size_t n = strcspn(rest, " \t");
  if (n == 0)
    return skiff_error_invalid(err, "ONBUILD requires at least one argument");
  if (strncasecmp(rest, "ONBUILD", n) == 0 && n == 7)
    return skiff_error_invalid(err,
                               "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if ((n == 4 && strncasecmp(rest, "FROM", 4) == 0) ||
      (n == 10 && strncasecmp(rest, "MAINTAINER", 10) == 0))
    return skiff_error_invalid(err, "%.*s isn't allowed as an ONBUILD trigger", (int)n,
                               rest);
  json_t *list = json_object_get(cfg, "OnBuild");
  if (!json_is_array(list)) {
    list = json_array();
    json_object_set_new(cfg, "OnBuild", list);
  }
  json_array_append_new(list, json_string(rest));
  return 0;
}

static int cmd_stopsignal(json_t *cfg, const char *rest, skiff_error_t **err)
{
  if (proc_parse_signal(rest) < 0)
    return skiff_error_invalid(err, "Invalid signal: %s", rest);
  json_object_set_new(cfg, "StopSignal", json_string(rest));
  return 0;
}

/* A Go duration ("1m30s", "500ms") in nanoseconds; -1 when malformed. */
static long long parse_duration(const char *s)
{
  static const struct {
    const char *unit;
    long long ns;
  } units[] = {{"ns", 1},           {"us", 1000},         {"ms", 1000000},
               {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL}};
  long long total = 0;
  if (*s == '\0')
    return -1;
  while (*s) {
    char *end;
    double v = strtod(s, &end);
    if (end == s)
      return -1;
    size_t n = strspn(end, "nsuµmh");
    long long mult = -1;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
      if (strlen(units[i].unit) == n && strncmp(end, units[i].unit, n) == 0)
        mult = units[i].ns;
    if (mult < 0)
      return -1;
    total += (long long)(v * (double)mult);
    s = end + n;
  }
  return total;
}

static int health_option(json_t *hc, const char *opt, skiff_error_t **err)
{
  static const char *const names[][2] = {{"interval", "Interval"},
                                         {"timeout", "Timeout"},
                                         {"start-period", "StartPeriod"},
                                         {"start-interval", "StartInterval"}};
  const char *eq = strchr(opt, '=');
  if (strncmp(opt, "--", 2) != 0 || eq == NULL)
    return skiff_error_invalid(err, "HEALTHCHECK: bad option %s", opt);
  size_t n = (size_t)(eq - opt - 2);
  if (n == 7 && strncmp(opt + 2, "retries", 7) == 0) {
    char *end;
    long v = strtol(eq + 1, &end, 10);
    if (*end || v < 0)
      return skiff_error_invalid(err, "HEALTHCHECK: bad retries %s", eq + 1);
    return json_object_set_new(hc, "Retries", json_integer(v));
  }
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    if (strlen(names[i][0]) != n || strncmp(opt + 2, names[i][0], n) != 0)
      continue;
    long long d = parse_duration(eq + 1);
    if (d < 0)
      return skiff_error_invalid(err, "HEALTHCHECK: bad duration %s", eq + 1);
    return json_object_set_new(hc, names[i][1], json_integer(d));
  }
  return skiff_error_invalid(err, "HEALTHCHECK: unknown flag: %.*s", (int)n, opt + 2);
}

static int cmd_healthcheck(json_t *cfg, const char *rest, skiff_error_t **err)
{
  if (strcasecmp(rest, "NONE") == 0) {
    json_object_set_new(cfg, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
    return 0;
  }
  cleanup_json json_t *hc = json_object();
  const char *p = rest;
  while (strncmp(p, "--", 2) == 0) {
    size_t n = strcspn(p, " \t");
    cleanup_free char *opt = strndup(p, n);
    if (health_option(hc, opt, err) < 0)
      return -1;
    p += n;
    p += strspn(p, " \t");
  }
  if (strncasecmp(p, "CMD", 3) != 0 || (p[3] && !isspace((unsigned char)p[3])))
    return skiff_error_invalid(err, "Unknown type \"%.*s\" in HEALTHCHECK (try CMD)",
                               (int)strcspn(p, " \t"), p);
  p += 3 + strspn(p + 3, " \t");
  cleanup_json json_t *exec = json_loads(p, JSON_DECODE_ANY, NULL);
  cleanup_json json_t *cmd = exec_or_shell(p);
  json_t *test = json_array();
  if (json_is_array(exec)) {
    json_array_append_new(test, json_string("CMD"));
    json_array_extend(test, cmd);
  } else {
    json_array_append_new(test, json_string("CMD-SHELL"));
    json_array_append_new(test, json_string(p));
  }
  json_object_set_new(hc, "Test", test);
  json_object_set(cfg, "Healthcheck", hc);
  return 0;
}

static int apply_one(json_t *cfg, const char *line, skiff_error_t **err)
{
  const char *p = line + strspn(line, " \t");
  size_t n = strcspn(p, " \t");
  char inst[16];
  if (n == 0)
    return 0;
  snprintf(inst, sizeof inst, "%.*s", (int)(n < sizeof inst ? n : sizeof inst - 1), p);
  for (char *c = inst; *c; c++)
    *c = (char)tolower((unsigned char)*c);
  cleanup_free char *rest = strdup(p + n + strspn(p + n, " \t"));
  size_t len = strlen(rest);
  while (len > 0 && isspace((unsigned char)rest[len - 1]))
    rest[--len] = '\0';
  if (strcmp(inst, "cmd") == 0 || strcmp(inst, "entrypoint") == 0)
    return json_object_set_new(cfg, inst[0] == 'c' ? "Cmd" : "Entrypoint",
                               exec_or_shell(rest));
  if (strcmp(inst, "env") == 0 || strcmp(inst, "label") == 0)
    return name_values(cfg, inst[0] == 'e' ? "ENV" : "LABEL", rest, inst[0] == 'e',
                       err);
  if (strcmp(inst, "expose") == 0)
    return cmd_expose(cfg, rest, err);
  if (strcmp(inst, "volume") == 0)
    return cmd_volume(cfg, rest, err);
  if (strcmp(inst, "workdir") == 0)
    return cmd_workdir(cfg, rest, err);
  if (strcmp(inst, "onbuild") == 0)
    return cmd_onbuild(cfg, rest, err);
  if (strcmp(inst, "stopsignal") == 0)
    return cmd_stopsignal(cfg, rest, err);
  if (strcmp(inst, "healthcheck") == 0)
    return cmd_healthcheck(cfg, rest, err);
  if (strcmp(inst, "user") == 0) {
    if (*rest == '\0')
      return skiff_error_invalid(err, "USER requires exactly one argument");
    return json_object_set_new(cfg, "User", json_string(rest));
  }
  return skiff_error_invalid(err, "%.*s is not a valid change command", (int)n, inst);
}

int config_apply_changes(json_t *container_config, const char *const *changes,
                         skiff_error_t **err)
{
  for (size_t i = 0; changes && changes[i]; i++)
    if (apply_one(container_config, changes[i], err) < 0)
      return -1;
  return 0;
}

/* docker's container.Config with its zero values, in Go's field order. */
static json_t *empty_container_config(void)
{
  return json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:n, s:n, s:s, s:n, "
                   "s:s, s:n, s:n, s:n}",
                   "Hostname", "", "Domainname", "", "User", "", "AttachStdin", 0,
                   "AttachStdout", 0, "AttachStderr", 0, "Tty", 0, "OpenStdin", 0,
                   "StdinOnce", 0, "Env", "Cmd", "Image", "", "Volumes", "WorkingDir",
                   "", "Entrypoint", "OnBuild", "Labels");
}

/* Put ExposedPorts after AttachStderr and Healthcheck after Cmd, as Go
 * marshals container.Config; other keys keep their places. */
static json_t *go_order(json_t *cfg)
{
  json_t *out = json_object();
  const char *key;
  json_t *v;
  json_object_foreach(cfg, key, v)
  {
    if (strcmp(key, "ExposedPorts") == 0 || strcmp(key, "Healthcheck") == 0)
      continue;
    json_object_set(out, key, v);
    if (strcmp(key, "AttachStderr") == 0 && json_object_get(cfg, "ExposedPorts"))
      json_object_set(out, "ExposedPorts", json_object_get(cfg, "ExposedPorts"));
    if (strcmp(key, "Cmd") == 0 && json_object_get(cfg, "Healthcheck"))
      json_object_set(out, "Healthcheck", json_object_get(cfg, "Healthcheck"));
  }
  return out;
}

int config_check_changes(const char *const *changes, skiff_error_t **err)
{
  cleanup_json json_t *cfg = empty_container_config();
  return config_apply_changes(cfg, changes, err);
}

const char *config_host_arch(void)
{
  static const char *const map[][2] = {{"x86_64", "amd64"}, {"aarch64", "arm64"},
                                       {"i686", "386"},     {"i386", "386"},
                                       {"armv7l", "arm"},   {"ppc64le", "ppc64le"},
                                       {"s390x", "s390x"},  {"riscv64", "riscv64"}};
  static char machine[65];
  struct utsname u;
  if (uname(&u) < 0)
    return "amd64";
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (strcmp(u.machine, map[i][0]) == 0)
      return map[i][1];
  snprintf(machine, sizeof machine, "%s", u.machine);
  return machine;
}

json_t *config_new_import(const char *diff_id, const char *const *changes,
                          const char *message, skiff_error_t **err)
{
  cleanup_json json_t *cfg = empty_container_config();
  if (config_apply_changes(cfg, changes, err) < 0)
    return NULL;
  cleanup_free char *now = store_now_rfc3339();
  const char *comment = message && *message ? message : "Imported from -";
  /* Top-level keys sorted, as docker writes image configs. */
  json_t *config = json_pack(
      "{s:s, s:s, s:o, s:s, s:[{s:s, s:s}], s:s, s:{s:s, s:[s]}}", "architecture",
      config_host_arch(), "comment", comment, "config", go_order(cfg), "created", now,
      "history", "created", now, "comment", comment, "os", "linux", "rootfs", "type",
      "layers", "diff_ids", diff_id);
  if (config == NULL)
    skiff_error_set(err, ENOMEM, "image config");
  return config;
}

int config_diff_ids(json_t *config, char ***out, size_t *n, skiff_error_t **err)
{
  json_t *ids = NULL;
  json_t *rootfs = json_object_get(config, "rootfs");
  if (!json_is_object(rootfs) ||
      !json_is_array(ids = json_object_get(rootfs, "diff_ids")))
    return skiff_error_invalid(err, "image config: rootfs.diff_ids missing");
  size_t count = json_array_size(ids), i;
  cleanup_strv char **v = calloc(count + 1, sizeof(char *));
  if (v == NULL)
    return skiff_error_set(err, ENOMEM, "image config");
  json_t *id;
  json_array_foreach(ids, i, id)
  {
    if (!digest_valid(json_string_value(id)))
      return skiff_error_invalid(err,
                                 "image config: rootfs.diff_ids[%zu] is not a sha256 "
                                 "digest",
                                 i);
    if ((v[i] = strdup(json_string_value(id))) == NULL)
      return skiff_error_set(err, ENOMEM, "image config");
  }
  *out = steal_pointer(&v);
  *n = count;
  return 0;
}
