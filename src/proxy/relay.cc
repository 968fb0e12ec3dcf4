#include "proxy/relay.h"

#include <algorithm>

#include "protocol/sqlstate.h"

namespace pgw::proxy {

void OutputPlan::addInput(size_t offset, size_t length) {
  if (length == 0) return;
  if (!segments_.empty()) {
    Segment& last = segments_.back();
    if (!last.produced && last.offset + last.length == offset) {
      last.length += length;
      return;
    }
  }
  segments_.push_back({false, offset, length});
}

void OutputPlan::endProduced(size_t start) {
  size_t length = produced_.size() - start;
  if (length == 0) return;
  if (!segments_.empty()) {
    Segment& last = segments_.back();
    if (last.produced && last.offset + last.length == start) {
      last.length += length;
      return;
    }
  }
  segments_.push_back({true, start, length});
}

size_t OutputPlan::totalBytes() const {
  size_t n = 0;
  for (const auto& s : segments_) n += s.length;
  return n;
}

bool BackendRelay::mustInspect(char type) const {
  namespace be = protocol::be;
  switch (type) {
    case be::kReadyForQuery:
    case be::kErrorResponse:
    case be::kCommandComplete:
    case be::kEmptyQueryResponse:
    case be::kPortalSuspended:
      return true;
    case be::kRowDescription:
    case be::kNoData:
    case be::kCopyOutResponse:
    case be::kCopyDone:
    case be::kNoticeResponse:
    case be::kNotificationResponse:
      return filter_ != nullptr;
    case be::kDataRow:
      return filtering_rows_;
    case be::kCopyData:
      return filtering_copy_;
    default:
      return false;
  }
}

void BackendRelay::endResult() {
  filtering_rows_ = false;
  filtering_copy_ = false;
  rows_ = 0;
  withheld_ = 0;
  row_limit_ = next_row_limit_;
}

namespace {

/// Lets `make` append a replacement message to the plan's produced bytes;
/// true when it did (the original is then not forwarded).
template <class F>
bool produce(OutputPlan& plan, F&& make) {
  std::string& out = plan.beginProduced();
  const size_t start = out.size();
  if (make(out)) {
    plan.endProduced(start);
    return true;
  }
  out.resize(start);
  return false;
}

}  // namespace

Result<RelayStep> BackendRelay::process(Bytes in, OutputPlan& plan) {
  RelayStep step;
  size_t pos = 0;
  if (pass_remaining_ > 0) {
    size_t n = std::min(pass_remaining_, in.size());
    observer_.onForward(n);
    plan.addInput(0, n);
    pass_remaining_ -= n;
    pos = n;
  } else if (drop_remaining_ > 0) {
    size_t n = std::min(drop_remaining_, in.size());
    drop_remaining_ -= n;
    pos = n;
  }
  while (pass_remaining_ == 0 && drop_remaining_ == 0 && pos < in.size()) {
    auto fr = protocol::frameMessage(in.subspan(pos), max_message_size_);
    if (fr.status == protocol::FrameStatus::Invalid) {
      return fail(sqlstate::kProtocolViolation,
                  "the server sent an invalid message: " + fr.error.message);
    }
    const char type = static_cast<char>(in[pos]);
    // Past the row limit, a DataRow is dropped as it arrives.
    const bool withhold = type == protocol::be::kDataRow && row_limit_ > 0 && rows_ >= row_limit_;
    if (fr.status == protocol::FrameStatus::NeedMore) {
      if (fr.needed > 0 && withhold) {
        ++withheld_;
        drop_remaining_ = fr.needed - (in.size() - pos);
        pos = in.size();
      } else if (fr.needed > 0 && !mustInspect(type)) {
        // Stream the start of this message now; the rest follows as it arrives.
        if (type == protocol::be::kDataRow) ++rows_;
        observer_.onForward(in.size() - pos);
        plan.addInput(pos, in.size() - pos);
        pass_remaining_ = fr.needed - (in.size() - pos);
        pos = in.size();
      } else {
        step.needed = fr.needed;
      }
      break;
    }
    const protocol::Frame& frame = fr.frame;
    if (withhold) {
      ++withheld_;
      pos += frame.size;
      continue;
    }
    if (frame.type == protocol::be::kDataRow) ++rows_;
    observer_.onForward(frame.size);
    bool forwarded = false;
    if (mustInspect(frame.type)) {
      auto msg = protocol::decodeBackend(frame);
      if (!msg) {
        return fail(sqlstate::kProtocolViolation,
                    "the server sent an invalid message: " + msg.error().message);
      }
      if (auto* z = std::get_if<protocol::ReadyForQuery>(&*msg)) {
        endResult();
        observer_.onReadyForQuery(z->status);
      } else if (auto* e = std::get_if<protocol::ErrorResponse>(&*msg)) {
        endResult();
        forwarded =
            produce(plan, [&](std::string& out) { return observer_.onError(e->fields, out); });
      } else if (auto* c = std::get_if<protocol::CommandComplete>(&*msg)) {
        if (withheld_ > 0) {
          std::string& out = plan.beginProduced();
          size_t start = out.size();
          observer_.onRowsWithheld(rows_, withheld_, out);
          // Row counts in the tag match what the client received; other
          // tags (INSERT ... RETURNING) count rows changed and stay.
          if (c->tag.starts_with("SELECT ") || c->tag.starts_with("FETCH ")) {
            std::string tag(c->tag.substr(0, c->tag.find(' ') + 1));
            protocol::encodeCommandComplete(out, tag + std::to_string(rows_));
          } else {
            protocol::encodeCommandComplete(out, c->tag);
          }
          plan.endProduced(start);
          forwarded = true;
        }
        observer_.onCommandComplete(c->tag);
        endResult();
      } else if (std::holds_alternative<protocol::EmptyQueryResponse>(*msg)) {
        observer_.onEmptyQuery();
      } else if (std::holds_alternative<protocol::PortalSuspended>(*msg)) {
        observer_.onPortalSuspended();
      } else if (auto* t = std::get_if<protocol::RowDescription>(&*msg)) {
        bool swallow = false;
        filtering_rows_ = filter_->beginResult(*t, swallow);
        forwarded = swallow;
      } else if (std::holds_alternative<protocol::NoData>(*msg)) {
        forwarded = filter_->swallowNoData();
      } else if (auto* d = std::get_if<protocol::DataRow>(&*msg)) {
        forwarded = produce(plan, [&](std::string& out) { return filter_->rewriteRow(*d, out); });
      } else if (auto* r = std::get_if<protocol::CopyResponse>(&*msg)) {
        filtering_copy_ = r->kind == 'H' && filter_->beginCopy(*r);
      } else if (auto* cd = std::get_if<protocol::CopyData>(&*msg)) {
        auto rewritten = Result<bool>(false);
        forwarded = produce(plan, [&](std::string& out) {
          rewritten = filter_->rewriteCopy(cd->data, out);
          return rewritten && *rewritten;
        });
        if (!rewritten) return rewritten.takeError();
      } else if (std::holds_alternative<protocol::CopyDone>(*msg)) {
        if (filtering_copy_) {
          filtering_copy_ = false;
          if (auto s = filter_->endCopy(); !s) return s.takeError();
        }
      } else if (auto* n = std::get_if<protocol::NoticeResponse>(&*msg)) {
        forwarded =
            produce(plan, [&](std::string& out) { return filter_->rewriteNotice(n->fields, out); });
      } else if (auto* a = std::get_if<protocol::NotificationResponse>(&*msg)) {
        forwarded =
            produce(plan, [&](std::string& out) { return filter_->rewriteNotification(*a, out); });
      }
    }
    if (!forwarded) plan.addInput(pos, frame.size);
    pos += frame.size;
  }
  step.consumed = pos;
  return step;
}

Result<RelayStep> FrontendRelay::process(Bytes in, OutputPlan& plan) {
  RelayStep step;
  size_t pos = 0;
  while (!terminated_ && pos < in.size()) {
    auto fr = protocol::frameMessage(in.subspan(pos), max_message_size_);
    if (fr.status == protocol::FrameStatus::Invalid) return fr.error;
    if (fr.status == protocol::FrameStatus::NeedMore) {
      step.needed = fr.needed;
      break;
    }
    auto msg = protocol::decodeFrontend(fr.frame);
    if (!msg) return msg.takeError();
    if (std::holds_alternative<protocol::PasswordPacket>(*msg)) {
      return fail(sqlstate::kProtocolViolation,
                  "unexpected password message after authentication completed");
    }
    std::string& produced = plan.beginProduced();
    const size_t start = produced.size();
    auto verdict = observer_.onFrontendMessage(*msg, produced);
    if (!verdict) return verdict.takeError();
    if (*verdict == FrontendObserver::Verdict::Hold) {
      produced.resize(start);
      step.held = true;
      break;
    }
    if (std::holds_alternative<protocol::Terminate>(*msg)) {
      terminated_ = true;
    } else if (*verdict == FrontendObserver::Verdict::Replace) {
      plan.endProduced(start);
    } else {
      produced.resize(start);
      plan.addInput(pos, fr.frame.size);
    }
    pos += fr.frame.size;
  }
  step.consumed = pos;
  return step;
}

}  // namespace pgw::proxy
