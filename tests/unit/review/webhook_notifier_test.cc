// WebhookNotifier against a local HTTP receiver: payloads, signatures,
// retries, the bounded queue, and what reaches the log.

// Debian's libcpp-httplib is compiled with these (pkg-config cpp-httplib
// Cflags); every translation unit that includes the header must agree, as the
// class layouts depend on them.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif

#include "review/webhook_notifier.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

namespace pgw::review {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

struct Received {
  std::string path;
  std::string query_token;
  httplib::Headers headers;
  std::string body;
  std::chrono::steady_clock::time_point at;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// An HTTP server on 127.0.0.1:<any port> that answers POSTs with the
/// scripted statuses in turn (then 200) and records every request.
class Receiver {
 public:
  explicit Receiver(std::deque<int> statuses = {}) : statuses_(std::move(statuses)) {
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      int status = 200;
      {
        std::unique_lock lock(mu_);
        requests_.push_back({req.path, req.get_param_value("token"), req.headers, req.body,
                             std::chrono::steady_clock::now()});
        if (!statuses_.empty()) {
          status = statuses_.front();
          statuses_.pop_front();
        }
        cv_.notify_all();
        cv_.wait(lock, [this] { return !hold_; });
      }
      res.status = status;
      res.set_content(status < 300 ? "ok" : "no", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    EXPECT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Receiver() {
    release();
    server_.stop();
    thread_.join();
  }

  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  /// Blocks until `n` requests arrived (or 10 s pass); a copy of them.
  std::vector<Received> waitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 10s, [&] { return requests_.size() >= n; });
    return requests_;
  }
  std::vector<Received> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  /// Requests are held (not answered) until release().
  void hold() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  void release() {
    std::lock_guard lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> statuses_;
  std::vector<Received> requests_;
  bool hold_ = false;
};

config::WebhookConfig hook(
    std::string url, std::string secret = "",
    config::WebhookConfig::Format format = config::WebhookConfig::Format::Generic) {
  config::WebhookConfig h;
  h.name = "ops";
  h.url = std::move(url);
  h.secret = config::Secret(std::move(secret));
  h.format = format;
  h.max_attempts = 5;
  h.timeout = 2000ms;
  return h;
}

WebhookNotifier::Options fast() {
  WebhookNotifier::Options o;
  o.first_backoff = 50ms;
  return o;
}

Review review(std::string id = "rv_00000000000000000001") {
  Review r;
  r.id = std::move(id);
  r.subject = Person{"alice", "Alice", {"ai-agents"}, "https://idp", "oidc"};
  r.connection = "prod";
  r.policy = "agents";
  r.rule = "review[0]";
  r.reason = "DELETE needs an approval";
  r.statement = "DELETE FROM users WHERE id = 1";
  r.normalized = "DELETE FROM users WHERE id = $1";
  r.kind = "delete";
  r.tables = {"public.users"};
  r.min_approvals = 1;
  r.created_us = nowUs();
  r.expires_us = r.created_us + 300'000'000;
  return r;
}

AccessRequest accessRequest() {
  AccessRequest a;
  a.id = "ar_00000000000000000001";
  a.subject = Person{"alice", "Alice", {"ai-agents"}, "https://idp", "oidc"};
  a.connection = "prod";
  a.level = config::AccessLevel::Write;
  a.duration_us = 5400'000'000LL;
  a.reason = "fix <orders> & refunds";
  a.created_us = nowUs();
  return a;
}

std::string hmacHex(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    out += buf;
  }
  return out;
}

/// A port with nothing listening on it.
int closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// Captures everything logged while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() {
    spdlog::default_logger()->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(WebhookNotifier, GenericPayloadIsSignedAndVerifies) {
  Receiver rx;
  const std::string secret = "whsec-test-1";
  WebhookNotifier n({hook(rx.url(), secret)}, "http://gw.example:8080/", fast());
  n.reviewCreated(review());
  auto got = rx.waitFor(1);
  ASSERT_EQ(got.size(), 1u);
  const Received& r = got[0];
  EXPECT_EQ(r.path, "/hook");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("X-Pgwarden-Event"), "review.created");
  EXPECT_EQ(r.header("X-Pgwarden-Delivery").rfind("whd_", 0), 0u);
  const std::string ts = r.header("X-Pgwarden-Timestamp");
  ASSERT_FALSE(ts.empty());
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LE(std::abs(now - std::stoll(ts)), 5);
  // The receiver's check: HMAC-SHA256(secret, timestamp + "." + raw body).
  EXPECT_EQ(r.header("X-Pgwarden-Signature"), "sha256=" + hmacHex(secret, ts + "." + r.body));
  EXPECT_NE(r.header("X-Pgwarden-Signature"), "sha256=" + hmacHex("other", ts + "." + r.body));

  const json body = json::parse(r.body);
  EXPECT_EQ(body["event"], "review.created");
  EXPECT_EQ(body["id"], "rv_00000000000000000001");
  EXPECT_EQ(body["review"]["id"], "rv_00000000000000000001");
  EXPECT_EQ(body["review"]["statement"], "DELETE FROM users WHERE id = 1");
  EXPECT_EQ(body["review"]["subject"]["id"], "alice");
  EXPECT_EQ(body["approve_url"],
            "http://gw.example:8080/api/reviews/rv_00000000000000000001/approve");
  EXPECT_TRUE(body["sent_at"].is_string());
  EXPECT_EQ(body["sent_at"].get<std::string>().back(), 'Z');

  ASSERT_TRUE(n.waitIdle(5s));
  EXPECT_EQ(n.stats().delivered, 1u);
  EXPECT_EQ(n.stats().attempts, 1u);
}

TEST(WebhookNotifier, UnsignedWithoutSecretAndAccessRequestPayload) {
  Receiver rx;
  WebhookNotifier n({hook(rx.url())}, "http://127.0.0.1:8080", fast());
  n.accessRequested(accessRequest());
  auto got = rx.waitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].header("X-Pgwarden-Signature"), "");
  EXPECT_EQ(got[0].header("X-Pgwarden-Event"), "access.requested");
  const json body = json::parse(got[0].body);
  EXPECT_EQ(body["event"], "access.requested");
  EXPECT_EQ(body["id"], "ar_00000000000000000001");
  EXPECT_EQ(body["access_request"]["level"], "write");
  EXPECT_EQ(body["access_request"]["duration_seconds"], 5400);
  EXPECT_FALSE(body.contains("review"));
  EXPECT_EQ(body["approve_url"],
            "http://127.0.0.1:8080/api/access-requests/ar_00000000000000000001/approve");
}

TEST(WebhookNotifier, RetriesAfter500ThenSucceeds) {
  Receiver rx({500});
  const std::string secret = "s";
  WebhookNotifier n({hook(rx.url(), secret)}, "http://127.0.0.1:8080", fast());
  n.reviewCreated(review());
  auto got = rx.waitFor(2);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(n.waitIdle(5s));
  // The same delivery, re-signed; not before the first backoff.
  EXPECT_EQ(got[0].header("X-Pgwarden-Delivery"), got[1].header("X-Pgwarden-Delivery"));
  EXPECT_EQ(got[0].body, got[1].body);
  EXPECT_EQ(got[1].header("X-Pgwarden-Signature"),
            "sha256=" + hmacHex(secret, got[1].header("X-Pgwarden-Timestamp") + "." + got[1].body));
  EXPECT_GE(got[1].at - got[0].at, 50ms);
  const auto s = n.stats();
  EXPECT_EQ(s.attempts, 2u);
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(rx.requests().size(), 2u);
}

TEST(WebhookNotifier, BackoffDoublesAnd429IsRetried) {
  Receiver rx({429, 503, 502});
  WebhookNotifier n({hook(rx.url())}, "http://127.0.0.1:8080", fast());
  n.reviewCreated(review());
  auto got = rx.waitFor(4);
  ASSERT_EQ(got.size(), 4u);
  ASSERT_TRUE(n.waitIdle(5s));
  EXPECT_GE(got[1].at - got[0].at, 50ms);
  EXPECT_GE(got[2].at - got[1].at, 100ms);
  EXPECT_GE(got[3].at - got[2].at, 200ms);
  EXPECT_EQ(n.stats().delivered, 1u);
}

TEST(WebhookNotifier, NoRetryAfter400) {
  Receiver rx({400, 400});
  WebhookNotifier n({hook(rx.url())}, "http://127.0.0.1:8080", fast());
  n.reviewCreated(review());
  ASSERT_EQ(rx.waitFor(1).size(), 1u);
  // Idle means no retry is scheduled either (a retry waits in the queue).
  ASSERT_TRUE(n.waitIdle(5s));
  EXPECT_EQ(rx.requests().size(), 1u);
  const auto s = n.stats();
  EXPECT_EQ(s.attempts, 1u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.delivered, 0u);
}

TEST(WebhookNotifier, GivesUpAfterMaxAttempts) {
  Receiver rx({503, 503, 503, 503, 503});
  auto h = hook(rx.url());
  h.max_attempts = 3;
  WebhookNotifier n({h}, "http://127.0.0.1:8080", fast());
  n.reviewCreated(review());
  ASSERT_EQ(rx.waitFor(3).size(), 3u);
  ASSERT_TRUE(n.waitIdle(5s));
  EXPECT_EQ(rx.requests().size(), 3u);
  EXPECT_EQ(n.stats().failed, 1u);
  EXPECT_EQ(n.stats().attempts, 3u);
}

TEST(WebhookNotifier, ConnectionErrorsAreRetried) {
  auto h = hook("http://127.0.0.1:" + std::to_string(closedPort()) + "/hook");
  h.max_attempts = 2;
  WebhookNotifier n({h}, "http://127.0.0.1:8080", fast());
  n.reviewCreated(review());
  ASSERT_TRUE(n.waitIdle(10s));
  EXPECT_EQ(n.stats().attempts, 2u);
  EXPECT_EQ(n.stats().failed, 1u);
}

TEST(WebhookNotifier, SlackFormat) {
  Receiver rx;
  WebhookNotifier n({hook(rx.url("/services/T0/B0/xyz"), "", config::WebhookConfig::Format::Slack)},
                    "http://127.0.0.1:8080", fast());
  Review r = review("rv_0000000000000000000a");
  r.statement = "UPDATE t SET v = 'secret-value' WHERE a < 1";
  r.normalized = "UPDATE t SET v = $1 WHERE a < $2; -- <b> " + std::string(1000, 'y');
  n.reviewCreated(r);
  n.accessRequested(accessRequest());
  auto got = rx.waitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].path, "/services/T0/B0/xyz");
  EXPECT_EQ(got[0].header("Content-Type"), "application/json");
  const json msg = json::parse(got[0].body);
  ASSERT_TRUE(msg["text"].is_string());
  const std::string text = msg["text"];
  EXPECT_NE(text.find("rv_0000000000000000000a"), std::string::npos);
  EXPECT_NE(text.find("Alice (alice)"), std::string::npos);
  EXPECT_NE(text.find("prod"), std::string::npos);
  EXPECT_NE(text.find("review[0]"), std::string::npos);
  EXPECT_NE(text.find("pgwarden review approve rv_0000000000000000000a"), std::string::npos);
  // The normalized statement only: a channel does not see the values. Slack's
  // control characters are escaped; the statement is cut at 300.
  EXPECT_EQ(text.find("secret-value"), std::string::npos);
  EXPECT_NE(text.find("UPDATE t SET v = $1 WHERE a &lt; $2; -- &lt;b&gt; "), std::string::npos);
  EXPECT_EQ(text.find(std::string(300, 'y')), std::string::npos);
  EXPECT_NE(text.find("…"), std::string::npos);
  EXPECT_LT(text.size(), 800u);

  const std::string access = json::parse(got[1].body)["text"];
  EXPECT_NE(access.find("ar_00000000000000000001"), std::string::npos);
  EXPECT_NE(access.find("*write*"), std::string::npos);
  EXPECT_NE(access.find("1h30m"), std::string::npos);
  EXPECT_NE(access.find("fix &lt;orders&gt; &amp; refunds"), std::string::npos);
  EXPECT_NE(access.find("pgwarden access approve ar_00000000000000000001"), std::string::npos);
}

TEST(WebhookNotifier, OneDeliveryPerWebhook) {
  Receiver a;
  Receiver b;
  auto ha = hook(a.url());
  auto hb = hook(b.url(), "", config::WebhookConfig::Format::Slack);
  hb.name = "slack";
  WebhookNotifier n({ha, hb}, "http://127.0.0.1:8080", fast());
  n.reviewCreated(review());
  ASSERT_EQ(a.waitFor(1).size(), 1u);
  ASSERT_EQ(b.waitFor(1).size(), 1u);
  EXPECT_TRUE(json::parse(a.requests()[0].body).contains("review"));
  EXPECT_TRUE(json::parse(b.requests()[0].body).contains("text"));
  EXPECT_NE(a.requests()[0].header("X-Pgwarden-Delivery"),
            b.requests()[0].header("X-Pgwarden-Delivery"));
}

TEST(WebhookNotifier, FullQueueDropsTheOldest) {
  Receiver rx;
  rx.hold();
  auto options = fast();
  options.max_queue = 2;
  WebhookNotifier n({hook(rx.url())}, "http://127.0.0.1:8080", options);
  n.reviewCreated(review("rv_00000000000000000001"));
  ASSERT_EQ(rx.waitFor(1).size(), 1u);                 // in flight, held by the receiver
  n.reviewCreated(review("rv_00000000000000000002"));  // dropped: the oldest waiting
  n.reviewCreated(review("rv_00000000000000000003"));
  n.reviewCreated(review("rv_00000000000000000004"));
  EXPECT_EQ(n.stats().dropped, 1u);
  rx.release();
  ASSERT_TRUE(n.waitIdle(5s));
  std::vector<std::string> ids;
  for (const auto& r : rx.requests()) ids.push_back(json::parse(r.body)["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"rv_00000000000000000001", "rv_00000000000000000003",
                                           "rv_00000000000000000004"}));
}

TEST(WebhookNotifier, LogsNameTheWebhookNeverItsUrlOrSecret) {
  LogCapture logs;
  {
    Receiver rx({500, 404});
    auto h = hook(rx.url("/hook?token=QUERYSECRET42"), "SIGNINGSECRET42");
    h.name = "pager";
    WebhookNotifier n({h}, "http://127.0.0.1:8080", fast());
    n.reviewCreated(review());
    auto got = rx.waitFor(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].query_token, "QUERYSECRET42");  // the query reaches the receiver
    ASSERT_TRUE(n.waitIdle(5s));
    EXPECT_EQ(n.stats().failed, 1u);
  }
  const std::string text = logs.text();
  EXPECT_NE(text.find("webhook 'pager'"), std::string::npos) << text;
  EXPECT_NE(text.find("HTTP 500"), std::string::npos) << text;
  EXPECT_NE(text.find("HTTP 404"), std::string::npos) << text;
  EXPECT_EQ(text.find("QUERYSECRET42"), std::string::npos) << text;
  EXPECT_EQ(text.find("SIGNINGSECRET42"), std::string::npos) << text;
  EXPECT_EQ(text.find("127.0.0.1:"), std::string::npos) << text;
}

TEST(WebhookNotifier, StopReturnsPromptlyAndCountsWhatWasNotSent) {
  auto h = hook("http://127.0.0.1:" + std::to_string(closedPort()) + "/hook");
  h.max_attempts = 10;
  auto options = fast();
  options.first_backoff = 30s;
  auto n = std::make_unique<WebhookNotifier>(std::vector{h}, "http://127.0.0.1:8080", options);
  n->reviewCreated(review());
  // The first attempt fails at once (connection refused); the retry waits 30 s.
  for (int i = 0; i < 200 && n->stats().attempts == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(n->stats().attempts, 1u);
  const auto start = std::chrono::steady_clock::now();
  n->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(n->stats().dropped, 1u);
  n->reviewCreated(review());  // after stop: ignored
  EXPECT_TRUE(n->waitIdle(0ms));
}

TEST(WebhookNotifier, NoWebhooksNothingToDo) {
  WebhookNotifier n({}, "http://127.0.0.1:8080");
  n.reviewCreated(review());
  n.accessRequested(accessRequest());
  EXPECT_TRUE(n.waitIdle(1s));
  EXPECT_EQ(n.stats().attempts, 0u);
}

}  // namespace
}  // namespace pgw::review
