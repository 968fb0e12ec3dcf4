// libFuzzer target for the protocol codec. The input is treated as the byte
// stream of one connection twice over: once as a client would send it (a
// startup packet, then typed messages) and once as a plain stream of typed
// messages fed to both decoders. Every view a decoder returns is read in
// full, so an out-of-bounds view shows up under ASan; a decoded message must
// also re-encode to the bytes it came from.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "protocol/messages.h"

namespace {

using namespace pgw;
using namespace pgw::protocol;

volatile unsigned gSink = 0;

void touch(Bytes b) {
  unsigned sum = 0;
  for (std::byte x : b) sum += static_cast<unsigned>(x);
  gSink = gSink + sum;
}
void touch(std::string_view s) {
  touch(asBytes(s));
}
void touch(Int16List l) {
  for (size_t i = 0; i < l.size(); ++i) gSink = gSink + static_cast<unsigned>(l[i]);
}
void touch(Int32List l) {
  for (size_t i = 0; i < l.size(); ++i) gSink = gSink + static_cast<unsigned>(l[i]);
}
void touch(const ValueList& values) {
  size_t n = 0;
  for (auto it = values.begin(); it != values.end(); ++it, ++n) {
    if (auto v = *it) touch(*v);
  }
  if (n != values.size()) std::abort();
}
void touch(const NoticeFields& f) {
  for (char code : {'S', 'V', 'C', 'M', 'D', 'H', 'P', 'W', 'n'}) {
    if (auto v = f.get(code)) touch(*v);
  }
}

void expectSame(const std::string& again, Bytes original) {
  if (asChars(original) != again) std::abort();
}

/// A frame's bytes on the wire: the type byte and length word precede body.
Bytes wireOf(const Frame& f) {
  return Bytes(f.body.data() - 5, f.size);
}

void checkFrontend(const Frame& frame) {
  auto r = decodeFrontend(frame);
  if (!r.ok()) {
    if (r.error().sqlstate != "08P01") std::abort();
    return;
  }
  std::string again;
  if (const auto* q = std::get_if<Query>(&*r)) {
    touch(q->sql);
    encodeQuery(again, q->sql);
    expectSame(again, wireOf(frame));
  } else if (const auto* b = std::get_if<Bind>(&*r)) {
    touch(b->portal);
    touch(b->statement);
    touch(b->param_formats);
    touch(b->params);
    touch(b->result_formats);
  } else if (const auto* p = std::get_if<Parse>(&*r)) {
    touch(p->query);
    touch(p->param_types);
  } else if (const auto* f = std::get_if<FunctionCall>(&*r)) {
    touch(f->arg_formats);
    touch(f->args);
  } else if (const auto* pw = std::get_if<PasswordPacket>(&*r)) {
    if (auto text = decodePassword(pw->data); text.ok()) {
      encodePassword(again, *text);
      expectSame(again, wireOf(frame));
    }
    if (auto sasl = decodeSaslInitialResponse(pw->data); sasl.ok()) {
      touch(sasl->mechanism);
      if (sasl->data) touch(*sasl->data);
    }
  }
}

void checkBackend(const Frame& frame) {
  auto r = decodeBackend(frame);
  if (!r.ok()) {
    if (r.error().sqlstate != "08P01") std::abort();
    return;
  }
  std::string again;
  if (const auto* d = std::get_if<DataRow>(&*r)) {
    touch(d->columns);
  } else if (const auto* t = std::get_if<RowDescription>(&*r)) {
    for (const auto& f : t->fields) touch(f.name);
    encodeRowDescription(again, t->fields);
    expectSame(again, wireOf(frame));
  } else if (const auto* a = std::get_if<Authentication>(&*r)) {
    touch(a->data);
    for (auto m : a->mechanisms) touch(m);
  } else if (const auto* e = std::get_if<ErrorResponse>(&*r)) {
    touch(e->fields);
  } else if (const auto* n = std::get_if<NoticeResponse>(&*r)) {
    touch(n->fields);
  } else if (const auto* v = std::get_if<NegotiateProtocolVersion>(&*r)) {
    for (auto name : v->unrecognized) touch(name);
  } else if (const auto* c = std::get_if<CopyResponse>(&*r)) {
    touch(c->column_formats);
  } else if (const auto* p = std::get_if<ParameterDescription>(&*r)) {
    touch(p->types);
  }
}

/// Frames typed messages until the buffer runs out or a frame is invalid.
void typedStream(Bytes buf, bool frontend, bool backend) {
  Limits limits;
  limits.max_message_size = 1 << 20;
  while (true) {
    FrameResult f = frameMessage(buf, limits.max_message_size);
    if (f.status != FrameStatus::Complete) return;
    if (f.frame.size > buf.size() || f.frame.size != 5 + f.frame.body.size()) std::abort();
    if (frontend) checkFrontend(f.frame);
    if (backend) checkBackend(f.frame);
    buf = buf.subspan(f.frame.size);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes buf(reinterpret_cast<const std::byte*>(data), size);

  FrameResult s = frameStartup(buf, Limits{}.max_startup_size);
  if (s.status == FrameStatus::Complete) {
    auto p = decodeStartup(s.frame.body);
    if (p.ok()) {
      std::string again;
      if (const auto* m = std::get_if<StartupMessage>(&*p)) {
        for (const auto& [name, value] : m->params) {
          if (name.empty()) std::abort();
        }
        encodeStartupMessage(again, *m);
        expectSame(again, buf.first(s.frame.size));
      }
    } else if (p.error().sqlstate != "08P01" && p.error().sqlstate != "0A000") {
      std::abort();
    }
    typedStream(buf.subspan(s.frame.size), true, false);
  }

  typedStream(buf, true, true);
  return 0;
}
