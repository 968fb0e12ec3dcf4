#include "app/demo_process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <system_error>

extern char** environ;

namespace pgw::app::demo {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kMaxCapture = 1u << 20;

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void onInterrupt(int) {
  g_interrupted = 1;
}

std::string errnoText(int err) {
  return std::error_code(err, std::generic_category()).message();
}

std::vector<std::string> childEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "PG", 2) != 0) env.emplace_back(*e);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

/// A pipe whose ends close with it; both ends are close-on-exec.
class Pipe {
 public:
  Pipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) error_ = errno;
  }
  ~Pipe() {
    closeRead();
    closeWrite();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int error() const { return error_; }
  int read() const { return fds_[0]; }
  int write() const { return fds_[1]; }
  void closeRead() { closeFd(fds_[0]); }
  void closeWrite() { closeFd(fds_[1]); }

 private:
  static void closeFd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fds_[2] = {-1, -1};
  int error_ = 0;
};

/// Appends what a non-blocking fd has now; false at EOF or on an error.
bool drain(int fd, std::string& sink) {
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      if (sink.size() < kMaxCapture) sink.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

/// Starts the child with stdin/stdout/stderr on the pipes; returns 0 or an errno.
int spawn(const Command& cmd, const Pipe& in, const Pipe& out, const Pipe& err, pid_t& pid) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read(), 0);
  posix_spawn_file_actions_adddup2(&actions, out.write(), 1);
  posix_spawn_file_actions_adddup2(&actions, err.write(), 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (!cmd.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cmd.cwd.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP, SIGCHLD}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<std::string> env = childEnvironment(cmd.env);
  std::vector<char*> argv, envp;
  for (const auto& a : cmd.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc;
}

}  // namespace

bool interrupted() {
  return g_interrupted != 0;
}

InterruptGuard::InterruptGuard() {
  struct sigaction flag {};
  flag.sa_handler = onInterrupt;
  sigemptyset(&flag.sa_mask);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  ::sigaction(SIGINT, &flag, &old_int_);
  ::sigaction(SIGTERM, &flag, &old_term_);
  ::sigaction(SIGPIPE, &ignore, &old_pipe_);
  ::sigaction(SIGCHLD, &fallback, &old_chld_);
}

InterruptGuard::~InterruptGuard() {
  ::sigaction(SIGINT, &old_int_, nullptr);
  ::sigaction(SIGTERM, &old_term_, nullptr);
  ::sigaction(SIGPIPE, &old_pipe_, nullptr);
  ::sigaction(SIGCHLD, &old_chld_, nullptr);
}

void InterruptGuard::reset() {
  g_interrupted = 0;
}

Outcome runCommand(const Command& cmd) {
  Outcome result;
  if (cmd.argv.empty()) {
    result.spawn_error = "empty command";
    return result;
  }
  Pipe in, out, err;
  for (const Pipe* p : {&in, &out, &err}) {
    if (p->error() != 0) {
      result.spawn_error = "cannot create a pipe: " + errnoText(p->error());
      return result;
    }
  }
  pid_t pid = -1;
  if (int rc = spawn(cmd, in, out, err, pid); rc != 0) {
    result.spawn_error = "cannot run " + cmd.argv[0] + ": " + errnoText(rc);
    return result;
  }
  in.closeRead();
  out.closeWrite();
  err.closeWrite();
  for (int fd : {in.write(), out.read(), err.read()}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  if (cmd.input.empty()) in.closeWrite();

  size_t written = 0;
  bool out_open = true, err_open = true;
  const auto deadline = Clock::now() + cmd.timeout;
  std::optional<Clock::time_point> kill_at;  // SIGKILL when SIGTERM was not enough
  int status = 0;
  for (;;) {
    pollfd fds[3];
    nfds_t n = 0;
    if (in.write() >= 0) fds[n++] = {in.write(), POLLOUT, 0};
    if (out_open) fds[n++] = {out.read(), POLLIN, 0};
    if (err_open) fds[n++] = {err.read(), POLLIN, 0};
    if (::poll(fds, n, 100) > 0) {
      for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].revents == 0) continue;
        if (fds[i].fd == in.write()) {
          ssize_t w = ::write(in.write(), cmd.input.data() + written, cmd.input.size() - written);
          if (w > 0) written += static_cast<size_t>(w);
          if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == cmd.input.size()) {
            in.closeWrite();
          }
        } else if (fds[i].fd == out.read()) {
          out_open = drain(out.read(), result.out);
        } else {
          err_open = drain(err.read(), result.err);
        }
      }
    }

    pid_t done = ::waitpid(pid, &status, WNOHANG);
    const int wait_errno = errno;
    if (done == pid || (done < 0 && wait_errno != EINTR)) {
      // A daemonized grandchild (the postmaster) may still hold the pipes:
      // take what is there and stop.
      if (out_open) drain(out.read(), result.out);
      if (err_open) drain(err.read(), result.err);
      if (done < 0) {
        result.spawn_error = "lost track of " + cmd.argv[0] + ": " + errnoText(wait_errno);
      }
      break;
    }
    const auto now = Clock::now();
    if (!kill_at) {
      result.interrupted = cmd.interruptible && interrupted();
      result.timed_out = now >= deadline;
      if (result.interrupted || result.timed_out) {
        ::kill(-pid, SIGTERM);
        kill_at = now + 5s;
      }
    } else if (now >= *kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = Clock::time_point::max();  // once is enough
    }
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

std::string describe(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& a : argv) {
    if (!text.empty()) text += ' ';
    text += a.find_first_of(" '\"") == std::string::npos ? a : "'" + a + "'";
  }
  return text;
}

}  // namespace pgw::app::demo
