// gorilla/websocket echo server, a peer in bench/compare. Echoes every message on every
// path with its type; no compression, 64 MiB read limit, GOMAXPROCS=1 (single-threaded
// like the other peers). Built from Debian's golang-go and
// golang-github-gorilla-websocket-dev with GO111MODULE=off (no module downloads).
// Usage: gorilla-echo [--port P]; the first stdout line names the port.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:    4096,
	WriteBufferSize:   4096,
	EnableCompression: false,
	CheckOrigin:       func(*http.Request) bool { return true },
}

func echo(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(64 << 20)
	for {
		kind, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(kind, msg); err != nil {
			return
		}
	}
}

func main() {
	runtime.GOMAXPROCS(1)
	port := flag.Int("port", 0, "port (0 = a free port)")
	flag.Parse()
	ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gorilla-echo:", err)
		os.Exit(1)
	}
	fmt.Printf("gorilla listening on ws://127.0.0.1:%d/\n", ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	if err := http.Serve(ln, http.HandlerFunc(echo)); err != nil {
		fmt.Fprintln(os.Stderr, "gorilla-echo:", err)
		os.Exit(1)
	}
}
