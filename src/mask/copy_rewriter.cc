/// COPY TO output: rows split, decoded, masked and re-encoded the way
/// PostgreSQL's copyto.c writes them (CopyAttributeOutText / OutCSV) and
/// copyfromparse.c reads them.

#include "mask/copy_rewriter.h"

#include <cstring>

#include "common/ascii.h"
#include "common/bytes.h"
#include "mask/value.h"
#include "protocol/messages.h"

namespace pgw::mask {
namespace {

constexpr char kBinarySignature[] = "PGCOPY\n\xff\r\n";  // + the terminating NUL: 11 bytes
constexpr size_t kSignatureSize = 11;

Error badCopy(std::string_view why) {
  return fail("08P01", "COPY data: " + std::string(why));
}

/// A text-format field with its backslash escapes resolved.
void decodeText(std::string_view raw, std::string& out) {
  out.clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c != '\\' || i + 1 == raw.size()) {
      out += c;
      continue;
    }
    const char n = raw[++i];
    if (n >= '0' && n <= '7') {
      int v = n - '0';
      for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7'; ++k)
        v = v * 8 + (raw[++i] - '0');
      out += static_cast<char>(v);
    } else if (n == 'x' && i + 1 < raw.size() && ascii::hexValue(raw[i + 1]) >= 0) {
      int v = ascii::hexValue(raw[++i]);
      if (i + 1 < raw.size() && ascii::hexValue(raw[i + 1]) >= 0)
        v = v * 16 + ascii::hexValue(raw[++i]);
      out += static_cast<char>(v);
    } else {
      switch (n) {
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        default:
          out += n;
      }
    }
  }
}

void encodeText(std::string_view v, char delimiter, std::string& out) {
  for (char c : v) {
    switch (c) {
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c == delimiter) out += '\\';
        out += c;
    }
  }
}

}  // namespace

CopyRewriter::CopyRewriter(std::vector<std::optional<ColumnPlan>> plan, CopyOptions options)
    : cells_(std::move(plan)), options_(std::move(options)) {
  if (options_.delimiter == 0) options_.delimiter = options_.format == CopyFormat::Csv ? ',' : '\t';
  if (options_.escape == 0) options_.escape = options_.quote;
  null_ = options_.null_string.value_or(options_.format == CopyFormat::Csv ? "" : "\\N");
  header_pending_ = options_.format == CopyFormat::Binary || options_.header;
}

Result<bool> CopyRewriter::rewrite(std::string_view payload, bool first_message, std::string& out) {
  if (first_message) {
    pending_.clear();
    header_pending_ = options_.format == CopyFormat::Binary || options_.header;
    ended_ = false;
  }
  // Buffers are members: a COPY of a million rows allocates nothing per row.
  const bool had_pending = !pending_.empty();
  if (had_pending) pending_.append(payload);
  const std::string_view in = had_pending ? std::string_view(pending_) : payload;
  body_.clear();
  bool changed = false;
  auto consumed = process(in, body_, changed);
  if (!consumed) return consumed.takeError();
  if (had_pending) {
    pending_.erase(0, *consumed);
  } else {
    pending_.assign(payload.substr(*consumed));
  }
  if (!had_pending && pending_.empty() && !changed) return false;
  if (!body_.empty()) protocol::encodeCopyData(out, asBytes(body_));
  return true;
}

Status CopyRewriter::finish() const {
  if (!pending_.empty()) return badCopy("the output ended inside a row");
  return {};
}

Result<size_t> CopyRewriter::process(std::string_view in, std::string& body, bool& changed) {
  size_t pos = 0;
  while (pos < in.size()) {
    if (ended_) return badCopy("data after the binary trailer");
    const std::string_view rest = in.substr(pos);
    Result<size_t> n = size_t{0};
    if (header_pending_ && options_.format == CopyFormat::Binary) {
      // Signature, flags, header extension length, extension: copied as is.
      if (rest.size() < kSignatureSize + 8) break;
      if (std::memcmp(rest.data(), kBinarySignature, kSignatureSize) != 0) {
        return badCopy("binary output without the PGCOPY signature");
      }
      const int32_t ext = getI32(asBytes(rest).data() + kSignatureSize + 4);
      if (ext < 0) return badCopy("negative header extension length");
      const size_t size = kSignatureSize + 8 + static_cast<size_t>(ext);
      if (rest.size() < size) break;
      body.append(rest.substr(0, size));
      n = size;
    } else if (header_pending_) {
      // The HEADER line names the columns: copied as is.
      const size_t end = options_.format == CopyFormat::Csv ? csvRowEnd(rest) : rest.find('\n');
      if (end == std::string_view::npos) break;
      body.append(rest.substr(0, end + 1));
      n = end + 1;
    } else if (options_.format == CopyFormat::Binary) {
      n = binaryRow(rest, body, changed);
    } else if (options_.format == CopyFormat::Csv) {
      n = csvRow(rest, body, changed);
    } else {
      n = textRow(rest, body, changed);
    }
    if (!n) return n.takeError();
    if (*n == 0) break;  // incomplete: held for the next message
    if (header_pending_) header_pending_ = false;
    pos += *n;
  }
  return pos;
}

Result<size_t> CopyRewriter::textRow(std::string_view in, std::string& body, bool& changed) {
  const size_t nl = in.find('\n');
  if (nl == std::string_view::npos) return size_t{0};
  const std::string_view line = in.substr(0, nl);
  const char delim = options_.delimiter;
  size_t start = 0;
  size_t column = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i < line.size() && line[i] == '\\') {
      ++i;
      continue;
    }
    if (i < line.size() && line[i] != delim) continue;
    const std::string_view raw = line.substr(start, std::min(i, line.size()) - start);
    if (column > 0) body += delim;
    if (!cells_.planned(column) || raw == null_) {
      body.append(raw);
    } else {
      decodeText(raw, field_);
      masked_.clear();
      switch (cells_.mask(column, kTextFormat, field_, masked_)) {
        case CellOutcome::Masked:
          encodeText(masked_, delim, body);
          changed = true;
          break;
        case CellOutcome::Null:
          body += null_;
          changed = true;
          break;
        case CellOutcome::Unchanged:
          body.append(raw);
          break;
      }
    }
    ++column;
    start = i + 1;
  }
  body += '\n';
  return nl + 1;
}

size_t CopyRewriter::csvRowEnd(std::string_view in) const {
  const char quote = options_.quote, escape = options_.escape;
  bool in_quotes = false;
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (in_quotes && c == escape && i + 1 < in.size() &&
        (in[i + 1] == quote || in[i + 1] == escape) && (escape != quote || in[i + 1] == quote)) {
      ++i;
    } else if (c == quote) {
      in_quotes = !in_quotes;
    } else if (c == '\n' && !in_quotes) {
      return i;
    }
  }
  return std::string_view::npos;
}

Result<size_t> CopyRewriter::csvRow(std::string_view in, std::string& body, bool& changed) {
  const char delim = options_.delimiter, quote = options_.quote, escape = options_.escape;
  const size_t end = csvRowEnd(in);
  if (end == std::string_view::npos) return size_t{0};
  const std::string_view line = in.substr(0, end);
  size_t pos = 0;
  for (size_t column = 0;; ++column) {
    const size_t start = pos;
    bool quoted = false;
    field_.clear();
    while (pos < line.size() && line[pos] != delim) {
      if (line[pos] != quote) {
        field_ += line[pos++];
        continue;
      }
      quoted = true;
      ++pos;
      while (pos < line.size()) {
        const char c = line[pos];
        if (c == escape && pos + 1 < line.size() &&
            (line[pos + 1] == quote || line[pos + 1] == escape) &&
            (escape != quote || line[pos + 1] == quote)) {
          field_ += line[pos + 1];
          pos += 2;
        } else if (c == quote) {
          ++pos;
          break;
        } else {
          field_ += c;
          ++pos;
        }
      }
    }
    const std::string_view raw = line.substr(start, pos - start);
    if (column > 0) body += delim;
    const bool is_null = !quoted && raw == null_;
    CellOutcome outcome = CellOutcome::Unchanged;
    if (cells_.planned(column) && !is_null) {
      masked_.clear();
      outcome = cells_.mask(column, kTextFormat, field_, masked_);
    }
    switch (outcome) {
      case CellOutcome::Unchanged:
        body.append(raw);
        break;
      case CellOutcome::Null:
        body += null_;
        changed = true;
        break;
      case CellOutcome::Masked: {
        changed = true;
        bool needs = quoted || masked_ == null_ || masked_ == "\\.";
        for (char c : masked_) {
          if (c == delim || c == quote || c == escape || c == '\n' || c == '\r') needs = true;
        }
        if (!needs) {
          body += masked_;
          break;
        }
        body += quote;
        for (char c : masked_) {
          if (c == quote || c == escape) body += escape;
          body += c;
        }
        body += quote;
        break;
      }
    }
    if (pos >= line.size()) break;
    ++pos;  // the delimiter
  }
  body += '\n';
  return end + 1;
}

Result<size_t> CopyRewriter::binaryRow(std::string_view in, std::string& body, bool& changed) {
  if (in.size() < 2) return size_t{0};
  const auto* p = asBytes(in).data();
  const int16_t count = getI16(p);
  if (count == -1) {
    body.append(in.substr(0, 2));
    ended_ = true;
    return size_t{2};
  }
  if (count < 0) return badCopy("negative field count");
  // The whole row must be here before any cell is masked (and counted).
  size_t pos = 2;
  for (int16_t column = 0; column < count; ++column) {
    if (in.size() < pos + 4) return size_t{0};
    const int32_t len = getI32(p + pos);
    if (len < -1) return badCopy("negative field length");
    pos += 4 + (len > 0 ? static_cast<size_t>(len) : 0);
    if (pos > in.size()) return size_t{0};
  }
  bool row_changed = false;
  body.append(in.substr(0, 2));
  pos = 2;
  ByteWriter w(body);
  for (size_t column = 0; column < static_cast<size_t>(count); ++column) {
    const int32_t len = getI32(p + pos);
    pos += 4;
    if (len == -1) {
      w.i32(-1);
      continue;
    }
    const std::string_view value = in.substr(pos, static_cast<size_t>(len));
    pos += static_cast<size_t>(len);
    const size_t len_at = body.size();
    w.i32(len);
    if (!cells_.planned(column)) {
      body.append(value);
      continue;
    }
    switch (cells_.mask(column, kBinaryFormat, value, body)) {
      case CellOutcome::Masked:
        putI32(body.data() + len_at, static_cast<int32_t>(body.size() - len_at - 4));
        row_changed = true;
        break;
      case CellOutcome::Null:
        body.resize(len_at);
        w.i32(-1);
        row_changed = true;
        break;
      case CellOutcome::Unchanged:
        body.append(value);
        break;
    }
  }
  changed = changed || row_changed;
  return pos;
}

}  // namespace pgw::mask
