// Service tokens: the secret's shape, create/authenticate/revoke/expiry, the
// store file on disk (atomic, mode 0600, never the secret), malformed files,
// and reload by stamp.

#include "auth/service_token.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "support/temp_dir.h"

namespace pgw::auth {
namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::system_clock::time_point;

/// 2025-01-31T12:00:00Z.
const TimePoint kNow =
    TimePoint(std::chrono::sys_days(std::chrono::year{2025} / std::chrono::January / 31)) + 12h;

using test_support::TempDir;

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ServiceToken, SecretHasTheDocumentedShapeAndIsRandom) {
  ServiceTokenStore store;
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto secret = store.create("t" + std::to_string(i), {}, std::nullopt, kNow);
    ASSERT_TRUE(secret.ok()) << secret.error().message;
    EXPECT_EQ(secret->size(), 47u);
    EXPECT_EQ(secret->rfind("pgw_", 0), 0u);
    EXPECT_TRUE(looksLikeServiceToken(*secret)) << *secret;
    EXPECT_TRUE(seen.insert(*secret).second);
  }
  EXPECT_FALSE(looksLikeServiceToken("pgw_short"));
  EXPECT_FALSE(looksLikeServiceToken("xyz_" + std::string(43, 'a')));
  EXPECT_FALSE(looksLikeServiceToken("pgw_" + std::string(42, 'a') + "-"));
  EXPECT_FALSE(looksLikeServiceToken("eyJhbGciOiJSUzI1NiJ9.e30.sig"));
}

TEST(ServiceToken, CreateThenAuthenticate) {
  ServiceTokenStore store;
  auto secret = store.create("ci-bot", {"ci", "deploy"}, kNow + 24h, kNow);
  ASSERT_TRUE(secret.ok()) << secret.error().message;

  auto subject = store.authenticate(*secret, kNow + 1h);
  ASSERT_TRUE(subject.ok()) << subject.error().message;
  EXPECT_EQ(subject->id, "ci-bot");
  EXPECT_EQ(subject->display_name, "ci-bot");
  EXPECT_EQ(subject->groups, (std::vector<std::string>{"ci", "deploy"}));
  EXPECT_EQ(subject->issuer, "pgwarden:service-tokens");
  EXPECT_EQ(subject->method, AuthMethod::ServiceToken);
  ASSERT_TRUE(subject->expires_at.has_value());
  EXPECT_EQ(*subject->expires_at, kNow + 24h);

  ASSERT_EQ(store.list().size(), 1u);
  EXPECT_EQ(store.list()[0].created_at, kNow);
  EXPECT_FALSE(store.list()[0].revoked());
}

TEST(ServiceToken, TheRightTokenIsFoundAmongMany) {
  ServiceTokenStore store;
  std::vector<std::string> secrets;
  for (int i = 0; i < 5; ++i) {
    auto s =
        store.create("bot-" + std::to_string(i), {"g" + std::to_string(i)}, std::nullopt, kNow);
    ASSERT_TRUE(s.ok());
    secrets.push_back(*s);
  }
  for (int i = 0; i < 5; ++i) {
    auto subject = store.authenticate(secrets[static_cast<size_t>(i)], kNow);
    ASSERT_TRUE(subject.ok());
    EXPECT_EQ(subject->id, "bot-" + std::to_string(i));
    EXPECT_FALSE(subject->expires_at.has_value());
  }
}

TEST(ServiceToken, WrongSecretsAreRefusedWithoutEchoingThem) {
  ServiceTokenStore store;
  auto secret = store.create("ci-bot", {"ci"}, std::nullopt, kNow);
  ASSERT_TRUE(secret.ok());

  std::string last_char = *secret;
  last_char.back() = last_char.back() == 'a' ? 'b' : 'a';
  const std::string shorter = secret->substr(0, secret->size() - 1);
  const std::string longer = *secret + "0";
  const std::string upper_prefix = "PGW_" + secret->substr(4);
  for (const std::string& wrong :
       {last_char, shorter, longer, upper_prefix, std::string(), std::string("pgw_")}) {
    SCOPED_TRACE(wrong);
    auto r = store.authenticate(wrong, kNow);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().sqlstate, "28P01");
    EXPECT_EQ(r.error().message, "unknown service token");
  }
  ServiceTokenStore empty;
  auto r = empty.authenticate(*secret, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "unknown service token");
}

TEST(ServiceToken, RevokedTokenIsRefusedAndItsNameReusable) {
  ServiceTokenStore store;
  auto old_secret = store.create("ci-bot", {"ci"}, std::nullopt, kNow);
  ASSERT_TRUE(old_secret.ok());
  ASSERT_TRUE(store.revoke("ci-bot", kNow + 1min).ok());

  auto r = store.authenticate(*old_secret, kNow + 2min);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sqlstate, "28P01");
  EXPECT_EQ(r.error().message, "service token \"ci-bot\" was revoked");
  EXPECT_EQ(r.error().message.find(*old_secret), std::string::npos);

  auto again = store.revoke("ci-bot", kNow);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().sqlstate, "42704");
  EXPECT_NE(again.error().message.find("already revoked"), std::string::npos);
  auto unknown = store.revoke("nobody", kNow);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("no service token named \"nobody\""), std::string::npos);

  auto new_secret = store.create("ci-bot", {"ci"}, std::nullopt, kNow + 3min);
  ASSERT_TRUE(new_secret.ok()) << new_secret.error().message;
  EXPECT_TRUE(store.authenticate(*new_secret, kNow + 4min).ok());
  EXPECT_FALSE(store.authenticate(*old_secret, kNow + 4min).ok());
  ASSERT_EQ(store.list().size(), 2u);
  EXPECT_EQ(store.list()[0].revoked_at, kNow + 1min);
}

TEST(ServiceToken, ExpiredTokenIsRefusedWithItsExpiry) {
  ServiceTokenStore store;
  auto secret = store.create("nightly", {}, kNow + 30 * 24h, kNow);
  ASSERT_TRUE(secret.ok());
  EXPECT_TRUE(store.authenticate(*secret, kNow + 30 * 24h - 1s).ok());

  auto r = store.authenticate(*secret, kNow + 30 * 24h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sqlstate, "28P01");
  EXPECT_EQ(r.error().message, "service token \"nightly\" expired at 2025-03-02T12:00:00Z");
}

TEST(ServiceToken, CreateValidatesItsInput) {
  ServiceTokenStore store;
  ASSERT_TRUE(store.create("ci-bot", {}, std::nullopt, kNow).ok());

  auto dup = store.create("ci-bot", {}, std::nullopt, kNow);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().sqlstate, "42710");
  EXPECT_NE(dup.error().message.find("\"ci-bot\" already exists"), std::string::npos);

  for (const std::string& bad : {std::string(), std::string("has space"), std::string("a/b"),
                                 std::string("é"), std::string(64, 'a')}) {
    SCOPED_TRACE(bad);
    auto r = store.create(bad, {}, std::nullopt, kNow);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().sqlstate, "22023");
  }
  EXPECT_TRUE(store.create("A.z_0-9", {}, std::nullopt, kNow).ok());
  EXPECT_TRUE(store.create(std::string(63, 'a'), {}, std::nullopt, kNow).ok());

  EXPECT_FALSE(store.create("past", {}, kNow, kNow).ok());
  EXPECT_FALSE(store.create("empty-group", {"ci", ""}, std::nullopt, kNow).ok());
  EXPECT_FALSE(store.create("twice", {"ci", "ci"}, std::nullopt, kNow).ok());
  EXPECT_FALSE(store.create("ctl", {"a\nb"}, std::nullopt, kNow).ok());
}

TEST(ServiceTokenStoreFile, SaveLoadRoundTripWithoutTheSecret) {
  TempDir dir;
  const std::string path = dir.file("tokens.json");
  ServiceTokenStore store;
  auto a = store.create("ci-bot", {"ci", "deploy"}, kNow + 24h, kNow + 500ms);
  auto b = store.create("etl", {}, std::nullopt, kNow);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(store.revoke("etl", kNow + 1h).ok());
  auto st = store.save(path);
  ASSERT_TRUE(st.ok()) << st.error().message;

  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  const std::string bytes = readAll(path);
  EXPECT_EQ(bytes.find(*a), std::string::npos);
  EXPECT_EQ(bytes.find(*b), std::string::npos);
  EXPECT_EQ(bytes.find(a->substr(4)), std::string::npos);
  EXPECT_NE(bytes.find("\"2025-01-31T12:00:00Z\""), std::string::npos) << bytes;

  // Nothing but the store is left in the directory (the temporary file is renamed).
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.file(""))) ++files;
  EXPECT_EQ(files, 1u);

  auto loaded = ServiceTokenStore::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->list().size(), 2u);
  const ServiceTokenEntry& e = loaded->list()[0];
  EXPECT_EQ(e.name, "ci-bot");
  EXPECT_EQ(e.groups, (std::vector<std::string>{"ci", "deploy"}));
  EXPECT_EQ(e.created_at, kNow);  // whole seconds
  EXPECT_EQ(e.expires_at, kNow + 24h);
  EXPECT_FALSE(e.revoked_at.has_value());
  EXPECT_EQ(e.sha256, store.list()[0].sha256);
  EXPECT_EQ(loaded->list()[1].revoked_at, kNow + 1h);

  auto subject = loaded->authenticate(*a, kNow + 1h);
  ASSERT_TRUE(subject.ok()) << subject.error().message;
  EXPECT_EQ(subject->id, "ci-bot");
  EXPECT_FALSE(loaded->authenticate(*b, kNow + 1h).ok());

  // Saving over an existing store replaces it, still 0600.
  ASSERT_TRUE(::chmod(path.c_str(), 0644) == 0);
  ASSERT_TRUE(loaded->save(path).ok());
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(readAll(path), bytes);
}

TEST(ServiceTokenStoreFile, MissingFileIsAnEmptyStore) {
  TempDir dir;
  auto r = ServiceTokenStore::load(dir.file("none.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->list().empty());
}

TEST(ServiceTokenStoreFile, SaveIntoAMissingDirectoryFails) {
  TempDir dir;
  ServiceTokenStore store;
  auto st = store.save(dir.file("no/such/dir/tokens.json"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().sqlstate, "58030");
  EXPECT_NE(st.error().message.find("no/such/dir/tokens.json"), std::string::npos);
}

TEST(ServiceTokenStoreFile, MalformedFilesNameTheFileAndTheProblem) {
  const std::string hash(64, 'a');
  const std::string ok_entry =
      R"({"name":"a","sha256":")" + hash + R"(","created_at":"2025-01-31T12:00:00Z"})";
  struct Case {
    const char* name;
    std::string content;
    std::string contains;
  };
  const Case cases[] = {
      {"not json", "{", "is not valid JSON"},
      {"empty file", "", "is not valid JSON"},
      {"array", "[]", "(top level): must be a JSON object"},
      {"no version", R"({"tokens":[]})", "version: must be 1"},
      {"other version", R"({"version":2,"tokens":[]})", "version: must be 1"},
      {"unknown top field", R"({"version":1,"tokens":[],"x":1})", "x: unknown field"},
      {"tokens not list", R"({"version":1,"tokens":{}})", "tokens: must be a list"},
      {"entry not object", R"({"version":1,"tokens":[1]})", "tokens[0]: must be an object"},
      {"bad name", R"({"version":1,"tokens":[{"name":"a b","sha256":")" + hash + R"("}]})",
       "tokens[0].name: must be a name"},
      {"short hash", R"({"version":1,"tokens":[{"name":"a","sha256":"abc"}]})",
       "tokens[0].sha256: must be 64 lowercase hex digits"},
      {"upper hash",
       R"({"version":1,"tokens":[{"name":"a","sha256":")" + std::string(64, 'A') + R"("}]})",
       "tokens[0].sha256: must be 64 lowercase hex digits"},
      {"no created_at", R"({"version":1,"tokens":[{"name":"a","sha256":")" + hash + R"("}]})",
       "tokens[0].created_at: is missing"},
      {"bad time",
       R"({"version":1,"tokens":[{"name":"a","sha256":")" + hash +
           R"(","created_at":"2025-02-30T00:00:00Z"}]})",
       "tokens[0].created_at: '2025-02-30T00:00:00Z' is not a UTC time"},
      {"groups not list",
       R"({"version":1,"tokens":[{"name":"a","sha256":")" + hash +
           R"(","created_at":"2025-01-31T12:00:00Z","groups":"ci"}]})",
       "tokens[0].groups: must be a list"},
      {"unknown entry field",
       R"({"version":1,"tokens":[{"name":"a","sha256":")" + hash +
           R"(","created_at":"2025-01-31T12:00:00Z","secret":"x"}]})",
       "tokens[0].secret: unknown field"},
      {"duplicate live name",
       R"({"version":1,"tokens":[)" + ok_entry + R"(,{"name":"a","sha256":")" +
           std::string(64, 'b') + R"(","created_at":"2025-01-31T12:00:00Z"}]})",
       "tokens[1].name: \"a\" is also the name of tokens[0]"},
      {"duplicate hash",
       R"({"version":1,"tokens":[)" + ok_entry + R"(,{"name":"b","sha256":")" + hash +
           R"(","created_at":"2025-01-31T12:00:00Z"}]})",
       "tokens[1].sha256: is the same as tokens[0]'s"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir.write("tokens.json", c.content);
    auto r = ServiceTokenStore::load(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().sqlstate, "F0000");
    EXPECT_EQ(r.error().message.rfind("service token store " + path + ": ", 0), 0u)
        << r.error().message;
    EXPECT_NE(r.error().message.find(c.contains), std::string::npos) << r.error().message;
  }

  const std::string null_revoked = dir.write(
      "null_revoked.json", R"({"version":1,"tokens":[)" + ok_entry + R"(,{"name":"a","sha256":")" +
                               std::string(64, 'c') +
                               R"(","created_at":"2025-01-31T12:00:00Z","revoked_at":null}]})");
  EXPECT_FALSE(
      ServiceTokenStore::load(null_revoked).ok());  // null revoked_at = live: duplicate name

  std::filesystem::create_directory(dir.file("adir"));
  auto d = ServiceTokenStore::load(dir.file("adir"));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().sqlstate, "58030");
  EXPECT_NE(d.error().message.find("is a directory"), std::string::npos);
}

TEST(ServiceTokenStoreFile, ReloadIfChangedFollowsSaves) {
  TempDir dir;
  const std::string path = dir.file("tokens.json");
  StoreFileStamp stamp;
  auto r = ServiceTokenStore::reloadIfChanged(path, stamp);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());  // no file, and none before

  ServiceTokenStore store;
  auto secret = store.create("ci-bot", {"ci"}, std::nullopt, kNow);
  ASSERT_TRUE(secret.ok());
  ASSERT_TRUE(store.save(path).ok());
  r = ServiceTokenStore::reloadIfChanged(path, stamp);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->has_value());
  EXPECT_TRUE((*r)->authenticate(*secret, kNow).ok());

  r = ServiceTokenStore::reloadIfChanged(path, stamp);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());  // unchanged

  // A revoke saved within the same second is still seen (the rename changes the inode).
  ASSERT_TRUE(store.revoke("ci-bot", kNow).ok());
  ASSERT_TRUE(store.save(path).ok());
  r = ServiceTokenStore::reloadIfChanged(path, stamp);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_FALSE((*r)->authenticate(*secret, kNow).ok());

  // A broken file is reported once; the stamp moves on.
  dir.write("tokens.json", "{broken");
  r = ServiceTokenStore::reloadIfChanged(path, stamp);
  EXPECT_FALSE(r.ok());
  r = ServiceTokenStore::reloadIfChanged(path, stamp);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(UtcTime, FormatsAndParsesExactly) {
  EXPECT_EQ(formatUtcTime(kNow), "2025-01-31T12:00:00Z");
  EXPECT_EQ(formatUtcTime(kNow + 1500ms), "2025-01-31T12:00:01Z");
  EXPECT_EQ(parseUtcTime("2025-01-31T12:00:00Z"), kNow);
  EXPECT_EQ(parseUtcTime("2024-02-29T23:59:59Z"),
            TimePoint(std::chrono::sys_days(std::chrono::year{2024} / 3 / 1)) - 1s);
  for (const char* bad : {"2025-01-31 12:00:00Z", "2025-01-31T12:00:00", "2025-13-01T00:00:00Z",
                          "2025-01-31T24:00:00Z", "2025-01-31T12:00:00+00:00", "x"}) {
    EXPECT_FALSE(parseUtcTime(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace pgw::auth
