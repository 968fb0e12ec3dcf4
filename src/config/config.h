#pragma once
/// The gateway's configuration: YAML parsed into a validated, immutable
/// snapshot. A bad file is rejected whole with an error naming the key path
/// (e.g. `connections.prod.tls.mode`) and the problem; the previous snapshot
/// (if any) keeps serving. Secrets are written as references —
/// `${env:NAME}` or `${file:/path}` — resolved at load and never printed.
///
/// The full schema is documented in docs/config.md.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/mask.h"

namespace pgw::config {

/// A resolved secret. Has no stream operator and no formatter on purpose.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string v) : value_(std::move(v)) {}
  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

struct HostPort {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
};

/// Client-facing TLS (`tls:`).
struct ServerTls {
  std::string cert_file;       ///< PEM certificate chain; empty = TLS off
  std::string key_file;        ///< PEM private key
  bool require = false;        ///< refuse clients that do not negotiate TLS
  std::string client_ca_file;  ///< optional: verify client certificates (mTLS)
  bool enabled() const { return !cert_file.empty(); }
};

enum class SslMode { Disable, Require, VerifyCa, VerifyFull };

/// Upstream TLS (`connections.<name>.tls`).
struct UpstreamTls {
  SslMode mode = SslMode::Disable;
  std::string ca_file;    ///< required for verify-ca / verify-full
  std::string cert_file;  ///< optional client certificate to the server
  std::string key_file;
  std::string server_name;  ///< name checked by verify-full; default: host
};

/// A database credential the gateway holds (`connections.<name>.credentials.<cred>`).
struct Credential {
  std::string user;
  Secret password;
};

/// A registered upstream, selected by the client's startup `database`.
struct Connection {
  std::string name;  ///< the key under `connections:`
  std::string host;
  uint16_t port = 5432;
  std::string database;  ///< upstream database name; default: `name`
  UpstreamTls tls;
  std::map<std::string, Credential> credentials;  ///< at least one
  std::string default_credential;                 ///< until policy picks one; default: the only one
  std::chrono::milliseconds connect_timeout{5000};
};

/// A local user authenticated with SCRAM-SHA-256 (`identity.users`), meant
/// for development; tokens and certificates come with the identity module.
struct LocalUser {
  std::string name;
  /// Exactly one of these is set: a PostgreSQL SCRAM verifier
  /// ("SCRAM-SHA-256$4096:..."), or a password from which the gateway derives
  /// a verifier once at load (config does not depend on auth).
  std::string scram_verifier;
  Secret password;
  std::vector<std::string> groups;
};

/// An OIDC issuer whose JWTs are accepted as passwords (`identity.oidc[]`).
struct OidcIssuer {
  std::string issuer;    ///< exact `iss`; discovery at <issuer>/.well-known/openid-configuration
  std::string audience;  ///< must be in `aud`
  std::string groups_claim = "groups";  ///< dotted path, e.g. realm_access.roles
  std::string subject_claim = "sub";
  std::vector<std::string> algorithms = {"RS256", "PS256", "ES256", "EdDSA"};
  /// Claims that must be present with exactly this value; an empty value means "must exist".
  std::map<std::string, std::string> required_claims;
  std::chrono::milliseconds max_token_lifetime{0};  ///< exp - iat limit; 0 = no limit
  std::chrono::milliseconds clock_skew{60000};
  std::string ca_file;   ///< CA bundle for the IdP's HTTPS; empty = system store
  std::string jwks_uri;  ///< skip discovery and fetch keys here; empty = from discovery
  std::chrono::milliseconds jwks_refresh{3600000};    ///< periodic refetch
  std::chrono::milliseconds jwks_min_refetch{30000};  ///< rate limit for unknown-kid refetches
};

/// Service tokens (`identity.tokens`): `pgw_...` secrets for machines without
/// an IdP. Only SHA-256 hashes are stored, in `store` (managed by
/// `pgwarden token create|list|revoke`).
struct ServiceTokens {
  std::string store_file;  ///< empty = service tokens disabled
};

/// Client certificates as identity (`identity.client_certificates`), verified
/// against `tls.client_ca`.
struct ClientCertificates {
  bool enabled = false;
  enum class IdFrom { CommonName, SanEmail, SanDns, SanUri } id_from = IdFrom::CommonName;
  std::map<std::string, std::vector<std::string>> groups;  ///< identity -> groups
  std::vector<std::string> default_groups;
};

/// What happens when a token expires during a session.
struct TokenExpiry {
  enum class Mode { Terminate, HardLimit } mode = Mode::Terminate;
  /// HardLimit: the session may outlive its token, but not this long after it started.
  std::chrono::milliseconds hard_limit{8 * 3600 * 1000};
};

/// The development issuer (`identity.dev_issuer`): the gateway publishes the
/// public half of `key_file` under devIssuerUrl() (discovery and JWKS on the
/// HTTP port), and `pgwarden token mint` signs short-lived JWTs with it, so the
/// OIDC path can be tried without an identity provider. For local development:
/// anyone who can read the key file can mint tokens for any subject and
/// groups. Its tokens are accepted only when `identity.oidc` also lists
/// devIssuerUrl() as an issuer (nothing is trusted implicitly).
struct DevIssuer {
  std::string key_file;               ///< Ed25519 private key, PEM; absolute, readable at load
  std::string audience = "pgwarden";  ///< `aud` of minted tokens
  std::chrono::milliseconds token_lifetime{15 * 60 * 1000};  ///< default and longest `--ttl`
};

struct Identity {
  std::vector<OidcIssuer> oidc;
  std::optional<DevIssuer> dev_issuer;
  ServiceTokens tokens;
  ClientCertificates client_certificates;
  TokenExpiry token_expiry;
  /// Accept bearer tokens on connections without TLS (local development only).
  bool allow_plaintext_tokens = false;
  /// Upstream application_name; placeholders {subject} {method} {client_app}.
  std::string application_name = "pgwarden:{subject}";
  /// Failed authentications allowed per client address per minute; 0 = no limit.
  int max_auth_failures_per_minute = 20;
};

/// How bound parameters and literals are recorded (`audit.parameters`, and
/// per policy `policies[].audit.parameters`).
enum class AuditParams { Full, Redacted, None };

/// What a statement meets when the audit queue is full (`audit.on_full`).
enum class AuditOnFull {
  Block,   ///< the statement waits for room: nothing runs unaudited
  Reject,  ///< the statement fails at once with an error
};

/// One destination of `audit.sinks`.
struct AuditSinkConfig {
  enum class Type { Sqlite, Jsonl, Postgres } type = Type::Sqlite;
  std::string path;             ///< sqlite, jsonl: absolute file path
  size_t max_size = 64u << 20;  ///< jsonl: rotate when the file would grow past this
  int keep = 10;                ///< jsonl: rotated files kept besides the current one
  Secret dsn;                   ///< postgres: libpq connection string (may hold a password)
  Secret password;              ///< postgres: optional, passed apart from the DSN
  std::string table = "pgwarden_audit";  ///< postgres: table name (anchor: <table>_anchor)
  /// sqlite: how segments are stored; zstd cuts the file and the writer's
  /// work (docs/audit.md, "The SQLite file").
  enum class Compression { Zstd, None } compression = Compression::Zstd;
};

/// `audit.checkpoint`: Ed25519-signed checkpoints in the chain.
struct AuditCheckpointConfig {
  std::string key_file;                           ///< Ed25519 private key, PEM; absolute
  uint64_t every = 1000;                          ///< after this many events...
  std::chrono::milliseconds interval{5 * 60000};  ///< ...or this long, whichever first
};

/// `audit:` (docs/audit.md). Defaults hold with no `audit:` section at all.
struct AuditConfig {
  /// `audit.enabled: false` turns auditing off (the gateway warns at start).
  bool enabled = true;
  /// At least one when enabled. Default: SQLite at `<config dir>/data/audit.db`.
  std::vector<AuditSinkConfig> sinks;
  size_t queue = 65536;  ///< events in flight (queued or not yet durable)
  size_t batch = 4096;   ///< most events per sink transaction
  /// Group commit: how long the writer gathers events before a sink
  /// transaction (0: write as soon as events arrive).
  std::chrono::milliseconds flush_interval{50};
  /// `synchronous: true`: a ReadyForQuery reaches the client only once the
  /// events of the statements before it are durable in every sink.
  bool synchronous = false;
  AuditOnFull on_full = AuditOnFull::Block;
  AuditParams parameters = AuditParams::Redacted;
  std::chrono::milliseconds retention{0};  ///< 0 = keep forever
  std::optional<AuditCheckpointConfig> checkpoint;
  std::string gateway_id;  ///< names this gateway's chain; default: the host name
};

/// Access levels of a policy, each including the previous one:
/// read ⊂ write ⊂ ddl ⊂ admin. What each allows is defined by the policy
/// module (docs/policy.md, "Access levels").
enum class AccessLevel { Read, Write, Ddl, Admin };

/// One rule of `policies[].deny` or `policies[].review`. A rule matches a
/// statement when every condition it sets matches (at least one is set).
/// Kinds, functions and patterns stay text here: the policy module checks
/// them against the SQL analyzer's vocabulary and compiles them
/// (config does not depend on sql or policy).
struct PolicyRuleConfig {
  std::string kind;            ///< statement kind name ("delete", "drop", "drop_table"); "" = any
  std::string object;          ///< object type of CREATE/ALTER/DROP/... ("table"); "" = any
  bool without_where = false;  ///< only UPDATE/DELETE without a WHERE clause
  std::string function;        ///< function called, "name" or "schema.name", `*` globs
  std::string table;           ///< relation read or written, "name" or "schema.name", `*` globs
  bool writes = false;         ///< with `table`: only when the relation is written
  std::string pattern;         ///< RE2 searched in the normalized statement text
  /// Review rules only: the planner's row estimate (EXPLAIN, without ANALYZE,
  /// on the session's metadata connection) is above this; nullopt = not used.
  std::optional<double> estimated_rows;
  std::string reason;  ///< shown to the user when the rule fires; "" = none
};

/// How a statement sent to review meets its approver (`policies[].approval.mode`).
enum class ApprovalMode {
  Wait,   ///< the statement is held until it is approved, denied or times out
  Retry,  ///< the statement fails with the review id; re-sending it after approval runs it once
};

/// `policies[].approval`: who approves this policy's reviews and access
/// requests, and how (docs/approvals.md).
struct ApprovalConfig {
  ApprovalMode mode = ApprovalMode::Wait;
  /// Groups whose members may approve (they also need the API role
  /// `approver` or `admin`); empty = any API approver.
  std::vector<std::string> approvers;
  int min_approvals = 1;
  std::chrono::milliseconds timeout{5 * 60000};     ///< a pending review expires
  std::chrono::milliseconds retry_ttl{15 * 60000};  ///< retry: an approval must be used within
};

/// `policies[].jit`: just-in-time access requests on this policy's connections.
struct JitConfig {
  std::optional<AccessLevel> max_level;  ///< nullopt: requests are refused
  std::chrono::milliseconds max_duration{8 * 3600000};
  /// The credential a session opened during a grant above `read` logs in
  /// with; "" = the policy's own.
  std::string credential;
};

/// `policies[].limits`: enforced by the session, not by the statement check.
struct PolicyLimits {
  std::chrono::milliseconds statement_timeout{0};  ///< 0 = no limit
  uint64_t max_rows = 0;                           ///< rows returned per statement; 0 = no limit
};

/// One entry of `policies:` (docs/policy.md). The first policy whose subjects
/// and connections match a session governs it, like a pg_hba.conf line.
struct PolicyConfig {
  std::string name;                         ///< unique; letters, digits, '_', '.', '-'
  std::vector<std::string> subject_groups;  ///< "*" = every subject
  std::vector<std::string> subject_ids;     ///< "*" = every subject
  std::vector<std::string> connections;     ///< names under `connections:`, or "*"
  /// Credential per matched connection: the `credential:` key, or each
  /// connection's `default_credential`. Filled for every connection the
  /// policy covers (all of them for "*").
  std::map<std::string, std::string> credentials;
  AccessLevel access = AccessLevel::Read;
  /// Statements above `access` but within this level need a human approval
  /// (verdict Review) instead of being denied; nullopt = none.
  std::optional<AccessLevel> review_access;
  std::vector<PolicyRuleConfig> deny;
  std::vector<PolicyRuleConfig> review;
  std::vector<std::string> allow;  ///< built-in guardrails lifted, by name (checked by policy)
  PolicyLimits limits;
  /// `audit.parameters` of this policy; default: the top-level `audit.parameters`.
  AuditParams audit_parameters = AuditParams::Redacted;
  /// `mask:` rules in file order; the first that matches a column and
  /// applies to the subject masks it (docs/masking.md).
  std::vector<MaskRuleConfig> mask;
  ApprovalConfig approval;
  JitConfig jit;
};

/// `api:` — the REST control plane's roles, mapped from the caller's groups
/// (docs/api.md). A caller holds every role one of its groups maps to.
struct ApiConfig {
  std::vector<std::string> admins;     ///< groups: everything
  std::vector<std::string> approvers;  ///< groups: approve/deny reviews and access requests
  std::vector<std::string> auditors;   ///< groups: read reviews, audit, sessions
  size_t max_body = 1u << 20;          ///< largest request body accepted
  /// The API's address as approvers reach it (behind a load balancer, ...),
  /// for links in notifications; "" = derived from listen.http.
  std::string public_url;
};

/// One `notifications.webhooks[]` receiver: new reviews and access requests.
struct WebhookConfig {
  enum class Format { Generic, Slack } format = Format::Generic;
  std::string name;
  std::string url;  ///< http:// or https://
  /// Generic: HMAC-SHA256 key of the `X-Pgwarden-Signature` header; "" = unsigned.
  Secret secret;
  int max_attempts = 5;
  std::chrono::milliseconds timeout{5000};
};

/// `state:` — where reviews, grants and registered connections are kept.
struct StateConfig {
  std::string path;  ///< SQLite file; default `<config dir>/data/state.db`
  /// AES-256-GCM key for credentials registered over the API: 32 bytes, or
  /// 64 hex digits. Empty: registering connections over the API is refused.
  Secret master_key;
  /// Decided reviews and access requests are pruned this long after their
  /// last event (the audit trail keeps their story).
  std::chrono::milliseconds retention{30LL * 24 * 3600 * 1000};
};

/// What a result column whose origin cannot be traced meets while masking
/// rules apply to the session (`masking.on_untraceable`).
enum class OnUntraceable {
  Mask,  ///< the column is redacted
  Deny,  ///< the statement is denied
};

/// `masking:` (docs/masking.md): settings shared by every policy's `mask:` rules.
struct MaskingConfig {
  /// HMAC-SHA256 key of `hash` and `format_preserving`; required when a rule
  /// uses them. At least 16 bytes.
  Secret hash_key;
  OnUntraceable on_untraceable = OnUntraceable::Mask;
  /// How long a catalog lookup (a relation's columns, a view's definition)
  /// is trusted; DDL passing through the gateway clears it at once.
  std::chrono::milliseconds catalog_ttl{60000};
};

struct Timeouts {
  std::chrono::milliseconds startup{10000};         ///< connect -> StartupMessage
  std::chrono::milliseconds auth{30000};            ///< StartupMessage -> ReadyForQuery
  std::chrono::milliseconds idle{0};                ///< idle session (0 = never)
  std::chrono::milliseconds shutdown_grace{30000};  ///< SIGTERM -> forced close
};

struct Config {
  HostPort listen_postgres{"127.0.0.1", 6432};
  HostPort listen_http{"127.0.0.1", 8080};
  ServerTls tls;
  int workers = 0;  ///< 0 = number of cores
  size_t max_message_size = 64u << 20;
  int max_client_connections = 10000;
  std::string log_level = "info";
  Timeouts timeouts;
  std::map<std::string, Connection> connections;
  std::vector<LocalUser> users;
  Identity identity;
  std::vector<PolicyConfig> policies;  ///< in file order; see docs/policy.md
  AuditConfig audit;
  MaskingConfig masking;
  ApiConfig api;
  std::vector<WebhookConfig> webhooks;  ///< `notifications.webhooks`
  StateConfig state;

  const Connection* findConnection(const std::string& name) const;
  const LocalUser* findUser(const std::string& name) const;
};

/// The dev issuer's `iss`: "http://<listen.http>/dev-issuer", with a wildcard
/// listen host (0.0.0.0, ::) replaced by the loopback address of its family,
/// e.g. "http://127.0.0.1:8080/dev-issuer". Meaningful when
/// `identity.dev_issuer` is set (the loader then checks that listen.http is a
/// loopback or wildcard address).
std::string devIssuerUrl(const Config& config);
/// "http://<listen.http>" with a wildcard host replaced by the loopback
/// address of its family and an IPv6 host bracketed.
std::string listenHttpUrl(const Config& config);
/// Where people reach the REST API (links in notifications): `api.public_url`,
/// else listenHttpUrl().
std::string apiBaseUrl(const Config& config);

/// Parses YAML text. `base_dir` resolves relative file paths (certs,
/// `${file:...}`). Errors: message "config: <key path>: <problem>".
Result<std::shared_ptr<const Config>> parseConfig(const std::string& yaml,
                                                  const std::string& base_dir);
/// Reads and parses a file.
Result<std::shared_ptr<const Config>> loadConfig(const std::string& path);
/// loadConfig() in two steps, for a reload that compares texts first.
Result<std::string> readConfigText(const std::string& path);
/// Parses `yaml` read from `path` (relative paths resolve against its folder).
Result<std::shared_ptr<const Config>> parseConfigFile(const std::string& yaml,
                                                      const std::string& path);

/// The 1-based line in `yaml` of the key named by `key_path` (the
/// "<key path>" of a "config: <key path>: <problem>" message, e.g.
/// "policies[2].deny[1].pattern"); for a key that is missing, the line of
/// its closest enclosing key that exists. nullopt when the text does not
/// parse or no part of the path exists.
std::optional<int> keyPathLine(const std::string& yaml, std::string_view key_path);
/// keyPathLine() of the key path inside an error message
/// "config: <key path>: <problem>".
std::optional<int> errorLine(const std::string& yaml, std::string_view message);

/// "127.0.0.1:6432", "[::1]:6432", ":6432" (host defaults to 127.0.0.1).
Result<HostPort> parseHostPort(const std::string& text);
/// "500ms", "30s", "5m", "1h", "7d" (24h days), or a bare integer of milliseconds.
Result<std::chrono::milliseconds> parseDuration(const std::string& text);
/// "15m", "90s", "1500ms": the largest unit that divides `d` evenly (what
/// parseDuration reads back).
std::string formatDuration(std::chrono::milliseconds d);
/// "64MB", "1kB", "1048576".
Result<size_t> parseSize(const std::string& text);

}  // namespace pgw::config
