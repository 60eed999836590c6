/* Pull: manifest (through an index for the wanted platform), config, then
 * the missing layers, several at once. Each layer streams from the
 * network through a pipe into the store's unpacker: it is decompressed,
 * hashed and unpacked as it arrives, while the compressed bytes are hashed
 * on the way in; the layer is committed only when both digests match.
 *
 *   fetch thread:  GET blob ──sha256(compressed)──▶ pipe
 *   layer worker:  pipe ──▶ image_pull_layer (gunzip/zstd, sha256, untar)
 *                  ──▶ verify: join fetch, compare digest ──▶ commit
 *
 * The image is recorded once all its layers are in; a failure anywhere
 * leaves nothing of it (the store collects the layers it committed). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/direct_writer.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "image/image.h"
#include "jobs.h"
#include "progress.h"
#include "registry_internal.h"

#define PIPE_SIZE (1024 * 1024)

#define ACCEPT_MANIFESTS                                                               \
  MEDIA_OCI_INDEX ", " MEDIA_DOCKER_LIST ", " MEDIA_OCI_MANIFEST                       \
                  ", " MEDIA_DOCKER_MANIFEST

struct puller {
  struct image_store *store;
  struct registry_client *client;
  const struct registry_ref *ref;
  struct registry_platform platform;
  bool platform_given;
  struct progress_out out;
  int max_downloads; /* layers in flight at once, 0: no limit */
};

/* ---- manifests ---- */

/* GET a manifest (by tag or digest) into *out; by digest the bytes must
 * have it. *digest_out: the digest of the bytes. */
static int fetch_manifest(struct puller *p, const char *reference, json_t **out,
                          char **bytes, size_t *len, char **type, char digest_out[72],
                          skiff_error_t **err)
{
  struct registry_get_opts opts = {.accept = ACCEPT_MANIFESTS};
  struct registry_reply reply = {0};
  if (registry_get(p->client, &opts, &reply, err, "manifests/%s", reference) < 0) {
    registry_reply_clear(&reply);
    return -1;
  }
  cleanup_free char *familiar = registry_ref_familiar_name(p->ref);
  if (reply.status != 200) {
    int r = registry_reply_error(&reply, err, "manifest for %s%s%s not found",
                                 familiar ? familiar : p->ref->name,
                                 strchr(reference, ':') ? "@" : ":", reference);
    if (reply.status == 401 || reply.status == 403)
      skiff_error_status(err, EACCES,
                         "pull access denied for %s, repository does not exist or "
                         "may require 'docker login': %s",
                         familiar ? familiar : p->ref->name, (*err)->msg);
    registry_reply_clear(&reply);
    return r;
  }
  sha256_text_of(reply.body ? reply.body : "", reply.len, digest_out);
  if (strncmp(reference, "sha256:", 7) == 0 && strcmp(reference, digest_out) != 0) {
    registry_reply_clear(&reply);
    return skiff_error_invalid(err, "manifest %s: the registry sent bytes of digest %s",
                               reference, digest_out);
  }
  json_error_t jerr;
  *out = reply.body ? json_loadb(reply.body, reply.len, 0, &jerr) : NULL;
  if (!json_is_object(*out)) {
    json_decref(*out);
    *out = NULL;
    registry_reply_clear(&reply);
    return skiff_error_invalid(err, "manifest %s: not JSON", reference);
  }
  *bytes = steal_pointer(&reply.body);
  *len = reply.len;
  *type = steal_pointer(&reply.content_type);
  registry_reply_clear(&reply);
  return 0;
}

struct manifest {
  json_t *doc;
  char *bytes;
  size_t len;
  char *type;
  char digest[72];
  char repo_digest[72]; /* what the tag named (an index, or the manifest) */
};

static void manifest_clear(struct manifest *m)
{
  json_decref(m->doc);
  free(m->bytes);
  free(m->type);
  memset(m, 0, sizeof *m);
}

static int resolve_manifest(struct puller *p, const char *reference, struct manifest *m,
                            skiff_error_t **err)
{
  if (fetch_manifest(p, reference, &m->doc, &m->bytes, &m->len, &m->type, m->digest,
                     err) < 0)
    return -1;
  memcpy(m->repo_digest, m->digest, sizeof m->digest);
  if (registry_is_index(m->type, m->doc)) {
    json_t *desc = registry_index_select(m->doc, &p->platform, err);
    cleanup_free char *digest =
        desc ? strdup(json_string_value(json_object_get(desc, "digest"))) : NULL;
    json_decref(m->doc);
    free(m->bytes);
    free(m->type);
    m->doc = NULL, m->bytes = NULL, m->type = NULL;
    if (digest == NULL)
      return -1;
    if (fetch_manifest(p, digest, &m->doc, &m->bytes, &m->len, &m->type, m->digest,
                       err) < 0)
      return -1;
  }
  return registry_manifest_check(m->doc, m->type, err);
}

/* ---- blobs in memory (the config) ---- */

static char *fetch_small_blob(struct puller *p, const char *digest, size_t *len,
                              skiff_error_t **err)
{
  struct registry_reply reply = {0};
  if (registry_get(p->client, NULL, &reply, err, "blobs/%s", digest) < 0 ||
      (reply.status != 200 &&
       registry_reply_error(&reply, err, "blob %s", digest) < 0)) {
    registry_reply_clear(&reply);
    return NULL;
  }
  char *body = steal_pointer(&reply.body);
  *len = reply.len;
  registry_reply_clear(&reply);
  return body ? body : strdup("");
}

/* ---- layers ---- */

struct layer_job {
  struct puller *p;
  struct image_pull *pull;
  size_t index;
  const char *digest; /* compressed, from the manifest */
  long long size;
  char short_id[13];
  int write_fd, read_fd;
  int blob_fd; /* the store's copy of the compressed bytes */
  struct direct_writer blob;
  struct sha256_ctx sha;
  long long got;
  long long last_report_ns;
  pthread_t fetcher;
  bool fetcher_running;
  skiff_error_t *fetch_err;
};

static int on_layer_data(const void *data, size_t len, void *arg)
{
  struct layer_job *j = arg;
  sha256_update(&j->sha, len, data);
  if (fs_write_all(j->write_fd, data, len) < 0)
    return -1; /* the unpacker stopped (EPIPE): its error tells why */
  if (direct_writer_write(&j->blob, data, len) < 0) {
    skiff_error_errno(&j->fetch_err, "write blob %s", j->digest);
    return -1;
  }
  j->got += (long long)len;
  if (progress_due(&j->last_report_ns, false))
    progress_send(&j->p->out, j->short_id, "Downloading", j->got, j->size);
  return 0;
}

static void *fetch_layer(void *arg)
{
  struct layer_job *j = arg;
  struct registry_get_opts opts = {.on_data = on_layer_data, .arg = j};
  struct registry_reply reply = {0};
  int r =
      registry_get(j->p->client, &opts, &reply, &j->fetch_err, "blobs/%s", j->digest);
  if (r == 0 && reply.status != 200)
    registry_reply_error(&reply, &j->fetch_err, "blob %s", j->digest);
  else if (j->fetch_err == NULL && direct_writer_finish(&j->blob) < 0)
    skiff_error_errno(&j->fetch_err, "write blob %s", j->digest);
  registry_reply_clear(&reply);
  close(j->write_fd);
  j->write_fd = -1;
  return NULL;
}

/* Called by the store once the unpacker has read all it will: the fetch
 * must have ended well and the bytes must have the manifest's digest. */
static int verify_layer(void *arg, skiff_error_t **err)
{
  struct layer_job *j = arg;
  /* Closing the read side first unblocks a fetcher stuck on a full pipe. */
  if (j->read_fd >= 0)
    close(j->read_fd);
  j->read_fd = -1;
  if (j->fetcher_running)
    pthread_join(j->fetcher, NULL);
  j->fetcher_running = false;
  if (j->fetch_err) {
    *err = steal_pointer(&j->fetch_err);
    return skiff_error_wrap(err, "layer %s", j->digest);
  }
  progress_send(&j->p->out, j->short_id, "Verifying Checksum", -1, -1);
  char actual[SHA256_TEXT_LEN];
  sha256_finish_text(&j->sha, actual);
  if (strcmp(actual, j->digest) != 0)
    return skiff_error_invalid(
        err,
        "failed to verify layer %s: the registry sent %lld bytes "
        "of digest %s",
        j->digest, j->got, actual);
  progress_send(&j->p->out, j->short_id, "Download complete", -1, -1);
  progress_send(&j->p->out, j->short_id, "Extracting", j->got, j->got);
  return 0;
}

static int run_layer(struct layer_job *j, skiff_error_t **err)
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0)
    return skiff_error_errno(err, "pull: pipe");
  fcntl(fds[0], F_SETPIPE_SZ, PIPE_SIZE);
  j->read_fd = fds[0];
  j->write_fd = fds[1];
  if ((j->blob_fd = image_pull_blob_fd(j->pull, j->index, err)) < 0) {
    close(fds[0]), close(fds[1]);
    return -1;
  }
  if (direct_writer_init(&j->blob, j->blob_fd) < 0) {
    close(fds[0]), close(fds[1]);
    return skiff_error_errno(err, "pull: layer %s", j->digest);
  }
  sha256_init(&j->sha);
  if (pthread_create(&j->fetcher, NULL, fetch_layer, j) != 0) {
    close(fds[0]), close(fds[1]);
    direct_writer_release(&j->blob);
    return skiff_error_set(err, ENOMEM, "pull: layer %s", j->digest);
  }
  j->fetcher_running = true;
  int r = image_pull_layer(j->pull, j->index, fds[0], j->digest, verify_layer, j, err);
  if (j->fetcher_running) { /* the unpacker failed before verify ran */
    if (j->read_fd >= 0)
      close(j->read_fd);
    j->read_fd = -1;
    pthread_join(j->fetcher, NULL);
    j->fetcher_running = false;
  }
  skiff_error_free(&j->fetch_err);
  direct_writer_release(&j->blob);
  if (r == 0)
    progress_send(&j->p->out, j->short_id, "Pull complete", -1, -1);
  return r;
}

static int pull_job(void *arg, size_t i, skiff_error_t **err)
{
  struct layer_job *jobs = arg;
  return run_layer(&jobs[i], err);
}

/* With the store's writes of every layer under way: see
 * image_pull_write_back. */
static void pull_drained(void *arg)
{
  struct layer_job *jobs = arg;
  image_pull_write_back(jobs[0].pull);
}

static int pull_layers(struct puller *p, struct image_pull *pull, json_t *layers,
                       skiff_error_t **err)
{
  size_t n = image_pull_layer_count(pull);
  if (json_array_size(layers) != n)
    return skiff_error_invalid(err,
                               "invalid manifest: %zu layers, but its config lists %zu",
                               json_array_size(layers), n);
  cleanup_free struct layer_job *jobs = calloc(n + 1, sizeof *jobs);
  if (jobs == NULL)
    return skiff_error_set(err, ENOMEM, "pull");
  struct jobs run = {
      .limit = p->max_downloads, .run = pull_job, .drained = pull_drained, .arg = jobs};
  for (size_t i = 0; i < n; i++) {
    json_t *desc = json_array_get(layers, i);
    const char *digest = json_string_value(json_object_get(desc, "digest"));
    char short_id[13];
    snprintf(short_id, sizeof short_id, "%s", digest + 7);
    if (image_pull_layer_present(pull, i)) {
      progress_send(&p->out, short_id, "Already exists", -1, -1);
      continue;
    }
    struct layer_job *j = &jobs[run.n++];
    *j = (struct layer_job){.p = p,
                            .pull = pull,
                            .index = i,
                            .digest = digest,
                            .size = json_integer_value(json_object_get(desc, "size")),
                            .read_fd = -1,
                            .write_fd = -1};
    memcpy(j->short_id, short_id, sizeof short_id);
    progress_send(&p->out, short_id, "Pulling fs layer", -1, -1);
  }
  return jobs_run(&run, err);
}

/* ---- one image ---- */

/* docker refuses a single-platform image of another platform than the
 * one asked for explicitly. */
static int check_platform(struct puller *p, const char *config, size_t len,
                          skiff_error_t **err)
{
  if (!p->platform_given)
    return 0;
  cleanup_json json_t *doc = json_loadb(config, len, 0, NULL);
  /* The config's platform as a one-entry index, matched as indexes are. */
  cleanup_json json_t *list =
      json_pack("{s:[{s:s, s:{s:s?, s:s?, s:s?}}]}", "manifests", "digest", "sha256:-",
                "platform", "os", json_string_value(json_object_get(doc, "os")),
                "architecture", json_string_value(json_object_get(doc, "architecture")),
                "variant", json_string_value(json_object_get(doc, "variant")));
  if (list && registry_index_select(list, &p->platform, NULL))
    return 0;
  cleanup_free char *want = registry_platform_format(&p->platform);
  const char *os = json_string_value(json_object_get(doc, "os"));
  const char *arch = json_string_value(json_object_get(doc, "architecture"));
  return skiff_error_invalid(err,
                             "image with reference %s was found but does not match "
                             "the specified platform: wanted %s, actual: %s/%s",
                             p->ref->name, want ? want : "?", os ? os : "?",
                             arch ? arch : "?");
}

static void report_done(struct puller *p, const char *digest, bool fresh,
                        const char *reference)
{
  cleanup_free char *digest_line = NULL, *status = NULL, *familiar = NULL;
  familiar = registry_ref_familiar_name(p->ref);
  if (asprintf(&digest_line, "Digest: %s", digest) >= 0)
    progress_send(&p->out, NULL, digest_line, -1, -1);
  if (asprintf(&status, "Status: %s %s%s%s",
               fresh ? "Downloaded newer image for" : "Image is up to date for",
               familiar ? familiar : p->ref->name,
               strncmp(reference, "sha256:", 7) == 0 ? "@" : ":", reference) >= 0)
    progress_send(&p->out, NULL, status, -1, -1);
}

static bool up_to_date(struct puller *p, const char *reference,
                       const char *config_digest, struct image_pull *pull)
{
  for (size_t i = 0; i < image_pull_layer_count(pull); i++)
    if (!image_pull_layer_present(pull, i))
      return false;
  cleanup_free char *name = NULL;
  if (asprintf(&name, "%s%s%s", p->ref->name,
               strncmp(reference, "sha256:", 7) == 0 ? "@" : ":", reference) < 0)
    return false;
  cleanup_free char *id = image_store_resolve(p->store, name, NULL);
  return id && strcmp(id, config_digest) == 0;
}

static int pull_one(struct puller *p, const char *reference, skiff_error_t **err)
{
  struct manifest m = {0};
  if (resolve_manifest(p, reference, &m, err) < 0) {
    manifest_clear(&m);
    return -1;
  }
  cleanup_free char *from = NULL;
  if (asprintf(&from, "Pulling from %s", p->client->path) >= 0)
    progress_send(&p->out, reference, from, -1, -1);
  json_t *config_desc = json_object_get(m.doc, "config");
  const char *config_digest = json_string_value(json_object_get(config_desc, "digest"));
  size_t config_len = 0;
  cleanup_free char *config = fetch_small_blob(p, config_digest, &config_len, err);
  struct image_pull *pull = NULL;
  if (config && check_platform(p, config, config_len, err) == 0)
    pull = image_pull_begin(p->store, config, config_len, config_digest, err);
  bool fresh = pull && !up_to_date(p, reference, config_digest, pull);
  int r = -1;
  if (pull &&
      (!fresh || pull_layers(p, pull, json_object_get(m.doc, "layers"), err) == 0)) {
    bool by_digest = strncmp(reference, "sha256:", 7) == 0;
    cleanup_free char *id =
        image_pull_finish(pull, p->ref->name, by_digest ? NULL : reference,
                          m.repo_digest, m.bytes, m.len, err);
    if (id) {
      report_done(p, m.repo_digest, fresh, reference);
      r = 0;
    }
  }
  image_pull_free(pull);
  manifest_clear(&m);
  return r;
}

/* ---- tags ---- */

static json_t *list_tags(struct puller *p, skiff_error_t **err)
{
  struct registry_reply reply = {0};
  if (registry_get(p->client, NULL, &reply, err, "tags/list") < 0) {
    registry_reply_clear(&reply);
    return NULL;
  }
  json_t *tags = NULL;
  if (reply.status != 200) {
    registry_reply_error(&reply, err, "list the tags of %s", p->ref->name);
  } else {
    cleanup_json json_t *doc =
        json_loadb(reply.body ? reply.body : "", reply.len, 0, NULL);
    tags = json_incref(json_object_get(doc, "tags"));
    if (!json_is_array(tags)) {
      json_decref(tags);
      tags = NULL;
      skiff_error_invalid(err, "%s has no tags", p->ref->name);
    }
  }
  registry_reply_clear(&reply);
  return tags;
}

static int pull_all_tags(struct puller *p, skiff_error_t **err)
{
  cleanup_json json_t *tags = list_tags(p, err);
  if (tags == NULL)
    return -1;
  size_t i;
  json_t *tag;
  json_array_foreach(tags, i, tag)
  {
    if (json_string_value(tag) && pull_one(p, json_string_value(tag), err) < 0)
      return -1;
  }
  return 0;
}

/* ---- endpoints ---- */

/* Docker Hub's mirrors first (when configured), then the registry itself.
 * A mirror that fails is skipped, as dockerd does. */
static int pull_from(struct puller *p, const struct registry_config *cfg,
                     const char *endpoint, const struct registry_auth *auth,
                     bool all_tags, skiff_error_t **err)
{
  p->client =
      registry_client_new(cfg, p->ref->host, endpoint, p->ref->path, "pull", auth, err);
  if (p->client == NULL)
    return -1;
  int r = registry_client_ping(p->client, err);
  if (r == 0 && all_tags)
    r = pull_all_tags(p, err);
  else if (r == 0)
    r = pull_one(p, p->ref->digest ? p->ref->digest : p->ref->tag, err);
  registry_client_free(p->client);
  p->client = NULL;
  return r;
}

int registry_pull(struct image_store *store, const struct registry_config *cfg,
                  const char *text, const char *platform, bool all_tags,
                  const struct registry_auth *auth,
                  const struct registry_progress *progress, skiff_error_t **err)
{
  struct registry_ref ref;
  if (registry_ref_parse(text, &ref, err) < 0)
    return -1;
  struct puller p = {.store = store,
                     .ref = &ref,
                     .platform_given = platform && *platform,
                     .max_downloads =
                         cfg ? cfg->max_downloads : REGISTRY_DEFAULT_DOWNLOADS};
  progress_out_init(&p.out, progress);
  int r = registry_platform_parse(platform, &p.platform, err);
  const char *last = strrchr(text, '/');
  if (r == 0 && all_tags && (ref.digest || strchr(last ? last : text, ':')))
    r = skiff_error_invalid(err, "tag can't be used with --all-tags/-a");
  bool done = false;
  size_t i;
  json_t *mirror;
  if (r == 0 && strcmp(ref.host, DOCKER_HUB) == 0 && cfg)
    json_array_foreach(cfg->mirrors, i, mirror)
    {
      skiff_error_t *skipped = NULL;
      if (!done && json_string_value(mirror) &&
          pull_from(&p, cfg, json_string_value(mirror), NULL, all_tags, &skipped) == 0)
        done = true;
      skiff_error_free(&skipped);
    }
  if (r == 0 && !done)
    r = pull_from(&p, cfg, NULL, auth, all_tags, err);
  registry_platform_clear(&p.platform);
  progress_out_destroy(&p.out);
  registry_ref_clear(&ref);
  return r;
}
