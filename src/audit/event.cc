/// Canonical JSON written by hand (the writer thread serializes every event,
/// and a generic JSON tree per event would cost more than the hash);
/// parsing back goes through nlohmann-json, which only the CLI and the
/// verifier need. The key order below is the sorted order: a unit test
/// checks it against nlohmann's own sorted, compact output.

#include "audit/event.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/ascii.h"

namespace pgw::audit {
namespace {

constexpr std::array<std::string_view, 8> kTypeNames = {
    "statement",     "connect",    "auth_failure", "disconnect",
    "config_reload", "api_action", "checkpoint",   "anchor"};

/// Length of the valid UTF-8 sequence starting at s[i], or 0 when invalid
/// (overlong forms, surrogates and code points past U+10FFFF included).
size_t utf8Length(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  uint32_t min = 0;
  uint32_t cp = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2, min = 0x80, cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3, min = 0x800, cp = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4, min = 0x10000, cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

/// Bytes a JSON string cannot hold as they are: control characters, '"',
/// '\\', and every non-ASCII byte (checked as UTF-8).
constexpr std::array<bool, 256> kAttention = [] {
  std::array<bool, 256> t{};
  for (size_t c = 0; c < 256; ++c) t[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
  return t;
}();

/// Where the run of bytes from `i` that need no escaping ends: eight bytes
/// at a time while none of them is a control character, '"', '\\' or
/// non-ASCII (the word tests may flag a clean word, never miss a byte;
/// the byte loop decides), then byte by byte.
size_t plainRun(std::string_view s, size_t i) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  while (i + 8 <= s.size()) {
    uint64_t w = 0;
    std::memcpy(&w, s.data() + i, 8);
    const uint64_t quote = w ^ (kOnes * '"');
    const uint64_t backslash = w ^ (kOnes * '\\');
    const uint64_t flagged = w | ((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) |
                             ((backslash - kOnes) & ~backslash);
    if ((flagged & kHigh) != 0) break;
    i += 8;
  }
  while (i < s.size() && !kAttention[static_cast<unsigned char>(s[i])]) ++i;
  return i;
}

/// Appends to a string through a cursor: room is made once per piece (a
/// key, a run of plain bytes, a number), not checked byte by byte.
class Writer {
 public:
  /// Writes after what `s` holds, into the capacity it already has.
  explicit Writer(std::string& s) : s_(s), n_(s.size()) { s_.resize(s_.capacity()); }
  ~Writer() { s_.resize(n_); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  [[gnu::always_inline]] void raw(std::string_view v) {
    std::memcpy(room(v.size()), v.data(), v.size());
    n_ += v.size();
  }
  [[gnu::always_inline]] void ch(char c) {
    *room(1) = c;
    ++n_;
  }
  template <class Int>
  void integer(Int v) {
    char* p = room(24);
    n_ = static_cast<size_t>(std::to_chars(p, p + 24, v).ptr - s_.data());
  }
  /// A JSON string: quoted, escaped the canonical way.
  void string(std::string_view s);
  /// Bytes written so far (what `s` holds once the writer is done).
  size_t size() const { return n_; }

 private:
  [[gnu::always_inline]] char* room(size_t k) {
    if (n_ + k > s_.size()) [[unlikely]]
      grow(n_ + k);
    return s_.data() + n_;
  }
  [[gnu::noinline]] void grow(size_t at_least) { s_.resize(std::max(at_least, s_.size() * 2)); }

  std::string& s_;
  size_t n_;
};

void Writer::string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  ch('"');
  size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run that needs no attention in one go.
    const size_t run = plainRun(s, i);
    raw(s.substr(i, run - i));
    i = run;
    if (i == s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t len = utf8Length(s, i);
      if (len == 0) {
        raw("\xef\xbf\xbd");  // U+FFFD for each byte that is not UTF-8
        ++i;
      } else {
        raw(s.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        raw("\\\"");
        break;
      case '\\':
        raw("\\\\");
        break;
      case '\b':
        raw("\\b");
        break;
      case '\f':
        raw("\\f");
        break;
      case '\n':
        raw("\\n");
        break;
      case '\r':
        raw("\\r");
        break;
      case '\t':
        raw("\\t");
        break;
      default:
        raw("\\u00");
        ch(kHex[c >> 4]);
        ch(kHex[c & 0xf]);
    }
    ++i;
  }
  ch('"');
}

void stringList(Writer& w, const std::vector<std::string>& items) {
  w.ch('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i != 0) w.ch(',');
    w.string(items[i]);
  }
  w.ch(']');
}

}  // namespace

std::string_view toString(EventType type) {
  return kTypeNames[static_cast<size_t>(type)];
}

std::optional<EventType> eventTypeFromString(std::string_view name) {
  for (size_t i = 0; i < kTypeNames.size(); ++i) {
    if (kTypeNames[i] == name) return static_cast<EventType>(i);
  }
  return std::nullopt;
}

TimePoint nowUs() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

namespace {

/// Run `run` of the members a session's events share (SessionTemplate), with
/// the key of the member that follows it: writeRecord writes the others
/// between these runs, in sorted key order.
void sessionRun(Writer& w, size_t run, const AuditEvent& e, std::string_view gateway_id) {
  switch (run) {
    case 0:
      w.raw(R"(,"auth_method":)");
      w.string(e.auth_method);
      w.raw(R"(,"bytes_sent":)");
      return;
    case 1:
      w.raw(R"(,"client_address":)");
      w.string(e.client_address);
      w.raw(R"(,"command_tag":)");
      return;
    case 2:
      w.raw(R"(,"connection":)");
      w.string(e.connection);
      w.raw(R"(,"decision":)");
      return;
    case 3:
      w.raw(R"(,"gateway_id":)");
      w.string(gateway_id);
      w.raw(R"(,"masked":[)");
      return;
    case 4:
      w.raw(R"(,"session_id":)");
      w.integer(e.session_id);
      w.raw(R"(,"signature":)");
      return;
    case 5:
      w.raw(R"(,"subject_groups":)");
      stringList(w, e.subject_groups);
      w.raw(R"(,"subject_id":)");
      w.string(e.subject_id);
      w.raw(R"(,"subject_issuer":)");
      w.string(e.subject_issuer);
      w.raw(R"(,"tables":)");
      return;
    case 6:
      w.raw(e.tls ? R"(,"tls":true)" : R"(,"tls":false)");
      w.raw(R"(,"tls_version":)");
      w.string(e.tls_version);
      w.raw(R"(,"type":)");
      return;
    default:
      w.raw(R"(,"upstream_role":)");
      w.string(e.upstream_role);
      w.ch('}');
      return;
  }
}

/// The canonical JSON of `e` with `gateway_id`, its session members copied
/// from `session` when given. With no `seq`, the seq member is left out and
/// `*seq_at` says where it belongs.
void writeRecord(std::string& out, const AuditEvent& e, std::string_view gateway_id,
                 const SessionTemplate* session, std::optional<uint64_t> seq, size_t* seq_at) {
  Writer w(out);
  const auto sessionMembers = [&](size_t run) {
    if (session != nullptr) {
      w.raw(session->run(run));
    } else {
      sessionRun(w, run, e, gateway_id);
    }
  };
  // Each key is written with its punctuation as one literal, in sorted order.
  w.raw(R"({"anchor_hash":)");
  w.string(e.anchor_hash);
  w.raw(R"(,"anchor_seq":)");
  w.integer(e.anchor_seq);
  sessionMembers(0);  // auth_method
  w.integer(e.bytes_sent);
  sessionMembers(1);  // client_address
  w.string(e.command_tag);
  sessionMembers(2);  // connection
  w.string(e.decision);
  w.raw(R"(,"detail":)");
  w.string(e.detail);
  w.raw(R"(,"duration_us":)");
  w.integer(e.duration_us);
  w.raw(R"(,"fingerprint":)");
  w.string(e.fingerprint);
  sessionMembers(3);  // gateway_id
  for (size_t i = 0; i < e.masked.size(); ++i) {
    if (i != 0) w.ch(',');
    w.raw(R"({"cells":)");
    w.integer(e.masked[i].cells);
    w.raw(R"(,"column":)");
    w.string(e.masked[i].column);
    w.raw(R"(,"rule":)");
    w.string(e.masked[i].rule);
    w.ch('}');
  }
  w.raw(R"(],"parameters":[)");
  for (size_t i = 0; i < e.parameters.size(); ++i) {
    if (i != 0) w.ch(',');
    if (e.parameters[i]) {
      w.string(*e.parameters[i]);
    } else {
      w.raw("null");
    }
  }
  w.raw(R"(],"policy":)");
  w.string(e.policy);
  w.raw(R"(,"reason":)");
  w.string(e.reason);
  w.raw(R"(,"review_id":)");
  w.string(e.review_id);
  w.raw(R"(,"rows":)");
  w.integer(e.rows);
  w.raw(R"(,"rule":)");
  w.string(e.rule);
  if (seq) {
    w.raw(R"(,"seq":)");
    w.integer(*seq);
  } else {
    *seq_at = w.size();
  }
  sessionMembers(4);  // session_id
  w.string(e.signature);
  w.raw(R"(,"sqlstate":)");
  w.string(e.sqlstate);
  w.raw(R"(,"statement":)");
  w.string(e.statement);
  w.raw(R"(,"statement_kind":)");
  w.string(e.statement_kind);
  sessionMembers(5);  // subject_groups, subject_id, subject_issuer
  stringList(w, e.tables);
  w.raw(R"(,"time_us":)");
  w.integer(e.time.time_since_epoch().count());
  sessionMembers(6);  // tls, tls_version
  w.string(toString(e.type));
  sessionMembers(7);  // upstream_role
}

/// The session runs of `e` for `gateway_id`, with where each one ends.
void writeSessionRuns(std::string& out, std::array<size_t, SessionTemplate::kRuns + 1>& at,
                      const AuditEvent& e, std::string_view gateway_id) {
  Writer w(out);
  for (size_t run = 0; run < SessionTemplate::kRuns; ++run) {
    at[run] = w.size();
    sessionRun(w, run, e, gateway_id);
  }
  at[SessionTemplate::kRuns] = w.size();
}

/// The columns sinks index, copied from the event.
void fillRendered(const AuditEvent& event, RenderedEvent& out) {
  out.time_us = event.time.time_since_epoch().count();
  out.type = event.type;
  out.session_id = event.session_id;
  out.subject.assign(event.subject_id);
  out.decision.assign(event.decision);
}

}  // namespace

void keepSessionMembers(AuditEvent& e) {
  e.type = EventType::Statement;
  e.time = TimePoint{};
  e.statement.clear();
  e.parameters.clear();
  e.fingerprint.clear();
  e.statement_kind.clear();
  e.tables.clear();
  e.decision.clear();
  e.rule.clear();
  e.policy.clear();
  e.review_id.clear();
  e.duration_us = 0;
  e.rows = -1;
  e.command_tag.clear();
  e.sqlstate.clear();
  e.bytes_sent = 0;
  e.masked.clear();
  e.reason.clear();
  e.detail.clear();
  e.anchor_seq = 0;
  e.anchor_hash.clear();
  e.signature.clear();
}

SessionTemplate::SessionTemplate(const AuditEvent& session, std::string_view gateway_id)
    : gateway_id_(gateway_id) {
  writeSessionRuns(runs_, at_, session, gateway_id_);
}

bool SessionTemplate::matches(const AuditEvent& event) const {
  std::string runs;
  std::array<size_t, kRuns + 1> at{};
  writeSessionRuns(runs, at, event, gateway_id_);
  return runs == runs_;
}

void appendCanonicalJson(std::string& out, const AuditEvent& e, uint64_t seq) {
  writeRecord(out, e, e.gateway_id, nullptr, seq, nullptr);
}

void renderEvent(const AuditEvent& event, std::string_view gateway_id, RenderedEvent& out) {
  out.json.clear();
  writeRecord(out.json, event, gateway_id, nullptr, std::nullopt, &out.seq_at);
  fillRendered(event, out);
}

void renderEvent(const AuditEvent& event, const SessionTemplate& session, RenderedEvent& out) {
  assert(session.matches(event));
  out.json.clear();
  writeRecord(out.json, event, session.gatewayId(), &session, std::nullopt, &out.seq_at);
  fillRendered(event, out);
}

void appendRecord(std::string& out, const RenderedEvent& rendered, uint64_t seq) {
  const std::string_view json = rendered.json;
  out.append(json.substr(0, rendered.seq_at)).append(R"(,"seq":)");
  char digits[24];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, seq).ptr);
  out.append(json.substr(rendered.seq_at));
}

std::string canonicalJson(const AuditEvent& event, uint64_t seq) {
  // Keys and punctuation take about 430 bytes, numbers up to 150; one
  // allocation holds the rest unless a string needs escaping.
  size_t size = 600;
  for (const std::string* f :
       {&event.gateway_id,     &event.subject_id,  &event.subject_issuer, &event.auth_method,
        &event.client_address, &event.tls_version, &event.connection,     &event.upstream_role,
        &event.statement,      &event.fingerprint, &event.statement_kind, &event.decision,
        &event.rule,           &event.policy,      &event.review_id,      &event.command_tag,
        &event.sqlstate,       &event.reason,      &event.detail,         &event.anchor_hash,
        &event.signature}) {
    size += f->size() + 2;
  }
  for (const auto& p : event.parameters) size += p ? p->size() + 3 : 5;
  for (const auto& g : event.subject_groups) size += g.size() + 3;
  for (const auto& t : event.tables) size += t.size() + 3;
  for (const auto& m : event.masked) size += m.column.size() + m.rule.size() + 48;
  std::string out;
  out.reserve(size);
  appendCanonicalJson(out, event, seq);
  return out;
}

namespace {

using Json = nlohmann::json;

/// Reads the fields of a parsed record; throws std::runtime_error naming the
/// key that is missing or of the wrong type.
class FieldReader {
 public:
  explicit FieldReader(const Json& j) : j_(j) {}

  const Json& at(const char* k, bool (Json::*is)() const, const char* what) {
    auto it = j_.find(k);
    if (it == j_.end()) throw std::runtime_error(std::string("missing key \"") + k + "\"");
    if (!((*it).*is)()) {
      throw std::runtime_error(std::string("key \"") + k + "\" is not " + what);
    }
    ++seen_;
    return *it;
  }
  std::string str(const char* k) { return at(k, &Json::is_string, "a string").get<std::string>(); }
  int64_t i64(const char* k) {
    return at(k, &Json::is_number_integer, "an integer").get<int64_t>();
  }
  uint64_t u64(const char* k) {
    return at(k, &Json::is_number_unsigned, "a non-negative integer").get<uint64_t>();
  }
  std::vector<std::string> strings(const char* k) {
    std::vector<std::string> out;
    for (const Json& item : at(k, &Json::is_array, "a list")) {
      if (!item.is_string())
        throw std::runtime_error(std::string("\"") + k + "\" holds a non-string");
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  size_t seen() const { return seen_; }

 private:
  const Json& j_;
  size_t seen_ = 0;
};

/// Reads a record in exactly the form writeRecord gives it: keys in sorted
/// order, no whitespace, integers in plain decimal within their type, and
/// strings of valid UTF-8 whose escapes are the ones RFC 8259 defines
/// (\uXXXX only below U+0080). Returns false at the first byte that differs from that form;
/// parseRecord then reads the text with the general parser, which accepts
/// any JSON and words the errors. So this only has to agree with that
/// parser on what it accepts (a differential test checks it), and every
/// record pgwarden wrote is read here, without a JSON tree.
class CanonicalReader {
 public:
  explicit CanonicalReader(std::string_view s) : s_(s) {}

  bool read(ParsedRecord& out) {
    AuditEvent& e = out.event;
    std::string type;
    uint64_t anchor_seq = 0;
    uint64_t session_id = 0;
    int64_t time_us = 0;
    const bool ok =
        lit(R"({"anchor_hash":)") && str(e.anchor_hash) && lit(R"(,"anchor_seq":)") &&
        u64(anchor_seq) && lit(R"(,"auth_method":)") && str(e.auth_method) &&
        lit(R"(,"bytes_sent":)") && i64(e.bytes_sent) && lit(R"(,"client_address":)") &&
        str(e.client_address) && lit(R"(,"command_tag":)") && str(e.command_tag) &&
        lit(R"(,"connection":)") && str(e.connection) && lit(R"(,"decision":)") &&
        str(e.decision) && lit(R"(,"detail":)") && str(e.detail) && lit(R"(,"duration_us":)") &&
        i64(e.duration_us) && lit(R"(,"fingerprint":)") && str(e.fingerprint) &&
        lit(R"(,"gateway_id":)") && str(e.gateway_id) && lit(R"(,"masked":)") && list([&] {
          MaskedColumn& m = e.masked.emplace_back();
          return lit(R"({"cells":)") && i64(m.cells) && lit(R"(,"column":)") && str(m.column) &&
                 lit(R"(,"rule":)") && str(m.rule) && lit("}");
        }) &&
        lit(R"(,"parameters":)") && list([&] {
          if (lit("null")) {
            e.parameters.emplace_back(std::nullopt);
            return true;
          }
          return str(e.parameters.emplace_back().emplace());
        }) &&
        lit(R"(,"policy":)") && str(e.policy) && lit(R"(,"reason":)") && str(e.reason) &&
        lit(R"(,"review_id":)") && str(e.review_id) && lit(R"(,"rows":)") && i64(e.rows) &&
        lit(R"(,"rule":)") && str(e.rule) && lit(R"(,"seq":)") && u64(out.seq) &&
        lit(R"(,"session_id":)") && u64(session_id) && lit(R"(,"signature":)") &&
        str(e.signature) && lit(R"(,"sqlstate":)") && str(e.sqlstate) && lit(R"(,"statement":)") &&
        str(e.statement) && lit(R"(,"statement_kind":)") && str(e.statement_kind) &&
        lit(R"(,"subject_groups":)") && strings(e.subject_groups) && lit(R"(,"subject_id":)") &&
        str(e.subject_id) && lit(R"(,"subject_issuer":)") && str(e.subject_issuer) &&
        lit(R"(,"tables":)") && strings(e.tables) && lit(R"(,"time_us":)") && i64(time_us) &&
        lit(R"(,"tls":)") && boolean(e.tls) && lit(R"(,"tls_version":)") && str(e.tls_version) &&
        lit(R"(,"type":)") && str(type) && lit(R"(,"upstream_role":)") && str(e.upstream_role) &&
        lit("}") && i_ == s_.size();
    if (!ok) return false;
    const auto t = eventTypeFromString(type);
    if (!t) return false;
    e.type = *t;
    e.anchor_seq = anchor_seq;
    e.session_id = session_id;
    e.time = TimePoint(std::chrono::microseconds(time_us));
    return true;
  }

 private:
  // Inlined, so each literal's length is a constant and the comparison
  // needs no call.
  [[gnu::always_inline]] bool lit(std::string_view v) {
    if (s_.size() - i_ < v.size() || std::memcmp(s_.data() + i_, v.data(), v.size()) != 0) {
      return false;
    }
    i_ += v.size();
    return true;
  }

  /// A non-negative integer: "0", or digits without a leading zero; false
  /// when it does not fit in 64 bits.
  bool digits(uint64_t& v) {
    const size_t start = i_;
    v = 0;
    bool fits = true;
    while (i_ < s_.size() && ascii::isDigit(s_[i_])) {
      fits = fits && !__builtin_mul_overflow(v, 10, &v) &&
             !__builtin_add_overflow(v, static_cast<uint64_t>(s_[i_] - '0'), &v);
      ++i_;
    }
    const size_t n = i_ - start;
    return fits && (n == 1 || (n > 1 && s_[start] != '0'));
  }
  bool u64(uint64_t& v) { return digits(v); }
  /// Values outside int64_t go to the general parser, which has its own
  /// rules for them.
  bool i64(int64_t& v) {
    const bool negative = lit("-");
    uint64_t u = 0;
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (!digits(u) || u > kMax + (negative ? 1 : 0)) return false;
    v = negative ? static_cast<int64_t>(0 - u) : static_cast<int64_t>(u);
    return true;
  }
  bool boolean(bool& v) {
    v = lit("true");
    return v || lit("false");
  }

  bool str(std::string& out) {
    if (!lit("\"")) return false;
    out.clear();
    for (;;) {
      const size_t run = plainRun(s_, i_);
      out.append(s_.substr(i_, run - i_));
      i_ = run;
      if (i_ == s_.size()) return false;
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c >= 0x80) {
        const size_t len = utf8Length(s_, i_);
        if (len == 0) return false;
        out.append(s_.substr(i_, len));
        i_ += len;
        continue;
      }
      if (c != '\\' || i_ + 1 == s_.size()) return false;  // a raw control character
      const char esc = s_[i_ + 1];
      i_ += 2;
      if (esc == 'u') {
        // \u00XX below U+0080, as the writer escapes control characters;
        // anything else (surrogate pairs, ...) goes to the general parser.
        if (s_.compare(i_, 2, "00") != 0 || i_ + 4 > s_.size()) return false;
        const int hi = ascii::hexValue(s_[i_ + 2]);
        const int lo = ascii::hexValue(s_[i_ + 3]);
        if (hi < 0 || hi > 7 || lo < 0) return false;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i_ += 4;
        continue;
      }
      const auto* e = std::find_if(std::begin(kEscapes), std::end(kEscapes),
                                   [&](const auto& p) { return p.first == esc; });
      if (e == std::end(kEscapes)) return false;
      out.push_back(e->second);
    }
  }

  /// The one-character escapes of RFC 8259 and what they stand for.
  static constexpr std::pair<char, char> kEscapes[] = {{'"', '"'},  {'\\', '\\'}, {'/', '/'},
                                                       {'b', '\b'}, {'f', '\f'},  {'n', '\n'},
                                                       {'r', '\r'}, {'t', '\t'}};

  /// `[item,item,...]`, `item` reading one element.
  template <class Item>
  bool list(Item item) {
    if (!lit("[")) return false;
    if (lit("]")) return true;
    do {
      if (!item()) return false;
    } while (lit(","));
    return lit("]");
  }
  bool strings(std::vector<std::string>& out) {
    return list([&] { return str(out.emplace_back()); });
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

namespace detail {

bool readCanonicalRecord(std::string_view json, ParsedRecord& out) {
  return CanonicalReader(json).read(out);
}

Result<ParsedRecord> parseAnyRecord(std::string_view json) {
  Json j = Json::parse(json.begin(), json.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("", "the record is not a JSON object");
  try {
    FieldReader r(j);
    ParsedRecord out;
    AuditEvent& e = out.event;
    e.anchor_hash = r.str("anchor_hash");
    e.anchor_seq = r.u64("anchor_seq");
    e.auth_method = r.str("auth_method");
    e.bytes_sent = r.i64("bytes_sent");
    e.client_address = r.str("client_address");
    e.command_tag = r.str("command_tag");
    e.connection = r.str("connection");
    e.decision = r.str("decision");
    e.detail = r.str("detail");
    e.duration_us = r.i64("duration_us");
    e.fingerprint = r.str("fingerprint");
    e.gateway_id = r.str("gateway_id");
    for (const Json& m : r.at("masked", &Json::is_array, "a list")) {
      if (!m.is_object() || m.size() != 3) throw std::runtime_error("\"masked\" holds a bad entry");
      FieldReader mr(m);
      e.masked.push_back(MaskedColumn{mr.str("column"), mr.str("rule"), mr.i64("cells")});
    }
    for (const Json& p : r.at("parameters", &Json::is_array, "a list")) {
      if (p.is_null()) {
        e.parameters.emplace_back(std::nullopt);
      } else if (p.is_string()) {
        e.parameters.emplace_back(p.get<std::string>());
      } else {
        throw std::runtime_error("\"parameters\" holds a value that is neither text nor null");
      }
    }
    e.policy = r.str("policy");
    e.reason = r.str("reason");
    e.review_id = r.str("review_id");
    e.rows = r.i64("rows");
    e.rule = r.str("rule");
    out.seq = r.u64("seq");
    e.session_id = r.u64("session_id");
    e.signature = r.str("signature");
    e.sqlstate = r.str("sqlstate");
    e.statement = r.str("statement");
    e.statement_kind = r.str("statement_kind");
    e.subject_groups = r.strings("subject_groups");
    e.subject_id = r.str("subject_id");
    e.subject_issuer = r.str("subject_issuer");
    e.tables = r.strings("tables");
    e.time = TimePoint(std::chrono::microseconds(r.i64("time_us")));
    e.tls = r.at("tls", &Json::is_boolean, "true or false").get<bool>();
    e.tls_version = r.str("tls_version");
    auto type = eventTypeFromString(r.str("type"));
    if (!type) throw std::runtime_error("key \"type\" names no event type");
    e.type = *type;
    e.upstream_role = r.str("upstream_role");
    if (r.seen() != j.size()) throw std::runtime_error("the record has keys no version writes");
    return out;
  } catch (const std::exception& ex) {
    return fail("", ex.what());
  }
}

}  // namespace detail

Result<ParsedRecord> parseRecord(std::string_view json) {
  ParsedRecord out;
  if (detail::readCanonicalRecord(json, out)) return out;
  return detail::parseAnyRecord(json);
}

}  // namespace pgw::audit
