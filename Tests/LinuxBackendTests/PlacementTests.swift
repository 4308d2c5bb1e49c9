import MopsABI
import Testing

@testable import LinuxBackend

private let top = Arena.end.rawValue
private let page = pageSize
private let twoMiB = pmdSize

private func vma(_ start: UInt64, _ end: UInt64, growsDown: Bool = false) -> PlacementVMA {
  PlacementVMA(start: start, end: end, growsDown: growsDown)
}

private func place(
  _ length: UInt64, hint: UInt64 = 0, privateAnon: Bool = true, _ vmas: [PlacementVMA] = []
) -> UInt64? {
  Placement.unmappedArea(hint: hint, length: length, privateAnon: privateAnon, vmas: vmas)
}

@Test func firstMappingGoesToTheTopOfTheArena() {
  #expect(place(4 * page) == top - 4 * page)
}

@Test func successiveMappingsStackDownward() {
  #expect(place(4 * page, [vma(top - 4 * page, top)]) == top - 8 * page)
}

@Test func lengthIsRoundedUpToPages() {
  #expect(place(1) == top - page)
  #expect(place(page + 1) == top - 2 * page)
}

@Test func freedGapIsReusedFromItsTop() {
  let vmas = [vma(top - 12 * page, top - 8 * page), vma(top - 4 * page, top)]
  #expect(place(2 * page, vmas) == top - 6 * page)
  #expect(place(4 * page, vmas) == top - 8 * page)
}

@Test func requestTooBigForTheGapGoesBelow() {
  let vmas = [vma(top - 12 * page, top - 8 * page), vma(top - 4 * page, top)]
  #expect(place(5 * page, vmas) == top - 17 * page)
}

@Test func twoMiBMultiplePrivateAnonIsTwoMiBAligned() {
  #expect(place(twoMiB) == top - twoMiB)
  // Below a one-page VMA at the top: the highest aligned slot, not the gap's top end.
  let r = place(twoMiB, [vma(top - page, top)])
  #expect(r == top - 2 * twoMiB)
  #expect(r.map { $0 % twoMiB } == 0)
  #expect(place(2 * twoMiB, [vma(top - page, top)]) == top - 3 * twoMiB)
}

@Test func lengthsThatAreNotTwoMiBMultiplesAreNotAligned() {
  #expect(place(twoMiB + page, [vma(top - page, top)]) == top - page - twoMiB - page)
}

@Test func sharedAnonymousMappingsAreNotAligned() {
  #expect(place(twoMiB, privateAnon: false, [vma(top - page, top)]) == top - page - twoMiB)
}

@Test func alignedSearchNeedsRoomForThePaddingElseFallsBackUnaligned() {
  let low = Arena.start.rawValue
  // A window of exactly 2 MiB + 1 page, unaligned at both ends: the padded search fails.
  let r = Placement.unmappedArea(
    hint: 0, length: twoMiB, privateAnon: true, vmas: [], low: low + page, high: low + 2 * page + twoMiB)
  #expect(r == low + 2 * page)
}

@Test func freeHintIsUsedExactlyAndRoundedDown() {
  let hint = top - 64 * page
  #expect(place(4 * page, hint: hint) == hint)
  #expect(place(4 * page, hint: hint + 5) == hint)
  // A free hint is used even for a 2 MiB multiple that it leaves unaligned.
  let low = top - 2 * twoMiB + page
  #expect(place(twoMiB, hint: low) == low)
}

@Test func occupiedHintFallsBackToTopDownWithoutTheTwoMiBRule() {
  let vmas = [vma(top - page, top)]
  #expect(place(4 * page, hint: top - 2 * page, vmas) == top - 5 * page)
  #expect(place(twoMiB, hint: top - page, vmas) == top - page - twoMiB)
}

@Test func hintReachingOutOfTheArenaIsIgnored() {
  #expect(place(4 * page, hint: top - 2 * page) == top - 4 * page)
  #expect(place(4 * page, hint: Arena.start.rawValue - page) == top - 4 * page)
}

@Test func gapBelowAGrowsDownVMAKeepsTheStackGuardGap() {
  let vmas = [vma(top - 4 * page, top, growsDown: true)]
  #expect(place(4 * page, vmas) == top - 4 * page - Placement.stackGuardGap - 4 * page)
  // A hint inside the guard gap is not used either.
  #expect(place(page, hint: top - 5 * page, vmas) == top - 4 * page - Placement.stackGuardGap - page)
}

@Test func noRoomIsNil() {
  let whole = [vma(Arena.start.rawValue, top)]
  #expect(place(page, whole) == nil)
  #expect(place(top - Arena.start.rawValue + page) == nil)
  #expect(place(0) == nil)
  #expect(place(UInt64.max) == nil)
  #expect(place(UInt64.max - twoMiB + 1) == nil)
}

@Test func onlyTheArenaIsSearched() {
  // The only free space is the lowest page of the arena.
  let vmas = [vma(Arena.start.rawValue + page, top)]
  #expect(place(page, vmas) == Arena.start.rawValue)
  #expect(place(2 * page, vmas) == nil)
}
