import Testing

@testable import MopsREPL

let pagesView = """
  address       state    frame  map  excl  pae  contents
  10ffffffc000  present  #1     1    yes   yes  'A'
  10ffffffd000  none     -      -    -     -    -
  """

@Test func withoutColourViewsPassUnchanged() {
  #expect(Painter(enabled: false).paint(pagesView) == pagesView)
}

@Test func pageStatesAndTheHeaderAreColoured() {
  let lines = Painter(enabled: true).paint(pagesView).split(separator: "\n")
  #expect(lines[0] == "\u{1B}[1maddress       state    frame  map  excl  pae  contents\u{1B}[0m")
  #expect(lines[1] == "10ffffffc000  \u{1B}[32mpresent\u{1B}[0m  #1     1    yes   yes  'A'")
  #expect(lines[2] == "10ffffffd000  \u{1B}[2mnone\u{1B}[0m     -      -    -     -    -")
}

@Test func mapsLinesColourTheRangeAndPermissionsOnly() {
  let painter = Painter(enabled: true)
  #expect(
    painter.paint("10ffffffc000-110000000000 rw-p 00000000  rd wr mr mw me ac")
      == "\u{1B}[1m10ffffffc000-110000000000\u{1B}[0m \u{1B}[33mrw-p\u{1B}[0m 00000000  rd wr mr mw me ac")
  #expect(painter.paint("1 false") == "1 false")
}
