// Text rules of the HTTP layer, pure and bounded: percent-decoding, forms and queries, cookies,
// Host and Origin matching, Accept-Language, constant-time comparison. Every parser returns
// nullopt (or false) for malformed input instead of guessing.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/web/app.h"

namespace portier::gateway::web {

using field_list = std::vector<std::pair<std::string, std::string>>;

// Decodes %XX and (when `plus_is_space`, as in forms and queries) '+'. Nullopt for a '%' not
// followed by two hex digits, or for a decoded NUL or other control character (below 0x20, 0x7F).
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

// "a=1&b=2" (a query or an application/x-www-form-urlencoded body), decoded, in order. Empty
// pieces ("a=1&&b=2") are skipped; a piece without '=' is a field with an empty value. Nullopt
// for bad encoding or more than kMaxFields fields.
std::optional<field_list> parse_fields(std::string_view s);

// The value of cookie `name` in a Cookie header ("a=1; b=2"). Nullopt when absent or when the
// header names it more than once (which cookie is ours is then unknown: fail closed).
std::optional<std::string> cookie_value(std::string_view header, std::string_view name);

// Host matching (DNS rebinding): `authority` is "name", "name:port", "[v6]" or "[v6]:port".
// True when the name is in `hosts` (lower-case names and addresses; IPv6 without brackets),
// compared case-insensitively, and the port, if given, is one of `ports`.
bool authority_allowed(std::string_view authority, std::span<const std::string> hosts,
                       std::span<const unsigned> ports);

// True when `origin` is exactly "https://" + an allowed authority (no path).
bool origin_allowed(std::string_view origin, std::span<const std::string> hosts,
                    std::span<const unsigned> ports);
// True when `referer` is "https://" + an allowed authority, then "/" and anything or nothing.
bool referer_allowed(std::string_view referer, std::span<const std::string> hosts,
                     std::span<const unsigned> ports);

// French when the browser prefers it over English (a higher q, or the same q listed first),
// else English.
language choose_language(std::string_view accept_language);

// Equality whose time depends on the lengths only, not on where the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// Lower-case hex of `bytes`.
std::string to_hex(std::span<const std::uint8_t> bytes);

// Lower-case ASCII copy.
std::string ascii_lower(std::string_view s);

}  // namespace portier::gateway::web
