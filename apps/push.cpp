#include "apps/push.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "core/clock.h"

namespace wsedge::app {

struct PushHandler::Client {
  Client(PushHandler* o, ws::Session* s)
      : owner(o), session(s), timer(&PushHandler::on_tick, this) {}
  PushHandler* owner;
  ws::Session* session;
  net::Timer timer;  // disarms itself when the client is freed
  uint64_t seq = 0;
  uint64_t skipped = 0;  // ticks not sent because the client was not reading
  Client* prev = nullptr;
  Client* next = nullptr;
};

PushHandler::PushHandler(net::Reactor& loop, const Server& server, int64_t interval_ms)
    : loop_(loop), server_(server), interval_ms_(interval_ms), started_ms_(mono_ms()) {}

PushHandler::~PushHandler() {
  while (clients_ != nullptr) {
    Client* c = clients_;
    clients_ = c->next;
    delete c;
  }
}

void PushHandler::on_open(ws::Session& s, const http::Request& /*request*/) {
  auto* c = new Client(this, &s);
  s.user_data = c;
  c->next = clients_;
  if (clients_ != nullptr) clients_->prev = c;
  clients_ = c;
  push(*c);  // the first value at once: a page should not sit empty for a whole interval
}

void PushHandler::on_message(ws::Session& /*s*/, std::span<const uint8_t> /*payload*/,
                             ws::MessageType /*type*/) {
  // A push client has nothing to say; its messages only show up in the counters.
}

void PushHandler::on_close(ws::Session& s, uint16_t /*code*/, std::string_view /*reason*/) {
  auto* c = static_cast<Client*>(s.user_data);
  if (c == nullptr) return;
  s.user_data = nullptr;
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (clients_ == c) clients_ = c->next;
  delete c;
}

void PushHandler::on_tick(net::Timer* t) {
  auto* c = static_cast<Client*>(t->arg());
  c->owner->push(*c);
}

void PushHandler::push(Client& c) {
  ws::Session& s = *c.session;
  if (!s.is_open()) return;  // closing: on_close frees the client soon
  if (s.buffered_amount() > s.high_water_mark() / 2) {
    ++c.skipped;  // not reading: the next tick tries again, nothing piles up meanwhile
  } else {
    ++c.seq;
    s.send_text(snapshot(c));
  }
  loop_.arm_after(c.timer, interval_ms_);
}

std::string PushHandler::snapshot(const Client& c) const {
  using namespace std::chrono;
  int64_t now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(now / 1000);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char iso[96];
  std::snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(now % 1000));
  const ServerStats& st = server_.stats();
  char out[512];
  std::snprintf(out, sizeof out,
                "{\"seq\":%llu,\"ts\":%lld,\"time\":\"%s\",\"interval_ms\":%lld,\"skipped\":%llu,"
                "\"stats\":{\"connections\":%llu,\"connections_total\":%llu,\"websockets\":%llu,"
                "\"messages_in\":%llu,\"messages_out\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,"
                "\"message_memory\":%zu,\"closed_over_budget\":%llu,\"uptime_s\":%.1f}}",
                static_cast<unsigned long long>(c.seq), static_cast<long long>(now), iso,
                static_cast<long long>(interval_ms_), static_cast<unsigned long long>(c.skipped),
                static_cast<unsigned long long>(st.connections_open),
                static_cast<unsigned long long>(st.connections_accepted),
                static_cast<unsigned long long>(st.messages.websockets_open),
                static_cast<unsigned long long>(st.messages.messages_in),
                static_cast<unsigned long long>(st.messages.messages_out),
                static_cast<unsigned long long>(st.messages.bytes_in),
                static_cast<unsigned long long>(st.messages.bytes_out),
                server_.message_memory().total(),
                static_cast<unsigned long long>(st.messages.closed_over_budget),
                static_cast<double>(loop_.now_ms() - started_ms_) / 1000.0);
  return out;
}

}  // namespace wsedge::app
