package main

// Why raw system calls: on the bench's 2-core VM a context switch is the
// expensive thing, and Go's ordinary I/O adds many, on a thread of its own.
// Every read or write through net.Conn or os.File enters the runtime's
// syscall path, which wakes the scheduler's monitor thread (sysmon) from its
// deep sleep; woken that way it polls every 20 µs for the next millisecond, so
// at 1,000 requests a second it never sleeps. Likewise a Go timer per
// scheduled instant wakes sysmon once per instant. Measured at 1,000 req/s:
// about 5 context switches and 160 µs of CPU per request that way, more than
// the Python generator this replaces (about 130 µs); as below, about 2 and
// 60-70 µs.
//
// So the hot path calls read(2) and write(2) through syscall.RawSyscall, which
// skips that bookkeeping (safe: the sockets are non-blocking, so the calls
// never block), inside syscall.RawConn callbacks, which park the goroutine on
// the netpoller when the socket is not ready and honour its deadline; and the
// dispatcher sleeps on a timerfd read the same way, with nanosecond rather
// than the netpoller's millisecond resolution.

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// rawConn is a TCP connection read and written with raw system calls.
type rawConn struct {
	rc      syscall.RawConn
	p       []byte // the caller's buffer during a Read or Write
	n       int
	errno   syscall.Errno
	readFn  func(fd uintptr) bool // method values made once: no allocation per call
	writeFn func(fd uintptr) bool
}

func newRawConn(c net.Conn) (io.ReadWriter, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &rawConn{rc: rc}
	r.readFn, r.writeFn = r.readOnce, r.writeOnce
	return r, nil
}

func (r *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p = p
	err := r.rc.Read(r.readFn) // the runtime's error: deadline passed, closed
	r.p = nil
	switch {
	case err != nil:
		return 0, err
	case r.errno != 0:
		return 0, os.NewSyscallError("read", r.errno)
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// readOnce returns false to be called again once the socket is readable.
func (r *rawConn) readOnce(fd uintptr) bool {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.p[0])), uintptr(len(r.p)))
		switch errno {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.n, r.errno = int(n), errno
		return true
	}
}

func (r *rawConn) Write(p []byte) (int, error) {
	r.p, r.n, r.errno = p, 0, 0
	err := r.rc.Write(r.writeFn)
	written := r.n
	r.p = nil
	if err == nil && r.errno != 0 {
		err = os.NewSyscallError("write", r.errno)
	}
	return written, err
}

// writeOnce writes what it can and returns false, to be called again once the
// socket is writable, while some of the request remains.
func (r *rawConn) writeOnce(fd uintptr) bool {
	for r.n < len(r.p) {
		rest := r.p[r.n:]
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)))
		switch errno {
		case 0:
			r.n += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			r.errno = errno
			return true
		}
	}
	return true
}

// timerSleeper sleeps on a timerfd registered with the netpoller.
type timerSleeper struct {
	fd     uintptr
	file   *os.File // keeps the timerfd open and registered
	rc     syscall.RawConn
	ticks  [8]byte
	readFn func(fd uintptr) bool
}

const (
	clockMonotonic = 1
	tfdNonblock    = syscall.O_NONBLOCK
	tfdCloexec     = syscall.O_CLOEXEC
)

type itimerspec struct {
	interval, value syscall.Timespec
}

func newSleeper() (sleeper, error) {
	fd, _, errno := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, tfdNonblock|tfdCloexec, 0)
	if errno != 0 {
		return nil, os.NewSyscallError("timerfd_create", errno)
	}
	file := os.NewFile(fd, "timerfd") // non-blocking, so os polls it
	rc, err := file.SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &timerSleeper{fd: fd, file: file, rc: rc}
	s.readFn = s.readOnce
	return s, nil
}

func (s *timerSleeper) sleep(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	spec := itimerspec{value: syscall.NsecToTimespec(int64(d))}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, s.fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); errno != 0 {
		return os.NewSyscallError("timerfd_settime", errno)
	}
	return s.rc.Read(s.readFn)
}

func (s *timerSleeper) readOnce(fd uintptr) bool {
	_, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&s.ticks[0])), 8)
	return errno != syscall.EAGAIN && errno != syscall.EINTR
}
