#include "api/router.h"

namespace pgw::api {
namespace {

/// The next segment of `path` after position `pos` (which is at a '/').
std::string_view nextSegment(std::string_view path, size_t& pos) {
  const size_t start = pos + 1;
  size_t end = path.find('/', start);
  if (end == std::string_view::npos) end = path.size();
  pos = end;
  return path.substr(start, end - start);
}

}  // namespace

void Router::add(Route route) {
  routes_.push_back(std::move(route));
}

bool Router::matches(std::string_view pattern, std::string_view path, PathParams* params) {
  if (pattern.empty() || path.empty() || pattern[0] != '/' || path[0] != '/') return false;
  size_t ppos = 0, tpos = 0;
  while (ppos < pattern.size() && tpos < path.size()) {
    const std::string_view want = nextSegment(pattern, ppos);
    const std::string_view got = nextSegment(path, tpos);
    if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
      if (got.empty()) return false;
      if (params) params->emplace(std::string(want.substr(1, want.size() - 2)), std::string(got));
    } else if (want != got) {
      return false;
    }
  }
  return ppos == pattern.size() && tpos == path.size();
}

Router::Match Router::find(std::string_view method, std::string_view path) const {
  Match m;
  for (const Route& route : routes_) {
    if (!matches(route.pattern, path, nullptr)) continue;
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += route.method;
    if (route.method == "GET") m.allow += ", HEAD";
    if (m.route) continue;
    if (route.method == method || (route.method == "GET" && method == "HEAD")) {
      m.route = &route;
      matches(route.pattern, path, &m.params);
    }
  }
  return m;
}

}  // namespace pgw::api
