// apps/socket_activation: LISTEN_PID / LISTEN_FDS as systemd sets them (sd_listen_fds(3)).
// The fd checks on a real fd 3 are in tests/interop/test_socket_activation.py.
#include <doctest/doctest.h>

#include <string>

#include "apps/socket_activation.h"

using wsedge::app::parse_socket_activation;

TEST_CASE("socket activation: LISTEN_PID must name us, then LISTEN_FDS must be 1") {
  struct Row {
    const char* pid;
    const char* fds;
    bool active;
    int fd;
    const char* error;  // a part of it; "" for none
  };
  const Row rows[] = {
      {nullptr, nullptr, false, -1, ""},  // not activated
      {nullptr, "1", false, -1, ""},      // no LISTEN_PID: not for us
      {"41", "1", false, -1, ""},         // another process's sockets
      {"42x", "1", false, -1, ""},        // not a pid
      {"", "1", false, -1, ""},
      {"42", "1", true, 3, ""},  // ours: fd 3
      {"42", "2", true, -1, "exactly one listening socket (LISTEN_FDS=2)"},
      {"42", "0", true, -1, "exactly one listening socket (LISTEN_FDS=0)"},
      {"42", nullptr, true, -1, "not a number"},
      {"42", "-1", true, -1, "not a number"},
      {"42", "1 ", true, -1, "not a number"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.pid ? r.pid : "(unset)");
    CAPTURE(r.fds ? r.fds : "(unset)");
    auto a = parse_socket_activation(r.pid, r.fds, 42);
    CHECK(a.active == r.active);
    CHECK(a.fd == r.fd);
    if (*r.error == '\0') {
      CHECK(a.error.empty());
    } else {
      CHECK(a.error.find(r.error) != std::string::npos);
    }
  }
}
