/* skiff diff, export and commit: a container's changes, its whole file
 * system as a tar, and a new image made of its changes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"

/* ---- diff ---- */

int cmd_diff(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  struct opt opts[] = {{NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {
      .usage = "CONTAINER",
      .summary = "Inspect changes to files or directories on a container's filesystem",
      .aliases = "skiff container diff, skiff diff",
      .min_args = 1,
      .max_args = 1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  cleanup_free char *path = cli_path("/containers/%s/changes", args[0]);
  cleanup_json json_t *changes = client_json(cli->client, "GET", path, NULL, NULL, err);
  if (changes == NULL)
    return -1;
  static const char kinds[] = {'C', 'A', 'D'};
  size_t i;
  json_t *c;
  json_array_foreach(changes, i, c)
  {
    json_int_t kind = json_integer_value(json_object_get(c, "Kind"));
    printf("%c %s\n", kind >= 0 && kind <= 2 ? kinds[kind] : '?',
           json_string_value(json_object_get(c, "Path")) ?: "");
  }
  return 0;
}

/* ---- export ---- */

int cmd_export(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  const char *output = NULL;
  struct opt opts[] = {{"output", 'o', OPT_STRING, &output, "string",
                        "Write to a file, instead of STDOUT", NULL},
                       {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] CONTAINER",
                              .summary =
                                  "Export a container's filesystem as a tar archive",
                              .aliases = "skiff container export, skiff export",
                              .min_args = 1,
                              .max_args = 1};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  if (output == NULL && isatty(STDOUT_FILENO))
    return skiff_error_invalid(
        err, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
  cleanup_free char *path = cli_path("/containers/%s/export", args[0]);
  return cli_download(cli, path, output, "failed to export container", err);
}

/* ---- commit ---- */

/* repo and tag of "REPO[:TAG]" (a ':' after the last '/' starts the tag). */
static void split_repo_tag(const char *ref, char **repo, char **tag)
{
  const char *slash = strrchr(ref, '/');
  const char *colon = strrchr(slash ? slash : ref, ':');
  if (colon && strchr(ref, '@') == NULL) {
    *repo = strndup(ref, (size_t)(colon - ref));
    *tag = strdup(colon + 1);
  } else {
    *repo = strdup(ref);
    *tag = NULL;
  }
}

int cmd_commit(struct cli *cli, int argc, char **argv, skiff_error_t **err)
{
  const char *author = NULL, *message = NULL;
  struct strlist changes = {0};
  bool pause = true;
  struct opt opts[] = {
      {"author", 'a', OPT_STRING, &author, "string",
       "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")", NULL},
      {"change", 'c', OPT_LIST, &changes, "list",
       "Apply Dockerfile instruction to the created image", NULL},
      {"message", 'm', OPT_STRING, &message, "string", "Commit message", NULL},
      {"pause", 'p', OPT_BOOL, &pause, NULL,
       "Pause container during commit (default true)", NULL},
      {NULL, 0, 0, NULL, NULL, NULL, NULL}};
  struct command_spec spec = {.usage = "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
                              .summary =
                                  "Create a new image from a container's changes",
                              .aliases = "skiff container commit, skiff commit",
                              .min_args = 1,
                              .max_args = 2};
  cleanup_free char **args = NULL;
  int nargs = 0;
  int r = cli_parse(cli, &spec, opts, argc, argv, &args, &nargs, err);
  cleanup_free char *q = NULL;
  if (r == OPTS_OK) {
    client_query_add(&q, "container", args[0]);
    if (nargs > 1 && *args[1]) {
      cleanup_free char *repo = NULL, *tag = NULL;
      split_repo_tag(args[1], &repo, &tag);
      client_query_add(&q, "repo", repo);
      if (tag)
        client_query_add(&q, "tag", tag);
    }
    if (message)
      client_query_add(&q, "comment", message);
    if (author)
      client_query_add(&q, "author", author);
    for (size_t i = 0; i < changes.n; i++)
      client_query_add(&q, "changes", changes.items[i]);
    if (!pause)
      client_query_add(&q, "pause", "0");
  }
  strlist_free(&changes);
  if (r != OPTS_OK)
    return r == OPTS_HELP ? 0 : r;
  cleanup_free char *path = NULL;
  if (asprintf(&path, "/commit%s", q) < 0)
    return skiff_error_errno(err, "commit");
  cleanup_json json_t *answer = client_json(cli->client, "POST", path, NULL, NULL, err);
  if (answer == NULL)
    return -1;
  printf("%s\n", json_string_value(json_object_get(answer, "Id")) ?: "");
  return 0;
}
