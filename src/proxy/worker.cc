#include "proxy/worker.h"

#include <unistd.h>

#include <future>
#include <vector>

#include "common/log.h"
#include "proxy/session.h"

namespace pgw::proxy {

Worker::Worker(CancelMap& cancel_map, IdentityService& identity, const LiveState& live,
               audit::AuditLog* audit_log, review::ReviewService* reviews, GatewayMetrics& metrics,
               std::atomic<int>& active_clients)
    : cancel_map_(cancel_map),
      identity_(identity),
      live_(live),
      audit_log_(audit_log),
      reviews_(reviews),
      metrics_(metrics),
      active_clients_(active_clients),
      guard_(io_.get_executor()) {}

Worker::~Worker() {
  stop();
}

void Worker::start() {
  thread_ = std::thread([this] { io_.run(); });
}

void Worker::stop() {
  mailbox_->close();
  guard_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void Worker::remove(ClientSession* s) {
  if (sessions_.erase(s) > 0) active_clients_.fetch_sub(1, std::memory_order_relaxed);
}

void Worker::adopt(tcp::socket::native_handle_type fd, tcp protocol, LiveState::Snapshot state,
                   uint64_t session_id) {
  asio::post(io_, [this, fd, protocol, state = std::move(state), session_id]() mutable {
    tcp::socket socket(io_);
    error_code ec;
    socket.assign(protocol, fd, ec);
    if (ec) {
      ::close(fd);
      active_clients_.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    auto session = std::make_shared<ClientSession>(*this, std::move(state.state), state.generation,
                                                   std::move(socket), session_id);
    if (shutting_down_) session->requestShutdown();
    // The session is a coroutine parameter so that the frame owns it.
    asio::co_spawn(
        io_,
        [](std::shared_ptr<ClientSession> s) -> awaitable<void> { co_await s->run(); }(session),
        [id = session_id](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            log::error("session {} aborted: {}", id, ex.what());
          }
        });
  });
}

void Worker::beginShutdown() {
  asio::post(io_, [this] {
    shutting_down_ = true;
    std::vector<ClientSession*> now(sessions_.begin(), sessions_.end());
    for (auto* s : now) s->requestShutdown();
  });
}

bool Worker::forEachSession(const std::function<void(ClientSession&)>& f,
                            std::chrono::milliseconds timeout) {
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  mailbox_->post([this, f, done] {
    for (ClientSession* s : sessions_) f(*s);
    done->set_value();
  });
  return future.wait_for(timeout) == std::future_status::ready;
}

void Worker::terminateAll() {
  asio::post(io_, [this] {
    std::vector<ClientSession*> now(sessions_.begin(), sessions_.end());
    for (auto* s : now) s->terminate();
  });
}

}  // namespace pgw::proxy
