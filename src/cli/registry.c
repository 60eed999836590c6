/* Registry commands: push, login, logout, and the credentials that pull
 * and push send to the daemon (X-Registry-Auth), from the same
 * ~/.docker/config.json that docker reads and writes ($DOCKER_CONFIG names
 * another directory): either in the file ("auths": {server: {"auth":
 * base64("user:password")}}) or, as docker does when config.json names one
 * in "credHelpers" (per registry) or "credsStore" (for all), in a
 * credential helper (credhelper.c), the file then keeping an empty entry. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "common/base64.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "configfile.h"
#include "credhelper.h"
#include "opts.h"

#define HUB_SERVER "https://index.docker.io/v1/"

/* ---- config.json ---- */

static char *config_path(void)
{
  const char *dir = getenv("DOCKER_CONFIG");
  const char *home = getenv("HOME");
  char *path = NULL;
  if (dir && *dir)
    return asprintf(&path, "%s/config.json", dir) < 0 ? NULL : path;
  return asprintf(&path, "%s/.docker/config.json", home && *home ? home : "/root") < 0
             ? NULL
             : path;
}

static json_t *config_load(const char *path)
{
  json_t *doc = access(path, F_OK) == 0 ? jsonutil_load_file(path, NULL) : NULL;
  if (!json_is_object(doc)) {
    json_decref(doc);
    doc = json_object();
  }
  return doc;
}

/* Write doc as docker writes it (configfile.h): a file that was there
 * keeps its permissions, a new one is private. */
static int config_save(const char *path, json_t *doc, skiff_error_t **err)
{
  cleanup_free char *dir = strdup(path);
  char *slash = dir ? strrchr(dir, '/') : NULL;
  if (slash)
    *slash = '\0';
  if (dir == NULL || fs_mkdir_p(dir, 0700, err) < 0)
    return skiff_error_wrap(err, "save %s", path);
  cleanup_free char *text = configfile_text(doc);
  if (text == NULL)
    return skiff_error_set(err, ENOMEM, "save %s", path);
  struct stat st;
  bool existed = stat(path, &st) == 0;
  mode_t mode = existed ? st.st_mode & 07777 : 0600;
  if (fs_write_file_atomic(path, text, strlen(text), mode, FS_WRITE_DURABLE, err) < 0)
    return -1;
  if (existed && chmod(path, mode) < 0) /* past the umask, as docker's chmod */
    return skiff_error_errno(err, "save %s", path);
  return 0;
}

/* The registry of a reference as config.json keys it: "host[:port]", or
 * Docker Hub's legacy URL. */
static char *registry_key(const char *ref)
{
  const char *slash = strchr(ref, '/');
  if (slash) {
    size_t n = (size_t)(slash - ref);
    bool host = memchr(ref, '.', n) || memchr(ref, ':', n) ||
                (n == 9 && strncmp(ref, "localhost", 9) == 0);
    if (host && !(n == 9 && strncmp(ref, "docker.io", 9) == 0) &&
        !(n == 15 && strncmp(ref, "index.docker.io", 15) == 0))
      return strndup(ref, n);
  }
  return strdup(HUB_SERVER);
}

/* A server as typed ("https://host:5000/", "host:5000") → its key. */
static char *server_key(const char *server)
{
  if (server == NULL || *server == '\0')
    return strdup(HUB_SERVER);
  const char *p = strstr(server, "://");
  p = p ? p + 3 : server;
  char *host = strndup(p, strcspn(p, "/"));
  if (host && (strcmp(host, "index.docker.io") == 0 || strcmp(host, "docker.io") == 0 ||
               strcmp(host, "registry-1.docker.io") == 0)) {
    free(host);
    return strdup(HUB_SERVER);
  }
  return host;
}

/* config.json's entry for key, trying the forms docker accepts. Borrowed. */
static json_t *find_auth(json_t *auths, const char *key)
{
  json_t *entry = json_object_get(auths, key);
  const char *k;
  json_t *v;
  json_object_foreach(entry ? NULL : auths, k, v)
  {
    cleanup_free char *norm = server_key(k);
    if (norm && strcmp(norm, key) == 0)
      return v;
  }
  return entry;
}

/* The helper docker uses for key: credHelpers[key] when present, else
 * credsStore; NULL (config.json itself) when that is unset or "". */
static const char *helper_for(json_t *doc, const char *key)
{
  json_t *per_host = json_object_get(json_object_get(doc, "credHelpers"), key);
  const char *helper = json_is_string(per_host)
                           ? json_string_value(per_host)
                           : json_string_value(json_object_get(doc, "credsStore"));
  return helper && *helper ? helper : NULL;
}

/* Put helper's credentials for key into auth (docker's AuthConfig): a
 * password, or the identity token a helper keeps under "<token>". What
 * config.json holds beside them never counts once a helper is set. */
static int auth_from_helper(json_t *auth, const char *helper, const char *key,
                            skiff_error_t **err)
{
  static const char *const secrets[] = {"auth", "username", "password",
                                        "identitytoken"};
  for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
    json_object_del(auth, secrets[i]);
  struct credhelper_creds creds = {0};
  int found = credhelper_get(helper, key, &creds, err);
  if (found <= 0)
    return found;
  if (strcmp(creds.username, CREDHELPER_TOKEN_USERNAME) == 0) {
    json_object_set_new(auth, "identitytoken", json_string(creds.secret));
  } else {
    json_object_set_new(auth, "username", json_string(creds.username));
    json_object_set_new(auth, "password", json_string(creds.secret));
  }
  credhelper_creds_clear(&creds);
  return 0;
}

char *cli_registry_auth_header(const char *ref)
{
  cleanup_free char *path = config_path();
  cleanup_free char *key = registry_key(ref);
  cleanup_json json_t *doc = path ? config_load(path) : json_object();
  json_t *entry = key ? find_auth(json_object_get(doc, "auths"), key) : NULL;
  cleanup_json json_t *auth =
      json_is_object(entry) ? json_deep_copy(entry) : json_object();
  const char *helper = key ? helper_for(doc, key) : NULL;
  skiff_error_t *err = NULL;
  /* docker goes on without credentials when the helper fails (a public
   * image still pulls); we also say why, or a private one fails unexplained. */
  if (helper && auth_from_helper(auth, helper, key, &err) < 0) {
    fflush(stdout); /* after "Using default tag", as docker shows it */
    fprintf(stderr, "WARNING: %s\n", err->msg);
    skiff_error_free(&err);
  }
  json_object_set_new(auth, "serveraddress", json_string(key ? key : ""));
  cleanup_free char *text = json_dumps(auth, JSON_COMPACT);
  cleanup_free char *b64 = text ? base64_encode(text, strlen(text), true) : NULL;
  char *header = NULL;
  if (b64 == NULL || asprintf(&header, "X-Registry-Auth: %s", b64) < 0)
    return NULL;
  return header;
}

/* ---- push ---- */

int cmd_push(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  bool all_tags = false, quiet = false, untrusted = false;
  const char *platform = NULL;
  struct opt opts[] = {
      {"all-tags", 'a', OPT_BOOL, &all_tags, NULL,
       "Push all tags of an image to the repository", NULL},
      {"disable-content-trust", 0, OPT_BOOL, &untrusted, NULL, "Skip image signing",
       NULL},
      {"platform", 0, OPT_STRING, &platform, "string",
       "Push a platform-specific manifest as a single-platform image", NULL},
      {"quiet", 'q', OPT_BOOL, &quiet, NULL, "Suppress verbose output", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] NAME[:TAG]",
                              .summary = "Upload an image to a registry",
                              .aliases = "skiff image push, skiff push",
                              .min_args = 1,
                              .max_args = 1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  const char *ref = args[0];
  const char *last = strrchr(ref, '/');
  const char *colon = strchr(last ? last : ref, ':');
  if (all_tags && colon)
    return skiff_error_invalid(err, "tag can't be used with --all-tags/-a");
  cleanup_free char *name = strndup(ref, colon ? (size_t)(colon - ref) : strlen(ref));
  const char *tag = colon ? colon + 1 : (all_tags ? "" : "latest");
  if (!colon && !all_tags && !quiet)
    printf("Using default tag: latest\n");
  cleanup_free char *q = NULL, *base = cli_path("/images/%s/push", name), *path = NULL;
  client_query_add(&q, "tag", tag);
  cleanup_free char *auth = cli_registry_auth_header(ref);
  const char *headers[] = {auth, NULL};
  if (base == NULL || asprintf(&path, "%s%s", base, q ? q : "") < 0)
    return skiff_error_errno(err, "push");
  if (progress_call_headers(cli, "POST", path, headers, -1, 0, quiet ? NULL : stdout,
                            NULL, err) < 0)
    return -1;
  if (quiet)
    printf("%s\n", ref);
  return 0;
}

/* ---- login ---- */

/* One line of stdin without its line end; with echo off on a terminal when
 * asked (a password). NULL at the end of input. */
static char *read_line(bool echo)
{
  struct termios saved, quiet;
  bool tty = !echo && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
  if (tty) {
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  if (tty)
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  if (n < 0) {
    free(line);
    return NULL;
  }
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  return line;
}

/* docker's prompt: the question on stdout, the answer trimmed of white
 * space. */
static char *prompt(const char *question, bool echo)
{
  fputs(question, stdout);
  fflush(stdout);
  char *line = read_line(echo);
  if (line == NULL)
    return NULL;
  size_t start = strspn(line, " \t\r\n\v\f"), n = strlen(line);
  while (n > start && isspace((unsigned char)line[n - 1]))
    n--;
  memmove(line, line + start, n - start);
  line[n - start] = '\0';
  return line;
}

/* docker's " Info -> " note (internal/tui), in colour on a terminal. */
static void print_note(FILE *out, const char *text)
{
  if (isatty(fileno(out)))
    fprintf(
        out,
        "\n\033[1m\033[106m\033[30mi\033[0m\033[0m \033[96mInfo \u2192 \033[0m\033[0m"
        "\033[3m%s\033[0m\n",
        text);
  else
    fprintf(out, "\n Info -> %s\n", text);
}

/* config.json's entry for a login kept in the file: the password, or
 * (when the registry gave one) an identity token in its place. */
static json_t *file_entry(const char *user, const char *password, const char *token)
{
  cleanup_free char *pair = NULL;
  if (asprintf(&pair, "%s:%s", user, token ? "" : password) < 0)
    return NULL;
  cleanup_free char *b64 = base64_encode(pair, strlen(pair), false);
  json_t *entry = json_pack("{s:s}", "auth", b64 ? b64 : "");
  if (entry && token)
    json_object_set_new(entry, "identitytoken", json_string(token));
  return entry;
}

/* Keep a login as docker does: in the helper config.json names for key,
 * the file then holding only an empty entry for it; or in the file. Like
 * docker's file store, an unchanged entry leaves the file (and the warning
 * about it) alone. */
static int save_login(const char *key, const char *user, const char *password,
                      const char *token, skiff_error_t **err)
{
  cleanup_free char *path = config_path();
  if (path == NULL)
    return skiff_error_set(err, ENOMEM, "login");
  cleanup_json json_t *doc = config_load(path);
  json_t *auths = json_object_get(doc, "auths");
  if (!json_is_object(auths)) {
    auths = json_object();
    json_object_set_new(doc, "auths", auths);
  }
  const char *helper = helper_for(doc, key);
  if (helper && credhelper_store(helper, key, token ? CREDHELPER_TOKEN_USERNAME : user,
                                 token ? token : password, err) < 0)
    return skiff_error_wrap(err, "Error saving credentials");
  json_t *entry = helper ? json_object() : file_entry(user, password, token);
  if (entry == NULL)
    return skiff_error_set(err, ENOMEM, "login");
  if (json_equal(json_object_get(auths, key), entry)) {
    json_decref(entry);
    return 0;
  }
  json_object_set_new(auths, key, entry);
  if (config_save(path, doc, err) < 0)
    return -1;
  if (helper == NULL && token == NULL)
    fprintf(stderr,
            "\nWARNING! Your credentials are stored unencrypted in '%s'.\n"
            "Configure a credential helper to remove this warning. See\n"
            "https://docs.docker.com/go/credential-store/\n\n",
            path);
  return 0;
}

/* Credentials kept for a registry. */
struct kept_login {
  char *user, *password;
};

static void kept_login_clear(struct kept_login *k)
{
  free(k->user);
  free(k->password);
  k->user = k->password = NULL;
}

/* "user:password" of a file entry's "auth" into *out. */
static void decode_file_auth(json_t *entry, struct kept_login *out)
{
  const char *auth = json_string_value(json_object_get(entry, "auth"));
  size_t len = auth ? strlen(auth) : 0;
  cleanup_free unsigned char *pair = len ? malloc(len * 3 / 4 + 4) : NULL;
  ssize_t n = pair ? base64_decode(auth, len, pair) : -1;
  if (n < 0)
    return;
  pair[n] = '\0';
  char *colon = strchr((char *)pair, ':');
  if (colon == NULL || colon == (char *)pair)
    return;
  out->user = strndup((char *)pair, (size_t)(colon - (char *)pair));
  out->password = strdup(colon + 1);
}

/* The credentials kept for key where docker's login looks for them: from
 * the helper config.json names for it, else the file's entry. An identity
 * token is no password (docker then asks, offering the user name), and a
 * helper that fails counts as having none, as with docker. */
static void kept_login_load(const char *key, struct kept_login *out)
{
  cleanup_free char *path = config_path();
  cleanup_json json_t *doc = path ? config_load(path) : json_object();
  const char *helper = helper_for(doc, key);
  if (helper == NULL) {
    decode_file_auth(find_auth(json_object_get(doc, "auths"), key), out);
    return;
  }
  struct credhelper_creds creds = {0};
  if (credhelper_get(helper, key, &creds, NULL) == 1 &&
      strcmp(creds.username, CREDHELPER_TOKEN_USERNAME) != 0) {
    out->user = steal_pointer(&creds.username);
    out->password = steal_pointer(&creds.secret);
  }
  credhelper_creds_clear(&creds);
}

/* POST /auth: the daemon's answer, or NULL with *err (status 401 when the
 * registry refused the credentials). */
static json_t *authenticate(struct cli *cli, const char *key, const char *user,
                            const char *password, skiff_error_t **err)
{
  cleanup_json json_t *body = json_pack("{s:s, s:s, s:s}", "username", user, "password",
                                        password, "serveraddress", key);
  if (body == NULL) {
    skiff_error_set(err, ENOMEM, "login");
    return NULL;
  }
  return client_json(cli->client, "POST", "/auth", body, NULL, err);
}

/* Keep the credentials of a login, the identity token the registry sent
 * (if any) in place of the password. */
static int keep_login(const char *key, const char *user, const char *password,
                      json_t *answer, skiff_error_t **err)
{
  const char *token = json_string_value(json_object_get(answer, "IdentityToken"));
  return save_login(key, user, password, token && *token ? token : NULL, err);
}

/* What to print for a login that worked: the daemon's Status. */
static char *login_status(json_t *answer)
{
  const char *status = json_string_value(json_object_get(answer, "Status"));
  return strdup(status && *status ? status : "Login Succeeded");
}

/* docker 28 first logs in with the kept credentials, asking nothing. They
 * are kept again whatever the answer (a helper sees a store), and a
 * refusal is only said: the caller then asks for others. Returns 1 with
 * *status when the registry took them, else 0. */
static int login_kept(struct cli *cli, const char *key, const struct kept_login *kept,
                      char **status)
{
  fprintf(stderr, "Authenticating with existing credentials... [Username: %s]\n",
          kept->user);
  print_note(stderr, "To login with a different account, run 'skiff logout' followed "
                     "by 'skiff login'");
  fputs("\n\n", stderr);
  skiff_error_t *err = NULL;
  cleanup_json json_t *answer =
      authenticate(cli, key, kept->user, kept->password, &err);
  if (answer == NULL && err->status == 401)
    fputs("Stored credentials invalid or expired\n", stderr);
  else if (answer == NULL)
    fprintf(stderr, "Login did not succeed, error: %s\n", err->msg);
  skiff_error_free(&err);
  /* as with docker, a failure to keep them sends us to the prompt, unsaid */
  bool kept_again = keep_login(key, kept->user, kept->password, answer, &err) == 0;
  skiff_error_free(&err);
  if (answer == NULL || !kept_again)
    return 0;
  *status = login_status(answer);
  return *status ? 1 : 0;
}

/* Ask for what the flags did not give; default_user (may be NULL) is
 * offered as docker does: "Username (name): ", taken on an empty answer. */
static int ask_credentials(const char **user, const char **password,
                           const char *default_user, char **asked_user,
                           char **asked_password, skiff_error_t **err)
{
  if (*user == NULL) {
    cleanup_free char *question = NULL;
    if (default_user && *default_user
            ? asprintf(&question, "Username (%s): ", default_user) < 0
            : (question = strdup("Username: ")) == NULL)
      return skiff_error_set(err, ENOMEM, "login");
    *asked_user = prompt(question, true);
    if (*asked_user && **asked_user == '\0' && default_user && *default_user) {
      free(*asked_user);
      *asked_user = strdup(default_user);
    }
    *user = *asked_user;
    if (*user == NULL || **user == '\0')
      return skiff_error_invalid(err, "Error: Non-null Username Required");
  }
  if (*password == NULL) {
    *asked_password = prompt("Password: ", false);
    putchar('\n');
    *password = *asked_password;
    if (*password == NULL || **password == '\0')
      return skiff_error_invalid(err, "Error: Password Required");
  }
  return 0;
}

/* docker's loginUser: what is missing is asked for, on a terminal only. */
static int login_asking(struct cli *cli, const char *key, const char *user,
                        const char *password, const char *default_user, char **status,
                        skiff_error_t **err)
{
  if ((user == NULL || password == NULL) && !isatty(STDIN_FILENO))
    return skiff_error_invalid(err, "Error: Cannot perform an interactive login from a "
                                    "non TTY device");
  cleanup_free char *asked_user = NULL, *asked_password = NULL;
  if (ask_credentials(&user, &password, default_user, &asked_user, &asked_password,
                      err) < 0)
    return -1;
  cleanup_json json_t *answer = authenticate(cli, key, user, password, err);
  if (answer == NULL || keep_login(key, user, password, answer, err) < 0)
    return -1;
  *status = login_status(answer);
  return *status ? 0 : skiff_error_set(err, ENOMEM, "login");
}

/* docker 28's checks of the flags, before anything is read. */
static int check_login_flags(const char *user, const char *password, bool from_stdin,
                             skiff_error_t **err)
{
  if (from_stdin && password)
    return skiff_error_invalid(
        err,
        "conflicting options: cannot specify both --password and --password-stdin");
  if (from_stdin && user == NULL)
    return skiff_error_invalid(
        err, "the --password-stdin option requires --username to be set");
  if (user && *user == '\0')
    return skiff_error_invalid(err, "username is empty");
  if (password && *password == '\0')
    return skiff_error_invalid(err, "password is empty");
  return 0;
}

int cmd_login(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  const char *user = NULL, *password = NULL;
  bool from_stdin = false;
  struct opt opts[] = {
      {"password", 'p', OPT_STRING, &password, "string", "Password", NULL},
      {"password-stdin", 0, OPT_BOOL, &from_stdin, NULL, "Take the password from stdin",
       NULL},
      {"username", 'u', OPT_STRING, &user, "string", "Username", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] [SERVER]",
                              .summary = "Authenticate to a registry",
                              .min_args = 0,
                              .max_args = 1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if (check_login_flags(user, password, from_stdin, err) < 0)
    return -1;
  if (password)
    fprintf(stderr, "WARNING! Using --password via the CLI is insecure. Use "
                    "--password-stdin.\n");
  cleanup_free char *piped_password = from_stdin ? read_line(true) : NULL;
  if (piped_password && *piped_password)
    password = piped_password; /* an empty one is none: asked for, as with docker */
  cleanup_free char *key = server_key(nargs ? args[0] : NULL);
  if (key == NULL)
    return skiff_error_set(err, ENOMEM, "login");
  struct kept_login kept = {0};
  if (user == NULL && password == NULL)
    kept_login_load(key, &kept);
  cleanup_free char *status = NULL;
  r = 0;
  if (kept.user && kept.password && *kept.password)
    r = login_kept(cli, key, &kept, &status);
  if (r == 0)
    r = login_asking(cli, key, user, password, kept.user, &status, err);
  kept_login_clear(&kept);
  if (r < 0)
    return -1;
  printf("%s\n", status);
  return 0;
}

/* ---- logout ---- */

/* Erase a login kept under name: from its helper first; config.json's
 * entry goes only when that worked (or there is none), as with docker. */
static int erase_login(json_t *doc, const char *name, skiff_error_t **err)
{
  const char *helper = helper_for(doc, name);
  if (helper && credhelper_erase(helper, name, err) < 0)
    return -1;
  json_object_del(json_object_get(doc, "auths"), name);
  return 0;
}

/* Drop every other config.json entry for key ("https://host/v1/"...). */
static void drop_file_entries(json_t *doc, const char *key)
{
  json_t *auths = json_object_get(doc, "auths");
  const char *k;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(auths, tmp, k, v)
  {
    cleanup_free char *norm = server_key(k);
    if (norm && strcmp(norm, key) == 0)
      json_object_del(auths, k);
  }
}

/* docker 28's logout: the login may be kept under the server as typed,
 * its host, or (from older clients) http:// and https:// forms of it;
 * each is erased through its own helper, and only when none could be is
 * that worth a warning. Docker Hub has the one name. */
static int logout_server(const char *path, const char *typed, const char *key,
                         skiff_error_t **err)
{
  cleanup_json json_t *doc = config_load(path);
  cleanup_free char *http = NULL, *https = NULL;
  bool hub = strcmp(key, HUB_SERVER) == 0;
  if (!hub && (asprintf(&http, "http://%s", key) < 0 ||
               asprintf(&https, "https://%s", key) < 0))
    return skiff_error_set(err, ENOMEM, "logout");
  const char *names[] = {typed, key, http, https};
  skiff_error_t *failures[4] = {NULL};
  size_t tried = 0, failed = 0;
  for (size_t i = hub ? 1 : 0; i < (hub ? 2 : 4); i++) {
    if (i == 0 && (typed == NULL || strcmp(typed, key) == 0 ||
                   strcmp(typed, http) == 0 || strcmp(typed, https) == 0))
      continue;
    tried++;
    failed += erase_login(doc, names[i], &failures[i]) < 0;
  }
  if (failed < tried)
    drop_file_entries(doc, key);
  else
    fprintf(stderr, "WARNING: could not erase credentials:\n");
  for (size_t i = 0; i < 4; i++) {
    if (failures[i] && failed == tried)
      fprintf(stderr, "%s: %s\n", names[i], failures[i]->msg);
    skiff_error_free(&failures[i]);
  }
  return config_save(path, doc, err);
}

int cmd_logout(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct command_spec spec = {.usage = "[SERVER]",
                              .summary = "Log out from a registry",
                              .min_args = 0,
                              .max_args = 1};
  struct opt opts[] = {{NULL, 0, 0, NULL, NULL, NULL, NULL}};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  cleanup_free char *key = server_key(nargs ? args[0] : NULL);
  cleanup_free char *path = config_path();
  if (key == NULL || path == NULL)
    return skiff_error_set(err, ENOMEM, "logout");
  /* docker 28 says this whether or not there was a login to remove */
  printf("Removing login credentials for %s\n", key);
  fflush(stdout);
  return logout_server(path, nargs ? args[0] : NULL, key, err);
}

/* ---- search ---- */

int cmd_search(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  const char *format = NULL, *limit = NULL;
  bool no_trunc = false;
  struct strlist filters = {0};
  struct opt opts[] = {
      {"filter", 'f', OPT_LIST, &filters, "filter",
       "Filter output based on conditions "
       "provided",
       NULL},
      {"format", 0, OPT_STRING, &format, "string",
       "Pretty-print search using a Go template", NULL},
      {"limit", 0, OPT_STRING, &limit, "int", "Max number of search results", NULL},
      {"no-trunc", 0, OPT_BOOL, &no_trunc, NULL, "Don't truncate output", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] TERM",
                              .summary = "Search Docker Hub for images",
                              .min_args = 1,
                              .max_args = 1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  strlist_free(&filters);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  cleanup_free char *q = NULL, *path = NULL;
  client_query_add(&q, "term", args[0]);
  if (asprintf(&path, "/images/search%s", q ? q : "") < 0)
    return skiff_error_errno(err, "search");
  cleanup_json json_t *answer = client_json(cli->client, "GET", path, NULL, NULL, err);
  return answer ? 0 : -1;
}
