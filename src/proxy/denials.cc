#include "proxy/denials.h"

#include <openssl/rand.h>

#include <charconv>
#include <cstdlib>

namespace pgw::proxy {

Denials::Denials() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) std::abort();
  static constexpr char kHex[] = "0123456789abcdef";
  marker_ = "pgwarden_denied_";
  for (unsigned char b : raw) {
    marker_.push_back(kHex[b >> 4]);
    marker_.push_back(kHex[b & 0xf]);
  }
  marker_.push_back('_');
}

std::string Denials::nextMarker(DenialError error) {
  uint64_t seq = next_++;
  pending_.emplace(seq, std::move(error));
  return marker_ + std::to_string(seq);
}

std::string Denials::failingSql(DenialError error) {
  // An unknown column fails during parse analysis, before any permission or
  // read-only check, in every transaction state that runs statements at all.
  return "SELECT " + nextMarker(std::move(error));
}

void Denials::denyBind(std::string& out, std::string_view portal, DenialError error) {
  protocol::encodeBind(out, portal, nextMarker(std::move(error)), {}, {}, {});
}

void Denials::denyQuery(std::string& out, DenialError error) {
  protocol::encodeQuery(out, failingSql(std::move(error)));
}

void Denials::denyParse(std::string& out, std::string_view statement_name, DenialError error) {
  protocol::encodeParse(out, statement_name, failingSql(std::move(error)), {});
}

bool Denials::rewrite(const protocol::NoticeFields& fields, std::string& out) {
  // 42703: the failing SELECT's unknown column; 26000: the failing Bind's
  // unknown prepared statement.
  if (pending_.empty() || (fields.sqlstate() != "42703" && fields.sqlstate() != "26000")) {
    return false;
  }
  std::string_view message = fields.message();
  size_t at = message.find(marker_);
  if (at == std::string_view::npos) return false;
  std::string_view digits = message.substr(at + marker_.size());
  uint64_t seq = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (ec != std::errc()) return false;
  auto it = pending_.find(seq);
  if (it == pending_.end()) return false;
  const DenialError& e = it->second;
  protocol::encodeErrorResponse(out, {.severity = "ERROR",
                                      .sqlstate = e.sqlstate,
                                      .message = e.message,
                                      .detail = e.detail,
                                      .hint = e.hint});
  pending_.erase(it);
  return true;
}

}  // namespace pgw::proxy
