#pragma once
/// Internal to the mask module: rewriting the elements of an array value in
/// the text form ('{a,"b c",NULL}', with optional '[1:3]=' bounds) and the
/// binary form (array_send: ndim, has-null flag, element OID, dimensions and
/// lower bounds, then length-prefixed elements). Any number of dimensions.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "common/result.h"

namespace pgw::mask::detail {

/// What an element callback did.
enum class Cell {
  Null,       ///< the element becomes NULL
  Value,      ///< the callback appended the element's replacement
  Unchanged,  ///< nothing appended; the element stays as it was
};

/// A non-owning reference to a callable (no allocation, unlike std::function).
template <class Sig>
class FunctionRef;
template <class R, class... A>
class FunctionRef<R(A...)> {
 public:
  // Not for FunctionRef itself: copying one must copy its target, not wrap
  // the (possibly temporary) FunctionRef.
  template <class F, class = std::enable_if_t<!std::is_same_v<std::remove_cvref_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT: implicit by design
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, A... a) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<A>(a)...);
        }) {}
  R operator()(A... a) const { return call_(obj_, std::forward<A>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, A...);
};

/// Called for each non-NULL element with the element's type OID and its
/// bytes in the array's format; appends to the string on Cell::Value.
using ElementFn = FunctionRef<Result<Cell>(uint32_t, std::string_view, std::string&)>;

/// Appends the rewritten array to `out`. Returns Unchanged (and appends
/// nothing) when every element was Unchanged. Errors: malformed arrays.
Result<Cell> rewriteArray(uint32_t element_oid, int16_t format, std::string_view in, ElementFn fn,
                          std::string& out);

/// Appends `v` as an array element of the text form, quoted when needed.
void appendArrayElement(std::string_view v, std::string& out);

}  // namespace pgw::mask::detail
