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

#include "auth/service_token.h"
#include "config/config.h"

namespace pgw::app {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

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

}  // namespace

void addTokenCommands(CLI::App& app, TokenCommandState& state) {
  state.token = app.add_subcommand("token", "Manage service tokens (identity.tokens.store)");
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
}

int runTokenCommand(const TokenCommandState& state) {
  return runTokenCommand(state, std::cout, std::cerr, std::chrono::system_clock::now());
}

int runTokenCommand(const TokenCommandState& state, std::ostream& out, std::ostream& err,
                    TimePoint now) {
  const bool create_parsed = state.create != nullptr && state.create->parsed();
  const bool list_parsed = state.list != nullptr && state.list->parsed();
  const bool revoke_parsed = state.revoke != nullptr && state.revoke->parsed();
  if (!create_parsed && !list_parsed && !revoke_parsed) {
    err << "pgwarden: token: expected one of create, list, revoke\n";
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
