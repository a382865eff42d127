// Command loadgen is the benchmarks' instrument, compiled so that measuring
// costs the shared 2-core machine little: the Python generator it replaces
// spent about 120 µs of CPU per request and Python's http.server about 0.7 ms
// per 404, both counted in the machine share the mix is judged by.
//
//	loadgen run   --url http://127.0.0.1:8100 --rate 500 --seconds 10 <plan.jsonl
//	loadgen serve --addr 127.0.0.1:8190 --dir .state/bench/samples
//
// Both refuse anything but loopback: the bench must never load a real host.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCommand(os.Args[2:])
	case "serve":
		err = serveCommand(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: loadgen run|serve [flags]  (loadgen run -h for the flags)")
	os.Exit(2)
}

// setProcs applies --procs. One P is the default: on two cores shared with the
// system under test, a second one mostly adds scheduler handoffs and wakeups.
func setProcs(n int) {
	if n > 0 {
		runtime.GOMAXPROCS(n)
	}
}
