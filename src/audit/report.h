#pragma once
/// How `pgwarden audit` shows records: times, one-line summaries, CSV rows,
/// session replays. Kept in the library (not the CLI) so it is unit-tested.

#include <cstdint>
#include <string>
#include <string_view>

#include "audit/chain.h"
#include "audit/event.h"
#include "common/result.h"

namespace pgw::audit {

/// "2026-11-25T10:01:02.123456Z".
std::string formatTime(int64_t time_us);

/// A `--since` / `--until` argument: RFC 3339 ("2026-11-25T10:00:00Z",
/// "2026-11-25T11:00:00.5+01:00", or a date "2026-11-25" = its midnight UTC)
/// or a duration back from `now_us` ("24h", "7d", "30m").
Result<int64_t> parseTimeArg(std::string_view text, int64_t now_us);

/// One line per record for `tail`: time, type, session, subject, decision,
/// kind, outcome and the statement (newlines folded, cut at `max_text`).
std::string summaryLine(const AuditEvent& e, uint64_t seq, size_t max_text = 200);

/// `export --format csv`: the header and one row (RFC 4180 quoting; a
/// trailing newline on both).
std::string csvHeader();
std::string csvRow(const StoredRecord& row, const AuditEvent& e);

/// `replay`: one statement or session event of a session, `start_us` being
/// the session's first event.
std::string replayLine(const AuditEvent& e, int64_t start_us);

}  // namespace pgw::audit
