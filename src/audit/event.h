#pragma once
/// One audit event — a statement, a session event or an event of the audit
/// trail itself — and its canonical form: the exact bytes that are hashed
/// into the chain, stored in every sink and read back by `pgwarden audit`.
///
/// Canonical JSON: an object with every key present, keys sorted by byte
/// value, no whitespace, integers only (times and durations in
/// microseconds), strings escaped the way RFC 8259 requires and nothing
/// more (`"`, `\` and control characters; `/` and non-ASCII stay as they
/// are; invalid UTF-8 bytes become U+FFFD). The same event always gives the
/// same bytes, so any parser plus sorted, compact output reproduces them.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pgw::audit {

enum class EventType {
  Statement,     ///< one per statement: simple, extended, COPY, denied, failed
  Connect,       ///< a session authenticated and was connected upstream
  AuthFailure,   ///< an authentication attempt failed
  Disconnect,    ///< a session ended; `reason` says why
  ConfigReload,  ///< a new config snapshot was taken (or refused: `reason`)
  ApiAction,     ///< a control-plane action (approval, token change, ...)
  Checkpoint,    ///< written by the audit log: a signature over the record before it
  Anchor,        ///< written by the audit log: records up to `anchor_seq` left a sink
};

std::string_view toString(EventType type);
std::optional<EventType> eventTypeFromString(std::string_view name);

/// Microseconds since the Unix epoch: what every time in the trail is kept in.
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;
TimePoint nowUs();

struct MaskedColumn {
  std::string column;  ///< schema.table.column, or the result column's name
  std::string rule;    ///< the mask that applied ("email", "redact", ...)
  int64_t cells = 0;   ///< values rewritten

  bool operator==(const MaskedColumn&) const = default;
};

struct AuditEvent {
  EventType type = EventType::Statement;
  TimePoint time{};        ///< when the statement (or session event) started
  std::string gateway_id;  ///< the recording gateway: AuditLog renders its own id
  uint64_t session_id = 0;

  // Who.
  std::string subject_id;
  std::vector<std::string> subject_groups;
  std::string subject_issuer;
  std::string auth_method;  ///< auth::toString(AuthMethod), "" before authentication
  std::string client_address;
  bool tls = false;
  std::string tls_version;  ///< "TLSv1.3"; "" without TLS

  // Where.
  std::string connection;     ///< the registered connection (client's dbname)
  std::string upstream_role;  ///< the database user the gateway logged in as

  // What.
  std::string statement;                               ///< text as recorded (see redact.h)
  std::vector<std::optional<std::string>> parameters;  ///< nullopt = SQL NULL
  std::string fingerprint;
  std::string statement_kind;
  std::vector<std::string> tables;

  // Decision.
  std::string decision;  ///< "allow", "deny", "review" or "" (not decided)
  std::string rule;
  std::string policy;
  std::string review_id;

  // Outcome.
  int64_t duration_us = 0;
  int64_t rows = -1;  ///< rows returned or affected; -1 = unknown
  std::string command_tag;
  std::string sqlstate;  ///< "" = success
  int64_t bytes_sent = 0;
  std::vector<MaskedColumn> masked;

  // Session, reload, API and trail events.
  std::string reason;
  std::string detail;

  /// Anchor and Checkpoint: the record they speak for.
  uint64_t anchor_seq = 0;
  std::string anchor_hash;
  std::string signature;  ///< Checkpoint: base64 Ed25519 signature (chain.h)

  bool operator==(const AuditEvent&) const = default;
};

/// A session keeps the events it fills by pointer (the struct is large) and
/// reuses them, statement after statement.
using EventPtr = std::unique_ptr<AuditEvent>;

/// The members every event of one session shares: `gateway_id`,
/// `session_id`, the subject's four, `client_address`, `tls`,
/// `tls_version`, `connection` and `upstream_role`.
///
/// Resets every other member to its default, keeping the memory of its
/// strings and lists: an event reused for a session's next statement then
/// carries nothing of the previous one, and its session members need no
/// copying (a unit test sets every member of the canonical form and checks
/// that exactly these survive).
void keepSessionMembers(AuditEvent& event);

/// A session's members as they appear in its records, escaped and laid out
/// once when the session starts: renderEvent copies them instead of writing
/// them again for every statement. Built for one gateway id; an event
/// rendered with it must carry the same session members (checked in debug
/// builds).
class SessionTemplate {
 public:
  SessionTemplate(const AuditEvent& session, std::string_view gateway_id);

  const std::string& gatewayId() const { return gateway_id_; }
  /// Whether `event` has exactly the session members this was built from.
  bool matches(const AuditEvent& event) const;

  /// The runs of session members between the others, in key order (event.cc).
  static constexpr size_t kRuns = 8;
  std::string_view run(size_t i) const {
    return std::string_view(runs_).substr(at_[i], at_[i + 1] - at_[i]);
  }

 private:
  std::string gateway_id_;
  std::string runs_;
  std::array<size_t, kRuns + 1> at_{};
};

/// The canonical JSON of `event` as record number `seq` of its gateway's
/// chain. Never fails: every field has a representation.
std::string canonicalJson(const AuditEvent& event, uint64_t seq);
/// Appends the same to `out` (the writer reuses one buffer).
void appendCanonicalJson(std::string& out, const AuditEvent& event, uint64_t seq);

/// An event rendered before it has a place in the chain: its canonical JSON
/// with the `,"seq":N` member left out at `seq_at`, and the columns sinks
/// index. AuditLog::submit renders on the submitting thread, where the
/// event was just filled; the writer only inserts the seq and hashes.
struct RenderedEvent {
  std::string json;
  size_t seq_at = 0;
  int64_t time_us = 0;
  EventType type = EventType::Statement;
  uint64_t session_id = 0;
  std::string subject;
  std::string decision;
};
/// Renders `event` as recorded by gateway `gateway_id` into `out`, reusing
/// its memory. With the seq inserted, `out.json` is exactly
/// canonicalJson(event with that gateway_id, seq).
void renderEvent(const AuditEvent& event, std::string_view gateway_id, RenderedEvent& out);
/// The same, the session members copied from `session` (built from the
/// event's own, for gateway `session.gatewayId()`).
void renderEvent(const AuditEvent& event, const SessionTemplate& session, RenderedEvent& out);
/// The record of `rendered` as number `seq`, appended to `out`.
void appendRecord(std::string& out, const RenderedEvent& rendered, uint64_t seq);

/// A record read back: its sequence number and event.
struct ParsedRecord {
  uint64_t seq = 0;
  AuditEvent event;
};

/// Parses canonical JSON back (also accepts any key order and spacing, so a
/// record edited by hand is read and then caught by its hash). Fails when a
/// key is missing, unknown or of the wrong type.
Result<ParsedRecord> parseRecord(std::string_view json);

namespace detail {
/// parseRecord's two readers, apart for tests: the fast one takes exactly
/// the canonical form and returns false for anything else (`out` is then
/// left in an unspecified state); the general one takes any JSON.
bool readCanonicalRecord(std::string_view json, ParsedRecord& out);
Result<ParsedRecord> parseAnyRecord(std::string_view json);
}  // namespace detail

}  // namespace pgw::audit
