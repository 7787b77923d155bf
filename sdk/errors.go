package sdk

import (
	"context"
	"errors"
)

// ErrNotFound is returned by Host.KVGet for a missing key.
var ErrNotFound = errors.New("not found")

// Error codes the host understands. Components may use their own codes too;
// workflow retry policies can match on them.
const (
	CodeError       = "error"       // unclassified failure (retryable)
	CodeTimeout     = "timeout"     // the deadline passed
	CodeCanceled    = "canceled"    // the caller gave up
	CodeInvalid     = "invalid"     // bad inputs or configuration (permanent)
	CodeUnavailable = "unavailable" // the plugin or a dependency is down
	CodePermanent   = "permanent"   // do not retry
)

// Error is a classified failure of a component call.
type Error struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
	// Err is the wrapped cause, available on the side that created it.
	Err error `json:"-"`
}

func (e *Error) Error() string {
	if e.Message == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable marks err as a transient failure worth retrying.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: CodeError, Message: err.Error(), Retryable: true, Err: err}
}

// Permanent marks err as a failure that retrying will not fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: CodePermanent, Message: err.Error(), Retryable: false, Err: err}
}

// NewError builds a classified error with a code.
func NewError(code string, retryable bool, msg string) *Error {
	return &Error{Code: code, Message: msg, Retryable: retryable}
}

// AsError classifies any error the way the host does: an *Error as is, a
// deadline as "timeout" (retryable), a cancellation as "canceled", anything
// else as "error" (retryable). It returns nil for nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeTimeout, Message: err.Error(), Retryable: true, Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeCanceled, Message: err.Error(), Retryable: true, Err: err}
	}
	return &Error{Code: CodeError, Message: err.Error(), Retryable: true, Err: err}
}
