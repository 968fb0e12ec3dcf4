#pragma once
/// Denied statements fail exactly as if PostgreSQL had refused them.
///
/// The gateway never forwards a denied statement. It forwards in its place a
/// statement that is certain to fail on the server — a reference to a column
/// whose name carries this session's random marker and a sequence number —
/// so PostgreSQL itself applies its failure semantics: an explicit
/// transaction becomes aborted (the client's COMMIT yields ROLLBACK), an
/// extended-protocol pipeline skips to Sync and its implicit transaction
/// rolls back, an already-aborted transaction answers 25P02, and the client
/// receives ErrorResponse then ReadyForQuery with the right status. When the
/// server's error for the marker comes back, it is replaced by the denial's
/// own error (42501 with the policy, rule and hint). Nothing of the denied
/// statement reaches the server.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocol/messages.h"

namespace pgw::proxy {

/// The error a client sees for a denied statement.
struct DenialError {
  std::string sqlstate = "42501";
  std::string message;
  std::string detail;
  std::string hint;
};

class Denials {
 public:
  Denials();

  /// Appends a simple Query that fails upstream. Also replaces a denied
  /// FunctionCall: both are answered by ErrorResponse + ReadyForQuery.
  void denyQuery(std::string& out, DenialError error);
  /// Appends a Parse of the failing statement under the client's statement
  /// name, so the rest of the pipeline up to Sync is skipped by the server.
  void denyParse(std::string& out, std::string_view statement_name, DenialError error);
  /// Appends a Bind of a prepared statement that does not exist (named after
  /// the marker) in place of a Bind the gateway refuses: the server fails it
  /// with no other effect and skips the pipeline to Sync.
  void denyBind(std::string& out, std::string_view portal, DenialError error);
  /// If `fields` is the server's error for one of our markers, appends the
  /// denial's ErrorResponse to `out` and returns true.
  bool rewrite(const protocol::NoticeFields& fields, std::string& out);
  /// The upstream is idle: no marker is in flight any more (one that the
  /// server skipped after an earlier error never comes back).
  void settle() { pending_.clear(); }
  size_t inFlight() const { return pending_.size(); }

 private:
  std::string failingSql(DenialError error);
  std::string nextMarker(DenialError error);

  std::string marker_;  ///< pgwarden_denied_<32 hex>_
  uint64_t next_ = 1;
  std::unordered_map<uint64_t, DenialError> pending_;
};

}  // namespace pgw::proxy
