#include "proxy/statement_audit.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstddef>

namespace pgw::proxy {
namespace {

using Clock = std::chrono::steady_clock;

const std::vector<uint32_t> kNoTypes;

constexpr std::string_view kNotRunAfterError =
    "not run: an earlier statement of the same query or pipeline failed";

/// Binary values of unknown type are recorded the way bytea prints: \x and hex.
std::string hexParameter(Bytes bytes) {
  return "\\x" + toHex(bytes);
}

uint64_t bigEndian(Bytes v) {
  uint64_t x = 0;
  for (std::byte b : v) x = (x << 8) | std::to_integer<uint64_t>(b);
  return x;
}

}  // namespace

std::string parameterText(uint32_t type_oid, int16_t format, Bytes value) {
  if (format != 1) return std::string(asChars(value));
  const size_t n = value.size();
  switch (type_oid) {
    case 16:  // bool
      if (n == 1) return std::to_integer<int>(value[0]) != 0 ? "true" : "false";
      break;
    case 21:  // int2
      if (n == 2) return std::to_string(static_cast<int16_t>(bigEndian(value)));
      break;
    case 23:  // int4
      if (n == 4) return std::to_string(static_cast<int32_t>(bigEndian(value)));
      break;
    case 20:  // int8
      if (n == 8) return std::to_string(static_cast<int64_t>(bigEndian(value)));
      break;
    case 700:  // float4
      if (n == 4)
        return std::to_string(std::bit_cast<float>(static_cast<uint32_t>(bigEndian(value))));
      break;
    case 701:  // float8
      if (n == 8) return std::to_string(std::bit_cast<double>(bigEndian(value)));
      break;
    case 25:    // text
    case 1043:  // varchar
    case 1042:  // bpchar
    case 19:    // name
      return std::string(asChars(value));
    case 2950:  // uuid
      if (n == 16) {
        const std::string hex = toHex(value);
        return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
               hex.substr(16, 4) + "-" + hex.substr(20);
      }
      break;
    default:
      break;
  }
  return hexParameter(value);
}

int64_t rowsFromTag(std::string_view tag) {
  const size_t space = tag.rfind(' ');
  if (space == std::string_view::npos) return -1;
  static constexpr std::string_view kCounted[] = {"SELECT", "INSERT", "UPDATE", "DELETE",
                                                  "MERGE",  "FETCH",  "MOVE",   "COPY"};
  const std::string_view verb = tag.substr(0, tag.find(' '));
  if (std::find(std::begin(kCounted), std::end(kCounted), verb) == std::end(kCounted)) return -1;
  int64_t n = -1;
  const std::string_view digits = tag.substr(space + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return ec == std::errc() && end == digits.data() + digits.size() ? n : -1;
}

audit::EventPtr StatementAudit::statementEvent(
    const sql::StatementInfo* info, std::string_view text,
    std::span<const std::optional<std::string>> parameters, const AuditDecision& decision) {
  // A spare is an event of this session: its session members are the
  // session's already, everything else is reset (only its memory is
  // reused, nothing of the record it held survives).
  audit::EventPtr out;
  if (!spares_.empty()) {
    out = std::move(spares_.back());
    spares_.pop_back();
  } else {
    out = std::make_unique<audit::AuditEvent>(session_);
  }
  audit::AuditEvent& ev = *out;
  // The spare's table names keep their memory through the reset below.
  std::vector<std::string> tables = std::move(ev.tables);
  audit::keepSessionMembers(ev);
  ev.time = audit::nowUs();
  ev.statement_kind = info != nullptr ? sql::toString(info->kind) : "unknown";
  audit::ParamMode mode = mode_;
  // A password or connection string may sit in the text or a parameter.
  if (mode == audit::ParamMode::Full &&
      audit::looksLikeSecretStatement(ev.statement_kind,
                                      info != nullptr ? info->object_type : std::string())) {
    mode = audit::ParamMode::Redacted;
  }
  // A value compared with, or written to, a masked column is as sensitive
  // as the column: the subject never sees it in a result, the audit trail
  // does not keep it either.
  if (mode == audit::ParamMode::Full && info != nullptr && names_masked_ && names_masked_(*info)) {
    mode = audit::ParamMode::Redacted;
  }
  const std::string_view normalized = info != nullptr ? std::string_view(info->normalized) : "";
  // Written into the spare's buffers (emptied, not freed, by the reset).
  audit::RecordedStatement recorded{std::move(ev.statement), std::move(ev.parameters)};
  audit::redactStatementInto(mode, text, normalized, parameters, recorded);
  ev.statement = std::move(recorded.text);
  ev.parameters = std::move(recorded.parameters);
  size_t ntables = 0;
  if (info != nullptr) {
    ev.fingerprint = info->fingerprint;
    auto add = [&](const sql::RelationRef& r) {
      if (ntables == tables.size()) tables.emplace_back();
      std::string& name = tables[ntables];
      name.assign(r.schema.empty() ? r.name : r.schema);
      if (!r.schema.empty()) name.append(".").append(r.name);
      // Read and written: listed once.
      if (std::find(tables.begin(), tables.begin() + static_cast<ptrdiff_t>(ntables), name) ==
          tables.begin() + static_cast<ptrdiff_t>(ntables)) {
        ++ntables;
      }
    };
    for (const auto& r : info->relations_read) add(r);
    for (const auto& r : info->relations_written) add(r);
  }
  tables.resize(ntables);
  ev.tables = std::move(tables);
  ev.decision = decision.decision;
  ev.rule = decision.rule;
  ev.policy = decision.policy;
  ev.review_id = decision.review_id;
  return out;
}

void StatementAudit::push(Entry entry, audit::EventPtr event) {
  queue_.push_back(Pending{entry, std::move(event), Clock::now(), group_});
}

void StatementAudit::emit(audit::EventPtr event) {
  emit_(*event);
  if (spares_.size() < kMaxSpares) spares_.push_back(std::move(event));
}

void StatementAudit::finish(Pending& p) {
  p.event->duration_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - p.started).count();
  emit(std::move(p.event));
}

void StatementAudit::skipGroup(uint64_t group, std::string_view reason) {
  while (!queue_.empty() && queue_.front().group == group && queue_.front().entry != Entry::End) {
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    if (p.entry == Entry::DeniedError) continue;  // the server skips the marker too
    p.event->reason.assign(reason);
    finish(p);
  }
}

void StatementAudit::query(const sql::Analysis& analysis, const AuditDecision& decision,
                           bool denied) {
  ++group_;
  for (size_t i = 0; i < analysis.statements.size(); ++i) {
    const sql::StatementInfo& s = analysis.statements[i];
    if (!denied) {
      push(Entry::Statement, statementEvent(&s, s.text, {}, decision));
      continue;
    }
    // Refused: nothing of the query runs. Recorded now, with the decision.
    AuditDecision d = decision;
    audit::EventPtr ev;
    if (i == decision.statement) {
      ev = statementEvent(&s, s.text, {}, d);
      ev->sqlstate = "42501";
    } else {
      d.rule = "query";
      ev = statementEvent(&s, s.text, {}, d);
      ev->reason = "not run: statement " + std::to_string(decision.statement + 1) +
                   " of the same query was denied";
    }
    emit(std::move(ev));
  }
  if (denied) push(Entry::DeniedError);
  push(Entry::End);
  ++group_;
}

void StatementAudit::parse(std::string_view name, std::shared_ptr<const sql::Analysis> analysis,
                           const AuditDecision& decision, bool denied,
                           std::vector<uint32_t> param_types) {
  auto prepared = std::make_shared<Prepared>(
      Prepared{std::move(analysis), decision, denied, std::move(param_types)});
  if (denied) {
    const sql::Analysis& a = *prepared->analysis;
    const sql::StatementInfo* info = a.statements.empty() ? nullptr : &a.statements.front();
    audit::EventPtr ev = statementEvent(info, info != nullptr ? info->text : "", {}, decision);
    ev->sqlstate = "42501";
    emit(std::move(ev));
    push(Entry::DeniedError);
  }
  statements_.insert_or_assign(std::string(name), std::move(prepared));
}

void StatementAudit::bind(const protocol::Bind& bind, const AuditDecision* recheck_denial,
                          std::string review_id) {
  // Clients bind the same (mostly unnamed) portal statement after
  // statement: its entry and parameter list are reused, every field set.
  Portal& portal = portals_[std::string(bind.portal)];
  portal.review_id = std::move(review_id);
  portal.parameters.clear();
  portal.denied = false;
  if (auto it = statements_.find(std::string(bind.statement)); it != statements_.end()) {
    if (portal.statement != it->second) portal.statement = it->second;
    portal.denied = it->second->denied;
  } else {
    portal.statement.reset();
  }
  const size_t nformats = bind.param_formats.size();
  size_t i = 0;
  for (const auto& value : bind.params) {
    const int16_t format = nformats == 0 ? 0 : bind.param_formats[nformats == 1 ? 0 : i];
    const auto& types = portal.statement ? portal.statement->param_types : kNoTypes;
    const uint32_t type = i < types.size() ? types[i] : 0;
    if (!value) {
      portal.parameters.emplace_back(std::nullopt);
    } else if (mode_ == audit::ParamMode::Full) {
      portal.parameters.emplace_back(parameterText(type, format, *value));
    } else {
      // Redacted or None: the value is never recorded, only whether it is
      // NULL (a statement's mode only ever narrows from Full).
      portal.parameters.emplace_back(std::string());
    }
    ++i;
  }
  if (recheck_denial != nullptr && !portal.denied) {
    const sql::StatementInfo* info =
        portal.statement && !portal.statement->analysis->statements.empty()
            ? &portal.statement->analysis->statements.front()
            : nullptr;
    audit::EventPtr ev =
        statementEvent(info, info != nullptr ? info->text : "", portal.parameters, *recheck_denial);
    ev->sqlstate = "42501";
    emit(std::move(ev));
    push(Entry::DeniedError);
    portal.denied = true;
  }
}

void StatementAudit::execute(std::string_view portal) {
  auto it = portals_.find(std::string(portal));
  if (it == portals_.end()) {
    // The server refuses it (no such portal); the error is recorded here.
    push(Entry::Statement, statementEvent(nullptr, "", {}, {}));
    return;
  }
  if (it->second.denied) return;  // recorded when refused
  const auto& statement = it->second.statement;
  const sql::StatementInfo* info = statement && !statement->analysis->statements.empty()
                                       ? &statement->analysis->statements.front()
                                       : nullptr;
  static const AuditDecision kUndecided;
  audit::EventPtr ev =
      statementEvent(info, info != nullptr ? info->text : "", it->second.parameters,
                     statement ? statement->decision : kUndecided);
  if (!it->second.review_id.empty()) ev->review_id = it->second.review_id;
  push(Entry::Statement, std::move(ev));
}

void StatementAudit::functionCall(int32_t function_oid, const AuditDecision& decision,
                                  bool denied) {
  ++group_;
  audit::EventPtr ev = statementEvent(nullptr, "", {}, decision);
  ev->statement_kind = "function_call";
  ev->statement = "fast-path function call, function OID " + std::to_string(function_oid);
  if (denied) {
    ev->sqlstate = "42501";
    emit(std::move(ev));
    push(Entry::DeniedError);
  } else {
    push(Entry::FunctionCall, std::move(ev));
  }
  push(Entry::End);
  ++group_;
}

void StatementAudit::sync() {
  push(Entry::End);
  ++group_;
}

void StatementAudit::close(char kind, std::string_view name) {
  if (kind == 'S') {
    statements_.erase(std::string(name));
  } else {
    portals_.erase(std::string(name));
  }
}

void StatementAudit::commandComplete(std::string_view tag) {
  if (queue_.empty() || queue_.front().entry != Entry::Statement) return;
  Pending p = std::move(queue_.front());
  queue_.pop_front();
  p.event->command_tag.assign(tag);
  p.event->rows = rowsFromTag(tag);
  finish(p);
}

void StatementAudit::emptyQuery() {
  if (queue_.empty() || queue_.front().entry != Entry::Statement) return;
  Pending p = std::move(queue_.front());
  queue_.pop_front();
  finish(p);
}

void StatementAudit::portalSuspended() {
  if (queue_.empty() || queue_.front().entry != Entry::Statement) return;
  Pending p = std::move(queue_.front());
  queue_.pop_front();
  p.event->reason = "portal suspended: the client fetches the rest with another Execute";
  finish(p);
}

void StatementAudit::error(std::string_view sqlstate) {
  if (queue_.empty()) return;
  Pending& front = queue_.front();
  if (front.entry == Entry::DeniedError) {
    queue_.pop_front();  // recorded when refused
    return;
  }
  if (front.entry == Entry::End) return;  // a Parse/Bind/Describe failed
  Pending p = std::move(front);
  queue_.pop_front();
  p.event->sqlstate.assign(sqlstate);
  const uint64_t group = p.group;
  finish(p);
  skipGroup(group, kNotRunAfterError);
}

void StatementAudit::readyForQuery() {
  while (!queue_.empty()) {
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    if (p.entry == Entry::End) return;
    if (p.entry == Entry::DeniedError) continue;
    if (p.entry == Entry::Statement) p.event->reason = std::string(kNotRunAfterError);
    finish(p);  // a FunctionCall with no error succeeded
  }
}

void StatementAudit::abandon(std::string_view reason) {
  while (!queue_.empty()) {
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    if (p.entry != Entry::Statement && p.entry != Entry::FunctionCall) continue;
    p.event->reason.assign(reason);
    finish(p);
  }
}

}  // namespace pgw::proxy
