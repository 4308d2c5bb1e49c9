/// Reads standard input line by line when it is not a terminal (`mops < script.mops`,
/// pipes): no prompt, no editing, no completion.
public final class PlainLineReader: LineReader {
  /// A reader of standard input.
  public init() {}

  public var isInteractive: Bool { false }

  public func readLine(prompt: String) -> LineInput {
    Swift.readLine(strippingNewline: true).map(LineInput.line) ?? .endOfInput
  }

  public func updateBoundNames(_ names: [String]) {}
}
