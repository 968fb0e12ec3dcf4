// Decoders for server -> client messages.

#include <algorithm>
#include <cstring>
#include <string>

#include "protocol/field_reader.h"
#include "protocol/messages.h"

namespace pgw::protocol {

using detail::FieldReader;
using detail::protocolError;

std::optional<std::string_view> NoticeFields::get(char code) const {
  // The list was validated at decode time, but NoticeFields is a plain struct
  // a caller may fill in, so the scan stays within `raw` regardless.
  const char* p = reinterpret_cast<const char*>(raw.data());
  const char* end = p + raw.size();
  while (p < end && *p != '\0') {
    char field = *p++;
    const void* nul = std::memchr(p, 0, static_cast<size_t>(end - p));
    if (nul == nullptr) return std::nullopt;
    const char* stop = static_cast<const char*>(nul);
    if (field == code) return std::string_view(p, static_cast<size_t>(stop - p));
    p = stop + 1;
  }
  return std::nullopt;
}

namespace {

template <class T>
Result<BackendMessage> finishWith(const FieldReader& r, T message) {
  if (auto e = r.finish()) return std::move(*e);
  return BackendMessage(std::move(message));
}

template <class T>
Result<BackendMessage> decodeEmpty(const char* message, Bytes body) {
  FieldReader r(message, body);
  return finishWith(r, T{});
}

bool isKnownAuthCode(int32_t code) {
  switch (static_cast<AuthCode>(code)) {
    case AuthCode::Ok:
    case AuthCode::KerberosV5:
    case AuthCode::CleartextPassword:
    case AuthCode::MD5Password:
    case AuthCode::SCMCredential:
    case AuthCode::GSS:
    case AuthCode::GSSContinue:
    case AuthCode::SSPI:
    case AuthCode::SASL:
    case AuthCode::SASLContinue:
    case AuthCode::SASLFinal:
      return true;
  }
  return false;
}

Result<BackendMessage> decodeAuthentication(Bytes body) {
  FieldReader r("Authentication", body);
  Authentication m;
  int32_t code = r.i32("request code");
  if (!r.ok()) return std::move(*r.finish());
  if (!isKnownAuthCode(code)) {
    return protocolError("Authentication", "unknown request code " + std::to_string(code));
  }
  m.code = static_cast<AuthCode>(code);
  switch (m.code) {
    case AuthCode::MD5Password:
      m.data = r.bytes(4, "MD5 salt");
      break;
    case AuthCode::SASL: {
      Bytes list = body.subspan(4);
      // Each name takes at least two bytes (a character and its NUL).
      m.mechanisms.reserve(std::min<size_t>(list.size() / 2, 16));
      while (true) {
        if (r.remaining() == 0) {
          return protocolError("AuthenticationSASL",
                               "the mechanism list does not end with an empty name");
        }
        std::string_view name = r.cstring("mechanism name");
        if (!r.ok() || name.empty()) break;
        m.mechanisms.push_back(name);
      }
      m.data = list;
      break;
    }
    case AuthCode::GSSContinue:
    case AuthCode::SASLContinue:
    case AuthCode::SASLFinal:
      m.data = r.rest();
      break;
    default:
      break;
  }
  return finishWith(r, std::move(m));
}

Result<BackendMessage> decodeBackendKeyData(Bytes body) {
  FieldReader r("BackendKeyData", body);
  BackendKeyData m;
  m.process_id = r.i32("process ID");
  m.secret_key = r.i32("secret key");
  return finishWith(r, m);
}

Result<BackendMessage> decodeCommandComplete(Bytes body) {
  FieldReader r("CommandComplete", body);
  CommandComplete m;
  m.tag = r.cstring("command tag");
  return finishWith(r, m);
}

Result<BackendMessage> decodeCopyResponse(char kind, Bytes body) {
  const char* name = kind == be::kCopyInResponse    ? "CopyInResponse"
                     : kind == be::kCopyOutResponse ? "CopyOutResponse"
                                                    : "CopyBothResponse";
  FieldReader r(name, body);
  CopyResponse m;
  m.kind = kind;
  m.format = static_cast<int8_t>(r.u8("overall format"));
  uint16_t n = r.count16("column count");
  m.column_formats = r.int16s(n, "column format codes");
  return finishWith(r, m);
}

Result<BackendMessage> decodeDataRow(Bytes body) {
  FieldReader r("DataRow", body);
  DataRow m;
  uint16_t n = r.count16("column count");
  m.columns = r.values(n, "column value");
  return finishWith(r, m);
}

Result<BackendMessage> decodeNoticeFields(bool error, Bytes body) {
  const char* name = error ? "ErrorResponse" : "NoticeResponse";
  FieldReader r(name, body);
  while (true) {
    if (r.remaining() == 0) {
      return protocolError(name, "the field list does not end with a zero byte");
    }
    uint8_t code = r.u8("field type");
    if (code == 0) break;
    (void)r.cstring("field value");
    if (!r.ok()) break;
  }
  NoticeFields fields{body};
  if (error) return finishWith(r, ErrorResponse{fields});
  return finishWith(r, NoticeResponse{fields});
}

Result<BackendMessage> decodeFunctionCallResponse(Bytes body) {
  FieldReader r("FunctionCallResponse", body);
  FunctionCallResponse m;
  m.result = r.value("result value");
  return finishWith(r, m);
}

Result<BackendMessage> decodeNegotiateProtocolVersion(Bytes body) {
  FieldReader r("NegotiateProtocolVersion", body);
  NegotiateProtocolVersion m;
  m.newest_minor = r.i32("newest minor version");
  int32_t n = r.i32("option count");
  if (!r.ok()) return std::move(*r.finish());
  if (n < 0) {
    return protocolError("NegotiateProtocolVersion", "negative option count " + std::to_string(n));
  }
  // Each name takes at least one byte, so the count cannot exceed what is left.
  if (static_cast<size_t>(n) > r.remaining()) {
    return protocolError("NegotiateProtocolVersion",
                         std::to_string(n) + " options cannot fit in the " +
                             std::to_string(r.remaining()) + " bytes left in the message");
  }
  m.unrecognized.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n && r.ok(); ++i) m.unrecognized.push_back(r.cstring("option name"));
  return finishWith(r, std::move(m));
}

Result<BackendMessage> decodeNotificationResponse(Bytes body) {
  FieldReader r("NotificationResponse", body);
  NotificationResponse m;
  m.process_id = r.i32("process ID");
  m.channel = r.cstring("channel name");
  m.payload = r.cstring("payload");
  return finishWith(r, m);
}

Result<BackendMessage> decodeParameterDescription(Bytes body) {
  FieldReader r("ParameterDescription", body);
  ParameterDescription m;
  uint16_t n = r.count16("parameter count");
  m.types = r.int32s(n, "parameter type OIDs");
  return finishWith(r, m);
}

Result<BackendMessage> decodeParameterStatus(Bytes body) {
  FieldReader r("ParameterStatus", body);
  ParameterStatus m;
  m.name = r.cstring("parameter name");
  m.value = r.cstring("parameter value");
  return finishWith(r, m);
}

Result<BackendMessage> decodeReadyForQuery(Bytes body) {
  FieldReader r("ReadyForQuery", body);
  ReadyForQuery m;
  auto status = static_cast<char>(r.u8("transaction status"));
  if (r.ok() && status != 'I' && status != 'T' && status != 'E') {
    return protocolError("ReadyForQuery", "transaction status must be 'I', 'T' or 'E', got " +
                                              detail::describeType(status));
  }
  m.status = static_cast<TxStatus>(status);
  return finishWith(r, m);
}

Result<BackendMessage> decodeRowDescription(Bytes body) {
  // The smallest field: an empty name (1 byte) and 18 bytes of attributes.
  constexpr size_t kMinField = 19;
  FieldReader r("RowDescription", body);
  RowDescription m;
  uint16_t n = r.count16("field count");
  if (!r.ok()) return std::move(*r.finish());
  if (n * kMinField > r.remaining()) {
    return protocolError("RowDescription", std::to_string(n) + " fields cannot fit in the " +
                                               std::to_string(r.remaining()) +
                                               " bytes left in the message");
  }
  m.fields.reserve(n);
  for (uint16_t i = 0; i < n && r.ok(); ++i) {
    FieldDescription f;
    f.name = r.cstring("field name");
    f.table_oid = r.i32("table OID");
    f.column_attnum = r.i16("column attribute number");
    f.type_oid = r.i32("type OID");
    f.type_size = r.i16("type size");
    f.type_modifier = r.i32("type modifier");
    f.format = r.i16("format code");
    m.fields.push_back(f);
  }
  return finishWith(r, std::move(m));
}

}  // namespace

Result<BackendMessage> decodeBackend(const Frame& frame) {
  const Bytes body = frame.body;
  switch (frame.type) {
    case be::kAuthentication:
      return decodeAuthentication(body);
    case be::kBackendKeyData:
      return decodeBackendKeyData(body);
    case be::kBindComplete:
      return decodeEmpty<BindComplete>("BindComplete", body);
    case be::kCloseComplete:
      return decodeEmpty<CloseComplete>("CloseComplete", body);
    case be::kCommandComplete:
      return decodeCommandComplete(body);
    case be::kCopyInResponse:
    case be::kCopyOutResponse:
    case be::kCopyBothResponse:
      return decodeCopyResponse(frame.type, body);
    case be::kCopyData:
      return BackendMessage(CopyData{body});
    case be::kCopyDone:
      return decodeEmpty<CopyDone>("CopyDone", body);
    case be::kDataRow:
      return decodeDataRow(body);
    case be::kEmptyQueryResponse:
      return decodeEmpty<EmptyQueryResponse>("EmptyQueryResponse", body);
    case be::kErrorResponse:
      return decodeNoticeFields(true, body);
    case be::kNoticeResponse:
      return decodeNoticeFields(false, body);
    case be::kFunctionCallResponse:
      return decodeFunctionCallResponse(body);
    case be::kNegotiateProtocolVersion:
      return decodeNegotiateProtocolVersion(body);
    case be::kNoData:
      return decodeEmpty<NoData>("NoData", body);
    case be::kNotificationResponse:
      return decodeNotificationResponse(body);
    case be::kParameterDescription:
      return decodeParameterDescription(body);
    case be::kParameterStatus:
      return decodeParameterStatus(body);
    case be::kParseComplete:
      return decodeEmpty<ParseComplete>("ParseComplete", body);
    case be::kPortalSuspended:
      return decodeEmpty<PortalSuspended>("PortalSuspended", body);
    case be::kReadyForQuery:
      return decodeReadyForQuery(body);
    case be::kRowDescription:
      return decodeRowDescription(body);
    default:
      return protocolError("backend message",
                           "unknown message type " + detail::describeType(frame.type));
  }
}

}  // namespace pgw::protocol
