/// The `audit:` section: sinks, queue, privacy, retention, checkpoints.
/// Keep in step with docs/config.md ("audit") and docs/audit.md.

#include "config/audit.h"

#include <fmt/format.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <string_view>
#include <system_error>

namespace pgw::config::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::array<std::string_view, 3> kSinkTypes = {"sqlite", "jsonl", "postgres"};
constexpr std::array<std::string_view, 2> kCompressions = {"zstd", "none"};
constexpr std::array<std::string_view, 3> kParamModes = {"full", "redacted", "none"};
constexpr std::array<std::string_view, 2> kOnFull = {"block", "reject"};

/// A retention shorter than this is almost certainly a typo ("90s" for "90d").
constexpr std::chrono::hours kMinRetention{1};
constexpr std::chrono::milliseconds kMaxFlushInterval{1000};

/// Where the trail goes when the config says nothing: next to the config, so
/// a gateway started from any working directory writes the same file.
constexpr std::string_view kDefaultDb = "data/audit.db";

std::string hostName() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "pgwarden";
  return buf;
}

/// A file the gateway will create: not a directory, and its directory either
/// exists or can be created at start (the audit module creates it).
std::string readOutputPath(const Context& ctx, const std::string& raw, const std::string& path) {
  if (raw.empty()) failAt(path, "must not be empty");
  const std::string abs = ctx.absolutePath(raw);
  const fs::path p(abs);
  if (!p.has_filename()) {
    failAt(path, fmt::format("{} names a directory; name a file in it, e.g. data/audit.db", abs));
  }
  std::error_code ec;
  if (fs::is_directory(p, ec)) failAt(path, fmt::format("{} is a directory; name a file", abs));
  return abs;
}

/// "events" or "audit.events": what the PostgreSQL sink may create.
bool isTableName(std::string_view name) {
  auto part_ok = [](std::string_view part) {
    if (part.empty() || part.size() > 63) return false;
    if (std::isdigit(static_cast<unsigned char>(part.front())) != 0) return false;
    return std::all_of(part.begin(), part.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
  };
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos) return part_ok(name);
  return part_ok(name.substr(0, dot)) && part_ok(name.substr(dot + 1));
}

AuditSinkConfig::Type sinkType(const Context& ctx, const YAML::Node& node,
                               const std::string& path) {
  return static_cast<AuditSinkConfig::Type>(readChoice(ctx, node, path, kSinkTypes));
}

AuditSinkConfig readSink(const Context& ctx, const YAML::Node& node, const std::string& path) {
  MapReader m(node, path,
              {"type", "path", "max_size", "keep", "dsn", "password", "table", "compression"});
  if (!m.has("type")) {
    failAt(m.pathOf("type"), "is required: sqlite, jsonl or postgres");
  }
  AuditSinkConfig sink;
  sink.type = sinkType(ctx, m.get("type"), m.pathOf("type"));
  const std::string_view type_name = kSinkTypes[static_cast<size_t>(sink.type)];
  auto only_for = [&](std::string_view key, AuditSinkConfig::Type type) {
    if (m.has(key) && sink.type != type) {
      failAt(m.pathOf(key), fmt::format("is not used by a {} sink (only by {})", type_name,
                                        kSinkTypes[static_cast<size_t>(type)]));
    }
  };
  only_for("max_size", AuditSinkConfig::Type::Jsonl);
  only_for("keep", AuditSinkConfig::Type::Jsonl);
  only_for("dsn", AuditSinkConfig::Type::Postgres);
  only_for("password", AuditSinkConfig::Type::Postgres);
  only_for("table", AuditSinkConfig::Type::Postgres);
  only_for("compression", AuditSinkConfig::Type::Sqlite);

  if (sink.type == AuditSinkConfig::Type::Postgres) {
    if (m.has("path")) failAt(m.pathOf("path"), "is not used by a postgres sink; set dsn");
    if (!m.has("dsn")) {
      failAt(m.pathOf("dsn"),
             "is required: a libpq connection string, e.g. \"host=db.internal dbname=audit "
             "user=pgwarden\" (put the password in password: ${env:NAME})");
    }
    sink.dsn = readSecret(ctx, m.get("dsn"), m.pathOf("dsn"));
    if (m.has("password")) sink.password = readSecret(ctx, m.get("password"), m.pathOf("password"));
    if (m.has("table")) {
      sink.table = readString(ctx, m.get("table"), m.pathOf("table"));
      if (!isTableName(sink.table)) {
        failAt(m.pathOf("table"),
               fmt::format("'{}' is not a table name: lower-case letters, digits and '_', "
                           "optionally schema-qualified (audit.events)",
                           sink.table));
      }
    }
    return sink;
  }

  if (!m.has("path")) {
    failAt(m.pathOf("path"), sink.type == AuditSinkConfig::Type::Sqlite
                                 ? "is required, e.g. data/audit.db"
                                 : "is required, e.g. data/audit.jsonl");
  }
  sink.path =
      readOutputPath(ctx, readString(ctx, m.get("path"), m.pathOf("path")), m.pathOf("path"));
  if (m.has("max_size")) {
    sink.max_size =
        readSize(ctx, m.get("max_size"), m.pathOf("max_size"), size_t{64} << 10, size_t{1} << 40);
  }
  if (m.has("keep")) {
    sink.keep = static_cast<int>(readInt(ctx, m.get("keep"), m.pathOf("keep"), 0, 10000));
  }
  if (m.has("compression")) {
    sink.compression = static_cast<AuditSinkConfig::Compression>(
        readChoice(ctx, m.get("compression"), m.pathOf("compression"), kCompressions));
  }
  return sink;
}

/// `sink: "sqlite:data/audit.db"`, `"jsonl:/var/log/pgwarden/audit.jsonl"`,
/// `"postgres:host=... dbname=..."`: one sink with its defaults.
AuditSinkConfig readSinkShorthand(const Context& ctx, const YAML::Node& node,
                                  const std::string& path) {
  Scalar s = readScalar(ctx, node, path);
  const size_t colon = s.value.find(':');
  const std::string type = s.value.substr(0, colon == std::string::npos ? 0 : colon);
  const auto it = std::find(kSinkTypes.begin(), kSinkTypes.end(), type);
  if (colon == std::string::npos || it == kSinkTypes.end() || colon + 1 == s.value.size()) {
    failAt(path,
           "must be <type>:<where>, e.g. \"sqlite:data/audit.db\", "
           "\"jsonl:logs/audit.jsonl\" or \"postgres:host=db dbname=audit\"");
  }
  AuditSinkConfig sink;
  sink.type = static_cast<AuditSinkConfig::Type>(it - kSinkTypes.begin());
  const std::string where = s.value.substr(colon + 1);
  if (sink.type == AuditSinkConfig::Type::Postgres) {
    sink.dsn = Secret(where);
  } else {
    sink.path = readOutputPath(ctx, where, path);
  }
  return sink;
}

void checkDistinctPaths(const std::vector<AuditSinkConfig>& sinks, const std::string& path) {
  for (size_t i = 0; i < sinks.size(); ++i) {
    if (sinks[i].path.empty()) continue;
    for (size_t j = 0; j < i; ++j) {
      if (sinks[j].path == sinks[i].path) {
        failAt(indexPath(path, i), fmt::format("writes {} like {}; give each sink its own file",
                                               sinks[i].path, indexPath(path, j)));
      }
    }
  }
}

AuditCheckpointConfig readCheckpoint(const Context& ctx, const YAML::Node& node,
                                     const std::string& path) {
  MapReader m(node, path, {"key", "every", "interval"});
  AuditCheckpointConfig cp;
  if (!m.has("key")) {
    failAt(m.pathOf("key"),
           "is required: an Ed25519 private key (PEM) that signs checkpoints; create it with: "
           "openssl genpkey -algorithm ed25519 -out certs/audit-signing.pem");
  }
  cp.key_file = readFilePath(ctx, m.get("key"), m.pathOf("key"));
  if (m.has("every")) {
    cp.every = static_cast<uint64_t>(
        readInt(ctx, m.get("every"), m.pathOf("every"), 1, int64_t{1'000'000'000}));
  }
  if (m.has("interval")) {
    cp.interval = readDuration(ctx, m.get("interval"), m.pathOf("interval"), false);
    if (cp.interval < std::chrono::seconds(1)) {
      failAt(m.pathOf("interval"), "must be at least 1s");
    }
  }
  return cp;
}

/// Printable ASCII without spaces: it is a column value and a CLI filter.
void checkGatewayId(const std::string& id, const std::string& path) {
  if (id.size() > 128) failAt(path, "must be at most 128 characters");
  for (char c : id) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      failAt(path, fmt::format("'{}' may hold only printable ASCII without spaces", id));
    }
  }
}

}  // namespace

void readAudit(const Context& ctx, const YAML::Node& node, Config& cfg) {
  MapReader m(node, "audit",
              {"enabled", "sink", "sinks", "queue", "batch", "flush_interval", "synchronous",
               "on_full", "parameters", "retention", "checkpoint", "gateway_id"});
  AuditConfig& a = cfg.audit;
  if (m.has("enabled")) a.enabled = readBool(ctx, m.get("enabled"), m.pathOf("enabled"));

  if (m.has("sink") && m.has("sinks")) {
    failAt(m.pathOf("sink"),
           "set either sink (one, as <type>:<where>) or sinks (a list), not both");
  }
  if (m.has("sink")) a.sinks.push_back(readSinkShorthand(ctx, m.get("sink"), m.pathOf("sink")));
  if (m.has("sinks")) {
    std::vector<YAML::Node> items = readList(m.get("sinks"), m.pathOf("sinks"));
    if (items.empty()) {
      failAt(m.pathOf("sinks"),
             "lists no sink; name at least one, or set audit.enabled: false to turn auditing off");
    }
    for (size_t i = 0; i < items.size(); ++i) {
      a.sinks.push_back(readSink(ctx, items[i], indexPath(m.pathOf("sinks"), i)));
    }
    checkDistinctPaths(a.sinks, m.pathOf("sinks"));
  }
  if (a.sinks.empty()) {
    AuditSinkConfig sqlite;
    sqlite.path = ctx.absolutePath(std::string(kDefaultDb));
    a.sinks.push_back(std::move(sqlite));
  }

  if (m.has("queue")) {
    a.queue =
        static_cast<size_t>(readInt(ctx, m.get("queue"), m.pathOf("queue"), 1, int64_t{1} << 24));
  }
  if (m.has("batch")) {
    a.batch = static_cast<size_t>(readInt(ctx, m.get("batch"), m.pathOf("batch"), 1, 65536));
  }
  if (a.batch > a.queue) {
    failAt(m.pathOf("batch"), fmt::format("is {}, larger than audit.queue ({}); a batch is taken "
                                          "from the queue, so make it at most the queue size",
                                          a.batch, a.queue));
  }
  if (m.has("flush_interval")) {
    a.flush_interval = readDuration(ctx, m.get("flush_interval"), m.pathOf("flush_interval"), true);
    if (a.flush_interval > kMaxFlushInterval) {
      failAt(m.pathOf("flush_interval"),
             "must be at most 1s: events wait this long in memory before they are written");
    }
  }
  if (m.has("synchronous")) {
    a.synchronous = readBool(ctx, m.get("synchronous"), m.pathOf("synchronous"));
  }
  if (m.has("on_full")) {
    a.on_full =
        static_cast<AuditOnFull>(readChoice(ctx, m.get("on_full"), m.pathOf("on_full"), kOnFull));
  }
  if (m.has("parameters")) {
    a.parameters = static_cast<AuditParams>(
        readChoice(ctx, m.get("parameters"), m.pathOf("parameters"), kParamModes));
  }
  if (m.has("retention")) {
    a.retention = readDuration(ctx, m.get("retention"), m.pathOf("retention"), true);
    if (a.retention.count() != 0 && a.retention < kMinRetention) {
      failAt(m.pathOf("retention"),
             "must be 0 (keep forever) or at least 1h; write days as e.g. 90d");
    }
  }
  if (m.has("checkpoint")) {
    a.checkpoint = readCheckpoint(ctx, m.get("checkpoint"), m.pathOf("checkpoint"));
  }
  a.gateway_id = m.has("gateway_id") ? readString(ctx, m.get("gateway_id"), m.pathOf("gateway_id"))
                                     : hostName();
  checkGatewayId(a.gateway_id, m.pathOf("gateway_id"));
}

AuditParams readPolicyAudit(const Context& ctx, const YAML::Node& node, const std::string& path,
                            AuditParams fallback) {
  MapReader m(node, path, {"parameters"});
  if (!m.has("parameters")) return fallback;
  return static_cast<AuditParams>(
      readChoice(ctx, m.get("parameters"), m.pathOf("parameters"), kParamModes));
}

}  // namespace pgw::config::detail
