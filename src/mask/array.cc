/// Array values: the text form as array_out writes it and array_in reads it,
/// the binary form as array_send writes it (src/backend/utils/adt/arrayfuncs.c).

#include "mask/array.h"

#include <cctype>

#include "common/bytes.h"

namespace pgw::mask::detail {
namespace {

/// array_recv's limit (MAXDIM).
constexpr int32_t kMaxDims = 6;

Error badArray(std::string_view why) {
  return fail("22P02", "array value: " + std::string(why));
}

bool isArraySpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool isNullWord(std::string_view v) {
  return v.size() == 4 && std::toupper(static_cast<unsigned char>(v[0])) == 'N' &&
         std::toupper(static_cast<unsigned char>(v[1])) == 'U' &&
         std::toupper(static_cast<unsigned char>(v[2])) == 'L' &&
         std::toupper(static_cast<unsigned char>(v[3])) == 'L';
}

class TextArray {
 public:
  TextArray(uint32_t element_oid, std::string_view in, ElementFn fn, std::string& out)
      : element_oid_(element_oid), in_(in), fn_(fn), out_(out) {}

  Result<Cell> run() {
    skipSpace();
    if (pos_ < in_.size() && in_[pos_] == '[') {
      // Explicit bounds ("[0:2]={...}"): kept as written.
      const size_t eq = in_.find('=', pos_);
      if (eq == std::string_view::npos) return badArray("bounds without '='");
      out_.append(in_.substr(pos_, eq + 1 - pos_));
      pos_ = eq + 1;
      skipSpace();
    }
    if (auto st = level(0); !st) return st.takeError();
    skipSpace();
    if (pos_ != in_.size()) return badArray("text after the closing brace");
    return changed_ ? Cell::Value : Cell::Unchanged;
  }

 private:
  void skipSpace() {
    while (pos_ < in_.size() && isArraySpace(in_[pos_])) ++pos_;
  }

  Status level(int depth) {
    if (depth > kMaxDims) return badArray("too many dimensions");
    if (pos_ >= in_.size() || in_[pos_] != '{') return badArray("expected '{'");
    ++pos_;
    out_ += '{';
    skipSpace();
    if (pos_ < in_.size() && in_[pos_] == '}') {
      ++pos_;
      out_ += '}';
      return {};
    }
    for (bool first = true;; first = false) {
      if (!first) out_ += ',';
      skipSpace();
      if (pos_ < in_.size() && in_[pos_] == '{') {
        if (auto st = level(depth + 1); !st) return st;
      } else if (auto st = element(); !st) {
        return st;
      }
      skipSpace();
      if (pos_ >= in_.size()) return badArray("missing '}'");
      const char c = in_[pos_++];
      if (c == '}') break;
      if (c != ',') return badArray("expected ',' or '}'");
    }
    out_ += '}';
    return {};
  }

  Status element() {
    std::string value;
    bool quoted = false;
    bool escaped = false;
    if (pos_ < in_.size() && in_[pos_] == '"') {
      quoted = true;
      ++pos_;
      while (pos_ < in_.size() && in_[pos_] != '"') {
        if (in_[pos_] == '\\') {
          if (++pos_ >= in_.size()) break;
        }
        value += in_[pos_++];
      }
      if (pos_ >= in_.size()) return badArray("unterminated quoted element");
      ++pos_;
    } else {
      size_t kept = 0;  // length up to the last character that was not trailing space
      while (pos_ < in_.size() && in_[pos_] != ',' && in_[pos_] != '}') {
        const char c = in_[pos_];
        if (c == '{' || c == '"') return badArray("unexpected character in an element");
        if (c == '\\') {
          if (++pos_ >= in_.size()) return badArray("backslash at the end");
          value += in_[pos_++];
          escaped = true;
          kept = value.size();
          continue;
        }
        value += c;
        ++pos_;
        if (!isArraySpace(c)) kept = value.size();
      }
      value.resize(kept);
      if (value.empty() && !escaped) return badArray("empty element");
    }
    if (!quoted && !escaped && isNullWord(value)) {
      out_ += "NULL";
      return {};
    }
    scratch_.clear();
    auto r = fn_(element_oid_, value, scratch_);
    if (!r) return r.takeError();
    switch (*r) {
      case Cell::Null:
        out_ += "NULL";
        changed_ = true;
        break;
      case Cell::Value:
        appendArrayElement(scratch_, out_);
        changed_ = true;
        break;
      case Cell::Unchanged:
        appendArrayElement(value, out_);
        break;
    }
    return {};
  }

  uint32_t element_oid_;
  std::string_view in_;
  ElementFn fn_;
  std::string& out_;
  std::string scratch_;
  size_t pos_ = 0;
  bool changed_ = false;
};

Result<Cell> binaryArray(uint32_t expected_oid, std::string_view in, ElementFn fn,
                         std::string& out) {
  ByteReader r(in);
  const int32_t ndim = r.i32();
  const int32_t flags = r.i32();
  const uint32_t element_oid = r.u32();
  if (!r.ok() || ndim < 0 || ndim > kMaxDims) return badArray("invalid dimension count");
  if ((flags & ~1) != 0) return badArray("invalid flags");
  // array_recv refuses another element type than the column's, so does this.
  if (element_oid != expected_oid) return badArray("wrong element type");
  ByteWriter w(out);
  w.i32(ndim);
  const size_t flags_at = out.size();
  w.i32(0);
  w.u32(element_oid);
  int64_t count = ndim == 0 ? 0 : 1;
  for (int32_t d = 0; d < ndim; ++d) {
    const int32_t size = r.i32();
    const int32_t lower = r.i32();
    if (!r.ok() || size < 0) return badArray("invalid dimension");
    count *= size;
    // Each element takes at least its 4-byte length: a larger count cannot fit.
    if (count > static_cast<int64_t>(in.size() / 4)) return badArray("more elements than bytes");
    w.i32(size);
    w.i32(lower);
  }
  bool has_null = false;
  bool changed = false;
  for (int64_t i = 0; i < count; ++i) {
    const int32_t len = r.i32();
    if (!r.ok() || len < -1) return badArray("invalid element length");
    if (len == -1) {
      w.i32(-1);
      has_null = true;
      continue;
    }
    const std::string_view value = asChars(r.bytes(len));
    if (!r.ok()) return badArray("element overruns the value");
    const size_t len_at = out.size();
    w.i32(0);
    auto cell = fn(element_oid, value, out);
    if (!cell) return cell.takeError();
    switch (*cell) {
      case Cell::Null:
        out.resize(len_at);
        w.i32(-1);
        has_null = true;
        changed = true;
        break;
      case Cell::Value:
        putI32(out.data() + len_at, static_cast<int32_t>(out.size() - len_at - 4));
        changed = true;
        break;
      case Cell::Unchanged:
        out.append(value);
        putI32(out.data() + len_at, len);
        break;
    }
  }
  if (!r.atEnd()) return badArray("bytes after the last element");
  putI32(out.data() + flags_at, has_null ? 1 : 0);
  return changed ? Cell::Value : Cell::Unchanged;
}

}  // namespace

void appendArrayElement(std::string_view v, std::string& out) {
  bool quote = v.empty() || isNullWord(v);
  for (char c : v) {
    if (c == '"' || c == '\\' || c == '{' || c == '}' || c == ',' || isArraySpace(c)) quote = true;
  }
  if (!quote) {
    out.append(v);
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

Result<Cell> rewriteArray(uint32_t element_oid, int16_t format, std::string_view in, ElementFn fn,
                          std::string& out) {
  const size_t start = out.size();
  Result<Cell> r = format == 1 ? binaryArray(element_oid, in, fn, out)
                               : TextArray(element_oid, in, fn, out).run();
  if (!r || *r == Cell::Unchanged) out.resize(start);
  return r;
}

}  // namespace pgw::mask::detail
