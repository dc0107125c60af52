// apps/client/run.h — wsedge-client after the handshake: the poll() loop over stdin and the
// server, until the close handshake ends (or fails).
//
// Interactive: each stdin line is a message or a command (apps/client/commands.h); EOF on
// stdin starts the close handshake with 1000. Scripted (--send / --expect): stdin is not
// read; the --send texts go out in order, the --expect texts must arrive in order within
// --timeout, then close 1000 (1001 when one did not come). Ctrl-C closes with 1001; a second
// Ctrl-C quits at once. Every close waits at most --timeout for the server's answer.
// Received messages go to stdout, everything else to stderr.
#pragma once

#include <string>
#include <string_view>

#include "apps/client/options.h"
#include "apps/client/session.h"
#include "apps/client/stream.h"
#include "ws/client_handshake.h"

namespace wsedge::client {

// The client's own messages ("wsedge-client: ..."), on stderr, one line each.
void say(const std::string& line);

// Returns the exit status (apps/client/verdict.h): 0 when the close handshake completed and
// the server's code was 1000, 1001, none (1005), or the echo of the code we sent; 1 otherwise
// (a protocol error either way, a connection lost without a close, a TLS stream truncated
// before the close handshake, an --expect that did not come); 130 after a Ctrl-C.
int run_session(Stream& stream, const ClientOptions& o, const ws::ServerResponse& agreed,
                std::string_view first_bytes, KeySource keys);

}  // namespace wsedge::client
