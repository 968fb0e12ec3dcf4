#include "app/review_cli.h"

#include <fmt/format.h>
#include <httplib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "review/describe.h"
#include "review/review.h"

namespace pgw::app {
namespace {

using nlohmann::json;

constexpr int kOk = 0;
constexpr int kRefused = 1;
constexpr int kUsage = 2;

constexpr const char* kDefaultApi = "http://127.0.0.1:8080";
constexpr time_t kConnectTimeoutSeconds = 5;
constexpr time_t kReadTimeoutSeconds = 30;

/// Where and as whom to call.
struct Target {
  std::string origin;  ///< "https://gw.example:8443"
  std::string prefix;  ///< "" or "/pgwarden" (an API behind a path prefix)
  std::string shown;   ///< for messages: origin + prefix
  std::string token;
  std::string ca_file;
};

struct Answer {
  int status = 0;
  json body;  ///< discarded when the body is not JSON
};

std::string envOr(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

/// The token from --token, --token-file or PGWARDEN_TOKEN; errors never
/// show any part of it.
std::optional<std::string> findToken(const ReviewCommandState& s,
                                     const std::map<std::string, std::string>& env,
                                     std::ostream& err) {
  std::string token;
  std::string from;
  if (!s.token.empty()) {
    token = s.token;
    from = "--token";
  } else if (!s.token_file.empty()) {
    std::ifstream in(s.token_file, std::ios::binary);
    if (!in) {
      err << fmt::format("pgwarden: cannot read the token file {}: {}\n", s.token_file,
                         std::strerror(errno));
      return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    token = text.str();
    from = "the token file " + s.token_file;
  } else {
    token = envOr(env, "PGWARDEN_TOKEN");
    from = "PGWARDEN_TOKEN";
  }
  token = trim(std::move(token));
  if (token.empty()) {
    err << (from == "PGWARDEN_TOKEN"
                ? "pgwarden: no token: pass --token-file PATH or --token TOKEN, or set "
                  "PGWARDEN_TOKEN (an OIDC JWT or a pgw_ service token)\n"
                : fmt::format("pgwarden: {} is empty\n", from));
    return std::nullopt;
  }
  for (char c : token) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      err << fmt::format("pgwarden: the token in {} has spaces or control characters in it\n",
                         from);
      return std::nullopt;
    }
  }
  return token;
}

std::optional<Target> findTarget(const ReviewCommandState& s,
                                 const std::map<std::string, std::string>& env, std::ostream& err) {
  std::string api = s.api.empty() ? envOr(env, "PGWARDEN_API") : s.api;
  if (api.empty()) api = kDefaultApi;
  if (api.rfind("http://", 0) != 0 && api.rfind("https://", 0) != 0) {
    err << fmt::format("pgwarden: --api must be an http:// or https:// URL (got '{}')\n",
                       review::printable(api));
    return std::nullopt;
  }
  if (api.find_first_of("?#") != std::string::npos) {
    err << "pgwarden: --api must not have a query or fragment\n";
    return std::nullopt;
  }
  Target t;
  const size_t path = api.find('/', api.find("://") + 3);
  t.origin = api.substr(0, path);
  t.prefix = path == std::string::npos ? std::string() : api.substr(path);
  while (!t.prefix.empty() && t.prefix.back() == '/') t.prefix.pop_back();
  t.shown = t.origin + t.prefix;
  t.ca_file = s.ca_file;
  auto token = findToken(s, env, err);
  if (!token) return std::nullopt;
  t.token = std::move(*token);
  return t;
}

/// Review and access request ids: "rv_…", "ar_…"; refused before they reach
/// a URL if they hold anything else.
bool validId(const std::string& id, std::ostream& err) {
  const bool ok = !id.empty() && id.size() <= 100 &&
                  id.find_first_not_of(
                      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789_-") == std::string::npos;
  if (!ok) err << fmt::format("pgwarden: '{}' is not a valid id\n", review::printable(id));
  return ok;
}

std::string describeFailure(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect";
    case httplib::Error::SSLConnection:
      return "the TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "the server's certificate does not verify (pass --ca FILE for a private CA)";
    case httplib::Error::Read:
      return "no answer (read failed or timed out)";
    default:
      return "request failed (" + httplib::to_string(error) + ")";
  }
}

/// One request. nullopt (after a message) when the API cannot be reached.
std::optional<Answer> call(const Target& t, const std::string& method, const std::string& path,
                           const std::optional<json>& body, std::ostream& err) {
  httplib::Client client(t.origin);
  if (!client.is_valid()) {
    err << fmt::format("pgwarden: --api {} is not a valid URL\n", review::printable(t.shown));
    return std::nullopt;
  }
  client.enable_server_certificate_verification(true);
  if (!t.ca_file.empty()) client.set_ca_cert_path(t.ca_file);
  client.set_connection_timeout(kConnectTimeoutSeconds, 0);
  client.set_read_timeout(kReadTimeoutSeconds, 0);
  client.set_write_timeout(kConnectTimeoutSeconds, 0);
  client.set_follow_location(false);
  client.set_bearer_token_auth(t.token);
  const httplib::Headers headers = {{"Accept", "application/json"}, {"User-Agent", "pgwarden-cli"}};
  const std::string url = t.prefix + path;
  httplib::Result res =
      method == "POST"
          ? client.Post(url, headers, body ? body->dump() : std::string("{}"), "application/json")
          : client.Get(url, headers);
  if (!res) {
    err << fmt::format(
        "pgwarden: cannot reach the API at {}: {} (is the gateway serving "
        "listen.http? set --api or PGWARDEN_API)\n",
        review::printable(t.shown), describeFailure(res.error()));
    return std::nullopt;
  }
  Answer a;
  a.status = res->status;
  a.body = json::parse(res->body, nullptr, false);
  return a;
}

/// Prints a refusal: `pgwarden: <error> (HTTP N)`.
int refused(const Answer& a, std::ostream& err) {
  std::string message;
  int status = a.status;
  if (a.body.is_object()) {
    if (auto e = a.body.find("error"); e != a.body.end() && e->is_string()) message = *e;
    if (auto st = a.body.find("status"); st != a.body.end() && st->is_number_integer()) {
      status = st->get<int>();
    }
  }
  if (message.empty()) message = "the API refused the request";
  err << fmt::format("pgwarden: {} (HTTP {})\n", review::printable(message), status);
  return kRefused;
}

/// The common ending: an error, `--json`, or the human form.
template <class Format>
int finish(const ReviewCommandState& s, const std::optional<Answer>& a, std::ostream& out,
           std::ostream& err, Format format) {
  if (!a) return kUsage;
  if (a->status < 200 || a->status > 299) return refused(*a, err);
  if (a->body.is_discarded()) {
    err << fmt::format("pgwarden: the API answered HTTP {} with a body that is not JSON\n",
                       a->status);
    return kRefused;
  }
  if (s.json) {
    out << a->body.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    out << format(a->body);
  }
  return kOk;
}

std::optional<json> commentBody(const ReviewCommandState& s) {
  json body = json::object();
  if (!s.comment.empty()) body["comment"] = s.comment;
  return body;
}

/// RFC 3986 §2.1: everything but the unreserved characters percent-encoded.
std::string percentEncode(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", b);
    }
  }
  return out;
}

/// "?state=pending&limit=10" from the list options ("" when none).
std::string listQuery(const ReviewCommandState& s, const std::string& state) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!state.empty() && state != "all") params.emplace_back("state", state);
  if (!s.subject.empty()) params.emplace_back("subject", s.subject);
  if (!s.list_connection.empty()) params.emplace_back("connection", s.list_connection);
  if (s.limit > 0) params.emplace_back("limit", std::to_string(s.limit));
  if (!s.before.empty()) params.emplace_back("before", s.before);
  std::string query;
  for (const auto& [name, value] : params) {
    query += (query.empty() ? "?" : "&") + name + "=" + percentEncode(value);
  }
  return query;
}

/// The paging hint under a list: the answer's "next" id, if any.
std::string nextPage(const json& answer, std::string_view verb) {
  if (!answer.is_object()) return "";
  auto next = answer.find("next");
  if (next == answer.end() || !next->is_string()) return "";
  return fmt::format("(more: pgwarden {} ... --before {})\n", verb,
                     review::printable(next->get<std::string>()));
}

int runReview(const ReviewCommandState& s, const Target& t, std::ostream& out, std::ostream& err) {
  const int64_t now = review::nowUs();
  if (s.list->parsed()) {
    const std::string state = s.state.empty() ? std::string("pending") : s.state;
    const std::string empty = state == "all" ? "no reviews" : "no " + state + " reviews";
    return finish(s, call(t, "GET", "/api/reviews" + listQuery(s, state), std::nullopt, err), out,
                  err, [&](const json& j) {
                    return review::reviewTable(j, now, empty) + nextPage(j, "review list");
                  });
  }
  if (!validId(s.id, err)) return kUsage;
  if (s.show->parsed()) {
    return finish(s, call(t, "GET", "/api/reviews/" + s.id, std::nullopt, err), out, err,
                  [&](const json& j) { return review::describeReview(j, now); });
  }
  const char* verb = s.approve->parsed() ? "approve" : "deny";
  return finish(s, call(t, "POST", "/api/reviews/" + s.id + "/" + verb, commentBody(s), err), out,
                err, [](const json& j) { return review::reviewOutcome(j); });
}

int runAccess(const ReviewCommandState& s, const Target& t, std::ostream& out, std::ostream& err) {
  const int64_t now = review::nowUs();
  if (s.access_request->parsed()) {
    const json body = {{"connection", s.connection},
                       {"level", s.level},
                       {"duration", s.duration},
                       {"reason", s.reason}};
    return finish(s, call(t, "POST", "/api/access-requests", body, err), out, err,
                  [&](const json& j) { return review::describeAccessRequest(j, now); });
  }
  if (s.access_list->parsed()) {
    const std::string empty = s.state.empty() || s.state == "all"
                                  ? "no access requests"
                                  : "no " + s.state + " access requests";
    return finish(s,
                  call(t, "GET", "/api/access-requests" + listQuery(s, s.state), std::nullopt, err),
                  out, err, [&](const json& j) {
                    return review::accessTable(j, now, empty) + nextPage(j, "access list");
                  });
  }
  if (!validId(s.id, err)) return kUsage;
  const char* verb = s.access_approve->parsed() ? "approve"
                     : s.access_deny->parsed()  ? "deny"
                                                : "revoke";
  return finish(s,
                call(t, "POST", "/api/access-requests/" + s.id + "/" + verb, commentBody(s), err),
                out, err, [&](const json& j) { return review::accessOutcome(j, now); });
}

void addCommon(CLI::App* cmd, ReviewCommandState& s) {
  cmd->add_option("--api", s.api,
                  "The gateway's HTTP API (default: $PGWARDEN_API, else http://127.0.0.1:8080)");
  auto* file = cmd->add_option("--token-file", s.token_file,
                               "A file holding your bearer token (OIDC JWT or pgw_ token)");
  auto* token = cmd->add_option("--token", s.token,
                                "Your bearer token (default: $PGWARDEN_TOKEN; prefer "
                                "--token-file: arguments are visible to other users)");
  token->excludes(file);
  cmd->add_option("--ca", s.ca_file, "PEM CA certificate(s) to verify an https API");
  cmd->add_flag("--json", s.json, "Print the API's JSON answer");
}

void addListFilters(CLI::App* cmd, ReviewCommandState& s) {
  cmd->add_option("--subject", s.subject, "Only this subject's (its id)");
  cmd->add_option("--connection", s.list_connection, "Only on this connection");
  cmd->add_option("--limit", s.limit, "At most this many (1-1000; default 100)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--before", s.before, "The page after this id (from a previous list)");
}

void addId(CLI::App* cmd, ReviewCommandState& s, const char* what) {
  cmd->add_option("id", s.id, what)->required();
}

void addComment(CLI::App* cmd, ReviewCommandState& s) {
  cmd->add_option("--comment", s.comment, "Why (kept with the decision and in the audit trail)");
}

const std::vector<std::string> kReviewStates = {"pending",   "approved", "denied", "expired",
                                                "withdrawn", "consumed", "all"};
const std::vector<std::string> kAccessStates = {"pending", "approved", "denied",
                                                "expired", "revoked",  "all"};

}  // namespace

void addReviewCommands(CLI::App& app, ReviewCommandState& s) {
  s.review = app.add_subcommand("review", "List, show, approve and deny statement reviews");
  s.review->require_subcommand(1);

  s.list = s.review->add_subcommand("list", "Reviews (pending ones unless --state says otherwise)");
  addCommon(s.list, s);
  s.list
      ->add_option("--state", s.state,
                   "pending (default), approved, denied, expired, "
                   "withdrawn, consumed, or all")
      ->check(CLI::IsMember(kReviewStates));
  addListFilters(s.list, s);

  s.show = s.review->add_subcommand("show", "Everything about one review");
  addCommon(s.show, s);
  addId(s.show, s, "The review id (rv_...)");

  s.approve = s.review->add_subcommand("approve", "Approve a pending review");
  addCommon(s.approve, s);
  addId(s.approve, s, "The review id (rv_...)");
  addComment(s.approve, s);

  s.deny = s.review->add_subcommand("deny", "Deny a pending review");
  addCommon(s.deny, s);
  addId(s.deny, s, "The review id (rv_...)");
  addComment(s.deny, s);

  s.access = app.add_subcommand("access", "Request, list and decide just-in-time access grants");
  s.access->require_subcommand(1);

  s.access_request = s.access->add_subcommand("request", "Ask for elevated access for a while");
  addCommon(s.access_request, s);
  s.access_request->add_option("--connection", s.connection, "The connection (dbname)")->required();
  s.access_request->add_option("--level", s.level, "write, ddl or admin")
      ->required()
      ->check(CLI::IsMember({"write", "ddl", "admin"}));
  s.access_request->add_option("--for", s.duration, "How long, e.g. 30m, 1h, 8h")->required();
  s.access_request->add_option("--reason", s.reason, "Why, for the approvers")->required();

  s.access_list = s.access->add_subcommand("list", "Access requests and grants (every state)");
  addCommon(s.access_list, s);
  s.access_list->add_option("--state", s.state, "Only this state (pending, approved, ...)")
      ->check(CLI::IsMember(kAccessStates));
  addListFilters(s.access_list, s);

  struct Verb {
    CLI::App** slot;
    const char* name;
    const char* help;
  };
  for (const Verb& v : {Verb{&s.access_approve, "approve", "Approve a pending access request"},
                        Verb{&s.access_deny, "deny", "Deny a pending access request"},
                        Verb{&s.access_revoke, "revoke", "End an approved grant now"}}) {
    *v.slot = s.access->add_subcommand(v.name, v.help);
    addCommon(*v.slot, s);
    addId(*v.slot, s, "The access request id (ar_...)");
    addComment(*v.slot, s);
  }
}

bool reviewCommandParsed(const ReviewCommandState& s) {
  return (s.review && s.review->parsed()) || (s.access && s.access->parsed());
}

int runReviewCommand(const ReviewCommandState& s) {
  std::map<std::string, std::string> env;
  for (const char* name : {"PGWARDEN_API", "PGWARDEN_TOKEN"}) {
    if (const char* v = std::getenv(name)) env[name] = v;
  }
  return runReviewCommand(s, std::cout, std::cerr, env);
}

int runReviewCommand(const ReviewCommandState& s, std::ostream& out, std::ostream& err,
                     const std::map<std::string, std::string>& env) {
  auto target = findTarget(s, env, err);
  if (!target) return kUsage;
  if (s.review->parsed()) return runReview(s, *target, out, err);
  if (s.access->parsed()) return runAccess(s, *target, out, err);
  return kUsage;
}

}  // namespace pgw::app
