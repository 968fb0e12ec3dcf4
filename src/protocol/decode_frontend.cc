// Decoders for client -> server messages: startup-phase packets and typed
// frontend messages.

#include <algorithm>
#include <string>
#include <vector>

#include "protocol/field_reader.h"
#include "protocol/messages.h"
#include "protocol/sqlstate.h"

namespace pgw::protocol {

using detail::FieldReader;
using detail::protocolError;

namespace {

Result<StartupPacket> decodeStartupMessage(int32_t version, Bytes params) {
  FieldReader r("StartupMessage", params);
  StartupMessage m;
  m.version = version;
  while (true) {
    if (r.remaining() == 0) {
      return protocolError("StartupMessage",
                           "the parameter list does not end with the terminating NUL byte");
    }
    std::string_view name = r.cstring("parameter name");
    if (!r.ok() || name.empty()) break;
    std::string_view value = r.cstring("parameter value");
    if (!r.ok()) break;
    m.params.emplace_back(std::string(name), std::string(value));
  }
  if (auto e = r.finish()) return std::move(*e);
  // Sorted, not pairwise: a packet can carry thousands of parameters before
  // the client has authenticated.
  std::vector<std::string_view> names;
  names.reserve(m.params.size());
  for (const auto& [name, unused] : m.params) names.push_back(name);
  std::sort(names.begin(), names.end());
  if (auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end()) {
    return protocolError("StartupMessage",
                         "parameter \"" + std::string(*dup) + "\" is given more than once");
  }
  return StartupPacket(std::move(m));
}

Error wrongSize(std::string_view name, Bytes body, size_t expected) {
  return protocolError(name, "must be exactly " + std::to_string(expected + 4) +
                                 " bytes long (length word included), got " +
                                 std::to_string(body.size() + 4));
}

}  // namespace

Result<StartupPacket> decodeStartup(Bytes body) {
  FieldReader r("startup packet", body);
  int32_t code = r.i32("request code");
  if (!r.ok()) return std::move(*r.finish());

  switch (code) {
    case kSslRequestCode:
      if (body.size() != 4) return wrongSize("SSLRequest", body, 4);
      return StartupPacket(SslRequest{});
    case kGssEncRequestCode:
      if (body.size() != 4) return wrongSize("GSSENCRequest", body, 4);
      return StartupPacket(GssEncRequest{});
    case kCancelRequestCode: {
      if (body.size() != 12) return wrongSize("CancelRequest", body, 12);
      CancelRequest c;
      c.process_id = r.i32("process ID");
      c.secret_key = r.i32("secret key");
      return StartupPacket(c);
    }
    default:
      break;
  }
  int32_t major = code >> 16;
  int32_t minor = code & 0xffff;
  if (major != kProtocolMajor) {
    return fail(sqlstate::kFeatureNotSupported,
                "unsupported frontend protocol " + std::to_string(major) + "." +
                    std::to_string(minor) + ": the gateway supports protocol 3.0");
  }
  return decodeStartupMessage(code, body.subspan(4));
}

namespace {

template <class T>
Result<FrontendMessage> finishWith(const FieldReader& r, T message) {
  if (auto e = r.finish()) return std::move(*e);
  return FrontendMessage(std::move(message));
}

Result<FrontendMessage> decodeParse(Bytes body) {
  FieldReader r("Parse", body);
  Parse m;
  m.statement = r.cstring("statement name");
  m.query = r.cstring("query string");
  uint16_t n = r.count16("parameter type count");
  m.param_types = r.int32s(n, "parameter types");
  return finishWith(r, m);
}

Result<FrontendMessage> decodeBind(Bytes body) {
  FieldReader r("Bind", body);
  Bind m;
  m.portal = r.cstring("portal name");
  m.statement = r.cstring("statement name");
  uint16_t nformats = r.count16("parameter format count");
  m.param_formats = r.int16s(nformats, "parameter format codes");
  uint16_t nparams = r.count16("parameter count");
  m.params = r.values(nparams, "parameter value");
  uint16_t nresults = r.count16("result format count");
  m.result_formats = r.int16s(nresults, "result format codes");
  if (r.ok() && nformats > 1 && nformats != nparams) {
    return protocolError("Bind", std::to_string(nformats) + " parameter formats for " +
                                     std::to_string(nparams) + " parameters (must be 0, 1 or " +
                                     std::to_string(nparams) + ")");
  }
  return finishWith(r, m);
}

template <class T>
Result<FrontendMessage> decodeTargetAndName(const char* message, Bytes body) {
  FieldReader r(message, body);
  T m;
  m.target = static_cast<char>(r.u8("target"));
  m.name = r.cstring("name");
  if (r.ok() && m.target != 'S' && m.target != 'P') {
    return protocolError(message, "target must be 'S' (statement) or 'P' (portal), got " +
                                      detail::describeType(m.target));
  }
  return finishWith(r, m);
}

Result<FrontendMessage> decodeExecute(Bytes body) {
  FieldReader r("Execute", body);
  Execute m;
  m.portal = r.cstring("portal name");
  m.max_rows = r.i32("maximum row count");
  return finishWith(r, m);
}

Result<FrontendMessage> decodeFunctionCall(Bytes body) {
  FieldReader r("FunctionCall", body);
  FunctionCall m;
  m.function_oid = r.i32("function OID");
  uint16_t nformats = r.count16("argument format count");
  m.arg_formats = r.int16s(nformats, "argument format codes");
  uint16_t nargs = r.count16("argument count");
  m.args = r.values(nargs, "argument value");
  m.result_format = r.i16("result format");
  if (r.ok() && nformats > 1 && nformats != nargs) {
    return protocolError("FunctionCall", std::to_string(nformats) + " argument formats for " +
                                             std::to_string(nargs) +
                                             " arguments (must be 0, 1 or " +
                                             std::to_string(nargs) + ")");
  }
  return finishWith(r, m);
}

template <class T>
Result<FrontendMessage> decodeEmpty(const char* message, Bytes body) {
  FieldReader r(message, body);
  return finishWith(r, T{});
}

template <class T>
Result<FrontendMessage> decodeOneString(const char* message, const char* field, Bytes body,
                                        std::string_view T::*member) {
  FieldReader r(message, body);
  T m;
  m.*member = r.cstring(field);
  return finishWith(r, m);
}

}  // namespace

Result<FrontendMessage> decodeFrontend(const Frame& frame) {
  const Bytes body = frame.body;
  switch (frame.type) {
    case fe::kQuery:
      return decodeOneString<Query>("Query", "query string", body, &Query::sql);
    case fe::kParse:
      return decodeParse(body);
    case fe::kBind:
      return decodeBind(body);
    case fe::kDescribe:
      return decodeTargetAndName<Describe>("Describe", body);
    case fe::kExecute:
      return decodeExecute(body);
    case fe::kClose:
      return decodeTargetAndName<Close>("Close", body);
    case fe::kSync:
      return decodeEmpty<Sync>("Sync", body);
    case fe::kFlush:
      return decodeEmpty<Flush>("Flush", body);
    case fe::kTerminate:
      return decodeEmpty<Terminate>("Terminate", body);
    case fe::kCopyData:
      return FrontendMessage(CopyData{body});
    case fe::kCopyDone:
      return decodeEmpty<CopyDone>("CopyDone", body);
    case fe::kCopyFail:
      return decodeOneString<CopyFail>("CopyFail", "error message", body, &CopyFail::message);
    case fe::kFunctionCall:
      return decodeFunctionCall(body);
    case fe::kPassword:
      return FrontendMessage(PasswordPacket{body});
    default:
      return protocolError("frontend message",
                           "unknown message type " + detail::describeType(frame.type));
  }
}

Result<std::string_view> decodePassword(Bytes body) {
  FieldReader r("PasswordMessage", body);
  std::string_view password = r.cstring("password");
  if (auto e = r.finish()) return std::move(*e);
  return password;
}

Result<SaslInitialResponse> decodeSaslInitialResponse(Bytes body) {
  FieldReader r("SASLInitialResponse", body);
  SaslInitialResponse m;
  m.mechanism = r.cstring("mechanism name");
  m.data = r.value("initial response");
  if (auto e = r.finish()) return std::move(*e);
  return m;
}

}  // namespace pgw::protocol
