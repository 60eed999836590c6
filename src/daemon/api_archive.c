/* The endpoints on a container's files, in dockerd's shapes:
 *   HEAD/GET/PUT /containers/{id}/archive   docker cp (stat, tar out, tar in)
 *   GET /containers/{id}/export             docker export
 *   GET /containers/{id}/changes            docker diff
 *   POST /commit                            docker commit
 * The file work is copy.c's and src/image's; this file maps requests,
 * status codes (404 no such container or file, 400 bad input) and events. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "containers.h"
#include "copy.h"
#include "create_request.h"
#include "daemon.h"
#include "http.h"
#include "image/image.h"
#include "router.h"

#define MAX_CHANGES 256

static void respond_error(struct http_response *resp, skiff_error_t **err)
{
  http_respond_skiff_error(resp, *err);
  skiff_error_free(err);
}

/* A missing path is docker's containerFileNotFound; EROFS and the other
 * refusals of the extraction point are bad parameters (400, as dockerd's
 * errdefs.InvalidParameter). */
static void respond_path_error(struct http_response *resp, skiff_error_t **err,
                               const char *path, const char *container)
{
  if ((*err)->status == ENOENT || (*err)->status == ENOTDIR)
    http_respond_error(resp, 404, "Could not find the file %s in container %s", path,
                       container);
  else if ((*err)->status == EROFS)
    http_respond_error(resp, 400, "%s", (*err)->msg);
  else
    http_respond_skiff_error(resp, *err);
  skiff_error_free(err);
}

static const char *archive_path(struct http_request *req, struct http_response *resp)
{
  const char *path = http_request_query(req, "path");
  if (path == NULL || *path == '\0')
    http_respond_error(resp, 400,
                       "bad parameter: pathcannot be empty"); /* sic, dockerd */
  return path && *path ? path : NULL;
}

static int stream_sink(const void *data, size_t len, void *arg)
{
  return http_stream_write(arg, data, len);
}

/* ---- HEAD/GET /containers/{id}/archive ---- */

static void set_stat_header(struct http_response *resp, json_t *stat)
{
  cleanup_free char *text = json_dumps(stat, JSON_COMPACT);
  size_t len = text ? strlen(text) : 0;
  cleanup_free char *b64 = text ? base64_encode(text, len, false) : NULL;
  if (b64)
    http_response_header(resp, "X-Docker-Container-Path-Stat", b64);
}

static void h_archive_get(struct daemon *d, struct http_request *req,
                          struct http_response *resp)
{
  const char *path = archive_path(req, resp), *name = http_request_param(req, 0);
  struct container_fs fs;
  skiff_error_t *err = NULL;
  if (path == NULL)
    return;
  if (containers_fs_acquire(d->containers, name, &fs, &err) < 0)
    return respond_error(resp, &err);
  cleanup_json json_t *stat = copy_stat_path(fs.rootfd, path, &err);
  if (stat == NULL) {
    respond_path_error(resp, &err, path, name);
  } else if (set_stat_header(resp, stat),
             strcmp(http_request_method(req), "HEAD") == 0) {
    http_respond_empty(resp, 200);
  } else {
    containers_publish_event(d->containers, fs.id, "archive-path", NULL);
    struct copy_sink sink = {stream_sink, resp};
    if (http_stream_begin(resp, 200, "application/x-tar") == 0 &&
        copy_tar_path(fs.rootfd, path, &sink, &err) < 0 && !http_client_gone(resp))
      log_warn("archive %s of %.12s: %s", path, fs.id, err->msg);
    skiff_error_free(&err);
  }
  containers_fs_release(d->containers, &fs);
}

/* ---- PUT /containers/{id}/archive ---- */

static int extract_options(struct http_request *req, struct container_fs *fs,
                           struct copy_extract_opts *o, skiff_error_t **err)
{
  *o = (struct copy_extract_opts){.no_overwrite_dir_non_dir = http_request_query_bool(
                                      req, "noOverwriteDirNonDir", false)};
  const char *user =
      json_string_value(json_object_get(json_object_get(fs->record, "Config"), "User"));
  /* copyUIDGID: everything owned by the container's User (when it has one). */
  if (!http_request_query_bool(req, "copyUIDGID", false) || user == NULL ||
      *user == '\0')
    return 0;
  o->chown_to = true;
  return copy_lookup_user(fs->rootfd, user, &o->uid, &o->gid, err);
}

static int extract(struct daemon *d, struct http_request *req,
                   struct http_response *resp, struct container_fs *fs,
                   const char *path, skiff_error_t **err)
{
  cleanup_free char *dest =
      copy_extract_target(fs->rootfd, path, fs->readonly_rootfs, err);
  struct copy_extract_opts opts;
  if (dest == NULL || extract_options(req, fs, &opts, err) < 0)
    return -1;
  cleanup_free char *spool_dir = NULL;
  if (asprintf(&spool_dir, "%s/tmp", d->config.data_root) < 0)
    return skiff_error_set(err, ENOMEM, "extract");
  off_t size;
  cleanup_close int fd = copy_spool(http_request_body_fd(req), spool_dir, &size, err);
  if (fd < 0)
    return -1;
  if (http_client_gone(resp)) /* the body was cut short: keep nothing */
    return skiff_error_set(err, ECONNRESET, "the client went away");
  return copy_extract(fs->rootfd, dest, fd, &opts, err);
}

static void h_archive_put(struct daemon *d, struct http_request *req,
                          struct http_response *resp)
{
  const char *path = archive_path(req, resp), *name = http_request_param(req, 0);
  struct container_fs fs;
  skiff_error_t *err = NULL;
  if (path == NULL)
    return;
  if (containers_fs_acquire(d->containers, name, &fs, &err) < 0)
    return respond_error(resp, &err);
  if (extract(d, req, resp, &fs, path, &err) < 0) {
    respond_path_error(resp, &err, path, name);
  } else {
    containers_publish_event(d->containers, fs.id, "extract-to-dir", NULL);
    http_respond_empty(resp, 200);
  }
  containers_fs_release(d->containers, &fs);
}

/* ---- GET /containers/{id}/export, /changes ---- */

static void h_export(struct daemon *d, struct http_request *req,
                     struct http_response *resp)
{
  struct container_fs fs;
  skiff_error_t *err = NULL;
  if (containers_fs_acquire(d->containers, http_request_param(req, 0), &fs, &err) < 0)
    return respond_error(resp, &err);
  containers_publish_event(d->containers, fs.id, "export", NULL);
  struct copy_sink sink = {stream_sink, resp};
  if (http_stream_begin(resp, 200, "application/x-tar") == 0 &&
      copy_tar_tree(fs.layerfd, &sink, &err) < 0 && !http_client_gone(resp))
    log_warn("export of %.12s: %s", fs.id, err->msg);
  skiff_error_free(&err);
  containers_fs_release(d->containers, &fs);
}

static void h_changes(struct daemon *d, struct http_request *req,
                      struct http_response *resp)
{
  struct container_fs fs;
  skiff_error_t *err = NULL;
  if (containers_fs_acquire(d->containers, http_request_param(req, 0), &fs, &err) < 0)
    return respond_error(resp, &err);
  json_t *changes = image_snapshot_changes(fs.snapshot, &err);
  containers_fs_release(d->containers, &fs);
  if (changes == NULL)
    return respond_error(resp, &err);
  http_respond_json(resp, 200, changes);
}

/* ---- POST /commit ---- */

static int file_sink(const void *data, size_t len, void *arg)
{
  return fs_write_all(*(int *)arg, data, len);
}

/* The rw layer as a tar, written whole to an unlinked file first (a tar
 * that failed half-way must never become a layer), then stored. */
static char *commit_layer(struct daemon *d, struct container_fs *fs,
                          const struct image_commit *c, skiff_error_t **err)
{
  cleanup_free char *upper = NULL, *tmp = NULL;
  if (asprintf(&upper, "%s/diff", fs->snapshot) < 0 ||
      asprintf(&tmp, "%s/tmp", d->config.data_root) < 0)
    return skiff_error_set(err, ENOMEM, "commit"), NULL;
  cleanup_close int upperfd = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (upperfd < 0 || fd < 0)
    return skiff_error_errno(err, "commit: open %s", upperfd < 0 ? upper : tmp), NULL;
  struct copy_sink sink = {file_sink, &fd};
  if (copy_tar_layer(upperfd, &sink, err) < 0)
    return NULL;
  if (lseek(fd, 0, SEEK_SET) < 0)
    return skiff_error_errno(err, "commit"), NULL;
  return image_store_commit(d->images, fd, c, err);
}

/* The config of the new image: the request's (when given) completed by
 * the container's, as dockerd's merge does. New reference. */
static json_t *commit_config(struct http_request *req, json_t *record,
                             skiff_error_t **err)
{
  size_t len = 0;
  const char *text = http_request_body(req, &len);
  cleanup_json json_t *body = create_request_parse_config(text, len, err);
  if (body == NULL && *err)
    return NULL;
  if (body && !json_is_object(body) && !json_is_null(body)) {
    skiff_error_invalid(err,
                        "json: cannot unmarshal %s into Go value of type "
                        "container.Config",
                        jsonutil_type_name(body));
    return NULL;
  }
  json_t *config = json_object();
  const char *key;
  json_t *v;
  json_object_foreach(json_is_object(body) ? body : NULL, key, v) if (!json_is_null(v))
      json_object_set(config, key, v);
  json_object_update_missing(config, json_object_get(record, "Config"));
  return config;
}

static char *command_text(json_t *config)
{
  size_t len = 0;
  char *text = NULL;
  FILE *f = open_memstream(&text, &len);
  size_t i;
  json_t *arg;
  json_array_foreach(json_object_get(config, "Cmd"), i, arg)
      fprintf(f, "%s%s", i ? " " : "", json_string_value(arg) ?: "");
  fclose(f);
  return text;
}

static char *commit_reference(struct http_request *req)
{
  const char *repo = http_request_query(req, "repo"),
             *tag = http_request_query(req, "tag");
  char *ref = NULL;
  if (repo == NULL || *repo == '\0')
    return NULL;
  if (asprintf(&ref, "%s%s%s", repo, tag && *tag ? ":" : "", tag && *tag ? tag : "") <
      0)
    return NULL;
  return ref;
}

/* Pause a running container for the commit (docker's default); returns
 * whether this call paused it. */
static bool pause_for_commit(struct daemon *d, struct http_request *req,
                             struct container_fs *fs)
{
  const char *q = http_request_query(req, "pause");
  bool want = q == NULL || *q == '\0' || http_request_query_bool(req, "pause", true);
  json_t *state = json_object_get(fs->record, "State");
  if (!want || !json_is_true(json_object_get(state, "Running")) ||
      json_is_true(json_object_get(state, "Paused")))
    return false;
  skiff_error_t *err = NULL;
  bool paused = containers_pause(d->containers, fs->id, true, &err) == 0;
  skiff_error_free(&err);
  return paused;
}

static void publish_commit(struct daemon *d, struct container_fs *fs, const char *id,
                           const struct image_commit *c, const char *norm)
{
  cleanup_free char *familiar = norm ? image_reference_familiar(norm) : NULL;
  containers_publish_event(d->containers, fs->id, "commit",
                           json_pack("{s:s, s:s, s:s}", "comment", c->comment ?: "",
                                     "imageID", id, "imageRef", familiar ?: ""));
}

static void do_commit(struct daemon *d, struct http_request *req,
                      struct http_response *resp, struct container_fs *fs,
                      struct image_commit *c)
{
  skiff_error_t *err = NULL;
  cleanup_json json_t *config = commit_config(req, fs->record, &err);
  cleanup_free char *norm = NULL, *created_by = NULL;
  if (config == NULL || image_commit_check(c, &norm, &err) < 0)
    return respond_error(resp, &err);
  c->config = config;
  c->container_id = fs->id;
  c->image_id = json_string_value(json_object_get(fs->record, "Image"));
  c->created_by = created_by = command_text(json_object_get(fs->record, "Config"));
  bool paused = pause_for_commit(d, req, fs);
  cleanup_free char *id = commit_layer(d, fs, c, &err);
  if (paused)
    containers_pause(d->containers, fs->id, false, NULL);
  if (id == NULL)
    return respond_error(resp, &err);
  publish_commit(d, fs, id, c, norm);
  http_respond_json(resp, 201, json_pack("{s:s}", "Id", id));
}

static void h_commit(struct daemon *d, struct http_request *req,
                     struct http_response *resp)
{
  const char *container = http_request_query(req, "container");
  const char *changes[MAX_CHANGES + 1] = {0};
  for (unsigned i = 0; i < MAX_CHANGES; i++)
    if ((changes[i] = http_request_query_at(req, "changes", i)) == NULL)
      break;
  cleanup_free char *ref = commit_reference(req);
  struct image_commit c = {.changes = changes,
                           .comment = http_request_query(req, "comment"),
                           .author = http_request_query(req, "author"),
                           .reference = ref};
  struct container_fs fs;
  skiff_error_t *err = NULL;
  if (containers_fs_acquire(d->containers, container ? container : "", &fs, &err) < 0)
    return respond_error(resp, &err);
  do_commit(d, req, resp, &fs, &c);
  containers_fs_release(d->containers, &fs);
}

const struct api_route api_archive_routes[] = {
    {"GET", "/containers/{id}/archive", h_archive_get, false},
    {"PUT", "/containers/{id}/archive", h_archive_put, true},
    {"GET", "/containers/{id}/export", h_export, false},
    {"GET", "/containers/{id}/changes", h_changes, false},
    {"POST", "/commit", h_commit, false},
    {NULL},
};
