#include "proxy/mask_session.h"

#include <algorithm>
#include <deque>
#include <set>

#include "mask/redact_detail.h"
#include "mask/types.h"
#include "protocol/sqlstate.h"
#include "sql/copy_options.h"

namespace pgw::proxy {

namespace {

/// Bound on views inside views followed through their definitions.
constexpr int kMaxViewDepth = 8;
/// Plans kept per session (by SQL text); the cache starts over past it.
constexpr size_t kMaxPlans = 512;

std::string dotted(std::string_view schema, std::string_view table, std::string_view column) {
  std::string out;
  if (!schema.empty()) out.append(schema).append(".");
  out.append(table).append(".").append(column);
  return out;
}

/// Cheap pre-check before parsing a statement again for its COPY options.
bool mentionsCopy(std::string_view sql) {
  for (size_t i = 0; i + 4 <= sql.size(); ++i) {
    if ((sql[i] | 0x20) == 'c' && (sql[i + 1] | 0x20) == 'o' && (sql[i + 2] | 0x20) == 'p' &&
        (sql[i + 3] | 0x20) == 'y') {
      return true;
    }
  }
  return false;
}

bool builtinSchema(std::string_view schema) {
  return schema.empty() || schema == "pg_catalog";
}

}  // namespace

struct MaskSession::Plan {
  sql::QueryLineage lineage;
  std::vector<Decision> decisions;  ///< per lineage column
  bool any_masked = false;          ///< a decision masks (or cannot trace) a column
  /// The statement reads a relation with masked columns anywhere (a WHERE
  /// clause too): an error it raises may quote one of their values.
  bool reads_masked = false;
  std::optional<sql::CopyOutOptions> copy;
  std::chrono::steady_clock::time_point made;
};

/// Answers the lineage's questions from the catalog cache, and records what
/// the cache does not hold yet.
class MaskSession::Resolver : public sql::RelationResolver {
 public:
  Resolver(CatalogCache& cache, CatalogNeeds& needs, int depth = 0)
      : cache_(cache), needs_(needs), depth_(depth) {}

  const Relation* find(const sql::RelationRef& ref) const override {
    auto candidates = cache_.byName(ref.schema, ref.name);
    if (!candidates) {
      needs_.relations.push_back(ref);
      return nullptr;
    }
    if (candidates->empty()) return nullptr;
    // Unqualified and present in several schemas: the first one stands for
    // the column list; masking rules are checked against every schema that
    // has a relation of the name (MaskSession::specFor).
    const RelationPtr& r = candidates->front();
    auto& slot = relations_[r->oid];
    if (slot) return slot.get();
    slot = std::make_unique<Relation>();
    slot->schema = r->schema;
    slot->name = r->name;
    for (const auto& c : r->columns) slot->columns.push_back(c.name);
    if (r->isView()) {
      if (depth_ >= kMaxViewDepth) return nullptr;  // unknown: untraceable
      Resolver inner(cache_, needs_, depth_ + 1);
      for (const auto& rel : sql::lineageRelations(r->view_definition)) inner.find(rel);
      auto lineages = sql::lineage(r->view_definition, inner);
      if (lineages.size() != 1) return nullptr;
      views_.push_back(std::make_unique<sql::QueryLineage>(std::move(lineages[0])));
      slot->view = views_.back().get();
    }
    return slot.get();
  }

 private:
  CatalogCache& cache_;
  CatalogNeeds& needs_;
  int depth_;
  mutable std::unordered_map<uint32_t, std::unique_ptr<Relation>> relations_;
  mutable std::vector<std::unique_ptr<sql::QueryLineage>> views_;
};

MaskSession::MaskSession(std::shared_ptr<const mask::CompiledMaskRules> rules,
                         const auth::Subject& subject, bool deny_untraceable,
                         std::chrono::milliseconds ttl, CatalogCache& cache)
    : rules_(std::move(rules)),
      subject_(subject),
      deny_untraceable_(deny_untraceable),
      column_rules_(rules_->columnRulesApply(subject.groups, subject.id)),
      detectors_enabled_(
          rules_->detectors() != nullptr ? rules_->detectorsFor(subject.groups, subject.id) : 0),
      ttl_(ttl),
      cache_(cache) {}

MaskSession::~MaskSession() = default;

void MaskSession::adopt(std::shared_ptr<const mask::CompiledMaskRules> rules, bool deny_untraceable,
                        std::chrono::milliseconds ttl) {
  retired_rules_.push_back(std::move(rules_));
  rules_ = std::move(rules);
  deny_untraceable_ = deny_untraceable;
  ttl_ = ttl;
  column_rules_ = rules_->columnRulesApply(subject_.groups, subject_.id);
  detectors_enabled_ =
      rules_->detectors() != nullptr ? rules_->detectorsFor(subject_.groups, subject_.id) : 0;
  plans_.clear();
  relation_masked_.clear();
}

// ---------------------------------------------------------------------------
// Planning
// ---------------------------------------------------------------------------

const std::vector<MaskSession::PlanPtr>* MaskSession::plansOf(std::string_view sql) const {
  auto it = plans_.find(sql);
  return it == plans_.end() ? nullptr : &it->second;
}

CatalogNeeds MaskSession::prepare(std::string_view sql) {
  cache_.checkEpoch();
  if (cache_.generation() != cache_generation_) {
    cache_generation_ = cache_.generation();
    plans_.clear();
    relation_masked_.clear();
  }
  const std::string key(sql);
  if (auto it = plans_.find(key); it != plans_.end()) {
    const auto now = std::chrono::steady_clock::now();
    bool fresh = std::all_of(it->second.begin(), it->second.end(),
                             [&](const PlanPtr& p) { return !p || now - p->made < ttl_; });
    if (fresh) return {};
    plans_.erase(it);
  }
  CatalogNeeds needs;
  Resolver resolver(cache_, needs);
  for (const auto& rel : sql::lineageRelations(sql)) resolver.find(rel);
  if (!needs.empty()) return needs;
  std::vector<sql::QueryLineage> lineages = sql::lineage(sql, resolver);
  if (!needs.empty()) return needs;
  // Functions called unqualified may be the user's own (which can read any
  // table): the catalog says whether one of the name exists outside
  // pg_catalog.
  std::set<std::string> functions;
  for (const auto& l : lineages) {
    for (const auto& c : l.columns) {
      for (const auto& f : c.functions) {
        if (f.schema.empty() && !cache_.userFunction(f.name)) functions.insert(f.name);
      }
    }
  }
  if (!functions.empty()) {
    needs.functions.assign(functions.begin(), functions.end());
    return needs;
  }
  if (plans_.size() >= kMaxPlans) plans_.clear();
  std::vector<PlanPtr> plans;
  const bool single = lineages.size() == 1;
  for (auto& l : lineages) {
    auto plan = std::make_shared<Plan>();
    plan->made = std::chrono::steady_clock::now();
    for (const auto& c : l.columns) {
      plan->decisions.push_back(decide(c));
      if (plan->decisions.back().spec != nullptr || plan->decisions.back().untraceable) {
        plan->any_masked = true;
      }
    }
    if (l.has_result && !l.columns_complete && column_rules_) plan->any_masked = true;
    plan->reads_masked = plan->any_masked || (column_rules_ && l.untraceable_any);
    for (const auto& r : l.relations) {
      if (plan->reads_masked) break;
      plan->reads_masked = relationHasMask(r.schema, r.name);
    }
    if (single && l.has_result && mentionsCopy(sql)) plan->copy = sql::copyOutOptions(sql);
    plan->lineage = std::move(l);
    plans.push_back(std::move(plan));
  }
  plans_[key] = std::move(plans);
  return {};
}

std::string MaskSession::untraceableRefusal(std::string_view sql) const {
  if (!deny_untraceable_ || !column_rules_) return {};
  const auto* plans = plansOf(sql);
  if (plans == nullptr) return {};
  for (const auto& p : *plans) {
    if (!p || !p->lineage.has_result || p->lineage.explain) continue;
    if (!p->lineage.columns_complete) {
      return "pgwarden: the result columns of this statement cannot be traced to their tables, "
             "and masking.on_untraceable is deny";
    }
    for (size_t i = 0; i < p->decisions.size(); ++i) {
      if (p->decisions[i].untraceable) {
        return "pgwarden: result column \"" + p->lineage.columns[i].name +
               "\" cannot be traced to the columns it is computed from (masking rules apply), "
               "and masking.on_untraceable is deny";
      }
    }
  }
  return {};
}

std::string MaskSession::writeRefusal(std::string_view sql) const {
  if (!column_rules_) return {};
  const auto* plans = plansOf(sql);
  if (plans == nullptr) return {};
  for (const auto& p : *plans) {
    if (!p) continue;
    for (const sql::ColumnWrite& w : p->lineage.writes) {
      const Decision d = decide(w.value);
      if (d.spec == nullptr && !d.untraceable) continue;
      // Covered: the destination's rule hides the whole value, or is the
      // rule the value already had (`SET email = lower(email)`). A rule
      // that keeps part of the value would keep part of another column's.
      if (w.column != "*") {
        const mask::MaskSpec* dest = specFor(w.table.schema, w.table.name, w.column);
        if (dest != nullptr &&
            (mask::hidesWholeValue(dest->function) ||
             (d.spec != nullptr && (d.spec == dest || d.spec == dest->derived)))) {
          continue;
        }
      }
      const std::string where = w.column == "*" ? dotted(w.table.schema, w.table.name, "*")
                                                : dotted(w.table.schema, w.table.name, w.column);
      const std::string what = d.spec != nullptr && !d.origin.empty()
                                   ? "a value computed from masked column \"" + d.origin + "\""
                                   : std::string("a value the gateway cannot trace");
      return "pgwarden: this statement stores " + what + " in \"" + where +
             "\", which no masking rule covers for you as well: it would be read back unmasked";
    }
  }
  return {};
}

const mask::MaskSpec* MaskSession::specFor(const std::string& schema, const std::string& table,
                                           const std::string& column) const {
  if (const auto* spec = rules_->forColumn(schema, table, column, subject_.groups, subject_.id)) {
    return spec;
  }
  // The relation may exist in several schemas; unqualified references are
  // checked against each (fail closed).
  if (auto candidates = cache_.byName("", table)) {
    for (const auto& r : *candidates) {
      if (r->schema == schema) continue;
      if (const auto* spec =
              rules_->forColumn(r->schema, table, column, subject_.groups, subject_.id)) {
        return spec;
      }
    }
  }
  return nullptr;
}

bool MaskSession::relationHasMask(const std::string& schema, const std::string& table) const {
  auto candidates = cache_.byName(schema, table);
  if (!candidates || candidates->empty()) return column_rules_;  // unknown: not remembered
  std::string key = schema;
  key.append(".").append(table);
  if (auto it = relation_masked_.find(key); it != relation_masked_.end()) return it->second;
  bool masked = false;
  for (const auto& r : *candidates) {
    for (const auto& c : r->columns) masked = masked || specFor(r->schema, r->name, c.name);
  }
  relation_masked_.emplace(std::move(key), masked);
  return masked;
}

bool MaskSession::namesMasked(const sql::StatementInfo& info) const {
  if (!column_rules_) return false;
  for (const auto* list : {&info.relations_read, &info.relations_written}) {
    for (const auto& r : *list) {
      if (relationHasMask(r.schema, r.name)) return true;
    }
  }
  return false;
}

MaskSession::Decision MaskSession::decide(const sql::ColumnLineage& column) const {
  Decision d;
  d.untraceable = column.untraceable;
  for (const auto& f : column.functions) {
    if (!builtinSchema(f.schema)) {
      d.untraceable = true;
    } else if (f.schema.empty() && cache_.userFunction(f.name).value_or(true)) {
      d.untraceable = true;
    }
  }
  for (const auto& s : column.sources) {
    if (const auto* spec = specFor(s.schema, s.relation, s.column)) {
      // A computed value gets a mask that hides it whole (MaskSpec::derived).
      d.spec = column.plain ? spec : spec->derived;
      if (d.spec == nullptr) d.spec = &rules_->untraceable();
      d.origin = dotted(s.schema, s.relation, s.column);
      break;
    }
  }
  for (const auto& w : column.whole_rows) {
    if (relationHasMask(w.schema, w.name)) {
      // A whole row holds the masked columns among others: redacted whole.
      d.spec = &rules_->untraceable();
      d.origin = dotted(w.schema, w.name, "*");
      break;
    }
  }
  if (!column_rules_) d.untraceable = false;
  return d;
}

MaskSession::PlanPtr MaskSession::resolveIndirect(const PlanPtr& plan) const {
  if (!plan) return plan;
  if (plan->lineage.fetch) {
    auto it = cursors_.find(plan->lineage.cursor);
    return it == cursors_.end() ? nullptr : it->second;
  }
  if (plan->lineage.execute) {
    auto it = sql_prepared_.find(plan->lineage.prepared);
    return it == sql_prepared_.end() ? nullptr : it->second;
  }
  return plan;
}

// ---------------------------------------------------------------------------
// Client messages
// ---------------------------------------------------------------------------

void MaskSession::remember(const PlanPtr& plan) {
  if (!plan) return;
  const auto& l = plan->lineage;
  if (!l.cursor.empty() && !l.fetch) cursors_[l.cursor] = plan;
  if (!l.prepared.empty() && !l.execute) sql_prepared_[l.prepared] = plan;
}

void MaskSession::query(std::string_view sql) {
  if (const auto* plans = plansOf(sql)) {
    for (const auto& p : *plans) {
      remember(p);
      queue_.push_back({Kind::Statement, resolveIndirect(p)});
    }
  }
  queue_.push_back({Kind::End, nullptr});
}

void MaskSession::parse(std::string_view name, std::string_view sql) {
  const auto* plans = plansOf(sql);
  statements_[std::string(name)] =
      plans != nullptr && plans->size() == 1 ? plans->front() : nullptr;
}

void MaskSession::bind(std::string_view portal, std::string_view statement) {
  auto it = statements_.find(std::string(statement));
  portals_[std::string(portal)] = it == statements_.end() ? nullptr : it->second;
}

void MaskSession::execute(const protocol::Execute& execute, std::string& out) {
  PlanPtr plan;
  if (auto it = portals_.find(std::string(execute.portal)); it != portals_.end()) {
    plan = it->second;
  }
  remember(plan);
  plan = resolveIndirect(plan);
  protocol::encodeDescribe(out, 'P', execute.portal);
  protocol::encodeExecute(out, execute.portal, execute.max_rows);
  queue_.push_back({Kind::AddedDescribe, plan});
  queue_.push_back({Kind::Statement, plan});
}

void MaskSession::describe() {
  queue_.push_back({Kind::ClientDescribe, nullptr});
}

void MaskSession::close(char target, std::string_view name) {
  auto& closed = target == 'P' ? portals_ : statements_;
  closed.erase(std::string(name));
}

void MaskSession::sync() {
  queue_.push_back({Kind::End, nullptr});
}

// ---------------------------------------------------------------------------
// Server messages
// ---------------------------------------------------------------------------

MaskSession::Decision MaskSession::fieldDecision(const Plan* plan, size_t index,
                                                 const protocol::FieldDescription& f) {
  const Decision* traced =
      plan != nullptr && plan->lineage.columns_complete && index < plan->decisions.size()
          ? &plan->decisions[index]
          : nullptr;
  if (f.table_oid != 0) {
    if (RelationPtr rel = cache_.byOid(static_cast<uint32_t>(f.table_oid))) {
      const CatalogColumn* col = rel->column(f.column_attnum);
      if (!rel->isView() && col != nullptr) {
        // PostgreSQL names the column the value comes from. For a SELECT
        // that is the stored value, and the lineage agrees; RETURNING of an
        // INSERT or UPDATE gives the value assigned to it (`SET card =
        // email RETURNING card`), which only the lineage traced: when it
        // masks, its decision stands.
        if (traced != nullptr && (traced->spec != nullptr || traced->untraceable)) return *traced;
        Decision d;
        d.spec = specFor(rel->schema, rel->name, col->name);
        if (d.spec) d.origin = dotted(rel->schema, rel->name, col->name);
        return d;
      }
      if (rel->isView() && col != nullptr) {
        CatalogNeeds needs;
        Resolver resolver(cache_, needs);
        sql::RelationRef ref{rel->schema, rel->name};
        const auto* view = resolver.find(ref);
        const size_t i = static_cast<size_t>(f.column_attnum) - 1;
        if (view != nullptr && view->view != nullptr && view->view->columns_complete &&
            i < view->view->columns.size()) {
          return decide(view->view->columns[i]);
        }
      }
    }
  }
  if (traced != nullptr) return *traced;
  Decision d;
  d.untraceable = column_rules_;
  return d;
}

std::optional<mask::ColumnPlan> MaskSession::columnPlan(const Decision& d, uint32_t type_oid,
                                                        int32_t typmod, int16_t format) const {
  mask::ColumnPlan p;
  p.type_oid = type_oid;
  p.typmod = typmod;
  p.format = format;
  if (d.spec != nullptr) {
    p.spec = d.spec;
  } else if (d.untraceable) {
    p.spec = &rules_->untraceable();
  } else if (detectors_enabled_ != 0 && mask::scannable(type_oid)) {
    p.detectors = rules_->detectors();
    p.enabled = detectors_enabled_;
  } else {
    return std::nullopt;
  }
  return p;
}

bool MaskSession::beginResult(const protocol::RowDescription& desc, bool& swallow) {
  swallow = false;
  PlanPtr plan;
  if (!queue_.empty()) {
    Entry& front = queue_.front();
    if (front.kind == Kind::ClientDescribe) {
      queue_.pop_front();
      return false;  // describes a result; its rows come with an Execute
    }
    plan = front.plan;
    if (front.kind == Kind::AddedDescribe) {
      swallow = true;
      queue_.pop_front();
    }
  }
  rows_.reset();
  result_names_.assign(desc.fields.size(), {});
  masked_names_.clear();
  std::vector<std::optional<mask::ColumnPlan>> columns(desc.fields.size());
  bool any = false;
  for (size_t i = 0; i < desc.fields.size(); ++i) {
    const auto& f = desc.fields[i];
    const Decision d = fieldDecision(plan.get(), i, f);
    columns[i] = columnPlan(d, static_cast<uint32_t>(f.type_oid), f.type_modifier, f.format);
    if (!columns[i]) continue;
    any = true;
    result_names_[i] = d.origin.empty() ? std::string(f.name) : d.origin;
    if (d.spec != nullptr || d.untraceable) masked_names_.emplace_back(f.name);
  }
  if (!any) return false;
  rows_.emplace(std::move(columns));
  return true;
}

bool MaskSession::swallowNoData() {
  if (queue_.empty()) return false;
  const Kind kind = queue_.front().kind;
  if (kind == Kind::AddedDescribe || kind == Kind::ClientDescribe) queue_.pop_front();
  return kind == Kind::AddedDescribe;
}

bool MaskSession::rewriteRow(const protocol::DataRow& row, std::string& out) {
  if (!rows_) return false;
  return rows_->rewrite(row, out);
}

bool MaskSession::beginCopy(const protocol::CopyResponse& response) {
  copy_.reset();
  copy_first_ = true;
  PlanPtr plan;
  if (!queue_.empty() && queue_.front().kind == Kind::Statement) plan = queue_.front().plan;
  const size_t n = response.column_formats.size();
  mask::CopyOptions options;
  options.format = response.format == 1 ? mask::CopyFormat::Binary : mask::CopyFormat::Text;
  if (plan && plan->copy) {
    const auto& o = *plan->copy;
    if (o.format == sql::CopyOutOptions::Format::Csv) options.format = mask::CopyFormat::Csv;
    options.delimiter = o.delimiter.value_or(0);
    if (o.quote) options.quote = *o.quote;
    options.escape = o.escape.value_or(0);
    options.null_string = o.null_string;
    options.header = o.header;
  }
  const bool binary = options.format == mask::CopyFormat::Binary;
  const bool known = plan && plan->lineage.columns_complete && plan->lineage.columns.size() == n;
  std::vector<std::optional<mask::ColumnPlan>> columns(n);
  result_names_.assign(n, {});
  masked_names_.clear();
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    Decision d;
    uint32_t type = binary ? 0 : 25;  // unknown: masked to NULL in binary, as text otherwise
    int32_t typmod = -1;
    if (known) {
      const auto& c = plan->lineage.columns[i];
      d = plan->decisions[i];
      if (c.plain && c.sources.size() == 1) {
        const auto& s = c.sources[0];
        if (auto rels = cache_.byName(s.schema, s.relation); rels && !rels->empty()) {
          for (const auto& col : rels->front()->columns) {
            if (col.name == s.column) {
              type = col.type_oid;
              typmod = col.typmod;
            }
          }
        }
      }
      result_names_[i] = d.origin.empty() ? c.name : d.origin;
    } else {
      d.untraceable = column_rules_;
      result_names_[i] = "column" + std::to_string(i + 1);
    }
    columns[i] = columnPlan(d, type, typmod, binary ? 1 : 0);
    if (!columns[i]) continue;
    any = true;
    if (d.spec != nullptr || d.untraceable) masked_names_.push_back(result_names_[i]);
  }
  if (!any) return false;
  copy_.emplace(std::move(columns), options);
  return true;
}

Result<bool> MaskSession::rewriteCopy(Bytes payload, std::string& out) {
  if (!copy_) return false;
  const bool first = copy_first_;
  copy_first_ = false;
  return copy_->rewrite(
      std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()), first, out);
}

Status MaskSession::endCopy() {
  if (!copy_) return {};
  Status s = copy_->finish();
  collectCounts(copy_->counts());
  copy_.reset();
  return s;
}

void MaskSession::collectCounts(const std::vector<mask::MaskCount>& counts) {
  for (const auto& c : counts) {
    const std::string& name =
        c.column < result_names_.size() ? result_names_[c.column] : std::string();
    counts_[{name, c.rule}] += static_cast<int64_t>(c.cells);
  }
}

std::vector<audit::MaskedColumn> MaskSession::statementDone() {
  if (!queue_.empty() && queue_.front().kind == Kind::Statement) queue_.pop_front();
  if (rows_) collectCounts(rows_->counts());
  rows_.reset();
  copy_.reset();
  std::vector<audit::MaskedColumn> out;
  for (auto& [key, cells] : counts_) {
    if (cells > 0) out.push_back({key.first, key.second, cells});
  }
  counts_.clear();
  return out;
}

void MaskSession::error() {
  // The server skips the rest of the Query, or of the pipeline up to Sync.
  while (!queue_.empty() && queue_.front().kind != Kind::End) queue_.pop_front();
  rows_.reset();
  copy_.reset();
  counts_.clear();
}

void MaskSession::readyForQuery() {
  while (!queue_.empty()) {
    const Kind kind = queue_.front().kind;
    queue_.pop_front();
    if (kind == Kind::End) break;
  }
  rows_.reset();
  copy_.reset();
}

// ---------------------------------------------------------------------------
// Errors, notices and notifications
// ---------------------------------------------------------------------------

namespace {

/// The fields of an ErrorResponse / NoticeResponse, in wire order.
std::vector<std::pair<char, std::string>> fieldsOf(Bytes raw) {
  std::vector<std::pair<char, std::string>> out;
  size_t i = 0;
  while (i < raw.size() && raw[i] != std::byte{0}) {
    const char code = static_cast<char>(raw[i++]);
    size_t end = i;
    while (end < raw.size() && raw[end] != std::byte{0}) ++end;
    out.emplace_back(code, std::string(reinterpret_cast<const char*>(raw.data()) + i, end - i));
    i = end + 1;
  }
  return out;
}

/// `text` with every double-quoted part replaced by "***": PostgreSQL quotes
/// the input it could not read (`invalid input syntax for type integer:
/// "..."`).
std::string redactQuoted(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find('"', i);
    if (open == std::string_view::npos) break;
    const size_t close = text.find('"', open + 1);
    if (close == std::string_view::npos) break;
    out.append(text.substr(i, open - i)).append("\"***\"");
    i = close + 1;
  }
  out.append(text.substr(i));
  return out;
}

/// The JSON parser's context line quotes the document it failed on
/// (`JSON data, line 1: alice@...`): the quoted text goes.
std::string redactJsonContext(std::string_view text) {
  constexpr std::string_view kJson = "JSON data, line ";
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t at = text.find(kJson, i);
    if (at == std::string_view::npos) break;
    const size_t colon = text.find(": ", at + kJson.size());
    if (colon == std::string_view::npos) break;
    size_t end = text.find('\n', colon);
    if (end == std::string_view::npos) end = text.size();
    out.append(text.substr(i, colon + 2 - i)).append("***");
    i = end;
  }
  out.append(text.substr(i));
  return out;
}

}  // namespace

std::string MaskSession::scanText(std::string_view text) const {
  const mask::Detectors* detectors = rules_->detectors();
  if (detectors == nullptr || detectors_enabled_ == 0) return std::string(text);
  mask::Hits hits;
  if (!detectors->scan(text, hits, detectors_enabled_)) return std::string(text);
  return mask::maskSpans(text, hits, *detectors);
}

bool MaskSession::redactNotice(char type, const protocol::NoticeFields& fields, std::string& out) {
  auto list = fieldsOf(fields.raw);
  const Plan* plan = !queue_.empty() ? queue_.front().plan.get() : nullptr;
  // Columns whose values the detail may echo: the masked columns of the
  // table the error names and of every table the failing statement reads
  // or writes (a foreign key violation names the referencing table, while
  // the key it quotes is the referenced table's), else those of the result
  // being sent.
  std::vector<std::string> masked;
  auto addMaskedColumns = [&](const std::string& schema, const std::string& table) {
    auto rels = cache_.byName(schema, table);
    if (!rels || rels->empty()) {
      if (column_rules_) masked.emplace_back("*");
      return;
    }
    for (const auto& r : *rels) {
      for (const auto& c : r->columns) {
        if (specFor(r->schema, r->name, c.name) != nullptr) masked.push_back(c.name);
      }
    }
  };
  if (std::optional<std::string_view> table = fields.get('t')) {
    addMaskedColumns(std::string(fields.get('s').value_or("")), std::string(*table));
    if (plan != nullptr) {
      for (const auto& r : plan->lineage.relations) addMaskedColumns(r.schema, r.name);
    }
  } else {
    masked = masked_names_;
  }
  // A statement reading masked columns may fail on one of their values:
  // a data exception (class 22) quotes the input it could not read
  // (`invalid input syntax for type integer: "<value>"`), the JSON parser
  // quotes the document in its context, and a function's RAISE says what
  // the function was written to say. Without a plan (a statement that could
  // not be planned, a result no statement explains), the statement is
  // assumed to read masked columns while column rules apply.
  const bool reads_masked = plan != nullptr ? plan->reads_masked : column_rules_;
  const std::string_view state = fields.sqlstate();
  const bool data_error = state.starts_with("22");
  const std::string_view context = fields.get('W').value_or("");
  const bool raised =
      state.starts_with("P0") || context.find(" at RAISE") != std::string_view::npos;
  bool changed = false;
  for (auto& [code, value] : list) {
    std::string next = value;
    if (code == 'D') next = mask::redactDetail(value, masked, nullptr);
    if (reads_masked) {
      if ((code == 'M' || code == 'D' || code == 'W') && data_error) next = redactQuoted(next);
      if (code == 'W') next = redactJsonContext(next);
      if ((code == 'M' || code == 'D' || code == 'H') && raised) {
        next = "pgwarden: redacted: raised by a function while the statement reads masked columns";
      }
    }
    if (code == 'M' || code == 'D' || code == 'W' || code == 'H') next = scanText(next);
    if (next != value) {
      value = std::move(next);
      changed = true;
    }
  }
  if (!changed) return false;
  std::vector<std::pair<char, std::string_view>> views;
  for (const auto& [code, value] : list) views.emplace_back(code, value);
  protocol::encodeNoticeFields(out, type, views);
  return true;
}

bool MaskSession::redactNotification(const protocol::NotificationResponse& n, std::string& out) {
  const std::string payload = scanText(n.payload);
  if (payload == n.payload) return false;
  protocol::NotificationResponse copy = n;
  copy.payload = payload;
  protocol::encodeNotificationResponse(out, copy);
  return true;
}

}  // namespace pgw::proxy
