// HTML building blocks: escaping, and the few elements every page repeats (forms with their CSRF
// field, links with query parameters). Everything a device, the operator or portierd chose goes
// through escape() before it reaches a page; nothing here writes a script or a style attribute.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portier::gateway::web {

// `s` safe in text and in a double- or single-quoted attribute: & < > " ' become character
// references; invalid UTF-8 becomes U+FFFD, and control characters other than tab and newline
// (C0, DEL, C1) and bidirectional overrides are dropped, so a device name can neither break the
// markup nor reorder the text around it.
std::string escape(std::string_view s);

// `s` percent-encoded for a query value (RFC 3986 unreserved characters kept).
std::string url_encode(std::string_view s);

// "/device?id=Anna%20bedroom" from a path and parameters (values percent-encoded), ready for
// escape() into an href.
std::string local_url(std::string_view path,
                      const std::vector<std::pair<std::string, std::string>>& params = {});

// A local path a form may send the household back to: starts with one '/', no scheme, no
// backslash, no control character, at most 1 KiB. Anything else is not one.
bool is_local_path(std::string_view s);

// <form method="post" action="ACTION" class="CLS"> with the hidden "csrf" field; close with
// "</form>".
std::string form_open(std::string_view action, std::string_view csrf_token,
                      std::string_view cls = {});
// <input type="hidden" name="NAME" value="VALUE">
std::string hidden(std::string_view name, std::string_view value);
// <button type="submit" class="CLS">TEXT</button> (TEXT escaped).
std::string button(std::string_view text, std::string_view cls = {});
// <a href="HREF">TEXT</a> (both escaped).
std::string link(std::string_view href, std::string_view text);

}  // namespace portier::gateway::web
