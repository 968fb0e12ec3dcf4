/// Canonical JSON: stable bytes for a given event, keys in sorted order (as
/// any JSON library's sorted compact output), escapes, invalid UTF-8, and
/// parsing back.

#include "audit/event.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "test_util.h"

namespace pgw::audit {
namespace {

TEST(CanonicalJson, GoldenBytesOfAFixedEvent) {
  AuditEvent e;
  e.type = EventType::Connect;
  e.time = TimePoint(std::chrono::microseconds(1764000000123456));
  e.gateway_id = "gw1";
  e.session_id = 7;
  e.subject_id = "alice";
  e.subject_groups = {"a", "b"};
  e.auth_method = "oidc";
  e.tls = true;
  e.tls_version = "TLSv1.3";
  e.parameters = {std::string("x"), std::nullopt};
  e.masked = {MaskedColumn{"public.t.c", "redact", 2}};
  // Changing these bytes breaks every stored chain: only ever add a test.
  EXPECT_EQ(canonicalJson(e, 42),
            R"({"anchor_hash":"","anchor_seq":0,"auth_method":"oidc","bytes_sent":0,)"
            R"("client_address":"","command_tag":"","connection":"","decision":"","detail":"",)"
            R"("duration_us":0,"fingerprint":"","gateway_id":"gw1",)"
            R"("masked":[{"cells":2,"column":"public.t.c","rule":"redact"}],)"
            R"("parameters":["x",null],"policy":"","reason":"","review_id":"","rows":-1,)"
            R"("rule":"","seq":42,"session_id":7,"signature":"","sqlstate":"","statement":"",)"
            R"("statement_kind":"","subject_groups":["a","b"],"subject_id":"alice",)"
            R"("subject_issuer":"","tables":[],"time_us":1764000000123456,"tls":true,)"
            R"("tls_version":"TLSv1.3","type":"connect","upstream_role":""})");
}

TEST(CanonicalJson, EqualsSortedCompactOutputOfAJsonLibrary) {
  AuditEvent e = testing::statement(3);
  e.statement = "SELECT '\"quoted\"', E'\\\\', 'tab\there', 'nl\n', '\x01\x1f', 'é€𝄞', '/'";
  e.detail = std::string("nul\0byte", 8);
  const std::string ours = canonicalJson(e, 9);
  const nlohmann::json parsed = nlohmann::json::parse(ours);  // std::map: sorted keys
  EXPECT_EQ(parsed.dump(), ours);
}

TEST(CanonicalJson, EverySpecialByteIsEscapedAtEveryOffset) {
  // The writer scans plain text eight bytes at a time: a byte that needs
  // escaping must be seen wherever it falls in (or after) a word.
  const std::string specials[] = {
      std::string(1, '\0'), "\x01", "\x1f", "\"", "\\", "\n", "\x7f", "é", "\xff"};
  for (const std::string& special : specials) {
    for (size_t at = 0; at < 19; ++at) {
      for (size_t len : {at + 1, size_t{19}, size_t{24}}) {
        if (len <= at) continue;
        AuditEvent e = testing::statement(1);
        e.statement = std::string(len, 'a');
        e.statement.replace(at, 1, special);
        const std::string ours = canonicalJson(e, 2);
        const nlohmann::json parsed = nlohmann::json::parse(ours);
        EXPECT_EQ(parsed.dump(), ours) << "byte " << static_cast<int>(special[0]) << " at " << at;
        std::string expected = e.statement;
        if (special == "\xff") expected.replace(at, 1, "\xef\xbf\xbd");  // not UTF-8: U+FFFD
        EXPECT_EQ(parsed["statement"].get<std::string>(), expected) << at;
      }
    }
  }
}

TEST(CanonicalJson, ARenderedEventWithItsSeqIsTheCanonicalRecord) {
  // Sessions render; the writer inserts the seq. The bytes hashed must be
  // exactly the canonical record, with the log's gateway id, whatever the
  // event said, into a buffer that held a longer record before.
  RenderedEvent rendered;
  AuditEvent longer = testing::statement(3);
  longer.statement.append(300, 'z');
  renderEvent(longer, "another-gateway", rendered);
  for (int t = 0; t <= static_cast<int>(EventType::Anchor); ++t) {
    for (uint64_t seq : {uint64_t{1}, uint64_t{9}, uint64_t{10}, uint64_t{UINT64_MAX}}) {
      AuditEvent e = testing::statement(t);
      e.type = static_cast<EventType>(t);
      e.gateway_id = "set-by-the-session";
      e.statement = "SELECT '\"seq\":1,' -- \xff";
      e.masked = {{"public.users.email", "email", 3}};
      renderEvent(e, "gw", rendered);
      std::string record;
      appendRecord(record, rendered, seq);
      e.gateway_id = "gw";
      EXPECT_EQ(record, canonicalJson(e, seq)) << toString(e.type) << " " << seq;
      EXPECT_EQ(rendered.time_us, e.time.time_since_epoch().count());
      EXPECT_EQ(rendered.type, e.type);
      EXPECT_EQ(rendered.session_id, e.session_id);
      EXPECT_EQ(rendered.subject, e.subject_id);
      EXPECT_EQ(rendered.decision, e.decision);
    }
  }
}

TEST(CanonicalJson, InvalidUtf8BecomesReplacementCharacters) {
  AuditEvent e;
  e.statement = "ok \xff\xfe end \xc3";  // two stray bytes and a cut sequence
  const std::string json = canonicalJson(e, 1);
  EXPECT_NE(json.find("ok \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd\""), std::string::npos);
  auto back = parseRecord(json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->event.statement, "ok \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd");
}

TEST(CanonicalJson, RoundTripsEveryEventType) {
  for (int t = 0; t <= static_cast<int>(EventType::Anchor); ++t) {
    AuditEvent e = testing::statement(t);
    e.type = static_cast<EventType>(t);
    e.gateway_id = "gw";
    e.session_id = UINT64_MAX;
    e.reason = "client closed";
    e.anchor_seq = 5;
    e.anchor_hash = std::string(64, 'a');
    auto back = parseRecord(canonicalJson(e, 77));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->seq, 77u);
    EXPECT_EQ(back->event, e) << toString(e.type);
    EXPECT_EQ(canonicalJson(back->event, 77), canonicalJson(e, 77));
  }
}

TEST(CanonicalJson, ParseRejectsMissingUnknownAndMistypedKeys) {
  const std::string good = canonicalJson(testing::statement(1), 1);
  EXPECT_TRUE(parseRecord(good).ok());

  std::string unknown = good;
  unknown.insert(1, R"("extra":1,)");
  auto r = parseRecord(unknown);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("keys no version writes"), std::string::npos);

  auto missing = nlohmann::json::parse(good);
  missing.erase("rows");
  r = parseRecord(missing.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("\"rows\""), std::string::npos);

  auto mistyped = nlohmann::json::parse(good);
  mistyped["seq"] = "1";
  EXPECT_FALSE(parseRecord(mistyped.dump()).ok());
  mistyped = nlohmann::json::parse(good);
  mistyped["type"] = "teleport";
  EXPECT_FALSE(parseRecord(mistyped.dump()).ok());
  EXPECT_FALSE(parseRecord("not json").ok());
}

/// Random text for the differential test: plain ASCII mostly, with every
/// kind of byte the writer escapes or checks (quotes, backslashes, control
/// characters, UTF-8 of each length, invalid bytes).
std::string randomText(std::mt19937_64& rng) {
  static const std::string pieces[] = {"a",
                                       "SELECT ",
                                       "x",
                                       "\"",
                                       "\\",
                                       "\n",
                                       "\t",
                                       "\b",
                                       "\f",
                                       "\r",
                                       std::string(1, '\0'),
                                       "\x01",
                                       "\x1f",
                                       "\x7f",
                                       "/",
                                       "é",
                                       "€",
                                       "𝄞",
                                       "\xff",
                                       "\xc3",
                                       "\xed\xa0\x80",
                                       "\xf4\x90\x80\x80",
                                       "\xc0\xaf",
                                       "0123456789",
                                       "{}[],:"};
  std::string out;
  const size_t n = rng() % 12;
  for (size_t i = 0; i < n; ++i) out += pieces[rng() % std::size(pieces)];
  return out;
}

int64_t randomInt(std::mt19937_64& rng) {
  switch (rng() % 5) {
    case 0:
      return 0;
    case 1:
      return -1;
    case 2:
      return static_cast<int64_t>(rng() % 1000);
    case 3:
      return std::numeric_limits<int64_t>::min() + static_cast<int64_t>(rng() % 3);
    default:
      return static_cast<int64_t>(rng());
  }
}

AuditEvent randomEvent(std::mt19937_64& rng) {
  AuditEvent e;
  e.type = static_cast<EventType>(rng() % (static_cast<int>(EventType::Anchor) + 1));
  e.time = TimePoint(std::chrono::microseconds(randomInt(rng)));
  for (std::string* s :
       {&e.gateway_id,     &e.subject_id, &e.subject_issuer, &e.auth_method, &e.client_address,
        &e.tls_version,    &e.connection, &e.upstream_role,  &e.statement,   &e.fingerprint,
        &e.statement_kind, &e.decision,   &e.rule,           &e.policy,      &e.review_id,
        &e.command_tag,    &e.sqlstate,   &e.reason,         &e.detail,      &e.anchor_hash,
        &e.signature}) {
    *s = randomText(rng);
  }
  e.session_id = rng() % 2 != 0 ? rng() : rng() % 10;
  e.anchor_seq = rng() % 2 != 0 ? rng() : 0;
  e.tls = rng() % 2 != 0;
  e.duration_us = randomInt(rng);
  e.rows = randomInt(rng);
  e.bytes_sent = randomInt(rng);
  for (size_t i = rng() % 3; i > 0; --i) e.subject_groups.push_back(randomText(rng));
  for (size_t i = rng() % 3; i > 0; --i) e.tables.push_back(randomText(rng));
  for (size_t i = rng() % 4; i > 0; --i) {
    e.parameters.push_back(rng() % 3 == 0 ? std::nullopt
                                          : std::optional<std::string>(randomText(rng)));
  }
  for (size_t i = rng() % 3; i > 0; --i) {
    e.masked.push_back(MaskedColumn{randomText(rng), randomText(rng), randomInt(rng)});
  }
  return e;
}

/// Edits a record the way a hand, a tool or damage might: a byte changed,
/// inserted or removed, or a JSON-ish token swapped in.
std::string mutate(std::string s, std::mt19937_64& rng) {
  static const std::string tokens[] = {" ",    "\\u0041", "\\u00e9", "\\ud834\\udd1e",
                                       "\\/",  "-",       "0",       "01",
                                       "1.5",  "1e3",     "\"",      "\\",
                                       "null", "true",    "}",       "]",
                                       ",",    "\xff",    "é",       "99999999999999999999"};
  for (size_t k = 1 + rng() % 2; k > 0 && !s.empty(); --k) {
    size_t at = rng() % s.size();
    // Half the edits land just inside a string, where most keep the form
    // and both readers must read the same value.
    if (rng() % 2 == 0) {
      const size_t value = s.find("\":\"", at);
      if (value != std::string::npos) at = value + 3;
      if (at == s.size()) at = 0;
    }
    switch (rng() % 4) {
      case 0:
        s[at] = static_cast<char>(rng() % 256);
        break;
      case 1:
        s.erase(at, 1 + rng() % 3);
        break;
      case 2:
        s.insert(at, 1, static_cast<char>(rng() % 128));
        break;
      default:
        s.insert(at, tokens[rng() % std::size(tokens)]);
        break;
    }
  }
  return s;
}

TEST(CanonicalJson, FastReaderAgreesWithTheGeneralParser) {
  // parseRecord reads canonical text with its own reader and everything
  // else with nlohmann::json. The two must agree wherever the fast one
  // answers: a difference would make verify, tail and export see another
  // record than a JSON library does.
  std::mt19937_64 rng(20261208);
  size_t fast = 0;
  size_t mutated_fast = 0;
  for (int i = 0; i < 8000; ++i) {
    const std::string json = canonicalJson(randomEvent(rng), rng());
    ParsedRecord quick;
    auto general = detail::parseAnyRecord(json);
    ASSERT_TRUE(general.ok()) << general.error().message << "\n" << json;
    // Every record the writer produces takes the fast path.
    ASSERT_TRUE(detail::readCanonicalRecord(json, quick)) << json;
    ++fast;
    ASSERT_EQ(quick.seq, general->seq);
    ASSERT_EQ(quick.event, general->event) << json;

    const std::string edited = mutate(json, rng);
    ParsedRecord q2;
    if (!detail::readCanonicalRecord(edited, q2)) continue;
    ++mutated_fast;
    auto g2 = detail::parseAnyRecord(edited);
    ASSERT_TRUE(g2.ok()) << "the fast reader took what the parser refuses (" << g2.error().message
                         << "):\n"
                         << edited;
    ASSERT_EQ(q2.seq, g2->seq) << edited;
    ASSERT_EQ(q2.event, g2->event) << edited;
  }
  EXPECT_EQ(fast, 8000u);
  // Edits inside string values keep the form: both readers take them.
  EXPECT_GT(mutated_fast, 2000u);
}

using testing::replaceFirst;

TEST(CanonicalJson, FastReaderLeavesOtherFormsToTheGeneralParser) {
  const AuditEvent e = testing::statement(1);
  const std::string good = canonicalJson(e, 1);
  ParsedRecord out;
  ASSERT_TRUE(detail::readCanonicalRecord(good, out));
  // The same record to a JSON library, not in canonical bytes: spacing,
  // a trailing newline, another key order.
  nlohmann::ordered_json reordered;
  const nlohmann::json j = nlohmann::json::parse(good);
  for (auto it = j.rbegin(); it != j.rend(); ++it) reordered[it.key()] = it.value();
  const std::string others[] = {
      j.dump(2),
      good + "\n",
      reordered.dump(),
  };
  for (const std::string& text : others) {
    EXPECT_FALSE(detail::readCanonicalRecord(text, out)) << text;
    auto r = parseRecord(text);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->event, e) << text;
  }
  // Escapes the writer does not use: \u of an ASCII character is read
  // here, past ASCII (and surrogate pairs) by the parser.
  const std::pair<std::string, std::string> escapes[] = {
      {R"(\u003a)", ":"}, {R"(\u00e9)", "é"}, {R"(\ud834\udd1e)", "𝄞"}};
  for (const auto& [escape, text] : escapes) {
    const std::string json = replaceFirst(good, R"("statement":")", R"("statement":")" + escape);
    EXPECT_EQ(detail::readCanonicalRecord(json, out), text == ":") << escape;
    auto r = parseRecord(json);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->event.statement, text + e.statement);
  }
}

/// An event with every member of the canonical form away from its default,
/// found from the keys of a record: a member added later is covered too.
AuditEvent everyMemberSet() {
  nlohmann::json j = nlohmann::json::parse(canonicalJson(AuditEvent{}, 1));
  for (auto& [key, value] : j.items()) {
    if (value.is_string()) {
      value = key + "-set";
    } else if (value.is_boolean()) {
      value = !value.get<bool>();
    } else if (value.is_number()) {
      value = 12345;
    } else if (key == "masked") {
      value = nlohmann::json::array({{{"cells", 1}, {"column", "c"}, {"rule", "r"}}});
    } else {
      value = nlohmann::json::array({key + "-item"});
    }
  }
  j["type"] = "connect";  // a known type, not the default one
  auto parsed = parseRecord(j.dump());
  if (!parsed) throw std::runtime_error(parsed.error().message);
  return parsed->event;
}

const std::set<std::string> kSessionMembers = {
    "gateway_id",     "session_id",  "subject_id",     "subject_groups",
    "subject_issuer", "auth_method", "client_address", "tls",
    "tls_version",    "connection",  "upstream_role"};

TEST(SessionMembers, KeepSessionMembersResetsEveryOtherMember) {
  // A session reuses an event for its next statement: what the last
  // statement set must not show up in the next record.
  const AuditEvent full = everyMemberSet();
  AuditEvent kept = full;
  kept.statement.assign(500, 'x');  // memory the reset keeps
  keepSessionMembers(kept);
  const auto record = nlohmann::json::parse(canonicalJson(kept, 1));
  const auto set = nlohmann::json::parse(canonicalJson(full, 1));
  const auto fresh = nlohmann::json::parse(canonicalJson(AuditEvent{}, 1));
  for (const auto& member : kSessionMembers) EXPECT_TRUE(record.contains(member)) << member;
  for (const auto& [key, value] : record.items()) {
    if (key == "seq") continue;
    ASSERT_NE(set[key], fresh[key]) << key << " was not set by the test";
    if (kSessionMembers.count(key) != 0) {
      EXPECT_EQ(value, set[key]) << key;
    } else {
      EXPECT_EQ(value, fresh[key]) << key;
    }
  }
}

TEST(SessionMembers, RenderingWithATemplateGivesTheSameBytes) {
  // Session members that need escaping, of every event type, for a gateway
  // id that needs escaping too.
  for (int t = 0; t <= static_cast<int>(EventType::Anchor); ++t) {
    AuditEvent e = testing::statement(t);
    e.type = static_cast<EventType>(t);
    e.subject_id = "al\"ice \xff\n";
    e.subject_groups =
        t % 2 == 0 ? std::vector<std::string>{"a\\b", ""} : std::vector<std::string>{};
    e.subject_issuer = "https://idp.example.com/é";
    e.client_address = "[::1]:5432";
    e.tls = t % 2 == 0;
    e.tls_version = e.tls ? "TLSv1.3" : "";
    e.upstream_role = "agent\x01ro";
    e.session_id = UINT64_MAX - static_cast<uint64_t>(t);
    e.reason = "reason " + std::to_string(t);
    const SessionTemplate members(e, "gw\"1");
    EXPECT_TRUE(members.matches(e));
    RenderedEvent with;
    RenderedEvent without;
    renderEvent(e, members, with);
    renderEvent(e, "gw\"1", without);
    EXPECT_EQ(with.json, without.json) << toString(e.type);
    EXPECT_EQ(with.seq_at, without.seq_at);
    EXPECT_EQ(with.subject, without.subject);
    EXPECT_EQ(with.session_id, without.session_id);
    std::string record;
    appendRecord(record, with, 3);
    e.gateway_id = "gw\"1";
    EXPECT_EQ(record, canonicalJson(e, 3));
  }
}

TEST(SessionMembers, ATemplateMatchesOnlyItsOwnSessionMembers) {
  const AuditEvent e = testing::statement(1);
  const SessionTemplate members(e, "gw");
  AuditEvent other = e;
  other.statement = "another statement";
  other.rows = 99;
  EXPECT_TRUE(members.matches(other));  // statement members may differ
  for (auto change : std::vector<std::function<void(AuditEvent&)>>{
           [](AuditEvent& x) { x.subject_id = "mallory"; },
           [](AuditEvent& x) { x.subject_groups.emplace_back("admins"); },
           [](AuditEvent& x) { x.upstream_role = "postgres"; },
           [](AuditEvent& x) { x.tls = !x.tls; }, [](AuditEvent& x) { x.session_id += 1; }}) {
    AuditEvent changed = e;
    change(changed);
    EXPECT_FALSE(members.matches(changed));
  }
}

}  // namespace
}  // namespace pgw::audit
