// net/connection.h — one accepted TCP connection: the Transport that protocols run on.
//
// Owned by a ConnectionOwner (the server), used on its loop thread only. Reads land in
// the loop's shared receive buffer; only bytes the protocol did not consume (half a frame,
// half a request head) are kept, in a per-connection tail allocated on demand and freed
// when empty — an idle connection owns no buffer at all. Writes go straight to the kernel;
// sends made inside one on_data are corked into one syscall; only what the kernel refuses
// is queued, and while the queue is above the high-water mark the connection stops
// reading (backpressure) instead of growing without bound.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <span>

#include "core/buffer.h"
#include "core/transport.h"
#include "net/reactor.h"

namespace wsedge::net {

// Buffers shared by every connection of one loop (one loop = one thread).
struct LoopBuffers {
  static constexpr size_t kRecvSize = 256 * 1024;
  explicit LoopBuffers(size_t size = kRecvSize) : recv(new uint8_t[size]), recv_size(size) {}
  std::unique_ptr<uint8_t[]> recv;
  size_t recv_size;
  Buffer cork;                      // sends of the connection inside on_data
  class Connection* corked = nullptr;  // whose sends `cork` is collecting
};

struct ConnectionOptions {
  size_t high_water = 4u << 20;   // stop reading / tell the protocol past this many queued bytes
  int64_t linger_ms = 2000;       // close(): how long to wait for the peer's EOF
};

class Connection;

class ConnectionOwner {
 public:
  // The connection is finished (fd closed, protocol told). Called at the end of the loop
  // iteration, so the owner may delete it right here.
  virtual void on_connection_closed(Connection* c) = 0;

 protected:
  ~ConnectionOwner() = default;
};

class Connection final : public IoHandler, public Transport {
 public:
  // Takes ownership of fd (non-blocking). Call start() to register it with the loop.
  Connection(Reactor& loop, LoopBuffers& buffers, ConnectionOwner& owner, int fd,
             const sockaddr_storage& peer, const ConnectionOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result<void> start(std::unique_ptr<Protocol> protocol);
  int fd() const { return fd_; }
  Protocol* protocol() const { return protocol_.get(); }

  // Intrusive list links for the owner's registry (graceful shutdown walks it).
  Connection* prev = nullptr;
  Connection* next = nullptr;

  // Transport
  void send(std::span<const uint8_t> a, std::span<const uint8_t> b = {}) override;
  size_t buffered_amount() const override;
  size_t high_water_mark() const override { return options_.high_water; }
  void expect(size_t bytes) override { expect_ = bytes; }
  void arm_timer(int64_t delay_ms) override;
  void disarm_timer() override;
  int64_t now_ms() const override { return loop_.now_ms(); }
  void close() override;
  void abort() override;
  bool closing() const override { return state_ != State::kOpen; }
  void switch_protocol(std::unique_ptr<Protocol> next_protocol) override;
  std::string_view peer_address() const override;

 private:
  enum class State : uint8_t { kOpen, kFlushing, kLingering, kDone };

  void on_io(uint32_t events) override;
  static void on_timer_fired(Timer* t);
  void handle_readable(bool hangup);
  void handle_writable();
  void dispatch(std::span<uint8_t> data, bool from_tail);
  void flush_cork();
  bool write_out();  // false on a fatal write error (connection finished)
  void queue(std::span<const uint8_t> a, std::span<const uint8_t> b, size_t skip);
  void shut_write();
  void discard_input();
  void finish();

  Reactor& loop_;
  LoopBuffers& buffers_;
  ConnectionOwner& owner_;
  ConnectionOptions options_;
  std::unique_ptr<Protocol> protocol_;
  std::unique_ptr<Protocol> retired_;  // the pre-hijack protocol, freed after its callback
  Buffer tail_;                        // unconsumed input
  Buffer out_;                         // output the kernel refused
  Timer timer_;
  size_t expect_ = 0;
  int fd_;
  State state_ = State::kOpen;
  bool read_paused_ = false;  // backpressure: input left unread while out_ is over high water
  bool above_high_ = false;   // on_drain owed once out_ falls below half the mark
  uint8_t peer_family_ = 0;
  uint16_t peer_port_ = 0;
  uint8_t peer_addr_[16] = {};
};

}  // namespace wsedge::net
