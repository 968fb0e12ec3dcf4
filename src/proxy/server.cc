#include "proxy/server.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <thread>

#include "common/log.h"
#include "protocol/sqlstate.h"

namespace pgw::proxy {

Server::Server(std::shared_ptr<const GatewayState> state, std::string config_path,
               audit::AuditLog* audit_log, review::ReviewService* reviews)
    : live_(state),
      startup_config_(state->config),
      config_path_(std::move(config_path)),
      audit_log_(audit_log),
      reviews_(reviews),
      identity_(std::make_unique<IdentityService>(*state->config)),
      next_session_id_(static_cast<uint64_t>(std::time(nullptr)) << 24 | 1) {
  int n = startup_config_->workers;
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(cancel_map_, *identity_, live_, audit_log_,
                                                reviews_, metrics_, active_clients_));
  }
  if (!config_path_.empty()) {
    if (auto text = config::readConfigText(config_path_)) loaded_text_ = std::move(*text);
  }
}

Server::~Server() {
  for (auto& w : workers_) w->stop();
}

Status Server::listen() {
  const auto& hp = startup_config_->listen_postgres;
  error_code ec;
  auto address = asio::ip::make_address(hp.host, ec);
  if (ec) {
    // A host name: resolve it once at startup.
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
    if (ec || results.empty()) {
      return fail("", "listen.postgres: cannot resolve \"" + hp.host + "\": " + ec.message());
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(address, hp.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail("", "listen.postgres: cannot listen on " + hp.host + ":" + std::to_string(hp.port) +
                        ": " + ec.message());
  }
  return {};
}

tcp::endpoint Server::endpoint() const {
  error_code ec;
  return acceptor_.local_endpoint(ec);
}

int Server::run() {
  for (auto& w : workers_) w->start();
  identity_->prefetch();
  if (!live_.current()->policies) {
    log::warn(
        "no policies configured: every authenticated caller gets unrestricted access to "
        "every connection; add `policies:` to enforce access levels and guardrails");
  }
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  asio::co_spawn(io_, acceptLoop(), asio::detached);
  asio::co_spawn(io_, waitForSignals(), asio::detached);
  if (!config_path_.empty()) {
    reload_signals_.add(SIGHUP);
    asio::co_spawn(io_, waitForReloadSignals(), asio::detached);
    asio::co_spawn(io_, watchConfigFile(), asio::detached);
  }
  log::info("pgwarden listening on {}:{} with {} workers", endpoint().address().to_string(),
            endpoint().port(), workers_.size());
  io_.run();
  for (auto& w : workers_) w->stop();
  log::info("pgwarden stopped");
  return 0;
}

awaitable<void> Server::acceptLoop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
    if (stopping_) co_return;
    if (ec) {
      log::warn("accept failed: {}", ec.message());
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
        // Out of file descriptors: back off instead of spinning.
        asio::steady_timer t(io_, std::chrono::milliseconds(100));
        co_await t.async_wait(nothrow);
      }
      continue;
    }
    tcp protocol = socket.local_endpoint(ec).protocol();
    if (ec) continue;
    active_clients_.fetch_add(1, std::memory_order_relaxed);
    Worker& w = *workers_[next_worker_++ % workers_.size()];
    w.adopt(socket.release(), protocol, live_.snapshot(), next_session_id_++);
  }
}

awaitable<void> Server::waitForSignals() {
  auto [ec, signo] = co_await signals_.async_wait(nothrow);
  if (ec) co_return;
  log::info(
      "received signal {}: no new connections; ending sessions at their next idle point "
      "(grace {} ms)",
      signo, live_.current()->config->timeouts.shutdown_grace.count());
  beginShutdown();

  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + live_.current()->config->timeouts.shutdown_grace;
  bool forced = false;
  asio::steady_timer tick(io_);
  // A second signal ends everything at once.
  signals_.async_wait([this, &forced](error_code e, int) {
    if (!e && !forced) {
      forced = true;
      for (auto& w : workers_) w->terminateAll();
    }
  });
  while (active_clients_.load() > 0) {
    if (!forced && Clock::now() >= deadline) {
      forced = true;
      log::warn("shutdown grace period over: ending {} remaining sessions", active_clients_.load());
      for (auto& w : workers_) w->terminateAll();
      deadline = Clock::now() + std::chrono::seconds(10);
    } else if (forced && Clock::now() >= deadline) {
      log::warn("{} sessions did not end; exiting anyway", active_clients_.load());
      break;
    }
    tick.expires_after(std::chrono::milliseconds(20));
    co_await tick.async_wait(nothrow);
  }
  signals_.cancel();
  reload_signals_.cancel();
  io_.stop();
}

awaitable<void> Server::waitForReloadSignals() {
  for (;;) {
    auto [ec, signo] = co_await reload_signals_.async_wait(nothrow);
    if (ec || stopping_) co_return;
    guardedReload("SIGHUP");
  }
}

awaitable<void> Server::watchConfigFile() {
  asio::steady_timer tick(io_);
  for (;;) {
    tick.expires_after(std::chrono::seconds(1));
    if (auto [ec] = co_await tick.async_wait(nothrow); ec || stopping_) co_return;
    // Compare contents, not timestamps: editors that save by rename, a
    // `touch`, or a change reverted before the next look all come out right.
    auto text = config::readConfigText(config_path_);
    if (!text) continue;
    {
      std::lock_guard lock(reload_mu_);  // reloads over the API write loaded_text_
      if (*text == loaded_text_) continue;
    }
    guardedReload("config file changed");
  }
}

void Server::auditReload(std::string_view trigger, std::string outcome) {
  if (audit_log_ == nullptr) return;
  audit::AuditEvent ev;
  ev.type = audit::EventType::ConfigReload;
  ev.time = audit::nowUs();
  ev.reason = std::string(trigger);
  ev.detail = std::move(outcome);
  audit_log_->submitUnreserved(std::move(ev));
}

void Server::guardedReload(std::string_view trigger) {
  // A reload must never take its trigger down with it: an exception here
  // would end the detached coroutine and with it every later reload.
  try {
    (void)reload(trigger);
  } catch (const std::exception& e) {
    log::error("config reload ({}) failed; generation {} keeps serving: {}", trigger,
               live_.generation(), e.what());
  }
}

Status Server::reload(std::string_view trigger) {
  std::lock_guard lock(reload_mu_);
  auto text = config::readConfigText(config_path_);
  if (!text) {
    log::error("config reload ({}) rejected; generation {} keeps serving: {}", trigger,
               live_.generation(), text.error().message);
    return text.takeError();
  }
  // Whatever the outcome, this text has been looked at: a rejected file is
  // reported once, not every second.
  loaded_text_ = *text;
  auto config = config::parseConfigFile(*text, config_path_);
  Result<std::shared_ptr<const GatewayState>> state =
      !config    ? Result<std::shared_ptr<const GatewayState>>(config.takeError())
      : builder_ ? builder_(*config)
                 : buildGatewayState(*config);
  if (!state) {
    log::error("config reload ({}) rejected; generation {} keeps serving: {}", trigger,
               live_.generation(), state.error().message);
    auditReload(trigger, "rejected: " + state.error().message);
    return state.takeError();
  }
  const config::Config& next = *(*state)->config;
  const config::Config& running = *startup_config_;
  auto restartOnly = [&](bool changed, std::string_view key) {
    if (changed) log::warn("config reload: {} changed; it takes effect at the next restart", key);
  };
  restartOnly(next.listen_postgres.host != running.listen_postgres.host ||
                  next.listen_postgres.port != running.listen_postgres.port,
              "listen.postgres");
  restartOnly(next.listen_http.host != running.listen_http.host ||
                  next.listen_http.port != running.listen_http.port,
              "listen.http");
  restartOnly(next.workers != running.workers, "workers");
  restartOnly(next.identity.dev_issuer.has_value() != running.identity.dev_issuer.has_value(),
              "identity.dev_issuer");
  restartOnly(
      next.state.path != running.state.path || next.state.retention != running.state.retention,
      "state");
  const auto sameHook = [](const config::WebhookConfig& a, const config::WebhookConfig& b) {
    return a.name == b.name && a.url == b.url && a.format == b.format &&
           a.secret.reveal() == b.secret.reveal() && a.max_attempts == b.max_attempts &&
           a.timeout == b.timeout;
  };
  restartOnly(!std::equal(next.webhooks.begin(), next.webhooks.end(), running.webhooks.begin(),
                          running.webhooks.end(), sameHook),
              "notifications");
  identity_->reconfigure(next);
  log::setLevel(log::parseLevel(next.log_level, log::Level::Info));
  const uint64_t generation = live_.replace(*state);
  log::info("config reloaded ({}): generation {} with {} policies and {} connections", trigger,
            generation, next.policies.size(), next.connections.size());
  auditReload(trigger, "installed generation " + std::to_string(generation));
  if (audit_log_ != nullptr && next.audit.sinks.size() != running.audit.sinks.size()) {
    log::warn("config reload: audit changed; it takes effect at the next restart");
  }
  return {};
}

void Server::beginShutdown() {
  stopping_ = true;
  error_code ec;
  acceptor_.close(ec);
  for (auto& w : workers_) w->beginShutdown();
}

}  // namespace pgw::proxy
