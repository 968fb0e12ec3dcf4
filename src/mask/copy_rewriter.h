#pragma once
/// Rewriting the masked columns of COPY ... TO STDOUT output, in the three
/// formats (https://www.postgresql.org/docs/15/sql-copy.html, "File Formats"):
///
///  - text: one row per line, fields split by the delimiter (tab), backslash
///    escapes, `\N` for NULL;
///  - csv: fields split by ',', quoted with '"' when needed (a quoted field
///    may span lines), an unquoted empty field for NULL;
///  - binary: the PGCOPY header, then per row an int16 field count and
///    int32-length-prefixed fields (-1 = NULL) in binary format, and an int16
///    -1 trailer.
///
/// PostgreSQL sends one row per CopyData message, but the protocol does not
/// promise it; a row split across messages is held until it is complete, so
/// no byte of an unmasked row ever goes out.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "mask/cell_masker.h"

namespace pgw::mask {

enum class CopyFormat { Text, Csv, Binary };

/// The COPY statement's options (defaults: the server's).
struct CopyOptions {
  CopyFormat format = CopyFormat::Text;
  char delimiter = 0;                      ///< 0 = tab (text) or ',' (csv)
  char quote = '"';                        ///< csv
  char escape = 0;                         ///< csv; 0 = the quote character
  std::optional<std::string> null_string;  ///< default "\N" (text), "" (csv)
  bool header = false;                     ///< text/csv HEADER: the first line names columns
};

class CopyRewriter {
 public:
  /// `plan`: by column of the COPY output (its `format` is ignored: the
  /// COPY format decides).
  CopyRewriter(std::vector<std::optional<ColumnPlan>> plan, CopyOptions options);

  /// Rewrites one CopyData payload of the COPY's output. `first_message`:
  /// the first CopyData after CopyOutResponse (starts a new stream).
  /// Returns false when the original message can be forwarded as is (no
  /// cell changed and no row is held); true when `out` holds what to send
  /// instead: a whole CopyData message with the complete rows, or nothing
  /// while a split row is still incomplete. Errors (08P01): data that is not
  /// valid COPY output of the format.
  Result<bool> rewrite(std::string_view payload, bool first_message, std::string& out);
  /// At CopyDone: an error when part of a row is still held (the stream
  /// ended inside a row: nothing of it was sent).
  Status finish() const;

  std::vector<MaskCount> counts() const { return cells_.counts(); }
  uint64_t undecodable() const { return cells_.undecodable(); }

 private:
  /// Rewrites the complete rows at the start of `in` into `body`; returns
  /// the bytes consumed.
  Result<size_t> process(std::string_view in, std::string& body, bool& changed);
  Result<size_t> textRow(std::string_view in, std::string& body, bool& changed);
  /// Where the CSV row at the start of `in` ends (its newline, outside
  /// quotes); npos when it is incomplete.
  size_t csvRowEnd(std::string_view in) const;
  Result<size_t> csvRow(std::string_view in, std::string& body, bool& changed);
  Result<size_t> binaryRow(std::string_view in, std::string& body, bool& changed);

  CellMasker cells_;
  CopyOptions options_;
  std::string null_;
  std::string pending_;  ///< an incomplete row (or header) from earlier messages
  bool header_pending_ = false;
  bool ended_ = false;  ///< binary: the trailer was seen
  std::string field_, masked_, body_;
};

}  // namespace pgw::mask
