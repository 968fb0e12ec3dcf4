#include "auth/oidc_keys.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "common/log.h"

namespace pgw::auth {
namespace {

constexpr std::string_view kUnavailable = "28000";

struct Url {
  std::string origin;  ///< scheme://host[:port]
  std::string path;    ///< /... (with query)
};

Result<Url> splitUrl(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return fail(kUnavailable, "not a URL: " + url);
  std::string scheme = url.substr(0, scheme_end);
  if (scheme != "https" && scheme != "http") {
    return fail(kUnavailable, "unsupported URL scheme in " + url);
  }
  auto path_start = url.find('/', scheme_end + 3);
  if (path_start == std::string::npos) return Url{url, "/"};
  return Url{url.substr(0, path_start), url.substr(path_start)};
}

}  // namespace

std::shared_ptr<const JwkSet> OidcKeys::current() const {
  std::lock_guard lock(mu_);
  return keys_;
}

bool OidcKeys::due(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  return !keys_ || now - fetched_at_ >= source_.refresh;
}

Result<std::string> OidcKeys::get(const std::string& url) const {
  auto parts = splitUrl(url);
  if (!parts) return parts.takeError();
  httplib::Client client(parts->origin);
  if (!source_.ca_file.empty()) client.set_ca_cert_path(source_.ca_file.c_str());
  client.enable_server_certificate_verification(true);
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(source_.http_timeout).count();
  client.set_connection_timeout(std::max<int64_t>(1, secs), 0);
  client.set_read_timeout(std::max<int64_t>(1, secs), 0);
  client.set_follow_location(false);
  std::string body;
  bool too_big = false;
  auto res = client.Get(parts->path, [&](const char* data, size_t len) {
    body.append(data, len);
    too_big = body.size() > kMaxJwksBytes;
    return !too_big;
  });
  if (too_big) return fail(kUnavailable, url + " returned more than 1 MiB");
  if (!res) {
    std::string why = httplib::to_string(res.error());
    if (res.error() == httplib::Error::SSLServerVerification) {
      why += " (check identity.oidc[].ca)";
    }
    return fail(kUnavailable, "cannot fetch " + url + ": " + why);
  }
  if (res->status != 200) {
    return fail(kUnavailable, "cannot fetch " + url + ": HTTP " + std::to_string(res->status));
  }
  return body;
}

Result<std::string> OidcKeys::discoverJwksUri() const {
  std::string url = source_.issuer;
  if (!url.empty() && url.back() == '/') url.pop_back();
  url += "/.well-known/openid-configuration";
  auto body = get(url);
  if (!body) return body.takeError();
  auto doc = nlohmann::json::parse(*body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(kUnavailable, url + " is not a JSON object");
  }
  auto iss = doc.find("issuer");
  if (iss == doc.end() || !iss->is_string() || iss->get<std::string>() != source_.issuer) {
    // OpenID Connect Discovery §4.3: the issuer in the document must match exactly.
    return fail(kUnavailable, url + " names a different issuer than identity.oidc[].issuer \"" +
                                  source_.issuer + "\"");
  }
  auto jwks = doc.find("jwks_uri");
  if (jwks == doc.end() || !jwks->is_string() || jwks->get<std::string>().empty()) {
    return fail(kUnavailable, url + " has no jwks_uri");
  }
  return jwks->get<std::string>();
}

Result<std::shared_ptr<const JwkSet>> OidcKeys::refresh(Clock::time_point now) {
  std::lock_guard fetch_lock(fetch_mu_);
  {
    std::lock_guard lock(mu_);
    if (attempted_ && now - attempted_at_ < source_.min_refetch) {
      if (keys_ && last_error_.empty()) return keys_;
      if (!last_error_.empty()) return fail(kUnavailable, last_error_);
      return keys_;
    }
    attempted_ = true;
    attempted_at_ = now;
  }
  auto fail_with = [&](Error e) -> Result<std::shared_ptr<const JwkSet>> {
    std::lock_guard lock(mu_);
    last_error_ = e.message;
    log::warn("oidc issuer {}: {}", source_.issuer, e.message);
    return e;
  };

  std::string jwks_uri = source_.jwks_uri;
  if (jwks_uri.empty()) {
    {
      std::lock_guard lock(mu_);
      jwks_uri = jwks_uri_;
    }
    if (jwks_uri.empty()) {
      auto discovered = discoverJwksUri();
      if (!discovered) return fail_with(discovered.takeError());
      jwks_uri = *discovered;
    }
  }
  auto body = get(jwks_uri);
  if (!body) return fail_with(body.takeError());
  auto set = JwkSet::parse(*body);
  if (!set) return fail_with(fail(kUnavailable, jwks_uri + ": " + set.error().message));
  for (const auto& why : set->skipped()) {
    log::warn("oidc issuer {}: skipped a key: {}", source_.issuer, why);
  }
  auto keys = std::make_shared<const JwkSet>(std::move(*set));
  std::lock_guard lock(mu_);
  keys_ = keys;
  jwks_uri_ = jwks_uri;
  fetched_at_ = now;
  last_error_.clear();
  log::info("oidc issuer {}: {} signing keys loaded", source_.issuer, keys->keys().size());
  return keys;
}

}  // namespace pgw::auth
