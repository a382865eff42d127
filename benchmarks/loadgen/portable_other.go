//go:build !linux

package main

// Elsewhere than Linux (where the bench runs) the generator works, with Go's
// ordinary I/O and timers: correct, but costlier per request and with the
// netpoller's millisecond timer resolution (see rawio_linux.go).

import (
	"io"
	"net"
	"time"
)

func newRawConn(c net.Conn) (io.ReadWriter, error) { return c, nil }

type timeSleeper struct{}

func (timeSleeper) sleep(d time.Duration) error {
	time.Sleep(d)
	return nil
}

func newSleeper() (sleeper, error) { return timeSleeper{}, nil }
