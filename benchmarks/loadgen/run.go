package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"
)

// runCommand is `loadgen run`: the plan from --plan (JSON lines of
// {"method", "path", "body"}; request i sends entry i % len), the schedule from
// --rate and --seconds, and on --out one line per finished request,
//
//	<index> <latency in ns> <status, or an error kind such as TimeoutError>
//
// in index order, then one JSON object: the process's own CPU seconds (user +
// system, getrusage, the output's writing included), the wall time from the
// first scheduled instant to the last answer, and a few figures for judging
// the run itself (connections opened, how late the dispatcher sent requests).
func runCommand(args []string) error {
	flags := flag.NewFlagSet("run", flag.ExitOnError)
	target := flags.String("url", "", "base URL, http://127.0.0.1:PORT (loopback only; its path is ignored)")
	rate := flags.Float64("rate", 0, "requests per second")
	seconds := flags.Float64("seconds", 0, "length of the schedule; rate × seconds requests are sent")
	maxConn := flags.Int("max-connections", 256, "cap on open connections; beyond it requests wait for one")
	timeout := flags.Float64("timeout", 10, "seconds for connecting, and for a request once it has a connection")
	planPath := flags.String("plan", "-", "plan file, - for stdin")
	outPath := flags.String("out", "-", "results file, - for stdout")
	procs := flags.Int("procs", 1, "GOMAXPROCS")
	flags.Parse(args)
	setProcs(*procs)

	addr, host, err := loopbackTarget(*target)
	if err != nil {
		return err
	}
	if *rate <= 0 || *seconds < 0 || *maxConn < 1 || *timeout <= 0 {
		return errors.New("--rate and --timeout must be positive, --seconds not negative, --max-connections at least 1")
	}
	// As Python's int(rate * seconds): the same double, truncated.
	total := int(*rate * *seconds)
	plan, head, err := readPlan(*planPath, host)
	if err != nil {
		return err
	}
	if total > 0 && len(plan) == 0 {
		return errors.New("the plan is empty")
	}
	out, err := openOutput(*outPath)
	if err != nil {
		return err
	}
	sleeper, err := newSleeper()
	if err != nil {
		return err
	}
	timeoutDuration := time.Duration(*timeout * float64(time.Second))
	g := &generator{
		addr: addr, timeout: timeoutDuration, maxConn: *maxConn,
		plan: plan, head: head, rate: *rate, total: total, sleeper: sleeper,
	}
	wall, err := g.run(timeoutDuration + 5*time.Second)
	if err != nil {
		return err
	}
	return writeResults(out, g, wall)
}

// loopbackTarget parses the base URL and refuses every host but loopback,
// before any connection: the bench must not be pointed at a real service.
// localhost is taken as 127.0.0.1 rather than resolved, so no lookup can send
// the load elsewhere.
func loopbackTarget(raw string) (addr, host string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return "", "", fmt.Errorf("--url %q: want http://127.0.0.1:PORT", raw)
	}
	name, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	switch name {
	case "127.0.0.1", "localhost":
		// The Host header names the host without the port, as the Python generator's does.
		return net.JoinHostPort("127.0.0.1", port), name, nil
	case "::1":
		return net.JoinHostPort("::1", port), "[::1]", nil
	}
	return "", "", fmt.Errorf("--url %q: load goes to loopback only (127.0.0.1, localhost, ::1)", raw)
}

type planEntry struct {
	Method string  `json:"method"`
	Path   string  `json:"path"`
	Body   *string `json:"body"`
}

// readPlan renders every entry into the bytes sent for it (encoding/json is
// fine here: it runs once, before the first request).
func readPlan(path, host string) (plan [][]byte, head []bool, err error) {
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		in = f
	}
	dec := json.NewDecoder(bufio.NewReaderSize(in, 1<<16))
	dec.DisallowUnknownFields()
	for line := 1; ; line++ {
		var e planEntry
		if err := dec.Decode(&e); err == io.EOF {
			return plan, head, nil
		} else if err != nil {
			return nil, nil, fmt.Errorf("plan entry %d: %w", line, err)
		}
		var body []byte
		if e.Body != nil {
			body = []byte(*e.Body)
		}
		req, err := renderRequest(e.Method, e.Path, host, body, e.Body != nil)
		if err != nil {
			return nil, nil, fmt.Errorf("plan entry %d: %w", line, err)
		}
		plan, head = append(plan, req), append(head, e.Method == "HEAD")
	}
}

func openOutput(path string) (*os.File, error) {
	if path == "-" {
		return os.Stdout, nil
	}
	return os.Create(path)
}

type summary struct {
	CPUSeconds        float64 `json:"cpu_seconds"`
	WallSeconds       float64 `json:"wall_seconds"`
	Requests          int     `json:"requests"`
	Unfinished        int     `json:"unfinished"`
	Connections       int     `json:"connections_opened"`
	DispatchLagMeanMs float64 `json:"dispatch_lag_mean_ms"`
	DispatchLagMaxMs  float64 `json:"dispatch_lag_max_ms"`
}

func writeResults(out *os.File, g *generator, wall time.Duration) error {
	w := bufio.NewWriterSize(out, 1<<16)
	line := make([]byte, 0, 64)
	unfinished := 0
	for i, o := range g.outcome {
		if o == 0 {
			unfinished++ // left out, as the Python generator leaves them out
			continue
		}
		line = strconv.AppendInt(line[:0], int64(i), 10)
		line = append(line, ' ')
		line = strconv.AppendInt(line, int64(g.latency[i]), 10)
		line = append(line, ' ')
		if o > 0 {
			line = strconv.AppendInt(line, int64(o), 10)
		} else {
			line = append(line, kinds[-o-1]...)
		}
		line = append(line, '\n')
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	cpu, err := cpuSeconds()
	if err != nil {
		return err
	}
	g.mu.Lock()
	opened := g.opened
	g.mu.Unlock()
	s := summary{
		CPUSeconds:       cpu,
		WallSeconds:      wall.Seconds(),
		Requests:         g.total,
		Unfinished:       unfinished,
		Connections:      opened,
		DispatchLagMaxMs: float64(g.lagMax) / 1e6,
	}
	if g.total > 0 {
		s.DispatchLagMeanMs = float64(g.lagSum) / float64(g.total) / 1e6
	}
	trailer, _ := json.Marshal(s)
	if _, err := out.Write(append(trailer, '\n')); err != nil {
		return err
	}
	return out.Close()
}

// cpuSeconds is this process's user + system time so far, all threads.
func cpuSeconds() (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, os.NewSyscallError("getrusage", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(), nil
}
