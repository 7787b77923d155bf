// Command svc is a tiny HTTP service that health-checking tests supervise:
// GET /healthz answers 200 until POST /break makes it answer 500. Every
// start is appended to -starts, and the number of 500 answers is written to
// -count after each one.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	starts := flag.String("starts", "", "file to append a line to on every start")
	count := flag.String("count", "", "file holding the number of 500 answers")
	flag.Parse()
	if *starts != "" {
		f, err := os.OpenFile(*starts, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
		}
	}
	var broken atomic.Bool
	var fails atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if broken.Load() {
			n := fails.Add(1)
			if *count != "" {
				_ = os.WriteFile(*count, []byte(strconv.FormatInt(n, 10)), 0o644)
			}
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /break", func(w http.ResponseWriter, _ *http.Request) {
		broken.Store(true)
		fmt.Fprintln(w, "broken")
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening on", ln.Addr())
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
