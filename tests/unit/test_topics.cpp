// ws::Topics over in-memory transports: membership, the fan-out that encodes once per
// format, the slow-member policies, and re-entrant use from inside a drop.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "http/parser.h"
#include "tests/support/fake_transport.h"
#include "ws/frame.h"
#include "ws/session.h"
#include "ws/topics.h"

using namespace wsedge;
using namespace wsedge::ws;

namespace {

struct Quiet final : Handler {
  void on_message(Session&, std::span<const uint8_t>, MessageType) override {}
};

// N sessions, each over its own fake transport.
struct Crowd {
  Quiet app;
  SessionOptions options;
  http::Request request;
  std::vector<std::unique_ptr<test::FakeTransport>> transports;
  std::vector<Session*> sessions;

  explicit Crowd(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      auto t = std::make_unique<test::FakeTransport>();
      auto s = std::make_unique<Session>(*t, app, options, Opening{.request = request});
      sessions.push_back(s.get());
      t->protocol = std::move(s);
      t->protocol->on_start(*t);
      transports.push_back(std::move(t));
    }
  }
  Session& operator[](size_t i) { return *sessions[i]; }
  test::FakeTransport& wire(size_t i) { return *transports[i]; }
};

// One text frame carrying `text`, as the encoder writes it.
void text_frame(Buffer& out, std::string_view text) {
  encode_frame(out, Opcode::kText, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

std::string frame_text(std::string_view text) {
  Buffer b;
  text_frame(b, text);
  return {reinterpret_cast<const char*>(b.data()), b.readable()};
}

}  // namespace

TEST_CASE("Topics: subscribe and unsubscribe, once each; an emptied topic is forgotten") {
  Crowd c(3);
  Topics topics;
  CHECK(topics.subscribe("a", c[0]));
  CHECK_FALSE(topics.subscribe("a", c[0]));  // already in it
  CHECK(topics.subscribe("a", c[1]));
  CHECK(topics.subscribe("b", c[0], 1));
  CHECK_FALSE(topics.subscribe("b", c[2], Topics::kMaxFormats));  // no such format
  CHECK(topics.members("a") == 2);
  CHECK(topics.topics_of(c[0]) == 2);
  CHECK(topics.topic_count() == 2);
  CHECK(topics.unsubscribe("a", c[0]));
  CHECK_FALSE(topics.unsubscribe("a", c[0]));
  CHECK_FALSE(topics.unsubscribe("nowhere", c[0]));
  CHECK(topics.members("a") == 1);
  CHECK(topics.leave_all(c[0]) == 1);  // b
  CHECK(topics.topic_count() == 1);    // b had no one else: gone
  CHECK(topics.leave_all(c[1]) == 1);
  CHECK(topics.topic_count() == 0);
  CHECK(topics.leave_all(c[2]) == 0);
}

TEST_CASE("Topics::publish: every member gets the same bytes, encoded once per format") {
  Crowd c(5);
  Topics topics;
  for (size_t i = 0; i < 5; ++i)
    topics.subscribe("room", c[i], i < 3 ? 0 : 1);
  std::vector<Topics::Format> asked;
  size_t n = topics.publish("room", [&](Topics::Format f, Buffer& out) {
    asked.push_back(f);
    text_frame(out, f == 0 ? "plain" : "{\"json\":1}");
  });
  CHECK(n == 5);
  CHECK(asked.size() == 2);  // one encoding per format present, not per member
  for (size_t i = 0; i < 5; ++i)
    CHECK(c.wire(i).sent_text() == frame_text(i < 3 ? "plain" : "{\"json\":1}"));
  CHECK(topics.counters().encoded == 2);
  CHECK(topics.counters().deliveries == 5);
  // A topic nobody is in: no encoding at all.
  CHECK(topics.publish("empty", [&](Topics::Format, Buffer&) { FAIL("encoded"); }) == 0);
}

TEST_CASE("Topics: swap-removal keeps every member's place, whatever the order of leaving") {
  // Leave in an order that moves members around, and check each publish reaches exactly
  // who is left.
  const size_t kN = 16;
  Crowd c(kN);
  Topics topics;
  for (size_t i = 0; i < kN; ++i) {
    topics.subscribe("x", c[i]);
    topics.subscribe("y", c[i]);
  }
  std::vector<bool> in(kN, true);
  const size_t order[] = {0, 15, 7, 8, 1, 14, 3, 12, 5, 10};
  for (size_t k : order) {
    CHECK(topics.unsubscribe("x", c[k]));
    in[k] = false;
    for (size_t i = 0; i < kN; ++i)
      c.wire(i).sent.clear();
    topics.publish("x", [](Topics::Format, Buffer& out) { text_frame(out, "m"); });
    for (size_t i = 0; i < kN; ++i)
      CHECK(c.wire(i).sent_text() == (in[i] ? frame_text("m") : ""));
  }
  CHECK(topics.members("y") == kN);  // the other topic is untouched
}

TEST_CASE("Topics kClose: a member past its high-water mark is dropped with 1008") {
  Crowd c(3);
  std::vector<std::string> dropped_from;
  Topics topics(
      {.slow = Topics::SlowPolicy::kClose,
       .on_dropped = [&](Session&, std::string_view t) { dropped_from.emplace_back(t); }});
  for (size_t i = 0; i < 3; ++i) {
    topics.subscribe("room", c[i]);
    topics.subscribe("other", c[i]);
  }
  c.wire(1).buffered = c.wire(1).high_water_mark() + 1;  // a reader that fell behind
  c.wire(0).buffered = c.wire(0).high_water_mark() + 1;  // the speaker: corked, not judged
  topics.publish(
      "room", [](Topics::Format, Buffer& out) { text_frame(out, "hi"); }, &c[0]);
  CHECK(dropped_from == std::vector<std::string>{"room"});
  CHECK(topics.topics_of(c[1]) == 0);  // out of every topic, not only this one
  CHECK(topics.members("room") == 2);
  CHECK(topics.members("other") == 2);
  CHECK(topics.counters().dropped == 1);
  // Its last frames: the message (it still got it), then a close 1008.
  const std::string sent = c.wire(1).sent_text();
  CHECK(sent.rfind(frame_text("hi"), 0) == 0);
  CHECK(sent.size() > frame_text("hi").size());
  CHECK(static_cast<uint8_t>(sent[frame_text("hi").size()]) == 0x88);  // FIN + close
  CHECK(sent.find("too slow") != std::string::npos);
  CHECK_FALSE(c[1].is_open());
  CHECK(c[0].is_open());
}

TEST_CASE("Topics kSkip: a slow member misses messages, counted, and stays subscribed") {
  Crowd c(2);
  Topics topics({.slow = Topics::SlowPolicy::kSkip, .on_dropped = {}});
  topics.subscribe("feed", c[0]);
  topics.subscribe("feed", c[1]);
  c.wire(1).buffered = c.wire(1).high_water_mark() + 1;
  auto one = [](Topics::Format, Buffer& out) { text_frame(out, "tick"); };
  CHECK(topics.publish("feed", one) == 1);
  CHECK(topics.publish("feed", one) == 1);
  CHECK(c.wire(1).sent.empty());
  CHECK(topics.counters().skipped == 2);
  CHECK(topics.members("feed") == 2);
  c.wire(1).buffered = 0;  // caught up
  CHECK(topics.publish("feed", one) == 2);
  CHECK(c.wire(1).sent_text() == frame_text("tick"));
  CHECK(c[1].is_open());
}

TEST_CASE("Topics: on_dropped may publish and leave; an emptied topic outlives the fan-out") {
  Crowd c(3);
  Topics* self = nullptr;
  std::vector<std::string> notices;
  Topics topics(
      {.slow = Topics::SlowPolicy::kClose, .on_dropped = [&](Session& s, std::string_view t) {
         // Announce, as chat does; the announcement is a fan-out of its own.
         self->publish(t, [](Topics::Format, Buffer& out) { text_frame(out, "left"); });
         notices.emplace_back(t);
         (void)s;
       }});
  self = &topics;
  topics.subscribe("r", c[0]);
  topics.subscribe("r", c[1]);
  c.wire(0).buffered = c.wire(0).high_water_mark() + 1;
  c.wire(1).buffered = c.wire(1).high_water_mark() + 1;
  topics.publish("r", [](Topics::Format, Buffer& out) { text_frame(out, "x"); });
  // Both were slow: both dropped, the topic emptied mid-fan-out and freed only after it.
  CHECK(notices == std::vector<std::string>{"r", "r"});
  CHECK(topics.topic_count() == 0);
  CHECK(topics.counters().dropped == 2);
  // Subscribing again makes a fresh topic.
  CHECK(topics.subscribe("r", c[2]));
  CHECK(topics.members("r") == 1);
}
