#include "review/webhook_notifier.h"

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <atomic>

#include "common/bytes.h"
#include "common/log.h"
#include "review/json.h"

namespace pgw::review {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kReviewEvent = "review.created";
constexpr std::string_view kAccessEvent = "access.requested";
constexpr size_t kMaxSlackStatement = 300;

/// "sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>".
std::string signature(const std::string& secret, const std::string& timestamp,
                      const std::string& body) {
  const std::string message = timestamp + "." + body;
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(), &len);
  return "sha256=" + toHex(Bytes(reinterpret_cast<const std::byte*>(mac.data()), len));
}

/// "scheme://host[:port]" and "/path?query" of a webhook URL.
struct UrlParts {
  std::string origin;
  std::string path;
};

UrlParts splitUrl(const std::string& url) {
  const size_t scheme_end = url.find("://");
  const size_t host_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const size_t path_start = url.find_first_of("/?#", host_start);
  if (path_start == std::string::npos) return {url, "/"};
  std::string path = url.substr(path_start);
  if (const size_t hash = path.find('#'); hash != std::string::npos) path.resize(hash);
  if (path.empty() || path[0] != '/') path.insert(0, "/");
  return {url.substr(0, path_start), path};
}

/// Slack mrkdwn: &, < and > are control characters.
std::string slackEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// At most `max` bytes, cut before a UTF-8 continuation byte, "…" when cut.
std::string truncate(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "…";
}

/// "1h30m", "45m", "2d", "90s".
std::string humanDuration(int64_t seconds) {
  if (seconds <= 0) return "0s";
  std::string out;
  for (auto [unit, size] :
       {std::pair{"d", 86400}, std::pair{"h", 3600}, std::pair{"m", 60}, std::pair{"s", 1}}) {
    if (seconds >= size) {
      out += std::to_string(seconds / size) + unit;
      seconds %= size;
    }
  }
  return out;
}

std::string who(const Person& p) {
  if (p.display_name.empty() || p.display_name == p.id) return p.id;
  return fmt::format("{} ({})", p.display_name, p.id);
}

std::string_view levelName(config::AccessLevel level) {
  static constexpr std::array<std::string_view, 4> kLevels = {"read", "write", "ddl", "admin"};
  const auto i = static_cast<size_t>(level);
  return i < kLevels.size() ? kLevels[i] : std::string_view("unknown");
}

/// A chat channel is wider than the approvers: it gets the normalized
/// statement (literals as $n), never the values as sent.
std::string slackReviewText(const Review& r) {
  const std::string& statement = r.normalized.empty() ? r.statement : r.normalized;
  std::string text =
      fmt::format("*pgwarden: review {}* — {} wants to run on connection *{}*:\n```{}```\n", r.id,
                  slackEscape(who(r.subject)), slackEscape(r.connection),
                  slackEscape(truncate(statement, kMaxSlackStatement)));
  text += fmt::format("Rule `{}` of policy `{}`", slackEscape(r.rule), slackEscape(r.policy));
  if (!r.reason.empty()) text += ": " + slackEscape(r.reason);
  text += "\n";
  if (r.min_approvals > 1) text += fmt::format("Needs {} approvals. ", r.min_approvals);
  text += fmt::format("Approve: `pgwarden review approve {}` (or `pgwarden review deny {}`)", r.id,
                      r.id);
  if (r.expires_us != 0) text += fmt::format("; expires {}", rfc3339(r.expires_us));
  text += ".";
  return text;
}

std::string slackAccessText(const AccessRequest& a) {
  std::string text = fmt::format(
      "*pgwarden: access request {}* — {} asks for *{}* access to connection *{}* for {}", a.id,
      slackEscape(who(a.subject)), levelName(a.level), slackEscape(a.connection),
      humanDuration(a.duration_us / 1'000'000));
  if (!a.reason.empty()) {
    text += ": “" + slackEscape(truncate(a.reason, kMaxSlackStatement)) + "”";
  }
  text += "\n";
  if (a.min_approvals > 1) text += fmt::format("Needs {} approvals. ", a.min_approvals);
  text += fmt::format("Approve: `pgwarden access approve {}` (or `pgwarden access deny {}`).", a.id,
                      a.id);
  return text;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// Retry-After in seconds (RFC 9110 §10.2.3); the HTTP-date form is ignored.
std::chrono::milliseconds retryAfter(const httplib::Response& res, std::chrono::milliseconds cap) {
  const std::string value = res.get_header_value("Retry-After");
  if (value.empty() || value.size() > 9 ||
      value.find_first_not_of("0123456789") != std::string::npos) {
    return std::chrono::milliseconds(0);
  }
  return std::min(cap, std::chrono::milliseconds(std::stoll(value) * 1000));
}

}  // namespace

WebhookNotifier::WebhookNotifier(std::vector<config::WebhookConfig> webhooks,
                                 std::string public_base_url)
    : WebhookNotifier(std::move(webhooks), std::move(public_base_url), Options{}) {}

WebhookNotifier::WebhookNotifier(std::vector<config::WebhookConfig> webhooks,
                                 std::string public_base_url, Options options)
    : webhooks_(std::move(webhooks)), base_url_(std::move(public_base_url)), options_(options) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  if (options_.max_queue == 0) options_.max_queue = 1;
  thread_ = std::thread([this] { run(); });
}

WebhookNotifier::~WebhookNotifier() {
  stop();
}

void WebhookNotifier::reviewCreated(const Review& review) {
  if (webhooks_.empty()) return;
  enqueue(std::string(kReviewEvent), review.id, toJson(review), "review",
          "/api/reviews/" + review.id + "/approve", slackReviewText(review));
}

void WebhookNotifier::accessRequested(const AccessRequest& request) {
  if (webhooks_.empty()) return;
  enqueue(std::string(kAccessEvent), request.id, toJson(request), "access_request",
          "/api/access-requests/" + request.id + "/approve", slackAccessText(request));
}

void WebhookNotifier::enqueue(const std::string& event, const std::string& id, const json& record,
                              const std::string& record_key, const std::string& approve_path,
                              const std::string& slack_text) {
  const json generic = {{"event", event},
                        {"id", id},
                        {record_key, record},
                        {"approve_url", base_url_ + approve_path},
                        {"sent_at", rfc3339(nowUs())}};
  const std::string generic_body = dump(generic);
  const std::string slack_body = dump(json{{"text", slack_text}});
  std::lock_guard lock(mu_);
  if (stopping_) return;
  for (size_t i = 0; i < webhooks_.size(); ++i) {
    Delivery d;
    d.hook = i;
    d.event = event;
    d.record_id = id;
    d.delivery_id = randomId("whd_", 12);
    d.body =
        webhooks_[i].format == config::WebhookConfig::Format::Slack ? slack_body : generic_body;
    d.due = Clock::now();
    push(next_seq_++, std::move(d));
  }
  cv_.notify_one();
}

void WebhookNotifier::push(uint64_t seq, Delivery delivery) {
  queue_.emplace(seq, std::move(delivery));
  while (queue_.size() > options_.max_queue) {
    const Delivery& oldest = queue_.begin()->second;
    log::error("webhook '{}': more than {} deliveries waiting; dropped {} {} (delivery {})",
               webhooks_[oldest.hook].name, options_.max_queue, oldest.event, oldest.record_id,
               oldest.delivery_id);
    ++stats_.dropped;
    queue_.erase(queue_.begin());
  }
}

void WebhookNotifier::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool WebhookNotifier::waitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !in_flight_; });
}

WebhookNotifier::Stats WebhookNotifier::stats() {
  std::lock_guard lock(mu_);
  return stats_;
}

void WebhookNotifier::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      idle_cv_.notify_all();
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      continue;
    }
    auto next = std::min_element(queue_.begin(), queue_.end(), [](const auto& a, const auto& b) {
      return a.second.due < b.second.due;
    });
    if (next->second.due > Clock::now()) {
      cv_.wait_until(lock, next->second.due);
      continue;
    }
    const uint64_t seq = next->first;
    Delivery d = std::move(next->second);
    queue_.erase(next);
    in_flight_ = true;
    lock.unlock();

    const Attempt result = attempt(d);
    ++d.attempt;

    lock.lock();
    in_flight_ = false;
    ++stats_.attempts;
    const config::WebhookConfig& hook = webhooks_[d.hook];
    switch (result.outcome) {
      case Attempt::Outcome::Delivered:
        ++stats_.delivered;
        log::debug("webhook '{}': delivered {} {} ({})", hook.name, d.event, d.record_id,
                   result.why);
        break;
      case Attempt::Outcome::Failed:
        ++stats_.failed;
        log::error(
            "webhook '{}': {} {} refused: {}; not retried (check the webhook's url, "
            "secret and format)",
            hook.name, d.event, d.record_id, result.why);
        break;
      case Attempt::Outcome::Retry: {
        if (d.attempt >= std::max(1, hook.max_attempts)) {
          ++stats_.failed;
          log::error("webhook '{}': gave up on {} {} after {} attempts, the last: {} (delivery {})",
                     hook.name, d.event, d.record_id, d.attempt, result.why, d.delivery_id);
          break;
        }
        auto wait = options_.first_backoff * (int64_t{1} << std::min(d.attempt - 1, 20));
        wait = std::min(wait, options_.max_backoff);
        if (result.retry_after.count() > 0) wait = result.retry_after;
        log::warn("webhook '{}': {} {} attempt {}/{} failed: {}; retrying in {} ms", hook.name,
                  d.event, d.record_id, d.attempt, hook.max_attempts, result.why, wait.count());
        d.due = Clock::now() + wait;
        // Back at its place in arrival order, so "drop the oldest" still holds.
        push(seq, std::move(d));
        break;
      }
    }
    if (queue_.empty()) idle_cv_.notify_all();
  }
  if (!queue_.empty()) {
    log::error("webhooks: {} deliveries not sent before shutdown", queue_.size());
    stats_.dropped += queue_.size();
    queue_.clear();
  }
  idle_cv_.notify_all();
}

WebhookNotifier::Attempt WebhookNotifier::attempt(const Delivery& d) {
  const config::WebhookConfig& hook = webhooks_[d.hook];
  const UrlParts url = splitUrl(hook.url);
  httplib::Client client(url.origin);
  if (!client.is_valid()) {
    return {Attempt::Outcome::Failed, {}, "the url is not a valid http:// or https:// URL"};
  }
  client.enable_server_certificate_verification(true);
  client.set_follow_location(false);
  client.set_keep_alive(false);
  const auto timeout = std::max(hook.timeout, std::chrono::milliseconds(100));
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);

  const std::string timestamp =
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count());
  httplib::Headers headers = {
      {"User-Agent", "pgwarden-webhook"},
      {"X-Pgwarden-Event", d.event},
      {"X-Pgwarden-Delivery", d.delivery_id},
      {"X-Pgwarden-Timestamp", timestamp},
  };
  if (hook.format == config::WebhookConfig::Format::Generic && !hook.secret.empty()) {
    headers.emplace("X-Pgwarden-Signature", signature(hook.secret.reveal(), timestamp, d.body));
  }
  auto res = client.Post(url.path, headers, d.body, "application/json");
  if (!res) {
    return {
        Attempt::Outcome::Retry, {}, "request failed (" + httplib::to_string(res.error()) + ")"};
  }
  const int status = res->status;
  std::string why = "HTTP " + std::to_string(status);
  if (status >= 200 && status < 300) return {Attempt::Outcome::Delivered, {}, std::move(why)};
  if (status == 429 || status >= 500) {
    return {Attempt::Outcome::Retry, retryAfter(*res, options_.max_backoff), std::move(why)};
  }
  return {Attempt::Outcome::Failed, {}, std::move(why)};
}

}  // namespace pgw::review
