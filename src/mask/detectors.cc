/// The detectors: a census pass, then the regexes the census allows, then a
/// check per match that a regex cannot express (checksums, ranges, word
/// boundaries — RE2 has no lookaround).

#include "mask/detectors.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <optional>

#include "common/ascii.h"

namespace pgw::mask {
namespace {

enum class Kind : uint8_t { Email, Phone, CreditCard, Ssn, Iban, Ipv4, Ipv6, Jwt, ApiKey, Custom };
constexpr size_t kBuiltins = 9;

constexpr std::array<std::string_view, kBuiltins> kNames = {
    "email", "phone", "credit_card", "ssn", "iban", "ipv4", "ipv6", "jwt", "api_key"};

// Patterns find candidates; validate() decides. Kept free of nested counted
// repetition so RE2's DFA stays small.
constexpr std::array<const char*, kBuiltins> kPatterns = {
    // email
    R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})",
    // phone: E.164 and international with separators, or North American
    R"(\+\d{1,3}(?:[ .\-]?\(?\d{1,4}\)?){2,5}|\(\d{3}\) ?\d{3}[ .\-]\d{4}|\d{3}[.\-]\d{3}[.\-]\d{4})",
    // credit card: 13-19 digits, single spaces or dashes between
    R"(\d(?:[ \-]?\d){12,18})",
    // US SSN, with dashes or spaces
    R"(\d{3}[\- ]\d{2}[\- ]\d{4})",
    // IBAN: country, check digits, 11-30 alphanumerics (optionally in groups)
    R"([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})",
    // IPv4
    R"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})",
    // IPv6 candidates (checked with inet_pton)
    R"([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){1,6}:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})"
    R"(|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})",
    // JWT: header and payload are base64url JSON objects ("eyJ" = '{"')
    R"(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)",
    // API keys with well-known prefixes, and PEM private keys
    R"((?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}|A(?:KIA|SIA)[0-9A-Z]{16}|gh[pousr]_[0-9A-Za-z]{30,})"
    R"(|github_pat_[0-9A-Za-z_]{30,}|xox[abposr]-[0-9A-Za-z\-]{10,}|AIza[0-9A-Za-z_\-]{35})"
    R"(|glpat-[0-9A-Za-z_\-]{20,}|sk-(?:proj-|ant-)?[0-9A-Za-z_\-]{20,}|npm_[0-9A-Za-z]{36})"
    R"(|pgw_[0-9A-Za-z]{43})"
    R"(|(?s:-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)))",
};

/// What one pass over the text counts.
struct Census {
  uint32_t digits = 0, at = 0, colon = 0, dot = 0, upper = 0, joiner = 0;
  /// Longest run of digits with single ' ' or '-' between them (cards, SSNs).
  uint32_t digit_run = 0;
  /// Longest run of digits with any of " .-()+" between them (phones).
  uint32_t phone_run = 0;
};

Census census(std::string_view s) {
  // Separate counters, not an array indexed by class: a histogram's
  // read-modify-write of one slot serializes on repeated classes.
  // Plain comparisons (no table) so the compiler can vectorize the loop.
  Census c;
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    c.digits += static_cast<uint8_t>(u - '0') < 10;
    c.upper += static_cast<uint8_t>(u - 'A') < 26;
    c.at += u == '@';
    c.colon += u == ':';
    c.dot += u == '.';
    c.joiner += (u == '_') | (u == '-');
  }
  if (c.digits < 7) return c;  // no run can reach a phone's, card's or SSN's length
  uint32_t run = 0, phone = 0;
  bool separated = false;  // the last character was a separator inside a digit run
  for (char ch : s) {
    if (ch >= '0' && ch <= '9') {
      ++run;
      ++phone;
      separated = false;
      continue;
    }
    if ((ch == ' ' || ch == '-') && run > 0 && !separated) {
      separated = true;
    } else {
      c.digit_run = std::max(c.digit_run, run);
      run = 0;
      separated = false;
    }
    if (ch != ' ' && ch != '.' && ch != '-' && ch != '(' && ch != ')' && ch != '+') {
      c.phone_run = std::max(c.phone_run, phone);
      phone = 0;
    }
  }
  c.digit_run = std::max(c.digit_run, run);
  c.phone_run = std::max(c.phone_run, phone);
  return c;
}

/// Whether `s` holds the start of a key the api_key pattern knows: "AKIA",
/// "ASIA", "AIza", or a '_' / '-' right after "sk", "rk", "gh?", "npm",
/// "pgw", "pat" (github_pat_), "xox?", "glpat", or "-----" (PEM).
bool hasKeyPrefix(const Census& c, std::string_view s) {
  auto before = [&](size_t i, std::string_view p) {
    return i >= p.size() && s.substr(i - p.size(), p.size()) == p;
  };
  if (c.joiner > 0) {
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '_' && s[i] != '-') continue;
      if (before(i, "sk") || before(i, "rk") || before(i, "npm") || before(i, "pgw") ||
          before(i, "pat") || before(i, "glpat") || (i >= 3 && before(i - 1, "gh")) ||
          (i >= 4 && before(i - 1, "xox")) || s.substr(i, 5) == "-----") {
        return true;
      }
    }
  }
  for (size_t i = s.find('A'); i != std::string_view::npos && i + 4 <= s.size();
       i = s.find('A', i + 1)) {
    const std::string_view p = s.substr(i, 4);
    if (p == "AKIA" || p == "ASIA" || p == "AIza") return true;
  }
  return false;
}

/// Whether the census allows a match of this kind at all.
bool possible(Kind kind, const Census& c, std::string_view s) {
  switch (kind) {
    case Kind::Email:
      return c.at > 0 && c.dot > 0;
    case Kind::Phone:
      return c.phone_run >= 7;
    case Kind::CreditCard:
      return c.digit_run >= 13;
    case Kind::Ssn:
      return c.digit_run >= 9;
    case Kind::Iban:
      return c.upper >= 2 && c.digits >= 2 && s.size() >= 15;
    case Kind::Ipv4:
      return c.digits >= 4 && c.dot >= 3;
    case Kind::Ipv6:
      return c.colon >= 2;
    case Kind::Jwt:
      return c.dot >= 2 && s.size() >= 30 && s.find("eyJ") != std::string_view::npos;
    case Kind::ApiKey:
      return s.size() >= 20 && hasKeyPrefix(c, s);
    case Kind::Custom:
      return true;
  }
  return false;
}

bool isDigitAt(std::string_view s, size_t i) {
  return i < s.size() && s[i] >= '0' && s[i] <= '9';
}
bool isAlnumAt(std::string_view s, size_t i) {
  return i < s.size() && ascii::isAlnum(s[i]);
}
bool isHexAt(std::string_view s, size_t i) {
  return i < s.size() && ascii::isHex(s[i]);
}

bool luhn(std::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

struct Span {
  size_t begin, end;
};

/// A card number inside a run of digits and separators: the longest
/// Luhn-valid number of 13-19 digits with an issuer's first digit (2-6) that
/// starts and ends at a number boundary.
std::optional<Span> findCard(std::string_view s, Span m) {
  std::vector<size_t> pos;
  for (size_t i = m.begin; i < m.end; ++i) {
    if (isDigitAt(s, i)) pos.push_back(i);
  }
  std::string digits;
  for (size_t p : pos) digits += s[p];
  for (size_t a = 0; a + 13 <= pos.size(); ++a) {
    if (a > 0 && pos[a] == pos[a - 1] + 1) continue;  // starts inside a number
    if (a == 0 && pos[a] > 0 && isAlnumAt(s, pos[a] - 1)) continue;
    if (digits[a] < '2' || digits[a] > '6') continue;
    for (size_t n = std::min<size_t>(19, pos.size() - a); n >= 13; --n) {
      const size_t last = pos[a + n - 1];
      if (isAlnumAt(s, last + 1)) continue;
      if (a + n < pos.size() && pos[a + n] == last + 1) continue;  // ends inside a number
      if (luhn(std::string_view(digits).substr(a, n))) return Span{pos[a], last + 1};
    }
  }
  return std::nullopt;
}

/// An IBAN: the longest prefix (at a group boundary) with a valid mod-97 check.
std::optional<Span> findIban(std::string_view s, Span m) {
  if (m.begin > 0 && isAlnumAt(s, m.begin - 1)) return std::nullopt;
  for (size_t end = m.end; end > m.begin + 15; --end) {
    if (isAlnumAt(s, end) || s[end - 1] == ' ') continue;
    std::string compact;
    for (size_t i = m.begin; i < end; ++i) {
      if (s[i] != ' ') compact += s[i];
    }
    if (compact.size() < 15 || compact.size() > 34) continue;
    // Move the country and check digits to the end, letters count as 10..35.
    const std::string rotated = compact.substr(4) + compact.substr(0, 4);
    int rem = 0;
    for (char c : rotated) {
      const int v = c >= 'A' ? c - 'A' + 10 : c - '0';
      rem = v >= 10 ? (rem * 100 + v) % 97 : (rem * 10 + v) % 97;
    }
    if (rem == 1) return Span{m.begin, end};
  }
  return std::nullopt;
}

std::optional<Span> validate(Kind kind, std::string_view s, Span m) {
  const bool digit_before = m.begin > 0 && isDigitAt(s, m.begin - 1);
  const bool alnum_before = m.begin > 0 && isAlnumAt(s, m.begin - 1);
  switch (kind) {
    case Kind::Email:
    case Kind::Custom:
      return m;
    case Kind::Phone: {
      size_t n = 0;
      for (size_t i = m.begin; i < m.end; ++i) n += isDigitAt(s, i);
      if (n < 7 || n > 15 || alnum_before || isDigitAt(s, m.end)) return std::nullopt;
      return m;
    }
    case Kind::CreditCard:
      return findCard(s, m);
    case Kind::Ssn: {
      if (alnum_before || isAlnumAt(s, m.end) || s[m.begin + 3] != s[m.begin + 6]) {
        return std::nullopt;
      }
      const int area = std::stoi(std::string(s.substr(m.begin, 3)));
      const int group = std::stoi(std::string(s.substr(m.begin + 4, 2)));
      const int serial = std::stoi(std::string(s.substr(m.begin + 7, 4)));
      if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0) return std::nullopt;
      return m;
    }
    case Kind::Iban:
      return findIban(s, m);
    case Kind::Ipv4: {
      if (digit_before || (m.begin > 0 && s[m.begin - 1] == '.') || isDigitAt(s, m.end) ||
          (m.end + 1 < s.size() && s[m.end] == '.' && isDigitAt(s, m.end + 1))) {
        return std::nullopt;
      }
      size_t i = m.begin;
      for (int part = 0; part < 4; ++part) {
        int v = 0;
        while (i < m.end && s[i] != '.') v = v * 10 + (s[i++] - '0');
        if (v > 255) return std::nullopt;
        ++i;
      }
      return m;
    }
    case Kind::Ipv6: {
      if (m.begin > 0 && (isAlnumAt(s, m.begin - 1) || s[m.begin - 1] == ':')) return std::nullopt;
      if (isAlnumAt(s, m.end) || (m.end < s.size() && s[m.end] == ':')) return std::nullopt;
      const std::string text(s.substr(m.begin, m.end - m.begin));
      size_t hex = 0;
      for (size_t i = 0; i < text.size(); ++i) hex += isHexAt(text, i);
      unsigned char addr[16];
      if (hex < 2 || inet_pton(AF_INET6, text.c_str(), addr) != 1) return std::nullopt;
      return m;
    }
    case Kind::Jwt:
      if (m.begin > 0 &&
          (isAlnumAt(s, m.begin - 1) || s[m.begin - 1] == '-' || s[m.begin - 1] == '_')) {
        return std::nullopt;
      }
      return m;
    case Kind::ApiKey:
      if (s[m.begin] != '-' && alnum_before) return std::nullopt;
      return m;
  }
  return std::nullopt;
}

RE2::Options regexOptions() {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_dot_nl(false);
  return o;
}

/// The built-in regexes, compiled once per process.
const RE2& builtinRegex(Kind kind) {
  static const auto* regexes = [] {
    auto* v = new std::vector<std::unique_ptr<RE2>>();
    for (const char* p : kPatterns) v->push_back(std::make_unique<RE2>(p, regexOptions()));
    return v;
  }();
  return *(*regexes)[static_cast<size_t>(kind)];
}

}  // namespace

struct Detectors::Impl {
  struct Entry {
    Kind kind;
    std::unique_ptr<RE2> custom;  ///< Custom only
    std::string name;
    const MaskSpec* spec;
  };
  std::vector<Entry> entries;
};

Detectors::Detectors() : impl_(std::make_unique<Impl>()) {}
Detectors::~Detectors() = default;

Result<std::unique_ptr<Detectors>> Detectors::compile(std::vector<DetectorDef> defs) {
  auto error = [](const std::string& path, const std::string& problem) {
    return fail("F0000", fmt::format("config: {}: {}", path, problem));
  };
  std::unique_ptr<Detectors> d(new Detectors());
  for (DetectorDef& def : defs) {
    if (d->impl_->entries.size() == kMaxDetectors) {
      return error(def.path, fmt::format("more than {} detectors in one policy", kMaxDetectors));
    }
    Impl::Entry e{Kind::Custom, nullptr, std::move(def.name), def.spec};
    if (!def.builtin.empty()) {
      auto it = std::find(kNames.begin(), kNames.end(), def.builtin);
      if (it == kNames.end()) return error(def.path, "'" + def.builtin + "' is not a detector");
      e.kind = static_cast<Kind>(it - kNames.begin());
      if (e.name.empty()) e.name = def.builtin;
    } else {
      e.custom = std::make_unique<RE2>(def.pattern, regexOptions());
      if (!e.custom->ok()) {
        return error(def.path, "invalid regular expression (RE2 syntax): " + e.custom->error());
      }
      if (RE2::FullMatch("", *e.custom)) {
        return error(def.path, "matches the empty string, so it would find nothing to mask");
      }
      if (e.name.empty()) e.name = "pattern";
    }
    d->impl_->entries.push_back(std::move(e));
  }
  return d;
}

size_t Detectors::size() const {
  return impl_->entries.size();
}
uint64_t Detectors::all() const {
  const size_t n = size();
  return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
}
const MaskSpec& Detectors::spec(size_t detector) const {
  return *impl_->entries[detector].spec;
}
const std::string& Detectors::name(size_t detector) const {
  return impl_->entries[detector].name;
}

bool Detectors::scan(std::string_view text, Hits& out, uint64_t enabled) const {
  if (text.empty() || text.size() > UINT32_MAX) return false;
  const Census c = census(text);
  const size_t first_hit = out.size();
  uint32_t kinds_done = 0;  // a built-in listed by several rules runs once
  for (size_t i = 0; i < impl_->entries.size(); ++i) {
    if ((enabled >> i & 1) == 0) continue;
    const Impl::Entry& e = impl_->entries[i];
    if (e.kind != Kind::Custom) {
      const uint32_t bit = 1u << static_cast<unsigned>(e.kind);
      if ((kinds_done & bit) != 0) continue;
      kinds_done |= bit;
    }
    if (!possible(e.kind, c, text)) continue;
    const RE2& re = e.kind == Kind::Custom ? *e.custom : builtinRegex(e.kind);
    size_t pos = 0;
    re2::StringPiece m;
    while (pos <= text.size() && re.Match(text, pos, text.size(), RE2::UNANCHORED, &m, 1)) {
      const size_t begin = static_cast<size_t>(m.data() - text.data());
      const size_t end = begin + m.size();
      if (end == begin) {
        pos = begin + 1;
        continue;
      }
      if (auto span = validate(e.kind, text, {begin, end})) {
        out.push_back({static_cast<uint32_t>(span->begin), static_cast<uint32_t>(span->end),
                       static_cast<uint16_t>(i)});
        pos = span->end;
      } else {
        pos = begin + 1;
      }
    }
  }
  if (out.size() == first_hit) return false;
  auto first = out.begin() + static_cast<std::ptrdiff_t>(first_hit);
  std::sort(first, out.end(), [](const Hit& a, const Hit& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.detector < b.detector;
  });
  auto kept = first;
  for (auto it = first + 1; it != out.end(); ++it) {
    if (it->begin < kept->end) {
      kept->end = std::max(kept->end, it->end);
      kept->detector = std::min(kept->detector, it->detector);
    } else {
      *++kept = *it;
    }
  }
  out.erase(kept + 1, out.end());
  return true;
}

bool anyNullHit(const Hits& hits, const Detectors& detectors) {
  return std::any_of(hits.begin(), hits.end(), [&](const Hit& h) {
    return detectors.spec(h.detector).function == MaskFunction::Null;
  });
}

}  // namespace pgw::mask
