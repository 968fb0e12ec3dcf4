#include <algorithm>
#include <array>
#include <span>
#include <string_view>

#include "sql/analyzer.h"

namespace pgw::sql {
namespace {

/// A function name: exact, or a prefix when `prefix`.
struct NameEntry {
  std::string_view name;
  bool prefix = false;
};

bool matches(std::span<const NameEntry> table, std::string_view name) {
  return std::any_of(table.begin(), table.end(), [&](const NameEntry& e) {
    return e.prefix ? name.starts_with(e.name) : name == e.name;
  });
}

/// Calls that change something outside the statement's result: data,
/// sequences, large objects, locks held past the statement, other sessions,
/// the server's configuration, files, replication state, statistics.
constexpr std::array<NameEntry, 36> kSideEffects = {{
    {"nextval"},
    {"setval"},
    {"lo_", true},  // lo_import, lo_export, lo_create, lo_unlink, lo_put, lo_from_bytea, ...
    {"lowrite"},
    {"loread"},
    {"pg_advisory_lock", true},  // also _shared
    {"pg_advisory_xact_lock", true},
    {"pg_advisory_unlock", true},  // also _shared, _all
    {"pg_try_advisory_lock", true},
    {"pg_try_advisory_xact_lock", true},
    {"pg_terminate_backend"},
    {"pg_cancel_backend"},
    {"pg_signal_backend"},
    {"pg_reload_conf"},
    {"pg_rotate_logfile", true},
    {"pg_log_backend_memory_contexts"},
    {"pg_promote"},
    {"pg_notify"},
    {"dblink", true},    // dblink_exec, dblink (may run anything remotely), dblink_connect, ...
    {"pg_file_", true},  // adminpack: pg_file_write, pg_file_rename, pg_file_unlink, ...
    {"pg_switch_wal"},
    {"pg_create_restore_point"},
    {"pg_backup_start"},
    {"pg_backup_stop"},
    {"pg_start_backup"},
    {"pg_stop_backup"},
    {"pg_wal_replay_", true},
    {"pg_create_physical_replication_slot"},
    {"pg_create_logical_replication_slot"},
    {"pg_drop_replication_slot"},
    {"pg_copy_", true},  // pg_copy_physical/logical_replication_slot
    {"pg_replication_slot_advance"},
    {"pg_logical_slot_get_", true},  // consumes the slot's changes
    {"pg_logical_emit_message"},
    {"pg_replication_origin_", true},
    {"pg_stat_reset", true},
}};

/// Calls whose argument is SQL text (or a relation named as text) that runs.
constexpr std::array<NameEntry, 13> kDynamicSql = {{
    {"query_to_xml", true},  // also query_to_xml_and_xmlschema
    {"query_to_xmlschema"},
    {"cursor_to_xml", true},
    {"table_to_xml", true},
    {"schema_to_xml", true},
    {"database_to_xml", true},
    {"ts_stat"},
    {"ts_rewrite"},
    {"crosstab", true},  // tablefunc
    {"connectby"},
    {"dblink", true},
    {"pg_background_", true},
    {"run_command_on_", true},  // Citus
}};

}  // namespace

bool isSideEffectFunction(std::string_view name) {
  return matches(kSideEffects, name);
}

bool isDynamicSqlFunction(std::string_view name) {
  return matches(kDynamicSql, name);
}

}  // namespace pgw::sql
