#include "audit/redact.h"

#include <array>

namespace pgw::audit {

ParamMode toParamMode(config::AuditParams params) {
  switch (params) {
    case config::AuditParams::Full:
      return ParamMode::Full;
    case config::AuditParams::Redacted:
      return ParamMode::Redacted;
    case config::AuditParams::None:
      return ParamMode::None;
  }
  return ParamMode::Redacted;
}

RecordedStatement redactStatement(ParamMode mode, std::string_view text,
                                  std::string_view normalized,
                                  std::span<const std::optional<std::string>> parameters) {
  RecordedStatement out;
  redactStatementInto(mode, text, normalized, parameters, out);
  return out;
}

void redactStatementInto(ParamMode mode, std::string_view text, std::string_view normalized,
                         std::span<const std::optional<std::string>> parameters,
                         RecordedStatement& out) {
  if (mode == ParamMode::Full) {
    out.text.assign(text);
    out.parameters.assign(parameters.begin(), parameters.end());
    return;
  }
  // A text without literals normalizes to itself; an empty normalized form
  // with a non-empty text means the analyzer could not produce one.
  out.text.assign(!normalized.empty() || text.empty() ? normalized : kUnnormalized);
  if (mode == ParamMode::None) {
    out.parameters.clear();
    return;
  }
  out.parameters.resize(parameters.size());
  for (size_t i = 0; i < parameters.size(); ++i) {
    if (parameters[i]) {
      out.parameters[i] = kRedacted;
    } else {
      out.parameters[i].reset();
    }
  }
}

bool looksLikeSecretStatement(std::string_view kind, std::string_view object_type) {
  // CREATE/ALTER ROLE ... PASSWORD.
  if (kind == "create_role" || kind == "alter_role") return true;
  if (kind != "create" && kind != "alter") return false;
  // User mappings, foreign servers and subscriptions: passwords and
  // connection strings in their options.
  return object_type == "user_mapping" || object_type == "server" || object_type == "subscription";
}

}  // namespace pgw::audit
