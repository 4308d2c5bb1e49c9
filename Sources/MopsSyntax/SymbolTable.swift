/// An open-addressing table from byte spellings to small integers, keyed by the
/// FNV-1a hash the lexer computes while scanning a word, so looking a word up builds
/// no String and hashes nothing twice. Used for the keywords, the kernel constants
/// and the names of a script.
struct SpellingTable: Sendable {
  private var slots: [Int32]
  private var slotHashes: [UInt32]
  /// All spellings back to back; entry `i` is `bytes[offsets[i]..<offsets[i + 1]]`.
  private var bytes: [UInt8] = []
  private var offsets: [Int32] = [0]

  static let seed: UInt32 = 2_166_136_261
  @inline(__always) static func step(_ h: UInt32, _ b: UInt8) -> UInt32 { (h ^ UInt32(b)) &* 16_777_619 }
  static func hash<C: Collection<UInt8>>(_ word: C) -> UInt32 { word.reduce(seed, step) }

  init(capacity: Int = 64) {
    var size = 16
    while size < capacity * 2 { size *= 2 }
    slots = [Int32](repeating: -1, count: size)
    slotHashes = [UInt32](repeating: 0, count: size)
  }

  /// Number of entries.
  var count: Int { offsets.count - 1 }

  /// The spelling of entry `index`.
  func spelling(_ index: Int) -> String {
    String(decoding: bytes[Int(offsets[index])..<Int(offsets[index + 1])], as: UTF8.self)
  }

  /// The entry spelled `buf[start..<end]` with hash `hash`, if present.
  @inline(__always)
  func find(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, hash: UInt32) -> Int? {
    let found = probe(buf, start, end, hash: hash)
    return found.entry
  }

  /// The entry for `word`, if present.
  func find(_ word: String) -> Int? {
    var copy = word
    return copy.withUTF8 { find($0, 0, $0.count, hash: SpellingTable.hash($0)) }
  }

  /// The entry spelled `buf[start..<end]`, added if absent.
  mutating func intern(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, hash: UInt32) -> Int {
    let found = probe(buf, start, end, hash: hash)
    if let entry = found.entry { return entry }
    let entry = count
    var i = start
    while i < end {
      bytes.append(buf[i])
      i += 1
    }
    offsets.append(Int32(bytes.count))
    slots[found.slot] = Int32(entry)
    slotHashes[found.slot] = hash
    if count * 2 > slots.count { grow() }
    return entry
  }

  /// Adds `word` (which must be absent) and returns its entry.
  @discardableResult
  mutating func add(_ word: String) -> Int {
    var copy = word
    return copy.withUTF8 { intern($0, 0, $0.count, hash: SpellingTable.hash($0)) }
  }

  /// The entry matching, or the empty slot where it would go.
  private func probe(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, hash: UInt32) -> (
    entry: Int?, slot: Int
  ) {
    let length = end - start
    return slots.withUnsafeBufferPointer { slots in
      slotHashes.withUnsafeBufferPointer { hashes in
        bytes.withUnsafeBufferPointer { bytes in
          offsets.withUnsafeBufferPointer { offsets in
            let mask = slots.count - 1
            var slot = Int(hash) & mask
            while true {
              let entry = Int(slots[slot])
              if entry < 0 { return (nil, slot) }
              if hashes[slot] == hash {
                let offset = Int(offsets[entry])
                if Int(offsets[entry + 1]) - offset == length {
                  var i = 0
                  while i < length && bytes[offset + i] == buf[start + i] { i += 1 }
                  if i == length { return (entry, slot) }
                }
              }
              slot = (slot + 1) & mask
            }
          }
        }
      }
    }
  }

  private mutating func grow() {
    let oldSlots = slots
    let oldHashes = slotHashes
    slots = [Int32](repeating: -1, count: oldSlots.count * 2)
    slotHashes = [UInt32](repeating: 0, count: oldSlots.count * 2)
    let mask = slots.count - 1
    for (i, entry) in oldSlots.enumerated() where entry >= 0 {
      var slot = Int(oldHashes[i]) & mask
      while slots[slot] >= 0 { slot = (slot + 1) & mask }
      slots[slot] = entry
      slotHashes[slot] = oldHashes[i]
    }
  }
}

/// The names of one script, interned: each distinct spelling gets a symbol
/// (``Name/symbol``) whose text is ``Script/symbols``.
public struct SymbolTable: Hashable, Sendable {
  private var table = SpellingTable(capacity: 1024)
  /// The spelling of each symbol.
  public private(set) var names: [String] = []

  public init() {}

  /// The symbol for `buf[range]`, whose FNV-1a hash is `hash`.
  mutating func intern(_ buf: UnsafeBufferPointer<UInt8>, _ range: SourceRange, hash: UInt32) -> Int {
    let before = table.count
    let symbol = table.intern(buf, range.start, range.end, hash: hash)
    if table.count > before { names.append(table.spelling(symbol)) }
    return symbol
  }

  /// The symbol spelled `word`, if the script uses it.
  public func symbol(of word: String) -> Int? { table.find(word) }

  public static func == (a: SymbolTable, b: SymbolTable) -> Bool { a.names == b.names }
  public func hash(into hasher: inout Hasher) { hasher.combine(names) }
}
