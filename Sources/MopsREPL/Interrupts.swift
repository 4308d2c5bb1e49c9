import Glibc
import Synchronization

/// Ctrl-C at the prompt: a SIGINT handler that only sets flags the line reader polls,
/// so an interrupted line returns from libedit instead of ending the program.
///
/// While a statement runs, the first Ctrl-C is remembered (the next prompt ignores
/// it) and a second one ends mops with status 130, so a runaway loop can still be
/// stopped.
enum Interrupts {
  /// Set by SIGINT; cleared by the reader before each line.
  static let pending = Atomic<Bool>(false)
  /// True while the reader waits for a key.
  static let reading = Atomic<Bool>(false)

  /// Installs the handler, without `SA_RESTART` so a blocked `read` returns `EINTR`,
  /// and makes sure SIGINT is not blocked.
  static func install() {
    // Touch both flags first: their lazy initialization must not happen in the handler.
    pending.store(false, ordering: .relaxed)
    reading.store(false, ordering: .relaxed)
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in
      let wasPending = Interrupts.pending.exchange(true, ordering: .relaxed)
      if wasPending && !Interrupts.reading.load(ordering: .relaxed) { _exit(130) }
    }
    sigemptyset(&action.sa_mask)
    action.sa_flags = 0
    sigaction(SIGINT, &action, nil)
    // A parent may have started mops with SIGINT blocked (the mask is inherited).
    var unblock = sigset_t()
    sigemptyset(&unblock)
    sigaddset(&unblock, SIGINT)
    sigprocmask(SIG_UNBLOCK, &unblock, nil)
  }
}
