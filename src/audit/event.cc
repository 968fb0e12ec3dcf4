/// Canonical JSON written by hand (the writer thread serializes every event,
/// and a generic JSON tree per event would cost more than the hash);
/// parsing back goes through nlohmann-json, which only the CLI and the
/// verifier need. The key order below is the sorted order: a unit test
/// checks it against nlohmann's own sorted, compact output.

#include "audit/event.h"

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

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

void appendString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run that needs no attention in one go.
    size_t run = i;
    while (run < s.size()) {
      const auto c = static_cast<unsigned char>(s[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t len = utf8Length(s, i);
      if (len == 0) {
        out.append("\xef\xbf\xbd");  // U+FFFD for each byte that is not UTF-8
        ++i;
      } else {
        out.append(s.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
    ++i;
  }
  out.push_back('"');
}

template <class Int>
void appendInt(std::string& out, Int v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

/// Writes `"key":` with the separating comma (none before the first key).
void key(std::string& out, std::string_view k) {
  if (out.back() != '{') out.push_back(',');
  out.push_back('"');
  out.append(k);
  out.append("\":");
}

void field(std::string& out, std::string_view k, std::string_view v) {
  key(out, k);
  appendString(out, v);
}

template <class Int>
void intField(std::string& out, std::string_view k, Int v) {
  key(out, k);
  appendInt(out, v);
}

void stringList(std::string& out, std::string_view k, const std::vector<std::string>& items) {
  key(out, k);
  out.push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out.push_back(',');
    appendString(out, items[i]);
  }
  out.push_back(']');
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

void appendCanonicalJson(std::string& out, const AuditEvent& e, uint64_t seq) {
  // `out` may already hold text: start the object on a '{' the key helper sees.
  out.push_back('{');
  field(out, "anchor_hash", e.anchor_hash);
  intField(out, "anchor_seq", e.anchor_seq);
  field(out, "auth_method", e.auth_method);
  intField(out, "bytes_sent", e.bytes_sent);
  field(out, "client_address", e.client_address);
  field(out, "command_tag", e.command_tag);
  field(out, "connection", e.connection);
  field(out, "decision", e.decision);
  field(out, "detail", e.detail);
  intField(out, "duration_us", e.duration_us);
  field(out, "fingerprint", e.fingerprint);
  field(out, "gateway_id", e.gateway_id);
  key(out, "masked");
  out.push_back('[');
  for (size_t i = 0; i < e.masked.size(); ++i) {
    if (i != 0) out.push_back(',');
    out.push_back('{');
    intField(out, "cells", e.masked[i].cells);
    field(out, "column", e.masked[i].column);
    field(out, "rule", e.masked[i].rule);
    out.push_back('}');
  }
  out.push_back(']');
  key(out, "parameters");
  out.push_back('[');
  for (size_t i = 0; i < e.parameters.size(); ++i) {
    if (i != 0) out.push_back(',');
    if (e.parameters[i]) {
      appendString(out, *e.parameters[i]);
    } else {
      out.append("null");
    }
  }
  out.push_back(']');
  field(out, "policy", e.policy);
  field(out, "reason", e.reason);
  field(out, "review_id", e.review_id);
  intField(out, "rows", e.rows);
  field(out, "rule", e.rule);
  intField(out, "seq", seq);
  intField(out, "session_id", e.session_id);
  field(out, "signature", e.signature);
  field(out, "sqlstate", e.sqlstate);
  field(out, "statement", e.statement);
  field(out, "statement_kind", e.statement_kind);
  stringList(out, "subject_groups", e.subject_groups);
  field(out, "subject_id", e.subject_id);
  field(out, "subject_issuer", e.subject_issuer);
  stringList(out, "tables", e.tables);
  intField(out, "time_us", e.time.time_since_epoch().count());
  key(out, "tls");
  out.append(e.tls ? "true" : "false");
  field(out, "tls_version", e.tls_version);
  field(out, "type", toString(e.type));
  field(out, "upstream_role", e.upstream_role);
  out.push_back('}');
}

std::string canonicalJson(const AuditEvent& event, uint64_t seq) {
  std::string out;
  out.reserve(512 + event.statement.size());
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

}  // namespace

Result<ParsedRecord> parseRecord(std::string_view json) {
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

}  // namespace pgw::audit
