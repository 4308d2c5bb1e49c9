// The live backend's worker: a single-threaded process that performs one operation at a
// time for the controller and answers with a fixed-size struct. It is forked from a
// multithreaded Swift process, so it only makes syscalls (no malloc, no stdio, no Swift).
// Memory accesses run under sigsetjmp with SIGSEGV/SIGBUS handlers that report the
// signal; a 1 s SIGALRM watchdog turns an access that blocks (a userfault the controller
// did not foresee) into MOPS_STUCK instead of a hung worker.
#define _GNU_SOURCE
#include "CMopsLinux.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_PINS 256

static int sock = -1;
static pid_t controller;
static struct { uint64_t addr, len; int fd; } pins[MAX_PINS];
static int npins;

static sigjmp_buf env;
static volatile sig_atomic_t armed;
static volatile int fault_signo, fault_code;
static volatile uint64_t fault_addr;

static struct {
  struct mops_cmd cmd;
  uint8_t data[MOPS_PAYLOAD_MAX];
} in;
static uint8_t out[MOPS_PAYLOAD_MAX];

static void on_fault(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  if (!armed) _exit(128 + sig);  // a fault in the worker itself: never continue
  fault_signo = sig;
  fault_code = si->si_code;
  fault_addr = (uint64_t)(uintptr_t)si->si_addr;
  siglongjmp(env, 1);
}

static void on_alarm(int sig) {
  (void)sig;
  if (armed) siglongjmp(env, 2);
}

// How long an access may run before the watchdog interrupts it.
static uint64_t watchdog_ms = 1000;

static void watchdog(int on) {
  struct itimerval t = {.it_value = {.tv_sec = on ? (time_t)(watchdog_ms / 1000) : 0,
                                     .tv_usec = on ? (suseconds_t)(watchdog_ms % 1000) * 1000 : 0}};
  setitimer(ITIMER_REAL, &t, NULL);
}

static void reply(const struct mops_reply *r, const void *payload) {
  struct iovec iov[2] = {{(void *)r, sizeof *r}, {(void *)payload, r->count}};
  struct msghdr m = {.msg_iov = iov, .msg_iovlen = r->count ? 2 : 1};
  while (sendmsg(sock, &m, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) _exit(0);  // the controller is gone
  }
}

// Pins to the lowest CPU this process may run on (CPU 0 normally), so COW reuse does not
// depend on which CPU's LRU batch holds a page.
static void pin_cpu(void) {
  cpu_set_t allowed, one;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    sched_setaffinity(0, sizeof one, &one);
    return;
  }
}

// The per-CPU LRU batches (mm/swap.c) hold a folio reference until they are drained:
// a folio that MADV_FREE (lazyfree), MADV_COLD (deactivate) or a second GUP touch
// (activate) parked in one stays on the LRU list as far as PG_lru shows, so a later
// write fault by a process that is not its exclusive owner sees refcount 2 and copies
// instead of reusing, and MADV_PAGEOUT keeps a page it would otherwise discard. When
// the batch drains depends on whatever else runs on the CPU, including this worker's
// own page faults. The model does not model the batches: pages behave as if every
// batch was drained. So after each operation the worker drains CPU 0's batches, which
// MADV_FREE does first thing (madvise_free_single_vma() calls lru_add_drain()) even on
// a VMA without pages: `drain_page` is one never-touched page outside the arena. Every
// worker runs on CPU 0, so this drains what any worker of the script left there.
static void *drain_page = MAP_FAILED;

static void drain_lru_batches(void) {
  if (drain_page != MAP_FAILED) madvise(drain_page, 4096, MADV_FREE);
}

// Dies with the controller; the getppid() check closes the race with a controller that
// died before the prctl.
static void die_with_controller(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != controller) _exit(1);
}

static void hello(void) {
  struct mops_reply r = {.value = (uint64_t)getpid()};
  reply(&r, NULL);
}

static void setup_initial(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    signal(sig, SIG_DFL);
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  struct sigaction alarm = {.sa_handler = on_alarm};
  sigemptyset(&alarm.sa_mask);
  sigaction(SIGALRM, &alarm, NULL);

  die_with_controller();
  pin_cpu();
  drain_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  prctl(PR_SET_NAME, "mops-worker");
  if (sock > 3) close_range(3, (unsigned)sock - 1, 0);
  close_range((unsigned)sock + 1, ~0U, 0);
  hello();
}

// The accesses. Each runs with `armed` set; a fault or the watchdog jumps back here.
static void access_end(struct mops_reply *r, int jumped) {
  armed = 0;
  watchdog(0);
  if (jumped == 1) {
    r->status = MOPS_SIGNAL;
    r->signo = fault_signo;
    r->code = fault_code;
    r->addr = fault_addr;
  } else if (jumped == 2) {
    r->status = MOPS_STUCK;
  }
}

static void touch(uint64_t addr, int write, int has_fill, uint8_t fill, struct mops_reply *r) {
  volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)addr;
  r->addr = addr;
  watchdog(1);
  armed = 1;
  int jumped = sigsetjmp(env, 1);
  if (jumped) {
    access_end(r, jumped);
    return;
  }
  if (!write) {
    (void)*p;
  } else if (has_fill) {
    *p = fill;  // the faulting store, at the address asked for
    memset((void *)(uintptr_t)(addr & ~(uint64_t)4095), fill, 4096);
  } else {
#if defined(__x86_64__)
    // A locked read-modify-write of nothing: one write fault, contents unchanged.
    __asm__ volatile("lock orb $0, %0" : "+m"(*p) : : "memory");
#else
    __atomic_fetch_or((uint8_t *)p, 0, __ATOMIC_SEQ_CST);
#endif
  }
  access_end(r, 0);
}

// Copies `n` bytes between the arena at `addr` and a buffer, one byte at a time in
// ascending order. A fault or the watchdog stops the copy; the reply then says where
// (the faulting address, or for the watchdog the byte it stopped at). Returns the bytes
// copied.
static uint32_t guarded_copy(volatile uint8_t *to, const volatile uint8_t *from, uint64_t addr, uint32_t n,
                             struct mops_reply *r) {
  volatile uint32_t i = 0;
  r->addr = addr;
  watchdog(1);
  armed = 1;
  int jumped = sigsetjmp(env, 1);
  if (jumped) {
    if (jumped == 2) r->addr = addr + i;
    access_end(r, jumped);
    return i;
  }
  for (; i < n; i++) to[i] = from[i];
  access_end(r, 0);
  return n;
}

static void write_bytes(uint64_t addr, const uint8_t *bytes, uint32_t n, struct mops_reply *r) {
  r->value = guarded_copy((volatile uint8_t *)(uintptr_t)addr, bytes, addr, n, r);
}

static void read_bytes(uint64_t addr, uint32_t n, struct mops_reply *r) {
  r->count = guarded_copy(out, (const volatile uint8_t *)(uintptr_t)addr, addr, n, r);
}

// Copies present pages out with plain loads (see MOPS_OP_PEEK). A load of a present page
// takes no folio reference, does not mark the folio accessed and leaves no LRU-batch
// reference behind; the only trace is the hardware accessed bit in the PTE, which the
// script's own reads would set too. The controller asks only for pages pagemap showed
// present; mincore() right before the loads re-checks that their PTEs are still
// present (a lazy-free page could have been reclaimed since, and loading it would map
// the zero page), and a page that is not, or whose load faults or blocks anyway, is
// reported as MOPS_PEEK_FAULT (nothing observed).
#define PEEK_MAX_PAGES 4096
static volatile uint64_t peek_done;
static volatile uint32_t peek_used;
static unsigned char peek_present[PEEK_MAX_PAGES];

static void peek(uint64_t addr, uint64_t npages, struct mops_reply *r) {
  if (npages > PEEK_MAX_PAGES) npages = PEEK_MAX_PAGES;
  r->addr = addr;
  if (mincore((void *)(uintptr_t)addr, npages * 4096, peek_present) != 0) {
    r->status = MOPS_ERRNO;
    r->err = errno;
    return;
  }
  peek_done = 0;
  peek_used = 0;
  watchdog(1);
  armed = 1;
  if (sigsetjmp(env, 1)) {
    out[peek_used] = MOPS_PEEK_FAULT;
    peek_used = peek_used + 1;
    peek_done = peek_done + 1;
    watchdog(1);
  }
  while (peek_done < npages && peek_used + 1 + 4096 <= MOPS_PAYLOAD_MAX) {
    uint8_t *rec = out + peek_used;
    if (!(peek_present[peek_done] & 1)) {
      rec[0] = MOPS_PEEK_FAULT;
      peek_used = peek_used + 1;
      peek_done = peek_done + 1;
      continue;
    }
    memcpy(rec + 1, (const void *)(uintptr_t)(addr + peek_done * 4096), 4096);
    uint8_t first = rec[1];
    int uniform = 1;
    for (int i = 2; i <= 4096; i++) {
      if (rec[i] != first) {
        uniform = 0;
        break;
      }
    }
    rec[0] = uniform ? MOPS_PEEK_UNIFORM : MOPS_PEEK_PAGE;
    peek_used = peek_used + (uniform ? 2 : 1 + 4096);
    peek_done = peek_done + 1;
  }
  armed = 0;
  watchdog(0);
  r->value = peek_done;
  r->count = peek_used;
}

static void syscall_result(long rc, struct mops_reply *r);

// mremap() with RLIMIT_AS's soft limit at 0 for the duration of the call: every
// may_expand_vm() fails, so a MAYMOVE|DONTUNMAP call without FIXED runs all of the
// kernel's checks up to may_expand_vm(old_len) in mremap_to() and stops there with
// ENOMEM, before it places (or changes) anything. The limit is restored before answering.
static void mremap_nogrow(const uint64_t *a, struct mops_reply *r) {
  struct rlimit saved, none;
  if (getrlimit(RLIMIT_AS, &saved) != 0) {
    r->status = MOPS_ERRNO;
    r->err = errno;
    return;
  }
  none = saved;
  none.rlim_cur = 0;
  if (setrlimit(RLIMIT_AS, &none) != 0) {
    r->status = MOPS_ERRNO;
    r->err = errno;
    return;
  }
  long rc = syscall(SYS_mremap, a[0], a[1], a[2], a[3], a[4]);
  int err = errno;
  if (setrlimit(RLIMIT_AS, &saved) != 0) _exit(1);  // never continue with a limit of 0
  errno = err;
  syscall_result(rc, r);
}

// A long-term FOLL_PIN|FOLL_WRITE of the range: one io_uring instance with one fixed buffer.
static void pin(uint64_t addr, uint64_t len, struct mops_reply *r) {
  if (npins == MAX_PINS) {
    r->status = MOPS_ERRNO;
    r->err = ENOSPC;
    return;
  }
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  long ring = syscall(SYS_io_uring_setup, 1, &params);
  if (ring < 0) {
    r->status = MOPS_ERRNO;
    r->err = errno;
    r->value2 = 1;
    return;
  }
  struct iovec iov = {(void *)(uintptr_t)addr, len};
  if (syscall(SYS_io_uring_register, (int)ring, IORING_REGISTER_BUFFERS, &iov, 1) != 0) {
    r->status = MOPS_ERRNO;
    r->err = errno;
    close((int)ring);
    return;
  }
  pins[npins].addr = addr;
  pins[npins].len = len;
  pins[npins].fd = (int)ring;
  npins++;
}

static void unpin(uint64_t addr, uint64_t len, struct mops_reply *r) {
  // The most recent pin of exactly this buffer, as the model's unpin: one io_uring
  // instance closed, its fixed buffer's pins dropped.
  for (int i = npins - 1; i >= 0; i--) {
    if (pins[i].addr != addr || pins[i].len != len) continue;
    syscall(SYS_io_uring_register, pins[i].fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
    close(pins[i].fd);
    memmove(&pins[i], &pins[i + 1], (size_t)(npins - i - 1) * sizeof pins[0]);
    npins--;
    r->value = 1;
    break;
  }
  if (r->value == 0) {
    r->status = MOPS_ERRNO;
    r->err = EINVAL;
  }
}

// fork(): a clone with CLONE_PARENT, so the child is the controller's child too (the
// controller reaps every worker) and is otherwise exactly fork() (no CLONE_VM: the
// kernel's dup_mmap copies the address space). Returns 1 in the child.
static int fork_worker(int child_sock, struct mops_reply *r) {
  if (child_sock < 0) {
    r->status = MOPS_ERRNO;
    r->err = EBADF;
    return 0;
  }
  long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
  if (pid == 0) {
    close(sock);
    sock = child_sock;
    for (int i = 0; i < npins; i++) close(pins[i].fd);  // pins belong to the parent
    npins = 0;
    die_with_controller();
    hello();
    return 1;
  }
  close(child_sock);
  if (pid < 0) {
    r->status = MOPS_ERRNO;
    r->err = errno;
  } else {
    r->value = (uint64_t)pid;
  }
  return 0;
}

static void syscall_result(long rc, struct mops_reply *r) {
  if (rc == -1) {
    r->status = MOPS_ERRNO;
    r->err = errno;
  } else {
    r->value = (uint64_t)rc;
  }
}

static void uffd_result(int rc, struct mops_reply *r) {
  if (rc < 0) {
    r->status = MOPS_ERRNO;
    r->err = -rc;
  }
}

static int receive(int *passed_fd) {
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct iovec iov[2] = {{&in.cmd, sizeof in.cmd}, {in.data, sizeof in.data}};
  struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = &ctl, .msg_controllen = sizeof ctl};
  ssize_t n;
  while ((n = recvmsg(sock, &m, 0)) < 0 && errno == EINTR) {
  }
  if (n < (ssize_t)sizeof in.cmd) return 0;
  *passed_fd = -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(passed_fd, CMSG_DATA(c), sizeof(int));
  if (in.cmd.count > (uint32_t)(n - (ssize_t)sizeof in.cmd)) in.cmd.count = (uint32_t)(n - (ssize_t)sizeof in.cmd);
  return 1;
}

static _Noreturn void serve(void) {
  for (;;) {
    int passed_fd;
    if (!receive(&passed_fd)) _exit(0);  // the controller closed the socket
    const uint64_t *a = in.cmd.a;
    struct mops_reply r = {.status = MOPS_OK};
    uint64_t features, ioctls;
    switch (in.cmd.op) {
    case MOPS_OP_MMAP:
      syscall_result(syscall(SYS_mmap, a[0], a[1], a[2], a[3], -1, 0), &r);
      break;
    case MOPS_OP_MUNMAP:
      syscall_result(syscall(SYS_munmap, a[0], a[1]), &r);
      break;
    case MOPS_OP_MPROTECT:
      syscall_result(syscall(SYS_mprotect, a[0], a[1], a[2]), &r);
      break;
    case MOPS_OP_MADVISE:
      syscall_result(syscall(SYS_madvise, a[0], a[1], a[2]), &r);
      break;
    case MOPS_OP_MREMAP:
      syscall_result(syscall(SYS_mremap, a[0], a[1], a[2], a[3], a[4]), &r);
      break;
    case MOPS_OP_TOUCH:
      // A short watchdog lets the controller make an access that is known to block in a
      // userfault: the kernel does what precedes the wait (a write fault prepares the
      // VMA's anon_vma), then the alarm interrupts the wait.
      watchdog_ms = a[4] ? a[4] : 1000;
      touch(a[0], a[1] != 0, a[2] != 0, (uint8_t)a[3], &r);
      watchdog_ms = 1000;
      break;
    case MOPS_OP_WRITE:
      write_bytes(a[0], in.data, in.cmd.count, &r);
      break;
    case MOPS_OP_READ:
      read_bytes(a[0], a[1] > MOPS_PAYLOAD_MAX ? MOPS_PAYLOAD_MAX : (uint32_t)a[1], &r);
      break;
    case MOPS_OP_FORK:
      if (fork_worker(passed_fd, &r)) continue;  // the child answers with its hello
      break;
    case MOPS_OP_EXIT:
      _exit(0);
    case MOPS_OP_PIN:
      pin(a[0], a[1], &r);
      break;
    case MOPS_OP_UNPIN:
      unpin(a[0], a[1], &r);
      break;
    case MOPS_OP_USERFAULTFD: {
      int fd = mops_userfaultfd((int)a[0]);
      if (fd < 0) uffd_result(fd, &r); else r.value = (uint64_t)fd;
      break;
    }
    case MOPS_OP_UFFDIO_API:
      features = a[2];
      ioctls = 0;
      uffd_result(mops_uffdio_api((int)a[0], a[1], &features, &ioctls), &r);
      r.value = features;
      r.value2 = ioctls;
      break;
    case MOPS_OP_UFFDIO_REGISTER:
      ioctls = 0;
      uffd_result(mops_uffdio_register((int)a[0], a[1], a[2], a[3], &ioctls), &r);
      r.value = ioctls;
      break;
    case MOPS_OP_UFFDIO_UNREGISTER:
      uffd_result(mops_uffdio_unregister((int)a[0], a[1], a[2]), &r);
      break;
    case MOPS_OP_CLOSE:
      syscall_result(close((int)a[0]), &r);
      break;
    case MOPS_OP_UFFDIO_MOVE:
      uffd_result(mops_uffdio_move((int)a[0], a[1], a[2], a[3], a[4], &r.field), &r);
      break;
    case MOPS_OP_UFFDIO_COPY:
      uffd_result(mops_uffdio_copy((int)a[0], a[1], a[2], a[3], a[4], &r.field), &r);
      break;
    case MOPS_OP_UFFDIO_ZEROPAGE:
      uffd_result(mops_uffdio_zeropage((int)a[0], a[1], a[2], a[3], &r.field), &r);
      break;
    case MOPS_OP_RESIDENT:
      if (a[1] > MOPS_PAYLOAD_MAX) {
        r.status = MOPS_ERRNO;
        r.err = EINVAL;
      } else if (mincore((void *)(uintptr_t)a[0], a[1] * 4096, out) != 0) {
        r.status = MOPS_ERRNO;
        r.err = errno;
      } else {
        r.count = (uint32_t)a[1];
      }
      break;
    case MOPS_OP_MREMAP_NOGROW:
      mremap_nogrow(a, &r);
      break;
    case MOPS_OP_PEEK:
      peek(a[0], a[1], &r);
      break;
    default:
      r.status = MOPS_ERRNO;
      r.err = ENOSYS;
    }
    if (passed_fd >= 0 && in.cmd.op != MOPS_OP_FORK) close(passed_fd);
    if (in.cmd.op != MOPS_OP_PEEK && in.cmd.op != MOPS_OP_RESIDENT) drain_lru_batches();
    reply(&r, out);
  }
}

_Noreturn void mops_worker_main(int worker_sock, pid_t controller_pid) {
  sock = worker_sock;
  controller = controller_pid;
  setup_initial();
  serve();
}
