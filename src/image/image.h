/* The local image store under <data-root>: content-addressed blobs
 * (blobs/sha256/<hex>, verified on write), unpacked read-only layers
 * (layers/<chain-id>/diff), image configs, and the tags
 * (repositories.json). Every metadata file is written atomically and
 * durably; a crash leaves the old or the new state. Thread-safe: API
 * handlers call it from many connection threads. */
#ifndef SKIFF_IMAGE_IMAGE_H
#define SKIFF_IMAGE_IMAGE_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"

struct image_store;

struct image_store *image_store_open(const char *data_root, skiff_error_t **err);
void image_store_close(struct image_store *store);

/* Normalise a reference as docker does: "busybox" → "docker.io/library/
 * busybox:latest", "host:5000/a/b@sha256:..." kept. New string; an invalid
 * reference is an error naming it ("invalid reference format: ..."). */
char *image_reference_normalize(const char *ref, skiff_error_t **err);

/* The short form docker shows ("busybox:latest", "host:5000/a/b:tag"). */
char *image_reference_familiar(const char *normalized);

/* The image id ("sha256:<hex>") that a name, a tag, a digest reference or
 * an id or unique id prefix denotes. ENOENT: "No such image: NAME". */
char *image_store_resolve(struct image_store *store, const char *name,
                          skiff_error_t **err);

/* The image's config (the OCI/docker image config JSON: config, rootfs,
 * history, architecture, os, created). New reference. */
json_t *image_store_config(struct image_store *store, const char *id,
                           skiff_error_t **err);

/* docker import: the tar read from tar_fd is the single layer of a new
 * image (gzip, zstd or plain, detected). changes are Dockerfile
 * instructions (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR)
 * applied to the config; message goes to the history. Tagged with
 * reference when not NULL. Returns the new id. */
char *image_store_import(struct image_store *store, int tar_fd, const char *reference,
                         const char *const *changes, const char *message,
                         skiff_error_t **err);

/* GET /images/json: docker's ImageSummary list. filters: docker's
 * filters object (dangling, reference, label, before, since). */
json_t *image_store_list(struct image_store *store, bool all, json_t *filters,
                         skiff_error_t **err);

/* GET /images/{name}/json: docker's ImageInspect. */
json_t *image_store_inspect(struct image_store *store, const char *name,
                            skiff_error_t **err);

/* GET /images/{name}/history. */
json_t *image_store_history(struct image_store *store, const char *name,
                            skiff_error_t **err);

/* Tag the image named source as repo[:tag] (tag default "latest"). */
int image_store_tag(struct image_store *store, const char *source, const char *repo,
                    const char *tag, skiff_error_t **err);

/* DELETE /images/{name}: untag, and delete when no tag is left (or when
 * name is an id: every tag needs force). in_use(id, arg) tells whether a
 * container uses the image (then EBUSY/409 unless force, as docker). Returns
 * docker's [{"Untagged":...},{"Deleted":...}]. */
json_t *image_store_remove(struct image_store *store, const char *name, bool force,
                           bool (*in_use)(const char *id, void *arg), void *arg,
                           skiff_error_t **err);

/* docker save: a tar (docker's format: manifest.json, repositories,
 * <id>.json, layer tars; also index.json/oci-layout as docker 25+) of the
 * named images, written to out_fd. */
int image_store_save(struct image_store *store, const char *const *names, int out_fd,
                     skiff_error_t **err);

/* docker load: a docker save archive or an OCI image layout tar from tar_fd.
 * Returns the loaded names/ids as docker's "Loaded image: ..." strings. */
json_t *image_store_load(struct image_store *store, int tar_fd, skiff_error_t **err);

/* Remove dangling images (all unused ones with all_unused); returns docker's
 * {ImagesDeleted, SpaceReclaimed}. */
json_t *image_store_prune(struct image_store *store, bool all_unused,
                          bool (*in_use)(const char *id, void *arg), void *arg,
                          skiff_error_t **err);

/* The image part of GET /system/df: a list of ImageSummary with sizes. */
json_t *image_store_df(struct image_store *store, skiff_error_t **err);

/* A container's root file system: make <dir>/diff and <dir>/work and record
 * the image's layers (lowest first) in <dir>/lower, written with
 * write_flags (FS_WRITE_DURABLE, or 0 for a container that is thrown away
 * with its daemon's next start anyway). */
int image_snapshot_prepare(struct image_store *store, const char *image_id,
                           const char *dir, unsigned write_flags, skiff_error_t **err);

enum image_snapshot_flags {
  /* Mount with overlayfs' "volatile": no sync of the upper file system,
   * neither for the container's fsyncs nor at unmount, when overlayfs
   * otherwise syncs the whole file system the upper directory is on (and
   * waits for it). For a snapshot a crash of the machine may spoil, since
   * it is thrown away: the caller knows that no crash happened since an
   * earlier volatile mount of it (the mark that mount left is cleared). */
  IMAGE_SNAPSHOT_VOLATILE = 1,
};

/* Mount the snapshot in dir (overlayfs: lower layers + dir/diff) on
 * target, with flags (enum image_snapshot_flags). */
int image_snapshot_mount(const char *dir, const char *target, unsigned flags,
                         skiff_error_t **err);

/* Unmount target (lazily when busy). Not mounted is not an error. */
int image_snapshot_unmount(const char *target, skiff_error_t **err);

/* The files a container changed: docker's diff list [{Path, Kind}] with
 * Kind 0 modified, 1 added, 2 deleted (whiteouts). */
json_t *image_snapshot_changes(const char *dir, skiff_error_t **err);

/* Size of the container's writable layer in bytes (for ps --size, df). */
long long image_snapshot_size(const char *dir);

/* ---- docker diff and docker commit (snapshot.c, commit.c) ---- */

/* Whether path ("/etc/hosts") is a mount point the runtime makes in a
 * container's rw layer (docker keeps them in an init layer below it):
 * diff and commit leave these out. */
bool image_snapshot_is_init_path(const char *path);

/* What docker commit makes from a container. */
struct image_commit {
  const char *image_id;       /* the container's image: the parent */
  json_t *config;             /* the container config the new image starts from */
  const char *const *changes; /* Dockerfile instructions applied to it (-c) */
  const char *comment;        /* -m: history comment and "comment" */
  const char *author;         /* -a */
  const char *container_id;
  const char *created_by; /* the container's command, for the history */
  const char *reference;  /* repo[:tag] to tag it with, or NULL */
};

/* Check a commit's reference and changes before any work (EINVAL naming
 * what is wrong). Sets *normalized (new string, NULL without reference). */
int image_commit_check(const struct image_commit *c, char **normalized,
                       skiff_error_t **err);

/* docker commit: the layer tar read from tar_fd (the container's rw layer,
 * docker's whiteouts) becomes a new layer on top of the image's, verified
 * by digest on its way into the store, with the config the commit
 * describes. Returns the new image id ("sha256:..."). */
char *image_store_commit(struct image_store *store, int tar_fd,
                         const struct image_commit *c, skiff_error_t **err);
/* ---- registries: what pull and push need of the store (pull.c) ---- */

struct image_pull;

/* Begin recording an image pulled from a registry, from its config as the
 * registry served it (checked against config_digest). Layers the store has
 * already are pinned and count as present. NULL on error. */
struct image_pull *image_pull_begin(struct image_store *store, const void *config,
                                    size_t len, const char *config_digest,
                                    skiff_error_t **err);

/* The image's layers (lowest first): how many, whether layer i is already
 * in the store, and its diff id. */
size_t image_pull_layer_count(const struct image_pull *p);
bool image_pull_layer_present(const struct image_pull *p, size_t i);
const char *image_pull_diff_id(const struct image_pull *p, size_t i);

/* A file (owned by p) into which the caller writes the compressed blob of
 * layer i as it streams it: kept in the store in place of the layer's
 * uncompressed tar (less to write; push sends it back unchanged). */
int image_pull_blob_fd(struct image_pull *p, size_t i, skiff_error_t **err);

/* Unpack layer i from the stream fd (gzip, zstd or plain) to its end, call
 * verify(arg) (the caller's check of what it streamed, e.g. the compressed
 * digest, which blob_digest names), check the diff id, and only then commit
 * the layer (with its blob when image_pull_blob_fd gave a file). Safe to
 * call for different layers from several threads at once. */
int image_pull_layer(struct image_pull *p, size_t i, int fd, const char *blob_digest,
                     int (*verify)(void *arg, skiff_error_t **err), void *arg,
                     skiff_error_t **err);

/* Write back what the pull has written so far and wait for it: for a
 * layer worker with no layer left to take, so that the disk writes while
 * the other layers are still being unpacked and image_pull_finish's sync
 * finds little left to do. Errors are left to that sync. */
void image_pull_write_back(struct image_pull *p);

/* Record the image once every layer is present, tagged repository:tag
 * (normalized name; tag may be NULL) and repository@repo_digest (the
 * digest the tag named: of the index for a multi-platform image; NULL for
 * the manifest's own). The image's manifest is kept for push. Returns the
 * image id (new string). */
char *image_pull_finish(struct image_pull *p, const char *repository, const char *tag,
                        const char *repo_digest, const void *manifest, size_t len,
                        skiff_error_t **err);

/* docker's name of this machine's architecture ("amd64", "arm64"). */
const char *image_host_arch(void);

/* Release a pull; an unfinished one leaves nothing behind. */
void image_pull_free(struct image_pull *p);

/* Distribution metadata (as docker's v2metadata): the compressed blobs known
 * to hold a layer ([{"Digest", "SourceRepository", "MediaType"}], newest
 * first; a new reference, empty when none), and remembering one more
 * (media_type may be NULL). */
json_t *image_dist_sources(struct image_store *store, const char *diff_id);
int image_dist_add_source(struct image_store *store, const char *diff_id,
                          const char *digest, const char *repository,
                          const char *media_type, skiff_error_t **err);

/* Keep a manifest's bytes under their digest (written to digest); read one
 * back (NULL when unknown). */
int image_dist_save_manifest(struct image_store *store, const void *manifest,
                             size_t len, char digest[72], skiff_error_t **err);
char *image_dist_manifest(struct image_store *store, const char *digest, size_t *len);

/* ---- registries: what push reads (push.c) ---- */

struct image_push_layer {
  char *diff_id;    /* "sha256:..." */
  char *compressed; /* a pulled layer: its blob's digest; NULL otherwise */
  int fd;           /* that blob, else the uncompressed tar, open for reading */
  long long size;   /* of what fd reads */
};

struct image_push_source {
  char *id;
  char *config; /* the config's bytes, exactly as stored */
  size_t config_len;
  struct image_push_layer *layers; /* lowest first */
  size_t n_layers;
  json_t *refs; /* the image's normalized references */
};

/* The image named name, ready to send: config bytes and open layer tars.
 * ENOENT "No such image". Release with image_push_source_clear. */
int image_push_source(struct image_store *store, const char *name,
                      struct image_push_source *out, skiff_error_t **err);
void image_push_source_clear(struct image_push_source *src);

/* The tags of a normalized repository name ("docker.io/library/busybox"),
 * as a new array of strings. */
json_t *image_store_repository_tags(struct image_store *store, const char *repository);

/* Name image id by reference ("name@sha256:...", normalized), as a push
 * does once the registry has the manifest. */
int image_store_add_digest_ref(struct image_store *store, const char *id,
                               const char *reference, skiff_error_t **err);

#endif
