#define _GNU_SOURCE
#include "CMopsLinux.h"

#include <errno.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

int mops_pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -errno;
}

int mops_get_affinity(void *mask, size_t size) {
  return sched_getaffinity(0, size, (cpu_set_t *)mask) == 0 ? 0 : -errno;
}

int mops_set_affinity(const void *mask, size_t size) {
  return sched_setaffinity(0, size, (const cpu_set_t *)mask) == 0 ? 0 : -errno;
}

long mops_mremap(uint64_t old_addr, uint64_t old_len, uint64_t new_len, uint64_t flags, uint64_t new_addr) {
  long r = syscall(SYS_mremap, old_addr, old_len, new_len, flags, new_addr);
  return r == -1 ? -errno : r;
}
