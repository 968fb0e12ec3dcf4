#include "config/yaml_reader.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

namespace pgw::config::detail {
namespace {

namespace fs = std::filesystem;

/// A secret file larger than this is almost certainly the wrong file.
constexpr size_t kMaxSecretFileSize = 1u << 20;

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "nothing";
  }
  return "something else";
}

std::string joinNames(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string formatSize(size_t n) {
  constexpr size_t kK = 1u << 10, kM = 1u << 20, kG = 1u << 30;
  if (n >= kG && n % kG == 0) return fmt::format("{}GB", n / kG);
  if (n >= kM && n % kM == 0) return fmt::format("{}MB", n / kM);
  if (n >= kK && n % kK == 0) return fmt::format("{}kB", n / kK);
  return fmt::format("{}", n);
}

/// An open file descriptor, closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

/// Opens `path` for reading and checks it is a regular file. Returns an
/// empty string on success, else what went wrong.
std::string openRegular(const std::string& path, int& fd_out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::strerror(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return why;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file";
  }
  fd_out = fd;
  return {};
}

/// Reads a whole small file. Returns an empty string on success.
std::string readSmallFile(const std::string& path, std::string& out) {
  int raw_fd = -1;
  if (std::string why = openRegular(path, raw_fd); !why.empty()) return why;
  Fd fd(raw_fd);
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::strerror(errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxSecretFileSize) {
      return fmt::format("is larger than {} bytes", kMaxSecretFileSize);
    }
  }
  return {};
}

bool isEnvName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front())) != 0) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  });
}

}  // namespace

void failAt(const std::string& path, std::string problem) {
  throw LoadError{path, std::move(problem)};
}

std::string childPath(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return fmt::format("{}.{}", path, key);
}

std::string indexPath(const std::string& path, size_t index) {
  return fmt::format("{}[{}]", path, index);
}

std::string Scalar::shown() const {
  if (!reference.empty()) return fmt::format("the value of {}", reference);
  return fmt::format("'{}'", value);
}

Context::Context(const std::string& base_dir) {
  fs::path base = base_dir.empty() ? fs::current_path() : fs::absolute(base_dir);
  base_dir_ = base.lexically_normal().string();
}

std::string Context::absolutePath(const std::string& path) const {
  fs::path p(path);
  if (p.is_relative()) p = fs::path(base_dir_) / p;
  return p.lexically_normal().string();
}

Scalar Context::resolve(const std::string& raw, const std::string& path) const {
  if (raw.size() < 3 || raw.rfind("${", 0) != 0 || raw.back() != '}') return Scalar{raw, {}};
  std::string_view inner = std::string_view(raw).substr(2, raw.size() - 3);

  if (inner.rfind("env:", 0) == 0) {
    std::string name(inner.substr(4));
    if (!isEnvName(name)) {
      failAt(path,
             "${env:...} needs a variable name made of letters, digits and '_' (not starting "
             "with a digit)");
    }
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      failAt(path, fmt::format("environment variable {} is not set (referenced as ${{env:{}}})",
                               name, name));
    }
    return Scalar{value, raw};
  }

  if (inner.rfind("file:", 0) == 0) {
    std::string_view file = inner.substr(5);
    if (file.empty()) failAt(path, "${file:...} needs a path");
    std::string abs = absolutePath(std::string(file));
    std::string content;
    if (std::string why = readSmallFile(abs, content); !why.empty()) {
      failAt(path, fmt::format("cannot read secret file {}: {}", abs, why));
    }
    if (!content.empty() && content.back() == '\n') {
      content.pop_back();
      if (!content.empty() && content.back() == '\r') content.pop_back();
    }
    return Scalar{std::move(content), raw};
  }

  failAt(path, "looks like a secret reference but is neither ${env:NAME} nor ${file:PATH}");
}

MapReader::MapReader(const YAML::Node& node, std::string path,
                     std::initializer_list<std::string_view> allowed)
    : path_(std::move(path)) {
  std::vector<std::string_view> names(allowed);
  load(node, &names);
}

MapReader::MapReader(const YAML::Node& node, std::string path) : path_(std::move(path)) {
  load(node, nullptr);
}

void MapReader::load(const YAML::Node& node, const std::vector<std::string_view>* allowed) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    failAt(path_, fmt::format("must be a mapping of keys (got {})", describe(node)));
  }
  std::set<std::string, std::less<>> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) failAt(path_, "keys must be plain names");
    const std::string& key = kv.first.Scalar();
    if (allowed != nullptr && std::find(allowed->begin(), allowed->end(), key) == allowed->end()) {
      failAt(childPath(path_, key),
             fmt::format("unknown key (expected one of: {})", joinNames(*allowed)));
    }
    if (!seen.insert(key).second) failAt(childPath(path_, key), "appears more than once");
    entries_.emplace_back(key, kv.second);
  }
}

bool MapReader::has(std::string_view key) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const auto& e) { return e.first == key; });
}

YAML::Node MapReader::get(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return v;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::vector<YAML::Node> readList(const YAML::Node& node, const std::string& path) {
  std::vector<YAML::Node> out;
  if (!node.IsDefined() || node.IsNull()) return out;
  if (!node.IsSequence()) failAt(path, fmt::format("must be a list (got {})", describe(node)));
  for (const auto& item : node) out.push_back(item);
  return out;
}

Scalar readScalar(const Context& ctx, const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined() || node.IsNull()) {
    failAt(path, "has no value (remove the key to use the default)");
  }
  if (!node.IsScalar()) {
    failAt(path, fmt::format("must be a single value (got {})", describe(node)));
  }
  return ctx.resolve(node.Scalar(), path);
}

std::string readString(const Context& ctx, const YAML::Node& node, const std::string& path) {
  Scalar s = readScalar(ctx, node, path);
  if (s.value.empty()) failAt(path, "must not be empty");
  return std::move(s.value);
}

bool readBool(const Context& ctx, const YAML::Node& node, const std::string& path) {
  Scalar s = readScalar(ctx, node, path);
  if (s.value == "true" || s.value == "True" || s.value == "TRUE") return true;
  if (s.value == "false" || s.value == "False" || s.value == "FALSE") return false;
  failAt(path, fmt::format("must be true or false (got {})", s.shown()));
}

int64_t readInt(const Context& ctx, const YAML::Node& node, const std::string& path, int64_t min,
                int64_t max) {
  Scalar s = readScalar(ctx, node, path);
  int64_t n = 0;
  const char* first = s.value.data();
  const char* last = first + s.value.size();
  auto [end, ec] = std::from_chars(first, last, n);
  if (s.value.empty() || ec != std::errc() || end != last || n < min || n > max) {
    failAt(path, fmt::format("must be a whole number from {} to {} (got {})", min, max, s.shown()));
  }
  return n;
}

std::chrono::milliseconds readDuration(const Context& ctx, const YAML::Node& node,
                                       const std::string& path, bool allow_zero) {
  Scalar s = readScalar(ctx, node, path);
  auto d = parseDuration(s.value);
  if (!d.ok()) {
    failAt(path,
           s.reference.empty()
               ? d.error().message
               : fmt::format("{} is not a duration (use e.g. 250ms, 30s, 5m, 1h, 7d)", s.shown()));
  }
  if (!allow_zero && d->count() == 0) failAt(path, "must be greater than 0");
  return *d;
}

size_t readSize(const Context& ctx, const YAML::Node& node, const std::string& path, size_t min,
                size_t max) {
  Scalar s = readScalar(ctx, node, path);
  auto n = parseSize(s.value);
  if (!n.ok()) {
    failAt(path, s.reference.empty()
                     ? n.error().message
                     : fmt::format("{} is not a size (use e.g. 64kB, 64MB, 1GB)", s.shown()));
  }
  if (*n < min || *n > max) {
    failAt(path, fmt::format("must be from {} to {} (got {})", formatSize(min), formatSize(max),
                             s.shown()));
  }
  return *n;
}

HostPort readHostPort(const Context& ctx, const YAML::Node& node, const std::string& path) {
  Scalar s = readScalar(ctx, node, path);
  auto hp = parseHostPort(s.value);
  if (!hp.ok()) {
    failAt(path, s.reference.empty() ? hp.error().message
                                     : fmt::format("{} is not a host:port address", s.shown()));
  }
  return *hp;
}

size_t readChoice(const Context& ctx, const YAML::Node& node, const std::string& path,
                  std::span<const std::string_view> choices) {
  Scalar s = readScalar(ctx, node, path);
  size_t i = 0;
  for (std::string_view c : choices) {
    if (s.value == c) return i;
    ++i;
  }
  failAt(path, fmt::format("must be one of {} (got {})", joinNames(choices), s.shown()));
}

std::vector<std::string> readStringList(const Context& ctx, const YAML::Node& node,
                                        const std::string& path) {
  std::vector<std::string> out;
  std::vector<YAML::Node> items = readList(node, path);
  for (size_t i = 0; i < items.size(); ++i) {
    out.push_back(readString(ctx, items[i], indexPath(path, i)));
  }
  return out;
}

std::string readFilePath(const Context& ctx, const YAML::Node& node, const std::string& path) {
  Scalar s = readScalar(ctx, node, path);
  if (s.value.empty()) failAt(path, "must not be empty");
  std::string abs = ctx.absolutePath(s.value);
  int fd = -1;
  if (std::string why = openRegular(abs, fd); !why.empty()) {
    failAt(path, s.reference.empty()
                     ? fmt::format("cannot read {}: {}", abs, why)
                     : fmt::format("cannot read the file named by {}: {}", s.reference, why));
  }
  ::close(fd);
  return abs;
}

Secret readSecret(const Context& ctx, const YAML::Node& node, const std::string& path) {
  Scalar s = readScalar(ctx, node, path);
  if (s.value.empty()) failAt(path, "must not be empty");
  return Secret(std::move(s.value));
}

bool isIdentifier(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
  });
}

}  // namespace pgw::config::detail
