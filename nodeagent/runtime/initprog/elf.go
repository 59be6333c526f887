package initprog

import (
	"encoding/binary"
	"sync"
)

// loadAddr is where the program's one segment is mapped.
const loadAddr = 0x400000

// Sizes of the ELF64 file header and of a program header.
const (
	ehdrSize = 64
	phdrSize = 56
	phnum    = 2
	codeOff  = ehdrSize + phnum*phdrSize
)

// The ELF values the headers use, as elf(5) names them. They are spelled
// out here because importing debug/elf for them links DWARF and three
// decompressors into every supervisor, whose start-up runs their
// initialisers (the tests read the result back with debug/elf).
const (
	elfClass64      = 2 // EI_CLASS: ELFCLASS64
	elfData2LSB     = 1 // EI_DATA: little-endian
	elfVersion      = 1 // EV_CURRENT
	elfTypeExec     = 2 // ET_EXEC
	elfPtLoad       = 1
	elfPtGNUStack   = 0x6474e551
	elfPfX, elfPfW  = 1, 2
	elfPfR          = 4
	eiClass, eiData = 4, 5 // indexes into e_ident
	eiVersion       = 6
)

// elfMagic opens every ELF file.
const elfMagic = "\x7fELF"

// Program returns the init as a static ELF executable: a header, a
// read-only executable segment holding the code, and a non-executable
// stack. It is nil on architectures the program is not written for. It is
// built once per process (an agent runs it for every exec probe); the
// slice is shared, so callers must not change it.
func Program() []byte { return builtProgram() }

var builtProgram = sync.OnceValue(buildProgram)

// buildProgram writes the headers field by field: encoding/binary's
// reflection would cost a supervisor's start-up more than the rest of this.
func buildProgram() []byte {
	c := code()
	if c == nil {
		return nil
	}
	size := uint64(codeOff + len(c))
	le := binary.LittleEndian
	b := make([]byte, codeOff, size)
	copy(b, elfMagic)
	b[eiClass] = elfClass64
	b[eiData] = elfData2LSB
	b[eiVersion] = elfVersion
	le.PutUint16(b[16:], elfTypeExec)
	le.PutUint16(b[18:], machine)
	le.PutUint32(b[20:], elfVersion)
	le.PutUint64(b[24:], loadAddr+codeOff) // entry
	le.PutUint64(b[32:], ehdrSize)         // program headers' offset
	le.PutUint16(b[52:], ehdrSize)
	le.PutUint16(b[54:], phdrSize)
	le.PutUint16(b[56:], phnum)
	phdr := func(i int, typ, flags uint32, vaddr, filesz, align uint64) {
		p := b[ehdrSize+i*phdrSize:]
		le.PutUint32(p[0:], typ)
		le.PutUint32(p[4:], flags)
		le.PutUint64(p[16:], vaddr) // p_offset stays 0: the segment starts at the file's start
		le.PutUint64(p[24:], vaddr)
		le.PutUint64(p[32:], filesz)
		le.PutUint64(p[40:], filesz)
		le.PutUint64(p[48:], align)
	}
	phdr(0, elfPtLoad, elfPfR|elfPfX, loadAddr, size, 0x1000)
	phdr(1, elfPtGNUStack, elfPfR|elfPfW, 0, 0, 16)
	return append(b, c...)
}
