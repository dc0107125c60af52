// bench/wsload.cpp — the wsedge load generator: echo, rate, connect and idle modes.
//
// The main thread parses the CLI, builds the frame pool, starts one Worker (one reactor)
// per --threads, waits until every connection has settled, then times the window: warm-up,
// measured window (CPU sampled at both edges), progress each second, and the summary.
// Workers are told to finish through Reactor::post and joined before anything is merged.
// See docs/wsload.md for the method, the shortcuts it takes and how to read its output.
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "bench/load/options.h"
#include "bench/load/report.h"
#include "bench/load/worker.h"
#include "core/clock.h"

namespace wsedge::load {
namespace {

// Every connection needs an fd; the soft limit is often 1024. Raise it to the hard one.
void raise_fd_limit(const Options& o) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rl.rlim_cur = rl.rlim_max;
  (void)setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(o.connections) + 64)
    std::fprintf(stderr, "wsload: warning: fd limit %llu is below %d connections\n",
                 static_cast<unsigned long long>(rl.rlim_cur), o.connections);
}

class Run {
 public:
  explicit Run(const Options& o) : o_(o) {}

  int execute() {
    Rng seed_rng(static_cast<uint64_t>(mono_ns()) ^ (static_cast<uint64_t>(getpid()) << 32));
    pool_ = std::make_unique<FramePool>(o_.size, o_.binary, seed_rng,
                                        o_.deflate ? FramePool::kDeflateDistinctBytes : 0);
    rss_before_ = o_.server_pid ? proc_rss(o_.server_pid) : -1;
    if (!start_workers(seed_rng)) return 2;
    if (o_.mode != Mode::kConnect) wait_settled();
    t0_ = mono_ns();
    int64_t start = t0_ + static_cast<int64_t>(o_.warmup_s * 1e9);
    if (o_.mode != Mode::kConnect && sum(&Stats::connected) == 0) start = t0_;  // all failed
    const int64_t end = start + static_cast<int64_t>(o_.duration_s * 1e9);
    window_.end_ns.store(end);
    window_.start_ns.store(start, std::memory_order_release);
    if (o_.mode == Mode::kRate)
      for (auto& w : workers_)
        w->reactor().post([p = w.get(), t = t0_] { p->begin_rate(t); });
    progress_until(start);
    const CpuSample c0 = self_cpu(), s0 = server_cpu();
    const long long rss = o_.server_pid ? proc_rss(o_.server_pid) : -1;
    if (sum(&Stats::connected) > 0 || o_.mode == Mode::kConnect) progress_until(end);
    const CpuSample c1 = self_cpu(), s1 = server_cpu();
    for (auto& w : workers_)
      w->reactor().post([p = w.get()] { p->finish(); });
    for (auto& t : threads_)
      t.join();
    return report(c0, c1, s0, s1, rss);
  }

 private:
  bool start_workers(Rng& seed_rng) {
    int first = 0;
    for (int i = 0; i < o_.threads; ++i) {
      int count = o_.connections / o_.threads + (i < o_.connections % o_.threads ? 1 : 0);
      auto reactor = net::Reactor::create();
      if (!reactor.ok()) {
        std::fprintf(stderr, "wsload: cannot create a reactor: %s\n", reactor.error().what);
        return false;
      }
      workers_.push_back(std::make_unique<Worker>(std::move(reactor.value()), o_, pool_.get(),
                                                  window_, first, count, seed_rng.next()));
      first += count;
    }
    for (auto& w : workers_)
      threads_.emplace_back([p = w.get()] { p->run(); });
    return true;
  }

  uint64_t sum(Counter Stats::*field) const {
    uint64_t n = 0;
    for (const auto& w : workers_)
      n += (w->stats().*field).get();
    return n;
  }

  CpuSample server_cpu() const { return o_.server_pid ? proc_cpu(o_.server_pid) : CpuSample{}; }

  // Every connection opened or failed for good (each has a 10 s handshake timeout).
  void wait_settled() {
    int64_t next_line = mono_ns() + 1'000'000'000;
    while (sum(&Stats::settled) < static_cast<uint64_t>(o_.connections) && !setup_failed()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (!o_.quiet && mono_ns() >= next_line) {
        std::fprintf(stderr, "connecting: %llu/%d open, %llu errors\n",
                     static_cast<unsigned long long>(sum(&Stats::connected)), o_.connections,
                     static_cast<unsigned long long>(errors()));
        next_line += 1'000'000'000;
      }
    }
  }

  // A worker found a setup error (a refused certificate): nothing more is worth measuring.
  const char* setup_failed() const {
    for (const auto& w : workers_)
      if (w->stats().setup_failed.load(std::memory_order_acquire)) return w->stats().setup_error;
    return nullptr;
  }

  uint64_t errors() const {
    uint64_t n = 0;
    for (const auto& w : workers_)
      n += w->stats().error_total();
    return n;
  }

  // Sleeps until `deadline`, printing a progress line at each whole second since t0.
  void progress_until(int64_t deadline) {
    for (;;) {
      const int64_t now = mono_ns();
      if (now >= deadline || setup_failed()) return;
      const int64_t next = t0_ + (seconds_ + 1) * 1'000'000'000;
      if (next > deadline) {
        std::this_thread::sleep_for(std::chrono::nanoseconds(deadline - now));
        return;
      }
      // Wake at least every 50 ms, so a setup error ends the run at once.
      if (next - now > 50'000'000) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      std::this_thread::sleep_for(std::chrono::nanoseconds(next - now));
      ++seconds_;
      if (!o_.quiet) progress_line();
    }
  }

  void progress_line() {
    const uint64_t total = sum(&Stats::messages_total);
    const uint64_t delta = total - last_total_;
    last_total_ = total;
    auto h = std::make_unique<Histogram>();
    for (const auto& w : workers_)
      h->merge(w->stats().latency);
    const double mb = static_cast<double>(delta) * static_cast<double>(o_.size) / 1e6;
    if (o_.mode == Mode::kIdle) {
      std::fprintf(stderr, "[%3llds] open %llu/%d  errors %llu\n", static_cast<long long>(seconds_),
                   static_cast<unsigned long long>(sum(&Stats::connected)), o_.connections,
                   static_cast<unsigned long long>(errors()));
      return;
    }
    std::fprintf(
        stderr, "[%3llds] %s/s %llu  MB/s %.2f  p50 %.1f µs  p99 %.1f µs  errors %llu\n",
        static_cast<long long>(seconds_), o_.mode == Mode::kConnect ? "hs" : "msgs",
        static_cast<unsigned long long>(delta), mb, static_cast<double>(h->percentile(0.5)) / 1e3,
        static_cast<double>(h->percentile(0.99)) / 1e3, static_cast<unsigned long long>(errors()));
  }

  int report(const CpuSample& c0, const CpuSample& c1, const CpuSample& s0, const CpuSample& s1,
             long long rss) {
    Summary s;
    s.opt = &o_;
    auto h = std::make_unique<Histogram>();
    for (const auto& w : workers_) {
      const Stats& st = w->stats();
      s.messages += st.messages_window.get();
      s.connected += st.connected.get();
      h->merge(st.latency);
      s.deflate_agreed += st.deflate_agreed.get();
      s.deflate_sent += st.deflate_sent.get();
      s.deflate_sent_bytes += st.deflate_sent_bytes.get();
      s.deflate_sent_wire += st.deflate_sent_wire.get();
      s.deflate_echoes += st.deflate_echoes.get();
      s.deflate_echoes_compressed += st.deflate_echoes_compressed.get();
      s.deflate_echo_bytes += st.deflate_echo_bytes.get();
      s.deflate_echo_wire += st.deflate_echo_wire.get();
      s.tls_full += st.tls_full.get();
      s.tls_resumed += st.tls_resumed.get();
      if (s.tls_version.empty() && st.tls_version[0]) {
        s.tls_version = st.tls_version;
        s.tls_cipher = st.tls_cipher;
      }
      for (int k = 0; k < kErrorKinds; ++k) {
        s.error_kinds[k] += st.errors[k].get();
        if (st.errors[k].get() && first_error_[k].empty()) first_error_[k] = st.first_error[k];
      }
    }
    for (uint64_t n : s.error_kinds)
      s.errors += n;
    fill_latency(s, *h);
    s.client = {c1.user_us - c0.user_us, c1.sys_us - c0.sys_us, true};
    if (s0.ok && s1.ok) s.server = {s1.user_us - s0.user_us, s1.sys_us - s0.sys_us, true};
    if (o_.mode == Mode::kIdle && rss >= 0 && rss_before_ >= 0 && s.connected > 0)
      s.rss_per_conn = (rss - rss_before_) / static_cast<long long>(s.connected);
    if (const char* why = setup_failed()) {  // the one line that says what to fix
      std::fprintf(stderr, "wsload: %s\n", why);
      return 2;
    }
    for (int k = 0; k < kErrorKinds; ++k)
      if (s.error_kinds[k])
        std::fprintf(stderr, "wsload: %llu %s error%s; first: %s\n",
                     static_cast<unsigned long long>(s.error_kinds[k]),
                     error_kind_name(static_cast<ErrorKind>(k)), s.error_kinds[k] > 1 ? "s" : "",
                     first_error_[k].c_str());
    if (o_.json)
      print_json(s, stdout);
    else
      print_human(s, stdout);
    std::fflush(stdout);
    return s.errors ? 1 : 0;
  }

  const Options& o_;
  Window window_;
  std::unique_ptr<FramePool> pool_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  long long rss_before_ = -1;
  int64_t t0_ = 0;
  int64_t seconds_ = 0;
  uint64_t last_total_ = 0;
  std::string first_error_[kErrorKinds];
};

}  // namespace
}  // namespace wsedge::load

int main(int argc, char** argv) {
  using namespace wsedge::load;
  Options o;
  std::string error;
  switch (parse_options(argc, argv, &o, &error)) {
    case ParseStatus::kHelp:
      std::fputs(kUsageText, stdout);
      return 0;
    case ParseStatus::kUsage:
      std::fprintf(stderr, "wsload: %s (see --help)\n", error.c_str());
      return 2;
    case ParseStatus::kOk:
      break;
  }
  std::signal(SIGPIPE, SIG_IGN);  // sends use MSG_NOSIGNAL; OpenSSL's socket BIO does not
  if (o.tls.enabled) {            // a bad --ca is a usage error, found before anything connects
    std::string why;
    if (!TlsClientContext::create(o.tls, &why)) {
      std::fprintf(stderr, "wsload: %s\n", why.c_str());
      return 2;
    }
  }
  raise_fd_limit(o);
  Run run(o);
  return run.execute();
}
