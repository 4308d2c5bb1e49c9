/// The words of the language that are not reserved, for completion and help: option
/// words that follow a statement's operands, view names and outcome words.
public enum Vocabulary {
  /// Every option word any statement accepts that is not a reserved word (`shared`,
  /// `maymove`, `missing`, …), without duplicates, in grammar.md's order.
  public static let optionWords: [String] = {
    let tables: [[StaticString]] = [
      ["version", "features", "mode"], OptionTables.mmap.map(\.0), OptionTables.mremap.map(\.0),
      OptionTables.userfaultfd.map(\.0), OptionTables.features.map(\.0), OptionTables.register.map(\.0),
      OptionTables.move.map(\.0), OptionTables.copy.map(\.0), OptionTables.zeropage.map(\.0),
      OptionTables.remapAnonPages.map(\.0),
    ]
    let words = tables.joined().map(\.description)
    var seen = Set<String>()
    return words.filter { seen.insert($0).inserted }
  }()

  /// The views of `show` and `expect`.
  public static let views = ["maps", "pages", "tree", "stats"]

  /// Outcome words after `=>` besides errno and signal names.
  public static let outcomeWords = ["ok", "userfault", "not", "modelled", "moved"]
}
