/// A Linux error number, spelled as the kernel spells it.
///
/// Modelled on `System.Errno`: a thin `RawRepresentable` wrapper with one static
/// constant per name, so `.EBUSY` reads as it does in `mm/userfaultfd.c`.
public struct Errno: RawRepresentable, Hashable, Sendable, Error, CustomStringConvertible {
  public var rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }

  public static let EPERM = Errno(rawValue: 1)
  public static let ENOENT = Errno(rawValue: 2)
  public static let ESRCH = Errno(rawValue: 3)
  public static let EINTR = Errno(rawValue: 4)
  public static let EIO = Errno(rawValue: 5)
  public static let EBADF = Errno(rawValue: 9)
  public static let EAGAIN = Errno(rawValue: 11)
  public static let ENOMEM = Errno(rawValue: 12)
  public static let EACCES = Errno(rawValue: 13)
  public static let EFAULT = Errno(rawValue: 14)
  public static let EBUSY = Errno(rawValue: 16)
  public static let EEXIST = Errno(rawValue: 17)
  public static let ENODEV = Errno(rawValue: 19)
  public static let EINVAL = Errno(rawValue: 22)
  public static let ENOSPC = Errno(rawValue: 28)
  public static let ERANGE = Errno(rawValue: 34)
  public static let ENOSYS = Errno(rawValue: 38)
  public static let EOVERFLOW = Errno(rawValue: 75)
  public static let EOPNOTSUPP = Errno(rawValue: 95)
  public static let EHWPOISON = Errno(rawValue: 133)

  /// Every errno the model can produce, in numeric order.
  public static let all: [Errno] = [
    .EPERM, .ENOENT, .ESRCH, .EINTR, .EIO, .EBADF, .EAGAIN, .ENOMEM, .EACCES, .EFAULT,
    .EBUSY, .EEXIST, .ENODEV, .EINVAL, .ENOSPC, .ERANGE, .ENOSYS, .EOVERFLOW, .EOPNOTSUPP,
    .EHWPOISON,
  ]

  private static let names: [Int32: String] = [
    1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 9: "EBADF", 11: "EAGAIN",
    12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV",
    22: "EINVAL", 28: "ENOSPC", 34: "ERANGE", 38: "ENOSYS", 75: "EOVERFLOW",
    95: "EOPNOTSUPP", 133: "EHWPOISON",
  ]

  /// The kernel's name for this errno (`"EBUSY"`), or `"errno N"` for an unnamed one.
  public var name: String { Errno.names[rawValue] ?? "errno \(rawValue)" }

  /// Looks an errno up by its kernel name; `nil` for an unknown name.
  public init?(name: String) {
    guard let entry = Errno.names.first(where: { $0.value == name }) else { return nil }
    self.rawValue = entry.key
  }

  public var description: String { name }
}
