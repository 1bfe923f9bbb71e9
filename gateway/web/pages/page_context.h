// What every page handler gets: the request, the control call, the words of its language. Each
// page is a function of it returning a complete response (pages.h lists them).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "gateway/web/app.h"
#include "gateway/web/pages/texts.h"

namespace portier::gateway::web {

// A device id is at most 256 bytes (proto/control.proto): a longer parameter names no device.
inline constexpr std::size_t kMaxDeviceId = 256;

struct page_context {
  const app_request& request;
  const control_call& call;
  const texts& t;

  language lang() const { return request.lang; }
  // The first parameter called `name`, or empty.
  std::string param(std::string_view name) const;
};

}  // namespace portier::gateway::web
