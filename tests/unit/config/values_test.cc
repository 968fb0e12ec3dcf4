/// Tables for the value parsers and the Config lookups.

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "config/config.h"

namespace pgw::config {
namespace {

using std::chrono::milliseconds;

struct DurationCase {
  std::string text;
  std::optional<int64_t> ms;  ///< nullopt = must be rejected
};

TEST(ParseDuration, Table) {
  const DurationCase cases[] = {
      {"0", 0},
      {"250", 250},
      {"250ms", 250},
      {"0s", 0},
      {"30s", 30'000},
      {"5m", 300'000},
      {"1h", 3'600'000},
      {"48h", 172'800'000},
      {"1d", 86'400'000},
      {"30d", 2'592'000'000},
      {"0d", 0},
      {"", std::nullopt},
      {"ms", std::nullopt},
      {"-5s", std::nullopt},
      {"-1", std::nullopt},
      {"+5s", std::nullopt},
      {"1.5s", std::nullopt},
      {"5 s", std::nullopt},
      {" 5s", std::nullopt},
      {"5S", std::nullopt},
      {"5D", std::nullopt},
      {"1d12h", std::nullopt},
      {"999999999999999d", std::nullopt},
      {"5sec", std::nullopt},
      {"10x", std::nullopt},
      {"1h30m", std::nullopt},
      {"abc", std::nullopt},
      {"99999999999999999999", std::nullopt},
      {"9999999999999999h", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("input: '" + c.text + "'");
    auto r = parseDuration(c.text);
    ASSERT_EQ(r.ok(), c.ms.has_value());
    if (c.ms) {
      EXPECT_EQ(r->count(), *c.ms);
    } else {
      EXPECT_NE(r.error().message.find("'" + c.text + "'"), std::string::npos) << r.error().message;
    }
  }
}

struct SizeCase {
  std::string text;
  std::optional<size_t> bytes;
};

TEST(ParseSize, Table) {
  const SizeCase cases[] = {
      {"0", 0},
      {"1024", 1024},
      {"1B", 1},
      {"10b", 10},
      {"64kB", 64 * 1024},
      {"64KB", 64 * 1024},
      {"64kb", 64 * 1024},
      {"64MB", size_t{64} << 20},
      {"64mb", size_t{64} << 20},
      {"1GB", size_t{1} << 30},
      {"1gB", size_t{1} << 30},
      {"", std::nullopt},
      {"MB", std::nullopt},
      {"-1", std::nullopt},
      {"-1MB", std::nullopt},
      {"1.5MB", std::nullopt},
      {"64 MB", std::nullopt},
      {"64M", std::nullopt},
      {"64MiB", std::nullopt},
      {"1TB", std::nullopt},
      {"lots", std::nullopt},
      {"99999999999999999999", std::nullopt},
      {"99999999999999999GB", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("input: '" + c.text + "'");
    auto r = parseSize(c.text);
    ASSERT_EQ(r.ok(), c.bytes.has_value());
    if (c.bytes) {
      EXPECT_EQ(*r, *c.bytes);
    }
  }
}

struct HostPortCase {
  std::string text;
  bool ok;
  std::string host;
  uint16_t port;
};

TEST(ParseHostPort, Table) {
  const HostPortCase cases[] = {
      {"127.0.0.1:6432", true, "127.0.0.1", 6432},
      {"0.0.0.0:1", true, "0.0.0.0", 1},
      {"localhost:65535", true, "localhost", 65535},
      {"db-1.internal:5432", true, "db-1.internal", 5432},
      {":6432", true, "127.0.0.1", 6432},
      {"[::1]:6432", true, "::1", 6432},
      {"[::]:8080", true, "::", 8080},
      {"[2001:db8::1]:443", true, "2001:db8::1", 443},
      {"[::ffff:10.0.0.1]:5432", true, "::ffff:10.0.0.1", 5432},
      {"", false, "", 0},
      {"localhost", false, "", 0},
      {"6432", false, "", 0},
      {"localhost:", false, "", 0},
      {"localhost:0", false, "", 0},
      {"localhost:65536", false, "", 0},
      {"localhost:-1", false, "", 0},
      {"localhost:+80", false, "", 0},
      {"localhost:http", false, "", 0},
      {"localhost:80 ", false, "", 0},
      {"::1:6432", false, "", 0},
      {"[::1]", false, "", 0},
      {"[::1]6432", false, "", 0},
      {"[::1:6432", false, "", 0},
      {"[]:6432", false, "", 0},
      {"[localhost]:6432", false, "", 0},
      {"bad host:6432", false, "", 0},
      {"a/b:6432", false, "", 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("input: '" + c.text + "'");
    auto r = parseHostPort(c.text);
    ASSERT_EQ(r.ok(), c.ok) << (r.ok() ? "" : r.error().message);
    if (c.ok) {
      EXPECT_EQ(r->host, c.host);
      EXPECT_EQ(r->port, c.port);
    } else {
      EXPECT_NE(r.error().message.find("invalid address"), std::string::npos);
    }
  }
}

TEST(ParseHostPort, UnbracketedIpv6SaysWhatToDo) {
  auto r = parseHostPort("::1:6432");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("[::1]:6432"), std::string::npos) << r.error().message;
}

TEST(ConfigLookup, FindsByName) {
  Config cfg;
  Connection prod;
  prod.name = "prod";
  prod.host = "db";
  cfg.connections.emplace("prod", prod);
  LocalUser alice;
  alice.name = "alice";
  LocalUser bob;
  bob.name = "bob";
  cfg.users = {alice, bob};

  ASSERT_NE(cfg.findConnection("prod"), nullptr);
  EXPECT_EQ(cfg.findConnection("prod")->host, "db");
  EXPECT_EQ(cfg.findConnection("Prod"), nullptr);
  EXPECT_EQ(cfg.findConnection(""), nullptr);
  ASSERT_NE(cfg.findUser("bob"), nullptr);
  EXPECT_EQ(cfg.findUser("bob")->name, "bob");
  EXPECT_EQ(cfg.findUser("carol"), nullptr);
}

}  // namespace
}  // namespace pgw::config
