#include "apps/child_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

extern char** environ;

namespace wsedge::app {
namespace {

// A pipe whose ends are both close-on-exec, so no other child inherits them; the child's
// own end is dup2'ed onto 0/1/2, which clears the flag on the copy only.
bool make_pipe(int fds[2]) {
  return ::pipe2(fds, O_CLOEXEC) == 0;
}

bool set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// The attributes that make the child start clean: own process group (so SIGINT/SIGKILL
// can reach a whole pipeline the command starts), nothing blocked, nothing ignored.
void init_attributes(posix_spawnattr_t* attr) {
  posix_spawnattr_init(attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD})
    sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(attr, &defaults);
  posix_spawnattr_setpgroup(attr, 0);
  posix_spawnattr_setflags(attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
}

}  // namespace

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

Result<ChildProcess> spawn_child(const std::vector<std::string>& argv) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {in, out, err}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
  };
  if (!make_pipe(in) || !make_pipe(out) || !make_pipe(err)) {
    Error e{"pipe2", errno};
    close_all();
    return e;
  }
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawnattr_t attr;
  init_attributes(&attr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    close_all();
    return Error{"posix_spawnp", rc};
  }
  // The child has its copies; ours of its ends would keep its stdin open and hide the EOF
  // of its stdout/stderr.
  close_fd(in[0]);
  close_fd(out[1]);
  close_fd(err[1]);
  ChildProcess c;
  c.pid = pid;
  c.stdin_fd = in[1];
  c.stdout_fd = out[0];
  c.stderr_fd = err[0];
  // Race-free: the child cannot be reaped (and its pid reused) before we wait for it.
  c.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // O_CLOEXEC by default
  bool ok = c.pidfd >= 0 && set_nonblocking(c.stdin_fd) && set_nonblocking(c.stdout_fd) &&
            set_nonblocking(c.stderr_fd);
  if (!ok) {
    Error e{c.pidfd < 0 ? "pidfd_open" : "fcntl(O_NONBLOCK)", errno};
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);  // SIGKILL cannot be caught: this wait is short
    for (int* fd : {&c.pidfd, &c.stdin_fd, &c.stdout_fd, &c.stderr_fd})
      close_fd(*fd);
    return e;
  }
  return c;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = ::strsignal(WTERMSIG(status));
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           (name != nullptr ? name : "?") + ")";
  }
  return "status " + std::to_string(status);
}

}  // namespace wsedge::app
