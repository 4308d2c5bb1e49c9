import MopsABI
import Testing

@testable import LinuxBackend

@Test func smapsParserKeepsArenaVMAsWithFlagsCountersAndShmemInode() {
  let text = """
    55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]
    Rss:                 132 kB
    VmFlags: rd wr mr mw me ac
    10fffffe0000-10ffffff0000 rw-p 00000000 00:00 0 
    Size:                 64 kB
    Rss:                   8 kB
    Anonymous:             8 kB
    VmFlags: rd wr mr mw me ac um 
    10fffffff000-110000000000 rw-s 00003000 00:01 4242                       /dev/zero (deleted)
    Rss:                   4 kB
    Anonymous:             0 kB
    VmFlags: rd wr sh mr mw me ms 

    """
  let vmas = ProcFS.parseSmaps(Array(text.utf8))
  #expect(vmas.count == 2)
  #expect(vmas[0].info.start == VirtAddr(0x10ff_fffe_0000))
  #expect(vmas[0].info.end == VirtAddr(0x10ff_ffff_0000))
  #expect(vmas[0].info.flags == [.read, .write, .mayRead, .mayWrite, .mayExec, .account, .uffdMissing])
  #expect(vmas[0].rssPages == 2 && vmas[0].anonPages == 2)
  #expect(vmas[0].info.shmemInode == nil && vmas[0].info.mapsPgoff == 0)
  #expect(vmas[1].info.isShared)
  #expect(vmas[1].info.shmemInode == 4242)
  #expect(vmas[1].info.mapsPgoff == 3)
  #expect(vmas[1].rssPages == 1 && vmas[1].anonPages == 0)
}

@Test func pageContentsTakeTheMostCommonByteAsFill() {
  var page = [UInt8](repeating: 0x41, count: Int(pageSize))
  page[5] = 0x42
  #expect(PageContents(page: page) == PageContents(fill: 0x41, bytes: [5: 0x42]))
  #expect(PageContents(page: [UInt8](repeating: 0, count: Int(pageSize))) == .zero)
  // More than half overwritten: the fill follows the majority.
  for i in 0..<3000 { page[i] = 0x42 }
  #expect(PageContents(page: page).fill == 0x42)
  #expect(PageContents(page: page).bytes.count == Int(pageSize) - 3000)
}

@Test func pageContentsTieGoesToTheByteAtOffsetZero() {
  var page = [UInt8](repeating: 7, count: Int(pageSize))
  for i in 0..<Int(pageSize) / 2 { page[i] = 9 }
  #expect(PageContents(page: page).fill == 9)
  page.reverse()
  #expect(PageContents(page: page).fill == 7)
}
