#pragma once
/// Internal to the mask module: the mask functions on text, the form every
/// value has in the text format and the form detector spans have.

#include <string>
#include <string_view>

#include "mask/codec.h"
#include "mask/spec.h"

namespace pgw::mask::detail {

/// Keeps the first `first` and last `last` characters, replaces the others
/// with '*'. A value of at most first + last characters is replaced whole:
/// keeping it all would hide nothing.
void partialText(std::string_view s, int first, int last, std::string& out);
/// "alice@example.com" -> "***@example.com"; false when `s` is not an address.
bool emailText(std::string_view s, std::string& out);
/// Digits become digits and letters letters (same case), from the keyed
/// stream of the value's letters and digits; everything else (separators,
/// spaces, punctuation) stays. A Luhn-valid card number stays Luhn-valid.
void fpeText(const Hmac& key, std::string_view s, std::string& out);
/// The first `length` hex characters of HMAC(key, "hash", canonical).
void hashHex(const Hmac& key, std::string_view canonical, int length, std::string& out);
/// 8 bytes of HMAC(key, "hash", canonical) as an integer.
uint64_t hashNumber(const Hmac& key, std::string_view canonical);
/// Truncates a date or timestamp to the start of its year, month or day
/// (time of day zeroed, the offset kept).
void truncateDateTime(codec::DateTimeText& t, DateUnit unit);
/// Replaces the digits of `s` outside the first `first` and last `last`
/// digits with '0' (partial for numbers: magnitude kept, value hidden).
void partialDigits(std::string& s, int first, int last);
/// Replaces every digit of `s` from the keyed stream of `canonical`; the first
/// digit stays non-zero when it was (the number keeps its digit count).
void fpeDigits(const Hmac& key, std::string_view canonical, std::string& s);

/// Applies `spec` to a text value (text, varchar, ... or a detector span).
/// Returns false for NULL. truncate_date and round parse the text (ISO date,
/// decimal number) and fall back to the redact text when it is not one;
/// email falls back to it for text that is not an address.
bool applyToText(const MaskSpec& spec, std::string_view in, std::string& out);

}  // namespace pgw::mask::detail
