#pragma once
/// PostgreSQL frontend/backend protocol 3.0: framing, typed messages, and
/// encoders. Pure: no sockets, no asio, no OpenSSL. Decoded messages are views
/// into the caller's buffer and are valid only while that buffer is.
///
/// Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace pgw::protocol {

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

inline constexpr int32_t kProtocolMajor = 3;
inline constexpr int32_t kProtocolMinor = 0;
inline constexpr int32_t kProtocolV3 = (3 << 16);
inline constexpr int32_t kSslRequestCode = 80877103;
inline constexpr int32_t kGssEncRequestCode = 80877104;
inline constexpr int32_t kCancelRequestCode = 80877102;

/// Size limits applied before anything is buffered. `max_message_size` bounds
/// every typed message (header included); startup-phase packets are bounded
/// by `max_startup_size` (PostgreSQL uses 10000).
struct Limits {
  size_t max_message_size = 64u << 20;
  size_t max_startup_size = 10000;
};

/// Frontend message type bytes (client -> server).
namespace fe {
inline constexpr char kBind = 'B';
inline constexpr char kClose = 'C';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kCopyFail = 'f';
inline constexpr char kDescribe = 'D';
inline constexpr char kExecute = 'E';
inline constexpr char kFlush = 'H';
inline constexpr char kFunctionCall = 'F';
inline constexpr char kParse = 'P';
inline constexpr char kPassword = 'p';  ///< PasswordMessage, SASLInitialResponse, SASLResponse
inline constexpr char kQuery = 'Q';
inline constexpr char kSync = 'S';
inline constexpr char kTerminate = 'X';
}  // namespace fe

/// Backend message type bytes (server -> client).
namespace be {
inline constexpr char kAuthentication = 'R';
inline constexpr char kBackendKeyData = 'K';
inline constexpr char kBindComplete = '2';
inline constexpr char kCloseComplete = '3';
inline constexpr char kCommandComplete = 'C';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kCopyInResponse = 'G';
inline constexpr char kCopyOutResponse = 'H';
inline constexpr char kCopyBothResponse = 'W';
inline constexpr char kDataRow = 'D';
inline constexpr char kEmptyQueryResponse = 'I';
inline constexpr char kErrorResponse = 'E';
inline constexpr char kFunctionCallResponse = 'V';
inline constexpr char kNegotiateProtocolVersion = 'v';
inline constexpr char kNoData = 'n';
inline constexpr char kNoticeResponse = 'N';
inline constexpr char kNotificationResponse = 'A';
inline constexpr char kParameterDescription = 't';
inline constexpr char kParameterStatus = 'S';
inline constexpr char kParseComplete = '1';
inline constexpr char kPortalSuspended = 's';
inline constexpr char kReadyForQuery = 'Z';
inline constexpr char kRowDescription = 'T';
}  // namespace be

/// Authentication request codes carried by an 'R' message.
enum class AuthCode : int32_t {
  Ok = 0,
  KerberosV5 = 2,
  CleartextPassword = 3,
  MD5Password = 5,
  SCMCredential = 6,
  GSS = 7,
  GSSContinue = 8,
  SSPI = 9,
  SASL = 10,
  SASLContinue = 11,
  SASLFinal = 12,
};

/// Transaction status in ReadyForQuery.
enum class TxStatus : char { Idle = 'I', InTransaction = 'T', Failed = 'E' };

// ---------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------

enum class FrameStatus { Complete, NeedMore, Invalid };

/// One framed message at the start of a buffer. `type` is 0 for startup-phase
/// packets. `body` excludes the type byte and the length word; `size` is the
/// whole message on the wire (type byte + length word + body).
struct Frame {
  char type = 0;
  Bytes body;
  size_t size = 0;
};

struct FrameResult {
  FrameStatus status = FrameStatus::NeedMore;
  Frame frame;        ///< valid when status == Complete
  size_t needed = 0;  ///< when NeedMore and the header is known: total bytes of the message
  Error error;        ///< when Invalid: SQLSTATE 08P01 and what was wrong
};

/// Frames one typed message (1-byte type + int32 length) at the start of
/// `buf`. The length is validated (4 <= length, 1 + length <= max) as soon as
/// the 5-byte header is available, before the body is buffered.
FrameResult frameMessage(Bytes buf, size_t max_message_size);

/// Frames one startup-phase packet (int32 length, no type byte): StartupMessage,
/// SSLRequest, GSSENCRequest, CancelRequest. Length must be 8..max.
FrameResult frameStartup(Bytes buf, size_t max_startup_size);

// ---------------------------------------------------------------------------
// Startup-phase frontend packets
// ---------------------------------------------------------------------------

struct StartupMessage {
  int32_t version = kProtocolV3;  ///< major << 16 | minor
  /// Parameters in wire order, e.g. {"user","alice"},{"database","prod"}.
  std::vector<std::pair<std::string, std::string>> params;

  /// The value of a parameter, if present.
  std::optional<std::string_view> get(std::string_view name) const;
  int32_t major() const { return version >> 16; }
  int32_t minor() const { return version & 0xffff; }
};
struct SslRequest {};
struct GssEncRequest {};
struct CancelRequest {
  int32_t process_id = 0;
  int32_t secret_key = 0;
};

using StartupPacket = std::variant<StartupMessage, SslRequest, GssEncRequest, CancelRequest>;

/// Decodes the body of a framed startup packet (the part after the length
/// word). Unknown request codes and major versions other than 3 are errors
/// (08P01 / 0A000). A StartupMessage must end with the terminating NUL, have
/// no duplicate or empty names, and nothing left over.
Result<StartupPacket> decodeStartup(Bytes body);

// ---------------------------------------------------------------------------
// Frontend typed messages (views into the frame body)
// ---------------------------------------------------------------------------

/// A list of N int16 format codes or N int32 OIDs, kept as raw bytes so that
/// decoding does not allocate.
struct Int16List {
  Bytes raw;
  size_t size() const { return raw.size() / 2; }
  int16_t operator[](size_t i) const { return getI16(raw.data() + 2 * i); }
};
struct Int32List {
  Bytes raw;
  size_t size() const { return raw.size() / 4; }
  int32_t operator[](size_t i) const { return getI32(raw.data() + 4 * i); }
};

/// A sequence of length-prefixed values (Bind parameters, DataRow columns,
/// FunctionCall arguments) validated at decode time. A value of length -1 is
/// SQL NULL and appears as std::nullopt.
class ValueList {
 public:
  ValueList() = default;
  ValueList(Bytes raw, uint16_t count) : raw_(raw), count_(count) {}
  size_t size() const { return count_; }
  Bytes raw() const { return raw_; }

  class Iterator {
   public:
    Iterator(const std::byte* p, size_t left) : p_(p), left_(left) {}
    // Inline: they run once per cell of every row that is masked.
    std::optional<Bytes> operator*() const {
      const int32_t len = getI32(p_);
      if (len < 0) return std::nullopt;
      return Bytes(p_ + 4, static_cast<size_t>(len));
    }
    Iterator& operator++() {
      const int32_t len = getI32(p_);
      p_ += 4 + (len > 0 ? static_cast<size_t>(len) : 0);
      --left_;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return left_ != o.left_; }

   private:
    const std::byte* p_;
    size_t left_;
  };
  Iterator begin() const { return {raw_.data(), count_}; }
  Iterator end() const { return {nullptr, 0}; }

 private:
  Bytes raw_;
  uint16_t count_ = 0;
};

struct Query {
  std::string_view sql;
};
struct Parse {
  std::string_view statement;
  std::string_view query;
  Int32List param_types;
};
struct Bind {
  std::string_view portal;
  std::string_view statement;
  Int16List param_formats;
  ValueList params;
  Int16List result_formats;
};
struct Describe {
  char target = 'S';  ///< 'S' statement or 'P' portal
  std::string_view name;
};
struct Execute {
  std::string_view portal;
  int32_t max_rows = 0;
};
struct Close {
  char target = 'S';
  std::string_view name;
};
struct Sync {};
struct Flush {};
struct Terminate {};
struct CopyData {
  Bytes data;
};
struct CopyDone {};
struct CopyFail {
  std::string_view message;
};
struct FunctionCall {
  int32_t function_oid = 0;
  Int16List arg_formats;
  ValueList args;
  int16_t result_format = 0;
};
/// 'p' messages: their meaning depends on the authentication exchange, so
/// they decode as raw bytes; see decodePassword / decodeSaslInitialResponse /
/// decodeSaslResponse.
struct PasswordPacket {
  Bytes data;
};

using FrontendMessage =
    std::variant<Query, Parse, Bind, Describe, Execute, Close, Sync, Flush, Terminate, CopyData,
                 CopyDone, CopyFail, FunctionCall, PasswordPacket>;

/// Decodes a framed frontend message. Unknown type bytes, fields that overrun
/// the body and bytes left over are 08P01 errors.
Result<FrontendMessage> decodeFrontend(const Frame& frame);

/// PasswordMessage: a NUL-terminated password (cleartext or "md5...").
Result<std::string_view> decodePassword(Bytes body);
struct SaslInitialResponse {
  std::string_view mechanism;
  std::optional<Bytes> data;  ///< nullopt when the length is -1
};
Result<SaslInitialResponse> decodeSaslInitialResponse(Bytes body);
/// SASLResponse: the whole body is the mechanism's data.
inline Bytes decodeSaslResponse(Bytes body) {
  return body;
}

// ---------------------------------------------------------------------------
// Backend typed messages
// ---------------------------------------------------------------------------

struct Authentication {
  AuthCode code = AuthCode::Ok;
  /// MD5Password: the 4-byte salt. SASL: the mechanism list (NUL-terminated
  /// names, then an empty name). SASLContinue/SASLFinal/GSSContinue: data.
  Bytes data;
  /// SASL only: the offered mechanisms.
  std::vector<std::string_view> mechanisms;
};
struct BackendKeyData {
  int32_t process_id = 0;
  int32_t secret_key = 0;
};
struct BindComplete {};
struct CloseComplete {};
struct CommandComplete {
  std::string_view tag;
};
struct CopyResponse {
  char kind = 'G';  ///< 'G' CopyIn, 'H' CopyOut, 'W' CopyBoth
  int8_t format = 0;
  Int16List column_formats;
};
struct DataRow {
  ValueList columns;
};
struct EmptyQueryResponse {};

/// ErrorResponse / NoticeResponse: a list of (code, value) fields.
struct NoticeFields {
  Bytes raw;  ///< the fields as on the wire, terminated by a 0 byte
  /// The value of field `code` ('S','V','C','M','D','H',...), if present.
  std::optional<std::string_view> get(char code) const;
  std::string_view sqlstate() const { return get('C').value_or(""); }
  std::string_view message() const { return get('M').value_or(""); }
  std::string_view severity() const { return get('V').value_or(get('S').value_or("")); }
};
struct ErrorResponse {
  NoticeFields fields;
};
struct NoticeResponse {
  NoticeFields fields;
};
struct FunctionCallResponse {
  std::optional<Bytes> result;
};
struct NegotiateProtocolVersion {
  /// PostgreSQL puts the whole newest version word here (3 << 16 | minor).
  int32_t newest_minor = 0;
  std::vector<std::string_view> unrecognized;
};
struct NoData {};
struct NotificationResponse {
  int32_t process_id = 0;
  std::string_view channel;
  std::string_view payload;
};
struct ParameterDescription {
  Int32List types;
};
struct ParameterStatus {
  std::string_view name;
  std::string_view value;
};
struct ParseComplete {};
struct PortalSuspended {};
struct ReadyForQuery {
  TxStatus status = TxStatus::Idle;
};

/// One column of a RowDescription.
struct FieldDescription {
  std::string_view name;
  int32_t table_oid = 0;
  int16_t column_attnum = 0;
  int32_t type_oid = 0;
  int16_t type_size = 0;
  int32_t type_modifier = 0;
  int16_t format = 0;  ///< 0 text, 1 binary
};
struct RowDescription {
  std::vector<FieldDescription> fields;
};

using BackendMessage =
    std::variant<Authentication, BackendKeyData, BindComplete, CloseComplete, CommandComplete,
                 CopyResponse, CopyData, CopyDone, DataRow, EmptyQueryResponse, ErrorResponse,
                 NoticeResponse, FunctionCallResponse, NegotiateProtocolVersion, NoData,
                 NotificationResponse, ParameterDescription, ParameterStatus, ParseComplete,
                 PortalSuspended, ReadyForQuery, RowDescription>;

/// Decodes a framed backend message; same strictness as decodeFrontend.
Result<BackendMessage> decodeBackend(const Frame& frame);

// ---------------------------------------------------------------------------
// Encoders: append one whole message to `out`.
// ---------------------------------------------------------------------------

// A string written as a C string is cut at its first NUL byte, so that the
// message stays well-formed whatever it holds. List counts (parameters,
// columns, formats) must be at most 65535, the protocol's int16 limit.

void encodeStartupMessage(std::string& out, const StartupMessage& m);
void encodeSslRequest(std::string& out);
void encodeGssEncRequest(std::string& out);
void encodeCancelRequest(std::string& out, const CancelRequest& m);

void encodeQuery(std::string& out, std::string_view sql);
void encodeParse(std::string& out, std::string_view statement, std::string_view query,
                 std::span<const int32_t> param_types);
/// params: nullopt = NULL.
void encodeBind(std::string& out, std::string_view portal, std::string_view statement,
                std::span<const int16_t> param_formats,
                std::span<const std::optional<std::string_view>> params,
                std::span<const int16_t> result_formats);
void encodeDescribe(std::string& out, char target, std::string_view name);
void encodeExecute(std::string& out, std::string_view portal, int32_t max_rows);
void encodeClose(std::string& out, char target, std::string_view name);
void encodeSync(std::string& out);
void encodeFlush(std::string& out);
void encodeTerminate(std::string& out);
void encodeCopyData(std::string& out, Bytes data);
/// CopyDone is the same byte for both directions.
void encodeCopyDone(std::string& out);
void encodeCopyFail(std::string& out, std::string_view message);
void encodeFunctionCall(std::string& out, int32_t function_oid,
                        std::span<const int16_t> arg_formats,
                        std::span<const std::optional<std::string_view>> args,
                        int16_t result_format);
void encodePassword(std::string& out, std::string_view password);
void encodeSaslInitialResponse(std::string& out, std::string_view mechanism, std::string_view data);
void encodeSaslResponse(std::string& out, std::string_view data);

void encodeAuthentication(std::string& out, AuthCode code, std::string_view data = {});
/// AuthenticationSASL with the given mechanism names.
void encodeAuthenticationSasl(std::string& out, std::span<const std::string_view> mechanisms);
void encodeBackendKeyData(std::string& out, const BackendKeyData& m);
void encodeBindComplete(std::string& out);
void encodeCloseComplete(std::string& out);
void encodeCommandComplete(std::string& out, std::string_view tag);
void encodeCopyResponse(std::string& out, char kind, int8_t format,
                        std::span<const int16_t> column_formats);
void encodeDataRow(std::string& out, std::span<const std::optional<std::string_view>> columns);
void encodeEmptyQueryResponse(std::string& out);
void encodeFunctionCallResponse(std::string& out, std::optional<std::string_view> result);
void encodeNegotiateProtocolVersion(std::string& out, int32_t newest_minor,
                                    std::span<const std::string_view> unrecognized);
void encodeNoData(std::string& out);
void encodeNotificationResponse(std::string& out, const NotificationResponse& m);
void encodeParameterDescription(std::string& out, std::span<const int32_t> types);
void encodeParameterStatus(std::string& out, std::string_view name, std::string_view value);
void encodeParseComplete(std::string& out);
void encodePortalSuspended(std::string& out);
void encodeReadyForQuery(std::string& out, TxStatus status);
void encodeRowDescription(std::string& out, std::span<const FieldDescription> fields);

/// The fields of an ErrorResponse or NoticeResponse to build.
struct ErrorFields {
  std::string_view severity = "ERROR";  ///< ERROR, FATAL, PANIC, WARNING, NOTICE, ...
  std::string_view sqlstate;
  std::string_view message;
  std::string_view detail;  ///< optional
  std::string_view hint;    ///< optional
};
void encodeErrorResponse(std::string& out, const ErrorFields& f);
void encodeNoticeResponse(std::string& out, const ErrorFields& f);
/// Re-emits fields verbatim (e.g. after rewriting some of them).
void encodeNoticeFields(std::string& out, char type,
                        std::span<const std::pair<char, std::string_view>> fields);

}  // namespace pgw::protocol
