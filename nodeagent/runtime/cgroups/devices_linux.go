package cgroups

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// deviceRule allows access to devices of one type and number; a negative
// major or minor matches any.
type deviceRule struct {
	typ          byte // 'c' or 'b'
	major, minor int64
	access       string // of "rwm"
}

// defaultDeviceRules is runc's default allow-list: mknod of any device
// (a node alone opens nothing), and read, write and mknod of the harmless
// character devices: null zero full random urandom, tty console ptmx, and
// the ptys of /dev/pts. Everything else is refused.
func defaultDeviceRules() []deviceRule {
	return []deviceRule{
		{'c', -1, -1, "m"}, {'b', -1, -1, "m"},
		{'c', 1, 3, "rwm"}, {'c', 1, 5, "rwm"}, {'c', 1, 7, "rwm"}, {'c', 1, 8, "rwm"}, {'c', 1, 9, "rwm"},
		{'c', 5, 0, "rwm"}, {'c', 5, 1, "rwm"}, {'c', 5, 2, "rwm"}, {'c', 136, -1, "rwm"},
	}
}

// v1 renders the rule for devices.allow ("c 1:3 rwm").
func (r deviceRule) v1() string {
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%c %s:%s %s", r.typ, num(r.major), num(r.minor), r.access)
}

// The context a BPF_PROG_TYPE_CGROUP_DEVICE program reads (struct
// bpf_cgroup_dev_ctx): access_type (access << 16 | type), major, minor.
const (
	devCtxAccessType = 0
	devCtxMajor      = 4
	devCtxMinor      = 8
	devTypeBlock     = 1 // BPF_DEVCG_DEV_BLOCK
	devTypeChar      = 2 // BPF_DEVCG_DEV_CHAR
	devAccMknod      = 1 // BPF_DEVCG_ACC_MKNOD
	devAccRead       = 2
	devAccWrite      = 4
)

// insn is one eBPF instruction (struct bpf_insn).
type insn struct {
	code     uint8
	dst, src uint8 // registers
	off      int16
	imm      int32
}

func (i insn) encode(b []byte) {
	b[0] = i.code
	b[1] = i.dst&0xf | i.src<<4
	binary.LittleEndian.PutUint16(b[2:], uint16(i.off))
	binary.LittleEndian.PutUint32(b[4:], uint32(i.imm))
}

const (
	opLoadWord = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W
	opAndImm   = unix.BPF_ALU64 | unix.BPF_AND | unix.BPF_K
	opRshImm   = unix.BPF_ALU64 | unix.BPF_RSH | unix.BPF_K
	opMovImm   = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K
	opJneImm   = unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K
	opJsetImm  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	opExit     = unix.BPF_JMP | unix.BPF_EXIT
)

// Registers: r1 holds the context; the program keeps the device's type in
// r2, the access asked for in r3, major and minor in r4 and r5, and
// answers in r0 (1 allows, 0 refuses with EPERM).
const (
	r0, r1, r2, r3, r4, r5 = 0, 1, 2, 3, 4, 5
)

// deviceProgram assembles an allow-list: each rule is a block that jumps
// to the next one unless the device matches, and else returns 1; past
// the last rule the program returns 0.
func deviceProgram(rules []deviceRule) []insn {
	prog := []insn{
		{code: opLoadWord, dst: r2, src: r1, off: devCtxAccessType},
		{code: opAndImm, dst: r2, imm: 0xffff},
		{code: opLoadWord, dst: r3, src: r1, off: devCtxAccessType},
		{code: opRshImm, dst: r3, imm: 16},
		{code: opLoadWord, dst: r4, src: r1, off: devCtxMajor},
		{code: opLoadWord, dst: r5, src: r1, off: devCtxMinor},
	}
	for _, r := range rules {
		var block []insn
		typ := int32(devTypeChar)
		if r.typ == 'b' {
			typ = devTypeBlock
		}
		block = append(block, insn{code: opJneImm, dst: r2, imm: typ})
		var allowed int32
		for _, a := range r.access {
			allowed |= map[rune]int32{'m': devAccMknod, 'r': devAccRead, 'w': devAccWrite}[a]
		}
		// Any access outside the rule's skips it.
		if denied := (devAccMknod | devAccRead | devAccWrite) &^ allowed; denied != 0 {
			block = append(block, insn{code: opJsetImm, dst: r3, imm: denied})
		}
		if r.major >= 0 {
			block = append(block, insn{code: opJneImm, dst: r4, imm: int32(r.major)})
		}
		if r.minor >= 0 {
			block = append(block, insn{code: opJneImm, dst: r5, imm: int32(r.minor)})
		}
		block = append(block, insn{code: opMovImm, dst: r0, imm: 1}, insn{code: opExit})
		// Each conditional jump skips to the end of the block.
		for i := range block {
			if block[i].code == opJneImm || block[i].code == opJsetImm {
				block[i].off = int16(len(block) - i - 1)
			}
		}
		prog = append(prog, block...)
	}
	return append(prog, insn{code: opMovImm, dst: r0, imm: 0}, insn{code: opExit})
}

// bpfProgLoad is the part of union bpf_attr BPF_PROG_LOAD reads.
type bpfProgLoad struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// bpfProgAttach is the part of union bpf_attr BPF_PROG_ATTACH reads.
type bpfProgAttach struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

// maxProgLoadAttempts bounds the loads of a program the verifier keeps
// being interrupted on.
const maxProgLoadAttempts = 20

// loadDeviceProgram loads the program for rules and returns its fd.
func loadDeviceProgram(rules []deviceRule) (int, error) {
	prog := deviceProgram(rules)
	code := make([]byte, 8*len(prog))
	for i, in := range prog {
		in.encode(code[8*i:])
	}
	license := []byte("Apache-2.0\x00")
	logBuf := make([]byte, 64<<10)
	attr := bpfProgLoad{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(prog)),
		insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
		logLevel: 1,
		logSize:  uint32(len(logBuf)),
		logBuf:   uint64(uintptr(unsafe.Pointer(&logBuf[0]))),
	}
	copy(attr.progName[:], "skiff_devices")
	// The verifier gives up with EAGAIN when a signal is pending, and the Go
	// runtime signals its threads to preempt them; on a slow machine (an
	// emulated guest) that interrupts verification often. Loading again
	// is the documented answer.
	var fd uintptr
	var errno unix.Errno
	for range maxProgLoadAttempts {
		fd, _, errno = unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		if errno != unix.EAGAIN {
			break
		}
	}
	// The kernel reads the buffers by the addresses in attr.
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	if errno != 0 {
		verifier := strings.TrimRight(string(logBuf[:clen(logBuf)]), "\n")
		return -1, fmt.Errorf("cgroups: load the device program: %w %s", errno, verifier)
	}
	return int(fd), nil
}

func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

// attachDeviceProgram attaches the allow-list to the cgroup directory
// dir. BPF_F_ALLOW_MULTI: a program of an ancestor (systemd's) keeps
// running too, and each one must allow an access.
func attachDeviceProgram(dir string, rules []deviceRule) error {
	prog, err := loadDeviceProgram(rules)
	if err != nil {
		return err
	}
	defer unix.Close(prog)
	cg, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cgroups: open %s: %w", dir, err)
	}
	defer unix.Close(cg)
	attr := bpfProgAttach{
		targetFd:    uint32(cg),
		attachBpfFd: uint32(prog),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if _, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)); errno != 0 {
		return fmt.Errorf("cgroups: attach the device program to %s: %w", dir, errno)
	}
	return nil
}

// deviceProgramsWork reports (once per process) whether this kernel loads
// cgroup device programs: CONFIG_CGROUP_BPF, and the right to load them.
var deviceProgramsWork = sync.OnceValue(func() bool {
	fd, err := loadDeviceProgram(defaultDeviceRules())
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})
