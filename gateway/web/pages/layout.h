// The frame of every page: <html lang>, the viewport for phones, the one stylesheet, a skip
// link, the navigation (the current page marked), the log-out forms, and <main>. Also the
// responses every page returns: HTML, a redirect after a POST, an error in the frame.
#pragma once

#include <string>
#include <string_view>

#include "gateway/web/app.h"
#include "gateway/web/pages/page_context.h"

namespace portier::gateway::web {

// A page of the session: `title` (plain text) is the <title> and the <h1>; `body` is HTML.
// `current` is the navigation entry's path this page belongs to ("" for none).
std::string session_page(const page_context& c, std::string_view current, std::string_view title,
                         std::string_view body);

// A page outside a session (pairing, errors the server answers alone): no navigation, no forms
// but those in `body`.
std::string bare_page(const texts& t, std::string_view title, std::string_view body);

app_response html(int status, std::string body);
// 303 See Other to a local path.
app_response see_other(std::string location);
// A page of the session saying, for `status`, what went wrong in plain words (error_text).
app_response session_error(const page_context& c, int status);

// The plain sentence for an HTTP error status.
std::string_view error_text(const texts& t, int status);

}  // namespace portier::gateway::web
