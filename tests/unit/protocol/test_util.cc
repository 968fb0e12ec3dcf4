#include "test_util.h"

#include <cstring>

namespace pgw::protocol::testing {

std::vector<int16_t> toVector(Int16List list) {
  std::vector<int16_t> v;
  for (size_t i = 0; i < list.size(); ++i) v.push_back(list[i]);
  return v;
}

std::vector<int32_t> toVector(Int32List list) {
  std::vector<int32_t> v;
  for (size_t i = 0; i < list.size(); ++i) v.push_back(list[i]);
  return v;
}

Values toValues(const ValueList& list) {
  Values v;
  for (auto it = list.begin(); it != list.end(); ++it) {
    std::optional<Bytes> b = *it;
    if (b) {
      v.emplace_back(str(*b));
    } else {
      v.emplace_back(std::nullopt);
    }
  }
  return v;
}

std::vector<std::pair<char, std::string_view>> noticePairs(const NoticeFields& fields) {
  std::vector<std::pair<char, std::string_view>> out;
  std::string_view raw = str(fields.raw);
  size_t pos = 0;
  while (pos < raw.size() && raw[pos] != '\0') {
    char code = raw[pos++];
    size_t nul = raw.find('\0', pos);
    if (nul == std::string_view::npos) break;
    out.emplace_back(code, raw.substr(pos, nul - pos));
    pos = nul + 1;
  }
  return out;
}

namespace {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace

std::string reencodeFrontend(const FrontendMessage& m) {
  std::string out;
  std::visit(
      Overloaded{
          [&](const Query& q) { encodeQuery(out, q.sql); },
          [&](const Parse& p) { encodeParse(out, p.statement, p.query, toVector(p.param_types)); },
          [&](const Bind& b) {
            encodeBind(out, b.portal, b.statement, toVector(b.param_formats), toValues(b.params),
                       toVector(b.result_formats));
          },
          [&](const Describe& d) { encodeDescribe(out, d.target, d.name); },
          [&](const Execute& e) { encodeExecute(out, e.portal, e.max_rows); },
          [&](const Close& c) { encodeClose(out, c.target, c.name); },
          [&](const Sync&) { encodeSync(out); },
          [&](const Flush&) { encodeFlush(out); },
          [&](const Terminate&) { encodeTerminate(out); },
          [&](const CopyData& c) { encodeCopyData(out, c.data); },
          [&](const CopyDone&) { encodeCopyDone(out); },
          [&](const CopyFail& c) { encodeCopyFail(out, c.message); },
          [&](const FunctionCall& f) {
            encodeFunctionCall(out, f.function_oid, toVector(f.arg_formats), toValues(f.args),
                               f.result_format);
          },
          [&](const PasswordPacket& p) { encodeSaslResponse(out, str(p.data)); },
      },
      m);
  return out;
}

std::string reencodeBackend(const BackendMessage& m) {
  std::string out;
  auto optStr = [](const std::optional<Bytes>& b) -> std::optional<std::string_view> {
    if (!b) return std::nullopt;
    return str(*b);
  };
  std::visit(
      Overloaded{
          [&](const Authentication& a) {
            if (a.code == AuthCode::SASL) {
              encodeAuthenticationSasl(out, a.mechanisms);
            } else {
              encodeAuthentication(out, a.code, str(a.data));
            }
          },
          [&](const BackendKeyData& k) { encodeBackendKeyData(out, k); },
          [&](const BindComplete&) { encodeBindComplete(out); },
          [&](const CloseComplete&) { encodeCloseComplete(out); },
          [&](const CommandComplete& c) { encodeCommandComplete(out, c.tag); },
          [&](const CopyResponse& c) {
            encodeCopyResponse(out, c.kind, c.format, toVector(c.column_formats));
          },
          [&](const CopyData& c) { encodeCopyData(out, c.data); },
          [&](const CopyDone&) { encodeCopyDone(out); },
          [&](const DataRow& d) { encodeDataRow(out, toValues(d.columns)); },
          [&](const EmptyQueryResponse&) { encodeEmptyQueryResponse(out); },
          [&](const ErrorResponse& e) {
            encodeNoticeFields(out, be::kErrorResponse, noticePairs(e.fields));
          },
          [&](const NoticeResponse& n) {
            encodeNoticeFields(out, be::kNoticeResponse, noticePairs(n.fields));
          },
          [&](const FunctionCallResponse& f) { encodeFunctionCallResponse(out, optStr(f.result)); },
          [&](const NegotiateProtocolVersion& n) {
            encodeNegotiateProtocolVersion(out, n.newest_minor, n.unrecognized);
          },
          [&](const NoData&) { encodeNoData(out); },
          [&](const NotificationResponse& n) { encodeNotificationResponse(out, n); },
          [&](const ParameterDescription& p) {
            encodeParameterDescription(out, toVector(p.types));
          },
          [&](const ParameterStatus& p) { encodeParameterStatus(out, p.name, p.value); },
          [&](const ParseComplete&) { encodeParseComplete(out); },
          [&](const PortalSuspended&) { encodePortalSuspended(out); },
          [&](const ReadyForQuery& r) { encodeReadyForQuery(out, r.status); },
          [&](const RowDescription& r) { encodeRowDescription(out, r.fields); },
      },
      m);
  return out;
}

std::string reencodeStartup(const StartupPacket& p) {
  std::string out;
  std::visit(Overloaded{
                 [&](const StartupMessage& s) { encodeStartupMessage(out, s); },
                 [&](const SslRequest&) { encodeSslRequest(out); },
                 [&](const GssEncRequest&) { encodeGssEncRequest(out); },
                 [&](const CancelRequest& c) { encodeCancelRequest(out, c); },
             },
             p);
  return out;
}

namespace {

template <class F>
Sample sample(std::string name, F encode) {
  Sample s{std::move(name), {}};
  encode(s.wire);
  return s;
}

}  // namespace

std::vector<Sample> frontendSamples() {
  using namespace std::string_literals;
  static const std::string kBinary = "\x00\x01\xff\x00"s;
  std::vector<Sample> v;
  v.push_back(sample("Query", [](std::string& o) { encodeQuery(o, "SELECT 1"); }));
  v.push_back(sample("Query empty", [](std::string& o) { encodeQuery(o, ""); }));
  v.push_back(sample("Parse", [](std::string& o) {
    const int32_t types[] = {23, 0, 25};
    encodeParse(o, "s1", "SELECT $1::int, $2, $3", types);
  }));
  v.push_back(sample("Parse unnamed", [](std::string& o) { encodeParse(o, "", "SELECT 1", {}); }));
  v.push_back(sample("Bind", [](std::string& o) {
    const int16_t formats[] = {0, 1};
    const std::optional<std::string_view> params[] = {"42", kBinary};
    const int16_t results[] = {1};
    encodeBind(o, "p1", "s1", formats, params, results);
  }));
  v.push_back(sample("Bind null and empty", [](std::string& o) {
    const int16_t formats[] = {0};
    const std::optional<std::string_view> params[] = {std::nullopt, "", "x"};
    encodeBind(o, "", "", formats, params, {});
  }));
  v.push_back(sample("Bind no params", [](std::string& o) { encodeBind(o, "", "", {}, {}, {}); }));
  v.push_back(sample("Describe S", [](std::string& o) { encodeDescribe(o, 'S', "s1"); }));
  v.push_back(sample("Describe P", [](std::string& o) { encodeDescribe(o, 'P', ""); }));
  v.push_back(sample("Execute", [](std::string& o) { encodeExecute(o, "p1", 100); }));
  v.push_back(sample("Close S", [](std::string& o) { encodeClose(o, 'S', "s1"); }));
  v.push_back(sample("Close P", [](std::string& o) { encodeClose(o, 'P', "p1"); }));
  v.push_back(sample("Sync", [](std::string& o) { encodeSync(o); }));
  v.push_back(sample("Flush", [](std::string& o) { encodeFlush(o); }));
  v.push_back(sample("Terminate", [](std::string& o) { encodeTerminate(o); }));
  v.push_back(sample("CopyData", [](std::string& o) { encodeCopyData(o, asBytes(kBinary)); }));
  v.push_back(sample("CopyDone", [](std::string& o) { encodeCopyDone(o); }));
  v.push_back(sample("CopyFail", [](std::string& o) { encodeCopyFail(o, "client gave up"); }));
  v.push_back(sample("FunctionCall", [](std::string& o) {
    const int16_t formats[] = {1};
    const std::optional<std::string_view> args[] = {kBinary, std::nullopt};
    encodeFunctionCall(o, 1598, formats, args, 1);
  }));
  v.push_back(sample("PasswordMessage", [](std::string& o) { encodePassword(o, "s3cret"); }));
  v.push_back(sample("SASLInitialResponse", [](std::string& o) {
    encodeSaslInitialResponse(o, "SCRAM-SHA-256", "n,,n=,r=abc");
  }));
  v.push_back(
      sample("SASLResponse", [](std::string& o) { encodeSaslResponse(o, "c=biws,r=abc,p=xyz"); }));
  return v;
}

std::vector<Sample> backendSamples() {
  using namespace std::string_literals;
  static const std::string kBinary = "\x00\x01\xff\x00"s;
  std::vector<Sample> v;
  auto auth = [&](std::string name, AuthCode code, std::string_view data = {}) {
    v.push_back(sample("Authentication" + name,
                       [&](std::string& o) { encodeAuthentication(o, code, data); }));
  };
  auth("Ok", AuthCode::Ok);
  auth("KerberosV5", AuthCode::KerberosV5);
  auth("CleartextPassword", AuthCode::CleartextPassword);
  auth("MD5Password", AuthCode::MD5Password, "\x01\x00\xfe\x7f"s);
  auth("SCMCredential", AuthCode::SCMCredential);
  auth("GSS", AuthCode::GSS);
  auth("GSSContinue", AuthCode::GSSContinue, kBinary);
  auth("SSPI", AuthCode::SSPI);
  auth("SASLContinue", AuthCode::SASLContinue, "r=abc,s=c2FsdA==,i=4096");
  auth("SASLFinal", AuthCode::SASLFinal, "v=c2lnbmF0dXJl");
  v.push_back(sample("AuthenticationSASL", [](std::string& o) {
    const std::string_view mechs[] = {"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"};
    encodeAuthenticationSasl(o, mechs);
  }));
  v.push_back(sample("BackendKeyData", [](std::string& o) {
    encodeBackendKeyData(o, BackendKeyData{4242, -123456789});
  }));
  v.push_back(sample("BindComplete", [](std::string& o) { encodeBindComplete(o); }));
  v.push_back(sample("CloseComplete", [](std::string& o) { encodeCloseComplete(o); }));
  v.push_back(
      sample("CommandComplete", [](std::string& o) { encodeCommandComplete(o, "SELECT 3"); }));
  v.push_back(sample("CopyInResponse", [](std::string& o) {
    const int16_t formats[] = {0, 0};
    encodeCopyResponse(o, be::kCopyInResponse, 0, formats);
  }));
  v.push_back(sample("CopyOutResponse", [](std::string& o) {
    const int16_t formats[] = {1};
    encodeCopyResponse(o, be::kCopyOutResponse, 1, formats);
  }));
  v.push_back(sample("CopyBothResponse",
                     [](std::string& o) { encodeCopyResponse(o, be::kCopyBothResponse, 0, {}); }));
  v.push_back(sample("CopyData", [](std::string& o) { encodeCopyData(o, asBytes(kBinary)); }));
  v.push_back(sample("CopyDone", [](std::string& o) { encodeCopyDone(o); }));
  v.push_back(sample("DataRow", [](std::string& o) {
    const std::optional<std::string_view> cols[] = {"1", std::nullopt, "", kBinary};
    encodeDataRow(o, cols);
  }));
  v.push_back(sample("DataRow empty", [](std::string& o) { encodeDataRow(o, {}); }));
  v.push_back(sample("EmptyQueryResponse", [](std::string& o) { encodeEmptyQueryResponse(o); }));
  v.push_back(sample("ErrorResponse", [](std::string& o) {
    encodeErrorResponse(o, ErrorFields{"ERROR", "42501", "permission denied", "rule x", "ask"});
  }));
  v.push_back(sample("NoticeResponse", [](std::string& o) {
    encodeNoticeResponse(o, ErrorFields{"NOTICE", "00000", "hello", "", ""});
  }));
  v.push_back(sample("FunctionCallResponse",
                     [](std::string& o) { encodeFunctionCallResponse(o, kBinary); }));
  v.push_back(sample("FunctionCallResponse NULL",
                     [](std::string& o) { encodeFunctionCallResponse(o, std::nullopt); }));
  v.push_back(sample("NegotiateProtocolVersion", [](std::string& o) {
    const std::string_view names[] = {"_pq_.compression", "_pq_.x"};
    encodeNegotiateProtocolVersion(o, 0, names);
  }));
  v.push_back(sample("NoData", [](std::string& o) { encodeNoData(o); }));
  v.push_back(sample("NotificationResponse", [](std::string& o) {
    encodeNotificationResponse(o, NotificationResponse{77, "chan", "payload"});
  }));
  v.push_back(sample("ParameterDescription", [](std::string& o) {
    const int32_t types[] = {23, 25, -1};
    encodeParameterDescription(o, types);
  }));
  v.push_back(sample("ParameterStatus",
                     [](std::string& o) { encodeParameterStatus(o, "server_version", "15.6"); }));
  v.push_back(sample("ParseComplete", [](std::string& o) { encodeParseComplete(o); }));
  v.push_back(sample("PortalSuspended", [](std::string& o) { encodePortalSuspended(o); }));
  v.push_back(
      sample("ReadyForQuery I", [](std::string& o) { encodeReadyForQuery(o, TxStatus::Idle); }));
  v.push_back(sample("ReadyForQuery T",
                     [](std::string& o) { encodeReadyForQuery(o, TxStatus::InTransaction); }));
  v.push_back(
      sample("ReadyForQuery E", [](std::string& o) { encodeReadyForQuery(o, TxStatus::Failed); }));
  v.push_back(sample("RowDescription", [](std::string& o) {
    const FieldDescription fields[] = {{"id", 16384, 1, 23, 4, -1, 0},
                                       {"email", 16384, 3, 25, -1, -1, 1}};
    encodeRowDescription(o, fields);
  }));
  return v;
}

std::vector<Sample> startupSamples() {
  std::vector<Sample> v;
  v.push_back(sample("StartupMessage", [](std::string& o) {
    StartupMessage m;
    m.params = {{"user", "alice"}, {"database", "prod"}, {"application_name", "psql"}};
    encodeStartupMessage(o, m);
  }));
  v.push_back(sample("StartupMessage 3.2 no params", [](std::string& o) {
    StartupMessage m;
    m.version = (3 << 16) | 2;
    encodeStartupMessage(o, m);
  }));
  v.push_back(sample("SSLRequest", [](std::string& o) { encodeSslRequest(o); }));
  v.push_back(sample("GSSENCRequest", [](std::string& o) { encodeGssEncRequest(o); }));
  v.push_back(sample("CancelRequest", [](std::string& o) {
    encodeCancelRequest(o, CancelRequest{1234, -5678});
  }));
  return v;
}

Frame frameWhole(const std::string& wire) {
  FrameResult r = frameMessage(bytesOf(wire), Limits{}.max_message_size);
  EXPECT_EQ(r.status, FrameStatus::Complete) << r.error.message;
  EXPECT_EQ(r.frame.size, wire.size());
  return r.frame;
}

Frame frameWholeStartup(const std::string& wire) {
  FrameResult r = frameStartup(bytesOf(wire), Limits{}.max_startup_size);
  EXPECT_EQ(r.status, FrameStatus::Complete) << r.error.message;
  EXPECT_EQ(r.frame.size, wire.size());
  return r.frame;
}

}  // namespace pgw::protocol::testing
