// core/transport.cpp — the words for how a connection's TCP stream ended.
#include "core/transport.h"

namespace wsedge {

const char* describe(TcpEnd end) {
  switch (end) {
    case TcpEnd::kOpen:
      return "still open";
    case TcpEnd::kPeerEof:
      return "the client closed first (its FIN arrived while the server was not closing)";
    case TcpEnd::kPeerReset:
      return "the client reset the connection (RST) or the socket failed";
    case TcpEnd::kClosedAtOnce:
      return "the server closed first: its last bytes, then FIN at once (the client had sent "
             "its last byte, so no half-close and no linger)";
    case TcpEnd::kHalfClosed:
      return "the server closed first: its last bytes, a half-close (FIN), the client's FIN "
             "in answer, then the close";
    case TcpEnd::kLingerExpired:
      return "the server half-closed (FIN); the client's FIN did not come within the linger, "
             "so the server closed";
    case TcpEnd::kFlushExpired:
      return "the client did not read the server's last bytes within the linger: dropped "
             "with bytes unsent";
    case TcpEnd::kAborted:
      return "the server dropped the connection at once (queued bytes discarded)";
    case TcpEnd::kQueueOverflow:
      return "the server dropped the connection: its send queue would have passed the limit";
    case TcpEnd::kOutOfMemory:
      return "the server dropped the connection: out of memory";
    case TcpEnd::kTlsFailed:
      return "the TLS handshake failed or timed out";
  }
  return "unknown";
}

}  // namespace wsedge
