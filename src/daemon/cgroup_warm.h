/* Warming the kernel's cgroup migration lock ahead of a container start.
 *
 * Moving a process into a cgroup takes the kernel's cgroup_threadgroup_rwsem
 * for writing, and when no migration happened in the last few tens of
 * milliseconds that first waits for an RCU grace period: 5-16 ms here, a
 * third of a `run --rm`. skiffd kicks a migration that changes nothing (itself
 * into its own cgroup) when a create or start request arrives; a thread of
 * its own waits out the grace period while the request goes on, and the
 * runtime's migration of the container's init, a few milliseconds later,
 * finds the lock warm or waits only for the rest of that same grace period.
 * Where the cgroup file cannot be opened (no cgroupfs, read-only), kicks do
 * nothing. */
#ifndef SKIFF_DAEMON_CGROUP_WARM_H
#define SKIFF_DAEMON_CGROUP_WARM_H

struct cgroup_warm;

/* Start the warming thread; NULL (and kicks that do nothing) when it cannot. */
struct cgroup_warm *cgroup_warm_start(void);

/* Ask for a no-op migration soon; returns at once. NULL is fine. */
void cgroup_warm_kick(struct cgroup_warm *w);

/* Stop the thread and free. NULL is fine. */
void cgroup_warm_stop(struct cgroup_warm *w);

#endif
