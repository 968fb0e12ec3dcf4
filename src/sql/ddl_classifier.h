#pragma once
/// Kinds of DDL, privilege, role, database and extension statements.

#include <string_view>

#include "sql/analysis_context.h"

namespace pgw::sql::detail {

/// Sets the kind, object type, objects (and for ALTER ... SET, settings) of
/// a DDL-like statement; false when `stmt` is not one it knows. Relations
/// are not recorded here: the caller's generic walk does that.
bool classifyDdl(const PgQuery__Node* stmt, std::string_view text, Context& ctx,
                 StatementInfo& info);

}  // namespace pgw::sql::detail
