package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// containerStdio is the terminal or stdin pipe of a container started
// with TTY or Stdin, which its supervisor keeps open for attached clients.
type containerStdio struct {
	child  [3]*os.File // the init's 0, 1, 2
	stdout *os.File    // read: output (the pty master with a TTY)
	stderr *os.File    // read: nil with a TTY
	stdin  *os.File    // write: the stdin pipe or the pty master; nil without Stdin
	tty    *os.File    // the pty master, for resizes
	// heldSlave is our copy of the terminal's slave, kept until the init
	// has exited: the master reads EIO only after our own last close, so
	// the container's last output is never cut off.
	heldSlave *os.File
}

// openStdio makes the container's stdio for stdin/tty, or returns nil when
// the spec asks for neither (the init keeps /dev/null and two pipes).
func openStdio(stdin, tty bool) (*containerStdio, error) {
	if !stdin && !tty {
		return nil, nil
	}
	s := &containerStdio{}
	if tty {
		master, slave, err := openPty()
		if err != nil {
			return nil, err
		}
		s.child = [3]*os.File{slave, slave, slave}
		s.stdout, s.tty = master, master
		if stdin {
			s.stdin = master
		}
		return s, nil
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("runtime: pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("runtime: pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		for _, f := range []*os.File{inR, inW, outR, outW} {
			f.Close()
		}
		return nil, fmt.Errorf("runtime: pipe: %w", err)
	}
	s.child = [3]*os.File{inR, outW, errW}
	s.stdout, s.stderr, s.stdin = outR, errR, inW
	return s, nil
}

// closeChild closes our copies of the init's ends once it has them, but
// for a terminal's slave (see releaseSlave).
func (s *containerStdio) closeChild() {
	if s.tty != nil {
		s.heldSlave = s.child[0]
		return
	}
	for _, f := range s.child {
		f.Close()
	}
}

// releaseSlave closes our copy of the terminal's slave once the init has
// exited.
func (s *containerStdio) releaseSlave() {
	if s != nil && s.heldSlave != nil {
		s.heldSlave.Close()
		s.heldSlave = nil
	}
}

// attachServer serves the attach socket of one container: output goes to
// every attached client, stdin comes from any of them.
type attachServer struct {
	ln    *os.File
	path  string
	io    *containerStdio
	once  bool // StdinOnce: stdin closes when the first client with stdin is done
	wrote sync.WaitGroup

	stdinMu     sync.Mutex
	stdinClosed bool

	mu      sync.Mutex
	clients map[*attachClient]struct{}
	closed  bool
}

type attachClient struct {
	conn *os.File
	out  chan []byte // framed output
}

// attachQueue is how many output chunks a client may lag behind before it
// is dropped: a stalled client must not stall the container's log.
const attachQueue = 256

// listenAttach listens on the container's attach socket (mode 0600).
func listenAttach(dir string, sio *containerStdio, once bool) (*attachServer, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("runtime: attach socket: %w", err)
	}
	addr, release, err := attachAddr(dir)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	defer release()
	old := unix.Umask(0o177)
	err = unix.Bind(fd, addr)
	unix.Umask(old)
	if err == nil {
		err = unix.Listen(fd, 16)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("runtime: listen on attach socket: %w", err)
	}
	a := &attachServer{ln: os.NewFile(uintptr(fd), attachSocket), path: dir + "/" + attachSocket,
		io: sio, once: once, clients: map[*attachClient]struct{}{}}
	go a.serve()
	return a, nil
}

// attachAddr names dir's attach socket through a descriptor of dir: a
// state directory's path may pass the 108 bytes a socket address holds.
func attachAddr(dir string) (*unix.SockaddrUnix, func(), error) {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: open %s: %w", dir, err)
	}
	return &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + attachSocket},
		func() { unix.Close(dfd) }, nil
}

func (a *attachServer) serve() {
	rc, err := a.ln.SyscallConn()
	if err != nil {
		return
	}
	for {
		var nfd int
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			return aerr != unix.EAGAIN
		})
		if err != nil {
			return // closed
		}
		if aerr != nil {
			continue
		}
		c := &attachClient{conn: os.NewFile(uintptr(nfd), "attach"), out: make(chan []byte, attachQueue)}
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			c.conn.Close()
			return
		}
		a.clients[c] = struct{}{}
		a.wrote.Add(1)
		a.mu.Unlock()
		go a.writeTo(c)
		go a.readFrom(c)
	}
}

// writeTo sends c its output until it is dropped, then closes it.
func (a *attachServer) writeTo(c *attachClient) {
	defer a.wrote.Done()
	defer c.conn.Close()
	for b := range c.out {
		if _, err := c.conn.Write(b); err != nil {
			a.drop(c)
			for range c.out {
			}
			return
		}
	}
}

// readFrom takes c's stdin and resizes until it goes away.
func (a *attachServer) readFrom(c *attachClient) {
	r := bufio.NewReader(c.conn)
	sendsStdin := false
	defer func() {
		a.drop(c)
		if sendsStdin {
			a.stdinDone()
		}
	}()
	typ, p, err := readFrame(r)
	if err != nil || typ != frameHello || len(p) != 1 {
		return
	}
	sendsStdin = p[0]&helloStdin != 0
	for {
		typ, p, err := readFrame(r)
		if err != nil {
			return
		}
		switch typ {
		case frameStdin:
			a.writeStdin(p)
		case frameStdinEnd:
			if sendsStdin {
				sendsStdin = false
				a.stdinDone()
			}
		case frameResize:
			if ws, ok := parseResize(p); ok && a.io.tty != nil {
				setWinsize(a.io.tty, ws)
			}
		}
	}
}

func (a *attachServer) writeStdin(p []byte) {
	a.stdinMu.Lock()
	defer a.stdinMu.Unlock()
	if a.io.stdin != nil && !a.stdinClosed {
		a.io.stdin.Write(p) // fails once the container is gone
	}
}

// stdinDone is called when a client that sent stdin stops: with StdinOnce
// the container's stdin ends (a terminal gets its end-of-file character).
func (a *attachServer) stdinDone() {
	if !a.once {
		return
	}
	a.stdinMu.Lock()
	defer a.stdinMu.Unlock()
	if a.io.stdin == nil || a.stdinClosed {
		return
	}
	a.stdinClosed = true
	if a.io.tty != nil {
		a.io.stdin.Write([]byte{4}) // ^D
		return
	}
	a.io.stdin.Close()
}

func (a *attachServer) drop(c *attachClient) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.clients[c]; ok {
		delete(a.clients, c)
		close(c.out)
	}
}

// output is the writer copyOutputs tees a stream into.
func (a *attachServer) output(typ byte) io.Writer {
	return attachOutput{a, typ}
}

type attachOutput struct {
	a   *attachServer
	typ byte
}

func (o attachOutput) Write(p []byte) (int, error) {
	o.a.mu.Lock()
	defer o.a.mu.Unlock()
	if len(o.a.clients) == 0 {
		return len(p), nil
	}
	var frames []byte
	for rest := p; len(rest) > 0; {
		n := min(len(rest), maxFrame)
		frames = appendFrame(frames, o.typ, rest[:n])
		rest = rest[n:]
	}
	for c := range o.a.clients {
		select {
		case c.out <- frames:
		default: // too far behind: drop it rather than stall the log
			delete(o.a.clients, c)
			close(c.out)
		}
	}
	return len(p), nil
}

// close stops listening and lets the clients' output drain (for up to a
// second) before their connections close: the container has ended.
func (a *attachServer) close() {
	a.mu.Lock()
	a.closed = true
	for c := range a.clients {
		delete(a.clients, c)
		close(c.out)
	}
	a.mu.Unlock()
	a.ln.Close()
	os.Remove(a.path)
	done := make(chan struct{})
	go func() { a.wrote.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

// AttachSpec is one client's side of Attach.
type AttachSpec struct {
	// Stdin, if set, is copied to the container's stdin; its end ends
	// the container's stdin only if it was started with StdinOnce.
	Stdin io.Reader
	// Stdout and Stderr get the container's output from now on (nil
	// discards it); with a terminal all of it goes to Stdout.
	Stdout, Stderr io.Writer
	// TTY asks for the container's terminal: Size is sent first, then
	// each size from Resize.
	TTY    bool
	Size   WindowSize
	Resize <-chan WindowSize
}

// Attach connects to a running container started with Stdin or TTY, as
// one of possibly several clients. It returns when the container's output
// ends (it exited) or ctx does.
func (r *Runtime) Attach(ctx context.Context, id string, spec AttachSpec) error {
	if err := checkID(id); err != nil {
		return err
	}
	dir := r.containerDir(id)
	var c containerConfig
	if err := readJSON(dir, configFile, &c); err != nil {
		return fmt.Errorf("runtime: attach %s: %w", id, ErrNotFound)
	}
	switch {
	case !c.Spec.Stdin && !c.Spec.TTY:
		return fmt.Errorf("runtime: attach %s: %w", id, ErrNoAttach)
	case spec.Stdin != nil && !c.Spec.Stdin:
		return fmt.Errorf("runtime: attach %s: %w", id, ErrNoStdin)
	case spec.TTY && !c.Spec.TTY:
		return fmt.Errorf("runtime: attach %s: %w", id, ErrNoTTY)
	}
	st, err := r.State(id)
	if err != nil {
		return err
	}
	// Created is fine too: the supervisor listens before Start.
	if st.Status != StatusRunning && st.Status != StatusCreated {
		return fmt.Errorf("runtime: attach %s: %w", id, ErrNotRunning)
	}
	conn, err := dialAttach(r.liveDir(id))
	if err != nil {
		if st, serr := r.State(id); serr == nil && st.Status != StatusRunning && st.Status != StatusCreated {
			return fmt.Errorf("runtime: attach %s: %w", id, ErrNotRunning)
		}
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("runtime: attach %s: %w", id, ErrOldSupervisor)
		}
		return fmt.Errorf("runtime: attach %s: %w", id, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	var wmu sync.Mutex // frames from the stdin and resize goroutines
	send := func(typ byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrames(conn, typ, p)
	}
	var hello byte
	if spec.Stdin != nil {
		hello = helloStdin
	}
	if err := send(frameHello, []byte{hello}); err != nil {
		return fmt.Errorf("runtime: attach %s: %w", id, err)
	}
	if spec.TTY && spec.Size.Rows > 0 {
		send(frameResize, resizePayload(spec.Size))
	}
	done := make(chan struct{})
	defer close(done)
	if spec.Stdin != nil {
		go func() {
			buf := make([]byte, maxFrame)
			for {
				n, err := spec.Stdin.Read(buf)
				if n > 0 && send(frameStdin, buf[:n]) != nil {
					return
				}
				if err != nil {
					send(frameStdinEnd, nil)
					return
				}
			}
		}()
	}
	if spec.TTY && spec.Resize != nil {
		go func() {
			for {
				select {
				case ws, ok := <-spec.Resize:
					if !ok || send(frameResize, resizePayload(ws)) != nil {
						return
					}
				case <-done:
					return
				}
			}
		}()
	}
	stdout, stderr := orDiscard(spec.Stdout), orDiscard(spec.Stderr)
	br := bufio.NewReader(conn)
	for {
		typ, p, err := readFrame(br)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if errors.Is(err, io.EOF) {
				// The supervisor recorded the exit before it hung up,
				// unless it dropped us for falling behind.
				if st, serr := r.State(id); serr == nil && st.Status == StatusRunning {
					return fmt.Errorf("runtime: attach %s: dropped for reading the output too slowly", id)
				}
				return nil
			}
			return fmt.Errorf("runtime: attach %s: %w", id, err)
		}
		w := stdout
		if typ == frameStderr {
			w = stderr
		}
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// dialAttach connects to dir's attach socket.
func dialAttach(dir string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	addr, release, err := attachAddr(dir)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	defer release()
	if err := unix.Connect(fd, addr); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// Non-blocking, so the poller serves it and Close ends a Read.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), attachSocket), nil
}
