// apps/child_process.h — start a command with its stdin/stdout/stderr on pipes, no shell.
//
// spawn_child() runs argv[0] (searched in PATH) in its own process group, with the default
// signal dispositions and an empty signal mask (the server blocks SIGINT/SIGTERM for its
// signalfd and ignores SIGPIPE; a child must not inherit either). The parent's pipe ends
// are non-blocking and close-on-exec, and a pidfd (Linux 5.3+) says when the child exits,
// so the reactor can watch all of it. The caller owns every fd and must reap the child.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/result.h"

namespace wsedge::app {

struct ChildProcess {
  pid_t pid = -1;      // also the process group id
  int pidfd = -1;      // readable once the child has exited
  int stdin_fd = -1;   // write end of the child's stdin
  int stdout_fd = -1;  // read end of the child's stdout
  int stderr_fd = -1;  // read end of the child's stderr
};

Result<ChildProcess> spawn_child(const std::vector<std::string>& argv);

// Closes fd if open and sets it to -1.
void close_fd(int& fd);

// "exit status 0", "killed by signal 2 (Interrupt)": for a close reason and the log.
std::string describe_wait_status(int status);

}  // namespace wsedge::app
