#include "textflag.h"

// program is the whole init program: it runs as a process of its own, with
// no Go runtime, so it touches no Go data and calls nothing. See
// script.go for the blob it reads and the report it writes.
//
// Registers: R12 the blob, R13 the number of steps, R14 the current step.
// SYSCALL clobbers CX and R11.
TEXT ·program(SB), NOSPLIT|NOFRAME, $0-0
	// The blob's size: lseek(blobFd, 0, SEEK_END).
	MOVQ $8, AX
	MOVQ $5, DI
	XORQ SI, SI
	MOVQ $2, DX
	SYSCALL
	MOVQ $-4095, BX
	CMPQ AX, BX
	JCC  bootfail
	// mmap(base, size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED_NOREPLACE, blobFd, 0)
	MOVQ AX, SI
	MOVQ $9, AX
	MOVQ $0x5c1f00000000, DI
	MOVQ $3, DX
	MOVQ $0x100002, R10
	MOVQ $5, R8
	XORQ R9, R9
	SYSCALL
	MOVQ $0x5c1f00000000, R12
	CMPQ AX, R12
	JNE  bootfail
	MOVQ $0x31746e69666b73, BX // "skfint1"
	CMPQ BX, 0(R12)
	JNE  badblob
	MOVQ 8(R12), R13
	MOVQ 16(R12), R14

loop:
	TESTQ R13, R13
	JEQ   finished
	MOVQ  0(R14), AX
	MOVQ  8(R14), DI
	MOVQ  16(R14), SI
	MOVQ  24(R14), DX
	MOVQ  32(R14), R10
	MOVQ  40(R14), R8
	MOVQ  48(R14), R9
	SYSCALL
	MOVQ  $-4095, BX
	CMPQ  AX, BX
	JCC   failed
	MOVQ  72(R14), BX
	TESTQ $1, BX
	JEQ   next
	CMPQ  AX, 64(R14)
	JEQ   next
	XORQ  AX, AX // a result other than the one wanted: errno 0
	JMP   report

failed:
	NEGQ AX
	CMPQ AX, 56(R14) // the one errno this step tolerates
	JEQ  next
	JMP  report

next:
	ADDQ $80, R14
	DECQ R13
	JMP  loop

finished:
	MOVQ $231, AX
	XORQ DI, DI
	SYSCALL

report:
	// AX is the errno; the step's index is (R14 - the first step)/80.
	MOVQ AX, R13
	MOVQ R14, AX
	SUBQ 16(R12), AX
	XORQ DX, DX
	MOVQ $80, CX
	DIVQ CX
	SUBQ $16, SP
	MOVL AX, 0(SP)
	MOVL R13, 4(SP)
	JMP  write

badblob:
	XORQ AX, AX

bootfail:
	// Before the first step: index 0xffffffff, the errno if AX holds one.
	MOVQ $-4095, BX
	CMPQ AX, BX
	JCC  booterrno
	XORQ AX, AX
	JMP  bootreport

booterrno:
	NEGQ AX

bootreport:
	SUBQ $16, SP
	MOVL $-1, 0(SP)
	MOVL AX, 4(SP)

write:
	// write(msgFd, SP, 8), then exit_group(1).
	MOVQ $1, AX
	MOVQ $4, DI
	MOVQ SP, SI
	MOVQ $8, DX
	SYSCALL
	MOVQ $231, AX
	MOVQ $1, DI
	SYSCALL

	// The end of the code, found by programCode; never executed.
	BYTE $0x0f; BYTE $0x0b; BYTE $0x73; BYTE $0x6b
	BYTE $0x66; BYTE $0x65; BYTE $0x6e; BYTE $0x64

// programAddr returns where program's code starts.
TEXT ·programAddr(SB), NOSPLIT, $0-8
	MOVQ $·program(SB), AX
	MOVQ AX, ret+0(FP)
	RET
