#include "audit/audit_log.h"

#include <fmt/format.h>

#include <algorithm>

#include "audit/jsonl_sink.h"
#include "audit/postgres_sink.h"
#include "audit/sqlite_sink.h"
#include "common/log.h"

namespace pgw::audit {
namespace {

using Clock = std::chrono::steady_clock;

/// Records copied per step when a sink that fell behind is caught up.
constexpr size_t kCatchUpChunk = 1000;

Result<std::unique_ptr<Sink>> openSink(const config::AuditSinkConfig& c) {
  switch (c.type) {
    case config::AuditSinkConfig::Type::Sqlite: {
      auto s = SqliteSink::open(c.path, c.compression == config::AuditSinkConfig::Compression::None
                                            ? SegmentCompression::None
                                            : SegmentCompression::Zstd);
      if (!s) return s.takeError();
      return std::unique_ptr<Sink>(std::move(*s));
    }
    case config::AuditSinkConfig::Type::Jsonl: {
      auto s = JsonlSink::open(c.path, c.max_size, c.keep);
      if (!s) return s.takeError();
      return std::unique_ptr<Sink>(std::move(*s));
    }
    case config::AuditSinkConfig::Type::Postgres: {
      auto s = PostgresSink::open(c.dsn.reveal(), c.password.reveal(), c.table);
      if (!s) return s.takeError();
      return std::unique_ptr<Sink>(std::move(*s));
    }
  }
  return fail("", "unknown audit sink type");
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::open(const config::AuditConfig& config) {
  if (!config.enabled) return fail("", "audit is disabled (audit.enabled: false)");
  Options o;
  o.gateway_id = config.gateway_id;
  o.queue = config.queue;
  o.batch = config.batch;
  o.flush_interval = config.flush_interval;
  o.on_full = config.on_full == config::AuditOnFull::Reject ? OnFull::Reject : OnFull::Block;
  o.retention = config.retention;
  if (config.checkpoint) {
    auto key = SigningKey::loadPrivate(config.checkpoint->key_file);
    if (!key) {
      return fail("", fmt::format("audit.checkpoint.key: {}", key.error().message));
    }
    o.checkpoint_key = std::move(*key);
    o.checkpoint_every = config.checkpoint->every;
    o.checkpoint_interval = config.checkpoint->interval;
  }
  std::vector<std::unique_ptr<Sink>> sinks;
  for (const auto& c : config.sinks) {
    auto s = openSink(c);
    if (!s) return s.takeError();
    sinks.push_back(std::move(*s));
  }
  return open(std::move(o), std::move(sinks));
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(Options options,
                                                 std::vector<std::unique_ptr<Sink>> sinks) {
  if (sinks.empty()) return fail("", "audit: no sink configured");
  if (options.gateway_id.empty()) return fail("", "audit: the gateway id is empty");
  options.queue = std::max<size_t>(options.queue, 1);
  options.batch = std::clamp<size_t>(options.batch, 1, options.queue);
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(options), std::move(sinks)));
  if (auto st = log->start(); !st) return st.takeError();
  return log;
}

AuditLog::AuditLog(Options options, std::vector<std::unique_ptr<Sink>> sinks)
    : options_(std::move(options)) {
  for (auto& s : sinks) sinks_.push_back(SinkState{std::move(s)});
  stats_.queue_capacity = options_.queue;
}

/// Finds where the chain ends, brings every sink to that point, and starts
/// the writer. Runs before the writer exists, so it may use writer state.
Status AuditLog::start() {
  const std::string& gw = options_.gateway_id;
  std::vector<ChainHead> heads;
  size_t leader = 0;
  for (size_t i = 0; i < sinks_.size(); ++i) {
    auto h = sinks_[i].sink->head(gw);
    if (!h) return h.takeError();
    heads.push_back(*h);
    if (h->seq > heads[leader].seq) leader = i;
  }
  head_seq_ = heads[leader].seq;
  head_hash_ = heads[leader].hash;

  for (size_t i = 0; i < sinks_.size(); ++i) {
    SinkState& s = sinks_[i];
    const ChainHead& h = heads[i];
    if (h.empty && head_seq_ > 0) {
      // A sink added to an existing chain starts after its current head; the
      // anchor record written first says so in every sink.
      AuditEvent e;
      e.type = EventType::Anchor;
      e.time = nowUs();
      e.reason = "sink_joined";
      e.detail = s.sink->describe();
      e.anchor_seq = head_seq_;
      e.anchor_hash = head_hash_;
      joined_.push_back(std::move(e));
      s.acked = head_seq_;
      continue;
    }
    // Catch up a sink that fell behind (a crash between two sinks' writes).
    uint64_t at = h.seq;
    std::string at_hash = h.hash;
    while (at < head_seq_) {
      auto rows = sinks_[leader].sink->readAfter(gw, at, kCatchUpChunk);
      if (!rows) return rows.takeError();
      if (rows->empty() || rows->front().seq != at + 1 || rows->front().prev != at_hash) {
        return fail("", fmt::format("audit: sink {} ends at record {} but {} cannot supply the "
                                    "records after it; run `pgwarden audit verify` on both and "
                                    "move the one that is behind aside",
                                    s.sink->describe(), at, sinks_[leader].sink->describe()));
      }
      if (auto st = s.sink->write(*rows); !st) return st.takeError();
      at = rows->back().seq;
      at_hash = rows->back().hash;
      log::warn("audit: sink {} was behind; copied records up to {} from {}", s.sink->describe(),
                at, sinks_[leader].sink->describe());
    }
    if (at_hash != head_hash_) {
      return fail("", fmt::format("audit: sinks {} and {} hold different chains for gateway '{}' "
                                  "at record {}; give each gateway its own gateway_id, or move "
                                  "one of the files aside",
                                  s.sink->describe(), sinks_[leader].sink->describe(), gw, at));
    }
    s.acked = head_seq_;
  }
  stats_.last_seq = head_seq_;
  const auto now = Clock::now();
  checkpoint_due_ = now + options_.checkpoint_interval;
  prune_due_ = now;  // first retention pass at start
  writer_ = std::thread([this] { run(); });
  return {};
}

AuditLog::~AuditLog() {
  if (!flushFor(options_.shutdown_wait)) {
    const Stats s = stats();
    log::error("audit: stopping with {} events not written to every sink: {}", s.queue_depth,
               s.last_error);
  }
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

bool AuditLog::tryReserve() {
  size_t n = in_flight_.load(std::memory_order_relaxed);
  do {
    if (n >= options_.queue || stop_.load(std::memory_order_relaxed)) return false;
  } while (!in_flight_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel));
  return true;
}

void AuditLog::whenRoom(std::function<void()> callback) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    waiters_.push_back(std::move(callback));
  }
  wake_.notify_one();
}

AuditLog::Ticket AuditLog::submit(const AuditEvent& event, const SessionTemplate* session) {
  // Rendered into this thread's buffer before the lock is taken; a buffer
  // the writer is done with takes its place for the next event.
  thread_local RenderedEvent rendered;
  if (session != nullptr && session->gatewayId() == options_.gateway_id) {
    renderEvent(event, *session, rendered);
  } else {
    renderEvent(event, options_.gateway_id, rendered);
  }
  bool wake = false;
  Ticket ticket = 0;
  {
    std::lock_guard lock(mu_);
    incoming_.push_back(std::move(rendered));
    if (!free_rendered_.empty()) {
      rendered = std::move(free_rendered_.back());
      free_rendered_.pop_back();
    }
    incoming_user_.push_back(true);
    busy_ = true;
    ticket = ++submitted_;
    wake = wakesWriter();
  }
  if (wake) wake_.notify_one();
  return ticket;
}

AuditLog::Ticket AuditLog::submitUnreserved(const AuditEvent& event,
                                            const SessionTemplate* session) {
  // Always admitted: the reservation is taken here, past the capacity.
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  return submit(event, session);
}

bool AuditLog::durable(Ticket ticket) const {
  std::lock_guard lock(mu_);
  return durable_ >= ticket;
}

void AuditLog::whenDurable(Ticket ticket, std::function<void()> callback) {
  {
    std::lock_guard lock(mu_);
    if (durable_ < ticket) {
      if (stop_) return;
      durable_waiters_.emplace(ticket, std::move(callback));
      callback = nullptr;
    }
  }
  if (callback) {
    callback();
  } else {
    wake_.notify_one();
  }
}

bool AuditLog::wakesWriter() const {
  // The first event of a round starts the writer's gathering; a full batch
  // or a waiting flush() ends it. Between them the writer sleeps.
  return incoming_.size() == 1 || incoming_.size() >= options_.batch || flushers_ > 0 ||
         !durable_waiters_.empty();
}

void AuditLog::flush() {
  std::unique_lock lock(mu_);
  ++flushers_;
  wake_.notify_one();
  durable_cv_.wait(lock, [&] { return !busy_ && incoming_.empty(); });
  --flushers_;
}

bool AuditLog::flushFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  ++flushers_;
  wake_.notify_one();
  const bool done =
      durable_cv_.wait_for(lock, timeout, [&] { return !busy_ && incoming_.empty(); });
  --flushers_;
  return done;
}

AuditLog::Stats AuditLog::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.queue_depth = in_flight_;
  return s;
}

void AuditLog::sealEvent(const AuditEvent& event) {
  RenderedEvent rendered;
  renderEvent(event, options_.gateway_id, rendered);
  seal(rendered, false);
}

void AuditLog::seal(const RenderedEvent& event, bool user) {
  // A row written earlier lends its strings' memory to this one.
  if (!free_rows_.empty()) {
    pending_.push_back(std::move(free_rows_.back()));
    free_rows_.pop_back();
  } else {
    pending_.emplace_back();
  }
  StoredRecord& row = pending_.back();
  sealInto(row, event, options_.gateway_id, head_seq_ + 1, head_hash_);
  head_seq_ = row.seq;
  head_hash_.assign(row.hash);
  if (event.type != EventType::Checkpoint) ++since_checkpoint_;
  pending_user_.push_back(user);
}

void AuditLog::maybeCheckpoint(Clock::time_point now) {
  if (!options_.checkpoint_key || since_checkpoint_ == 0) return;
  if (since_checkpoint_ < options_.checkpoint_every && now < checkpoint_due_) return;
  AuditEvent e;
  e.type = EventType::Checkpoint;
  e.time = nowUs();
  e.anchor_seq = head_seq_;
  e.anchor_hash = head_hash_;
  auto sig =
      options_.checkpoint_key->sign(checkpointMessage(options_.gateway_id, head_seq_, head_hash_));
  if (!sig) {
    log::error("audit: {}", sig.error().message);
    return;
  }
  e.signature = std::move(*sig);
  sealEvent(e);
  since_checkpoint_ = 0;
  checkpoint_due_ = now + options_.checkpoint_interval;
}

void AuditLog::maybePrune(Clock::time_point now) {
  if (options_.retention.count() == 0 || now < prune_due_) return;
  prune_due_ = now + options_.retention_check;
  const int64_t cutoff =
      (nowUs() - std::chrono::duration_cast<std::chrono::microseconds>(options_.retention))
          .time_since_epoch()
          .count();
  for (SinkState& s : sinks_) {
    if (s.failing) continue;
    auto k = s.sink->pruneCandidate(options_.gateway_id, cutoff, options_.prune_chunk);
    if (!k) {
      log::warn("audit: retention: {}", k.error().message);
      continue;
    }
    if (!*k) continue;
    // The anchor record attests the new start of the chain; every sink that
    // keeps records deletes up to it in the transaction that stores it.
    AuditEvent e;
    e.type = EventType::Anchor;
    e.time = nowUs();
    e.reason = "retention";
    e.detail = fmt::format("records up to {} are older than the retention period", (*k)->seq);
    e.anchor_seq = (*k)->seq;
    e.anchor_hash = (*k)->hash;
    sealEvent(e);
    pending_.back().prune_through = (*k)->seq;
    // More may be due (a pass removes at most prune_chunk records).
    prune_due_ = now + std::min<std::chrono::milliseconds>(std::chrono::seconds(1),
                                                           options_.retention_check);
    return;
  }
}

void AuditLog::writeSinks(Clock::time_point now) {
  if (pending_.empty()) return;
  for (SinkState& s : sinks_) {
    if (s.failing && now < s.retry_at) continue;
    while (s.acked < head_seq_) {
      // pending_ holds consecutive records; find this sink's next one.
      const size_t from = static_cast<size_t>(s.acked + 1 - pending_.front().seq);
      const size_t n = std::min(options_.batch, pending_.size() - from);
      Status st = s.sink->write(std::span<const StoredRecord>(pending_.data() + from, n));
      std::lock_guard lock(mu_);
      if (!st) {
        ++stats_.sink_errors;
        stats_.last_error = st.error().message;
        s.backoff = s.failing ? std::min(s.backoff * 2, options_.retry_max) : options_.retry_min;
        s.retry_at = now + s.backoff;
        if (!s.failing) {
          s.failing = true;
          ++stats_.failing_sinks;
          log::error("audit: {}; retrying, events wait in the queue until it succeeds",
                     st.error().message);
        }
        break;
      }
      ++stats_.batches;
      s.acked = pending_[from + n - 1].seq;
      if (s.failing) {
        s.failing = false;
        --stats_.failing_sinks;
        log::info("audit: sink {} is writing again", s.sink->describe());
      }
    }
  }
}

void AuditLog::release() {
  uint64_t durable = head_seq_;
  for (const SinkState& s : sinks_) durable = std::min(durable, s.acked);
  size_t n = 0;
  size_t user = 0;
  while (n < pending_.size() && pending_[n].seq <= durable) {
    if (pending_user_[n]) ++user;
    ++n;
  }
  if (n == 0) return;
  for (size_t i = 0; i < n && free_rows_.size() < options_.batch; ++i) {
    free_rows_.push_back(std::move(pending_[i]));
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
  pending_user_.erase(pending_user_.begin(), pending_user_.begin() + static_cast<ptrdiff_t>(n));
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard lock(mu_);
    in_flight_ -= user;
    stats_.events_written += user;
    stats_.last_seq = durable;
    // Submitted events are sealed, written and released in submission
    // order, so the durable ones are a prefix of the tickets.
    durable_ += user;
    auto end = durable_waiters_.upper_bound(durable_);
    for (auto it = durable_waiters_.begin(); it != end; ++it)
      ready.push_back(std::move(it->second));
    durable_waiters_.erase(durable_waiters_.begin(), end);
  }
  for (auto& f : ready) f();
}

Clock::time_point AuditLog::nextWake() const {
  auto t = Clock::now() + std::chrono::hours(1);
  if (options_.retention.count() != 0) t = std::min(t, prune_due_);
  if (options_.checkpoint_key && since_checkpoint_ > 0) t = std::min(t, checkpoint_due_);
  for (const SinkState& s : sinks_) {
    if (s.failing) t = std::min(t, s.retry_at);
  }
  return t;
}

void AuditLog::run() {
  std::vector<RenderedEvent> events;
  std::vector<bool> user;
  std::vector<std::function<void()>> waiters;
  for (const AuditEvent& e : joined_) sealEvent(e);
  joined_.clear();
  for (;;) {
    for (auto& w : waiters) w();
    waiters.clear();
    for (size_t i = 0; i < events.size(); ++i) seal(events[i], user[i]);
    user.clear();
    const auto now = Clock::now();
    maybeCheckpoint(now);
    maybePrune(now);
    writeSinks(now);
    release();

    std::unique_lock lock(mu_);
    if (pending_.empty() && incoming_.empty()) {
      busy_ = false;
      durable_cv_.notify_all();
    }
    const auto room = [&] { return in_flight_ < options_.queue && !waiters_.empty(); };
    wake_.wait_until(lock, nextWake(), [&] { return stop_ || !incoming_.empty() || room(); });
    // Group commit: gather for up to flush_interval before writing.
    if (!incoming_.empty() && options_.flush_interval.count() > 0) {
      const auto until = std::min(Clock::now() + options_.flush_interval, nextWake());
      wake_.wait_until(lock, until, [&] {
        return stop_ || incoming_.size() >= options_.batch || flushers_ > 0 ||
               !durable_waiters_.empty() || room();
      });
    }
    if (stop_) return;
    // The sealed events' buffers go back to the submitting threads (their
    // memory is reused, not freed here and allocated again there).
    for (size_t i = 0; i < events.size() && free_rendered_.size() < options_.batch; ++i) {
      free_rendered_.push_back(std::move(events[i]));
    }
    events.clear();
    events.swap(incoming_);
    user.swap(incoming_user_);
    if (room()) waiters.swap(waiters_);
  }
}

}  // namespace pgw::audit
