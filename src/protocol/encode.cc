// Encoders: each appends one whole message to the caller's buffer.

#include <cassert>
#include <limits>

#include "protocol/messages.h"

namespace pgw::protocol {

namespace {

/// A C string field. A string with an embedded NUL would end the field early
/// and shift every field after it, so it is cut at the first NUL instead.
void putCString(ByteWriter& w, std::string_view s) {
  w.cstring(s.substr(0, s.find('\0')));
}

/// Counts are uint16 on the wire; callers never build more than that.
void putCount(ByteWriter& w, size_t n) {
  assert(n <= std::numeric_limits<uint16_t>::max());
  w.i16(static_cast<int16_t>(static_cast<uint16_t>(n)));
}

void putI16s(ByteWriter& w, std::span<const int16_t> values) {
  putCount(w, values.size());
  for (int16_t v : values) w.i16(v);
}

void putI32s(ByteWriter& w, std::span<const int32_t> values) {
  putCount(w, values.size());
  for (int32_t v : values) w.i32(v);
}

/// An int32 length (-1 for NULL) and the value's bytes.
void putValue(ByteWriter& w, std::optional<std::string_view> v) {
  if (!v) {
    w.i32(-1);
    return;
  }
  w.i32(static_cast<int32_t>(v->size()));
  w.raw(*v);
}

void putValues(ByteWriter& w, std::span<const std::optional<std::string_view>> values) {
  putCount(w, values.size());
  for (const auto& v : values) putValue(w, v);
}

void emptyMessage(std::string& out, char type) {
  ByteWriter w(out);
  w.beginMessage(type);
  w.endMessage();
}

void oneString(std::string& out, char type, std::string_view s) {
  ByteWriter w(out);
  w.beginMessage(type);
  putCString(w, s);
  w.endMessage();
}

void targetAndName(std::string& out, char type, char target, std::string_view name) {
  ByteWriter w(out);
  w.beginMessage(type);
  w.u8(static_cast<uint8_t>(target));
  putCString(w, name);
  w.endMessage();
}

void noticeMessage(std::string& out, char type, const ErrorFields& f) {
  ByteWriter w(out);
  w.beginMessage(type);
  auto field = [&](char code, std::string_view value) {
    w.u8(static_cast<uint8_t>(code));
    putCString(w, value);
  };
  field('S', f.severity);
  field('V', f.severity);
  field('C', f.sqlstate);
  field('M', f.message);
  if (!f.detail.empty()) field('D', f.detail);
  if (!f.hint.empty()) field('H', f.hint);
  w.u8(0);
  w.endMessage();
}

}  // namespace

// --- Startup phase ----------------------------------------------------------

void encodeStartupMessage(std::string& out, const StartupMessage& m) {
  ByteWriter w(out);
  w.beginUntyped();
  w.i32(m.version);
  for (const auto& [name, value] : m.params) {
    // An empty name is the list terminator; such a parameter cannot be sent.
    if (name.empty() || name.front() == '\0') continue;
    putCString(w, name);
    putCString(w, value);
  }
  w.u8(0);
  w.endMessage();
}

void encodeSslRequest(std::string& out) {
  ByteWriter w(out);
  w.beginUntyped();
  w.i32(kSslRequestCode);
  w.endMessage();
}

void encodeGssEncRequest(std::string& out) {
  ByteWriter w(out);
  w.beginUntyped();
  w.i32(kGssEncRequestCode);
  w.endMessage();
}

void encodeCancelRequest(std::string& out, const CancelRequest& m) {
  ByteWriter w(out);
  w.beginUntyped();
  w.i32(kCancelRequestCode);
  w.i32(m.process_id);
  w.i32(m.secret_key);
  w.endMessage();
}

// --- Frontend ---------------------------------------------------------------

void encodeQuery(std::string& out, std::string_view sql) {
  oneString(out, fe::kQuery, sql);
}

void encodeParse(std::string& out, std::string_view statement, std::string_view query,
                 std::span<const int32_t> param_types) {
  ByteWriter w(out);
  w.beginMessage(fe::kParse);
  putCString(w, statement);
  putCString(w, query);
  putI32s(w, param_types);
  w.endMessage();
}

void encodeBind(std::string& out, std::string_view portal, std::string_view statement,
                std::span<const int16_t> param_formats,
                std::span<const std::optional<std::string_view>> params,
                std::span<const int16_t> result_formats) {
  ByteWriter w(out);
  w.beginMessage(fe::kBind);
  putCString(w, portal);
  putCString(w, statement);
  putI16s(w, param_formats);
  putValues(w, params);
  putI16s(w, result_formats);
  w.endMessage();
}

void encodeDescribe(std::string& out, char target, std::string_view name) {
  targetAndName(out, fe::kDescribe, target, name);
}

void encodeExecute(std::string& out, std::string_view portal, int32_t max_rows) {
  ByteWriter w(out);
  w.beginMessage(fe::kExecute);
  putCString(w, portal);
  w.i32(max_rows);
  w.endMessage();
}

void encodeClose(std::string& out, char target, std::string_view name) {
  targetAndName(out, fe::kClose, target, name);
}

void encodeSync(std::string& out) {
  emptyMessage(out, fe::kSync);
}
void encodeFlush(std::string& out) {
  emptyMessage(out, fe::kFlush);
}
void encodeTerminate(std::string& out) {
  emptyMessage(out, fe::kTerminate);
}

void encodeCopyData(std::string& out, Bytes data) {
  ByteWriter w(out);
  w.beginMessage(fe::kCopyData);
  w.bytes(data);
  w.endMessage();
}

void encodeCopyDone(std::string& out) {
  emptyMessage(out, fe::kCopyDone);
}

void encodeCopyFail(std::string& out, std::string_view message) {
  oneString(out, fe::kCopyFail, message);
}

void encodeFunctionCall(std::string& out, int32_t function_oid,
                        std::span<const int16_t> arg_formats,
                        std::span<const std::optional<std::string_view>> args,
                        int16_t result_format) {
  ByteWriter w(out);
  w.beginMessage(fe::kFunctionCall);
  w.i32(function_oid);
  putI16s(w, arg_formats);
  putValues(w, args);
  w.i16(result_format);
  w.endMessage();
}

void encodePassword(std::string& out, std::string_view password) {
  oneString(out, fe::kPassword, password);
}

void encodeSaslInitialResponse(std::string& out, std::string_view mechanism,
                               std::string_view data) {
  ByteWriter w(out);
  w.beginMessage(fe::kPassword);
  putCString(w, mechanism);
  putValue(w, data);
  w.endMessage();
}

void encodeSaslResponse(std::string& out, std::string_view data) {
  ByteWriter w(out);
  w.beginMessage(fe::kPassword);
  w.raw(data);
  w.endMessage();
}

// --- Backend ----------------------------------------------------------------

void encodeAuthentication(std::string& out, AuthCode code, std::string_view data) {
  ByteWriter w(out);
  w.beginMessage(be::kAuthentication);
  w.i32(static_cast<int32_t>(code));
  w.raw(data);
  w.endMessage();
}

void encodeAuthenticationSasl(std::string& out, std::span<const std::string_view> mechanisms) {
  ByteWriter w(out);
  w.beginMessage(be::kAuthentication);
  w.i32(static_cast<int32_t>(AuthCode::SASL));
  for (std::string_view m : mechanisms) {
    // An empty name would end the list early.
    if (m.empty() || m.front() == '\0') continue;
    putCString(w, m);
  }
  w.u8(0);
  w.endMessage();
}

void encodeBackendKeyData(std::string& out, const BackendKeyData& m) {
  ByteWriter w(out);
  w.beginMessage(be::kBackendKeyData);
  w.i32(m.process_id);
  w.i32(m.secret_key);
  w.endMessage();
}

void encodeBindComplete(std::string& out) {
  emptyMessage(out, be::kBindComplete);
}
void encodeCloseComplete(std::string& out) {
  emptyMessage(out, be::kCloseComplete);
}

void encodeCommandComplete(std::string& out, std::string_view tag) {
  oneString(out, be::kCommandComplete, tag);
}

void encodeCopyResponse(std::string& out, char kind, int8_t format,
                        std::span<const int16_t> column_formats) {
  ByteWriter w(out);
  w.beginMessage(kind);
  w.u8(static_cast<uint8_t>(format));
  putI16s(w, column_formats);
  w.endMessage();
}

void encodeDataRow(std::string& out, std::span<const std::optional<std::string_view>> columns) {
  ByteWriter w(out);
  w.beginMessage(be::kDataRow);
  putValues(w, columns);
  w.endMessage();
}

void encodeEmptyQueryResponse(std::string& out) {
  emptyMessage(out, be::kEmptyQueryResponse);
}

void encodeFunctionCallResponse(std::string& out, std::optional<std::string_view> result) {
  ByteWriter w(out);
  w.beginMessage(be::kFunctionCallResponse);
  putValue(w, result);
  w.endMessage();
}

void encodeNegotiateProtocolVersion(std::string& out, int32_t newest_minor,
                                    std::span<const std::string_view> unrecognized) {
  ByteWriter w(out);
  w.beginMessage(be::kNegotiateProtocolVersion);
  w.i32(newest_minor);
  w.i32(static_cast<int32_t>(unrecognized.size()));
  for (std::string_view name : unrecognized) putCString(w, name);
  w.endMessage();
}

void encodeNoData(std::string& out) {
  emptyMessage(out, be::kNoData);
}

void encodeNotificationResponse(std::string& out, const NotificationResponse& m) {
  ByteWriter w(out);
  w.beginMessage(be::kNotificationResponse);
  w.i32(m.process_id);
  putCString(w, m.channel);
  putCString(w, m.payload);
  w.endMessage();
}

void encodeParameterDescription(std::string& out, std::span<const int32_t> types) {
  ByteWriter w(out);
  w.beginMessage(be::kParameterDescription);
  putI32s(w, types);
  w.endMessage();
}

void encodeParameterStatus(std::string& out, std::string_view name, std::string_view value) {
  ByteWriter w(out);
  w.beginMessage(be::kParameterStatus);
  putCString(w, name);
  putCString(w, value);
  w.endMessage();
}

void encodeParseComplete(std::string& out) {
  emptyMessage(out, be::kParseComplete);
}
void encodePortalSuspended(std::string& out) {
  emptyMessage(out, be::kPortalSuspended);
}

void encodeReadyForQuery(std::string& out, TxStatus status) {
  ByteWriter w(out);
  w.beginMessage(be::kReadyForQuery);
  w.u8(static_cast<uint8_t>(status));
  w.endMessage();
}

void encodeRowDescription(std::string& out, std::span<const FieldDescription> fields) {
  ByteWriter w(out);
  w.beginMessage(be::kRowDescription);
  putCount(w, fields.size());
  for (const FieldDescription& f : fields) {
    putCString(w, f.name);
    w.i32(f.table_oid);
    w.i16(f.column_attnum);
    w.i32(f.type_oid);
    w.i16(f.type_size);
    w.i32(f.type_modifier);
    w.i16(f.format);
  }
  w.endMessage();
}

void encodeErrorResponse(std::string& out, const ErrorFields& f) {
  noticeMessage(out, be::kErrorResponse, f);
}

void encodeNoticeResponse(std::string& out, const ErrorFields& f) {
  noticeMessage(out, be::kNoticeResponse, f);
}

void encodeNoticeFields(std::string& out, char type,
                        std::span<const std::pair<char, std::string_view>> fields) {
  ByteWriter w(out);
  w.beginMessage(type);
  for (const auto& [code, value] : fields) {
    // A zero code would end the list early.
    if (code == '\0') continue;
    w.u8(static_cast<uint8_t>(code));
    putCString(w, value);
  }
  w.u8(0);
  w.endMessage();
}

}  // namespace pgw::protocol
