package main

import (
	"bufio"
	"io"
	"net"
	"runtime"
	"sync"
	"time"
)

// idleReuse: uvicorn closes a keep-alive connection idle for 5 s; reusing one
// that old races that close and fails a request the server never saw.
const idleReuse = 4 * time.Second

// readBufferSize holds any status line and header the API or the origin sends.
const readBufferSize = 8 << 10

// A generator sends plan[i % len(plan)] at start + i/rate for every i below
// total, whatever the server does (open loop), and times each request from its
// scheduled instant, so a wait for a connection or a slow server shows up in
// the latency instead of silently lowering the rate (no coordinated omission).
//
// Concurrency: one dispatcher goroutine (run) and one goroutine per open
// connection, which lives as long as its connection and is handed request
// indices over its own channel, so nothing is spawned per request. The pool's
// state sits under one mutex, uncontended with a single P.
type generator struct {
	addr    string
	timeout time.Duration
	maxConn int
	plan    [][]byte
	head    []bool // plan entries that are HEAD requests: their answers have no body
	rate    float64
	total   int
	sleeper sleeper

	start time.Time
	mu    sync.Mutex
	// Per request, under mu: latency from the scheduled instant and the
	// outcome (status > 0, error kind < 0, 0 if it never finished). Once over
	// is set nothing more is recorded, so the results can be read while
	// late answers still arrive.
	latency  []time.Duration
	outcome  []int16
	over     bool
	idle     []*conn // a stack: the most recently used connection is reused first
	waiting  []int   // due requests that found every connection busy, oldest first
	live     int     // connections open or being opened, at most maxConn
	opened   int
	finished int
	allDone  chan struct{}

	lagMax, lagSum time.Duration // how late requests left the dispatcher
}

// sleeper waits out a duration; see rawio_linux.go for why not time.Sleep.
type sleeper interface{ sleep(time.Duration) error }

type conn struct {
	g         *generator
	c         net.Conn // nil until dialled, and again after an error
	rw        io.ReadWriter
	r         *bufio.Reader // over rw
	idleSince time.Time
	next      chan int // request indices; retire ends the goroutine
}

const retire = -1

func (g *generator) scheduled(i int) time.Duration {
	return time.Duration(float64(i) / g.rate * float64(time.Second))
}

// run dispatches every request on schedule, then waits for the answers at most
// grace past the last one (the Python generator's request timeout + 5 s);
// requests still open then are left unfinished.
func (g *generator) run(grace time.Duration) (wall time.Duration, err error) {
	g.latency = make([]time.Duration, g.total)
	g.outcome = make([]int16, g.total)
	g.allDone = make(chan struct{})
	if g.total == 0 {
		close(g.allDone)
	}
	g.start = time.Now()
	for i := 0; i < g.total; {
		// Sleep to the next instant, then send everything due: a late wake-up
		// sends a batch rather than drifting, and the lateness counts in those
		// requests' latencies.
		now := time.Since(g.start)
		if due := g.scheduled(i); due > now {
			// Let the requests just dispatched be written first, so that the
			// timer is armed on the CPU where this thread then sleeps: armed
			// before the writes woke the server, it often fired on the other
			// core and woke this thread there (about 10 % more CPU per request).
			runtime.Gosched()
			now = time.Since(g.start)
			if due <= now {
				continue
			}
			if err := g.sleeper.sleep(due - now); err != nil {
				return 0, err
			}
			continue
		}
		for ; i < g.total && g.scheduled(i) <= now; i++ {
			lag := now - g.scheduled(i)
			g.lagSum += lag
			g.lagMax = max(g.lagMax, lag)
			g.dispatch(i)
		}
	}
	select {
	case <-g.allDone:
	case <-time.After(grace):
	}
	wall = time.Since(g.start)
	g.mu.Lock()
	g.over = true
	g.mu.Unlock()
	return wall, nil
}

// dispatch gives request i to an idle connection, else to a new one, else
// queues it for the first connection that frees up.
func (g *generator) dispatch(i int) {
	g.mu.Lock()
	for len(g.idle) > 0 {
		c := g.idle[len(g.idle)-1]
		g.idle = g.idle[:len(g.idle)-1]
		if time.Since(c.idleSince) > idleReuse {
			g.live--
			c.next <- retire
			continue
		}
		g.mu.Unlock()
		c.next <- i
		return
	}
	if g.live < g.maxConn {
		g.live++
		g.mu.Unlock()
		c := &conn{g: g, next: make(chan int, 1)}
		go c.serve(i)
		return
	}
	g.waiting = append(g.waiting, i)
	g.mu.Unlock()
}

// serve runs request after request on one connection until it is retired or,
// after an error, finds nothing waiting.
func (c *conn) serve(i int) {
	g := c.g
	for {
		latency, outcome := c.do(i)
		g.mu.Lock()
		if !g.over {
			g.latency[i], g.outcome[i] = latency, outcome
		}
		g.finished++
		if g.finished == g.total {
			close(g.allDone)
		}
		if len(g.waiting) > 0 {
			i = g.waiting[0]
			g.waiting = g.waiting[1:]
			g.mu.Unlock()
			continue // on this connection, or a new one in its place after an error
		}
		if c.c == nil {
			g.live--
			g.mu.Unlock()
			return
		}
		c.idleSince = time.Now()
		g.idle = append(g.idle, c)
		g.mu.Unlock()
		if i = <-c.next; i == retire {
			c.c.Close()
			return
		}
	}
}

// do sends request i and reads its answer, dialling first if this slot has no
// connection, and returns the request's latency and outcome. Any error closes
// the connection: after one, the stream's position is unknown.
func (c *conn) do(i int) (time.Duration, int16) {
	g := c.g
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", g.addr, g.timeout)
		if err != nil {
			return time.Since(g.start) - g.scheduled(i), errorOutcome(err)
		}
		rw, err := newRawConn(nc)
		if err != nil {
			nc.Close()
			return time.Since(g.start) - g.scheduled(i), errorOutcome(err)
		}
		g.mu.Lock()
		g.opened++
		g.mu.Unlock()
		c.c, c.rw = nc, rw
		if c.r == nil {
			c.r = bufio.NewReaderSize(rw, readBufferSize)
		} else {
			c.r.Reset(rw)
		}
	}
	n := i % len(g.plan)
	err := c.c.SetDeadline(time.Now().Add(g.timeout))
	if err == nil {
		_, err = c.rw.Write(g.plan[n])
	}
	status, keepAlive := 0, false
	if err == nil {
		status, keepAlive, err = readResponse(c.r, g.head[n])
	}
	latency := time.Since(g.start) - g.scheduled(i)
	outcome := int16(status)
	if err != nil {
		outcome, keepAlive = errorOutcome(err), false
	}
	if !keepAlive {
		c.c.Close()
		c.c, c.rw = nil, nil
	}
	return latency, outcome
}
