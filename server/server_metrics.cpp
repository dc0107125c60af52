// wsedge::Server's metrics page (docs/metrics.md lists every family). Counters are the
// plain integers the layers keep on the loop thread (ServerStats, ws::MessageCounters,
// the connection context, the listeners, the reactor's LoopStats); what belongs to each
// connection (its queue, what the kernel still holds for it, its zlib streams, its route)
// is not tracked as it changes but summed here, by walking the registry at scrape time.
#include <bit>
#include <cstdio>
#include <map>
#include <string_view>
#include <utility>

#include "core/exposition.h"
#include "net/socket.h"
#include "server/server.h"
#include "ws/protocol_names.h"

namespace wsedge {

namespace {

using prom::Label;
using prom::Type;
using prom::Writer;

const std::span<const Label> kNoLabels;

// Every status in `counts` that occurred, as `label`="NNN" samples of `name`.
void status_samples(Writer& w, std::string_view name, const http::StatusCounts& counts,
                    std::span<const Label> fixed, std::string_view label) {
  for (int status = http::StatusCounts::kFirst; status <= http::StatusCounts::kLast; ++status) {
    const uint64_t n = counts.of(status);
    if (n == 0) continue;
    char text[8];
    std::snprintf(text, sizeof text, "%d", status);
    Label labels[4];
    size_t k = 0;
    for (const Label& l : fixed)
      labels[k++] = l;
    labels[k++] = {label, text};
    w.sample(name, std::span<const Label>(labels, k), n);
  }
}

void close_samples(Writer& w, const ws::CloseCodeCounts& counts, std::string_view direction) {
  for (size_t slot = 0; slot < ws::CloseCodeCounts::kSlots; ++slot) {
    if (counts.by_slot[slot] == 0) continue;
    char code[8];
    std::snprintf(code, sizeof code, "%u", static_cast<unsigned>(ws::CloseCodeCounts::code(slot)));
    w.sample("wsedge_close_frames_total", {{"direction", direction}, {"code", code}},
             counts.by_slot[slot]);
  }
}

}  // namespace

std::string Server::metrics_address() const {
  if (!options_.metrics.enabled) return {};
  return metrics_port_ ? metrics_port_->address() : listener_.address();
}

void Server::write_metrics(Buffer& out) const {
  Writer w(out);
  const ws::MessageCounters& m = stats_.messages;

  // --- per connection, summed now --------------------------------------------------
  uint64_t queued = 0, queued_max = 0, unsent = 0, zlib = 0;
  // WebSockets open by route (its index) and agreed subprotocol.
  std::map<std::pair<size_t, std::string_view>, uint64_t> websockets;
  for (size_t i = 0; i < routes_.size(); ++i)
    websockets[{i, {}}] = 0;  // every route has a series, also while nothing is open
  for (const net::Connection* c = connections_; c != nullptr; c = c->next) {
    const size_t q = c->buffered_amount();
    queued += q;
    if (q > queued_max) queued_max = q;
    if (c->fd() >= 0) unsent += net::unsent_bytes(c->fd());
    const auto* s = dynamic_cast<const ws::Session*>(c->protocol());
    if (s == nullptr) continue;
    zlib += s->compression_memory();
    for (size_t i = 0; i < routes_.size(); ++i) {
      if (&routes_[i].session != &s->options()) continue;
      ++websockets[{i, s->subprotocol()}];
      break;
    }
  }

  // --- connections --------------------------------------------------------------------
  w.family("wsedge_connections_open", Type::kGauge,
           "TCP connections open on the WebSocket port(s), WebSocket or not yet.");
  w.sample("wsedge_connections_open", kNoLabels, stats_.connections_open);
  w.family("wsedge_connections_accepted_total", Type::kCounter,
           "TCP connections accepted on the WebSocket port(s).");
  w.sample("wsedge_connections_accepted_total", kNoLabels, stats_.connections_accepted);
  w.family("wsedge_connections_shed_total", Type::kCounter,
           "Connections accepted and closed at once: over --max-connections (limit) or out "
           "of file descriptors (fds).");
  using Shed = net::Listener::Shed;
  w.sample("wsedge_connections_shed_total", {{"reason", "limit"}},
           listener_.dropped(Shed::kAtLimit) + tls_listener_.dropped(Shed::kAtLimit));
  w.sample("wsedge_connections_shed_total", {{"reason", "fds"}},
           listener_.dropped(Shed::kOutOfFds) + tls_listener_.dropped(Shed::kOutOfFds));
  w.family("wsedge_connections_dropped_send_queue_total", Type::kCounter,
           "Connections dropped because a send would have queued more than --max-send-queue.");
  w.sample("wsedge_connections_dropped_send_queue_total", kNoLabels, context_.send_queue_overflows);
  w.family("wsedge_connections_out_of_memory_total", Type::kCounter,
           "Connections that ran out of memory (answered 1011 or 503, or dropped).");
  w.sample("wsedge_connections_out_of_memory_total", kNoLabels, context_.out_of_memory);

  // --- HTTP and handshakes ---------------------------------------------------------------
  w.family("wsedge_handshakes_total", Type::kCounter,
           "WebSocket upgrade requests by outcome: ok (101 sent) or the refusal's status.");
  w.sample("wsedge_handshakes_total", {{"outcome", "ok"}}, stats_.handshakes_ok);
  status_samples(w, "wsedge_handshakes_total", stats_.refused_by_status, kNoLabels, "outcome");
  w.family("wsedge_http_responses_total", Type::kCounter,
           "HTTP responses sent by status (not the 101 of an upgrade), on the WebSocket "
           "port (main) and the metrics port (metrics).");
  const Label main_port[] = {{"port", "main"}};
  status_samples(w, "wsedge_http_responses_total", stats_.http_responses, main_port, "status");
  if (metrics_port_) {
    const Label metrics[] = {{"port", "metrics"}};
    status_samples(w, "wsedge_http_responses_total", metrics_port_->responses(), metrics, "status");
  }

  // --- WebSockets ------------------------------------------------------------------------
  w.family("wsedge_websockets_open", Type::kGauge,
           "WebSockets open (101 sent, TCP not yet closed) by route and agreed subprotocol.");
  for (const auto& [key, n] : websockets) {
    const std::string_view path = routes_[key.first].path;
    w.sample("wsedge_websockets_open",
             {{"route", path.empty() ? "*" : path}, {"subprotocol", key.second}}, n);
  }
  w.family("wsedge_messages_total", Type::kCounter,
           "Whole WebSocket messages received (in) and sent (out).");
  w.sample("wsedge_messages_total", {{"direction", "in"}}, m.messages_in);
  w.sample("wsedge_messages_total", {{"direction", "out"}}, m.messages_out);
  w.family("wsedge_message_bytes_total", Type::kCounter,
           "Message payload bytes received (in, after inflating) and sent (out, before "
           "compressing); frame headers not included.");
  w.sample("wsedge_message_bytes_total", {{"direction", "in"}}, m.bytes_in);
  w.sample("wsedge_message_bytes_total", {{"direction", "out"}}, m.bytes_out);
  w.family("wsedge_close_frames_total", Type::kCounter,
           "Close frames by direction and code (1005: a close frame without a code).");
  close_samples(w, m.close_sent, "sent");
  close_samples(w, m.close_received, "received");
  w.family("wsedge_protocol_errors_total", Type::kCounter,
           "WebSockets failed because the peer broke a rule of RFC 6455 or RFC 7692, by "
           "the rule (ws::WsError).");
  for (size_t i = 1; i < ws::kWsErrorCount; ++i) {
    if (m.protocol_errors[i] == 0) continue;
    w.sample("wsedge_protocol_errors_total",
             {{"error", ws::error_name(static_cast<ws::WsError>(i))}}, m.protocol_errors[i]);
  }
  w.family("wsedge_closed_over_budget_total", Type::kCounter,
           "WebSockets closed 1013 to bring unfinished messages under "
           "--message-memory-budget.");
  w.sample("wsedge_closed_over_budget_total", kNoLabels, m.closed_over_budget);

  // --- memory and queues -----------------------------------------------------------------
  w.family("wsedge_message_memory_bytes", Type::kGauge,
           "Bytes held now in unfinished messages (what --message-memory-budget bounds).");
  w.sample("wsedge_message_memory_bytes", kNoLabels, static_cast<uint64_t>(memory_budget_.total()));
  w.family("wsedge_send_queue_bytes", Type::kGauge,
           "Bytes queued in user space for peers, summed over connections (the kernel "
           "refused them so far).");
  w.sample("wsedge_send_queue_bytes", kNoLabels, queued);
  w.family("wsedge_send_queue_max_bytes", Type::kGauge,
           "The largest user-space send queue of one connection now.");
  w.sample("wsedge_send_queue_max_bytes", kNoLabels, queued_max);
  w.family("wsedge_kernel_unsent_bytes", Type::kGauge,
           "Bytes in the kernel's send queues not yet acknowledged by the peers (SIOCOUTQ, "
           "sampled per connection at scrape time).");
  w.sample("wsedge_kernel_unsent_bytes", kNoLabels, unsent);
  w.family("wsedge_permessage_deflate_bytes_total", Type::kCounter,
           "permessage-deflate (RFC 7692) payload bytes: sent before (plain) and after "
           "(compressed) compressing; received before (compressed) and after (plain) "
           "inflating.");
  w.sample("wsedge_permessage_deflate_bytes_total", {{"direction", "out"}, {"form", "plain"}},
           m.deflate_in);
  w.sample("wsedge_permessage_deflate_bytes_total", {{"direction", "out"}, {"form", "compressed"}},
           m.deflate_out);
  w.sample("wsedge_permessage_deflate_bytes_total", {{"direction", "in"}, {"form", "compressed"}},
           m.inflate_in);
  w.sample("wsedge_permessage_deflate_bytes_total", {{"direction", "in"}, {"form", "plain"}},
           m.inflate_out);
  w.family("wsedge_zlib_memory_bytes", Type::kGauge,
           "Bytes zlib holds now for the compressors and inflaters of open WebSockets.");
  w.sample("wsedge_zlib_memory_bytes", kNoLabels, zlib);

  // --- the loop ----------------------------------------------------------------------------
  const net::LoopStats& loop = loop_.stats();
  // Buckets by bit width of the count: 0, 1, 2-3, ..., 128-255 (le 0, 1, 3, ..., 255),
  // and 256 in +Inf; the sum is exact, made from the per-count slots.
  constexpr int kWidths = std::bit_width(static_cast<unsigned>(net::LoopStats::kMaxEvents));
  uint64_t by_width[kWidths + 1] = {};
  uint64_t events = 0;
  for (int n = 0; n <= net::LoopStats::kMaxEvents; ++n) {
    by_width[std::bit_width(static_cast<unsigned>(n))] += loop.iterations_by_events[n];
    events += static_cast<uint64_t>(n) * loop.iterations_by_events[n];
  }
  double event_bounds[kWidths];
  for (int i = 0; i < kWidths; ++i)
    event_bounds[i] = static_cast<double>((1u << i) - 1);
  w.family("wsedge_loop_events_per_iteration", Type::kHistogram,
           "I/O events one epoll_wait returned, per event-loop iteration.");
  w.histogram("wsedge_loop_events_per_iteration", event_bounds, by_width,
              static_cast<double>(events));
  double busy_bounds[net::LoopStats::kBusyBuckets - 1];
  for (int i = 0; i < net::LoopStats::kBusyBuckets - 1; ++i)
    busy_bounds[i] = static_cast<double>(net::LoopStats::kBusyBoundsNs[i]) / 1e9;
  w.family("wsedge_loop_iteration_seconds", Type::kHistogram,
           "Event-loop iteration time, wake-up to the end of its work (not the wait); "
           "sampled: one iteration in 64.");
  w.histogram("wsedge_loop_iteration_seconds", busy_bounds, loop.busy_by_bucket,
              static_cast<double>(loop.busy_ns) / 1e9);
}

}  // namespace wsedge
