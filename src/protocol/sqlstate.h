#pragma once
/// SQLSTATE codes the gateway sends. Reference:
/// https://www.postgresql.org/docs/15/errcodes-appendix.html

#include <string_view>

namespace pgw::sqlstate {

inline constexpr std::string_view kConnectionException = "08000";
inline constexpr std::string_view kConnectionFailure = "08006";
inline constexpr std::string_view kSqlClientUnableToEstablishConnection = "08001";
inline constexpr std::string_view kSqlServerRejectedConnection = "08004";
inline constexpr std::string_view kProtocolViolation = "08P01";
inline constexpr std::string_view kFeatureNotSupported = "0A000";
inline constexpr std::string_view kInvalidAuthorizationSpecification = "28000";
inline constexpr std::string_view kInvalidPassword = "28P01";
inline constexpr std::string_view kInvalidCatalogName = "3D000";
inline constexpr std::string_view kInsufficientPrivilege = "42501";
inline constexpr std::string_view kInsufficientResources = "53000";
inline constexpr std::string_view kTooManyConnections = "53300";
inline constexpr std::string_view kQueryCanceled = "57014";
inline constexpr std::string_view kAdminShutdown = "57P01";
inline constexpr std::string_view kCannotConnectNow = "57P03";
inline constexpr std::string_view kIdleSessionTimeout = "57P05";
inline constexpr std::string_view kInternalError = "XX000";

}  // namespace pgw::sqlstate
