#include "gateway/web/pages/page_context.h"

namespace portier::gateway::web {

std::string page_context::param(std::string_view name) const {
  for (const auto& [k, v] : request.params) {
    if (k == name) return v;
  }
  return {};
}

}  // namespace portier::gateway::web
