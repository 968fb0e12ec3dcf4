// SHA256_Init/Update/Final: see audit/chain.cc.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "review/review.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <atomic>
#include <chrono>

#include "common/bytes.h"

namespace pgw::review {
namespace {

constexpr std::array<std::string_view, 7> kStates = {"pending",   "approved", "denied", "expired",
                                                     "withdrawn", "consumed", "revoked"};

int countApprovals(const std::vector<Vote>& votes) {
  int n = 0;
  for (const Vote& v : votes) n += v.approve ? 1 : 0;
  return n;
}

void feed(SHA256_CTX& ctx, std::string_view part) {
  // Length-prefixed, so that no two different tuples hash the same.
  const uint64_t n = part.size();
  SHA256_Update(&ctx, &n, sizeof n);
  SHA256_Update(&ctx, part.data(), part.size());
}

}  // namespace

std::string_view stateName(State state) {
  return kStates[static_cast<size_t>(state)];
}

std::optional<State> parseState(std::string_view name) {
  for (size_t i = 0; i < kStates.size(); ++i) {
    if (kStates[i] == name) return static_cast<State>(i);
  }
  return std::nullopt;
}

Person Person::from(const auth::Subject& subject) {
  return Person{subject.id, subject.display_name, subject.groups, subject.issuer,
                auth::toString(subject.method)};
}

int Review::approvals() const {
  return countApprovals(votes);
}

int AccessRequest::approvals() const {
  return countApprovals(votes);
}

std::string retryKey(std::string_view subject_id, std::string_view issuer,
                     std::string_view connection, std::string_view statement,
                     const std::vector<std::optional<std::string>>& parameters) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  feed(ctx, subject_id);
  feed(ctx, issuer);
  feed(ctx, connection);
  feed(ctx, statement);
  const uint64_t count = parameters.size();
  SHA256_Update(&ctx, &count, sizeof count);
  for (const auto& p : parameters) {
    const char null_flag = p ? 1 : 0;
    SHA256_Update(&ctx, &null_flag, 1);
    if (p) feed(ctx, *p);
  }
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256_Final(digest.data(), &ctx);
  return toHex(Bytes(reinterpret_cast<const std::byte*>(digest.data()), digest.size()));
}

int64_t nowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ApprovalRules rulesOf(const config::ApprovalConfig& a) {
  ApprovalRules r;
  r.mode = a.mode;
  r.approver_groups = a.approvers;
  r.min_approvals = a.min_approvals;
  r.timeout_us = std::chrono::duration_cast<std::chrono::microseconds>(a.timeout).count();
  r.retry_ttl_us = std::chrono::duration_cast<std::chrono::microseconds>(a.retry_ttl).count();
  return r;
}

std::string randomId(std::string_view prefix, size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    static std::atomic<uint64_t> counter{0};
    const uint64_t n = counter.fetch_add(1) ^ static_cast<uint64_t>(nowUs());
    for (size_t i = 0; i < bytes; ++i) raw[i] = static_cast<char>(n >> (8 * (i % 8)));
  }
  return std::string(prefix) + toHex(asBytes(raw));
}

}  // namespace pgw::review
