/* Image commands: images, tag, rmi, import, save, load, pull, image prune. */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "format.h"
#include "stream.h"

#define IMAGES_TABLE                                                                   \
  "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}"
#define IMAGES_DIGEST_TABLE                                                            \
  "table "                                                                             \
  "{{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}"

static json_t *images_headers(void)
{
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID",
                   "IMAGE ID", "Repository", "REPOSITORY", "Tag", "TAG", "Digest",
                   "DIGEST", "CreatedSince", "CREATED", "CreatedAt", "CREATED AT",
                   "Size", "SIZE", "Containers", "CONTAINERS", "VirtualSize",
                   "VIRTUAL SIZE", "SharedSize", "SHARED SIZE", "UniqueSize",
                   "UNIQUE SIZE");
}

/* Split "name:tag" / "name@digest" at the tag's colon (after the last '/'). */
static void split_ref(const char *ref, char **name, char **suffix, char sep)
{
  const char *slash = strrchr(ref, '/');
  const char *mark = strchr(slash ? slash : ref, sep);
  if (sep == '@')
    mark = strchr(ref, '@');
  *name = strndup(ref, mark ? (size_t)(mark - ref) : strlen(ref));
  *suffix = mark ? strdup(mark + 1) : NULL;
}

char *image_tagged_name(const char *ref)
{
  cleanup_free char *name = NULL, *tag = NULL;
  if (strchr(ref, '@'))
    return strdup(ref);
  split_ref(ref, &name, &tag, ':');
  char *out = NULL;
  if (asprintf(&out, "%s:%s", name ? name : ref, tag ? tag : "latest") < 0)
    return NULL;
  return out;
}

static const char *familiar(const char *ref)
{
  if (strncmp(ref, "docker.io/library/", 18) == 0)
    return ref + 18;
  if (strncmp(ref, "docker.io/", 10) == 0)
    return ref + 10;
  return ref;
}

static void size_or_na(json_t *img, const char *key, int precision, char *buf,
                       size_t len)
{
  json_t *v = json_object_get(img, key);
  if (v == NULL || json_integer_value(v) == -1)
    snprintf(buf, len, "N/A");
  else
    format_human_size((double)json_integer_value(v), precision, buf, len);
}

/* One row of docker images' imageContext (keys sorted, as its JSON). */
static json_t *image_row(json_t *img, const char *repo, const char *tag,
                         const char *digest, bool trunc)
{
  char id[80], created_at[64], since[64], size[32], shared[32], unique[32], virt[32],
      containers[32];
  const char *full_id = json_string_value(json_object_get(img, "Id"));
  if (trunc)
    cli_short_id(full_id ? full_id : "", id, sizeof id);
  else
    snprintf(id, sizeof id, "%s", full_id ? full_id : "");
  long long created = json_integer_value(json_object_get(img, "Created"));
  format_go_time(created, created_at, sizeof created_at);
  if (created == 0)
    snprintf(since, sizeof since, "N/A");
  else
    format_since(created, since, sizeof since);
  long long sz = json_integer_value(json_object_get(img, "Size"));
  format_human_size((double)sz, 3, size, sizeof size);
  size_or_na(img, "SharedSize", 4, shared, sizeof shared);
  json_t *vs = json_object_get(img, "VirtualSize");
  long long vsize = vs ? json_integer_value(vs) : sz;
  format_human_size((double)vsize, 4, virt, sizeof virt);
  long long sh = json_integer_value(json_object_get(img, "SharedSize"));
  if (json_object_get(img, "SharedSize") == NULL || sh == -1 || vsize == -1)
    snprintf(unique, sizeof unique, "N/A");
  else
    format_human_size((double)(vsize - sh), 4, unique, sizeof unique);
  json_t *cn = json_object_get(img, "Containers");
  if (cn == NULL || json_integer_value(cn) == -1)
    snprintf(containers, sizeof containers, "N/A");
  else
    snprintf(containers, sizeof containers, "%lld", (long long)json_integer_value(cn));
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                   "Containers", containers, "CreatedAt", created_at, "CreatedSince",
                   since, "Digest", digest, "ID", id, "Repository", repo, "SharedSize",
                   shared, "Size", size, "Tag", tag, "UniqueSize", unique,
                   "VirtualSize", virt);
}

static bool is_dangling(json_t *img)
{
  json_t *tags = json_object_get(img, "RepoTags");
  json_t *digests = json_object_get(img, "RepoDigests");
  size_t nt = json_array_size(tags), nd = json_array_size(digests);
  bool no_tags =
      nt == 0 || (nt == 1 && strcmp(json_string_value(json_array_get(tags, 0)) ?: "",
                                    "<none>:<none>") == 0);
  bool no_digests =
      nd == 0 || (nd == 1 && strcmp(json_string_value(json_array_get(digests, 0)) ?: "",
                                    "<none>@<none>") == 0);
  return no_tags && no_digests;
}

/* The digests recorded for repo (familiar name), or NULL. */
static json_t *digests_of(json_t *img, const char *repo)
{
  json_t *out = json_array();
  size_t i;
  json_t *d;
  json_array_foreach(json_object_get(img, "RepoDigests"), i, d)
  {
    cleanup_free char *name = NULL, *digest = NULL;
    split_ref(json_string_value(d) ? json_string_value(d) : "", &name, &digest, '@');
    if (digest && name && strcmp(familiar(name), repo) == 0)
      json_array_append_new(out, json_string(digest));
  }
  return out;
}

struct images_flags {
  bool all, quiet, digests, no_trunc;
  const char *format;
  struct strlist filters;
};

static int add_row(struct listfmt *lf, json_t *img, const char *repo, const char *tag,
                   const char *digest, bool trunc, skiff_error_t **err)
{
  cleanup_json json_t *row = image_row(img, repo, tag, digest, trunc);
  return listfmt_row(lf, row, err);
}

/* docker's imageFormatTaggedAndDigest: a row per tag (per digest with
 * --digests), then a row per repository known only by digest. docker walks
 * a Go map, so its order of an image's repositories varies from run to run;
 * skiff keeps the daemon's order of RepoTags. */
static int image_rows(struct listfmt *lf, json_t *img, const struct images_flags *f,
                      skiff_error_t **err)
{
  bool trunc = !f->no_trunc;
  if (is_dangling(img))
    return add_row(lf, img, "<none>", "<none>", "<none>", trunc, err);
  cleanup_json json_t *seen = json_object();
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(img, "RepoTags"), i, t)
  {
    cleanup_free char *name = NULL, *tag = NULL;
    split_ref(json_string_value(t) ? json_string_value(t) : "", &name, &tag, ':');
    if (name == NULL || tag == NULL || strcmp(name, "<none>") == 0)
      continue;
    const char *repo = familiar(name);
    json_object_set_new(seen, repo, json_true());
    cleanup_json json_t *digests = f->digests ? digests_of(img, repo) : json_array();
    if (json_array_size(digests) == 0 &&
        add_row(lf, img, repo, tag, "<none>", trunc, err) < 0)
      return -1;
    size_t j;
    json_t *d;
    json_array_foreach(digests, j,
                       d) if (add_row(lf, img, repo, tag, json_string_value(d), trunc,
                                      err) < 0) return -1;
  }
  json_array_foreach(json_object_get(img, "RepoDigests"), i, t)
  {
    cleanup_free char *name = NULL, *digest = NULL;
    split_ref(json_string_value(t) ? json_string_value(t) : "", &name, &digest, '@');
    if (name == NULL || digest == NULL || json_object_get(seen, familiar(name)))
      continue;
    if (!f->digests)
      json_object_set_new(seen, familiar(name), json_true());
    if (add_row(lf, img, familiar(name), "<none>", f->digests ? digest : "", trunc,
                err) < 0)
      return -1;
  }
  return 0;
}

static int images_print(json_t *list, const struct images_flags *f, skiff_error_t **err)
{
  const char *format = f->format;
  if (f->quiet)
    format = "{{.ID}}";
  else if (f->digests &&
           (format == NULL || *format == '\0' || strcmp(format, "table") == 0))
    format = IMAGES_DIGEST_TABLE;
  struct listfmt lf;
  if (listfmt_init(&lf, format, IMAGES_TABLE, err) < 0)
    return -1;
  size_t i;
  json_t *img;
  int r = 0;
  json_array_foreach(list, i, img) if ((r = image_rows(&lf, img, f, err)) < 0) break;
  cleanup_json json_t *headers = images_headers();
  if (r == 0)
    r = listfmt_flush(&lf, headers, stdout, err);
  listfmt_clear(&lf);
  return r;
}

static char *images_path(const struct images_flags *f, const char *reference,
                         skiff_error_t **err)
{
  struct strlist filters = {0};
  for (size_t i = 0; i < f->filters.n; i++)
    strlist_add(&filters, f->filters.items[i]);
  cleanup_free char *ref_filter = NULL;
  if (reference && asprintf(&ref_filter, "reference=%s", reference) >= 0)
    strlist_add(&filters, ref_filter);
  cleanup_free char *json = cli_filters_json(&filters, err);
  bool bad = json == NULL && filters.n;
  strlist_free(&filters);
  if (bad)
    return NULL;
  cleanup_free char *q = NULL;
  if (f->all)
    client_query_add(&q, "all", "1");
  if (json)
    client_query_add(&q, "filters", json);
  char *path = NULL;
  if (asprintf(&path, "/images/json%s", q ? q : "") < 0)
    return NULL;
  return path;
}

int cmd_images(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct images_flags f = {0};
  struct opt opts[] = {
      {"all", 'a', OPT_BOOL, &f.all, NULL,
       "Show all images (default hides intermediate images)", NULL},
      {"digests", 0, OPT_BOOL, &f.digests, NULL, "Show digests", NULL},
      {"filter", 'f', OPT_FILTER, &f.filters, "filter",
       "Filter output based on conditions provided", NULL},
      {"format", 0, OPT_STRING, &f.format, "string",
       "Format output using a custom template:\n'table':            Print output in "
       "table format with column headers (default)\n'table TEMPLATE':   Print output "
       "in table format using the given Go template\n'json':             Print in JSON "
       "format\n'TEMPLATE':         Print output using the given Go template.\nRefer "
       "to "
       "https://docs.docker.com/go/formatting/ for more information about formatting "
       "output with templates",
       NULL},
      {"no-trunc", 0, OPT_BOOL, &f.no_trunc, NULL, "Don't truncate output", NULL},
      {"quiet", 'q', OPT_BOOL, &f.quiet, NULL, "Only show image IDs", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] [REPOSITORY[:TAG]]",
                              .summary = "List images",
                              .aliases =
                                  "skiff image ls, skiff image list, skiff images",
                              .min_args = 0,
                              .max_args = 1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r == OPTS_OK) {
    cleanup_free char *path = images_path(&f, nargs ? args[0] : NULL, err);
    cleanup_json json_t *list =
        path ? client_json(cli->client, "GET", path, NULL, NULL, err) : NULL;
    r = list ? images_print(list, &f, err) : -1;
  }
  strlist_free(&f.filters);
  return r == OPTS_HELP ? 0 : r;
}

/* ------------------------------------------------------------ tag, rmi */

/* docker's client parses the target itself ("Error parsing reference: ...");
 * skiff's leaves it to the daemon, whose refusal of it is reworded alike. */
static void reword_target_error(const char *target, const char *repo,
                                skiff_error_t **err)
{
  static const char prefix[] = "Error response from daemon: ";
  const char *msg = (*err)->msg;
  if ((*err)->status != 400 || strncmp(msg, prefix, strlen(prefix)) != 0)
    return;
  msg += strlen(prefix);
  if (strncmp(msg, "invalid reference format", 24) != 0 || !strstr(msg, repo))
    return;
  cleanup_free char *daemon_said = strdup(msg);
  skiff_error_free(err);
  skiff_error_invalid(
      err, "Error parsing reference: \"%s\" is not a valid repository/tag: %s", target,
      daemon_said ? daemon_said : "invalid reference format");
}

/* The commonest mistake docker's client catches itself: capitals in the
 * repository (the part after a registry: "host:5000/" keeps its case). */
static int check_target_case(const char *target, const char *repo, skiff_error_t **err)
{
  const char *slash = strchr(repo, '/');
  size_t first = slash ? (size_t)(slash - repo) : 0;
  bool registry = slash && (memchr(repo, '.', first) || memchr(repo, ':', first) ||
                            strncmp(repo, "localhost/", 10) == 0);
  const char *path = registry ? slash + 1 : repo;
  for (const char *p = path; *p; p++) {
    if (!isupper((unsigned char)*p))
      continue;
    bool official = !registry && strchr(path, '/') == NULL;
    return skiff_error_invalid(
        err,
        "Error parsing reference: \"%s\" is not a valid "
        "repository/tag: invalid reference format: repository name "
        "(%s%s) must be lowercase",
        target, official ? "library/" : "", path);
  }
  return 0;
}

int cmd_tag(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct opt opts[] = {{NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {
      .usage = "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
      .summary = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
      .aliases = "skiff image tag, skiff tag",
      .min_args = 2,
      .max_args = 2};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  cleanup_free char *repo = NULL, *tag = NULL;
  split_ref(args[1], &repo, &tag, ':');
  if (strchr(args[1], '@'))
    return skiff_error_invalid(err, "refusing to create a tag with a digest reference");
  if (check_target_case(args[1], repo, err) < 0)
    return -1;
  cleanup_free char *query = NULL;
  client_query_add(&query, "repo", repo);
  client_query_add(&query, "tag", tag ? tag : "latest");
  cleanup_free char *base = cli_path("/images/%s/tag", args[0]);
  cleanup_free char *path = NULL;
  if (base == NULL || asprintf(&path, "%s%s", base, query) < 0)
    return skiff_error_errno(err, "tag");
  if (client_simple(cli->client, "POST", path, NULL, NULL, err) == 0)
    return 0;
  reword_target_error(args[1], repo, err);
  return -1;
}

struct rmi_arg {
  bool force, no_prune;
};

static int do_rmi(struct cli *cli, const char *name, void *arg, skiff_error_t **err)
{
  struct rmi_arg *o = arg;
  cleanup_free char *base = cli_path("/images/%s", name);
  cleanup_free char *path = NULL;
  if (base == NULL ||
      asprintf(&path, "%s?force=%d&noprune=%d", base, o->force, o->no_prune) < 0)
    return skiff_error_errno(err, "rmi");
  cleanup_json json_t *items =
      client_json(cli->client, "DELETE", path, NULL, NULL, err);
  if (items == NULL)
    return -1;
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item)
  {
    const char *untagged = json_string_value(json_object_get(item, "Untagged"));
    const char *deleted = json_string_value(json_object_get(item, "Deleted"));
    if (untagged)
      printf("Untagged: %s\n", untagged);
    if (deleted)
      printf("Deleted: %s\n", deleted);
  }
  fflush(stdout);
  return 1; /* printed its own lines */
}

int cmd_rmi(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct rmi_arg o = {0};
  struct opt opts[] = {
      {"force", 'f', OPT_BOOL, &o.force, NULL, "Force removal of the image", NULL},
      {"no-prune", 0, OPT_BOOL, &o.no_prune, NULL, "Do not delete untagged parents",
       NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] IMAGE [IMAGE...]",
                              .summary = "Remove one or more images",
                              .aliases =
                                  "skiff image rm, skiff image remove, skiff rmi",
                              .min_args = 1,
                              .max_args = -1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  return cli_for_each(cli, args, nargs, do_rmi, &o);
}

/* ------------------------------------------------------------ import, load, save */

/* An input file ("-" is stdin) for a streamed request body; *size is -1
 * when unknown (a pipe). */
static int open_input(const char *path, long long *size, skiff_error_t **err)
{
  int fd =
      strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return skiff_error_invalid(err, "open %s: %s", path, cli_go_strerror(errno));
  struct stat st;
  *size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
  if (*size >= 0 && lseek(fd, 0, SEEK_CUR) > 0)
    *size -= (long long)lseek(fd, 0, SEEK_CUR);
  return fd;
}

int cmd_import(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct strlist changes = {0};
  const char *message = NULL, *platform = NULL;
  struct opt opts[] = {{"change", 'c', OPT_LIST, &changes, "list",
                        "Apply Dockerfile instruction to the created image", NULL},
                       {"message", 'm', OPT_STRING, &message, "string",
                        "Set commit message for imported image", NULL},
                       {"platform", 0, OPT_STRING, &platform, "string",
                        "Set platform if server is multi-platform capable", NULL},
                       {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {
      .usage = "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
      .summary = "Import the contents from a tarball to create a filesystem image",
      .aliases = "skiff image import, skiff import",
      .min_args = 1,
      .max_args = -1}; /* docker: at least one; more are ignored */
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  cleanup_free char *q = NULL;
  cleanup_close int fd = -1;
  long long size = -1;
  bool url = r == OPTS_OK && (strncmp(args[0], "http://", 7) == 0 ||
                              strncmp(args[0], "https://", 8) == 0);
  if (r == OPTS_OK) {
    client_query_add(&q, "fromSrc", url ? args[0] : "-");
    if (nargs > 1) {
      cleanup_free char *repo = NULL, *tag = NULL;
      split_ref(args[1], &repo, &tag, ':');
      client_query_add(&q, "repo", repo);
      if (tag)
        client_query_add(&q, "tag", tag);
    }
    if (message)
      client_query_add(&q, "message", message);
    if (platform)
      client_query_add(&q, "platform", platform);
    for (size_t i = 0; i < changes.n; i++)
      client_query_add(&q, "changes", changes.items[i]);
  }
  strlist_free(&changes);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if (!url && (fd = open_input(args[0], &size, err)) < 0)
    return -1;
  cleanup_free char *path = NULL;
  cleanup_free char *id = NULL;
  if (asprintf(&path, "/images/create%s", q) < 0)
    return skiff_error_errno(err, "import");
  if (progress_call(cli, "POST", path, fd, size, NULL, &id, err) < 0)
    return -1;
  printf("%s\n", id ? id : "");
  return 0;
}

int cmd_load(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  const char *input = NULL;
  bool quiet = false;
  struct opt opts[] = {
      {"input", 'i', OPT_STRING, &input, "string",
       "Read from tar archive file, instead of STDIN", NULL},
      {"quiet", 'q', OPT_BOOL, &quiet, NULL, "Suppress the load output", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS]",
                              .summary = "Load an image from a tar archive or STDIN",
                              .aliases = "skiff image load, skiff load",
                              .min_args = 0,
                              .max_args = 0};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if (input == NULL && isatty(STDIN_FILENO))
    return skiff_error_invalid(err, "requested load from stdin, but stdin is empty");
  long long size = -1;
  cleanup_close int fd = open_input(input ? input : "-", &size, err);
  if (fd < 0)
    return -1;
  /* Like docker, progress bars only for a terminal: quiet=1 otherwise. */
  const char *path =
      quiet || !isatty(STDOUT_FILENO) ? "/images/load?quiet=1" : "/images/load?quiet=0";
  return progress_call(cli, "POST", path, fd, size, quiet ? NULL : stdout, NULL, err);
}

int cmd_save(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  const char *output = NULL;
  struct opt opts[] = {{"output", 'o', OPT_STRING, &output, "string",
                        "Write to a file, instead of STDOUT", NULL},
                       {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {
      .usage = "[OPTIONS] IMAGE [IMAGE...]",
      .summary =
          "Save one or more images to a tar archive (streamed to STDOUT by default)",
      .aliases = "skiff image save, skiff save",
      .min_args = 1,
      .max_args = -1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if (output == NULL && isatty(STDOUT_FILENO))
    return skiff_error_invalid(
        err, "Cowardly refusing to save to a terminal. Use the -o flag or redirect");
  cleanup_free char *q = NULL;
  for (int i = 0; i < nargs; i++)
    client_query_add(&q, "names", args[i]);
  cleanup_free char *path = NULL;
  if (asprintf(&path, "/images/get%s", q) < 0)
    return skiff_error_errno(err, "save");
  return cli_download(cli, path, output, "failed to save image", err);
}

/* ------------------------------------------------------------ pull, prune */

int image_pull_platform(struct cli *cli, const char *ref, const char *platform,
                        bool all_tags, FILE *out, skiff_error_t **err)
{
  cleanup_free char *name = NULL, *tag = NULL;
  split_ref(ref, &name, &tag, strchr(ref, '@') ? '@' : ':');
  cleanup_free char *q = NULL;
  client_query_add(&q, "fromImage", name ? name : ref);
  client_query_add(&q, "tag", tag ? tag : (all_tags ? "" : "latest"));
  if (platform && *platform)
    client_query_add(&q, "platform", platform);
  cleanup_free char *path = NULL;
  if (asprintf(&path, "/images/create%s", q) < 0)
    return skiff_error_errno(err, "pull");
  cleanup_free char *auth = cli_registry_auth_header(ref);
  const char *headers[] = {auth, NULL};
  return progress_call_headers(cli, "POST", path, headers, -1, 0, out, NULL, err);
}

int image_pull(struct cli *cli, const char *ref, FILE *out, skiff_error_t **err)
{
  return image_pull_platform(cli, ref, NULL, false, out, err);
}

int cmd_pull(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  bool quiet = false, all_tags = false, untrusted = false;
  const char *platform = NULL;
  struct opt opts[] = {
      {"all-tags", 'a', OPT_BOOL, &all_tags, NULL,
       "Download all tagged images in the repository", NULL},
      {"disable-content-trust", 0, OPT_BOOL, &untrusted, NULL,
       "Skip image verification", NULL},
      {"platform", 0, OPT_STRING, &platform, "string",
       "Set platform if server is multi-platform capable", NULL},
      {"quiet", 'q', OPT_BOOL, &quiet, NULL, "Suppress verbose output", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] NAME[:TAG|@DIGEST]",
                              .summary = "Download an image from a registry",
                              .aliases = "skiff image pull, skiff pull",
                              .min_args = 1,
                              .max_args = 1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  const char *last = strrchr(args[0], '/');
  bool tagged = strchr(args[0], '@') || strchr(last ? last : args[0], ':');
  if (all_tags && tagged)
    return skiff_error_invalid(err, "tag can't be used with --all-tags/-a");
  if (!quiet && !tagged && !all_tags)
    printf("Using default tag: latest\n");
  if (image_pull_platform(cli, args[0], platform, all_tags, quiet ? NULL : stdout,
                          err) < 0)
    return -1;
  cleanup_free char *tagged_name =
      all_tags ? strdup(args[0]) : image_tagged_name(args[0]);
  printf("%s\n", tagged_name ? tagged_name : args[0]);
  return 0;
}

int cmd_image_prune(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  bool all = false, force = false;
  struct strlist filters = {0};
  struct opt opts[] = {
      {"all", 'a', OPT_BOOL, &all, NULL,
       "Remove all unused images, not just dangling ones", NULL},
      {"filter", 0, OPT_FILTER, &filters, "filter",
       "Provide filter values (e.g. \"until=<timestamp>\")", NULL},
      {"force", 'f', OPT_BOOL, &force, NULL, "Do not prompt for confirmation", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS]",
                              .summary = "Remove unused images",
                              .min_args = 0,
                              .max_args = 0};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r == OPTS_OK)
    strlist_add(&filters, all ? "dangling=false" : "dangling=true");
  cleanup_free char *json = r == OPTS_OK ? cli_filters_json(&filters, err) : NULL;
  strlist_free(&filters);
  if (r != OPTS_OK || json == NULL)
    return r == OPTS_HELP ? 0 : -1;
  const char *warning = all ? "WARNING! This will remove all images without at least "
                              "one container associated to them."
                            : "WARNING! This will remove all dangling images.";
  if (!force && !cli_confirm(warning))
    return 0;
  cleanup_free char *q = NULL, *path = NULL;
  client_query_add(&q, "filters", json);
  if (asprintf(&path, "/images/prune%s", q) < 0)
    return skiff_error_errno(err, "prune");
  cleanup_json json_t *report = client_json(cli->client, "POST", path, NULL, NULL, err);
  if (report == NULL)
    return -1;
  json_t *deleted = json_object_get(report, "ImagesDeleted");
  double reclaimed = 0;
  if (json_array_size(deleted) > 0) {
    printf("Deleted Images:\n");
    size_t i;
    json_t *item;
    json_array_foreach(deleted, i, item)
    {
      const char *u = json_string_value(json_object_get(item, "Untagged"));
      const char *d = json_string_value(json_object_get(item, "Deleted"));
      if (u)
        printf("untagged: %s\n", u);
      if (d)
        printf("deleted: %s\n", d);
    }
    printf("\n");
    reclaimed = (double)json_integer_value(json_object_get(report, "SpaceReclaimed"));
  }
  char size[32];
  format_human_size(reclaimed, 4, size, sizeof size);
  printf("Total reclaimed space: %s\n", size);
  return 0;
}
