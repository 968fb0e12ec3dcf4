#include "audit/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <vector>

#include "config/config.h"

namespace pgw::audit {
namespace {

std::string oneLine(std::string_view text, size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max) + 3);
  for (char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  }
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string csvField(std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string parametersText(const std::vector<std::optional<std::string>>& params) {
  std::vector<std::string> parts;
  for (const auto& p : params) parts.push_back(p ? "'" + *p + "'" : "NULL");
  return join(parts, ", ");
}

bool digits(std::string_view s, size_t at, size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (std::isdigit(static_cast<unsigned char>(s[i])) == 0) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

std::string outcome(const AuditEvent& e) {
  std::string out;
  if (!e.command_tag.empty()) out += fmt::format(" tag=\"{}\"", e.command_tag);
  if (e.rows >= 0) out += fmt::format(" rows={}", e.rows);
  if (!e.sqlstate.empty()) out += fmt::format(" sqlstate={}", e.sqlstate);
  if (e.duration_us > 0) out += fmt::format(" {:.3f}ms", static_cast<double>(e.duration_us) / 1000);
  return out;
}

}  // namespace

std::string formatTime(int64_t time_us) {
  int64_t secs = time_us / 1'000'000;
  int64_t frac = time_us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  const auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

Result<int64_t> parseTimeArg(std::string_view text, int64_t now_us) {
  const auto bad = [&] {
    return fail("", fmt::format("'{}' is neither an RFC 3339 time (2026-11-25T10:00:00Z) nor a "
                                "duration back from now (24h, 7d)",
                                text));
  };
  if (text.empty()) return bad();
  if (std::isdigit(static_cast<unsigned char>(text.back())) == 0 && text.find('-') == text.npos) {
    auto d = config::parseDuration(std::string(text));
    if (!d) return bad();
    return now_us - d->count() * 1000;
  }
  std::tm tm{};
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  if (!digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' || !digits(text, 5, 2, mon) ||
      text[7] != '-' || !digits(text, 8, 2, day)) {
    return bad();
  }
  size_t i = 10;
  int64_t frac_us = 0;
  int64_t offset_s = 0;
  if (i < text.size()) {
    if ((text[i] != 'T' && text[i] != 't' && text[i] != ' ') || !digits(text, i + 1, 2, hour) ||
        text.size() < i + 9 || text[i + 3] != ':' || !digits(text, i + 4, 2, min) ||
        text[i + 6] != ':' || !digits(text, i + 7, 2, sec)) {
      return bad();
    }
    i += 9;
    if (i < text.size() && text[i] == '.') {
      ++i;
      int64_t scale = 100000;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
        frac_us += (text[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
    }
    if (i == text.size()) return bad();  // a time needs its zone
    if (text[i] == 'Z' || text[i] == 'z') {
      ++i;
    } else if (text[i] == '+' || text[i] == '-') {
      int oh = 0, om = 0;
      if (!digits(text, i + 1, 2, oh) || text.size() < i + 6 || text[i + 3] != ':' ||
          !digits(text, i + 4, 2, om)) {
        return bad();
      }
      offset_s = (oh * 3600 + om * 60) * (text[i] == '+' ? 1 : -1);
      i += 6;
    }
    if (i != text.size()) return bad();
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return bad();
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset_s;
  return secs * 1'000'000 + frac_us;
}

std::string summaryLine(const AuditEvent& e, uint64_t seq, size_t max_text) {
  std::string out = fmt::format("{} {} #{} {}", formatTime(e.time.time_since_epoch().count()),
                                e.gateway_id, seq, toString(e.type));
  if (e.session_id != 0) out += fmt::format(" session={}", e.session_id);
  if (!e.subject_id.empty()) out += fmt::format(" subject={}", e.subject_id);
  switch (e.type) {
    case EventType::Statement:
      out += fmt::format(" {}", e.decision.empty() ? "-" : e.decision);
      if (!e.rule.empty()) out += fmt::format(" rule={}", e.rule);
      if (!e.statement_kind.empty()) out += fmt::format(" kind={}", e.statement_kind);
      out += outcome(e);
      out += fmt::format(" | {}", oneLine(e.statement, max_text));
      break;
    case EventType::Connect:
    case EventType::AuthFailure:
      out +=
          fmt::format(" client={} method={} tls={}", e.client_address,
                      e.auth_method.empty() ? "-" : e.auth_method, e.tls ? e.tls_version : "off");
      if (!e.connection.empty()) out += fmt::format(" connection={}", e.connection);
      if (!e.reason.empty()) out += fmt::format(" reason={}", oneLine(e.reason, max_text));
      break;
    case EventType::Checkpoint:
      out += fmt::format(" signs #{}", e.anchor_seq);
      break;
    case EventType::Anchor:
      out += fmt::format(" {} through #{}", e.reason, e.anchor_seq);
      break;
    default:
      if (!e.reason.empty()) out += fmt::format(" reason={}", oneLine(e.reason, max_text));
      if (!e.detail.empty()) out += fmt::format(" | {}", oneLine(e.detail, max_text));
  }
  return out;
}

std::string csvHeader() {
  return "time,gateway_id,seq,type,session_id,subject_id,subject_groups,subject_issuer,"
         "auth_method,client_address,tls,connection,upstream_role,decision,rule,policy,"
         "review_id,statement_kind,tables,statement,parameters,fingerprint,duration_us,rows,"
         "command_tag,sqlstate,bytes_sent,masked,reason,detail,hash\n";
}

std::string csvRow(const StoredRecord& row, const AuditEvent& e) {
  std::vector<std::string> masked;
  for (const auto& m : e.masked)
    masked.push_back(fmt::format("{}:{}:{}", m.column, m.rule, m.cells));
  const std::string fields[] = {formatTime(e.time.time_since_epoch().count()),
                                e.gateway_id,
                                std::to_string(row.seq),
                                std::string(toString(e.type)),
                                std::to_string(e.session_id),
                                e.subject_id,
                                join(e.subject_groups, ";"),
                                e.subject_issuer,
                                e.auth_method,
                                e.client_address,
                                e.tls ? e.tls_version : "",
                                e.connection,
                                e.upstream_role,
                                e.decision,
                                e.rule,
                                e.policy,
                                e.review_id,
                                e.statement_kind,
                                join(e.tables, ";"),
                                e.statement,
                                parametersText(e.parameters),
                                e.fingerprint,
                                std::to_string(e.duration_us),
                                std::to_string(e.rows),
                                e.command_tag,
                                e.sqlstate,
                                std::to_string(e.bytes_sent),
                                join(masked, ";"),
                                e.reason,
                                e.detail,
                                row.hash};
  std::string out;
  for (const auto& f : fields) {
    if (!out.empty()) out.push_back(',');
    out += csvField(f);
  }
  out.push_back('\n');
  return out;
}

std::string replayLine(const AuditEvent& e, int64_t start_us) {
  const double rel = static_cast<double>(e.time.time_since_epoch().count() - start_us) / 1e6;
  std::string out = fmt::format("+{:.3f}s ", rel);
  if (e.type != EventType::Statement) {
    out += std::string(toString(e.type));
    if (!e.reason.empty()) out += fmt::format(" ({})", e.reason);
    return out;
  }
  out += fmt::format("[{}", e.decision.empty() ? "-" : e.decision);
  if (!e.rule.empty()) out += fmt::format(" {}", e.rule);
  out += "] ";
  out += oneLine(e.statement, 2000);
  if (!e.parameters.empty()) out += fmt::format("  params: {}", parametersText(e.parameters));
  out += " ->";
  out += outcome(e).empty() ? " (no result)" : outcome(e);
  if (!e.masked.empty()) out += fmt::format(" masked={}", e.masked.size());
  return out;
}

}  // namespace pgw::audit
