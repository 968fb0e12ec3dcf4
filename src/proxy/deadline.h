#pragma once
/// A one-shot timer that runs a callback unless disarmed first. Disarming (or
/// destroying) it guarantees the callback never runs, even if the timer had
/// already expired and its completion was queued — so the callback may
/// capture `this` of the owner.

#include <chrono>
#include <functional>
#include <memory>

#include "proxy/asio.h"

namespace pgw::proxy {

class Deadline {
 public:
  explicit Deadline(const asio::any_io_executor& ex) : timer_(ex) {}
  ~Deadline() { disarm(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void arm(std::chrono::milliseconds after, std::function<void()> on_expire) {
    disarm();
    auto live = std::make_shared<bool>(true);
    live_ = live;
    timer_.expires_after(after);
    timer_.async_wait([live, f = std::move(on_expire)](error_code ec) {
      if (!ec && *live) {
        *live = false;
        f();
      }
    });
  }
  void disarm() {
    if (live_) {
      *live_ = false;
      live_.reset();
      timer_.cancel();
    }
  }

 private:
  asio::steady_timer timer_;
  std::shared_ptr<bool> live_;
};

}  // namespace pgw::proxy
