#pragma once
/// The hash chain: every record of a gateway gets the next sequence number
/// (1, 2, 3, ... per gateway id) and
///
///     hash = hex(SHA-256(prev_hash || canonical JSON of the record))
///
/// where prev_hash is the previous record's hash as 64 lower-case hex
/// characters (64 '0's before record 1) and the canonical JSON (event.h)
/// includes the record's seq. Editing, deleting, inserting or reordering a
/// record breaks the chain at that record; rewriting every hash after it is
/// caught by the Ed25519-signed checkpoints when they are configured.
///
/// ChainVerifier is the one place that decides whether stored rows are a
/// valid chain; `pgwarden audit verify` and the tests feed it rows from any
/// sink.

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "audit/event.h"
#include "common/result.h"

namespace pgw::audit {

/// The prev_hash of record 1.
inline const std::string kGenesisHash(64, '0');

/// One record as a sink stores it: the canonical JSON, the chain links and
/// the columns sinks index for queries (which are copies of fields of the
/// JSON and are checked against it by the verifier).
struct StoredRecord {
  std::string gateway_id;
  uint64_t seq = 0;
  std::string prev;    ///< hex
  std::string hash;    ///< hex
  std::string record;  ///< canonical JSON
  // Indexed copies.
  int64_t time_us = 0;
  std::string type;
  uint64_t session_id = 0;
  std::string subject;
  std::string decision;

  /// Set by the writer on a retention anchor record (not stored as such):
  /// sinks that keep old records delete those up to this seq, in the same
  /// transaction that stores this record. 0 = nothing to prune.
  uint64_t prune_through = 0;
  /// Where the row was read from: SQLite rowid, line number across JSON
  /// Lines files. Increases in write order; used by `tail --follow`.
  uint64_t position = 0;
};

/// hex(SHA-256(prev || record)).
std::string chainHash(std::string_view prev, std::string_view record);
/// Whether `s` is only lowercase hex digits, as chainHash writes them.
bool isLowerHex(std::string_view s);

/// Serializes `event` as record `seq` after `prev` and fills every column.
StoredRecord sealRecord(const AuditEvent& event, uint64_t seq, std::string prev);
/// The same into `row`, whose strings' memory is reused (the audit log's
/// writer recycles rows). Every field is assigned; `prev` must not alias
/// any of `row`'s strings.
void sealInto(StoredRecord& row, const AuditEvent& event, uint64_t seq, std::string_view prev);
/// The same for an event rendered beforehand (event.h) by gateway
/// `gateway_id`: what the audit log's writer does.
void sealInto(StoredRecord& row, const RenderedEvent& event, std::string_view gateway_id,
              uint64_t seq, std::string_view prev);

/// Fills the indexed copies from a parsed record (what they must equal).
void deriveColumns(const ParsedRecord& parsed, StoredRecord& row);

/// What a checkpoint signs: the gateway, seq and hash of the record just
/// before it, with a fixed prefix so the key cannot be tricked into signing
/// anything else that verifies as a checkpoint.
std::string checkpointMessage(std::string_view gateway_id, uint64_t seq, std::string_view hash);

/// An Ed25519 key, private (signs) or public (verifies).
class SigningKey {
 public:
  /// A PEM private key (PKCS#8, as written by `openssl genpkey -algorithm ed25519`).
  static Result<SigningKey> loadPrivate(const std::string& path);
  /// A PEM public key, or a private key (its public half is used).
  static Result<SigningKey> loadPublic(const std::string& path);

  /// Base64 signature; fails only if OpenSSL does.
  Result<std::string> sign(std::string_view message) const;
  bool verify(std::string_view message, std::string_view signature_b64) const;

 private:
  std::shared_ptr<EVP_PKEY> key_;
};

/// Where a sink's chain starts: after the record (seq, hash). Sinks that
/// prune old records or joined an existing chain late keep one.
struct ChainAnchor {
  uint64_t seq = 0;
  std::string hash = kGenesisHash;
};

struct VerifyResult {
  bool ok = true;
  std::string gateway_id;
  uint64_t records = 0;    ///< rows checked
  uint64_t first_seq = 0;  ///< 0 = no rows
  uint64_t last_seq = 0;
  int64_t last_time_us = 0;
  uint64_t broken_seq = 0;  ///< the first seq found broken (when !ok)
  std::string problem;      ///< what is wrong there
  uint64_t checkpoints = 0;
  uint64_t checkpoints_verified = 0;   ///< with a public key
  uint64_t after_last_checkpoint = 0;  ///< records no signature covers yet
  std::string note;                    ///< how the chain starts (genesis, anchor, rotated files)
};

/// Checks rows of one gateway fed in ascending seq order. `anchor`: where
/// the sink says its chain starts; nullopt = unknown (a JSON Lines file whose
/// older files were rotated away: the first row is taken as it is).
class ChainVerifier {
 public:
  ChainVerifier(std::string gateway_id, std::optional<ChainAnchor> anchor, const SigningKey* key);

  /// Checks one row; returns false once the chain is broken (later rows
  /// are ignored: the first break is what the report names).
  bool add(const StoredRecord& row);
  /// The verdict, including the anchor's attestation and the checkpoints.
  VerifyResult finish();
  /// Reports what the sink found wrong at `seq` outside the records
  /// themselves (a column summarizing them that disagrees), unless an
  /// earlier break was already found. Returns false.
  bool reject(uint64_t seq, std::string problem);
  bool ok() const { return result_.ok; }

 private:
  bool broken(uint64_t seq, std::string problem);

  std::optional<ChainAnchor> anchor_;
  const SigningKey* key_;
  VerifyResult result_;
  std::string last_hash_;
  bool anchor_attested_ = false;
};

}  // namespace pgw::audit
