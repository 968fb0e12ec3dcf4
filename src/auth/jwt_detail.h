#pragma once
/// Helpers shared by jwk.cc and jwt.cc; not part of the auth API.

#include <string>
#include <string_view>

#include "auth/jwt.h"

namespace pgw::auth::detail {

/// A value from a token or JWKS, made safe for an error message: JSON-quoted
/// (control characters escaped, invalid UTF-8 replaced) and cut after a
/// bounded length, so a hostile value cannot forge log lines or flood them.
std::string quote(std::string_view value);

/// Whether a key of `type` can verify `alg` (RFC 7518 §3.1, RFC 8037 §3.1).
bool algorithmFits(JwsAlgorithm alg, JwkKeyType type);

/// `key "kid-1"`, or `the key without kid`; for messages.
std::string describeKey(const Jwk& key);

/// Whether `key` may verify a token signed with `alg`: its type fits and its
/// own "alg", when set, is `alg`. 28000 naming the key and why not.
Status checkKeyFits(JwsAlgorithm alg, const Jwk& key);

}  // namespace pgw::auth::detail
