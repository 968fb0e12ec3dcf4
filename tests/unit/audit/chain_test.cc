/// The chain in memory: seal, verify, and every way a row can be wrong;
/// Ed25519 checkpoints signed with one key and checked with its public half.

#include "audit/chain.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>

#include "test_util.h"

namespace pgw::audit {
namespace {

std::vector<StoredRecord> chainOf(int n, const std::string& gw = "gw") {
  std::vector<StoredRecord> rows;
  std::string prev = kGenesisHash;
  for (int i = 1; i <= n; ++i) {
    AuditEvent e = testing::statement(i);
    e.gateway_id = gw;
    rows.push_back(sealRecord(e, static_cast<uint64_t>(i), prev));
    prev = rows.back().hash;
  }
  return rows;
}

VerifyResult verifyRows(const std::vector<StoredRecord>& rows,
                        std::optional<ChainAnchor> anchor = ChainAnchor{},
                        const SigningKey* key = nullptr) {
  ChainVerifier v("gw", std::move(anchor), key);
  for (const auto& r : rows) {
    if (!v.add(r)) break;
  }
  return v.finish();
}

TEST(Chain, HashIsSha256OfPrevAndRecord) {
  // sha256("") and sha256("abc"), the FIPS 180-2 test vectors.
  EXPECT_EQ(chainHash("", ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(chainHash("a", "bc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Chain, SealingIntoAUsedRowGivesWhatAFreshRowGets) {
  // The audit log's writer seals into rows it wrote before.
  AuditEvent longer = testing::statement(7);
  longer.gateway_id = "a-much-longer-gateway-id";
  longer.statement.append(500, 'x');
  longer.subject_id = "a-much-longer-subject-id@example.com";
  longer.decision = "review";
  StoredRecord row = sealRecord(longer, 99, std::string(64, 'f'));
  row.prune_through = 12;
  row.position = 34;

  AuditEvent e = testing::statement(2);
  e.gateway_id = "gw";
  sealInto(row, e, 3, kGenesisHash);
  const StoredRecord fresh = sealRecord(e, 3, kGenesisHash);
  EXPECT_EQ(row.gateway_id, fresh.gateway_id);
  EXPECT_EQ(row.seq, fresh.seq);
  EXPECT_EQ(row.prev, fresh.prev);
  EXPECT_EQ(row.hash, fresh.hash);
  EXPECT_EQ(row.record, fresh.record);
  EXPECT_EQ(row.time_us, fresh.time_us);
  EXPECT_EQ(row.type, fresh.type);
  EXPECT_EQ(row.session_id, fresh.session_id);
  EXPECT_EQ(row.subject, fresh.subject);
  EXPECT_EQ(row.decision, fresh.decision);
  EXPECT_EQ(row.prune_through, 0u);
  EXPECT_EQ(row.position, 0u);
}

TEST(Chain, IntactChainVerifies) {
  auto r = verifyRows(chainOf(20));
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 20u);
  EXPECT_EQ(r.first_seq, 1u);
  EXPECT_EQ(r.last_seq, 20u);
  EXPECT_EQ(r.checkpoints, 0u);
}

TEST(Chain, EachKindOfDamageIsFoundAtItsRecord) {
  struct Case {
    const char* name;
    void (*damage)(std::vector<StoredRecord>&);
    uint64_t broken_at;
    const char* says;
  };
  const Case cases[] = {
      {"edited record", [](auto& rows) { rows[6].record.replace(2, 6, "ANCHOR"); }, 7, "hash"},
      {"edited hash", [](auto& rows) { rows[6].hash[0] = rows[6].hash[0] == 'a' ? 'b' : 'a'; }, 7,
       "hash"},
      {"edited prev", [](auto& rows) { rows[6].prev = rows[4].hash; }, 7, "hash does not match"},
      {"resealed on the wrong link",
       [](auto& rows) {
         rows[6] = sealRecord(parseRecord(rows[6].record).value().event, 7, rows[4].hash);
       },
       7, "previous-hash"},
      {"deleted row", [](auto& rows) { rows.erase(rows.begin() + 6); }, 7, "missing"},
      {"swapped rows", [](auto& rows) { std::swap(rows[6], rows[7]); }, 7, "missing"},
      {"duplicated row", [](auto& rows) { rows.insert(rows.begin() + 7, rows[6]); }, 7,
       "out of order"},
      {"seq column", [](auto& rows) { rows[6].seq = 99; }, 7, "column seq"},
      {"time column", [](auto& rows) { rows[6].time_us += 1; }, 7, "time_us"},
      {"subject column", [](auto& rows) { rows[6].subject = "mallory"; }, 7, "subject"},
      {"decision column", [](auto& rows) { rows[6].decision = "review"; }, 7, "decision"},
      {"session column", [](auto& rows) { rows[6].session_id = 1; }, 7, "session_id"},
      {"type column", [](auto& rows) { rows[6].type = "connect"; }, 7, "type"},
      {"first row deleted", [](auto& rows) { rows.erase(rows.begin()); }, 1, "missing"},
  };
  for (const Case& c : cases) {
    auto rows = chainOf(12);
    c.damage(rows);
    auto r = verifyRows(rows);
    EXPECT_FALSE(r.ok) << c.name;
    EXPECT_EQ(r.broken_seq, c.broken_at) << c.name << ": " << r.problem;
    EXPECT_NE(r.problem.find(c.says), std::string::npos) << c.name << ": " << r.problem;
  }
}

TEST(Chain, AnchorMustBeAttestedByAnAnchorRecord) {
  auto rows = chainOf(10);
  const ChainAnchor anchor{4, rows[3].hash};
  std::vector<StoredRecord> rest(rows.begin() + 4, rows.end());
  // Rows 5..10 after an anchor at 4, but nothing in the chain says so.
  auto r = verifyRows(rest, anchor);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("not attested"), std::string::npos) << r.problem;

  // Append the attesting record: now the chain is valid.
  AuditEvent a;
  a.type = EventType::Anchor;
  a.gateway_id = "gw";
  a.reason = "retention";
  a.anchor_seq = 4;
  a.anchor_hash = rows[3].hash;
  rest.push_back(sealRecord(a, 11, rows.back().hash));
  r = verifyRows(rest, anchor);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.first_seq, 5u);

  // An anchor moved by hand (say to 6, after deleting 5 and 6) is refused.
  std::vector<StoredRecord> moved(rest.begin() + 2, rest.end());
  r = verifyRows(moved, ChainAnchor{6, rows[5].hash});
  EXPECT_FALSE(r.ok);
}

/// Writes a fresh Ed25519 key pair as PEM files; returns {private, public}.
std::pair<std::string, std::string> makeKeyPair(const testing::TempDir& dir, const char* name) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  const std::string priv = dir.file(std::string(name) + ".pem");
  const std::string pub = dir.file(std::string(name) + ".pub");
  FILE* f = std::fopen(priv.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen(pub.c_str(), "w");
  PEM_write_PUBKEY(f, key);
  std::fclose(f);
  EVP_PKEY_free(key);
  return {priv, pub};
}

TEST(Chain, CheckpointsVerifyWithThePublicKeyAndCatchARewrittenChain) {
  testing::TempDir dir;
  auto [priv_path, pub_path] = makeKeyPair(dir, "signing");
  auto other = makeKeyPair(dir, "other");
  auto priv = SigningKey::loadPrivate(priv_path);
  auto pub = SigningKey::loadPublic(pub_path);
  auto wrong = SigningKey::loadPublic(other.second);
  ASSERT_TRUE(priv.ok() && pub.ok() && wrong.ok());

  auto rows = chainOf(5);
  AuditEvent cp;
  cp.type = EventType::Checkpoint;
  cp.gateway_id = "gw";
  cp.anchor_seq = 5;
  cp.anchor_hash = rows.back().hash;
  cp.signature = *priv->sign(checkpointMessage("gw", 5, rows.back().hash));
  rows.push_back(sealRecord(cp, 6, rows.back().hash));

  auto r = verifyRows(rows, ChainAnchor{}, &*pub);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.checkpoints, 1u);
  EXPECT_EQ(r.checkpoints_verified, 1u);
  EXPECT_EQ(r.after_last_checkpoint, 0u);

  r = verifyRows(rows, ChainAnchor{}, &*wrong);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, 6u);

  // Someone edits record 3 and recomputes every hash after it: the chain
  // alone looks fine, the signature does not.
  auto forged = chainOf(5);
  AuditEvent e = testing::statement(3);
  e.gateway_id = "gw";
  e.decision = "allow";
  e.statement = "SELECT 'nothing to see'";
  forged[2] = sealRecord(e, 3, forged[1].hash);
  for (size_t i = 3; i < forged.size(); ++i) {
    AuditEvent again = parseRecord(forged[i].record).value().event;
    forged[i] = sealRecord(again, forged[i].seq, forged[i - 1].hash);
  }
  AuditEvent stale = cp;  // the old signature, over the old hash of record 5
  stale.anchor_hash = forged.back().hash;
  forged.push_back(sealRecord(stale, 6, forged.back().hash));
  EXPECT_TRUE(verifyRows(forged).ok);  // without the key: undetectable
  r = verifyRows(forged, ChainAnchor{}, &*pub);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, 6u);
  EXPECT_NE(r.problem.find("signature"), std::string::npos);
}

TEST(Chain, KeyLoadingSaysWhatIsWrong) {
  testing::TempDir dir;
  auto k = SigningKey::loadPrivate(dir.file("missing.pem"));
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().message.find("cannot read"), std::string::npos);
  // A private key file also works where a public key is asked for.
  auto [priv, pub] = makeKeyPair(dir, "k");
  EXPECT_TRUE(SigningKey::loadPublic(priv).ok());
  EXPECT_FALSE(SigningKey::loadPrivate(pub).ok());
}

}  // namespace
}  // namespace pgw::audit
