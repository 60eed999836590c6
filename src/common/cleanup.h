/* Scope-bound release of resources (GCC/Clang cleanup attribute), so that
 * every return path frees what it owns. Ownership leaves a scope only
 * through steal_pointer()/steal_fd(), which makes the handoff visible. */
#ifndef SKIFF_COMMON_CLEANUP_H
#define SKIFF_COMMON_CLEANUP_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_free_fn(void *p)
{
  free(*(void **)p);
}
static inline void cleanup_close_fn(int *fd)
{
  if (*fd >= 0)
    close(*fd);
}
static inline void cleanup_fclose_fn(FILE **f)
{
  if (*f)
    fclose(*f);
}
static inline void cleanup_closedir_fn(DIR **d)
{
  if (*d)
    closedir(*d);
}
static inline void cleanup_strv_fn(char ***v)
{
  if (*v == NULL)
    return;
  for (char **p = *v; *p; p++)
    free(*p);
  free(*v);
}

#define cleanup_free __attribute__((cleanup(cleanup_free_fn)))
#define cleanup_close __attribute__((cleanup(cleanup_close_fn)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclose_fn)))
#define cleanup_dir __attribute__((cleanup(cleanup_closedir_fn)))
#define cleanup_strv __attribute__((cleanup(cleanup_strv_fn)))

/* Take ownership of *pp, leaving NULL behind so the cleanup does nothing. */
#define steal_pointer(pp)                                                              \
  ({                                                                                   \
    __typeof__(*(pp)) stolen_ = *(pp);                                                 \
    *(pp) = NULL;                                                                      \
    stolen_;                                                                           \
  })

/* Take ownership of the fd in *fdp, leaving -1 behind. */
static inline int steal_fd(int *fdp)
{
  int fd = *fdp;
  *fdp = -1;
  return fd;
}

#endif
