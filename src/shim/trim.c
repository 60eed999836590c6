/* The shim's working set after start-up. Creating the container touches
 * most of the binary (the runtime: spec parsing, seccomp, mounts) and the
 * heap; for the rest of the container's life the shim only relays bytes.
 * So once the container runs, the start-up pages leave its page tables:
 * code pages stay in skiffd's one sealed copy (shared by every shim) and
 * come back on use, freed heap goes back to the kernel. */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "shim.h"

/* Whether the mapping that starts at line (in /proc/self/smaps) may be
 * dropped: our binary's, read-only, and never written (relocated data, such
 * as the GOT after start-up, has anonymous copies that must stay). */
static bool droppable(FILE *smaps, const char *line, ino_t exe_ino,
                      unsigned long *start, unsigned long *end)
{
  char perms[8];
  unsigned long ino;
  if (sscanf(line, "%lx-%lx %7s %*s %*s %lu", start, end, perms, &ino) != 4 ||
      ino != exe_ino || perms[1] == 'w')
    return false;
  char field[256];
  unsigned long kb;
  while (fgets(field, sizeof field, smaps))
    if (sscanf(field, "Anonymous: %lu kB", &kb) == 1)
      return kb == 0;
  return false;
}

void shim_trim_startup_memory(void)
{
  malloc_trim(0);
  struct stat exe;
  if (stat("/proc/self/exe", &exe) < 0)
    return;
  FILE *smaps = fopen("/proc/self/smaps", "re");
  if (smaps == NULL)
    return;
  char line[512];
  unsigned long start, end;
  while (fgets(line, sizeof line, smaps))
    if (droppable(smaps, line, exe.st_ino, &start, &end))
      madvise((void *)start, end - start, MADV_DONTNEED);
  fclose(smaps);
}
