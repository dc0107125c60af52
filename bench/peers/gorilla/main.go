// gorilla/websocket echo server, a peer in bench/compare. Echoes every message on every
// path with its type; no compression, 64 MiB read limit, GOMAXPROCS=1 (single-threaded
// like the other peers). Built from Debian's golang-go and
// golang-github-gorilla-websocket-dev with GO111MODULE=off (no module downloads).
// With --tls-cert/--tls-key: wss:// through Go's crypto/tls (net/http's ServeTLS; its
// defaults: TLS 1.2 and 1.3, session tickets on).
// Usage: gorilla-echo [--port P] [--tls-cert FILE --tls-key FILE]; the first stdout line
// names the port.
package main

import (
	"crypto/tls"
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
	cert := flag.String("tls-cert", "", "PEM certificate chain: serve wss://")
	key := flag.String("tls-key", "", "PEM private key of --tls-cert")
	flag.Parse()
	if (*cert == "") != (*key == "") {
		fmt.Fprintln(os.Stderr, "gorilla-echo: --tls-cert and --tls-key go together")
		os.Exit(2)
	}
	scheme := "ws"
	if *cert != "" {
		scheme = "wss"
		// Fail before the listening line, as the other peers do, on a bad pair.
		if _, err := tls.LoadX509KeyPair(*cert, *key); err != nil {
			fmt.Fprintln(os.Stderr, "gorilla-echo:", err)
			os.Exit(2)
		}
	}
	ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gorilla-echo:", err)
		os.Exit(1)
	}
	fmt.Printf("gorilla listening on %s://127.0.0.1:%d/\n", scheme, ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	srv := &http.Server{Handler: http.HandlerFunc(echo)}
	if *cert != "" {
		err = srv.ServeTLS(ln, *cert, *key)
	} else {
		err = srv.Serve(ln)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gorilla-echo:", err)
		os.Exit(1)
	}
}
