// Statement kinds: one case per PostgreSQL 15 raw statement node, plus the
// statement-specific parts (COPY direction, EXPLAIN's target, DROP's
// objects...). What is not specific is left to the generic TreeWalker.

#include <utility>

#include "sql/analysis_context.h"
#include "sql/ddl_classifier.h"
#include "sql/settings.h"
#include "sql/tree_walker.h"

namespace pgw::sql::detail {
namespace {

using K = StatementKind;

/// How the generic walk sees relations named by the statement itself.
enum class Walk {
  None,  ///< the case walked what it needed
  Read,  ///< relations outside DML targets are read (queries, LOCK)
  Ddl,   ///< relations outside queries are changed (DDL, maintenance, GRANT)
};

/// Kinds whose statement changes data, schema, privileges or state outside
/// the session whatever its contents.
bool kindWrites(K kind) {
  switch (kind) {
    case K::Insert:
    case K::Update:
    case K::Delete:
    case K::Merge:
    case K::CopyFromStdin:
    case K::CopyFromFile:
    case K::CopyFromProgram:
    case K::CopyToFile:
    case K::CopyToProgram:  // write a server file / run a program
    case K::PrepareTransaction:
    case K::CommitPrepared:
    case K::RollbackPrepared:
    case K::Notify:
    case K::Call:
    case K::Do:
    case K::Vacuum:
    case K::Analyze:
    case K::Cluster:
    case K::Reindex:
    case K::Checkpoint:
    case K::Refresh:
    case K::Load:
    case K::Create:
    case K::Alter:
    case K::Drop:
    case K::Rename:
    case K::Comment:
    case K::SecurityLabel:
    case K::Truncate:
    case K::CreateTableAs:
    case K::Grant:
    case K::Revoke:
    case K::CreateRole:
    case K::AlterRole:
    case K::DropRole:
    case K::GrantRole:
    case K::RevokeRole:
    case K::ReassignOwned:
    case K::DropOwned:
    case K::CreateDatabase:
    case K::AlterDatabase:
    case K::DropDatabase:
    case K::AlterSystem:
    case K::CreateExtension:
    case K::AlterExtension:
    case K::DropExtension:
    case K::Other:  // valid but unclassified: assume the worst
      return true;
    default:
      return false;
  }
}

/// Kinds that return stored data whatever relations they name.
bool kindReads(K kind) {
  switch (kind) {
    case K::Select:
    case K::Values:
    case K::CopyToStdout:
    case K::CopyToFile:
    case K::CopyToProgram:
    case K::Fetch:
    case K::Execute:
    case K::Explain:
      return true;
    default:
      return false;
  }
}

/// A statement inside this one (EXPLAIN's target, PREPARE's body, ...).
void nestedStatement(const PgQuery__Node* node, Context& ctx, StatementInfo& info, Fold how) {
  if (node == nullptr) return;
  StatementInfo inner;
  classifyStatement(node, "", ctx, inner);
  fold(info, inner, how);
  info.nested.push_back(std::move(inner));
}

void copyStatement(const PgQuery__CopyStmt* c, Context& ctx, StatementInfo& info) {
  const bool file = !view(c->filename).empty();
  if (c->is_from) {
    info.kind = c->is_program ? K::CopyFromProgram : file ? K::CopyFromFile : K::CopyFromStdin;
  } else {
    info.kind = c->is_program ? K::CopyToProgram : file ? K::CopyToFile : K::CopyToStdout;
  }
  if (file) addName(info.objects, std::string(view(c->filename)));
  for (const PgQuery__Node* n : items(c->attlist, c->n_attlist)) {
    addName(info.columns, std::string(stringValue(n)));
  }
  TreeWalker walker(ctx, info);
  walker.relation(c->relation, !c->is_from, c->is_from);
  walker.walkFields(&c->base, {"relation"});
}

K transactionKind(PgQuery__TransactionStmtKind kind) {
  switch (kind) {
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
      return K::Begin;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
      return K::Commit;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
      return K::Rollback;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT:
      return K::Savepoint;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE:
      return K::ReleaseSavepoint;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
      return K::RollbackToSavepoint;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
      return K::PrepareTransaction;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
      return K::CommitPrepared;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
      return K::RollbackPrepared;
    default:
      return K::Other;
  }
}

K setKind(SetForm form) {
  switch (form) {
    case SetForm::Reset:
      return K::Reset;
    case SetForm::Transaction:
      return K::SetTransaction;
    case SetForm::Role:
      return K::SetRole;
    case SetForm::SessionAuthorization:
      return K::SetSessionAuthorization;
    case SetForm::Set:
      break;
  }
  return K::Set;
}

}  // namespace

void classifyStatement(const PgQuery__Node* stmt, std::string_view text, Context& ctx,
                       StatementInfo& info) {
  if (stmt == nullptr) return;
  if (unwrap(stmt) == nullptr) {
    info.kind = K::Other;
    info.writes = true;
    return;
  }
  const DepthStep step(ctx);
  if (!step.ok()) return;
  Walk walk = Walk::Ddl;
  switch (stmt->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT: {
      const PgQuery__SelectStmt* s = stmt->select_stmt;
      if (s->into_clause != nullptr) {
        info.kind = K::CreateTableAs;
        info.object_type = "table";
      } else {
        info.kind = s->n_values_lists > 0 ? K::Values : K::Select;
      }
      walk = Walk::Read;
      break;
    }
    case PG_QUERY__NODE__NODE_INSERT_STMT:
      info.kind = K::Insert;
      walk = Walk::Read;
      break;
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
      info.kind = K::Update;
      walk = Walk::Read;
      break;
    case PG_QUERY__NODE__NODE_DELETE_STMT:
      info.kind = K::Delete;
      walk = Walk::Read;
      break;
    case PG_QUERY__NODE__NODE_MERGE_STMT:
      info.kind = K::Merge;
      walk = Walk::Read;
      break;
    case PG_QUERY__NODE__NODE_COPY_STMT:
      copyStatement(stmt->copy_stmt, ctx, info);
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT: {
      const PgQuery__TransactionStmt* t = stmt->transaction_stmt;
      info.kind = transactionKind(t->kind);
      addTransactionModes(items(t->options, t->n_options), "", info);
      walk = Walk::None;
      break;
    }
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
      info.kind = setKind(addVariableSet(stmt->variable_set_stmt, info));
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_CONSTRAINTS_SET_STMT:
      info.kind = K::Set;
      addSetting(info, "constraints",
                 stmt->constraints_set_stmt->deferred ? "deferred" : "immediate");
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
      info.kind = K::Show;
      addSetting(info, asciiLower(view(stmt->variable_show_stmt->name)), "");
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
      info.kind = K::Discard;
      if (stmt->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL) {
        addSetting(info, "all", "DEFAULT");
      }
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
      info.kind = K::Prepare;
      info.prepared_name = std::string(view(stmt->prepare_stmt->name));
      nestedStatement(stmt->prepare_stmt->query, ctx, info, Fold::Runs);
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_EXECUTE_STMT:
      info.kind = K::Execute;
      info.prepared_name = std::string(view(stmt->execute_stmt->name));
      walk = Walk::Read;  // parameters are expressions
      break;
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
      info.kind = K::Deallocate;
      info.prepared_name = std::string(view(stmt->deallocate_stmt->name));
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
      info.kind = K::DeclareCursor;
      nestedStatement(stmt->declare_cursor_stmt->query, ctx, info, Fold::Runs);
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_FETCH_STMT:
      info.kind = stmt->fetch_stmt->ismove ? K::Move : K::Fetch;
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT:
      info.kind = K::ClosePortal;
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_LISTEN_STMT:
      info.kind = K::Listen;
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_UNLISTEN_STMT:
      info.kind = K::Unlisten;
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_NOTIFY_STMT:
      info.kind = K::Notify;
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT: {
      const PgQuery__ExplainStmt* e = stmt->explain_stmt;
      info.kind = K::Explain;
      // PostgreSQL takes the last ANALYZE option; any one that is not
      // plainly false counts here (fail closed).
      for (const PgQuery__Node* n : items(e->options, e->n_options)) {
        if (n != nullptr && n->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
            n->def_elem != nullptr && asciiLower(view(n->def_elem->defname)) == "analyze" &&
            defElemTrue(n->def_elem)) {
          info.explain_analyze = true;
        }
      }
      nestedStatement(e->query, ctx, info, info.explain_analyze ? Fold::Runs : Fold::PlansOnly);
      walk = Walk::None;
      break;
    }
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT: {
      const PgQuery__CreateTableAsStmt* c = stmt->create_table_as_stmt;
      info.kind = K::CreateTableAs;
      info.object_type = objectTypeName(c->objtype);
      if (c->is_select_into) info.select_into = true;
      if (c->into != nullptr) TreeWalker(ctx, info).relation(c->into->rel, false, true);
      nestedStatement(c->query, ctx, info, Fold::Runs);
      walk = Walk::None;
      break;
    }
    case PG_QUERY__NODE__NODE_CALL_STMT:
      info.kind = K::Call;
      walk = Walk::Read;
      break;
    case PG_QUERY__NODE__NODE_DO_STMT:
      info.kind = K::Do;
      analyzeDoBlock(stmt->do_stmt, text, ctx, info);
      walk = Walk::None;
      break;
    case PG_QUERY__NODE__NODE_LOCK_STMT:
      info.kind = K::Lock;
      // Modes above ROW EXCLUSIVE (3) block writers or everyone, and
      // PostgreSQL refuses them in a read-only transaction.
      if (stmt->lock_stmt->mode > 3) info.writes = true;
      walk = Walk::Read;
      break;
    case PG_QUERY__NODE__NODE_VACUUM_STMT:
      info.kind = stmt->vacuum_stmt->is_vacuumcmd ? K::Vacuum : K::Analyze;
      break;
    case PG_QUERY__NODE__NODE_CLUSTER_STMT:
      info.kind = K::Cluster;
      break;
    case PG_QUERY__NODE__NODE_REINDEX_STMT:
      info.kind = K::Reindex;
      if (!view(stmt->reindex_stmt->name).empty()) {
        addName(info.objects, std::string(view(stmt->reindex_stmt->name)));
      }
      break;
    case PG_QUERY__NODE__NODE_CHECK_POINT_STMT:
      info.kind = K::Checkpoint;
      break;
    case PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT:
      info.kind = K::Refresh;
      info.object_type = "materialized_view";
      break;
    case PG_QUERY__NODE__NODE_LOAD_STMT:
      info.kind = K::Load;
      addName(info.objects, std::string(view(stmt->load_stmt->filename)));
      break;
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
      info.kind = K::Truncate;
      info.object_type = "table";
      break;
    default:
      if (!classifyDdl(stmt, text, ctx, info)) {
        info.kind = K::Other;
        info.object_type = std::string(nodeName(stmt));
      }
      break;
  }
  if (walk != Walk::None) {
    TreeWalker walker(ctx, info, walk == Walk::Ddl);
    if (stmt->node_case == PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT) {
      walker.walkFields(unwrap(stmt), {"typevar"});
    } else {
      walker.walk(stmt);
    }
  }
  if (kindWrites(info.kind)) info.writes = true;
  if (kindReads(info.kind) || !info.relations_read.empty()) info.reads = true;
}

}  // namespace pgw::sql::detail
