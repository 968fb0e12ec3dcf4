#pragma once
/// The PostgreSQL types the mask functions understand, by OID, and how each
/// is represented. Types are identified by their built-in OIDs (stable across
/// PostgreSQL versions); a type the gateway does not know (an extension's,
/// a domain over a text type is reported with the base type's OID) has
/// category Unknown, and a masked cell of it becomes NULL.
///
/// Reference: src/include/catalog/pg_type.dat in PostgreSQL.

#include <cstdint>

namespace pgw::mask {

namespace oid {
inline constexpr uint32_t kBytea = 17;
inline constexpr uint32_t kName = 19;
inline constexpr uint32_t kInt8 = 20;
inline constexpr uint32_t kInt2 = 21;
inline constexpr uint32_t kInt4 = 23;
inline constexpr uint32_t kText = 25;
inline constexpr uint32_t kJson = 114;
inline constexpr uint32_t kFloat4 = 700;
inline constexpr uint32_t kFloat8 = 701;
inline constexpr uint32_t kUnknown = 705;
inline constexpr uint32_t kBpchar = 1042;
inline constexpr uint32_t kVarchar = 1043;
inline constexpr uint32_t kDate = 1082;
inline constexpr uint32_t kTimestamp = 1114;
inline constexpr uint32_t kTimestampTz = 1184;
inline constexpr uint32_t kNumeric = 1700;
inline constexpr uint32_t kUuid = 2950;
inline constexpr uint32_t kJsonb = 3802;

inline constexpr uint32_t kJsonArray = 199;
inline constexpr uint32_t kByteaArray = 1001;
inline constexpr uint32_t kNameArray = 1003;
inline constexpr uint32_t kInt2Array = 1005;
inline constexpr uint32_t kInt4Array = 1007;
inline constexpr uint32_t kTextArray = 1009;
inline constexpr uint32_t kBpcharArray = 1014;
inline constexpr uint32_t kVarcharArray = 1015;
inline constexpr uint32_t kInt8Array = 1016;
inline constexpr uint32_t kFloat4Array = 1021;
inline constexpr uint32_t kFloat8Array = 1022;
inline constexpr uint32_t kTimestampArray = 1115;
inline constexpr uint32_t kDateArray = 1182;
inline constexpr uint32_t kTimestampTzArray = 1185;
inline constexpr uint32_t kNumericArray = 1231;
inline constexpr uint32_t kUuidArray = 2951;
inline constexpr uint32_t kJsonbArray = 3807;
}  // namespace oid

/// How a type's values are represented once decoded.
enum class Category {
  Unknown,      ///< not understood: masked cells become NULL
  Text,         ///< text, varchar, bpchar, name, unknown
  Json,         ///< json, jsonb (binary jsonb: a version byte 1, then the text)
  Bytea,        ///< bytes (text format: \x hex, or the escape format)
  Int,          ///< int2, int4, int8
  Numeric,      ///< arbitrary precision decimal
  Float,        ///< float4, float8
  Date,         ///< days since 2000-01-01
  Timestamp,    ///< microseconds since 2000-01-01 00:00:00
  TimestampTz,  ///< the same, in UTC
  Uuid,         ///< 16 bytes
};

struct TypeInfo {
  Category category = Category::Unknown;
  uint32_t oid = 0;    ///< the scalar type (the element type for an array)
  bool array = false;  ///< a one- or multi-dimensional array of `oid`
  uint8_t width = 0;   ///< Int: 2, 4, 8; Float: 4, 8
};

/// What the gateway knows about type `type_oid` (an array type resolves to
/// its element with `array` set).
TypeInfo typeInfo(uint32_t type_oid);

/// Whether content detectors look inside values of this type: text types,
/// json, jsonb and arrays of them.
bool scannable(uint32_t type_oid);

}  // namespace pgw::mask
