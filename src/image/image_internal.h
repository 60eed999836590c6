/* What the files of src/image share and nobody else sees: the store's
 * in-memory state and the helpers each file exports to the others.
 *
 * Locking: store->lock guards every field of struct image_store (the image
 * list, the tags, the pins). Functions named *_locked expect it held. Slow
 * work (unpacking a layer, streaming a save) runs without it: a layer being
 * unpacked lives under tmp/ until it is committed under the lock, and is
 * pinned from then until the image that uses it is recorded, so that a
 * concurrent garbage collection cannot take it away. */
#ifndef SKIFF_IMAGE_INTERNAL_H
#define SKIFF_IMAGE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "image.h"

#define DIGEST_HEX_LEN 64
/* "sha256:" + 64 hex + NUL */
#define DIGEST_STR_LEN (7 + DIGEST_HEX_LEN + 1)

struct image_record {
  char *id;         /* "sha256:<hex>" = sha256 of config_bytes */
  json_t *config;   /* parsed config */
  char **chain_ids; /* hex chain ids of the layers, lowest first */
  char **diff_ids;  /* "sha256:<hex>", lowest first */
  size_t n_layers;
  long long size;      /* sum of the layers' unpacked sizes */
  char *parent;        /* "sha256:..." (builds) or NULL */
  char *last_tag_time; /* RFC 3339, or NULL */
};

struct image_store {
  char *root;   /* data root */
  char *blobs;  /* <root>/blobs/sha256 */
  char *layers; /* <root>/layers */
  char *images; /* <root>/images */
  char *tmp;    /* <root>/tmp: work in progress, emptied on open */
  pthread_mutex_t lock;
  struct image_record **recs;
  size_t n_recs;
  json_t *tags; /* normalized reference -> image id */
  json_t *pins; /* chain id hex -> count of operations holding it */
};

/* ---- digests (store.c) ---- */

/* sha256 of data as "sha256:<hex>" into out. */
void digest_of(const void *data, size_t len, char out[DIGEST_STR_LEN]);
/* Whether s is "sha256:" + 64 lowercase hex. */
bool digest_valid(const char *s);
/* The hex part of a "sha256:<hex>" digest (s itself when no prefix). */
const char *digest_hex(const char *s);
/* ChainID(parent, diff_id) as "sha256:<hex>" (parent NULL: the diff id). */
void digest_chain(const char *parent_chain, const char *diff_id,
                  char out[DIGEST_STR_LEN]);

/* ---- store.c ---- */

/* <blobs>/<hex of digest>; new string. */
char *store_blob_path(struct image_store *s, const char *digest);
/* Write a blob from memory, named by its sha256. When expect is not NULL
 * the content must have that digest (EINVAL otherwise). */
int store_put_blob(struct image_store *s, const void *data, size_t len,
                   const char *expect, char out[DIGEST_STR_LEN], skiff_error_t **err);
struct image_record *store_find_locked(struct image_store *s, const char *id);
/* Resolve a name to a record. */
struct image_record *store_resolve_locked(struct image_store *s, const char *name,
                                          skiff_error_t **err);
/* Record a new image whose config blob and layers are committed (and
 * pinned). Idempotent: an existing id is kept. Returns the record. */
struct image_record *store_add_image_locked(struct image_store *s, const char *id,
                                            const char *parent, skiff_error_t **err);
/* Point normalized reference at id (moving it from any other image). */
int store_set_tag_locked(struct image_store *s, const char *ref, const char *id,
                         skiff_error_t **err);
/* Set the image's LastTagTime to now and save its record. */
int store_touch_tagged_locked(struct image_store *s, struct image_record *rec,
                              skiff_error_t **err);
int store_remove_tag_locked(struct image_store *s, const char *ref,
                            skiff_error_t **err);
/* The normalized references of an image, tags then digests; new array. */
json_t *store_refs_of_locked(struct image_store *s, const char *id);
/* Forget an image (record file, config blob) and free its record. */
int store_delete_image_locked(struct image_store *s, struct image_record *rec,
                              skiff_error_t **err);
/* Remove layers and layer blobs no image uses and no operation pins; adds
 * the removed chain ids to removed (when not NULL), the bytes to *freed. */
void store_gc_locked(struct image_store *s, json_t *removed, long long *freed);
void store_pin_locked(struct image_store *s, const char *chain_hex);
void store_unpin_locked(struct image_store *s, const char *chain_hex);
/* Whether another image names rec as parent. */
bool store_has_children_locked(struct image_store *s, const struct image_record *rec);
/* Current time as RFC 3339 with nanoseconds, UTC; new string. */
char *store_now_rfc3339(void);
/* Parse RFC 3339 ("2024-01-02T03:04:05.123Z", offsets allowed) to unix
 * seconds; 0 when unparsable. */
long long store_parse_time(const char *text);

/* ---- reference.c ---- */

/* Split a normalized reference into its name, tag and digest (new strings,
 * NULL when absent). */
void reference_split(const char *normalized, char **name, char **tag, char **digest);
/* Whether s looks like an image id or id prefix ("sha256:" optional). */
bool reference_is_id_prefix(const char *s);

/* ---- layer.c ---- */

struct layer_unpacked {
  char *dir;      /* tmp dir holding diff/ (and, once committed, nothing) */
  char *tar_path; /* the uncompressed tar, to become the layer blob, or NULL */
  char diff_id[DIGEST_STR_LEN];
  long long size;     /* bytes of regular files */
  long long tar_size; /* bytes of the uncompressed tar */
  /* Without tar_path (a pull): the compressed blob, set by the caller, to
   * be committed as blobs/<blob_digest> (pull.c). */
  char *blob_path;
  char blob_digest[DIGEST_STR_LEN];
};

/* Read a layer tar (plain, gzip, zstd, xz, bzip2) from fd and unpack it
 * under tmp_root, converting docker whiteouts to overlayfs ones. Rejects
 * absolute paths, "..", paths through symlinks and hard links leaving the
 * layer. On error nothing is left behind. */
int layer_unpack(const char *tmp_root, int fd, struct layer_unpacked *out,
                 skiff_error_t **err);
/* The same; without keep_tar the uncompressed tar is only hashed (a pulled
 * layer keeps its compressed blob instead) and nothing is synced: the
 * caller syncs the file system before an image refers to the layer (until
 * then a crash leaves it unreferenced, and the next open collects it). */
int layer_unpack_opts(const char *tmp_root, int fd, bool keep_tar,
                      struct layer_unpacked *out, skiff_error_t **err);
/* The layer's uncompressed tar, open for reading from its start: its blob,
 * or for a pulled layer its compressed blob decompressed into an unlinked
 * file of tmp/. */
int layer_open_tar(struct image_store *s, const char *chain_hex, const char *diff_id,
                   skiff_error_t **err);
/* The compressed blob a pulled layer keeps ("sha256:..."), or NULL. New. */
char *layer_compressed_digest(struct image_store *s, const char *chain_hex);
/* Remove what a layer_unpack left in tmp and free the strings. */
void layer_unpacked_discard(struct layer_unpacked *u);
/* Move an unpacked layer into the store as the child of parent_chain (hex,
 * NULL for a base layer), pinned. chain_hex receives the chain id. */
int layer_commit_locked(struct image_store *s, struct layer_unpacked *u,
                        const char *parent_chain, char chain_hex[DIGEST_HEX_LEN + 1],
                        skiff_error_t **err);
/* The unpacked size recorded for a layer; 0 when unknown. */
long long layer_size(struct image_store *s, const char *chain_hex);

/* ---- config.c ---- */

/* The config of an imported image: one layer diff_id, the changes applied,
 * message in comment and history. New reference. */
json_t *config_new_import(const char *diff_id, const char *const *changes,
                          const char *message, skiff_error_t **err);
/* Check changes without applying them (for validation before any work). */
int config_check_changes(const char *const *changes, skiff_error_t **err);
/* Apply Dockerfile instructions (CMD, ENV, ...) to a container config
 * object ("config" of an image config). */
int config_apply_changes(json_t *container_config, const char *const *changes,
                         skiff_error_t **err);
/* docker's GOARCH name of this machine ("amd64", "arm64"). */
const char *config_host_arch(void);
/* The diff ids of a config (rootfs.diff_ids) as a validated vector;
 * EINVAL naming the problem when absent or malformed. */
int config_diff_ids(json_t *config, char ***out, size_t *n, skiff_error_t **err);

/* ---- import.c ---- */

/* Lock, apply, unpin: record an image from its config bytes whose layers
 * are committed and pinned (chain ids lowest first), tag it with refs
 * (normalized; may be NULL). Returns the id (new string). */
char *import_register(struct image_store *s, const char *config_bytes, size_t len,
                      char **chains, size_t n, const char *const *refs,
                      json_t *messages, skiff_error_t **err);

/* import_register for an image made on top of parent (docker commit). */
char *import_register_child(struct image_store *s, const char *config_bytes, size_t len,
                            char **chains, size_t n, const char *const *refs,
                            json_t *messages, const char *parent, skiff_error_t **err);

/* Give up on committed, pinned layers: unpin them and collect what no
 * image uses. Takes the lock. */
void import_abort(struct image_store *s, char **chains, size_t n);

#endif
