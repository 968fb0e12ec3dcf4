#pragma once
/// Internal to the API module: the endpoint table. A route is a method and a
/// path template whose `{name}` segments match one non-empty path segment
/// each ("/api/reviews/{id}/approve"), plus what the dispatcher must do
/// around its handler: authenticate, check roles, accept a body, audit.

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/call.h"
#include "api/roles.h"

namespace pgw::api {

/// Who may call a route.
enum class Access {
  Public,         ///< no token needed (health, metrics, discovery documents)
  Authenticated,  ///< a valid bearer token; `roles` (if any) further restrict
};

using Handler = std::function<Reply(Call&)>;

struct Route {
  std::string method;   ///< "GET", "POST", "PUT", "DELETE"
  std::string pattern;  ///< "/api/reviews/{id}"
  /// What the audit trail calls the call ("review.approve") and how errors
  /// and the metrics refer to it.
  std::string action;
  Access access = Access::Authenticated;
  /// Any one of these roles suffices; 0 = any authenticated subject (the
  /// handler may check more, e.g. "or the record is the caller's own").
  RoleMask roles = 0;
  bool body = false;     ///< takes a JSON body
  bool audited = false;  ///< the call changes something: record it (auditApi)
  Handler handler;
};

class Router {
 public:
  void add(Route route);

  struct Match {
    const Route* route = nullptr;  ///< nullptr: no route for this method and path
    PathParams params;
    /// The methods the path takes ("GET, HEAD, PUT"); "" = the path is unknown.
    std::string allow;
  };
  /// HEAD matches a GET route.
  Match find(std::string_view method, std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  static bool matches(std::string_view pattern, std::string_view path, PathParams* params);

  std::vector<Route> routes_;
};

}  // namespace pgw::api
