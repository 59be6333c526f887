package initprog

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// loadAddr is where the program's one segment is mapped.
const loadAddr = 0x400000

// Program returns the init as a static ELF executable: a header, a
// read-only executable segment holding the code, and a non-executable
// stack. It is nil on architectures the program is not written for.
func Program() []byte {
	c := code()
	if c == nil {
		return nil
	}
	const phnum = 2
	codeOff := uint64(binary.Size(elf.Header64{}) + phnum*binary.Size(elf.Prog64{}))
	size := codeOff + uint64(len(c))
	hdr := elf.Header64{
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(machine),
		Version:   uint32(elf.EV_CURRENT),
		Entry:     loadAddr + codeOff,
		Phoff:     uint64(binary.Size(elf.Header64{})),
		Ehsize:    uint16(binary.Size(elf.Header64{})),
		Phentsize: uint16(binary.Size(elf.Prog64{})),
		Phnum:     phnum,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	progs := [phnum]elf.Prog64{{
		Type:   uint32(elf.PT_LOAD),
		Flags:  uint32(elf.PF_R | elf.PF_X),
		Vaddr:  loadAddr,
		Paddr:  loadAddr,
		Filesz: size,
		Memsz:  size,
		Align:  0x1000,
	}, {
		Type:  uint32(elf.PT_GNU_STACK),
		Flags: uint32(elf.PF_R | elf.PF_W),
		Align: 16,
	}}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, hdr)
	binary.Write(&b, binary.LittleEndian, progs)
	b.Write(c)
	return b.Bytes()
}
