#include "ws/deflate.h"

#define ZLIB_CONST  // next_in becomes a pointer to const: no const_cast on caller data
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <new>

namespace wsedge::ws {

namespace {

// --- counting allocator -------------------------------------------------------------------
// zlib allocates through zalloc/zfree; routing them here lets every object report what its
// stream really costs (memory()) and the server sum it over all connections. zfree is not
// told the size, so each block carries it in a 16-byte header (16 keeps malloc's alignment).
constexpr size_t kHeader = 16;
std::atomic<size_t> g_in_use{0};

void* counted_alloc(void* opaque, unsigned items, unsigned size) {
  const size_t n = static_cast<size_t>(items) * size;
  auto* block = static_cast<unsigned char*>(std::malloc(n + kHeader));
  if (block == nullptr) return Z_NULL;
  std::memcpy(block, &n, sizeof n);
  *static_cast<size_t*>(opaque) += n;
  g_in_use.fetch_add(n, std::memory_order_relaxed);
  return block + kHeader;
}

void counted_free(void* opaque, void* p) {
  if (p == nullptr) return;
  auto* block = static_cast<unsigned char*>(p) - kHeader;
  size_t n;
  std::memcpy(&n, block, sizeof n);
  *static_cast<size_t*>(opaque) -= n;
  g_in_use.fetch_sub(n, std::memory_order_relaxed);
  std::free(block);
}

// RFC 7692 §7.2.1 step 3: the sync flush ends in an empty stored block whose LEN/NLEN octets
// are these four; the sender removes them and the receiver (§7.2.2) puts them back.
constexpr uint8_t kTail[4] = {0x00, 0x00, 0xff, 0xff};

// zlib checks a distance against its window plus what the current inflate() call has
// produced, so with a window smaller than 32 KiB a peer that breaks the client_max_window_bits
// it agreed to is refused or not depending on how its bytes were cut into reads (found by
// tests/fuzz/fuzz_session). The full window checks every DEFLATE distance the same way.
constexpr int kInflateWindowBits = 15;

constexpr size_t kMaxDeflateChunk = 64 * 1024;
constexpr size_t kMaxSlice = size_t{1} << 30;  // zlib's avail_in is 32-bit: feed in slices

int clamp(int v, int lo, int hi) {
  return std::min(std::max(v, lo), hi);
}

}  // namespace

size_t zlib_memory_in_use() {
  return g_in_use.load(std::memory_order_relaxed);
}

// --- MessageDeflater ----------------------------------------------------------------------

struct MessageDeflater::Stream {
  z_stream z{};
  size_t bytes = 0;  // what zlib allocated through counted_alloc; z.opaque points here
  bool live = false;
  ~Stream() {
    if (live) deflateEnd(&z);
  }
};

MessageDeflater::MessageDeflater(const DeflaterOptions& opts) : opts_(opts) {
  opts_.window_bits = clamp(opts_.window_bits, 8, 15);
  opts_.mem_level = clamp(opts_.mem_level, 1, 9);
  opts_.level = clamp(opts_.level, 0, 9);
}
MessageDeflater::~MessageDeflater() = default;
MessageDeflater::MessageDeflater(MessageDeflater&&) noexcept = default;
MessageDeflater& MessageDeflater::operator=(MessageDeflater&&) noexcept = default;

size_t MessageDeflater::memory() const {
  return s_ ? s_->bytes + sizeof(Stream) : 0;
}

void MessageDeflater::release() {
  if (opts_.no_context_takeover) s_.reset();
}

MessageDeflater::Stream* MessageDeflater::stream() {
  if (s_) return s_.get();
  auto s = std::make_unique<Stream>();
  s->z.zalloc = counted_alloc;
  s->z.zfree = counted_free;
  s->z.opaque = &s->bytes;
  // Window 8: zlib refuses raw windowBits 8 (Z_STREAM_ERROR since 1.2.9; older versions
  // silently used 9). Compressing with 9 is still safe for a peer holding only 256 bytes:
  // zlib's deflate never emits a distance above MAX_DIST = window - MIN_LOOKAHEAD
  // = 512 - 262 = 250 bytes, so every back-reference fits an 8-bit window. Node's zlib
  // binding maps 8 to 9 for the same reason; tests/unit/test_deflate.cpp checks it against
  // an inflater whose window really is 256 bytes.
  const int bits = opts_.window_bits == 8 ? 9 : opts_.window_bits;
  int rc = deflateInit2(&s->z, opts_.level, Z_DEFLATED, -bits, opts_.mem_level, Z_DEFAULT_STRATEGY);
  if (rc == Z_MEM_ERROR) throw std::bad_alloc();
  s->live = rc == Z_OK;  // options are clamped in the constructor, so rc is Z_OK here
  s_ = std::move(s);
  return s_.get();
}

Result<size_t> MessageDeflater::compress(std::span<const uint8_t> message, Buffer& out) {
  // RFC 7692 §7.2.3.6: an empty message is the single octet 0x00 — an empty stored block's
  // header whose LEN/NLEN are the removed tail. Written directly: zlib answers an empty sync
  // flush right after another one with Z_BUF_ERROR and no output.
  if (message.empty()) {
    out.append(kTail, 1);
    return size_t{1};
  }
  z_stream& z = stream()->z;
  if (!s_->live) return Error{"deflateInit2", 0};
  const uint8_t* next = message.data();
  size_t left = message.size();
  const size_t chunk = std::min(message.size() + message.size() / 8 + 64, kMaxDeflateChunk);
  // The last 4 bytes produced so far are held back, not committed: the final four are the
  // tail to drop and Buffer cannot shrink from the back.
  uint8_t held[4] = {};
  size_t held_n = 0;
  size_t appended = 0;
  for (;;) {
    if (z.avail_in == 0 && left > 0) {
      const size_t slice = std::min(left, kMaxSlice);
      z.next_in = next;
      z.avail_in = static_cast<uInt>(slice);
      next += slice;
      left -= slice;
    }
    // RFC 7692 §7.2.1: the message ends with a sync flush (an empty stored block).
    const int flush = left > 0 ? Z_NO_FLUSH : Z_SYNC_FLUSH;
    uint8_t* p = out.prepare(held_n + chunk);
    std::memcpy(p, held, held_n);
    z.next_out = p + held_n;
    z.avail_out = static_cast<uInt>(chunk);
    const int rc = deflate(&z, flush);
    if (rc != Z_OK && rc != Z_BUF_ERROR) return Error{"deflate", 0};
    const size_t have = held_n + (chunk - z.avail_out);
    held_n = std::min<size_t>(have, 4);
    std::memcpy(held, p + have - held_n, held_n);
    out.commit(have - held_n);
    appended += have - held_n;
    // zlib's contract: output space left over means the flush completed.
    if (flush == Z_SYNC_FLUSH && z.avail_out != 0) break;
  }
  if (held_n != 4 || std::memcmp(held, kTail, 4) != 0) return Error{"deflate: no sync tail", 0};
  // RFC 7692 §7.1.1.1: without context takeover the next message must not refer to this one.
  // The stream is reset, not freed: freeing and re-creating it per message costs 3x the CPU
  // at 1 KiB, most of it page faults (docs/deflate.md §3). The session calls release() once
  // it has sent no compressed message for a second (Session::kDeflateIdleMs).
  if (opts_.no_context_takeover && deflateReset(&z) != Z_OK) return Error{"deflateReset", 0};
  return appended;
}

// --- MessageInflater ----------------------------------------------------------------------

struct MessageInflater::Stream {
  z_stream z{};
  size_t bytes = 0;
  bool live = false;
  ~Stream() {
    if (live) inflateEnd(&z);
  }
};

MessageInflater::MessageInflater(const InflaterOptions& opts) : opts_(opts) {
  opts_.window_bits = clamp(opts_.window_bits, 8, 15);
}
MessageInflater::~MessageInflater() = default;
MessageInflater::MessageInflater(MessageInflater&&) noexcept = default;
MessageInflater& MessageInflater::operator=(MessageInflater&&) noexcept = default;

size_t MessageInflater::memory() const {
  return s_ ? s_->bytes + sizeof(Stream) : 0;
}

void MessageInflater::release() {
  if (opts_.no_context_takeover && fed_ == 0) s_.reset();
}

void MessageInflater::discard() {
  s_.reset();
  total_ = 0;
  fed_ = 0;
  stream_ended_ = false;
  failed_ = InflateStatus::kOk;
}

InflateStatus MessageInflater::feed(std::span<const uint8_t> compressed, Buffer& out,
                                    size_t max_total) {
  return feed_some(compressed, out, max_total, SIZE_MAX).status;
}

InflateProgress MessageInflater::feed_some(std::span<const uint8_t> compressed, Buffer& out,
                                           size_t max_total, size_t step) {
  if (failed_ != InflateStatus::kOk) return {failed_, 0};
  if (compressed.empty()) return {};
  size_t consumed = compressed.size();
  failed_ = run(compressed.data(), compressed.size(), out, max_total, step, &consumed);
  fed_ += consumed;
  return {failed_, consumed};
}

InflateStatus MessageInflater::finish(Buffer& out, size_t max_total) {
  if (failed_ != InflateStatus::kOk) return failed_;
  // A compressed message with an empty payload is not valid DEFLATE (the tail alone is half
  // a stored block header); RFC 7692 §7.2.3.6 says senders send 0x00. It is accepted as the
  // empty message, without touching the stream, since its meaning is unambiguous.
  if (fed_ > 0 && !stream_ended_) {
    size_t consumed = 0;
    failed_ = run(kTail, sizeof kTail, out, max_total, SIZE_MAX, &consumed);
    if (failed_ != InflateStatus::kOk) return failed_;
    // RFC 7692 §7.2.1: a sender's payload ends on a block boundary (its sync flush minus the
    // tail). If not, the message was truncated or garbled: zlib sets bit 128 of data_type
    // only when it stopped right after a block ended.
    if (!stream_ended_ && (s_->z.data_type & 128) == 0) {
      failed_ = InflateStatus::kCorrupt;
      return failed_;
    }
  }
  if (stream_ended_) restart_after_final_block();
  total_ = 0;
  fed_ = 0;
  stream_ended_ = false;
  // RFC 7692 §7.1.1.2: without client context takeover no message refers to an earlier one,
  // so the stream (its state and window) is freed between messages.
  if (opts_.no_context_takeover) s_.reset();
  return InflateStatus::kOk;
}

// The peer ended its DEFLATE stream with a BFINAL block (RFC 7692 §7.2.3.4 allows it). zlib
// accepts no more input after that, so the stream is reset; with context takeover the
// window is carried over by hand, since the peer's next message may still refer to it.
void MessageInflater::restart_after_final_block() {
  if (opts_.no_context_takeover || !s_) return;  // freed by finish() anyway
  z_stream& z = s_->z;
  auto window = std::make_unique<uint8_t[]>(size_t{1} << kInflateWindowBits);
  uInt len = 0;
  inflateGetDictionary(&z, window.get(), &len);
  inflateReset(&z);
  if (len > 0) inflateSetDictionary(&z, window.get(), len);
}

// *consumed is set to n unless the call stops early, after `step` bytes of output with input
// still left.
InflateStatus MessageInflater::run(const uint8_t* in, size_t n, Buffer& out, size_t max_total,
                                   size_t step, size_t* consumed) {
  *consumed = n;
  // Bytes after a BFINAL block: RFC 7692 §7.2.1 has the sender append an empty stored block
  // after its last block, so one or more octets legitimately follow the end of the stream.
  if (stream_ended_) return InflateStatus::kOk;
  if (!s_) {
    auto s = std::make_unique<Stream>();
    s->z.zalloc = counted_alloc;
    s->z.zfree = counted_free;
    s->z.opaque = &s->bytes;
    const int rc = inflateInit2(&s->z, -kInflateWindowBits);
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    s->live = rc == Z_OK;
    s_ = std::move(s);
  }
  if (!s_->live) return InflateStatus::kCorrupt;
  z_stream& z = s_->z;
  z.avail_in = 0;  // input left over after a BFINAL block belongs to an earlier call
  size_t left = n;
  size_t produced_here = 0;
  for (;;) {
    if (z.avail_in == 0 && left > 0) {
      const size_t slice = std::min(left, kMaxSlice);
      z.next_in = in + (n - left);
      z.avail_in = static_cast<uInt>(slice);
      left -= slice;
    }
    // Output goes straight into `out`, never more than the limit allows. At the limit a
    // one-byte probe asks zlib whether anything is left to produce: if so, the message is too
    // big, refused before a byte beyond the limit is stored anywhere.
    const size_t room = max_total > total_ ? max_total - total_ : 0;
    uint8_t probe[1];
    const size_t cap = room == 0 ? 1 : std::min(room, kChunk);
    uint8_t* dst = room == 0 ? probe : out.prepare(cap);
    const uInt in_before = z.avail_in;
    z.next_out = dst;
    z.avail_out = static_cast<uInt>(cap);
    const int rc = inflate(&z, Z_SYNC_FLUSH);
    const size_t produced = cap - z.avail_out;
    if (room == 0 && produced > 0) return InflateStatus::kTooBig;
    if (room > 0) {
      out.commit(produced);
      total_ += produced;
      produced_here += produced;
    }
    if (rc == Z_STREAM_END) {
      stream_ended_ = true;
      return InflateStatus::kOk;
    }
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    // Z_DATA_ERROR (invalid DEFLATE, a distance beyond the window), Z_NEED_DICT (never for
    // raw), Z_STREAM_ERROR: the payload is not what the extension promised. The session
    // fails the connection with 1007: RFC 7692 names no code, and RFC 6455 §7.4.1 defines
    // 1007 for "data within a message that was not consistent with the type of the
    // message" — a compressed message that does not decompress is exactly that.
    if (rc != Z_OK && rc != Z_BUF_ERROR) return InflateStatus::kCorrupt;
    if (z.avail_in == 0 && left == 0 && z.avail_out != 0) return InflateStatus::kOk;
    // With all input taken, what zlib still owes is the rest of one match or a few symbols
    // (its bit buffer), so the step is only ended early while input is left.
    if (produced_here >= step && (z.avail_in > 0 || left > 0)) {
      *consumed = n - left - z.avail_in;
      return InflateStatus::kOk;
    }
    // Defensive: zlib always moves while it has input and output room.
    if (produced == 0 && z.avail_in == in_before) return InflateStatus::kCorrupt;
  }
}

}  // namespace wsedge::ws
