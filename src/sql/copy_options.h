#pragma once
/// The output options of `COPY ... TO STDOUT`, read from the statement's
/// parse tree (https://www.postgresql.org/docs/15/sql-copy.html). Masking
/// needs them to split the COPY stream into fields.

#include <optional>
#include <string>
#include <string_view>

namespace pgw::sql {

struct CopyOutOptions {
  enum class Format { Text, Csv, Binary };
  Format format = Format::Text;
  std::optional<char> delimiter;
  std::optional<char> quote;
  std::optional<char> escape;
  std::optional<std::string> null_string;
  bool header = false;
};

/// The options of `sql` when it is a single `COPY ... TO STDOUT`; nullopt
/// otherwise, or when an option is not one the server would accept (a
/// multi-byte delimiter): the server then refuses the statement anyway.
std::optional<CopyOutOptions> copyOutOptions(std::string_view sql);

}  // namespace pgw::sql
