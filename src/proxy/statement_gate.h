#pragma once
/// Decides, per statement, whether a session may run it. The policy layer
/// implements it; a session without a gate forwards everything.

#include <cstdint>
#include <optional>
#include <string_view>

#include "proxy/denials.h"

namespace pgw::proxy {

class StatementGate {
 public:
  virtual ~StatementGate() = default;
  /// A simple Query, which may hold several statements: if any is denied,
  /// none runs. nullopt = allowed.
  virtual std::optional<DenialError> checkQuery(std::string_view sql) = 0;
  /// A Parse: the decision for statement `name` is made here, once.
  virtual std::optional<DenialError> checkParse(std::string_view name, std::string_view sql) = 0;
  /// A Bind of prepared statement `statement` ("" = unnamed).
  virtual std::optional<DenialError> checkBind(std::string_view statement) = 0;
  /// A fast-path FunctionCall, which no SQL text describes.
  virtual std::optional<DenialError> checkFunctionCall(int32_t function_oid) = 0;
};

}  // namespace pgw::proxy
