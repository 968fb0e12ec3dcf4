#include "app/demo_pointer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <system_error>

namespace pgw::app::demo {
namespace {

constexpr std::string_view kFileName = "current-config";
/// A config path longer than this is not one the demo wrote.
constexpr size_t kMaxRecord = 4096;

std::string errnoText(int err) {
  return std::error_code(err, std::generic_category()).message();
}

std::string pointerDir() {
  return "/tmp/pgwarden-demo-" + std::to_string(::geteuid());
}

/// The directory exists as a real directory (not a symlink) that only we can
/// use; an empty string, or what is wrong with it.
std::string checkDir(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return dir + ": " + errnoText(errno);
  if (!S_ISDIR(st.st_mode)) return dir + " is not a directory (a symlink or a file?)";
  if (st.st_uid != ::geteuid()) return dir + " belongs to another user";
  if ((st.st_mode & 077) != 0) return dir + " is accessible by other users (expected mode 0700)";
  return {};
}

Status writeAll(int fd, std::string_view data) {
  for (size_t done = 0; done < data.size();) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("", errnoText(errno));
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

std::string currentConfigPointerPath() {
  return pointerDir() + "/" + std::string(kFileName);
}

Status publishCurrentConfig(const std::string& config_path) {
  const std::string dir = pointerDir();
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail("", "cannot create " + dir + ": " + errnoText(errno));
  }
  if (std::string why = checkDir(dir); !why.empty()) {
    return fail("", "refusing to use " + dir + ": " + why);
  }
  // Written aside and renamed: a reader never sees half a path.
  const std::string tmp = dir + "/." + std::string(kFileName) + "." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fail("", "cannot write " + tmp + ": " + errnoText(errno));
  Status written = writeAll(fd, config_path + "\n");
  if (::close(fd) != 0 && written.ok()) written = fail("", errnoText(errno));
  if (!written.ok() || ::rename(tmp.c_str(), currentConfigPointerPath().c_str()) != 0) {
    const std::string why = written.ok() ? errnoText(errno) : written.error().message;
    ::unlink(tmp.c_str());
    return fail("", "cannot write " + currentConfigPointerPath() + ": " + why);
  }
  return {};
}

void withdrawCurrentConfig(const std::string& config_path) noexcept {
  try {
    auto current = readCurrentConfig();
    if (current.ok() && *current == config_path) {
      ::unlink(currentConfigPointerPath().c_str());
      ::rmdir(pointerDir().c_str());  // only when empty: another record may be on its way
    }
  } catch (...) {
    // Cleanup is best effort.
  }
}

Result<std::string> readCurrentConfig() {
  const std::string path = currentConfigPointerPath();
  const std::string no_demo =
      "no pgwarden demo is running as this user (" + path +
      " is missing); start one with `pgwarden demo`, or pass --config with your config file";
  const std::string dir = pointerDir();
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 && errno == ENOENT) return fail("", no_demo);
  if (std::string why = checkDir(dir); !why.empty()) {
    return fail("", "refusing to read " + path + ": " + why);
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return fail("", no_demo);
    return fail("", "cannot read " + path + ": " + errnoText(errno));
  }
  std::string text(kMaxRecord + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty() || text.front() != '/' || text.size() > kMaxRecord ||
      text.find('\n') != std::string::npos) {
    return fail("", path + " does not hold a config path; stop and start `pgwarden demo` again");
  }
  if (::access(text.c_str(), R_OK) != 0) {
    return fail("", "the demo recorded in " + path + " is gone (its config " + text + ": " +
                        errnoText(errno) + "); start `pgwarden demo` again");
  }
  return text;
}

}  // namespace pgw::app::demo
