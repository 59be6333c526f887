//go:build linux

package initprog

import (
	"bytes"
	"unsafe"
)

// program is the init's code, in program_amd64.s. It is never called in
// this process: its bytes are copied into an executable of their own.
func program()

// programAddr returns the address of program's first instruction.
func programAddr() *byte

// endMarker follows program's last instruction (ud2, then "skfend").
var endMarker = []byte{0x0f, 0x0b, 's', 'k', 'f', 'e', 'n', 'd'}

// maxCode bounds the search for endMarker: program is far smaller.
const maxCode = 4096

const machine = 62 // EM_X86_64

// code returns program's machine code, up to its end marker. It reads
// one byte at a time and stops at the marker, so it never reads past the
// function into memory that may not be mapped.
func code() []byte {
	start := programAddr()
	var text []byte
	for i := uintptr(0); i < maxCode; i++ {
		text = append(text, *(*byte)(unsafe.Add(unsafe.Pointer(start), i)))
		if bytes.HasSuffix(text, endMarker) {
			return text[:len(text)-len(endMarker)]
		}
	}
	return nil
}
