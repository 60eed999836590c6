/* cgroup_join_*: a process that joins its container's cgroup itself (see
 * cgroup.h for why). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cgroup.h"
#include "cgroup_internal.h"
#include "common/fs.h"

int cgroup_join_open(struct cgroup *cg, struct cgroup_join *j, skiff_error_t **err)
{
  *j = (struct cgroup_join){.v2_dir = -1};
  j->v1_tasks = calloc(cg->n_dirs ? cg->n_dirs : 1, sizeof *j->v1_tasks);
  if (j->v1_tasks == NULL)
    return skiff_error_errno(err, "cgroup %s", cg->path);
  for (size_t i = 0; i < cg->n_dirs; i++) {
    const char *dir = cg->dirs[i].path;
    char path[4200];
    int fd;
    if (cg->dirs[i].h->unified) {
      fd = j->v2_dir = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    } else {
      snprintf(path, sizeof path, "%s/tasks", dir);
      fd = j->v1_tasks[j->n_v1++] = open(path, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0) {
      int saved = errno;
      cgroup_join_close(j);
      return skiff_error_set(err, saved, "open cgroup %s", dir);
    }
  }
  return 0;
}

int cgroup_join_self(const struct cgroup_join *j, skiff_error_t **err)
{
  for (size_t i = 0; i < j->n_v1; i++)
    if (fs_write_all(j->v1_tasks[i], "0", 1) < 0)
      return skiff_error_errno(err, "join the container's v1 cgroups");
  return 0;
}

void cgroup_join_close(struct cgroup_join *j)
{
  for (size_t i = 0; i < j->n_v1; i++)
    if (j->v1_tasks[i] >= 0)
      close(j->v1_tasks[i]);
  free(j->v1_tasks);
  if (j->v2_dir >= 0)
    close(j->v2_dir);
  *j = (struct cgroup_join){.v2_dir = -1};
}
