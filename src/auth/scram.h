#pragma once
/// SCRAM-SHA-256 (RFC 5802, RFC 7677) in both roles, as PostgreSQL uses it,
/// and the legacy MD5 password hash.
///
/// - ScramServer authenticates clients of the gateway against a stored
///   verifier (never the password itself).
/// - ScramClient authenticates the gateway to an upstream PostgreSQL with the
///   credential the gateway holds.
/// Channel binding is not offered (gs2 header "n,,"); PostgreSQL's
/// SCRAM-SHA-256-PLUS is therefore not advertised by the gateway.
/// Passwords are hashed as raw bytes, without SASLprep: identical to
/// PostgreSQL for ASCII and already-normalized UTF-8 passwords (see scram.cc).
/// Each exchange object accepts its messages once, in order; after any error
/// it refuses everything (one proof per nonce).
///
/// Reference: https://www.postgresql.org/docs/15/sasl-authentication.html

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::auth {

inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";

/// A stored SCRAM verifier, PostgreSQL's format:
/// "SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>".
struct ScramSecret {
  int iterations = 4096;
  std::string salt;        ///< raw bytes
  std::string stored_key;  ///< raw 32 bytes
  std::string server_key;  ///< raw 32 bytes
};

/// Parses PostgreSQL's verifier format; errors (F0000) name the malformed
/// part and never quote the keys.
Result<ScramSecret> parseScramSecret(std::string_view text);
/// Derives a verifier from a password with a fresh random 16-byte salt.
/// `iterations` must be >= 1.
ScramSecret makeScramSecret(std::string_view password, int iterations = 4096);
/// Derives a verifier from a password with the given salt (raw bytes); what
/// PostgreSQL computes for the same salt and iteration count. For tests and
/// for checking a password against a stored verifier's parameters.
ScramSecret deriveScramSecret(std::string_view password, std::string_view salt, int iterations);
std::string formatScramSecret(const ScramSecret& secret);

/// Server side of one SCRAM-SHA-256 exchange.
class ScramServer {
 public:
  /// `server_nonce` empty = 18 random bytes, base64 (as PostgreSQL does).
  /// Only tests pass one, to replay a recorded exchange.
  explicit ScramServer(ScramSecret secret, std::string server_nonce = {});

  /// Takes client-first-message; returns server-first-message. Errors: 08P01
  /// for malformed input, 28000 when channel binding is demanded, 0A000 for an
  /// authorization identity (a=) or a mandatory extension (m=).
  Result<std::string> handleClientFirst(std::string_view client_first);
  /// Takes client-final-message; returns server-final-message ("v=...") when
  /// the proof verifies, else 28P01; 08P01 for malformed input (c= not
  /// repeating the gs2 header, r= not this exchange's nonce, p= not last).
  Result<std::string> handleClientFinal(std::string_view client_final);

 private:
  enum class State { AwaitingClientFirst, AwaitingClientFinal, Done, Failed };

  ScramSecret secret_;
  std::string server_nonce_;
  std::string gs2_header_;  ///< e.g. "n,,"; c= must echo it
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;  ///< client nonce + server nonce
  State state_ = State::AwaitingClientFirst;
};

/// Client side of one SCRAM-SHA-256 exchange.
class ScramClient {
 public:
  /// `nonce` empty = generate a random one (tests pass a fixed one).
  /// `user` goes into "n="; PostgreSQL ignores it and libpq sends it empty,
  /// so only tests replaying RFC 7677's vector ("n=user") pass one.
  explicit ScramClient(std::string password, std::string nonce = {}, std::string_view user = {});

  /// client-first-message: "n,,n=,r=<nonce>" (PostgreSQL ignores the user name).
  std::string clientFirst();
  /// Takes server-first-message; returns client-final-message. 08P01 when it
  /// is malformed, its nonce does not extend ours, or it asks for more than
  /// 10,000,000 iterations.
  Result<std::string> handleServerFirst(std::string_view server_first);
  /// Verifies the server signature in server-final-message: 08P01 "server
  /// signature mismatch" when the server does not know the password (it is
  /// not who it claims to be); 28P01 with the server's reason for "e=".
  Status handleServerFinal(std::string_view server_final);

 private:
  enum class State { Initial, AwaitingServerFirst, AwaitingServerFinal, Done, Failed };

  std::string password_;
  std::string nonce_;
  std::string client_first_bare_;
  std::string auth_message_;
  std::string salted_password_;
  State state_ = State::Initial;
};

/// PostgreSQL's MD5 response: "md5" + hex(md5(hex(md5(password + user)) + salt)).
std::string md5PasswordResponse(std::string_view user, std::string_view password,
                                std::string_view salt4);

/// Fills `n` bytes from OpenSSL's CSPRNG.
std::string randomBytes(size_t n);
/// Constant-time equality (length leaks, contents do not).
bool constantTimeEquals(std::string_view a, std::string_view b);
std::string base64Encode(std::string_view raw);
/// Strict base64 decode; nullopt-like error on bad input.
Result<std::string> base64Decode(std::string_view text);

}  // namespace pgw::auth
