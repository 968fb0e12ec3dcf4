/// The queue in front of the writer: reservations, a full queue (reject,
/// or wait for room with whenRoom), unreserved session events, flush, and a
/// failing sink that holds events instead of dropping them.

#include "audit/audit_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "test_util.h"

namespace pgw::audit {
namespace {

using namespace std::chrono_literals;

/// Records in memory; writes wait while `closed` and fail while `failing`.
struct MemoryState {
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
  bool failing = false;
  int writes = 0;
  std::vector<StoredRecord> rows;
};

class MemorySink final : public Sink {
 public:
  explicit MemorySink(std::shared_ptr<MemoryState> st) : st_(std::move(st)) {}
  const std::string& describe() const override { return name_; }
  Result<ChainHead> head(const std::string&) override {
    std::lock_guard lock(st_->mu);
    if (st_->rows.empty()) return ChainHead{};
    return ChainHead{st_->rows.back().seq, st_->rows.back().hash, false};
  }
  Status write(std::span<const StoredRecord> batch) override {
    std::unique_lock lock(st_->mu);
    st_->cv.wait(lock, [&] { return !st_->closed; });
    ++st_->writes;
    if (st_->failing) return fail("", "memory sink: injected failure");
    st_->rows.insert(st_->rows.end(), batch.begin(), batch.end());
    return {};
  }
  Result<std::vector<StoredRecord>> readAfter(const std::string&, uint64_t seq,
                                              size_t limit) override {
    std::lock_guard lock(st_->mu);
    std::vector<StoredRecord> out;
    for (const auto& r : st_->rows) {
      if (r.seq > seq && out.size() < limit) out.push_back(r);
    }
    return out;
  }

 private:
  std::shared_ptr<MemoryState> st_;
  std::string name_ = "memory";
};

std::unique_ptr<AuditLog> memoryLog(std::shared_ptr<MemoryState> st, size_t queue) {
  AuditLog::Options o = testing::fastOptions();
  o.queue = queue;
  o.batch = std::min<size_t>(queue, 64);
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::make_unique<MemorySink>(std::move(st)));
  return testing::openLog(o, std::move(sinks));
}

void setClosed(MemoryState& st, bool closed) {
  {
    std::lock_guard lock(st.mu);
    st.closed = closed;
  }
  st.cv.notify_all();
}

TEST(AuditLog, AFullQueueRefusesReservationsUntilEventsAreDurable) {
  auto st = std::make_shared<MemoryState>();
  setClosed(*st, true);
  auto log = memoryLog(st, 4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(log->tryReserve()) << i;
  EXPECT_FALSE(log->tryReserve());  // reject: the session answers with an error
  for (int i = 0; i < 4; ++i) log->submit(testing::statement(i));
  EXPECT_FALSE(log->tryReserve());  // queued but not durable: still full
  EXPECT_EQ(log->stats().queue_depth, 4u);

  setClosed(*st, false);
  log->flush();
  EXPECT_TRUE(log->tryReserve());
  EXPECT_EQ(log->stats().events_written, 4u);
  EXPECT_EQ(st->rows.size(), 4u);
}

TEST(AuditLog, EventsArrivingWithinTheFlushIntervalShareOneTransaction) {
  auto st = std::make_shared<MemoryState>();
  AuditLog::Options o = testing::fastOptions();
  o.batch = 64;
  o.flush_interval = 300ms;
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::make_unique<MemorySink>(st));
  auto log = testing::openLog(o, std::move(sinks));
  const int before = [&] {
    std::lock_guard lock(st->mu);
    return st->writes;
  }();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(log->tryReserve());
    log->submit(testing::statement(i));
  }
  // Written together once the interval is over, without a flush.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (log->stats().events_written < 10 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(log->stats().events_written, 10u);
  {
    std::lock_guard lock(st->mu);
    EXPECT_EQ(st->writes - before, 1);
    EXPECT_EQ(st->rows.size(), 10u);
  }
  // A full batch does not wait for the interval; flush() does not either.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(log->tryReserve());
    log->submit(testing::statement(i));
  }
  ASSERT_TRUE(log->tryReserve());
  log->submit(testing::statement(64));
  log->flush();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 250ms);
  EXPECT_EQ(log->stats().events_written, 75u);
}

TEST(AuditLog, TicketsBecomeDurableInOrderAndWakeTheirWaiters) {
  auto st = std::make_shared<MemoryState>();
  setClosed(*st, true);
  auto log = memoryLog(st, 16);
  std::vector<AuditLog::Ticket> tickets;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(log->tryReserve());
    tickets.push_back(log->submit(testing::statement(i)));
  }
  tickets.push_back(log->submitUnreserved(testing::statement(3)));
  EXPECT_EQ(tickets, (std::vector<AuditLog::Ticket>{1, 2, 3, 4}));
  EXPECT_FALSE(log->durable(1));
  std::mutex mu;
  std::condition_variable cv;
  std::vector<AuditLog::Ticket> woken;
  for (AuditLog::Ticket t : {4, 2}) {
    log->whenDurable(t, [&, t] {
      std::lock_guard lock(mu);
      woken.push_back(t);
      cv.notify_all();
    });
  }
  std::this_thread::sleep_for(50ms);
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(woken.empty()) << "nothing is durable while the sink is closed";
  }
  setClosed(*st, false);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return woken.size() == 2; }));
  }
  EXPECT_TRUE(log->durable(4));
  // Already durable: called at once, on this thread.
  bool now = false;
  log->whenDurable(3, [&] { now = true; });
  EXPECT_TRUE(now);
}

TEST(AuditLog, WhenRoomCallsBackOnceASlotFrees) {
  auto st = std::make_shared<MemoryState>();
  setClosed(*st, true);
  auto log = memoryLog(st, 2);
  ASSERT_TRUE(log->tryReserve());
  ASSERT_TRUE(log->tryReserve());
  log->submit(testing::statement(0));
  log->submit(testing::statement(1));

  std::mutex mu;
  std::condition_variable cv;
  bool called = false;
  std::thread::id called_on;
  log->whenRoom([&] {
    std::lock_guard lock(mu);
    called = true;
    called_on = std::this_thread::get_id();
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    EXPECT_FALSE(cv.wait_for(lock, 50ms, [&] { return called; }));  // still full
  }
  setClosed(*st, false);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return called; }));
  }
  EXPECT_NE(called_on, std::this_thread::get_id());  // the writer thread
  EXPECT_TRUE(log->tryReserve());                    // the retry a blocked session makes
}

TEST(AuditLog, WhenRoomWithRoomAlreadyCallsBackPromptly) {
  auto st = std::make_shared<MemoryState>();
  auto log = memoryLog(st, 2);
  std::atomic<bool> called{false};
  log->whenRoom([&] { called = true; });
  for (int i = 0; i < 500 && !called; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(called);
}

TEST(AuditLog, UnreservedEventsAreAcceptedPastCapacity) {
  auto st = std::make_shared<MemoryState>();
  setClosed(*st, true);
  auto log = memoryLog(st, 2);
  ASSERT_TRUE(log->tryReserve());
  ASSERT_TRUE(log->tryReserve());
  AuditEvent disconnect;
  disconnect.type = EventType::Disconnect;
  disconnect.reason = "client closed the connection";
  log->submitUnreserved(disconnect);  // a session ending while the queue is full
  log->submitUnreserved(disconnect);
  EXPECT_EQ(log->stats().queue_depth, 4u);
  log->submit(testing::statement(0));
  log->submit(testing::statement(1));
  setClosed(*st, false);
  log->flush();
  EXPECT_EQ(st->rows.size(), 4u);
  EXPECT_EQ(log->stats().queue_depth, 0u);
}

TEST(AuditLog, AFailingSinkHoldsEventsAndWritesThemInOrderOnceItRecovers) {
  auto st = std::make_shared<MemoryState>();
  st->failing = true;
  auto log = memoryLog(st, 100);
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(log->tryReserve());
    log->submit(testing::statement(i));
  }
  EXPECT_FALSE(log->flushFor(100ms));
  auto s = log->stats();
  EXPECT_GT(s.sink_errors, 0u);
  EXPECT_EQ(s.failing_sinks, 1u);
  EXPECT_EQ(s.queue_depth, 30u);
  EXPECT_EQ(s.events_written, 0u);
  EXPECT_EQ(s.last_error, "memory sink: injected failure");

  {
    std::lock_guard lock(st->mu);
    st->failing = false;
  }
  log->flush();
  s = log->stats();
  EXPECT_EQ(s.failing_sinks, 0u);
  EXPECT_EQ(s.events_written, 30u);
  EXPECT_EQ(s.last_seq, 30u);

  ChainVerifier v("gw-test", ChainAnchor{}, nullptr);
  for (const auto& r : st->rows) EXPECT_TRUE(v.add(r));
  auto r = v.finish();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 30u);
}

TEST(AuditLog, ManyThreadsSubmittingGiveOneContiguousChain) {
  auto st = std::make_shared<MemoryState>();
  auto log = memoryLog(st, 256);
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  std::vector<AuditLog::Ticket> last(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        while (!log->tryReserve()) {
          ++refused;
          std::this_thread::yield();
        }
        AuditEvent e = testing::statement(i);
        e.session_id = static_cast<uint64_t>(t);
        const AuditLog::Ticket ticket = log->submit(std::move(e));
        EXPECT_GT(ticket, last[static_cast<size_t>(t)]);
        last[static_cast<size_t>(t)] = ticket;
        // Now and then a thread waits for its event by polling durable(),
        // which (unlike whenDurable or flush) never wakes the writer: the
        // writer, idle meanwhile, must have been woken by the submits.
        if (i % 100 == 99) {
          const auto deadline = std::chrono::steady_clock::now() + 5s;
          while (!log->durable(ticket) && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(1ms);
          }
          EXPECT_TRUE(log->durable(ticket));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (AuditLog::Ticket t : last) EXPECT_TRUE(log->durable(t));
  log->flush();
  ASSERT_EQ(st->rows.size(), 2000u);
  ChainVerifier v("gw-test", ChainAnchor{}, nullptr);
  // Each thread's events keep the order it submitted them in.
  std::vector<int64_t> next(4, 0);
  for (const auto& r : st->rows) {
    ASSERT_TRUE(v.add(r));
    auto parsed = parseRecord(r.record);
    ASSERT_TRUE(parsed);
    const auto t = static_cast<size_t>(parsed->event.session_id);
    ASSERT_LT(t, next.size());
    EXPECT_EQ(parsed->event.rows, next[t]) << "thread " << t;
    next[t] = parsed->event.rows + 1;
  }
  EXPECT_TRUE(v.finish().ok);
}

TEST(AuditLog, TwoLogsFedFromOneThreadEachKeepTheirOwnRecords) {
  // submit() renders into a buffer of the calling thread and swaps in one
  // its log is done with: records must not cross between logs.
  auto a = std::make_shared<MemoryState>();
  auto b = std::make_shared<MemoryState>();
  auto options = [](const std::string& gw) {
    AuditLog::Options o = testing::fastOptions(gw);
    o.batch = 8;
    return o;
  };
  std::vector<std::unique_ptr<Sink>> sa;
  sa.push_back(std::make_unique<MemorySink>(a));
  std::vector<std::unique_ptr<Sink>> sb;
  sb.push_back(std::make_unique<MemorySink>(b));
  auto log_a = testing::openLog(options("gw-a"), std::move(sa));
  auto log_b = testing::openLog(options("gw-b"), std::move(sb));
  for (int i = 0; i < 100; ++i) {
    AuditEvent e = testing::statement(i);
    e.gateway_id = "set-by-the-caller";  // the log records its own id
    e.subject_id = "for-a-" + std::to_string(i);
    ASSERT_TRUE(log_a->tryReserve());
    log_a->submit(e);
    e.subject_id = "for-b-" + std::to_string(i) + std::string(static_cast<size_t>(i), 'x');
    ASSERT_TRUE(log_b->tryReserve());
    log_b->submit(e);
  }
  log_a->flush();
  log_b->flush();
  for (const auto& [st, gw, prefix] :
       {std::tuple{a.get(), "gw-a", "for-a-"}, std::tuple{b.get(), "gw-b", "for-b-"}}) {
    ASSERT_EQ(st->rows.size(), 100u) << gw;
    ChainVerifier v(gw, ChainAnchor{}, nullptr);
    for (size_t i = 0; i < st->rows.size(); ++i) {
      const StoredRecord& r = st->rows[i];
      ASSERT_TRUE(v.add(r)) << gw << " record " << r.seq;
      EXPECT_EQ(r.gateway_id, gw);
      EXPECT_EQ(r.subject.rfind(prefix + std::to_string(i), 0), 0u) << r.subject;
      auto parsed = parseRecord(r.record);
      ASSERT_TRUE(parsed.ok());
      EXPECT_EQ(parsed->event.gateway_id, gw);
      EXPECT_EQ(parsed->event.subject_id, r.subject);
    }
    EXPECT_TRUE(v.finish().ok) << gw;
  }
}

TEST(AuditLog, ASessionTemplateOfAnotherGatewayIsNotUsed) {
  // A session keeps its template across a reload that may swap the log for
  // one with another gateway id: records still carry the log's own id.
  auto state = std::make_shared<MemoryState>();
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::make_unique<MemorySink>(state));
  auto log = testing::openLog(testing::fastOptions("gw-now"), std::move(sinks));
  const AuditEvent e = testing::statement(2);
  const SessionTemplate before_reload(e, "gw-before");
  const SessionTemplate current(e, "gw-now");
  ASSERT_TRUE(log->tryReserve());
  log->submit(e, &before_reload);
  ASSERT_TRUE(log->tryReserve());
  log->submit(e, &current);
  log->flush();
  ASSERT_EQ(state->rows.size(), 2u);
  for (const StoredRecord& r : state->rows) {
    auto parsed = parseRecord(r.record);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->event.gateway_id, "gw-now");
    AuditEvent expected = e;
    expected.gateway_id = "gw-now";
    EXPECT_EQ(r.record, canonicalJson(expected, r.seq));
  }
}

TEST(AuditLog, OpenFromConfigCreatesTheDefaultSqliteSink) {
  testing::TempDir dir;
  config::AuditConfig c;
  config::AuditSinkConfig sqlite;
  sqlite.path = dir.file("data/audit.db");
  c.sinks.push_back(sqlite);
  c.gateway_id = "gw-conf";
  c.on_full = config::AuditOnFull::Reject;
  auto log = AuditLog::open(c);
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ((*log)->onFull(), AuditLog::OnFull::Reject);
  EXPECT_EQ((*log)->gatewayId(), "gw-conf");
  EXPECT_TRUE(std::filesystem::exists(sqlite.path));

  c.enabled = false;
  EXPECT_FALSE(AuditLog::open(c).ok());
}

}  // namespace
}  // namespace pgw::audit
