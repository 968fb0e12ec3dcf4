#pragma once
/// Result masking for one session whose policy has `mask:` rules that apply
/// to its subject (docs/masking.md). No I/O: the session feeds it the client
/// messages it forwards and the server messages the relay inspects, and
/// awaits the catalog lookups it asks for.
///
/// Per statement (Query text or Parse), before it is forwarded:
///   prepare(sql) -> the relations, views and functions the statement names
///   must be in the worker's catalog cache (the session fetches what is
///   missing and asks again), then the statement's column lineage gives, for
///   each result column, a decision: clean, masked by a rule, or untraceable
///   (masked by `masking.on_untraceable: mask`, or the statement is refused
///   with `deny`).
///
/// Per result, when the server describes it: RowDescription's table OID and
/// attribute number are authoritative for a plain table column (PostgreSQL
/// says the value is that column); a view's column follows the view's
/// definition; any other column takes the lineage decision of its statement.
/// The statement a result belongs to is found by queueing, in order, what
/// the server will answer (like proxy/statement_audit.h). Every Execute is
/// preceded by a Describe of its portal that the gateway adds and whose
/// answer it consumes, so each Execute's rows are planned with their actual
/// formats even when the client never describes (cached prepared statements).

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "audit/event.h"
#include "auth/subject.h"
#include "mask/copy_rewriter.h"
#include "mask/row_rewriter.h"
#include "mask/rules.h"
#include "protocol/messages.h"
#include "proxy/catalog.h"
#include "proxy/relay.h"
#include "sql/lineage.h"

namespace pgw::proxy {

/// What a statement's text needs from the catalog before it can be planned.
struct CatalogNeeds {
  std::vector<sql::RelationRef> relations;
  std::vector<std::string> functions;
  bool empty() const { return relations.empty() && functions.empty(); }
};

class MaskSession final : public ResultFilter {
 public:
  /// `subject` must outlive the MaskSession; `ttl`: masking.catalog_ttl.
  MaskSession(std::shared_ptr<const mask::CompiledMaskRules> rules, const auth::Subject& subject,
              bool deny_untraceable, std::chrono::milliseconds ttl, CatalogCache& cache);
  ~MaskSession();

  /// Plans the statements of `sql`. Returns what the catalog cache lacks
  /// (fetch it, then call again), or an empty CatalogNeeds when planned.
  CatalogNeeds prepare(std::string_view sql);
  /// A reload changed the policy's rules: plan from now on by `rules`
  /// (plans in flight keep the rules they were made with).
  void adopt(std::shared_ptr<const mask::CompiledMaskRules> rules, bool deny_untraceable,
             std::chrono::milliseconds ttl);
  /// Whether column rules apply (untraceable columns are then masked).
  bool columnRules() const { return column_rules_; }
  /// After prepare() succeeded: the refusal of a statement that stores a
  /// value computed from a masked (or untraceable) column in a column whose
  /// rule (for the subject) neither hides whole values nor is the value's
  /// own rule — it would be read back less masked (empty when the statement
  /// may run).
  std::string writeRefusal(std::string_view sql) const;
  /// Whether the statement reads or writes a relation that has a column
  /// masked for the subject (true for a relation the catalog cache does not
  /// know, while column rules apply: fail closed).
  bool namesMasked(const sql::StatementInfo& info) const;
  /// After prepare() succeeded: the refusal of an untraceable column under
  /// `on_untraceable: deny` (empty when the statement may run).
  std::string untraceableRefusal(std::string_view sql) const;

  // Client messages as forwarded (not for refused ones).
  void query(std::string_view sql);
  void parse(std::string_view name, std::string_view sql);
  void bind(std::string_view portal, std::string_view statement);
  /// Appends the Describe the gateway adds before `execute` to `out`.
  void execute(const protocol::Execute& execute, std::string& out);
  void describe();
  void close(char target, std::string_view name);
  /// Sync, and a FunctionCall (answered by its own ReadyForQuery).
  void sync();

  // Server messages.
  /// RowDescription: returns whether its DataRows need rewriting; sets
  /// `swallow` for the answer to a Describe the gateway added.
  bool beginResult(const protocol::RowDescription& desc, bool& swallow) override;
  /// NoData: true when it answers a Describe the gateway added (swallow it).
  bool swallowNoData() override;
  bool rewriteRow(const protocol::DataRow& row, std::string& out) override;
  bool beginCopy(const protocol::CopyResponse& response) override;
  Result<bool> rewriteCopy(Bytes payload, std::string& out) override;
  Status endCopy() override;
  bool rewriteNotice(const protocol::NoticeFields& fields, std::string& out) override {
    return redactNotice('N', fields, out);
  }
  bool rewriteNotification(const protocol::NotificationResponse& n, std::string& out) override {
    return redactNotification(n, out);
  }
  /// ErrorResponse / NoticeResponse: appends a whole replacement message
  /// (type 'E' or 'N') with values of masked columns redacted; false when
  /// nothing needed redacting.
  bool redactNotice(char type, const protocol::NoticeFields& fields, std::string& out);
  bool redactNotification(const protocol::NotificationResponse& n, std::string& out);

  /// A statement finished (CommandComplete, EmptyQueryResponse,
  /// PortalSuspended): what was masked in its result, for the audit event.
  std::vector<audit::MaskedColumn> statementDone();
  void error();
  void readyForQuery();

 private:
  struct Decision {
    const mask::MaskSpec* spec = nullptr;  ///< null: clean (unless untraceable)
    bool untraceable = false;              ///< origin unknown while column rules apply
    std::string origin;                    ///< schema.table.column, for the audit
  };
  struct Plan;  // one statement's lineage and decisions
  using PlanPtr = std::shared_ptr<const Plan>;
  enum class Kind { Statement, AddedDescribe, ClientDescribe, End };
  struct Entry {
    Kind kind;
    PlanPtr plan;  ///< Statement, AddedDescribe: the statement's plan (may be null)
  };

  class Resolver;
  /// The plans of `sql`'s statements (prepared and cached), null entries
  /// for statements that return no rows.
  const std::vector<PlanPtr>* plansOf(std::string_view sql) const;
  PlanPtr resolveIndirect(const PlanPtr& plan) const;
  /// DECLARE and PREPARE: what a later FETCH or EXECUTE returns.
  void remember(const PlanPtr& plan);
  std::optional<mask::ColumnPlan> columnPlan(const Decision& d, uint32_t type_oid, int32_t typmod,
                                             int16_t format) const;
  /// `text` with what the subject's detectors find masked.
  std::string scanText(std::string_view text) const;
  Decision decide(const sql::ColumnLineage& column) const;
  Decision decideSource(const sql::SourceColumn& source) const;
  Decision fieldDecision(const Plan* plan, size_t index, const protocol::FieldDescription& f);
  const mask::MaskSpec* specFor(const std::string& schema, const std::string& table,
                                const std::string& column) const;
  bool relationHasMask(const std::string& schema, const std::string& table) const;
  void collectCounts(const std::vector<mask::MaskCount>& counts);

  std::shared_ptr<const mask::CompiledMaskRules> rules_;
  std::vector<std::shared_ptr<const mask::CompiledMaskRules>> retired_rules_;
  const auth::Subject& subject_;
  bool deny_untraceable_;
  bool column_rules_;
  uint64_t detectors_enabled_;
  std::chrono::milliseconds ttl_;
  CatalogCache& cache_;
  uint64_t cache_generation_ = 0;

  /// Looks plans up by the statement's text without copying it.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<PlanPtr>, TextHash, std::equal_to<>>
      plans_;  ///< by SQL text
  /// relationHasMask() of relations the cache knows, by "schema.name"; it
  /// runs per statement (audit) and per plan, over every column and rule.
  mutable std::unordered_map<std::string, bool> relation_masked_;
  std::unordered_map<std::string, PlanPtr> statements_;  ///< Parse name
  std::unordered_map<std::string, PlanPtr> portals_;
  std::unordered_map<std::string, PlanPtr> sql_prepared_;  ///< PREPARE name
  std::unordered_map<std::string, PlanPtr> cursors_;       ///< DECLARE name
  std::deque<Entry> queue_;

  // The result being rewritten.
  std::optional<mask::RowRewriter> rows_;
  std::optional<mask::CopyRewriter> copy_;
  bool copy_first_ = true;
  std::vector<std::string> result_names_;  ///< per result column: origin for the audit
  std::vector<std::string> masked_names_;  ///< masked columns' names (error details)
  std::map<std::pair<std::string, std::string>, int64_t> counts_;  ///< (column, rule) -> cells
};

}  // namespace pgw::proxy
