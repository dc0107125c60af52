#include "ws/reader.h"

#include "ws/reader_impl.h"

namespace wsedge::ws {

using reader_detail::scan_header;
using reader_detail::Step;

// --- decode_header (declared in ws/frame.h) ----------------------------------------------
// Defined here with the reader, the receive side's one home, on the same scanner.

DecodeResult decode_header(std::span<const uint8_t> in, const DecodeRules& rules) {
  DecodeResult r;
  size_t at = 0;
  switch (scan_header(in, rules, r.header, &r.error, &at)) {
    case Step::kDone:
      r.status = DecodeStatus::kDone;
      break;
    case Step::kError:
      r.status = DecodeStatus::kError;
      r.error_offset = static_cast<uint8_t>(at);
      break;
    case Step::kIncomplete:
      break;
  }
  return r;
}

// --- the reader (its body: ws/reader_impl.h) ----------------------------------------------

// Flattened: the header scan, the sequence rules and the length forms are all in line, so
// a whole frame is one straight pass with no call but the payload kernels.
[[gnu::flatten]] ReadEvent Reader::next(std::span<uint8_t> in, const ReadRules& rules) {
  return read<false>(in, rules, nullptr);
}

}  // namespace wsedge::ws
