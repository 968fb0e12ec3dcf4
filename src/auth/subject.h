#pragma once
/// Who is behind a session. Every session carries one; policy decides on it
/// and audit records it. Built by whichever authenticator verified the caller.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pgw::auth {

enum class AuthMethod { Scram, Oidc, ServiceToken, ClientCertificate };

inline const char* toString(AuthMethod m) {
  switch (m) {
    case AuthMethod::Scram:
      return "scram";
    case AuthMethod::Oidc:
      return "oidc";
    case AuthMethod::ServiceToken:
      return "service-token";
    case AuthMethod::ClientCertificate:
      return "client-certificate";
  }
  return "unknown";
}

struct Subject {
  std::string id;            ///< stable identifier: JWT `sub`, token name, cert subject, user name
  std::string display_name;  ///< for humans: preferred_username / name / email; may equal id
  std::vector<std::string> groups;
  std::string
      issuer;  ///< JWT `iss`, "pgwarden:service-tokens", client CA subject, "pgwarden:users"
  AuthMethod method = AuthMethod::Scram;
  /// When the credential stops being valid (JWT exp, token expiry); nullopt = never.
  std::optional<std::chrono::system_clock::time_point> expires_at;
};

}  // namespace pgw::auth
