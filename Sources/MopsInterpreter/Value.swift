import MopsABI
import MopsBackend
import MopsSyntax

/// A value at run time.
enum Value: Hashable {
  case int(UInt64)
  case bool(Bool)
  /// A physical page: `nil` when the page has no frame (not present).
  case frame(PFN?)
  case contents(PageContents)
  case vmFlags(VMFlags)
  case prot(Prot)
  case errno(Errno)
  case advice(Advice)
  case string([UInt8])
  /// `[start, start + length)`.
  case range(VirtAddr, UInt64)
  case process(PID)
  case uffd(UffdHandle)
}

/// A check that cannot be made on this backend (e.g. frames without root): the
/// assertion is skipped with this reason.
struct Unobservable: Error {
  var reason: String
}

/// A statement that cannot run as written (an address overflow, a byte above 255,
/// a process that has exited): it fails with this message.
struct RuntimeFault: Error {
  var message: String
  var range: SourceRange
}

/// The backends of `--backend both` disagree: the run stops here, whatever
/// `--keep-going` says.
struct Disagreement: Error {
  var message: String
}
