#include "app/token_cli.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <optional>
#include <random>

#include "app/demo_pointer.h"
#include "auth/jwt_sign.h"
#include "auth/service_token.h"
#include "config/config.h"

namespace pgw::app {
namespace {

using TimePoint = std::chrono::system_clock::time_point;
using config::formatDuration;

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kBadInput = 2;

/// Holds an exclusive flock on `<store>.lock` while a verb reads, edits and
/// saves the store, so two `token create` runs cannot lose each other's
/// token. Readers (`list`, the gateway) do not lock: saves are atomic.
class StoreLock {
 public:
  explicit StoreLock(const std::string& store_path) {
    const std::string path = store_path + ".lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      error_ = fmt::format("cannot open the lock file {}: {}", path, std::strerror(errno));
      return;
    }
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      error_ = fmt::format("cannot lock {}: {}", path, std::strerror(errno));
      return;
    }
  }
  ~StoreLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

  /// Empty when the lock is held.
  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  std::string error_;
};

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

/// The store path from the config, or an exit code after saying what to fix.
std::optional<std::string> storePath(const TokenCommandState& state, std::ostream& err, int& code) {
  auto cfg = config::loadConfig(state.config_path);
  if (!cfg) {
    err << "pgwarden: " << cfg.error().message << "\n";
    code = kBadInput;
    return std::nullopt;
  }
  const std::string& store = (*cfg)->identity.tokens.store_file;
  if (store.empty()) {
    err << "pgwarden: " << state.config_path
        << " does not configure service tokens; set identity.tokens.store to the file that "
           "should hold them, e.g.\n"
           "  identity:\n    tokens:\n      store: data/tokens.json\n";
    code = kBadInput;
    return std::nullopt;
  }
  return store;
}

int create(const TokenCommandState& state, const std::string& path, std::ostream& out,
           std::ostream& err, TimePoint now) {
  std::optional<TimePoint> expires_at;
  if (!state.expires.empty()) {
    auto d = config::parseDuration(state.expires);
    if (!d) {
      err << "pgwarden: --expires: " << d.error().message << "\n";
      return kBadInput;
    }
    if (d->count() == 0) {
      err << "pgwarden: --expires: must be greater than 0 (leave it out for a token that does "
             "not expire)\n";
      return kBadInput;
    }
    expires_at = now + *d;
  }

  StoreLock lock(path);
  if (!lock.error().empty()) {
    err << "pgwarden: " << lock.error() << "\n";
    return kFailed;
  }
  auto store = auth::ServiceTokenStore::load(path);
  if (!store) {
    err << "pgwarden: " << store.error().message << "\n";
    return kFailed;
  }
  auto secret = store->create(state.name, state.groups, expires_at, now);
  if (!secret) {
    err << "pgwarden: " << secret.error().message << "\n";
    return secret.error().sqlstate == "22023" ? kBadInput : kFailed;
  }
  if (auto st = store->save(path); !st) {
    err << "pgwarden: " << st.error().message << "\n";
    return kFailed;
  }

  const auth::ServiceTokenEntry& entry = store->list().back();
  out << *secret << "\n" << std::flush;
  err << fmt::format(
      "pgwarden: created service token \"{}\" (groups: {}; {}) in {}. The secret above is shown "
      "only this once and cannot be shown again: store it now.\n",
      entry.name, entry.groups.empty() ? std::string("none") : join(entry.groups, ", "),
      entry.expires_at ? "expires " + auth::formatUtcTime(*entry.expires_at)
                       : std::string("does not expire"),
      path);
  return kOk;
}

std::string status(const auth::ServiceTokenEntry& e, TimePoint now) {
  if (e.revoked()) return "revoked " + auth::formatUtcTime(*e.revoked_at);
  if (e.expiredAt(now)) return "expired";
  return "active";
}

int list(const std::string& path, std::ostream& out, std::ostream& err, TimePoint now) {
  auto store = auth::ServiceTokenStore::load(path);
  if (!store) {
    err << "pgwarden: " << store.error().message << "\n";
    return kFailed;
  }
  if (store->list().empty()) {
    err << "pgwarden: no service tokens in " << path << "\n";
    return kOk;
  }
  std::vector<std::array<std::string, 5>> rows;
  rows.push_back({"NAME", "GROUPS", "CREATED", "EXPIRES", "STATUS"});
  for (const auto& e : store->list()) {
    rows.push_back({e.name, e.groups.empty() ? "-" : join(e.groups, ","),
                    auth::formatUtcTime(e.created_at),
                    e.expires_at ? auth::formatUtcTime(*e.expires_at) : "never", status(e, now)});
  }
  std::array<size_t, 5> width{};
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
  return kOk;
}

int revoke(const TokenCommandState& state, const std::string& path, std::ostream& err,
           TimePoint now) {
  StoreLock lock(path);
  if (!lock.error().empty()) {
    err << "pgwarden: " << lock.error() << "\n";
    return kFailed;
  }
  auto store = auth::ServiceTokenStore::load(path);
  if (!store) {
    err << "pgwarden: " << store.error().message << "\n";
    return kFailed;
  }
  if (auto st = store->revoke(state.name, now); !st) {
    err << "pgwarden: " << st.error().message << " in " << path << "\n";
    return kFailed;
  }
  if (auto st = store->save(path); !st) {
    err << "pgwarden: " << st.error().message << "\n";
    return kFailed;
  }
  err << "pgwarden: revoked service token \"" << state.name << "\" in " << path << "\n";
  return kOk;
}

// --- mint -----------------------------------------------------------------

/// Longest --sub, --name or group accepted for a minted token.
constexpr size_t kMaxClaimBytes = 255;

/// Empty when `value` may go into a claim; otherwise what is wrong with it.
std::string claimProblem(std::string_view value) {
  if (value.empty()) return "must not be empty";
  if (value.size() > kMaxClaimBytes) {
    return fmt::format("is longer than {} bytes", kMaxClaimBytes);
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return "must not contain control characters";
  }
  return {};
}

/// 128 random bits as hex, for `jti` (unique, not secret).
std::string randomJwtId() {
  std::random_device device;
  std::string id;
  for (int i = 0; i < 4; ++i) id += fmt::format("{:08x}", static_cast<uint32_t>(device()));
  return id;
}

/// What to add to a config so that `token mint` works with it.
std::string devIssuerExample(const config::Config& cfg) {
  return fmt::format(
      "  identity:\n"
      "    dev_issuer:\n"
      "      key: certs/dev-issuer.pem   # openssl genpkey -algorithm ed25519 -out "
      "certs/dev-issuer.pem\n"
      "    oidc:\n"
      "      - {{ issuer: \"{}\", audience: pgwarden }}\n",
      config::devIssuerUrl(cfg));
}

int mint(const TokenCommandState& state, std::ostream& out, std::ostream& err, TimePoint now) {
  if (state.demo == !state.config_path.empty()) {
    err << "pgwarden: token mint: pass either --config F or --demo (the config of the running "
           "`pgwarden demo`)\n";
    return kBadInput;
  }
  std::string config_path = state.config_path;
  if (state.demo) {
    auto current = demo::readCurrentConfig();
    if (!current) {
      err << "pgwarden: token mint --demo: " << current.error().message << "\n";
      return kBadInput;
    }
    config_path = *current;
  }
  auto loaded = config::loadConfig(config_path);
  if (!loaded) {
    err << "pgwarden: " << loaded.error().message << "\n";
    return kBadInput;
  }
  const config::Config& cfg = **loaded;
  if (!cfg.identity.dev_issuer) {
    err << "pgwarden: " << config_path
        << " has no development issuer to mint tokens with; set identity.dev_issuer (for local "
           "development only: whoever can read its key can mint tokens), and trust it under "
           "identity.oidc, e.g.\n"
        << devIssuerExample(cfg);
    return kBadInput;
  }
  const config::DevIssuer& dev = *cfg.identity.dev_issuer;

  if (std::string why = claimProblem(state.subject); !why.empty()) {
    err << "pgwarden: --sub: " << why << "\n";
    return kBadInput;
  }
  if (!state.display_name.empty()) {
    if (std::string why = claimProblem(state.display_name); !why.empty()) {
      err << "pgwarden: --name: " << why << "\n";
      return kBadInput;
    }
  }
  for (const auto& group : state.groups) {
    if (std::string why = claimProblem(group); !why.empty()) {
      err << "pgwarden: --groups: a group name " << why
          << (group.empty() ? " (look for ',,' or a trailing ',')" : "") << "\n";
      return kBadInput;
    }
  }

  std::chrono::milliseconds ttl = dev.token_lifetime;
  if (!state.ttl.empty()) {
    auto d = config::parseDuration(state.ttl);
    if (!d) {
      err << "pgwarden: --ttl: " << d.error().message << "\n";
      return kBadInput;
    }
    if (*d < std::chrono::seconds(1)) {
      err << "pgwarden: --ttl: must be at least 1s\n";
      return kBadInput;
    }
    if (*d > dev.token_lifetime) {
      err << "pgwarden: --ttl: " << formatDuration(*d)
          << " is longer than identity.dev_issuer.token_lifetime ("
          << formatDuration(dev.token_lifetime) << ") in " << config_path
          << "; mint a shorter-lived token or raise that setting\n";
      return kBadInput;
    }
    ttl = *d;
  }

  auto key = auth::Ed25519SigningKey::loadPemFile(dev.key_file);
  if (!key) {
    err << "pgwarden: identity.dev_issuer.key: " << key.error().message << "\n";
    return kFailed;
  }
  auth::DevTokenClaims claims;
  claims.issuer = config::devIssuerUrl(cfg);
  claims.audience = dev.audience;
  claims.subject = state.subject;
  claims.groups = state.groups;
  claims.preferred_username = state.display_name.empty() ? state.subject : state.display_name;
  claims.issued_at = std::chrono::floor<std::chrono::seconds>(now);
  claims.lifetime = std::chrono::duration_cast<std::chrono::seconds>(ttl);
  claims.jwt_id = randomJwtId();
  auto token = auth::signJwt(auth::toJson(claims), *key, auth::keyIdFor(*key));
  if (!token) {
    err << "pgwarden: cannot sign the token: " << token.error().message << "\n";
    return kFailed;
  }

  out << *token << "\n" << std::flush;
  err << fmt::format(
      "pgwarden: minted a token for {} (groups: {}) from the dev issuer {}; valid "
      "until {} ({})\n",
      claims.subject, claims.groups.empty() ? "none" : join(claims.groups, ", "), claims.issuer,
      auth::formatUtcTime(claims.issued_at + claims.lifetime), formatDuration(ttl));
  const bool trusted =
      std::any_of(cfg.identity.oidc.begin(), cfg.identity.oidc.end(),
                  [&](const config::OidcIssuer& o) { return o.issuer == claims.issuer; });
  if (!trusted) {
    err << "pgwarden: warning: identity.oidc in " << config_path << " does not list "
        << claims.issuer << ", so the gateway will refuse this token; trust the dev issuer with\n"
        << "  identity:\n    oidc:\n      - { issuer: \"" << claims.issuer
        << "\", audience: " << dev.audience << " }\n";
  }
  return kOk;
}

}  // namespace

void addTokenCommands(CLI::App& app, TokenCommandState& state) {
  state.token = app.add_subcommand(
      "token", "Manage service tokens (identity.tokens.store); mint dev OIDC tokens");
  state.token->require_subcommand(1);

  state.create = state.token->add_subcommand(
      "create", "Create a service token and print its secret (shown only once)");
  state.create->add_option("-c,--config", state.config_path, "Path to the YAML config")->required();
  state.create->add_option("--name", state.name, "Token name: letters, digits, '_', '.', '-'")
      ->required();
  state.create->add_option("--groups", state.groups, "Groups, comma-separated (e.g. ci,deploy)")
      ->delimiter(',');
  state.create->add_option("--expires", state.expires,
                           "Lifetime such as 30d or 12h (default: does not expire)");

  state.list = state.token->add_subcommand("list", "List service tokens (never their secrets)");
  state.list->add_option("-c,--config", state.config_path, "Path to the YAML config")->required();

  state.revoke = state.token->add_subcommand("revoke", "Revoke a service token");
  state.revoke->add_option("-c,--config", state.config_path, "Path to the YAML config")->required();
  state.revoke->add_option("--name", state.name, "Name of the token to revoke")->required();

  state.mint = state.token->add_subcommand(
      "mint",
      "Print a short-lived OIDC JWT signed by the development issuer (identity.dev_issuer)");
  auto* config_opt =
      state.mint->add_option("-c,--config", state.config_path, "Path to the YAML config");
  auto* demo_opt = state.mint->add_flag(
      "--demo", state.demo, "Use the config of the `pgwarden demo` running as this user");
  config_opt->excludes(demo_opt);
  state.mint->add_option("--sub", state.subject, "Subject (the `sub` claim), e.g. alice")
      ->required();
  state.mint->add_option("--groups", state.groups, "Groups, comma-separated (e.g. ai-agents,dev)")
      ->delimiter(',');
  state.mint->add_option("--ttl", state.ttl,
                         "Lifetime such as 5m (default and maximum: "
                         "identity.dev_issuer.token_lifetime)");
  state.mint->add_option("--name", state.display_name,
                         "Display name (the `preferred_username` claim; default: the subject)");
}

int runTokenCommand(const TokenCommandState& state) {
  return runTokenCommand(state, std::cout, std::cerr, std::chrono::system_clock::now());
}

int runTokenCommand(const TokenCommandState& state, std::ostream& out, std::ostream& err,
                    TimePoint now) {
  const bool create_parsed = state.create != nullptr && state.create->parsed();
  const bool list_parsed = state.list != nullptr && state.list->parsed();
  const bool revoke_parsed = state.revoke != nullptr && state.revoke->parsed();
  if (state.mint != nullptr && state.mint->parsed()) return mint(state, out, err, now);
  if (!create_parsed && !list_parsed && !revoke_parsed) {
    err << "pgwarden: token: expected one of create, list, revoke, mint\n";
    return kBadInput;
  }
  int code = kOk;
  const std::optional<std::string> path = storePath(state, err, code);
  if (!path) return code;
  if (create_parsed) return create(state, *path, out, err, now);
  if (list_parsed) return list(*path, out, err, now);
  return revoke(state, *path, err, now);
}

}  // namespace pgw::app
