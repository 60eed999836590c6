/* Route lookup: a linear scan of the API tables. There are a few dozen
 * routes and a request costs a thread anyway, so a trie would buy nothing. */
#include "router.h"

#include <stdlib.h>
#include <string.h>

struct capture {
  const char *start;
  size_t len;
};

static bool match_at(const char *pat, const char *path, struct capture *caps,
                     unsigned n);

/* "{name*}" captures one or more segments; the longest capture that lets
 * the rest of the pattern match wins, so "/images/a/json/json" gives
 * name "a/json" for "/images/{name*}/json". */
static bool match_rest(const char *pat_rest, const char *path, struct capture *caps,
                       unsigned n)
{
  for (size_t end = strlen(path); end > 0; end--) {
    if (path[end] != '\0' && path[end] != '/')
      continue;
    caps[n] = (struct capture){path, end};
    if (match_at(pat_rest, path + end, caps, n + 1))
      return true;
  }
  return false;
}

/* Match pat against path, both at a '/' (or both at their end). */
static bool match_at(const char *pat, const char *path, struct capture *caps,
                     unsigned n)
{
  if (*pat == '\0' || *path == '\0')
    return *pat == '\0' && *path == '\0';
  if (*pat != '/' || *path != '/')
    return false;
  pat++, path++;
  size_t plen = strcspn(pat, "/"), slen = strcspn(path, "/");
  bool capture = plen >= 3 && pat[0] == '{' && pat[plen - 1] == '}';
  if (!capture)
    return plen == slen && strncmp(pat, path, plen) == 0 &&
           match_at(pat + plen, path + slen, caps, n);
  if (n >= ROUTER_MAX_PARAMS || slen == 0)
    return false;
  if (pat[plen - 2] == '*')
    return match_rest(pat + plen, path, caps, n);
  caps[n] = (struct capture){path, slen};
  return match_at(pat + plen, path + slen, caps, n + 1);
}

static unsigned count_captures(const char *pat)
{
  unsigned n = 0;
  for (; *pat; pat++)
    n += *pat == '{';
  return n;
}

static bool fill_params(const char *pattern, struct capture *caps,
                        char *params[ROUTER_MAX_PARAMS + 1])
{
  unsigned n = count_captures(pattern);
  memset(params, 0, (ROUTER_MAX_PARAMS + 1) * sizeof(char *));
  for (unsigned i = 0; i < n && i < ROUTER_MAX_PARAMS; i++) {
    if ((params[i] = strndup(caps[i].start, caps[i].len)) == NULL) {
      for (unsigned j = 0; j < i; j++)
        free(params[j]);
      return false;
    }
  }
  return true;
}

static const struct api_route *const *tables(void)
{
  static const struct api_route *const all[] = {
      api_system_routes,     api_images_routes,
      api_containers_routes, api_archive_routes,
      api_resources_routes,  api_registry_routes,
      api_exec_routes,       NULL};
  return all;
}

const struct api_route *router_find(const char *method, const char *path,
                                    char *params[ROUTER_MAX_PARAMS + 1],
                                    unsigned *status)
{
  struct capture caps[ROUTER_MAX_PARAMS], head_caps[ROUTER_MAX_PARAMS];
  const struct api_route *head_fallback = NULL;
  for (const struct api_route *const *t = tables(); *t; t++) {
    for (const struct api_route *r = *t; r->method; r++) {
      if (!match_at(r->pattern, path, caps, 0))
        continue;
      if (strcmp(r->method, method) == 0) {
        *status = fill_params(r->pattern, caps, params) ? 200 : 500;
        return *status == 200 ? r : NULL;
      }
      if (!head_fallback && strcmp(method, "HEAD") == 0 &&
          strcmp(r->method, "GET") == 0) {
        head_fallback = r;
        memcpy(head_caps, caps, sizeof caps);
      }
    }
  }
  if (head_fallback) {
    *status = fill_params(head_fallback->pattern, head_caps, params) ? 200 : 500;
    return *status == 200 ? head_fallback : NULL;
  }
  /* dockerd's router answers a known path with another method like an
   * unknown path: 404 "page not found". */
  *status = 404;
  return NULL;
}
