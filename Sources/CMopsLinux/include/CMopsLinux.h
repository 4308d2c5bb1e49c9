// Thin C shim for what Swift cannot do directly on Linux: variadic ioctl() with the
// userfaultfd uapi (UFFDIO_MOVE postdates the system headers, so it is defined here),
// PAGEMAP_SCAN, and the live backend's worker processes (after fork() no Swift code may
// run in the child, so the worker loop is C).
#ifndef CMOPSLINUX_H
#define CMOPSLINUX_H

#include <stdint.h>
#include <sys/types.h>

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

/// PAGEMAP_SCAN (6.7+) on an open /proc/PID/pagemap: sets `zero[i]` to 1 for every page
/// of `[start, start + npages * 4096)` that maps the shared zero page (PAGE_IS_PFNZERO),
/// else 0. Needs no privilege. Returns 0 or -errno.
int mops_pagemap_zero_pages(int pagemap_fd, uint64_t start, uint64_t npages, uint8_t *zero);

// ---- The live backend's worker protocol -------------------------------------------
//
// The controller talks to each worker over a SOCK_SEQPACKET socketpair: one message is a
// `mops_cmd` followed by `count` payload bytes (the bytes of MOPS_OP_WRITE), one answer
// a `mops_reply` followed by `count` payload bytes (MOPS_OP_READ, MOPS_OP_RESIDENT,
// MOPS_OP_PEEK).
// MOPS_OP_FORK carries the child's socket as SCM_RIGHTS ancillary data.

/// The largest payload of one message.
#define MOPS_PAYLOAD_MAX 65536

/// Operations a worker performs; arguments in `a[]` as listed.
enum mops_op {
  MOPS_OP_MMAP = 1,      ///< addr, len, prot, flags → value = address
  MOPS_OP_MUNMAP,        ///< addr, len
  MOPS_OP_MPROTECT,      ///< addr, len, prot
  MOPS_OP_MADVISE,       ///< addr, len, advice
  MOPS_OP_MREMAP,        ///< old, old_len, new_len, flags, new → value = address
  MOPS_OP_TOUCH,         ///< addr, write, has_fill, fill[, watchdog ms (0: 1 s)]: one access (fill: the whole page)
  MOPS_OP_WRITE,         ///< addr; payload = bytes; value = bytes stored
  MOPS_OP_READ,          ///< addr, count; payload back = bytes read
  MOPS_OP_FORK,          ///< SCM_RIGHTS = child's socket → value = child pid
  MOPS_OP_EXIT,          ///< no answer: the worker calls _exit(0)
  MOPS_OP_PIN,           ///< addr, len: one io_uring fixed buffer (value2 = 1: io_uring unavailable)
  MOPS_OP_UNPIN,         ///< addr, len: drop every pin lying inside the range → value = pins dropped
  MOPS_OP_USERFAULTFD,   ///< flags → value = fd
  MOPS_OP_UFFDIO_API,    ///< fd, api, features → value = features, value2 = ioctls
  MOPS_OP_UFFDIO_REGISTER,    ///< fd, start, len, mode → value = ioctls
  MOPS_OP_UFFDIO_UNREGISTER,  ///< fd, start, len
  MOPS_OP_CLOSE,         ///< fd
  MOPS_OP_UFFDIO_MOVE,   ///< fd, dst, src, len, mode → field
  MOPS_OP_UFFDIO_COPY,   ///< fd, dst, src, len, mode → field
  MOPS_OP_UFFDIO_ZEROPAGE,    ///< fd, dst, len, mode → field
  MOPS_OP_RESIDENT,      ///< addr, npages: mincore() vector as payload
  MOPS_OP_PEEK,          ///< addr, npages (at most 4096): contents by plain loads → value = pages done; payload = records
  MOPS_OP_MREMAP_NOGROW, ///< as MOPS_OP_MREMAP, with RLIMIT_AS's soft limit at 0 during the call
};

/// MOPS_OP_PEEK observes page contents the way the script's own process would read
/// them: plain loads in the worker, no GUP (a pread of /proc/PID/mem or
/// process_vm_readv takes folio references and marks folios accessed, which changes
/// later COW reuse and reclaim). The controller asks only for pages pagemap shows
/// present in a VMA with PROT_READ, so no load faults. The payload holds one record
/// per page, in order, until the next page might not fit; `value` counts the pages.
enum mops_peek_record {
  MOPS_PEEK_UNIFORM = 0,  ///< followed by 1 byte: every byte of the page has this value
  MOPS_PEEK_PAGE = 1,     ///< followed by the 4096 bytes of the page
  MOPS_PEEK_FAULT = 2,    ///< the load raised a signal or did not finish: nothing observed
};

/// One command. `a` holds the arguments listed with `mops_op`.
struct mops_cmd {
  uint32_t op;
  uint32_t count;
  uint64_t a[5];
};

/// How an operation ended.
enum mops_status {
  MOPS_OK = 0,      ///< success; `value`, `value2`, `field` as the operation defines
  MOPS_ERRNO = 1,   ///< the call failed with `err` (`field` still carries a uffd field)
  MOPS_SIGNAL = 2,  ///< an access raised `signo`/`code` at `addr`
  MOPS_STUCK = 3,   ///< an access did not finish within the watchdog time (blocked at `addr`)
};

/// One answer.
struct mops_reply {
  int32_t status;
  int32_t err;
  int32_t signo;
  int32_t code;
  uint64_t addr;
  uint64_t value;
  uint64_t value2;
  int64_t field;
  uint32_t count;
  uint32_t pad;
};

/// Forks a worker from the controller's spawner thread (started on first use and never
/// ending, because PR_SET_PDEATHSIG fires when the *thread* that forked a child exits).
/// The worker talks over `sock`, is pinned to CPU 0, dies with the controller, and never
/// returns to Swift. Workers it forks (MOPS_OP_FORK) use CLONE_PARENT, so every worker
/// is a child of the controller and can be reaped with waitpid(). Returns the pid or
/// -errno.
pid_t mops_spawn_worker(int sock);

/// Remembers a live worker so ``mops_kill_all_workers`` can end it.
void mops_worker_track(pid_t pid);
/// Forgets a worker that has been reaped.
void mops_worker_untrack(pid_t pid);
/// SIGKILLs and reaps every tracked worker. Async-signal-safe: a SIGINT handler may call it.
void mops_kill_all_workers(void);

/// Sends a command (and `count` payload bytes, and `pass_fd` as SCM_RIGHTS if >= 0).
/// Returns 0 or -errno.
int mops_send_cmd(int sock, const struct mops_cmd *cmd, const void *payload, int pass_fd);

/// Receives an answer, waiting at most `timeout_ms`; the payload goes to `payload`
/// (capacity MOPS_PAYLOAD_MAX). Returns 0, -ETIMEDOUT, -EPIPE when the worker is gone,
/// or another -errno.
int mops_recv_reply(int sock, struct mops_reply *reply, void *payload, int timeout_ms);

/// Pins the calling thread to `cpu` (sched_setaffinity). Returns 0 or -errno.
int mops_pin_to_cpu(int cpu);

/// sched_getaffinity / sched_setaffinity of the calling thread with a CPU bitmask of
/// `size` bytes (Swift cannot see them without _GNU_SOURCE). Return 0 or -errno.
int mops_get_affinity(void *mask, size_t size);
int mops_set_affinity(const void *mask, size_t size);

/// The raw mremap(2) syscall, with the fifth argument always passed. Returns the new
/// address or -errno.
long mops_mremap(uint64_t old_addr, uint64_t old_len, uint64_t new_len, uint64_t flags, uint64_t new_addr);

#endif
