// ws/topics.cpp — topic membership, and the fan-out that encodes once per format.
#include "ws/topics.h"

#include <algorithm>

#include "ws/close_code.h"

namespace wsedge::ws {

namespace {
// A publish of a large message leaves its encoding's buffer large; past this it is freed
// after the fan-out instead of kept for the next one.
constexpr size_t kKeptFrameBytes = 64 * 1024;
}  // namespace

Topics::Topics() = default;

Topics::Topics(Options options) : options_(std::move(options)) {}

Topics::~Topics() = default;

Topics::Topic* Topics::find(std::string_view name) const {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second.get();
}

bool Topics::subscribe(std::string_view topic, Session& s, Format format) {
  if (format >= kMaxFormats) return false;
  Topic* t = find(topic);
  if (t == nullptr) {
    auto fresh = std::make_unique<Topic>();
    fresh->name = std::string(topic);
    t = fresh.get();
    topics_.emplace(t->name, std::move(fresh));
  }
  std::vector<Membership>& mine = sessions_[&s];
  if (std::any_of(mine.begin(), mine.end(), [t](const Membership& m) { return m.topic == t; }))
    return false;
  mine.push_back({t, t->members.size()});
  t->members.push_back({&s, format});
  ++t->formats[format];
  return true;
}

void Topics::remove(const Membership& m) {
  Topic& t = *m.topic;
  const size_t last = t.members.size() - 1;
  --t.formats[t.members[m.index].format];
  if (m.index != last) {
    // Swap-removal: the last member takes the slot, and its own record learns where.
    const Member moved = t.members[last];
    t.members[m.index] = moved;
    auto it = sessions_.find(moved.session);
    if (it != sessions_.end()) {
      for (Membership& x : it->second) {
        if (x.topic == &t) x.index = m.index;
      }
    }
  }
  t.members.pop_back();
  forget_if_empty(&t);
}

bool Topics::unsubscribe(std::string_view topic, Session& s) {
  Topic* t = find(topic);
  auto it = sessions_.find(&s);
  if (t == nullptr || it == sessions_.end()) return false;
  std::vector<Membership>& mine = it->second;
  auto at =
      std::find_if(mine.begin(), mine.end(), [t](const Membership& m) { return m.topic == t; });
  if (at == mine.end()) return false;
  const Membership m = *at;
  *at = mine.back();
  mine.pop_back();
  if (mine.empty()) sessions_.erase(it);
  remove(m);
  return true;
}

size_t Topics::leave_all(Session& s) {
  auto it = sessions_.find(&s);
  if (it == sessions_.end()) return 0;
  const std::vector<Membership> mine = std::move(it->second);
  sessions_.erase(it);
  for (const Membership& m : mine)
    remove(m);
  return mine.size();
}

void Topics::forget_if_empty(Topic* t) {
  if (!t->members.empty()) return;
  if (publishing_ > 0) {
    emptied_.push_back(t);  // a fan-out up the stack may still name it
    return;
  }
  topics_.erase(topics_.find(std::string_view(t->name)));
}

size_t Topics::publish(std::string_view topic, const std::function<void(Format, Buffer&)>& encode,
                       const Session* speaker) {
  Topic* t = find(topic);
  if (t == nullptr) return 0;
  ++publishing_;
  ++counters_.published;
  bool ready[kMaxFormats] = {};
  std::vector<Session*> slow;  // allocates only when someone is slow
  size_t delivered = 0;
  for (size_t i = 0; i < t->members.size(); ++i) {
    const Member m = t->members[i];
    Session& s = *m.session;
    const bool judged = &s != speaker;
    if (options_.slow == SlowPolicy::kSkip && judged && s.buffered_amount() > s.high_water_mark()) {
      ++counters_.skipped;
      continue;
    }
    Buffer& frame = frames_[m.format];
    if (!ready[m.format]) {
      frame.clear();
      encode(m.format, frame);
      ready[m.format] = true;
      ++counters_.encoded;
    }
    s.send_encoded(frame.view());
    ++delivered;
    if (options_.slow == SlowPolicy::kClose && judged && s.buffered_amount() > s.high_water_mark())
      slow.push_back(&s);
  }
  counters_.deliveries += delivered;
  for (Buffer& frame : frames_) {
    if (frame.capacity() > kKeptFrameBytes) frame.release();
  }
  if (!slow.empty()) drop(slow, t->name);  // t lives on: freeing waits for depth 0
  if (--publishing_ == 0 && !emptied_.empty()) {
    std::vector<Topic*> emptied = std::move(emptied_);
    emptied_.clear();
    std::sort(emptied.begin(), emptied.end());
    emptied.erase(std::unique(emptied.begin(), emptied.end()), emptied.end());
    for (Topic* e : emptied) {
      if (e->members.empty()) topics_.erase(topics_.find(std::string_view(e->name)));
    }
  }
  return delivered;
}

// Every slow member leaves every topic before anyone hears of it, so what the application
// says about it (a fan-out itself, which may find more slow members) never meets a member
// that is half gone.
void Topics::drop(const std::vector<Session*>& slow, std::string_view topic) {
  for (Session* s : slow)
    leave_all(*s);
  for (Session* s : slow) {
    ++counters_.dropped;
    // RFC 6455 §7.4.1: 1008, a policy violation. The close frame queues behind the
    // backlog; the session's close grace then drops TCP if the peer never reads it.
    s->close(close_code::kPolicyViolation, "too slow: send queue over the limit");
  }
  if (options_.on_dropped) {
    for (Session* s : slow)
      options_.on_dropped(*s, topic);
  }
}

size_t Topics::members(std::string_view topic) const {
  const Topic* t = find(topic);
  return t == nullptr ? 0 : t->members.size();
}

size_t Topics::topics_of(const Session& s) const {
  auto it = sessions_.find(&s);
  return it == sessions_.end() ? 0 : it->second.size();
}

}  // namespace wsedge::ws
