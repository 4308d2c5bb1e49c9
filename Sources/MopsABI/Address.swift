/// The page size of the modelled machine (x86-64, 4 KiB pages).
public let pageSize: UInt64 = 4096
/// log2 of ``pageSize``.
public let pageShift: UInt64 = 12
/// PMD_SIZE: 2 MiB, the THP size and the alignment of 2 MiB-multiple anonymous mappings.
public let pmdSize: UInt64 = 2 << 20
/// TASK_SIZE on x86-64 with 4-level paging: the end of the user address space.
public let taskSize: UInt64 = 0x7fff_ffff_f000
/// `vm.mmap_min_addr` on the reference machine (4096).
public let mmapMinAddr: UInt64 = 0x1000
/// `vm.max_map_count` on the reference machine.
public let defaultMaxMapCount: Int = 65530

/// The window of the address space every script's mappings live in, identical under
/// every backend: unhinted placement searches only here, and the live backend refuses
/// any address outside it before making a syscall.
public enum Arena {
  /// First byte of the arena.
  public static let start = VirtAddr(0x1000_0000_0000)
  /// One past the last byte of the arena (1 TiB after `start`).
  public static let end = VirtAddr(0x1100_0000_0000)

  /// A PROT_NONE page every backend maps at `end` in the first process, so nothing
  /// grows out of the arena: an in-place mremap growth at the top of the arena meets it
  /// and fails (or moves) as it would against any neighbour. It is a shared anonymous
  /// mapping (its own shmem file), so no mapping a script makes can ever merge with it.
  /// It is outside the arena, so no view shows it, but it counts towards
  /// `vm.max_map_count` and is inherited by fork like any VMA.
  public static let guardPage = end

  /// Whether `[addr, addr + len)` lies inside the arena (an empty range at a valid
  /// address counts as inside).
  public static func contains(_ addr: VirtAddr, length len: UInt64) -> Bool {
    addr >= start && addr <= end && len <= end.rawValue - addr.rawValue
  }
}

/// A user virtual address.
public struct VirtAddr: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
  public var rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }
  public init(_ rawValue: UInt64) { self.rawValue = rawValue }

  /// The virtual page number (`addr >> PAGE_SHIFT`).
  public var vpn: UInt64 { rawValue >> pageShift }
  /// Whether the address is a multiple of the page size.
  public var isPageAligned: Bool { rawValue & (pageSize - 1) == 0 }
  /// The address rounded down to its page.
  public var pageDown: VirtAddr { VirtAddr(rawValue & ~(pageSize - 1)) }

  public static func < (a: VirtAddr, b: VirtAddr) -> Bool { a.rawValue < b.rawValue }
  public static func + (a: VirtAddr, b: UInt64) -> VirtAddr { VirtAddr(a.rawValue &+ b) }
  public static func - (a: VirtAddr, b: UInt64) -> VirtAddr { VirtAddr(a.rawValue &- b) }
  /// The distance in bytes from `b` up to `a`.
  public static func - (a: VirtAddr, b: VirtAddr) -> UInt64 { a.rawValue &- b.rawValue }
  public static func += (a: inout VirtAddr, b: UInt64) { a.rawValue &+= b }

  /// `0x100000000000`-style lowercase hex.
  public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// A page frame number: the identity of a physical page.
public struct PFN: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
  public var rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }
  public init(_ rawValue: UInt64) { self.rawValue = rawValue }
  public static func < (a: PFN, b: PFN) -> Bool { a.rawValue < b.rawValue }
  public var description: String { "pfn " + String(rawValue, radix: 16) }
}

/// A process id as the model (or the live kernel) numbers processes.
public struct PID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
  public var rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }
  public init(_ rawValue: Int32) { self.rawValue = rawValue }
  public static func < (a: PID, b: PID) -> Bool { a.rawValue < b.rawValue }
  public var description: String { "pid \(rawValue)" }
}

/// Rounds `len` up to a whole number of pages; `nil` when that overflows 64 bits
/// (the kernel's `PAGE_ALIGN` wrapping to 0).
@inlinable
public func pageAlignUp(_ len: UInt64) -> UInt64? {
  let (sum, overflow) = len.addingReportingOverflow(pageSize - 1)
  return overflow ? nil : sum & ~(pageSize - 1)
}
