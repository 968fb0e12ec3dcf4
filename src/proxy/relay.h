#pragma once
/// The message path of an established session, without sockets: bytes in,
/// a plan of bytes out. Two directions:
///
/// - FrontendRelay frames and validates every client message (a message whose
///   fields overrun is a protocol error, never forwarded) and reports the ones
///   the session cares about (Query, Sync, Terminate, ...). Policy plugs in here.
/// - BackendRelay forwards server messages to the client. Messages nobody needs
///   to look at are forwarded as views into the receive buffer — no copy — and
///   a large one streams through as it arrives (a slow client cannot make the
///   gateway buffer a whole result). A ResultFilter can rewrite individual
///   DataRows (masking); only rewritten rows are re-encoded.

#include <cstddef>
#include <string>
#include <vector>

#include "common/result.h"
#include "protocol/messages.h"

namespace pgw::proxy {

/// What to send: an ordered list of slices of the input buffer and of bytes
/// the relay produced itself. Reused across reads so steady state does not
/// allocate.
class OutputPlan {
 public:
  struct Segment {
    bool produced;  ///< true: slice of produced(); false: slice of the input
    size_t offset;
    size_t length;
  };

  void clear() {
    segments_.clear();
    produced_.clear();
  }
  bool empty() const { return segments_.empty(); }
  void addInput(size_t offset, size_t length);
  /// Appends produced bytes (e.g. a rewritten DataRow) to the plan.
  std::string& beginProduced() { return produced_; }
  void endProduced(size_t start);

  const std::vector<Segment>& segments() const { return segments_; }
  const std::string& produced() const { return produced_; }
  size_t totalBytes() const;

 private:
  std::vector<Segment> segments_;
  std::string produced_;
};

/// Rewrites what carries data to the client (masking). The relay asks once
/// per RowDescription whether rows of that result need rewriting; only then
/// are DataRows buffered whole and handed over. The same for the CopyData of
/// a COPY ... TO STDOUT. Notices and notifications are offered too.
class ResultFilter {
 public:
  virtual ~ResultFilter() = default;
  /// A new result starts. Return true to see its DataRows. Set `swallow` to
  /// drop the message (the answer to a Describe the gateway added itself).
  virtual bool beginResult(const protocol::RowDescription& desc, bool& swallow) = 0;
  /// Append the replacement of `row` (a whole encoded DataRow message) to
  /// `out`, or return false to forward the original unchanged.
  virtual bool rewriteRow(const protocol::DataRow& row, std::string& out) = 0;
  /// NoData: true to drop it (see beginResult).
  virtual bool swallowNoData() { return false; }
  /// CopyOutResponse: true to see the stream's CopyData.
  virtual bool beginCopy(const protocol::CopyResponse& /*response*/) { return false; }
  /// One CopyData payload: true when `out` holds what to send instead (whole
  /// messages, possibly none). Errors end the session (08P01).
  virtual Result<bool> rewriteCopy(Bytes /*payload*/, std::string& /*out*/) { return false; }
  /// CopyDone of a stream beginCopy accepted.
  virtual Status endCopy() { return {}; }
  /// NoticeResponse / NotificationResponse: append a whole replacement
  /// message to `out` and return true, or false to forward the original.
  virtual bool rewriteNotice(const protocol::NoticeFields& /*fields*/, std::string& /*out*/) {
    return false;
  }
  virtual bool rewriteNotification(const protocol::NotificationResponse& /*n*/,
                                   std::string& /*out*/) {
    return false;
  }
};

/// Server messages the session reacts to.
class BackendObserver {
 public:
  virtual ~BackendObserver() = default;
  virtual void onReadyForQuery(protocol::TxStatus status) = 0;
  /// An ErrorResponse. Append a whole replacement message to `replacement`
  /// and return true to send that instead (a denial's own error); return
  /// false to forward the server's.
  virtual bool onError(const protocol::NoticeFields& fields, std::string& replacement) = 0;
  virtual void onCommandComplete(std::string_view tag) = 0;
  /// Bytes about to be forwarded to the client (before the callbacks of the
  /// message they belong to), for per-statement accounting.
  virtual void onForward(size_t /*bytes*/) {}
  /// EmptyQueryResponse and PortalSuspended: a statement ended without a tag.
  virtual void onEmptyQuery() {}
  virtual void onPortalSuspended() {}
  /// A result went past the row limit: `withheld` rows after the first
  /// `returned` were not forwarded. Append a whole message (the notice that
  /// tells the client) to `out`; it goes out just before CommandComplete.
  virtual void onRowsWithheld(uint64_t returned, uint64_t withheld, std::string& out) = 0;
};

struct RelayStep {
  size_t consumed = 0;  ///< input bytes accounted for in the plan (drop them after sending)
  size_t needed = 0;    ///< when > 0: the next message needs this many bytes buffered
  bool held = false;    ///< the observer held the next message back (Verdict::Hold)
};

class BackendRelay {
 public:
  BackendRelay(size_t max_message_size, BackendObserver& observer)
      : max_message_size_(max_message_size), observer_(observer) {}

  void setFilter(ResultFilter* filter) { filter_ = filter; }
  /// At most `max_rows` DataRows of one result reach the client (0 = no
  /// limit); the rest are dropped, the observer adds a notice, and a SELECT
  /// or FETCH command tag is rewritten to the count forwarded. A result ends
  /// at CommandComplete, ErrorResponse or ReadyForQuery (not at
  /// PortalSuspended: a portal fetched in batches is one result). Takes
  /// effect from the next result.
  void setRowLimit(uint64_t max_rows) {
    next_row_limit_ = max_rows;
    if (rows_ == 0 && withheld_ == 0) row_limit_ = max_rows;
  }

  /// Plans the forwarding of `in` (everything received and not yet consumed).
  /// Errors: the server sent something that is not a valid message (08P01).
  Result<RelayStep> process(Bytes in, OutputPlan& plan);

  /// True while a message is being streamed through and not finished.
  bool midMessage() const { return pass_remaining_ > 0; }

 private:
  bool mustInspect(char type) const;

  size_t max_message_size_;
  BackendObserver& observer_;
  ResultFilter* filter_ = nullptr;
  void endResult();

  bool filtering_rows_ = false;
  bool filtering_copy_ = false;
  size_t pass_remaining_ = 0;  ///< bytes of a message being streamed through
  size_t drop_remaining_ = 0;  ///< bytes of a withheld DataRow still to arrive
  uint64_t next_row_limit_ = 0;
  uint64_t row_limit_ = 0;  ///< of the current result
  uint64_t rows_ = 0;       ///< DataRows of the current result forwarded
  uint64_t withheld_ = 0;   ///< and dropped
};

/// Client messages the session reacts to. Returning an Error from any of
/// these ends the session with that error.
class FrontendObserver {
 public:
  virtual ~FrontendObserver() = default;
  enum class Verdict { Forward, Replace, Hold };
  /// Every decoded message, before it is forwarded. Replace: the observer
  /// appended whole messages to `replacement`, which go upstream instead.
  /// Hold: not now — processing stops before this message (RelayStep::held)
  /// and the caller offers it again later; the observer must not have
  /// changed any state for it.
  virtual Result<Verdict> onFrontendMessage(const protocol::FrontendMessage& msg,
                                            std::string& replacement) = 0;
};

class FrontendRelay {
 public:
  FrontendRelay(size_t max_message_size, FrontendObserver& observer)
      : max_message_size_(max_message_size), observer_(observer) {}

  /// Plans the forwarding of every complete, valid message in `in`. Stops
  /// after a Terminate (reported to the observer, not forwarded).
  Result<RelayStep> process(Bytes in, OutputPlan& plan);
  bool terminated() const { return terminated_; }

 private:
  size_t max_message_size_;
  FrontendObserver& observer_;
  bool terminated_ = false;
};

}  // namespace pgw::proxy
