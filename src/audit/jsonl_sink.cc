#include "audit/jsonl_sink.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/log.h"

namespace pgw::audit {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kHashKey = "{\"hash\":\"";
constexpr std::string_view kPrevKey = "\",\"prev\":\"";
constexpr std::string_view kRecordKey = "\",\"record\":";
constexpr size_t kPrevAt = kHashKey.size() + 64;
constexpr size_t kRecordAt = kPrevAt + kPrevKey.size() + 64 + kRecordKey.size();

std::string errnoText() {
  return std::strerror(errno);
}

/// Makes a rename or a new file in `dir` durable.
void syncDir(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

/// Calls `fn(line)` for each complete line of `file`; false stops.
template <class Fn>
bool eachLine(const std::string& file, Fn fn) {
  std::ifstream in(file, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline: an unacknowledged partial line
    if (!fn(line)) return false;
  }
  return true;
}

}  // namespace

JsonlSink::JsonlSink(std::string path, size_t max_size, int keep)
    : path_(std::move(path)), describe_("jsonl:" + path_), max_size_(max_size), keep_(keep) {}

JsonlSink::~JsonlSink() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonlSink::appendLine(std::string& out, const StoredRecord& r) {
  out.append(kHashKey);
  out.append(r.hash);
  out.append(kPrevKey);
  out.append(r.prev);
  out.append(kRecordKey);
  out.append(r.record);
  out.push_back('}');
}

bool JsonlSink::parseLine(std::string_view line, StoredRecord& out) {
  if (line.size() < kRecordAt + 3 || line.substr(0, kHashKey.size()) != kHashKey ||
      line.substr(kHashKey.size() + 64, kPrevKey.size()) != kPrevKey ||
      line.substr(kPrevAt + kPrevKey.size() + 64, kRecordKey.size()) != kRecordKey ||
      line.back() != '}') {
    return false;
  }
  out.hash = std::string(line.substr(kHashKey.size(), 64));
  out.prev = std::string(line.substr(kPrevAt + kPrevKey.size(), 64));
  if (!isLowerHex(out.hash) || !isLowerHex(out.prev)) return false;
  out.record = std::string(line.substr(kRecordAt, line.size() - kRecordAt - 1));
  auto parsed = parseRecord(out.record);
  if (!parsed) return false;
  deriveColumns(*parsed, out);
  return true;
}

std::vector<std::string> JsonlSink::files(const std::string& path) {
  std::vector<std::pair<unsigned long, std::string>> rotated;
  const fs::path p(path);
  std::error_code ec;
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  const std::string prefix = p.filename().string() + ".";
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string suffix = name.substr(prefix.size());
    if (suffix.empty() || !std::all_of(suffix.begin(), suffix.end(), ::isdigit)) continue;
    rotated.emplace_back(std::stoul(suffix), entry.path().string());
  }
  std::sort(rotated.begin(), rotated.end(), [](auto& a, auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& [n, f] : rotated) out.push_back(std::move(f));
  if (fs::exists(p, ec)) out.push_back(path);
  return out;
}

Status JsonlSink::openCurrent() {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0)
    return fail("", fmt::format("audit sink {}: cannot open: {}", describe_, errnoText()));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    return fail("", fmt::format("audit sink {}: cannot stat: {}", describe_, errnoText()));
  }
  size_ = static_cast<size_t>(st.st_size);
  return {};
}

Result<std::unique_ptr<JsonlSink>> JsonlSink::open(const std::string& path, size_t max_size,
                                                   int keep) {
  std::unique_ptr<JsonlSink> sink(new JsonlSink(path, max_size, keep));
  std::error_code ec;
  const fs::path dir = fs::path(path).parent_path();
  if (!dir.empty()) fs::create_directories(dir, ec);
  if (ec) {
    return fail("", fmt::format("audit sink {}: cannot create the directory {}: {}",
                                sink->describe_, dir.string(), ec.message()));
  }
  if (auto st = sink->openCurrent(); !st) return st.takeError();
  if (sink->size_ > 0) {
    // Drop a trailing partial line (a crash mid-write; never acknowledged).
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t end = text.rfind('\n');
    const size_t keep_bytes = end == std::string::npos ? 0 : end + 1;
    if (keep_bytes != text.size()) {
      log::warn("audit sink {}: removing an incomplete last line ({} bytes) left by a crash",
                sink->describe_, text.size() - keep_bytes);
      if (::ftruncate(sink->fd_, static_cast<off_t>(keep_bytes)) != 0) {
        return fail(
            "", fmt::format("audit sink {}: cannot truncate: {}", sink->describe_, errnoText()));
      }
      sink->size_ = keep_bytes;
    }
  }
  return sink;
}

Result<ChainHead> JsonlSink::head(const std::string& gateway_id) {
  // Newest file first, last line first: normally the very last line is
  // this gateway's head, so a start reads one file and parses one line.
  auto files_list = files(path_);
  for (auto f = files_list.rbegin(); f != files_list.rend(); ++f) {
    std::ifstream in(*f, std::ios::binary);
    if (!in) return fail("", fmt::format("audit sink {}: cannot read {}", describe_, *f));
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t end = text.rfind('\n');
    while (end != std::string::npos && end > 0) {
      const size_t start = text.rfind('\n', end - 1);
      const size_t from = start == std::string::npos ? 0 : start + 1;
      StoredRecord r;
      if (parseLine(std::string_view(text).substr(from, end - from), r) &&
          r.gateway_id == gateway_id) {
        return ChainHead{r.seq, r.hash, false};
      }
      if (start == std::string::npos) break;
      end = start;
    }
  }
  return ChainHead{};
}

Status JsonlSink::rotate() {
  ::close(fd_);
  fd_ = -1;
  std::error_code ec;
  if (keep_ == 0) {
    fs::remove(path_, ec);
  } else {
    fs::remove(fmt::format("{}.{}", path_, keep_), ec);
    for (int i = keep_ - 1; i >= 1; --i) {
      const std::string from = fmt::format("{}.{}", path_, i);
      if (fs::exists(from, ec)) fs::rename(from, fmt::format("{}.{}", path_, i + 1), ec);
    }
    fs::rename(path_, path_ + ".1", ec);
  }
  if (ec) {
    Status st = fail("", fmt::format("audit sink {}: cannot rotate: {}", describe_, ec.message()));
    if (auto reopen = openCurrent(); !reopen) return reopen;
    return st;
  }
  if (auto st = openCurrent(); !st) return st;
  syncDir(fs::path(path_).parent_path().string());
  return {};
}

Status JsonlSink::write(std::span<const StoredRecord> batch) {
  if (fd_ < 0) {
    if (auto st = openCurrent(); !st) return st;
  }
  buf_.clear();
  for (const StoredRecord& r : batch) {
    appendLine(buf_, r);
    buf_.push_back('\n');
  }
  if (size_ > 0 && size_ + buf_.size() > max_size_) {
    if (auto st = rotate(); !st) return st;
  }
  const size_t before = size_;
  size_t done = 0;
  while (done < buf_.size()) {
    const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status st = fail("", fmt::format("audit sink {}: cannot write: {}", describe_,
                                       n < 0 ? errnoText() : std::string("no progress")));
      // Leave no partial batch behind: the writer will send it again.
      if (::ftruncate(fd_, static_cast<off_t>(before)) != 0) {
        ::close(fd_);
        fd_ = -1;
      }
      return st;
    }
    done += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) {
    Status st = fail("", fmt::format("audit sink {}: cannot sync: {}", describe_, errnoText()));
    if (::ftruncate(fd_, static_cast<off_t>(before)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    return st;
  }
  size_ += buf_.size();
  return {};
}

Result<std::vector<StoredRecord>> JsonlSink::readAfter(const std::string& gateway_id, uint64_t seq,
                                                       size_t limit) {
  std::vector<StoredRecord> out;
  for (const std::string& file : files(path_)) {
    const bool more = eachLine(file, [&](const std::string& line) {
      StoredRecord r;
      if (parseLine(line, r) && r.gateway_id == gateway_id && r.seq > seq) {
        out.push_back(std::move(r));
      }
      return out.size() < limit;
    });
    if (!more) break;
  }
  return out;
}

// --- reading --------------------------------------------------------------

namespace {

class JsonlStore final : public Store {
 public:
  explicit JsonlStore(std::string path) : path_(std::move(path)) {}

  Status load() {
    const auto files = JsonlSink::files(path_);
    if (files.empty()) return fail("", fmt::format("{}: no such file", path_));
    uint64_t position = 0;
    for (const std::string& file : files) {
      std::ifstream in(file, std::ios::binary);
      if (!in) return fail("", fmt::format("cannot read {}", file));
      size_t line_no = 0;
      eachLine(file, [&](const std::string& line) {
        ++line_no;
        StoredRecord r;
        r.position = ++position;
        if (!JsonlSink::parseLine(line, r) && bad_.empty()) {
          bad_ = fmt::format("line {} of {} is not an audit record", line_no, file);
        }
        rows_.push_back(std::move(r));
        return true;
      });
    }
    return {};
  }

  Result<std::vector<std::string>> gateways() override {
    std::vector<std::string> out;
    for (const auto& r : rows_) {
      if (!r.gateway_id.empty() && std::find(out.begin(), out.end(), r.gateway_id) == out.end()) {
        out.push_back(r.gateway_id);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<VerifyResult> verify(const std::string& gateway_id, const SigningKey* key) override {
    ChainVerifier v(gateway_id, std::nullopt, key);
    for (const auto& r : rows_) {
      if (r.record.empty()) {
        // An unreadable line breaks every chain that runs through the file.
        VerifyResult res = v.finish();
        res.ok = false;
        res.broken_seq = res.last_seq + 1;
        res.problem = bad_;
        return res;
      }
      if (r.gateway_id == gateway_id && !v.add(r)) break;
    }
    return v.finish();
  }

  Result<std::vector<StoredRecord>> query(const Query& q) override {
    std::vector<StoredRecord> out;
    auto match = [&](const StoredRecord& r) {
      return !r.record.empty() && r.position > q.after_position &&
             (q.gateway_id.empty() || r.gateway_id == q.gateway_id) &&
             (!q.since_us || r.time_us >= *q.since_us) &&
             (!q.until_us || r.time_us < *q.until_us) &&
             (q.subject.empty() || r.subject == q.subject) &&
             (q.decision.empty() || r.decision == q.decision) &&
             (!q.session_id || r.session_id == *q.session_id);
    };
    auto take = [&](const StoredRecord& r) {
      if (!match(r)) return true;
      out.push_back(r);
      return q.limit == 0 || out.size() < q.limit;
    };
    if (q.newest_first) {
      for (auto it = rows_.rbegin(); it != rows_.rend() && take(*it); ++it) {
      }
    } else {
      for (auto it = rows_.begin(); it != rows_.end() && take(*it); ++it) {
      }
    }
    return out;
  }

 private:
  std::string path_;
  std::vector<StoredRecord> rows_;
  std::string bad_;
};

}  // namespace

Result<std::unique_ptr<Store>> Store::openJsonl(const std::string& path) {
  auto store = std::make_unique<JsonlStore>(path);
  if (auto st = store->load(); !st) return st.takeError();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace pgw::audit
