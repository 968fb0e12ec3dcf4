#pragma once
/// Turns one session's protocol traffic into one audit event per statement,
/// without I/O (the session feeds it messages in both directions and hands
/// the finished events to the audit log).
///
/// How responses are matched to statements. Every statement the server will
/// answer is queued in order: each statement of a simple Query, each
/// Execute, each FunctionCall; each Query, Sync and FunctionCall also queues
/// an end mark (its ReadyForQuery). Then:
///
/// - CommandComplete (or EmptyQueryResponse) finishes the first statement;
/// - ErrorResponse finishes the first statement with the SQLSTATE; the
///   server skips the rest of that Query, or of that pipeline up to Sync,
///   and those statements are recorded as not run (`reason`);
/// - ReadyForQuery finishes everything up to its end mark: a FunctionCall
///   that got no error succeeded, anything else still queued did not run;
/// - an error that arrives with no statement queued belongs to a Parse,
///   Bind or Describe; such a statement is recorded at its Execute (which
///   then fails or is skipped).
///
/// A statement the gateway refuses is recorded at once, when refused, with
/// its decision; the server's error for it (proxy/denials.h) is expected
/// and consumed by a mark, so it is never counted twice.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "audit/event.h"
#include "audit/redact.h"
#include "protocol/messages.h"
#include "sql/statement_info.h"

namespace pgw::proxy {

/// What the gate decided about a statement (empty strings: no policy).
struct AuditDecision {
  std::string decision;  ///< "allow", "deny", "review", "" (no policy)
  std::string rule;
  std::string policy;
  size_t statement = 0;   ///< for a denial: which statement of the query was refused
  std::string review_id;  ///< the review that held, refused or let through the statement
};

class StatementAudit {
 public:
  /// Called with each finished event (the session submits it to the audit
  /// log, which renders it at once). It must not keep a reference: the
  /// event's memory is reused for a later statement.
  using Emit = std::function<void(const audit::AuditEvent&)>;

  /// Whether a statement names a column masked for the session's subject:
  /// its values are then recorded as with `parameters: redacted` even when
  /// the policy says `full` (docs/audit.md, Privacy).
  using NamesMasked = std::function<bool(const sql::StatementInfo&)>;

  /// `session` carries the session's fields (who, where); every event starts
  /// as a copy of it.
  StatementAudit(audit::AuditEvent session, audit::ParamMode mode, Emit emit)
      : session_(std::move(session)), mode_(mode), emit_(std::move(emit)) {}
  void setNamesMasked(NamesMasked f) { names_masked_ = std::move(f); }

  // Client messages, after the gate decided. `denied`: the gateway refused
  // the message (it went upstream as a failing marker).
  void query(const sql::Analysis& analysis, const AuditDecision& decision, bool denied);
  /// `param_types`: the OIDs the Parse declared (0 or absent = unspecified),
  /// used to show binary parameters of common types as text.
  void parse(std::string_view name, std::shared_ptr<const sql::Analysis> analysis,
             const AuditDecision& decision, bool denied, std::vector<uint32_t> param_types = {});
  /// `review_id`: the review that let this Bind through ("" = none).
  void bind(const protocol::Bind& bind, const AuditDecision* recheck_denial,
            std::string review_id = {});
  void execute(std::string_view portal);
  void functionCall(int32_t function_oid, const AuditDecision& decision, bool denied);
  void sync();
  void close(char kind, std::string_view name);

  // Server messages.
  void commandComplete(std::string_view tag);
  void emptyQuery();
  void error(std::string_view sqlstate);
  void portalSuspended();
  void readyForQuery();
  /// Columns masked in the result of the statement answering now.
  void masked(std::vector<audit::MaskedColumn> columns) {
    if (queue_.empty() || !queue_.front().event) return;
    auto& m = queue_.front().event->masked;
    m.insert(m.end(), std::make_move_iterator(columns.begin()),
             std::make_move_iterator(columns.end()));
  }
  /// Bytes forwarded to the client, charged to the statement answering now.
  void bytesSent(size_t n) {
    if (!queue_.empty() && queue_.front().event) {
      queue_.front().event->bytes_sent += static_cast<int64_t>(n);
    }
  }

  /// Statements not yet finished (the session ends: recorded as not run).
  void abandon(std::string_view reason);
  size_t pending() const { return queue_.size(); }

 private:
  enum class Entry { Statement, FunctionCall, End, DeniedError };
  struct Pending {
    Entry entry;
    audit::EventPtr event;  ///< null for End and DeniedError
    std::chrono::steady_clock::time_point started;
    uint64_t group = 0;  ///< the Query or pipeline it belongs to
  };
  struct Prepared {
    std::shared_ptr<const sql::Analysis> analysis;
    AuditDecision decision;
    bool denied = false;
    std::vector<uint32_t> param_types;
  };
  struct Portal {
    std::shared_ptr<const Prepared> statement;
    std::vector<std::optional<std::string>> parameters;
    bool denied = false;
    std::string review_id;
  };

  audit::EventPtr statementEvent(const sql::StatementInfo* info, std::string_view text,
                                 std::span<const std::optional<std::string>> parameters,
                                 const AuditDecision& decision);
  void push(Entry entry, audit::EventPtr event = nullptr);
  /// Hands `event` to Emit, then keeps it as a spare: a later event is
  /// built in it, reusing its strings' memory.
  void emit(audit::EventPtr event);
  void finish(Pending& p);
  /// Finishes the queued statements of `group` as not run.
  void skipGroup(uint64_t group, std::string_view reason);

  audit::AuditEvent session_;
  static constexpr size_t kMaxSpares = 8;
  std::vector<audit::EventPtr> spares_;  ///< see emit()
  audit::ParamMode mode_;
  Emit emit_;
  NamesMasked names_masked_;
  std::deque<Pending> queue_;
  uint64_t group_ = 1;  ///< current Query / pipeline
  std::unordered_map<std::string, std::shared_ptr<const Prepared>> statements_;
  std::unordered_map<std::string, Portal> portals_;
};

/// A bound parameter as text: text format as sent; binary format decoded for
/// bool, int2/4/8, float4/8, text-like types and uuid when `type_oid` says
/// which, else "\\x" and hex (as bytea prints).
std::string parameterText(uint32_t type_oid, int16_t format, Bytes value);

/// Rows in a command tag ("SELECT 5", "INSERT 0 3", "COPY 10"); -1 = none.
int64_t rowsFromTag(std::string_view tag);

}  // namespace pgw::proxy
