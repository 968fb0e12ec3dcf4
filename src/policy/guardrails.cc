#include "policy/guardrails.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "policy/kind_names.h"

namespace pgw::policy {
namespace {

using config::AccessLevel;
using K = sql::StatementKind;

struct GuardrailEntry {
  Guardrail guardrail;
  std::string_view name;
  AccessLevel min_access;
  std::string_view advice;
};

constexpr std::array<GuardrailEntry, kGuardrailCount> kGuardrails = {{
    {Guardrail::DropDatabase, "drop_database", AccessLevel::Admin,
     "dropping a database cannot be undone; an administrator does it on the server"},
    {Guardrail::AlterSystem, "alter_system", AccessLevel::Admin,
     "ALTER SYSTEM rewrites the server configuration; an administrator does it on the server"},
    {Guardrail::DeleteWithoutWhere, "delete_without_where", AccessLevel::Write,
     "add a WHERE clause that selects the rows to delete"},
    {Guardrail::UpdateWithoutWhere, "update_without_where", AccessLevel::Write,
     "add a WHERE clause that selects the rows to change"},
    {Guardrail::Truncate, "truncate", AccessLevel::Ddl,
     "TRUNCATE removes every row at once; use DELETE ... WHERE for the rows you mean"},
    {Guardrail::CopyFile, "copy_file", AccessLevel::Admin,
     "COPY to or from a server file touches the database server's file system; move data "
     "through the client with COPY ... TO STDOUT / FROM STDIN (psql's \\copy)"},
    {Guardrail::CopyProgram, "copy_program", AccessLevel::Admin,
     "COPY ... PROGRAM runs a shell command on the database server; move data through the "
     "client with COPY ... TO STDOUT / FROM STDIN (psql's \\copy)"},
    {Guardrail::FileFunctions, "file_functions", AccessLevel::Read,
     "this function reads or writes files on the database server"},
    {Guardrail::Dblink, "dblink", AccessLevel::Read,
     "dblink opens database connections pgwarden does not see; connect through pgwarden instead"},
    {Guardrail::BackendSignals, "backend_signals", AccessLevel::Read,
     "this function signals or reconfigures server processes"},
    {Guardrail::AdminFunctions, "admin_functions", AccessLevel::Read,
     "this function controls WAL, backups, replication or statistics of the whole server"},
    {Guardrail::QueryFunctions, "query_functions", AccessLevel::Read,
     "this function runs SQL given as text (or reads tables named as text), which pgwarden "
     "cannot check; run the query itself"},
    {Guardrail::SetRole, "set_role", AccessLevel::Read,
     "pgwarden chooses the database role of a session; it cannot be switched"},
    {Guardrail::SecuritySettings, "security_settings", AccessLevel::Read,
     "this setting affects security, read-only mode or auditing; it stays as pgwarden set it"},
    {Guardrail::Load, "load", AccessLevel::Admin,
     "LOAD loads a shared library into the server process"},
    {Guardrail::CreateExtension, "create_extension", AccessLevel::Admin,
     "extensions install code into the database; an administrator installs them"},
    {Guardrail::RoleManagement, "role_management", AccessLevel::Admin,
     "roles and role memberships are managed by an administrator"},
}};

constexpr bool guardrailsInOrder() {
  for (std::size_t i = 0; i < kGuardrails.size(); ++i) {
    if (static_cast<std::size_t>(kGuardrails[i].guardrail) != i) return false;
  }
  return true;
}
static_assert(guardrailsInOrder(), "kGuardrails must follow the enumerator order");

/// A function name (exact, or a prefix when `prefix`) and its guardrail.
struct FunctionEntry {
  std::string_view name;
  Guardrail guardrail;
  bool prefix = false;
};

constexpr FunctionEntry kFunctions[] = {
    // Server files.
    {"pg_read_file", Guardrail::FileFunctions},
    {"pg_read_binary_file", Guardrail::FileFunctions},
    {"pg_stat_file", Guardrail::FileFunctions},
    {"pg_ls_", Guardrail::FileFunctions, true},    // pg_ls_dir, pg_ls_logdir, pg_ls_waldir, ...
    {"pg_file_", Guardrail::FileFunctions, true},  // adminpack: write, rename, unlink, sync, ...
    {"pg_logdir_ls", Guardrail::FileFunctions},
    {"lo_import", Guardrail::FileFunctions},
    {"lo_export", Guardrail::FileFunctions},
    // Connections the gateway does not see.
    {"dblink", Guardrail::Dblink, true},
    // Signals and reconfiguration.
    {"pg_terminate_backend", Guardrail::BackendSignals},
    {"pg_cancel_backend", Guardrail::BackendSignals},
    {"pg_signal_backend", Guardrail::BackendSignals},
    {"pg_reload_conf", Guardrail::BackendSignals},
    {"pg_rotate_logfile", Guardrail::BackendSignals, true},
    {"pg_log_backend_memory_contexts", Guardrail::BackendSignals},
    {"pg_promote", Guardrail::BackendSignals},
    // Whole-server administration.
    {"pg_switch_wal", Guardrail::AdminFunctions},
    {"pg_switch_xlog", Guardrail::AdminFunctions},
    {"pg_create_restore_point", Guardrail::AdminFunctions},
    {"pg_backup_start", Guardrail::AdminFunctions},
    {"pg_backup_stop", Guardrail::AdminFunctions},
    {"pg_start_backup", Guardrail::AdminFunctions},
    {"pg_stop_backup", Guardrail::AdminFunctions},
    {"pg_wal_replay_", Guardrail::AdminFunctions, true},
    {"pg_create_physical_replication_slot", Guardrail::AdminFunctions},
    {"pg_create_logical_replication_slot", Guardrail::AdminFunctions},
    {"pg_drop_replication_slot", Guardrail::AdminFunctions},
    {"pg_copy_physical_replication_slot", Guardrail::AdminFunctions},
    {"pg_copy_logical_replication_slot", Guardrail::AdminFunctions},
    {"pg_replication_slot_advance", Guardrail::AdminFunctions},
    {"pg_logical_slot_", Guardrail::AdminFunctions, true},  // get/peek changes: every table's rows
    {"pg_logical_emit_message", Guardrail::AdminFunctions},
    {"pg_replication_origin_", Guardrail::AdminFunctions, true},
    {"pg_stat_reset", Guardrail::AdminFunctions, true},
    {"pg_stat_statements_reset", Guardrail::AdminFunctions},
    {"pg_import_system_collations", Guardrail::AdminFunctions},
    // SQL passed as text.
    {"query_to_xml", Guardrail::QueryFunctions, true},  // also _and_xmlschema
    {"query_to_xmlschema", Guardrail::QueryFunctions},
    {"table_to_xml", Guardrail::QueryFunctions, true},
    {"schema_to_xml", Guardrail::QueryFunctions, true},
    {"database_to_xml", Guardrail::QueryFunctions, true},
    {"ts_stat", Guardrail::QueryFunctions},
    {"ts_rewrite", Guardrail::QueryFunctions},
    {"crosstab", Guardrail::QueryFunctions, true},
    {"connectby", Guardrail::QueryFunctions},
    {"pg_background_", Guardrail::QueryFunctions, true},
    {"run_command_on_", Guardrail::QueryFunctions, true},
};

/// Settings whose change weakens security, read-only mode or auditing.
/// Exact names, and prefixes ending in '_' or '.'.
constexpr std::string_view kSecuritySettings[] = {
    "session_replication_role",  // replica: triggers (and FK checks) stop firing
    "row_security",
    "lo_compat_privileges",
    "allow_system_table_mods",
    "allow_in_place_tablespaces",
    "ignore_system_indexes",
    "ignore_checksum_failure",
    "ignore_invalid_pages",
    "zero_damaged_pages",
    "session_preload_libraries",
    "local_preload_libraries",
    "shared_preload_libraries",
    "dynamic_library_path",
    "event_triggers",
    "track_activities",
    "track_counts",
    "track_functions",
    "compute_query_id",
    "log_",  // log_statement, log_min_duration_statement, log_min_messages, ...
    "pgaudit.",
    "pg_stat_statements.",
    "anon.",  // postgresql_anonymizer
};

constexpr std::string_view kWritingFunctions[] = {
    "nextval",   "setval",        "lo_create", "lo_creat",    "lo_unlink",
    "lo_put",    "lo_from_bytea", "lowrite",   "lo_truncate", "lo_truncate64",
    "lo_import", "lo_export",     "pg_notify",
};

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<Guardrail> functionGuardrail(std::string_view name) {
  for (const FunctionEntry& f : kFunctions) {
    if (f.prefix ? startsWith(name, f.name) : name == f.name) return f.guardrail;
  }
  return std::nullopt;
}

bool isSecuritySetting(std::string_view name) {
  return std::any_of(std::begin(kSecuritySettings), std::end(kSecuritySettings),
                     [&](std::string_view s) {
                       const char last = s.back();
                       return (last == '_' || last == '.') ? startsWith(name, s) : name == s;
                     });
}

/// SET ROLE NONE / SET ROLE DEFAULT / SET SESSION AUTHORIZATION DEFAULT go
/// back to the session's own role.
bool isRoleReset(std::string_view value) {
  const std::string word = settingWord(value);
  return word == "none" || word == "default";
}

const std::string* settingValue(const sql::StatementInfo& stmt, std::string_view name) {
  for (const auto& [n, v] : stmt.settings) {
    if (lower(n) == name) return &v;
  }
  return nullptr;
}

/// Calls set_config() with no analyzed setting: the name is not a constant.
bool hasUncheckedSetConfig(const sql::StatementInfo& stmt) {
  if (!stmt.settings.empty()) return false;
  return std::any_of(stmt.functions.begin(), stmt.functions.end(),
                     [](const sql::FunctionRef& f) { return lower(f.name) == "set_config"; });
}

bool isRoleKind(K kind) {
  switch (kind) {
    case K::CreateRole:
    case K::AlterRole:
    case K::DropRole:
    case K::GrantRole:
    case K::RevokeRole:
    case K::ReassignOwned:
    case K::DropOwned:
      return true;
    default:
      return false;
  }
}

bool isRoleObject(std::string_view object_type) {
  return object_type == "role" || object_type == "user" || object_type == "group";
}

/// Collects hits in enumerator-independent check order and returns the
/// first one not lifted.
class Checker {
 public:
  explicit Checker(const GuardrailSet& lifted) : lifted_(lifted) {}

  bool hit(Guardrail g, std::string what) {
    if (found_ || lifted_.test(static_cast<std::size_t>(g))) return false;
    found_ = GuardrailHit{g, std::move(what)};
    return true;
  }
  bool done() const { return found_.has_value(); }
  std::optional<GuardrailHit> take() { return std::move(found_); }

 private:
  const GuardrailSet& lifted_;
  std::optional<GuardrailHit> found_;
};

void checkKind(const sql::StatementInfo& stmt, Checker& c) {
  const std::string display = kindDisplay(stmt.kind, stmt.object_type);
  switch (stmt.kind) {
    case K::DropDatabase:
      c.hit(Guardrail::DropDatabase, display);
      break;
    case K::AlterSystem:
      c.hit(Guardrail::AlterSystem, display);
      break;
    case K::Truncate:
      c.hit(Guardrail::Truncate, display);
      break;
    case K::CopyToFile:
    case K::CopyFromFile:
      c.hit(Guardrail::CopyFile, display);
      break;
    case K::CopyToProgram:
    case K::CopyFromProgram:
      c.hit(Guardrail::CopyProgram, display);
      break;
    case K::Load:
      c.hit(Guardrail::Load, display);
      break;
    case K::CreateExtension:
    case K::AlterExtension:
      c.hit(Guardrail::CreateExtension, display);
      break;
    case K::SetRole: {
      const std::string* v = settingValue(stmt, "role");
      if (v == nullptr || !isRoleReset(*v)) c.hit(Guardrail::SetRole, display);
      break;
    }
    case K::SetSessionAuthorization: {
      const std::string* v = settingValue(stmt, "session_authorization");
      if (v == nullptr || settingWord(*v) != "default") c.hit(Guardrail::SetRole, display);
      break;
    }
    default:
      if (isRoleKind(stmt.kind) || isRoleObject(stmt.object_type)) {
        c.hit(Guardrail::RoleManagement, display);
      }
      break;
  }
}

void checkMissingWhere(const sql::StatementInfo& stmt, Checker& c) {
  if (!stmt.missing_where) return;
  if (stmt.kind == K::Update) {
    c.hit(Guardrail::UpdateWithoutWhere, "UPDATE without WHERE");
  } else if (stmt.kind == K::Delete) {
    c.hit(Guardrail::DeleteWithoutWhere, "DELETE without WHERE");
  } else {
    // Inside a data-modifying CTE: the flag does not say which of the two.
    const std::string where = kindDisplay(stmt.kind, stmt.object_type);
    c.hit(Guardrail::DeleteWithoutWhere,
          fmt::format("DELETE or UPDATE without WHERE in {}", where));
    c.hit(Guardrail::UpdateWithoutWhere,
          fmt::format("DELETE or UPDATE without WHERE in {}", where));
  }
}

void checkFunctions(const sql::StatementInfo& stmt, Checker& c) {
  for (const sql::FunctionRef& f : stmt.functions) {
    const std::string name = lower(f.name);
    if (auto g = functionGuardrail(name); g && c.hit(*g, fmt::format("calling {}()", name))) return;
  }
}

void checkSettings(const sql::StatementInfo& stmt, Checker& c) {
  if (stmt.kind == K::Reset) {
    for (const auto& [raw_name, value] : stmt.settings) {
      if (lower(raw_name) == "transaction_read_only") {
        c.hit(Guardrail::SecuritySettings,
              "RESET transaction_read_only, which makes the transaction read-write");
        return;
      }
    }
  }
  if (!assignsSettings(stmt)) return;
  const std::string display = kindDisplay(stmt.kind, stmt.object_type);
  if (hasUncheckedSetConfig(stmt)) {
    const std::string what = "calling set_config() with a setting name that is not a constant";
    c.hit(Guardrail::SetRole, what);
    c.hit(Guardrail::SecuritySettings, what);
    return;
  }
  for (const auto& [raw_name, value] : stmt.settings) {
    const std::string name = lower(raw_name);
    if (name.empty() || name == "*") {
      const std::string what = fmt::format("{} of a setting whose name is not a constant", display);
      c.hit(Guardrail::SetRole, what);
      c.hit(Guardrail::SecuritySettings, what);
    } else if (name == "role" || name == "session_authorization") {
      if (!isRoleReset(value))
        c.hit(Guardrail::SetRole, fmt::format("{} setting {}", display, name));
    } else if (turnsReadOnlyOff(name, value)) {
      c.hit(Guardrail::SecuritySettings, fmt::format("{} turning {} off", display, name));
    } else if (isSecuritySetting(name)) {
      c.hit(Guardrail::SecuritySettings, fmt::format("{} setting {}", display, name));
    }
    if (c.done()) return;
  }
}

}  // namespace

std::string_view guardrailName(Guardrail g) {
  return kGuardrails[static_cast<std::size_t>(g)].name;
}

std::optional<Guardrail> guardrailFromName(std::string_view name) {
  for (const GuardrailEntry& e : kGuardrails) {
    if (e.name == name) return e.guardrail;
  }
  return std::nullopt;
}

std::string guardrailNames() {
  std::string out;
  for (const GuardrailEntry& e : kGuardrails) {
    if (!out.empty()) out += ", ";
    out += e.name;
  }
  return out;
}

config::AccessLevel guardrailMinAccess(Guardrail g) {
  return kGuardrails[static_cast<std::size_t>(g)].min_access;
}

std::string_view guardrailAdvice(Guardrail g) {
  return kGuardrails[static_cast<std::size_t>(g)].advice;
}

std::optional<GuardrailHit> checkGuardrails(const sql::StatementInfo& stmt,
                                            const GuardrailSet& lifted) {
  Checker c(lifted);
  checkKind(stmt, c);
  if (!c.done()) checkMissingWhere(stmt, c);
  if (!c.done()) checkFunctions(stmt, c);
  if (!c.done()) checkSettings(stmt, c);
  return c.take();
}

bool assignsSettings(const sql::StatementInfo& stmt) {
  return stmt.kind != K::Show && stmt.kind != K::Reset && stmt.kind != K::Unparsed;
}

bool turnsReadOnlyOff(std::string_view name, std::string_view value) {
  if (name != "default_transaction_read_only" && name != "transaction_read_only") return false;
  const std::string word = settingWord(value);
  // default_transaction_read_only's default is the session's (the gateway
  // sets it at login); transaction_read_only's is the built-in off, not
  // default_transaction_read_only — RESET makes the transaction read-write.
  if (word == "default") return name == "transaction_read_only";
  static constexpr std::string_view kOn[] = {"on", "true", "yes", "1", "t", "tr", "tru", "y", "ye"};
  return std::find(std::begin(kOn), std::end(kOn), word) == std::end(kOn);
}

bool writesPgSettings(const sql::StatementInfo& stmt) {
  return std::any_of(stmt.relations_written.begin(), stmt.relations_written.end(),
                     [](const sql::RelationRef& r) {
                       return lower(r.name) == "pg_settings" &&
                              (r.schema.empty() || lower(r.schema) == "pg_catalog");
                     });
}

bool setsUnknownSetting(const sql::StatementInfo& stmt) {
  if (!assignsSettings(stmt)) return false;
  if (hasUncheckedSetConfig(stmt)) return true;
  return std::any_of(stmt.settings.begin(), stmt.settings.end(),
                     [](const auto& s) { return s.first.empty() || s.first == "*"; });
}

bool changesSqlReading(std::string_view name, std::string_view value) {
  const std::string word = settingWord(value);
  if (word == "default") return false;
  if (name == "standard_conforming_strings") {
    return word != "on" && word != "true" && word != "yes" && word != "1";
  }
  if (name == "client_encoding") {
    return word != "utf8" && word != "utf-8" && word != "unicode";
  }
  return false;
}

bool isWritingFunction(std::string_view name) {
  return std::find(std::begin(kWritingFunctions), std::end(kWritingFunctions), name) !=
         std::end(kWritingFunctions);
}

std::string settingWord(std::string_view value) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front())) != 0) {
    value.remove_prefix(1);
  }
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())) != 0) {
    value.remove_suffix(1);
  }
  if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
      value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  return lower(value);
}

}  // namespace pgw::policy
