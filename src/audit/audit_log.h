#pragma once
/// The audit log: a bounded, thread-safe queue in front of one writer
/// thread that seals events into the hash chain and writes them to every
/// sink. Session threads never block on it: they reserve a slot first
/// (`tryReserve`), and when the queue is full either wait for room without
/// blocking their event loop (`whenRoom`, for `on_full: block`) or refuse the
/// statement (`on_full: reject`).
///
/// Guarantees (docs/audit.md): an event is in the queue from submit() until
/// every sink has stored it durably; nothing is dropped while a sink fails —
/// the queue fills instead and the writer retries with backoff. A kill -9
/// loses only events not yet acknowledged by all sinks (at most the queue);
/// a batch a sink acknowledged is on disk. A restart continues each chain
/// from the sinks' last record (a sink that fell behind is caught up first).
///
///   if (!log.tryReserve()) { log.whenRoom([&] { post(retry); }); return; }
///   ... run the statement ...
///   log.submit(std::move(event));   // consumes the reservation

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/chain.h"
#include "audit/event.h"
#include "audit/sink.h"
#include "common/result.h"
#include "config/config.h"

namespace pgw::audit {

class AuditLog {
 public:
  enum class OnFull { Block, Reject };

  struct Options {
    std::string gateway_id;
    size_t queue = 65536;
    size_t batch = 4096;
    OnFull on_full = OnFull::Block;
    std::chrono::milliseconds retention{0};  ///< 0 = keep forever
    std::chrono::milliseconds retention_check{std::chrono::hours(1)};
    uint64_t prune_chunk = 100000;  ///< most records one retention pass removes
    std::optional<SigningKey> checkpoint_key;
    uint64_t checkpoint_every = 1000;
    std::chrono::milliseconds checkpoint_interval{std::chrono::minutes(5)};
    std::chrono::milliseconds retry_min{50};  ///< sink retry backoff
    std::chrono::milliseconds retry_max{5000};
    std::chrono::milliseconds shutdown_wait{10000};  ///< destructor's last flush
    /// Group commit: once an event arrives the writer gathers more for up to
    /// this long before it writes, so a busy gateway writes one sink
    /// transaction per interval instead of one per statement (and sessions
    /// do not wake the writer per event). A full batch, flush() or a session
    /// waiting for room writes at once. 0: write as soon as events arrive.
    std::chrono::milliseconds flush_interval{50};
  };

  struct Stats {
    size_t queue_depth = 0;  ///< events reserved, queued or not yet durable
    size_t queue_capacity = 0;
    uint64_t events_written = 0;  ///< submitted events durable in every sink
    uint64_t batches = 0;         ///< sink transactions committed
    uint64_t sink_errors = 0;     ///< failed sink writes (each retry counts)
    size_t failing_sinks = 0;
    uint64_t last_seq = 0;   ///< chain head
    std::string last_error;  ///< the latest sink error ("" = none yet)
  };

  /// Opens the sinks of `config` (creating files, directories and tables),
  /// continues the chain and starts the writer. Fails when a sink cannot be
  /// opened or sinks disagree about the chain.
  static Result<std::unique_ptr<AuditLog>> open(const config::AuditConfig& config);
  /// The same with sinks built by the caller (tests, benchmarks).
  static Result<std::unique_ptr<AuditLog>> open(Options options,
                                                std::vector<std::unique_ptr<Sink>> sinks);

  /// Writes what it can within `shutdown_wait`, then stops the writer.
  /// Callbacks still waiting in whenRoom() are dropped: destroy the log after
  /// the sessions.
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  /// Reserves a slot for one event; false when the queue is full.
  bool tryReserve();
  /// Calls `callback` on the writer thread once a slot may be free (at once
  /// if one is). Post back to your own executor and call tryReserve again.
  void whenRoom(std::function<void()> callback);
  /// A submitted event's place in submission order (1, 2, ...): events
  /// become durable in that order.
  using Ticket = uint64_t;
  /// Queues an event, consuming a reservation. Never blocks, never drops.
  /// The event is rendered here, on the calling thread, where it was just
  /// filled (event.h, RenderedEvent): the caller keeps it and may refill it
  /// at once, and the writer only chains and stores the rendered bytes.
  /// `session`: the template of the event's session members, used when it
  /// was built for this log's gateway id (event.h, SessionTemplate).
  Ticket submit(const AuditEvent& event, const SessionTemplate* session = nullptr);
  /// Queues a session or config event without a reservation: always
  /// accepted, even past the capacity (they are few and must not be lost).
  Ticket submitUnreserved(const AuditEvent& event, const SessionTemplate* session = nullptr);
  /// Whether the event of `ticket` (and every one before it) is stored by
  /// every sink.
  bool durable(Ticket ticket) const;
  /// Calls `callback` on the writer thread once `ticket` is durable (at once,
  /// on this thread, if it is). The writer skips group-commit gathering
  /// while callbacks wait. Callbacks still waiting when the log is destroyed
  /// are dropped.
  void whenDurable(Ticket ticket, std::function<void()> callback);

  OnFull onFull() const { return options_.on_full; }
  const std::string& gatewayId() const { return options_.gateway_id; }

  /// Blocks until everything submitted so far is durable in every sink.
  void flush();
  /// The same with a limit; false when it ran out (a sink is failing).
  bool flushFor(std::chrono::milliseconds timeout);

  Stats stats() const;

 private:
  struct SinkState {
    std::unique_ptr<Sink> sink;
    uint64_t acked = 0;  ///< last seq stored
    bool failing = false;
    std::chrono::milliseconds backoff{0};
    std::chrono::steady_clock::time_point retry_at{};
  };

  AuditLog(Options options, std::vector<std::unique_ptr<Sink>> sinks);
  Status start();
  void run();
  void seal(const RenderedEvent& event, bool user);
  /// Renders and seals an event of the trail itself (anchor, checkpoint).
  void sealEvent(const AuditEvent& event);
  void maybeCheckpoint(std::chrono::steady_clock::time_point now);
  void maybePrune(std::chrono::steady_clock::time_point now);
  void writeSinks(std::chrono::steady_clock::time_point now);
  void release();
  std::chrono::steady_clock::time_point nextWake() const;
  /// Whether a submit must wake the writer (mu_ held).
  bool wakesWriter() const;

  Options options_;
  std::vector<SinkState> sinks_;

  // Shared with the submitting threads (mu_).
  mutable std::mutex mu_;
  std::condition_variable wake_;        ///< writer: work arrived
  std::condition_variable durable_cv_;  ///< flush: something became durable
  /// Reserved and not yet durable. Reserved without the lock (tryReserve
  /// runs once per statement); released by the writer under mu_, so a
  /// waiter registered under mu_ never misses the room it frees.
  std::atomic<size_t> in_flight_ = 0;
  std::vector<RenderedEvent> incoming_;
  std::vector<bool> incoming_user_;
  std::vector<std::function<void()>> waiters_;
  /// Rendered events the writer is done with: submit() renders into them
  /// next (their memory is reused); at most one batch is kept.
  std::vector<RenderedEvent> free_rendered_;
  std::atomic<bool> stop_ = false;
  bool busy_ = true;      ///< the writer holds work not yet durable
  size_t flushers_ = 0;   ///< threads in flush(): no gathering while they wait
  Ticket submitted_ = 0;  ///< tickets handed out
  Ticket durable_ = 0;    ///< events durable in every sink, in submission order
  std::multimap<Ticket, std::function<void()>> durable_waiters_;
  Stats stats_;

  // Writer thread only.
  uint64_t head_seq_ = 0;
  std::string head_hash_ = kGenesisHash;
  std::vector<StoredRecord> pending_;
  /// Written rows whose memory seal() reuses; at most one batch is kept.
  std::vector<StoredRecord> free_rows_;
  std::vector<bool> pending_user_;
  uint64_t since_checkpoint_ = 0;
  std::chrono::steady_clock::time_point checkpoint_due_{};
  std::chrono::steady_clock::time_point prune_due_{};
  std::vector<AuditEvent> joined_;  ///< anchor records for sinks that joined late

  std::thread writer_;
};

}  // namespace pgw::audit
