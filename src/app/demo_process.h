#pragma once
/// Child processes and signals for `pgwarden demo` (initdb, pg_ctl, psql,
/// openssl): argv vectors instead of shell strings, captured output, deadlines,
/// and an interrupt flag so that Ctrl-C during setup leads to cleanup instead
/// of killing the process.

#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

namespace pgw::app::demo {

/// One external program run to completion.
struct Command {
  std::vector<std::string> argv;  ///< argv[0] is looked up in PATH
  std::string input;              ///< written to stdin, which is then closed
  std::string cwd;                ///< empty = ours
  std::vector<std::string> env;   ///< "NAME=value" added to the environment
  std::chrono::seconds timeout{120};
  /// false for cleanup steps: they run to the end even after an interrupt.
  bool interruptible = true;
};

struct Outcome {
  std::string spawn_error;  ///< set when the program could not be started
  int exit_code = -1;       ///< -1 unless it exited normally
  int signal = 0;           ///< the signal that killed it, if any
  bool timed_out = false;
  bool interrupted = false;
  std::string out;  ///< stdout (first MiB)
  std::string err;  ///< stderr (first MiB)
  bool ok() const { return spawn_error.empty() && exit_code == 0 && !timed_out && !interrupted; }
};

/// Runs `cmd` in its own process group, so that a Ctrl-C at the terminal
/// reaches only this process; an interruptible child is then stopped by us
/// (SIGTERM to its group, SIGKILL 5 s later), as it is at its deadline.
/// Children get a default signal disposition and mask, descriptors 0-2 only,
/// and our environment minus PG* variables (which would silently point psql,
/// pg_ctl or initdb elsewhere).
Outcome runCommand(const Command& cmd);

/// True once SIGINT or SIGTERM arrived while an InterruptGuard was alive.
bool interrupted();

/// While alive, SIGINT/SIGTERM only set the interrupted() flag, SIGPIPE is
/// ignored and SIGCHLD has its default action (so that children can be
/// reaped); the previous dispositions come back on destruction.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  /// Forgets an earlier interrupt (a new runDemo starts clean).
  static void reset();

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
  struct sigaction old_pipe_ {};
  struct sigaction old_chld_ {};
};

/// `argv` as one line for messages, quoting words with spaces or quotes.
std::string describe(const std::vector<std::string>& argv);

}  // namespace pgw::app::demo
