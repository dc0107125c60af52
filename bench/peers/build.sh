#!/bin/bash
# Builds every peer echo server for bench/compare into OUT (default build/peers).
# Installs missing Debian packages with apt-get when root (like `make deps`) and Node's
# packages with `npm ci`. A peer whose toolchain cannot be had is skipped with a message;
# this script never fails because one peer did not build. Rebuilds only what is stale.
set -u
cd "$(dirname "$0")/../.."
OUT=${1:-build/peers}
mkdir -p "$OUT"
OUT=$(realpath "$OUT")

DEBS="gcc g++ pkg-config libboost1.81-dev golang-go golang-github-gorilla-websocket-dev \
libwebsockets-dev python3-websockets nodejs"
missing=""
for p in $DEBS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bench-peers: installing:$missing"
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing) >/dev/null 2>&1 ||
      echo "bench-peers: apt-get install failed; peers that need:$missing may be skipped"
  else
    echo "bench-peers: missing packages; run: sudo apt-get install -y$missing (peers that need them are skipped)"
  fi
fi

built=""; skipped=""
ok()   { built="$built $1"; }
skip() { skipped="$skipped $1"; echo "bench-peers: skipping $1: $2"; }
stale() {   # stale OUTPUT SOURCE...: OUTPUT is missing or older than a SOURCE
  local out=$1 src; shift
  [ -e "$out" ] || return 0
  for src in "$@"; do [ "$src" -nt "$out" ] && return 0; done
  return 1
}

# raw TCP echo: the limit
if ! command -v gcc >/dev/null; then skip raw "no gcc"
elif stale "$OUT/raw_echo" bench/peers/raw_echo.c bench/peers/echo_loop.h &&
     ! gcc -O2 -Wall -Wextra -o "$OUT/raw_echo" bench/peers/raw_echo.c; then skip raw "compile failed"
else ok raw; fi

# raw TLS echo: the floor of the wss:// scenarios (OpenSSL, nothing else)
if ! command -v gcc >/dev/null || [ ! -e /usr/include/openssl/ssl.h ]; then skip raw_tls "no gcc or libssl-dev"
elif stale "$OUT/raw_tls_echo" bench/peers/raw_tls_echo.c bench/peers/echo_loop.h &&
     ! gcc -O2 -Wall -Wextra -o "$OUT/raw_tls_echo" bench/peers/raw_tls_echo.c -lssl -lcrypto
then skip raw_tls "compile failed"
else ok raw_tls; fi

# Boost.Beast
if [ ! -e /usr/include/boost/beast.hpp ]; then skip beast "libboost1.81-dev not installed"
elif stale "$OUT/beast_echo" bench/peers/beast/beast_echo.cpp &&
     ! { echo "bench-peers: compiling beast_echo (about 30 s)";
         g++ -std=c++20 -O2 -Wall -Wextra -o "$OUT/beast_echo" bench/peers/beast/beast_echo.cpp -pthread \
           -lssl -lcrypto; }
then skip beast "compile failed"
else ok beast; fi

# gorilla/websocket: Debian's Go and Debian's gorilla source, GOPATH mode, no downloads
if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/github.com/gorilla/websocket ]; then
  skip gorilla "golang-go or golang-github-gorilla-websocket-dev not installed"
elif stale "$OUT/gorilla-echo" bench/peers/gorilla/main.go &&
     ! (cd bench/peers/gorilla && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off \
          GOCACHE="$OUT/.gocache" go build -o "$OUT/gorilla-echo" main.go)
then skip gorilla "go build failed"
else ok gorilla; fi

# libwebsockets
if ! pkg-config --exists libwebsockets 2>/dev/null; then skip lws "libwebsockets-dev not installed"
elif stale "$OUT/lws_echo" bench/peers/lws/lws_echo.c &&
     ! gcc -O2 -Wall -Wextra -o "$OUT/lws_echo" bench/peers/lws/lws_echo.c \
         $(pkg-config --cflags --libs libwebsockets)
then skip lws "compile failed"
else ok lws; fi

# Node ws (+ bufferutil, utf-8-validate: their npm packages ship linux-x64 prebuilds)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then skip node "node or npm missing"
elif { [ ! -d bench/peers/node/node_modules/ws ] || stale bench/peers/node/node_modules/.package-lock.json bench/peers/node/package-lock.json; } &&
     ! (cd bench/peers/node && npm ci --silent --no-audit --no-fund >/dev/null 2>&1)
then skip node "npm ci failed"
elif ! (cd bench/peers/node && node -e "require('ws'); require('bufferutil'); require('utf-8-validate')" 2>/dev/null)
then skip node "ws/bufferutil/utf-8-validate do not load"
else ok node; fi

# Python websockets (Debian's, for /usr/bin/python3)
if ! /usr/bin/python3 -c "import websockets" 2>/dev/null; then skip python "python3-websockets not installed"
else ok python; fi

echo "bench-peers: built:${built:- none}${skipped:+; skipped:$skipped}"
exit 0
