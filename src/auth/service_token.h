#pragma once
/// Service tokens: random bearer secrets for machines that have no identity
/// provider (CI jobs, batch workers). A client sends one as its password; the
/// gateway authenticates it against a store of SHA-256 hashes kept in the
/// file named by `identity.tokens.store`, which `pgwarden token
/// create|list|revoke` manages.
///
/// Format of a secret: `pgw_` followed by 43 base62 characters (0-9, A-Z,
/// a-z) that encode 32 bytes from OpenSSL's RAND_bytes as one big-endian
/// number, zero-padded on the left (62^43 > 2^256, so 43 characters always
/// suffice). Base62 has no '-', '_' or '=' that shells, URLs or a
/// double-click would split on. 47 characters in all.
///
/// The store file is JSON and holds, per token: name, the lowercase hex
/// SHA-256 of the whole secret string (prefix included), groups, created_at
/// and, when set, expires_at and revoked_at (UTC, "2025-01-31T12:00:00Z").
/// Never the secret. Revoked tokens stay in the file as a record; a name may
/// be reused once its token is revoked.
///
///   {
///     "version": 1,
///     "tokens": [
///       { "name": "ci-bot", "sha256": "9f86d0...", "groups": ["ci"],
///         "created_at": "2025-01-31T12:00:00Z", "expires_at": "2025-03-02T12:00:00Z" }
///     ]
///   }
///
/// Reloading: the gateway keeps a `StoreFileStamp` and calls
/// `ServiceTokenStore::reloadIfChanged` when it wants to pick up changes (a
/// timer, or before authenticating). `save()` replaces the file by rename, so
/// every save changes the stamp even within one second.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/subject.h"
#include "common/result.h"

namespace pgw::auth {

/// Every service token starts with this.
inline constexpr std::string_view kServiceTokenPrefix = "pgw_";
/// Length of a whole secret: the prefix and 43 base62 characters.
inline constexpr size_t kServiceTokenLength = kServiceTokenPrefix.size() + 43;
/// Subject::issuer of a service token.
inline constexpr std::string_view kServiceTokenIssuer = "pgwarden:service-tokens";

/// True when `password` has the shape of a service token (prefix, length,
/// alphabet). For routing a password to this authenticator instead of the
/// JWT verifier; it says nothing about validity.
bool looksLikeServiceToken(std::string_view password);

/// One token in the store, as `list()` shows it.
struct ServiceTokenEntry {
  using TimePoint = std::chrono::system_clock::time_point;

  std::string name;                        ///< [A-Za-z0-9_.-], 1 to 63 characters
  std::array<unsigned char, 32> sha256{};  ///< digest of the secret; never shown
  std::vector<std::string> groups;
  TimePoint created_at;  ///< whole seconds, like the other times
  std::optional<TimePoint> expires_at;
  std::optional<TimePoint> revoked_at;

  bool revoked() const { return revoked_at.has_value(); }
  bool expiredAt(TimePoint now) const { return expires_at && now >= *expires_at; }
};

/// What `reloadIfChanged` compares to tell that the file was replaced or
/// edited: existence, device and inode (a rename changes them), modification
/// time in nanoseconds and size. A default stamp means "no file".
struct StoreFileStamp {
  bool exists = false;
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t mtime_ns = 0;
  int64_t size = 0;

  bool operator==(const StoreFileStamp&) const = default;
};

/// The service tokens of one store file. A value type: the gateway holds an
/// immutable snapshot for authentication, the CLI loads, edits and saves.
class ServiceTokenStore {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  /// Reads the store. A missing file is an empty store. Errors (F0000 for a
  /// malformed file, 58030 when it cannot be read) name the file and, for
  /// content, the entry and field: `service token store /x/tokens.json:
  /// tokens[2].sha256: must be 64 lowercase hex digits`.
  static Result<ServiceTokenStore> load(const std::string& path);

  /// The file's current stamp; a missing file gives a default stamp.
  static Result<StoreFileStamp> stamp(const std::string& path);

  /// Loads the store when the file's stamp differs from `last`: returns the
  /// new store, or nullopt when nothing changed (a missing file that was
  /// missing before is no change, so start with a default stamp and an empty
  /// store). `last` is updated whenever the stamp changed, even when loading
  /// then fails: a broken file is reported once, and the caller keeps serving
  /// its previous store until the file changes again.
  static Result<std::optional<ServiceTokenStore>> reloadIfChanged(const std::string& path,
                                                                  StoreFileStamp& last);

  /// Adds a token and returns its secret, the only time it exists outside
  /// the client. `name` must not belong to another token that is not revoked
  /// (42710); names and groups are checked (22023), an expiry must be after
  /// `now` (22023). Times are stored in whole seconds.
  Result<std::string> create(std::string_view name, std::vector<std::string> groups,
                             std::optional<TimePoint> expires_at, TimePoint now);

  /// Marks the live token called `name` revoked at `now`. 42704 when there
  /// is none (or it is already revoked).
  Status revoke(std::string_view name, TimePoint now);

  /// Every token, revoked ones included, in creation order.
  const std::vector<ServiceTokenEntry>& list() const { return entries_; }

  /// Writes the store atomically: a temporary file in the same directory
  /// (mode 0600), fsync, rename over `path`, fsync of the directory. 58030
  /// when any step fails; `path` is then left as it was.
  Status save(const std::string& path) const;

  /// Checks a presented secret. Its SHA-256 is compared with every entry's
  /// digest with CRYPTO_memcmp, without stopping at a match, so the time
  /// taken does not depend on which entry (if any) matched. Revoked entries
  /// are compared too, to say why a known token is refused. All failures are
  /// 28P01: `service token "<name>" expired at <time>`, `service token
  /// "<name>" was revoked`, `unknown service token`. The secret never appears
  /// in a message.
  Result<Subject> authenticate(std::string_view secret, TimePoint now) const;

 private:
  std::vector<ServiceTokenEntry> entries_;
};

/// "2025-01-31T12:00:00Z" (UTC, whole seconds).
std::string formatUtcTime(std::chrono::system_clock::time_point t);
/// Parses exactly the form formatUtcTime writes; nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parseUtcTime(std::string_view text);

}  // namespace pgw::auth
