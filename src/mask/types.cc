#include "mask/types.h"

namespace pgw::mask {
namespace {

TypeInfo scalar(uint32_t type_oid) {
  switch (type_oid) {
    case oid::kText:
    case oid::kVarchar:
    case oid::kBpchar:
    case oid::kName:
    case oid::kUnknown:
      return {Category::Text, type_oid, false, 0};
    case oid::kJson:
    case oid::kJsonb:
      return {Category::Json, type_oid, false, 0};
    case oid::kBytea:
      return {Category::Bytea, type_oid, false, 0};
    case oid::kInt2:
      return {Category::Int, type_oid, false, 2};
    case oid::kInt4:
      return {Category::Int, type_oid, false, 4};
    case oid::kInt8:
      return {Category::Int, type_oid, false, 8};
    case oid::kNumeric:
      return {Category::Numeric, type_oid, false, 0};
    case oid::kFloat4:
      return {Category::Float, type_oid, false, 4};
    case oid::kFloat8:
      return {Category::Float, type_oid, false, 8};
    case oid::kDate:
      return {Category::Date, type_oid, false, 0};
    case oid::kTimestamp:
      return {Category::Timestamp, type_oid, false, 0};
    case oid::kTimestampTz:
      return {Category::TimestampTz, type_oid, false, 0};
    case oid::kUuid:
      return {Category::Uuid, type_oid, false, 0};
    default:
      return {Category::Unknown, type_oid, false, 0};
  }
}

uint32_t elementOf(uint32_t array_oid) {
  switch (array_oid) {
    case oid::kJsonArray:
      return oid::kJson;
    case oid::kByteaArray:
      return oid::kBytea;
    case oid::kNameArray:
      return oid::kName;
    case oid::kInt2Array:
      return oid::kInt2;
    case oid::kInt4Array:
      return oid::kInt4;
    case oid::kTextArray:
      return oid::kText;
    case oid::kBpcharArray:
      return oid::kBpchar;
    case oid::kVarcharArray:
      return oid::kVarchar;
    case oid::kInt8Array:
      return oid::kInt8;
    case oid::kFloat4Array:
      return oid::kFloat4;
    case oid::kFloat8Array:
      return oid::kFloat8;
    case oid::kTimestampArray:
      return oid::kTimestamp;
    case oid::kDateArray:
      return oid::kDate;
    case oid::kTimestampTzArray:
      return oid::kTimestampTz;
    case oid::kNumericArray:
      return oid::kNumeric;
    case oid::kUuidArray:
      return oid::kUuid;
    case oid::kJsonbArray:
      return oid::kJsonb;
    default:
      return 0;
  }
}

}  // namespace

TypeInfo typeInfo(uint32_t type_oid) {
  if (uint32_t element = elementOf(type_oid); element != 0) {
    TypeInfo t = scalar(element);
    t.array = true;
    return t;
  }
  return scalar(type_oid);
}

bool scannable(uint32_t type_oid) {
  const Category c = typeInfo(type_oid).category;
  return c == Category::Text || c == Category::Json;
}

}  // namespace pgw::mask
