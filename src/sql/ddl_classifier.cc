// DDL, privileges, roles, databases and extensions: kind, object type and
// the objects named. Relations are left to the generic walk (DDL mode).

#include "sql/ddl_classifier.h"

#include <array>
#include <utility>

#include "sql/settings.h"

namespace pgw::sql::detail {
namespace {

using K = StatementKind;

/// Simple statements: a kind and object type, then the generic DDL walk.
struct SimpleEntry {
  PgQuery__Node__NodeCase node;
  K kind;
  const char* object_type;
};

constexpr std::array<SimpleEntry, 39> kSimple = {{
    {PG_QUERY__NODE__NODE_CREATE_STMT, K::Create, "table"},
    {PG_QUERY__NODE__NODE_CREATE_FOREIGN_TABLE_STMT, K::Create, "foreign_table"},
    {PG_QUERY__NODE__NODE_IMPORT_FOREIGN_SCHEMA_STMT, K::Create, "foreign_table"},
    {PG_QUERY__NODE__NODE_INDEX_STMT, K::Create, "index"},
    {PG_QUERY__NODE__NODE_VIEW_STMT, K::Create, "view"},
    {PG_QUERY__NODE__NODE_CREATE_SEQ_STMT, K::Create, "sequence"},
    {PG_QUERY__NODE__NODE_RULE_STMT, K::Create, "rule"},
    {PG_QUERY__NODE__NODE_CREATE_POLICY_STMT, K::Create, "policy"},
    {PG_QUERY__NODE__NODE_CREATE_PLANG_STMT, K::Create, "language"},
    {PG_QUERY__NODE__NODE_CREATE_CONVERSION_STMT, K::Create, "conversion"},
    {PG_QUERY__NODE__NODE_CREATE_CAST_STMT, K::Create, "cast"},
    {PG_QUERY__NODE__NODE_CREATE_OP_CLASS_STMT, K::Create, "operator_class"},
    {PG_QUERY__NODE__NODE_CREATE_OP_FAMILY_STMT, K::Create, "operator_family"},
    {PG_QUERY__NODE__NODE_CREATE_TABLE_SPACE_STMT, K::Create, "tablespace"},
    {PG_QUERY__NODE__NODE_CREATE_FDW_STMT, K::Create, "foreign_data_wrapper"},
    {PG_QUERY__NODE__NODE_CREATE_FOREIGN_SERVER_STMT, K::Create, "server"},
    {PG_QUERY__NODE__NODE_CREATE_USER_MAPPING_STMT, K::Create, "user_mapping"},
    {PG_QUERY__NODE__NODE_CREATE_AM_STMT, K::Create, "access_method"},
    {PG_QUERY__NODE__NODE_CREATE_TRANSFORM_STMT, K::Create, "transform"},
    {PG_QUERY__NODE__NODE_CREATE_PUBLICATION_STMT, K::Create, "publication"},
    {PG_QUERY__NODE__NODE_CREATE_SUBSCRIPTION_STMT, K::Create, "subscription"},
    {PG_QUERY__NODE__NODE_CREATE_STATS_STMT, K::Create, "statistics"},
    {PG_QUERY__NODE__NODE_ALTER_SEQ_STMT, K::Alter, "sequence"},
    {PG_QUERY__NODE__NODE_ALTER_DOMAIN_STMT, K::Alter, "domain"},
    {PG_QUERY__NODE__NODE_ALTER_ENUM_STMT, K::Alter, "type"},
    {PG_QUERY__NODE__NODE_ALTER_TYPE_STMT, K::Alter, "type"},
    {PG_QUERY__NODE__NODE_ALTER_OPERATOR_STMT, K::Alter, "operator"},
    {PG_QUERY__NODE__NODE_ALTER_OP_FAMILY_STMT, K::Alter, "operator_family"},
    {PG_QUERY__NODE__NODE_ALTER_POLICY_STMT, K::Alter, "policy"},
    {PG_QUERY__NODE__NODE_ALTER_EVENT_TRIG_STMT, K::Alter, "event_trigger"},
    {PG_QUERY__NODE__NODE_ALTER_TABLE_SPACE_OPTIONS_STMT, K::Alter, "tablespace"},
    {PG_QUERY__NODE__NODE_ALTER_FDW_STMT, K::Alter, "foreign_data_wrapper"},
    {PG_QUERY__NODE__NODE_ALTER_FOREIGN_SERVER_STMT, K::Alter, "server"},
    {PG_QUERY__NODE__NODE_ALTER_USER_MAPPING_STMT, K::Alter, "user_mapping"},
    {PG_QUERY__NODE__NODE_ALTER_PUBLICATION_STMT, K::Alter, "publication"},
    {PG_QUERY__NODE__NODE_ALTER_SUBSCRIPTION_STMT, K::Alter, "subscription"},
    {PG_QUERY__NODE__NODE_ALTER_STATS_STMT, K::Alter, "statistics"},
    {PG_QUERY__NODE__NODE_ALTER_COLLATION_STMT, K::Alter, "collation"},
    {PG_QUERY__NODE__NODE_REPLICA_IDENTITY_STMT, K::Alter, "table"},
}};

const SimpleEntry* simpleEntry(PgQuery__Node__NodeCase node) {
  for (const SimpleEntry& e : kSimple) {
    if (e.node == node) return &e;
  }
  return nullptr;
}

/// A role as written: its name, or CURRENT_USER / SESSION_USER / PUBLIC.
std::string roleName(const PgQuery__RoleSpec* role) {
  if (role == nullptr) return "";
  switch (role->roletype) {
    case PG_QUERY__ROLE_SPEC_TYPE__ROLESPEC_CSTRING:
      return std::string(view(role->rolename));
    case PG_QUERY__ROLE_SPEC_TYPE__ROLESPEC_CURRENT_ROLE:
      return "current_role";
    case PG_QUERY__ROLE_SPEC_TYPE__ROLESPEC_CURRENT_USER:
      return "current_user";
    case PG_QUERY__ROLE_SPEC_TYPE__ROLESPEC_SESSION_USER:
      return "session_user";
    case PG_QUERY__ROLE_SPEC_TYPE__ROLESPEC_PUBLIC:
      return "public";
    default:
      return "";
  }
}

void addRoles(std::span<PgQuery__Node* const> roles, StatementInfo& info) {
  for (const PgQuery__Node* n : roles) {
    if (n != nullptr && n->node_case == PG_QUERY__NODE__NODE_ROLE_SPEC) {
      addName(info.objects, roleName(n->role_spec));
    }
  }
}

/// A relation named by a list of String nodes ([schema,] name).
RelationRef relationFromNames(std::span<PgQuery__Node* const> names) {
  RelationRef ref;
  if (!names.empty()) ref.name = stringValue(names.back());
  if (names.size() >= 2) ref.schema = stringValue(names[names.size() - 2]);
  return ref;
}

/// The object named by a DROP / COMMENT / ALTER ... OWNER node: a relation
/// for relation types, otherwise a dotted name in `objects`.
void addObject(const PgQuery__Node* object, PgQuery__ObjectType type, StatementInfo& info) {
  if (object == nullptr) return;
  switch (object->node_case) {
    case PG_QUERY__NODE__NODE_LIST: {
      const auto names = items(object->list->items, object->list->n_items);
      if (isRelationObjectType(type)) {
        addRelation(info.relations_written, relationFromNames(names));
      } else {
        addName(info.objects, dottedName(names));
      }
      break;
    }
    case PG_QUERY__NODE__NODE_STRING:
      addName(info.objects, std::string(stringValue(object)));
      break;
    case PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS:
      addName(info.objects, dottedName(items(object->object_with_args->objname,
                                             object->object_with_args->n_objname)));
      break;
    case PG_QUERY__NODE__NODE_TYPE_NAME:
      addName(info.objects,
              dottedName(items(object->type_name->names, object->type_name->n_names)));
      break;
    case PG_QUERY__NODE__NODE_ROLE_SPEC:
      addName(info.objects, roleName(object->role_spec));
      break;
    default:
      break;
  }
}

/// Statements about roles, databases, privileges and extensions.
bool classifyAdministration(const PgQuery__Node* stmt, StatementInfo& info) {
  switch (stmt->node_case) {
    case PG_QUERY__NODE__NODE_GRANT_STMT: {
      const PgQuery__GrantStmt* g = stmt->grant_stmt;
      info.kind = g->is_grant ? K::Grant : K::Revoke;
      info.object_type = objectTypeName(g->objtype);
      for (const PgQuery__Node* n : items(g->objects, g->n_objects)) {
        if (n != nullptr && n->node_case != PG_QUERY__NODE__NODE_RANGE_VAR) {
          addObject(n, g->objtype, info);
        }
      }
      return true;
    }
    case PG_QUERY__NODE__NODE_ALTER_DEFAULT_PRIVILEGES_STMT: {
      const PgQuery__GrantStmt* g = stmt->alter_default_privileges_stmt->action;
      info.kind = g == nullptr || g->is_grant ? K::Grant : K::Revoke;
      info.object_type = "default_privileges";
      return true;
    }
    case PG_QUERY__NODE__NODE_GRANT_ROLE_STMT: {
      const PgQuery__GrantRoleStmt* g = stmt->grant_role_stmt;
      info.kind = g->is_grant ? K::GrantRole : K::RevokeRole;
      info.object_type = "role";
      for (const PgQuery__Node* n : items(g->granted_roles, g->n_granted_roles)) {
        if (n != nullptr && n->node_case == PG_QUERY__NODE__NODE_ACCESS_PRIV) {
          addName(info.objects, std::string(view(n->access_priv->priv_name)));
        }
      }
      return true;
    }
    case PG_QUERY__NODE__NODE_CREATE_ROLE_STMT: {
      const PgQuery__CreateRoleStmt* r = stmt->create_role_stmt;
      info.kind = K::CreateRole;
      info.object_type = r->stmt_type == PG_QUERY__ROLE_STMT_TYPE__ROLESTMT_USER    ? "user"
                         : r->stmt_type == PG_QUERY__ROLE_STMT_TYPE__ROLESTMT_GROUP ? "group"
                                                                                    : "role";
      addName(info.objects, std::string(view(r->role)));
      return true;
    }
    case PG_QUERY__NODE__NODE_ALTER_ROLE_STMT:
      info.kind = K::AlterRole;
      info.object_type = "role";
      addName(info.objects, roleName(stmt->alter_role_stmt->role));
      return true;
    case PG_QUERY__NODE__NODE_ALTER_ROLE_SET_STMT:
      info.kind = K::AlterRole;
      info.object_type = "role";
      addName(info.objects, roleName(stmt->alter_role_set_stmt->role));
      addVariableSet(stmt->alter_role_set_stmt->setstmt, info);
      return true;
    case PG_QUERY__NODE__NODE_DROP_ROLE_STMT:
      info.kind = K::DropRole;
      info.object_type = "role";
      addRoles(items(stmt->drop_role_stmt->roles, stmt->drop_role_stmt->n_roles), info);
      return true;
    case PG_QUERY__NODE__NODE_REASSIGN_OWNED_STMT:
      info.kind = K::ReassignOwned;
      addRoles(items(stmt->reassign_owned_stmt->roles, stmt->reassign_owned_stmt->n_roles), info);
      return true;
    case PG_QUERY__NODE__NODE_DROP_OWNED_STMT:
      info.kind = K::DropOwned;
      addRoles(items(stmt->drop_owned_stmt->roles, stmt->drop_owned_stmt->n_roles), info);
      return true;
    case PG_QUERY__NODE__NODE_CREATEDB_STMT:
      info.kind = K::CreateDatabase;
      info.object_type = "database";
      addName(info.objects, std::string(view(stmt->createdb_stmt->dbname)));
      return true;
    case PG_QUERY__NODE__NODE_DROPDB_STMT:
      info.kind = K::DropDatabase;
      info.object_type = "database";
      addName(info.objects, std::string(view(stmt->dropdb_stmt->dbname)));
      return true;
    case PG_QUERY__NODE__NODE_ALTER_DATABASE_STMT:
      info.kind = K::AlterDatabase;
      info.object_type = "database";
      addName(info.objects, std::string(view(stmt->alter_database_stmt->dbname)));
      return true;
    case PG_QUERY__NODE__NODE_ALTER_DATABASE_REFRESH_COLL_STMT:
      info.kind = K::AlterDatabase;
      info.object_type = "database";
      addName(info.objects, std::string(view(stmt->alter_database_refresh_coll_stmt->dbname)));
      return true;
    case PG_QUERY__NODE__NODE_ALTER_DATABASE_SET_STMT:
      info.kind = K::AlterDatabase;
      info.object_type = "database";
      addName(info.objects, std::string(view(stmt->alter_database_set_stmt->dbname)));
      addVariableSet(stmt->alter_database_set_stmt->setstmt, info);
      return true;
    case PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT:
      info.kind = K::AlterSystem;
      addVariableSet(stmt->alter_system_stmt->setstmt, info);
      return true;
    case PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT:
      info.kind = K::CreateExtension;
      info.object_type = "extension";
      addName(info.objects, std::string(view(stmt->create_extension_stmt->extname)));
      return true;
    case PG_QUERY__NODE__NODE_ALTER_EXTENSION_STMT:
      info.kind = K::AlterExtension;
      info.object_type = "extension";
      addName(info.objects, std::string(view(stmt->alter_extension_stmt->extname)));
      return true;
    case PG_QUERY__NODE__NODE_ALTER_EXTENSION_CONTENTS_STMT:
      info.kind = K::AlterExtension;
      info.object_type = "extension";
      addName(info.objects, std::string(view(stmt->alter_extension_contents_stmt->extname)));
      return true;
    default:
      return false;
  }
}

bool classifyOtherDdl(const PgQuery__Node* stmt, std::string_view text, Context& ctx,
                      StatementInfo& info) {
  switch (stmt->node_case) {
    case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT: {
      const PgQuery__CreateFunctionStmt* f = stmt->create_function_stmt;
      info.kind = K::Create;
      info.object_type = f->is_procedure ? "procedure" : "function";
      addName(info.objects, dottedName(items(f->funcname, f->n_funcname)));
      analyzeFunctionBody(f, text, ctx, info);
      return true;
    }
    case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT: {
      const PgQuery__CreateTrigStmt* t = stmt->create_trig_stmt;
      info.kind = K::Create;
      info.object_type = "trigger";
      addName(info.objects, std::string(view(t->trigname)));
      const auto names = items(t->funcname, t->n_funcname);
      FunctionRef fn;  // runs on every matching change to the table
      if (!names.empty()) fn.name = asciiLower(stringValue(names.back()));
      if (names.size() >= 2) fn.schema = asciiLower(stringValue(names[names.size() - 2]));
      addFunction(info.functions, std::move(fn));
      return true;
    }
    case PG_QUERY__NODE__NODE_CREATE_EVENT_TRIG_STMT: {
      const PgQuery__CreateEventTrigStmt* t = stmt->create_event_trig_stmt;
      info.kind = K::Create;
      info.object_type = "event_trigger";
      addName(info.objects, std::string(view(t->trigname)));
      const auto names = items(t->funcname, t->n_funcname);
      if (!names.empty()) {
        addFunction(info.functions,
                    FunctionRef{names.size() >= 2 ? asciiLower(stringValue(names[0])) : "",
                                asciiLower(stringValue(names.back()))});
      }
      return true;
    }
    case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT:
      info.kind = K::Create;
      info.object_type = "schema";
      addName(info.objects, std::string(view(stmt->create_schema_stmt->schemaname)));
      return true;
    case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT: {
      const PgQuery__RangeVar* rv = stmt->composite_type_stmt->typevar;
      info.kind = K::Create;
      info.object_type = "type";
      if (rv != nullptr) {
        std::string name(view(rv->schemaname));
        if (!name.empty()) name += '.';
        name += view(rv->relname);
        addName(info.objects, std::move(name));
      }
      return true;
    }
    case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
      info.kind = K::Create;
      info.object_type = "type";
      addName(info.objects, dottedName(items(stmt->create_enum_stmt->type_name,
                                             stmt->create_enum_stmt->n_type_name)));
      return true;
    case PG_QUERY__NODE__NODE_CREATE_RANGE_STMT:
      info.kind = K::Create;
      info.object_type = "type";
      addName(info.objects, dottedName(items(stmt->create_range_stmt->type_name,
                                             stmt->create_range_stmt->n_type_name)));
      return true;
    case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
      info.kind = K::Create;
      info.object_type = "domain";
      addName(info.objects, dottedName(items(stmt->create_domain_stmt->domainname,
                                             stmt->create_domain_stmt->n_domainname)));
      return true;
    case PG_QUERY__NODE__NODE_DEFINE_STMT: {
      const PgQuery__DefineStmt* d = stmt->define_stmt;
      info.kind = K::Create;
      info.object_type = objectTypeName(d->kind);
      addName(info.objects, dottedName(items(d->defnames, d->n_defnames)));
      return true;
    }
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
      info.kind = K::Alter;
      info.object_type = objectTypeName(stmt->alter_table_stmt->objtype);
      return true;
    case PG_QUERY__NODE__NODE_ALTER_TABLE_MOVE_ALL_STMT:
      info.kind = K::Alter;
      info.object_type = objectTypeName(stmt->alter_table_move_all_stmt->objtype);
      return true;
    case PG_QUERY__NODE__NODE_ALTER_FUNCTION_STMT: {
      const PgQuery__AlterFunctionStmt* f = stmt->alter_function_stmt;
      info.kind = K::Alter;
      info.object_type = objectTypeName(f->objtype);
      if (f->func != nullptr)
        addName(info.objects, dottedName(items(f->func->objname, f->func->n_objname)));
      return true;
    }
    case PG_QUERY__NODE__NODE_ALTER_OBJECT_DEPENDS_STMT:
      info.kind = K::Alter;
      info.object_type = objectTypeName(stmt->alter_object_depends_stmt->object_type);
      addObject(stmt->alter_object_depends_stmt->object,
                stmt->alter_object_depends_stmt->object_type, info);
      return true;
    case PG_QUERY__NODE__NODE_ALTER_OBJECT_SCHEMA_STMT:
      info.kind = K::Alter;
      info.object_type = objectTypeName(stmt->alter_object_schema_stmt->object_type);
      addObject(stmt->alter_object_schema_stmt->object, stmt->alter_object_schema_stmt->object_type,
                info);
      return true;
    case PG_QUERY__NODE__NODE_ALTER_OWNER_STMT:
      info.kind = K::Alter;
      info.object_type = objectTypeName(stmt->alter_owner_stmt->object_type);
      addObject(stmt->alter_owner_stmt->object, stmt->alter_owner_stmt->object_type, info);
      return true;
    case PG_QUERY__NODE__NODE_ALTER_TSDICTIONARY_STMT:
      info.kind = K::Alter;
      info.object_type = "text_search_dictionary";
      return true;
    case PG_QUERY__NODE__NODE_ALTER_TSCONFIGURATION_STMT:
      info.kind = K::Alter;
      info.object_type = "text_search_configuration";
      return true;
    case PG_QUERY__NODE__NODE_DROP_STMT: {
      const PgQuery__DropStmt* d = stmt->drop_stmt;
      info.kind =
          d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_EXTENSION ? K::DropExtension : K::Drop;
      info.object_type = objectTypeName(d->remove_type);
      for (const PgQuery__Node* n : items(d->objects, d->n_objects))
        addObject(n, d->remove_type, info);
      return true;
    }
    case PG_QUERY__NODE__NODE_DROP_TABLE_SPACE_STMT:
      info.kind = K::Drop;
      info.object_type = "tablespace";
      addName(info.objects, std::string(view(stmt->drop_table_space_stmt->tablespacename)));
      return true;
    case PG_QUERY__NODE__NODE_DROP_USER_MAPPING_STMT:
      info.kind = K::Drop;
      info.object_type = "user_mapping";
      return true;
    case PG_QUERY__NODE__NODE_DROP_SUBSCRIPTION_STMT:
      info.kind = K::Drop;
      info.object_type = "subscription";
      addName(info.objects, std::string(view(stmt->drop_subscription_stmt->subname)));
      return true;
    case PG_QUERY__NODE__NODE_RENAME_STMT: {
      const PgQuery__RenameStmt* r = stmt->rename_stmt;
      info.kind = K::Rename;
      info.object_type = objectTypeName(r->rename_type);
      addObject(r->object, r->rename_type, info);
      // RENAME of a schema, database, role, tablespace ... names it in subname.
      if (r->object == nullptr && r->relation == nullptr) {
        addName(info.objects, std::string(view(r->subname)));
      }
      return true;
    }
    case PG_QUERY__NODE__NODE_COMMENT_STMT:
      info.kind = K::Comment;
      info.object_type = objectTypeName(stmt->comment_stmt->objtype);
      addObject(stmt->comment_stmt->object, stmt->comment_stmt->objtype, info);
      return true;
    case PG_QUERY__NODE__NODE_SEC_LABEL_STMT:
      info.kind = K::SecurityLabel;
      info.object_type = objectTypeName(stmt->sec_label_stmt->objtype);
      addObject(stmt->sec_label_stmt->object, stmt->sec_label_stmt->objtype, info);
      return true;
    default:
      return false;
  }
}

}  // namespace

bool classifyDdl(const PgQuery__Node* stmt, std::string_view text, Context& ctx,
                 StatementInfo& info) {
  if (const SimpleEntry* e = simpleEntry(stmt->node_case)) {
    info.kind = e->kind;
    info.object_type = e->object_type;
    return true;
  }
  return classifyAdministration(stmt, info) || classifyOtherDdl(stmt, text, ctx, info);
}

}  // namespace pgw::sql::detail
