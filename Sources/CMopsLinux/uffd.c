// userfaultfd ioctls (UFFDIO_MOVE postdates the system headers, so its uapi is defined here)
// and PAGEMAP_SCAN (likewise).
#define _GNU_SOURCE
#include "CMopsLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef UFFDIO_MOVE
struct uffdio_move {
  __u64 dst;
  __u64 src;
  __u64 len;
  __u64 mode;
  __s64 move;
};
#define _UFFDIO_MOVE (0x05)
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

int mops_userfaultfd(int flags) {
  int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev >= 0) {
    int fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
    int saved = errno;
    close(dev);
    return fd >= 0 ? fd : -saved;
  }
  long fd = syscall(SYS_userfaultfd, flags);
  return fd >= 0 ? (int)fd : -errno;
}

int mops_uffdio_api(int fd, uint64_t api, uint64_t *features, uint64_t *ioctls) {
  struct uffdio_api a = {.api = api, .features = *features};
  if (ioctl(fd, UFFDIO_API, &a) != 0) {
    *features = a.features;
    return -errno;
  }
  *features = a.features;
  *ioctls = a.ioctls;
  return 0;
}

int mops_uffdio_register(int fd, uint64_t start, uint64_t len, uint64_t mode, uint64_t *ioctls) {
  struct uffdio_register r = {.range = {.start = start, .len = len}, .mode = mode};
  if (ioctl(fd, UFFDIO_REGISTER, &r) != 0) return -errno;
  *ioctls = r.ioctls;
  return 0;
}

int mops_uffdio_unregister(int fd, uint64_t start, uint64_t len) {
  struct uffdio_range r = {.start = start, .len = len};
  return ioctl(fd, UFFDIO_UNREGISTER, &r) != 0 ? -errno : 0;
}

int mops_uffdio_move(int fd, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode, int64_t *move) {
  struct uffdio_move m = {.dst = dst, .src = src, .len = len, .mode = mode, .move = INT64_MIN};
  int rc = ioctl(fd, UFFDIO_MOVE, &m) != 0 ? -errno : 0;
  *move = m.move;
  return rc;
}

int mops_uffdio_copy(int fd, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode, int64_t *copy) {
  struct uffdio_copy c = {.dst = dst, .src = src, .len = len, .mode = mode, .copy = INT64_MIN};
  int rc = ioctl(fd, UFFDIO_COPY, &c) != 0 ? -errno : 0;
  *copy = c.copy;
  return rc;
}

int mops_uffdio_zeropage(int fd, uint64_t dst, uint64_t len, uint64_t mode, int64_t *zeropage) {
  struct uffdio_zeropage z = {.range = {.start = dst, .len = len}, .mode = mode, .zeropage = INT64_MIN};
  int rc = ioctl(fd, UFFDIO_ZEROPAGE, &z) != 0 ? -errno : 0;
  *zeropage = z.zeropage;
  return rc;
}

struct mops_page_region {
  uint64_t start, end, categories;
};
struct mops_pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define MOPS_PAGEMAP_SCAN _IOWR('f', 16, struct mops_pm_scan_arg)
#define MOPS_PAGE_IS_PFNZERO (1 << 5)

int mops_pagemap_zero_pages(int pagemap_fd, uint64_t start, uint64_t npages, uint8_t *zero) {
  struct mops_page_region regions[64];
  uint64_t end = start + npages * 4096, at = start;
  for (uint64_t i = 0; i < npages; i++) zero[i] = 0;
  while (at < end) {
    struct mops_pm_scan_arg a = {
        .size = sizeof a, .start = at, .end = end, .vec = (uint64_t)(uintptr_t)regions, .vec_len = 64,
        .category_mask = MOPS_PAGE_IS_PFNZERO, .return_mask = MOPS_PAGE_IS_PFNZERO};
    int n = ioctl(pagemap_fd, MOPS_PAGEMAP_SCAN, &a);
    if (n < 0) return -errno;
    for (int r = 0; r < n; r++) {
      for (uint64_t p = regions[r].start; p < regions[r].end; p += 4096) zero[(p - start) / 4096] = 1;
    }
    if (a.walk_end <= at) break;
    at = a.walk_end;
  }
  return 0;
}
