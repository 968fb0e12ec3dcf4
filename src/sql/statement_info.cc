#include "sql/statement_info.h"

#include "sql/kind_table.h"

namespace pgw::sql {

const char* toString(StatementKind kind) {
  const auto i = static_cast<std::size_t>(kind);
  // Table names are string literals, so NUL-terminated.
  return i < kinds::kKinds.size() ? kinds::kKinds[i].name.data() : "unknown";
}

}  // namespace pgw::sql
