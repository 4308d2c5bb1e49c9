/// The folios of the physical frames, indexed by `pfn - firstPFN`: a random-access,
/// mutable collection with value semantics (copy on write, so a world snapshot shares
/// it until one side changes a frame).
///
/// The folios live in chunks of 2^16 (2.5 MiB each) that never move. Growing the array
/// allocates one more chunk; an `Array` would copy every folio each time it doubled,
/// touching about twice the host memory the frames need (a million-page workload spent
/// a third of its time there).
public struct FolioArray: RandomAccessCollection, MutableCollection, Sendable {
  static let chunkShift = 16
  static let chunkSize = 1 << chunkShift
  static let slotMask = chunkSize - 1

  /// The chunks and the number of folios in use; chunk `c` holds folios
  /// `[c << chunkShift, (c + 1) << chunkShift)`, all but the last one full.
  final class Storage: @unchecked Sendable {
    var chunks: [UnsafeMutablePointer<Folio>] = []
    var count = 0

    init() {}

    /// A copy of `other`'s folios in chunks of its own.
    init(copying other: Storage) {
      count = other.count
      chunks.reserveCapacity(other.chunks.count)
      for (c, source) in other.chunks.enumerated() {
        let chunk = UnsafeMutablePointer<Folio>.allocate(capacity: FolioArray.chunkSize)
        chunk.initialize(from: source, count: other.used(inChunk: c))
        chunks.append(chunk)
      }
    }

    /// Folios initialized in chunk `c`.
    func used(inChunk c: Int) -> Int {
      Swift.min(FolioArray.chunkSize, count - (c << FolioArray.chunkShift))
    }

    deinit {
      for (c, chunk) in chunks.enumerated() {
        chunk.deinitialize(count: used(inChunk: c))
        chunk.deallocate()
      }
    }
  }

  private var storage = Storage()

  public init() {}

  public var startIndex: Int { 0 }
  public var endIndex: Int { storage.count }

  public subscript(i: Int) -> Folio {
    get {
      precondition(i >= 0 && i < storage.count, "folio index out of range")
      return storage.chunks[i >> FolioArray.chunkShift][i & FolioArray.slotMask]
    }
    _modify {
      precondition(i >= 0 && i < storage.count, "folio index out of range")
      makeUnique()
      yield &storage.chunks[i >> FolioArray.chunkShift][i & FolioArray.slotMask]
    }
  }

  /// Adds `folio` at the end.
  public mutating func append(_ folio: Folio) {
    makeUnique()
    let i = storage.count
    if i & FolioArray.slotMask == 0 {
      storage.chunks.append(UnsafeMutablePointer<Folio>.allocate(capacity: FolioArray.chunkSize))
    }
    (storage.chunks[i >> FolioArray.chunkShift] + (i & FolioArray.slotMask)).initialize(to: folio)
    storage.count = i + 1
  }

  /// Calls `body` with direct access to every folio (fork's bulk update). `body` must
  /// not add folios.
  public mutating func withUnsafeMutableAccess<R>(_ body: (UnsafeMutableFolios) -> R) -> R {
    makeUnique()
    let count = storage.count
    return storage.chunks.withUnsafeBufferPointer { body(UnsafeMutableFolios(chunks: $0, count: count)) }
  }

  private mutating func makeUnique() {
    if !isKnownUniquelyReferenced(&storage) { storage = Storage(copying: storage) }
  }
}

/// Unchecked access to a ``FolioArray``'s folios for the duration of
/// ``FolioArray/withUnsafeMutableAccess(_:)``.
public struct UnsafeMutableFolios {
  let chunks: UnsafeBufferPointer<UnsafeMutablePointer<Folio>>
  /// The number of folios.
  public let count: Int

  public subscript(i: Int) -> Folio {
    unsafeAddress { UnsafePointer(pointer(i)) }
    nonmutating unsafeMutableAddress { pointer(i) }
  }

  /// The address of folio `i` (valid for the duration of the access).
  @inline(__always)
  public func pointer(_ i: Int) -> UnsafeMutablePointer<Folio> {
    chunks[i >> FolioArray.chunkShift] + (i & FolioArray.slotMask)
  }
}
