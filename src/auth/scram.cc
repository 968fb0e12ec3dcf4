#include "auth/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "common/base64.h"

// Passwords and SASLprep: PostgreSQL runs the password through SASLprep
// (RFC 4013) before hashing, but an ASCII password is passed through
// unchanged, and a password that is not valid UTF-8 or contains prohibited
// characters is used as raw bytes. This file always uses the raw bytes, so it
// agrees with PostgreSQL for every ASCII password and for non-ASCII passwords
// that are already NFKC-normalized and contain no character SASLprep maps
// (non-ASCII spaces, soft hyphen, zero-width characters). A password outside
// that set gives a different verifier than PostgreSQL would derive: such a
// login fails cleanly with 28P01, it never succeeds wrongly.

namespace pgw::auth {
namespace {

constexpr size_t kKeyLen = 32;       // SHA-256 output
constexpr size_t kRawNonceLen = 18;  // PostgreSQL's SCRAM_RAW_NONCE_LEN
constexpr size_t kSaltLen = 16;      // PostgreSQL's SCRAM_DEFAULT_SALT_LEN
/// The most PBKDF2 iterations the client role accepts from an upstream: the
/// derivation runs on the caller's thread, and an absurd count from a hostile
/// or misconfigured server must not stall it for minutes.
constexpr int kMaxClientIterations = 10'000'000;

constexpr std::string_view kSecretPrefix = "SCRAM-SHA-256$";
constexpr std::string_view kClientKeyLabel = "Client Key";
constexpr std::string_view kServerKeyLabel = "Server Key";

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

/// OpenSSL only fails these primitives on allocation failure or a broken
/// provider; there is no sensible way to continue an authentication then.
[[noreturn]] void cryptoFailure(const char* what) {
  std::fprintf(stderr, "pgwarden: fatal: OpenSSL %s failed\n", what);
  std::abort();
}

std::string digest(const EVP_MD* md, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1) {
    cryptoFailure("digest");
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::string sha256(std::string_view data) {
  return digest(EVP_sha256(), data);
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes(data), data.size(),
           out.data(), &len) == nullptr) {
    cryptoFailure("HMAC-SHA-256");
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

/// SaltedPassword := Hi(Normalize(password), salt, i), Hi being PBKDF2.
std::string saltedPassword(std::string_view password, std::string_view salt, int iterations) {
  std::string out(kKeyLen, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), bytes(salt),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(out.size()),
                        reinterpret_cast<unsigned char*>(out.data())) != 1) {
    cryptoFailure("PBKDF2-HMAC-SHA-256");
  }
  return out;
}

std::string xorBytes(std::string_view a, std::string_view b) {
  std::string out(a);
  for (size_t i = 0; i < out.size() && i < b.size(); ++i) {
    out[i] = static_cast<char>(out[i] ^ b[i]);
  }
  return out;
}

/// Overwrites a string holding key material before it is released.
void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

std::string hex(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0x0f]);
  }
  return out;
}

/// Parses a positive decimal int with nothing around it (no sign, no space).
bool parsePositiveInt(std::string_view text, int& out) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1) return false;
  out = value;
  return true;
}

/// RFC 5802 "printable": %x21-2B / %x2D-7E (visible ASCII except ',').
bool isPrintableNonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (char c : nonce) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

/// RFC 5802 saslname: ',' and '=' are escaped as "=2C" and "=3D".
std::string escapeSaslName(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

/// Walks the comma-separated fields of a SCRAM message. Distinguishes "no
/// more fields" from "an empty last field" (a trailing comma).
class Fields {
 public:
  explicit Fields(std::string_view text) : rest_(text) {}

  bool done() const { return done_; }
  /// What has not been consumed yet (valid while !done()).
  std::string_view rest() const { return rest_; }

  /// Precondition: !done().
  std::string_view next() {
    size_t comma = rest_.find(',');
    std::string_view field = rest_.substr(0, comma);
    if (comma == std::string_view::npos) {
      done_ = true;
      rest_ = {};
    } else {
      rest_.remove_prefix(comma + 1);
    }
    return field;
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

/// True when `field` is "<attr>=...".
bool hasAttr(std::string_view field, char attr) {
  return field.size() >= 2 && field[0] == attr && field[1] == '=';
}

/// An RFC 5802 extension attribute: one ASCII letter, '=', a value.
bool isAttrSyntax(std::string_view field) {
  if (field.size() < 2 || field[1] != '=') return false;
  char c = field[0];
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

Error malformed(std::string_view message, std::string detail) {
  return fail("08P01", "malformed SCRAM " + std::string(message) + ": " + std::move(detail));
}

/// Reads the next field of `fields`, which must be attribute `attr`; returns
/// its value. `what` names the attribute for the error message.
Result<std::string_view> readAttr(Fields& fields, char attr, std::string_view message,
                                  std::string_view what) {
  std::string expected = "expected " + std::string(what) + " (" + attr + "=)";
  if (fields.done()) return malformed(message, expected + " but the message ended");
  std::string_view field = fields.next();
  if (!hasAttr(field, attr)) return malformed(message, std::move(expected));
  return field.substr(2);
}

Error outOfOrder(std::string_view message) {
  return fail("08P01", "SCRAM " + std::string(message) + " received out of order");
}

/// Makes text from the other side safe to quote in an error: printable
/// ASCII only, bounded length.
std::string sanitizeForMessage(std::string_view text) {
  constexpr size_t kMax = 200;
  std::string out;
  for (char c : text.substr(0, kMax)) out.push_back(c >= 0x20 && c <= 0x7e ? c : '?');
  if (text.size() > kMax) out += "...";
  return out;
}

}  // namespace

std::string randomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    // No entropy: every nonce and salt would be predictable. Do not go on.
    cryptoFailure("RAND_bytes");
  }
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64Encode(std::string_view raw) {
  return pgw::base64Encode(raw);
}

Result<std::string> base64Decode(std::string_view text) {
  auto out = pgw::base64Decode(text);
  if (!out) return fail("08P01", "invalid base64 data");
  return std::move(*out);
}

std::string md5PasswordResponse(std::string_view user, std::string_view password,
                                std::string_view salt4) {
  std::string inner = std::string(password) + std::string(user);
  std::string inner_hex = hex(digest(EVP_md5(), inner));
  wipe(inner);
  std::string outer = inner_hex + std::string(salt4);
  std::string result = "md5" + hex(digest(EVP_md5(), outer));
  wipe(inner_hex);
  wipe(outer);
  return result;
}

// --- Secrets ---------------------------------------------------------------

ScramSecret deriveScramSecret(std::string_view password, std::string_view salt, int iterations) {
  std::string salted = saltedPassword(password, salt, iterations);
  std::string client_key = hmacSha256(salted, kClientKeyLabel);
  ScramSecret secret;
  secret.iterations = iterations;
  secret.salt = std::string(salt);
  secret.stored_key = sha256(client_key);
  secret.server_key = hmacSha256(salted, kServerKeyLabel);
  wipe(client_key);
  wipe(salted);
  return secret;
}

ScramSecret makeScramSecret(std::string_view password, int iterations) {
  return deriveScramSecret(password, randomBytes(kSaltLen), iterations);
}

std::string formatScramSecret(const ScramSecret& secret) {
  return std::string(kSecretPrefix) + std::to_string(secret.iterations) + ":" +
         base64Encode(secret.salt) + "$" + base64Encode(secret.stored_key) + ":" +
         base64Encode(secret.server_key);
}

Result<ScramSecret> parseScramSecret(std::string_view text) {
  // Messages name the broken part but never quote the secret itself.
  auto bad = [](std::string what) {
    return fail("F0000", "invalid SCRAM secret: " + std::move(what) +
                             "; expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"
                             " as stored in pg_authid.rolpassword");
  };
  if (!text.starts_with(kSecretPrefix)) return bad("it does not start with \"SCRAM-SHA-256$\"");
  text.remove_prefix(kSecretPrefix.size());

  size_t dollar = text.find('$');
  if (dollar == std::string_view::npos) return bad("the '$' before the keys is missing");
  std::string_view params = text.substr(0, dollar);
  std::string_view keys = text.substr(dollar + 1);

  size_t colon = params.find(':');
  if (colon == std::string_view::npos) return bad("the ':' after the iteration count is missing");
  ScramSecret secret;
  if (!parsePositiveInt(params.substr(0, colon), secret.iterations)) {
    return bad("the iteration count is not a positive integer");
  }
  auto salt = base64Decode(params.substr(colon + 1));
  if (!salt || salt->empty()) return bad("the salt is not non-empty base64");
  secret.salt = std::move(*salt);

  colon = keys.find(':');
  if (colon == std::string_view::npos)
    return bad("the ':' between StoredKey and ServerKey is missing");
  auto stored = base64Decode(keys.substr(0, colon));
  if (!stored || stored->size() != kKeyLen) return bad("StoredKey is not a base64 SHA-256 value");
  auto server = base64Decode(keys.substr(colon + 1));
  if (!server || server->size() != kKeyLen) return bad("ServerKey is not a base64 SHA-256 value");
  secret.stored_key = std::move(*stored);
  secret.server_key = std::move(*server);
  return secret;
}

// --- Server role -------------------------------------------------------------

ScramServer::ScramServer(ScramSecret secret, std::string server_nonce)
    : secret_(std::move(secret)), server_nonce_(std::move(server_nonce)) {
  if (server_nonce_.empty()) server_nonce_ = base64Encode(randomBytes(kRawNonceLen));
}

Result<std::string> ScramServer::handleClientFirst(std::string_view client_first) {
  constexpr std::string_view kMsg = "client-first-message";
  if (state_ != State::AwaitingClientFirst) return outOfOrder(kMsg);
  state_ = State::Failed;  // until this message is accepted

  // gs2-header: gs2-cbind-flag "," [authzid] ","
  Fields fields(client_first);
  std::string_view flag = fields.next();
  if (flag.starts_with("p")) {
    return fail("28000",
                "channel binding is not supported by the gateway; connect with "
                "channel_binding=disable or prefer");
  }
  // "y": the client could bind but believes the server cannot. The gateway
  // indeed offers no SCRAM-SHA-256-PLUS, so there is no downgrade to detect.
  if (flag != "n" && flag != "y") {
    return malformed(kMsg,
                     "the channel binding flag (gs2-cbind-flag) must be \"n\", \"y\" or \"p\"");
  }
  if (fields.done()) return malformed(kMsg, "the gs2 header ends after the channel binding flag");
  std::string_view authzid = fields.next();
  if (!authzid.empty() && authzid != "a=") {
    if (hasAttr(authzid, 'a')) {
      return fail(
          "0A000",
          "SCRAM authorization identity (a=) is not supported; leave it empty as libpq does");
    }
    return malformed(kMsg, "expected the authorization identity (a=) or an empty field");
  }
  if (fields.done()) return malformed(kMsg, "the message ends after the gs2 header");
  std::string_view bare = fields.rest();
  std::string_view gs2_header = client_first.substr(0, client_first.size() - bare.size());

  // client-first-message-bare: [reserved-mext ","] username "," nonce ["," extensions]
  if (hasAttr(bare, 'm')) {
    return fail("0A000", "the client requires an unsupported SCRAM extension (m=)");
  }
  auto user = readAttr(fields, 'n', kMsg, "the user name");  // ignored, as PostgreSQL does
  if (!user) return user.takeError();
  auto client_nonce = readAttr(fields, 'r', kMsg, "the client nonce");
  if (!client_nonce) return client_nonce.takeError();
  if (!isPrintableNonce(*client_nonce)) {
    return malformed(kMsg, "the client nonce (r=) must be non-empty printable ASCII");
  }
  while (!fields.done()) {
    if (!isAttrSyntax(fields.next())) {
      return malformed(kMsg, "an attribute after the nonce (r=) is not of the form x=value");
    }
  }

  gs2_header_ = std::string(gs2_header);
  client_first_bare_ = std::string(bare);
  nonce_ = std::string(*client_nonce) + server_nonce_;
  server_first_ = "r=" + nonce_ + ",s=" + base64Encode(secret_.salt) +
                  ",i=" + std::to_string(secret_.iterations);
  state_ = State::AwaitingClientFinal;
  return server_first_;
}

Result<std::string> ScramServer::handleClientFinal(std::string_view client_final) {
  constexpr std::string_view kMsg = "client-final-message";
  if (state_ != State::AwaitingClientFinal) return outOfOrder(kMsg);
  state_ = State::Failed;  // one proof per exchange, right or wrong

  // client-final-message: channel-binding "," nonce ["," extensions] "," proof
  Fields fields(client_final);
  auto binding = readAttr(fields, 'c', kMsg, "the channel binding");
  if (!binding) return binding.takeError();
  auto binding_raw = base64Decode(*binding);
  if (!binding_raw || *binding_raw != gs2_header_) {
    return malformed(kMsg,
                     "the channel binding (c=) does not repeat the gs2 header of "
                     "client-first-message");
  }
  auto nonce = readAttr(fields, 'r', kMsg, "the nonce");
  if (!nonce) return nonce.takeError();
  if (*nonce != nonce_) {
    return malformed(kMsg, "the nonce (r=) is not the one of this exchange");
  }
  std::string_view proof_field;
  while (true) {
    if (fields.done()) return malformed(kMsg, "the proof (p=) is missing");
    std::string_view field = fields.next();
    if (hasAttr(field, 'p')) {
      proof_field = field;
      break;
    }
    if (!isAttrSyntax(field)) {
      return malformed(kMsg, "an attribute before the proof (p=) is not of the form x=value");
    }
  }
  if (!fields.done()) return malformed(kMsg, "the proof (p=) must be the last attribute");
  auto proof = base64Decode(proof_field.substr(2));
  if (!proof || proof->size() != kKeyLen) {
    return malformed(kMsg, "the proof (p=) is not a base64 SHA-256 value");
  }

  // proof_field is "p=..." at the end; what precedes its comma is
  // client-final-message-without-proof.
  std::string_view without_proof =
      client_final.substr(0, client_final.size() - proof_field.size() - 1);
  std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);

  std::string client_signature = hmacSha256(secret_.stored_key, auth_message);
  std::string client_key = xorBytes(*proof, client_signature);
  bool verified = constantTimeEquals(sha256(client_key), secret_.stored_key);
  wipe(client_key);
  if (!verified) return fail("28P01", "password authentication failed");

  state_ = State::Done;
  return "v=" + base64Encode(hmacSha256(secret_.server_key, auth_message));
}

// --- Client role -------------------------------------------------------------

ScramClient::ScramClient(std::string password, std::string nonce, std::string_view user)
    : password_(std::move(password)), nonce_(std::move(nonce)) {
  if (nonce_.empty()) nonce_ = base64Encode(randomBytes(kRawNonceLen));
  client_first_bare_ = "n=" + escapeSaslName(user) + ",r=" + nonce_;
}

std::string ScramClient::clientFirst() {
  if (state_ == State::Initial) state_ = State::AwaitingServerFirst;
  return "n,," + client_first_bare_;
}

Result<std::string> ScramClient::handleServerFirst(std::string_view server_first) {
  constexpr std::string_view kMsg = "server-first-message";
  if (state_ != State::AwaitingServerFirst) return outOfOrder(kMsg);
  state_ = State::Failed;

  // server-first-message: [reserved-mext ","] nonce "," salt "," iteration-count
  if (hasAttr(server_first, 'm')) {
    return fail("08P01", "the upstream server requires an unsupported SCRAM extension (m=)");
  }
  Fields fields(server_first);
  auto nonce = readAttr(fields, 'r', kMsg, "the nonce");
  if (!nonce) return nonce.takeError();
  if (!nonce->starts_with(nonce_) || nonce->size() == nonce_.size() || !isPrintableNonce(*nonce)) {
    return malformed(kMsg, "the nonce (r=) does not extend the client nonce");
  }
  auto salt_b64 = readAttr(fields, 's', kMsg, "the salt");
  if (!salt_b64) return salt_b64.takeError();
  auto salt = base64Decode(*salt_b64);
  if (!salt || salt->empty()) return malformed(kMsg, "the salt (s=) is not non-empty base64");
  auto iterations_text = readAttr(fields, 'i', kMsg, "the iteration count");
  if (!iterations_text) return iterations_text.takeError();
  int iterations = 0;
  if (!parsePositiveInt(*iterations_text, iterations)) {
    return malformed(kMsg, "the iteration count (i=) is not a positive integer");
  }
  if (iterations > kMaxClientIterations) {
    return fail("08P01", "the upstream server asks for " + std::to_string(iterations) +
                             " SCRAM iterations, more than the gateway's limit of " +
                             std::to_string(kMaxClientIterations) +
                             "; lower scram_iterations and reset the password");
  }
  if (!fields.done()) return malformed(kMsg, "unexpected data after the iteration count (i=)");

  salted_password_ = saltedPassword(password_, *salt, iterations);
  std::string without_proof = "c=biws,r=" + std::string(*nonce);
  auth_message_ = client_first_bare_ + "," + std::string(server_first) + "," + without_proof;

  std::string client_key = hmacSha256(salted_password_, kClientKeyLabel);
  std::string client_signature = hmacSha256(sha256(client_key), auth_message_);
  std::string proof = xorBytes(client_key, client_signature);
  wipe(client_key);
  std::string client_final = without_proof + ",p=" + base64Encode(proof);
  state_ = State::AwaitingServerFinal;
  return client_final;
}

Status ScramClient::handleServerFinal(std::string_view server_final) {
  constexpr std::string_view kMsg = "server-final-message";
  if (state_ != State::AwaitingServerFinal) return outOfOrder(kMsg);
  state_ = State::Failed;

  std::string server_key = hmacSha256(salted_password_, kServerKeyLabel);
  wipe(salted_password_);

  if (hasAttr(server_final, 'e')) {
    return fail("28P01", "the upstream server rejected SCRAM authentication: " +
                             sanitizeForMessage(server_final.substr(2)));
  }
  Fields fields(server_final);
  auto verifier = readAttr(fields, 'v', kMsg, "the server signature");
  if (!verifier) return verifier.takeError();
  if (!fields.done()) return malformed(kMsg, "unexpected data after the server signature (v=)");
  auto signature = base64Decode(*verifier);
  if (!signature) return malformed(kMsg, "the server signature (v=) is not base64");

  bool verified = constantTimeEquals(*signature, hmacSha256(server_key, auth_message_));
  wipe(server_key);
  if (!verified) {
    return fail("08P01",
                "server signature mismatch: the upstream server did not prove it knows the "
                "password; it may not be the server it claims to be");
  }
  state_ = State::Done;
  return {};
}

}  // namespace pgw::auth
