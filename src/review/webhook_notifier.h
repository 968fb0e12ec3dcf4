#pragma once
/// Webhooks on new reviews and access requests (`notifications.webhooks`,
/// docs/approvals.md). reviewCreated()/accessRequested() build one delivery
/// per webhook and return at once; one background thread POSTs them.
///
/// Generic format — JSON:
///
///   {"event": "review.created" | "access.requested", "id": "rv_…",
///    "review" | "access_request": {…as the REST API shows it (json.h)…},
///    "approve_url": "<base>/api/reviews/<id>/approve", "sent_at": "<RFC 3339>"}
///
/// with headers `X-Pgwarden-Event` (the event), `X-Pgwarden-Delivery` (unique
/// per delivery, the same on its retries: receivers may de-duplicate on it),
/// `X-Pgwarden-Timestamp` (Unix seconds of this attempt) and, when the
/// webhook has a `secret`,
///
///   X-Pgwarden-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
///
/// Slack format — an incoming-webhook message `{"text": "…"}`: who asked,
/// the connection, the statement (at most 300 characters), the rule, the id
/// and the CLI line that approves it.
///
/// Retries: connection errors, timeouts, 429 and 5xx are retried with
/// exponential backoff (250 ms, 500 ms, 1 s, … capped at 60 s; a 429/503
/// `Retry-After` of up to 60 s is honoured) until the webhook's
/// `max_attempts`; other statuses are final. At most 1000 deliveries wait;
/// beyond that the oldest is dropped with an error in the log. Logs name the
/// webhook, never its URL (which may hold a token) or its secret.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "review/service.h"

namespace pgw::review {

class WebhookNotifier : public Notifier {
 public:
  struct Options {
    size_t max_queue = 1000;
    std::chrono::milliseconds first_backoff{250};
    std::chrono::milliseconds max_backoff{60000};
  };

  /// Starts the delivery thread. `public_base_url` is where approvers reach
  /// the REST API ("http://127.0.0.1:8080"), for the links in messages.
  WebhookNotifier(std::vector<config::WebhookConfig> webhooks, std::string public_base_url);
  WebhookNotifier(std::vector<config::WebhookConfig> webhooks, std::string public_base_url,
                  Options options);
  /// Calls stop().
  ~WebhookNotifier() override;
  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  void reviewCreated(const Review& review) override;
  void accessRequested(const AccessRequest& request) override;

  /// Lets the attempt in flight finish (bounded by its webhook's timeout),
  /// logs how many deliveries are abandoned, joins the thread. Idempotent.
  /// Later notifications are ignored.
  void stop();

  /// Blocks until no delivery waits or is in flight, or `timeout` passes;
  /// true if idle.
  bool waitIdle(std::chrono::milliseconds timeout);

  struct Stats {
    uint64_t attempts = 0;   ///< HTTP requests made
    uint64_t delivered = 0;  ///< deliveries answered 2xx
    uint64_t failed = 0;     ///< deliveries given up (final status or attempts exhausted)
    uint64_t dropped = 0;    ///< deliveries dropped because the queue was full, or at stop()
  };
  Stats stats();

 private:
  struct Delivery {
    size_t hook = 0;  ///< index into webhooks_
    std::string event;
    std::string record_id;  ///< the review or access request, for logs
    std::string delivery_id;
    std::string body;
    int attempt = 0;  ///< attempts made so far
    std::chrono::steady_clock::time_point due;
  };
  /// The outcome of one attempt: success, retry after `retry_after` (when
  /// non-zero, instead of the backoff), or give up.
  struct Attempt {
    enum class Outcome { Delivered, Retry, Failed } outcome = Outcome::Failed;
    std::chrono::milliseconds retry_after{0};
    std::string why;  ///< for the log: "HTTP 503", "no connection (Connection)"
  };

  void enqueue(const std::string& event, const std::string& id, const nlohmann::json& record,
               const std::string& record_key, const std::string& approve_path,
               const std::string& slack_text);
  /// Under mu_: queues `delivery` at its place in arrival order (`seq`),
  /// dropping the oldest beyond max_queue.
  void push(uint64_t seq, Delivery delivery);
  void run();
  Attempt attempt(const Delivery& delivery);

  std::vector<config::WebhookConfig> webhooks_;
  std::string base_url_;
  Options options_;

  std::mutex mu_;
  std::condition_variable cv_;          ///< wakes the delivery thread
  std::condition_variable idle_cv_;     ///< wakes waitIdle()
  std::map<uint64_t, Delivery> queue_;  ///< by sequence number: begin() is the oldest
  uint64_t next_seq_ = 0;
  bool in_flight_ = false;
  bool stopping_ = false;
  Stats stats_;
  std::thread thread_;
};

}  // namespace pgw::review
