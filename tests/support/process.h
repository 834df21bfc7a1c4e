// Helpers for tests that drive other processes and file descriptors.
#pragma once

#include <string>

namespace enarx::support {

// Runs `cmd` with /bin/sh and returns its stdout without trailing newlines ("" if it could not
// be started). For short commands whose output is a value (a token, a digest).
std::string run_capture(const std::string& cmd);

// Runs `cmd` with /bin/sh: its exit code (-1 when it could not be started or did not exit) and
// its whole stdout, as it came.
struct ShellRun {
  int exit_code = -1;
  std::string out;
};
ShellRun run_shell(const std::string& cmd);

// A pseudo-terminal pair whose master side nobody reads: what a stalled ssh session looks like
// to a process writing to its terminal. Both ends close on destruction.
class Pty {
 public:
  Pty();
  ~Pty();
  Pty(const Pty&) = delete;
  Pty& operator=(const Pty&) = delete;
  // False when the pair could not be opened; error() says which step failed.
  bool ok() const { return master_ >= 0 && slave_ >= 0; }
  const std::string& error() const { return error_; }
  int master() const { return master_; }
  int slave() const { return slave_; }

 private:
  int master_ = -1, slave_ = -1;
  std::string error_;
};

}  // namespace enarx::support
