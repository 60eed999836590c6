#include "trash.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

struct trash {
  char *dir;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  unsigned long serial; /* names entries uniquely */
  bool pending, stopping;
};

/* Delete every entry of the trash. */
static void empty(const char *dir)
{
  cleanup_dir DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    cleanup_free char *path = NULL;
    skiff_error_t *err = NULL;
    if (asprintf(&path, "%s/%s", dir, e->d_name) < 0 || fs_remove_tree(path, &err) < 0)
      log_warn("trash: %s", err ? err->msg : "out of memory");
    skiff_error_free(&err);
  }
}

static void *trash_main(void *arg)
{
  struct trash *t = arg;
  pthread_mutex_lock(&t->lock);
  for (;;) {
    while (!t->pending && !t->stopping)
      pthread_cond_wait(&t->wake, &t->lock);
    bool last = t->stopping;
    t->pending = false;
    pthread_mutex_unlock(&t->lock);
    empty(t->dir);
    pthread_mutex_lock(&t->lock);
    if (last && !t->pending)
      break;
  }
  pthread_mutex_unlock(&t->lock);
  return NULL;
}

struct trash *trash_open(const char *dir, skiff_error_t **err)
{
  struct trash *t = calloc(1, sizeof *t);
  if (t == NULL || (t->dir = strdup(dir)) == NULL) {
    free(t);
    skiff_error_set(err, ENOMEM, "trash %s", dir);
    return NULL;
  }
  pthread_mutex_init(&t->lock, NULL);
  pthread_cond_init(&t->wake, NULL);
  t->pending = true; /* what a crash left */
  int rc = fs_mkdir_p(dir, 0700, err);
  if (rc == 0 && (rc = pthread_create(&t->thread, NULL, trash_main, t)) != 0)
    rc = skiff_error_set(err, rc, "start the trash thread");
  if (rc < 0) {
    free(t->dir);
    free(t);
    return NULL;
  }
  return t;
}

int trash_put(struct trash *t, const char *path, skiff_error_t **err)
{
  pthread_mutex_lock(&t->lock);
  unsigned long serial = ++t->serial;
  pthread_mutex_unlock(&t->lock);
  const char *base = strrchr(path, '/');
  cleanup_free char *target = NULL;
  if (asprintf(&target, "%s/%lu-%s", t->dir, serial, base ? base + 1 : path) < 0)
    return skiff_error_set(err, ENOMEM, "move %s to the trash", path);
  if (rename(path, target) < 0)
    return skiff_error_errno(err, "move %s to the trash", path);
  pthread_mutex_lock(&t->lock);
  t->pending = true;
  pthread_cond_signal(&t->wake);
  pthread_mutex_unlock(&t->lock);
  return 0;
}

void trash_close(struct trash *t)
{
  if (t == NULL)
    return;
  pthread_mutex_lock(&t->lock);
  t->stopping = true;
  pthread_cond_signal(&t->wake);
  pthread_mutex_unlock(&t->lock);
  pthread_join(t->thread, NULL);
  pthread_mutex_destroy(&t->lock);
  pthread_cond_destroy(&t->wake);
  free(t->dir);
  free(t);
}
