// Thin C shim for what Swift cannot call directly on Linux: variadic ioctl() with the
// userfaultfd uapi (UFFDIO_MOVE postdates the system headers, so it is defined here).
#ifndef CMOPSLINUX_H
#define CMOPSLINUX_H

#include <stdint.h>

/// Opens a userfaultfd through /dev/userfaultfd (USERFAULTFD_IOC_NEW), falling back to
/// the userfaultfd(2) syscall. Returns the fd or -errno.
int mops_userfaultfd(int flags);

/// UFFDIO_API. On success stores the returned features and ioctls. Returns 0 or -errno.
int mops_uffdio_api(int fd, uint64_t api, uint64_t *features, uint64_t *ioctls);

/// UFFDIO_REGISTER. Stores the ioctls bitmask. Returns 0 or -errno.
int mops_uffdio_register(int fd, uint64_t start, uint64_t len, uint64_t mode, uint64_t *ioctls);

/// UFFDIO_UNREGISTER. Returns 0 or -errno.
int mops_uffdio_unregister(int fd, uint64_t start, uint64_t len);

/// UFFDIO_MOVE. `*move` is preset to INT64_MIN so an untouched field can be told apart.
/// Returns 0 or -errno; `*move` receives the kernel's `move` field.
int mops_uffdio_move(int fd, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode, int64_t *move);

/// UFFDIO_COPY, with the same convention for `*copy`.
int mops_uffdio_copy(int fd, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode, int64_t *copy);

/// UFFDIO_ZEROPAGE, with the same convention for `*zeropage`.
int mops_uffdio_zeropage(int fd, uint64_t dst, uint64_t len, uint64_t mode, int64_t *zeropage);

#endif
