#pragma once
/// Internal to the API module: one HTTP call as a handler sees it, the reply
/// it builds, and strict readers for what a caller sends (JSON bodies, query
/// parameters, path ids).
///
/// Handlers report bad input by throwing ApiError; the dispatcher
/// (http_server.cc) is the one place that catches it and turns it into the
/// JSON error answer. This keeps each handler a straight line of checks —
/// the control plane is not on the data path, and nothing escapes the
/// dispatcher (anything else thrown becomes a logged 500).

#include <httplib.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/roles.h"
#include "auth/subject.h"
#include "common/result.h"
#include "config/config.h"

namespace pgw::api {

struct Route;

using Headers = std::vector<std::pair<std::string, std::string>>;
/// The `{name}` segments of a matched path.
using PathParams = std::map<std::string, std::string, std::less<>>;

/// An answer other than success: HTTP status, a message for the caller
/// (never a secret), extra headers and extra members of the JSON body.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& message, nlohmann::json extra = nullptr,
           Headers headers = {})
      : std::runtime_error(message),
        status_(status),
        extra_(std::move(extra)),
        headers_(std::move(headers)) {}
  int status() const { return status_; }
  const nlohmann::json& extra() const { return extra_; }
  const Headers& headers() const { return headers_; }

 private:
  int status_;
  nlohmann::json extra_;
  Headers headers_;
};

/// The HTTP status an Error from the review service or the ControlPlane
/// asks for ("404" in its sqlstate), else `fallback`.
int httpStatusOf(const Error& error, int fallback);
/// Throws ApiError for `error` (status from httpStatusOf).
[[noreturn]] void throwError(const Error& error, int fallback = 400);

/// What a handler answers: JSON (`json`) unless `content_type` is set, in
/// which case `text` is sent as is.
struct Reply {
  int status = 200;
  nlohmann::json json;
  std::string text;
  std::string content_type;
  Headers headers;

  static Reply ofJson(nlohmann::json body, int status = 200) {
    Reply r;
    r.status = status;
    r.json = std::move(body);
    return r;
  }
  static Reply ofText(std::string text, std::string content_type, int status = 200) {
    Reply r;
    r.status = status;
    r.text = std::move(text);
    r.content_type = std::move(content_type);
    return r;
  }
};

/// A JSON object from the caller, read strictly: every member must be one
/// of `allowed`, and each is read with its expected type. Errors (400) name
/// the member by its path ("tls.mode") and never repeat its value. A null
/// member counts as absent.
class JsonFields {
 public:
  /// `path` names `value` in errors: "" for the request body itself.
  JsonFields(const nlohmann::json& value, std::string path,
             std::initializer_list<std::string_view> allowed);

  bool has(std::string_view key) const;
  /// Required string; `non_empty` refuses "".
  std::string string(std::string_view key, bool non_empty = true) const;
  std::optional<std::string> optionalString(std::string_view key) const;
  std::optional<int64_t> optionalInteger(std::string_view key, int64_t min, int64_t max) const;
  /// The member (any type); 400 if absent.
  const nlohmann::json& required(std::string_view key) const;
  /// "tls.mode" for key "mode" of path "tls".
  std::string pathOf(std::string_view key) const;

 private:
  const nlohmann::json* find(std::string_view key) const;

  const nlohmann::json& value_;
  std::string path_;
};

/// 400 unless `value` is a JSON object (one whose keys the caller names,
/// such as `credentials`); `path` names it.
void requireObject(const nlohmann::json& value, const std::string& path);

/// The query string, read strictly: unknown or repeated parameters are 400.
class QueryParams {
 public:
  QueryParams(const httplib::Request& req, std::initializer_list<std::string_view> allowed);

  std::optional<std::string> get(std::string_view name) const;
  /// An integer in [min, max]; 400 naming the parameter otherwise.
  std::optional<int64_t> integer(std::string_view name, int64_t min, int64_t max) const;
  /// A time: RFC 3339 ("2026-11-24T19:42:51Z", fraction and offset allowed)
  /// or Unix seconds ("1795000000", "1795000000.5"); microseconds since the epoch.
  std::optional<int64_t> timeUs(std::string_view name) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

/// Parses the request body as a JSON value: malformed JSON, nesting deeper
/// than 64 and repeated object keys are 400. An empty body reads as `{}`.
nlohmann::json parseJsonBody(const std::string& body);

/// A decimal integer without sign, spaces or overflow.
std::optional<uint64_t> parseUnsigned(std::string_view text);
/// See QueryParams::timeUs.
std::optional<int64_t> parseTimeUs(std::string_view text);
/// "1h", "90m", "3600s" (a unit is required; ms and d too) as microseconds.
std::optional<int64_t> parseDurationUs(std::string_view text);

/// The request as the handlers see it.
class Call {
 public:
  Call(const httplib::Request& req, const Route& route, PathParams params,
       std::shared_ptr<const config::Config> config)
      : req_(req), route_(route), params_(std::move(params)), config_(std::move(config)) {}

  const httplib::Request& request() const { return req_; }
  const Route& route() const { return route_; }
  const config::Config& config() const { return *config_; }
  const std::shared_ptr<const config::Config>& configPtr() const { return config_; }

  /// A `{name}` of the route's path; "" if it has none.
  const std::string& param(std::string_view name) const;

  /// The authenticated caller (routes with Access::Authenticated).
  const auth::Subject& subject() const { return *subject_; }
  bool authenticated() const { return subject_.has_value(); }
  RoleMask roles() const { return roles_; }
  bool hasAny(RoleMask roles) const { return (roles_ & roles) != 0; }
  /// 403 unless the caller holds one of `roles`; `what` says what was refused.
  void requireAny(RoleMask roles, std::string_view what) const;
  void authenticate(auth::Subject subject, RoleMask roles) {
    subject_ = std::move(subject);
    roles_ = roles;
  }

  /// The body as a JSON object with only `allowed` members (see JsonFields).
  JsonFields body(std::initializer_list<std::string_view> allowed);
  QueryParams query(std::initializer_list<std::string_view> allowed) const {
    return QueryParams(req_, allowed);
  }

  /// What the audit record of this call names and says (auditApi's target
  /// and detail); the target defaults to the path's id. Never a secret.
  std::string audit_target;
  std::string audit_detail;

 private:
  const httplib::Request& req_;
  const Route& route_;
  PathParams params_;
  std::shared_ptr<const config::Config> config_;
  std::optional<auth::Subject> subject_;
  RoleMask roles_ = 0;
  nlohmann::json body_;
};

}  // namespace pgw::api
