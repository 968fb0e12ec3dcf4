#include "proxy/cancel_map.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <string>

#include "proxy/deadline.h"

namespace pgw::proxy {
namespace {

int32_t randomPositive() {
  uint32_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) std::abort();
  v &= 0x7fffffffu;
  return static_cast<int32_t>(v == 0 ? 1 : v);
}

}  // namespace

protocol::BackendKeyData CancelMap::add(const CancelTarget& target) {
  std::lock_guard lock(mu_);
  for (;;) {
    protocol::BackendKeyData key{randomPositive(), randomPositive()};
    if (entries_.try_emplace(key.process_id, Entry{key.secret_key, target}).second) return key;
  }
}

void CancelMap::remove(const protocol::BackendKeyData& client_key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(client_key.process_id);
  if (it != entries_.end() && it->second.secret == client_key.secret_key) entries_.erase(it);
}

std::optional<CancelTarget> CancelMap::find(const protocol::BackendKeyData& client_key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(client_key.process_id);
  if (it == entries_.end()) return std::nullopt;
  if (CRYPTO_memcmp(&it->second.secret, &client_key.secret_key, sizeof(int32_t)) != 0) {
    return std::nullopt;
  }
  return it->second.target;
}

size_t CancelMap::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

awaitable<void> forwardCancel(CancelTarget target) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  // An upstream that neither accepts nor closes must not hold the caller.
  Deadline deadline(executor);
  deadline.arm(std::chrono::seconds(5), [&socket] {
    error_code ec;
    socket.close(ec);
  });
  auto [ec] = co_await socket.async_connect(target.upstream, nothrow);
  if (ec) co_return;
  std::string packet;
  protocol::encodeCancelRequest(packet,
                                {target.upstream_key.process_id, target.upstream_key.secret_key});
  auto [wec, n] = co_await asio::async_write(socket, asio::buffer(packet), nothrow);
  (void)wec;
  (void)n;
  // The server closes the connection after reading the request; wait for that
  // so the cancel is delivered before we drop the socket.
  char byte;
  auto [rec, m] = co_await socket.async_read_some(asio::buffer(&byte, 1), nothrow);
  (void)rec;
  (void)m;
}

}  // namespace pgw::proxy
