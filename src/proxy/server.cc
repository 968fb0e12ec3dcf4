#include "proxy/server.h"

#include <chrono>
#include <thread>

#include "common/log.h"
#include "protocol/sqlstate.h"

namespace pgw::proxy {

Server::Server(std::shared_ptr<const GatewayState> state)
    : state_(std::move(state)), identity_(std::make_unique<IdentityService>(*state_->config)) {
  int n = state_->config->workers;
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(cancel_map_, *identity_, active_clients_));
  }
}

Server::~Server() {
  for (auto& w : workers_) w->stop();
}

Status Server::listen() {
  const auto& hp = state_->config->listen_postgres;
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
  if (!state_->policies) {
    log::warn(
        "no policies configured: every authenticated caller gets unrestricted access to "
        "every connection; add `policies:` to enforce access levels and guardrails");
  }
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  asio::co_spawn(io_, acceptLoop(), asio::detached);
  asio::co_spawn(io_, waitForSignals(), asio::detached);
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
    w.adopt(socket.release(), protocol, state_, next_session_id_++);
  }
}

awaitable<void> Server::waitForSignals() {
  auto [ec, signo] = co_await signals_.async_wait(nothrow);
  if (ec) co_return;
  log::info(
      "received signal {}: no new connections; ending sessions at their next idle point "
      "(grace {} ms)",
      signo, state_->config->timeouts.shutdown_grace.count());
  beginShutdown();

  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + state_->config->timeouts.shutdown_grace;
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
  io_.stop();
}

void Server::beginShutdown() {
  stopping_ = true;
  error_code ec;
  acceptor_.close(ec);
  for (auto& w : workers_) w->beginShutdown();
}

}  // namespace pgw::proxy
