/// A half-open range of byte offsets `[start, end)` into a ``SourceFile``.
///
/// Every token, AST node and diagnostic carries one. Offsets are bytes, not
/// characters, so a range is valid for any input, including invalid UTF-8.
public struct SourceRange: Hashable, Sendable, CustomStringConvertible {
  public var start: Int
  public var end: Int

  public init(_ start: Int, _ end: Int) {
    self.start = start
    self.end = end
  }

  /// An empty range at `offset`, e.g. the end of the input.
  public static func at(_ offset: Int) -> SourceRange { SourceRange(offset, offset) }

  /// The smallest range covering both.
  public func union(_ other: SourceRange) -> SourceRange {
    SourceRange(Swift.min(start, other.start), Swift.max(end, other.end))
  }

  public var length: Int { end - start }
  public var description: String { "\(start)..<\(end)" }
}

/// A position as a person reads it: 1-based line and column.
///
/// The column counts characters (UTF-8 sequences; an invalid byte counts as one), so
/// a caret drawn that many columns in lines up under the character.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
  public var line: Int
  public var column: Int
  public init(line: Int, column: Int) {
    self.line = line
    self.column = column
  }
  public var description: String { "\(line):\(column)" }
}

/// The text of one script: its bytes, a display path and a line table.
///
/// The line table makes "where does line N start" O(1) and "which line holds offset X"
/// a binary search, whatever the size of the file.
public struct SourceFile: Sendable {
  /// The name diagnostics print (`examples/fork.mops`, `<repl>`).
  public let path: String
  /// The raw bytes; never assumed to be valid UTF-8.
  public let bytes: [UInt8]
  /// The offset where each line starts; `lineStarts[0] == 0`.
  public let lineStarts: [Int]
  /// The number people read for the first line: 1 for a file; for one input of an
  /// interactive session, the session line it starts on, so diagnostics and `line N`
  /// notes count across inputs as they would in one file.
  public let firstLine: Int

  public init(path: String, bytes: [UInt8], firstLine: Int = 1) {
    self.path = path
    self.bytes = bytes
    self.firstLine = firstLine
    var starts = [0]
    starts.reserveCapacity(bytes.count / 24 + 1)
    bytes.withUnsafeBufferPointer { buf in
      var i = 0
      let n = buf.count
      while i < n {
        if buf[i] == 0x0A { starts.append(i + 1) }
        i += 1
      }
    }
    self.lineStarts = starts
  }

  public init(path: String, text: String, firstLine: Int = 1) {
    self.init(path: path, bytes: Array(text.utf8), firstLine: firstLine)
  }

  /// Number of lines (a final line without a newline counts; an empty file has one).
  public var lineCount: Int { lineStarts.count }

  /// The 1-based line holding byte `offset` (offsets past the end map to the last line).
  public func line(of offset: Int) -> Int {
    var lo = 0
    var hi = lineStarts.count - 1
    while lo < hi {
      let mid = (lo + hi + 1) / 2
      if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
    }
    return lo + 1
  }

  /// The byte range of 1-based `line`, without its line terminator (`\n` or `\r\n`).
  public func lineRange(_ line: Int) -> SourceRange {
    let start = lineStarts[line - 1]
    var end = line < lineStarts.count ? lineStarts[line] - 1 : bytes.count
    if end > start && bytes[end - 1] == 0x0D { end -= 1 }
    return SourceRange(start, end)
  }

  /// Line (counted from ``firstLine``) and character column of `offset`.
  public func location(of offset: Int) -> SourceLocation {
    let clamped = Swift.max(0, Swift.min(offset, bytes.count))
    let line = line(of: clamped)
    return SourceLocation(line: line + firstLine - 1, column: columns(from: lineStarts[line - 1], to: clamped) + 1)
  }

  /// The number of characters in `bytes[from..<to]`: every byte that is not a UTF-8
  /// continuation byte starts one.
  func columns(from: Int, to: Int) -> Int {
    bytes.withUnsafeBufferPointer { buf in
      var count = 0
      var i = from
      while i < to {
        if buf[i] & 0xC0 != 0x80 { count += 1 }
        i += 1
      }
      return count
    }
  }

  /// The text of `range` decoded leniently (invalid UTF-8 becomes U+FFFD).
  public func text(_ range: SourceRange) -> String {
    let s = Swift.max(0, Swift.min(range.start, bytes.count))
    let e = Swift.max(s, Swift.min(range.end, bytes.count))
    return String(decoding: bytes[s..<e], as: UTF8.self)
  }
}
