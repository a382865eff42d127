package main

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// Error kinds carry the names of the Python exceptions the Python generator
// counts (type(exc).__name__), so that a report's error_types read the same
// whichever generator produced them.
const (
	kindTimeout    = "TimeoutError"
	kindRefused    = "ConnectionRefusedError"
	kindReset      = "ConnectionResetError"
	kindBrokenPipe = "BrokenPipeError"
	kindClosed     = "ConnectionError" // the server closed the connection before answering
	kindProtocol   = "ProtocolError"   // an answer that cannot be framed
	kindOther      = "OSError"
)

// kinds numbers the error kinds: an outcome is stored per request as a small
// integer, an HTTP status when positive and -(index+1) into kinds when negative.
var kinds = []string{kindTimeout, kindRefused, kindReset, kindBrokenPipe, kindClosed, kindProtocol, kindOther}

func errorOutcome(err error) int16 {
	kind := classify(err)
	for i, k := range kinds {
		if k == kind {
			return int16(-(i + 1))
		}
	}
	panic("unlisted error kind " + kind)
}

func classify(err error) string {
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		return kindTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return kindRefused
	case errors.Is(err, syscall.ECONNRESET):
		return kindReset
	case errors.Is(err, syscall.EPIPE):
		return kindBrokenPipe
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return kindClosed
	case errors.Is(err, errProtocol):
		return kindProtocol
	}
	return kindOther
}
