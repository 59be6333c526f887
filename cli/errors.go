package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ExitError ends the program with Code. With Err nil nothing is printed:
// `skiff exec` passes a command's exit status through this way.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// printedError marks an error the command tree has already shown the user,
// so that ExitCode does not show it again.
type printedError struct{ err error }

func (p printedError) Error() string { return p.err.Error() }
func (p printedError) Unwrap() error { return p.err }

// ExitCode maps the error Execute returned to the process exit status: an
// ExitError's code, else 1 (0 for nil). An error no command has printed yet
// (an unknown command, say) is printed here, to stderr.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var p printedError
	if !errors.As(err, &p) {
		printError(os.Stderr, err)
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 1
}

// printError writes `error: …` once; an ExitError without a cause prints
// nothing.
func printError(w io.Writer, err error) {
	var ee *ExitError
	if errors.As(err, &ee) && ee.Err == nil {
		return
	}
	msg := err.Error()
	if s, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		msg = s.GRPCStatus().Message()
	}
	fmt.Fprintf(w, "error: %s\n", strings.TrimSpace(msg))
}

// apiError carries a gRPC status whose text is only its message, so that
// wrapping it ("pod/web: …") reads cleanly while status.Code still works.
type apiError struct{ st *status.Status }

func (e *apiError) Error() string              { return e.st.Message() }
func (e *apiError) GRPCStatus() *status.Status { return e.st }

// apiErr turns a gRPC error into an apiError; other errors pass unchanged.
func apiErr(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*apiError); ok {
		return err
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.OK {
		return &apiError{st: st}
	}
	return err
}

// explainConnection rewrites the errors of a server that cannot be reached
// into one line that names the address and says what to do.
func explainConnection(err error, addr string) error {
	if err == nil || addr == "" {
		return err
	}
	switch status.Code(err) {
	case codes.Unavailable:
		return fmt.Errorf("cannot reach the skiff server at %s (%s); start one with `sudo skiff up`, or point --server or SKIFF_SERVER at a running one",
			addr, unavailableReason(err))
	case codes.DeadlineExceeded:
		return fmt.Errorf("the skiff server at %s did not answer in time; check that it is running (`sudo skiff up`), or raise --request-timeout", addr)
	}
	return err
}

func unavailableReason(err error) string {
	msg := err.Error()
	for _, r := range []string{"connection refused", "no route to host", "no such host", "i/o timeout", "connection reset"} {
		if strings.Contains(msg, r) {
			return r
		}
	}
	return "unavailable"
}

// errConflictRetry makes RetryOnConflict go round again.
var errConflictRetry = status.Error(codes.Aborted, "conflict: the object appeared while it was being created")

// isConnectionError is true when the server could not be reached at all:
// there is no point trying the next object.
func isConnectionError(err error) bool {
	c := status.Code(err)
	return c == codes.Unavailable || c == codes.DeadlineExceeded
}
