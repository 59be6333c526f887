package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

const (
	tcpIdleTimeout  = 10 * time.Second // RFC 7766 suggests seconds, not minutes
	tcpWriteTimeout = 5 * time.Second
	maxTCPConns     = 1000
)

// tcpWriter frames answers on one connection; the lock keeps answers
// whole when a forwarded one arrives from another goroutine.
type tcpWriter struct {
	mu   sync.Mutex
	conn net.Conn
	buf  []byte
}

func (w *tcpWriter) write(_ *request, b []byte) {
	if len(b) > maxTCPLength {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = binary.BigEndian.AppendUint16(w.buf[:0], uint16(len(b)))
	w.buf = append(w.buf, b...)
	_ = w.conn.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
	if _, err := w.conn.Write(w.buf); err != nil {
		_ = w.conn.Close()
	}
}

// tcpConns tracks open connections so shutdown can close them.
type tcpConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (s *Server) serveTCP(ctx context.Context, ln *net.TCPListener) error {
	var pause time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Errors such as EMFILE last: back off (as net/http does)
			// rather than retry a hundred times a second.
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			s.log.Debug("tcp accept", "err", err, "retry_in", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		s.tcp.mu.Lock()
		if len(s.tcp.conns) >= maxTCPConns {
			s.tcp.mu.Unlock()
			_ = conn.Close()
			continue
		}
		s.tcp.conns[conn] = struct{}{}
		s.tcp.wg.Add(1)
		s.tcp.mu.Unlock()
		go func() {
			defer s.tcp.wg.Done()
			s.serveConn(ctx, conn)
			s.tcp.mu.Lock()
			delete(s.tcp.conns, conn)
			s.tcp.mu.Unlock()
		}()
	}
}

func (s *Server) closeTCPConns() {
	s.tcp.mu.Lock()
	for c := range s.tcp.conns {
		_ = c.Close()
	}
	s.tcp.mu.Unlock()
	s.tcp.wg.Wait()
}

// serveConn answers the queries of one connection in order. A malformed
// frame ends the connection: there is no way to find the next one.
func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	remote := netip.AddrPort{}
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		remote = a.AddrPort()
	}
	w := &tcpWriter{conn: conn}
	r := &request{}
	var lenBuf [2]byte
	buf := make([]byte, maxTCPLength)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(tcpIdleTimeout))
		if _, err := io.ReadFull(conn, lenBuf[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if n < headerLen {
			return
		}
		if _, err := io.ReadFull(conn, buf[:n]); err != nil {
			return
		}
		if r.parse(buf[:n], protoTCP, remote) != nil {
			return
		}
		s.handler.serveDNS(ctx, w, r)
	}
}
