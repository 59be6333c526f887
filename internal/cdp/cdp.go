// Package cdp drives a headless Chromium through the DevTools protocol
// over a pipe (--remote-debugging-pipe: JSON messages ended by NUL on file
// descriptors 3 and 4), for browser tests. No port is opened and no
// WebSocket is needed. Chromium is started so it reaches nothing but
// loopback: no proxy, no background networking, component updates, sync
// or QUIC, and every host name but localhost resolves to nothing.
package cdp

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Browser is a running Chromium.
type Browser struct {
	cmd     *exec.Cmd
	dataDir string
	in      io.WriteCloser // its fd 3
	out     io.ReadCloser  // its fd 4

	writeMu sync.Mutex
	mu      sync.Mutex
	nextID  int64
	waiting map[int64]chan reply
	done    chan struct{}
	readErr error
	stderr  *lockedBuffer
}

type reply struct {
	Result json.RawMessage
	Err    error
}

// Flags are the command line Launch gives Chromium besides the pipe and
// the profile directory.
var Flags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
	"--no-proxy-server", "--disable-background-networking", "--disable-component-update",
	"--disable-sync", "--disable-quic", "--disable-extensions", "--disable-default-apps",
	"--disable-domain-reliability", "--disable-client-side-phishing-detection", "--disable-breakpad",
	"--metrics-recording-only", "--disable-features=Translate,OptimizationHints,MediaRouter,InterestFeedContentSuggestions,AutofillServerCommunication",
	"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
	"--ignore-certificate-errors", "--window-size=1280,800", "--hide-scrollbars", "--mute-audio",
}

// Launch starts Chromium (bin) with a fresh profile in a temporary
// directory. Close stops it and removes the profile.
func Launch(bin string) (*Browser, error) {
	dir, err := os.MkdirTemp("", "skiff-cdp-")
	if err != nil {
		return nil, err
	}
	// Chromium reads commands from its fd 3 and writes to its fd 4.
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		cmdR.Close()
		cmdW.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	args := append(append([]string{}, Flags...), "--remote-debugging-pipe", "--user-data-dir="+dir, "about:blank")
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = []*os.File{cmdR, outW}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	cmd.Env = append(os.Environ(), "HOME="+dir)
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		cmdR.Close()
		cmdW.Close()
		outR.Close()
		outW.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cdp: start %s: %w", bin, err)
	}
	cmdR.Close()
	outW.Close()
	b := &Browser{cmd: cmd, dataDir: dir, in: cmdW, out: outR, waiting: map[int64]chan reply{}, done: make(chan struct{}), stderr: stderr}
	go b.read()
	return b, nil
}

// Stderr is what Chromium printed, for a failing test's log.
func (b *Browser) Stderr() string { return b.stderr.String() }

// Close stops the browser it started (by its PID) and removes its profile.
func (b *Browser) Close() error {
	b.in.Close()
	exited := make(chan error, 1)
	go func() { exited <- b.cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		killGroup(b.cmd)
		<-exited
	}
	b.out.Close()
	return os.RemoveAll(b.dataDir)
}

func (b *Browser) read() {
	r := bufio.NewReaderSize(b.out, 1<<20)
	for {
		msg, err := r.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			b.readErr = fmt.Errorf("cdp: browser pipe closed: %w", err)
			for id, ch := range b.waiting {
				ch <- reply{Err: b.readErr}
				delete(b.waiting, id)
			}
			b.mu.Unlock()
			close(b.done)
			return
		}
		var m struct {
			ID     int64           `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
			continue // an event: these tests wait by evaluating, not on events
		}
		b.mu.Lock()
		ch := b.waiting[m.ID]
		delete(b.waiting, m.ID)
		b.mu.Unlock()
		if ch == nil {
			continue
		}
		if m.Error != nil {
			ch <- reply{Err: fmt.Errorf("cdp: %s (%d)", m.Error.Message, m.Error.Code)}
		} else {
			ch <- reply{Result: m.Result}
		}
	}
}

// Call sends a command (to a page's session when sessionID is set) and
// decodes its result into out, if given.
func (b *Browser) Call(ctx context.Context, sessionID, method string, params, out any) error {
	b.mu.Lock()
	if b.readErr != nil {
		b.mu.Unlock()
		return b.readErr
	}
	b.nextID++
	id := b.nextID
	ch := make(chan reply, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if sessionID != "" {
		msg["sessionId"] = sessionID
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	b.writeMu.Lock()
	_, err = b.in.Write(append(data, 0))
	b.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("cdp: %s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return fmt.Errorf("%s: %w", method, r.Err)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.waiting, id)
		b.mu.Unlock()
		return fmt.Errorf("cdp: %s: %w", method, ctx.Err())
	}
}

// Page is one tab, in a browser context of its own (its own cookies).
type Page struct {
	b         *Browser
	sessionID string
}

// NewPage opens a tab in a new, isolated browser context, sized 1280×800.
func (b *Browser) NewPage(ctx context.Context) (*Page, error) {
	var bc struct {
		BrowserContextID string `json:"browserContextId"`
	}
	if err := b.Call(ctx, "", "Target.createBrowserContext", map[string]any{}, &bc); err != nil {
		return nil, err
	}
	var tg struct {
		TargetID string `json:"targetId"`
	}
	if err := b.Call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank", "browserContextId": bc.BrowserContextID}, &tg); err != nil {
		return nil, err
	}
	var at struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.Call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": tg.TargetID, "flatten": true}, &at); err != nil {
		return nil, err
	}
	p := &Page{b: b, sessionID: at.SessionID}
	if err := p.call(ctx, "Page.enable", nil, nil); err != nil {
		return nil, err
	}
	if err := p.call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Page) call(ctx context.Context, method string, params, out any) error {
	return p.b.Call(ctx, p.sessionID, method, params, out)
}

// Navigate loads url and waits until the document has loaded.
func (p *Page) Navigate(ctx context.Context, url string) error {
	for attempt := 0; ; attempt++ {
		var nav struct {
			ErrorText string `json:"errorText"`
		}
		if err := p.call(ctx, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
			return err
		}
		if nav.ErrorText == "" {
			break
		}
		// Chromium aborts loads when the host's network changes (links and
		// namespaces that other tests make come and go): try again.
		if nav.ErrorText != "net::ERR_NETWORK_CHANGED" || attempt == 5 {
			return fmt.Errorf("cdp: navigate %s: %s", url, nav.ErrorText)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return p.WaitTrue(ctx, `document.readyState === "complete"`)
}

// ErrFalse is returned by WaitTrue when ctx ends before the expression
// held.
var ErrFalse = errors.New("cdp: condition not met")

// Eval evaluates a JavaScript expression in the page (awaiting a promise)
// and decodes its value into out, if given.
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("cdp: %s: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		return json.Unmarshal(r.Result.Value, out)
	}
	return nil
}

// WaitTrue evaluates expr every 50 ms until it is true or ctx ends.
func (p *Page) WaitTrue(ctx context.Context, expr string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var ok bool
		err := p.Eval(ctx, "!!("+expr+")", &ok)
		if err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("%w: %s (last error: %v)", ErrFalse, expr, err)
			}
			return fmt.Errorf("%w: %s", ErrFalse, expr)
		case <-tick.C:
		}
	}
}

// Screenshot is a PNG of the page as shown.
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	var r struct {
		Data string `json:"data"`
	}
	if err := p.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Data)
}

// lockedBuffer keeps the last 64 KiB Chromium printed.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if len(l.buf) > 64<<10 {
		l.buf = l.buf[len(l.buf)-64<<10:]
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}
