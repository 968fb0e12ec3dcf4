#pragma once
/// Reviews and access requests for a terminal: what `pgwarden review …` and
/// `pgwarden access …` print from the REST API's JSON (json.h forms).
///
/// Everything shown comes from the caller under review (statements,
/// parameters, reasons) or from the server, so control characters are
/// printed as visible escapes ("\x1b", "\r"): a statement cannot move the
/// cursor, clear the screen or hide part of itself from the approver. The
/// functions never throw on a missing member or one of another type — they
/// show what is there (the API may be a newer version than the CLI).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace pgw::review {

/// `pgwarden review show`: every field an approver needs, several lines.
std::string describeReview(const nlohmann::json& review, int64_t now_us);
/// `pgwarden review list`: a table with a header, one review per line
/// (statements on one line, cut to fit); `empty` alone when there is none.
std::string reviewTable(const nlohmann::json& reviews, int64_t now_us, std::string_view empty);
/// After approve / deny: "rv_… is approved (2 of 2 approvals)." and the like.
std::string reviewOutcome(const nlohmann::json& review);

/// One access request, several lines (after `access request`).
std::string describeAccessRequest(const nlohmann::json& request, int64_t now_us);
/// `pgwarden access list`.
std::string accessTable(const nlohmann::json& requests, int64_t now_us, std::string_view empty);
/// After approve / deny / revoke.
std::string accessOutcome(const nlohmann::json& request, int64_t now_us);

/// `text` with control characters (C0, DEL, C1, and invalid UTF-8 bytes) as
/// "\xNN" escapes; with `multiline`, "\n" and "\t" are kept.
std::string printable(std::string_view text, bool multiline = false);
/// "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (what rfc3339() writes) as microseconds
/// since the epoch; nullopt for anything else.
std::optional<int64_t> parseRfc3339(std::string_view text);
/// "45s", "12m", "1h30m", "2d3h" (rounded down); for ages and time left.
std::string shortDuration(int64_t us);

}  // namespace pgw::review
