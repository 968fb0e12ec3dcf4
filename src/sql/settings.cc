// Settings a statement changes or shows: SET / RESET / SHOW, transaction
// modes of BEGIN and SET TRANSACTION, ALTER SYSTEM / ROLE / DATABASE SET.

#include "sql/settings.h"

namespace pgw::sql::detail {
namespace {

/// The value of a transaction mode DefElem: read-only and deferrable come as
/// integers 0/1 and are given as "off"/"on", as SHOW would print them.
std::string transactionModeValue(const PgQuery__DefElem* def) {
  const PgQuery__Node* arg = def->arg;
  if (arg != nullptr && arg->node_case == PG_QUERY__NODE__NODE_A_CONST && arg->a_const != nullptr &&
      arg->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
    return arg->a_const->ival != nullptr && arg->a_const->ival->ival != 0 ? "on" : "off";
  }
  return constantText(arg).value_or("");
}

}  // namespace

void addTransactionModes(std::span<PgQuery__Node* const> options, std::string_view prefix,
                         StatementInfo& info) {
  for (const PgQuery__Node* n : options) {
    if (n == nullptr || n->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || n->def_elem == nullptr) {
      continue;
    }
    addSetting(info, std::string(prefix) + asciiLower(view(n->def_elem->defname)),
               transactionModeValue(n->def_elem));
  }
}

SetForm addVariableSet(const PgQuery__VariableSetStmt* s, StatementInfo& info) {
  if (s == nullptr) return SetForm::Set;
  const std::string name = asciiLower(view(s->name));
  switch (s->kind) {
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE: {
      std::string value;
      for (const PgQuery__Node* arg : items(s->args, s->n_args)) {
        if (!value.empty()) value += ", ";
        value += constantText(arg).value_or("");
      }
      addSetting(info, name, std::move(value));
      break;
    }
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
      addSetting(info, name, "DEFAULT");
      break;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_CURRENT:
      addSetting(info, name, "FROM CURRENT");
      break;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI:
      // SET TRANSACTION ... / SET SESSION CHARACTERISTICS AS TRANSACTION ...
      // / SET TRANSACTION SNAPSHOT '...'.
      if (name == "transaction snapshot") {
        const auto args = items(s->args, s->n_args);
        addSetting(info, "transaction_snapshot",
                   args.empty() ? std::string() : constantText(args[0]).value_or(""));
        return SetForm::Transaction;
      }
      if (name == "session characteristics") {
        addTransactionModes(items(s->args, s->n_args), "default_", info);
        return SetForm::Set;
      }
      addTransactionModes(items(s->args, s->n_args), "", info);
      return SetForm::Transaction;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET:
      addSetting(info, name, "DEFAULT");
      break;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL:
      addSetting(info, "all", "DEFAULT");
      return SetForm::Reset;
    default:
      break;
  }
  if (name == "role") return SetForm::Role;
  if (name == "session_authorization") return SetForm::SessionAuthorization;
  if (s->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET) return SetForm::Reset;
  return SetForm::Set;
}

}  // namespace pgw::sql::detail
