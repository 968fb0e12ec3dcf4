/// The `identity:` section: who may connect and how they prove it. Keep in
/// step with docs/config.md ("identity").

#include "config/identity.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace pgw::config::detail {
namespace {

namespace fs = std::filesystem;

/// The JWS algorithms an issuer may list: asymmetric only (RFC 7518 §3.1,
/// RFC 8037 §3.1), as the verifier in auth/jwt.h supports them.
constexpr std::array<std::string_view, 9> kAlgorithms = {
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"};

/// What `identity.application_name` may refer to.
constexpr std::array<std::string_view, 3> kPlaceholders = {"subject", "method", "client_app"};

/// A clock skew larger than this would make `exp` close to meaningless.
constexpr std::chrono::minutes kMaxClockSkew{10};

template <size_t N>
std::string joinNames(const std::array<std::string_view, N>& names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// --- identity.users -------------------------------------------------------

/// Checks standard base64 (with padding); returns the decoded length.
bool base64Length(std::string_view s, size_t& decoded) {
  if (s.empty() || s.size() % 4 != 0) return false;
  size_t pad = 0;
  while (pad < 2 && s[s.size() - 1 - pad] == '=') ++pad;
  for (size_t i = 0; i < s.size() - pad; ++i) {
    char c = s[i];
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '+' && c != '/') return false;
  }
  decoded = s.size() / 4 * 3 - pad;
  return true;
}

/// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", the format
/// of pg_authid.rolpassword.
bool isScramVerifier(std::string_view v) {
  constexpr std::string_view kPrefix = "SCRAM-SHA-256$";
  if (v.substr(0, kPrefix.size()) != kPrefix) return false;
  v.remove_prefix(kPrefix.size());
  size_t dollar = v.find('$');
  if (dollar == std::string_view::npos) return false;
  std::string_view params = v.substr(0, dollar);
  std::string_view keys = v.substr(dollar + 1);
  size_t c1 = params.find(':');
  size_t c2 = keys.find(':');
  if (c1 == std::string_view::npos || c2 == std::string_view::npos) return false;

  std::string_view iterations = params.substr(0, c1);
  if (iterations.empty() || iterations.size() > 9 || iterations.front() == '0') return false;
  for (char c : iterations) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) return false;
  }
  size_t n = 0;
  if (!base64Length(params.substr(c1 + 1), n) || n == 0) return false;
  if (!base64Length(keys.substr(0, c2), n) || n != 32) return false;
  if (!base64Length(keys.substr(c2 + 1), n) || n != 32) return false;
  return true;
}

LocalUser readUser(const Context& ctx, const YAML::Node& node, const std::string& path) {
  MapReader m(node, path, {"name", "password", "scram", "groups"});
  LocalUser user;
  if (!m.has("name")) failAt(m.pathOf("name"), "is required");
  user.name = readString(ctx, m.get("name"), m.pathOf("name"));

  const bool has_password = m.has("password");
  const bool has_scram = m.has("scram");
  if (has_password && has_scram) failAt(path, "set exactly one of password or scram, not both");
  if (!has_password && !has_scram) failAt(path, "needs a password or a scram verifier");
  if (has_password) user.password = readSecret(ctx, m.get("password"), m.pathOf("password"));
  if (has_scram) {
    user.scram_verifier = readSecret(ctx, m.get("scram"), m.pathOf("scram")).reveal();
    if (!isScramVerifier(user.scram_verifier)) {
      failAt(m.pathOf("scram"),
             "is not a SCRAM-SHA-256 verifier (expected "
             "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, as stored in "
             "pg_authid.rolpassword)");
    }
  }
  if (m.has("groups")) user.groups = readStringList(ctx, m.get("groups"), m.pathOf("groups"));
  return user;
}

void readUsers(const Context& ctx, const YAML::Node& node, const std::string& users_path,
               Config& cfg) {
  std::vector<YAML::Node> items = readList(node, users_path);
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string path = indexPath(users_path, i);
    LocalUser user = readUser(ctx, items[i], path);
    auto [it, inserted] = seen.emplace(user.name, i);
    if (!inserted) {
      failAt(childPath(path, "name"),
             fmt::format("duplicate user name (also {})", indexPath(users_path, it->second)));
    }
    cfg.users.push_back(std::move(user));
  }
}

// --- identity.oidc --------------------------------------------------------

bool isLoopbackHost(std::string_view host) {
  std::string h(host);
  std::transform(h.begin(), h.end(), h.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return h == "localhost" || h == "127.0.0.1" || h == "[::1]";
}

/// Checks a URL of the identity provider: `https://host[:port][/path]`, or
/// `http://` when the host is loopback (a local test IdP). `allow_query`:
/// an OIDC issuer may not have a query (OpenID Connect Discovery §3), a
/// jwks_uri may. Fails at `path` with what is wrong; URLs are not secrets.
void checkIdpUrl(const std::string& url, const std::string& path, bool allow_query) {
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      failAt(path, fmt::format("'{}' is not a URL: it contains a space, a control character or "
                               "non-ASCII text (percent-encode it)",
                               url));
    }
  }
  constexpr std::string_view kHttps = "https://";
  constexpr std::string_view kHttp = "http://";
  std::string_view rest(url);
  bool plain_http = false;
  if (rest.substr(0, kHttps.size()) == kHttps) {
    rest.remove_prefix(kHttps.size());
  } else if (rest.substr(0, kHttp.size()) == kHttp) {
    rest.remove_prefix(kHttp.size());
    plain_http = true;
  } else {
    failAt(path, fmt::format("must be an https:// URL (got '{}')", url));
  }

  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) failAt(path, fmt::format("'{}' has no host name", url));
  if (authority.find('@') != std::string_view::npos) {
    failAt(path, fmt::format("'{}' must not contain a user name or password", url));
  }
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) failAt(path, fmt::format("'{}' is missing ']'", url));
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') failAt(path, fmt::format("'{}' has text after ']'", url));
      port = after.substr(1);
      has_port = true;
    }
  } else if (const size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    has_port = true;
  }
  if (host.empty() || host == "[]") failAt(path, fmt::format("'{}' has no host name", url));
  if (has_port) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 ||
        value > 65535) {
      failAt(path, fmt::format("'{}' has an invalid port (1 to 65535)", url));
    }
  }

  if (rest.find('#') != std::string_view::npos) {
    failAt(path, fmt::format("'{}' must not have a fragment ('#...')", url));
  }
  if (!allow_query && rest.find('?') != std::string_view::npos) {
    failAt(path, fmt::format("'{}' must not have a query ('?...'): an OpenID Connect issuer is a "
                             "plain URL",
                             url));
  }
  if (plain_http && !isLoopbackHost(host)) {
    failAt(path, fmt::format("'{}' uses http://, which is allowed only for a local identity "
                             "provider (localhost, 127.0.0.1, [::1]); use https://",
                             url));
  }
}

/// A claim name or a dotted path into nested objects ("realm_access.roles").
void checkClaimPath(std::string_view claim, const std::string& path) {
  size_t start = 0;
  for (;;) {
    const size_t dot = claim.find('.', start);
    const std::string_view part = claim.substr(start, dot - start);
    if (part.empty()) {
      failAt(path, fmt::format("'{}' is not a claim name or a dotted claim path such as "
                               "realm_access.roles (it has an empty part)",
                               claim));
    }
    if (dot == std::string_view::npos) return;
    start = dot + 1;
  }
}

std::vector<std::string> readAlgorithms(const Context& ctx, const YAML::Node& node,
                                        const std::string& path) {
  std::vector<YAML::Node> items = readList(node, path);
  if (items.empty()) {
    failAt(path, fmt::format("must list at least one algorithm ({})", joinNames(kAlgorithms)));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string item_path = indexPath(path, i);
    Scalar s = readScalar(ctx, items[i], item_path);
    std::string upper = s.value;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (upper == "NONE") {
      failAt(item_path, fmt::format("{} is refused: it means an unsigned token, which anyone can "
                                    "forge; list asymmetric algorithms only ({})",
                                    s.shown(), joinNames(kAlgorithms)));
    }
    if (upper.rfind("HS", 0) == 0) {
      failAt(item_path,
             fmt::format("{} is refused: HMAC algorithms verify with a shared secret, and "
                         "accepting them lets anyone who has the issuer's public key forge "
                         "tokens (algorithm confusion, RFC 8725 section 2.1); list asymmetric "
                         "algorithms only ({})",
                         s.shown(), joinNames(kAlgorithms)));
    }
    if (std::find(kAlgorithms.begin(), kAlgorithms.end(), s.value) == kAlgorithms.end()) {
      failAt(item_path, fmt::format("must be one of {} (got {}; names are case-sensitive)",
                                    joinNames(kAlgorithms), s.shown()));
    }
    if (std::find(out.begin(), out.end(), s.value) != out.end()) {
      failAt(item_path, fmt::format("{} is listed twice", s.shown()));
    }
    out.push_back(std::move(s.value));
  }
  return out;
}

std::map<std::string, std::string> readRequiredClaims(const Context& ctx, const YAML::Node& node,
                                                      const std::string& path) {
  MapReader m(node, path);
  std::map<std::string, std::string> out;
  for (const auto& [claim, value] : m.entries()) {
    const std::string claim_path = m.pathOf(claim);
    checkClaimPath(claim, claim_path);
    out.emplace(claim, readScalar(ctx, value, claim_path).value);
  }
  return out;
}

OidcIssuer readIssuer(const Context& ctx, const YAML::Node& node, const std::string& path) {
  MapReader m(
      node, path,
      {"issuer", "audience", "groups_claim", "subject_claim", "algorithms", "required_claims",
       "max_token_lifetime", "clock_skew", "ca", "jwks_uri", "jwks_refresh", "jwks_min_refetch"});
  OidcIssuer iss;
  if (!m.has("issuer")) {
    failAt(m.pathOf("issuer"),
           "is required: the exact 'iss' of the tokens, e.g. "
           "https://idp.example.com");
  }
  iss.issuer = readString(ctx, m.get("issuer"), m.pathOf("issuer"));
  checkIdpUrl(iss.issuer, m.pathOf("issuer"), false);

  if (!m.has("audience")) {
    failAt(m.pathOf("audience"),
           "is required: the 'aud' value the identity provider puts in "
           "tokens meant for this gateway (e.g. pgwarden)");
  }
  iss.audience = readString(ctx, m.get("audience"), m.pathOf("audience"));

  if (m.has("groups_claim")) {
    iss.groups_claim = readScalar(ctx, m.get("groups_claim"), m.pathOf("groups_claim")).value;
    if (!iss.groups_claim.empty()) checkClaimPath(iss.groups_claim, m.pathOf("groups_claim"));
  }
  if (m.has("subject_claim")) {
    iss.subject_claim = readString(ctx, m.get("subject_claim"), m.pathOf("subject_claim"));
    checkClaimPath(iss.subject_claim, m.pathOf("subject_claim"));
  }
  if (m.has("algorithms")) {
    iss.algorithms = readAlgorithms(ctx, m.get("algorithms"), m.pathOf("algorithms"));
  }
  if (m.has("required_claims")) {
    iss.required_claims =
        readRequiredClaims(ctx, m.get("required_claims"), m.pathOf("required_claims"));
  }
  if (m.has("max_token_lifetime")) {
    iss.max_token_lifetime =
        readDuration(ctx, m.get("max_token_lifetime"), m.pathOf("max_token_lifetime"), true);
  }
  if (m.has("clock_skew")) {
    iss.clock_skew = readDuration(ctx, m.get("clock_skew"), m.pathOf("clock_skew"), true);
    if (iss.clock_skew > kMaxClockSkew) {
      failAt(m.pathOf("clock_skew"),
             fmt::format("must be at most {}m: a larger skew keeps expired tokens valid; fix the "
                         "clocks (NTP) instead",
                         kMaxClockSkew.count()));
    }
  }
  if (m.has("ca")) iss.ca_file = readFilePath(ctx, m.get("ca"), m.pathOf("ca"));
  if (m.has("jwks_uri")) {
    iss.jwks_uri = readString(ctx, m.get("jwks_uri"), m.pathOf("jwks_uri"));
    checkIdpUrl(iss.jwks_uri, m.pathOf("jwks_uri"), true);
  }
  if (m.has("jwks_refresh")) {
    iss.jwks_refresh = readDuration(ctx, m.get("jwks_refresh"), m.pathOf("jwks_refresh"), false);
  }
  if (m.has("jwks_min_refetch")) {
    iss.jwks_min_refetch =
        readDuration(ctx, m.get("jwks_min_refetch"), m.pathOf("jwks_min_refetch"), false);
  }
  return iss;
}

void readOidc(const Context& ctx, const YAML::Node& node, const std::string& oidc_path,
              Identity& id) {
  std::vector<YAML::Node> items = readList(node, oidc_path);
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string path = indexPath(oidc_path, i);
    OidcIssuer iss = readIssuer(ctx, items[i], path);
    auto [it, inserted] = seen.emplace(iss.issuer, i);
    if (!inserted) {
      failAt(childPath(path, "issuer"),
             fmt::format("duplicate issuer '{}' (also {}); list each issuer once", iss.issuer,
                         indexPath(oidc_path, it->second)));
    }
    id.oidc.push_back(std::move(iss));
  }
}

// --- identity.tokens ------------------------------------------------------

/// The token store's path: the file may be missing (`pgwarden token create`
/// writes it), but its directory must exist, and an existing path must be a
/// regular file.
std::string readStorePath(const Context& ctx, const YAML::Node& node, const std::string& path) {
  Scalar s = readScalar(ctx, node, path);
  if (s.value.empty()) failAt(path, "must not be empty");
  const std::string abs = ctx.absolutePath(s.value);
  const fs::path p(abs);
  if (!p.has_filename()) {
    failAt(path,
           fmt::format("{} names a directory; name a file in it, e.g. data/tokens.json", abs));
  }
  std::error_code ec;
  const fs::file_status dir = fs::status(p.parent_path(), ec);
  if (!fs::exists(dir)) {
    failAt(path, fmt::format("the directory {} does not exist; create it (the store file itself "
                             "is created by pgwarden token create)",
                             p.parent_path().string()));
  }
  if (!fs::is_directory(dir)) {
    failAt(path, fmt::format("{} is not a directory", p.parent_path().string()));
  }
  const fs::file_status file = fs::status(p, ec);
  if (fs::exists(file) && !fs::is_regular_file(file)) {
    failAt(path, fmt::format("{} {}", abs,
                             fs::is_directory(file) ? "is a directory" : "is not a regular file"));
  }
  return abs;
}

void readTokens(const Context& ctx, const YAML::Node& node, const std::string& path,
                ServiceTokens& tokens) {
  MapReader m(node, path, {"store"});
  if (!m.has("store")) {
    failAt(m.pathOf("store"),
           "is required: the file that holds the service tokens' hashes, "
           "e.g. data/tokens.json");
  }
  tokens.store_file = readStorePath(ctx, m.get("store"), m.pathOf("store"));
}

// --- identity.client_certificates ----------------------------------------

void readClientCertificates(const Context& ctx, const YAML::Node& node, const std::string& path,
                            const ServerTls& tls, ClientCertificates& certs) {
  static constexpr std::array<std::string_view, 4> kIdFrom = {"cn", "san_email", "san_dns",
                                                              "san_uri"};
  MapReader m(node, path, {"id_from", "groups", "default_groups"});
  if (tls.client_ca_file.empty()) {
    failAt(path,
           "needs tls.client_ca: client certificates are verified against that CA bundle; "
           "set tls.client_ca (with tls.cert and tls.key) or remove "
           "identity.client_certificates");
  }
  certs.enabled = true;
  if (m.has("id_from")) {
    certs.id_from = static_cast<ClientCertificates::IdFrom>(
        readChoice(ctx, m.get("id_from"), m.pathOf("id_from"), kIdFrom));
  }
  MapReader groups(m.get("groups"), m.pathOf("groups"));
  for (const auto& [who, list] : groups.entries()) {
    const std::string who_path = groups.pathOf(who);
    if (who.empty()) failAt(who_path, "an empty name matches no certificate");
    certs.groups.emplace(who, readStringList(ctx, list, who_path));
  }
  if (m.has("default_groups")) {
    certs.default_groups = readStringList(ctx, m.get("default_groups"), m.pathOf("default_groups"));
  }
}

// --- identity.dev_issuer --------------------------------------------------

/// Longest `identity.dev_issuer.token_lifetime`: its tokens are meant to be short-lived.
constexpr std::chrono::hours kMaxDevTokenLifetime{24};

std::string lowerCase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// The listen host as written in a URL: IPv6 in brackets.
std::string urlHost(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

void readDevIssuer(const Context& ctx, const YAML::Node& node, const std::string& path,
                   Config& cfg) {
  MapReader m(node, path, {"key", "audience", "token_lifetime"});
  DevIssuer dev;
  if (!m.has("key")) {
    failAt(m.pathOf("key"),
           "is required: the dev issuer's Ed25519 private key (PEM), e.g. certs/dev-issuer.pem; "
           "create it with: openssl genpkey -algorithm ed25519 -out certs/dev-issuer.pem");
  }
  dev.key_file = readFilePath(ctx, m.get("key"), m.pathOf("key"));
  if (m.has("audience")) dev.audience = readString(ctx, m.get("audience"), m.pathOf("audience"));
  if (m.has("token_lifetime")) {
    dev.token_lifetime =
        readDuration(ctx, m.get("token_lifetime"), m.pathOf("token_lifetime"), false);
    if (dev.token_lifetime < std::chrono::seconds(1) || dev.token_lifetime > kMaxDevTokenLifetime) {
      failAt(m.pathOf("token_lifetime"),
             fmt::format("must be between 1s and {}h (got {}): the dev issuer's tokens are meant "
                         "to be short-lived",
                         kMaxDevTokenLifetime.count(), formatDuration(dev.token_lifetime)));
    }
  }

  // The issuer URL is plain http:// on the HTTP port, which identity.oidc
  // accepts only for a loopback host.
  const std::string host = lowerCase(cfg.listen_http.host);
  static constexpr std::array<std::string_view, 5> kLocal = {"127.0.0.1", "::1", "localhost",
                                                             "0.0.0.0", "::"};
  if (std::find(kLocal.begin(), kLocal.end(), host) == kLocal.end()) {
    failAt(path, fmt::format("needs listen.http on a loopback or wildcard address (127.0.0.1, "
                             "[::1], localhost, 0.0.0.0, [::]), not {}:{}: the dev issuer is "
                             "served over plain HTTP on that port and is for local development",
                             urlHost(cfg.listen_http.host), cfg.listen_http.port));
  }
  cfg.identity.dev_issuer = std::move(dev);
}

/// An identity.oidc entry for the dev issuer must accept what it mints.
void checkDevIssuerEntry(const std::string& oidc_path, Config& cfg) {
  const DevIssuer& dev = *cfg.identity.dev_issuer;
  const std::string url = devIssuerUrl(cfg);
  for (size_t i = 0; i < cfg.identity.oidc.size(); ++i) {
    const OidcIssuer& iss = cfg.identity.oidc[i];
    if (iss.issuer != url) continue;
    const std::string path = indexPath(oidc_path, i);
    if (iss.audience != dev.audience) {
      failAt(childPath(path, "audience"),
             fmt::format("is '{}', but the dev issuer {} mints tokens for '{}' "
                         "(identity.dev_issuer.audience); make the two equal",
                         iss.audience, url, dev.audience));
    }
    if (std::find(iss.algorithms.begin(), iss.algorithms.end(), "EdDSA") == iss.algorithms.end()) {
      failAt(childPath(path, "algorithms"),
             fmt::format("must include EdDSA: the dev issuer {} signs with Ed25519", url));
    }
    if (iss.max_token_lifetime.count() > 0 && iss.max_token_lifetime < dev.token_lifetime) {
      failAt(
          childPath(path, "max_token_lifetime"),
          fmt::format("is {}, shorter than identity.dev_issuer.token_lifetime ({}): the dev "
                      "issuer's tokens would be refused; raise it or lower token_lifetime",
                      formatDuration(iss.max_token_lifetime), formatDuration(dev.token_lifetime)));
    }
  }
}

// --- identity (the rest) --------------------------------------------------

/// `{subject}`, `{method}` and `{client_app}` are the only placeholders, and
/// braces mean nothing else. PostgreSQL keeps only printable ASCII in
/// application_name, so the template holds nothing else either.
void checkApplicationName(const std::string& text, const std::string& path) {
  const std::string known =
      fmt::format("{{{}}}, {{{}}}, {{{}}}", kPlaceholders[0], kPlaceholders[1], kPlaceholders[2]);
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c > 0x7e) {
      failAt(path,
             "may hold only printable ASCII characters (PostgreSQL would replace the others)");
    }
    if (c == '}') {
      failAt(path, fmt::format("'{}' has a '}}' that closes no placeholder (braces are only for "
                               "the placeholders {})",
                               text, known));
    }
    if (c != '{') continue;
    const size_t close = text.find('}', i);
    if (close == std::string::npos) {
      failAt(path,
             fmt::format("'{}' has a '{{' that is never closed (placeholders: {})", text, known));
    }
    const std::string_view name = std::string_view(text).substr(i + 1, close - i - 1);
    if (std::find(kPlaceholders.begin(), kPlaceholders.end(), name) == kPlaceholders.end()) {
      failAt(path,
             fmt::format("unknown placeholder {{{}}} in '{}' (known: {})", name, text, known));
    }
    i = close;
  }
}

void readTokenExpiry(const Context& ctx, const YAML::Node& node, const std::string& path,
                     TokenExpiry& expiry) {
  static constexpr std::array<std::string_view, 2> kModes = {"terminate", "hard_limit"};
  MapReader m(node, path, {"mode", "hard_limit"});
  if (m.has("mode")) {
    expiry.mode =
        static_cast<TokenExpiry::Mode>(readChoice(ctx, m.get("mode"), m.pathOf("mode"), kModes));
  }
  if (m.has("hard_limit")) {
    expiry.hard_limit = readDuration(ctx, m.get("hard_limit"), m.pathOf("hard_limit"), false);
  }
}

}  // namespace

void readIdentity(const Context& ctx, const YAML::Node& node, Config& cfg) {
  MapReader m(node, "identity",
              {"users", "oidc", "dev_issuer", "tokens", "client_certificates", "token_expiry",
               "allow_plaintext_tokens", "application_name", "max_auth_failures_per_minute"});
  Identity& id = cfg.identity;
  readUsers(ctx, m.get("users"), m.pathOf("users"), cfg);
  readOidc(ctx, m.get("oidc"), m.pathOf("oidc"), id);
  if (m.has("dev_issuer")) {
    readDevIssuer(ctx, m.get("dev_issuer"), m.pathOf("dev_issuer"), cfg);
    checkDevIssuerEntry(m.pathOf("oidc"), cfg);
  }
  if (m.has("tokens")) readTokens(ctx, m.get("tokens"), m.pathOf("tokens"), id.tokens);
  if (m.has("client_certificates")) {
    readClientCertificates(ctx, m.get("client_certificates"), m.pathOf("client_certificates"),
                           cfg.tls, id.client_certificates);
  }
  readTokenExpiry(ctx, m.get("token_expiry"), m.pathOf("token_expiry"), id.token_expiry);
  if (m.has("allow_plaintext_tokens")) {
    id.allow_plaintext_tokens =
        readBool(ctx, m.get("allow_plaintext_tokens"), m.pathOf("allow_plaintext_tokens"));
  }
  if (m.has("application_name")) {
    id.application_name = readString(ctx, m.get("application_name"), m.pathOf("application_name"));
    checkApplicationName(id.application_name, m.pathOf("application_name"));
  }
  if (m.has("max_auth_failures_per_minute")) {
    id.max_auth_failures_per_minute =
        static_cast<int>(readInt(ctx, m.get("max_auth_failures_per_minute"),
                                 m.pathOf("max_auth_failures_per_minute"), 0, 1'000'000));
  }
}

}  // namespace pgw::config::detail

namespace pgw::config {

std::string listenHttpUrl(const Config& config) {
  const std::string& host = config.listen_http.host;
  std::string url_host;
  if (host.empty() || host == "0.0.0.0") {
    url_host = "127.0.0.1";
  } else if (host == "::") {
    url_host = "[::1]";
  } else {
    url_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  }
  return fmt::format("http://{}:{}", url_host, config.listen_http.port);
}

std::string devIssuerUrl(const Config& config) {
  return listenHttpUrl(config) + "/dev-issuer";
}

std::string apiBaseUrl(const Config& config) {
  return config.api.public_url.empty() ? listenHttpUrl(config) : config.api.public_url;
}

}  // namespace pgw::config
