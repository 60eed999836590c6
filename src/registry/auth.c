/* Authentication: docker's AuthConfig as clients send it, and the answers
 * to a registry's challenge (WWW-Authenticate):
 *   Basic realm="..."                       the credentials on each request
 *   Bearer realm="URL",service="S",scope="" a token from URL, asked for
 *                                           with the credentials (Basic), or
 *                                           an identity token (OAuth refresh
 *                                           grant), or anonymously. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base64.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "registry_internal.h"

/* ---- base64 ---- */

char *registry_base64(const void *data, size_t len)
{
  return base64_encode(data, len, false);
}

/* Decode standard or URL-safe base64, padded or not; NUL-terminated. */
static char *base64_decode_any(const char *text, size_t *len)
{
  size_t n = strlen(text);
  cleanup_free char *std = malloc(n + 1);
  unsigned char *out = malloc(n * 3 / 4 + 4);
  if (std == NULL || out == NULL) {
    free(out);
    return NULL;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!strchr("\r\n ", text[i]))
      std[k++] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
  ssize_t got = base64_decode(std, k, out);
  if (got < 0) {
    free(out);
    return NULL;
  }
  out[got] = '\0';
  *len = (size_t)got;
  return (char *)out;
}

/* ---- AuthConfig ---- */

void registry_auth_clear(struct registry_auth *a)
{
  free(a->username);
  free(a->password);
  free(a->server);
  free(a->identity_token);
  free(a->registry_token);
  memset(a, 0, sizeof *a);
}

static char *opt_dup(json_t *obj, const char *key)
{
  const char *v = json_string_value(json_object_get(obj, key));
  return v && *v ? strdup(v) : NULL;
}

int registry_auth_from_json(json_t *obj, struct registry_auth *out, skiff_error_t **err)
{
  memset(out, 0, sizeof *out);
  if (obj == NULL || json_is_null(obj))
    return 0;
  if (!json_is_object(obj))
    return skiff_error_invalid(err, "invalid auth configuration: not a JSON object");
  out->username = opt_dup(obj, "username");
  out->password = opt_dup(obj, "password");
  out->server = opt_dup(obj, "serveraddress");
  out->identity_token = opt_dup(obj, "identitytoken");
  out->registry_token = opt_dup(obj, "registrytoken");
  /* "auth": base64 of "user:password", as in config.json. */
  const char *auth = json_string_value(json_object_get(obj, "auth"));
  if (auth && *auth && out->username == NULL) {
    size_t len = 0;
    cleanup_free char *pair = base64_decode_any(auth, &len);
    char *colon = pair ? strchr(pair, ':') : NULL;
    if (colon == NULL) {
      registry_auth_clear(out);
      return skiff_error_invalid(err, "invalid auth configuration: bad \"auth\" field");
    }
    out->username = strndup(pair, (size_t)(colon - pair));
    out->password = strdup(colon + 1);
  }
  return 0;
}

int registry_auth_decode(const char *header, struct registry_auth *out,
                         skiff_error_t **err)
{
  memset(out, 0, sizeof *out);
  if (header == NULL || *header == '\0')
    return 0;
  size_t len = 0;
  cleanup_free char *text = base64_decode_any(header, &len);
  json_error_t jerr;
  cleanup_json json_t *doc = text ? json_loadb(text, len, 0, &jerr) : NULL;
  /* docker sends "{}" base64'd when it has no credentials, and older
   * clients sent garbage that dockerd ignores: be as forgiving. */
  if (doc == NULL)
    return 0;
  return registry_auth_from_json(doc, out, err);
}

/* ---- challenges ---- */

/* The value of key in a challenge's parameters (key="value" or key=value,
 * comma separated); new string or NULL. */
static char *challenge_param(const char *params, const char *key)
{
  size_t klen = strlen(key);
  const char *p = params;
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *eq = strchr(p, '=');
    if (eq == NULL)
      return NULL;
    bool match = (size_t)(eq - p) == klen && strncasecmp(p, key, klen) == 0;
    const char *v = eq + 1, *end;
    if (*v == '"') {
      v++;
      end = strchr(v, '"');
      if (end == NULL)
        return NULL;
      p = end + 1;
    } else {
      end = v + strcspn(v, ",");
      p = end;
    }
    if (match)
      return strndup(v, (size_t)(end - v));
  }
  return NULL;
}

static int basic_header(struct registry_client *c, char **out, skiff_error_t **err)
{
  if (c->auth.username == NULL)
    return skiff_error_status(err, EACCES,
                              "unauthorized: authentication required (no "
                              "credentials for %s: use skiff login %s)",
                              c->host, c->host);
  cleanup_free char *pair = NULL;
  if (asprintf(&pair, "%s:%s", c->auth.username,
               c->auth.password ? c->auth.password : "") < 0)
    return skiff_error_set(err, ENOMEM, "auth");
  cleanup_free char *b64 = registry_base64(pair, strlen(pair));
  if (b64 == NULL || asprintf(out, "Basic %s", b64) < 0)
    return skiff_error_set(err, ENOMEM, "auth");
  return 0;
}

/* Add a scope=repository:<repo>:pull for each repository to mount from. */
static int add_extra_scopes(struct registry_client *c, char **url)
{
  pthread_mutex_lock(&c->lock);
  cleanup_json json_t *repos = json_copy(c->extra_scopes);
  pthread_mutex_unlock(&c->lock);
  size_t i;
  json_t *repo;
  json_array_foreach(repos, i, repo)
  {
    cleanup_free char *scope = NULL;
    if (asprintf(&scope, "repository:%s:pull", json_string_value(repo)) < 0 ||
        registry_url_add(url, "scope", scope) < 0)
      return -1;
  }
  return 0;
}

/* The token server's URL, asking for the scopes a token must cover for c. */
static int token_url(struct registry_client *c, const char *realm, const char *service,
                     char **url)
{
  cleanup_free char *scope = NULL;
  if (asprintf(&scope, "repository:%s:%s", c->path, c->actions) < 0)
    return -1;
  if ((*url = strdup(realm)) == NULL)
    return -1;
  if ((service && registry_url_add(url, "service", service) < 0) ||
      (*c->path && registry_url_add(url, "scope", scope) < 0) ||
      add_extra_scopes(c, url) < 0)
    return -1;
  return 0;
}

static char *token_from(const struct registry_reply *r)
{
  cleanup_json json_t *doc = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
  const char *token = json_string_value(json_object_get(doc, "token"));
  if (token == NULL || *token == '\0')
    token = json_string_value(json_object_get(doc, "access_token"));
  return token && *token ? strdup(token) : NULL;
}

/* With an identity token (from an earlier login), OAuth2's refresh grant. */
static int fetch_with_identity(struct registry_client *c, const char *realm,
                               const char *service, struct registry_reply *reply,
                               skiff_error_t **err)
{
  cleanup_free char *scope = NULL, *form = strdup("");
  if (form == NULL || asprintf(&scope, "repository:%s:%s", c->path, c->actions) < 0 ||
      registry_url_add(&form, "grant_type", "refresh_token") < 0 ||
      registry_url_add(&form, "refresh_token", c->auth.identity_token) < 0 ||
      registry_url_add(&form, "service", service ? service : "") < 0 ||
      (*c->path && registry_url_add(&form, "scope", scope) < 0) ||
      registry_url_add(&form, "client_id", "skiff") < 0)
    return skiff_error_set(err, ENOMEM, "auth");
  struct registry_request req = {.method = "POST",
                                 .url = realm,
                                 .authorization = "",
                                 .content_type = "application/x-www-form-urlencoded",
                                 .body = form + 1, /* past the "?" */
                                 .body_len = strlen(form + 1)};
  return registry_do(c, &req, reply, err);
}

static int bearer_token(struct registry_client *c, const char *params, char **out,
                        skiff_error_t **err)
{
  cleanup_free char *realm = challenge_param(params, "realm");
  cleanup_free char *service = challenge_param(params, "service");
  if (realm == NULL || (strncmp(realm, "https://", 8) && strncmp(realm, "http://", 7)))
    return skiff_error_invalid(err, "registry %s: bad Bearer challenge (realm %s)",
                               c->host, realm ? realm : "missing");
  struct registry_reply reply = {0};
  int r;
  if (c->auth.identity_token) {
    r = fetch_with_identity(c, realm, service, &reply, err);
  } else {
    cleanup_free char *url = NULL, *basic = NULL;
    if (token_url(c, realm, service, &url) < 0)
      return skiff_error_set(err, ENOMEM, "auth");
    if (c->auth.username && basic_header(c, &basic, err) < 0)
      return -1;
    struct registry_request req = {
        .method = "GET", .url = url, .authorization = basic ? basic : ""};
    r = registry_do(c, &req, &reply, err);
  }
  if (r == 0 && reply.status != 200)
    r = registry_reply_error(&reply, err, "get a token from %s", realm);
  cleanup_free char *token = r == 0 ? token_from(&reply) : NULL;
  registry_reply_clear(&reply);
  if (r < 0)
    return -1;
  if (token == NULL)
    return skiff_error_set(err, EIO, "the token server %s sent no token", realm);
  return asprintf(out, "Bearer %s", token) < 0 ? skiff_error_set(err, ENOMEM, "auth")
                                               : 0;
}

int registry_authenticate(struct registry_client *c, const char *challenge,
                          skiff_error_t **err)
{
  cleanup_free char *value = NULL;
  size_t scheme = strcspn(challenge, " ");
  int r;
  if (scheme == 6 && strncasecmp(challenge, "Bearer", 6) == 0)
    r = bearer_token(c, challenge + scheme, &value, err);
  else if (scheme == 5 && strncasecmp(challenge, "Basic", 5) == 0)
    r = basic_header(c, &value, err);
  else
    r = skiff_error_invalid(err, "registry %s: unsupported authentication %.*s",
                            c->host, (int)scheme, challenge);
  if (r < 0)
    return -1;
  pthread_mutex_lock(&c->lock);
  free(c->authorization);
  c->authorization = steal_pointer(&value);
  c->auth_gen++;
  pthread_mutex_unlock(&c->lock);
  return 0;
}
