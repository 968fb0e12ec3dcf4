#pragma once
/// Human-readable dump of an analysis, for test failure messages.

#include <string>

#include "sql/analyzer.h"

namespace pgw::sql::test {

inline std::string describe(const StatementInfo& s, const std::string& indent = "") {
  std::string out = indent + toString(s.kind);
  if (!s.object_type.empty()) out += "(" + s.object_type + ")";
  if (s.reads) out += " reads";
  if (s.writes) out += " writes";
  if (s.missing_where) out += " missing_where";
  if (s.data_modifying_cte) out += " data_modifying_cte";
  if (s.select_into) out += " select_into";
  if (s.locking_clause) out += " locking_clause";
  if (s.explain_analyze) out += " explain_analyze";
  if (s.dynamic_sql) out += " dynamic_sql";
  auto rels = [](const std::vector<RelationRef>& v) {
    std::string r;
    for (const auto& x : v)
      r += (r.empty() ? "" : ",") + (x.schema.empty() ? "" : x.schema + ".") + x.name;
    return r;
  };
  if (!s.relations_read.empty()) out += " R[" + rels(s.relations_read) + "]";
  if (!s.relations_written.empty()) out += " W[" + rels(s.relations_written) + "]";
  std::string f;
  for (const auto& x : s.functions)
    f += (f.empty() ? "" : ",") + (x.schema.empty() ? "" : x.schema + ".") + x.name;
  if (!f.empty()) out += " F[" + f + "]";
  std::string c;
  for (const auto& x : s.columns) c += (c.empty() ? "" : ",") + x;
  if (!c.empty()) out += " C[" + c + "]";
  std::string o;
  for (const auto& x : s.objects) o += (o.empty() ? "" : ",") + x;
  if (!o.empty()) out += " O[" + o + "]";
  std::string st;
  for (const auto& [n, v] : s.settings) st += (st.empty() ? "" : ",") + n + "=" + v;
  if (!st.empty()) out += " S[" + st + "]";
  if (!s.error.empty()) out += " error{" + s.error + "}";
  out += "\n";
  for (const auto& n : s.nested) out += describe(n, indent + "  ");
  return out;
}

inline std::string describe(const Analysis& a) {
  std::string out = a.parsed ? "" : "(not parsed)\n";
  for (const auto& s : a.statements) out += describe(s);
  return out;
}

}  // namespace pgw::sql::test
