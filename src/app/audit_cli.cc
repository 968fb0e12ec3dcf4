#include "app/audit_cli.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "audit/jsonl_sink.h"
#include "audit/report.h"
#include "audit/store.h"
#include "config/config.h"

namespace pgw::app {
namespace {

constexpr int kOk = 0;
constexpr int kBroken = 1;
constexpr int kBadInput = 2;

/// Where the trail is; `jsonl` picks the reader.
struct Source {
  std::string path;
  bool jsonl = false;
};

std::optional<Source> findSource(const AuditCommandState& s, std::ostream& err) {
  const int given = !s.config_path.empty() + !s.db_path.empty() + !s.file_path.empty();
  if (given != 1) {
    err << "pgwarden audit: name the trail with exactly one of --config F, --db PATH (SQLite) "
           "or --file PATH (JSON Lines)\n";
    return std::nullopt;
  }
  if (!s.db_path.empty()) return Source{s.db_path, false};
  if (!s.file_path.empty()) return Source{s.file_path, true};
  auto cfg = config::loadConfig(s.config_path);
  if (!cfg) {
    err << "pgwarden: " << cfg.error().message << "\n";
    return std::nullopt;
  }
  const config::AuditConfig& a = (*cfg)->audit;
  for (auto type : {config::AuditSinkConfig::Type::Sqlite, config::AuditSinkConfig::Type::Jsonl}) {
    for (const auto& sink : a.sinks) {
      if (sink.type == type) return Source{sink.path, type == config::AuditSinkConfig::Type::Jsonl};
    }
  }
  // Only PostgreSQL sinks: say so without showing the connection string.
  err << "pgwarden audit: " << s.config_path
      << " has no SQLite or JSON Lines audit sink; this tool reads those (query a PostgreSQL "
         "sink's table with psql, or add a second sink)\n";
  return std::nullopt;
}

std::unique_ptr<audit::Store> openStore(const Source& src, std::ostream& err) {
  auto store = src.jsonl ? audit::Store::openJsonl(src.path) : audit::Store::openSqlite(src.path);
  if (!store) {
    err << "pgwarden audit: " << store.error().message << "\n";
    return nullptr;
  }
  return std::move(*store);
}

std::optional<std::string> decisionFilter(const std::string& d, std::ostream& err) {
  if (d.empty()) return std::string();
  if (d == "denied" || d == "deny") return std::string("deny");
  if (d == "allowed" || d == "allow") return std::string("allow");
  if (d == "review") return std::string("review");
  err << "pgwarden audit: --decision must be denied, allowed or review (got '" << d << "')\n";
  return std::nullopt;
}

int64_t nowUs() {
  return audit::nowUs().time_since_epoch().count();
}

int verify(const AuditCommandState& s, audit::Store& store, std::ostream& out, std::ostream& err) {
  std::optional<audit::SigningKey> key;
  if (!s.public_key.empty()) {
    auto k = audit::SigningKey::loadPublic(s.public_key);
    if (!k) {
      err << "pgwarden audit: " << k.error().message << "\n";
      return kBadInput;
    }
    key = std::move(*k);
  }
  auto gateways = store.gateways();
  if (!gateways) {
    err << "pgwarden audit: " << gateways.error().message << "\n";
    return kBadInput;
  }
  if (!s.gateway.empty()) *gateways = {s.gateway};
  if (gateways->empty()) {
    out << "no audit records\n";
    return kOk;
  }
  int rc = kOk;
  for (const std::string& gw : *gateways) {
    auto r = store.verify(gw, key ? &*key : nullptr);
    if (!r) {
      err << "pgwarden audit: " << r.error().message << "\n";
      return kBadInput;
    }
    if (!r->ok) {
      out << fmt::format("gateway {}: BROKEN at record {}: {}\n", gw, r->broken_seq, r->problem);
      if (r->records > 0) {
        out << fmt::format("  records {}..{} before it are intact\n", r->first_seq, r->last_seq);
      }
      rc = kBroken;
      continue;
    }
    if (r->records == 0) {
      out << fmt::format("gateway {}: OK, no records ({})\n", gw, r->note);
      continue;
    }
    out << fmt::format("gateway {}: OK, records {}..{} ({} records), last at {}; {}\n", gw,
                       r->first_seq, r->last_seq, r->records, audit::formatTime(r->last_time_us),
                       r->note);
    if (r->checkpoints == 0) {
      out << "  no signed checkpoints (audit.checkpoint is not configured)\n";
    } else {
      out << fmt::format("  {} checkpoints, {}; {} records after the last one\n", r->checkpoints,
                         key ? fmt::format("{} signatures verified", r->checkpoints_verified)
                             : std::string("signatures not checked (pass --public-key)"),
                         r->after_last_checkpoint);
    }
  }
  return rc;
}

bool printSummaries(const std::vector<audit::StoredRecord>& rows,
                    std::map<std::string, uint64_t>& last_seq, std::ostream& out) {
  for (const auto& row : rows) {
    uint64_t& last = last_seq[row.gateway_id];
    if (row.seq <= last) continue;
    last = row.seq;
    auto parsed = audit::parseRecord(row.record);
    if (!parsed) {
      out << fmt::format("{} #{}: unreadable record ({})\n", row.gateway_id, row.seq,
                         parsed.error().message);
      continue;
    }
    out << audit::summaryLine(parsed->event, row.seq) << "\n";
  }
  out.flush();
  return true;
}

int tail(const AuditCommandState& s, const Source& src, std::ostream& out, std::ostream& err) {
  auto decision = decisionFilter(s.decision, err);
  if (!decision) return kBadInput;
  if (s.lines < 0) {
    err << "pgwarden audit: -n must be 0 or more\n";
    return kBadInput;
  }
  audit::Query q;
  q.gateway_id = s.gateway;
  q.subject = s.subject;
  q.decision = *decision;
  q.newest_first = true;
  q.limit = static_cast<size_t>(s.lines);
  std::map<std::string, uint64_t> last_seq;
  uint64_t position = 0;
  for (bool first = true;; first = false) {
    auto store = openStore(src, err);
    if (!store) return kBadInput;
    auto rows = store->query(q);
    if (!rows) {
      err << "pgwarden audit: " << rows.error().message << "\n";
      return kBadInput;
    }
    if (q.newest_first) std::reverse(rows->begin(), rows->end());
    if (first && s.lines == 0) {
      for (const auto& r : *rows) last_seq[r.gateway_id] = std::max(last_seq[r.gateway_id], r.seq);
    } else {
      printSummaries(*rows, last_seq, out);
    }
    for (const auto& r : *rows) position = std::max(position, r.position);
    if (!s.follow) return kOk;
    // From now on: everything after what was shown, oldest first. A JSON
    // Lines store re-reads its files (positions shift when they rotate), so
    // rows are matched by gateway and seq, not by position.
    q.newest_first = false;
    q.limit = 0;
    q.after_position = src.jsonl ? 0 : position;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int exportRecords(const AuditCommandState& s, audit::Store& store, std::ostream& out,
                  std::ostream& err) {
  if (s.format != "jsonl" && s.format != "csv") {
    err << "pgwarden audit: --format must be jsonl or csv\n";
    return kBadInput;
  }
  audit::Query q;
  q.gateway_id = s.gateway;
  q.subject = s.subject;
  auto decision = decisionFilter(s.decision, err);
  if (!decision) return kBadInput;
  q.decision = *decision;
  const int64_t now = nowUs();
  for (auto [text, slot] : {std::pair{&s.since, &q.since_us}, std::pair{&s.until, &q.until_us}}) {
    if (text->empty()) continue;
    auto t = audit::parseTimeArg(*text, now);
    if (!t) {
      err << "pgwarden audit: " << t.error().message << "\n";
      return kBadInput;
    }
    *slot = *t;
  }
  auto rows = store.query(q);
  if (!rows) {
    err << "pgwarden audit: " << rows.error().message << "\n";
    return kBadInput;
  }
  if (s.format == "csv") out << audit::csvHeader();
  std::string line;
  for (const auto& row : *rows) {
    if (s.format == "jsonl") {
      line.clear();
      audit::JsonlSink::appendLine(line, row);
      out << line << "\n";
      continue;
    }
    auto parsed = audit::parseRecord(row.record);
    if (!parsed) {
      err << fmt::format("pgwarden audit: record {} of {} is unreadable ({}); run verify\n",
                         row.seq, row.gateway_id, parsed.error().message);
      return kBadInput;
    }
    out << audit::csvRow(row, parsed->event);
  }
  return kOk;
}

int replay(const AuditCommandState& s, audit::Store& store, std::ostream& out, std::ostream& err) {
  audit::Query q;
  q.gateway_id = s.gateway;
  q.session_id = s.session;
  auto rows = store.query(q);
  if (!rows) {
    err << "pgwarden audit: " << rows.error().message << "\n";
    return kBadInput;
  }
  if (rows->empty()) {
    err << fmt::format("pgwarden audit: no records of session {}\n", s.session);
    return kBadInput;
  }
  // Session ids are per gateway: replay each gateway's session on its own.
  std::map<std::string, std::vector<audit::AuditEvent>> sessions;
  for (const auto& row : *rows) {
    auto parsed = audit::parseRecord(row.record);
    if (parsed) sessions[row.gateway_id].push_back(std::move(parsed->event));
  }
  for (const auto& [gw, all] : sessions) {
    // Session ids restart with the gateway: a `connect` after the first
    // event starts another session with the same id.
    std::vector<std::vector<audit::AuditEvent>> runs;
    for (const auto& e : all) {
      if (runs.empty() || (e.type == audit::EventType::Connect && !runs.back().empty())) {
        runs.emplace_back();
      }
      runs.back().push_back(e);
    }
    for (const auto& events : runs) {
      const audit::AuditEvent& first = events.front();
      const auto who = std::find_if(events.begin(), events.end(),
                                    [](const auto& e) { return !e.subject_id.empty(); });
      out << fmt::format("session {} on {}, started {}", s.session, gw,
                         audit::formatTime(first.time.time_since_epoch().count()));
      if (who != events.end()) {
        out << fmt::format(": subject {} ({}) from {}, connection {} as {}", who->subject_id,
                           who->auth_method, who->client_address, who->connection,
                           who->upstream_role);
      }
      out << "\n";
      const int64_t start = first.time.time_since_epoch().count();
      for (const auto& e : events) out << "  " << audit::replayLine(e, start) << "\n";
    }
  }
  return kOk;
}

void addSource(CLI::App* cmd, AuditCommandState& s) {
  cmd->add_option("-c,--config", s.config_path, "The gateway config (reads its audit sink)");
  cmd->add_option("--db", s.db_path, "A SQLite audit database");
  cmd->add_option("--file", s.file_path, "A JSON Lines audit file (rotated files are read too)");
  cmd->add_option("--gateway", s.gateway, "Only this gateway id");
}

}  // namespace

void addAuditCommands(CLI::App& app, AuditCommandState& s) {
  s.audit = app.add_subcommand("audit", "Verify, follow, export and replay the audit trail");
  s.audit->require_subcommand(1);

  s.verify = s.audit->add_subcommand("verify", "Check the hash chain; exit 1 at the first break");
  addSource(s.verify, s);
  s.verify->add_option("--public-key", s.public_key,
                       "Ed25519 public key (PEM) that checks the signed checkpoints");

  s.tail = s.audit->add_subcommand("tail", "Show the latest records");
  addSource(s.tail, s);
  s.tail->add_option("-n,--lines", s.lines, "How many records")->capture_default_str();
  s.tail->add_flag("-f,--follow", s.follow, "Keep printing new records");
  s.tail->add_option("--subject", s.subject, "Only this subject id");
  s.tail->add_option("--decision", s.decision, "denied, allowed or review");

  s.export_ = s.audit->add_subcommand("export", "Write records of a time range as JSONL or CSV");
  addSource(s.export_, s);
  s.export_->add_option("--since", s.since, "RFC 3339 time, or a duration back from now (24h)")
      ->required();
  s.export_->add_option("--until", s.until, "RFC 3339 time, or a duration back from now");
  s.export_->add_option("--format", s.format, "jsonl or csv")->capture_default_str();
  s.export_->add_option("--subject", s.subject, "Only this subject id");
  s.export_->add_option("--decision", s.decision, "denied, allowed or review");

  s.replay = s.audit->add_subcommand("replay", "A session's statements in order, with timing");
  addSource(s.replay, s);
  s.replay->add_option("--session", s.session, "The session id")->required();
}

int runAuditCommand(const AuditCommandState& s) {
  return runAuditCommand(s, std::cout, std::cerr);
}

int runAuditCommand(const AuditCommandState& s, std::ostream& out, std::ostream& err) {
  auto src = findSource(s, err);
  if (!src) return kBadInput;
  if (s.tail->parsed()) return tail(s, *src, out, err);
  auto store = openStore(*src, err);
  if (!store) return kBadInput;
  if (s.verify->parsed()) return verify(s, *store, out, err);
  if (s.export_->parsed()) return exportRecords(s, *store, out, err);
  if (s.replay->parsed()) return replay(s, *store, out, err);
  return kBadInput;
}

}  // namespace pgw::app
