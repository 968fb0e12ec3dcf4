// Server: what the HTTP control plane asks of the running gateway — its
// sessions, ending one, reloading the config now, and installing a state
// built outside a reload (connections registered over the API).

#include <memory>

#include "common/log.h"
#include "proxy/server.h"

namespace pgw::proxy {
namespace {

constexpr auto kWorkerAnswer = std::chrono::seconds(2);

}  // namespace

std::vector<SessionSummary> Server::sessions() {
  // Filled on the workers' threads; shared so that a late answer after a
  // timeout writes into memory that still exists.
  struct Gathered {
    std::mutex mu;
    std::vector<SessionSummary> sessions;
  };
  auto gathered = std::make_shared<Gathered>();
  for (auto& w : workers_) {
    w->forEachSession(
        [gathered](ClientSession& s) {
          if (s.ending()) return;
          std::lock_guard lock(gathered->mu);
          gathered->sessions.push_back(s.summary());
        },
        kWorkerAnswer);
  }
  std::lock_guard lock(gathered->mu);
  return gathered->sessions;
}

bool Server::terminateSession(uint64_t id, const std::string& why) {
  auto found = std::make_shared<std::atomic<bool>>(false);
  for (auto& w : workers_) {
    w->forEachSession(
        [found, id, why](ClientSession& s) {
          // One already ending is gone: a second terminate answers 404.
          if (s.id() != id || s.ending()) return;
          s.terminateWith(why);
          found->store(true);
        },
        kWorkerAnswer);
    if (found->load()) break;
  }
  return found->load();
}

Status Server::reloadNow(std::string_view trigger) {
  if (config_path_.empty()) return fail("409", "the gateway was started without a config file");
  try {
    return reload(trigger);
  } catch (const std::exception& e) {
    return fail("500", std::string("config reload failed: ") + e.what());
  }
}

void Server::install(std::shared_ptr<const GatewayState> state, std::string_view why) {
  std::lock_guard lock(reload_mu_);
  const uint64_t generation = live_.replace(std::move(state));
  log::info("gateway state replaced ({}): generation {}", why, generation);
}

}  // namespace pgw::proxy
