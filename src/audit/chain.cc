// SHA256_Init/Update/Final are deprecated in OpenSSL 3 but shipped and
// assembly-accelerated; the EVP equivalents cost a provider lookup (a
// read-write lock) per record on the audit writer's hot path. Defined before
// any OpenSSL header is read.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "audit/chain.h"

#include <fmt/format.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/bytes.h"

namespace pgw::audit {
namespace {

/// Appends hex(SHA-256(prev || record)) to `out`. The low-level SHA-256 (see
/// the include above): no provider lookup per record, and prev and the
/// record are hashed in place, not copied into one buffer first.
void appendChainHash(std::string& out, std::string_view prev, std::string_view record) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, prev.data(), prev.size());
  SHA256_Update(&ctx, record.data(), record.size());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_Final(digest, &ctx);
  appendHex(out, Bytes(reinterpret_cast<const std::byte*>(digest), sizeof digest));
}

std::string base64(const unsigned char* p, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::optional<std::vector<unsigned char>> unbase64(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return std::nullopt;
  std::vector<unsigned char> out(s.size() / 4 * 3);
  const int len = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()),
                                  static_cast<int>(s.size()));
  if (len < 0) return std::nullopt;
  size_t pad = 0;
  while (pad < 2 && s[s.size() - 1 - pad] == '=') ++pad;
  out.resize(static_cast<size_t>(len) - pad);
  return out;
}

/// Reads a PEM key with `read` (private or public reader); never prints it.
template <class Reader>
Result<std::shared_ptr<EVP_PKEY>> readKey(const std::string& path, Reader read) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return fail("", fmt::format("cannot read the key file {}", path));
  EVP_PKEY* key = read(f);
  std::fclose(f);
  if (key == nullptr) return fail("", fmt::format("{} holds no PEM key", path));
  std::shared_ptr<EVP_PKEY> out(key, EVP_PKEY_free);
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    return fail("", fmt::format("{} is not an Ed25519 key; create one with: openssl genpkey "
                                "-algorithm ed25519 -out audit-signing.pem",
                                path));
  }
  return out;
}

}  // namespace

std::string chainHash(std::string_view prev, std::string_view record) {
  std::string out;
  appendChainHash(out, prev, record);
  return out;
}

bool isLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

StoredRecord sealRecord(const AuditEvent& event, uint64_t seq, std::string prev) {
  StoredRecord row;
  sealInto(row, event, seq, prev);
  return row;
}

void sealInto(StoredRecord& row, const AuditEvent& event, uint64_t seq, std::string_view prev) {
  // One path for every record: rendered, then sealed.
  RenderedEvent rendered;
  renderEvent(event, event.gateway_id, rendered);
  sealInto(row, rendered, event.gateway_id, seq, prev);
}

void sealInto(StoredRecord& row, const RenderedEvent& event, std::string_view gateway_id,
              uint64_t seq, std::string_view prev) {
  row.gateway_id.assign(gateway_id);
  row.seq = seq;
  row.record.clear();
  appendRecord(row.record, event, seq);
  row.hash.clear();
  appendChainHash(row.hash, prev, row.record);
  row.prev.assign(prev);
  row.time_us = event.time_us;
  row.type.assign(toString(event.type));
  row.session_id = event.session_id;
  row.subject.assign(event.subject);
  row.decision.assign(event.decision);
  row.prune_through = 0;
  row.position = 0;
}

void deriveColumns(const ParsedRecord& parsed, StoredRecord& row) {
  const AuditEvent& e = parsed.event;
  row.gateway_id = e.gateway_id;
  row.seq = parsed.seq;
  row.time_us = e.time.time_since_epoch().count();
  row.type = std::string(toString(e.type));
  row.session_id = e.session_id;
  row.subject = e.subject_id;
  row.decision = e.decision;
}

std::string checkpointMessage(std::string_view gateway_id, uint64_t seq, std::string_view hash) {
  return fmt::format("pgwarden audit checkpoint v1\n{}\n{}\n{}", gateway_id, seq, hash);
}

Result<SigningKey> SigningKey::loadPrivate(const std::string& path) {
  auto key =
      readKey(path, [](FILE* f) { return PEM_read_PrivateKey(f, nullptr, nullptr, nullptr); });
  if (!key) return key.takeError();
  SigningKey out;
  out.key_ = std::move(*key);
  return out;
}

Result<SigningKey> SigningKey::loadPublic(const std::string& path) {
  auto key = readKey(path, [](FILE* f) { return PEM_read_PUBKEY(f, nullptr, nullptr, nullptr); });
  if (!key) {
    // A private key file works too: its public half verifies.
    auto priv = loadPrivate(path);
    if (priv) return priv;
    return key.takeError();
  }
  SigningKey out;
  out.key_ = std::move(*key);
  return out;
}

Result<std::string> SigningKey::sign(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char sig[64];
  size_t len = sizeof sig;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1) {
    return fail("", "cannot sign the checkpoint (is the key an Ed25519 private key?)");
  }
  return base64(sig, len);
}

bool SigningKey::verify(std::string_view message, std::string_view signature_b64) const {
  auto sig = unbase64(signature_b64);
  if (!sig || sig->size() != 64) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), sig->data(), sig->size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

ChainVerifier::ChainVerifier(std::string gateway_id, std::optional<ChainAnchor> anchor,
                             const SigningKey* key)
    : anchor_(std::move(anchor)), key_(key) {
  result_.gateway_id = std::move(gateway_id);
  if (anchor_) last_hash_ = anchor_->hash;
}

bool ChainVerifier::broken(uint64_t seq, std::string problem) {
  result_.ok = false;
  result_.broken_seq = seq;
  result_.problem = std::move(problem);
  return false;
}

bool ChainVerifier::reject(uint64_t seq, std::string problem) {
  if (!result_.ok) return false;
  return broken(seq, std::move(problem));
}

bool ChainVerifier::add(const StoredRecord& row) {
  if (!result_.ok) return false;
  // The row's own integrity first: its content against its hash, then the
  // indexed columns against its content. A row moved by editing its seq or
  // gateway column is reported here, at the record it really is.
  if (chainHash(row.prev, row.record) != row.hash) {
    return broken(row.seq, "its hash does not match its content (the record was edited)");
  }
  auto parsed = parseRecord(row.record);
  if (!parsed) return broken(row.seq, "its record cannot be read: " + parsed.error().message);
  StoredRecord derived;
  deriveColumns(*parsed, derived);
  auto differs = [&](const char* column) {
    return broken(row.seq, fmt::format("column {} differs from the hashed record", column));
  };
  if (derived.seq != row.seq) {
    return broken(
        std::min(derived.seq, row.seq),
        fmt::format("column seq says {} but the hashed record is number {}", row.seq, derived.seq));
  }
  if (derived.gateway_id != row.gateway_id || derived.gateway_id != result_.gateway_id) {
    return differs("gateway_id");
  }
  if (derived.time_us != row.time_us) return differs("time_us");
  if (derived.type != row.type) return differs("type");
  if (derived.session_id != row.session_id) return differs("session_id");
  if (derived.subject != row.subject) return differs("subject");
  if (derived.decision != row.decision) return differs("decision");

  // Then its place in the chain.
  const uint64_t expected =
      result_.records == 0 ? (anchor_ ? anchor_->seq + 1 : row.seq) : result_.last_seq + 1;
  if (row.seq != expected) {
    if (row.seq > expected) {
      return broken(expected, fmt::format("record {} is missing (the next stored record is {})",
                                          expected, row.seq));
    }
    return broken(row.seq, fmt::format("record {} is out of order or duplicated (expected {})",
                                       row.seq, expected));
  }
  if (result_.records == 0) {
    result_.first_seq = row.seq;
    if (!anchor_) {
      last_hash_ = row.prev;
      result_.note = row.seq == 1 ? "starts at record 1"
                                  : fmt::format(
                                        "starts at record {}: earlier records are not in "
                                        "these files (rotated away); its link to them is "
                                        "taken as stored",
                                        row.seq);
    } else if (anchor_->seq == 0) {
      result_.note = "starts at record 1";
    } else {
      result_.note = fmt::format(
          "starts after record {} (anchor: earlier records were pruned by "
          "retention or precede this sink)",
          anchor_->seq);
    }
  }
  if (row.prev != last_hash_) {
    return broken(row.seq, result_.records == 0 && anchor_ && anchor_->seq > 0
                               ? "its previous-hash does not match the anchor"
                               : "its previous-hash does not match the hash of the record before");
  }

  const AuditEvent& e = parsed->event;
  if (e.type == EventType::Checkpoint) {
    ++result_.checkpoints;
    if (e.anchor_seq + 1 != row.seq || e.anchor_hash != row.prev) {
      return broken(row.seq, "the checkpoint does not sign the record before it");
    }
    if (key_ != nullptr) {
      if (!key_->verify(checkpointMessage(result_.gateway_id, e.anchor_seq, e.anchor_hash),
                        e.signature)) {
        return broken(row.seq, "the checkpoint's signature does not verify with this public key");
      }
      ++result_.checkpoints_verified;
    }
    result_.after_last_checkpoint = 0;
  } else {
    ++result_.after_last_checkpoint;
  }
  if (e.type == EventType::Anchor && anchor_ && e.anchor_seq == anchor_->seq &&
      e.anchor_hash == anchor_->hash) {
    anchor_attested_ = true;
  }
  ++result_.records;
  result_.last_seq = row.seq;
  result_.last_time_us = row.time_us;
  last_hash_ = row.hash;
  return true;
}

VerifyResult ChainVerifier::finish() {
  if (result_.ok && anchor_ && anchor_->seq > 0 && !anchor_attested_) {
    // An anchor moved by hand would hide the deletion of the oldest records;
    // the audit log writes an attesting record whenever it sets one.
    broken(anchor_->seq + 1,
           fmt::format("the anchor (records up to {} removed) is not attested by an anchor "
                       "record in the chain: records were deleted outside pgwarden",
                       anchor_->seq));
  }
  return result_;
}

}  // namespace pgw::audit
