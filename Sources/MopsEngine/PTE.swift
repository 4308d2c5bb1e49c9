import MopsABI

/// A page-table entry: none, the shared zero page, or a present page.
///
/// Packed into one word like the hardware entry it models, so a page table of 512
/// entries is 4 KiB of host memory and fork copies it with a plain array copy.
///
///     bit 63  present        bit 2  maps the shared zero page
///     bit 1   dirty          bit 0  writable
///     bits 8..<56  pfn
public struct PTE: Hashable, Sendable, CustomStringConvertible {
  public var raw: UInt64

  @usableFromInline static let presentBit: UInt64 = 1 << 63
  @usableFromInline static let zeroBit: UInt64 = 1 << 2
  @usableFromInline static let dirtyBit: UInt64 = 1 << 1
  @usableFromInline static let writeBit: UInt64 = 1 << 0
  @usableFromInline static let pfnShift: UInt64 = 8
  @usableFromInline static let pfnMask: UInt64 = (1 << 48) - 1

  @inlinable public init(raw: UInt64) { self.raw = raw }

  /// `pte_none`.
  public static let none = PTE(raw: 0)
  /// A read-only special PTE mapping the shared zero page.
  public static let zeroPage = PTE(raw: presentBit | zeroBit)

  /// A present PTE mapping a normal page.
  @inlinable
  public static func page(_ pfn: PFN, writable: Bool, dirty: Bool) -> PTE {
    PTE(
      raw: presentBit | (pfn.rawValue & pfnMask) << pfnShift | (writable ? writeBit : 0)
        | (dirty ? dirtyBit : 0))
  }

  @inlinable public var isNone: Bool { raw == 0 }
  @inlinable public var isPresent: Bool { raw & PTE.presentBit != 0 }
  @inlinable public var isZeroPage: Bool { raw & PTE.zeroBit != 0 }
  /// Present and mapping a normal (non-zero) page.
  @inlinable public var isPage: Bool { raw & (PTE.presentBit | PTE.zeroBit) == PTE.presentBit }
  @inlinable public var pfn: PFN { PFN((raw >> PTE.pfnShift) & PTE.pfnMask) }
  @inlinable public var isWritable: Bool { raw & PTE.writeBit != 0 }
  @inlinable public var isDirty: Bool { raw & PTE.dirtyBit != 0 }

  /// `pte_wrprotect` / `pte_mkwrite`.
  @inlinable public func withWritable(_ writable: Bool) -> PTE {
    PTE(raw: writable ? raw | PTE.writeBit : raw & ~PTE.writeBit)
  }
  /// `pte_mkclean` / `pte_mkdirty`.
  @inlinable public func withDirty(_ dirty: Bool) -> PTE {
    PTE(raw: dirty ? raw | PTE.dirtyBit : raw & ~PTE.dirtyBit)
  }

  public var description: String {
    if isNone { return "none" }
    if isZeroPage { return "zero" }
    return "\(pfn) \(isWritable ? "rw" : "ro")\(isDirty ? " dirty" : "")"
  }
}
