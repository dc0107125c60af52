// ws/topics.h — publish once, deliver to many: named groups of sessions.
//
// An application subscribes sessions to topics (a chat room, a price feed) and publishes a
// message to a topic. The message is encoded once per wire format present among the
// topic's members — a format is the application's small number for how a member reads
// (its subprotocol, say) — and the same frame bytes are written to every member of that
// format (Session::send_encoded): no re-encoding, no copy per member, no allocation per
// member once the topic's lists have grown.
//
// Slow members: after its write, a member whose send queue (Transport::buffered_amount)
// is past its high-water mark is handled by the topic set's policy: kClose unsubscribes it
// from every topic and closes it with 1008 (RFC 6455 §7.4.1, a policy violation) once the
// fan-out is done; kSkip leaves it subscribed but skips it, counted, while it stays past
// the mark. Either way a publisher is never stalled and a member that reads nothing costs
// at most its connection's queue bound. The speaker (the session whose message is being
// published, inside its own read callback) is not judged: its sends are corked, so its
// queue says nothing yet (core/transport.h).
//
// Membership is kept here, not in the Session (which stays as small as it is); call
// leave_all() from Handler::on_close. Loop thread only: a Topics belongs to one reactor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/buffer.h"
#include "ws/session.h"

namespace wsedge::ws {

class Topics {
 public:
  enum class SlowPolicy : uint8_t { kClose, kSkip };
  // A member's wire format: 0 .. kMaxFormats - 1, the application's own numbering.
  using Format = uint8_t;
  static constexpr Format kMaxFormats = 4;

  struct Options {
    SlowPolicy slow = SlowPolicy::kClose;
    // kClose: told after a slow member was unsubscribed and before it is closed, with the
    // topic it was found slow in (the application may announce it). May publish.
    std::function<void(Session&, std::string_view topic)> on_dropped;
  };
  struct Counters {
    uint64_t published = 0;   // publish() calls that found the topic
    uint64_t encoded = 0;     // encodings made: at most one per format per publish
    uint64_t deliveries = 0;  // frames handed to members
    uint64_t dropped = 0;     // kClose: members closed for being slow
    uint64_t skipped = 0;     // kSkip: deliveries skipped for being slow
  };

  Topics();
  explicit Topics(Options options);
  ~Topics();
  Topics(const Topics&) = delete;
  Topics& operator=(const Topics&) = delete;

  // s joins `topic`, reading `format` (false: already a member, or format out of range).
  bool subscribe(std::string_view topic, Session& s, Format format = 0);
  // s leaves `topic` (false: it was not in it). An emptied topic is forgotten.
  bool unsubscribe(std::string_view topic, Session& s);
  // s leaves every topic it is in: call from Handler::on_close. Returns how many.
  size_t leave_all(Session& s);

  // Delivers to every member of `topic`. `encode(format, out)` writes the whole frame(s)
  // for one format into `out` (cleared before each call; ws::encode_frame builds one) and
  // runs once per format present. `speaker` is exempt from the slow check (see above).
  // Returns the deliveries made. A topic nobody is in costs one lookup and no encoding.
  size_t publish(std::string_view topic, const std::function<void(Format, Buffer&)>& encode,
                 const Session* speaker = nullptr);

  size_t members(std::string_view topic) const;
  size_t topics_of(const Session& s) const;
  size_t topic_count() const { return topics_.size(); }
  size_t session_count() const { return sessions_.size(); }  // in at least one topic
  const Counters& counters() const { return counters_; }

 private:
  struct Topic;
  struct Member {
    Session* session;
    Format format;
  };
  struct Topic {
    std::string name;
    std::vector<Member> members;
    size_t formats[kMaxFormats] = {};  // members per format: encode only what is read
  };
  // A session's place in one topic. A session is in a handful of topics: a vector.
  struct Membership {
    Topic* topic;
    size_t index;  // in topic->members (kept true across swap-removals)
  };
  // Heterogeneous lookup: publish(string_view) finds its topic without building a string.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  Topic* find(std::string_view name) const;
  // Takes a member out of m's topic (the caller has dropped m from the session's list).
  void remove(const Membership& m);
  void forget_if_empty(Topic* t);
  void drop(const std::vector<Session*>& slow, std::string_view topic);

  Options options_;
  Counters counters_;
  std::unordered_map<std::string, std::unique_ptr<Topic>, NameHash, std::equal_to<>> topics_;
  std::unordered_map<const Session*, std::vector<Membership>> sessions_;
  Buffer frames_[kMaxFormats];  // one publish's encodings, reused
  int publishing_ = 0;          // nesting depth: emptied topics are freed at depth 0
  std::vector<Topic*> emptied_;
};

}  // namespace wsedge::ws
