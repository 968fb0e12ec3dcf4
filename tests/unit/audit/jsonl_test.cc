/// The JSON Lines sink: line format, rotation by size with `keep` files,
/// verify across rotated files, a crash's partial line, a file that cannot
/// grow (RLIMIT_FSIZE: works even as root), and catching up a sink that fell
/// behind another.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>

#include "audit/store.h"
#include "test_util.h"

namespace pgw::audit {
namespace {

using testing::TempDir;

VerifyResult verifyFile(const std::string& path, const std::string& gw = "gw-test") {
  auto store = Store::openJsonl(path);
  EXPECT_TRUE(store.ok()) << store.error().message;
  auto r = (*store)->verify(gw, nullptr);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return *r;
}

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

void writeLines(const std::string& path, const std::vector<std::string>& ls) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : ls) out << l << "\n";
}

TEST(JsonlSink, OneLinePerRecordThatRoundTrips) {
  TempDir dir;
  const std::string path = dir.file("logs/audit.jsonl");
  {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::jsonlSink(path));
    auto log = testing::openLog(testing::fastOptions(), std::move(sinks));
    testing::writeEvents(*log, 3);
  }
  auto ls = lines(path);
  ASSERT_EQ(ls.size(), 3u);
  EXPECT_EQ(ls[0].rfind("{\"hash\":\"", 0), 0u);
  StoredRecord r;
  ASSERT_TRUE(JsonlSink::parseLine(ls[1], r));
  EXPECT_EQ(r.seq, 2u);
  std::string again;
  JsonlSink::appendLine(again, r);
  EXPECT_EQ(again, ls[1]);
  EXPECT_TRUE(verifyFile(path).ok);
}

TEST(JsonlSink, RotatesBySizeKeepsNFilesAndVerifiesAcrossThem) {
  TempDir dir;
  const std::string path = dir.file("audit.jsonl");
  {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::jsonlSink(path, /*max_size=*/8 * 1024, /*keep=*/3));
    AuditLog::Options o = testing::fastOptions();
    o.batch = 4;
    auto log = testing::openLog(o, std::move(sinks));
    for (int i = 0; i < 20; ++i) testing::writeEvents(*log, 4, i * 4);  // 20 batches
  }
  const auto files = JsonlSink::files(path);
  ASSERT_EQ(files.size(), 4u);  // audit.jsonl.3, .2, .1, audit.jsonl
  EXPECT_EQ(files.back(), path);
  for (const auto& f : files) EXPECT_LE(std::filesystem::file_size(f), 8u * 1024) << f;

  auto r = verifyFile(path);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.last_seq, 80u);
  EXPECT_GT(r.first_seq, 1u);  // the oldest files were rotated away
  EXPECT_NE(r.note.find("rotated"), std::string::npos);

  // An edit in a rotated file is found at its record.
  auto middle = lines(files[1]);
  StoredRecord victim;
  ASSERT_TRUE(JsonlSink::parseLine(middle[2], victim));
  const size_t at = middle[2].find("\"subject_id\":\"");
  middle[2].replace(at, 15, "\"subject_id\":\"x");
  writeLines(files[1], middle);
  r = verifyFile(path);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, victim.seq) << r.problem;
}

TEST(JsonlSink, APartialLastLineFromACrashIsDroppedAndTheChainContinues) {
  TempDir dir;
  const std::string path = dir.file("audit.jsonl");
  {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::jsonlSink(path));
    auto log = testing::openLog(testing::fastOptions(), std::move(sinks));
    testing::writeEvents(*log, 4);
  }
  {
    std::ofstream out(path, std::ios::app);
    out << "{\"hash\":\"0123";  // the crash
  }
  {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::jsonlSink(path));
    auto log = testing::openLog(testing::fastOptions(), std::move(sinks));
    testing::writeEvents(*log, 2, 4);
  }
  auto r = verifyFile(path);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 6u);
  EXPECT_EQ(r.first_seq, 1u);
}

TEST(JsonlSink, AFileThatCannotGrowIsRetriedAndNothingIsLost) {
  TempDir dir;
  const std::string path = dir.file("audit.jsonl");
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(testing::jsonlSink(path));
  auto log = testing::openLog(testing::fastOptions(), std::move(sinks));
  testing::writeEvents(*log, 2);

  // The file may not grow past its size now: writes fail with EFBIG.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_action {};
  sigaction(SIGXFSZ, &ignore, &old_action);
  rlimit old_limit{};
  getrlimit(RLIMIT_FSIZE, &old_limit);
  rlimit limit = old_limit;
  limit.rlim_cur = std::filesystem::file_size(path);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);

  for (int i = 2; i < 7; ++i) {
    ASSERT_TRUE(log->tryReserve());
    log->submit(testing::statement(i));
  }
  const bool flushed = log->flushFor(std::chrono::milliseconds(300));
  auto s = log->stats();
  const size_t lines_while_full = lines(path).size();  // before the writer can retry
  setrlimit(RLIMIT_FSIZE, &old_limit);
  sigaction(SIGXFSZ, &old_action, nullptr);
  EXPECT_FALSE(flushed);
  EXPECT_GT(s.sink_errors, 0u);
  EXPECT_EQ(s.failing_sinks, 1u);
  EXPECT_EQ(s.queue_depth, 5u);
  EXPECT_NE(s.last_error.find("too large"), std::string::npos) << s.last_error;
  EXPECT_EQ(lines_while_full, 2u);  // the failed batch left no partial line

  log->flush();
  s = log->stats();
  EXPECT_EQ(s.failing_sinks, 0u);
  EXPECT_EQ(s.events_written, 7u);
  auto r = verifyFile(path);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 7u);
}

TEST(JsonlSink, ASinkThatFellBehindIsCaughtUpAtStart) {
  TempDir dir;
  const std::string db = dir.file("audit.db");
  const std::string path = dir.file("audit.jsonl");
  auto both = [&] {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::sqliteSink(db));
    sinks.push_back(testing::jsonlSink(path));
    return testing::openLog(testing::fastOptions(), std::move(sinks));
  };
  testing::writeEvents(*both(), 10);
  // A crash after the SQLite commit, before the JSON Lines write.
  auto ls = lines(path);
  ls.resize(7);
  writeLines(path, ls);

  testing::writeEvents(*both(), 3, 10);
  auto r = verifyFile(path);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.first_seq, 1u);
  EXPECT_EQ(r.last_seq, 13u);
  auto store = Store::openSqlite(db);
  EXPECT_EQ((*store)->verify("gw-test", nullptr)->last_seq, 13u);
}

TEST(JsonlSink, ASinkAddedLaterJoinsTheChainWithAnAttestedAnchor) {
  TempDir dir;
  const std::string db = dir.file("audit.db");
  const std::string path = dir.file("audit.jsonl");
  {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::jsonlSink(path));
    testing::writeEvents(*testing::openLog(testing::fastOptions(), std::move(sinks)), 5);
  }
  {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::jsonlSink(path));
    sinks.push_back(testing::sqliteSink(db));
    testing::writeEvents(*testing::openLog(testing::fastOptions(), std::move(sinks)), 2, 5);
  }
  auto store = Store::openSqlite(db);
  auto r = (*store)->verify("gw-test", nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << r->problem;
  EXPECT_EQ(r->first_seq, 6u);  // the anchor record, then the two events
  EXPECT_EQ(r->last_seq, 8u);
  EXPECT_TRUE(verifyFile(path).ok);
}

}  // namespace
}  // namespace pgw::audit
