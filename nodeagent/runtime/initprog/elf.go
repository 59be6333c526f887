package initprog

import (
	"debug/elf"
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
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	b[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	b[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	le.PutUint16(b[16:], uint16(elf.ET_EXEC))
	le.PutUint16(b[18:], uint16(machine))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(b[24:], loadAddr+codeOff) // entry
	le.PutUint64(b[32:], ehdrSize)         // program headers' offset
	le.PutUint16(b[52:], ehdrSize)
	le.PutUint16(b[54:], phdrSize)
	le.PutUint16(b[56:], phnum)
	phdr := func(i int, typ elf.ProgType, flags elf.ProgFlag, vaddr, filesz, align uint64) {
		p := b[ehdrSize+i*phdrSize:]
		le.PutUint32(p[0:], uint32(typ))
		le.PutUint32(p[4:], uint32(flags))
		le.PutUint64(p[16:], vaddr) // p_offset stays 0: the segment starts at the file's start
		le.PutUint64(p[24:], vaddr)
		le.PutUint64(p[32:], filesz)
		le.PutUint64(p[40:], filesz)
		le.PutUint64(p[48:], align)
	}
	phdr(0, elf.PT_LOAD, elf.PF_R|elf.PF_X, loadAddr, size, 0x1000)
	phdr(1, elf.PT_GNU_STACK, elf.PF_R|elf.PF_W, 0, 0, 16)
	return append(b, c...)
}
