#include "markup_check.h"

#include <set>
#include <vector>

namespace portier::gateway::web::testing {

namespace {

bool is_void(const std::string& tag) {
  for (const char* v : {"meta", "link", "input", "br", "img", "hr"}) {
    if (tag == v) return true;
  }
  return false;
}

}  // namespace

std::string markup_problem(const std::string& page) {
  std::vector<std::string> open;
  std::set<std::string> ids;
  std::size_t pos = 0;
  while ((pos = page.find('<', pos)) != std::string::npos) {
    if (page.compare(pos, 2, "<!") == 0) {  // <!DOCTYPE html>
      pos = page.find('>', pos);
      continue;
    }
    const std::size_t end = page.find('>', pos);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(pos);
    const std::string tag_text = page.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    const bool closing = !tag_text.empty() && tag_text[0] == '/';
    const bool self_closing = !tag_text.empty() && tag_text.back() == '/';
    const std::string name = tag_text.substr(
        closing ? 1 : 0, tag_text.find_first_of(" />", closing ? 1 : 0) - (closing ? 1 : 0));
    if (closing) {
      if (open.empty() || open.back() != name) {
        return "</" + name + "> closes <" + (open.empty() ? "" : open.back()) + "> at " +
               std::to_string(end);
      }
      open.pop_back();
      continue;
    }
    const auto id = tag_text.find(" id=\"");
    if (id != std::string::npos) {
      const std::string value = tag_text.substr(id + 5, tag_text.find('"', id + 5) - id - 5);
      if (!ids.insert(value).second) return "id \"" + value + "\" twice";
    }
    if (!self_closing && !is_void(name)) open.push_back(name);
  }
  if (!open.empty()) return "<" + open.back() + "> never closed";
  return {};
}

}  // namespace portier::gateway::web::testing
