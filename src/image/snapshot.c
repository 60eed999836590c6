/* A container's root file system: overlayfs with the image's layers as
 * lower directories and <dir>/diff as the upper one.
 *
 *   <dir>/lower   the layers' diff directories, one per line, lowest first
 *   <dir>/diff    the container's changes (overlayfs whiteouts included)
 *   <dir>/work    overlayfs' work directory
 *
 * The mount uses the new mount API with "lowerdir+" (Linux 6.8), which
 * takes one layer per call: mount(2)'s option string is limited to a page,
 * which about 40 layers of long paths overflow (docker works around it
 * with short symlinks). Older kernels get mount(2). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/jsonutil.h"
#include "image_internal.h"

static char *path_join(const char *a, const char *b)
{
  char *out = NULL;
  return asprintf(&out, "%s/%s", a, b) < 0 ? NULL : out;
}

int image_snapshot_prepare(struct image_store *store, const char *image_id,
                           const char *dir, unsigned write_flags, skiff_error_t **err)
{
  cleanup_free char *lower = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&lower, &len);
  if (f == NULL)
    return skiff_error_errno(err, "snapshot %s", dir);
  pthread_mutex_lock(&store->lock);
  struct image_record *rec = store_resolve_locked(store, image_id, err);
  for (size_t i = 0; rec && i < rec->n_layers; i++)
    fprintf(f, "%s/%s/diff\n", store->layers, rec->chain_ids[i]);
  bool empty = rec && rec->n_layers == 0;
  pthread_mutex_unlock(&store->lock);
  if (empty) /* overlayfs needs a lower layer: an image without any gets one */
    fprintf(f, "%s/empty\n", dir);
  fclose(f);
  if (rec == NULL)
    return -1;
  cleanup_free char *diff = path_join(dir, "diff"), *work = path_join(dir, "work");
  cleanup_free char *empty_dir = path_join(dir, "empty"),
                    *list = path_join(dir, "lower");
  if (fs_mkdir_p(diff, 0755, err) < 0 || fs_mkdir_p(work, 0700, err) < 0 ||
      (empty && fs_mkdir_p(empty_dir, 0755, err) < 0))
    return skiff_error_wrap(err, "snapshot %s", dir);
  return fs_write_file_atomic(list, lower, len, 0600, write_flags, err);
}

/* The lower directories of a snapshot, lowest first. */
static json_t *read_lowers(const char *dir, skiff_error_t **err)
{
  cleanup_free char *list = path_join(dir, "lower");
  cleanup_free char *text = list ? fs_read_file(list, NULL, err) : NULL;
  if (text == NULL)
    return NULL;
  json_t *lowers = json_array();
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save))
    json_array_append_new(lowers, json_string(line));
  return lowers;
}

/* The kernel's explanation of a failed fsconfig, from the fs context. */
static void kernel_message(int fsfd, char *buf, size_t cap)
{
  buf[0] = '\0';
  ssize_t n = read(fsfd, buf, cap - 1);
  if (n > 0)
    buf[n - (buf[n - 1] == '\n')] = '\0';
}

static int mount_new_api(json_t *lowers, const char *upper, const char *work,
                         bool is_volatile, const char *target, skiff_error_t **err)
{
  cleanup_close int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
  if (fsfd < 0)
    return -1;
  for (size_t i = json_array_size(lowers); i-- > 0;) {
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+",
                 json_string_value(json_array_get(lowers, i)), 0) < 0)
      return -1; /* before 6.8: no "lowerdir+"; the caller falls back */
  }
  char msg[256];
  bool configured =
      fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", upper, 0) == 0 &&
      fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) == 0 &&
      (!is_volatile || fsconfig(fsfd, FSCONFIG_SET_FLAG, "volatile", NULL, 0) == 0);
  if (!configured || fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    /* Before 6.5 overlayfs takes its options through the legacy parser,
     * which accepts any key and refuses "lowerdir+" only at create (EINVAL,
     * "unrecognized mount option" in the kernel log): use mount(2) then,
     * which reports its own error if the trouble is elsewhere. */
    if (configured && errno == EINVAL)
      return -1;
    int saved = errno;
    kernel_message(fsfd, msg, sizeof msg);
    errno = saved;
    skiff_error_errno(err, "mount overlay on %s%s%s", target, *msg ? ": " : "", msg);
    return -2;
  }
  cleanup_close int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
  if (mfd < 0 || move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
    skiff_error_errno(err, "mount overlay on %s", target);
    return -2;
  }
  return 0;
}

static int mount_legacy(json_t *lowers, const char *upper, const char *work,
                        bool is_volatile, const char *target, skiff_error_t **err)
{
  cleanup_free char *opts = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&opts, &len);
  if (f == NULL)
    return skiff_error_errno(err, "mount overlay on %s", target);
  fputs("lowerdir=", f);
  for (size_t i = json_array_size(lowers); i-- > 0;)
    fprintf(f, "%s%s", json_string_value(json_array_get(lowers, i)), i ? ":" : "");
  fprintf(f, ",upperdir=%s,workdir=%s%s", upper, work, is_volatile ? ",volatile" : "");
  fclose(f);
  if (len >= (size_t)getpagesize())
    return skiff_error_set(err, E2BIG, "mount overlay on %s: %zu layers", target,
                           json_array_size(lowers));
  if (mount("overlay", target, "overlay", 0, opts) < 0)
    return skiff_error_errno(err, "mount overlay on %s", target);
  return 0;
}

static int mount_overlay(json_t *lowers, const char *upper, const char *work,
                         bool is_volatile, const char *target, skiff_error_t **err)
{
  int r = mount_new_api(lowers, upper, work, is_volatile, target, err);
  if (r == 0 || r == -2)
    return r == 0 ? 0 : -1;
  return mount_legacy(lowers, upper, work, is_volatile, target, err);
}

/* A volatile mount leaves work/work/incompat/volatile behind, and overlayfs
 * refuses to mount that work directory again ("incompat feature"): its
 * upper directory may have lost writes in a crash. The caller vouches
 * that none happened since (IMAGE_SNAPSHOT_VOLATILE), so it goes. */
static void clear_volatile_mark(const char *work)
{
  cleanup_free char *mark = NULL;
  if (asprintf(&mark, "%s/work/incompat", work) >= 0)
    fs_remove_tree(mark, NULL);
}

int image_snapshot_mount(const char *dir, const char *target, unsigned flags,
                         skiff_error_t **err)
{
  cleanup_json json_t *lowers = read_lowers(dir, err);
  if (lowers == NULL)
    return skiff_error_wrap(err, "mount snapshot %s", dir);
  if (json_array_size(lowers) == 0)
    return skiff_error_invalid(err, "snapshot %s has no layers", dir);
  cleanup_free char *upper = path_join(dir, "diff"), *work = path_join(dir, "work");
  if (!(flags & IMAGE_SNAPSHOT_VOLATILE))
    return mount_overlay(lowers, upper, work, false, target, err);
  clear_volatile_mark(work);
  skiff_error_t *first = NULL;
  if (mount_overlay(lowers, upper, work, true, target, &first) == 0)
    return 0;
  bool unknown_option = first->status == EINVAL; /* before Linux 5.10 */
  if (!unknown_option && err)
    *err = steal_pointer(&first);
  skiff_error_free(&first);
  return unknown_option ? mount_overlay(lowers, upper, work, false, target, err) : -1;
}

int image_snapshot_unmount(const char *target, skiff_error_t **err)
{
  if (umount2(target, UMOUNT_NOFOLLOW) == 0)
    return 0;
  if (errno == EINVAL || errno == ENOENT)
    return 0; /* not a mount point (any more) */
  if (errno == EBUSY && umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
    return 0;
  return skiff_error_errno(err, "unmount %s", target);
}

/* ---- changes ---- */

struct walk {
  json_t *lowers;
  json_t *changes;
  json_t *changed_dirs;
  char upper[PATH_MAX];
};

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of a directory, sorted (docker walks in lexical order). */
static char **sorted_entries(const char *path, size_t *n)
{
  cleanup_dir DIR *d = opendir(path);
  char **names = NULL;
  size_t count = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char **grown = realloc(names, (count + 2) * sizeof *names);
    if (grown == NULL)
      break;
    names = grown;
    names[count++] = strdup(e->d_name);
    names[count] = NULL;
  }
  if (names)
    qsort(names, count, sizeof *names, cmp_names);
  *n = count;
  return names;
}

static bool same_dir(const struct stat *a, const struct stat *b)
{
  return a->st_size == b->st_size && a->st_mode == b->st_mode &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
         a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* What docker keeps in a container's init layer, below its rw layer: the
 * mount points the runtime makes. skiff's runtime makes them in the rw
 * layer itself, so diff and commit leave them out. */
static const char *const init_paths[] = {
    "/.dockerenv",   "/dev/console", "/dev/pts",  "/dev/shm",
    "/etc/hostname", "/etc/hosts",   "/etc/mtab", "/etc/resolv.conf",
    "/proc",         "/sys",         NULL};

bool image_snapshot_is_init_path(const char *path)
{
  for (const char *const *p = init_paths; *p; p++)
    if (strcmp(*p, path) == 0)
      return true;
  return false;
}

/* The directories holding init paths: the runtime's work changes their
 * mtime, which alone is not a change of the container's. */
static bool holds_init_paths(const char *rel)
{
  return strcmp(rel, "/etc") == 0 || strcmp(rel, "/dev") == 0;
}

static bool same_owner_mode(const struct stat *a, const struct stat *b)
{
  return a->st_mode == b->st_mode && a->st_uid == b->st_uid && a->st_gid == b->st_gid;
}

static void add_change(struct walk *w, const char *path, int kind)
{
  json_array_append_new(w->changes,
                        json_pack("{s:s, s:i}", "Path", path, "Kind", kind));
}

/* moby's changes() for overlay: whiteout -> deleted; present below ->
 * modified (unless an unchanged directory); else added. The parent of an
 * added or deleted path shows as modified. */
static void classify(struct walk *w, const char *rel, const struct stat *st)
{
  int kind = 1;
  if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0) {
    kind = 2;
  } else {
    size_t i;
    json_t *l;
    json_array_foreach(w->lowers, i, l)
    {
      char lower[PATH_MAX];
      struct stat lst;
      if (snprintf(lower, sizeof lower, "%s%s", json_string_value(l), rel) >=
              (int)sizeof lower ||
          lstat(lower, &lst) < 0)
        continue;
      if (S_ISDIR(lst.st_mode) && S_ISDIR(st->st_mode) &&
          (same_dir(st, &lst) || (holds_init_paths(rel) && same_owner_mode(st, &lst))))
        return;
      kind = 0;
      break;
    }
  }
  if (kind == 1 && holds_init_paths(rel))
    return; /* made for the init paths: shown only as the parent of a change */
  if (S_ISDIR(st->st_mode))
    json_object_set_new(w->changed_dirs, rel, json_true());
  if (kind != 0) {
    cleanup_free char *parent = strndup(rel, (size_t)(strrchr(rel, '/') - rel));
    if (parent && *parent && !json_object_get(w->changed_dirs, parent)) {
      add_change(w, parent, 0);
      json_object_set_new(w->changed_dirs, parent, json_true());
    }
  }
  add_change(w, rel, kind);
}

static void walk_dir(struct walk *w, const char *rel)
{
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s%s", w->upper, rel) >= (int)sizeof path)
    return;
  size_t n = 0;
  cleanup_strv char **names = sorted_entries(path, &n);
  for (size_t i = 0; i < n; i++) {
    char child[PATH_MAX], full[PATH_MAX];
    struct stat st;
    if (snprintf(child, sizeof child, "%s/%s", rel, names[i]) >= (int)sizeof child ||
        snprintf(full, sizeof full, "%s%s", w->upper, child) >= (int)sizeof full ||
        image_snapshot_is_init_path(child) || lstat(full, &st) < 0)
      continue;
    classify(w, child, &st);
    if (S_ISDIR(st.st_mode))
      walk_dir(w, child);
  }
}

json_t *image_snapshot_changes(const char *dir, skiff_error_t **err)
{
  struct walk w = {.changes = json_array(), .changed_dirs = json_object()};
  w.lowers = read_lowers(dir, err);
  if (w.lowers == NULL) {
    json_decref(w.changes);
    json_decref(w.changed_dirs);
    return NULL;
  }
  snprintf(w.upper, sizeof w.upper, "%s/diff", dir);
  walk_dir(&w, "");
  json_decref(w.lowers);
  json_decref(w.changed_dirs);
  return w.changes;
}

/* ---- size ---- */

static long long tree_size(const char *path, json_t *seen)
{
  size_t n = 0;
  long long total = 0;
  cleanup_strv char **names = sorted_entries(path, &n);
  for (size_t i = 0; i < n; i++) {
    char full[PATH_MAX];
    struct stat st;
    if (snprintf(full, sizeof full, "%s/%s", path, names[i]) >= (int)sizeof full ||
        lstat(full, &st) < 0)
      continue;
    if (S_ISDIR(st.st_mode)) {
      total += tree_size(full, seen);
      continue;
    }
    if (st.st_nlink > 1) { /* a hard link counts once */
      char key[64];
      snprintf(key, sizeof key, "%lu:%lu", (unsigned long)st.st_dev,
               (unsigned long)st.st_ino);
      if (json_object_get(seen, key))
        continue;
      json_object_set_new(seen, key, json_true());
    }
    total += st.st_size;
  }
  return total;
}

long long image_snapshot_size(const char *dir)
{
  cleanup_free char *diff = path_join(dir, "diff");
  cleanup_json json_t *seen = json_object();
  return diff ? tree_size(diff, seen) : 0;
}
