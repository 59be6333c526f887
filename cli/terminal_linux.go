package cli

import (
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func terminalSize(f *os.File) (*skiffv1.TerminalSize, bool) {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return nil, false
	}
	return &skiffv1.TerminalSize{Width: uint32(ws.Col), Height: uint32(ws.Row)}, true
}

// makeRaw puts the terminal in raw mode, as cfmakeraw(3) does, so keys
// reach the remote shell unprocessed; restore undoes it.
func makeRaw(r io.Reader) (restore func(), err error) {
	fd := int(r.(*os.File).Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, err
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}

// forwardResizes sends the terminal's new size whenever it changes.
func forwardResizes(stream *execSender, f *os.File) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				if size, ok := terminalSize(f); ok {
					stream.Send(&skiffv1.ExecInput{Resize: size})
				}
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}
