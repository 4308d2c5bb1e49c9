// One live worker process as the controller sees it: its socket, its /proc files, and
// what the controller remembers about it (script parent, userfaultfds, cached VMAs).
import CMopsLinux
import Glibc
import MopsABI
import MopsBackend

/// The answer of a worker to one command.
struct WorkerReply {
  var raw: mops_reply
  var payload: [UInt8]

  var status: Int32 { raw.status }
  var errno: Errno { Errno(rawValue: raw.err) }
  /// The uffd output field, `nil` when the kernel left it untouched.
  var field: Int64? { raw.field == Int64.min ? nil : raw.field }
}

/// What the controller knows about one userfaultfd of a worker.
struct UffdState {
  /// The worker that created it: its mm is the one the uffd's ranges live in, also when
  /// a fork child uses the inherited descriptor.
  var owner: PID
  /// The flags it was created with (UFFD_USER_MODE_ONLY = 1).
  var flags: Int32
  /// Whether UFFDIO_API succeeded on it.
  var initialized = false
  /// The features requested by that UFFDIO_API (what the kernel enables).
  var features: UffdFeatures = []
}

final class Worker {
  let pid: PID
  /// The script's parent (the worker that forked it), not the OS parent.
  let parent: PID?
  private(set) var sock: Int32
  private(set) var pagemapFD: Int32 = -1
  var uffds: [Int32: UffdState] = [:]
  /// Whether a UFFDIO_REGISTER on one of this worker's own uffds has succeeded: until
  /// then none of its VMAs is registered and accesses need no userfault check (a fork
  /// child's VMAs lose their registration, as no event feature is ever enabled).
  var mayHaveRegistrations = false
  var smaps: [SmapsVMA]?
  var smapsGeneration = -1
  var smapsOperations = -1
  private var ended = false
  private var payload = [UInt8](repeating: 0, count: Int(MOPS_PAYLOAD_MAX))

  init(pid: PID, parent: PID?, sock: Int32) {
    self.pid = pid
    self.parent = parent
    self.sock = sock
    mops_worker_track(pid.rawValue)
    // Bound to the worker's mm at open time; its mm never changes (workers never exec).
    pagemapFD = open("/proc/\(pid.rawValue)/pagemap", O_RDONLY | O_CLOEXEC)
  }

  /// Sends one command and waits for the answer.
  func call(
    _ op: mops_op, _ args: [UInt64] = [], payload bytes: ArraySlice<UInt8> = [], passFD: Int32 = -1,
    timeoutMS: Int32
  ) throws(BackendError) -> WorkerReply {
    try send(op, args, payload: bytes, passFD: passFD)
    return try receive(timeoutMS: timeoutMS)
  }

  /// Sends one command without waiting (MOPS_OP_EXIT has no answer).
  func send(
    _ op: mops_op, _ args: [UInt64] = [], payload bytes: ArraySlice<UInt8> = [], passFD: Int32 = -1
  ) throws(BackendError) {
    var cmd = mops_cmd()
    cmd.op = op.rawValue
    cmd.count = UInt32(bytes.count)
    withUnsafeMutableBytes(of: &cmd.a) { a in
      for (i, v) in args.prefix(5).enumerated() { a.storeBytes(of: v, toByteOffset: i * 8, as: UInt64.self) }
    }
    let sent = bytes.withContiguousStorageIfAvailable { mops_send_cmd(sock, &cmd, $0.baseAddress, passFD) }
      ?? Array(bytes).withUnsafeBytes { mops_send_cmd(sock, &cmd, $0.baseAddress, passFD) }
    if sent < 0 { throw BackendError("cannot send to worker \(pid.rawValue): errno \(-sent)") }
  }

  /// Waits for one answer (also used for a forked child's hello).
  func receive(timeoutMS: Int32) throws(BackendError) -> WorkerReply {
    var reply = mops_reply()
    let rc = payload.withUnsafeMutableBytes { mops_recv_reply(sock, &reply, $0.baseAddress, timeoutMS) }
    if rc == -ETIMEDOUT {
      throw BackendError(
        "worker \(pid.rawValue) did not answer within \(timeoutMS / 1000) s (blocked, e.g. in a userfault the backend did not foresee)"
      )
    }
    if rc < 0 { throw BackendError("worker \(pid.rawValue) is gone (errno \(-rc))") }
    let count = min(Int(reply.count), payload.count)
    return WorkerReply(raw: reply, payload: Array(payload[0..<count]))
  }

  /// Kills (if still running) and reaps the worker and releases its descriptors. Safe to
  /// call more than once.
  func end(kill: Bool) {
    guard !ended else { return }
    ended = true
    if sock >= 0 {
      close(sock)
      sock = -1
    }
    if pagemapFD >= 0 { close(pagemapFD) }
    pagemapFD = -1
    guard pid.rawValue > 0 else { return }
    if kill { Glibc.kill(pid.rawValue, SIGKILL) }
    var status: Int32 = 0
    while waitpid(pid.rawValue, &status, 0) < 0 && errno == EINTR {}
    mops_worker_untrack(pid.rawValue)
  }
}
