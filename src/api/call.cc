#include "api/call.h"

#include <charconv>
#include <limits>
#include <set>

#include "api/router.h"

namespace pgw::api {
namespace {

using nlohmann::json;

/// Deeper JSON is refused before it is built (no request needs more than 3).
constexpr int kMaxJsonDepth = 64;
/// How much of a caller's name (a field, a parameter) an error repeats.
constexpr size_t kMaxEchoedName = 64;

std::string echo(std::string_view name) {
  if (name.size() <= kMaxEchoedName) return std::string(name);
  return std::string(name.substr(0, kMaxEchoedName)) + "...";
}

std::string typeName(const json& v) {
  switch (v.type()) {
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    case json::value_t::null:
      return "null";
    default:
      return "a value of another type";
  }
}

/// Days from 1970-01-01 to y-m-d (proleptic Gregorian), H. Hinnant's algorithm.
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool isLeap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/// Reads exactly `n` digits at `pos`.
bool digits(std::string_view text, size_t& pos, size_t n, int& out) {
  if (pos + n > text.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool expect(std::string_view text, size_t& pos, std::string_view chars) {
  if (pos >= text.size() || chars.find(text[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

/// ".123456" at `pos` (any number of digits; beyond microseconds ignored).
bool fraction(std::string_view text, size_t& pos, int64_t& us) {
  us = 0;
  if (pos >= text.size() || text[pos] != '.') return true;
  ++pos;
  const size_t start = pos;
  int64_t scale = 100000;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    us += (text[pos] - '0') * scale;
    scale /= 10;
    ++pos;
  }
  return pos > start;
}

std::optional<int64_t> parseRfc3339(std::string_view text) {
  size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!digits(text, pos, 4, year) || !expect(text, pos, "-") || !digits(text, pos, 2, month) ||
      !expect(text, pos, "-") || !digits(text, pos, 2, day) || !expect(text, pos, "Tt ") ||
      !digits(text, pos, 2, hour) || !expect(text, pos, ":") || !digits(text, pos, 2, minute) ||
      !expect(text, pos, ":") || !digits(text, pos, 2, second)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 ||
      day > kDays[month - 1] + (month == 2 && isLeap(year) ? 1 : 0) || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  int64_t us = 0;
  if (!fraction(text, pos, us)) return std::nullopt;
  int64_t offset_s = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh, om;
    if (!digits(text, pos, 2, oh) || !expect(text, pos, ":") || !digits(text, pos, 2, om) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_s = sign * (int64_t{oh} * 3600 + int64_t{om} * 60);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const int64_t secs =
      daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      int64_t{hour} * 3600 + int64_t{minute} * 60 + std::min(second, 59) - offset_s;
  return secs * 1'000'000 + us;
}

}  // namespace

int httpStatusOf(const Error& error, int fallback) {
  const std::string& s = error.sqlstate;
  if (s.size() == 3 && (s[0] == '4' || s[0] == '5')) {
    if (auto n = parseUnsigned(s)) return static_cast<int>(*n);
  }
  return fallback;
}

void throwError(const Error& error, int fallback) {
  throw ApiError(httpStatusOf(error, fallback), error.message);
}

std::optional<uint64_t> parseUnsigned(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> parseTimeUs(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789.") == std::string_view::npos) {
    const size_t dot = text.find('.');
    auto secs = parseUnsigned(text.substr(0, dot));
    // Up to the year 9999: keeps the microsecond product far from overflow.
    if (!secs || *secs > 253402300799ULL) return std::nullopt;
    int64_t us = 0;
    if (dot != std::string_view::npos) {
      size_t pos = dot;
      if (!fraction(text, pos, us) || pos != text.size()) return std::nullopt;
    }
    return static_cast<int64_t>(*secs) * 1'000'000 + us;
  }
  return parseRfc3339(text);
}

std::optional<int64_t> parseDurationUs(std::string_view text) {
  const size_t unit_at = text.find_first_not_of("0123456789");
  if (unit_at == 0 || unit_at == std::string_view::npos) return std::nullopt;
  auto n = parseUnsigned(text.substr(0, unit_at));
  const std::string_view unit = text.substr(unit_at);
  int64_t scale = 0;
  if (unit == "ms") {
    scale = 1000;
  } else if (unit == "s") {
    scale = 1'000'000;
  } else if (unit == "m") {
    scale = 60'000'000;
  } else if (unit == "h") {
    scale = 3'600'000'000LL;
  } else if (unit == "d") {
    scale = 86'400'000'000LL;
  }
  if (!n || scale == 0) return std::nullopt;
  if (*n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / scale)) return std::nullopt;
  return static_cast<int64_t>(*n) * scale;
}

json parseJsonBody(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  // Open objects' keys, innermost last (arrays push an empty entry).
  std::vector<std::set<std::string>> open;
  auto check = [&open](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) {
          throw ApiError(400, "the JSON body is nested deeper than " +
                                  std::to_string(kMaxJsonDepth) + " levels");
        }
        open.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && parsed.is_string() &&
            !open.back().insert(parsed.get<std::string>()).second) {
          throw ApiError(
              400, "the JSON body repeats the member '" + echo(parsed.get<std::string>()) + "'");
        }
        break;
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return json::parse(body, check);
  } catch (const json::parse_error& e) {
    // Where, not what: nlohmann's message quotes the text it read last,
    // which may be part of a password.
    size_t line = 1, column = 0;
    const size_t upto = std::min(e.byte, body.size());
    for (size_t i = 0; i < upto; ++i) {
      if (body[i] == '\n') {
        ++line;
        column = 0;
      } else {
        ++column;
      }
    }
    throw ApiError(400, "malformed JSON body at line " + std::to_string(line) + ", column " +
                            std::to_string(std::max<size_t>(column, 1)));
  } catch (const json::exception&) {
    throw ApiError(400, "malformed JSON body");
  }
}

// ---- JsonFields ------------------------------------------------------------

void requireObject(const json& value, const std::string& path) {
  if (value.is_object()) return;
  const std::string what = path.empty() ? "the request body" : "'" + path + "'";
  throw ApiError(400, what + " must be a JSON object, not " + typeName(value));
}

JsonFields::JsonFields(const json& value, std::string path,
                       std::initializer_list<std::string_view> allowed)
    : value_(value), path_(std::move(path)) {
  requireObject(value_, path_);
  const std::string what = path_.empty() ? "the request body" : "'" + path_ + "'";
  for (const auto& [key, member] : value_.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) {
      std::string names;
      for (std::string_view a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
      throw ApiError(400, "unknown field '" + echo(pathOf(key)) + "' in " + what +
                              (names.empty() ? " (it takes none)" : " (known: " + names + ")"));
    }
  }
}

std::string JsonFields::pathOf(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const json* JsonFields::find(std::string_view key) const {
  auto it = value_.find(key);
  if (it == value_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonFields::has(std::string_view key) const {
  return find(key) != nullptr;
}

const json& JsonFields::required(std::string_view key) const {
  const json* v = find(key);
  if (!v) throw ApiError(400, "'" + pathOf(key) + "' is required");
  return *v;
}

std::string JsonFields::string(std::string_view key, bool non_empty) const {
  const json& v = required(key);
  if (!v.is_string()) {
    throw ApiError(400, "'" + pathOf(key) + "' must be a string, not " + typeName(v));
  }
  if (non_empty && v.get_ref<const std::string&>().empty()) {
    throw ApiError(400, "'" + pathOf(key) + "' must not be empty");
  }
  return v.get<std::string>();
}

std::optional<std::string> JsonFields::optionalString(std::string_view key) const {
  const json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    throw ApiError(400, "'" + pathOf(key) + "' must be a string, not " + typeName(*v));
  }
  return v->get<std::string>();
}

std::optional<int64_t> JsonFields::optionalInteger(std::string_view key, int64_t min,
                                                   int64_t max) const {
  const json* v = find(key);
  if (!v) return std::nullopt;
  const std::string range = " from " + std::to_string(min) + " to " + std::to_string(max);
  if (v->is_number_unsigned()) {
    const auto u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(max)) {
      throw ApiError(400, "'" + pathOf(key) + "' must be an integer" + range);
    }
    return static_cast<int64_t>(u);
  }
  if (!v->is_number_integer()) {
    throw ApiError(400, "'" + pathOf(key) + "' must be an integer, not " + typeName(*v));
  }
  const auto i = v->get<int64_t>();
  if (i < min || i > max) throw ApiError(400, "'" + pathOf(key) + "' must be an integer" + range);
  return i;
}

// ---- QueryParams -----------------------------------------------------------

QueryParams::QueryParams(const httplib::Request& req,
                         std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, value] : req.params) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == name;
    if (!known) {
      std::string names;
      for (std::string_view a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
      throw ApiError(
          400, "unknown query parameter '" + echo(name) + "'" +
                   (names.empty() ? " (this endpoint takes none)" : " (known: " + names + ")"));
    }
    if (!values_.emplace(name, value).second) {
      throw ApiError(400, "query parameter '" + name + "' is given more than once");
    }
  }
}

std::optional<std::string> QueryParams::get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::optional<int64_t> QueryParams::integer(std::string_view name, int64_t min, int64_t max) const {
  auto text = get(name);
  if (!text) return std::nullopt;
  auto n = parseUnsigned(*text);
  if (!n || static_cast<int64_t>(*n) < min || *n > static_cast<uint64_t>(max)) {
    throw ApiError(400, "query parameter '" + std::string(name) + "' must be an integer from " +
                            std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<int64_t>(*n);
}

std::optional<int64_t> QueryParams::timeUs(std::string_view name) const {
  auto text = get(name);
  if (!text) return std::nullopt;
  auto t = parseTimeUs(*text);
  if (!t) {
    throw ApiError(400, "query parameter '" + std::string(name) +
                            "' must be an RFC 3339 time (2026-11-24T19:42:51Z) or Unix seconds");
  }
  return t;
}

// ---- Call ------------------------------------------------------------------

const std::string& Call::param(std::string_view name) const {
  static const std::string kNone;
  auto it = params_.find(name);
  return it == params_.end() ? kNone : it->second;
}

void Call::requireAny(RoleMask roles, std::string_view what) const {
  if (hasAny(roles)) return;
  std::string held;
  for (const std::string& name : roleNames(roles_)) held += (held.empty() ? "" : ", ") + name;
  throw ApiError(403, std::string(what) + " needs the role " + describeRoles(roles) +
                          " (api.roles); " + subject_->id + " holds " +
                          (held.empty() ? "no role" : held));
}

JsonFields Call::body(std::initializer_list<std::string_view> allowed) {
  body_ = parseJsonBody(req_.body);
  return JsonFields(body_, "", allowed);
}

}  // namespace pgw::api
