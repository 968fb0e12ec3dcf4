#include "auth/service_token.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace pgw::auth {
namespace {

using TimePoint = std::chrono::system_clock::time_point;
using Digest = std::array<unsigned char, 32>;

constexpr std::string_view kBadFile = "F0000";    // config_file_error
constexpr std::string_view kIoError = "58030";    // io_error
constexpr std::string_view kBadValue = "22023";   // invalid_parameter_value
constexpr std::string_view kDuplicate = "42710";  // duplicate_object
constexpr std::string_view kNotFound = "42704";   // undefined_object
constexpr std::string_view kRefused = "28P01";    // invalid_password

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr size_t kSecretBytes = 32;
constexpr size_t kMaxNameLength = 63;
/// A store larger than this is not a token store.
constexpr size_t kMaxStoreBytes = 16u << 20;
constexpr int kFormatVersion = 1;

Digest sha256(std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  // EVP_Digest fails only when the allocator does; the all-zero digest then
  // matches no stored token.
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1) {
    out.fill(0);
  }
  return out;
}

std::string toHex(const Digest& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(d.size() * 2);
  for (unsigned char b : d) {
    out += kHex[b >> 4];
    out += kHex[b & 0x0f];
  }
  return out;
}

bool fromHex(std::string_view hex, Digest& out) {
  if (hex.size() != out.size() * 2) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>((hi << 4) | lo);
  }
  return true;
}

/// `bytes` as one big-endian number in base62, exactly `width` digits.
std::string base62(std::array<unsigned char, kSecretBytes> bytes, size_t width) {
  std::string out(width, '0');
  for (size_t pos = width; pos-- > 0;) {
    unsigned remainder = 0;
    for (unsigned char& b : bytes) {
      const unsigned acc = (remainder << 8) | b;
      b = static_cast<unsigned char>(acc / 62);
      remainder = acc % 62;
    }
    out[pos] = kBase62[remainder];
  }
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return out;
}

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-';
}

bool isValidName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxNameLength &&
         std::all_of(name.begin(), name.end(), isNameChar);
}

/// Non-empty, no control characters.
bool isValidGroup(std::string_view group) {
  return !group.empty() && std::none_of(group.begin(), group.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

TimePoint wholeSeconds(TimePoint t) {
  return std::chrono::floor<std::chrono::seconds>(t);
}

const ServiceTokenEntry* findLive(const std::vector<ServiceTokenEntry>& entries,
                                  std::string_view name) {
  for (const auto& e : entries) {
    if (e.name == name && !e.revoked()) return &e;
  }
  return nullptr;
}

std::string errnoText() {
  return std::strerror(errno);
}

// --- reading the file -----------------------------------------------------

/// Reads the whole file; `missing` is set when it does not exist.
Result<std::string> readFile(const std::string& path, bool& missing) {
  missing = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      missing = true;
      return std::string();
    }
    return fail(kIoError, fmt::format("cannot read service token store {}: {}", path, errnoText()));
  }
  std::string out;
  struct stat st {};
  std::string problem;
  if (::fstat(fd, &st) != 0) {
    problem = errnoText();
  } else if (!S_ISREG(st.st_mode)) {
    problem = S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file";
  } else {
    char buf[8192];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        problem = errnoText();
        break;
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > kMaxStoreBytes) {
        problem = fmt::format("is larger than {} bytes", kMaxStoreBytes);
        break;
      }
    }
  }
  ::close(fd);
  if (!problem.empty()) {
    return fail(kIoError, fmt::format("cannot read service token store {}: {}", path, problem));
  }
  return out;
}

/// Collects the first problem found in the file's content.
class EntryReader {
 public:
  explicit EntryReader(std::string where) : where_(std::move(where)) {}

  bool failed() const { return !problem_.empty(); }
  Error error(const std::string& path) const {
    return fail(kBadFile, fmt::format("service token store {}: {}: {}", path, where_, problem_));
  }
  void problem(std::string where, std::string what) {
    if (failed()) return;
    where_ = std::move(where);
    problem_ = std::move(what);
  }

 private:
  std::string where_;
  std::string problem_;
};

std::optional<TimePoint> readTime(const nlohmann::json& obj, std::string_view key, bool required,
                                  const std::string& where, EntryReader& r) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) r.problem(fmt::format("{}.{}", where, key), "is missing");
    return std::nullopt;
  }
  if (!it->is_string()) {
    r.problem(fmt::format("{}.{}", where, key), "must be a time such as \"2025-01-31T12:00:00Z\"");
    return std::nullopt;
  }
  auto t = parseUtcTime(it->get_ref<const std::string&>());
  if (!t) {
    r.problem(fmt::format("{}.{}", where, key),
              fmt::format("'{}' is not a UTC time such as 2025-01-31T12:00:00Z",
                          it->get_ref<const std::string&>()));
  }
  return t;
}

ServiceTokenEntry readEntry(const nlohmann::json& obj, const std::string& where, EntryReader& r) {
  ServiceTokenEntry e;
  if (!obj.is_object()) {
    r.problem(where, "must be an object");
    return e;
  }
  for (const auto& [key, value] : obj.items()) {
    static constexpr std::array<std::string_view, 6> kKeys = {
        "name", "sha256", "groups", "created_at", "expires_at", "revoked_at"};
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      r.problem(fmt::format("{}.{}", where, key), "unknown field");
      return e;
    }
  }

  const auto name = obj.find("name");
  if (name == obj.end() || !name->is_string() ||
      !isValidName(name->get_ref<const std::string&>())) {
    r.problem(where + ".name", "must be a name of 1 to 63 letters, digits, '_', '.' or '-'");
    return e;
  }
  e.name = name->get<std::string>();

  const auto hash = obj.find("sha256");
  if (hash == obj.end() || !hash->is_string() ||
      !fromHex(hash->get_ref<const std::string&>(), e.sha256)) {
    r.problem(where + ".sha256", "must be 64 lowercase hex digits");
    return e;
  }

  const auto groups = obj.find("groups");
  if (groups != obj.end() && !groups->is_null()) {
    if (!groups->is_array()) {
      r.problem(where + ".groups", "must be a list of group names");
      return e;
    }
    for (size_t i = 0; i < groups->size(); ++i) {
      const auto& g = (*groups)[i];
      if (!g.is_string() || !isValidGroup(g.get_ref<const std::string&>())) {
        r.problem(fmt::format("{}.groups[{}]", where, i),
                  "must be a non-empty group name without control characters");
        return e;
      }
      e.groups.push_back(g.get<std::string>());
    }
  }

  e.created_at = readTime(obj, "created_at", true, where, r).value_or(TimePoint{});
  e.expires_at = readTime(obj, "expires_at", false, where, r);
  e.revoked_at = readTime(obj, "revoked_at", false, where, r);
  return e;
}

}  // namespace

bool looksLikeServiceToken(std::string_view password) {
  if (password.size() != kServiceTokenLength) return false;
  if (password.substr(0, kServiceTokenPrefix.size()) != kServiceTokenPrefix) return false;
  const std::string_view body = password.substr(kServiceTokenPrefix.size());
  return std::all_of(body.begin(), body.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

std::string formatUtcTime(TimePoint t) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const auto day = floor<days>(secs);
  const year_month_day ymd(day);
  const hh_mm_ss<seconds> hms(secs - day);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

std::optional<TimePoint> parseUtcTime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SSZ
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z') {
    return std::nullopt;
  }
  auto number = [&](size_t pos, size_t len, int& out) {
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!number(0, 4, y) || !number(5, 2, mo) || !number(8, 2, d) || !number(11, 2, h) ||
      !number(14, 2, mi) || !number(17, 2, s)) {
    return std::nullopt;
  }
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  return TimePoint(sys_days(ymd) + hours(h) + minutes(mi) + seconds(s));
}

Result<ServiceTokenStore> ServiceTokenStore::load(const std::string& path) {
  bool missing = false;
  auto text = readFile(path, missing);
  if (!text) return text.takeError();
  ServiceTokenStore store;
  if (missing) return store;

  const nlohmann::json doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return fail(kBadFile, fmt::format("service token store {}: is not valid JSON; restore it "
                                      "from a backup or remove it and create the tokens again",
                                      path));
  }
  EntryReader r("(top level)");
  if (!doc.is_object()) {
    r.problem("(top level)", "must be a JSON object with \"version\" and \"tokens\"");
    return r.error(path);
  }
  for (const auto& [key, value] : doc.items()) {
    if (key != "version" && key != "tokens") {
      r.problem(key, "unknown field");
      return r.error(path);
    }
  }
  const auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() ||
      version->get<int64_t>() != kFormatVersion) {
    r.problem("version", fmt::format("must be {} (this pgwarden reads version {} only)",
                                     kFormatVersion, kFormatVersion));
    return r.error(path);
  }
  const auto tokens = doc.find("tokens");
  if (tokens == doc.end() || !tokens->is_array()) {
    r.problem("tokens", "must be a list");
    return r.error(path);
  }
  for (size_t i = 0; i < tokens->size(); ++i) {
    const std::string where = fmt::format("tokens[{}]", i);
    ServiceTokenEntry e = readEntry((*tokens)[i], where, r);
    if (r.failed()) return r.error(path);
    for (size_t j = 0; j < store.entries_.size(); ++j) {
      const ServiceTokenEntry& other = store.entries_[j];
      if (other.sha256 == e.sha256) {
        r.problem(where + ".sha256", fmt::format("is the same as tokens[{}]'s", j));
      } else if (other.name == e.name && !other.revoked() && !e.revoked()) {
        r.problem(where + ".name",
                  fmt::format("\"{}\" is also the name of tokens[{}], and neither is revoked",
                              e.name, j));
      }
      if (r.failed()) return r.error(path);
    }
    store.entries_.push_back(std::move(e));
  }
  return store;
}

Result<StoreFileStamp> ServiceTokenStore::stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return StoreFileStamp{};
    return fail(kIoError, fmt::format("cannot read service token store {}: {}", path, errnoText()));
  }
  StoreFileStamp s;
  s.exists = true;
  s.device = static_cast<uint64_t>(st.st_dev);
  s.inode = static_cast<uint64_t>(st.st_ino);
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.size = static_cast<int64_t>(st.st_size);
  return s;
}

Result<std::optional<ServiceTokenStore>> ServiceTokenStore::reloadIfChanged(const std::string& path,
                                                                            StoreFileStamp& last) {
  auto now = stamp(path);
  if (!now) return now.takeError();
  if (*now == last) return std::optional<ServiceTokenStore>();
  last = *now;
  auto store = load(path);
  if (!store) return store.takeError();
  return std::optional<ServiceTokenStore>(std::move(*store));
}

Result<std::string> ServiceTokenStore::create(std::string_view name,
                                              std::vector<std::string> groups,
                                              std::optional<TimePoint> expires_at, TimePoint now) {
  if (!isValidName(name)) {
    return fail(kBadValue,
                fmt::format("invalid service token name '{}': use 1 to {} letters, digits, '_', "
                            "'.' or '-'",
                            name, kMaxNameLength));
  }
  if (const ServiceTokenEntry* live = findLive(entries_, name)) {
    return fail(kDuplicate,
                fmt::format("a service token named \"{}\" already exists (created {}); revoke it "
                            "first or choose another name",
                            name, formatUtcTime(live->created_at)));
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    if (!isValidGroup(groups[i])) {
      return fail(kBadValue, "group names must be non-empty and free of control characters");
    }
    if (std::find(groups.begin(), groups.begin() + static_cast<std::ptrdiff_t>(i), groups[i]) !=
        groups.begin() + static_cast<std::ptrdiff_t>(i)) {
      return fail(kBadValue, fmt::format("group '{}' is listed twice", groups[i]));
    }
  }
  now = wholeSeconds(now);
  if (expires_at) {
    expires_at = wholeSeconds(*expires_at);
    if (*expires_at <= now) {
      return fail(kBadValue, fmt::format("the expiry {} is not in the future (now is {})",
                                         formatUtcTime(*expires_at), formatUtcTime(now)));
    }
  }

  std::array<unsigned char, kSecretBytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    return fail(kIoError, "cannot create a service token: the random number generator failed");
  }
  std::string secret = std::string(kServiceTokenPrefix) +
                       base62(random, kServiceTokenLength - kServiceTokenPrefix.size());
  OPENSSL_cleanse(random.data(), random.size());

  ServiceTokenEntry e;
  e.name = std::string(name);
  e.sha256 = sha256(secret);
  e.groups = std::move(groups);
  e.created_at = now;
  e.expires_at = expires_at;
  entries_.push_back(std::move(e));
  return secret;
}

Status ServiceTokenStore::revoke(std::string_view name, TimePoint now) {
  for (auto& e : entries_) {
    if (e.name == name && !e.revoked()) {
      e.revoked_at = wholeSeconds(now);
      return {};
    }
  }
  const bool known = std::any_of(entries_.begin(), entries_.end(),
                                 [&](const ServiceTokenEntry& e) { return e.name == name; });
  return fail(kNotFound, known ? fmt::format("service token \"{}\" is already revoked", name)
                               : fmt::format("there is no service token named \"{}\"", name));
}

Status ServiceTokenStore::save(const std::string& path) const {
  nlohmann::ordered_json tokens = nlohmann::ordered_json::array();
  for (const auto& e : entries_) {
    nlohmann::ordered_json t;
    t["name"] = e.name;
    t["sha256"] = toHex(e.sha256);
    t["groups"] = e.groups;
    t["created_at"] = formatUtcTime(e.created_at);
    if (e.expires_at) t["expires_at"] = formatUtcTime(*e.expires_at);
    if (e.revoked_at) t["revoked_at"] = formatUtcTime(*e.revoked_at);
    tokens.push_back(std::move(t));
  }
  nlohmann::ordered_json doc;
  doc["version"] = kFormatVersion;
  doc["tokens"] = std::move(tokens);
  const std::string text =
      doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";

  auto io = [&](std::string_view step) {
    return fail(kIoError, fmt::format("cannot write service token store {}: {}: {}", path, step,
                                      errnoText()));
  };
  const std::filesystem::path target(path);
  std::string dir = target.parent_path().string();
  if (dir.empty()) dir = ".";
  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return io("creating a temporary file");
  auto abandon = [&](std::string_view step) {
    Error err = io(step);
    ::close(fd);
    ::unlink(tmp.c_str());
    return err;
  };
  if (::fchmod(fd, 0600) != 0) return abandon("chmod 0600");
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return abandon("write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return abandon("fsync");
  if (::close(fd) != 0) {
    Error err = io("close");
    ::unlink(tmp.c_str());
    return err;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error err = io("rename");
    ::unlink(tmp.c_str());
    return err;
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io("opening the directory to fsync it");
  const int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return io("fsync of the directory");
  return {};
}

Result<Subject> ServiceTokenStore::authenticate(std::string_view secret, TimePoint now) const {
  Digest presented = sha256(secret);
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t match = kNone;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const size_t equal =
        static_cast<size_t>(CRYPTO_memcmp(presented.data(), entries_[i].sha256.data(), 32) == 0);
    const size_t mask = size_t{0} - equal;
    match = (i & mask) | (match & ~mask);
  }
  OPENSSL_cleanse(presented.data(), presented.size());

  if (match == kNone) return fail(kRefused, "unknown service token");
  const ServiceTokenEntry& e = entries_[match];
  if (e.revoked()) return fail(kRefused, fmt::format("service token \"{}\" was revoked", e.name));
  if (e.expiredAt(now)) {
    return fail(kRefused, fmt::format("service token \"{}\" expired at {}", e.name,
                                      formatUtcTime(*e.expires_at)));
  }
  Subject s;
  s.id = e.name;
  s.display_name = e.name;
  s.groups = e.groups;
  s.issuer = std::string(kServiceTokenIssuer);
  s.method = AuthMethod::ServiceToken;
  s.expires_at = e.expires_at;
  return s;
}

}  // namespace pgw::auth
