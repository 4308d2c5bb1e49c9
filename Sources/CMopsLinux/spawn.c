// The controller's side of the worker protocol: a spawner thread that forks workers,
// a registry of live workers for emergency cleanup, and message send/receive.
#define _GNU_SOURCE
#include "CMopsLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

_Noreturn void mops_worker_main(int worker_sock, pid_t controller_pid);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int requests[2] = {-1, -1}, answers[2] = {-1, -1};

// Every worker's parent thread: it never ends, so PR_SET_PDEATHSIG only fires when the
// controller process itself dies. It blocks all signals (they go to other threads).
static void *spawner(void *unused) {
  (void)unused;
  for (;;) {
    int sock;
    if (read(requests[0], &sock, sizeof sock) != sizeof sock) continue;
    pid_t controller = getpid();
    long pid = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (pid == 0) mops_worker_main(sock, controller);
    pid_t answer = pid < 0 ? -errno : (pid_t)pid;
    while (write(answers[1], &answer, sizeof answer) < 0 && errno == EINTR) {
    }
  }
  return NULL;
}

static void start_spawner(void) {
  if (pipe2(requests, O_CLOEXEC) != 0 || pipe2(answers, O_CLOEXEC) != 0) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&t, &attr, spawner, NULL) != 0) {
    close(requests[1]);
    requests[1] = -1;
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

pid_t mops_spawn_worker(int sock) {
  pthread_once(&once, start_spawner);
  if (requests[1] < 0) return -EAGAIN;
  pthread_mutex_lock(&lock);
  pid_t answer = -EIO;
  if (write(requests[1], &sock, sizeof sock) == sizeof sock) {
    while (read(answers[0], &answer, sizeof answer) < 0 && errno == EINTR) {
    }
  }
  pthread_mutex_unlock(&lock);
  return answer;
}

#define MAX_TRACKED 4096
static pid_t tracked[MAX_TRACKED];

void mops_worker_track(pid_t pid) {
  for (int i = 0; i < MAX_TRACKED; i++) {
    pid_t empty = 0;
    if (__atomic_compare_exchange_n(&tracked[i], &empty, pid, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return;
  }
}

void mops_worker_untrack(pid_t pid) {
  for (int i = 0; i < MAX_TRACKED; i++) {
    pid_t expected = pid;
    if (__atomic_compare_exchange_n(&tracked[i], &expected, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return;
  }
}

void mops_kill_all_workers(void) {
  for (int i = 0; i < MAX_TRACKED; i++) {
    pid_t pid = __atomic_exchange_n(&tracked[i], 0, __ATOMIC_SEQ_CST);
    if (pid <= 0) continue;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
}

int mops_send_cmd(int sock, const struct mops_cmd *cmd, const void *payload, int pass_fd) {
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct iovec iov[2] = {{(void *)cmd, sizeof *cmd}, {(void *)payload, cmd->count}};
  struct msghdr m = {.msg_iov = iov, .msg_iovlen = cmd->count ? 2 : 1};
  if (pass_fd >= 0) {
    memset(&ctl, 0, sizeof ctl);
    m.msg_control = &ctl;
    m.msg_controllen = sizeof ctl;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  while (sendmsg(sock, &m, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) return -errno;
  }
  return 0;
}

int mops_recv_reply(int sock, struct mops_reply *reply, void *payload, int timeout_ms) {
  struct pollfd p = {.fd = sock, .events = POLLIN};
  int n;
  while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  if (n < 0) return -errno;
  if (n == 0) return -ETIMEDOUT;
  struct iovec iov[2] = {{reply, sizeof *reply}, {payload, MOPS_PAYLOAD_MAX}};
  struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
  ssize_t got;
  while ((got = recvmsg(sock, &m, 0)) < 0 && errno == EINTR) {
  }
  if (got < 0) return errno == ECONNRESET ? -EPIPE : -errno;
  if (got < (ssize_t)sizeof *reply) return -EPIPE;
  return 0;
}
