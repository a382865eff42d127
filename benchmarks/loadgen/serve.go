package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"time"
)

// serveCommand is `loadgen serve`: the bench's media origin, the regular files
// under --dir over HTTP/1.1 (GET and HEAD, Content-Length, keep-alive, ranges),
// 404 for anything else. net/http's file server does the HTTP; the guards
// around it keep it inside the directory and on loopback.
//
// Measured at 100 req/s of 404s, a new connection each as the processor
// fetches: about 0.3 ms of CPU per 404, against 0.8 ms for Python's
// http.server. Most of what is left is waking an idle process per request
// (at that rate even the generator's raw-syscall client pays about 0.14 ms a
// request), so a hand-written server would save little.
func serveCommand(args []string) error {
	flags := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := flags.String("addr", "127.0.0.1:8190", "listen address (loopback only)")
	dir := flags.String("dir", "", "directory to serve")
	procs := flags.Int("procs", 1, "GOMAXPROCS")
	flags.Parse(args)
	setProcs(*procs)

	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", *addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--addr %q: the origin listens on loopback only", *addr)
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	// os.Root resolves every name inside the directory: neither "..", nor an
	// absolute path, nor a symlink can reach a file outside it.
	root, err := os.OpenRoot(*dir)
	if err != nil {
		return err
	}
	server := &http.Server{
		Addr:              *addr,
		Handler:           getOrHead(http.FileServerFS(regularFiles{root.FS()})),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "loadgen serve: %s on http://%s\n", *dir, listener.Addr())
	return server.Serve(listener)
}

func getOrHead(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// regularFiles opens regular files only: a directory (no listings), a device
// or a name the root refuses is reported missing, so every such request gets
// a plain 404 rather than a listing, a 403 or a 500.
type regularFiles struct{ fs.FS }

func (r regularFiles) Open(name string) (fs.File, error) {
	f, err := r.FS.Open(name)
	if err != nil {
		return nil, fs.ErrNotExist
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}
