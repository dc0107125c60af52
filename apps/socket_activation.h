// apps/socket_activation.h — a listening socket handed over by systemd (LISTEN_FDS).
//
// Socket activation (sd_listen_fds(3)): the service manager binds the socket itself and
// starts us with it open at fd 3, telling us in the environment: LISTEN_PID (the process
// the fds are for: ours, else they are not meant for us and the variables are ignored) and
// LISTEN_FDS (how many, from fd 3 on). wsedge takes exactly one, a listening TCP socket,
// for its WebSocket port; --host and --port then say nothing. The variables are removed
// once read, so an /exec command does not believe they are its own.
#pragma once

#include <string>
#include <string_view>

namespace wsedge::app {

struct SocketActivation {
  bool active = false;  // the environment hands us sockets
  int fd = -1;          // the listening socket, when active and valid
  std::string error;    // active but unusable: the one line to exit 2 with
};

// The verdict on LISTEN_PID and LISTEN_FDS (null: unset) for process `self`. Pure: looks
// at no fd. Active only when LISTEN_PID names `self`; then LISTEN_FDS must be exactly 1.
SocketActivation parse_socket_activation(const char* listen_pid, const char* listen_fds, long self);

// From the real environment: parse_socket_activation, then (when active) fd 3 checked to be
// a listening TCP stream socket (IPv4 or IPv6), made close-on-exec; the variables unset.
SocketActivation take_socket_activation();

// The address a listening socket is bound to, as --host would name it ("0.0.0.0", "::1").
std::string bound_host(int fd);

}  // namespace wsedge::app
