// ws/deflate.h — permessage-deflate's per-message compressor and decompressor (RFC 7692 §7.2)
// over zlib raw DEFLATE.
//
// Each object owns at most one zlib stream, created on first use. Without context takeover
// the inflater frees its stream after each message and the deflater resets its own (freeing
// it costs 3x the CPU at 1 KiB, docs/deflate.md §3); release() frees it when idle. Output is
// appended to a
// caller Buffer. One loop owns an object: not thread-safe. Any input bytes are accepted:
// corrupt or hostile data yields a status, never undefined behaviour or unbounded memory.
// zlib running out of memory throws std::bad_alloc, as Buffer does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/buffer.h"
#include "core/result.h"

namespace wsedge::ws {

// The window and sharing rules for one direction, as negotiated (ws/extensions.h).
struct DeflaterOptions {
  int window_bits = 15;  // 8..15 (RFC 7692 §7.1.2.1); 8 is compressed with zlib's 9, see .cpp
  int mem_level = 8;     // zlib memLevel 1..9: hash table size, the bulk of the memory
  int level = 6;         // zlib compression level 0..9
  bool no_context_takeover = false;  // RFC 7692 §7.1.1.1: each message starts from scratch
};

struct InflaterOptions {
  int window_bits = 15;  // 8..15: the window the peer agreed to compress with (§7.1.2.2)
  bool no_context_takeover = false;  // §7.1.1.2: the peer starts every message from scratch
};

// Compresses whole messages (server -> client).
class MessageDeflater {
 public:
  explicit MessageDeflater(const DeflaterOptions& opts = {});
  ~MessageDeflater();
  MessageDeflater(MessageDeflater&&) noexcept;
  MessageDeflater& operator=(MessageDeflater&&) noexcept;

  // Appends the payload of one compressed message to out: DEFLATE blocks ended by a sync
  // flush whose 00 00 ff ff tail is removed (RFC 7692 §7.2.1). Returns the bytes appended.
  // An error (a zlib invariant broken; never expected) leaves junk in out: drop the message.
  Result<size_t> compress(std::span<const uint8_t> message, Buffer& out);

  // Frees the zlib stream (~262 KiB at window 15, memLevel 8) between messages; the session
  // calls it from its timer once quiet. A no-op with context takeover: the peer relies on the
  // window.
  void release();

  size_t memory() const;  // bytes zlib holds for this object right now (0 when released)
  const DeflaterOptions& options() const { return opts_; }

 private:
  struct Stream;
  Stream* stream();  // creates it on first use
  DeflaterOptions opts_;
  std::unique_ptr<Stream> s_;
};

// What MessageInflater reports. kCorrupt: the session fails the connection with 1007 (see .cpp);
// kTooBig: the inflated message would exceed the caller's limit -> 1009 (RFC 6455 §7.4.1).
// Not the parsers' kIncomplete/kDone/kError: feed() answers kOk mid-message, where kDone
// would be false, and the two failures lead to different close codes, so each has a name.
enum class InflateStatus { kOk, kTooBig, kCorrupt };

struct InflateProgress {
  InflateStatus status = InflateStatus::kOk;
  size_t consumed = 0;  // compressed bytes taken from the front of the input
};

// Decompresses messages (client -> server) fragment by fragment.
class MessageInflater {
 public:
  // Output is produced at most this many bytes per zlib call, so a refused message costs at
  // most its limit in `out`, however large the bomb (plus Buffer's geometric growth slack).
  static constexpr size_t kChunk = 16 * 1024;

  explicit MessageInflater(const InflaterOptions& opts = {});
  ~MessageInflater();
  MessageInflater(MessageInflater&&) noexcept;
  MessageInflater& operator=(MessageInflater&&) noexcept;

  // Inflates one frame's payload of the current message, appending to out. max_total bounds
  // the inflated size of the whole message (every feed() and finish() together): past it the
  // result is kTooBig and out holds at most max_total bytes of this message. After a non-kOk
  // status the object is spent: every later call repeats that status.
  InflateStatus feed(std::span<const uint8_t> compressed, Buffer& out, size_t max_total);

  // feed() in steps: returns once this call appended at least `step` bytes while input is
  // left (consumed < compressed.size()); call again with the rest. A few KiB can inflate to
  // MiBs, so a caller that accounts for memory as it grows (the server's budget) looks after
  // every step instead of after the whole frame. Same statuses and stickiness as feed().
  InflateProgress feed_some(std::span<const uint8_t> compressed, Buffer& out, size_t max_total,
                            size_t step);

  // Ends the message: appends the 00 00 ff ff tail (RFC 7692 §7.2.2), inflates the rest and
  // checks the message ended on a DEFLATE block boundary. Then resets for the next message.
  InflateStatus finish(Buffer& out, size_t max_total);

  size_t message_size() const { return total_; }  // inflated bytes of the current message
  void release();  // frees the stream; a no-op while a context is kept or mid-message
  // Frees the stream whatever the context rules: for a connection that inflates no more
  // (failed or closing). The object is as new; the peer's window is gone.
  void discard();
  size_t memory() const;
  const InflaterOptions& options() const { return opts_; }

 private:
  struct Stream;
  InflateStatus run(const uint8_t* in, size_t n, Buffer& out, size_t max_total, size_t step,
                    size_t* consumed);
  void restart_after_final_block();
  InflaterOptions opts_;
  std::unique_ptr<Stream> s_;
  size_t total_ = 0;           // inflated bytes of the current message
  size_t fed_ = 0;             // compressed bytes of the current message
  bool stream_ended_ = false;  // a BFINAL block ended the DEFLATE stream in this message
  InflateStatus failed_ = InflateStatus::kOk;
};

// Bytes held by every zlib stream of the process (all threads), for the server's stats.
size_t zlib_memory_in_use();

}  // namespace wsedge::ws
