/// The value parsers shared by the loader and the CLI (`parseHostPort`,
/// `parseDuration`, `parseSize`) and the `Config` lookups.

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <string_view>

#include "config/config.h"

namespace pgw::config {
namespace {

constexpr std::string_view kConfigError = "F0000";

/// Parses a run of ASCII digits (no sign, no spaces) as an unsigned number.
/// Returns false for an empty string, any other character, or overflow.
bool parseDigits(std::string_view digits, uint64_t& out) {
  if (digits.empty()) return false;
  if (!std::all_of(digits.begin(), digits.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    return false;
  }
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return ec == std::errc() && end == digits.data() + digits.size();
}

/// Splits "250ms" into "250" and "ms".
std::pair<std::string_view, std::string_view> splitNumber(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) ++i;
  return {text.substr(0, i), text.substr(i)};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool isHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
}

bool isIpv6Char(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
}

}  // namespace

Result<HostPort> parseHostPort(const std::string& text) {
  auto bad = [&](std::string_view why) {
    return fail(kConfigError, fmt::format("invalid address '{}': {}", text, why));
  };
  if (text.empty()) return bad("empty (use host:port, e.g. 127.0.0.1:6432)");

  HostPort out;
  std::string_view rest;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return bad("missing ']' after the IPv6 address");
    std::string_view inside = std::string_view(text).substr(1, close - 1);
    if (inside.empty() || inside.find(':') == std::string_view::npos ||
        !std::all_of(inside.begin(), inside.end(), isIpv6Char)) {
      return bad("not an IPv6 address between '[' and ']'");
    }
    out.host = std::string(inside);
    rest = std::string_view(text).substr(close + 1);
    if (rest.empty() || rest.front() != ':') return bad("missing ':port' after ']'");
    rest.remove_prefix(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return bad("missing port (use host:port, e.g. 127.0.0.1:6432)");
    if (text.find(':') != colon) return bad("IPv6 addresses go in brackets, e.g. [::1]:6432");
    std::string_view host = std::string_view(text).substr(0, colon);
    if (!std::all_of(host.begin(), host.end(), isHostNameChar)) {
      return bad("the host may hold only letters, digits, '.', '-' and '_'");
    }
    if (!host.empty()) out.host = std::string(host);
    rest = std::string_view(text).substr(colon + 1);
  }

  uint64_t port = 0;
  if (!parseDigits(rest, port) || port < 1 || port > 65535) {
    return bad("the port must be a number from 1 to 65535");
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

Result<std::chrono::milliseconds> parseDuration(const std::string& text) {
  auto bad = [&] {
    return fail(kConfigError,
                fmt::format("invalid duration '{}' (use e.g. 250ms, 30s, 5m, 1h, 7d, or a "
                            "whole number of milliseconds)",
                            text));
  };
  auto [digits, unit] = splitNumber(text);
  uint64_t n = 0;
  if (!parseDigits(digits, n)) return bad();

  uint64_t scale = 0;
  if (unit.empty() || unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 60 * 60 * 1000;
  } else if (unit == "d") {
    scale = 24 * 60 * 60 * 1000;
  } else {
    return bad();
  }
  constexpr auto kMax =
      static_cast<uint64_t>(std::numeric_limits<std::chrono::milliseconds::rep>::max());
  if (n > kMax / scale) {
    return fail(kConfigError, fmt::format("invalid duration '{}': too large", text));
  }
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(n * scale));
}

Result<size_t> parseSize(const std::string& text) {
  auto bad = [&] {
    return fail(kConfigError,
                fmt::format("invalid size '{}' (use e.g. 1024, 64kB, 64MB, 1GB)", text));
  };
  auto [digits, unit] = splitNumber(text);
  uint64_t n = 0;
  if (!parseDigits(digits, n)) return bad();

  const std::string u = lower(unit);
  uint64_t scale = 0;
  if (u.empty() || u == "b") {
    scale = 1;
  } else if (u == "kb") {
    scale = uint64_t{1} << 10;
  } else if (u == "mb") {
    scale = uint64_t{1} << 20;
  } else if (u == "gb") {
    scale = uint64_t{1} << 30;
  } else {
    return bad();
  }
  if (n > std::numeric_limits<size_t>::max() / scale) {
    return fail(kConfigError, fmt::format("invalid size '{}': too large", text));
  }
  return static_cast<size_t>(n * scale);
}

const Connection* Config::findConnection(const std::string& name) const {
  auto it = connections.find(name);
  return it == connections.end() ? nullptr : &it->second;
}

const LocalUser* Config::findUser(const std::string& name) const {
  auto it =
      std::find_if(users.begin(), users.end(), [&](const LocalUser& u) { return u.name == name; });
  return it == users.end() ? nullptr : &*it;
}

std::string formatDuration(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  if (ms != 0 && ms % 86'400'000 == 0) return fmt::format("{}d", ms / 86'400'000);
  if (ms != 0 && ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms != 0 && ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms != 0 && ms % 1'000 == 0) return fmt::format("{}s", ms / 1'000);
  return fmt::format("{}ms", ms);
}

}  // namespace pgw::config
