#include "proxy/identity_service.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "common/log.h"
#include "protocol/sqlstate.h"

namespace pgw::proxy {
namespace {

using SysClock = std::chrono::system_clock;

std::optional<std::string> certCommonName(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return std::nullopt;
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return std::nullopt;
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return cn;
}

std::optional<std::string> certSan(X509* cert, int type) {
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return std::nullopt;
  std::optional<std::string> found;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type != type) continue;
    const ASN1_IA5STRING* s = gn->d.ia5;
    found = std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<size_t>(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(names);
  return found;
}

std::string oneLine(X509_NAME* name) {
  char buf[512];
  X509_NAME_oneline(name, buf, sizeof buf);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> notAfter(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return std::nullopt;
  return SysClock::from_time_t(timegm(&tm));
}

}  // namespace

IdentityService::IdentityService(const config::Config& config)
    : settings_(makeSettings(config, nullptr)) {}

IdentityService::~IdentityService() {
  pool_.stop();
  pool_.join();
}

std::shared_ptr<const IdentityService::Settings> IdentityService::makeSettings(
    const config::Config& config, const Settings* previous) {
  auto s = std::make_shared<Settings>();
  s->allow_plaintext_tokens = config.identity.allow_plaintext_tokens;
  s->certs = config.identity.client_certificates;
  s->max_failures_per_minute = config.identity.max_auth_failures_per_minute;
  s->token_store_path = config.identity.tokens.store_file;
  for (const auto& o : config.identity.oidc) {
    Issuer issuer;
    issuer.source = o;
    issuer.policy.issuer = o.issuer;
    issuer.policy.audience = o.audience;
    issuer.policy.algorithms.clear();
    for (const auto& name : o.algorithms) {
      if (auto alg = auth::parseJwsAlgorithm(name)) issuer.policy.algorithms.push_back(*alg);
    }
    issuer.policy.groups_claim = o.groups_claim;
    issuer.policy.subject_claim = o.subject_claim;
    for (const auto& [claim, value] : o.required_claims) {
      issuer.policy.required_claims[claim] =
          value.empty() ? std::nullopt : std::optional<std::string>(value);
    }
    if (o.max_token_lifetime.count() > 0) {
      issuer.policy.max_lifetime =
          std::chrono::duration_cast<std::chrono::seconds>(o.max_token_lifetime);
    }
    issuer.policy.clock_skew = std::chrono::duration_cast<std::chrono::seconds>(o.clock_skew);
    if (previous != nullptr) {
      for (const auto& old : previous->issuers) {
        const auto& a = old.source;
        if (a.issuer == o.issuer && a.jwks_uri == o.jwks_uri && a.ca_file == o.ca_file &&
            a.jwks_refresh == o.jwks_refresh && a.jwks_min_refetch == o.jwks_min_refetch) {
          issuer.keys = old.keys;  // same source: keep the cached keys
        }
      }
    }
    if (!issuer.keys) {
      auth::OidcKeySource source{o.issuer, o.jwks_uri, o.ca_file, o.jwks_refresh,
                                 o.jwks_min_refetch};
      issuer.keys = std::make_shared<auth::OidcKeys>(std::move(source));
    }
    s->issuers.push_back(std::move(issuer));
  }
  return s;
}

std::shared_ptr<const IdentityService::Settings> IdentityService::settings() const {
  std::lock_guard lock(settings_mu_);
  return settings_;
}

void IdentityService::reconfigure(const config::Config& config) {
  auto next = makeSettings(config, settings().get());
  {
    std::lock_guard lock(settings_mu_);
    settings_ = next;
  }
  for (const auto& issuer : next->issuers) {
    if (!issuer.keys->current()) {
      asio::post(pool_,
                 [keys = issuer.keys] { (void)keys->refresh(auth::OidcKeys::Clock::now()); });
    }
  }
}

bool IdentityService::acceptsTokens() const {
  auto s = settings();
  return !s->issuers.empty() || !s->token_store_path.empty();
}

void IdentityService::prefetch() {
  for (const auto& issuer : settings()->issuers) {
    asio::post(pool_, [keys = issuer.keys] { (void)keys->refresh(auth::OidcKeys::Clock::now()); });
  }
}

awaitable<Result<auth::Subject>> IdentityService::verifyToken(std::string token) {
  auto s = settings();
  if (auth::looksLikeServiceToken(token)) co_return verifyServiceToken(token, *s);
  const bool oidc = !s->issuers.empty();
  const bool tokens = !s->token_store_path.empty();
  if (std::count(token.begin(), token.end(), '.') == 2 && oidc) {
    co_return co_await verifyJwt(token, std::move(s));
  }
  co_return fail(sqlstate::kInvalidPassword,
                 "the password is not a credential pgwarden accepts here (expected " +
                     std::string(oidc ? "an OIDC access token (JWT)" : "") +
                     (oidc && tokens ? " or " : "") +
                     (tokens ? "a pgwarden service token (pgw_...)" : "") + ")");
}

awaitable<Result<auth::Subject>> IdentityService::verifyJwt(
    const std::string& token, std::shared_ptr<const Settings> settings) {
  auto header = auth::decodeJwtHeader(token);
  if (!header) co_return header.takeError();
  auto iss = auth::peekIssuer(token);
  if (!iss) co_return iss.takeError();
  const Issuer* issuer = nullptr;
  for (const auto& candidate : settings->issuers) {
    if (candidate.policy.issuer == *iss) issuer = &candidate;
  }
  if (issuer == nullptr) {
    co_return fail(sqlstate::kInvalidAuthorizationSpecification,
                   "token issuer \"" + *iss + "\" is not configured in identity.oidc");
  }
  auto keys = issuer->keys->current();
  const auto now = auth::OidcKeys::Clock::now();
  const bool unknown_kid = keys && !header->kid.empty() && keys->find(header->kid) == nullptr;
  if (!keys || unknown_kid || issuer->keys->due(now)) {
    // Blocking HTTPS on the pool; this coroutine resumes on its own executor.
    std::optional<Result<std::shared_ptr<const auth::JwkSet>>> fetched;
    auto* source = issuer->keys.get();
    co_await asio::co_spawn(
        pool_,
        [&]() -> awaitable<void> {
          fetched.emplace(source->refresh(now));
          co_return;
        },
        asio::use_awaitable);
    if (*fetched) {
      keys = **fetched;
    } else if (!keys) {
      co_return fail(sqlstate::kInvalidAuthorizationSpecification,
                     "cannot verify the token: the identity provider could not be reached and "
                     "no keys are cached (" +
                         fetched->error().message + ")");
    }
  }
  auto verified = auth::verifyJwt(token, *keys, issuer->policy, SysClock::now());
  if (!verified) co_return verified.takeError();
  // The login accepted exp + clock_skew; the session keeps the same tolerance.
  auth::Subject subject = std::move(verified->subject);
  if (subject.expires_at) *subject.expires_at += issuer->policy.clock_skew;
  co_return subject;
}

Result<auth::Subject> IdentityService::verifyServiceToken(std::string_view token,
                                                          const Settings& settings) {
  if (settings.token_store_path.empty()) {
    return fail(sqlstate::kInvalidPassword,
                "service tokens are not enabled on this gateway (identity.tokens.store)");
  }
  std::lock_guard lock(tokens_mu_);
  if (tokens_path_ != settings.token_store_path) {
    // A reload named another store file: start over with it.
    tokens_path_ = settings.token_store_path;
    tokens_.reset();
    tokens_stamp_ = {};
  }
  // Picks up `pgwarden token create|revoke` without a restart; a broken file
  // is reported once and the previous store keeps serving.
  auto reloaded = auth::ServiceTokenStore::reloadIfChanged(tokens_path_, tokens_stamp_);
  if (!reloaded) {
    log::error("service token store {}: {}", tokens_path_, reloaded.error().message);
  } else if (*reloaded) {
    tokens_.emplace(std::move(**reloaded));
  }
  if (!tokens_) {
    return fail(sqlstate::kInvalidAuthorizationSpecification,
                "the gateway's service token store cannot be read; tell the gateway operator");
  }
  return tokens_->authenticate(token, SysClock::now());
}

Result<auth::Subject> IdentityService::fromCertificate(SSL* ssl) const {
  if (ssl == nullptr) return fail(sqlstate::kInvalidAuthorizationSpecification, "no TLS session");
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) {
    return fail(sqlstate::kInvalidAuthorizationSpecification, "no client certificate");
  }
  if (SSL_get_verify_result(ssl) != X509_V_OK) {
    return fail(sqlstate::kInvalidAuthorizationSpecification,
                "the client certificate does not verify against tls.client_ca");
  }
  std::optional<std::string> id;
  using IdFrom = config::ClientCertificates::IdFrom;
  const auto s = settings();
  const config::ClientCertificates& certs = s->certs;
  switch (certs.id_from) {
    case IdFrom::CommonName:
      id = certCommonName(cert);
      break;
    case IdFrom::SanEmail:
      id = certSan(cert, GEN_EMAIL);
      break;
    case IdFrom::SanDns:
      id = certSan(cert, GEN_DNS);
      break;
    case IdFrom::SanUri:
      id = certSan(cert, GEN_URI);
      break;
  }
  if (!id || id->empty()) {
    return fail(sqlstate::kInvalidAuthorizationSpecification,
                "the client certificate carries no identity in the field named by "
                "identity.client_certificates.id_from");
  }
  auth::Subject subject;
  subject.id = *id;
  subject.display_name = *id;
  subject.method = auth::AuthMethod::ClientCertificate;
  subject.issuer = oneLine(X509_get_issuer_name(cert));
  subject.expires_at = notAfter(cert);
  if (auto it = certs.groups.find(*id); it != certs.groups.end()) {
    subject.groups = it->second;
  } else {
    subject.groups = certs.default_groups;
  }
  return subject;
}

std::optional<std::chrono::seconds> IdentityService::blockedFor(const std::string& address) {
  const int max_failures_per_minute = settings()->max_failures_per_minute;
  if (max_failures_per_minute <= 0) return std::nullopt;
  std::lock_guard lock(limiter_mu_);
  auto it = failures_.find(address);
  if (it == failures_.end()) return std::nullopt;
  auto now = std::chrono::steady_clock::now();
  auto age = now - it->second.start;
  if (age >= std::chrono::minutes(1)) {
    failures_.erase(it);
    return std::nullopt;
  }
  if (it->second.failures < max_failures_per_minute) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::minutes(1) - age) +
         std::chrono::seconds(1);
}

void IdentityService::recordFailure(const std::string& address) {
  if (settings()->max_failures_per_minute <= 0) return;
  std::lock_guard lock(limiter_mu_);
  auto now = std::chrono::steady_clock::now();
  auto& w = failures_[address];
  if (w.failures == 0 || now - w.start >= std::chrono::minutes(1)) {
    w.start = now;
    w.failures = 0;
  }
  ++w.failures;
  // Bound memory under a spray of addresses: drop expired windows now and then.
  if (failures_.size() > 10000) {
    std::erase_if(failures_,
                  [&](const auto& kv) { return now - kv.second.start >= std::chrono::minutes(1); });
  }
}

}  // namespace pgw::proxy
