#include "review/describe.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <vector>

namespace pgw::review {
namespace {

using nlohmann::json;

constexpr size_t kMaxParameter = 2000;  ///< bytes of one parameter shown by `show`
constexpr size_t kTableStatement = 60;  ///< characters of a statement in a list
constexpr size_t kTableReason = 40;     ///< characters of a reason in a list

// ---- reading the JSON without throwing ---------------------------------------

const json* member(const json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string str(const json& j, std::string_view key) {
  const json* v = member(j, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

std::optional<double> number(const json& j, std::string_view key) {
  const json* v = member(j, key);
  if (!v || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

int64_t integer(const json& j, std::string_view key, int64_t fallback = 0) {
  const json* v = member(j, key);
  if (!v || !v->is_number()) return fallback;
  if (v->is_number_integer()) return v->get<int64_t>();
  return static_cast<int64_t>(v->get<double>());
}

bool boolean(const json& j, std::string_view key) {
  const json* v = member(j, key);
  return v && v->is_boolean() && v->get<bool>();
}

std::vector<std::string> strings(const json& j, std::string_view key) {
  std::vector<std::string> out;
  const json* v = member(j, key);
  if (!v || !v->is_array()) return out;
  for (const json& e : *v) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

const json& array(const json& j, std::string_view key) {
  static const json kEmpty = json::array();
  const json* v = member(j, key);
  return v && v->is_array() ? *v : kEmpty;
}

std::optional<int64_t> time(const json& j, std::string_view key) {
  return parseRfc3339(str(j, key));
}

// ---- text helpers ------------------------------------------------------------

/// Number of code points, for column widths (printable() output is ASCII
/// apart from valid UTF-8).
size_t width(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

/// At most `max` code points, "…" when cut.
std::string cut(std::string_view s, size_t max) {
  if (width(s) <= max) return std::string(s);
  size_t points = 0;
  size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (points == max - 1) break;
      ++points;
    }
  }
  return std::string(s.substr(0, i)) + "…";
}

/// Whitespace runs (newlines included) as one space: a statement on one line.
std::string oneLine(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\v') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

/// Every line of `text` after `indent`.
std::string indented(std::string_view text, std::string_view indent) {
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out += indent;
    out += text.substr(start, end - start);
    out += '\n';
    start = end + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += printable(s);
  }
  return out;
}

std::string person(const json& p) {
  const std::string id = printable(str(p, "id"));
  const std::string name = printable(str(p, "display_name"));
  if (name.empty() || name == id) return id.empty() ? "?" : id;
  return fmt::format("{} ({})", name, id);
}

/// "%g"-like without exponent for usual planner numbers: 1200, 1.5, 1.2e+09.
std::string plainNumber(double v) {
  return fmt::format("{:.10g}", v);
}

/// A span between two times of millisecond precision, to the nearest second.
std::string span(int64_t us) {
  return shortDuration((us + 500'000) / 1'000'000 * 1'000'000);
}

std::string when(const json& j, std::string_view key, int64_t now_us) {
  const std::string text = str(j, key);
  const auto t = parseRfc3339(text);
  if (!t) return printable(text);
  if (*t <= now_us) return fmt::format("{} ({} ago)", text, span(now_us - *t));
  return fmt::format("{} (in {})", text, span(*t - now_us));
}

std::string ageColumn(const json& j, int64_t now_us) {
  const auto t = time(j, "created_at");
  if (!t) return "?";
  return span(std::max<int64_t>(0, now_us - *t));
}

std::string approvalsColumn(const json& j) {
  return fmt::format("{}/{}", integer(j, "approvals"), integer(j, "min_approvals", 1));
}

std::string sqlQuoted(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

/// A table: columns padded to their widest cell, the last one not padded.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - width(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  return out;
}

/// The array of records in a list answer: the answer itself, or the first
/// array member of an object ({"reviews": [...], "next": ...}).
const json& records(const json& answer) {
  if (answer.is_array()) return answer;
  if (answer.is_object()) {
    for (const char* key : {"reviews", "access_requests", "items", "data"}) {
      if (const json* v = member(answer, key); v && v->is_array()) return *v;
    }
    for (const auto& [key, value] : answer.items()) {
      if (value.is_array()) return value;
    }
  }
  static const json kEmpty = json::array();
  return kEmpty;
}

void votesSection(std::string& out, const json& record) {
  const json& votes = array(record, "votes");
  if (votes.empty()) {
    out += "Votes:       none yet\n";
    return;
  }
  out += "Votes:\n";
  for (const json& v : votes) {
    const json* by = member(v, "by");
    std::string line = fmt::format("  {} by {}", boolean(v, "approve") ? "approved" : "denied",
                                   by ? person(*by) : std::string("?"));
    if (const std::string at = str(v, "at"); !at.empty()) line += " at " + printable(at);
    if (const std::string c = str(v, "comment"); !c.empty()) line += ": " + printable(c);
    out += line + '\n';
  }
}

std::string approversText(const json& record) {
  const auto groups = strings(record, "approver_groups");
  const int64_t min = integer(record, "min_approvals", 1);
  std::string who = groups.empty() ? "any API approver" : "members of " + join(groups, ", ");
  return fmt::format("{}; {} approval{} needed, never by the requester", who, min,
                     min == 1 ? "" : "s");
}

std::string stateText(const json& record) {
  const std::string state = printable(str(record, "state"));
  if (state == "pending") {
    return fmt::format("pending ({} of {} approvals)", integer(record, "approvals"),
                       integer(record, "min_approvals", 1));
  }
  return state.empty() ? "?" : state;
}

std::string durationText(const json& request) {
  const int64_t secs = integer(request, "duration_seconds", -1);
  if (secs < 0) return "?";
  return shortDuration(secs * 1'000'000);
}

}  // namespace

// ---- reviews -------------------------------------------------------------------

std::string describeReview(const json& r, int64_t now_us) {
  const std::string id = printable(str(r, "id"));
  std::string out = fmt::format("Review {}: {}\n", id, stateText(r));
  const json* subject = member(r, "subject");
  std::string who = subject ? person(*subject) : std::string("?");
  if (subject) {
    if (const std::string m = str(*subject, "method"); !m.empty()) who += ", " + printable(m);
    if (const auto g = strings(*subject, "groups"); !g.empty()) {
      who += ", groups " + join(g, ", ");
    }
  }
  out += "Subject:     " + who + '\n';
  std::string conn = printable(str(r, "connection"));
  const int64_t session = integer(r, "session_id");
  const std::string client = printable(str(r, "client_address"));
  if (session != 0 || !client.empty()) {
    conn += fmt::format(" (session {}{})", session, client.empty() ? "" : " from " + client);
  }
  out += "Connection:  " + conn + '\n';
  out += fmt::format("Policy:      {}, rule {}\n", printable(str(r, "policy")),
                     printable(str(r, "rule")));
  if (const std::string reason = str(r, "reason"); !reason.empty()) {
    out += "Reason:      " + printable(reason) + '\n';
  }
  out += fmt::format("Mode:        {}\n",
                     str(r, "mode") == "retry"
                         ? "retry (after approval, the same statement re-sent runs once)"
                         : "wait (the client waits for the decision)");
  const std::string kind = printable(str(r, "kind"));
  const auto tables = strings(r, "tables");
  out += fmt::format("Kind:        {}\n", kind.empty() ? "?" : kind);
  out += fmt::format("Tables:      {}\n", tables.empty() ? "none" : join(tables, ", "));
  const auto rows = number(r, "estimated_rows");
  const auto cost = number(r, "estimated_cost");
  if (rows || cost) {
    std::vector<std::string> parts;
    if (rows) parts.push_back(plainNumber(*rows) + (*rows == 1 ? " row" : " rows"));
    if (cost) parts.push_back("cost " + plainNumber(*cost));
    out += fmt::format("Estimate:    {} (planner, EXPLAIN)\n", fmt::join(parts, ", "));
  } else {
    out += "Estimate:    none\n";
  }

  out += "Statement (as sent):\n" + indented(printable(str(r, "statement"), true), "    ");
  const std::string normalized = str(r, "normalized");
  if (!normalized.empty()) {
    out += "Normalized:\n" + indented(printable(normalized, true), "    ");
  }
  const json& params = array(r, "parameters");
  if (!params.empty()) {
    out += "Parameters:\n";
    for (size_t i = 0; i < params.size(); ++i) {
      std::string value;
      if (params[i].is_string()) {
        const std::string& p = params[i].get_ref<const std::string&>();
        value = sqlQuoted(printable(p.size() > kMaxParameter ? p.substr(0, kMaxParameter) : p));
        if (p.size() > kMaxParameter) value += fmt::format("… ({} bytes in all)", p.size());
      } else if (params[i].is_null()) {
        value = "NULL";
      } else {
        value = printable(params[i].dump());
      }
      out += fmt::format("    ${} = {}\n", i + 1, value);
    }
  }
  const auto recent = strings(r, "recent_statements");
  if (!recent.empty()) {
    out += "Recent statements of the session (oldest first):\n";
    for (size_t i = 0; i < recent.size(); ++i) {
      out += fmt::format("    {}. {}\n", i + 1, cut(printable(oneLine(recent[i])), 200));
    }
  }
  votesSection(out, r);
  out += "Approvers:   " + approversText(r) + '\n';
  if (!str(r, "created_at").empty()) out += "Created:     " + when(r, "created_at", now_us) + '\n';
  const std::string state = str(r, "state");
  if (state == "pending") {
    if (!str(r, "expires_at").empty()) {
      out += "Expires:     " + when(r, "expires_at", now_us) + '\n';
    }
  } else if (!str(r, "decided_at").empty()) {
    out += "Decided:     " + when(r, "decided_at", now_us) + '\n';
  }
  if (state == "approved" && !str(r, "run_by").empty()) {
    out += "Run by:      " + when(r, "run_by", now_us) + " (re-send the same statement)\n";
  }
  if (!str(r, "consumed_at").empty())
    out += "Ran:         " + when(r, "consumed_at", now_us) + '\n';
  if (const std::string m = str(r, "outcome_message"); !m.empty()) {
    out += "Outcome:     " + printable(m) + '\n';
  }
  if (state == "pending") {
    out += fmt::format(
        "Decide:      pgwarden review approve {0} [--comment TEXT]\n"
        "             pgwarden review deny {0} [--comment TEXT]\n",
        id);
  }
  return out;
}

std::string reviewTable(const json& answer, int64_t now_us, std::string_view empty) {
  const json& list = records(answer);
  if (list.empty()) return std::string(empty) + '\n';
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATE", "AGE", "SUBJECT", "CONNECTION", "RULE", "APPROVALS", "STATEMENT"}};
  for (const json& r : list) {
    const json* subject = member(r, "subject");
    rows.push_back({printable(str(r, "id")), printable(str(r, "state")), ageColumn(r, now_us),
                    subject ? printable(str(*subject, "id")) : "?", printable(str(r, "connection")),
                    printable(str(r, "rule")), approvalsColumn(r),
                    cut(printable(oneLine(str(r, "statement"))), kTableStatement)});
  }
  return table(rows);
}

std::string reviewOutcome(const json& r) {
  const std::string id = printable(str(r, "id"));
  const std::string state = str(r, "state");
  const int64_t approvals = integer(r, "approvals");
  const int64_t min = integer(r, "min_approvals", 1);
  if (state == "pending") {
    return fmt::format("{} is still pending: {} of {} approvals.\n", id, approvals, min);
  }
  std::string out = fmt::format("{} is {}", id, printable(state));
  if (state == "approved") {
    out += fmt::format(" ({} of {} approvals)", approvals, min);
    out += str(r, "mode") == "retry" ? "; the client may now re-send the statement"
                                     : "; the waiting statement runs now";
  }
  if (const std::string m = str(r, "outcome_message"); !m.empty() && state != "approved") {
    out += ": " + printable(m);
  }
  return out + ".\n";
}

// ---- access requests --------------------------------------------------------------

std::string describeAccessRequest(const json& a, int64_t now_us) {
  const std::string id = printable(str(a, "id"));
  std::string state = stateText(a);
  if (boolean(a, "active")) state += ", active";
  std::string out = fmt::format("Access request {}: {}\n", id, state);
  const json* subject = member(a, "subject");
  out += "Subject:     " + (subject ? person(*subject) : std::string("?")) + '\n';
  out += fmt::format("Access:      {} on {} for {}\n", printable(str(a, "level")),
                     printable(str(a, "connection")), durationText(a));
  if (const std::string reason = str(a, "reason"); !reason.empty()) {
    out += "Reason:      " + printable(reason) + '\n';
  }
  if (const std::string policy = str(a, "policy"); !policy.empty()) {
    out += "Policy:      " + printable(policy) + '\n';
  }
  votesSection(out, a);
  out += "Approvers:   " + approversText(a) + '\n';
  if (!str(a, "created_at").empty()) out += "Created:     " + when(a, "created_at", now_us) + '\n';
  const std::string raw_state = str(a, "state");
  if (raw_state == "pending" && !str(a, "expires_at").empty()) {
    out += "Expires:     " + when(a, "expires_at", now_us) + '\n';
  }
  if (!str(a, "starts_at").empty()) {
    out += "Starts:      " + when(a, "starts_at", now_us) + '\n';
    out += "Ends:        " + when(a, "ends_at", now_us) + '\n';
  }
  if (raw_state != "pending" && !str(a, "decided_at").empty()) {
    out += "Decided:     " + when(a, "decided_at", now_us) + '\n';
  }
  if (const std::string m = str(a, "outcome_message"); !m.empty()) {
    out += "Outcome:     " + printable(m) + '\n';
  }
  if (raw_state == "pending") {
    out +=
        fmt::format("Decide:      pgwarden access approve {0}  |  pgwarden access deny {0}\n", id);
  }
  return out;
}

std::string accessTable(const json& answer, int64_t now_us, std::string_view empty) {
  const json& list = records(answer);
  if (list.empty()) return std::string(empty) + '\n';
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATE", "AGE", "SUBJECT", "CONNECTION", "LEVEL", "FOR", "UNTIL", "REASON"}};
  for (const json& a : list) {
    const json* subject = member(a, "subject");
    std::string state = printable(str(a, "state"));
    if (boolean(a, "active")) state = "active";
    std::string until = "-";
    if (str(a, "state") == "approved") {
      if (auto end = time(a, "ends_at")) {
        until = *end > now_us ? "in " + span(*end - now_us) : "ended";
      }
    } else if (str(a, "state") == "pending") {
      if (auto exp = time(a, "expires_at")) {
        until = *exp > now_us ? "expires in " + span(*exp - now_us) : "expiring";
      }
    }
    rows.push_back({printable(str(a, "id")), state, ageColumn(a, now_us),
                    subject ? printable(str(*subject, "id")) : "?", printable(str(a, "connection")),
                    printable(str(a, "level")), durationText(a), until,
                    cut(printable(oneLine(str(a, "reason"))), kTableReason)});
  }
  return table(rows);
}

std::string accessOutcome(const json& a, int64_t now_us) {
  const std::string id = printable(str(a, "id"));
  const std::string state = str(a, "state");
  if (state == "pending") {
    return fmt::format("{} is still pending: {} of {} approvals.\n", id, integer(a, "approvals"),
                       integer(a, "min_approvals", 1));
  }
  std::string out = fmt::format("{} is {}", id, printable(state));
  if (state == "approved") {
    out += fmt::format(": {} on {}", printable(str(a, "level")), printable(str(a, "connection")));
    if (const auto end = time(a, "ends_at")) {
      out += fmt::format(" until {}", printable(str(a, "ends_at")));
      if (*end > now_us) out += fmt::format(" ({} left)", span(*end - now_us));
    }
  }
  return out + ".\n";
}

// ---- text --------------------------------------------------------------------------

std::string printable(std::string_view text, bool multiline) {
  std::string out;
  out.reserve(text.size());
  auto escapeByte = [&out](unsigned char b) { out += fmt::format("\\x{:02x}", b); };
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      if ((b < 0x20 || b == 0x7f) && !(multiline && (b == '\n' || b == '\t'))) {
        escapeByte(b);
      } else {
        out += static_cast<char>(b);
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: its length, its code point, and whether it is valid
    // (shortest form, no surrogates, at most U+10FFFF).
    size_t len = 0;
    uint32_t cp = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      cp = b & 0x07;
    }
    bool valid = len > 0 && i + len <= text.size();
    for (size_t k = 1; valid && k < len; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      valid = (c & 0xC0) == 0x80;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (valid) {
      valid = !(len == 3 && cp < 0x800) && !(len == 4 && cp < 0x10000) && cp <= 0x10FFFF &&
              !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (!valid) {
      escapeByte(b);
      ++i;
      continue;
    }
    // C1 controls, and the bidirectional overrides/isolates that can make a
    // statement read differently from what runs (CVE-2021-42574).
    const bool hidden = (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F ||
                        (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
    if (hidden) {
      out += fmt::format("\\u{{{:04x}}}", cp);
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

std::optional<int64_t> parseRfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.f+]Z
  if (s.size() < 20 || s.back() != 'Z') return std::nullopt;
  auto digits = [&](size_t pos, size_t n) -> std::optional<int> {
    int v = 0;
    for (size_t k = pos; k < pos + n; ++k) {
      if (s[k] < '0' || s[k] > '9') return std::nullopt;
      v = v * 10 + (s[k] - '0');
    }
    return v;
  };
  if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':') {
    return std::nullopt;
  }
  const auto year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  const auto hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 ||
      *second > 60) {
    return std::nullopt;
  }
  int64_t micros = 0;
  size_t pos = 19;
  if (s[pos] == '.') {
    ++pos;
    int64_t scale = 100000;
    const size_t start = pos;
    while (pos < s.size() - 1 && s[pos] >= '0' && s[pos] <= '9') {
      micros += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  if (pos != s.size() - 1) return std::nullopt;
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  const int64_t secs = timegm(&tm);
  return secs * 1'000'000 + micros;
}

std::string shortDuration(int64_t us) {
  const int64_t s = std::max<int64_t>(0, us / 1'000'000);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m", s / 60);
  if (s < 86400) {
    return s % 3600 >= 60 ? fmt::format("{}h{}m", s / 3600, s % 3600 / 60)
                          : fmt::format("{}h", s / 3600);
  }
  return s % 86400 >= 3600 ? fmt::format("{}d{}h", s / 86400, s % 86400 / 3600)
                           : fmt::format("{}d", s / 86400);
}

}  // namespace pgw::review
