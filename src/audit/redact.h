#pragma once
/// What of a statement the trail keeps (`audit.parameters`, per policy):
///
/// - Full: the text as the client sent it and every bound parameter;
/// - Redacted (default): the normalized text (literals replaced by $n by
///   the SQL analyzer) and "<redacted>" for every non-NULL parameter, so
///   the shape of the call stays visible (how many, which were NULL);
/// - None: the normalized text and no parameters.
///
/// Secrets are the proxy's business: for a statement that may carry one
/// (`looksLikeSecretStatement`) it records Redacted or None, never Full.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace pgw::audit {

enum class ParamMode { Full, Redacted, None };

ParamMode toParamMode(config::AuditParams params);

/// The placeholder of a redacted parameter.
inline constexpr std::string_view kRedacted = "<redacted>";
/// The text recorded when redaction is asked for but there is no
/// normalized form (a statement that did not parse): the raw text may hold
/// literals, so it is not kept.
inline constexpr std::string_view kUnnormalized = "<statement text redacted: it did not parse>";

struct RecordedStatement {
  std::string text;
  std::vector<std::optional<std::string>> parameters;
};

/// What to put in AuditEvent::statement and ::parameters.
RecordedStatement redactStatement(ParamMode mode, std::string_view text,
                                  std::string_view normalized,
                                  std::span<const std::optional<std::string>> parameters);
/// The same written into `out` (its strings' memory is reused). `parameters`
/// must not be `out.parameters`.
void redactStatementInto(ParamMode mode, std::string_view text, std::string_view normalized,
                         std::span<const std::optional<std::string>> parameters,
                         RecordedStatement& out);

/// True for statements whose text or parameters may hold a password or a
/// connection string: `kind` as policies name it ("alter_role"), with the
/// DDL object type for create/alter ("user_mapping", "server",
/// "subscription": their options carry passwords and connection strings).
bool looksLikeSecretStatement(std::string_view kind, std::string_view object_type = {});

}  // namespace pgw::audit
